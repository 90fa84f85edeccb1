package provider

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/mesh"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/netplan"
)

var _ resource.ResourceWithImportState = &NetworkResource{}

// networkImportFormat is what the import ID may be, for diagnostics and
// docs (templates/resources/network.md.tmpl).
const networkImportFormat = "the network's name (every region of the provider's catalog on every enabled cloud is searched for its sites), " +
	"optionally followed by ;attribute=value pairs for what differs from the defaults: " +
	"sites (cloud/region keys, comma-separated: only these are read), cidr, exclude (comma-separated), asn_min, asn_max; " +
	"e.g. fleet or fleet;sites=aws/eu-central-1,gcp/europe-west4;cidr=10.64.0.0/12"

// networkImportID is a parsed import ID.
type networkImportID struct {
	name           string
	sites          []string // nil: search the catalog's regions
	cidr           netip.Prefix
	exclude        []netip.Prefix
	asnMin, asnMax int64
}

// parseNetworkID reads NAME[;attribute=value...] (networkImportFormat).
func parseNetworkID(id string) (networkImportID, error) {
	parts := strings.Split(id, ";")
	out := networkImportID{name: parts[0], cidr: netip.MustParsePrefix(DefaultSupernet), asnMin: 64600, asnMax: 65000}
	if err := mesh.ValidName(out.name); err != nil {
		return out, fmt.Errorf("the name %q %v", out.name, err)
	}
	seen := map[string]bool{}
	for _, part := range parts[1:] {
		k, v, ok := strings.Cut(part, "=")
		if !ok || v == "" {
			return out, fmt.Errorf("%q is not attribute=value", part)
		}
		if seen[k] {
			return out, fmt.Errorf("attribute %q appears twice", k)
		}
		seen[k] = true
		var err error
		switch k {
		case "sites":
			for _, s := range strings.Split(v, ",") {
				if c, r, ok := strings.Cut(s, "/"); !ok || c == "" || r == "" {
					return out, fmt.Errorf("sites: %q is not cloud/region", s)
				}
				out.sites = append(out.sites, s)
			}
			slices.Sort(out.sites)
			out.sites = slices.Compact(out.sites)
		case "cidr":
			if out.cidr, err = netip.ParsePrefix(v); err != nil || !out.cidr.Addr().Is4() {
				return out, fmt.Errorf("cidr: %q is not an IPv4 prefix such as %s", v, DefaultSupernet)
			}
		case "exclude":
			for _, e := range strings.Split(v, ",") {
				p, err := netip.ParsePrefix(e)
				if err != nil {
					return out, fmt.Errorf("exclude: %q is not a prefix such as 10.64.0.0/16", e)
				}
				out.exclude = append(out.exclude, p.Masked())
			}
		case "asn_min", "asn_max":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 64512 || n > 65534 {
				return out, fmt.Errorf("%s: %q is not a private ASN (64512–65534)", k, v)
			}
			if k == "asn_min" {
				out.asnMin = n
			} else {
				out.asnMax = n
			}
		default:
			return out, fmt.Errorf("unknown attribute %q (known: sites, cidr, exclude, asn_min, asn_max)", k)
		}
	}
	if out.asnMax < out.asnMin {
		return out, fmt.Errorf("asn_max %d is below asn_min %d", out.asnMax, out.asnMin)
	}
	return out, nil
}

// ImportState rebuilds a mesh from what exists in the clouds: each site's
// network (its block and node subnets give the site's allocation,
// netplan.Restore), gateway (its ASN) and each link's connection or
// peering (the tunnels' inside ranges). The state is then what the apply
// that built the mesh wrote, so the next plan of the configuration that
// built it is empty.
func (r *NetworkResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	id, err := parseNetworkID(req.ID)
	if err != nil {
		resp.Diagnostics.AddError("Invalid import ID", fmt.Sprintf("%v. The ID is %s.", err, networkImportFormat))
		return
	}
	if r.data == nil {
		resp.Diagnostics.AddError("Provider not configured", "the gpufleet provider has no configuration")
		return
	}
	m, ok := r.importNetwork(ctx, id, &resp.Diagnostics)
	if ok {
		resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
	}
}

