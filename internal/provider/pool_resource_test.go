package provider

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/simserve"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/fleet"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// awsRows: two EU regions with two zones each; eu-north-1 is cheaper.
var awsRows = []string{
	"aws,p5.48xlarge,H100,8,80,192,2048,eu-central-1,euc1-az1,60,,",
	"aws,p5.48xlarge,H100,8,80,192,2048,eu-central-1,euc1-az2,60,,",
	"aws,p5.48xlarge,H100,8,80,192,2048,eu-north-1,eun1-az1,58,,2",
	"aws,p5.48xlarge,H100,8,80,192,2048,eu-north-1,eun1-az2,58.5,,",
}

// simWorld is a simulated world shared by the provider and the test.
type simWorld struct {
	dir, catalog string
}

func newSimWorld(t *testing.T) simWorld {
	t.Setenv(simTimeScaleEnv, "0.01")
	return simWorld{dir: simDir(t), catalog: writeCatalog(t, "aws.csv", awsRows)}
}

func (w simWorld) engine(t *testing.T) *cloudsim.Engine {
	t.Helper()
	ms := time.Millisecond
	e, err := cloudsim.New(cloudsim.Config{StateFile: filepath.Join(w.dir, "state.json"),
		Durations: cloudsim.Durations{ClusterCreate: ms, ClusterDelete: ms, PoolCreate: ms, PoolUpdate: ms, PoolDelete: ms}})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// noLeaks is a CheckDestroy: the simulated clouds hold nothing.
func (w simWorld) noLeaks(t *testing.T) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if inv := w.engine(t).Inventory().Resources(); !inv.Empty() {
			return fmt.Errorf("leaked in the simulated cloud: %d clusters, %d node pools, %d objects (%+v)",
				len(inv.Clusters), len(inv.Pools), len(inv.Objects), inv.Objects)
		}
		return nil
	}
}

// provider is the provider block of the simulated world.
func (w simWorld) provider() string {
	return fmt.Sprintf(`
provider "gpufleet" {
  simulate     = true
  simulate_dir = %q
  catalog {
    file = %q
  }
}
`, w.dir, w.catalog)
}

func (w simWorld) config(gpus int, labels string) string {
	return w.provider() + fmt.Sprintf(`

resource "gpufleet_placement" "train" {
  gpus          = %d
  gpu_models    = ["H100"]
  gpus_per_node = 8
  residency     = ["EU"]
}
`, gpus) + trainPool(labels)
}

// trainPool is the clusters of both AWS EU sites and gpufleet_pool.train
// on gpufleet_placement.train, its nodes labelled labels.
func trainPool(labels string) string {
	return fmt.Sprintf(`
resource "gpufleet_cluster" "central" {
  site = "aws/eu-central-1"
}

resource "gpufleet_cluster" "north" {
  site = "aws/eu-north-1"
}

resource "gpufleet_pool" "train" {
  placement   = gpufleet_placement.train.id
  allocations = gpufleet_placement.train.allocations
  fallbacks   = gpufleet_placement.train.fallbacks
  clusters = {
    "aws/eu-central-1" = gpufleet_cluster.central.id
    "aws/eu-north-1"   = gpufleet_cluster.north.id
  }
  labels = %s
}
`, labels)
}

const northKey = "aws/eu-north-1/eun1-az1/p5.48xlarge/on_demand"

