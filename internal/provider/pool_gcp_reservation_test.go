package provider

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// gcpReservationConfig is a GKE placement of 16 H100s with 2 reserved
// a3-highgpu-8g declared in the catalog (reservation res-h100 in
// europe-west4-b), and its pool.
func gcpReservationConfig(w simWorld) string {
	return fmt.Sprintf(`
provider "gpufleet" {
  simulate     = true
  simulate_dir = %q
  catalog {
    file = %q
    reservation {
      id            = "res-h100"
      cloud         = "gcp"
      region        = "europe-west4"
      zone          = "europe-west4-b"
      instance_type = "a3-highgpu-8g"
      count         = 2
    }
  }
}
resource "gpufleet_placement" "p" {
  gpus       = 16
  gpu_models = ["H100"]
  residency  = ["EU"]
  clouds     = ["gcp"]
}
resource "gpufleet_cluster" "c" {
  site = "gcp/europe-west4"
}
resource "gpufleet_pool" "p" {
  placement   = gpufleet_placement.p.id
  allocations = gpufleet_placement.p.allocations
  fallbacks   = gpufleet_placement.p.fallbacks
  clusters    = { "gcp/europe-west4" = gpufleet_cluster.c.id }
  labels      = {}
}
`, w.dir, w.catalog)
}

const gcpReservedKey = "gcp/europe-west4/europe-west4-b/a3-highgpu-8g/reserved/res-h100"

// TestAccPool_gkeReservation: the reserved allocation's GKE node pool
// consumes the reservation in the simulated Compute Engine (2 of its
// slots, the node pool asks for it by name), and destroying it frees the
// reservation; nothing leaks.
func TestAccPool_gkeReservation(t *testing.T) {
	t.Setenv(simTimeScaleEnv, "0.01")
	w := simWorld{dir: simDir(t), catalog: writeCatalog(t, "c.csv", gcpAzureRows)}
	used := func(want int) error {
		r, err := w.engine(t).GetReservation("gcp", "res-h100")
		if err != nil {
			return err
		}
		if r.Used != want {
			return fmt.Errorf("reservation res-h100 has %d slots in use, want %d", r.Used, want)
		}
		return nil
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy: func(s *terraform.State) error {
			if err := w.noLeaks(t)(s); err != nil {
				return err
			}
			return used(0)
		},
		Steps: []resource.TestStep{{
			PreConfig: func() {
				w.putReservation(t, cloudsim.Reservation{Cloud: "gcp", ID: "res-h100", Region: "europe-west4",
					Zone: "europe-west4-b", InstanceType: "a3-highgpu-8g", Kind: "reserved", Count: 2})
			},
			Config: gcpReservationConfig(w),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("gpufleet_pool.p", tfjsonpath.New("pools").AtMapKey(gcpReservedKey), knownvalue.ObjectPartial(map[string]knownvalue.Check{
					"zone": knownvalue.StringExact("europe-west4-b"), "status": knownvalue.StringExact("active"), "failed_over": knownvalue.Bool(false),
				})),
			},
			Check: func(*terraform.State) error {
				if err := used(2); err != nil {
					return err
				}
				for _, o := range w.engine(t).Inventory().Objects {
					if strings.Contains(o.Kind, "NodePool") && strings.Contains(string(o.Value), "SPECIFIC_RESERVATION") && strings.Contains(string(o.Value), "res-h100") {
						return nil
					}
				}
				return fmt.Errorf("no GKE node pool asks for reservation res-h100")
			},
		}},
	})
}

// TestAccPool_gkeReservationExhausted: the catalog says 2 reserved nodes
// but the cloud's reservation has 1 free: the pool is refused with a
// capacity error naming the reservation, the allocation fails over to its
// next offer, and the reservation keeps no slot for the failed pool.
func TestAccPool_gkeReservationExhausted(t *testing.T) {
	t.Setenv(simTimeScaleEnv, "0.01")
	w := simWorld{dir: simDir(t), catalog: writeCatalog(t, "c.csv", gcpAzureRows)}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             w.noLeaks(t),
		Steps: []resource.TestStep{{
			PreConfig: func() {
				w.putReservation(t, cloudsim.Reservation{Cloud: "gcp", ID: "res-h100", Region: "europe-west4",
					Zone: "europe-west4-b", InstanceType: "a3-highgpu-8g", Kind: "reserved", Count: 1})
			},
			Config: gcpReservationConfig(w),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("gpufleet_pool.p", tfjsonpath.New("pools").AtMapKey(gcpReservedKey), knownvalue.ObjectPartial(map[string]knownvalue.Check{
					"status": knownvalue.StringExact("active"), "failed_over": knownvalue.Bool(true),
				})),
			},
			Check: func(*terraform.State) error {
				r, err := w.engine(t).GetReservation("gcp", "res-h100")
				if err != nil {
					return err
				}
				if r.Used != 0 {
					return fmt.Errorf("the exhausted reservation holds %d slots for a failed pool", r.Used)
				}
				for _, p := range w.engine(t).Inventory().Pools {
					if p.Spec.Reservation != nil {
						return fmt.Errorf("a pool on reservation %s is left: %+v", p.Spec.Reservation.ID, p.Spec)
					}
				}
				return nil
			},
		}},
	})
}
