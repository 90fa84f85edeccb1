package provider

import (
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

func TestAccOffersDataSource(t *testing.T) {
	cat := writeCatalog(t, "prices.csv", baseCatalogRows)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: providerConfig(cat) + `
data "gpufleet_offers" "eu_h100" {
  gpu_models = ["h100"]
  residency  = ["EU"]
}
`,
				ConfigStateChecks: []statecheck.StateCheck{
					// Cheapest per GPU-hour first; spot offers included by default.
					statecheck.ExpectKnownValue("data.gpufleet_offers.eu_h100", tfjsonpath.New("offers"), knownvalue.ListExact([]knownvalue.Check{
						offerCheck("aws/eu-central-1/euc1-az1/p5.48xlarge/spot", 2.5),
						offerCheck("gcp/europe-west4/europe-west4-b/a3-highgpu-8g/spot", 3.75),
						offerCheck("aws/eu-north-1/eun1-az1/p5.48xlarge/on_demand", 7.25),
						offerCheck("aws/eu-central-1/euc1-az1/p5.48xlarge/on_demand", 7.5),
						offerCheck("gcp/europe-west4/europe-west4-b/a3-highgpu-8g/on_demand", 12),
						offerCheck("azure/westeurope//Standard_ND96isr_H100_v5/on_demand", 13.75),
					})),
					statecheck.ExpectKnownValue("data.gpufleet_offers.eu_h100", tfjsonpath.New("offers").AtSliceIndex(0), knownvalue.ObjectPartial(map[string]knownvalue.Check{
						"jurisdiction": knownvalue.StringExact("EU"), "country": knownvalue.StringExact("DE"),
						"max_nodes": knownvalue.Int64Exact(4), "interconnect": knownvalue.StringExact("nvswitch"), "fabric": knownvalue.StringExact("efa"),
					})),
					statecheck.ExpectKnownValue("data.gpufleet_offers.eu_h100", tfjsonpath.New("catalog_version"), knownvalue.StringRegexp(regexp.MustCompile(`^2026-11-01\+sha256:[0-9a-f]{12}$`))),
				},
			},
			{
				// Provider-level discounts, negotiated prices and enabled
				// clouds shape the catalog every data source and resource sees.
				Config: providerConfig(cat, `
  aws {
    regions = ["eu-central-1", "us-east-1"]
  }
  azure {}
`) + `
data "gpufleet_offers" "od" {
  capacity_types = ["on_demand"]
  gpu_models     = ["H100"]
  limit          = 2
}
`,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.gpufleet_offers.od", tfjsonpath.New("offers"), knownvalue.ListExact([]knownvalue.Check{
						offerCheck("aws/us-east-1/use1-az1/p5.48xlarge/on_demand", 5),
						offerCheck("aws/eu-central-1/euc1-az1/p5.48xlarge/on_demand", 7.5),
					})),
				},
			},
		},
	})
}

func TestAccProvider_catalogAdjustments(t *testing.T) {
	cat := writeCatalog(t, "prices.csv", baseCatalogRows)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: `
provider "gpufleet" {
  catalog {
    file             = "` + cat + `"
    discount_percent = { gcp = 50 }
    price_overrides = [
      { cloud = "azure", instance_type = "Standard_ND96isr_H100_v5", price_usd_hour = 16 },
    ]
  }
}
data "gpufleet_offers" "all" {
  capacity_types = ["on_demand"]
  gpu_models     = ["H100"]
  residency      = ["EU"]
}
`,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("data.gpufleet_offers.all", tfjsonpath.New("offers"), knownvalue.ListExact([]knownvalue.Check{
					offerCheck("azure/westeurope//Standard_ND96isr_H100_v5/on_demand", 2),
					offerCheck("gcp/europe-west4/europe-west4-b/a3-highgpu-8g/on_demand", 6),
					offerCheck("aws/eu-north-1/eun1-az1/p5.48xlarge/on_demand", 7.25),
					offerCheck("aws/eu-central-1/euc1-az1/p5.48xlarge/on_demand", 7.5),
				})),
			},
		}},
	})
}

func offerCheck(id string, perGPU float64) knownvalue.Check {
	return knownvalue.ObjectPartial(map[string]knownvalue.Check{
		"id": knownvalue.StringExact(id), "price_per_gpu_hour": knownvalue.Float64Exact(perGPU),
	})
}

func TestAccProvider_invalidConfiguration(t *testing.T) {
	cat := writeCatalog(t, "prices.csv", baseCatalogRows)
	bad := writeCatalog(t, "bad.csv", []string{"aws,p5.48xlarge,H100,8,80,192,2048,eu-central-1,euc1-az1,sixty,,"})
	offers := `
data "gpufleet_offers" "o" {}
`
	tests := []struct {
		name, config, err string
	}{
		{"endpoint", providerConfig(cat, `
  aws {
    endpoints {
      eks = "localhost:8080"
    }
  }`), `(?s)Invalid endpoint URL.*"localhost:8080" must be an absolute http:// or https://\s+URL`},
		{"region", providerConfig(cat, `
  aws {
    regions = ["eu-centrl-1"]
  }`), `(?s)Unknown region.*"eu-centrl-1" is not a aws region gpufleet knows. Did you mean\s+"eu-central-1"`},
		{"node service account", providerConfig(cat, `
  gcp {
    project              = "acme-ml"
    node_service_account = "gke-nodes"
  }`), `(?s)gcp.node_service_account.*must be a service account email\s+\(NAME@PROJECT.iam.gserviceaccount.com\) or "default"`},
		{"catalog file", providerConfig(bad), `(?s)Cannot read the catalog file.*bad.csv:4:58: column\s+price_usd_hour: "sixty"`},
		{"missing catalog file", providerConfig("/nonexistent/prices.csv"), `(?s)Cannot read the catalog file.*no such file`},
		{"discount cloud", `
provider "gpufleet" {
  catalog {
    discount_percent = { oracle = 10 }
  }
}`, `(?s)discount_percent.*value must be one of`},
		{"discount range", `
provider "gpufleet" {
  catalog {
    discount_percent = { aws = 120 }
  }
}`, `(?s)must be at most 99.99`},
		{"override matches nothing", `
provider "gpufleet" {
  catalog {
    price_overrides = [{ cloud = "aws", instance_type = "p9.huge", price_usd_hour = 1 }]
  }
}`, `(?s)price override 0 matches no offer of the catalog: aws p9.huge`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
				Steps:                    []resource.TestStep{{Config: tt.config + offers, PlanOnly: true, ExpectError: regexp.MustCompile(tt.err)}},
			})
		})
	}
}
