package provider

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/bootstrap"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/fleet"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/gpuhealth"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

var (
	_ resource.Resource                = &PoolResource{}
	_ resource.ResourceWithConfigure   = &PoolResource{}
	_ resource.ResourceWithModifyPlan  = &PoolResource{}
	_ resource.ResourceWithImportState = &PoolResource{}
)

// replaceUnlessImported replaces the resource when the placement's request
// changes, but not when the prior state has none (just imported: the pools
// that exist are then adopted and reconciled in place), nor when only
// fallbacks_in_sites changed, which changes fallbacks, not allocations.
func replaceUnlessImported() planmodifier.String {
	return stringplanmodifier.RequiresReplaceIf(func(_ context.Context, req planmodifier.StringRequest, resp *stringplanmodifier.RequiresReplaceIfFuncResponse) {
		resp.RequiresReplace = !req.StateValue.IsNull() && !sameAllocationRequest(req.StateValue.ValueString(), req.PlanValue.ValueString())
	}, "A new placement replaces the pools.", "A new placement replaces the pools.")
}

// sameAllocationRequest reports whether two placement IDs ask for the same
// allocations: equal but for fallbacks_in_sites.
func sameAllocationRequest(a, b string) bool {
	ra, setA, errA := planner.ParseRequestID(a)
	rb, setB, errB := planner.ParseRequestID(b)
	if errA != nil || errB != nil {
		return a == b
	}
	allocation := func(set map[string]bool) func(string) bool {
		return func(f string) bool { return set[f] && f != "fallbacks_in_sites" }
	}
	return planner.FormatRequestID(ra, allocation(setA)) == planner.FormatRequestID(rb, allocation(setB))
}

// PoolResource is gpufleet_pool: the GPU node pools of every allocation of
// a placement, in the clusters of their sites.
type PoolResource struct {
	data *providerData
}

// NewPoolResource is the gpufleet_pool constructor.
func NewPoolResource() resource.Resource { return &PoolResource{} }

type poolModel struct {
	Placement   types.String    `tfsdk:"placement"`
	Allocations types.List      `tfsdk:"allocations"`
	Fallbacks   types.Map       `tfsdk:"fallbacks"`
	Clusters    types.Map       `tfsdk:"clusters"`
	Labels      types.Map       `tfsdk:"labels"`
	Taints      []taintModel    `tfsdk:"taints"`
	Bootstrap   *bootstrapModel `tfsdk:"bootstrap"`
	Failover    types.Bool      `tfsdk:"failover"`
	// PurchaseCapacityBlocks allows the apply to buy capacity block
	// offerings.
	PurchaseCapacityBlocks types.Bool    `tfsdk:"purchase_capacity_blocks"`
	ID                     types.String  `tfsdk:"id"`
	Pools                  types.Map     `tfsdk:"pools"`
	TotalNodes             types.Int64   `tfsdk:"total_nodes"`
	HourlyCostUSD          types.Float64 `tfsdk:"hourly_cost_usd"`
	// Validation.
	WaitForValidation   types.Bool   `tfsdk:"wait_for_validation"`
	ValidationTimeout   types.String `tfsdk:"validation_timeout"`
	MaxNodeReplacements types.Int64  `tfsdk:"max_node_replacements"`
	ValidatedGPUs       types.Int64  `tfsdk:"validated_gpus"`
	TotalGPUs           types.Int64  `tfsdk:"total_gpus"`
	ValidationFailures  types.List   `tfsdk:"validation_failures"`
}

// validationFailureModel is one entry of validation_failures.
type validationFailureModel struct {
	Allocation string `tfsdk:"allocation"`
	Pool       string `tfsdk:"pool"`
	Node       string `tfsdk:"node"`
	GPU        int64  `tfsdk:"gpu"`
	Check      string `tfsdk:"check"`
	Reason     string `tfsdk:"reason"`
	Replaced   bool   `tfsdk:"replaced"`
}

var validationFailureAttrTypes = map[string]attr.Type{
	"allocation": types.StringType, "pool": types.StringType, "node": types.StringType, "gpu": types.Int64Type,
	"check": types.StringType, "reason": types.StringType, "replaced": types.BoolType,
}

// DefaultValidationTimeout bounds the wait for a pool's validated nodes.
const DefaultValidationTimeout = "20m"

type taintModel struct {
	Key    types.String `tfsdk:"key"`
	Value  types.String `tfsdk:"value"`
	Effect types.String `tfsdk:"effect"`
}

type bootstrapModel struct {
	NVMLValidation   types.Bool   `tfsdk:"nvml_validation"`
	MinDriverVersion types.String `tfsdk:"min_driver_version"`
	NodecheckURL     types.String `tfsdk:"nodecheck_url"`
	NodecheckSHA256  types.String `tfsdk:"nodecheck_sha256"`
	FailAction       types.String `tfsdk:"fail_action"`
}