func TestAccPool_lifecycle(t *testing.T) {
	w := newSimWorld(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             w.noLeaks(t),
		Steps: []resource.TestStep{
			{
				// 16 GPUs: both eu-north-1 az1 nodes (the cheapest).
				Config: w.config(16, `{ team = "ml" }`),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("gpufleet_pool.train", tfjsonpath.New("pools").AtMapKey(northKey), knownvalue.ObjectPartial(map[string]knownvalue.Check{
						"status": knownvalue.StringExact("active"), "nodes": knownvalue.Int64Exact(2), "ready_nodes": knownvalue.Int64Exact(2),
						"cluster": knownvalue.StringExact("gpufleet-aws-eu-north-1"), "failed_over": knownvalue.Bool(false),
					})),
					statecheck.ExpectKnownValue("gpufleet_pool.train", tfjsonpath.New("hourly_cost_usd"), knownvalue.Float64Exact(116)),
					statecheck.ExpectKnownValue("gpufleet_cluster.north", tfjsonpath.New("endpoint"), knownvalue.StringRegexp(regexp.MustCompile(`\.cloudsim\.invalid$`))),
				},
				Check: func(*terraform.State) error {
					inv := w.engine(t).Inventory()
					if len(inv.Clusters) != 2 || len(inv.Pools) != 1 {
						return fmt.Errorf("simulated cloud holds %d clusters and %d pools", len(inv.Clusters), len(inv.Pools))
					}
					p := inv.Pools[0]
					if p.Spec.Labels["team"] != "ml" || len(p.Spec.Taints) != 1 || p.Spec.Taints[0].Key != "gpufleet.dev/unvalidated" {
						return fmt.Errorf("pool labels %v taints %v", p.Spec.Labels, p.Spec.Taints)
					}
					return nil
				},
			},
			{
				Config:           w.config(16, `{ team = "ml" }`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
			{
				// Labels change in place.
				Config: w.config(16, `{ team = "research" }`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("gpufleet_pool.train", plancheck.ResourceActionUpdate),
				}},
				Check: func(*terraform.State) error {
					if l := w.engine(t).Inventory().Pools[0].Spec.Labels["team"]; l != "research" {
						return fmt.Errorf("label %q", l)
					}
					return nil
				},
			},
			{
				// More GPUs: a second allocation in eu-north-1 az2.
				Config: w.config(24, `{ team = "research" }`),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("gpufleet_pool.train", tfjsonpath.New("pools"), knownvalue.MapSizeExact(2)),
					statecheck.ExpectKnownValue("gpufleet_pool.train", tfjsonpath.New("total_nodes"), knownvalue.Int64Exact(3)),
				},
			},
			{
				// Drift: a node pool deleted out of band is created again.
				PreConfig: func() {
					e := w.engine(t)
					if _, err := e.DeleteNodePool("aws", "eu-north-1", "gpufleet-aws-eu-north-1", poolName(northKey)); err != nil {
						t.Fatal(err)
					}
					time.Sleep(5 * time.Millisecond)
					e.Inventory() // finishes the deletion in the persisted state
				},
				Config: w.config(24, `{ team = "research" }`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("gpufleet_pool.train", plancheck.ResourceActionUpdate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("gpufleet_pool.train", tfjsonpath.New("pools"), knownvalue.MapSizeExact(2)),
				},
			},
			{
				ResourceName:            "gpufleet_cluster.north",
				ImportState:             true,
				ImportStateId:           "aws/eu-north-1/gpufleet-aws-eu-north-1",
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"network"},
			},
		},
	})
}

func TestAccPool_failover(t *testing.T) {
	w := newSimWorld(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             w.noLeaks(t),
		Steps: []resource.TestStep{{
			// No p5 capacity left in eun1-az1: the allocation moves to its
			// first fallback, eun1-az2.
			PreConfig: func() {
				if err := w.engine(t).SetCapacity("aws", "eun1-az1", "p5.48xlarge", "on_demand", 0); err != nil {
					t.Fatal(err)
				}
			},
			Config: w.config(16, `{}`),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectUnknownValue("gpufleet_pool.train", tfjsonpath.New("pools")),
			}},
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("gpufleet_pool.train", tfjsonpath.New("pools").AtMapKey(northKey), knownvalue.ObjectPartial(map[string]knownvalue.Check{
					"zone": knownvalue.StringExact("eun1-az2"), "failed_over": knownvalue.Bool(true), "status": knownvalue.StringExact("active"),
				})),
			},
			Check: func(*terraform.State) error {
				if inv := w.engine(t).Inventory(); len(inv.Pools) != 1 || inv.Pools[0].Spec.Zone != "eun1-az2" {
					return fmt.Errorf("the failed pool was left behind: %+v", inv.Pools)
				}
				return nil
			},
		}},
	})
}

