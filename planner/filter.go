package planner

import (
	"fmt"
	"slices"
	"strings"
)

// Reason says why an offer is not part of a placement.
type Reason string

// Rejection reasons, in the order the filters apply: an offer gets the
// first that fits.
const (
	ReasonCloud        Reason = "cloud"         // its cloud is not in clouds
	ReasonCapacityType Reason = "capacity_type" // its capacity type is not in capacity_types
	ReasonGPUModel     Reason = "gpu_model"     // its GPU model is not in gpu_models
	ReasonGPUMemory    Reason = "gpu_memory"    // its GPU memory is below min_gpu_memory_gib
	ReasonGPUsPerNode  Reason = "gpus_per_node" // its GPUs per node differ from gpus_per_node / min_gpus_per_node
	ReasonInterconnect Reason = "interconnect"  // its interconnect is below the one required
	ReasonResidency    Reason = "residency"     // its region is outside residency or inside deny_residency
	ReasonPriceCap     Reason = "price_cap"     // its price per GPU-hour is above max_price_per_gpu_hour
	ReasonSpotScore    Reason = "spot_score"    // a spot offer whose known spot placement score is below min_spot_score
	// ReasonBlockWindow: a capacity_block or calendar offer that starts
	// before start_after or ends before duration_hours have passed.
	ReasonBlockWindow Reason = "block_window"
	// ReasonMaxRun: a flex_start offer whose max_run_hours is below
	// duration_hours.
	ReasonMaxRun       Reason = "duration_exceeds_max_run"
	ReasonAvailability Reason = "availability" // no node can be obtained (max_nodes = 0)
	// ReasonReservationExhausted: a reservation with no free instance
	// (max_nodes = 0).
	ReasonReservationExhausted Reason = "reservation_exhausted"
	// ReasonQuota: a limit of the catalog (an account quota) leaves no room
	// for one node of the offer: its MaxGPUs is below the node's GPUs, or
	// the placement already takes the rest of it.
	ReasonQuota         Reason = "quota"
	ReasonGang          Reason = "gang"           // eligible, but not in the zone the gang was placed in
	ReasonSpread        Reason = "spread"         // cheaper than what was used, but its cloud is at max_share
	ReasonMoreExpensive Reason = "more_expensive" // eligible, but the placement is cheaper without it
)

// Reasons lists every rejection reason in filter order.
var Reasons = []Reason{
	ReasonCloud, ReasonCapacityType, ReasonGPUModel, ReasonGPUMemory, ReasonGPUsPerNode, ReasonInterconnect,
	ReasonResidency, ReasonPriceCap, ReasonSpotScore, ReasonBlockWindow, ReasonMaxRun, ReasonAvailability,
	ReasonReservationExhausted, ReasonQuota, ReasonGang, ReasonSpread, ReasonMoreExpensive,
}

// Rejection explains why one offer of the catalog is not used.
type Rejection struct {
	OfferID string `json:"offer"`
	Reason  Reason `json:"reason"`
	Detail  string `json:"detail"`
}

// offerFilter decides, before any solving, whether an offer may be used at
// all. Build one per request with newOfferFilter: it prepares the lists
// that rejection details quote.
type offerFilter struct {
	c   *Catalog
	req *Request
	q   *quotas // nil without limits

	clouds, capacityTypes, models, residency string
}

func newOfferFilter(c *Catalog, req *Request) *offerFilter {
	return &offerFilter{
		c: c, req: req, q: newQuotas(c),
		clouds:        strings.Join(req.Clouds, ", "),
		capacityTypes: strings.Join(stringsOf(req.CapacityTypes), ", "),
		models:        strings.Join(req.GPUModels, ", "),
		residency:     strings.Join(req.Residency, ", "),
	}
}