// poolStateModel is one node pool in the `pools` attribute.
type poolStateModel struct {
	Offer        string  `tfsdk:"offer"`
	Cloud        string  `tfsdk:"cloud"`
	Region       string  `tfsdk:"region"`
	Zone         string  `tfsdk:"zone"`
	Cluster      string  `tfsdk:"cluster"`
	Name         string  `tfsdk:"name"`
	InstanceType string  `tfsdk:"instance_type"`
	CapacityType string  `tfsdk:"capacity_type"`
	Nodes        int64   `tfsdk:"nodes"`
	ReadyNodes   int64   `tfsdk:"ready_nodes"`
	GPUsPerNode  int64   `tfsdk:"gpus_per_node"`
	Status       string  `tfsdk:"status"`
	FailedOver   bool    `tfsdk:"failed_over"`
	HourlyUSD    float64 `tfsdk:"hourly_usd"`
	Validated    int64   `tfsdk:"validated_nodes"`
	// ReservationID is the reservation, capacity block or calendar
	// reservation the pool consumes; null for on-demand, spot and
	// flex-start pools, and in state written before it existed.
	ReservationID types.String `tfsdk:"reservation_id"`
}

var poolStateAttrTypes = map[string]attr.Type{
	"offer": types.StringType, "cloud": types.StringType, "region": types.StringType, "zone": types.StringType,
	"cluster": types.StringType, "name": types.StringType, "instance_type": types.StringType, "capacity_type": types.StringType,
	"nodes": types.Int64Type, "ready_nodes": types.Int64Type, "gpus_per_node": types.Int64Type, "status": types.StringType,
	"failed_over": types.BoolType, "hourly_usd": types.Float64Type, "validated_nodes": types.Int64Type,
	"reservation_id": types.StringType,
}

// Metadata names the resource.
func (r *PoolResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_pool"
}

// allocationAttributes mirrors gpufleet_placement.allocations so that the
// placement's value can be passed as is.
func allocationAttributes() map[string]schema.Attribute {
	out := map[string]schema.Attribute{}
	for name, t := range poolAllocationAttrTypes {
		switch t {
		case types.StringType:
			out[name] = schema.StringAttribute{Required: true, Description: "See gpufleet_placement.allocations."}
		case types.Int64Type:
			out[name] = schema.Int64Attribute{Required: true, Description: "See gpufleet_placement.allocations."}
		case types.Float64Type:
			out[name] = schema.Float64Attribute{Required: true, Description: "See gpufleet_placement.allocations."}
		}
	}
	return out
}

