package aws

import (
	"errors"
	"fmt"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
)

// Terraform Cloud (HCP Terraform) dynamic provider credentials for AWS
// (https://developer.hashicorp.com/terraform/cloud-docs/workspaces/dynamic-provider-credentials/aws-configuration):
// a workspace with TFC_AWS_PROVIDER_AUTH=true and TFC_AWS_RUN_ROLE_ARN gets
// a signed workload identity token in every run, in
// TFC_WORKLOAD_IDENTITY_TOKEN or in the file TFC_WORKLOAD_IDENTITY_TOKEN_PATH
// names; STS AssumeRoleWithWebIdentity trades it for the role's temporary
// credentials. The SDK's default chain does the same only for
// AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE (which keep working: they are
// read when these variables are not set).

// Variables of Terraform Cloud's AWS dynamic credentials.
const (
	EnvTFCProviderAuth = "TFC_AWS_PROVIDER_AUTH"
	EnvTFCRunRoleARN   = "TFC_AWS_RUN_ROLE_ARN"
	// The role of a plan and of an apply, where they differ; each falls
	// back to TFC_AWS_RUN_ROLE_ARN (cloud.TFCPhaseSetting).
	EnvTFCPlanRoleARN  = "TFC_AWS_PLAN_ROLE_ARN"
	EnvTFCApplyRoleARN = "TFC_AWS_APPLY_ROLE_ARN"
)

type tfcToken func(string) string

func (g tfcToken) GetIdentityToken() ([]byte, error) { return cloud.TFCToken(g) }

// DynamicCredentials returns the web identity credentials of a Terraform
// Cloud run that has AWS dynamic credentials (TFC_AWS_PROVIDER_AUTH=true),
// or nil when it has none. stsEndpoint overrides STS (tests, proxies);
// region is the STS region.
func DynamicCredentials(getenv func(string) string, stsEndpoint, region string) (awssdk.CredentialsProvider, error) {
	if !cloud.EnvTrue(getenv, EnvTFCProviderAuth) {
		return nil, nil
	}
	role, _ := cloud.TFCPhaseSetting(getenv, "AWS", "ROLE_ARN")
	if role == "" {
		return nil, errors.New("aws: " + EnvTFCProviderAuth + " is true but " + EnvTFCRunRoleARN + " is not set (nor " + EnvTFCPlanRoleARN + " / " + EnvTFCApplyRoleARN +
			" for this run's phase): set it to the ARN of the role the workspace's runs assume")
	}
	if _, err := cloud.TFCToken(getenv); err != nil {
		return nil, fmt.Errorf("aws: dynamic credentials: %w", err)
	}
	client := sts.New(sts.Options{Region: region, RetryMaxAttempts: 3}, func(o *sts.Options) {
		if stsEndpoint != "" {
			o.BaseEndpoint = awssdk.String(stsEndpoint)
		}
	})
	return awssdk.NewCredentialsCache(stscreds.NewWebIdentityRoleProvider(client, role, tfcToken(getenv),
		func(o *stscreds.WebIdentityRoleOptions) { o.RoleSessionName = "gpufleet" })), nil
}