func TestAccPool_capacityEverywhere(t *testing.T) {
	w := newSimWorld(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             w.noLeaks(t),
		Steps: []resource.TestStep{{
			PreConfig: func() {
				e := w.engine(t)
				for _, z := range []string{"euc1-az1", "euc1-az2", "eun1-az1", "eun1-az2"} {
					if err := e.SetCapacity("aws", z, "p5.48xlarge", "on_demand", 0); err != nil {
						t.Fatal(err)
					}
				}
			},
			Config:      w.config(16, `{}`),
			ExpectError: regexp.MustCompile(`(?s)Some node pools could not be created.*InsufficientInstanceCapacity`),
		}},
	})
}

func poolName(key string) string { return fleet.PoolName(key) }

// TestAccPool_faults injects cloud failures into the simulated world the
// provider runs against.
func TestAccPool_faults(t *testing.T) {
	transient := &cloud.Error{Kind: cloud.KindTransient, Cloud: "aws", Op: "CreateNodePool", Code: "ServiceUnavailableException", Message: "try again"}
	tests := []struct {
		name   string
		inject func(e *cloudsim.Engine)
		err    string
		zone   string // where the allocation lands
	}{
		{"5xx and throttling are retried", func(e *cloudsim.Engine) {
			if err := e.Inject(cloudsim.Fault{Cloud: "aws", Op: "CreateNodePool", Times: 2, Err: transient}); err != nil {
				t.Fatal(err)
			}
			if err := e.Inject(cloudsim.Fault{Cloud: "aws", Op: "GetCluster", Times: 2,
				Err: &cloud.Error{Kind: cloud.KindThrottled, Cloud: "aws", Op: "GetCluster", Code: "ThrottlingException", Message: "slow down"}}); err != nil {
				t.Fatal(err)
			}
		}, "", "eun1-az1"},
		{"quota exceeded fails over to another region", func(e *cloudsim.Engine) {
			if err := e.SetQuota("aws", "eu-north-1", "p", 8); err != nil {
				t.Fatal(err)
			}
		}, "", "euc1-az1"},
		{"failure midway fails the apply and leaks nothing", func(e *cloudsim.Engine) {
			if err := e.Inject(cloudsim.Fault{Cloud: "aws", Op: "CreateNodePool", Midway: &cloudsim.PendingIssue{Kind: cloud.KindFatal,
				Issue: cloud.Issue{Code: "NodeCreationFailure", Message: "Instances failed to join the kubernetes cluster"}}}); err != nil {
				t.Fatal(err)
			}
		}, `(?s)Some node pools could not be created.*NodeCreationFailure`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newSimWorld(t)
			step := resource.TestStep{PreConfig: func() { tt.inject(w.engine(t)) }, Config: w.config(16, `{}`)}
			if tt.err != "" {
				step.ExpectError = regexp.MustCompile(tt.err)
			} else {
				step.ConfigStateChecks = []statecheck.StateCheck{
					statecheck.ExpectKnownValue("gpufleet_pool.train", tfjsonpath.New("pools").AtMapKey(northKey).AtMapKey("zone"), knownvalue.StringExact(tt.zone)),
				}
			}
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
				CheckDestroy:             w.noLeaks(t),
				Steps:                    []resource.TestStep{step},
			})
		})
	}
}

// TestAccCluster_drift: a cluster deleted out of band is planned for
// re-creation.
func TestAccCluster_drift(t *testing.T) {
	w := newSimWorld(t)
	config := fmt.Sprintf(`
provider "gpufleet" {
  simulate     = true
  simulate_dir = %q
}
resource "gpufleet_cluster" "c" {
  site = "aws/eu-west-1"
}
`, w.dir)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             w.noLeaks(t),
		Steps: []resource.TestStep{
			{Config: config, ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("gpufleet_cluster.c", tfjsonpath.New("id"), knownvalue.StringExact("aws/eu-west-1/gpufleet-aws-eu-west-1")),
				statecheck.ExpectKnownValue("gpufleet_cluster.c", tfjsonpath.New("kubeconfig"), knownvalue.StringRegexp(regexp.MustCompile(`"eks", "get-token", "--cluster-name", "gpufleet-aws-eu-west-1"`))),
			}},
			{
				PreConfig: func() {
					e := w.engine(t)
					if _, err := e.DeleteCluster("aws", "eu-west-1", "gpufleet-aws-eu-west-1"); err != nil {
						t.Fatal(err)
					}
					time.Sleep(5 * time.Millisecond)
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("gpufleet_cluster.c", plancheck.ResourceActionCreate),
				}},
			},
		},
	})
}

