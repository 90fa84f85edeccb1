package gcp

import (
	"context"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/tfctest"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/computefront"
)

func testJWT(sub string) string { return tfctest.Token("gcp.workload.identity", sub) }

// TestDynamicTokenSource sets the variables of a Terraform Cloud run with
// Google Cloud dynamic credentials and checks that the backend's token
// source (the one its clients and KubeCredentials use) gets the service
// account's token through the STS token exchange and IAM Credentials'
// generateAccessToken (cloudsim's, over loopback).
func TestDynamicTokenSource(t *testing.T) {
	e, err := cloudsim.New(cloudsim.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(computefront.New(e, computefront.Options{}))
	t.Cleanup(srv.Close)
	file := filepath.Join(t.TempDir(), "token")
	run := testJWT("organization:acme:project:ml:workspace:fleet:run_phase:apply")
	if err := os.WriteFile(file, []byte(run), 0o600); err != nil {
		t.Fatal(err)
	}
	const provider = "projects/123456789/locations/global/workloadIdentityPools/tfc-pool/providers/tfc-provider"
	const sa = "fleet@acme-ml.iam.gserviceaccount.com"
	for _, tc := range []struct {
		name             string
		env              map[string]string
		wantPrefix, want string
		wantErr          string
	}{
		{name: "impersonating the run's service account", env: map[string]string{EnvTFCProviderAuth: "true", EnvTFCWorkloadProvider: provider, EnvTFCRunServiceAccount: sa, cloud.EnvTFCToken: run},
			wantPrefix: "simulated-sa-token-", want: sa},
		{name: "token in a file", env: map[string]string{EnvTFCProviderAuth: "true", EnvTFCWorkloadProvider: provider, EnvTFCRunServiceAccount: sa, cloud.EnvTFCTokenPath: file},
			wantPrefix: "simulated-sa-token-", want: sa},
		// Phase-specific service accounts: the token's phase picks one, RUN is the fallback.
		{name: "apply service account in an apply", env: map[string]string{EnvTFCProviderAuth: "true", EnvTFCWorkloadProvider: provider, EnvTFCRunServiceAccount: sa,
			EnvTFCPlanServiceAccount: "planner@acme-ml.iam.gserviceaccount.com", EnvTFCApplyServiceAccount: "applier@acme-ml.iam.gserviceaccount.com", cloud.EnvTFCToken: run},
			wantPrefix: "simulated-sa-token-", want: "applier@acme-ml.iam.gserviceaccount.com"},
		{name: "plan service account in a plan", env: map[string]string{EnvTFCProviderAuth: "true", EnvTFCWorkloadProvider: provider,
			EnvTFCPlanServiceAccount: "planner@acme-ml.iam.gserviceaccount.com", cloud.EnvTFCToken: testJWT("organization:acme:project:ml:workspace:fleet:run_phase:plan")},
			wantPrefix: "simulated-sa-token-", want: "planner@acme-ml.iam.gserviceaccount.com"},
		{name: "plan service account not used in an apply", env: map[string]string{EnvTFCProviderAuth: "true", EnvTFCWorkloadProvider: provider, EnvTFCRunServiceAccount: sa,
			EnvTFCPlanServiceAccount: "planner@acme-ml.iam.gserviceaccount.com", cloud.EnvTFCTokenPath: file},
			wantPrefix: "simulated-sa-token-", want: sa},
		{name: "direct access without a service account", env: map[string]string{EnvTFCProviderAuth: "true", EnvTFCWorkloadProvider: provider, cloud.EnvTFCToken: run},
			wantPrefix: "simulated-federated-"},
		{name: "no provider name", env: map[string]string{EnvTFCProviderAuth: "true", cloud.EnvTFCToken: run}, wantErr: EnvTFCWorkloadProvider},
		{name: "no token", env: map[string]string{EnvTFCProviderAuth: "true", EnvTFCWorkloadProvider: provider}, wantErr: cloud.EnvTFCTokenPath},
		{name: "token that is no JWT", env: map[string]string{EnvTFCProviderAuth: "true", EnvTFCWorkloadProvider: provider, cloud.EnvTFCToken: "not-a-jwt"}, wantErr: "invalid_grant"},
		{name: "provider name that is no provider", env: map[string]string{EnvTFCProviderAuth: "true", EnvTFCWorkloadProvider: "tfc-provider", cloud.EnvTFCToken: run}, wantErr: "audience"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{EnvTFCProviderAuth, EnvTFCWorkloadProvider, EnvTFCRunServiceAccount, EnvTFCPlanServiceAccount, EnvTFCApplyServiceAccount, cloud.EnvTFCToken, cloud.EnvTFCTokenPath} {
				t.Setenv(k, "")
			}
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			ctx := context.Background()
			b, err := New(ctx, Config{Project: "acme-ml", Endpoint: "127.0.0.1:1", AuthEndpoints: AuthEndpoints{STS: srv.URL, IAMCredentials: srv.URL}})
			if err == nil {
				ts, terr := b.tokenSource(ctx)
				err = terr
				if err == nil {
					tok, terr := ts.Token()
					err = terr
					if err == nil && (!strings.HasPrefix(tok.AccessToken, tc.wantPrefix) || !strings.Contains(tok.AccessToken, tc.want)) {
						t.Errorf("token %q, want %s…%s", tok.AccessToken, tc.wantPrefix, tc.want)
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
