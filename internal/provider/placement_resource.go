package provider

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/float64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/float64default"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

var (
	_ resource.Resource                   = &PlacementResource{}
	_ resource.ResourceWithConfigure      = &PlacementResource{}
	_ resource.ResourceWithModifyPlan     = &PlacementResource{}
	_ resource.ResourceWithImportState    = &PlacementResource{}
	_ resource.ResourceWithValidateConfig = &PlacementResource{}
)

// PlacementResource is gpufleet_placement: the planner's decision, made
// during plan so that it can be reviewed, and kept stable once applied.
type PlacementResource struct {
	data *providerData
}

// NewPlacementResource is the gpufleet_placement constructor.
func NewPlacementResource() resource.Resource { return &PlacementResource{} }

// Metadata names the resource.
func (r *PlacementResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_placement"
}

// Schema describes gpufleet_placement.
func (r *PlacementResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	attrs := resourceFilterAttributes()
	attrs["gpus"] = schema.Int64Attribute{Required: true, Description: "GPUs wanted; the placement has at least this many.",
		Validators: []validator.Int64{int64validator.AtLeast(1)}}
	attrs["spread"] = schema.SingleNestedAttribute{
		Optional:    true,
		Description: "How the GPUs are spread across clouds.",
		Attributes: map[string]schema.Attribute{
			"min_clouds": schema.Int64Attribute{Optional: true, Description: "Least number of distinct clouds with nodes.",
				Validators: []validator.Int64{int64validator.Between(1, int64(len(cloudNames)))}},
			"max_share": schema.Float64Attribute{Optional: true, Description: "Largest fraction of the placement's GPUs on any one cloud, in (0, 1].",
				Validators: []validator.Float64{openUnitInterval()}},
		},
	}
	attrs["gang"] = schema.BoolAttribute{Optional: true,
		Description: "Put every node in one zone (one region for clouds without zones), for tightly coupled training. Conflicts with a spread over several clouds."}
	attrs["fallbacks_in_sites"] = schema.BoolAttribute{Optional: true,
		Description: "Offer only the fallbacks the placement's own `sites` can host: in the region of an allocation and, for offers with a zone, " +
			"in a zone of an allocation of that site. That is what a `gpufleet_network` built from `sites` (subnets in their zones) and a " +
			"`gpufleet_cluster` per site (`for_each = sites`) can take, so failover is never offered a zone without a subnet or a region without a cluster. " +
			"`summary` names each fallback left out and why. Like the request, changing it plans again, but it does not replace the pools. " +
			"Unset or false: the cheapest fallbacks anywhere the request allows (clusters and subnets for them are then yours to create)."}
	attrs["keepers"] = schema.MapAttribute{ElementType: types.StringType, Optional: true,
		Description: "Arbitrary values; changing any of them makes the placement plan again with the current catalog."}
	attrs["replan_threshold_percent"] = schema.Float64Attribute{Optional: true, Computed: true,
		Default:     float64default.StaticFloat64(defaultReplanThresholdPercent),
		Description: fmt.Sprintf("When the catalog later offers a placement cheaper by more than this percentage, the plan shows a warning with the saving (never a diff). Default %d.", defaultReplanThresholdPercent),
		Validators:  []validator.Float64{float64validator.Between(0, 100)}}
	attrs["id"] = schema.StringAttribute{Computed: true,
		Description: "The request as written, `attribute=value` pairs joined by `;` (lists comma-separated): also the import ID."}
	attrs["allocations"] = schema.ListNestedAttribute{Computed: true,
		Description: "Offers used and their node counts, by cloud, region, zone, instance type and capacity type.",
		NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
			"key":            schema.StringAttribute{Computed: true, Description: "Offer ID: cloud/region/zone/instance_type/capacity_type, then /reservation_id for a reservation or block."},
			"site":           schema.StringAttribute{Computed: true, Description: "cloud/region, the key of `sites`."},
			"cloud":          schema.StringAttribute{Computed: true, Description: "Cloud."},
			"region":         schema.StringAttribute{Computed: true, Description: "Region."},
			"zone":           schema.StringAttribute{Computed: true, Description: "Zone; empty for clouds priced per region."},
			"instance_type":  schema.StringAttribute{Computed: true, Description: "Instance type, machine type or VM size."},
			"gpu_model":      schema.StringAttribute{Computed: true, Description: "GPU model."},
			"gpus_per_node":  schema.Int64Attribute{Computed: true, Description: "GPUs per node."},
			"gpu_memory_gib": schema.Float64Attribute{Computed: true, Description: "Memory per GPU in GiB."},
			"nodes":          schema.Int64Attribute{Computed: true, Description: "Nodes of this offer."},
			"gpus":           schema.Int64Attribute{Computed: true, Description: "GPUs of this allocation."},
			"capacity_type":  schema.StringAttribute{Computed: true, Description: "`on_demand`, `spot`, `reserved`, `capacity_block`, `flex_start` or `calendar`."},
			"price_usd_hour": schema.Float64Attribute{Computed: true, Description: "Price of one node for one hour, USD."},
			"hourly_usd":     schema.Float64Attribute{Computed: true, Description: "Price of the allocation for one hour, USD."},
			"interconnect":   schema.StringAttribute{Computed: true, Description: "GPU interconnect inside the node."},
			"fabric":         schema.StringAttribute{Computed: true, Description: "Node-to-node RDMA fabric, empty if none."},
			"reservation_id": schema.StringAttribute{Computed: true, Description: "The reservation, capacity block or calendar reservation used; empty for other capacity."},
			"reserved_gpus":  schema.Int64Attribute{Computed: true, Description: "GPUs of this allocation on reserved capacity (already paid for): all of `gpus` for `reserved`, else 0."},
			"block_usd":      schema.Float64Attribute{Computed: true, Description: "Upfront price of the capacity block, USD (the whole block, every node for its whole duration); 0 for other capacity."},
			"start_time":     schema.StringAttribute{Computed: true, Description: "When a capacity block or calendar reservation starts (RFC 3339, UTC); empty for capacity usable now."},
		}},
	}
	attrs["sites"] = schema.MapNestedAttribute{Computed: true,
		Description: "The placement per cloud/region, known at plan time: use it in `for_each` to create one cluster per site.",
		NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
			"cloud":       schema.StringAttribute{Computed: true, Description: "Cloud."},
			"region":      schema.StringAttribute{Computed: true, Description: "Region."},
			"zones":       schema.ListAttribute{Computed: true, ElementType: types.StringType, Description: "Zones used, sorted."},
			"gpus":        schema.Int64Attribute{Computed: true, Description: "GPUs in this site."},
			"nodes":       schema.Int64Attribute{Computed: true, Description: "Nodes in this site."},
			"hourly_usd":  schema.Float64Attribute{Computed: true, Description: "Hourly price of this site's nodes, USD."},
			"allocations": schema.ListAttribute{Computed: true, ElementType: types.StringType, Description: "Keys of the allocations in this site."},
		}},
	}
	attrs["fallbacks"] = schema.MapAttribute{Computed: true,
		ElementType: types.ListType{ElemType: types.ObjectType{AttrTypes: fallbackAttrTypes}},
		Description: "Per allocation key, up to three offers that can replace the whole allocation while every constraint still holds, cheapest first: `key`, `cloud`, `region`, `zone`, `instance_type`, `capacity_type`, `nodes`, `hourly_usd`."}
	attrs["total_gpus"] = schema.Int64Attribute{Computed: true, Description: "GPUs placed (at least `gpus`)."}
	attrs["total_nodes"] = schema.Int64Attribute{Computed: true, Description: "Nodes placed."}
	attrs["hourly_cost_usd"] = schema.Float64Attribute{Computed: true, Description: "Total price per hour, USD."}
	attrs["catalog_version"] = schema.StringAttribute{Computed: true, Description: "Version of the catalog the placement was made from."}
	attrs["rejected"] = schema.MapAttribute{Computed: true, ElementType: types.Int64Type,
		Description: "Offers not used, counted by reason (`residency`, `gpu_model`, `capacity_type`, `price_cap`, `availability`, `spread`, `more_expensive`, ...)."}
	attrs["reserved_gpus"] = schema.Int64Attribute{Computed: true, Description: "GPUs placed on reserved capacity (already paid for)."}
	attrs["paid_gpus"] = schema.Int64Attribute{Computed: true, Description: "GPUs placed on capacity bought for the placement: `total_gpus` - `reserved_gpus`."}
	attrs["block_cost_usd"] = schema.Float64Attribute{Computed: true, Description: "Upfront price of the capacity blocks used, USD; 0 when none. " +
		"`hourly_cost_usd` counts each block at its upfront price over its nodes and hours."}
	attrs["start_time"] = schema.StringAttribute{Computed: true, Description: "When all of the placement's capacity is usable: the latest start of the capacity blocks " +
		"and calendar reservations used (RFC 3339, UTC); empty when it is usable now."}
	attrs["summary"] = schema.StringAttribute{Computed: true,
		Description: "The decision in words: allocations, hourly cost, and why each enabled cloud without GPUs lost."}
	resp.Schema = schema.Schema{
		Description: "The cheapest placement of GPUs over the provider's catalog that meets every constraint, " +
			"computed during `terraform plan` so that it can be reviewed and used in `for_each`. " +
			"Once applied it changes only when its request or `keepers` change; a cheaper catalog only adds a warning.",
		Attributes: attrs,
	}
}

