// Package provider is the Terraform glue of gpufleet: schema, validation
// and state; the decisions are made by the planner package.
package provider

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/float64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/catalogbuild"
	gcpbackend "github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/gcp"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/livecatalog"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/simworld"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

var _ provider.Provider = &GPUFleetProvider{}

// GPUFleetProvider is the gpufleet Terraform provider.
type GPUFleetProvider struct {
	version string
	// simulator serves simulate = true's world.
	simulator simworld.Starter
	// meshTunnels replaces mesh.TunnelsPerLink when set (tests that write
	// the state an earlier release wrote).
	meshTunnels func(cloudA, cloudB string) int
}

// New returns a constructor for the provider at the given version whose
// simulate = true serves its world through simulator (the provider binary
// runs it in a helper process, simworld.Helper).
func New(version string, simulator simworld.Starter) func() provider.Provider {
	return func() provider.Provider { return &GPUFleetProvider{version: version, simulator: simulator} }
}

// providerData is what Configure hands to resources and data sources.
type providerData struct {
	// catalog is the embedded catalog or the configured file, restricted to
	// the enabled clouds and regions, with discounts and overrides applied.
	catalog  *planner.Catalog
	simulate bool
	// backends create clusters and node pools (built on first use).
	backends *backends
	// enabledClouds are the clouds the configuration enables (all when no
	// cloud block is set).
	enabledClouds []string
	// provenance says, per offer ID, which live source priced it.
	provenance map[string]livecatalog.Provenance
	// meshTunnels is GPUFleetProvider.meshTunnels.
	meshTunnels func(cloudA, cloudB string) int
}

type providerModel struct {
	Simulate    types.Bool    `tfsdk:"simulate"`
	SimulateDir types.String  `tfsdk:"simulate_dir"`
	AWS         *awsModel     `tfsdk:"aws"`
	GCP         *gcpModel     `tfsdk:"gcp"`
	Azure       *azureModel   `tfsdk:"azure"`
	Catalog     *catalogModel `tfsdk:"catalog"`
}

type awsModel struct {
	Regions   types.List         `tfsdk:"regions"`
	Endpoints *awsEndpointsModel `tfsdk:"endpoints"`
}

type awsEndpointsModel struct {
	EKS         types.String `tfsdk:"eks"`
	EC2         types.String `tfsdk:"ec2"`
	IAM         types.String `tfsdk:"iam"`
	Pricing     types.String `tfsdk:"pricing"`
	STS         types.String `tfsdk:"sts"`
	AutoScaling types.String `tfsdk:"autoscaling"`
}

type gcpModel struct {
	Project            types.String       `tfsdk:"project"`
	Regions            types.List         `tfsdk:"regions"`
	NodeServiceAccount types.String       `tfsdk:"node_service_account"`
	Endpoints          *gcpEndpointsModel `tfsdk:"endpoints"`
}

type gcpEndpointsModel struct {
	Container types.String `tfsdk:"container"`
	Compute   types.String `tfsdk:"compute"`
	Billing   types.String `tfsdk:"billing"`
}

type azureModel struct {
	SubscriptionID types.String         `tfsdk:"subscription_id"`
	Regions        types.List           `tfsdk:"regions"`
	Endpoints      *azureEndpointsModel `tfsdk:"endpoints"`
}

type azureEndpointsModel struct {
	ResourceManager types.String `tfsdk:"resource_manager"`
	ActiveDirectory types.String `tfsdk:"active_directory"`
}

type catalogModel struct {
	File            types.String         `tfsdk:"file"`
	DiscountPercent types.Map            `tfsdk:"discount_percent"`
	PriceOverrides  []priceOverrideModel `tfsdk:"price_overrides"`
	Live            types.Bool           `tfsdk:"live"`
	LiveCacheTTL    types.String         `tfsdk:"live_cache_ttl"`
	LiveCacheDir    types.String         `tfsdk:"live_cache_dir"`
	LiveEndpoints   types.Map            `tfsdk:"live_endpoints"`
	Reservations    []reservationModel   `tfsdk:"reservation"`
}

// reservationModel is one catalog { reservation { ... } } block.
type reservationModel struct {
	ID                   types.String  `tfsdk:"id"`
	Cloud                types.String  `tfsdk:"cloud"`
	Region               types.String  `tfsdk:"region"`
	Zone                 types.String  `tfsdk:"zone"`
	InstanceType         types.String  `tfsdk:"instance_type"`
	Count                types.Int64   `tfsdk:"count"`
	EffectiveHourlyPrice types.Float64 `tfsdk:"effective_hourly_price"`
}

