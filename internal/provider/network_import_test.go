package provider

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"
)

// importMeshSites are a mesh over the three clouds with a peering between
// two AWS regions: every backend's tunnels and a peering are read back.
var importMeshSites = []string{"aws/eu-central-1", "aws/eu-north-1", "gcp/europe-west4", "azure/westeurope"}

func (w simWorld) importMeshConfig(extra string) string {
	// eu-north-1 with both of its zones, as import reads them back (a
	// single AWS zone gets a second one, which import cannot tell apart).
	cfg := w.networkConfig(extra, importMeshSites...)
	return strings.Replace(cfg, `zones = ["eun1-az1"]`, `zones = ["eun1-az1", "eun1-az2"]`, 1)
}

// TestAccNetwork_import: a mesh built by one configuration is imported by
// its name, with `terraform import` (the imported state equals the one
// the apply wrote) and with an import block (the plan is only the import:
// no change, no replacement), and by name with its sites.
func TestAccNetwork_import(t *testing.T) {
	w := newSimWorld(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_5_0)},
		CheckDestroy:             w.noLeaks(t),
		Steps: []resource.TestStep{
			{
				// Grown in two steps: the AWS ↔ GCP link holds the first inside
				// ranges, which a mesh planned afresh would give AWS ↔ Azure, so
				// only ranges read back from the clouds import right.
				Config: w.networkConfig("", "aws/eu-central-1", "gcp/europe-west4"),
			},
			{
				Config: w.importMeshConfig(""),
				ConfigStateChecks: append(
					[]statecheck.StateCheck{established(awsGCP), established(awsAzure), established(azureGCP)},
					statecheck.ExpectKnownValue("gpufleet_network.mesh", netPath("links", "aws/eu-central-1|aws/eu-north-1", "status"), knownvalue.StringExact("established"))),
			},
			{
				ResourceName:      "gpufleet_network.mesh",
				Config:            w.importMeshConfig(""),
				ImportState:       true,
				ImportStateId:     "fleet",
				ImportStateVerify: true,
			},
			{
				ResourceName:    "gpufleet_network.mesh",
				Config:          w.importMeshConfig(""),
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithID,
				ImportStateId:   "fleet",
				ImportPlanChecks: resource.ImportPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("gpufleet_network.mesh", plancheck.ResourceActionNoop),
				}},
			},
			{
				ResourceName:      "gpufleet_network.mesh",
				Config:            w.importMeshConfig(""),
				ImportState:       true,
				ImportStateId:     "fleet;sites=" + strings.Join(importMeshSites, ",") + ";cidr=10.64.0.0/12;asn_min=64600;asn_max=65000",
				ImportStateVerify: true,
			},
			{
				// A configuration listing one zone of an AWS site (the
				// provider added the second subnet) plans an update of
				// sites alone: every network, gateway and tunnel stays.
				ResourceName:       "gpufleet_network.mesh",
				Config:             w.networkConfig("", importMeshSites...),
				ImportState:        true,
				ImportStateKind:    resource.ImportBlockWithID,
				ImportStateId:      "fleet",
				ExpectNonEmptyPlan: true,
				ImportPlanChecks: resource.ImportPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("gpufleet_network.mesh", plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue("gpufleet_network.mesh", netPath("networks", "aws/eu-north-1", "network_id"), knownvalue.StringRegexp(regexp.MustCompile(`.`))),
					plancheck.ExpectKnownValue("gpufleet_network.mesh", netPath("networks", "aws/eu-north-1", "subnets"), knownvalue.MapSizeExact(2)),
					plancheck.ExpectKnownValue("gpufleet_network.mesh", netPath("networks", "gcp/europe-west4", "gateway_id"), knownvalue.StringRegexp(regexp.MustCompile(`.`))),
					plancheck.ExpectKnownValue("gpufleet_network.mesh", netPath("links", awsGCP, "status"), knownvalue.StringExact("established")),
					plancheck.ExpectKnownValue("gpufleet_network.mesh", netPath("links", awsGCP, "a_id"), knownvalue.StringRegexp(regexp.MustCompile(`.`))),
				}},
			},
			{
				// The configuration that built it plans nothing.
				Config:   w.importMeshConfig(""),
				PlanOnly: true,
			},
		},
	})
}

// TestAccNetwork_importBadID: a malformed ID, or a name no network has,
// says what ID is accepted.
func TestAccNetwork_importBadID(t *testing.T) {
	w := newSimWorld(t)
	for _, tt := range []struct{ id, err string }{
		{"Fleet", `(?s)Invalid import ID.*the name "Fleet".*The\s+ID\s+is\s+the\s+network's\s+name`},
		{"fleet;colour=blue", `(?s)unknown attribute "colour" \(known: sites, cidr, exclude, asn_min, asn_max\)`},
		{"fleet;sites=aws", `(?s)sites: "aws" is not cloud/region`},
		{"fleet;cidr=banana", `(?s)cidr: "banana" is not an IPv4 prefix`},
		{"nothere", `(?s)Network not found.*no network of the mesh "nothere".*in\s+any\s+region\s+of\s+the\s+provider's\s+catalog.*The\s+ID\s+is\s+the\s+network's\s+name`},
		{"nothere;sites=gcp/europe-west4", `(?s)Network not found.*exists\s+in\s+gcp/europe-west4`},
	} {
		t.Run(tt.id, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config:        w.networkConfig("", "gcp/europe-west4"),
					ResourceName:  "gpufleet_network.mesh",
					ImportState:   true,
					ImportStateId: tt.id,
					ExpectError:   regexp.MustCompile(tt.err),
				}},
			})
		})
	}
}

func TestParseNetworkID(t *testing.T) {
	for _, tt := range []struct{ id, want string }{
		{"fleet", "fleet [] 10.64.0.0/12 [] 64600-65000"},
		{"fleet;sites=gcp/europe-west4,aws/eu-central-1;cidr=10.0.0.0/8;exclude=10.1.0.0/16,10.2.0.0/16;asn_min=64700;asn_max=64800",
			"fleet [aws/eu-central-1 gcp/europe-west4] 10.0.0.0/8 [10.1.0.0/16 10.2.0.0/16] 64700-64800"},
	} {
		id, err := parseNetworkID(tt.id)
		if err != nil {
			t.Fatalf("%s: %v", tt.id, err)
		}
		if got := fmt.Sprintf("%s %v %s %v %d-%d", id.name, id.sites, id.cidr, id.exclude, id.asnMin, id.asnMax); got != tt.want {
			t.Errorf("parseNetworkID(%q) = %s, want %s", tt.id, got, tt.want)
		}
	}
	for _, id := range []string{"", "fleet;", "fleet;cidr=10.0.0.0/8;cidr=10.0.0.0/8", "fleet;asn_min=65000;asn_max=64600", "fleet;asn_min=1", "fleet;exclude=x"} {
		if _, err := parseNetworkID(id); err == nil {
			t.Errorf("parseNetworkID(%q) accepted", id)
		}
	}
}