// Configure receives the provider's catalog.
func (r *PlacementResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = providerDataFrom(req.ProviderData, &resp.Diagnostics)
}

// ValidateConfig rejects combinations no placement can have.
func (r *PlacementResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var spread types.Object
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("spread"), &spread)...)
	if spread.IsUnknown() {
		return // decided once known (e.g. a module variable during validate)
	}
	var m placementModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || !m.Gang.ValueBool() || m.Spread == nil {
		return
	}
	if m.Spread.MinClouds.ValueInt64() > 1 || (!m.Spread.MaxShare.IsNull() && m.Spread.MaxShare.ValueFloat64() < 1) {
		resp.Diagnostics.AddAttributeError(path.Root("gang"), "Conflicting options",
			"gang = true puts every node in one zone of one cloud, so spread.min_clouds must be at most 1 and spread.max_share 1 or unset. Remove gang or the spread.")
	}
}

// ModifyPlan makes the decision at plan time.
func (r *PlacementResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return // destroy
	}
	var spread types.Object
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("spread"), &spread)...)
	if spread.IsUnknown() {
		return // the request is not known yet: decided at apply
	}
	var plan placementModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var state *placementModel
	if !req.State.Raw.IsNull() {
		state = &placementModel{}
		resp.Diagnostics.Append(req.State.Get(ctx, state)...)
		if resp.Diagnostics.HasError() {
			return
		}
	}
	r.decide(ctx, &plan, state, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

// decide fills plan's computed attributes: the prior decision when the
// request has not changed (with a warning if the catalog now has a cheaper
// placement), otherwise a new one.
func (r *PlacementResource) decide(ctx context.Context, plan, state *placementModel, diags *diag.Diagnostics) {
	if r.data == nil || !plan.requestKnown() {
		plan.setDecisionUnknown()
		return
	}
	for i, c := range stringList(ctx, plan.Clouds, diags) {
		if !slices.Contains(r.data.enabledClouds, c) {
			diags.AddAttributeError(path.Root("clouds").AtListIndex(i), "Cloud not enabled",
				fmt.Sprintf("%q is not enabled in the provider configuration, which enables %s. Add a %s {} block to the provider or remove it from clouds.",
					c, strings.Join(r.data.enabledClouds, ", "), c))
		}
	}
	if diags.HasError() {
		return
	}
	req := plan.request(ctx, diags)
	fresh, err := planner.Plan(r.data.catalog, req)
	if state != nil && sameRequest(plan, state) && !state.Allocations.IsNull() && !state.Allocations.IsUnknown() {
		plan.copyDecision(state)
		warnIfCheaper(plan, state, fresh, err, diags)
		return
	}
	if err != nil {
		addPlannerError(diags, err)
		return
	}
	plan.ID = types.StringValue(placementID(plan))
	plan.setDecision(ctx, fresh, r.data.catalog, r.data.enabledClouds, diags)
	tflog.Info(ctx, "planned GPU placement", map[string]any{
		"total_gpus": fresh.TotalGPUs, "hourly_usd": fresh.TotalHourlyUSD, "allocations": len(fresh.Allocations),
		"clouds": fresh.Clouds(), "catalog_version": fresh.CatalogVersion,
	})
}

// warnIfCheaper tells the user about a cheaper placement without changing
// the applied one.
func warnIfCheaper(plan, state *placementModel, fresh *planner.Placement, err error, diags *diag.Diagnostics) {
	current := state.HourlyCostUSD.ValueFloat64()
	if err != nil {
		diags.AddAttributeWarning(path.Root("gpus"), "Placement kept, but no longer feasible with the current catalog",
			fmt.Sprintf("The applied placement (%.2f USD/hour, catalog %s) is kept because its request has not changed, "+
				"but planning the same request now fails: %v", current, state.CatalogVersion.ValueString(), err))
		return
	}
	if current <= 0 {
		return
	}
	saving := (current - fresh.TotalHourlyUSD) / current * 100
	threshold := plan.ReplanThresholdPercent.ValueFloat64()
	if saving > threshold {
		diags.AddAttributeWarning(path.Root("keepers"), "A cheaper placement is available",
			fmt.Sprintf("With catalog %s the same request costs %.2f USD/hour instead of %.2f (%.1f%% less, above replan_threshold_percent %g). "+
				"The applied placement is kept; change keepers (or the request) to move to the cheaper one.",
				fresh.CatalogVersion, fresh.TotalHourlyUSD, current, saving, threshold))
	}
}

// Create records the planned decision.
func (r *PlacementResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	r.apply(ctx, req.Plan, &resp.State, &resp.Diagnostics)
}

// apply stores the plan, deciding first when the request was unknown at
// plan time.
func (r *PlacementResource) apply(ctx context.Context, planned tfsdk.Plan, state *tfsdk.State, diags *diag.Diagnostics) {
	var plan placementModel
	diags.Append(planned.Get(ctx, &plan)...)
	if diags.HasError() {
		return
	}
	if plan.Allocations.IsUnknown() {
		r.decide(ctx, &plan, nil, diags)
		if diags.HasError() {
			return
		}
	}
	diags.Append(state.Set(ctx, &plan)...)
}

// Read keeps the decision; after an import it makes it.
func (r *PlacementResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state placementModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if !state.Allocations.IsNull() {
		return
	}
	if state.ReplanThresholdPercent.IsNull() {
		state.ReplanThresholdPercent = types.Float64Value(defaultReplanThresholdPercent)
	}
	r.decide(ctx, &state, nil, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// Update records the planned decision.
func (r *PlacementResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	r.apply(ctx, req.Plan, &resp.State, &resp.Diagnostics)
}

// Delete forgets the decision; nothing exists outside the state.
func (r *PlacementResource) Delete(context.Context, resource.DeleteRequest, *resource.DeleteResponse) {
}

// ImportState takes the request from the ID (see placementID).
func (r *PlacementResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	m, err := parsePlacementID(req.ID)
	if err != nil {
		resp.Diagnostics.AddError("Invalid import ID", err.Error()+
			". Expected attribute=value pairs joined by ';', e.g. gpus=64;gpu_models=H100,H200;residency=EU;spread.min_clouds=2;spread.max_share=0.6")
		return
	}
	m.ID = types.StringValue(req.ID)
	m.setDecisionNull()
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// setDecisionNull clears the computed attributes (before Read decides).
func (m *placementModel) setDecisionNull() {
	m.Allocations = types.ListNull(types.ObjectType{AttrTypes: allocationAttrTypes})
	m.Sites = types.MapNull(types.ObjectType{AttrTypes: siteAttrTypes})
	m.Fallbacks = types.MapNull(types.ListType{ElemType: types.ObjectType{AttrTypes: fallbackAttrTypes}})
	m.TotalGPUs, m.TotalNodes = types.Int64Null(), types.Int64Null()
	m.HourlyCostUSD = types.Float64Null()
	m.CatalogVersion, m.Summary = types.StringNull(), types.StringNull()
	m.Rejected = types.MapNull(types.Int64Type)
	m.Keepers = types.MapNull(types.StringType)
	m.ReplanThresholdPercent = types.Float64Null()
}

// requestAttrs are the request's attributes by their names in a request ID
// (planner.RequestIDFields).
func (m *placementModel) requestAttrs() map[string]attr.Value {
	a := map[string]attr.Value{"gpus": m.GPUs, "gpu_models": m.GPUModels, "min_gpu_memory_gib": m.MinGPUMemoryGiB,
		"gpus_per_node": m.GPUsPerNode, "min_gpus_per_node": m.MinGPUsPerNode, "interconnect": m.Interconnect,
		"residency": m.Residency, "deny_residency": m.DenyResidency, "clouds": m.Clouds, "capacity_types": m.CapacityTypes,
		"max_price_per_gpu_hour": m.MaxPricePerGPUHour, "min_spot_score": m.MinSpotScore, "start_after": m.StartAfter,
		"duration_hours": m.DurationHours, "gang": m.Gang, "fallbacks_in_sites": m.FallbacksInSites}
	if m.Spread != nil {
		a["spread.min_clouds"], a["spread.max_share"] = m.Spread.MinClouds, m.Spread.MaxShare
	}
	return a
}

// placementID writes the request as written in the configuration
// (planner.FormatRequestID): the attributes set, in a fixed order.
func placementID(m *placementModel) string {
	attrs := m.requestAttrs()
	return planner.FormatRequestID(m.request(context.Background(), &diag.Diagnostics{}), func(field string) bool {
		v, ok := attrs[field]
		return ok && !v.IsNull()
	})
}

// parsePlacementID reads an ID written by placementID (or by hand) with
// planner.ParseRequestID; the attributes it does not name are null.
func parsePlacementID(id string) (placementModel, error) {
	r, set, err := planner.ParseRequestID(id)
	str := func(f, v string) types.String {
		if !set[f] {
			return types.StringNull()
		}
		return types.StringValue(v)
	}
	i64 := func(f string, v int) types.Int64 {
		if !set[f] {
			return types.Int64Null()
		}
		return types.Int64Value(int64(v))
	}
	f64 := func(f string, v float64) types.Float64 {
		if !set[f] {
			return types.Float64Null()
		}
		return types.Float64Value(v)
	}
	list := func(f string, v []string) types.List {
		if !set[f] {
			return types.ListNull(types.StringType)
		}
		l, _ := types.ListValueFrom(context.Background(), types.StringType, v) // strings always convert
		return l
	}
	boolean := func(f string, v bool) types.Bool {
		if !set[f] {
			return types.BoolNull()
		}
		return types.BoolValue(v)
	}
	m := placementModel{filterModel: filterModel{
		GPUModels: list("gpu_models", r.GPUModels), MinGPUMemoryGiB: f64("min_gpu_memory_gib", r.MinGPUMemoryGiB),
		GPUsPerNode: i64("gpus_per_node", r.GPUsPerNode), MinGPUsPerNode: i64("min_gpus_per_node", r.MinGPUsPerNode),
		Interconnect: str("interconnect", string(r.Interconnect)), Residency: list("residency", r.Residency),
		DenyResidency: list("deny_residency", r.DenyResidency), Clouds: list("clouds", r.Clouds),
		CapacityTypes: list("capacity_types", stringsOf(r.CapacityTypes)), MaxPricePerGPUHour: f64("max_price_per_gpu_hour", r.MaxPricePerGPUHour),
		MinSpotScore: i64("min_spot_score", r.MinSpotScore), StartAfter: str("start_after", r.StartAfter),
		DurationHours: i64("duration_hours", r.DurationHours),
	}, GPUs: i64("gpus", r.GPUs), Gang: boolean("gang", r.Gang), FallbacksInSites: boolean("fallbacks_in_sites", r.FallbacksInSites)}
	if set["spread.min_clouds"] || set["spread.max_share"] {
		m.Spread = &spreadModel{MinClouds: i64("spread.min_clouds", r.Spread.MinClouds), MaxShare: f64("spread.max_share", r.Spread.MaxShare)}
	}
	return m, err
}
