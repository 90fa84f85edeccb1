package gcp

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google/externalaccount"
	"google.golang.org/api/option"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
)

// Terraform Cloud (HCP Terraform) dynamic provider credentials for Google
// Cloud
// (https://developer.hashicorp.com/terraform/cloud-docs/workspaces/dynamic-provider-credentials/gcp-configuration):
// a run of a workspace with TFC_GCP_PROVIDER_AUTH=true,
// TFC_GCP_WORKLOAD_PROVIDER_NAME (the workload identity pool provider,
// projects/N/locations/global/workloadIdentityPools/P/providers/Q) and
// TFC_GCP_RUN_SERVICE_ACCOUNT_EMAIL gets a workload identity token
// (TFC_WORKLOAD_IDENTITY_TOKEN[_PATH]). These are external-account
// credentials (https://google.aip.dev/auth/4117), built here in memory:
// the STS token exchange trades the token for a federated token, which
// IAM Credentials' generateAccessToken trades for the service account's.
// Without TFC_GCP_RUN_SERVICE_ACCOUNT_EMAIL the federated token is used
// as it is (direct resource access).

// Variables of Terraform Cloud's Google Cloud dynamic credentials.
const (
	EnvTFCProviderAuth      = "TFC_GCP_PROVIDER_AUTH"
	EnvTFCWorkloadProvider  = "TFC_GCP_WORKLOAD_PROVIDER_NAME"
	EnvTFCRunServiceAccount = "TFC_GCP_RUN_SERVICE_ACCOUNT_EMAIL"
	// The service account of a plan and of an apply, where they differ;
	// each falls back to TFC_GCP_RUN_SERVICE_ACCOUNT_EMAIL
	// (cloud.TFCPhaseSetting).
	EnvTFCPlanServiceAccount  = "TFC_GCP_PLAN_SERVICE_ACCOUNT_EMAIL"
	EnvTFCApplyServiceAccount = "TFC_GCP_APPLY_SERVICE_ACCOUNT_EMAIL"
)

// Google's endpoints of the exchange (overridable: AuthEndpoints).
const (
	DefaultSTSEndpoint            = "https://sts.googleapis.com"
	DefaultIAMCredentialsEndpoint = "https://iamcredentials.googleapis.com"
)

// AuthEndpoints override the token exchange's endpoints (base URLs).
type AuthEndpoints struct {
	STS, IAMCredentials string
}

type tfcSupplier func(string) string

func (g tfcSupplier) SubjectToken(context.Context, externalaccount.SupplierOptions) (string, error) {
	b, err := cloud.TFCToken(g)
	return string(b), err
}

// DynamicTokenSource returns the token source of a Terraform Cloud run
// with Google Cloud dynamic credentials (cloud-platform scope), or nil when
// the run has none.
func DynamicTokenSource(ctx context.Context, getenv func(string) string, ep AuthEndpoints) (oauth2.TokenSource, error) {
	if !cloud.EnvTrue(getenv, EnvTFCProviderAuth) {
		return nil, nil
	}
	provider := strings.TrimPrefix(getenv(EnvTFCWorkloadProvider), "//iam.googleapis.com/")
	if provider == "" {
		return nil, errors.New("gcp: " + EnvTFCProviderAuth + " is true but " + EnvTFCWorkloadProvider +
			" is not set: set it to the workload identity pool provider, projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/<provider>")
	}
	if _, err := cloud.TFCToken(getenv); err != nil {
		return nil, fmt.Errorf("gcp: dynamic credentials: %w", err)
	}
	if ep.STS == "" {
		ep.STS = DefaultSTSEndpoint
	}
	if ep.IAMCredentials == "" {
		ep.IAMCredentials = DefaultIAMCredentialsEndpoint
	}
	cfg := externalaccount.Config{
		Audience:             "//iam.googleapis.com/" + provider,
		SubjectTokenType:     "urn:ietf:params:oauth:token-type:jwt",
		TokenURL:             strings.TrimSuffix(ep.STS, "/") + "/v1/token",
		Scopes:               []string{cloudPlatformScope},
		SubjectTokenSupplier: tfcSupplier(getenv),
	}
	if sa, _ := cloud.TFCPhaseSetting(getenv, "GCP", "SERVICE_ACCOUNT_EMAIL"); sa != "" {
		cfg.ServiceAccountImpersonationURL = strings.TrimSuffix(ep.IAMCredentials, "/") + "/v1/projects/-/serviceAccounts/" + sa + ":generateAccessToken"
	}
	ts, err := externalaccount.NewTokenSource(context.WithoutCancel(ctx), cfg)
	if err != nil {
		return nil, fmt.Errorf("gcp: dynamic credentials: %w", err)
	}
	return oauth2.ReuseTokenSource(nil, ts), nil
}

// WithDynamicCredentials adds the token source of Terraform Cloud dynamic
// credentials (DynamicTokenSource) to opts when the run has them, and
// returns it; otherwise opts as they are and a nil source, so that the
// clients use Application Default Credentials. The backend and the live
// catalog's clients (internal/livecatalog) both authenticate with it.
func WithDynamicCredentials(ctx context.Context, getenv func(string) string, ep AuthEndpoints, opts []option.ClientOption) ([]option.ClientOption, oauth2.TokenSource, error) {
	ts, err := DynamicTokenSource(ctx, getenv, ep)
	if err != nil || ts == nil {
		return opts, nil, err
	}
	return append(slices.Clone(opts), option.WithTokenSource(ts)), ts, nil
}
