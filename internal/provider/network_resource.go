package provider

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/mesh"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/netplan"
)

var (
	_ resource.Resource                 = &NetworkResource{}
	_ resource.ResourceWithConfigure    = &NetworkResource{}
	_ resource.ResourceWithModifyPlan   = &NetworkResource{}
	_ resource.ResourceWithUpgradeState = &NetworkResource{}
)

// NetworkResource is gpufleet_network: one network per site and the
// cross-cloud mesh between them.
type NetworkResource struct {
	data *providerData
}

// NewNetworkResource is the gpufleet_network constructor.
func NewNetworkResource() resource.Resource { return &NetworkResource{} }

// RegionalZone keys the node subnet of a site whose offers have no zone
// (Azure sizes without availability zones).
const RegionalZone = "regional"

// DefaultSupernet is the cidr used when none is set.
const DefaultSupernet = "10.64.0.0/12"

// Metadata names the resource.
func (r *NetworkResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_network"
}

// Schema describes gpufleet_network.
func (r *NetworkResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	computed := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Computed: true, Description: desc}
	}
	resp.Schema = schema.Schema{
		// Version 1: pre-shared keys left the state (upgradeNetworkStateV0).
		Version: 1,
		Description: "A network per site of a placement (VPC on AWS, VPC network and subnetworks on GCP, VNet on Azure) with a firewall " +
			"that lets only the mesh's ranges in, and the mesh between the sites: IPsec VPN with BGP between sites on different clouds " +
			"(four tunnels between AWS and GCP or Azure, two between GCP and Azure), peering between sites on the same cloud. Addresses come from one `cidr`; adding or removing a site " +
			"never renumbers or touches the others' addresses, gateways or tunnels.",
		Attributes: map[string]schema.Attribute{
			"name": schema.StringAttribute{Required: true, PlanModifiers: replace,
				Description: "Prefix of every cloud resource name (1–20 lower-case letters, digits or hyphens, starting with a letter).",
				Validators:  []validator.String{meshNameValidator{}}},
			"sites": schema.MapNestedAttribute{Required: true,
				Description: "The sites, keyed `cloud/region`: pass `gpufleet_placement.<name>.sites` as it is, or objects with `cloud`, `region` and `zones`. " +
					"Each zone gets a node subnet.",
				Validators: []validator.Map{mapvalidator.SizeAtLeast(1)},
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"cloud":       schema.StringAttribute{Required: true, Description: "Cloud of the site."},
					"region":      schema.StringAttribute{Required: true, Description: "Region of the site."},
					"zones":       schema.ListAttribute{Required: true, ElementType: types.StringType, Description: "Zones that get a node subnet (catalog zone names: AWS zone IDs, GCP zones, Azure zone numbers; an empty zone, as Azure offers without zones have, gets one subnet keyed `regional`). An AWS site with one zone also gets a subnet in the region's next zone, since an EKS control plane needs two."},
					"gpus":        schema.Int64Attribute{Optional: true, Description: "Ignored (accepted so that `gpufleet_placement.sites` can be passed as it is)."},
					"nodes":       schema.Int64Attribute{Optional: true, Description: "Ignored, as `gpus`."},
					"hourly_usd":  schema.Float64Attribute{Optional: true, Description: "Ignored, as `gpus`."},
					"allocations": schema.ListAttribute{Optional: true, ElementType: types.StringType, Description: "Ignored, as `gpus`."},
				}}},
			"cidr": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(DefaultSupernet), PlanModifiers: replace,
				Validators: []validator.String{cidrValidator{}},
				Description: "IPv4 supernet the sites' ranges come from, a /16 per site (nodes: a /20 per zone; services: a /20; pods: a /17; " +
					"VPN gateway: a /27). Default `" + DefaultSupernet + "` (16 sites). Changing it replaces the whole network."},
			"exclude": schema.ListAttribute{Optional: true, ElementType: types.StringType,
				Description: "Ranges already in use (on-premises, other VPCs) that no site may take.",
				Validators:  []validator.List{listvalidator.ValueStringsAre(cidrValidator{})}},
			"asn_min": schema.Int64Attribute{Optional: true, Computed: true, Default: int64default.StaticInt64(64600),
				PlanModifiers: []planmodifier.Int64{int64planmodifier.RequiresReplace()},
				Description:   "Lowest private ASN given to a site's VPN gateway. Default 64600. Azure's reserved 65515–65520 and AWS's default 64512 are skipped.",
				Validators:    []validator.Int64{int64validator.Between(64512, 65534)}},
			"asn_max": schema.Int64Attribute{Optional: true, Computed: true, Default: int64default.StaticInt64(65000),
				PlanModifiers: []planmodifier.Int64{int64planmodifier.RequiresReplace()},
				Description:   "Highest private ASN given to a site's VPN gateway. Default 65000.",
				Validators:    []validator.Int64{int64validator.Between(64512, 65534), int64validator.AtLeastSumOf(path.MatchRoot("asn_min"))}},
			"id":            computed("The network's name."),
			"allowed_cidrs": schema.ListAttribute{Computed: true, ElementType: types.StringType, Description: "Ranges every site's firewall lets in: the blocks of all sites."},
			"networks": schema.MapNestedAttribute{Computed: true,
				Description: "Per site: `network_name`, `network_id`, `cidr`, `subnets` (zone → range), `subnet_ids` (zone → ID), `pods_cidr`, " +
					"`services_cidr`, `gateway_cidr`, `firewall_id`, `asn`, and for sites with a VPN link `gateway_name`, `gateway_id`, `gateway_ips`.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"network_name":  computed("Name of the VPC / VPC network / VNet."),
					"network_id":    computed("The cloud's ID of the network."),
					"cidr":          computed("The site's block."),
					"subnets":       schema.MapAttribute{Computed: true, ElementType: types.StringType, Description: "Node subnet range per zone."},
					"subnet_ids":    schema.MapAttribute{Computed: true, ElementType: types.StringType, Description: "Node subnet ID per zone."},
					"pods_cidr":     computed("Pod range."),
					"services_cidr": computed("Kubernetes service range."),
					"gateway_cidr":  computed("Range reserved for the VPN gateway (Azure GatewaySubnet)."),
					"firewall_id":   computed("Security group / firewall rule / network security group ID."),
					"asn":           schema.Int64Attribute{Computed: true, Description: "BGP ASN of the site's gateway."},
					"gateway_name":  computed("VPN gateway name; null without VPN links."),
					"gateway_id":    computed("VPN gateway ID; null without VPN links."),
					"gateway_ips":   schema.ListAttribute{Computed: true, ElementType: types.StringType, Description: "Public addresses of the gateway (empty on AWS, which assigns them per connection)."},
				}}},
			"links": schema.MapNestedAttribute{Computed: true,
				Description: "Per pair of sites, keyed `a|b` (a < b): `kind` (`vpn` or `peering`), `a_name`/`b_name` and `a_id`/`b_id` (each side's connection, or the peering), " +
					"`tunnels` (`inside_cidr`, `a_inside_ip`, `b_inside_ip`, `a_ip`, `b_ip`), and `status`: `established`, `connecting`, or `incomplete` " +
					"(something was deleted out of band: the next apply rebuilds it).",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"kind": computed("`vpn` or `peering`."), "a": computed("First site."), "b": computed("Second site."),
					"a_name": computed("Connection (or peering) name on the first site."), "b_name": computed("Connection (or peering) name on the second site."),
					"a_id": computed("Connection (or peering) ID on the first site."), "b_id": computed("Connection (or peering) ID on the second site."),
					"tunnels": schema.ListNestedAttribute{Computed: true, Description: "The link's IPsec tunnels.",
						NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
							"inside_cidr": computed("Link-local /30 of the BGP session."), "a_inside_ip": computed("First site's BGP address."),
							"b_inside_ip": computed("Second site's BGP address."), "a_ip": computed("First site's outside address."),
							"b_ip": computed("Second site's outside address."),
						}}},
					"status": computed("`established`, `connecting` or `incomplete`."),
				}}},
			"connectivity": schema.MapAttribute{Computed: true, ElementType: types.MapType{ElemType: types.StringType},
				Description: "Which site reaches which, over what: `connectivity[\"aws/eu-central-1\"][\"gcp/europe-west4\"] = \"vpn (4 tunnels)\"`."},
			"tunnels": schema.Int64Attribute{Computed: true, Description: "Number of IPsec tunnels."},
			"monthly_cost_usd": schema.Float64Attribute{Computed: true,
				Description: "Estimated monthly list price of the VPN gateways and tunnels (730 hours; data transfer not included)."},
		},
	}
}

