package azure

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v3"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/azurefront"
)

// scopedCred hands out a token per scope and records the scopes asked.
type scopedCred struct {
	mu      sync.Mutex
	scopes  []string
	expires time.Time
}

func (c *scopedCred) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.scopes = append(c.scopes, o.Scopes...)
	return azcore.AccessToken{Token: "token-for:" + o.Scopes[0], ExpiresOn: c.expires}, nil
}

// entraCluster creates a managed cluster (and its resource group) with
// managed Entra ID integration through the SDK.
func (s *netSim) entraCluster(name string, disableLocal bool) {
	s.t.Helper()
	if _, err := s.b.groups.CreateOrUpdate(ctx, resourceGroup(name), armresources.ResourceGroup{Location: to.Ptr(testRegion)}, nil); err != nil {
		s.t.Fatal(err)
	}
	p, err := s.b.clusters.BeginCreateOrUpdate(ctx, resourceGroup(name), name, armcontainerservice.ManagedCluster{
		Location: to.Ptr(testRegion), Properties: &armcontainerservice.ManagedClusterProperties{DNSPrefix: to.Ptr(name),
			AgentPoolProfiles: []*armcontainerservice.ManagedClusterAgentPoolProfile{{Name: to.Ptr("system"), Count: to.Ptr[int32](1),
				VMSize: to.Ptr("Standard_D4s_v5"), Mode: to.Ptr(armcontainerservice.AgentPoolModeSystem)}},
			AADProfile:           &armcontainerservice.ManagedClusterAADProfile{Managed: to.Ptr(true), EnableAzureRBAC: to.Ptr(true)},
			DisableLocalAccounts: to.Ptr(disableLocal)}}, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	if _, err := untilDone(ctx, s.b, "CreateCluster", p); err != nil {
		s.t.Fatal(err)
	}
}

// TestKubeCredentials reads credentials of clusters with local accounts
// (the admin kubeconfig's client certificate, signed by the cluster CA)
// and with Microsoft Entra ID (a token for the AKS server application),
// and the errors of a missing cluster and of one still being created.
func TestKubeCredentials(t *testing.T) {
	s := newNetSim(t)
	cred := &scopedCred{expires: time.Now().Add(time.Hour).Round(time.Second)}
	b, err := New(Config{SubscriptionID: testSub, Credential: cred, Endpoint: s.srv.URL, HTTPClient: s.srv.Client(), Poll: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s.b = b
	if _, err := b.CreateCluster(ctx, cloud.ClusterSpec{Name: "local", Region: testRegion, KubernetesVersion: "1.33", PublicEndpoint: true}); err != nil {
		t.Fatal(err)
	}
	s.entraCluster("entra", false)
	s.entraCluster("entra-only", true)

	tests := []struct {
		cluster string
		cert    bool // a client certificate, else an Entra ID token
	}{
		{"local", true},
		{"entra", false},
		{"entra-only", false},
	}
	for _, tt := range tests {
		t.Run(tt.cluster, func(t *testing.T) {
			c, ok := s.e.LookupCluster("azure", testRegion, tt.cluster)
			if !ok {
				t.Fatal("no engine cluster")
			}
			_, caPEM, err := s.e.KubeAdmin("azure", testRegion, tt.cluster)
			if err != nil {
				t.Fatal(err)
			}
			cred.scopes = nil
			kc, err := b.KubeCredentials(ctx, testRegion, tt.cluster)
			if err != nil {
				t.Fatal(err)
			}
			u, err := url.Parse(kc.Endpoint)
			if err != nil || u.Scheme != "https" || "https://"+u.Hostname() != c.Endpoint || string(kc.CAData) != string(caPEM) {
				t.Fatalf("endpoint %q CA %q, want %s and the engine CA", kc.Endpoint, kc.CAData, c.Endpoint)
			}
			if !tt.cert {
				if kc.BearerToken != "token-for:"+aksServerScope || !kc.Expiry.Equal(cred.expires.Add(-kubeTokenMargin)) || kc.ClientCertData != nil {
					t.Fatalf("token %q expiring %v", kc.BearerToken, kc.Expiry)
				}
				if !slices.Contains(cred.scopes, "6dae42f8-4368-4678-94ff-3960e28e3630/.default") {
					t.Fatalf("scopes asked %v", cred.scopes)
				}
				return
			}
			if kc.BearerToken != "" || !kc.Expiry.IsZero() {
				t.Fatalf("a client certificate login with token %q, expiry %v", kc.BearerToken, kc.Expiry)
			}
			blk, _ := pem.Decode(kc.ClientCertData)
			if blk == nil {
				t.Fatalf("client certificate %q", kc.ClientCertData)
			}
			cert, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			roots := x509.NewCertPool()
			roots.AppendCertsFromPEM(caPEM)
			if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
				t.Fatalf("client certificate does not chain to the cluster CA: %v", err)
			}
			if kb, _ := pem.Decode(kc.ClientKeyData); kb == nil {
				t.Fatalf("client key %q", kc.ClientKeyData)
			}
		})
	}

	_, err = b.KubeCredentials(ctx, testRegion, "missing")
	if !cloud.IsNotFound(err) {
		t.Fatalf("missing cluster: %v", err)
	}
	// A cluster whose create is still running (the engine's clock stands
	// still) has no endpoint yet.
	e, err := cloudsim.New(cloudsim.Config{Clock: cloudsim.NewFakeClock(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(azurefront.New(e, azurefront.Options{SubscriptionID: testSub}))
	t.Cleanup(srv.Close)
	young, err := New(Config{SubscriptionID: testSub, Credential: cred, Endpoint: srv.URL, HTTPClient: srv.Client(), Poll: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := young.groups.CreateOrUpdate(ctx, resourceGroup("young"), armresources.ResourceGroup{Location: to.Ptr(testRegion)}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := young.clusters.BeginCreateOrUpdate(ctx, resourceGroup("young"), "young", armcontainerservice.ManagedCluster{
		Location: to.Ptr(testRegion), Properties: &armcontainerservice.ManagedClusterProperties{DNSPrefix: to.Ptr("young")}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := young.KubeCredentials(ctx, testRegion, "young"); !cloud.IsConflict(err) {
		t.Fatalf("creating cluster: %v", err)
	}
}
