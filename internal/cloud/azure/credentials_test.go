package azure

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/tfctest"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/azurefront"
)

func testJWT(sub string) string { return tfctest.Token("api://AzureADTokenExchange", sub) }

// tokenClaims reads the application and tenant of a simulated Entra ID
// access token (an unsigned JWT).
func tokenClaims(tok string) (c struct {
	AppID    string `json:"appid"`
	TenantID string `json:"tid"`
}, ok bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return c, false
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	return c, err == nil && json.Unmarshal(b, &c) == nil
}

// TestDynamicCredential sets the variables of a Terraform Cloud run with
// Azure dynamic credentials (and of azurerm-style OIDC) and checks that the
// backend's credential gets an ARM token from the Entra ID token endpoint
// (cloudsim's, over loopback) with the run's token as client assertion.
func TestDynamicCredential(t *testing.T) {
	e, err := cloudsim.New(cloudsim.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(azurefront.New(e, azurefront.Options{SubscriptionID: "sub"}))
	t.Cleanup(srv.Close)
	file := filepath.Join(t.TempDir(), "oidc-token")
	if err := os.WriteFile(file, []byte(testJWT("repo:acme/fleet:ref:refs/heads/main")), 0o600); err != nil {
		t.Fatal(err)
	}
	const tenant, app = "11111111-2222-3333-4444-555555555555", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
	const planner, applier = "aaaaaaaa-bbbb-cccc-dddd-000000000001", "aaaaaaaa-bbbb-cccc-dddd-000000000002"
	run := testJWT("organization:acme:project:ml:workspace:fleet:run_phase:apply")
	for _, tc := range []struct {
		name    string
		env     map[string]string
		wantErr string
		// wantApp is the application the token is for; "" means app.
		wantApp string
	}{
		{name: "Terraform Cloud, token in the environment", env: map[string]string{EnvTFCProviderAuth: "true", EnvTFCRunClientID: app, EnvTenantID: tenant, cloud.EnvTFCToken: run}},
		{name: "Terraform Cloud, token in a file", env: map[string]string{EnvTFCProviderAuth: "true", EnvTFCRunClientID: app, EnvTenantID: tenant, cloud.EnvTFCTokenPath: file}},
		{name: "Terraform Cloud, ARM_OIDC_TOKEN", env: map[string]string{EnvTFCProviderAuth: "true", EnvTFCRunClientID: app, EnvTenantID: tenant, EnvOIDCToken: run}},
		{name: "ARM_USE_OIDC with a token file", env: map[string]string{EnvUseOIDC: "true", EnvClientID: app, EnvTenantID: tenant, EnvOIDCTokenPath: file}},
		// Phase-specific applications: the token's phase picks one, RUN is the fallback.
		{name: "Terraform Cloud, apply application in an apply", env: map[string]string{EnvTFCProviderAuth: "true", EnvTFCRunClientID: app, EnvTFCApplyClientID: applier,
			EnvTFCPlanClientID: planner, EnvTenantID: tenant, cloud.EnvTFCToken: run}, wantApp: applier},
		{name: "Terraform Cloud, plan application in a plan", env: map[string]string{EnvTFCProviderAuth: "true", EnvTFCPlanClientID: planner, EnvTenantID: tenant,
			cloud.EnvTFCToken: testJWT("organization:acme:project:ml:workspace:fleet:run_phase:plan")}, wantApp: planner},
		{name: "Terraform Cloud, plan application not used by a token without a phase", env: map[string]string{EnvTFCProviderAuth: "true", EnvTFCRunClientID: app, EnvTFCPlanClientID: planner,
			EnvTenantID: tenant, cloud.EnvTFCTokenPath: file}},
		{name: "no client ID", env: map[string]string{EnvTFCProviderAuth: "true", EnvTenantID: tenant, cloud.EnvTFCToken: run}, wantErr: EnvTFCRunClientID},
		{name: "no tenant", env: map[string]string{EnvUseOIDC: "true", EnvClientID: app, EnvOIDCToken: run}, wantErr: EnvTenantID},
		{name: "no token", env: map[string]string{EnvUseOIDC: "true", EnvClientID: app, EnvTenantID: tenant}, wantErr: cloud.EnvTFCTokenPath},
		{name: "token that is no JWT", env: map[string]string{EnvTFCProviderAuth: "true", EnvTFCRunClientID: app, EnvTenantID: tenant, cloud.EnvTFCToken: "not-a-jwt"}, wantErr: "AADSTS50027"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{EnvTFCProviderAuth, EnvTFCRunClientID, EnvTFCPlanClientID, EnvTFCApplyClientID, EnvUseOIDC, EnvClientID, EnvTenantID, EnvOIDCToken, EnvOIDCTokenPath, cloud.EnvTFCToken, cloud.EnvTFCTokenPath} {
				t.Setenv(k, "")
			}
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			b, err := New(Config{SubscriptionID: "sub", Endpoint: srv.URL, HTTPClient: srv.Client()})
			if err == nil {
				var tok string
				at, gerr := b.cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://management.azure.com/.default"}})
				err, tok = gerr, at.Token
				if err == nil {
					want := cmp.Or(tc.wantApp, app)
					if c, ok := tokenClaims(tok); !ok || c.AppID != want || c.TenantID != tenant {
						t.Errorf("token %q is not the simulated Entra ID's for %s/%s", tok, tenant, want)
					}
				}
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one naming %s", err, tc.wantErr)
			}
		})
	}
}
