package azurefront

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azcloud "github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// A service principal logs in to the simulated Entra ID with the real
// azidentity client (MSAL underneath), as az login --service-principal
// does: tenant discovery, then a client-credentials token.
func TestIdentityClientSecretLogin(t *testing.T) {
	ev := newEnv(t, "")
	cred, err := azidentity.NewClientSecretCredential(DefaultTenant, "gpufleet-sim", "SIMULATED", &azidentity.ClientSecretCredentialOptions{
		ClientOptions: azcore.ClientOptions{Cloud: azcloud.Configuration{ActiveDirectoryAuthorityHost: ev.srv.URL + "/"},
			Transport: ev.srv.Client()},
		DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{managementAudience + ".default"}})
	if err != nil {
		t.Fatalf("GetToken: %v", err)
	}
	if tok.Token == "" || tok.ExpiresOn.Before(time.Now().Add(50*time.Minute)) {
		t.Errorf("token %q expiring %v, want a token valid for an hour", tok.Token, tok.ExpiresOn)
	}
}

// What az cloud register and az login read before Resource Manager.
func TestIdentityEndpoints(t *testing.T) {
	ev := newEnv(t, "")
	tests := []struct {
		name, path string
		check      func(t *testing.T, v any)
	}{
		{"ARM metadata (az cloud register)", "/metadata/endpoints?api-version=2015-01-01", func(t *testing.T, v any) {
			auth, _ := v.(map[string]any)["authentication"].(map[string]any)
			if auth["loginEndpoint"] != ev.srv.URL+"/adfs" {
				t.Errorf("loginEndpoint = %v, want %s/adfs (AD FS: MSAL does no instance discovery)", auth["loginEndpoint"], ev.srv.URL)
			}
			if a, _ := auth["audiences"].([]any); len(a) != 1 || a[0] != managementAudience {
				t.Errorf("audiences = %v", auth["audiences"])
			}
		}},
		{"ARM metadata, cloud list (ARM_CLOUD_METADATA_URL)", "/metadata/endpoints?api-version=2022-09-01", func(t *testing.T, v any) {
			l, _ := v.([]any)
			if len(l) != 1 || l[0].(map[string]any)["resourceManager"] != ev.srv.URL+"/" {
				t.Errorf("clouds = %v, want one whose resourceManager is %s/", v, ev.srv.URL)
			}
		}},
		{"AD FS openid configuration", "/adfs/.well-known/openid-configuration", func(t *testing.T, v any) {
			if v.(map[string]any)["token_endpoint"] != ev.srv.URL+"/adfs/oauth2/token" {
				t.Errorf("token_endpoint = %v", v.(map[string]any)["token_endpoint"])
			}
		}},
		{"subscriptions (az login)", "/subscriptions?api-version=2022-12-01", func(t *testing.T, v any) {
			l, _ := v.(map[string]any)["value"].([]any)
			if len(l) != 1 || l[0].(map[string]any)["subscriptionId"] != sub || l[0].(map[string]any)["tenantId"] != DefaultTenant ||
				l[0].(map[string]any)["state"] != "Enabled" {
				t.Errorf("subscriptions = %v, want %s, Enabled, in tenant %s", l, sub, DefaultTenant)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := ev.srv.Client().Get(ev.srv.URL + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var v any
			if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s = %d (%v)", tt.path, resp.StatusCode, err)
			}
			tt.check(t, v)
		})
	}
}

// az aks list calls the subscription-wide and per-group lists, which the
// real SDK's pagers read.
func TestListManagedClusters(t *testing.T) {
	ev := newEnv(t, "")
	ev.createRG("rg-a")
	ev.createRG("rg-b")
	ev.createRG("rg-none-yet")
	ev.createCluster("rg-a", "one")
	ev.createCluster("rg-b", "two")
	names := func(p interface {
		More() bool
	}, next func() ([]string, error)) []string {
		var out []string
		for p.More() {
			n, err := next()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, n...)
		}
		return out
	}
	all := ev.mc.NewListPager(nil)
	got := names(all, func() ([]string, error) {
		page, err := all.NextPage(ctx)
		var n []string
		for _, c := range page.Value {
			n = append(n, *c.Name)
			if c.Properties.ServicePrincipalProfile == nil || *c.Properties.ServicePrincipalProfile.ClientID != "msi" {
				t.Errorf("%s: servicePrincipalProfile = %v, want clientId msi", *c.Name, c.Properties.ServicePrincipalProfile)
			}
		}
		return n, err
	})
	if len(got) != 2 || got[0] != "one" || got[1] != "two" {
		t.Errorf("subscription list = %v, want [one two]", got)
	}
	byRG := ev.mc.NewListByResourceGroupPager("rg-b", nil)
	got = names(byRG, func() ([]string, error) {
		page, err := byRG.NextPage(ctx)
		var n []string
		for _, c := range page.Value {
			n = append(n, *c.Name)
		}
		return n, err
	})
	if len(got) != 1 || got[0] != "two" {
		t.Errorf("rg-b list = %v, want [two]", got)
	}
	missing := ev.mc.NewListByResourceGroupPager("rg-none", nil)
	if _, err := missing.NextPage(ctx); err == nil {
		t.Error("listing a missing resource group succeeded, want 404 ResourceGroupNotFound")
	}
}
