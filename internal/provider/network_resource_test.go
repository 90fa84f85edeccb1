package provider

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/awsfront"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/simserve"
)

// Sites of the embedded catalog, one per cloud, and a second AWS region.
var netSites = map[string]string{
	"aws/eu-central-1": `{ cloud = "aws", region = "eu-central-1", zones = ["euc1-az1", "euc1-az2"] }`,
	"aws/eu-north-1":   `{ cloud = "aws", region = "eu-north-1", zones = ["eun1-az1"] }`,
	"gcp/europe-west4": `{ cloud = "gcp", region = "europe-west4", zones = ["europe-west4-a"] }`,
	"azure/westeurope": `{ cloud = "azure", region = "westeurope", zones = ["1"] }`,
}

func (w simWorld) networkConfig(extra string, sites ...string) string {
	var b strings.Builder
	for _, s := range sites {
		fmt.Fprintf(&b, "    %q = %s\n", s, netSites[s])
	}
	return fmt.Sprintf(`
provider "gpufleet" {
  simulate     = true
  simulate_dir = %q
}

resource "gpufleet_network" "mesh" {
  name  = "fleet"
  sites = {
%s  }
%s
}
`, w.dir, b.String(), extra)
}

func netPath(parts ...any) tfjsonpath.Path {
	p := tfjsonpath.New(parts[0].(string))
	for _, s := range parts[1:] {
		switch v := s.(type) {
		case string:
			p = p.AtMapKey(v)
		case int:
			p = p.AtSliceIndex(v)
		}
	}
	return p
}

const (
	awsGCP   = "aws/eu-central-1|gcp/europe-west4"
	awsAzure = "aws/eu-central-1|azure/westeurope"
	azureGCP = "azure/westeurope|gcp/europe-west4"
)

func established(link string) statecheck.StateCheck {
	return statecheck.ExpectKnownValue("gpufleet_network.mesh", netPath("links", link, "status"), knownvalue.StringExact("established"))
}

