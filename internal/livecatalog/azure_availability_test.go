package livecatalog

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/pricefront"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

const azureTestSub = "00000000-0000-0000-0000-00000000f1ee"

type azureTestCred struct{}

func (azureTestCred) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "cloudsim-token", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func TestAzureFamilies(t *testing.T) {
	for _, tc := range []struct{ size, family string }{
		{"Standard_ND96isr_H100_v5", "standardNDSH100v5Family"},
		{"Standard_NC80adis_H100_v5", "StandardNCadsH100v5Family"},
		{"Standard_NC24ads_A100_v4", "StandardNCADSA100v4Family"},
		{"Standard_ND96amsr_A100_v4", "standardNDAMSv4_A100Family"},
		{"Standard_ND96asr_v4", "StandardNDASv4_A100Family"},
		{"Standard_NC24rs_v3", "standardNCSv3Family"},
		{"Standard_NC64as_T4_v3", "StandardNCASv3_T4Family"},
		{"Standard_ND40rs_v2", "standardNDSv2Family"},
		{"Standard_NV48s_v3", "standardNVSv3Family"},
		{"Standard_NV36adms_A10_v5", "StandardNVADSA10v5Family"},
		{"Standard_D4s_v5", ""},
	} {
		t.Run(tc.size, func(t *testing.T) {
			f, ok := azureFamilyOfSize(tc.size)
			if ok != (tc.family != "") || f.Name != tc.family {
				t.Fatalf("got %q %v", f.Name, ok)
			}
		})
	}
	for _, tc := range []struct{ usage, family string }{
		{"standardNDSH100v5Family", "standardNDSH100v5Family"},
		{"StandardNDSH100v5Family", "standardNDSH100v5Family"},
		{"Standard NCASv3_T4 Family", "StandardNCASv3_T4Family"},
		{"standardNCadsH100v5Family", "StandardNCadsH100v5Family"},
		{"cores", ""},
		{"lowPriorityCores", ""},
	} {
		if f, ok := azureFamilyByName(tc.usage); ok != (tc.family != "") || f.Name != tc.family {
			t.Errorf("%q: got %q %v", tc.usage, f.Name, ok)
		}
	}
	for size := range azureShapes(planner.Embedded()) {
		if _, ok := azureFamilyOfSize(size); !ok {
			t.Errorf("catalog size %s has no quota family", size)
		}
	}
}

