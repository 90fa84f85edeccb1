package livecatalog

import "strings"

// gcpComputeService is the Cloud Billing Catalog id of Compute Engine.
const gcpComputeService = "services/6F81-5844-456A"

// gcpBillingFamily says how Cloud Billing prices the instance types of one
// accelerator-optimized machine family: a vCPU SKU, a memory SKU and a GPU
// SKU, named as the SKU descriptions name them (without the "Spot
// Preemptible " prefix, the " attached to Spot Preemptible VMs" infix and
// the " running in <place>" suffix).
type gcpBillingFamily struct {
	// Name is the family as Google's documentation names it.
	Name string
	// Prefixes are the instance type prefixes of the family.
	Prefixes []string
	// Core is billed per vCPU-hour ("h"), RAM per GiB-hour ("GiBy.h"),
	// GPU per GPU-hour ("h").
	Core, RAM, GPU string
}

// gcpBillingFamilies are the families GCPBilling prices. A2 and A2 Ultra
// share the A2 core and RAM SKUs and differ in their GPU SKU; A3 Mega bills
// its vCPUs and memory as "A3Plus". Other families (A3 Edge/Ultra, A4, N1
// with attached GPUs) keep the catalog's prices.
var gcpBillingFamilies = []gcpBillingFamily{
	{Name: "A3 High", Prefixes: []string{"a3-highgpu-"}, Core: "A3 Instance Core", RAM: "A3 Instance Ram", GPU: "Nvidia H100 80GB GPU"},
	{Name: "A3 Mega", Prefixes: []string{"a3-megagpu-"}, Core: "A3Plus Instance Core", RAM: "A3Plus Instance Ram", GPU: "Nvidia H100 80GB Mega GPU"},
	{Name: "A2", Prefixes: []string{"a2-highgpu-", "a2-megagpu-"}, Core: "A2 Instance Core", RAM: "A2 Instance Ram", GPU: "Nvidia Tesla A100 GPU"},
	{Name: "A2 Ultra", Prefixes: []string{"a2-ultragpu-"}, Core: "A2 Instance Core", RAM: "A2 Instance Ram", GPU: "Nvidia Tesla A100 80GB GPU"},
	{Name: "G2", Prefixes: []string{"g2-standard-"}, Core: "G2 Instance Core", RAM: "G2 Instance Ram", GPU: "Nvidia L4 GPU"},
}

// gcpBillingFamilyOf returns the billing family of an instance type.
func gcpBillingFamilyOf(instanceType string) (gcpBillingFamily, bool) {
	for _, f := range gcpBillingFamilies {
		if gcpHasPrefix(instanceType, f.Prefixes) {
			return f, true
		}
	}
	return gcpBillingFamily{}, false
}

// gcpSkuKind says which part of an instance a SKU prices.
type gcpSkuKind int

const (
	gcpCore gcpSkuKind = iota + 1
	gcpRAM
	gcpGPU
)

// gcpSkuNames maps every SKU name the families use to its kind.
var gcpSkuNames = func() map[string]gcpSkuKind {
	m := map[string]gcpSkuKind{}
	for _, f := range gcpBillingFamilies {
		m[f.Core], m[f.RAM], m[f.GPU] = gcpCore, gcpRAM, gcpGPU
	}
	return m
}()

// gcpAccelerator ties a Compute Engine accelerator type to its regional
// GPU quota metric, the catalog's GPU model and the instance types that
// carry it (the catalog's GPU model alone is not enough: A3 High and A3 Mega
// both carry H100s, as different accelerator types with different quotas).
type gcpAccelerator struct {
	Type string
	// Metric is the on-demand regional quota; "PREEMPTIBLE_"+Metric is the
	// spot one.
	Metric   string
	GPUModel string
	Prefixes []string
}

// gcpAccelerators covers every GPU machine family of the embedded catalog.
var gcpAccelerators = []gcpAccelerator{
	{Type: "nvidia-h100-80gb", Metric: "NVIDIA_H100_GPUS", GPUModel: "H100", Prefixes: []string{"a3-highgpu-", "a3-edgegpu-"}},
	{Type: "nvidia-h100-mega-80gb", Metric: "NVIDIA_H100_MEGA_GPUS", GPUModel: "H100", Prefixes: []string{"a3-megagpu-"}},
	{Type: "nvidia-h200-141gb", Metric: "NVIDIA_H200_GPUS", GPUModel: "H200", Prefixes: []string{"a3-ultragpu-"}},
	{Type: "nvidia-b200", Metric: "NVIDIA_B200_GPUS", GPUModel: "B200", Prefixes: []string{"a4-highgpu-"}},
	{Type: "nvidia-a100-80gb", Metric: "NVIDIA_A100_80GB_GPUS", GPUModel: "A100-80GB", Prefixes: []string{"a2-ultragpu-"}},
	{Type: "nvidia-tesla-a100", Metric: "NVIDIA_A100_GPUS", GPUModel: "A100", Prefixes: []string{"a2-highgpu-", "a2-megagpu-"}},
	{Type: "nvidia-l4", Metric: "NVIDIA_L4_GPUS", GPUModel: "L4", Prefixes: []string{"g2-"}},
	{Type: "nvidia-tesla-t4", Metric: "NVIDIA_T4_GPUS", GPUModel: "T4", Prefixes: []string{"n1-"}},
	{Type: "nvidia-tesla-v100", Metric: "NVIDIA_V100_GPUS", GPUModel: "V100", Prefixes: []string{"n1-"}},
	{Type: "nvidia-tesla-p100", Metric: "NVIDIA_P100_GPUS", GPUModel: "P100", Prefixes: []string{"n1-"}},
	{Type: "nvidia-tesla-p4", Metric: "NVIDIA_P4_GPUS", GPUModel: "P4", Prefixes: []string{"n1-"}},
}

// gcpAcceleratorOf returns the accelerator an instance type of the catalog
// carries, given its catalog GPU model.
func gcpAcceleratorOf(instanceType, gpuModel string) (gcpAccelerator, bool) {
	for _, a := range gcpAccelerators {
		if a.GPUModel == gpuModel && gcpHasPrefix(instanceType, a.Prefixes) {
			return a, true
		}
	}
	return gcpAccelerator{}, false
}

// gcpQuotaMetric parses a regional quota metric: the accelerator it limits
// and whether it is the spot (PREEMPTIBLE_) variant. Other metrics
// (COMMITTED_*, CPUS, ...) are not GPU caps gpufleet applies.
func gcpQuotaMetric(metric string) (a gcpAccelerator, spot, ok bool) {
	base, spot := strings.CutPrefix(metric, "PREEMPTIBLE_")
	for _, a := range gcpAccelerators {
		if a.Metric == base {
			return a, spot, true
		}
	}
	return gcpAccelerator{}, false, false
}

func gcpHasPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