// Schema describes gpufleet_pool.
func (r *PoolResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "GPU node pools for every allocation of a placement, created concurrently in the clusters of their sites. " +
			"Nodes start tainted `" + gpuhealth.Taint + "` until `gpufleet-nodecheck` validates their GPUs. " +
			"On a capacity or quota error an allocation moves to its next fallback that has a cluster (with `failover`); " +
			"nothing is left in the cloud that the state does not know.",
		Attributes: map[string]schema.Attribute{
			"placement": schema.StringAttribute{Required: true, PlanModifiers: []planmodifier.String{replaceUnlessImported()},
				Description: "`gpufleet_placement.<name>.id`: the request, whose spread rules every failover keeps."},
			"allocations": schema.ListNestedAttribute{Required: true,
				Description:  "`gpufleet_placement.<name>.allocations`.",
				NestedObject: schema.NestedAttributeObject{Attributes: allocationAttributes()}},
			"fallbacks": schema.MapAttribute{Optional: true,
				ElementType: types.ListType{ElemType: types.ObjectType{AttrTypes: fallbackAttrTypes}},
				Description: "`gpufleet_placement.<name>.fallbacks`: where an allocation may go when its offer has no capacity."},
			"clusters": schema.MapAttribute{Required: true, ElementType: types.StringType,
				Description: "Cluster IDs by site: `{ for k, c in gpufleet_cluster.site : k => c.id }`."},
			"labels": schema.MapAttribute{Optional: true, ElementType: types.StringType, Description: "Kubernetes labels of every node (changed in place)."},
			"taints": schema.ListNestedAttribute{Optional: true, Description: "Extra Kubernetes taints of every node (changed in place).",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"key":   schema.StringAttribute{Required: true, Description: "Taint key."},
					"value": schema.StringAttribute{Optional: true, Description: "Taint value."},
					"effect": schema.StringAttribute{Required: true, Description: "NoSchedule, PreferNoSchedule or NoExecute.",
						Validators: []validator.String{stringvalidator.OneOf("NoSchedule", "PreferNoSchedule", "NoExecute")}},
				}}},
			"bootstrap": schema.SingleNestedAttribute{Optional: true, Description: "Node validation; see gpufleet_node_bootstrap.",
				Attributes: map[string]schema.Attribute{
					"nvml_validation":    schema.BoolAttribute{Optional: true, Description: "Register nodes with the unvalidated taint. Default true."},
					"min_driver_version": schema.StringAttribute{Optional: true, Description: "Oldest acceptable NVIDIA driver."},
					"nodecheck_url":      schema.StringAttribute{Optional: true, Description: "HTTPS URL of gpufleet-nodecheck for EKS boot-time checks."},
					"nodecheck_sha256":   schema.StringAttribute{Optional: true, Description: "Its SHA-256."},
					"fail_action": schema.StringAttribute{Optional: true, Description: "`taint` or `cordon`.",
						Validators: []validator.String{stringvalidator.OneOf("taint", "cordon")}},
				}},
			"failover": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(true),
				Description: "Move an allocation to its fallbacks on capacity or quota errors. With false every attribute is known at plan time and such an error fails the apply."},
			"purchase_capacity_blocks": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				Description: "Allow the apply to buy the AWS Capacity Blocks for ML offerings that allocations (or, with `failover`, their fallbacks) are on: " +
					"the block's whole upfront price is charged when it is bought, and a purchase cannot be cancelled or refunded, even if the node pool is then deleted or fails. " +
					"Without it an allocation on a block not bought yet is a plan-time error that says what it would cost. A retried apply buys nothing twice. " +
					"A bought block's reservation ID is known only after apply, so `pools` is then unknown in the plan even with `failover = false`. Default false."},
			"id": schema.StringAttribute{Computed: true, PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
				Description: "The placement ID."},
			"pools": schema.MapAttribute{Computed: true, ElementType: types.ObjectType{AttrTypes: poolStateAttrTypes},
				Description: "Node pools by allocation key: where each is (a fallback after failover), its status and node counts, and `reservation_id`, " +
					"the reservation, capacity block or calendar reservation it consumes (null for on-demand, spot and flex-start pools)."},
			"total_nodes":     schema.Int64Attribute{Computed: true, Description: "Nodes requested over all pools."},
			"hourly_cost_usd": schema.Float64Attribute{Computed: true, Description: "Hourly price of the pools as placed."},
			"wait_for_validation": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(true),
				Description: "Creation and scale-out complete only when every new node is Ready and has passed GPU validation (read from the cluster's Kubernetes API). " +
					"A node that fails is replaced (the cloud's instance removed so the group replaces it, `max_node_replacements` times per pool); an allocation whose nodes keep failing " +
					"fails over like a capacity error. Default true."},
			"validation_timeout": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(DefaultValidationTimeout),
				Validators:  []validator.String{durationValidator()},
				Description: "How long one pool may take to have all its nodes validated (Go duration). Default " + DefaultValidationTimeout + "."},
			"max_node_replacements": schema.Int64Attribute{Optional: true, Computed: true, Default: int64default.StaticInt64(2),
				Validators:  []validator.Int64{int64validator.Between(0, 100)},
				Description: "Nodes of one pool replaced for failing validation before its offer counts as bad hardware. Default 2."},
			"validated_gpus": schema.Int64Attribute{Computed: true, Description: "GPUs on nodes that passed validation and can take work."},
			"total_gpus":     schema.Int64Attribute{Computed: true, Description: "GPUs over all pools."},
			"validation_failures": schema.ListAttribute{Computed: true, ElementType: types.ObjectType{AttrTypes: validationFailureAttrTypes},
				Description: "Nodes that failed GPU validation during the last apply: node, GPU index (-1: the whole node), check, reason, and whether it was replaced."},
		},
	}
}

// Configure receives the provider's backends.
func (r *PoolResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = providerDataFrom(req.ProviderData, &resp.Diagnostics)
}

// desired reads the allocations and fallbacks.
func (m *poolModel) desired(ctx context.Context, cat *planner.Catalog, diags *diag.Diagnostics) []fleet.Allocation {
	var allocs []poolAllocationModel
	diags.Append(m.Allocations.ElementsAs(ctx, &allocs, false)...)
	fbs := map[string][]fallbackModel{}
	if !m.Fallbacks.IsNull() && !m.Fallbacks.IsUnknown() {
		diags.Append(m.Fallbacks.ElementsAs(ctx, &fbs, false)...)
	}
	var out []fleet.Allocation
	for _, a := range allocs {
		fa := fleet.Allocation{Offer: fleet.Offer{Key: a.Key, Cloud: a.Cloud, Region: a.Region, Zone: a.Zone, InstanceType: a.InstanceType,
			CapacityType: a.CapacityType, GPUModel: a.GPUModel, Nodes: int(a.Nodes), GPUsPerNode: int(a.GPUsPerNode), HourlyUSD: a.HourlyUSD}}
		for _, f := range fbs[a.Key] {
			fa.Fallbacks = append(fa.Fallbacks, fleet.Offer{Key: f.Key, Cloud: f.Cloud, Region: f.Region, Zone: f.Zone,
				InstanceType: f.InstanceType, CapacityType: f.CapacityType, Nodes: int(f.Nodes), HourlyUSD: f.HourlyUSD})
		}
		out = append(out, fa)
	}
	// Fallbacks may be other instance types: their GPUs come from the catalog.
	for i := range out {
		withHardware(&out[i].Offer, cat)
		withCapacity(&out[i].Offer, cat)
		var fbs []fleet.Offer
		for _, f := range out[i].Fallbacks {
			if !poolCanTarget(f.Cloud, f.CapacityType) {
				continue // not tried: its cloud's pools cannot target that capacity
			}
			f.GPUModel, f.GPUsPerNode = out[i].GPUModel, out[i].GPUsPerNode
			withHardware(&f, cat)
			withCapacity(&f, cat)
			fbs = append(fbs, f)
		}
		out[i].Fallbacks = fbs
	}
	return out
}