// check returns "" for an eligible offer, else the first reason it fails
// and a detail a person can act on.
func (f *offerFilter) check(o *Offer) (Reason, string) {
	req := f.req
	if len(req.Clouds) > 0 && !slices.Contains(req.Clouds, o.Cloud) {
		return ReasonCloud, fmt.Sprintf("cloud %s is not in clouds [%s]", o.Cloud, f.clouds)
	}
	if !slices.Contains(req.CapacityTypes, o.CapacityType) {
		return ReasonCapacityType, fmt.Sprintf("capacity type %s is not in capacity_types [%s]", o.CapacityType, f.capacityTypes)
	}
	if len(req.GPUModels) > 0 && !slices.Contains(req.GPUModels, o.GPUModel) {
		return ReasonGPUModel, fmt.Sprintf("GPU model %s is not in gpu_models [%s]", o.GPUModel, f.models)
	}
	if o.GPUMemoryGiB < req.MinGPUMemoryGiB {
		return ReasonGPUMemory, fmt.Sprintf("%g GiB per GPU is below min_gpu_memory_gib %g", o.GPUMemoryGiB, req.MinGPUMemoryGiB)
	}
	if req.GPUsPerNode > 0 && o.GPUCount != req.GPUsPerNode {
		return ReasonGPUsPerNode, fmt.Sprintf("%d GPUs per node, gpus_per_node is %d", o.GPUCount, req.GPUsPerNode)
	}
	if req.MinGPUsPerNode > 0 && o.GPUCount < req.MinGPUsPerNode {
		return ReasonGPUsPerNode, fmt.Sprintf("%d GPUs per node, min_gpus_per_node is %d", o.GPUCount, req.MinGPUsPerNode)
	}
	if req.Interconnect != "" && o.Interconnect.Rank() < req.Interconnect.Rank() {
		return ReasonInterconnect, fmt.Sprintf("interconnect %s is below %s", o.Interconnect, req.Interconnect)
	}
	if len(req.Residency) > 0 || len(req.DenyResidency) > 0 {
		region, _ := f.c.Region(o.Cloud, o.Region)
		if len(req.Residency) > 0 && !matchesResidency(region, req.Residency) {
			return ReasonResidency, fmt.Sprintf("%s is in %s (jurisdiction %s), not in residency [%s]",
				o.Site(), region.Country, region.Jurisdiction, f.residency)
		}
		if matchesResidency(region, req.DenyResidency) {
			return ReasonResidency, fmt.Sprintf("%s is in %s (jurisdiction %s), which deny_residency excludes",
				o.Site(), region.Country, region.Jurisdiction)
		}
	}
	if req.MaxPricePerGPUHour > 0 && o.PricePerGPUHour() > req.MaxPricePerGPUHour {
		return ReasonPriceCap, fmt.Sprintf("%.4f USD per GPU-hour is above max_price_per_gpu_hour %.4f", o.PricePerGPUHour(), req.MaxPricePerGPUHour)
	}
	if req.MinSpotScore > 0 && o.CapacityType == Spot && o.SpotScore > 0 && o.SpotScore < req.MinSpotScore {
		return ReasonSpotScore, fmt.Sprintf("spot placement score %d is below min_spot_score %d", o.SpotScore, req.MinSpotScore)
	}
	if r, d := windowCheck(o, req); r != "" {
		return r, d
	}
	if o.MaxNodes == 0 {
		if o.CapacityType == Reserved {
			return ReasonReservationExhausted, fmt.Sprintf("reservation %s has no free instance", o.ReservationID)
		}
		return ReasonAvailability, "no nodes obtainable (max_nodes = 0)"
	}
	if l := f.q.tooSmall(o); l != nil {
		return ReasonQuota, fmt.Sprintf("%s leaves no room for one %d-GPU node", l, o.GPUCount)
	}
	return "", ""
}

// eligible reports whether an offer passes every filter, without building
// a detail.
func (f *offerFilter) eligible(o *Offer) bool {
	req := f.req
	if len(req.Clouds) > 0 && !slices.Contains(req.Clouds, o.Cloud) ||
		!slices.Contains(req.CapacityTypes, o.CapacityType) ||
		len(req.GPUModels) > 0 && !slices.Contains(req.GPUModels, o.GPUModel) ||
		o.GPUMemoryGiB < req.MinGPUMemoryGiB ||
		req.GPUsPerNode > 0 && o.GPUCount != req.GPUsPerNode ||
		req.MinGPUsPerNode > 0 && o.GPUCount < req.MinGPUsPerNode ||
		req.Interconnect != "" && o.Interconnect.Rank() < req.Interconnect.Rank() ||
		req.MaxPricePerGPUHour > 0 && o.PricePerGPUHour() > req.MaxPricePerGPUHour ||
		req.MinSpotScore > 0 && o.CapacityType == Spot && o.SpotScore > 0 && o.SpotScore < req.MinSpotScore ||
		o.MaxNodes == 0 || f.q.tooSmall(o) != nil {
		return false
	}
	if o.CapacityType.Scheduled() && (req.StartAfter != "" || req.DurationHours > 0) {
		if r, _ := windowCheck(o, req); r != "" {
			return false
		}
	}
	if len(req.Residency) > 0 || len(req.DenyResidency) > 0 {
		region, _ := f.c.Region(o.Cloud, o.Region)
		if len(req.Residency) > 0 && !matchesResidency(region, req.Residency) || matchesResidency(region, req.DenyResidency) {
			return false
		}
	}
	return true
}

// windowCheck decides whether scheduled capacity fits the request's time
// window: a capacity_block or calendar offer must start at or after
// start_after and last at least duration_hours (it may start later than
// start_after: the placement then says when it starts); a flex_start
// offer's max_run_hours must be at least duration_hours. Without a window
// every offer fits, and other kinds always fit.
func windowCheck(o *Offer, req *Request) (Reason, string) {
	switch o.CapacityType {
	case CapacityBlock, Calendar:
		if req.StartAfter != "" && o.StartTime < req.StartAfter {
			return ReasonBlockWindow, fmt.Sprintf("%s %s starts at %s, before start_after %s", o.CapacityType, o.ReservationID, o.StartTime, req.StartAfter)
		}
		if req.DurationHours > 0 && o.DurationHours < req.DurationHours {
			return ReasonBlockWindow, fmt.Sprintf("%s %s lasts %d hours, duration_hours is %d", o.CapacityType, o.ReservationID, o.DurationHours, req.DurationHours)
		}
	case FlexStart:
		if req.DurationHours > 0 && o.MaxRunHours < req.DurationHours {
			return ReasonMaxRun, fmt.Sprintf("flex-start nodes run at most %d hours, duration_hours is %d", o.MaxRunHours, req.DurationHours)
		}
	}
	return "", ""
}
