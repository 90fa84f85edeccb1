package provider

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/float64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	dsschema "github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	rsschema "github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/lazyre"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// filterModel holds the offer filters shared by gpufleet_offers and
// gpufleet_placement.
type filterModel struct {
	GPUModels          types.List    `tfsdk:"gpu_models"`
	MinGPUMemoryGiB    types.Float64 `tfsdk:"min_gpu_memory_gib"`
	GPUsPerNode        types.Int64   `tfsdk:"gpus_per_node"`
	MinGPUsPerNode     types.Int64   `tfsdk:"min_gpus_per_node"`
	Interconnect       types.String  `tfsdk:"interconnect"`
	Residency          types.List    `tfsdk:"residency"`
	DenyResidency      types.List    `tfsdk:"deny_residency"`
	Clouds             types.List    `tfsdk:"clouds"`
	CapacityTypes      types.List    `tfsdk:"capacity_types"`
	MaxPricePerGPUHour types.Float64 `tfsdk:"max_price_per_gpu_hour"`
	MinSpotScore       types.Int64   `tfsdk:"min_spot_score"`
	StartAfter         types.String  `tfsdk:"start_after"`
	DurationHours      types.Int64   `tfsdk:"duration_hours"`
}

// request converts the filters to a planner request (GPUs, spread and gang
// left unset).
func (f filterModel) request(ctx context.Context, diags *diag.Diagnostics) planner.Request {
	r := planner.Request{
		GPUModels:          stringList(ctx, f.GPUModels, diags),
		MinGPUMemoryGiB:    f.MinGPUMemoryGiB.ValueFloat64(),
		GPUsPerNode:        int(f.GPUsPerNode.ValueInt64()),
		MinGPUsPerNode:     int(f.MinGPUsPerNode.ValueInt64()),
		Interconnect:       planner.Interconnect(f.Interconnect.ValueString()),
		Residency:          stringList(ctx, f.Residency, diags),
		DenyResidency:      stringList(ctx, f.DenyResidency, diags),
		Clouds:             stringList(ctx, f.Clouds, diags),
		MaxPricePerGPUHour: f.MaxPricePerGPUHour.ValueFloat64(),
		MinSpotScore:       int(f.MinSpotScore.ValueInt64()),
		StartAfter:         f.StartAfter.ValueString(),
		DurationHours:      int(f.DurationHours.ValueInt64()),
	}
	for _, ct := range stringList(ctx, f.CapacityTypes, diags) {
		r.CapacityTypes = append(r.CapacityTypes, planner.CapacityType(ct))
	}
	return r
}

// fieldKind is the Terraform type of a filter attribute.
type fieldKind int

const (
	kindString fieldKind = iota
	kindStringList
	kindInt64
	kindFloat64
)

// filterField describes one filter attribute once, for both schemas.
type filterField struct {
	name, description string
	kind              fieldKind
	stringValidators  []validator.String
	listValidators    []validator.List
	int64Validators   []validator.Int64
	float64Validators []validator.Float64
}

const residencyDescription = "Allowed locations: jurisdictions (`EU` for the EU and EEA, `UK`, `CH`, `US`, `JP`, ...), " +
	"ISO 3166 country codes (`DE`, `FR`, `GB`, ...) or `cloud/region` names (`aws/eu-central-1`)."

func filterFields() []filterField {
	interconnects := make([]string, len(planner.Interconnects))
	for i, c := range planner.Interconnects {
		interconnects[i] = string(c)
	}
	return []filterField{
		{name: "gpu_models", kind: kindStringList, description: "Allowed GPU models, e.g. `[\"H100\", \"H200\"]` (case-insensitive). Unset: every model.",
			listValidators: []validator.List{listvalidator.SizeAtLeast(1), listvalidator.UniqueValues()}},
		{name: "min_gpu_memory_gib", kind: kindFloat64, description: "Minimum memory per GPU, in GiB.",
			float64Validators: []validator.Float64{float64validator.AtLeast(0)}},
		{name: "gpus_per_node", kind: kindInt64, description: "Exact number of GPUs per node. Conflicts with `min_gpus_per_node`.",
			int64Validators: []validator.Int64{int64validator.AtLeast(1), int64validator.ConflictsWith(path.MatchRoot("min_gpus_per_node"))}},
		{name: "min_gpus_per_node", kind: kindInt64, description: "Minimum number of GPUs per node.",
			int64Validators: []validator.Int64{int64validator.AtLeast(1)}},
		{name: "interconnect", kind: kindString, description: "Minimum GPU-to-GPU interconnect inside a node: `pcie` < `nvlink` < `nvswitch`.",
			stringValidators: []validator.String{stringvalidator.OneOf(interconnects...)}},
		{name: "residency", kind: kindStringList, description: residencyDescription + " Unset: everywhere.",
			listValidators: []validator.List{listvalidator.SizeAtLeast(1), listvalidator.UniqueValues()}},
		{name: "deny_residency", kind: kindStringList, description: "Excluded locations, same syntax as `residency`; wins over it.",
			listValidators: []validator.List{listvalidator.SizeAtLeast(1), listvalidator.UniqueValues()}},
		{name: "clouds", kind: kindStringList, description: "Allowed clouds: `aws`, `gcp`, `azure`. Unset: every cloud enabled in the provider.",
			listValidators: []validator.List{listvalidator.SizeAtLeast(1), listvalidator.UniqueValues(), listvalidator.ValueStringsAre(stringvalidator.OneOf(cloudNames...))}},
		{name: "capacity_types", kind: kindStringList, description: "Allowed capacity types: `on_demand`, `spot`, `reserved` (capacity already paid for: " +
			"reservations the catalog lists or `catalog { reservation { ... } }` declares), `capacity_block` (AWS Capacity Blocks, bought whole), " +
			"`flex_start` and `calendar` (GCP Dynamic Workload Scheduler). Unset: `on_demand`, and `reserved` where the catalog has reservations " +
			"(gpufleet_offers: every type).",
			listValidators: []validator.List{listvalidator.SizeAtLeast(1), listvalidator.UniqueValues(),
				listvalidator.ValueStringsAre(stringvalidator.OneOf(stringsOf(planner.AllCapacityTypes)...))}},
		{name: "max_price_per_gpu_hour", kind: kindFloat64, description: "Maximum price per GPU-hour in USD.",
			float64Validators: []validator.Float64{float64validator.AtLeast(0.000001)}},
		{name: "min_spot_score", kind: kindInt64, description: "Reject spot offers whose spot placement score (1–10, from the live AWS source: " +
			"`catalog { live = true }`) is below this. Offers without a score are kept.",
			int64Validators: []validator.Int64{int64validator.Between(1, 10)}},
		{name: "start_after", kind: kindString, description: "Earliest start of the capacity, an RFC 3339 time (`2026-12-08T09:00:00Z`). " +
			"A capacity block or calendar reservation qualifies only if it starts at or after it. Unset: any start.",
			stringValidators: []validator.String{rfc3339Validator{}}},
		{name: "duration_hours", kind: kindInt64, description: "How long the capacity is wanted, in hours. A capacity block or calendar " +
			"reservation qualifies only if it lasts at least this long, flex-start capacity only if its maximum run time is at least this long. " +
			"On-demand, spot and reserved capacity always qualify. Unset: open-ended.",
			int64Validators: []validator.Int64{int64validator.AtLeast(1)}},
	}
}

