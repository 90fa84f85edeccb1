package livecatalog

import (
	"context"
	"encoding/json"
	"math"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/api/cloudbilling/v1"
	"google.golang.org/api/option"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/pricefront"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// fastRetry keeps the retry tests quick.
var fastRetry = GCPRetry{MaxRetries: 3, Delay: time.Millisecond, MaxDelay: 5 * time.Millisecond}

// newGCPSim serves sim on loopback and returns the client options that
// reach it without credentials.
func newGCPSim(t *testing.T, sim *pricefront.GCP) (billingEndpoint, computeEndpoint string, opts []option.ClientOption) {
	t.Helper()
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return srv.URL + "/", srv.URL + "/compute/v1/", []option.ClientOption{option.WithoutAuthentication(), option.WithHTTPClient(srv.Client())}
}

func newGCPBilling(t *testing.T, sim *pricefront.GCP) *GCPBilling {
	t.Helper()
	endpoint, _, opts := newGCPSim(t, sim)
	return &GCPBilling{Catalog: sim.Catalog, Endpoint: endpoint, ClientOptions: opts, Retry: fastRetry}
}

func TestParseGCPSkuDescription(t *testing.T) {
	for _, tc := range []struct {
		desc, name string
		spot, ok   bool
	}{
		{"A3 Instance Core running in Americas", "A3 Instance Core", false, true},
		{"Spot Preemptible A3 Instance Ram running in Netherlands", "A3 Instance Ram", true, true},
		{"Nvidia H100 80GB GPU running in Americas", "Nvidia H100 80GB GPU", false, true},
		{"Nvidia H100 80GB GPU attached to Spot Preemptible VMs running in EMEA", "Nvidia H100 80GB GPU", true, true},
		{"Nvidia H100 80GB Mega GPU running in Frankfurt", "Nvidia H100 80GB Mega GPU", false, true},
		{"Spot Preemptible Nvidia L4 GPU attached to Spot Preemptible VMs running in APAC", "", false, false},
		{"Commitment v1: A3 Cpu in Americas for 1 Year", "", false, false},
		{"Reserved Nvidia H100 80GB Mega GPU in Americas", "", false, false},
		{"Network Internet Egress from Americas to Americas", "", false, false},
		{" running in Americas", "", false, false},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			name, spot, ok := parseGCPSkuDescription(tc.desc)
			if name != tc.name || spot != tc.spot || ok != tc.ok {
				t.Fatalf("got %q %v %v, want %q %v %v", name, spot, ok, tc.name, tc.spot, tc.ok)
			}
		})
	}
}

func TestGCPBillingFamilies(t *testing.T) {
	for _, tc := range []struct {
		instanceType, family, core, ram, gpu string
	}{
		{"a3-highgpu-8g", "A3 High", "A3 Instance Core", "A3 Instance Ram", "Nvidia H100 80GB GPU"},
		{"a3-highgpu-1g", "A3 High", "A3 Instance Core", "A3 Instance Ram", "Nvidia H100 80GB GPU"},
		{"a3-megagpu-8g", "A3 Mega", "A3Plus Instance Core", "A3Plus Instance Ram", "Nvidia H100 80GB Mega GPU"},
		{"a2-highgpu-1g", "A2", "A2 Instance Core", "A2 Instance Ram", "Nvidia Tesla A100 GPU"},
		{"a2-megagpu-16g", "A2", "A2 Instance Core", "A2 Instance Ram", "Nvidia Tesla A100 GPU"},
		{"a2-ultragpu-8g", "A2 Ultra", "A2 Instance Core", "A2 Instance Ram", "Nvidia Tesla A100 80GB GPU"},
		{"g2-standard-4", "G2", "G2 Instance Core", "G2 Instance Ram", "Nvidia L4 GPU"},
		{"a3-edgegpu-8g", "", "", "", ""},
		{"a3-ultragpu-8g", "", "", "", ""},
		{"n1-highmem-8+1xT4", "", "", "", ""},
	} {
		t.Run(tc.instanceType, func(t *testing.T) {
			f, ok := gcpBillingFamilyOf(tc.instanceType)
			if ok != (tc.family != "") || f.Name != tc.family || f.Core != tc.core || f.RAM != tc.ram || f.GPU != tc.gpu {
				t.Fatalf("got %+v %v", f, ok)
			}
		})
	}
}

