package provider

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// placementModel is the state of gpufleet_placement.
type placementModel struct {
	filterModel
	GPUs                   types.Int64   `tfsdk:"gpus"`
	Spread                 *spreadModel  `tfsdk:"spread"`
	Gang                   types.Bool    `tfsdk:"gang"`
	FallbacksInSites       types.Bool    `tfsdk:"fallbacks_in_sites"`
	Keepers                types.Map     `tfsdk:"keepers"`
	ReplanThresholdPercent types.Float64 `tfsdk:"replan_threshold_percent"`

	ID             types.String  `tfsdk:"id"`
	Allocations    types.List    `tfsdk:"allocations"`
	Sites          types.Map     `tfsdk:"sites"`
	Fallbacks      types.Map     `tfsdk:"fallbacks"`
	TotalGPUs      types.Int64   `tfsdk:"total_gpus"`
	TotalNodes     types.Int64   `tfsdk:"total_nodes"`
	HourlyCostUSD  types.Float64 `tfsdk:"hourly_cost_usd"`
	CatalogVersion types.String  `tfsdk:"catalog_version"`
	Rejected       types.Map     `tfsdk:"rejected"`
	Summary        types.String  `tfsdk:"summary"`
	ReservedGPUs   types.Int64   `tfsdk:"reserved_gpus"`
	PaidGPUs       types.Int64   `tfsdk:"paid_gpus"`
	BlockCostUSD   types.Float64 `tfsdk:"block_cost_usd"`
	StartTime      types.String  `tfsdk:"start_time"`
}

type spreadModel struct {
	MinClouds types.Int64   `tfsdk:"min_clouds"`
	MaxShare  types.Float64 `tfsdk:"max_share"`
}

// defaultReplanThresholdPercent is the saving below which a cheaper
// placement is not even mentioned.
const defaultReplanThresholdPercent = 5

// request converts the configuration to a planner request.
func (m *placementModel) request(ctx context.Context, diags *diag.Diagnostics) planner.Request {
	r := m.filterModel.request(ctx, diags)
	r.GPUs = int(m.GPUs.ValueInt64())
	if m.Spread != nil {
		r.Spread = planner.Spread{MinClouds: int(m.Spread.MinClouds.ValueInt64()), MaxShare: m.Spread.MaxShare.ValueFloat64()}
	}
	r.Gang = m.Gang.ValueBool()
	r.FallbacksInSites = m.FallbacksInSites.ValueBool()
	return r
}

// requestKnown reports whether every request attribute is known.
func (m *placementModel) requestKnown() bool {
	vals := []attr.Value{m.GPUs, m.GPUModels, m.MinGPUMemoryGiB, m.GPUsPerNode, m.MinGPUsPerNode, m.Interconnect,
		m.Residency, m.DenyResidency, m.Clouds, m.CapacityTypes, m.MaxPricePerGPUHour, m.MinSpotScore, m.Gang, m.FallbacksInSites, m.Keepers,
		m.StartAfter, m.DurationHours}
	if m.Spread != nil {
		vals = append(vals, m.Spread.MinClouds, m.Spread.MaxShare)
	}
	for _, v := range vals {
		if v.IsUnknown() {
			return false
		}
	}
	return true
}

// sameRequest reports whether two models ask for the same thing: the
// request attributes and keepers, as written.
func sameRequest(a, b *placementModel) bool {
	return a.GPUs.Equal(b.GPUs) && a.GPUModels.Equal(b.GPUModels) && a.MinGPUMemoryGiB.Equal(b.MinGPUMemoryGiB) &&
		a.GPUsPerNode.Equal(b.GPUsPerNode) && a.MinGPUsPerNode.Equal(b.MinGPUsPerNode) &&
		a.Interconnect.Equal(b.Interconnect) && a.Residency.Equal(b.Residency) && a.DenyResidency.Equal(b.DenyResidency) &&
		a.Clouds.Equal(b.Clouds) && a.CapacityTypes.Equal(b.CapacityTypes) && a.MaxPricePerGPUHour.Equal(b.MaxPricePerGPUHour) && a.MinSpotScore.Equal(b.MinSpotScore) &&
		spreadEqual(a.Spread, b.Spread) && a.Gang.Equal(b.Gang) && a.FallbacksInSites.Equal(b.FallbacksInSites) && a.Keepers.Equal(b.Keepers) &&
		a.StartAfter.Equal(b.StartAfter) && a.DurationHours.Equal(b.DurationHours)
}

func spreadEqual(a, b *spreadModel) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.MinClouds.Equal(b.MinClouds) && a.MaxShare.Equal(b.MaxShare)
}

