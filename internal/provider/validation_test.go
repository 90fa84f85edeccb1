package provider

import (
	"context"
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/bootstrap"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/kubefront"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/fleet"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/gpuhealth"
)

// kube is a client of a simulated cluster's Kubernetes API, for checks:
// it serves the world's clusters from the state the provider left (no
// kubelet, so reading changes nothing).
func (w simWorld) kube(t *testing.T, cl, region, cluster string) kubernetes.Interface {
	t.Helper()
	k := kubefront.New(w.engine(t), kubefront.Options{ReconcileInterval: -1})
	if _, err := k.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Close)
	cfg, err := k.RESTConfig(cl, region, cluster)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ContentType = "application/json" // the simulated API server speaks JSON only
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// validatedNodes checks that a cluster runs the validator DaemonSet and
// that every node of the cluster's gpufleet pools passed and is no longer
// tainted.
func (w simWorld) validatedNodes(t *testing.T, cl, region, cluster string, want int) resource.TestCheckFunc {
	return func(*terraform.State) error {
		c := w.kube(t, cl, region, cluster)
		ctx := context.Background()
		if _, err := c.AppsV1().DaemonSets(bootstrap.DefaultNamespace).Get(ctx, "gpufleet-nodecheck", metav1.GetOptions{}); err != nil {
			return fmt.Errorf("%s/%s: validator DaemonSet: %w", cl, region, err)
		}
		nodes, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: gpuhealth.PoolLabel})
		if err != nil {
			return err
		}
		if len(nodes.Items) != want {
			return fmt.Errorf("%s/%s: %d GPU nodes, want %d", cl, region, len(nodes.Items), want)
		}
		for _, n := range nodes.Items {
			if v := n.Labels[gpuhealth.HealthLabel]; v != gpuhealth.Pass {
				return fmt.Errorf("node %s: %s=%q (%s)", n.Name, gpuhealth.HealthLabel, v, n.Annotations[gpuhealth.ReasonsAnnotation])
			}
			for _, taint := range n.Spec.Taints {
				if taint.Key == gpuhealth.TaintKey {
					return fmt.Errorf("node %s passed but is still tainted", n.Name)
				}
			}
		}
		return nil
	}
}

// gkeDriverMounted checks that the GKE validator mounts the driver GKE
// installs on the host (GKE has no NVIDIA container runtime), and that the
// AWS one does not.
func (w simWorld) gkeDriverMounted(t *testing.T) resource.TestCheckFunc {
	return func(*terraform.State) error {
		for _, c := range []struct {
			cl, region, cluster string
			want                bool
		}{{"gcp", "europe-west4", "gpufleet-gcp-europe-west4", true}, {"aws", "eu-north-1", "gpufleet-aws-eu-north-1", false}} {
			ds, err := w.kube(t, c.cl, c.region, c.cluster).AppsV1().DaemonSets(bootstrap.DefaultNamespace).Get(context.Background(), "gpufleet-nodecheck", metav1.GetOptions{})
			if err != nil {
				return err
			}
			mounted := false
			for _, v := range ds.Spec.Template.Spec.Volumes {
				if v.HostPath != nil && v.HostPath.Path == bootstrap.GKEDriverHostPath {
					mounted = true
				}
			}
			if mounted != c.want {
				return fmt.Errorf("%s: driver host path mounted %v, want %v", c.cl, mounted, c.want)
			}
		}
		return nil
	}
}

