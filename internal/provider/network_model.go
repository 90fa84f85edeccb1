package provider

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/mesh"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/netplan"
)

// networkModel is gpufleet_network's state.
type networkModel struct {
	Name         types.String  `tfsdk:"name"`
	Sites        types.Map     `tfsdk:"sites"`
	CIDR         types.String  `tfsdk:"cidr"`
	Exclude      types.List    `tfsdk:"exclude"`
	ASNMin       types.Int64   `tfsdk:"asn_min"`
	ASNMax       types.Int64   `tfsdk:"asn_max"`
	ID           types.String  `tfsdk:"id"`
	AllowedCIDRs types.List    `tfsdk:"allowed_cidrs"`
	Networks     types.Map     `tfsdk:"networks"`
	Links        types.Map     `tfsdk:"links"`
	Connectivity types.Map     `tfsdk:"connectivity"`
	Tunnels      types.Int64   `tfsdk:"tunnels"`
	MonthlyCost  types.Float64 `tfsdk:"monthly_cost_usd"`
}

// siteInputModel is one element of sites: gpufleet_placement.sites as it
// is, or a hand-written object with cloud, region and zones.
type siteInputModel struct {
	Cloud       types.String  `tfsdk:"cloud"`
	Region      types.String  `tfsdk:"region"`
	Zones       []string      `tfsdk:"zones"`
	GPUs        types.Int64   `tfsdk:"gpus"`
	Nodes       types.Int64   `tfsdk:"nodes"`
	HourlyUSD   types.Float64 `tfsdk:"hourly_usd"`
	Allocations types.List    `tfsdk:"allocations"`
}

type siteNetworkModel struct {
	NetworkName  types.String `tfsdk:"network_name"`
	NetworkID    types.String `tfsdk:"network_id"`
	CIDR         types.String `tfsdk:"cidr"`
	Subnets      types.Map    `tfsdk:"subnets"`
	SubnetIDs    types.Map    `tfsdk:"subnet_ids"`
	PodsCIDR     types.String `tfsdk:"pods_cidr"`
	ServicesCIDR types.String `tfsdk:"services_cidr"`
	GatewayCIDR  types.String `tfsdk:"gateway_cidr"`
	FirewallID   types.String `tfsdk:"firewall_id"`
	ASN          types.Int64  `tfsdk:"asn"`
	GatewayName  types.String `tfsdk:"gateway_name"`
	GatewayID    types.String `tfsdk:"gateway_id"`
	GatewayIPs   types.List   `tfsdk:"gateway_ips"`
}

type linkModel struct {
	Kind    types.String `tfsdk:"kind"`
	A       types.String `tfsdk:"a"`
	B       types.String `tfsdk:"b"`
	AName   types.String `tfsdk:"a_name"`
	BName   types.String `tfsdk:"b_name"`
	AID     types.String `tfsdk:"a_id"`
	BID     types.String `tfsdk:"b_id"`
	Tunnels types.List   `tfsdk:"tunnels"`
	Status  types.String `tfsdk:"status"`
}

type tunnelModel struct {
	InsideCIDR types.String `tfsdk:"inside_cidr"`
	AInsideIP  types.String `tfsdk:"a_inside_ip"`
	BInsideIP  types.String `tfsdk:"b_inside_ip"`
	AIP        types.String `tfsdk:"a_ip"`
	BIP        types.String `tfsdk:"b_ip"`
}

var (
	siteInputAttrTypes = map[string]attr.Type{
		"cloud": types.StringType, "region": types.StringType, "zones": types.ListType{ElemType: types.StringType},
		"gpus": types.Int64Type, "nodes": types.Int64Type, "hourly_usd": types.Float64Type,
		"allocations": types.ListType{ElemType: types.StringType},
	}
	siteNetworkAttrTypes = map[string]attr.Type{
		"network_name": types.StringType, "network_id": types.StringType, "cidr": types.StringType,
		"subnets": types.MapType{ElemType: types.StringType}, "subnet_ids": types.MapType{ElemType: types.StringType},
		"pods_cidr": types.StringType, "services_cidr": types.StringType, "gateway_cidr": types.StringType,
		"firewall_id": types.StringType, "asn": types.Int64Type, "gateway_name": types.StringType,
		"gateway_id": types.StringType, "gateway_ips": types.ListType{ElemType: types.StringType},
	}
	tunnelAttrTypes = map[string]attr.Type{
		"inside_cidr": types.StringType, "a_inside_ip": types.StringType, "b_inside_ip": types.StringType,
		"a_ip": types.StringType, "b_ip": types.StringType,
	}
	linkAttrTypes = map[string]attr.Type{
		"kind": types.StringType, "a": types.StringType, "b": types.StringType, "a_name": types.StringType,
		"b_name": types.StringType, "a_id": types.StringType, "b_id": types.StringType,
		"tunnels": types.ListType{ElemType: types.ObjectType{AttrTypes: tunnelAttrTypes}}, "status": types.StringType,
	}
)