// copyDecision copies the computed decision from one model to another.
func (m *placementModel) copyDecision(from *placementModel) {
	m.ID, m.Allocations, m.Sites, m.Fallbacks = from.ID, from.Allocations, from.Sites, from.Fallbacks
	m.TotalGPUs, m.TotalNodes, m.HourlyCostUSD = from.TotalGPUs, from.TotalNodes, from.HourlyCostUSD
	m.CatalogVersion, m.Rejected, m.Summary = from.CatalogVersion, from.Rejected, from.Summary
	m.ReservedGPUs, m.PaidGPUs, m.BlockCostUSD, m.StartTime = from.ReservedGPUs, from.PaidGPUs, from.BlockCostUSD, from.StartTime
}

// setDecisionUnknown marks every computed attribute unknown (a request that
// depends on values known only at apply).
func (m *placementModel) setDecisionUnknown() {
	m.ID = types.StringUnknown()
	m.Allocations = types.ListUnknown(types.ObjectType{AttrTypes: allocationAttrTypes})
	m.Sites = types.MapUnknown(types.ObjectType{AttrTypes: siteAttrTypes})
	m.Fallbacks = types.MapUnknown(types.ListType{ElemType: types.ObjectType{AttrTypes: fallbackAttrTypes}})
	m.TotalGPUs, m.TotalNodes = types.Int64Unknown(), types.Int64Unknown()
	m.HourlyCostUSD = types.Float64Unknown()
	m.CatalogVersion, m.Summary = types.StringUnknown(), types.StringUnknown()
	m.Rejected = types.MapUnknown(types.Int64Type)
	m.ReservedGPUs, m.PaidGPUs = types.Int64Unknown(), types.Int64Unknown()
	m.BlockCostUSD, m.StartTime = types.Float64Unknown(), types.StringUnknown()
}

// poolAllocationModel is an allocation as gpufleet_pool takes it: the
// attributes allocations had before reservations and scheduled capacity,
// so that pool states written before them still read. cty drops the
// placement's extra attributes when `allocations =
// gpufleet_placement.x.allocations` is passed to a pool.
type poolAllocationModel struct {
	Key          string  `tfsdk:"key"`
	Site         string  `tfsdk:"site"`
	Cloud        string  `tfsdk:"cloud"`
	Region       string  `tfsdk:"region"`
	Zone         string  `tfsdk:"zone"`
	InstanceType string  `tfsdk:"instance_type"`
	GPUModel     string  `tfsdk:"gpu_model"`
	GPUsPerNode  int64   `tfsdk:"gpus_per_node"`
	GPUMemoryGiB float64 `tfsdk:"gpu_memory_gib"`
	Nodes        int64   `tfsdk:"nodes"`
	GPUs         int64   `tfsdk:"gpus"`
	CapacityType string  `tfsdk:"capacity_type"`
	PriceUSDHour float64 `tfsdk:"price_usd_hour"`
	HourlyUSD    float64 `tfsdk:"hourly_usd"`
	Interconnect string  `tfsdk:"interconnect"`
	Fabric       string  `tfsdk:"fabric"`
}

// allocationModel is one of gpufleet_placement.allocations.
type allocationModel struct {
	poolAllocationModel
	// Reservations and scheduled capacity: empty or 0 for on-demand and
	// spot.
	ReservationID string  `tfsdk:"reservation_id"`
	ReservedGPUs  int64   `tfsdk:"reserved_gpus"`
	BlockUSD      float64 `tfsdk:"block_usd"`
	StartTime     string  `tfsdk:"start_time"`
}

// poolAllocationAttrTypes are the attributes of poolAllocationModel.
var poolAllocationAttrTypes = map[string]attr.Type{
	"key": types.StringType, "site": types.StringType, "cloud": types.StringType, "region": types.StringType,
	"zone": types.StringType, "instance_type": types.StringType, "gpu_model": types.StringType,
	"gpus_per_node": types.Int64Type, "gpu_memory_gib": types.Float64Type, "nodes": types.Int64Type,
	"gpus": types.Int64Type, "capacity_type": types.StringType, "price_usd_hour": types.Float64Type,
	"hourly_usd": types.Float64Type, "interconnect": types.StringType, "fabric": types.StringType,
}

// allocationAttrTypes are the attributes of allocationModel.
var allocationAttrTypes = func() map[string]attr.Type {
	out := maps.Clone(poolAllocationAttrTypes)
	out["reservation_id"], out["reserved_gpus"], out["block_usd"], out["start_time"] = types.StringType, types.Int64Type, types.Float64Type, types.StringType
	return out
}()

