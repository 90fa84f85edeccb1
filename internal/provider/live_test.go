package provider

import (
	"fmt"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/pricefront"
)

// TestAccLivePrices: live Azure prices (from a local Retail Prices API)
// reprice the catalog and say where each price came from; when the API
// fails, the plan still works on the catalog's prices.
func TestAccLivePrices(t *testing.T) {
	item := pricefront.AzureItem{CurrencyCode: "USD", RetailPrice: 80, UnitPrice: 80, ArmRegionName: "westeurope", MeterName: "ND96isr H100 v5",
		ProductName: "Virtual Machines NDisrH100v5 Series", SkuName: "ND96isr H100 v5", ServiceName: "Virtual Machines",
		UnitOfMeasure: "1 Hour", Type: "Consumption", ArmSkuName: "Standard_ND96isr_H100_v5"}
	up := httptest.NewServer(&pricefront.AzureRetail{Items: []pricefront.AzureItem{item}})
	defer up.Close()
	down := httptest.NewServer(&pricefront.AzureRetail{ThrottleFirst: 1 << 30})
	defer down.Close()
	cat := writeCatalog(t, "prices.csv", baseCatalogRows)
	config := func(url string) string {
		return fmt.Sprintf(`
provider "gpufleet" {
  catalog {
    file           = %q
    live           = true
    live_endpoints = { azure = %q }
    live_cache_dir = %q
  }
}
data "gpufleet_offers" "azure" {
  clouds         = ["azure"]
  capacity_types = ["on_demand"]
}
`, cat, url, t.TempDir())
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config(up.URL),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.gpufleet_offers.azure", tfjsonpath.New("offers").AtSliceIndex(0), knownvalue.ObjectPartial(map[string]knownvalue.Check{
						"price_usd_hour": knownvalue.Float64Exact(80),
						"price_source":   knownvalue.StringRegexp(regexp.MustCompile(`^azure-retail-prices at 20`)),
					})),
				},
			},
			{
				Config: config(down.URL),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.gpufleet_offers.azure", tfjsonpath.New("offers").AtSliceIndex(0), knownvalue.ObjectPartial(map[string]knownvalue.Check{
						"price_usd_hour": knownvalue.Float64Exact(110),
						"price_source":   knownvalue.StringRegexp(regexp.MustCompile(`^catalog 2026-11-01\+sha256:`)),
					})),
				},
			},
		},
	})
}

// TestAccLiveSimulated: with simulate = true, live = true asks every
// cloud's price and availability APIs, served locally from the catalog:
// prices say which API they came from, and the account quotas (the
// simulated AWS default: 768 vCPUs of P instances per region, 32 H100s)
// cap placements at plan time, naming the quota.
func TestAccLiveSimulated(t *testing.T) {
	t.Setenv(simTimeScaleEnv, "0.01")
	world := simWorld{dir: simDir(t)}
	// Our reservation in the simulated AWS: the live step reads it from
	// EC2 DescribeCapacityReservations (served by the simulated EC2, not
	// the price front end) and offers its free instances at no price.
	world.putReservation(t, cloudsim.Reservation{Cloud: "aws", ID: "cr-0fedcba9876543210", Region: "eu-north-1", Zone: "eun1-az2",
		InstanceType: "p5.48xlarge", Kind: "reserved", Count: 3})
	provider := fmt.Sprintf(`
provider "gpufleet" {
  simulate     = true
  simulate_dir = %q
  catalog {
    live           = true
    live_cache_dir = %q
  }
}
`, world.dir, simDir(t))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: provider + `
data "gpufleet_offers" "se" {
  clouds         = ["aws", "gcp"]
  residency      = ["SE", "FI"]
  gpu_models     = ["H100"]
  gpus_per_node  = 8
  capacity_types = ["on_demand", "spot"]
}
`,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.gpufleet_offers.se", tfjsonpath.New("offers"), knownvalue.ListPartial(map[int]knownvalue.Check{
						0: knownvalue.ObjectPartial(map[string]knownvalue.Check{
							"price_source": knownvalue.StringRegexp(regexp.MustCompile(`^(aws-pricing|aws-spot-prices|gcp-cloud-billing) at 20`)),
						}),
					})),
				},
			},
			{
				Config: provider + `
resource "gpufleet_placement" "too_big" {
  gpus           = 64
  clouds         = ["aws"]
  residency      = ["SE"]
  gpu_models     = ["H100"]
  gpus_per_node  = 8
  capacity_types = ["on_demand"]
}
`,
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`L-417A185B`),
			},
			{
				Config: provider + `
data "gpufleet_offers" "reserved" {
  clouds         = ["aws"]
  residency      = ["SE"]
  gpu_models     = ["H100"]
  capacity_types = ["reserved"]
}
`,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.gpufleet_offers.reserved", tfjsonpath.New("offers"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.ObjectPartial(map[string]knownvalue.Check{
							"id":             knownvalue.StringExact("aws/eu-north-1/eun1-az2/p5.48xlarge/reserved/cr-0fedcba9876543210"),
							"price_usd_hour": knownvalue.Float64Exact(0),
							"max_nodes":      knownvalue.Int64Exact(3),
							"price_source":   knownvalue.StringRegexp(regexp.MustCompile(`^aws-reservations at 20`)),
						}),
					})),
				},
			},
		},
	})
}
