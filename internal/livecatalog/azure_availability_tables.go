package livecatalog

import (
	"math"
	"strings"

	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// azureFamily is an Azure vCPU quota family (the usage name.value of
// Microsoft.Compute/locations/{location}/usages) and the GPU VM sizes it
// covers.
type azureFamily struct {
	Name  string
	Sizes []string
}

// azureFamilies maps quota families to VM sizes. The API spells family
// names with varying case (and, in places, spaces), so names are compared
// by azureFamilyKey.
var azureFamilies = []azureFamily{
	{Name: "standardNDSH100v5Family", Sizes: []string{"Standard_ND96isr_H100_v5"}},
	{Name: "standardNDISRH200V5Family", Sizes: []string{"Standard_ND96isr_H200_v5"}},
	{Name: "StandardNCadsH100v5Family", Sizes: []string{"Standard_NC40ads_H100_v5", "Standard_NC80adis_H100_v5"}},
	{Name: "StandardNCADSA100v4Family", Sizes: []string{"Standard_NC24ads_A100_v4", "Standard_NC48ads_A100_v4", "Standard_NC96ads_A100_v4"}},
	{Name: "standardNDAMSv4_A100Family", Sizes: []string{"Standard_ND96amsr_A100_v4"}},
	{Name: "StandardNDASv4_A100Family", Sizes: []string{"Standard_ND96asr_v4"}},
	{Name: "standardNCSv3Family", Sizes: []string{"Standard_NC6s_v3", "Standard_NC12s_v3", "Standard_NC24s_v3", "Standard_NC24rs_v3"}},
	{Name: "StandardNCASv3_T4Family", Sizes: []string{"Standard_NC4as_T4_v3", "Standard_NC8as_T4_v3", "Standard_NC16as_T4_v3", "Standard_NC64as_T4_v3"}},
	{Name: "standardNDSv2Family", Sizes: []string{"Standard_ND40rs_v2"}},
	{Name: "standardNVSv3Family", Sizes: []string{"Standard_NV12s_v3", "Standard_NV24s_v3", "Standard_NV48s_v3"}},
	{Name: "StandardNVADSA10v5Family", Sizes: []string{"Standard_NV6ads_A10_v5", "Standard_NV12ads_A10_v5", "Standard_NV18ads_A10_v5",
		"Standard_NV36ads_A10_v5", "Standard_NV36adms_A10_v5", "Standard_NV72ads_A10_v5"}},
}

// azureLowPriority is the regional Spot / low-priority vCPU quota, shared
// by every size.
const azureLowPriority = "lowPriorityCores"

// azureFamilyKey normalizes a family name: "Standard NCASv3_T4 Family" and
// "StandardNCASv3_T4Family" are one family.
func azureFamilyKey(name string) string {
	return strings.ToLower(strings.ReplaceAll(name, " ", ""))
}

// azureFamilyByName finds a quota family by its usage name.
func azureFamilyByName(name string) (azureFamily, bool) {
	k := azureFamilyKey(name)
	for _, f := range azureFamilies {
		if azureFamilyKey(f.Name) == k {
			return f, true
		}
	}
	return azureFamily{}, false
}

// azureFamilyOfSize finds the quota family of a VM size.
func azureFamilyOfSize(size string) (azureFamily, bool) {
	for _, f := range azureFamilies {
		for _, s := range f.Sizes {
			if strings.EqualFold(s, size) {
				return f, true
			}
		}
	}
	return azureFamily{}, false
}

// azureShape is what a quota conversion needs of a size.
type azureShape struct{ vcpus, gpus int }

// azureShapes are the catalog's Azure sizes with a known shape.
func azureShapes(cat *planner.Catalog) map[string]azureShape {
	out := map[string]azureShape{}
	for _, o := range cat.Offers {
		if o.Cloud == "azure" && o.VCPUs > 0 && o.GPUCount > 0 {
			out[o.InstanceType] = azureShape{o.VCPUs, o.GPUCount}
		}
	}
	return out
}

// azureQuotaGPUs converts free vCPUs to GPUs with the largest
// vCPUs-per-GPU ratio among sizes, so the cap is never above what the
// quota allows for any of them. ok is false when no size has a shape.
func azureQuotaGPUs(freeVCPUs int64, sizes []string, shapes map[string]azureShape) (gpus int, ok bool) {
	ratio := 0.0
	for _, s := range sizes {
		if sh, found := shapes[s]; found {
			ratio = max(ratio, float64(sh.vcpus)/float64(sh.gpus))
		}
	}
	if ratio == 0 {
		return 0, false
	}
	if freeVCPUs <= 0 {
		return 0, true
	}
	return int(min(math.Floor(float64(freeVCPUs)/ratio), math.MaxInt32)), true
}