// TestGCPRatesFromRealShapedPage parses a page shaped like the Cloud
// Billing API's: units and nanos, multi-region SKUs, spot descriptions, a
// free first tier, and SKUs to ignore (commitments, an unmapped GPU, a spot
// description with an on-demand usage type, a RAM SKU priced per hour).
func TestGCPRatesFromRealShapedPage(t *testing.T) {
	data, err := os.ReadFile("testdata/gcp_skus_page.json")
	if err != nil {
		t.Fatal(err)
	}
	var page cloudbilling.ListSkusResponse
	if err := json.Unmarshal(data, &page); err != nil {
		t.Fatal(err)
	}
	rates := map[gcpRateKey]float64{}
	for _, s := range page.Skus {
		addGCPRates(rates, s)
	}
	want := map[gcpRateKey]float64{
		{"us-central1", "Nvidia H100 80GB GPU", planner.OnDemand}: 9.64404,
		{"us-east4", "Nvidia H100 80GB GPU", planner.OnDemand}:    9.64404,
		{"us-central1", "Nvidia H100 80GB GPU", planner.Spot}:     2.25,
		{"us-central1", "A3 Instance Core", planner.OnDemand}:     0.029765,
		{"us-central1", "A3 Instance Ram", planner.OnDemand}:      0.002398,
		{"us-central1", "A3 Instance Core", planner.Spot}:         0.00911,
		{"us-central1", "A3 Instance Ram", planner.Spot}:          0.000733,
		{"us-central1", "Nvidia L4 GPU", planner.OnDemand}:        0.56004,
	}
	if len(rates) != len(want) {
		t.Fatalf("rates %v", rates)
	}
	for k, v := range want {
		if math.Abs(rates[k]-v) > 1e-12 {
			t.Errorf("%+v: %v, want %v", k, rates[k], v)
		}
	}
	// a3-highgpu-8g: 8 GPUs, 208 vCPUs, 1872 GiB in the embedded catalog.
	prices := gcpPrices(planner.Embedded(), []string{"us-central1"}, rates)
	wantOD := 8*9.64404 + 208*0.029765 + 1872*0.002398
	wantSpot := 8*2.25 + 208*0.00911 + 1872*0.000733
	got := map[planner.CapacityType]float64{}
	for _, p := range prices {
		if p.InstanceType == "a3-highgpu-8g" {
			got[p.CapacityType] = p.USDPerHour
		}
		if p.Region != "us-central1" || !strings.HasPrefix(p.InstanceType, "a3-highgpu-") {
			t.Errorf("unexpected price %+v (its family lacks SKUs on the page)", p)
		}
	}
	if math.Abs(got[planner.OnDemand]-wantOD) > 1e-6 || math.Abs(got[planner.Spot]-wantSpot) > 1e-6 {
		t.Fatalf("a3-highgpu-8g: %v, want %v and %v", got, wantOD, wantSpot)
	}
}

