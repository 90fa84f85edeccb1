package provider

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/function"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

var _ function.Function = ResidencyOfFunction{}

// Functions lists the provider-defined functions (Terraform 1.8+,
// OpenTofu 1.7+).
func (p *GPUFleetProvider) Functions(context.Context) []func() function.Function {
	return []func() function.Function{NewResidencyOfFunction}
}

// ResidencyOfFunction is provider::gpufleet::residency_of(site): where a
// cloud region is, from the region table the planner places offers in.
type ResidencyOfFunction struct{}

// NewResidencyOfFunction is the residency_of constructor.
func NewResidencyOfFunction() function.Function { return ResidencyOfFunction{} }

// residencyAttrTypes is the object residency_of returns.
var residencyAttrTypes = map[string]attr.Type{
	"cloud": types.StringType, "region": types.StringType, "location": types.StringType,
	"country": types.StringType, "jurisdiction": types.StringType, "continent": types.StringType,
}

// Metadata names the function.
func (ResidencyOfFunction) Metadata(_ context.Context, _ function.MetadataRequest, resp *function.MetadataResponse) {
	resp.Name = "residency_of"
}

// Definition describes residency_of.
func (ResidencyOfFunction) Definition(_ context.Context, _ function.DefinitionRequest, resp *function.DefinitionResponse) {
	resp.Definition = function.Definition{
		Summary: "Where a cloud region is: country, jurisdiction, continent",
		MarkdownDescription: "Looks a site (`cloud/region`, a key of `gpufleet_placement.sites`) or a bare region name up in the region table " +
			"the planner places offers in, the same table `residency` rules are judged by. Returns `cloud`, `region`, `location` (e.g. `Europe (Frankfurt)`), " +
			"`country` (ISO 3166-1 alpha-2, `GB` for the United Kingdom), `jurisdiction` (`EU` for the EU and EEA, `UK`, `CH`, otherwise the country) " +
			"and `continent`. Use it to label, tag or check per site what the placement chose, e.g. " +
			"`provider::gpufleet::residency_of(each.key).jurisdiction == \"EU\"`. A region unknown to the table is an error that names the known regions.",
		Parameters: []function.Parameter{function.StringParameter{
			Name: "site",
			MarkdownDescription: "`cloud/region` (`aws/eu-central-1`), or a region name alone (`eu-central-1`) where only one cloud has a region of that name; " +
				"a gpufleet_cluster ID (`cloud/region/name`) also works.",
		}},
		Return: function.ObjectReturn{AttributeTypes: residencyAttrTypes},
	}
}

// Run looks the region up.
func (ResidencyOfFunction) Run(ctx context.Context, req function.RunRequest, resp *function.RunResponse) {
	var site string
	resp.Error = req.Arguments.Get(ctx, &site)
	if resp.Error != nil {
		return
	}
	r, err := residencyOf(planner.EmbeddedRegions(), site)
	if err != nil {
		resp.Error = function.NewArgumentFuncError(0, err.Error())
		return
	}
	obj, diags := types.ObjectValue(residencyAttrTypes, map[string]attr.Value{
		"cloud": types.StringValue(r.Cloud), "region": types.StringValue(r.Name), "location": types.StringValue(r.Location),
		"country": types.StringValue(r.Country), "jurisdiction": types.StringValue(r.Jurisdiction), "continent": types.StringValue(r.Continent),
	})
	resp.Error = function.FuncErrorFromDiags(ctx, diags)
	if resp.Error == nil {
		resp.Error = resp.Result.Set(ctx, obj)
	}
}

// residencyOf finds a site ("cloud/region", "cloud/region/name" or a
// region name only one cloud has) in a region table.
func residencyOf(regions []planner.Region, site string) (planner.Region, error) {
	cl, name, qualified := strings.Cut(site, "/")
	if qualified {
		name, _, _ = strings.Cut(name, "/") // a cluster ID's name
	} else {
		cl, name = "", site
	}
	var matches []planner.Region
	var known []string
	for _, r := range regions {
		if cl == "" || r.Cloud == cl {
			known = append(known, r.Key())
		}
		if r.Name == name && (cl == "" || r.Cloud == cl) {
			matches = append(matches, r)
		}
	}
	switch {
	case len(matches) == 1:
		return matches[0], nil
	case len(matches) > 1:
		keys := make([]string, len(matches))
		for i, m := range matches {
			keys[i] = m.Key()
		}
		return planner.Region{}, fmt.Errorf("region %q is in more than one cloud (%s): pass cloud/region", name, strings.Join(keys, ", "))
	case qualified && !slices.Contains(cloudNames, cl):
		return planner.Region{}, fmt.Errorf("%q: unknown cloud %q, want one of %s (cloud/region, e.g. aws/eu-central-1)", site, cl, strings.Join(cloudNames, ", "))
	}
	return planner.Region{}, fmt.Errorf("%q is not a region gpufleet knows.%s Known regions: %s.", site, didYouMean(site, known), strings.Join(known, ", "))
}
