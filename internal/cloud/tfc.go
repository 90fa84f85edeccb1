package cloud

import (
	"fmt"
	"os"
	"strings"
)

// Terraform Cloud (HCP Terraform) dynamic provider credentials: a run of a
// workspace with a cloud's integration enabled gets a signed workload
// identity token, which each cloud's backend trades for short-lived
// credentials (aws.DynamicCredentials, gcp.DynamicTokenSource,
// azure.DynamicCredential)
// (https://developer.hashicorp.com/terraform/cloud-docs/workspaces/dynamic-provider-credentials).

// Variables that carry a run's workload identity token.
const (
	EnvTFCToken     = "TFC_WORKLOAD_IDENTITY_TOKEN"
	EnvTFCTokenPath = "TFC_WORKLOAD_IDENTITY_TOKEN_PATH"
)

// TFCToken returns the workload identity token of a Terraform Cloud run:
// TFC_WORKLOAD_IDENTITY_TOKEN, else the file at
// TFC_WORKLOAD_IDENTITY_TOKEN_PATH (read on every call, so a refreshed
// file is seen during long runs).
func TFCToken(getenv func(string) string) ([]byte, error) {
	return TokenFrom(getenv, EnvTFCToken, EnvTFCTokenPath)
}

// TokenFrom returns the token in the variable tokenVar, else in the file
// the variable pathVar names.
func TokenFrom(getenv func(string) string, tokenVar, pathVar string) ([]byte, error) {
	if t := strings.TrimSpace(getenv(tokenVar)); t != "" {
		return []byte(t), nil
	}
	p := getenv(pathVar)
	if p == "" {
		return nil, fmt.Errorf("neither %s nor %s is set: is the workspace's dynamic credentials integration configured?", tokenVar, pathVar)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("reading the workload identity token (%s): %w", pathVar, err)
	}
	return []byte(strings.TrimSpace(string(b))), nil
}

// EnvTrue reports whether the variable name is "true" (any case).
func EnvTrue(getenv func(string) string, name string) bool {
	return strings.EqualFold(strings.TrimSpace(getenv(name)), "true")
}