// withCapacity sets the reservation, capacity block or calendar window of
// an offer of those capacity kinds from the catalog's offer with its ID
// (o.Key); the ID's last part names the reservation when the catalog no
// longer lists it (a reservation used up since the plan).
func withCapacity(o *fleet.Offer, cat *planner.Catalog) {
	switch planner.CapacityType(o.CapacityType) {
	case planner.OnDemand, planner.Spot, "":
		return
	}
	if cat != nil {
		for i := range cat.Offers {
			c := &cat.Offers[i]
			if c.Cloud != o.Cloud || c.InstanceType != o.InstanceType || string(c.CapacityType) != o.CapacityType || c.ID() != o.Key {
				continue
			}
			o.ReservationID = c.ReservationID
			o.Purchase, o.UpfrontUSD = c.ToBuy(), c.UpfrontUSD
			o.MaxRun = time.Duration(c.MaxRunHours) * time.Hour
			if t, err := time.Parse(planner.TimeLayout, c.StartTime); err == nil {
				o.Start = t
				if c.DurationHours > 0 {
					o.End = t.Add(time.Duration(c.DurationHours) * time.Hour)
				}
			}
			return
		}
	}
	if parts := strings.Split(o.Key, "/"); len(parts) == 6 {
		o.ReservationID = parts[5]
	}
}

// withHardware completes o's hardware (GPU model, count, memory,
// interconnect: what its nodes are labelled with and validated against)
// from the catalog's offer of the same cloud and instance type; o keeps
// what it has where the catalog has no such offer.
func withHardware(o *fleet.Offer, cat *planner.Catalog) {
	if cat == nil {
		return
	}
	for i := range cat.Offers {
		if c := &cat.Offers[i]; c.Cloud == o.Cloud && c.InstanceType == o.InstanceType {
			o.GPUModel, o.GPUsPerNode, o.GPUMemoryGiB, o.Interconnect = c.GPUModel, c.GPUCount, c.GPUMemoryGiB, string(c.Interconnect)
			return
		}
	}
}

func (m *poolModel) clusterNames(ctx context.Context, diags *diag.Diagnostics) map[string]string {
	ids := map[string]string{}
	if !m.Clusters.IsUnknown() {
		diags.Append(m.Clusters.ElementsAs(ctx, &ids, false)...)
	}
	out := map[string]string{}
	for site, id := range ids {
		cl, region, name, err := parseClusterID(id)
		if err != nil || cl+"/"+region != site {
			diags.AddAttributeError(path.Root("clusters").AtMapKey(site), "Invalid cluster ID",
				fmt.Sprintf("%q is not a gpufleet_cluster ID of site %s (cloud/region/name)", id, site))
			continue
		}
		out[site] = name
	}
	return out
}

func (m *poolModel) spec(ctx context.Context, r *PoolResource, diags *diag.Diagnostics) fleet.Spec {
	s := fleet.Spec{Labels: map[string]string{}}
	if req, _, err := planner.ParseRequestID(m.Placement.ValueString()); err == nil {
		s.Compact = req.Gang // a gang asks for nodes close together
	}
	if !m.Labels.IsNull() {
		diags.Append(m.Labels.ElementsAs(ctx, &s.Labels, false)...)
	}
	validate := m.Bootstrap == nil || m.Bootstrap.NVMLValidation.IsNull() || m.Bootstrap.NVMLValidation.ValueBool()
	if validate {
		s.Taints = append(s.Taints, cloud.Taint{Key: gpuhealth.TaintKey, Value: gpuhealth.TaintValue, Effect: gpuhealth.TaintEffect})
	}
	s.Validate = validate && (m.WaitForValidation.IsNull() || m.WaitForValidation.ValueBool())
	s.PurchaseCapacityBlocks = m.PurchaseCapacityBlocks.ValueBool()
	for _, t := range m.Taints {
		s.Taints = append(s.Taints, cloud.Taint{Key: t.Key.ValueString(), Value: t.Value.ValueString(), Effect: t.Effect.ValueString()})
	}
	if validate && m.Bootstrap != nil && m.Bootstrap.NodecheckURL.ValueString() != "" {
		settings := bootstrap.Settings{NVMLValidation: true, MinDriverVersion: m.Bootstrap.MinDriverVersion.ValueString(),
			NodecheckURL: m.Bootstrap.NodecheckURL.ValueString(), NodecheckSHA256: m.Bootstrap.NodecheckSHA256.ValueString(),
			FailAction: m.Bootstrap.FailAction.ValueString()}
		if err := settings.Validate(); err != nil {
			addBootstrapErrors(diags, err)
			return s
		}
		s.UserData = func(o fleet.Offer, cluster string) (string, error) {
			if o.Cloud != "aws" {
				return "", nil // GKE and AKS nodes take no user data: the DaemonSet validates them
			}
			b, err := r.data.backends.get(ctx, o.Cloud)
			if err != nil {
				return "", err
			}
			c, err := b.GetCluster(ctx, o.Region, cluster)
			if err != nil {
				return "", fmt.Errorf("reading cluster %s for its endpoint and CA: %w", cluster, err)
			}
			return bootstrap.EKSUserData(bootstrap.EKSCluster{Name: cluster, APIServerEndpoint: c.Endpoint, CertificateAuthority: c.CACertificate,
				ServiceCIDR: c.ServiceCIDR}, bootstrap.EKSNode{InstanceType: o.InstanceType, Labels: s.Labels}, settings)
		}
	}
	return s
}