// TestAccNetwork_meshGrowsAndShrinks: a two-cloud mesh, a third cloud added
// (the first two sites keep their addresses, gateways and tunnels, shown by
// the plan), then a site removed; nothing is left after destroy.
func TestAccNetwork_meshGrowsAndShrinks(t *testing.T) {
	w := newSimWorld(t)
	keep := func(site string) []plancheck.PlanCheck {
		return []plancheck.PlanCheck{
			plancheck.ExpectKnownValue("gpufleet_network.mesh", netPath("networks", site, "network_id"), knownvalue.StringRegexp(regexp.MustCompile(`.`))),
			plancheck.ExpectKnownValue("gpufleet_network.mesh", netPath("networks", site, "gateway_id"), knownvalue.StringRegexp(regexp.MustCompile(`.`))),
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             w.noLeaks(t),
		Steps: []resource.TestStep{
			{
				Config: w.networkConfig("", "aws/eu-central-1", "gcp/europe-west4"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue("gpufleet_network.mesh", netPath("networks", "aws/eu-central-1", "cidr"), knownvalue.StringExact("10.64.0.0/16")),
					plancheck.ExpectKnownValue("gpufleet_network.mesh", netPath("networks", "gcp/europe-west4", "cidr"), knownvalue.StringExact("10.65.0.0/16")),
					plancheck.ExpectKnownValue("gpufleet_network.mesh", netPath("links", awsGCP, "tunnels", 0, "inside_cidr"), knownvalue.StringExact("169.254.21.0/30")),
					plancheck.ExpectKnownValue("gpufleet_network.mesh", netPath("connectivity", "aws/eu-central-1", "gcp/europe-west4"), knownvalue.StringExact("vpn (4 tunnels)")),
					plancheck.ExpectKnownValue("gpufleet_network.mesh", netPath("tunnels"), knownvalue.Int64Exact(4)),
					plancheck.ExpectUnknownValue("gpufleet_network.mesh", netPath("networks", "aws/eu-central-1", "network_id")),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					established(awsGCP),
					statecheck.ExpectKnownValue("gpufleet_network.mesh", netPath("links", awsGCP, "tunnels"), knownvalue.ListSizeExact(4)),
					statecheck.ExpectKnownValue("gpufleet_network.mesh", netPath("networks", "aws/eu-central-1", "subnets"),
						knownvalue.MapExact(map[string]knownvalue.Check{"euc1-az1": knownvalue.StringExact("10.64.0.0/20"), "euc1-az2": knownvalue.StringExact("10.64.16.0/20")})),
					statecheck.ExpectKnownValue("gpufleet_network.mesh", netPath("networks", "gcp/europe-west4", "gateway_ips"), knownvalue.ListSizeExact(2)),
					// Two AWS VPN connections and four GCP tunnels at $0.05 an hour, 730 hours.
					statecheck.ExpectKnownValue("gpufleet_network.mesh", netPath("monthly_cost_usd"), knownvalue.Float64Exact(219)),
					statecheck.ExpectKnownValue("gpufleet_network.mesh", netPath("allowed_cidrs"),
						knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("10.64.0.0/16"), knownvalue.StringExact("10.65.0.0/16")})),
				},
				Check: w.awsTunnelsUp(t, 2),
			},
			{
				Config: w.networkConfig("", "aws/eu-central-1", "gcp/europe-west4", "azure/westeurope"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: append(append(keep("aws/eu-central-1"), keep("gcp/europe-west4")...),
					plancheck.ExpectResourceAction("gpufleet_network.mesh", plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue("gpufleet_network.mesh", netPath("links", awsGCP, "status"), knownvalue.StringExact("established")),
					plancheck.ExpectKnownValue("gpufleet_network.mesh", netPath("links", awsGCP, "a_id"), knownvalue.StringRegexp(regexp.MustCompile(`.`))),
					plancheck.ExpectKnownValue("gpufleet_network.mesh", netPath("networks", "azure/westeurope", "cidr"), knownvalue.StringExact("10.66.0.0/16")),
					plancheck.ExpectUnknownValue("gpufleet_network.mesh", netPath("networks", "azure/westeurope", "gateway_id")),
					plancheck.ExpectKnownValue("gpufleet_network.mesh", netPath("tunnels"), knownvalue.Int64Exact(10)),
				)},
				ConfigStateChecks: []statecheck.StateCheck{established(awsGCP), established(awsAzure), established(azureGCP),
					statecheck.ExpectKnownValue("gpufleet_network.mesh", netPath("links", awsAzure, "tunnels"), knownvalue.ListSizeExact(4)),
					statecheck.ExpectKnownValue("gpufleet_network.mesh", netPath("links", azureGCP, "tunnels"), knownvalue.ListSizeExact(2)),
				},
				Check: w.awsTunnelsUp(t, 4),
			},
			{
				// Refresh after a refresh: no diff (statuses and IDs are stable).
				Config:   w.networkConfig("", "aws/eu-central-1", "gcp/europe-west4", "azure/westeurope"),
				PlanOnly: true,
			},
			{
				Config: w.networkConfig("", "aws/eu-central-1", "azure/westeurope"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: append(keep("aws/eu-central-1"),
					plancheck.ExpectKnownValue("gpufleet_network.mesh", netPath("tunnels"), knownvalue.Int64Exact(4)))},
				ConfigStateChecks: []statecheck.StateCheck{established(awsAzure)},
				Check:             resource.ComposeTestCheckFunc(w.cloudHoldsNothing(t, "gcp"), w.awsTunnelsUp(t, 2)),
			},
		},
	})
}

// awsTunnelsUp checks that the simulated AWS holds connections VPN
// connections and reports both tunnels of each up: no tunnel is left to
// AWS's own inside range and key.
func (w simWorld) awsTunnelsUp(t *testing.T, connections int) resource.TestCheckFunc {
	return func(*terraform.State) error {
		e := w.engine(t)
		conns, err := awsfront.VPNConnections(e)
		if err != nil {
			return err
		}
		for _, c := range conns {
			for i := 1; i <= 2; i++ {
				if up, detail := e.TunnelStatus("aws", c.TunnelEnd(i)); !up {
					return fmt.Errorf("tunnel %d of AWS VPN connection %s is down: %s", i, c.ID, detail)
				}
			}
		}
		if len(conns) != connections {
			return fmt.Errorf("%d AWS VPN connections, want %d", len(conns), connections)
		}
		return nil
	}
}

// noKeysInState checks that the state holds no pre-shared key: no
// attribute named for one, and no value that is the key of a tunnel of
// the simulated AWS (the keys live only in the clouds).
func (w simWorld) noKeysInState(t *testing.T) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		held, err := awsfront.TunnelKeys(w.engine(t))
		if err != nil {
			return err
		}
		keys := map[string]bool{}
		for _, k := range held {
			keys[k] = true
		}
		if len(keys) == 0 {
			return fmt.Errorf("the simulated AWS holds no tunnel keys to look for")
		}
		for name, r := range s.RootModule().Resources {
			for k, v := range r.Primary.Attributes {
				if strings.Contains(k, "preshared") || keys[v] {
					return fmt.Errorf("%s.%s holds a pre-shared key", name, k)
				}
			}
		}
		return nil
	}
}