type siteModel struct {
	Cloud       string   `tfsdk:"cloud"`
	Region      string   `tfsdk:"region"`
	Zones       []string `tfsdk:"zones"`
	GPUs        int64    `tfsdk:"gpus"`
	Nodes       int64    `tfsdk:"nodes"`
	HourlyUSD   float64  `tfsdk:"hourly_usd"`
	Allocations []string `tfsdk:"allocations"`
}

var siteAttrTypes = map[string]attr.Type{
	"cloud": types.StringType, "region": types.StringType, "zones": types.ListType{ElemType: types.StringType},
	"gpus": types.Int64Type, "nodes": types.Int64Type, "hourly_usd": types.Float64Type,
	"allocations": types.ListType{ElemType: types.StringType},
}

type fallbackModel struct {
	Key          string  `tfsdk:"key"`
	Cloud        string  `tfsdk:"cloud"`
	Region       string  `tfsdk:"region"`
	Zone         string  `tfsdk:"zone"`
	InstanceType string  `tfsdk:"instance_type"`
	CapacityType string  `tfsdk:"capacity_type"`
	Nodes        int64   `tfsdk:"nodes"`
	HourlyUSD    float64 `tfsdk:"hourly_usd"`
}

var fallbackAttrTypes = map[string]attr.Type{
	"key": types.StringType, "cloud": types.StringType, "region": types.StringType, "zone": types.StringType,
	"instance_type": types.StringType, "capacity_type": types.StringType, "nodes": types.Int64Type,
	"hourly_usd": types.Float64Type,
}

// setDecision fills the computed attributes from a placement.
func (m *placementModel) setDecision(ctx context.Context, p *planner.Placement, cat *planner.Catalog, enabled []string, diags *diag.Diagnostics) {
	allocs := make([]allocationModel, len(p.Allocations))
	sites := map[string]*siteModel{}
	fallbacks := map[string][]fallbackModel{}
	for i, a := range p.Allocations {
		o := a.Offer
		allocs[i] = allocationModel{poolAllocationModel: poolAllocationModel{
			Key: o.ID(), Site: o.Site(), Cloud: o.Cloud, Region: o.Region, Zone: o.Zone, InstanceType: o.InstanceType,
			GPUModel: o.GPUModel, GPUsPerNode: int64(o.GPUCount), GPUMemoryGiB: o.GPUMemoryGiB, Nodes: int64(a.Nodes),
			GPUs: int64(a.GPUs), CapacityType: string(o.CapacityType), PriceUSDHour: o.PriceUSDHour, HourlyUSD: a.HourlyUSD,
			Interconnect: string(o.Interconnect), Fabric: o.Fabric,
		}, ReservationID: o.ReservationID, BlockUSD: a.BlockUSD, StartTime: a.StartTime,
		}
		if o.CapacityType == planner.Reserved {
			allocs[i].ReservedGPUs = int64(a.GPUs)
		}
		s := sites[o.Site()]
		if s == nil {
			s = &siteModel{Cloud: o.Cloud, Region: o.Region, Zones: []string{}}
			sites[o.Site()] = s
		}
		if o.Zone != "" && !slices.Contains(s.Zones, o.Zone) {
			s.Zones = append(s.Zones, o.Zone)
			sort.Strings(s.Zones)
		}
		s.GPUs += int64(a.GPUs)
		s.Nodes += int64(a.Nodes)
		s.HourlyUSD += a.HourlyUSD
		s.Allocations = append(s.Allocations, o.ID())
		fbs := make([]fallbackModel, len(a.Fallbacks))
		for j, f := range a.Fallbacks {
			fbs[j] = fallbackModel{Key: f.Offer.ID(), Cloud: f.Offer.Cloud, Region: f.Offer.Region, Zone: f.Offer.Zone,
				InstanceType: f.Offer.InstanceType, CapacityType: string(f.Offer.CapacityType), Nodes: int64(f.Nodes), HourlyUSD: f.HourlyUSD}
		}
		fallbacks[o.ID()] = fbs
	}
	siteValues := map[string]siteModel{}
	for k, s := range sites {
		s.HourlyUSD = roundUSD(s.HourlyUSD)
		siteValues[k] = *s
	}
	rejected := map[string]int64{}
	for r, n := range p.RejectedCounts() {
		rejected[string(r)] = int64(n)
	}
	var d diag.Diagnostics
	m.Allocations, d = types.ListValueFrom(ctx, types.ObjectType{AttrTypes: allocationAttrTypes}, allocs)
	diags.Append(d...)
	m.Sites, d = types.MapValueFrom(ctx, types.ObjectType{AttrTypes: siteAttrTypes}, siteValues)
	diags.Append(d...)
	m.Fallbacks, d = types.MapValueFrom(ctx, types.ListType{ElemType: types.ObjectType{AttrTypes: fallbackAttrTypes}}, fallbacks)
	diags.Append(d...)
	m.Rejected, d = types.MapValueFrom(ctx, types.Int64Type, rejected)
	diags.Append(d...)
	m.TotalGPUs = types.Int64Value(int64(p.TotalGPUs))
	m.TotalNodes = types.Int64Value(int64(p.TotalNodes))
	m.HourlyCostUSD = types.Float64Value(p.TotalHourlyUSD)
	m.CatalogVersion = types.StringValue(p.CatalogVersion)
	m.Summary = types.StringValue(summarize(p, cat, enabled))
	m.ReservedGPUs = types.Int64Value(int64(p.ReservedGPUs))
	m.PaidGPUs = types.Int64Value(int64(p.TotalGPUs - p.ReservedGPUs))
	m.BlockCostUSD = types.Float64Value(p.TotalBlockUSD)
	m.StartTime = types.StringValue(p.StartTime)
}

