package provider

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

const euPlacement = `
resource "gpufleet_placement" "train" {
  gpus          = %d
  gpu_models    = ["H100"]
  gpus_per_node = 8
  residency     = ["EU"]
  spread = {
    min_clouds = 2
    max_share  = 0.6
  }
}
`

func placementConfig(catalog string, gpus int) string {
	return providerConfig(catalog) + fmt.Sprintf(euPlacement, gpus)
}

func TestAccPlacement_lifecycle(t *testing.T) {
	cat := writeCatalog(t, "prices.csv", baseCatalogRows)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				// 48 H100 in the EU, at most 60% per cloud: aws eu-north-1 (2
				// nodes, 58) and eu-central-1 (1 node, 60) hold 24, gcp the
				// other 24 (3 nodes, 96); azure is dearer.
				Config: placementConfig(cat, 48),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("gpufleet_placement.train", plancheck.ResourceActionCreate),
					// Known at plan time: reviewable and usable in for_each.
					plancheck.ExpectKnownValue("gpufleet_placement.train", tfjsonpath.New("total_gpus"), knownvalue.Int64Exact(48)),
					plancheck.ExpectKnownValue("gpufleet_placement.train", tfjsonpath.New("hourly_cost_usd"), knownvalue.Float64Exact(464)),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("gpufleet_placement.train", tfjsonpath.New("id"),
						knownvalue.StringExact("gpus=48;gpu_models=H100;gpus_per_node=8;residency=EU;spread.min_clouds=2;spread.max_share=0.6")),
					statecheck.ExpectKnownValue("gpufleet_placement.train", tfjsonpath.New("allocations"), knownvalue.ListExact([]knownvalue.Check{
						allocationCheck("aws/eu-central-1/euc1-az1/p5.48xlarge/on_demand", 1),
						allocationCheck("aws/eu-north-1/eun1-az1/p5.48xlarge/on_demand", 2),
						allocationCheck("gcp/europe-west4/europe-west4-b/a3-highgpu-8g/on_demand", 3),
					})),
					statecheck.ExpectKnownValue("gpufleet_placement.train", tfjsonpath.New("sites"), knownvalue.MapSizeExact(3)),
					statecheck.ExpectKnownValue("gpufleet_placement.train", tfjsonpath.New("sites").AtMapKey("gcp/europe-west4").AtMapKey("gpus"), knownvalue.Int64Exact(24)),
					statecheck.ExpectKnownValue("gpufleet_placement.train", tfjsonpath.New("rejected").AtMapKey("residency"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue("gpufleet_placement.train", tfjsonpath.New("catalog_version"), knownvalue.StringRegexp(regexp.MustCompile(`^2026-11-01\+sha256:`))),
					statecheck.ExpectKnownValue("gpufleet_placement.train", tfjsonpath.New("summary"), knownvalue.StringRegexp(regexp.MustCompile(`azure: not used: its cheapest eligible offer`))),
					statecheck.ExpectKnownValue("gpufleet_placement.train",
						tfjsonpath.New("fallbacks").AtMapKey("gcp/europe-west4/europe-west4-b/a3-highgpu-8g/on_demand").AtSliceIndex(0).AtMapKey("key"),
						knownvalue.StringExact("azure/westeurope//Standard_ND96isr_H100_v5/on_demand")),
				},
			},
			{
				// Re-applying the same configuration changes nothing.
				Config: placementConfig(cat, 48),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
				}},
			},
			{
				// A new request is planned again, in place.
				Config: placementConfig(cat, 64),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("gpufleet_placement.train", plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue("gpufleet_placement.train", tfjsonpath.New("total_gpus"), knownvalue.Int64Exact(64)),
				}},
			},
			{
				ResourceName:            "gpufleet_placement.train",
				ImportState:             true,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"keepers"},
			},
			{
				// An import block with the same ID plans the import alone.
				ResourceName:    "gpufleet_placement.train",
				Config:          placementConfig(cat, 64),
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithID,
			},
			{
				// After import the configuration plans nothing either.
				Config: placementConfig(cat, 64),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
				}},
			},
		},
	})
}

func allocationCheck(key string, nodes int64) knownvalue.Check {
	return knownvalue.ObjectPartial(map[string]knownvalue.Check{
		"key": knownvalue.StringExact(key), "nodes": knownvalue.Int64Exact(nodes),
	})
}