// twoTunnelProviderFactories serve the provider planning every VPN link
// with two tunnels, as releases before four-tunnel AWS links did: the
// state they write is what a user upgrading gpufleet has.
var twoTunnelProviderFactories = map[string]func() (tfprotov6.ProviderServer, error){
	"gpufleet": providerserver.NewProtocol6WithError(&GPUFleetProvider{version: "test", simulator: simserve.InProcess, meshTunnels: func(string, string) int { return 2 }}),
}

// TestAccNetwork_upgradeToFourTunnels: a mesh applied when AWS links had
// two tunnels (each AWS VPN connection's second tunnel down) is planned,
// after the upgrade, as an update that adds two tunnels to each AWS link
// and keeps the first two as they were (inside ranges, keys, outside
// addresses, the AWS and Azure connections); after the apply every tunnel
// is up, no key is in the state, and a refresh plans nothing.
func TestAccNetwork_upgradeToFourTunnels(t *testing.T) {
	w := newSimWorld(t)
	config := w.networkConfig("", "aws/eu-central-1", "gcp/europe-west4", "azure/westeurope")
	// The same values before and after the upgrade.
	var before, after []statecheck.StateCheck
	for _, p := range []tfjsonpath.Path{
		netPath("links", awsGCP, "a_id"), netPath("links", awsAzure, "a_id"), netPath("links", awsAzure, "b_id"),
		netPath("links", awsGCP, "tunnels", 0, "a_ip"), netPath("links", awsGCP, "tunnels", 1, "a_ip"),
		netPath("links", awsAzure, "tunnels", 1, "a_ip"), netPath("links", awsAzure, "tunnels", 1, "inside_cidr"),
		netPath("links", azureGCP, "tunnels"),
	} {
		c := statecheck.CompareValue(compare.ValuesSame())
		before = append(before, c.AddStateValue("gpufleet_network.mesh", p))
		after = append(after, c.AddStateValue("gpufleet_network.mesh", p))
	}
	oldTunnelsDown := func(*terraform.State) error {
		if err := w.awsTunnelsUp(t, 4)(nil); err == nil || !strings.Contains(err.Error(), "tunnel 2 of") {
			return fmt.Errorf("with two tunnels per link, want each AWS connection's second tunnel down, got %v", err)
		}
		return nil
	}
	resource.Test(t, resource.TestCase{
		CheckDestroy: w.noLeaks(t),
		Steps: []resource.TestStep{
			{
				ProtoV6ProviderFactories: twoTunnelProviderFactories,
				Config:                   config,
				ConfigStateChecks: append([]statecheck.StateCheck{established(awsGCP), established(awsAzure), established(azureGCP),
					statecheck.ExpectKnownValue("gpufleet_network.mesh", netPath("tunnels"), knownvalue.Int64Exact(6))}, before...),
				Check: resource.ComposeTestCheckFunc(oldTunnelsDown, w.noKeysInState(t)),
			},
			{
				ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
				Config:                   config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("gpufleet_network.mesh", plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue("gpufleet_network.mesh", netPath("tunnels"), knownvalue.Int64Exact(10)),
					plancheck.ExpectKnownValue("gpufleet_network.mesh", netPath("connectivity", "aws/eu-central-1", "gcp/europe-west4"), knownvalue.StringExact("vpn (4 tunnels)")),
					plancheck.ExpectKnownValue("gpufleet_network.mesh", netPath("links", awsGCP, "tunnels", 0, "a_ip"), knownvalue.StringRegexp(regexp.MustCompile(`^198\.`))),
					plancheck.ExpectKnownValue("gpufleet_network.mesh", netPath("links", awsGCP, "tunnels", 2, "inside_cidr"), knownvalue.StringRegexp(regexp.MustCompile(`^169\.254\.2[12]\.`))),
					plancheck.ExpectUnknownValue("gpufleet_network.mesh", netPath("links", awsGCP, "tunnels", 2, "a_ip")),
					plancheck.ExpectUnknownValue("gpufleet_network.mesh", netPath("links", awsGCP, "status")),
					plancheck.ExpectKnownValue("gpufleet_network.mesh", netPath("links", azureGCP, "status"), knownvalue.StringExact("established")),
				}},
				ConfigStateChecks: append([]statecheck.StateCheck{established(awsGCP), established(awsAzure), established(azureGCP),
					statecheck.ExpectKnownValue("gpufleet_network.mesh", netPath("links", awsGCP, "tunnels"), knownvalue.ListSizeExact(4)),
					statecheck.ExpectKnownValue("gpufleet_network.mesh", netPath("links", awsAzure, "tunnels"), knownvalue.ListSizeExact(4))}, after...),
				Check: resource.ComposeTestCheckFunc(w.awsTunnelsUp(t, 4), w.noKeysInState(t)),
			},
			{
				ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
				Config:                   config,
				PlanOnly:                 true,
			},
		},
	})
}