// TestAccCluster_cloudNotEnabled: outside simulate, only the configured
// clouds have backends, and that is known at plan time. (Plan only, from an
// empty state: no request leaves the machine.)
func TestAccCluster_cloudNotEnabled(t *testing.T) {
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: `
provider "gpufleet" {
  aws {}
}
resource "gpufleet_cluster" "g" {
  site = "gcp/europe-west4"
}
`,
			PlanOnly:    true,
			ExpectError: regexp.MustCompile(`(?s)Cloud not enabled.*gcp is not enabled in the provider configuration`),
		}},
	})
}

// TestAccPool_multiCloud: one apply creates clusters and pools on AWS, GCP
// and Azure concurrently, keeping the spread; destroy leaves nothing behind.
func TestAccPool_multiCloud(t *testing.T) {
	w := threeCloudWorld(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             w.noLeaks(t),
		Steps: []resource.TestStep{{
			Config: threeCloudConfig(w),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("gpufleet_pool.p", tfjsonpath.New("pools").AtMapKey("gcp/europe-west4/europe-west4-b/a3-highgpu-8g/on_demand"),
					knownvalue.ObjectPartial(map[string]knownvalue.Check{"status": knownvalue.StringExact("active"), "nodes": knownvalue.Int64Exact(1),
						"cluster": knownvalue.StringExact("gpufleet-gcp-europe-west4")})),
				statecheck.ExpectKnownValue("gpufleet_pool.p", tfjsonpath.New("pools").AtMapKey("azure/westeurope//Standard_ND96isr_H100_v5/on_demand"),
					knownvalue.ObjectPartial(map[string]knownvalue.Check{"status": knownvalue.StringExact("active"), "nodes": knownvalue.Int64Exact(1)})),
				statecheck.ExpectKnownValue("gpufleet_pool.p", tfjsonpath.New("pools").AtMapKey(northKey).AtMapKey("status"), knownvalue.StringExact("active")),
				statecheck.ExpectKnownValue("gpufleet_cluster.gcp", tfjsonpath.New("endpoint"), knownvalue.StringRegexp(regexp.MustCompile(`^https://`))),
			},
		}},
	})
}

// singleCloudConfig places on one cloud and site.
func singleCloudConfig(w simWorld, cl, site, labels string) string {
	return w.provider() + fmt.Sprintf(`
resource "gpufleet_placement" "p" {
  gpus       = 16
  gpu_models = ["H100"]
  residency  = ["EU"]
  clouds     = [%q]
}
resource "gpufleet_cluster" "c" {
  site = %q
}
resource "gpufleet_pool" "p" {
  placement   = gpufleet_placement.p.id
  allocations = gpufleet_placement.p.allocations
  fallbacks   = gpufleet_placement.p.fallbacks
  clusters    = { %q = gpufleet_cluster.c.id }
  labels      = %s
}
`, cl, site, site, labels)
}

var gcpAzureRows = []string{
	"gcp,a3-highgpu-8g,H100,8,80,208,1872,europe-west4,europe-west4-b,96,,",
	"gcp,a3-highgpu-8g,H100,8,80,208,1872,europe-west4,europe-west4-c,96.5,,",
	"azure,Standard_ND96isr_H100_v5,H100,8,80,96,1900,westeurope,,110,,",
}

