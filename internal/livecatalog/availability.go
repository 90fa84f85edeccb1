package livecatalog

import "context"

// Availability is what a cloud's APIs say about where its offers can run
// for this account, beyond prices.
type Availability struct {
	// Offered lists the zones where an instance type is offered (AWS
	// DescribeInstanceTypeOfferings, GCP acceleratorTypes per zone, Azure
	// Resource SKUs locationInfo). Nil means the source does not know: no
	// offer is removed. When set, a catalog offer of the source's cloud in
	// a region the source covers whose zone is not listed for its instance
	// type is unavailable.
	Offered []ZoneOffering `json:"offered,omitempty"`
	// Regions are the regions Offered covers (offers in other regions are
	// left alone).
	Regions []string `json:"regions,omitempty"`
	// Restrictions are zones or regions where the subscription may not use
	// an instance type (Azure Resource SKU restrictions).
	Restrictions []Restriction `json:"restrictions,omitempty"`
	// Quotas cap GPUs across offers (AWS Service Quotas, GCP regional GPU
	// quotas and GPUS_ALL_REGIONS, Azure family and low-priority quotas).
	Quotas []Quota `json:"quotas,omitempty"`
	// SpotScores are spot availability scores, 1 (unlikely) to 10 (very
	// likely) (AWS GetSpotPlacementScores).
	SpotScores []SpotScore `json:"spot_scores,omitempty"`
}

// ZoneOffering says an instance type is offered in a zone ("" for a
// cloud or region without zones).
type ZoneOffering struct {
	Cloud        string `json:"cloud"`
	Region       string `json:"region"`
	Zone         string `json:"zone"`
	InstanceType string `json:"instance_type"`
}

// Restriction says an instance type may not be used in a region (Zone
// empty) or zone, and why, in the cloud's words.
type Restriction struct {
	Cloud        string `json:"cloud"`
	Region       string `json:"region"`
	Zone         string `json:"zone,omitempty"`
	InstanceType string `json:"instance_type"`
	Reason       string `json:"reason"`
}

// Quota is a limit on the GPUs an account may run, converted to GPUs.
type Quota struct {
	// Name names the quota as the cloud does (e.g. "L-417A185B Running
	// On-Demand P instances", "NVIDIA_H100_GPUS", "standardNDSH100v5Family").
	Name  string `json:"name"`
	Cloud string `json:"cloud"`
	// Region is empty for a quota that spans every region (GCP
	// GPUS_ALL_REGIONS).
	Region string `json:"region,omitempty"`
	// InstanceTypes the quota covers; empty covers every instance type of
	// the cloud (in Region).
	InstanceTypes []string `json:"instance_types,omitempty"`
	// CapacityType covered; empty covers both.
	CapacityType string `json:"capacity_type,omitempty"`
	// MaxGPUs is the limit in GPUs: what is left of it (limit − usage)
	// where the API reports usage. Quotas counted in vCPUs are converted
	// with the largest vCPUs-per-GPU ratio among InstanceTypes, so the cap
	// is never above what the cloud allows.
	MaxGPUs int `json:"max_gpus"`
}

// SpotScore is a spot placement score for an instance type in a region
// (Zone empty) or zone.
type SpotScore struct {
	Cloud        string `json:"cloud"`
	Region       string `json:"region"`
	Zone         string `json:"zone,omitempty"`
	InstanceType string `json:"instance_type"`
	Score        int    `json:"score"`
}

// AvailabilitySource fetches availability facts for one cloud.
type AvailabilitySource interface {
	// Cloud is the cloud the facts are about.
	Cloud() string
	// Name names the source in provenance and warnings.
	Name() string
	// Availability fetches what the source knows. instanceTypes are the
	// catalog's instance types of this cloud (sources that must ask per
	// type, such as spot placement scores, ask only for these).
	Availability(ctx context.Context, instanceTypes []string) (Availability, error)
}
