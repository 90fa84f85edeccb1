// Package nodecheck validates the GPUs of one node through NVML before the
// node takes work: count, model, memory, driver, ECC, row remapping,
// InfoROM, persistence, fabric manager, NVLink, PCIe, clock slowdowns,
// temperature, MIG mode and XID errors. It is written against
// nvml.Interface so that tests run on go-nvml's mock servers.
package nodecheck

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/gpuhealth"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// Profile is the hardware a node of an instance type must have.
type Profile struct {
	InstanceType string  `json:"instance_type,omitempty"`
	GPUCount     int     `json:"gpu_count"`
	GPUModel     string  `json:"gpu_model"`
	MemoryGiB    float64 `json:"memory_gib"`
	// NVLinks is the number of NVLink links that must be active on every
	// GPU; 0 when the GPUs have none.
	NVLinks int `json:"nvlinks"`
	// FabricManager is true on NVSwitch systems whose GPUs report a fabric
	// state through NVML (Hopper and later): the fabric manager must have
	// finished training the fabric before the GPUs can run work.
	FabricManager bool `json:"fabric_manager"`
	// MIG is the MIG mode the GPUs must be in.
	MIG bool `json:"mig"`
}

// nvlinksPerGPU is the NVLink count of each GPU model's SXM/HGX form: A100
// NVLink 3 (12 links), H100/H200 NVLink 4 (18), B200/B300 NVLink 5 (18),
// V100 SXM2 NVLink 2 (6).
var nvlinksPerGPU = map[string]int{
	"V100": 6, "V100-32GB": 6, "A100": 12, "A100-80GB": 12, "H100": 18, "H200": 18, "B200": 18, "B300": 18,
}

// fabricReporting are the models whose GPUs report fabric state via NVML.
var fabricReporting = []string{"H100", "H200", "B200", "B300"}

// ProfileFor derives the profile of an instance type from the planner's
// catalog, so that the planner and the validator never disagree about what
// a node holds. NVLink counts apply to NVLink and NVSwitch instance types;
// PCIe cards (and NVLink bridges between card pairs, reported as nvlink on
// 2-GPU sizes) are checked for the links they have.
func ProfileFor(c *planner.Catalog, instanceType string) (Profile, error) {
	var found *planner.Offer
	var clouds []string
	for i := range c.Offers {
		if o := &c.Offers[i]; o.InstanceType == instanceType {
			if found == nil {
				found = o
			}
			clouds = append(clouds, o.Cloud)
		}
	}
	if found == nil {
		var names []string
		seen := map[string]bool{}
		for _, o := range c.Offers {
			if !seen[o.InstanceType] {
				seen[o.InstanceType] = true
				names = append(names, o.InstanceType)
			}
		}
		msg := fmt.Sprintf("instance type %q is not in the catalog; pass --gpus, --gpu-model and --gpu-memory-gib instead", instanceType)
		if near := planner.Nearest(instanceType, names, 3); len(near) > 0 {
			msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(near, " or "))
		}
		return Profile{}, fmt.Errorf("%s", msg)
	}
	return profileOf(instanceType, found.GPUModel, found.GPUCount, found.GPUMemoryGiB, found.Interconnect), nil
}

// profileOf is the profile of a node with count GPUs of a model, memory
// GiB each, linked by interconnect.
func profileOf(instanceType, model string, count int, memoryGiB float64, interconnect planner.Interconnect) Profile {
	p := Profile{InstanceType: instanceType, GPUCount: count, GPUModel: model, MemoryGiB: memoryGiB}
	switch interconnect {
	case planner.NVSwitch:
		p.NVLinks = nvlinksPerGPU[model]
		p.FabricManager = slices.Contains(fabricReporting, model)
	case planner.NVLink:
		if n, ok := nvlinksPerGPU[model]; ok && count == 8 {
			p.NVLinks = n
		}
	}
	return p
}

// ProfileFromLabels derives the profile of a node from the hardware labels
// its pool set (gpuhealth.GPUModelLabel and the others): what the plan
// bought, whatever catalog it came from. ok is false when the node has no
// model label (a pool of an older gpufleet, or a node not made by a pool);
// a label that is there but wrong is an error naming it. Without a memory
// label the GPU table's memory of the model is expected; without an
// interconnect label, PCIe (no NVLink checks).
func ProfileFromLabels(labels map[string]string) (p Profile, ok bool, err error) {
	model := labels[gpuhealth.GPUModelLabel]
	if model == "" {
		return Profile{}, false, nil
	}
	count, err := strconv.Atoi(labels[gpuhealth.GPUCountLabel])
	if err != nil || count <= 0 {
		return Profile{}, true, fmt.Errorf("label %s=%q: want the GPU count per node, a positive integer", gpuhealth.GPUCountLabel, labels[gpuhealth.GPUCountLabel])
	}
	var mem float64
	if v, set := labels[gpuhealth.GPUMemoryLabel]; set {
		if mem, err = strconv.ParseFloat(v, 64); err != nil || mem <= 0 {
			return Profile{}, true, fmt.Errorf("label %s=%q: want the memory per GPU in GiB, a positive number", gpuhealth.GPUMemoryLabel, v)
		}
	} else {
		for _, g := range planner.KnownGPUs() {
			if g.Model == model {
				mem = g.MemoryGiB
			}
		}
		if mem == 0 {
			return Profile{}, true, fmt.Errorf("label %s=%q is not a GPU model gpufleet knows and the node has no %s label", gpuhealth.GPUModelLabel, model, gpuhealth.GPUMemoryLabel)
		}
	}
	ic := planner.PCIe
	if v, set := labels[gpuhealth.GPUInterconnectLabel]; set {
		if ic = planner.Interconnect(v); !slices.Contains(planner.Interconnects, ic) {
			return Profile{}, true, fmt.Errorf("label %s=%q: want one of %v", gpuhealth.GPUInterconnectLabel, v, planner.Interconnects)
		}
	}
	return profileOf(labels["node.kubernetes.io/instance-type"], model, count, mem, ic), true, nil
}

// Validate reports what is wrong with a profile built from flags.
func (p Profile) Validate() error {
	switch {
	case p.GPUCount <= 0:
		return fmt.Errorf("gpu count must be positive, got %d", p.GPUCount)
	case p.GPUModel == "":
		return fmt.Errorf("gpu model is empty")
	case p.MemoryGiB <= 0:
		return fmt.Errorf("gpu memory must be positive, got %v GiB", p.MemoryGiB)
	case p.NVLinks < 0:
		return fmt.Errorf("nvlinks must be 0 or positive, got %d", p.NVLinks)
	}
	return nil
}

// modelMatches reports whether an NVML device name ("NVIDIA H100 80GB
// HBM3", "NVIDIA A100-SXM4-80GB", "Tesla T4") is the catalog model ("H100",
// "A100-80GB", "T4", "H100-NVL"): the model's family must be one of the
// name's tokens, and NVL cards are told apart from SXM ones.
func modelMatches(name, model string) bool {
	tokens := strings.FieldsFunc(strings.ToUpper(name), func(r rune) bool { return r == ' ' || r == '-' || r == '_' })
	family, variant, _ := strings.Cut(strings.ToUpper(model), "-")
	if !slices.Contains(tokens, family) {
		return false
	}
	nvl := slices.Contains(tokens, "NVL")
	if variant == "NVL" {
		return nvl
	}
	return !nvl
}