// TestAccPool_perCloud runs the lifecycle on GKE and AKS: create, no-op
// plan, in-place update, drift, cluster import, destroy with a leak check.
func TestAccPool_perCloud(t *testing.T) {
	for _, tt := range []struct{ cloud, site, cluster string }{
		{"gcp", "gcp/europe-west4", "gpufleet-gcp-europe-west4"},
		{"azure", "azure/westeurope", "gpufleet-azure-westeurope"},
	} {
		t.Run(tt.cloud, func(t *testing.T) {
			t.Setenv(simTimeScaleEnv, "0.01")
			w := simWorld{dir: simDir(t), catalog: writeCatalog(t, "c.csv", gcpAzureRows)}
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
				CheckDestroy:             w.noLeaks(t),
				Steps: []resource.TestStep{
					{
						Config: singleCloudConfig(w, tt.cloud, tt.site, `{ team = "ml" }`),
						ConfigStateChecks: []statecheck.StateCheck{
							statecheck.ExpectKnownValue("gpufleet_pool.p", tfjsonpath.New("total_nodes"), knownvalue.Int64Exact(2)),
							statecheck.ExpectKnownValue("gpufleet_cluster.c", tfjsonpath.New("id"), knownvalue.StringExact(tt.site+"/"+tt.cluster)),
						},
					},
					{
						Config:           singleCloudConfig(w, tt.cloud, tt.site, `{ team = "ml" }`),
						ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
					},
					{
						Config: singleCloudConfig(w, tt.cloud, tt.site, `{ team = "research" }`),
						ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
							plancheck.ExpectResourceAction("gpufleet_pool.p", plancheck.ResourceActionUpdate),
						}},
						Check: func(*terraform.State) error {
							if l := w.engine(t).Inventory().Pools[0].Spec.Labels["team"]; l != "research" {
								return fmt.Errorf("label %q", l)
							}
							return nil
						},
					},
					{
						PreConfig: func() {
							e := w.engine(t)
							p := e.Inventory().Pools[0]
							if _, err := e.DeleteNodePool(p.Cloud, p.Spec.Region, p.Spec.Cluster, p.Spec.Name); err != nil {
								t.Fatal(err)
							}
							time.Sleep(5 * time.Millisecond)
						},
						Config: singleCloudConfig(w, tt.cloud, tt.site, `{ team = "research" }`),
						ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
							plancheck.ExpectResourceAction("gpufleet_pool.p", plancheck.ResourceActionUpdate),
						}},
						ConfigStateChecks: []statecheck.StateCheck{
							statecheck.ExpectKnownValue("gpufleet_pool.p", tfjsonpath.New("total_nodes"), knownvalue.Int64Exact(2)),
						},
					},
					{
						ResourceName:            "gpufleet_cluster.c",
						ImportState:             true,
						ImportStateId:           tt.site + "/" + tt.cluster,
						ImportStateVerify:       true,
						ImportStateVerifyIgnore: []string{"network", "kubernetes_version"},
					},
				},
			})
		})
	}
}

// TestAccPool_crossCloudFailover: with no GKE capacity left in either zone,
// the GCP allocation fails over to the AWS site, which has a cluster.
func TestAccPool_crossCloudFailover(t *testing.T) {
	t.Setenv(simTimeScaleEnv, "0.01")
	rows := []string{
		"gcp,a3-highgpu-8g,H100,8,80,208,1872,europe-west4,europe-west4-b,50,,",
		"gcp,a3-highgpu-8g,H100,8,80,208,1872,europe-west4,europe-west4-c,51,,",
		"aws,p5.48xlarge,H100,8,80,192,2048,eu-north-1,eun1-az1,58,,",
	}
	w := simWorld{dir: simDir(t), catalog: writeCatalog(t, "x.csv", rows)}
	config := w.provider() + `
resource "gpufleet_placement" "p" {
  gpus          = 16
  gpus_per_node = 8
  residency     = ["EU"]
}
resource "gpufleet_cluster" "gcp" {
  site = "gcp/europe-west4"
}
resource "gpufleet_cluster" "aws" {
  site = "aws/eu-north-1"
}
resource "gpufleet_pool" "p" {
  placement   = gpufleet_placement.p.id
  allocations = gpufleet_placement.p.allocations
  fallbacks   = gpufleet_placement.p.fallbacks
  clusters = {
    "gcp/europe-west4" = gpufleet_cluster.gcp.id
    "aws/eu-north-1"   = gpufleet_cluster.aws.id
  }
}
`
	key := "gcp/europe-west4/europe-west4-b/a3-highgpu-8g/on_demand"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             w.noLeaks(t),
		Steps: []resource.TestStep{{
			PreConfig: func() {
				e := w.engine(t)
				if err := e.SetCapacity("gcp", "europe-west4-b", "a3-highgpu-8g", "on_demand", 0); err != nil {
					t.Fatal(err)
				}
				if err := e.SetCapacity("gcp", "europe-west4-c", "a3-highgpu-8g", "on_demand", 0); err != nil {
					t.Fatal(err)
				}
			},
			Config: config,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("gpufleet_pool.p", tfjsonpath.New("pools").AtMapKey(key), knownvalue.ObjectPartial(map[string]knownvalue.Check{
					"cloud": knownvalue.StringExact("aws"), "failed_over": knownvalue.Bool(true), "status": knownvalue.StringExact("active"),
				})),
			},
		}},
	})
}