// Link statuses.
const (
	linkEstablished = "established" // every tunnel up / peering active
	linkConnecting  = "connecting"  // everything exists, tunnels not all up yet
	linkIncomplete  = "incomplete"  // something is missing: the next apply recreates it
)

// priorPlan rebuilds the mesh plan a state holds, for stable replanning,
// deletion and reading.
func priorPlan(ctx context.Context, st *networkModel, diags *diag.Diagnostics) mesh.Plan {
	p := mesh.Plan{Name: st.Name.ValueString()}
	if pfx, err := netip.ParsePrefix(st.CIDR.ValueString()); err == nil {
		p.Supernet = pfx
	}
	var nets map[string]siteNetworkModel
	if !st.Networks.IsNull() && !st.Networks.IsUnknown() {
		diags.Append(st.Networks.ElementsAs(ctx, &nets, false)...)
	}
	for _, k := range slices.Sorted(maps.Keys(nets)) {
		n := nets[k]
		cl, region, _ := strings.Cut(k, "/")
		a := netplan.Allocation{Site: k, Subnets: map[string]string{}}
		a.Block, _ = netip.ParsePrefix(n.CIDR.ValueString())
		a.Pods, _ = netip.ParsePrefix(n.PodsCIDR.ValueString())
		a.Services, _ = netip.ParsePrefix(n.ServicesCIDR.ValueString())
		a.Gateway, _ = netip.ParsePrefix(n.GatewayCIDR.ValueString())
		var subnets map[string]string
		diags.Append(n.Subnets.ElementsAs(ctx, &subnets, false)...)
		for z, c := range subnets {
			a.Subnets[z] = c
		}
		p.Sites = append(p.Sites, mesh.PlannedSite{Key: k, Cloud: cl, Region: region, Addresses: a,
			NetworkName: n.NetworkName.ValueString(), GatewayName: n.GatewayName.ValueString(),
			ASN: n.ASN.ValueInt64(), NeedsGateway: !n.GatewayName.IsNull() && n.GatewayName.ValueString() != ""})
	}
	var links map[string]linkModel
	if !st.Links.IsNull() && !st.Links.IsUnknown() {
		diags.Append(st.Links.ElementsAs(ctx, &links, false)...)
	}
	for _, k := range slices.Sorted(maps.Keys(links)) {
		l := links[k]
		ml := mesh.Link{A: l.A.ValueString(), B: l.B.ValueString(), Kind: l.Kind.ValueString()}
		if ml.Kind == mesh.KindPeering {
			ml.Name = l.AName.ValueString()
		}
		var tunnels []tunnelModel
		diags.Append(l.Tunnels.ElementsAs(ctx, &tunnels, false)...)
		for _, t := range tunnels {
			var mt mesh.Tunnel // no key: keys live only in the clouds (mesh.Apply keeps or renews them)
			mt.InsideCIDR, _ = netip.ParsePrefix(t.InsideCIDR.ValueString())
			mt.AInside, _ = netip.ParseAddr(t.AInsideIP.ValueString())
			mt.BInside, _ = netip.ParseAddr(t.BInsideIP.ValueString())
			ml.Tunnels = append(ml.Tunnels, mt)
		}
		p.Links = append(p.Links, ml)
	}
	return p
}

func listOfStrings(values []string) types.List {
	elems := make([]attr.Value, len(values))
	for i, v := range values {
		elems[i] = types.StringValue(v)
	}
	return types.ListValueMust(types.StringType, elems)
}

func stringMap(m map[string]string) types.Map {
	elems := make(map[string]attr.Value, len(m))
	for k, v := range m {
		elems[k] = types.StringValue(v)
	}
	return types.MapValueMust(types.StringType, elems)
}