func TestAzureQuotaGPUs(t *testing.T) {
	shapes := azureShapes(planner.Embedded())
	for _, tc := range []struct {
		name  string
		free  int64
		sizes []string
		want  int
		ok    bool
	}{
		{"ND H100 v5: 12 vCPUs per GPU", 200, []string{"Standard_ND96isr_H100_v5"}, 16, true},
		{"NCads H100 v5: 40 per GPU for both sizes", 100, []string{"Standard_NC40ads_H100_v5", "Standard_NC80adis_H100_v5"}, 2, true},
		{"NCv3: 6 per GPU", 24, []string{"Standard_NC6s_v3", "Standard_NC12s_v3", "Standard_NC24s_v3"}, 4, true},
		{"T4: the largest ratio (16) wins over 4 and 8", 64, []string{"Standard_NC4as_T4_v3", "Standard_NC8as_T4_v3", "Standard_NC16as_T4_v3", "Standard_NC64as_T4_v3"}, 4, true},
		{"over quota", -8, []string{"Standard_ND96isr_H100_v5"}, 0, true},
		{"sizes outside the catalog", 100, []string{"Standard_ND96isr_H200_v5"}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := azureQuotaGPUs(tc.free, tc.sizes, shapes)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("got %d %v, want %d %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestAzureUsageQuota(t *testing.T) {
	shapes := azureShapes(planner.Embedded())
	all := map[string]bool{}
	for s := range shapes {
		all[s] = true
	}
	usage := func(name string, limit int64, current int32) *armcompute.Usage {
		return &armcompute.Usage{Name: &armcompute.UsageName{Value: to.Ptr(name)}, Limit: to.Ptr(limit), CurrentValue: to.Ptr(current), Unit: to.Ptr("Count")}
	}
	for _, tc := range []struct {
		usage *armcompute.Usage
		sizes map[string]bool
		want  *Quota
	}{
		{usage("standardNDSH100v5Family", 200, 8), all, &Quota{Name: "standardNDSH100v5Family", Cloud: "azure", Region: "eastus",
			InstanceTypes: []string{"Standard_ND96isr_H100_v5"}, CapacityType: "on_demand", MaxGPUs: 16}},
		{usage("Standard NCASv3_T4 Family", 100, 0), all, &Quota{Name: "Standard NCASv3_T4 Family", Cloud: "azure", Region: "eastus",
			InstanceTypes: []string{"Standard_NC16as_T4_v3", "Standard_NC4as_T4_v3", "Standard_NC64as_T4_v3", "Standard_NC8as_T4_v3"}, CapacityType: "on_demand", MaxGPUs: 6}},
		// Narrowed to one size: the ratio still covers the family (16, not 4).
		{usage("StandardNCASv3_T4Family", 100, 0), map[string]bool{"Standard_NC4as_T4_v3": true}, &Quota{Name: "StandardNCASv3_T4Family", Cloud: "azure",
			Region: "eastus", InstanceTypes: []string{"Standard_NC4as_T4_v3"}, CapacityType: "on_demand", MaxGPUs: 6}},
		// Spot: every size, with the largest ratio of the catalog (40).
		{usage("lowPriorityCores", 100, 20), all, &Quota{Name: "lowPriorityCores", Cloud: "azure", Region: "eastus", CapacityType: "spot", MaxGPUs: 2}},
		{usage("standardNDSH100v5Family", 96, 200), all, &Quota{Name: "standardNDSH100v5Family", Cloud: "azure", Region: "eastus",
			InstanceTypes: []string{"Standard_ND96isr_H100_v5"}, CapacityType: "on_demand", MaxGPUs: 0}},
		{usage("standardNDSH100v5Family", 200, 0), map[string]bool{"Standard_NC4as_T4_v3": true}, nil},
		{usage("cores", 350, 0), all, nil},
		{usage("standardDSv5Family", 350, 0), all, nil},
		{&armcompute.Usage{Name: &armcompute.UsageName{Value: to.Ptr("lowPriorityCores")}}, all, nil},
	} {
		t.Run(*tc.usage.Name.Value, func(t *testing.T) {
			got, ok := azureUsageQuota("eastus", tc.usage, tc.sizes, shapes)
			if ok != (tc.want != nil) || (ok && !quotaEqual(got, *tc.want)) {
				t.Fatalf("got %+v %v, want %+v", got, ok, tc.want)
			}
		})
	}
}

// TestAzureSKUFactsFromRealShapedPage reads a Resource SKUs page shaped
// like ARM's: mixed-case locations, zones out of order, a Zone restriction,
// a Location restriction (QuotaId), a size in another location, a disk SKU
// and a size gpufleet does not ask about.
func TestAzureSKUFactsFromRealShapedPage(t *testing.T) {
	data, err := os.ReadFile("testdata/azure_resource_skus_page.json")
	if err != nil {
		t.Fatal(err)
	}
	var page armcompute.ResourceSKUsResult
	if err := json.Unmarshal(data, &page); err != nil {
		t.Fatal(err)
	}
	sizes := map[string]bool{"Standard_ND96isr_H100_v5": true, "Standard_NC40ads_H100_v5": true, "Standard_NC24ads_A100_v4": true}
	var offered []ZoneOffering
	var restricted []Restriction
	for _, s := range page.Value {
		o, r := azureSKUFacts("eastus", s, sizes)
		offered, restricted = append(offered, o...), append(restricted, r...)
	}
	z := func(zone, size string) ZoneOffering {
		return ZoneOffering{Cloud: "azure", Region: "eastus", Zone: zone, InstanceType: size}
	}
	wantOffered := []ZoneOffering{
		z("2", "Standard_ND96isr_H100_v5"), z("3", "Standard_ND96isr_H100_v5"), z("1", "Standard_ND96isr_H100_v5"), z("", "Standard_ND96isr_H100_v5"),
		z("", "Standard_NC40ads_H100_v5"),
	}
	wantRestricted := []Restriction{
		{Cloud: "azure", Region: "eastus", Zone: "1", InstanceType: "Standard_ND96isr_H100_v5", Reason: "NotAvailableForSubscription"},
		{Cloud: "azure", Region: "eastus", Zone: "3", InstanceType: "Standard_ND96isr_H100_v5", Reason: "NotAvailableForSubscription"},
		{Cloud: "azure", Region: "eastus", InstanceType: "Standard_NC40ads_H100_v5", Reason: "QuotaId"},
	}
	if !slices.Equal(offered, wantOffered) {
		t.Errorf("offered %+v", offered)
	}
	if !slices.Equal(restricted, wantRestricted) {
		t.Errorf("restricted %+v", restricted)
	}
}

// newAzureAvailability serves sim over TLS and points a source at it.
func newAzureAvailability(t *testing.T, sim *pricefront.AzureAvailability) *AzureAvailability {
	t.Helper()
	srv := httptest.NewTLSServer(sim)
	t.Cleanup(srv.Close)
	return &AzureAvailability{SubscriptionID: azureTestSub, Catalog: sim.Catalog, Regions: []string{"westus", "eastus"},
		Endpoint: srv.URL, HTTPClient: srv.Client(), Credential: azureTestCred{},
		ClientOptions: arm.ClientOptions{ClientOptions: azcore.ClientOptions{
			Retry: policy.RetryOptions{MaxRetries: 3, RetryDelay: time.Millisecond, MaxRetryDelay: 20 * time.Millisecond}}}}
}

func TestAzureAvailability(t *testing.T) {
	const nd = "Standard_ND96isr_H100_v5"
	sim := &pricefront.AzureAvailability{Catalog: planner.Embedded(), SubscriptionID: azureTestSub, PageSize: 7,
		Zones: map[string][]string{"eastus": {"1", "2", "3"}, "eastus/Standard_NC6s_v3": {}},
		Restrictions: []pricefront.AzureSkuRestriction{
			{Region: "westus", InstanceType: nd},
			{Region: "eastus", InstanceType: nd, Zones: []string{"2"}, ReasonCode: "QuotaId"},
		},
		Unoffered: []string{"westus/Standard_NC24rs_v3"},
		Usages: map[string]pricefront.AzureUsage{
			"eastus/standardNDSH100v5Family": {Limit: 200, Current: 8},
			"lowPriorityCores":               {Limit: 100, Current: 20},
		}}
	src := newAzureAvailability(t, sim)
	av, err := src.Availability(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(av.Regions, []string{"eastus", "westus"}) {
		t.Fatalf("regions %v", av.Regions)
	}
	has := func(region, zone, size string) bool {
		return slices.Contains(av.Offered, ZoneOffering{Cloud: "azure", Region: region, Zone: zone, InstanceType: size})
	}
	for _, tc := range []struct {
		region, zone, size string
		want               bool
	}{
		{"eastus", "", nd, true},
		{"eastus", "2", nd, true},
		{"eastus", "", "Standard_NC6s_v3", true},
		{"eastus", "1", "Standard_NC6s_v3", false}, // no zones for this size
		{"westus", "", nd, true},                   // offered, though restricted
		{"westus", "1", nd, false},
		{"westus", "", "Standard_NC24rs_v3", false}, // unoffered
		{"westus", "", "Standard_NC24s_v3", true},
		{"eastus", "", "Standard_D4s_v5", false}, // not a catalog size
	} {
		if got := has(tc.region, tc.zone, tc.size); got != tc.want {
			t.Errorf("offered(%s, %q, %s) = %v, want %v", tc.region, tc.zone, tc.size, got, tc.want)
		}
	}
	wantRestrictions := []Restriction{
		{Cloud: "azure", Region: "eastus", Zone: "2", InstanceType: nd, Reason: "QuotaId"},
		{Cloud: "azure", Region: "westus", InstanceType: nd, Reason: "NotAvailableForSubscription"},
	}
	if !slices.Equal(av.Restrictions, wantRestrictions) {
		t.Errorf("restrictions %+v", av.Restrictions)
	}
	t4 := []string{"Standard_NC16as_T4_v3", "Standard_NC4as_T4_v3", "Standard_NC64as_T4_v3", "Standard_NC8as_T4_v3"}
	for _, want := range []Quota{
		{Name: "standardNDSH100v5Family", Cloud: "azure", Region: "eastus", InstanceTypes: []string{nd}, CapacityType: "on_demand", MaxGPUs: 16},
		{Name: "standardNDSH100v5Family", Cloud: "azure", Region: "westus", InstanceTypes: []string{nd}, CapacityType: "on_demand", MaxGPUs: 8},
		{Name: "Standard NCASv3_T4 Family", Cloud: "azure", Region: "westus", InstanceTypes: t4, CapacityType: "on_demand", MaxGPUs: 6},
		{Name: "lowPriorityCores", Cloud: "azure", Region: "eastus", CapacityType: "spot", MaxGPUs: 2},
		{Name: "lowPriorityCores", Cloud: "azure", Region: "westus", CapacityType: "spot", MaxGPUs: 2},
	} {
		got, ok := findQuota(av, want.Region, want.Name)
		if !ok || !quotaEqual(got, want) {
			t.Errorf("quota %s/%s: %+v, want %+v", want.Region, want.Name, got, want)
		}
	}
	for _, q := range av.Quotas {
		if q.Name == "cores" || q.Name == "standardDSv5Family" || q.Name == "availabilitySets" {
			t.Errorf("unexpected quota %+v", q)
		}
	}
	// A cold fetch: per region, the SKU pages of its filtered list and the
	// usage pages.
	wantSkuPages := int64(0)
	for _, r := range av.Regions {
		wantSkuPages += int64((len(sim.SkuEntries(r)) + 6) / 7)
	}
	if got := sim.Requests(pricefront.AzureSkus); got != wantSkuPages {
		t.Errorf("%d SKU requests, want %d", got, wantSkuPages)
	}
	if got := sim.Requests(pricefront.AzureUsages); got != 2*3 { // 16 usages per region, 7 a page
		t.Errorf("%d usage requests, want 6", got)
	}
}

func TestAzureAvailabilityFaults(t *testing.T) {
	for _, tc := range []struct {
		name     string
		throttle int64
		fail     string
		wantErr  string
	}{
		{name: "throttled with Retry-After, then served", throttle: 2},
		{name: "SKUs failing", fail: pricefront.AzureSkus, wantErr: "azure compute resourceSkus.list eastus: HTTP 500 InternalServerError"},
		{name: "usages failing", fail: pricefront.AzureUsages, wantErr: "azure compute usage.list eastus: HTTP 500 InternalServerError"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim := &pricefront.AzureAvailability{Catalog: planner.Embedded(), ThrottleFirst: tc.throttle, RetryAfter: 2 * time.Millisecond,
				Fail: map[string]bool{tc.fail: true}}
			src := newAzureAvailability(t, sim)
			av, err := src.Availability(context.Background(), []string{"Standard_ND96isr_H100_v5"})
			if tc.wantErr == "" {
				if err != nil || len(av.Offered) != 2 || len(av.Quotas) != 4 {
					t.Fatalf("offered %+v, quotas %+v, %v", av.Offered, av.Quotas, err)
				}
				// Two throttled requests per API, then one page per region.
				if sim.Requests(pricefront.AzureSkus) != 2+2 || sim.Requests(pricefront.AzureUsages) != 2+2 {
					t.Fatalf("requests %d %d", sim.Requests(pricefront.AzureSkus), sim.Requests(pricefront.AzureUsages))
				}
				return
			}
			if err == nil || err.Error() != tc.wantErr {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
			var re *azcore.ResponseError
			if !errors.As(err, &re) || re.StatusCode != 500 {
				t.Fatalf("the SDK's error is not wrapped: %T", err)
			}
			if n := sim.Requests(tc.fail); n < 4 {
				t.Fatalf("%d requests: the SDK did not retry", n)
			}
		})
	}
	if _, err := (&AzureAvailability{}).Availability(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "subscription is required") {
		t.Fatalf("no subscription: %v", err)
	}
}
