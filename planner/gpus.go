package planner

import "slices"

// GPUInfo is what gpufleet knows about a GPU model whatever the catalog:
// its canonical name and memory per GPU.
type GPUInfo struct {
	Model     string  `json:"gpu_model"`
	MemoryGiB float64 `json:"memory_gib"`
}

// knownGPUs is the GPU table: every NVIDIA model the three clouds sell in
// the catalog snapshot the embedded catalog was built from (the embedded
// catalog's models and GCP's H100-MEGA label), sorted by name. A request may name any of them on any
// catalog; a model absent from a catalog is simply not offered by it.
var knownGPUs = []GPUInfo{
	{"A10", 24}, {"A100", 40}, {"A100-80GB", 80}, {"A10G", 24}, {"B200", 180}, {"B300", 288},
	{"H100", 80}, {"H100-MEGA", 80}, {"H100-NVL", 94}, {"H200", 141}, {"L4", 24}, {"L40S", 48},
	{"M60", 8}, {"P100", 16}, {"P4", 8}, {"T4", 16}, {"T4g", 16}, {"V100", 16}, {"V100-32GB", 32},
}

// knownGPUModels are the names of knownGPUs, in the same order.
var knownGPUModels = func() []string {
	out := make([]string, len(knownGPUs))
	for i, g := range knownGPUs {
		out[i] = g.Model
	}
	return out
}()

// KnownGPUs returns the GPU table, sorted by model name.
func KnownGPUs() []GPUInfo { return slices.Clone(knownGPUs) }

// GPUModelNames returns the GPU models a request may name on this catalog:
// the GPU table's and the catalog's own (a catalog file may sell a model
// the table does not know), sorted and without duplicates.
func (c *Catalog) GPUModelNames() []string {
	return sortedUnique(append(slices.Clone(knownGPUModels), c.models...))
}

// AbsentGPUModels returns the models of a normalized request that the
// catalog has no offer of: known GPU models the request allows but this
// catalog does not sell, in the request's order.
func (c *Catalog) AbsentGPUModels(req Request) []string {
	var out []string
	for _, m := range req.GPUModels {
		if !slices.Contains(c.models, m) {
			out = append(out, m)
		}
	}
	return out
}