// TestAccValidation_threeClouds: every cluster gets the validator, the
// pool completes only once every GPU node on AWS, GCP and Azure has passed
// the real gpufleet-nodecheck (on simulated GPUs) and lost its taint; a
// DaemonSet deleted out of band is drift that the next apply repairs.
func TestAccValidation_threeClouds(t *testing.T) {
	w := threeCloudWorld(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             w.noLeaks(t),
		Steps: []resource.TestStep{
			{
				Config: threeCloudConfig(w),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("gpufleet_cluster.aws", tfjsonpath.New("validator"), knownvalue.StringExact("installed")),
					statecheck.ExpectKnownValue("gpufleet_cluster.gcp", tfjsonpath.New("validator"), knownvalue.StringExact("installed")),
					statecheck.ExpectKnownValue("gpufleet_cluster.azure", tfjsonpath.New("validator"), knownvalue.StringExact("installed")),
					statecheck.ExpectKnownValue("gpufleet_pool.p", tfjsonpath.New("validated_gpus"), knownvalue.Int64Exact(24)),
					statecheck.ExpectKnownValue("gpufleet_pool.p", tfjsonpath.New("total_gpus"), knownvalue.Int64Exact(24)),
					statecheck.ExpectKnownValue("gpufleet_pool.p", tfjsonpath.New("validation_failures"), knownvalue.ListExact(nil)),
					statecheck.ExpectKnownValue("gpufleet_pool.p", tfjsonpath.New("pools").AtMapKey(northKey).AtMapKey("validated_nodes"), knownvalue.Int64Exact(1)),
				},
				Check: resource.ComposeTestCheckFunc(
					w.validatedNodes(t, "aws", "eu-north-1", "gpufleet-aws-eu-north-1", 1),
					w.validatedNodes(t, "gcp", "europe-west4", "gpufleet-gcp-europe-west4", 1),
					w.validatedNodes(t, "azure", "westeurope", "gpufleet-azure-westeurope", 1),
					w.gkeDriverMounted(t),
				),
			},
			{
				// Someone deletes the validator from the GKE cluster.
				PreConfig: func() {
					c := w.kube(t, "gcp", "europe-west4", "gpufleet-gcp-europe-west4")
					if err := c.AppsV1().DaemonSets(bootstrap.DefaultNamespace).Delete(context.Background(), "gpufleet-nodecheck", metav1.DeleteOptions{}); err != nil {
						t.Fatal(err)
					}
					if _, err := c.AppsV1().DaemonSets(bootstrap.DefaultNamespace).Get(context.Background(), "gpufleet-nodecheck", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
						t.Fatalf("DaemonSet still there: %v", err)
					}
				},
				Config: threeCloudConfig(w),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("gpufleet_cluster.gcp", plancheck.ResourceActionUpdate),
					plancheck.ExpectUnknownValue("gpufleet_cluster.gcp", tfjsonpath.New("validator")),
					plancheck.ExpectResourceAction("gpufleet_cluster.aws", plancheck.ResourceActionNoop),
					plancheck.ExpectResourceAction("gpufleet_pool.p", plancheck.ResourceActionNoop),
				}},
				Check: w.validatedNodes(t, "gcp", "europe-west4", "gpufleet-gcp-europe-west4", 1),
			},
			{
				Config:   threeCloudConfig(w),
				PlanOnly: true, // repaired: nothing left to do
			},
		},
	})
}

// TestAccValidation_badGPUReplaced: a node that comes up with a GPU fallen
// off the bus (XID 79) fails validation, is replaced through the cloud, and
// the pool converges with every node validated.
func TestAccValidation_badGPUReplaced(t *testing.T) {
	w := newSimWorld(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             w.noLeaks(t),
		Steps: []resource.TestStep{{
			PreConfig: func() {
				if err := w.engine(t).InjectGPUFault(cloudsim.GPUFaultSelector{Cloud: "aws", Nodes: 1}, cloudsim.GPUFault{Kind: cloudsim.GPUFaultXID79, GPU: 3}); err != nil {
					t.Fatal(err)
				}
			},
			Config: w.config(16, `{}`),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("gpufleet_pool.train", tfjsonpath.New("validated_gpus"), knownvalue.Int64Exact(16)),
				statecheck.ExpectKnownValue("gpufleet_pool.train", tfjsonpath.New("pools").AtMapKey(northKey).AtMapKey("failed_over"), knownvalue.Bool(false)),
				// One node, with every check its fallen-off GPU failed.
				statecheck.ExpectKnownValue("gpufleet_pool.train", tfjsonpath.New("validation_failures"), knownvalue.ListPartial(map[int]knownvalue.Check{
					0: knownvalue.ObjectPartial(map[string]knownvalue.Check{"gpu": knownvalue.Int64Exact(3), "replaced": knownvalue.Bool(true),
						"pool": knownvalue.StringExact(fleet.PoolName(northKey)), "check": knownvalue.StringExact("gpu_health"), "reason": knownvalue.StringRegexp(regexp.MustCompile(`fallen off the bus`))}),
				})),
			},
			Check: w.validatedNodes(t, "aws", "eu-north-1", "gpufleet-aws-eu-north-1", 2),
		}},
	})
}