// Configure receives the provider's backends.
func (r *NetworkResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = providerDataFrom(req.ProviderData, &resp.Diagnostics)
}

// input is the validated configuration.
type networkInput struct {
	name     string
	supernet netip.Prefix
	exclude  []netip.Prefix
	sites    []mesh.Site
	asnMin   int64
	asnMax   int64
	// tunnels is mesh.Options.TunnelsPerLink.
	tunnels func(cloudA, cloudB string) int
}

// readInput validates the configuration part of m; nil when something is
// unknown or wrong (diagnostics say what).
func (r *NetworkResource) readInput(ctx context.Context, m *networkModel, diags *diag.Diagnostics) *networkInput {
	if m.Name.IsUnknown() || m.Sites.IsUnknown() || m.CIDR.IsUnknown() || m.Exclude.IsUnknown() || m.ASNMin.IsUnknown() || m.ASNMax.IsUnknown() {
		return nil
	}
	in := &networkInput{name: m.Name.ValueString(), asnMin: m.ASNMin.ValueInt64(), asnMax: m.ASNMax.ValueInt64()}
	if r.data != nil {
		in.tunnels = r.data.meshTunnels
	}
	var err error
	if in.supernet, err = netip.ParsePrefix(m.CIDR.ValueString()); err != nil || !in.supernet.Addr().Is4() {
		diags.AddAttributeError(path.Root("cidr"), "Invalid supernet", fmt.Sprintf("%q is not an IPv4 prefix such as %s", m.CIDR.ValueString(), DefaultSupernet))
		return nil
	}
	for i, e := range stringList(ctx, m.Exclude, diags) {
		p, err := netip.ParsePrefix(e)
		if err != nil {
			diags.AddAttributeError(path.Root("exclude").AtListIndex(i), "Invalid range", fmt.Sprintf("%q is not a prefix such as 10.64.0.0/16", e))
			return nil
		}
		in.exclude = append(in.exclude, p.Masked())
	}
	var sites map[string]siteInputModel
	diags.Append(m.Sites.ElementsAs(ctx, &sites, true)...)
	if diags.HasError() {
		return nil
	}
	for _, key := range slices.Sorted(maps.Keys(sites)) {
		s := sites[key]
		at := path.Root("sites").AtMapKey(key)
		if s.Cloud.IsUnknown() || s.Region.IsUnknown() {
			return nil
		}
		cl, region, ok := strings.Cut(key, "/")
		if !ok || cl != s.Cloud.ValueString() || region != s.Region.ValueString() {
			diags.AddAttributeError(at, "Site key does not match its cloud and region",
				fmt.Sprintf("the key %q must be cloud/region of its value (%s/%s): use gpufleet_placement.<name>.sites as it is", key, s.Cloud.ValueString(), s.Region.ValueString()))
			continue
		}
		if r.data != nil {
			if !r.data.backends.supports(cl) {
				diags.AddAttributeError(at, "Cloud not enabled", fmt.Sprintf("%s is not enabled in the provider configuration: add a %s {} block (or use simulate = true).", cl, cl))
				continue
			}
			if _, known := r.data.catalog.Region(cl, region); !known {
				var names []string
				for _, reg := range r.data.catalog.Regions() {
					if reg.Cloud == cl {
						names = append(names, reg.Name)
					}
				}
				diags.AddAttributeError(at, "Site not in the catalog",
					fmt.Sprintf("%s has no region %q in the provider's catalog, so no placement can have put GPUs there%s. Use the keys of gpufleet_placement.<name>.sites.", cl, region, didYouMean(region, names)))
				continue
			}
		}
		var zones []string
		for _, z := range s.Zones {
			if z == "" {
				z = RegionalZone // offers without a zone (most Azure GPU sizes)
			}
			zones = append(zones, z)
		}
		if len(zones) == 0 && cl == "azure" {
			zones = []string{RegionalZone}
		}
		if len(zones) == 0 {
			diags.AddAttributeError(at.AtName("zones"), "No zones", "a site needs at least one zone for its node subnet: the placement's zones for this site")
			continue
		}
		if cl == "aws" && len(slices.Compact(slices.Sorted(slices.Values(zones)))) == 1 && r.data != nil {
			// An EKS control plane needs subnets in two availability zones.
			if z := r.secondZone(cl, region, zones[0]); z != "" {
				zones = append(zones, z)
			}
		}
		in.sites = append(in.sites, mesh.Site{Key: key, Zones: zones})
	}
	if diags.HasError() {
		return nil
	}
	return in
}