// cloudHoldsNothing checks that a cloud has no resources left.
func (w simWorld) cloudHoldsNothing(t *testing.T, cl string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		for _, o := range w.engine(t).Inventory().Resources().Objects {
			if o.Cloud == cl {
				return fmt.Errorf("%s still holds %s %s", cl, o.Kind, o.Name)
			}
		}
		return nil
	}
}

// TestAccNetwork_peeringAndDrift: two AWS regions are peered, a GCP site is
// linked by VPN; a VPN connection deleted out of band is planned for
// rebuilding and rebuilt.
func TestAccNetwork_peeringAndDrift(t *testing.T) {
	w := newSimWorld(t)
	config := w.networkConfig("", "aws/eu-central-1", "aws/eu-north-1", "gcp/europe-west4")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             w.noLeaks(t),
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("gpufleet_network.mesh", netPath("links", "aws/eu-central-1|aws/eu-north-1", "kind"), knownvalue.StringExact("peering")),
					established("aws/eu-central-1|aws/eu-north-1"),
					established(awsGCP),
					established("aws/eu-north-1|gcp/europe-west4"),
					statecheck.ExpectKnownValue("gpufleet_network.mesh", netPath("connectivity", "aws/eu-north-1", "aws/eu-central-1"), knownvalue.StringExact("peering")),
					// One zone in the placement, two subnets: EKS needs two zones.
					statecheck.ExpectKnownValue("gpufleet_network.mesh", netPath("networks", "aws/eu-north-1", "subnets"),
						knownvalue.MapExact(map[string]knownvalue.Check{"eun1-az1": knownvalue.StringExact("10.65.0.0/20"), "eun1-az2": knownvalue.StringExact("10.65.16.0/20")})),
				},
			},
			{
				PreConfig: func() { w.deleteOutOfBand(t, "gcp", "VpnTunnel", "fleet-aws-eu-central-1-0") },
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("gpufleet_network.mesh", plancheck.ResourceActionUpdate),
					plancheck.ExpectUnknownValue("gpufleet_network.mesh", netPath("links", awsGCP, "status")),
					plancheck.ExpectKnownValue("gpufleet_network.mesh", netPath("links", "aws/eu-north-1|gcp/europe-west4", "status"), knownvalue.StringExact("established")),
				}},
				ConfigStateChecks: []statecheck.StateCheck{established(awsGCP)},
			},
		},
	})
}

// deleteOutOfBand deletes a simulated cloud object the way a person in the
// console would.
func (w simWorld) deleteOutOfBand(t *testing.T, cl, kind, nameSuffix string) {
	t.Helper()
	e := w.engine(t)
	for _, o := range e.Inventory().Objects {
		if o.Cloud == cl && o.Kind == kind && strings.HasSuffix(o.Name, nameSuffix) {
			if err := e.DeleteObject(cl, kind, o.Name); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("no %s %s object named …%s", cl, kind, nameSuffix)
}

// TestAccNetwork_badInput: wrong input is refused at plan time on the
// attribute, saying what would be accepted.
func TestAccNetwork_badInput(t *testing.T) {
	w := newSimWorld(t)
	two := []string{"aws/eu-central-1", "gcp/europe-west4"}
	tests := []struct {
		name, config string
		want         string
	}{
		{"overlapping exclude", w.networkConfig(`exclude = ["10.64.0.0/16", "10.64.0.0/20"]`, two...), `exclude ranges 10.64.0.0/16 and\s+10.64.0.0/20 overlap`},
		{"supernet too small", w.networkConfig(`cidr = "10.64.0.0/17"`, two...), `must be an IPv4 prefix of /16 or larger`},
		{"no room after exclusions", w.networkConfig(`
  cidr    = "10.64.0.0/15"
  exclude = ["10.64.0.0/16"]`, two...), `a /14 would fit`},
		{"not a prefix", w.networkConfig(`exclude = ["10.64.0.0"]`, two...), `is not a prefix`},
		{"bad name", strings.Replace(w.networkConfig("", two...), `"fleet"`, `"Fleet_1"`, 1), `lower-case letters`},
		{"site not in the catalog", strings.Replace(w.networkConfig("", two...), `"gcp/europe-west4" = { cloud = "gcp", region = "europe-west4"`,
			`"gcp/mars-west1" = { cloud = "gcp", region = "mars-west1"`, 1), `no region "mars-west1"`},
		{"key does not match", strings.Replace(w.networkConfig("", two...), `region = "europe-west4"`, `region = "europe-west1"`, 1), `must be cloud/region of its value`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
				Steps:                    []resource.TestStep{{Config: tt.config, PlanOnly: true, ExpectError: regexp.MustCompile(tt.want)}},
			})
		})
	}
}
