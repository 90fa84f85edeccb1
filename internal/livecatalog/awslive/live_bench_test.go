package awslive

import (
	"context"
	"net/http/httptest"
	"testing"

	"google.golang.org/api/option"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/awsconfig"
	azbackend "github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/azure"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/pricefront"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/livecatalog"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// liveWorld serves every cloud's price and availability APIs from the
// embedded catalog on loopback, and counts the requests they answer.
type liveWorld struct {
	sc     livecatalog.SourcesConfig
	aws    *pricefront.AWS
	gcp    *pricefront.GCP
	retail *pricefront.AzureRetail
	arm    *pricefront.AzureAvailability
}

func newLiveWorld(tb testing.TB) *liveWorld {
	tb.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	cat := planner.Embedded()
	w := &liveWorld{aws: pricefront.NewAWS(pricefront.AWSOptions{Catalog: cat}),
		gcp: &pricefront.GCP{Catalog: cat, Project: "p"}, retail: &pricefront.AzureRetail{Items: pricefront.AzureItemsFromCatalog(cat)},
		arm: &pricefront.AzureAvailability{Catalog: cat, SubscriptionID: "s"}}
	awsSrv, gcpSrv, retailSrv, armSrv := httptest.NewServer(w.aws), httptest.NewServer(w.gcp), httptest.NewServer(w.retail), httptest.NewTLSServer(w.arm)
	tb.Cleanup(func() { awsSrv.Close(); gcpSrv.Close(); retailSrv.Close(); armSrv.Close() })
	w.sc = livecatalog.SourcesConfig{Catalog: cat,
		AWSEndpoints:   livecatalog.AWSEndpoints{Pricing: awsSrv.URL, EC2: awsSrv.URL, ServiceQuotas: awsSrv.URL},
		AWSCredentials: awsconfig.StaticCredentials{AccessKeyID: "SIM", SecretAccessKey: "SIM"}, AWS: Sources,
		GCPProject: "p", GCPBillingEndpoint: gcpSrv.URL, GCPComputeEndpoint: gcpSrv.URL + "/compute/v1/",
		GCPClientOptions:    []option.ClientOption{option.WithoutAuthentication()},
		AzureSubscriptionID: "s", AzureRetailURL: retailSrv.URL, AzureEndpoint: armSrv.URL,
		AzureHTTPClient: armSrv.Client(), AzureCredential: azbackend.StaticToken("SIM")}
	return w
}

func (w *liveWorld) requests() int64 {
	n := w.aws.TotalRequests() + w.retail.Requests() + w.arm.Requests(pricefront.AzureSkus) + w.arm.Requests(pricefront.AzureUsages)
	for _, api := range []string{pricefront.GCPSkus, pricefront.GCPAcceleratorTypes, pricefront.GCPRegions, pricefront.GCPProjects} {
		n += w.gcp.Requests(api)
	}
	return n
}

var benchRequest = planner.Request{GPUs: 64, GPUModels: []string{"H100", "H200"}, GPUsPerNode: 8, Residency: []string{"EU"},
	Spread: planner.Spread{MinClouds: 3, MaxShare: 0.4}}

// livePlan refreshes prices and availability through cache and plans.
func (w *liveWorld) livePlan(tb testing.TB, cache *livecatalog.Cache) {
	prices, avail := livecatalog.Sources(w.sc)
	res := livecatalog.Refresh(context.Background(), w.sc.Catalog, prices, cache, nil)
	av := livecatalog.RefreshAvailability(context.Background(), res.Catalog, avail, cache, nil)
	if len(res.Warnings)+len(av.Warnings) > 0 {
		tb.Fatalf("warnings: %v %v", res.Warnings, av.Warnings)
	}
	if _, err := planner.Plan(av.Catalog, benchRequest); err != nil {
		tb.Fatal(err)
	}
}

// TestLivePlanColdAndWarm: a cold plan asks every API, a warm one (within
// the TTL) none.
func TestLivePlanColdAndWarm(t *testing.T) {
	w := newLiveWorld(t)
	cache := &livecatalog.Cache{Dir: t.TempDir()}
	w.livePlan(t, cache)
	cold := w.requests()
	if cold == 0 {
		t.Fatal("a cold plan made no API calls")
	}
	w.livePlan(t, cache)
	if warm := w.requests() - cold; warm != 0 {
		t.Fatalf("a warm plan made %d API calls", warm)
	}
	t.Logf("cold plan: %d API calls", cold)
}

// BenchmarkLivePlan: plan with live prices and availability from the
// simulated APIs of all three clouds, cold (empty cache) and warm.
func BenchmarkLivePlan(b *testing.B) {
	w := newLiveWorld(b)
	b.Run("cold", func(b *testing.B) {
		start := w.requests()
		for b.Loop() {
			w.livePlan(b, &livecatalog.Cache{Dir: b.TempDir()})
		}
		b.ReportMetric(float64(w.requests()-start)/float64(b.N), "calls/op")
	})
	b.Run("warm", func(b *testing.B) {
		cache := &livecatalog.Cache{Dir: b.TempDir()}
		w.livePlan(b, cache)
		start := w.requests()
		for b.Loop() {
			w.livePlan(b, cache)
		}
		b.ReportMetric(float64(w.requests()-start)/float64(b.N), "calls/op")
	})
}