// secondZone is another zone of the region in the catalog (the lowest), or
// "" when the catalog knows none.
func (r *NetworkResource) secondZone(cl, region, zone string) string {
	best := ""
	for _, o := range r.data.catalog.Offers {
		if o.Cloud == cl && o.Region == region && o.Zone != "" && o.Zone != zone && (best == "" || o.Zone < best) {
			best = o.Zone
		}
	}
	return best
}

// build plans the mesh, keeping what prior allocated.
func (in *networkInput) build(prior mesh.Plan, diags *diag.Diagnostics) (mesh.Plan, bool) {
	p, err := mesh.Build(in.name, in.supernet, in.exclude, in.sites, prior, mesh.Options{ASNMin: in.asnMin, ASNMax: in.asnMax, TunnelsPerLink: in.tunnels})
	if err != nil {
		at := path.Root("cidr")
		var ie *netplan.InputError
		if errors.As(err, &ie) {
			switch ie.Input {
			case netplan.InputExclude:
				at = path.Root("exclude")
			case netplan.InputSites:
				at = path.Root("sites")
			case mesh.InputASN:
				at = path.Root("asn_max")
			case mesh.InputName:
				at = path.Root("name")
			}
		}
		diags.AddAttributeError(at, "Network cannot be planned", err.Error())
		return mesh.Plan{}, false
	}
	return p, true
}