type priceOverrideModel struct {
	Cloud        types.String  `tfsdk:"cloud"`
	InstanceType types.String  `tfsdk:"instance_type"`
	Region       types.String  `tfsdk:"region"`
	CapacityType types.String  `tfsdk:"capacity_type"`
	PriceUSDHour types.Float64 `tfsdk:"price_usd_hour"`
}

var cloudNames = []string{"aws", "gcp", "azure"}

// Metadata names the provider.
func (p *GPUFleetProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "gpufleet"
	resp.Version = p.version
}

func endpointAttr(service string) schema.StringAttribute {
	return schema.StringAttribute{
		Optional:    true,
		Description: fmt.Sprintf("Base URL of the %s API, replacing the SDK's default endpoint (tests, proxies, private endpoints).", service),
		Validators:  []validator.String{httpURL()},
	}
}

func regionsAttr(cloud string) schema.ListAttribute {
	return schema.ListAttribute{
		ElementType: types.StringType,
		Optional:    true,
		Description: fmt.Sprintf("%s regions gpufleet may place capacity in. Unset: every region of the catalog.", cloud),
		Validators:  []validator.List{listvalidator.UniqueValues(), listvalidator.SizeAtLeast(1)},
	}
}

// Schema describes the provider configuration.
func (p *GPUFleetProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "Plans GPU capacity across AWS, GCP and Azure by price, availability and residency rules, " +
			"and provisions it. Planning needs no credentials. A cloud is enabled by configuring its block; " +
			"with no cloud block, every cloud is enabled for planning.",
		Attributes: map[string]schema.Attribute{
			"simulate": schema.BoolAttribute{
				Optional: true,
				Description: "Create clusters and node pools in simulated clouds on this machine instead of real ones (offline demos and tests): " +
					"the real SDK clients talk to a local simulator over loopback, no credentials needed.",
			},
			"simulate_dir": schema.StringAttribute{
				Optional:    true,
				Description: "Where `simulate = true` keeps the simulated world between Terraform runs. Default `" + DefaultSimulateDir + "`.",
			},
		},
		Blocks: map[string]schema.Block{
			"aws": schema.SingleNestedBlock{
				Description: "Enables AWS. Credentials: Terraform Cloud dynamic credentials when the run has them (`TFC_AWS_PROVIDER_AUTH`, `TFC_AWS_RUN_ROLE_ARN` or the phase's `TFC_AWS_PLAN_ROLE_ARN` / `TFC_AWS_APPLY_ROLE_ARN`, and the run's workload identity token, through STS AssumeRoleWithWebIdentity), else the AWS SDK's default chain (environment, shared config, `AWS_ROLE_ARN` + `AWS_WEB_IDENTITY_TOKEN_FILE`). Live prices and availability use the same credentials.",
				Attributes:  map[string]schema.Attribute{"regions": regionsAttr("AWS")},
				Blocks: map[string]schema.Block{"endpoints": schema.SingleNestedBlock{
					Description: "Endpoint overrides per AWS service.",
					Attributes: map[string]schema.Attribute{
						"eks": endpointAttr("EKS"), "ec2": endpointAttr("EC2"), "iam": endpointAttr("IAM"),
						"pricing": endpointAttr("Pricing"), "sts": endpointAttr("STS"), "autoscaling": endpointAttr("EC2 Auto Scaling"),
					},
				}},
			},
			"gcp": schema.SingleNestedBlock{
				Description: "Enables GCP. Credentials: Terraform Cloud dynamic credentials when the run has them (`TFC_GCP_PROVIDER_AUTH`, `TFC_GCP_WORKLOAD_PROVIDER_NAME`, `TFC_GCP_RUN_SERVICE_ACCOUNT_EMAIL` or the phase's `TFC_GCP_PLAN_SERVICE_ACCOUNT_EMAIL` / `TFC_GCP_APPLY_SERVICE_ACCOUNT_EMAIL`, and the run's token, as external-account credentials), else Application Default Credentials. Live prices and availability use the same credentials.",
				Attributes: map[string]schema.Attribute{
					"project": schema.StringAttribute{Optional: true, Description: "Project to create clusters in."},
					"regions": regionsAttr("GCP"),
					"node_service_account": schema.StringAttribute{Optional: true,
						Description: "Email of the IAM service account the GKE nodes run as, e.g. `gke-nodes@PROJECT.iam.gserviceaccount.com`: " +
							"Google recommends a least-privilege account with `roles/container.defaultNodeServiceAccount`. " +
							"Unset: the project's Compute Engine default service account, which then needs that role. The nodes' only OAuth scope is `cloud-platform`, so IAM alone decides what they may do.",
						Validators: []validator.String{regexMatches(gcpbackend.NodeServiceAccountPattern,
							"must be a service account email (NAME@PROJECT.iam.gserviceaccount.com) or \"default\"")}},
				},
				Blocks: map[string]schema.Block{"endpoints": schema.SingleNestedBlock{
					Description: "Endpoint overrides per GCP service.",
					Attributes: map[string]schema.Attribute{
						"container": endpointAttr("GKE (container)"), "compute": endpointAttr("Compute Engine"),
						"billing": endpointAttr("Cloud Billing Catalog"),
					},
				}},
			},
			"azure": schema.SingleNestedBlock{
				Description: "Enables Azure. Credentials: workload identity when configured — Terraform Cloud dynamic credentials (`TFC_AZURE_PROVIDER_AUTH`, `TFC_AZURE_RUN_CLIENT_ID` or the phase's `TFC_AZURE_PLAN_CLIENT_ID` / `TFC_AZURE_APPLY_CLIENT_ID`, `ARM_TENANT_ID` and the run's token) or azurerm-style OIDC (`ARM_USE_OIDC`, `ARM_CLIENT_ID`, `ARM_TENANT_ID`, `ARM_OIDC_TOKEN` or `ARM_OIDC_TOKEN_FILE_PATH`) — else azidentity's default chain. Live availability uses the same credential.",
				Attributes: map[string]schema.Attribute{
					"subscription_id": schema.StringAttribute{Optional: true, Description: "Subscription to create clusters in."},
					"regions":         regionsAttr("Azure"),
				},
				Blocks: map[string]schema.Block{"endpoints": schema.SingleNestedBlock{
					Description: "Endpoint overrides for Azure.",
					Attributes: map[string]schema.Attribute{
						"resource_manager": endpointAttr("Azure Resource Manager"),
						"active_directory": endpointAttr("Microsoft Entra ID authority"),
					},
				}},
			},
			"catalog": schema.SingleNestedBlock{
				Description: "Where offers and prices come from. Unset: the catalog embedded in the provider.",
				Attributes: map[string]schema.Attribute{
					"file": schema.StringAttribute{
						Optional: true,
						Description: "Catalog CSV replacing the embedded catalog. Columns: " + strings.Join(planner.CatalogColumns, ",") +
							"[,max_nodes[," + strings.Join(planner.KindColumns, ",") + "]] (the capacity kind columns describe reservations, capacity blocks and DWS capacity; see the reservations guide).",
					},
					"discount_percent": schema.MapAttribute{
						ElementType: types.Float64Type,
						Optional:    true,
						Description: "Discount per cloud in percent, e.g. `{ aws = 12 }`, applied to every price of that cloud.",
						Validators: []validator.Map{
							mapvalidator.KeysAre(stringvalidator.OneOf(cloudNames...)),
							mapvalidator.ValueFloat64sAre(float64validator.AtLeast(0), float64validator.AtMost(99.99)),
						},
					},
					"live": schema.BoolAttribute{Optional: true,
						Description: "Refresh the catalog from the clouds' own APIs before discounts and overrides: prices (AWS Price List and spot price history, " +
							"GCP Cloud Billing Catalog, Azure Retail Prices) and availability (zones offering each instance type, subscription restrictions, " +
							"GPU quotas as hard caps on the placement, AWS spot placement scores). A cloud is asked when its block is configured or `live_endpoints` " +
							"names it (every cloud, served locally, with `simulate = true`). A source that fails falls back to the catalog with a warning. Default false."},
					"live_cache_ttl": schema.StringAttribute{Optional: true, Description: "How long fetched prices are reused, a Go duration. Default 1h.",
						Validators: []validator.String{durationValidator()}},
					"live_cache_dir": schema.StringAttribute{Optional: true, Description: "Where fetched prices are cached. Default `.gpufleet-cache`."},
					"live_endpoints": schema.MapAttribute{ElementType: types.StringType, Optional: true,
						Description: "Price API base URL per cloud, e.g. `{ azure = \"https://prices.azure.com\" }` (proxies, tests).",
						Validators:  []validator.Map{mapvalidator.KeysAre(stringvalidator.OneOf(cloudNames...)), mapvalidator.ValueStringsAre(httpURL())}},
					"price_overrides": schema.ListNestedAttribute{
						Optional:    true,
						Description: "Negotiated prices per instance type; not discounted. The most specific match wins.",
						NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
							"cloud": schema.StringAttribute{Required: true, Description: "Cloud of the instance type.",
								Validators: []validator.String{stringvalidator.OneOf(cloudNames...)}},
							"instance_type": schema.StringAttribute{Required: true, Description: "Instance type, machine type or VM size."},
							"region":        schema.StringAttribute{Optional: true, Description: "Only this region. Unset: every region."},
							"capacity_type": schema.StringAttribute{Optional: true, Description: "Only this capacity type (`on_demand` or `spot`). Unset: both.",
								Validators: []validator.String{stringvalidator.OneOf(string(planner.OnDemand), string(planner.Spot))}},
							"price_usd_hour": schema.Float64Attribute{Required: true, Description: "Price of one node for one hour, in USD.",
								Validators: []validator.Float64{float64validator.AtLeast(0.000001)}},
						}},
					},
				},
				Blocks: map[string]schema.Block{"reservation": schema.ListNestedBlock{
					Description: "Reserved capacity the account already holds (an AWS On-Demand Capacity Reservation, a GCP reservation, an Azure capacity " +
						"reservation), for accounts the provider cannot read. Placements use it before anything that costs money (`capacity_types` unset " +
						"includes `reserved`). A reservation the catalog already lists under the same cloud and `id` is one reservation, never counted twice: " +
						"the smaller count and this effective price.",
					NestedObject: schema.NestedBlockObject{Attributes: map[string]schema.Attribute{
						"id": schema.StringAttribute{Required: true, Description: "Reservation ID (`cr-0123456789abcdef0`, the GCP or Azure reservation name)."},
						"cloud": schema.StringAttribute{Required: true, Description: "Cloud of the reservation.",
							Validators: []validator.String{stringvalidator.OneOf(cloudNames...)}},
						"region":        schema.StringAttribute{Required: true, Description: "Region of the reservation."},
						"zone":          schema.StringAttribute{Optional: true, Description: "Zone of the reservation; unset for a regional reservation or a cloud without zones."},
						"instance_type": schema.StringAttribute{Required: true, Description: "Instance type, machine type or VM size reserved; its GPUs come from the catalog."},
						"count": schema.Int64Attribute{Required: true, Description: "Instances reserved (free for the placement).",
							Validators: []validator.Int64{int64validator.AtLeast(0)}},
						"effective_hourly_price": schema.Float64Attribute{Optional: true, Description: "Cost of using one reserved instance for one hour, USD, " +
							"for the plan's objective. Unset or 0: already paid for, no marginal cost.",
							Validators: []validator.Float64{float64validator.AtLeast(0)}},
					}},
				}},
			},
		},
	}
}

