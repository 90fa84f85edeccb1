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

const awsReservationID = "cr-0123456789abcdef0"

// seedAWSReservation puts a targeted capacity reservation of count
// p5.48xlarge in euc1-az1 into the simulated AWS, as
// CreateCapacityReservation would (awsfront's attributes).
func (w simWorld) seedAWSReservation(t *testing.T, count int) {
	t.Helper()
	w.putReservation(t, cloudsim.Reservation{Cloud: "aws", ID: awsReservationID, Region: "eu-central-1", Zone: "euc1-az1",
		InstanceType: "p5.48xlarge", Kind: "reserved", Count: count, Attrs: map[string]string{"platform": "Linux/UNIX", "zone_name": "eu-central-1a",
			"tenancy": "default", "match_criteria": "targeted", "end_date_type": "unlimited", "reservation_type": "default"}})
}

// reservationUsed is the slots of the seeded reservation that node pools hold.
func (w simWorld) reservationUsed(t *testing.T) int {
	t.Helper()
	used, err := w.reservationSlotsUsed(t, "aws", awsReservationID)
	if err != nil {
		t.Fatal(err)
	}
	return used
}

// awsReservationConfig is the pool of w.config (16 H100s in the EU) with
// the reservation (2 nodes) declared in the catalog: the reserved nodes
// are free, so both go there.
func (w simWorld) awsReservationConfig() string {
	provider := fmt.Sprintf(`
provider "gpufleet" {
  simulate     = true
  simulate_dir = %q
`+ourReservation+`
}
`, w.dir, w.catalog, 2)
	return strings.Replace(w.config(16, `{}`), w.provider(), provider, 1)
}

const awsReservedKey = "aws/eu-central-1/euc1-az1/p5.48xlarge/reserved/" + awsReservationID

// TestAccPool_awsReservation: a pool planned on an AWS capacity
// reservation the simulated account holds launches into it (the
// reservation's used count is the pool's nodes), and destroying it frees
// the reservation.
func TestAccPool_awsReservation(t *testing.T) {
	w := newSimWorld(t)
	w.seedAWSReservation(t, 2)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy: func(s *terraform.State) error {
			if used := w.reservationUsed(t); used != 0 {
				return fmt.Errorf("%d reservation slots still held after destroy", used)
			}
			return w.noLeaks(t)(s)
		},
		Steps: []resource.TestStep{{
			Config: w.awsReservationConfig(),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("gpufleet_pool.train", tfjsonpath.New("pools").AtMapKey(awsReservedKey), knownvalue.ObjectPartial(map[string]knownvalue.Check{
					"status": knownvalue.StringExact("active"), "nodes": knownvalue.Int64Exact(2), "zone": knownvalue.StringExact("euc1-az1"),
				})),
			},
			Check: func(*terraform.State) error {
				inv := w.engine(t).Inventory()
				if len(inv.Pools) != 1 || inv.Pools[0].Spec.Reservation == nil || inv.Pools[0].Spec.Reservation.ID != awsReservationID ||
					inv.Pools[0].Spec.CapacityType != "reserved" {
					return fmt.Errorf("simulated pools %+v, want one on reservation %s", inv.Pools, awsReservationID)
				}
				if used := w.reservationUsed(t); used != 2 {
					return fmt.Errorf("reservation %s has %d slots used, want 2", awsReservationID, used)
				}
				return nil
			},
		}},
	})
}

// TestAccPool_awsReservationExhausted: the account's reservation holds
// fewer instances than the catalog declares, so EC2 refuses the node
// group launched into it (ReservationCapacityExceeded): the pool fails
// over to its next offer, and the failed node group is not left behind
// holding slots.
func TestAccPool_awsReservationExhausted(t *testing.T) {
	w := newSimWorld(t)
	w.seedAWSReservation(t, 1)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             w.noLeaks(t),
		Steps: []resource.TestStep{{
			Config: w.awsReservationConfig(),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("gpufleet_pool.train", tfjsonpath.New("pools").AtMapKey(awsReservedKey), knownvalue.ObjectPartial(map[string]knownvalue.Check{
					"status": knownvalue.StringExact("active"), "failed_over": knownvalue.Bool(true),
				})),
			},
			Check: func(*terraform.State) error {
				inv := w.engine(t).Inventory()
				if len(inv.Pools) != 1 || inv.Pools[0].Spec.Reservation != nil {
					return fmt.Errorf("simulated pools %+v, want one fallback pool off the reservation", inv.Pools)
				}
				if used := w.reservationUsed(t); used != 0 {
					return fmt.Errorf("reservation %s has %d slots used by a failed pool", awsReservationID, used)
				}
				return nil
			},
		}},
	})
}