func networksOf(ctx context.Context, m *networkModel, diags *diag.Diagnostics) map[string]siteNetworkModel {
	out := map[string]siteNetworkModel{}
	if m != nil && !m.Networks.IsNull() && !m.Networks.IsUnknown() {
		diags.Append(m.Networks.ElementsAs(ctx, &out, false)...)
	}
	return out
}

func linksOf(ctx context.Context, m *networkModel, diags *diag.Diagnostics) map[string]linkModel {
	out := map[string]linkModel{}
	if m != nil && !m.Links.IsNull() && !m.Links.IsUnknown() {
		diags.Append(m.Links.ElementsAs(ctx, &out, false)...)
	}
	return out
}

// ModifyPlan plans addresses, ASNs, tunnels, connectivity and cost, so the
// plan shows them; IDs, outside addresses and new keys are known after
// apply. Sites and links that exist keep every value; a link or network
// found missing by the last refresh is planned for rebuilding.
func (r *NetworkResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	var plan networkModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	in := r.readInput(ctx, &plan, &resp.Diagnostics)
	if in == nil {
		return
	}
	var prior mesh.Plan
	var state *networkModel
	if !req.State.Raw.IsNull() {
		state = &networkModel{}
		resp.Diagnostics.Append(req.State.Get(ctx, state)...)
		prior = priorPlan(ctx, state, &resp.Diagnostics)
	}
	p, ok := in.build(prior, &resp.Diagnostics)
	if !ok {
		return
	}
	fillNetwork(&plan, p, nil, networksOf(ctx, state, &resp.Diagnostics), linksOf(ctx, state, &resp.Diagnostics), false)
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

// apply builds the planned mesh and records what exists.
func (r *NetworkResource) apply(ctx context.Context, plan *networkModel, state *networkModel, diags *diag.Diagnostics) (ok bool) {
	in := r.readInput(ctx, plan, diags)
	if in == nil {
		if !diags.HasError() {
			diags.AddError("Network configuration unknown at apply", "sites, cidr or exclude are still unknown")
		}
		return false
	}
	var prior mesh.Plan
	if state != nil {
		prior = priorPlan(ctx, state, diags)
	}
	p, ok := in.build(prior, diags)
	if !ok {
		return false
	}
	backends, ok := r.backends(ctx, mesh.Plan{Sites: append(slices.Clone(p.Sites), prior.Sites...)}, diags)
	if !ok {
		return false
	}
	tflog.Info(ctx, "building network", map[string]any{"name": p.Name, "sites": len(p.Sites), "links": len(p.Links), "tunnels": p.Tunnels()})
	observed, err := mesh.Apply(ctx, backends, p, prior)
	if err == nil {
		poll, timeout := r.data.backends.tunnelWait()
		if observed, err = mesh.WaitEstablished(ctx, backends, p, poll, timeout); err == nil {
			var slow []string
			for _, l := range p.Links {
				if !observed.Links[l.Key()].Established(l) {
					slow = append(slow, l.A+" ↔ "+l.B)
				}
			}
			if len(slow) > 0 {
				diags.AddWarning("Links not established yet",
					fmt.Sprintf("Everything was created, but after %s these links are not up: %s. Their status is `connecting`; "+
						"the next refresh updates it. If it stays so, compare the tunnels' status in each cloud's console.", timeout, strings.Join(slow, ", ")))
			}
		}
	}
	if rerr := (*mesh.RemoveError)(nil); errors.As(err, &rerr) && state != nil {
		// Nothing new was built and some of what was to go may remain:
		// keep the prior state, so that the next apply or destroy finds it.
		*plan = *state
		diags.AddError("Network apply failed", fmt.Sprintf("%v\n\nThe state is unchanged; apply again to finish removing, or destroy.", err))
		return true
	}
	planned := *plan
	fillNetwork(plan, p, &observed, networksOf(ctx, &planned, diags), linksOf(ctx, &planned, diags), true)
	if err != nil && ctx.Err() != nil {
		// Interrupted (Ctrl-C, a CI timeout): record what exists without
		// failing, so the resource is not tainted and the next apply picks
		// up where this one stopped (a refresh marks what is missing).
		diags.AddWarning("Network apply interrupted",
			"What was created is recorded in the state; the next plan shows what is still missing and the next apply finishes it.")
		return true
	}
	if err != nil {
		diags.AddError("Network apply failed",
			fmt.Sprintf("%v\n\nWhat was created is recorded in the state; apply again to finish (every step resumes where it stopped), or destroy to remove it.", err))
		return true // state is still saved
	}
	return true
}

func (r *NetworkResource) backends(ctx context.Context, p mesh.Plan, diags *diag.Diagnostics) (mesh.Backends, bool) {
	if r.data == nil {
		diags.AddError("Provider not configured", "the gpufleet provider has no configuration")
		return nil, false
	}
	out := mesh.Backends{}
	for _, s := range p.Sites {
		if _, done := out[s.Cloud]; done {
			continue
		}
		nb, err := r.data.backends.network(ctx, s.Cloud)
		if err != nil {
			addBackendError(diags, path.Root("sites").AtMapKey(s.Key), "No network backend for the site's cloud", err)
			return nil, false
		}
		out[s.Cloud] = nb
	}
	return out, true
}

// Create builds the networks, gateways and links.
func (r *NetworkResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan networkModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if r.apply(ctx, &plan, nil, &resp.Diagnostics) {
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	}
}

// Update adds and removes sites and links, and rebuilds what is missing.
func (r *NetworkResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state networkModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if r.apply(ctx, &plan, &state, &resp.Diagnostics) {
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	}
}

// Read refreshes IDs, addresses and link statuses from the clouds; what
// is missing shows as an empty ID or an incomplete link.
func (r *NetworkResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state networkModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	p := priorPlan(ctx, &state, &resp.Diagnostics)
	backends, ok := r.backends(ctx, p, &resp.Diagnostics)
	if !ok {
		return
	}
	observed, err := mesh.Observe(ctx, backends, p)
	if err != nil {
		resp.Diagnostics.AddError("Reading the network failed", err.Error())
		return
	}
	fillNetwork(&state, p, &observed, nil, nil, true)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// Delete removes the links, gateways and networks.
func (r *NetworkResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state networkModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	p := priorPlan(ctx, &state, &resp.Diagnostics)
	backends, ok := r.backends(ctx, p, &resp.Diagnostics)
	if !ok {
		return
	}
	if err := mesh.Destroy(ctx, backends, p); err != nil {
		resp.Diagnostics.AddError("Deleting the network failed", err.Error()+"\n\nThe network stays in the state; run destroy again.")
	}
}

// meshNameValidator checks name with mesh.ValidName.
type meshNameValidator struct{}

func (meshNameValidator) Description(context.Context) string {
	return "1–20 lower-case letters, digits or hyphens, starting with a letter"
}
func (v meshNameValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }
func (meshNameValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := mesh.ValidName(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid network name", err.Error())
	}
}

// cidrValidator checks an IPv4 or IPv6 prefix.
type cidrValidator struct{}

func (cidrValidator) Description(context.Context) string { return "a prefix such as 10.64.0.0/16" }
func (v cidrValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}
func (cidrValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, err := netip.ParsePrefix(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid range", fmt.Sprintf("%q is not a prefix such as 10.64.0.0/16", req.ConfigValue.ValueString()))
	}
}
