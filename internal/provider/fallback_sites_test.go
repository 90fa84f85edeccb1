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
)

// siteRows: the cheapest p5 zone of eu-north-1 holds two nodes; the next
// cheapest fallbacks are p5 in the region's other zone and in eu-central-1,
// and dearest p5en in the allocation's own zone.
var siteRows = []string{
	"aws,p5.48xlarge,H100,8,80,192,2048,eu-north-1,eun1-az1,58,,2",
	"aws,p5.48xlarge,H100,8,80,192,2048,eu-north-1,eun1-az2,58.5,,",
	"aws,p5.48xlarge,H100,8,80,192,2048,eu-central-1,euc1-az1,60,,",
	"aws,p5.48xlarge,H100,8,80,192,2048,eu-central-1,euc1-az2,60,,",
	"aws,p5en.48xlarge,H200,8,141,192,2048,eu-north-1,eun1-az1,70,,",
}

// siteFleetConfig is the documented shape: the network built from the
// placement's sites and a cluster in it per site (one site here, named,
// since the test harness's state reader refuses for_each), and the pools.
func (w simWorld) siteFleetConfig(placementExtra string) string {
	return w.provider() + fmt.Sprintf(`
resource "gpufleet_placement" "train" {
  gpus          = 16
  gpu_models    = ["H100", "H200"]
  gpus_per_node = 8
  residency     = ["EU"]
%s
}

resource "gpufleet_network" "mesh" {
  name  = "fleet"
  sites = gpufleet_placement.train.sites
}

resource "gpufleet_cluster" "north" {
  site    = "aws/eu-north-1"
  network = gpufleet_network.mesh.networks["aws/eu-north-1"]
}

resource "gpufleet_pool" "train" {
  placement   = gpufleet_placement.train.id
  allocations = gpufleet_placement.train.allocations
  fallbacks   = gpufleet_placement.train.fallbacks
  clusters    = { "aws/eu-north-1" = gpufleet_cluster.north.id }
}
`, placementExtra)
}

// TestAccPlacement_fallbacksInSites: with fallbacks_in_sites the plan
// offers an allocation only the fallbacks its sites can host (here p5en in
// its own zone), and the summary names the cheaper ones left out: the
// region's other zone, where the network built from the sites has no
// subnet, and eu-central-1, which has no cluster. With the allocation's
// capacity gone the apply fails over to p5en; without the option its three
// fallbacks are all unusable and the allocation would fail. Dropping the
// option plans again without replacing the pools.
func TestAccPlacement_fallbacksInSites(t *testing.T) {
	t.Setenv(simTimeScaleEnv, "0.01")
	w := simWorld{dir: simDir(t), catalog: writeCatalog(t, "sites.csv", siteRows)}
	const p5en = "aws/eu-north-1/eun1-az1/p5en.48xlarge/on_demand"
	fallbacks := tfjsonpath.New("fallbacks").AtMapKey(northKey)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             w.noLeaks(t),
		Steps: []resource.TestStep{
			{
				PreConfig: func() {
					if err := w.engine(t).SetCapacity("aws", "eun1-az1", "p5.48xlarge", "on_demand", 0); err != nil {
						t.Fatal(err)
					}
				},
				Config: w.siteFleetConfig("  fallbacks_in_sites = true"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue("gpufleet_placement.train", fallbacks, knownvalue.ListExact([]knownvalue.Check{
						knownvalue.ObjectPartial(map[string]knownvalue.Check{"key": knownvalue.StringExact(p5en), "nodes": knownvalue.Int64Exact(2)}),
					})),
					plancheck.ExpectKnownValue("gpufleet_placement.train", tfjsonpath.New("summary"), knownvalue.StringRegexp(regexp.MustCompile(
						`(?s)fallbacks of `+regexp.QuoteMeta(northKey)+` left out \(fallbacks_in_sites\):\n`+
							`    aws/eu-north-1/eun1-az2/p5\.48xlarge/on_demand: zone eun1-az2 is not a zone of site aws/eu-north-1 \(eun1-az1\), so its network has no subnet there\n`+
							`    aws/eu-central-1/euc1-az1/p5\.48xlarge/on_demand: site aws/eu-central-1 has no allocation, so no cluster\n`+
							`    aws/eu-central-1/euc1-az2/p5\.48xlarge/on_demand: site aws/eu-central-1 has no allocation, so no cluster$`))),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("gpufleet_pool.train", tfjsonpath.New("pools").AtMapKey(northKey), knownvalue.ObjectPartial(map[string]knownvalue.Check{
						"offer": knownvalue.StringExact(p5en), "failed_over": knownvalue.Bool(true), "status": knownvalue.StringExact("active"),
					})),
				},
				Check: func(*terraform.State) error {
					if inv := w.engine(t).Inventory(); len(inv.Pools) != 1 || inv.Pools[0].Spec.InstanceType != "p5en.48xlarge" {
						return fmt.Errorf("pools in the simulated cloud: %+v", inv.Pools)
					}
					return nil
				},
			},
			{
				// Without the option: the cheapest fallbacks anywhere, which
				// the sites cannot host; the pools stay (no replacement).
				Config: w.siteFleetConfig(""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("gpufleet_placement.train", plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction("gpufleet_pool.train", plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue("gpufleet_placement.train", fallbacks, knownvalue.ListExact([]knownvalue.Check{
						knownvalue.ObjectPartial(map[string]knownvalue.Check{"key": knownvalue.StringExact("aws/eu-north-1/eun1-az2/p5.48xlarge/on_demand")}),
						knownvalue.ObjectPartial(map[string]knownvalue.Check{"key": knownvalue.StringExact("aws/eu-central-1/euc1-az1/p5.48xlarge/on_demand")}),
						knownvalue.ObjectPartial(map[string]knownvalue.Check{"key": knownvalue.StringExact("aws/eu-central-1/euc1-az2/p5.48xlarge/on_demand")}),
					})),
					// No "fallbacks of ... left out" line in the summary.
					plancheck.ExpectKnownValue("gpufleet_placement.train", tfjsonpath.New("summary"), knownvalue.StringRegexp(regexp.MustCompile(`^[^\n]*(\n  [^f][^\n]*)*$`))),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("gpufleet_pool.train", tfjsonpath.New("pools").AtMapKey(northKey), knownvalue.ObjectPartial(map[string]knownvalue.Check{
						"offer": knownvalue.StringExact(p5en), "status": knownvalue.StringExact("active"),
					})),
				},
			},
		},
	})
}