// Configure builds the catalog the provider plans with.
func (p *GPUFleetProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var cfg providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var spec catalogbuild.Spec
	adj := planner.Adjustments{Regions: map[string][]string{}, DiscountPercent: map[string]float64{}}
	for _, c := range []struct {
		name    string
		enabled bool
		regions types.List
	}{
		{"aws", cfg.AWS != nil, listOrNull(cfg.AWS, func(m *awsModel) types.List { return m.Regions })},
		{"gcp", cfg.GCP != nil, listOrNull(cfg.GCP, func(m *gcpModel) types.List { return m.Regions })},
		{"azure", cfg.Azure != nil, listOrNull(cfg.Azure, func(m *azureModel) types.List { return m.Regions })},
	} {
		if !c.enabled {
			continue
		}
		adj.Clouds = append(adj.Clouds, c.name)
		regions := stringList(ctx, c.regions, &resp.Diagnostics)
		known := regionNames(c.name)
		for i, r := range regions {
			if !slices.Contains(known, r) {
				resp.Diagnostics.AddAttributeError(path.Root(c.name).AtName("regions").AtListIndex(i), "Unknown region",
					fmt.Sprintf("%q is not a %s region gpufleet knows.%s Known regions: %s.", r, c.name,
						didYouMean(r, known), strings.Join(known, ", ")))
			}
		}
		adj.Regions[c.name] = regions
	}
	data := &providerData{simulate: cfg.Simulate.ValueBool(), enabledClouds: adj.Clouds, meshTunnels: p.meshTunnels}
	if len(data.enabledClouds) == 0 {
		data.enabledClouds = cloudNames
	}
	if cfg.Catalog != nil {
		if f := cfg.Catalog.File; !f.IsNull() && !f.IsUnknown() {
			spec.File = f.ValueString()
		}
		for cloud, v := range floatMap(ctx, cfg.Catalog.DiscountPercent, &resp.Diagnostics) {
			adj.DiscountPercent[cloud] = v
		}
		for _, r := range cfg.Catalog.Reservations {
			adj.Reservations = append(adj.Reservations, planner.Reservation{
				ID: r.ID.ValueString(), Cloud: r.Cloud.ValueString(), Region: r.Region.ValueString(), Zone: r.Zone.ValueString(),
				InstanceType: r.InstanceType.ValueString(), Count: int(r.Count.ValueInt64()), EffectiveHourlyPrice: r.EffectiveHourlyPrice.ValueFloat64(),
			})
		}
		for _, o := range cfg.Catalog.PriceOverrides {
			adj.Overrides = append(adj.Overrides, planner.PriceOverride{
				Cloud: o.Cloud.ValueString(), InstanceType: o.InstanceType.ValueString(), Region: o.Region.ValueString(),
				CapacityType: planner.CapacityType(o.CapacityType.ValueString()), PriceUSDHour: o.PriceUSDHour.ValueFloat64(),
			})
		}
	}
	if resp.Diagnostics.HasError() {
		return
	}
	simDir := cfg.SimulateDir.ValueString()
	if simDir == "" {
		simDir = DefaultSimulateDir
	}
	// The backends exist before the catalog: in simulate mode the live
	// step's price APIs are served by the same simulated world.
	data.backends = &backends{simulate: data.simulate, simDir: simDir, start: p.simulator, awsConfig: awsSDKConfig(cfg.AWS),
		gcpConfig: gcpSDKConfig(cfg.GCP), azConfig: azureSDKConfig(cfg.Azure), enabled: data.enabledClouds}
	if cfg.Catalog != nil && cfg.Catalog.Live.ValueBool() {
		spec.Live = liveStep(ctx, &cfg, adj.Clouds, data.backends, &resp.Diagnostics)
	}
	spec.Adjustments = adj
	built, err := catalogbuild.Build(ctx, spec)
	if fe := (*catalogbuild.FileError)(nil); errors.As(err, &fe) {
		resp.Diagnostics.AddAttributeError(path.Root("catalog").AtName("file"), "Cannot read the catalog file", err.Error())
		return
	}
	if re := (*planner.ReservationError)(nil); errors.As(err, &re) {
		resp.Diagnostics.AddAttributeError(path.Root("catalog").AtName("reservation").AtListIndex(re.Index).AtName(re.Field),
			"Invalid reservation", re.Message+".")
		return
	}
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("catalog"), "Invalid catalog adjustments", err.Error())
		return
	}
	cat := built.Catalog
	if built.Live != nil {
		data.provenance = built.Live.Provenance
	}
	data.catalog = cat
	data.backends.catalog = cat
	tflog.Debug(ctx, "gpufleet catalog ready", map[string]any{
		"catalog_version": cat.Version, "offers": len(cat.Offers), "clouds": data.enabledClouds, "simulate": data.simulate,
	})
	resp.DataSourceData = data
	resp.ResourceData = data
	resp.EphemeralResourceData = data
}

// Resources lists the provider's resources.
func (p *GPUFleetProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{NewPlacementResource, clusterResourceAt(p.version), NewPoolResource, NewNetworkResource}
}

// DataSources lists the provider's data sources.
func (p *GPUFleetProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{NewOffersDataSource, NewNodeBootstrapDataSource}
}

func listOrNull[M any](m *M, get func(*M) types.List) types.List {
	if m == nil {
		return types.ListNull(types.StringType)
	}
	return get(m)
}

// regionNames lists a cloud's regions in the embedded region table, which
// every catalog is placed in.
func regionNames(cloud string) []string {
	var out []string
	for _, r := range planner.EmbeddedRegions() {
		if r.Cloud == cloud {
			out = append(out, r.Name)
		}
	}
	slices.Sort(out)
	return out
}