// TestAccValidation_badHardwareFailsOver: every node of the first offer has
// an uncorrectable ECC error, replacements included; after the allowed
// replacements the allocation fails over like a capacity error.
func TestAccValidation_badHardwareFailsOver(t *testing.T) {
	w := newSimWorld(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             w.noLeaks(t),
		Steps: []resource.TestStep{{
			PreConfig: func() {
				if err := w.engine(t).InjectGPUFault(cloudsim.GPUFaultSelector{Cloud: "aws", Pool: fleet.PoolName(northKey)},
					cloudsim.GPUFault{Kind: cloudsim.GPUFaultECCUncorrectable, GPU: 0}); err != nil {
					t.Fatal(err)
				}
			},
			Config: w.config(16, `{}`),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("gpufleet_pool.train", tfjsonpath.New("pools").AtMapKey(northKey).AtMapKey("failed_over"), knownvalue.Bool(true)),
				statecheck.ExpectKnownValue("gpufleet_pool.train", tfjsonpath.New("validated_gpus"), knownvalue.Int64Exact(16)),
				statecheck.ExpectKnownValue("gpufleet_pool.train", tfjsonpath.New("validation_failures"), knownvalue.ListSizeExact(3)),
			},
		}},
	})
}

// oneNodeWithoutValidator is one H100 node in an AWS cluster that does not
// install the validator; pool is the pool's extra setting.
func (w simWorld) oneNodeWithoutValidator(pool string) string {
	return w.provider() + fmt.Sprintf(`
resource "gpufleet_placement" "p" {
  gpus       = 8
  gpu_models = ["H100"]
  residency  = ["EU"]
}
resource "gpufleet_cluster" "c" {
  site            = "aws/eu-north-1"
  node_validation = { enabled = false }
}
resource "gpufleet_pool" "p" {
  placement   = gpufleet_placement.p.id
  allocations = gpufleet_placement.p.allocations
  clusters    = { "aws/eu-north-1" = gpufleet_cluster.c.id }
  %s
}
`, pool)
}

// TestAccValidation_disabled: without validation no validator is installed,
// nodes join without the taint, and nothing waits.
func TestAccValidation_disabled(t *testing.T) {
	w := newSimWorld(t)
	cfg := w.oneNodeWithoutValidator(`bootstrap = { nvml_validation = false }`)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             w.noLeaks(t),
		Steps: []resource.TestStep{{
			Config: cfg,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("gpufleet_cluster.c", tfjsonpath.New("validator"), knownvalue.StringExact("disabled")),
				statecheck.ExpectKnownValue("gpufleet_pool.p", tfjsonpath.New("validated_gpus"), knownvalue.Int64Exact(0)),
			},
			Check: func(*terraform.State) error {
				c := w.kube(t, "aws", "eu-north-1", "gpufleet-aws-eu-north-1")
				ctx := context.Background()
				if _, err := c.AppsV1().DaemonSets(bootstrap.DefaultNamespace).Get(ctx, "gpufleet-nodecheck", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
					return fmt.Errorf("validator installed although disabled: %v", err)
				}
				nodes, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
				if err != nil {
					return err
				}
				for _, n := range nodes.Items {
					for _, taint := range n.Spec.Taints {
						if taint.Key == gpuhealth.TaintKey {
							return fmt.Errorf("node %s tainted although validation is off", n.Name)
						}
					}
				}
				return nil
			},
		}},
	})
}