func stringsOf[T ~string](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = string(x)
	}
	return out
}

// rfc3339Validator accepts RFC 3339 times.
type rfc3339Validator struct{}

func (rfc3339Validator) Description(context.Context) string {
	return "an RFC 3339 time such as 2026-12-08T09:00:00Z"
}
func (v rfc3339Validator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }
func (rfc3339Validator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, err := time.Parse(time.RFC3339, req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid time",
			fmt.Sprintf("%q is not an RFC 3339 time; expected a time such as 2026-12-08T09:00:00Z (UTC) or 2026-12-08T10:00:00+01:00.", req.ConfigValue.ValueString()))
	}
}

func resourceFilterAttributes() map[string]rsschema.Attribute {
	out := map[string]rsschema.Attribute{}
	for _, f := range filterFields() {
		switch f.kind {
		case kindString:
			out[f.name] = rsschema.StringAttribute{Optional: true, Description: f.description, Validators: f.stringValidators}
		case kindStringList:
			out[f.name] = rsschema.ListAttribute{ElementType: types.StringType, Optional: true, Description: f.description, Validators: f.listValidators}
		case kindInt64:
			out[f.name] = rsschema.Int64Attribute{Optional: true, Description: f.description, Validators: f.int64Validators}
		case kindFloat64:
			out[f.name] = rsschema.Float64Attribute{Optional: true, Description: f.description, Validators: f.float64Validators}
		}
	}
	return out
}

func dataSourceFilterAttributes() map[string]dsschema.Attribute {
	out := map[string]dsschema.Attribute{}
	for _, f := range filterFields() {
		switch f.kind {
		case kindString:
			out[f.name] = dsschema.StringAttribute{Optional: true, Description: f.description, Validators: f.stringValidators}
		case kindStringList:
			out[f.name] = dsschema.ListAttribute{ElementType: types.StringType, Optional: true, Description: f.description, Validators: f.listValidators}
		case kindInt64:
			out[f.name] = dsschema.Int64Attribute{Optional: true, Description: f.description, Validators: f.int64Validators}
		case kindFloat64:
			out[f.name] = dsschema.Float64Attribute{Optional: true, Description: f.description, Validators: f.float64Validators}
		}
	}
	return out
}

var fieldIndex = lazyre.New(`^([a-z_]+)\[(\d+)\]$`)

// attributePath turns a planner field name ("gpu_models[1]",
// "spread.max_share") into an attribute path.
func attributePath(field string) path.Path {
	var p path.Path
	for i, part := range strings.Split(field, ".") {
		name, index := part, -1
		if m := fieldIndex().FindStringSubmatch(part); m != nil {
			name = m[1]
			index, _ = strconv.Atoi(m[2])
		}
		if i == 0 {
			p = path.Root(name)
		} else {
			p = p.AtName(name)
		}
		if index >= 0 {
			p = p.AtListIndex(index)
		}
	}
	return p
}

// addPlannerError reports a planner error as a diagnostic on the attribute
// it concerns.
func addPlannerError(diags *diag.Diagnostics, err error) {
	switch e := err.(type) {
	case *planner.RequestError:
		detail := e.Message
		if len(e.Suggestions) > 0 {
			detail += ". Did you mean " + quoted(e.Suggestions, " or ") + "?"
		}
		diags.AddAttributeError(attributePath(e.Field), "Invalid placement request", detail)
	case *planner.InfeasibleError:
		field := e.Constraint
		switch field {
		case "availability", "catalog", "unknown":
			field = "gpus"
		}
		diags.AddAttributeError(attributePath(field), "Infeasible placement request", e.Error())
	default:
		diags.AddError("Planning failed", err.Error())
	}
}
