package provider

import (
	"context"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

var (
	_ datasource.DataSource              = &OffersDataSource{}
	_ datasource.DataSourceWithConfigure = &OffersDataSource{}
)

// OffersDataSource lists catalog offers, like `gpufleet offers`.
type OffersDataSource struct {
	data *providerData
}

// NewOffersDataSource is the gpufleet_offers constructor.
func NewOffersDataSource() datasource.DataSource { return &OffersDataSource{} }

type offersModel struct {
	filterModel
	Limit          types.Int64  `tfsdk:"limit"`
	ID             types.String `tfsdk:"id"`
	CatalogVersion types.String `tfsdk:"catalog_version"`
	Offers         types.List   `tfsdk:"offers"`
}

// offerModel is one offer in gpufleet_offers.
type offerModel struct {
	ID              string  `tfsdk:"id"`
	Cloud           string  `tfsdk:"cloud"`
	Region          string  `tfsdk:"region"`
	Zone            string  `tfsdk:"zone"`
	Country         string  `tfsdk:"country"`
	Jurisdiction    string  `tfsdk:"jurisdiction"`
	InstanceType    string  `tfsdk:"instance_type"`
	GPUModel        string  `tfsdk:"gpu_model"`
	GPUCount        int64   `tfsdk:"gpu_count"`
	GPUMemoryGiB    float64 `tfsdk:"gpu_memory_gib"`
	VCPUs           int64   `tfsdk:"vcpus"`
	MemoryGiB       float64 `tfsdk:"memory_gib"`
	CapacityType    string  `tfsdk:"capacity_type"`
	PriceUSDHour    float64 `tfsdk:"price_usd_hour"`
	PricePerGPUHour float64 `tfsdk:"price_per_gpu_hour"`
	MaxNodes        int64   `tfsdk:"max_nodes"`
	Interconnect    string  `tfsdk:"interconnect"`
	Fabric          string  `tfsdk:"fabric"`
	PriceSource     string  `tfsdk:"price_source"`
	SpotScore       int64   `tfsdk:"spot_score"`
	ReservationID   string  `tfsdk:"reservation_id"`
	StartTime       string  `tfsdk:"start_time"`
	DurationHours   int64   `tfsdk:"duration_hours"`
	UpfrontUSD      float64 `tfsdk:"upfront_usd"`
	MaxRunHours     int64   `tfsdk:"max_run_hours"`
}

var offerAttrTypes = map[string]attr.Type{
	"id": types.StringType, "cloud": types.StringType, "region": types.StringType, "zone": types.StringType,
	"country": types.StringType, "jurisdiction": types.StringType, "instance_type": types.StringType,
	"gpu_model": types.StringType, "gpu_count": types.Int64Type, "gpu_memory_gib": types.Float64Type,
	"vcpus": types.Int64Type, "memory_gib": types.Float64Type, "capacity_type": types.StringType,
	"price_usd_hour": types.Float64Type, "price_per_gpu_hour": types.Float64Type, "max_nodes": types.Int64Type,
	"interconnect": types.StringType, "fabric": types.StringType, "price_source": types.StringType,
	"spot_score": types.Int64Type, "reservation_id": types.StringType, "start_time": types.StringType,
	"duration_hours": types.Int64Type, "upfront_usd": types.Float64Type, "max_run_hours": types.Int64Type,
}

// Metadata names the data source.
func (d *OffersDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_offers"
}

// Schema describes gpufleet_offers.
func (d *OffersDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	attrs := dataSourceFilterAttributes()
	attrs["limit"] = schema.Int64Attribute{Optional: true, Description: "Return at most this many offers (the cheapest).",
		Validators: []validator.Int64{int64validator.AtLeast(1)}}
	attrs["id"] = schema.StringAttribute{Computed: true, Description: "The catalog version the offers come from."}
	attrs["catalog_version"] = schema.StringAttribute{Computed: true, Description: "Version of the catalog: its date and a digest of its offers."}
	attrs["offers"] = schema.ListNestedAttribute{
		Computed:    true,
		Description: "Offers passing the filters, cheapest per GPU-hour first (ties: price per node, cloud, region, zone, instance type, capacity type).",
		NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
			"id":                 schema.StringAttribute{Computed: true, Description: "cloud/region/zone/instance_type/capacity_type, then /reservation_id for a reservation or block."},
			"cloud":              schema.StringAttribute{Computed: true, Description: "Cloud."},
			"region":             schema.StringAttribute{Computed: true, Description: "Region."},
			"zone":               schema.StringAttribute{Computed: true, Description: "Zone (empty for clouds priced per region)."},
			"country":            schema.StringAttribute{Computed: true, Description: "ISO 3166 country of the region."},
			"jurisdiction":       schema.StringAttribute{Computed: true, Description: "Jurisdiction of the region (`EU`, `US`, `UK`, ...)."},
			"instance_type":      schema.StringAttribute{Computed: true, Description: "Instance type, machine type or VM size."},
			"gpu_model":          schema.StringAttribute{Computed: true, Description: "GPU model."},
			"gpu_count":          schema.Int64Attribute{Computed: true, Description: "GPUs per node."},
			"gpu_memory_gib":     schema.Float64Attribute{Computed: true, Description: "Memory per GPU in GiB."},
			"vcpus":              schema.Int64Attribute{Computed: true, Description: "vCPUs per node."},
			"memory_gib":         schema.Float64Attribute{Computed: true, Description: "Memory per node in GiB."},
			"capacity_type":      schema.StringAttribute{Computed: true, Description: "`on_demand`, `spot`, `reserved`, `capacity_block`, `flex_start` or `calendar`."},
			"price_usd_hour":     schema.Float64Attribute{Computed: true, Description: "Price of one node for one hour, USD."},
			"price_per_gpu_hour": schema.Float64Attribute{Computed: true, Description: "Price per GPU-hour, USD."},
			"max_nodes":          schema.Int64Attribute{Computed: true, Description: "Nodes obtainable; -1 when unknown (unlimited)."},
			"interconnect":       schema.StringAttribute{Computed: true, Description: "GPU interconnect: `pcie`, `nvlink` or `nvswitch`."},
			"fabric":             schema.StringAttribute{Computed: true, Description: "Node-to-node RDMA fabric (`efa`, `infiniband`, `gpudirect-tcpx`, ...), empty if none."},
			"price_source":       schema.StringAttribute{Computed: true, Description: "Where the price comes from: a live source and when it was fetched, or the catalog and its version."},
			"spot_score":         schema.Int64Attribute{Computed: true, Description: "Spot placement score, 1 (unlikely) to 10 (very likely), from the live AWS source; 0 when unknown."},
			"reservation_id":     schema.StringAttribute{Computed: true, Description: "Reservation, capacity block offering or calendar reservation; empty for other capacity."},
			"start_time":         schema.StringAttribute{Computed: true, Description: "Start of a capacity block or calendar reservation (RFC 3339, UTC); empty otherwise."},
			"duration_hours":     schema.Int64Attribute{Computed: true, Description: "Length of a capacity block or calendar reservation in hours; 0 otherwise."},
			"upfront_usd":        schema.Float64Attribute{Computed: true, Description: "Price of a whole capacity block, USD; `price_usd_hour` is it over the block's nodes and hours. 0 otherwise."},
			"max_run_hours":      schema.Int64Attribute{Computed: true, Description: "Longest run of a flex-start node in hours; 0 otherwise."},
		}},
	}
	resp.Schema = schema.Schema{
		Description: "Lists GPU offers from the provider's catalog that pass the filters, cheapest per GPU-hour first, like `gpufleet offers`.",
		Attributes:  attrs,
	}
}

