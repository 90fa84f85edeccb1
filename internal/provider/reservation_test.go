package provider

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// ourReservation declares 16 reserved H100s (2 x p5.48xlarge) in Frankfurt.
const ourReservation = `
  catalog {
    file = %q
    reservation {
      id            = "cr-0123456789abcdef0"
      cloud         = "aws"
      region        = "eu-central-1"
      zone          = "euc1-az1"
      instance_type = "p5.48xlarge"
      count         = %d
    }
  }
`

func reservationConfig(catalog string, count int, request string) string {
	return `
provider "gpufleet" {
  simulate = true
` + fmt.Sprintf(ourReservation, catalog, count) + `
}
` + request
}

// TestAccPlacement_reservedFirst is the guide's example: use our 16
// reserved H100s first, then the cheapest EU capacity, at most 60% per
// cloud. AWS may hold 28 of 48 GPUs, so 24: the two reserved nodes (free)
// and the cheapest AWS node in the EU (eu-north-1, 58); GCP the other 24.
func TestAccPlacement_reservedFirst(t *testing.T) {
	cat := writeCatalog(t, "prices.csv", baseCatalogRows)
	const request = `
resource "gpufleet_placement" "train" {
  gpus          = 48
  gpu_models    = ["H100"]
  gpus_per_node = 8
  residency     = ["EU"]
  spread = {
    min_clouds = 2
    max_share  = 0.6
  }
}

data "gpufleet_offers" "reserved" {
  capacity_types = ["reserved"]
}
`
	res := "aws/eu-central-1/euc1-az1/p5.48xlarge/reserved/cr-0123456789abcdef0"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: reservationConfig(cat, 2, request),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("gpufleet_placement.train", tfjsonpath.New("allocations"), knownvalue.ListExact([]knownvalue.Check{
					knownvalue.ObjectPartial(map[string]knownvalue.Check{
						"key": knownvalue.StringExact(res), "nodes": knownvalue.Int64Exact(2), "capacity_type": knownvalue.StringExact("reserved"),
						"reservation_id": knownvalue.StringExact("cr-0123456789abcdef0"), "reserved_gpus": knownvalue.Int64Exact(16),
						"hourly_usd": knownvalue.Float64Exact(0), "block_usd": knownvalue.Float64Exact(0), "start_time": knownvalue.StringExact(""),
					}),
					allocationCheck("aws/eu-north-1/eun1-az1/p5.48xlarge/on_demand", 1),
					allocationCheck("gcp/europe-west4/europe-west4-b/a3-highgpu-8g/on_demand", 3),
				})),
				statecheck.ExpectKnownValue("gpufleet_placement.train", tfjsonpath.New("reserved_gpus"), knownvalue.Int64Exact(16)),
				statecheck.ExpectKnownValue("gpufleet_placement.train", tfjsonpath.New("paid_gpus"), knownvalue.Int64Exact(32)),
				statecheck.ExpectKnownValue("gpufleet_placement.train", tfjsonpath.New("hourly_cost_usd"), knownvalue.Float64Exact(346)),
				statecheck.ExpectKnownValue("gpufleet_placement.train", tfjsonpath.New("block_cost_usd"), knownvalue.Float64Exact(0)),
				statecheck.ExpectKnownValue("gpufleet_placement.train", tfjsonpath.New("summary"),
					knownvalue.StringRegexp(regexp.MustCompile(`reservation cr-0123456789abcdef0, already paid for\)\n(.|\n)*16 of 48 GPUs on reserved capacity`))),
				statecheck.ExpectKnownValue("data.gpufleet_offers.reserved", tfjsonpath.New("offers"), knownvalue.ListExact([]knownvalue.Check{
					knownvalue.ObjectPartial(map[string]knownvalue.Check{
						"id": knownvalue.StringExact(res), "capacity_type": knownvalue.StringExact("reserved"),
						"max_nodes": knownvalue.Int64Exact(2), "price_usd_hour": knownvalue.Float64Exact(0),
					}),
				})),
			},
		}},
	})
}

// TestAccPlacement_capacityBlockWindow plans on a catalog file with a
// capacity block: inside the window the block is used whole and the
// placement says when it starts and what it costs; with start_after past
// its start it is not.
func TestAccPlacement_capacityBlockWindow(t *testing.T) {
	cat := writeCatalogHeader(t, "blocks.csv", catalogHeader+",capacity_type,reservation_id,start_time,duration_hours,upfront_price,max_run_hours", []string{
		"aws,p5.48xlarge,H100,8,80,192,2048,eu-central-1,euc1-az1,60,,,,,,,,",
		"aws,p5.48xlarge,H100,8,80,192,2048,eu-central-1,euc1-az1,,,2,capacity_block,cb-0abc,2026-12-08T09:00:00Z,48,2304,",
	})
	placement := func(startAfter string) string {
		return providerConfig(cat) + `
resource "gpufleet_placement" "run" {
  gpus           = 16
  capacity_types = ["on_demand", "capacity_block"]
  start_after    = "` + startAfter + `"
  duration_hours = 48
}
`
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: placement("2026-12-08T00:00:00Z"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("gpufleet_placement.run", tfjsonpath.New("allocations"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.ObjectPartial(map[string]knownvalue.Check{
							"key": knownvalue.StringExact("aws/eu-central-1/euc1-az1/p5.48xlarge/capacity_block/cb-0abc"), "nodes": knownvalue.Int64Exact(2),
							"block_usd": knownvalue.Float64Exact(2304), "start_time": knownvalue.StringExact("2026-12-08T09:00:00Z"),
							"hourly_usd": knownvalue.Float64Exact(48),
						}),
					})),
					statecheck.ExpectKnownValue("gpufleet_placement.run", tfjsonpath.New("block_cost_usd"), knownvalue.Float64Exact(2304)),
					statecheck.ExpectKnownValue("gpufleet_placement.run", tfjsonpath.New("start_time"), knownvalue.StringExact("2026-12-08T09:00:00Z")),
					statecheck.ExpectKnownValue("gpufleet_placement.run", tfjsonpath.New("reserved_gpus"), knownvalue.Int64Exact(0)),
				},
			},
			{
				Config: placement("2026-12-09T00:00:00Z"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("gpufleet_placement.run", tfjsonpath.New("allocations"), knownvalue.ListExact([]knownvalue.Check{
						allocationCheck("aws/eu-central-1/euc1-az1/p5.48xlarge/on_demand", 2),
					})),
					statecheck.ExpectKnownValue("gpufleet_placement.run", tfjsonpath.New("rejected").AtMapKey("block_window"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue("gpufleet_placement.run", tfjsonpath.New("start_time"), knownvalue.StringExact("")),
				},
			},
		},
	})
}

func TestAccProvider_reservationValidation(t *testing.T) {
	cat := writeCatalog(t, "prices.csv", baseCatalogRows)
	bad := `
provider "gpufleet" {
  simulate = true
  catalog {
    file = "` + cat + `"
    reservation {
      id            = "cr-1"
      cloud         = "aws"
      region        = "eu-central-1"
      instance_type = "p5.48xlarg"
      count         = 2
    }
  }
}

data "gpufleet_offers" "all" {}
`
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      bad,
			ExpectError: regexp.MustCompile(`(?s)Invalid reservation.*aws instance type "p5.48xlarg" has no offer in the\s+catalog.*did you mean\s+"p5.48xlarge"`),
		}},
	})
}

// writeCatalogHeader is writeCatalog with a header of its own.
func writeCatalogHeader(t *testing.T, name, header string, rows []string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	data := "# date: 2026-11-01\n" + header + "\n" + strings.Join(rows, "\n") + "\n"
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
