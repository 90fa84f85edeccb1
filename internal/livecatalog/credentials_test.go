package livecatalog

import (
	"context"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/tfctest"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	azbackend "github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/azure"
	gcpbackend "github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/gcp"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/azurefront"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/computefront"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/pricefront"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// tfcJWT is a workload identity token of a Terraform Cloud apply (cloudsim's
// token endpoints accept any well-formed JWT).
func tfcJWT(aud string) string {
	return tfctest.Claims(`{"iss":"https://app.terraform.io","aud":"` + aud + `","sub":"organization:acme:project:ml:workspace:fleet:run_phase:apply","terraform_run_phase":"apply","exp":4102444800}`)
}

// authRecorder serves h and keeps the Authorization header of the last
// request.
type authRecorder struct {
	h    http.Handler
	mu   sync.Mutex
	last string
}

func (a *authRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.last = r.Header.Get("Authorization")
	a.mu.Unlock()
	a.h.ServeHTTP(w, r)
}

func (a *authRecorder) auth() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last
}

// clearTFC empties every variable of dynamic credentials, so that only
// what a test sets is seen.
func clearTFC(t *testing.T) {
	for _, k := range []string{cloud.EnvTFCToken, cloud.EnvTFCTokenPath,
		gcpbackend.EnvTFCProviderAuth, gcpbackend.EnvTFCWorkloadProvider, gcpbackend.EnvTFCRunServiceAccount, gcpbackend.EnvTFCPlanServiceAccount, gcpbackend.EnvTFCApplyServiceAccount,
		azbackend.EnvTFCProviderAuth, azbackend.EnvTFCRunClientID, azbackend.EnvTFCPlanClientID, azbackend.EnvTFCApplyClientID,
		azbackend.EnvUseOIDC, azbackend.EnvClientID, azbackend.EnvTenantID, azbackend.EnvOIDCToken, azbackend.EnvOIDCTokenPath} {
		t.Setenv(k, "")
	}
}

// TestDynamicCredentials sets the variables a Terraform Cloud run with
// each cloud's dynamic credentials has and checks that the live sources
// call the cloud's API with the credential the backends build from them:
// GCP sends the impersonated service account's token, Azure the token
// Entra ID issued for the federated assertion (cloudsim's token
// endpoints, over loopback). AWS's is awslive.TestDynamicCredentials.
func TestDynamicCredentials(t *testing.T) {
	e, err := cloudsim.New(cloudsim.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cat := planner.Embedded()

	t.Run("gcp", func(t *testing.T) {
		clearTFC(t)
		const sa = "fleet-apply@acme-ml.iam.gserviceaccount.com"
		t.Setenv(gcpbackend.EnvTFCProviderAuth, "true")
		t.Setenv(gcpbackend.EnvTFCWorkloadProvider, "projects/123456789/locations/global/workloadIdentityPools/tfc-pool/providers/tfc-provider")
		t.Setenv(gcpbackend.EnvTFCApplyServiceAccount, sa)
		t.Setenv(cloud.EnvTFCToken, tfcJWT("gcp.workload.identity"))
		auth := httptest.NewServer(computefront.New(e, computefront.Options{}))
		t.Cleanup(auth.Close)
		rec := &authRecorder{h: &pricefront.GCP{Catalog: cat}}
		api := httptest.NewServer(rec)
		t.Cleanup(api.Close)
		src := &GCPBilling{Catalog: cat, Endpoint: api.URL + "/", Retry: fastRetry,
			AuthEndpoints: gcpbackend.AuthEndpoints{STS: auth.URL, IAMCredentials: auth.URL}}
		if _, err := src.Prices(ctx); err != nil {
			t.Fatal(err)
		}
		if a := rec.auth(); !strings.HasPrefix(a, "Bearer simulated-sa-token-") || !strings.Contains(a, sa) {
			t.Errorf("Cloud Billing was called with %q, want the token of %s", a, sa)
		}
	})

	t.Run("azure", func(t *testing.T) {
		clearTFC(t)
		const tenant, app = "11111111-2222-3333-4444-555555555555", "aaaaaaaa-bbbb-cccc-dddd-000000000002"
		t.Setenv(azbackend.EnvTFCProviderAuth, "true")
		t.Setenv(azbackend.EnvTFCApplyClientID, app)
		t.Setenv(azbackend.EnvTenantID, tenant)
		t.Setenv(cloud.EnvTFCToken, tfcJWT("api://AzureADTokenExchange"))
		entra := azurefront.New(e, azurefront.Options{SubscriptionID: azureTestSub})
		var tokens atomic.Int64
		rec := &authRecorder{h: &pricefront.AzureAvailability{Catalog: cat, SubscriptionID: azureTestSub}}
		srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Entra ID's paths to cloudsim's identity endpoints, the rest to the ARM APIs.
			if strings.Contains(r.URL.Path, "/oauth2/") || strings.Contains(r.URL.Path, "/.well-known/") {
				if strings.HasSuffix(r.URL.Path, "/token") {
					tokens.Add(1)
				}
				entra.ServeHTTP(w, r)
				return
			}
			rec.ServeHTTP(w, r)
		}))
		t.Cleanup(srv.Close)
		src := &AzureAvailability{SubscriptionID: azureTestSub, Catalog: cat, Regions: []string{"westeurope"}, Endpoint: srv.URL, HTTPClient: srv.Client()}
		if _, err := src.Availability(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if a := rec.auth(); tokens.Load() == 0 || !strings.HasPrefix(a, "Bearer ") {
			t.Errorf("ARM was called with %q after %d token requests, want a token from Entra ID for the federated assertion", a, tokens.Load())
		}
	})
}