// importNetwork reads the mesh id names from the clouds (the ID's sites,
// else every catalog region of every enabled cloud, one after the other)
// and returns its state as an apply would have written it.
func (r *NetworkResource) importNetwork(ctx context.Context, id networkImportID, diags *diag.Diagnostics) (networkModel, bool) {
	candidates := id.sites
	if candidates == nil {
		for _, reg := range r.data.catalog.Regions() {
			if r.data.backends.supports(reg.Cloud) {
				candidates = append(candidates, reg.Cloud+"/"+reg.Name)
			}
		}
	}
	backends := mesh.Backends{}
	for _, key := range candidates {
		cl, _, _ := strings.Cut(key, "/")
		if _, done := backends[cl]; done {
			continue
		}
		if !r.data.backends.supports(cl) {
			diags.AddError("Cloud not enabled", fmt.Sprintf("the import ID names the site %s, but %s is not enabled in the provider configuration: add a %s {} block (or use simulate = true).", key, cl, cl))
			return networkModel{}, false
		}
		nb, err := r.data.backends.network(ctx, cl)
		if err != nil {
			addBackendError(diags, path.Empty(), "No network backend for the site's cloud", err)
			return networkModel{}, false
		}
		backends[cl] = nb
	}

	// Sites: the networks named name-region (mesh.Build's names).
	prior := mesh.Plan{Name: id.name, Supernet: id.cidr}
	var sites []mesh.Site
	for _, key := range candidates {
		cl, region, _ := strings.Cut(key, "/")
		ps := mesh.PlannedSite{Key: key, Cloud: cl, Region: region, NetworkName: id.name + "-" + region, GatewayName: id.name + "-" + region + "-vpn"}
		n, err := backends[cl].GetNetwork(ctx, region, ps.NetworkName)
		if cloud.IsNotFound(err) {
			continue
		}
		if err != nil {
			diags.AddError("Reading the network failed", fmt.Sprintf("site %s: reading network %s: %v. To read only the mesh's own sites, name them in the ID: %s;sites=cloud/region,...", key, ps.NetworkName, err, id.name))
			return networkModel{}, false
		}
		block, err := netip.ParsePrefix(n.CIDR)
		if err != nil {
			diags.AddError("Network not made by gpufleet", fmt.Sprintf("site %s: network %s has the range %q, which is not a prefix", key, n.Name, n.CIDR))
			return networkModel{}, false
		}
		subnets := map[string]string{}
		for _, sn := range n.Subnets {
			subnets[sn.Zone] = sn.CIDR
		}
		if ps.Addresses, err = netplan.Restore(key, block, subnets, netplan.DefaultSizes); err != nil {
			diags.AddError("Network not made by gpufleet", err.Error())
			return networkModel{}, false
		}
		g, err := backends[cl].GetVPNGateway(ctx, region, ps.GatewayName)
		switch {
		case cloud.IsNotFound(err):
		case err != nil:
			diags.AddError("Reading the network failed", fmt.Sprintf("site %s: reading VPN gateway %s: %v", key, ps.GatewayName, err))
			return networkModel{}, false
		default:
			ps.ASN, ps.NeedsGateway = g.ASN, true
		}
		prior.Sites = append(prior.Sites, ps)
		sites = append(sites, mesh.Site{Key: key, Zones: slices.Sorted(maps.Keys(subnets))})
	}
	if len(prior.Sites) == 0 {
		where := "in any region of the provider's catalog on the enabled clouds"
		if id.sites != nil {
			where = "in " + strings.Join(id.sites, ", ")
		}
		diags.AddError("Network not found", fmt.Sprintf("no network of the mesh %q (named %s-<region>) exists %s. The ID is %s.", id.name, id.name, where, networkImportFormat))
		return networkModel{}, false
	}

	// Links: each pair's tunnels, from the first side that reports them.
	for i, a := range prior.Sites {
		for _, b := range prior.Sites[i+1:] {
			l := mesh.Link{A: a.Key, B: b.Key, Kind: mesh.KindVPN}
			if a.Cloud == b.Cloud {
				l.Kind, l.Name = mesh.KindPeering, id.name+"-"+a.Region+"-"+b.Region
				prior.Links = append(prior.Links, l)
				continue
			}
			tunnels, err := importTunnels(ctx, backends, id.name, l, a, b)
			if err != nil {
				diags.AddError("Reading the network failed", fmt.Sprintf("link %s ↔ %s: %v", a.Key, b.Key, err))
				return networkModel{}, false
			}
			l.Tunnels = tunnels
			prior.Links = append(prior.Links, l)
		}
	}

	// Plan with what was read as the prior plan: everything read is kept,
	// what is missing (a site's ASN without a gateway, tunnels deleted out
	// of band) is planned as a create would.
	in := &networkInput{name: id.name, supernet: id.cidr, exclude: id.exclude, sites: sites, asnMin: id.asnMin, asnMax: id.asnMax, tunnels: r.data.meshTunnels}
	var planDiags diag.Diagnostics
	p, ok := in.build(prior, &planDiags)
	if !ok {
		for _, d := range planDiags.Errors() {
			diags.AddError("Imported network cannot be planned", fmt.Sprintf("%s. The networks found do not fit the ID's settings (cidr %s, asn_min %d, asn_max %d): "+
				"give the mesh's cidr, exclude, asn_min and asn_max in the ID. The ID is %s.", d.Detail(), id.cidr, id.asnMin, id.asnMax, networkImportFormat))
		}
		return networkModel{}, false
	}
	observed, err := mesh.Observe(ctx, backends, p)
	if err != nil {
		diags.AddError("Reading the network failed", err.Error())
		return networkModel{}, false
	}
	m := networkModel{Name: types.StringValue(id.name), CIDR: types.StringValue(id.cidr.String()),
		ASNMin: types.Int64Value(id.asnMin), ASNMax: types.Int64Value(id.asnMax), Exclude: types.ListNull(types.StringType)}
	if id.exclude != nil {
		var ex []string
		for _, e := range id.exclude {
			ex = append(ex, e.String())
		}
		m.Exclude = listOfStrings(ex)
	}
	siteValues := map[string]attr.Value{}
	for _, s := range sites {
		cl, region, _ := strings.Cut(s.Key, "/")
		zones := []string{}
		for _, z := range s.Zones {
			if z != RegionalZone {
				zones = append(zones, z)
			}
		}
		siteValues[s.Key] = object(siteInputAttrTypes, siteInputModel{Cloud: types.StringValue(cl), Region: types.StringValue(region),
			Zones: zones, GPUs: types.Int64Null(), Nodes: types.Int64Null(), HourlyUSD: types.Float64Null(), Allocations: types.ListNull(types.StringType)})
	}
	m.Sites = types.MapValueMust(types.ObjectType{AttrTypes: siteInputAttrTypes}, siteValues)
	fillNetwork(&m, p, &observed, nil, nil, true)
	return m, true
}

// importTunnels reads a VPN link's tunnels' inside ranges from its
// connection on side a, else on side b (the side whose cloud reports
// them); each /30's first address is the first site's (mesh.Build).
func importTunnels(ctx context.Context, backends mesh.Backends, name string, l mesh.Link, a, b mesh.PlannedSite) ([]mesh.Tunnel, error) {
	var best []mesh.Tunnel
	for _, side := range []mesh.PlannedSite{a, b} {
		c, err := backends[side.Cloud].GetVPNConnection(ctx, side.Region, l.ConnectionName(name, side.Key))
		if cloud.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading connection %s on %s: %w", l.ConnectionName(name, side.Key), side.Key, err)
		}
		var tunnels []mesh.Tunnel
		for _, t := range c.Tunnels {
			p, err := netip.ParsePrefix(t.InsideCIDR)
			if err != nil {
				break // this cloud does not report it: try the other side
			}
			tunnels = append(tunnels, mesh.Tunnel{InsideCIDR: p, AInside: p.Addr().Next(), BInside: p.Addr().Next().Next()})
		}
		if len(tunnels) > len(best) {
			best = tunnels
		}
	}
	return best, nil
}