// fillNetwork sets every computed attribute from plan p. Values that only
// exist once applied (IDs, addresses, statuses) are taken from prior where
// prior knows them (the state at plan time, the plan at apply time, so that
// an apply returns what was planned), else from observed (this apply's or a
// read's result), else unknown (plan time) or empty (after apply). A link
// whose prior status is incomplete, or a site whose prior network ID is
// empty, reuses nothing, so the plan shows it being rebuilt.
func fillNetwork(m *networkModel, p mesh.Plan, observed *mesh.State, prior map[string]siteNetworkModel, priorLinks map[string]linkModel, afterApply bool) {
	unknownOr := func(v string, ok bool) types.String {
		switch {
		case ok:
			return types.StringValue(v)
		case afterApply:
			return types.StringValue("")
		}
		return types.StringUnknown()
	}
	m.ID = types.StringValue(p.Name)
	m.AllowedCIDRs = listOfStrings(p.AllowedCIDRs())
	nets := map[string]attr.Value{}
	for _, s := range p.Sites {
		subnets := map[string]string{}
		for z, c := range s.Addresses.Subnets {
			subnets[z] = c
		}
		var obs mesh.SiteState
		if observed != nil {
			obs = observed.Sites[s.Key]
		}
		old, hadOld := prior[s.Key]
		reuse := hadOld && !old.NetworkID.IsUnknown() && !old.NetworkID.IsNull() && old.NetworkID.ValueString() != "" && old.Subnets.Equal(stringMap(subnets))
		n := siteNetworkModel{NetworkName: types.StringValue(s.NetworkName), CIDR: types.StringValue(s.Addresses.Block.String()),
			Subnets: stringMap(subnets), PodsCIDR: types.StringValue(s.Addresses.Pods.String()),
			ServicesCIDR: types.StringValue(s.Addresses.Services.String()), GatewayCIDR: types.StringValue(s.Addresses.Gateway.String()),
			ASN: types.Int64Value(s.ASN), GatewayName: types.StringNull(), GatewayID: types.StringNull(),
			GatewayIPs: types.ListNull(types.StringType)}
		switch {
		case reuse:
			n.NetworkID, n.FirewallID, n.SubnetIDs = old.NetworkID, old.FirewallID, old.SubnetIDs
		case obs.Network != nil:
			n.NetworkID, n.FirewallID = types.StringValue(obs.Network.ID), types.StringValue(obs.Network.FirewallID)
			ids := map[string]string{}
			for _, sn := range obs.Network.Subnets {
				ids[sn.Zone] = sn.ID
			}
			n.SubnetIDs = stringMap(ids)
		default:
			n.NetworkID, n.FirewallID = unknownOr("", false), unknownOr("", false)
			n.SubnetIDs = types.MapUnknown(types.StringType)
			if afterApply {
				n.SubnetIDs = types.MapValueMust(types.StringType, map[string]attr.Value{})
			}
		}
		if s.NeedsGateway {
			n.GatewayName = types.StringValue(s.GatewayName)
			switch {
			case hadOld && !old.GatewayID.IsNull() && !old.GatewayID.IsUnknown() && old.GatewayID.ValueString() != "":
				n.GatewayID, n.GatewayIPs = old.GatewayID, old.GatewayIPs
			case obs.Gateway != nil:
				n.GatewayID, n.GatewayIPs = types.StringValue(obs.Gateway.ID), listOfStrings(obs.Gateway.PublicIPs)
			case afterApply:
				n.GatewayID, n.GatewayIPs = types.StringValue(""), listOfStrings(nil)
			default:
				n.GatewayID, n.GatewayIPs = types.StringUnknown(), types.ListUnknown(types.StringType)
			}
		}
		nets[s.Key] = object(siteNetworkAttrTypes, n)
	}
	m.Networks = types.MapValueMust(types.ObjectType{AttrTypes: siteNetworkAttrTypes}, nets)

	links := map[string]attr.Value{}
	conn := map[string]map[string]string{}
	for _, s := range p.Sites {
		conn[s.Key] = map[string]string{}
	}
	for _, l := range p.Links {
		var obs mesh.LinkState
		if observed != nil {
			obs = observed.Links[l.Key()]
		}
		old, hadOld := priorLinks[l.Key()]
		// A link planned with fewer tunnels (before AWS links had four)
		// reuses its tunnels' addresses but not its IDs and status: the
		// apply adds tunnels to it.
		reuse := hadOld && !old.Status.IsUnknown() && !old.Status.IsNull() && old.Status.ValueString() != linkIncomplete
		reuseTunnels := reuse
		if reuse && !old.Tunnels.IsUnknown() && !old.Tunnels.IsNull() && len(old.Tunnels.Elements()) != len(l.Tunnels) {
			reuse = false
		}
		lm := linkModel{Kind: types.StringValue(l.Kind), A: types.StringValue(l.A), B: types.StringValue(l.B)}
		var tunnels []attr.Value
		if l.Kind == mesh.KindPeering {
			lm.AName, lm.BName = types.StringValue(l.Name), types.StringValue(l.Name)
			conn[l.A][l.B], conn[l.B][l.A] = "peering", "peering"
		} else {
			lm.AName, lm.BName = types.StringValue(l.ConnectionName(p.Name, l.A)), types.StringValue(l.ConnectionName(p.Name, l.B))
			via := fmt.Sprintf("vpn (%d tunnels)", len(l.Tunnels))
			conn[l.A][l.B], conn[l.B][l.A] = via, via
		}
		var oldTunnels []tunnelModel
		if reuseTunnels {
			old.Tunnels.ElementsAs(context.Background(), &oldTunnels, false)
		}
		for i, t := range l.Tunnels {
			tm := tunnelModel{InsideCIDR: types.StringValue(t.InsideCIDR.String()), AInsideIP: types.StringValue(t.AInside.String()),
				BInsideIP: types.StringValue(t.BInside.String())}
			aIP, aOK := tunnelIP(obs.A, i)
			bIP, bOK := tunnelIP(obs.B, i)
			tm.AIP, tm.BIP = unknownOr(aIP, aOK), unknownOr(bIP, bOK)
			if i < len(oldTunnels) && known(oldTunnels[i].AIP) {
				tm.AIP = oldTunnels[i].AIP
			}
			if i < len(oldTunnels) && known(oldTunnels[i].BIP) {
				tm.BIP = oldTunnels[i].BIP
			}
			tunnels = append(tunnels, object(tunnelAttrTypes, tm))
		}
		lm.Tunnels = types.ListValueMust(types.ObjectType{AttrTypes: tunnelAttrTypes}, tunnels)
		switch {
		case reuse:
			lm.AID, lm.BID, lm.Status = old.AID, old.BID, old.Status
		default:
			aID, aOK, bID, bOK := "", false, "", false
			if l.Kind == mesh.KindPeering && obs.Peering != nil {
				aID, bID, aOK, bOK = obs.Peering.ID, obs.Peering.ID, true, true
			}
			if obs.A != nil {
				aID, aOK = obs.A.ID, true
			}
			if obs.B != nil {
				bID, bOK = obs.B.ID, true
			}
			lm.AID, lm.BID = unknownOr(aID, aOK), unknownOr(bID, bOK)
			lm.Status = types.StringUnknown()
			if observed != nil {
				lm.Status = types.StringValue(linkStatus(l, obs))
			}
		}
		links[l.Key()] = object(linkAttrTypes, lm)
	}
	m.Links = types.MapValueMust(types.ObjectType{AttrTypes: linkAttrTypes}, links)
	cm := map[string]attr.Value{}
	for k, row := range conn {
		cm[k] = stringMap(row)
	}
	m.Connectivity = types.MapValueMust(types.MapType{ElemType: types.StringType}, cm)
	m.Tunnels = types.Int64Value(int64(p.Tunnels()))
	m.MonthlyCost = types.Float64Value(roundDecimals(p.HourlyCost()*mesh.HoursPerMonth, 2))
}

func linkStatus(l mesh.Link, obs mesh.LinkState) string {
	switch {
	case !obs.Complete(l):
		return linkIncomplete
	case obs.Established(l):
		return linkEstablished
	}
	return linkConnecting
}

// known reports a string that is neither null nor unknown.
func known(v types.String) bool { return !v.IsNull() && !v.IsUnknown() }

// tunnelIP is a connection's outside address for tunnel i.
func tunnelIP(c *cloud.VPNConnection, i int) (string, bool) {
	if c == nil || i >= len(c.LocalIPs) || c.LocalIPs[i] == "" {
		return "", false
	}
	return c.LocalIPs[i], true
}

// object builds an object value from a model struct whose fields match
// attrTypes (a mismatch is a programming error).
func object(attrTypes map[string]attr.Type, v any) attr.Value {
	o, diags := types.ObjectValueFrom(context.Background(), attrTypes, v)
	if diags.HasError() {
		panic(fmt.Sprintf("building an object from %T: %v", v, diags))
	}
	return o
}
