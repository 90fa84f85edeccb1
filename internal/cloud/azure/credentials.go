package azure

import (
	"context"
	"errors"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azcloud "github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
)

// Workload identity federation (OIDC) for Azure, as Terraform Cloud
// dynamic provider credentials and the azurerm provider configure it
// (https://developer.hashicorp.com/terraform/cloud-docs/workspaces/dynamic-provider-credentials/azure-configuration,
// https://registry.terraform.io/providers/hashicorp/azurerm/latest/docs/guides/service_principal_oidc):
// azidentity's default chain reads neither. A Terraform Cloud run has
// TFC_AZURE_PROVIDER_AUTH=true, TFC_AZURE_RUN_CLIENT_ID (the application)
// and ARM_TENANT_ID, and its token in TFC_WORKLOAD_IDENTITY_TOKEN[_PATH];
// elsewhere ARM_USE_OIDC=true with ARM_CLIENT_ID, ARM_TENANT_ID and
// ARM_OIDC_TOKEN or ARM_OIDC_TOKEN_FILE_PATH. Either way the token is the
// client assertion of an Entra ID client credentials request
// (azidentity.ClientAssertionCredential).

// Variables of Azure workload identity federation.
const (
	EnvTFCProviderAuth = "TFC_AZURE_PROVIDER_AUTH"
	EnvTFCRunClientID  = "TFC_AZURE_RUN_CLIENT_ID"
	// The application of a plan and of an apply, where they differ; each
	// falls back to TFC_AZURE_RUN_CLIENT_ID (cloud.TFCPhaseSetting).
	EnvTFCPlanClientID  = "TFC_AZURE_PLAN_CLIENT_ID"
	EnvTFCApplyClientID = "TFC_AZURE_APPLY_CLIENT_ID"
	EnvUseOIDC          = "ARM_USE_OIDC"
	EnvClientID         = "ARM_CLIENT_ID"
	EnvTenantID         = "ARM_TENANT_ID"
	EnvOIDCToken        = "ARM_OIDC_TOKEN"
	EnvOIDCTokenPath    = "ARM_OIDC_TOKEN_FILE_PATH"
)

// Credential is the credential the environment configures: workload
// identity (DynamicCredential: Terraform Cloud dynamic credentials, OIDC)
// when it configures one, else azidentity's default chain. The backend
// and the live catalog's availability client (internal/livecatalog) both
// sign in with it. opts carries the cloud (authority host) and transport.
func Credential(getenv func(string) string, opts azcore.ClientOptions) (azcore.TokenCredential, error) {
	dyn, err := DynamicCredential(getenv, opts)
	if err != nil || dyn != nil {
		return dyn, err
	}
	c, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		return nil, fmt.Errorf("azure: credentials: %w", err)
	}
	return c, nil
}

// DynamicCredential returns the workload identity credential the
// environment configures, or nil when it configures none. opts carries
// the cloud (authority host) and transport.
func DynamicCredential(getenv func(string) string, opts azcore.ClientOptions) (azcore.TokenCredential, error) {
	tfc, oidc := cloud.EnvTrue(getenv, EnvTFCProviderAuth), cloud.EnvTrue(getenv, EnvUseOIDC)
	if !tfc && !oidc {
		return nil, nil
	}
	clientID := getenv(EnvClientID)
	if id, _ := cloud.TFCPhaseSetting(getenv, "AZURE", "CLIENT_ID"); tfc && id != "" {
		clientID = id
	}
	tenant := getenv(EnvTenantID)
	switch {
	case clientID == "" && tfc:
		return nil, errors.New("azure: " + EnvTFCProviderAuth + " is true but " + EnvTFCRunClientID + " is not set (nor " + EnvTFCPlanClientID + " / " + EnvTFCApplyClientID + " for this run's phase): set it to the client ID of the application the workspace's runs sign in as")
	case clientID == "":
		return nil, errors.New("azure: " + EnvUseOIDC + " is true but " + EnvClientID + " is not set: set it to the client ID of the application")
	case tenant == "":
		return nil, errors.New("azure: workload identity needs " + EnvTenantID + " (the application's tenant)")
	}
	token := func() ([]byte, error) {
		if getenv(EnvOIDCToken) != "" || getenv(EnvOIDCTokenPath) != "" {
			return cloud.TokenFrom(getenv, EnvOIDCToken, EnvOIDCTokenPath)
		}
		return cloud.TFCToken(getenv)
	}
	if _, err := token(); err != nil {
		return nil, fmt.Errorf("azure: workload identity: %w", err)
	}
	cred, err := azidentity.NewClientAssertionCredential(tenant, clientID, func(context.Context) (string, error) {
		b, err := token()
		return string(b), err
	}, &azidentity.ClientAssertionCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: !knownAuthority(opts.Cloud.ActiveDirectoryAuthorityHost)})
	if err != nil {
		return nil, fmt.Errorf("azure: workload identity: %w", err)
	}
	return cred, nil
}

// knownAuthority reports an authority host of Azure's public or sovereign
// clouds, which Entra's instance discovery knows; any other (Azure Stack,
// a simulator) is used as it is.
func knownAuthority(host string) bool {
	switch host {
	case "", azcloud.AzurePublic.ActiveDirectoryAuthorityHost, azcloud.AzureChina.ActiveDirectoryAuthorityHost, azcloud.AzureGovernment.ActiveDirectoryAuthorityHost:
		return true
	}
	return false
}
