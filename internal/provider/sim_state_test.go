package provider

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
)

// corruptStateConfig: a network, a cluster and the pools of a placement on
// one AWS site. With literal, the pools name the cluster by its ID as
// written rather than by reference, so that nothing depends on anything
// and a refresh reads every resource.
func (w simWorld) corruptStateConfig(literal bool) string {
	cluster := "gpufleet_cluster.north.id"
	if literal {
		cluster = `"aws/eu-north-1/gpufleet-aws-eu-north-1"`
	}
	return w.provider() + fmt.Sprintf(`
resource "gpufleet_network" "mesh" {
  name  = "fleet"
  sites = { "aws/eu-north-1" = { cloud = "aws", region = "eu-north-1", zones = ["eun1-az1"] } }
}

resource "gpufleet_cluster" "north" {
  site = "aws/eu-north-1"
}

resource "gpufleet_placement" "train" {
  gpus          = 16
  gpu_models    = ["H100"]
  gpus_per_node = 8
  residency     = ["aws/eu-north-1"]
}

resource "gpufleet_pool" "train" {
  placement   = gpufleet_placement.train.id
  allocations = gpufleet_placement.train.allocations
  fallbacks   = gpufleet_placement.train.fallbacks
  clusters    = { "aws/eu-north-1" = %s }
}
`, cluster)
}

// TestAccSimulator_corruptState: with the simulated world's state file
// corrupted, every resource that opens the world says so under the heading
// "Simulator state unreadable", naming the file and the fix (the network
// used to say "No network backend for the site's cloud"); with the file
// restored the plan is empty again and destroy leaves nothing.
func TestAccSimulator_corruptState(t *testing.T) {
	w := newSimWorld(t)
	file := filepath.Join(w.dir, "state.json")
	var saved []byte
	corrupt := func() {
		if saved == nil {
			var err error
			if saved, err = os.ReadFile(file); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(file, []byte("{ not json"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	unreadable := func(address string) *regexp.Regexp {
		return regexp.MustCompile(`(?s)Error: Simulator state unreadable\s+with ` + regexp.QuoteMeta(address) + `,.*?` +
			`simulator\s+state\s+unreadable:\s+` + regexp.QuoteMeta(file) + `:\s+invalid\s+character.*?;\s+restore\s+it\s+or\s+remove\s+the\s+directory`)
	}
	steps := []resource.TestStep{{Config: w.corruptStateConfig(false)}}
	for _, address := range []string{"gpufleet_network.mesh", "gpufleet_cluster.north", "gpufleet_pool.train"} {
		steps = append(steps, resource.TestStep{PreConfig: corrupt, Config: w.corruptStateConfig(true), ExpectError: unreadable(address)})
	}
	steps = append(steps, resource.TestStep{
		PreConfig: func() {
			if err := os.WriteFile(file, saved, 0o644); err != nil {
				t.Fatal(err)
			}
		},
		Config:           w.corruptStateConfig(true),
		ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
	})
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             w.noLeaks(t),
		Steps:                    steps,
	})
}