// TestGCPBillingReproducesCatalog fetches the simulated SKUs (small pages)
// and checks that every offer of a priced family comes back within a cent
// of the catalog's price.
func TestGCPBillingReproducesCatalog(t *testing.T) {
	cat := planner.Embedded()
	sim := &pricefront.GCP{Catalog: cat}
	src := newGCPBilling(t, sim)
	src.PageSize = 40
	prices, err := src.Prices(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	skus := len(sim.Skus())
	if want := int64((skus + 39) / 40); sim.Requests(pricefront.GCPSkus) != want {
		t.Fatalf("%d requests for %d SKUs, want %d pages", sim.Requests(pricefront.GCPSkus), skus, want)
	}
	byKey := map[string]float64{}
	for _, p := range prices {
		byKey[key(p.Cloud, p.Region, p.InstanceType, p.CapacityType)] = p.USDPerHour
	}
	checked := 0
	for _, o := range cat.Offers {
		if o.Cloud != "gcp" {
			continue
		}
		got, ok := byKey[key(o.Cloud, o.Region, o.InstanceType, o.CapacityType)]
		if _, priced := gcpBillingFamilyOf(o.InstanceType); !priced {
			if ok {
				t.Errorf("%s priced but its family is not in the table", o.ID())
			}
			continue
		}
		if !ok {
			t.Errorf("%s: no live price", o.ID())
			continue
		}
		if math.Abs(got-o.PriceUSDHour) > 0.01 {
			t.Errorf("%s: %v, catalog %v", o.ID(), got, o.PriceUSDHour)
		}
		checked++
	}
	if checked < 500 {
		t.Fatalf("only %d offers checked", checked)
	}
}

// TestGCPBillingLivePricesReachRefresh doubles the simulated H100 GPU SKU
// and checks that Refresh applies the new price with provenance.
func TestGCPBillingLivePricesReachRefresh(t *testing.T) {
	const id = "gcp/us-central1/us-central1-a/a3-highgpu-8g/on_demand"
	base := planner.Embedded()
	sim := &pricefront.GCP{Catalog: base, Adjust: func(desc, region string, usd float64) float64 {
		if strings.HasPrefix(desc, "Nvidia H100 80GB GPU running in") {
			return 2 * usd
		}
		return usd
	}}
	src := newGCPBilling(t, sim)
	res := Refresh(context.Background(), base, []PriceSource{src}, nil, nil)
	if len(res.Warnings) != 0 {
		t.Fatal(res.Warnings)
	}
	old, now := price(base, id), price(res.Catalog, id)
	if !(now > old*1.5) || res.Provenance[id].Source != "gcp-cloud-billing" {
		t.Fatalf("price %v → %v, provenance %+v", old, now, res.Provenance[id])
	}
	// The spot SKU was not adjusted: the spot offer keeps its price.
	spot := "gcp/us-central1/us-central1-a/a3-highgpu-8g/spot"
	if math.Abs(price(res.Catalog, spot)-price(base, spot)) > 0.01 {
		t.Fatalf("spot %v → %v", price(base, spot), price(res.Catalog, spot))
	}
}

func TestGCPBillingFaults(t *testing.T) {
	for _, tc := range []struct {
		name     string
		throttle int64
		fail     bool
		wantErr  string
		requests int64
	}{
		{name: "throttled then served", throttle: 3, requests: 3 + 1},
		{name: "throttled past the retries", throttle: 10, wantErr: "cloudbilling services.skus.list page 1 (after 4 tries): googleapi: Error 429", requests: 4},
		{name: "failing", fail: true, wantErr: "cloudbilling services.skus.list page 1 (after 4 tries): googleapi: Error 500: Internal error encountered., backendError", requests: 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim := &pricefront.GCP{Catalog: planner.Embedded(), ThrottleFirst: tc.throttle, Fail: map[string]bool{pricefront.GCPSkus: tc.fail}}
			src := newGCPBilling(t, sim)
			prices, err := src.Prices(context.Background())
			if sim.Requests(pricefront.GCPSkus) != tc.requests {
				t.Errorf("%d requests, want %d", sim.Requests(pricefront.GCPSkus), tc.requests)
			}
			if tc.wantErr == "" {
				if err != nil || len(prices) == 0 {
					t.Fatalf("%d prices, %v", len(prices), err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
			res := Refresh(context.Background(), planner.Embedded(), []PriceSource{src}, nil, nil)
			if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "live prices from gcp-cloud-billing failed, using the catalog's gcp prices: "+tc.wantErr) ||
				res.Catalog != planner.Embedded() {
				t.Fatalf("fallback warnings %v", res.Warnings)
			}
		})
	}
}

// TestGCPBillingNoKnownSkus: a catalog without a single SKU of a known
// family is an error (and so a Refresh warning), not an empty success.
func TestGCPBillingNoKnownSkus(t *testing.T) {
	var azure []planner.Offer
	for _, o := range planner.Embedded().Offers {
		if o.Cloud == "azure" {
			azure = append(azure, o)
		}
	}
	cat, err := planner.NewCatalog(azure, planner.EmbeddedRegions(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	src := newGCPBilling(t, &pricefront.GCP{Catalog: cat})
	src.Catalog = planner.Embedded()
	if _, err := src.Prices(context.Background()); err == nil || !strings.Contains(err.Error(), "none of 7 SKUs is a GPU, core or RAM SKU of A3 High, A3 Mega, A2, A2 Ultra, G2") {
		t.Fatalf("error %v", err)
	}
}

func TestGCPBillingRegionsAndCacheKey(t *testing.T) {
	sim := &pricefront.GCP{Catalog: planner.Embedded()}
	src := newGCPBilling(t, sim)
	src.Regions = []string{"europe-west4"}
	prices, err := src.Prices(context.Background())
	if err != nil || len(prices) == 0 {
		t.Fatal(len(prices), err)
	}
	for _, p := range prices {
		if p.Region != "europe-west4" {
			t.Fatalf("price outside Regions: %+v", p)
		}
	}
	other := *src
	other.Regions = nil
	if src.CacheKey() == other.CacheKey() || !strings.HasPrefix(src.CacheKey(), "gcp-cloud-billing-") {
		t.Fatalf("cache keys %q %q", src.CacheKey(), other.CacheKey())
	}
}