// ModifyPlan decides what is known at plan time: with failover, where
// pools end up is known only after apply.
func (r *PoolResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	var plan poolModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() || plan.Allocations.IsUnknown() || plan.Clusters.IsUnknown() {
		return
	}
	allocs := plan.desired(ctx, r.catalog(), &resp.Diagnostics)
	clusters := plan.clusterNames(ctx, &resp.Diagnostics)
	for i, a := range allocs {
		if _, ok := clusters[a.Site()]; !ok {
			resp.Diagnostics.AddAttributeError(path.Root("clusters"), "No cluster for an allocation",
				fmt.Sprintf("allocation %d (%s) is in site %s, which clusters does not name; create a gpufleet_cluster for every site of the placement (for_each = gpufleet_placement.<name>.sites)", i, a.Key, a.Site()))
		}
		for _, n := range capacityNotes(a.Offer, plan.PurchaseCapacityBlocks.ValueBool(), time.Now()) {
			if n.err {
				resp.Diagnostics.AddAttributeError(path.Root("allocations").AtListIndex(i), n.summary, n.detail)
			} else {
				resp.Diagnostics.AddAttributeWarning(path.Root("allocations").AtListIndex(i), n.summary, n.detail)
			}
		}
		if r.data != nil && !r.data.backends.supports(a.Cloud) {
			resp.Diagnostics.AddAttributeError(path.Root("allocations").AtListIndex(i), "Cloud not enabled",
				fmt.Sprintf("allocation %s is on %s, which the provider configuration does not enable", a.Key, a.Cloud))
		}
	}
	if resp.Diagnostics.HasError() {
		return
	}
	plan.ID = plan.Placement
	var state *poolModel
	if !req.State.Raw.IsNull() {
		state = &poolModel{}
		resp.Diagnostics.Append(req.State.Get(ctx, state)...)
	}
	if state != nil && !state.Pools.IsNull() && !state.Pools.IsUnknown() && plan.Allocations.Equal(state.Allocations) &&
		plan.Clusters.Equal(state.Clusters) && poolsComplete(ctx, state, allocs) {
		// Only labels or taints may change: pools stay where they are.
		plan.Pools, plan.TotalNodes, plan.HourlyCostUSD = state.Pools, state.TotalNodes, state.HourlyCostUSD
		plan.TotalGPUs, plan.ValidatedGPUs, plan.ValidationFailures = state.TotalGPUs, state.ValidatedGPUs, state.ValidationFailures
	} else if plan.Failover.ValueBool() || buysBlocks(allocs) {
		// A block bought at apply is a reservation whose ID the cloud
		// gives only then.
		plan.Pools = types.MapUnknown(types.ObjectType{AttrTypes: poolStateAttrTypes})
		plan.TotalNodes, plan.HourlyCostUSD = types.Int64Unknown(), types.Float64Unknown() // a fallback may have another node size, an interrupted apply fewer pools
		plan.TotalGPUs, plan.ValidatedGPUs = types.Int64Unknown(), types.Int64Unknown()
		plan.ValidationFailures = types.ListUnknown(types.ObjectType{AttrTypes: validationFailureAttrTypes})
	} else {
		validated := plan.spec(ctx, r, &resp.Diagnostics).Validate
		var pools []fleet.Pool
		for _, a := range allocs {
			p := fleet.Pool{Allocation: a.Key, Offer: a.Offer, Cluster: clusters[a.Site()], Name: fleet.PoolName(a.Key), Status: cloud.StatusActive, ReadyNodes: a.Nodes}
			if validated {
				p.Validated = a.Nodes // the apply completes only when they are
			}
			pools = append(pools, p)
		}
		plan.setPools(ctx, pools, &resp.Diagnostics)
		// Which nodes fail (and are replaced) is known only after apply.
		plan.ValidationFailures = types.ListUnknown(types.ObjectType{AttrTypes: validationFailureAttrTypes})
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

// poolsComplete reports whether the state has a pool for every allocation
// (a pool deleted out of band makes the next plan create it again).
func poolsComplete(ctx context.Context, state *poolModel, allocs []fleet.Allocation) bool {
	pools := map[string]poolStateModel{}
	state.Pools.ElementsAs(ctx, &pools, false)
	for _, a := range allocs {
		if _, ok := pools[a.Key]; !ok {
			return false
		}
	}
	return len(pools) == len(allocs)
}

func (m *poolModel) setPools(ctx context.Context, pools []fleet.Pool, diags *diag.Diagnostics) {
	out := map[string]poolStateModel{}
	total, cost, gpus, validated := int64(0), 0.0, int64(0), int64(0)
	var failures []validationFailureModel
	for _, p := range pools {
		out[p.Allocation] = poolStateModel{Offer: p.Offer.Key, Cloud: p.Offer.Cloud, Region: p.Offer.Region, Zone: p.Offer.Zone,
			Cluster: p.Cluster, Name: p.Name, InstanceType: p.Offer.InstanceType, CapacityType: p.Offer.CapacityType,
			Nodes: int64(p.Offer.Nodes), ReadyNodes: int64(p.ReadyNodes), GPUsPerNode: int64(p.Offer.GPUsPerNode),
			Status: string(p.Status), FailedOver: p.Offer.Key != p.Allocation, HourlyUSD: p.Offer.HourlyUSD, Validated: int64(p.Validated),
			ReservationID: types.StringNull()}
		if p.Offer.ReservationID != "" {
			ps := out[p.Allocation]
			ps.ReservationID = types.StringValue(p.Offer.ReservationID)
			out[p.Allocation] = ps
		}
		total += int64(p.Offer.Nodes)
		cost += p.Offer.HourlyUSD
		gpus += int64(p.Offer.Nodes * p.Offer.GPUsPerNode)
		validated += int64(p.Validated * p.Offer.GPUsPerNode)
		for _, f := range p.Failures {
			failures = append(failures, validationFailureModel{Allocation: p.Allocation, Pool: p.Name, Node: f.Node, GPU: int64(f.GPU),
				Check: f.Check, Reason: f.Reason, Replaced: f.Replaced})
		}
	}
	v, d := types.MapValueFrom(ctx, types.ObjectType{AttrTypes: poolStateAttrTypes}, out)
	diags.Append(d...)
	m.Pools, m.TotalNodes, m.HourlyCostUSD = v, types.Int64Value(total), types.Float64Value(roundUSD(cost))
	m.TotalGPUs, m.ValidatedGPUs = types.Int64Value(gpus), types.Int64Value(validated)
	if failures == nil {
		failures = []validationFailureModel{}
	}
	fl, d := types.ListValueFrom(ctx, types.ObjectType{AttrTypes: validationFailureAttrTypes}, failures)
	diags.Append(d...)
	m.ValidationFailures = fl
}

// statePools reads the pools recorded in the state.
func (m *poolModel) statePools(ctx context.Context, cat *planner.Catalog, diags *diag.Diagnostics) []fleet.Pool {
	if m.Pools.IsNull() || m.Pools.IsUnknown() {
		return nil
	}
	recorded := map[string]poolStateModel{}
	diags.Append(m.Pools.ElementsAs(ctx, &recorded, false)...)
	var out []fleet.Pool
	for _, k := range slices.Sorted(maps.Keys(recorded)) {
		p := recorded[k]
		out = append(out, fleet.Pool{Allocation: k, Cluster: p.Cluster, Name: p.Name, Status: cloud.Status(p.Status), ReadyNodes: int(p.ReadyNodes), Validated: int(p.Validated),
			Offer: fleet.Offer{Key: p.Offer, Cloud: p.Cloud, Region: p.Region, Zone: p.Zone, InstanceType: p.InstanceType,
				CapacityType: p.CapacityType, Nodes: int(p.Nodes), GPUsPerNode: int(p.GPUsPerNode), HourlyUSD: p.HourlyUSD}})
		o := &out[len(out)-1].Offer
		withHardware(o, cat)
		withCapacity(o, cat)
		if id := p.ReservationID.ValueString(); id != "" {
			// What the pool was created on: a block bought since the plan
			// is the reservation it became, not the offering.
			o.ReservationID, o.Purchase = id, false
		}
	}
	return out
}

func (r *PoolResource) fleet(ctx context.Context, m *poolModel, diags *diag.Diagnostics) *fleet.Fleet {
	if r.data == nil {
		diags.AddError("Provider not configured", "the gpufleet provider has no configuration")
		return nil
	}
	all := map[string]cloud.Backend{}
	for _, cl := range cloudNames {
		if b, err := r.data.backends.get(ctx, cl); err == nil {
			all[cl] = b
		}
	}
	if len(all) == 0 {
		_, err := r.data.backends.get(ctx, "aws")
		addBackendError(diags, path.Empty(), "No cloud backend", err)
		return nil
	}
	f := &fleet.Fleet{Backends: all, Clusters: m.clusterNames(ctx, diags), Now: time.Now,
		Log: func(format string, args ...any) { tflog.Info(ctx, fmt.Sprintf(format, args...)) }}
	timeout, _ := time.ParseDuration(m.ValidationTimeout.ValueString())
	f.Validation = &fleet.Validation{Nodes: r.data.backends.nodeReader(), Poll: r.data.backends.validationPoll(), Timeout: timeout,
		MaxReplacements: int(m.MaxNodeReplacements.ValueInt64())}
	if f.Validation.MaxReplacements == 0 {
		f.Validation.MaxReplacements = -1 // 0 configured: replace none
	}
	if pr, _, err := planner.ParseRequestID(m.Placement.ValueString()); err == nil {
		if n, err := pr.Normalize(r.data.catalog); err == nil {
			f.Accept = spreadAccept(n)
		}
	}
	return f
}

// spreadAccept keeps a placement's spread rules through failover.
func spreadAccept(req planner.Request) func([]fleet.Offer, fleet.Offer, fleet.Offer) bool {
	return func(placed []fleet.Offer, candidate, _ fleet.Offer) bool {
		byCloud := map[string]int{}
		total := 0
		for _, o := range append(slices.Clone(placed), candidate) {
			g := o.Nodes * o.GPUsPerNode
			byCloud[o.Cloud] += g
			total += g
		}
		return total >= req.GPUs && planner.SpreadSatisfied(req.Spread, byCloud, total)
	}
}

// Create creates every pool; on failure the pools that exist are recorded.
func (r *PoolResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m poolModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	f := r.fleet(ctx, &m, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	spec := m.spec(ctx, r, &resp.Diagnostics)
	allocs := m.desired(ctx, r.catalog(), &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	pools, err := f.Create(ctx, allocs, spec, m.Failover.ValueBool())
	r.finish(ctx, &m, f, pools, err, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// finish records the pools that exist and reports what failed.
func (r *PoolResource) finish(ctx context.Context, m *poolModel, f *fleet.Fleet, pools []fleet.Pool, err error, diags *diag.Diagnostics) {
	r.data.backends.logMetrics(ctx)
	m.ID = m.Placement
	sort.Slice(pools, func(i, j int) bool { return pools[i].Allocation < pools[j].Allocation })
	m.setPools(ctx, pools, diags)
	reportPurchases(f.Purchases(), pools, diags)
	for _, p := range pools {
		if p.Offer.Key != p.Allocation {
			diags.AddWarning("Allocation moved to a fallback",
				fmt.Sprintf("%s is placed at %s (%d x %s) instead: %s", p.Allocation, p.Offer.Key, p.Offer.Nodes, p.Offer.InstanceType, strings.Join(p.Tried, "; ")))
		}
	}
	if err != nil && ctx.Err() != nil {
		// Interrupted (Ctrl-C, a CI timeout): record what exists without
		// failing, so that the resource is not tainted and the next apply
		// continues from the recorded pools instead of replacing them (a
		// pool whose create or validation wait was cancelled exists and is
		// recorded; the next refresh reads its status).
		diags.AddWarning("Node pool apply interrupted",
			fmt.Sprintf("%v\n\nThe node pools that exist are recorded in the state; the next plan shows what is still missing and the next apply continues from them without re-creating them.", err))
		return
	}
	if err != nil {
		diags.AddError("Some node pools could not be created, updated or validated",
			fmt.Sprintf("%v\n\nThe node pools that exist are recorded in the state; the next apply continues from them, destroy removes them.", err))
	}
}

// Read refreshes every pool; pools deleted out of band leave the map (the
// next plan creates them again).
func (r *PoolResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m poolModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || r.data == nil {
		return
	}
	var kept []fleet.Pool
	for _, p := range m.statePools(ctx, r.catalog(), &resp.Diagnostics) {
		b, err := r.data.backends.get(ctx, p.Offer.Cloud)
		if err != nil {
			addBackendError(&resp.Diagnostics, path.Empty(), "No backend", err)
			return
		}
		np, err := b.GetNodePool(ctx, p.Offer.Region, p.Cluster, p.Name)
		if cloud.IsNotFound(err) {
			tflog.Warn(ctx, "node pool deleted outside Terraform; it will be created again", map[string]any{"pool": p.Name})
			continue
		}
		if err != nil {
			resp.Diagnostics.AddError("Cannot read a node pool", err.Error())
			return
		}
		p.Status, p.ReadyNodes, p.Offer.Nodes = np.Status, np.ReadyNodes, np.Spec.Nodes
		if p.Offer.InstanceType == "" {
			adopt(&p, np, r.data.catalog)
		}
		kept = append(kept, p)
	}
	if m.spec(ctx, r, &resp.Diagnostics).Validate {
		r.refreshValidated(ctx, kept, &resp.Diagnostics)
	}
	failures := m.ValidationFailures // of the last apply: a refresh keeps them
	m.setPools(ctx, kept, &resp.Diagnostics)
	if !failures.IsNull() && !failures.IsUnknown() {
		m.ValidationFailures = failures
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// refreshValidated counts each pool's validated nodes again from its
// cluster's Kubernetes API (one list per pool), so that the state shows a
// node that lost its validation since; a cluster that cannot be read
// keeps the last count, with a warning.
func (r *PoolResource) refreshValidated(ctx context.Context, pools []fleet.Pool, diags *diag.Diagnostics) {
	reader := r.data.backends.nodeReader()
	for i := range pools {
		nodes, err := reader.PoolNodes(ctx, pools[i])
		if err != nil {
			diags.AddWarning("Cannot read a pool's nodes", fmt.Sprintf("%s: %v; keeping the last validated count.", pools[i].Name, err))
			continue
		}
		n := 0
		for _, node := range nodes {
			if node.Validated() {
				n++
			}
		}
		pools[i].Validated = n
	}
}

// adopt fills an imported pool from what the cloud reports; its allocation
// is the offer it runs on.
func adopt(p *fleet.Pool, np cloud.NodePool, cat *planner.Catalog) {
	o := &p.Offer
	o.Zone, o.InstanceType, o.CapacityType = np.Spec.Zone, np.Spec.InstanceType, np.Spec.CapacityType
	o.Key = strings.Join([]string{o.Cloud, o.Region, o.Zone, o.InstanceType, o.CapacityType}, "/")
	if r := np.Spec.Reservation; r != nil && r.ID != "" {
		// A pool on a reservation: its offer ID ends in the reservation.
		o.ReservationID, o.Start, o.End = r.ID, r.Start, r.End
		o.Key += "/" + r.ID
	}
	p.Allocation = o.Key
	for _, c := range cat.Offers {
		if c.ID() == o.Key {
			o.GPUModel, o.GPUsPerNode, o.HourlyUSD = c.GPUModel, c.GPUCount, c.PriceUSDHour*float64(o.Nodes)
			break
		}
	}
	withHardware(o, cat)
}

// ImportState adopts node pools by cloud/region/cluster/pool, several
// separated by commas. The next plan reconciles them with the
// configuration in place.
func (r *PoolResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	var pools []fleet.Pool
	for _, part := range strings.Split(req.ID, ",") {
		f := strings.Split(strings.TrimSpace(part), "/")
		if len(f) != 4 || !siteRe().MatchString(f[0]+"/"+f[1]) || f[2] == "" || f[3] == "" {
			resp.Diagnostics.AddError("Invalid import ID", fmt.Sprintf("%q is not cloud/region/cluster/pool (several separated by commas), e.g. aws/eu-north-1/gpufleet-aws-eu-north-1/gpufleet-74dbc4bc799d", part))
			return
		}
		pools = append(pools, fleet.Pool{Allocation: part, Cluster: f[2], Name: f[3], Offer: fleet.Offer{Cloud: f[0], Region: f[1]}})
	}
	m := poolModel{Placement: types.StringNull(), Allocations: types.ListNull(types.ObjectType{AttrTypes: poolAllocationAttrTypes}),
		Fallbacks: types.MapNull(types.ListType{ElemType: types.ObjectType{AttrTypes: fallbackAttrTypes}}),
		Clusters:  types.MapNull(types.StringType), Labels: types.MapNull(types.StringType), Failover: types.BoolValue(true),
		ID: types.StringValue(req.ID), WaitForValidation: types.BoolValue(true), ValidationTimeout: types.StringValue(DefaultValidationTimeout),
		MaxNodeReplacements: types.Int64Value(2), PurchaseCapacityBlocks: types.BoolValue(false)}
	m.setPools(ctx, pools, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// Update reconciles: pools whose allocation is gone are deleted, missing
// ones created, node counts, labels and taints changed in place.
func (r *PoolResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state poolModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	f := r.fleet(ctx, &plan, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	spec := plan.spec(ctx, r, &resp.Diagnostics)
	allocs := plan.desired(ctx, r.catalog(), &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	result, err := f.Apply(ctx, fleet.Plan(allocs, state.statePools(ctx, r.catalog(), &resp.Diagnostics)), spec, plan.Failover.ValueBool())
	r.finish(ctx, &plan, f, result, err, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// Delete deletes every pool and waits until they are gone.
func (r *PoolResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var m poolModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	f := r.fleet(ctx, &m, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := f.Delete(ctx, m.statePools(ctx, r.catalog(), &resp.Diagnostics)); err != nil {
		resp.Diagnostics.AddError("Cannot delete node pools", err.Error())
	}
}

func (r *PoolResource) catalog() *planner.Catalog {
	if r.data == nil {
		return nil
	}
	return r.data.catalog
}