// TestAccPlacement_stableWhenCatalogChanges: a cheaper catalog does not
// move an applied placement; changing keepers does.
func TestAccPlacement_stableWhenCatalogChanges(t *testing.T) {
	before := writeCatalog(t, "before.csv", baseCatalogRows)
	cheaper := append([]string{}, baseCatalogRows...)
	cheaper[4] = "azure,Standard_ND96isr_H100_v5,H100,8,80,96,1900,westeurope,,50,,"
	after := writeCatalog(t, "after.csv", cheaper)
	withKeepers := func(cat, keeper string) string {
		return providerConfig(cat) + strings.Replace(fmt.Sprintf(euPlacement, 48),
			"gpus_per_node = 8", "gpus_per_node = 8\n  keepers = { generation = \""+keeper+"\" }", 1)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: withKeepers(before, "1")},
			{
				Config: withKeepers(after, "1"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("gpufleet_placement.train", tfjsonpath.New("hourly_cost_usd"), knownvalue.Float64Exact(464)),
				},
			},
			{
				Config: withKeepers(after, "2"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("gpufleet_placement.train", plancheck.ResourceActionUpdate),
					// aws 24 GPUs (2 x 58 + 60) and azure 24 (3 x 50).
					plancheck.ExpectKnownValue("gpufleet_placement.train", tfjsonpath.New("hourly_cost_usd"), knownvalue.Float64Exact(326)),
				}},
			},
		},
	})
}

// TestDecideWarnsWhenCheaper checks the warning itself, which the testing
// framework does not expose.
func TestDecideWarnsWhenCheaper(t *testing.T) {
	ctx := context.Background()
	load := func(rows []string) *planner.Catalog {
		c, err := planner.LoadCatalogFile(writeCatalog(t, "c.csv", rows))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	cheaper := append([]string{}, baseCatalogRows...)
	cheaper[4] = "azure,Standard_ND96isr_H100_v5,H100,8,80,96,1900,westeurope,,50,,"
	request := func() placementModel {
		m, err := parsePlacementID("gpus=48;gpu_models=H100;gpus_per_node=8;residency=EU;spread.min_clouds=2;spread.max_share=0.6")
		if err != nil {
			t.Fatal(err)
		}
		m.Keepers = types.MapNull(types.StringType)
		m.ReplanThresholdPercent = types.Float64Value(5)
		return m
	}
	r := &PlacementResource{data: &providerData{catalog: load(baseCatalogRows), enabledClouds: cloudNames}}
	applied := request()
	var diags diag.Diagnostics
	r.decide(ctx, &applied, nil, &diags)
	if diags.HasError() || applied.HourlyCostUSD.ValueFloat64() != 464 {
		t.Fatalf("first decision %v: %v", applied.HourlyCostUSD, diags)
	}

	for _, tt := range []struct {
		name      string
		threshold float64
		warn      bool
	}{{"above threshold", 5, true}, {"below threshold", 40, false}} {
		t.Run(tt.name, func(t *testing.T) {
			r.data.catalog = load(cheaper)
			plan := request()
			plan.ReplanThresholdPercent = types.Float64Value(tt.threshold)
			var diags diag.Diagnostics
			r.decide(ctx, &plan, &applied, &diags)
			if diags.HasError() {
				t.Fatal(diags)
			}
			if !plan.Allocations.Equal(applied.Allocations) || !plan.HourlyCostUSD.Equal(applied.HourlyCostUSD) {
				t.Fatal("the applied placement changed")
			}
			warnings := diags.Warnings()
			if !tt.warn {
				if len(warnings) != 0 {
					t.Fatalf("unexpected warnings %v", warnings)
				}
				return
			}
			if len(warnings) != 1 || !strings.Contains(warnings[0].Detail(), "costs 326.00 USD/hour instead of 464.00 (29.7% less") {
				t.Fatalf("warnings %v", warnings)
			}
		})
	}
}

// TestAccPlacement_forEachSites: sites are known at plan time, so they
// drive for_each in the same plan. (The step only plans: the testing
// framework's state shim cannot read for_each instances back.)
func TestAccPlacement_forEachSites(t *testing.T) {
	cat := writeCatalog(t, "prices.csv", baseCatalogRows)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: placementConfig(cat, 48) + `
resource "terraform_data" "site" {
  for_each = gpufleet_placement.train.sites
  input    = "${each.value.cloud}:${each.value.region}:${each.value.nodes}"
}
`,
			PlanOnly:           true,
			ExpectNonEmptyPlan: true,
			ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction(`terraform_data.site["gcp/europe-west4"]`, plancheck.ResourceActionCreate),
				plancheck.ExpectResourceAction(`terraform_data.site["aws/eu-north-1"]`, plancheck.ResourceActionCreate),
				plancheck.ExpectResourceAction(`terraform_data.site["aws/eu-central-1"]`, plancheck.ResourceActionCreate),
				plancheck.ExpectKnownValue(`terraform_data.site["gcp/europe-west4"]`, tfjsonpath.New("input"), knownvalue.StringExact("gcp:europe-west4:3")),
			}},
		}},
	})
}