// threeCloudConfig is a 24-GPU placement over all three clouds.
func threeCloudConfig(w simWorld) string {
	return w.provider() + fmt.Sprintf(`
resource "gpufleet_placement" "p" {
  gpus          = 24
  gpus_per_node = 8
  residency     = ["EU"]
  spread        = { min_clouds = 3, max_share = 0.4 }
}
resource "gpufleet_cluster" "aws" {
  site = "aws/eu-north-1"
}
resource "gpufleet_cluster" "gcp" {
  site = "gcp/europe-west4"
}
resource "gpufleet_cluster" "azure" {
  site = "azure/westeurope"
}
resource "gpufleet_pool" "p" {
  placement   = gpufleet_placement.p.id
  allocations = gpufleet_placement.p.allocations
  fallbacks   = gpufleet_placement.p.fallbacks
  clusters = {
    "aws/eu-north-1"   = gpufleet_cluster.aws.id
    "gcp/europe-west4" = gpufleet_cluster.gcp.id
    "azure/westeurope" = gpufleet_cluster.azure.id
  }
}
`)
}

func threeCloudWorld(t *testing.T) simWorld {
	t.Setenv(simTimeScaleEnv, "0.01")
	return simWorld{dir: simDir(t), catalog: writeCatalog(t, "three.csv", append(append([]string{}, awsRows...), gcpAzureRows...))}
}

// TestAccPool_failureOnOneCloud: a node pool failing midway on Azure fails
// the apply, while the AWS and GCP pools stay recorded in the state (the
// post-test destroy removes them, which the leak check proves).
func TestAccPool_failureOnOneCloud(t *testing.T) {
	w := threeCloudWorld(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             w.noLeaks(t),
		Steps: []resource.TestStep{
			{
				PreConfig: func() {
					if err := w.engine(t).Inject(cloudsim.Fault{Cloud: "azure", Op: "CreateNodePool", Midway: &cloudsim.PendingIssue{Kind: cloud.KindFatal,
						Issue: cloud.Issue{Code: "VMExtensionProvisioningError", Message: "the GPU driver extension failed"}}}); err != nil {
						t.Fatal(err)
					}
				},
				Config:      threeCloudConfig(w),
				ExpectError: regexp.MustCompile(`(?s)Some node pools could not be created.*VMExtensionProvisioningError`),
			},
			{
				// The other clouds' pools exist and the state knows them: the
				// next apply replaces the tainted resource and succeeds.
				PreConfig: func() {
					if inv := w.engine(t).Inventory(); len(inv.Pools) != 2 {
						t.Fatalf("%d pools after the failed apply, want the AWS and GCP ones", len(inv.Pools))
					}
				},
				Config: threeCloudConfig(w),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("gpufleet_pool.p", tfjsonpath.New("pools"), knownvalue.MapSizeExact(3)),
				},
			},
		},
	})
}

