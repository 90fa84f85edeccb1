package provider

import (
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// TestResidencyOf looks sites up in the embedded region table and in a
// table where two clouds share a region name.
func TestResidencyOf(t *testing.T) {
	shared := append(planner.EmbeddedRegions(), planner.Region{Cloud: "gcp", Name: "eu-central-1", Location: "Nowhere", Country: "DE", Jurisdiction: "EU", Continent: "EU"})
	for _, tc := range []struct {
		name, site string
		table      []planner.Region
		want       string // cloud/region country jurisdiction
		err        string
	}{
		{name: "site", site: "aws/eu-central-1", want: "aws/eu-central-1 DE EU"},
		{name: "cluster ID", site: "gcp/europe-west4/gpufleet-gcp-europe-west4", want: "gcp/europe-west4 NL EU"},
		{name: "bare region", site: "westeurope", want: "azure/westeurope NL EU"},
		{name: "UK is its own jurisdiction", site: "aws/eu-west-2", want: "aws/eu-west-2 GB UK"},
		{name: "outside Europe", site: "us-east-1", want: "aws/us-east-1 US US"},
		{name: "typo", site: "aws/eu-centrl-1", err: `"aws/eu-centrl-1" is not a region gpufleet knows. Did you mean "aws/eu-central-1"`},
		{name: "region of another cloud", site: "gcp/eu-central-1", err: `"gcp/eu-central-1" is not a region gpufleet knows`},
		{name: "unknown cloud", site: "oci/eu-frankfurt-1", err: `unknown cloud "oci", want one of aws, gcp, azure`},
		{name: "ambiguous bare region", site: "eu-central-1", table: shared, err: `region "eu-central-1" is in more than one cloud (aws/eu-central-1, gcp/eu-central-1): pass cloud/region`},
		{name: "qualified resolves the ambiguity", site: "gcp/eu-central-1", table: shared, want: "gcp/eu-central-1 DE EU"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			table := tc.table
			if table == nil {
				table = planner.EmbeddedRegions()
			}
			r, err := residencyOf(table, tc.site)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("residencyOf(%q) = %+v, %v; want error containing %q", tc.site, r, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Key() + " " + r.Country + " " + r.Jurisdiction; got != tc.want {
				t.Errorf("residencyOf(%q) = %s, want %s", tc.site, got, tc.want)
			}
		})
	}
}

// TestAccResidencyOfFunction calls the function from a configuration, as
// a module does with the sites of a placement (Terraform 1.8+).
func TestAccResidencyOfFunction(t *testing.T) {
	resource.UnitTest(t, resource.TestCase{
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_8_0)},
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: `
locals {
  sites = ["aws/eu-central-1", "gcp/europe-west4", "azure/uksouth"]
}

output "frankfurt" {
  value = provider::gpufleet::residency_of("aws/eu-central-1")
}

output "jurisdictions" {
  value = { for s in local.sites : s => provider::gpufleet::residency_of(s).jurisdiction }
}
`,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownOutputValue("frankfurt", knownvalue.ObjectExact(map[string]knownvalue.Check{
						"cloud": knownvalue.StringExact("aws"), "region": knownvalue.StringExact("eu-central-1"),
						"location": knownvalue.NotNull(), "country": knownvalue.StringExact("DE"),
						"jurisdiction": knownvalue.StringExact("EU"), "continent": knownvalue.StringExact("Europe"),
					})),
					statecheck.ExpectKnownOutputValue("jurisdictions", knownvalue.MapExact(map[string]knownvalue.Check{
						"aws/eu-central-1": knownvalue.StringExact("EU"), "gcp/europe-west4": knownvalue.StringExact("EU"),
						"azure/uksouth": knownvalue.StringExact("UK"),
					})),
				},
			},
			{
				Config:      `output "x" { value = provider::gpufleet::residency_of("aws/eu-centrl-1") }`,
				ExpectError: regexp.MustCompile(`(?s)not a region\s+gpufleet\s+knows.*Did\s+you\s+mean\s+"aws/eu-central-1"`),
			},
		},
	})
}
