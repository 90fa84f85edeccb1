package provider

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// documentedReadLimits throttle reads the way the clouds document it,
// in real seconds (the simulated operations meanwhile run at
// GPUFLEET_SIM_TIME_SCALE, a hundred times faster than the clouds', so the
// apply asks far more often than on them):
//   - Azure Resource Manager: subscription reads, for every GET of the
//     subscription together, a token bucket of 250 refilled at 25 a second
//     since Microsoft moved subscriptions to regional throttling in 2024
//     (https://learn.microsoft.com/en-us/azure/azure-resource-manager/management/request-limits-and-throttling,
//     "Regional throttling and token bucket algorithm"; the older hourly
//     limit was 12,000 an hour). At a sustained 3.3 a second with bursts
//     of 10 the four-tunnel mesh's reads, a hundred times as frequent as on
//     Azure (GPUFLEET_SIM_TIME_SCALE), outlast cloud.DefaultThrottleBudget.
//   - Amazon EC2: a token bucket per API, non-mutating (Describe*) actions
//     100 tokens refilled at 20 a second
//     (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html).
//   - Compute Engine: read requests 1,500 per minute per project for every
//     get together (https://cloud.google.com/compute/docs/api-rate-limits);
//     25 a second with bursts of 25, where the minute's window allows 1,500.
func documentedReadLimits(t *testing.T, e *cloudsim.Engine) {
	t.Helper()
	errs := []error{e.SetSharedRateLimit("azure", "subscription-reads", []string{"Get*"}, 25, 250)}
	for _, kind := range []string{"Vpc", "Subnet", "SecurityGroup", "RouteTable", "VpnGateway", "CustomerGateway",
		"VpnConnection", "VpcPeeringConnection", "LaunchTemplate"} {
		errs = append(errs, e.SetRateLimit("aws", "Get"+kind, 20, 100))
	}
	errs = append(errs, e.SetSharedRateLimit("gcp", "compute-reads", []string{"GetNetwork", "GetSubnetwork", "GetFirewall", "GetVpnGateway",
		"GetExternalVpnGateway", "GetVpnTunnel", "GetRouter", "GetComputeOperation"}, 1500.0/60, 25))
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// stormRows: one node per cloud, each in a zone (so that the network of
// the placement's sites has a subnet for every allocation).
var stormRows = []string{
	"aws,p5.48xlarge,H100,8,80,192,2048,eu-north-1,eun1-az1,58,,",
	"gcp,a3-highgpu-8g,H100,8,80,208,1872,europe-west4,europe-west4-b,96,,",
	"azure,Standard_ND96isr_H100_v5,H100,8,80,96,1900,westeurope,1,110,,",
}

// stormConfig: a placement over the three clouds, the network of its
// sites (VPN mesh), a cluster per site in it, and validated pools.
func (w simWorld) stormConfig() string {
	return w.provider() + `
resource "gpufleet_placement" "p" {
  gpus          = 24
  gpus_per_node = 8
  residency     = ["EU"]
  spread        = { min_clouds = 3, max_share = 0.4 }
}

resource "gpufleet_network" "mesh" {
  name  = "storm"
  sites = gpufleet_placement.p.sites
}

resource "gpufleet_cluster" "aws" {
  site    = "aws/eu-north-1"
  network = gpufleet_network.mesh.networks["aws/eu-north-1"]
}

resource "gpufleet_cluster" "gcp" {
  site    = "gcp/europe-west4"
  network = gpufleet_network.mesh.networks["gcp/europe-west4"]
}

resource "gpufleet_cluster" "azure" {
  site    = "azure/westeurope"
  network = gpufleet_network.mesh.networks["azure/westeurope"]
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
`
}

// TestAccNetwork_throttlingStormAtDocumentedRates: with every read throttled
// at the clouds' documented rates from the start, a three-cloud network,
// its clusters and GPU-validated pools apply without an error (waits back
// off on throttled polls, honouring Retry-After, instead of spending the
// caller's retries; a throttled call is retried past its attempts within
// cloud.DefaultThrottleBudget), the refresh after it plans nothing, and
// destroy leaves nothing. The limits did refuse calls.
func TestAccNetwork_throttlingStormAtDocumentedRates(t *testing.T) {
	t.Setenv(simTimeScaleEnv, "0.01")
	w := simWorld{dir: simDir(t), catalog: writeCatalog(t, "storm.csv", stormRows)}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             w.noLeaks(t),
		Steps: []resource.TestStep{{
			PreConfig: func() { documentedReadLimits(t, w.engine(t)) },
			Config:    w.stormConfig(),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("gpufleet_pool.p", tfjsonpath.New("pools"), knownvalue.MapSizeExact(3)),
				statecheck.ExpectKnownValue("gpufleet_pool.p", tfjsonpath.New("validated_gpus"), knownvalue.Int64Exact(24)),
				established("aws/eu-north-1|gcp/europe-west4"), established("aws/eu-north-1|azure/westeurope"), established(azureGCP),
			},
			Check: func(*terraform.State) error {
				got := w.engine(t).ThrottledCalls()
				var parts []string
				for _, k := range slices.Sorted(maps.Keys(got)) {
					if got[k] > 0 {
						parts = append(parts, fmt.Sprintf("%s %d", k, got[k]))
					}
				}
				t.Logf("calls refused by the limits: %s", strings.Join(parts, ", "))
				if len(parts) == 0 {
					return fmt.Errorf("the limits refused nothing (%v): no storm", got)
				}
				return nil
			},
		}},
	})
}