// Configure receives the provider's catalog.
func (d *OffersDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.data = providerDataFrom(req.ProviderData, &resp.Diagnostics)
}

// Read filters the catalog.
func (d *OffersDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m offersModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || d.data == nil {
		return
	}
	cat := d.data.catalog
	offers, err := planner.Offers(cat, m.request(ctx, &resp.Diagnostics))
	if err != nil {
		addPlannerError(&resp.Diagnostics, err)
		return
	}
	if n := m.Limit.ValueInt64(); n > 0 && int64(len(offers)) > n {
		offers = offers[:n]
	}
	values := make([]offerModel, len(offers))
	for i, o := range offers {
		r, _ := cat.Region(o.Cloud, o.Region)
		values[i] = offerModel{
			ID: o.ID(), Cloud: o.Cloud, Region: o.Region, Zone: o.Zone, Country: r.Country, Jurisdiction: r.Jurisdiction,
			InstanceType: o.InstanceType, GPUModel: o.GPUModel, GPUCount: int64(o.GPUCount), GPUMemoryGiB: o.GPUMemoryGiB,
			VCPUs: int64(o.VCPUs), MemoryGiB: o.MemoryGiB, CapacityType: string(o.CapacityType), PriceUSDHour: o.PriceUSDHour,
			PricePerGPUHour: o.PricePerGPUHour(), MaxNodes: int64(o.MaxNodes), Interconnect: string(o.Interconnect), Fabric: o.Fabric,
			PriceSource: "catalog " + cat.Version, SpotScore: int64(o.SpotScore),
			ReservationID: o.ReservationID, StartTime: o.StartTime, DurationHours: int64(o.DurationHours), UpfrontUSD: o.UpfrontUSD,
			MaxRunHours: int64(o.MaxRunHours),
		}
		if p, ok := d.data.provenance[o.ID()]; ok {
			values[i].PriceSource = p.Source + " at " + p.FetchAt.UTC().Format(time.RFC3339)
		}
	}
	list, diags := types.ListValueFrom(ctx, types.ObjectType{AttrTypes: offerAttrTypes}, values)
	resp.Diagnostics.Append(diags...)
	m.Offers = list
	m.CatalogVersion = types.StringValue(cat.Version)
	m.ID = types.StringValue(cat.Version)
	tflog.Debug(ctx, "listed offers", map[string]any{"offers": len(values), "catalog_version": cat.Version})
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
