package awslive

import (
	"math"
	"slices"
	"strings"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/livecatalog"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// awsGPUQuota is an EC2 quota on GPU instances, counted in vCPUs.
type awsGPUQuota struct {
	Code, Name string
	// Family is the instance type prefix the quota covers ("p", "g").
	Family       string
	CapacityType planner.CapacityType
}

// awsGPUQuotas are the EC2 quotas (service code ec2) that cap GPU
// instances. Instance types starting with "p" count against the P
// quotas, those starting with "g" against the G and VT quotas; other
// accelerated families (inf, trn, dl) have quotas gpufleet does not read.
var awsGPUQuotas = []awsGPUQuota{
	{"L-417A185B", "Running On-Demand P instances", "p", planner.OnDemand},
	{"L-7212CCBC", "All P Spot Instance Requests", "p", planner.Spot},
	{"L-DB2E81BA", "Running On-Demand G and VT instances", "g", planner.OnDemand},
	{"L-3819A6DF", "All G and VT Spot Instance Requests", "g", planner.Spot},
}

// awsFamilyTypes are the instance types of types in a quota family.
func awsFamilyTypes(family string, types []string) []string {
	var out []string
	for _, t := range types {
		if strings.HasPrefix(t, family) {
			out = append(out, t)
		}
	}
	return out
}

// awsQuotaGPUs converts a quota in vCPUs into GPUs: the vCPUs divided by
// the largest vCPUs-per-GPU ratio among the shapes (offers giving VCPUs
// and GPUCount) of the instance types the quota covers, rounded down, so
// that the cap in GPUs holds whichever of those types the GPUs run on.
// A ratio is compared exactly (v1·g2 against v2·g1). Shapes without GPUs
// or vCPUs are ignored; with none left, or a quota below one GPU's
// worth, the result is 0.
func awsQuotaGPUs(vcpus float64, shapes []planner.Offer) int {
	var worst *planner.Offer
	for i := range shapes {
		s := &shapes[i]
		if s.GPUCount <= 0 || s.VCPUs <= 0 {
			continue
		}
		if worst == nil || s.VCPUs*worst.GPUCount > worst.VCPUs*s.GPUCount {
			worst = s
		}
	}
	if worst == nil || !(vcpus > 0) || math.IsInf(vcpus, 0) {
		return 0
	}
	// floor(vcpus / (V/G)) = floor(vcpus·G / V), computed on whole vCPUs
	// to keep float error out of the rounding.
	whole := math.Floor(vcpus + 1e-9)
	return int(math.Floor(whole * float64(worst.GPUCount) / float64(worst.VCPUs)))
}

// awsSortQuotas orders quotas by region and name.
func awsSortQuotas(qs []livecatalog.Quota) {
	slices.SortFunc(qs, func(a, b livecatalog.Quota) int {
		return strings.Compare(a.Region+"\x00"+a.Name, b.Region+"\x00"+b.Name)
	})
}
