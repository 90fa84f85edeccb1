package provider

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// putReservation puts r in the simulated world's reservation ledger (the
// one every simulated cloud's reservation APIs and node pools use), as
// if the account had bought it: the way tests and demos give the
// simulated clouds reservations.
func (w simWorld) putReservation(t *testing.T, r cloudsim.Reservation) {
	t.Helper()
	if _, err := w.engine(t).PutReservation(r); err != nil {
		t.Fatalf("putting reservation %s in the simulated %s: %v", r.ID, r.Cloud, err)
	}
}

// reservationSlotsUsed is how many of a reservation's slots the simulated
// cloud's node pools hold.
func (w simWorld) reservationSlotsUsed(t *testing.T, cl, id string) (int, error) {
	t.Helper()
	r, err := w.engine(t).GetReservation(cl, id)
	if err != nil {
		return 0, err
	}
	return r.Used, nil
}

// reservationFirstCloud is the cloud TestAccPool_reservationFirst runs on:
// AWS, whose simulated path carries a pool's reservation to the ledger.
var reservationFirstCloud = struct {
	cloud, id, region, zone, instanceType string
}{"aws", "cr-0123456789abcdef0", "eu-central-1", "euc1-az1", "p5.48xlarge"}

// reservationFirstConfig asks for gpus H100s with our reservation of 2
// p5.48xlarge declared in catalog {}.
func (w simWorld) reservationFirstConfig(gpus int) string {
	r := reservationFirstCloud
	return fmt.Sprintf(`
provider "gpufleet" {
  simulate     = true
  simulate_dir = %q
  catalog {
    file = %q
    reservation {
      id            = %q
      cloud         = %q
      region        = %q
      zone          = %q
      instance_type = %q
      count         = 2
    }
  }
}

resource "gpufleet_placement" "train" {
  gpus           = %d
  gpu_models     = ["H100"]
  gpus_per_node  = 8
  residency      = ["EU"]
  capacity_types = ["reserved", "on_demand"]
}

`, w.dir, w.catalog, r.id, r.cloud, r.region, r.zone, r.instanceType, gpus) + trainPool("{}")
}

// TestAccPool_reservationFirst is issue 16's outcome: "use our reserved
// H100s first, then the cheapest capacity". Our 2 reserved p5.48xlarge
// (declared in catalog {} and present in the simulated cloud) and a
// request for 32 GPUs: the plan takes the reservation (free) and the
// cheapest on-demand nodes for the rest (eu-north-1 az1, at most 2);
// after apply the reservation's used count is its 2 nodes, the rest is
// on-demand, and destroy frees it.
func TestAccPool_reservationFirst(t *testing.T) {
	w := newSimWorld(t)
	r := reservationFirstCloud
	w.putReservation(t, cloudsim.Reservation{Cloud: r.cloud, ID: r.id, Region: r.region, Zone: r.zone, InstanceType: r.instanceType,
		Kind: "reserved", Count: 2})
	reservedKey := r.cloud + "/" + r.region + "/" + r.zone + "/" + r.instanceType + "/reserved/" + r.id
	used := func(want int) resource.TestCheckFunc {
		return func(*terraform.State) error {
			n, err := w.reservationSlotsUsed(t, r.cloud, r.id)
			if err != nil || n != want {
				return fmt.Errorf("reservation %s: %d slots used (%v), want %d", r.id, n, err, want)
			}
			return nil
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy: func(s *terraform.State) error {
			if err := w.noLeaks(t)(s); err != nil {
				return err
			}
			return used(0)(s) // destroy frees it
		},
		Steps: []resource.TestStep{{
			Config: w.reservationFirstConfig(32),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectKnownValue("gpufleet_placement.train", tfjsonpath.New("allocations").AtSliceIndex(0), knownvalue.ObjectPartial(map[string]knownvalue.Check{
					"key": knownvalue.StringExact(reservedKey), "nodes": knownvalue.Int64Exact(2), "hourly_usd": knownvalue.Float64Exact(0),
				})),
				plancheck.ExpectKnownValue("gpufleet_placement.train", tfjsonpath.New("allocations").AtSliceIndex(1), knownvalue.ObjectPartial(map[string]knownvalue.Check{
					"key": knownvalue.StringExact(northKey), "nodes": knownvalue.Int64Exact(2), "capacity_type": knownvalue.StringExact("on_demand"),
				})),
			}},
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("gpufleet_pool.train", tfjsonpath.New("pools").AtMapKey(reservedKey), knownvalue.ObjectPartial(map[string]knownvalue.Check{
					"status": knownvalue.StringExact("active"), "nodes": knownvalue.Int64Exact(2), "capacity_type": knownvalue.StringExact("reserved"),
					"reservation_id": knownvalue.StringExact(r.id), "failed_over": knownvalue.Bool(false),
				})),
				statecheck.ExpectKnownValue("gpufleet_pool.train", tfjsonpath.New("pools").AtMapKey(northKey), knownvalue.ObjectPartial(map[string]knownvalue.Check{
					"nodes": knownvalue.Int64Exact(2), "capacity_type": knownvalue.StringExact("on_demand"), "reservation_id": knownvalue.Null(),
				})),
				statecheck.ExpectKnownValue("gpufleet_pool.train", tfjsonpath.New("hourly_cost_usd"), knownvalue.Float64Exact(116)),
			},
			Check: used(2),
		}},
	})
}

// TestAccPool_capacityBlockNeedsPermission: a placement on a capacity
// block offering not bought yet (upfront price > 0) is a plan-time error
// on the pool's allocation saying what buying it would cost and how to
// allow it; nothing is created.
func TestAccPool_capacityBlockNeedsPermission(t *testing.T) {
	w := newSimWorld(t)
	w.catalog = writeCatalogHeader(t, "blocks.csv", catalogHeader+",capacity_type,reservation_id,start_time,duration_hours,upfront_price,max_run_hours", []string{
		"aws,p5.48xlarge,H100,8,80,192,2048,eu-central-1,euc1-az1,60,,,,,,,,",
		"aws,p5.48xlarge,H100,8,80,192,2048,eu-central-1,euc1-az1,,,2,capacity_block,cb-0abc,2099-12-08T11:30:00Z,48,2304,",
	})
	config := w.provider() + `
resource "gpufleet_placement" "run" {
  gpus           = 16
  capacity_types = ["capacity_block"]
  duration_hours = 48
}

resource "gpufleet_cluster" "central" {
  site = "aws/eu-central-1"
}

resource "gpufleet_pool" "run" {
  placement   = gpufleet_placement.run.id
  allocations = gpufleet_placement.run.allocations
  clusters    = { "aws/eu-central-1" = gpufleet_cluster.central.id }
}
`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             w.noLeaks(t),
		Steps: []resource.TestStep{{
			Config:      config,
			ExpectError: regexp.MustCompile(`(?s)Capacity block would be bought.*capacity block offering cb-0abc.*applying buys it for\s+\$2304\.00\s+upfront.*purchase_capacity_blocks\s+=\s+true`),
		}},
	})
}
