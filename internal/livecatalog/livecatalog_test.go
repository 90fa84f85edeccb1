package livecatalog

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/pricefront"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

func item(region, sku, skuName, product string, price float64) pricefront.AzureItem {
	return pricefront.AzureItem{CurrencyCode: "USD", RetailPrice: price, UnitPrice: price, ArmRegionName: region, MeterName: skuName,
		ProductName: product, SkuName: skuName, ServiceName: "Virtual Machines", ServiceFamily: "Compute", UnitOfMeasure: "1 Hour",
		Type: "Consumption", ArmSkuName: sku, IsPrimary: true}
}

// retailItems are shaped like prices.azure.com items: Linux, Spot, Windows
// and Low Priority meters of the same size.
var retailItems = []pricefront.AzureItem{
	item("westeurope", "Standard_ND96isr_H100_v5", "ND96isr H100 v5", "Virtual Machines NDisrH100v5 Series", 100),
	item("westeurope", "Standard_ND96isr_H100_v5", "ND96isr H100 v5 Spot", "Virtual Machines NDisrH100v5 Series", 40),
	item("westeurope", "Standard_ND96isr_H100_v5", "ND96isr H100 v5", "Virtual Machines NDisrH100v5 Series Windows", 150),
	item("westeurope", "Standard_ND96isr_H100_v5", "ND96isr H100 v5 Low Priority", "Virtual Machines NDisrH100v5 Series", 30),
	item("eastus", "Standard_ND96isr_H100_v5", "ND96isr H100 v5", "Virtual Machines NDisrH100v5 Series", 90),
	item("mars-north", "Standard_ND96isr_H100_v5", "ND96isr H100 v5", "Virtual Machines NDisrH100v5 Series", 1),
}

func TestAzureRetailPaging(t *testing.T) {
	fake := &pricefront.AzureRetail{Items: retailItems, PageSize: 2}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	prices, err := (&AzureRetail{BaseURL: srv.URL, Client: srv.Client()}).Prices(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if fake.Requests() != 3 {
		t.Fatalf("%d requests, want 3 pages", fake.Requests())
	}
	want := []Price{
		{Cloud: "azure", Region: "westeurope", InstanceType: "Standard_ND96isr_H100_v5", CapacityType: planner.OnDemand, USDPerHour: 100},
		{Cloud: "azure", Region: "westeurope", InstanceType: "Standard_ND96isr_H100_v5", CapacityType: planner.Spot, USDPerHour: 40},
		{Cloud: "azure", Region: "eastus", InstanceType: "Standard_ND96isr_H100_v5", CapacityType: planner.OnDemand, USDPerHour: 90},
		{Cloud: "azure", Region: "mars-north", InstanceType: "Standard_ND96isr_H100_v5", CapacityType: planner.OnDemand, USDPerHour: 1},
	}
	if len(prices) != len(want) {
		t.Fatalf("prices %+v", prices)
	}
	for i := range want {
		if prices[i] != want[i] {
			t.Fatalf("price %d: %+v, want %+v", i, prices[i], want[i])
		}
	}
}

func price(c *planner.Catalog, id string) float64 {
	for _, o := range c.Offers {
		if o.ID() == id {
			return o.PriceUSDHour
		}
	}
	return -1
}

func TestRefreshMergesWithProvenanceAndFallsBack(t *testing.T) {
	const weu = "azure/westeurope//Standard_ND96isr_H100_v5/on_demand"
	base := planner.Embedded()
	fake := &pricefront.AzureRetail{Items: retailItems, PageSize: 100}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	src := &AzureRetail{BaseURL: srv.URL, Client: srv.Client()}
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	cache := &Cache{Dir: t.TempDir(), TTL: time.Hour}

	res := Refresh(context.Background(), base, []PriceSource{src}, cache, clock)
	if len(res.Warnings) != 0 || price(res.Catalog, weu) != 100 || res.Provenance[weu].Source != "azure-retail-prices" {
		t.Fatalf("warnings %v, price %v, provenance %+v", res.Warnings, price(res.Catalog, weu), res.Provenance[weu])
	}
	if res.Catalog.Version == base.Version {
		t.Fatal("a repriced catalog must have a new version")
	}
	// Prices for offers the catalog lacks (spot in westeurope, an unknown
	// region) change nothing.
	if _, ok := res.Provenance["azure/westeurope//Standard_ND96isr_H100_v5/spot"]; ok {
		t.Fatal("a price created an offer")
	}

	// Within the TTL the cache answers, even with the API down.
	fake.ThrottleFirst = 1 << 30
	before := fake.Requests()
	if res := Refresh(context.Background(), base, []PriceSource{src}, cache, clock); price(res.Catalog, weu) != 100 || fake.Requests() != before {
		t.Fatalf("cache not used: %d requests", fake.Requests()-before)
	}
	// After it, a failing source falls back to the catalog's prices with a
	// warning naming the source and the error.
	now = now.Add(2 * time.Hour)
	res = Refresh(context.Background(), base, []PriceSource{src}, cache, clock)
	if price(res.Catalog, weu) != price(base, weu) || len(res.Warnings) != 1 ||
		!strings.Contains(res.Warnings[0], "azure-retail-prices failed, using the catalog's azure prices: page 1: HTTP 429") {
		t.Fatalf("fallback: price %v, warnings %v", price(res.Catalog, weu), res.Warnings)
	}
}
