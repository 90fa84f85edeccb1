package provider

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// TestAccCluster_destroyDeletesUntrackedPools: a node pool that no state
// records (a pool apply killed with kill -9 after the cloud accepted the
// create, before Terraform wrote the state: here created directly in the
// engine under the deterministic name of a second allocation) is found by
// the cluster's destroy and deleted before the cluster, so destroy
// converges and leaves nothing.
func TestAccCluster_destroyDeletesUntrackedPools(t *testing.T) {
	w := newSimWorld(t)
	const az2Key = "aws/eu-north-1/eun1-az2/p5.48xlarge/on_demand"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             w.noLeaks(t),
		Steps: []resource.TestStep{
			{
				Config: w.config(16, `{}`),
				Check: func(*terraform.State) error {
					_, err := w.engine(t).CreateNodePool("aws", cloud.NodePoolSpec{Cluster: "gpufleet-aws-eu-north-1", Region: "eu-north-1",
						Name: poolName(az2Key), InstanceType: "p5.48xlarge", Zone: "eun1-az2", CapacityType: "on_demand", Nodes: 1},
						cloudsim.PoolOptions{Family: "p", GPUsPerNode: 8})
					return err
				},
			},
		},
	})
}

// TestAccCluster_generateConfig: `terraform plan -generate-config-out`
// with an import block for a cluster that exists writes a configuration
// that is valid (the plan that generates it fails otherwise) and whose plan
// is the import alone: no change, no replacement. The same ID imports with
// the hand-written configuration too, planning nothing.
func TestAccCluster_generateConfig(t *testing.T) {
	w := newSimWorld(t)
	cluster := w.provider() + `
resource "gpufleet_cluster" "north" {
  site = "aws/eu-north-1"
}
`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_5_0)},
		CheckDestroy:             w.noLeaks(t),
		Steps: []resource.TestStep{
			{Config: cluster},
			{
				// The provider block alone: the resource comes from the generated configuration.
				Config:          w.provider(),
				ResourceName:    "gpufleet_cluster.north",
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithID,
				ImportStateId:   "aws/eu-north-1/gpufleet-aws-eu-north-1",
				GenerateConfig:  true,
				ImportPlanChecks: resource.ImportPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("gpufleet_cluster.generated", plancheck.ResourceActionNoop),
				}},
			},
			{
				Config:          cluster,
				ResourceName:    "gpufleet_cluster.north",
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithID,
				ImportStateId:   "aws/eu-north-1/gpufleet-aws-eu-north-1",
			},
		},
	})
}