func TestAccPlacement_validation(t *testing.T) {
	cat := writeCatalog(t, "prices.csv", baseCatalogRows)
	placement := func(body string) string {
		return providerConfig(cat) + "resource \"gpufleet_placement\" \"p\" {\n" + body + "\n}\n"
	}
	tests := []struct {
		name   string
		config string
		err    string
	}{
		{"gpus zero", placement(`gpus = 0`), `Attribute gpus value must be at least 1, got: 0`},
		{"max_share above one", placement("gpus = 8\nspread = { max_share = 1.5 }"), `1.5 is outside \(0, 1\]`},
		{"max_share zero", placement("gpus = 8\nspread = { max_share = 0 }"), `0 is outside \(0, 1\]`},
		{"unknown model", placement("gpus = 8\ngpu_models = [\"H1OO\"]"), `(?s)gpu_models = \["H1OO"\].*unknown GPU model "H1OO".*Did you mean\s+"H100"`},
		{"unknown residency", placement("gpus = 8\nresidency = [\"EUR\"]"), `(?s)residency = \["EUR"\].*unknown jurisdiction.*Did you mean\s+"EU"`},
		{"conflicting node sizes", placement("gpus = 8\ngpus_per_node = 8\nmin_gpus_per_node = 4"), `(?s)Attribute "min_gpus_per_node" cannot be specified when\s+"gpus_per_node"\s+is\s+specified`},
		{"gang with spread", placement("gpus = 8\ngang = true\nspread = { min_clouds = 2 }"), `(?s)Conflicting options.*gang = true puts every node in one zone`},
		{"capacity type", placement("gpus = 8\ncapacity_types = [\"preemptible\"]"), `(?s)Attribute capacity_types\[0\] value must be one of: \["calendar"\s+"capacity_block" "flex_start" "on_demand" "reserved" "spot"\], got:\s+"preemptible"`},
		{"infeasible", placement("gpus = 400\ngpu_models = [\"H100\"]\nresidency = [\"EU\"]\nclouds = [\"aws\"]"),
			`(?s)Infeasible placement request.*at most 48 GPUs are obtainable.*nearest feasible.*requests: gpus <= 48`},
		{"infeasible spread", placement("gpus = 16\ngpu_models = [\"H100\"]\nresidency = [\"DE\"]\nspread = { min_clouds = 2 }"),
			`(?s)only 1 cloud \(aws\) has offers.*binding constraint:\s+spread.min_clouds.*spread.min_clouds <= 1`},
		{"cloud not enabled", providerConfig(cat, `aws {}`) + "resource \"gpufleet_placement\" \"p\" {\ngpus = 8\nclouds = [\"gcp\"]\n}\n",
			`(?s)clouds = \["gcp"\].*"gcp" is not enabled in the provider configuration, which enables aws`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
				Steps:                    []resource.TestStep{{Config: tt.config, PlanOnly: true, ExpectError: regexp.MustCompile(tt.err)}},
			})
		})
	}
}

func TestAccPlacement_importBadID(t *testing.T) {
	cat := writeCatalog(t, "prices.csv", baseCatalogRows)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:        providerConfig(cat) + "resource \"gpufleet_placement\" \"p\" {\n  gpus = 8\n}\n",
			ResourceName:  "gpufleet_placement.p",
			ImportState:   true,
			ImportStateId: "gpus=8;colour=blue",
			ExpectError:   regexp.MustCompile(`(?s)unknown attribute "colour"`),
		}},
	})
}

func TestPlacementIDRoundTrip(t *testing.T) {
	for _, id := range []string{
		"gpus=8",
		"gpus=64;gpu_models=H100,H200;gpus_per_node=8;residency=EU,CH;deny_residency=aws/eu-west-1;clouds=aws,gcp;capacity_types=on_demand,spot;max_price_per_gpu_hour=12.5;spread.min_clouds=2;spread.max_share=0.6",
		"gpus=16;min_gpu_memory_gib=80;min_gpus_per_node=4;interconnect=nvswitch;gang=true",
		"gpus=16;residency=EU;fallbacks_in_sites=true",
	} {
		m, err := parsePlacementID(id)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if got := placementID(&m); got != id {
			t.Fatalf("round trip %q -> %q", id, got)
		}
	}
	for id, want := range map[string]string{
		"":                             `"" is not attribute=value`,
		"gpu_models=H100":              "gpus is required",
		"gpus=8;gpus=9":                `"gpus" appears twice`,
		"gpus=eight":                   `gpus: "eight" is not a whole number`,
		"gpus=8;gang=perhaps":          `gang: "perhaps" is not true or false`,
		"gpus=8;fallbacks_in_sites=1x": `fallbacks_in_sites: "1x" is not true or false`,
		"gpus=8;clouds=aws,":           "empty list element",
	} {
		if _, err := parsePlacementID(id); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", id, err, want)
		}
	}
}