// TestAccValidation_noValidatorTimesOut: pools that taint their nodes in a
// cluster without the validator never take work; the apply says so and
// what to change, instead of completing.
func TestAccValidation_noValidatorTimesOut(t *testing.T) {
	w := newSimWorld(t)
	cfg := w.oneNodeWithoutValidator(`validation_timeout = "3s"`)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             w.noLeaks(t),
		Steps: []resource.TestStep{{
			Config:      cfg,
			ExpectError: regexp.MustCompile(`(?s)0/1 nodes validated after.*not checked yet.*gpufleet-nodecheck DaemonSet`),
		}},
	})
}

// TestAccValidation_userCatalogInstanceType: a catalog file sells an
// instance type the validator's embedded catalog does not know (p5e, eight
// H200s); its nodes are validated against the hardware the pool labels
// them with — what the plan bought — and pass, instead of failing for an
// unknown instance type. A node with fewer GPUs than bought fails.
func TestAccValidation_userCatalogInstanceType(t *testing.T) {
	w := newSimWorld(t)
	w.catalog = writeCatalog(t, "p5e.csv", []string{
		"aws,p5e.48xlarge,H200,8,141,192,2048,eu-north-1,eun1-az1,70,,2",
	})
	config := w.provider() + `
resource "gpufleet_placement" "p" {
  gpus       = 16
  gpu_models = ["H200"]
  residency  = ["EU"]
}
resource "gpufleet_cluster" "c" {
  site = "aws/eu-north-1"
}
resource "gpufleet_pool" "p" {
  placement          = gpufleet_placement.p.id
  allocations        = gpufleet_placement.p.allocations
  clusters           = { "aws/eu-north-1" = gpufleet_cluster.c.id }
  validation_timeout = "2m"
}
`
	key := "aws/eu-north-1/eun1-az1/p5e.48xlarge/on_demand"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             w.noLeaks(t),
		Steps: []resource.TestStep{{
			Config: config,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("gpufleet_pool.p", tfjsonpath.New("validated_gpus"), knownvalue.Int64Exact(16)),
				statecheck.ExpectKnownValue("gpufleet_pool.p", tfjsonpath.New("total_gpus"), knownvalue.Int64Exact(16)),
				statecheck.ExpectKnownValue("gpufleet_pool.p", tfjsonpath.New("pools").AtMapKey(key).AtMapKey("validated_nodes"), knownvalue.Int64Exact(2)),
			},
			Check: resource.ComposeTestCheckFunc(
				w.validatedNodes(t, "aws", "eu-north-1", "gpufleet-aws-eu-north-1", 2),
				w.hardwareLabelled(t, "aws", "eu-north-1", "gpufleet-aws-eu-north-1", map[string]string{
					gpuhealth.GPUModelLabel: "H200", gpuhealth.GPUCountLabel: "8", gpuhealth.GPUMemoryLabel: "141"}),
			),
		}},
	})
}

// hardwareLabelled checks that every gpufleet node of a cluster carries
// the hardware labels want.
func (w simWorld) hardwareLabelled(t *testing.T, cl, region, cluster string, want map[string]string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		nodes, err := w.kube(t, cl, region, cluster).CoreV1().Nodes().List(context.Background(), metav1.ListOptions{LabelSelector: gpuhealth.PoolLabel})
		if err != nil {
			return err
		}
		for _, n := range nodes.Items {
			for k, v := range want {
				if n.Labels[k] != v {
					return fmt.Errorf("node %s: label %s=%q, want %q", n.Name, k, n.Labels[k], v)
				}
			}
		}
		return nil
	}
}
