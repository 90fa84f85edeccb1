package cloud

import (
	"encoding/base64"
	"encoding/json"
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

// Run phases of a Terraform Cloud run.
const (
	TFCPhasePlan  = "plan"
	TFCPhaseApply = "apply"
)

// TFCRunPhase is the phase ("plan" or "apply") of the run a workload
// identity token was issued to: its terraform_run_phase claim, else the
// run_phase part of its subject (organization:…:run_phase:apply); "" when
// the token is no JWT or says neither. The token is not verified here:
// the cloud that accepts it does that.
// (https://developer.hashicorp.com/terraform/cloud-docs/workspaces/dynamic-provider-credentials/workload-identity-tokens:
// a token is issued per plan and per apply and names its phase).
func TFCRunPhase(token []byte) string {
	parts := strings.Split(string(token), ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return ""
	}
	var claims struct {
		Phase   string `json:"terraform_run_phase"`
		Subject string `json:"sub"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return ""
	}
	phase := claims.Phase
	if phase == "" {
		if _, p, ok := strings.Cut(claims.Subject, ":run_phase:"); ok {
			phase, _, _ = strings.Cut(p, ":")
		}
	}
	if phase == TFCPhasePlan || phase == TFCPhaseApply {
		return phase
	}
	return ""
}

// TFCPhaseSetting returns a dynamic credentials setting of cloudName
// ("AWS", "GCP", "AZURE") for the phase of the current run, and the
// variable it came from: TFC_<CLOUD>_PLAN_<SETTING> in a plan,
// TFC_<CLOUD>_APPLY_<SETTING> in an apply, else (not set, or a phase the
// token does not name) TFC_<CLOUD>_RUN_<SETTING>, which the phase-specific
// ones fall back to. E.g. TFC_AWS_PLAN_ROLE_ARN, TFC_GCP_APPLY_SERVICE_ACCOUNT_EMAIL,
// TFC_AZURE_PLAN_CLIENT_ID
// (https://developer.hashicorp.com/terraform/cloud-docs/workspaces/dynamic-provider-credentials/aws-configuration,
// …/gcp-configuration, …/azure-configuration: "Configure HCP Terraform").
func TFCPhaseSetting(getenv func(string) string, cloudName, setting string) (value, variable string) {
	run := "TFC_" + cloudName + "_RUN_" + setting
	token, err := TFCToken(getenv)
	if err != nil {
		return getenv(run), run
	}
	if phase := TFCRunPhase(token); phase != "" {
		v := "TFC_" + cloudName + "_" + strings.ToUpper(phase) + "_" + setting
		if val := strings.TrimSpace(getenv(v)); val != "" {
			return val, v
		}
	}
	return strings.TrimSpace(getenv(run)), run
}