// TestAccPool_throttlingStorm: every cloud rate-limits its node pool and
// cluster calls at once; retries with backoff get the apply through.
func TestAccPool_throttlingStorm(t *testing.T) {
	w := threeCloudWorld(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             w.noLeaks(t),
		Steps: []resource.TestStep{{
			PreConfig: func() {
				e := w.engine(t)
				for _, cl := range []string{"aws", "gcp", "azure"} {
					for _, op := range []string{"CreateNodePool", "GetNodePool", "GetCluster", "CreateCluster"} {
						if err := e.SetRateLimit(cl, op, 40, 2); err != nil {
							t.Fatal(err)
						}
					}
				}
			},
			Config: threeCloudConfig(w),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("gpufleet_pool.p", tfjsonpath.New("pools"), knownvalue.MapSizeExact(3)),
			},
		}},
	})
}

// TestAccPool_import adopts a node pool created outside Terraform: an
// import block brings it into the state, and the plan reconciles it in
// place instead of creating it again.
func TestAccPool_import(t *testing.T) {
	w := newSimWorld(t)
	clustersOnly := strings.Split(w.config(16, `{ team = "ml" }`), `resource "gpufleet_pool"`)[0]
	poolName := fleet.PoolName(northKey)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             w.noLeaks(t),
		Steps: []resource.TestStep{
			{Config: clustersOnly},
			{
				PreConfig: func() {
					be := &backends{simulate: true, simDir: w.dir, start: simserve.InProcess, catalog: planner.Embedded()}
					b, err := be.get(context.Background(), "aws")
					if err != nil {
						t.Fatal(err)
					}
					if _, err := b.CreateNodePool(context.Background(), cloud.NodePoolSpec{Cluster: "gpufleet-aws-eu-north-1", Region: "eu-north-1",
						Name: poolName, InstanceType: "p5.48xlarge", Zone: "eun1-az1", CapacityType: "on_demand", Nodes: 2}); err != nil {
						t.Fatal(err)
					}
				},
				Config: w.config(16, `{ team = "ml" }`) + fmt.Sprintf(`
import {
  to = gpufleet_pool.train
  id = "aws/eu-north-1/gpufleet-aws-eu-north-1/%s"
}
`, poolName),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("gpufleet_pool.train", plancheck.ResourceActionUpdate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("gpufleet_pool.train", tfjsonpath.New("pools").AtMapKey(northKey).AtMapKey("name"), knownvalue.StringExact(poolName)),
				},
				Check: func(*terraform.State) error {
					inv := w.engine(t).Inventory()
					if len(inv.Pools) != 1 || inv.Pools[0].Spec.Labels["team"] != "ml" {
						return fmt.Errorf("pools after import: %+v", inv.Pools)
					}
					return nil
				},
			},
		},
	})
}

// TestAccPool_gangCompactOnGKE: a gang placement asks GKE for a compact
// placement policy.
func TestAccPool_gangCompactOnGKE(t *testing.T) {
	t.Setenv(simTimeScaleEnv, "0.01")
	w := simWorld{dir: simDir(t), catalog: writeCatalog(t, "c.csv", gcpAzureRows)}
	config := strings.Replace(singleCloudConfig(w, "gcp", "gcp/europe-west4", `{}`), `clouds     = ["gcp"]`, "clouds     = [\"gcp\"]\n  gang       = true", 1)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             w.noLeaks(t),
		Steps: []resource.TestStep{{
			Config: config,
			Check: func(*terraform.State) error {
				for _, o := range w.engine(t).Inventory().Objects {
					if strings.Contains(o.Kind, "NodePool") && strings.Contains(string(o.Value), "COMPACT") {
						return nil
					}
				}
				return fmt.Errorf("no GKE node pool was created with a compact placement policy")
			},
		}},
	})
}

// TestAccPool_updateAfterFailover: changing labels on a pool that failed
// over keeps its place and price (no inconsistent result after apply).
func TestAccPool_updateAfterFailover(t *testing.T) {
	w := newSimWorld(t)
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
				Config: w.config(16, `{ team = "ml" }`),
			},
			{
				Config: w.config(16, `{ team = "research" }`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("gpufleet_pool.train", plancheck.ResourceActionUpdate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("gpufleet_pool.train", tfjsonpath.New("pools").AtMapKey(northKey), knownvalue.ObjectPartial(map[string]knownvalue.Check{
						"zone": knownvalue.StringExact("eun1-az2"), "hourly_usd": knownvalue.Float64Exact(117),
					})),
				},
			},
		},
	})
}
