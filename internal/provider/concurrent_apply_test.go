package provider

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
)

// tenantConfig is a fleet of its own (placement, two clusters named after
// the tenant, a pool) on the simulated world w, GPU validation included:
// both provider instances serve the world's Kubernetes APIs at once.
func (w simWorld) tenantConfig(tenant string) string {
	return w.provider() + fmt.Sprintf(`
resource "gpufleet_placement" "train" {
  gpus          = 8
  gpu_models    = ["H100"]
  gpus_per_node = 8
  residency     = ["EU"]
}

resource "gpufleet_cluster" "central" {
  site = "aws/eu-central-1"
  name = "%[1]s-central"
}

resource "gpufleet_cluster" "north" {
  site = "aws/eu-north-1"
  name = "%[1]s-north"
}

resource "gpufleet_pool" "train" {
  placement   = gpufleet_placement.train.id
  allocations = gpufleet_placement.train.allocations
  fallbacks   = gpufleet_placement.train.fallbacks
  clusters = {
    "aws/eu-central-1" = gpufleet_cluster.central.id
    "aws/eu-north-1"   = gpufleet_cluster.north.id
  }
}
`, tenant)
}

// stateInWorld checks that every cluster and node pool a state records
// exists in the simulated world.
func (w simWorld) stateInWorld(t *testing.T) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		e := w.engine(t)
		n := 0
		for _, r := range s.RootModule().Resources {
			a := r.Primary.Attributes
			switch r.Type {
			case "gpufleet_cluster":
				if _, ok := e.LookupCluster("aws", a["region"], a["name"]); !ok {
					return fmt.Errorf("cluster %s/%s is in the state, not in the world", a["region"], a["name"])
				}
				n++
			case "gpufleet_pool":
				for k, name := range a {
					key, ok := strings.CutSuffix(strings.TrimPrefix(k, "pools."), ".name")
					if !strings.HasPrefix(k, "pools.") || !ok {
						continue
					}
					region := strings.Split(key, "/")[1]
					if _, ok := e.LookupPool("aws", region, a["pools."+key+".cluster"], name); !ok {
						return fmt.Errorf("node pool %s of cluster %s is in the state, not in the world", name, a["pools."+key+".cluster"])
					}
					n++
				}
			}
		}
		if n != 3 {
			return fmt.Errorf("the state records %d clusters and pools, want 3", n)
		}
		return nil
	}
}

// noTenantLeft is a CheckDestroy: the world holds no cluster of tenant.
func (w simWorld) noTenantLeft(t *testing.T, tenant string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		for _, c := range w.engine(t).Inventory().Clusters {
			if strings.HasPrefix(c.Spec.Name, tenant+"-") {
				return fmt.Errorf("cluster %s left behind", c.Spec.Name)
			}
		}
		return nil
	}
}

// barrier lets each of n tests go on once all have reached it (or fails
// it after a minute, when another test stopped before).
type barrier struct {
	mu      sync.Mutex
	n       int
	reached chan struct{}
}

func newBarrier(n int) *barrier { return &barrier{n: n, reached: make(chan struct{})} }

func (b *barrier) wait(t *testing.T) {
	b.mu.Lock()
	if b.n--; b.n == 0 {
		close(b.reached)
	}
	b.mu.Unlock()
	select {
	case <-b.reached:
	case <-time.After(time.Minute):
		t.Fatal("the other apply did not get this far")
	}
}

// TestAccPool_concurrentApplies: two applies from two working directories
// at the same time on one simulate_dir (two provider instances, each with
// its own engine on the world's state file) lose nothing of each other's:
// once both are done, every cluster and pool of each state is in the world
// and a refresh of each plans nothing; each destroy leaves nothing of its
// own and together nothing at all.
func TestAccPool_concurrentApplies(t *testing.T) {
	w := newSimWorld(t)
	start, applied := newBarrier(2), newBarrier(2)
	t.Run("tenants", func(t *testing.T) {
		for _, tenant := range []string{"alpha", "beta"} {
			t.Run(tenant, func(t *testing.T) {
				t.Parallel()
				resource.Test(t, resource.TestCase{
					ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
					CheckDestroy:             w.noTenantLeft(t, tenant),
					Steps: []resource.TestStep{
						{
							PreConfig: func() { start.wait(t) },
							Config:    w.tenantConfig(tenant),
							Check:     w.stateInWorld(t),
						},
						{
							// After both applies: the state still matches the world.
							PreConfig:        func() { applied.wait(t) },
							Config:           w.tenantConfig(tenant),
							ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
							Check:            w.stateInWorld(t),
						},
					},
				})
			})
		}
	})
	if err := w.noLeaks(t)(nil); err != nil {
		t.Fatal(err)
	}
}