func TestAttributePath(t *testing.T) {
	for field, want := range map[string]path.Path{
		"gpus":             path.Root("gpus"),
		"gpu_models[2]":    path.Root("gpu_models").AtListIndex(2),
		"spread.max_share": path.Root("spread").AtName("max_share"),
	} {
		if got := attributePath(field); !got.Equal(want) {
			t.Errorf("%s: %s, want %s", field, got, want)
		}
	}
}

// TestAccPlacement_unknownRequest: a request known only at apply is
// planned as unknown and decided during apply.
func TestAccPlacement_unknownRequest(t *testing.T) {
	cat := writeCatalog(t, "prices.csv", baseCatalogRows)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: providerConfig(cat) + `
resource "terraform_data" "size" {
  input = 16
}
resource "gpufleet_placement" "p" {
  gpus       = terraform_data.size.output
  gpu_models = ["H100"]
  residency  = ["EU"]
}
`,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectUnknownValue("gpufleet_placement.p", tfjsonpath.New("allocations")),
				plancheck.ExpectUnknownValue("gpufleet_placement.p", tfjsonpath.New("hourly_cost_usd")),
			}},
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("gpufleet_placement.p", tfjsonpath.New("hourly_cost_usd"), knownvalue.Float64Exact(116)),
				statecheck.ExpectKnownValue("gpufleet_placement.p", tfjsonpath.New("id"), knownvalue.StringExact("gpus=16;gpu_models=H100;residency=EU")),
			},
		}},
	})
}

// TestAccPlacement_modelsAbsentFromCatalog: a request names models the way a
// module does, whatever the workspace's catalog. A known model the catalog
// does not sell (L40S) is not offered and the summary says so; when it is
// the only model, the request is infeasible on gpu_models, not an error
// about the name; a name no table knows stays an error with suggestions.
func TestAccPlacement_modelsAbsentFromCatalog(t *testing.T) {
	cat := writeCatalog(t, "prices.csv", baseCatalogRows)
	placement := func(models string) string {
		return providerConfig(cat) + "resource \"gpufleet_placement\" \"p\" {\ngpus = 8\ngpu_models = " + models + "\n}\n"
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: placement(`["H100", "l40s"]`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue("gpufleet_placement.p", tfjsonpath.New("total_gpus"), knownvalue.Int64Exact(8)),
					plancheck.ExpectKnownValue("gpufleet_placement.p", tfjsonpath.New("summary"),
						knownvalue.StringRegexp(regexp.MustCompile(`L40S is a known GPU model with no offers in this catalog, so not offered`))),
				}},
			},
			{Config: placement(`["L40S"]`), PlanOnly: true,
				ExpectError: regexp.MustCompile(`(?s)Infeasible placement request.*L40S is a known GPU\s+model with no\s+offers in this\s+catalog`)},
			{Config: placement(`["L40X"]`), PlanOnly: true,
				ExpectError: regexp.MustCompile(`(?s)unknown GPU model "L40X".*Did you mean\s+"L40S"`)},
		},
	})
}

// TestSameAllocationRequest: the pools are replaced when the placement's
// request changes, not when only fallbacks_in_sites does.
func TestSameAllocationRequest(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want bool
	}{
		{"gpus=16;residency=EU", "gpus=16;residency=EU;fallbacks_in_sites=true", true},
		{"gpus=16;residency=EU;fallbacks_in_sites=false", "gpus=16;residency=EU;fallbacks_in_sites=true", true},
		{"gpus=16;residency=EU", "gpus=24;residency=EU;fallbacks_in_sites=true", false},
		{"gpus=16;residency=EU", "gpus=16;residency=EU;gang=true", false},
		{"not an id", "not an id", true},
		{"not an id", "gpus=16", false},
	} {
		if got := sameAllocationRequest(tt.a, tt.b); got != tt.want {
			t.Errorf("sameAllocationRequest(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}