func roundUSD(v float64) float64 { return roundDecimals(v, 6) }

// roundDecimals rounds v to digits decimals, as printed.
func roundDecimals(v float64, digits int) float64 {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', digits, 64), 64)
	return f
}

// summarize explains the placement for people: what was chosen, its cost,
// and why each enabled cloud without GPUs lost.
func summarize(p *planner.Placement, cat *planner.Catalog, enabled []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d GPUs on %d nodes for %.2f USD/hour (catalog %s):\n", p.TotalGPUs, p.TotalNodes, p.TotalHourlyUSD, p.CatalogVersion)
	for _, a := range p.Allocations {
		fmt.Fprintf(&b, "  %s: %d x %s (%d %s, %s) = %.2f USD/hour%s\n", a.Offer.Site(), a.Nodes, a.Offer.InstanceType,
			a.Offer.GPUCount, a.Offer.GPUModel, a.Offer.CapacityType, a.HourlyUSD, planner.KindNote(&a))
	}
	if note := planner.CapacityNote(p); note != "" {
		fmt.Fprintf(&b, "  %s\n", note)
	}
	used := p.GPUsByCloud()
	byID := make(map[string]*planner.Offer, len(cat.Offers))
	for i := range cat.Offers {
		byID[cat.Offers[i].ID()] = &cat.Offers[i]
	}
	var dearest float64
	for _, a := range p.Allocations {
		dearest = max(dearest, a.Offer.PricePerGPUHour())
	}
	for _, cloud := range enabled {
		if used[cloud] > 0 {
			continue
		}
		fmt.Fprintf(&b, "  %s: %s\n", cloud, whyCloudLost(p, byID, cloud, dearest))
	}
	if note := p.AbsentGPUModelsNote(); note != "" {
		fmt.Fprintf(&b, "  %s\n", note)
	}
	for _, a := range p.Allocations {
		if len(a.DroppedFallbacks) == 0 {
			continue
		}
		fmt.Fprintf(&b, "  fallbacks of %s left out (fallbacks_in_sites):\n", a.Offer.ID())
		for _, d := range a.DroppedFallbacks {
			fmt.Fprintf(&b, "    %s: %s\n", d.Offer.ID(), d.Reason)
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

// whyCloudLost names the filter that removed most of a cloud's offers, or,
// when some passed every filter, how its cheapest eligible offer compares.
func whyCloudLost(p *planner.Placement, byID map[string]*planner.Offer, cloud string, dearest float64) string {
	counts := map[planner.Reason]int{}
	var cheapest *planner.Offer
	for _, r := range p.Rejected {
		if !strings.HasPrefix(r.OfferID, cloud+"/") {
			continue
		}
		counts[r.Reason]++
		if r.Reason == planner.ReasonMoreExpensive || r.Reason == planner.ReasonSpread || r.Reason == planner.ReasonGang {
			if o := byID[r.OfferID]; o != nil && (cheapest == nil || o.PricePerGPUHour() < cheapest.PricePerGPUHour()) {
				cheapest = o
			}
		}
	}
	if cheapest != nil {
		return fmt.Sprintf("not used: its cheapest eligible offer, %s in %s, costs %.4f USD per GPU-hour against %.4f for the dearest GPU used",
			cheapest.InstanceType, cheapest.Region, cheapest.PricePerGPUHour(), dearest)
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	if total == 0 {
		return "not used: the catalog has no offers for it"
	}
	var parts []string
	for _, r := range planner.Reasons {
		if counts[r] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", r, counts[r]))
		}
	}
	return fmt.Sprintf("not used: none of its %d offers meets the request (rejected by %s)", total, strings.Join(parts, ", "))
}
