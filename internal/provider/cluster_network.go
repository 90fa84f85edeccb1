package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/objectplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
)

// clusterNetworkAttributes accept one element of gpufleet_network's
// networks as it is.
func clusterNetworkAttributes() map[string]schema.Attribute {
	str := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Optional: true, Description: desc}
	}
	return map[string]schema.Attribute{
		"network_name":  str("Network name."),
		"network_id":    str("Network ID."),
		"cidr":          str("Site block."),
		"subnets":       schema.MapAttribute{Optional: true, ElementType: types.StringType, Description: "Node subnet range per zone."},
		"subnet_ids":    schema.MapAttribute{Optional: true, ElementType: types.StringType, Description: "Node subnet ID per zone."},
		"pods_cidr":     str("Pod range."),
		"services_cidr": str("Service range."),
		"gateway_cidr":  str("Gateway range (unused by the cluster)."),
		"firewall_id":   str("Firewall ID (unused by the cluster)."),
		"asn":           schema.Int64Attribute{Optional: true, Description: "Gateway ASN (unused by the cluster)."},
		"gateway_name":  str("Gateway name (unused by the cluster)."),
		"gateway_id":    str("Gateway ID (unused by the cluster)."),
		"gateway_ips":   schema.ListAttribute{Optional: true, ElementType: types.StringType, Description: "Gateway addresses (unused by the cluster)."},
	}
}

// networkMoved asks for replacement when the cluster would move to another
// network or change ranges; new subnets, gateways and firewall IDs do not.
func networkMoved(ctx context.Context, req planmodifier.ObjectRequest, resp *objectplanmodifier.RequiresReplaceIfFuncResponse) {
	if req.StateValue.IsNull() != req.PlanValue.IsNull() {
		resp.RequiresReplace = true
		return
	}
	if req.PlanValue.IsNull() || req.PlanValue.IsUnknown() {
		resp.RequiresReplace = req.PlanValue.IsUnknown()
		return
	}
	for _, name := range []string{"network_id", "pods_cidr", "services_cidr"} {
		var before, after types.String
		resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("network").AtName(name), &before)...)
		resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("network").AtName(name), &after)...)
		if after.IsUnknown() || !before.Equal(after) {
			resp.RequiresReplace = true
			return
		}
	}
}

// clusterNetwork converts the network attribute for the backend; nil when
// it is not set.
func clusterNetwork(ctx context.Context, o types.Object, diags *diag.Diagnostics) *cloud.ClusterNetwork {
	if o.IsNull() || o.IsUnknown() {
		return nil
	}
	var n siteNetworkModel
	diags.Append(o.As(ctx, &n, basetypes.ObjectAsOptions{})...)
	if diags.HasError() {
		return nil
	}
	out := &cloud.ClusterNetwork{Name: n.NetworkName.ValueString(), ID: n.NetworkID.ValueString(),
		PodsCIDR: n.PodsCIDR.ValueString(), ServicesCIDR: n.ServicesCIDR.ValueString(), SubnetIDs: map[string]string{}}
	if !n.SubnetIDs.IsNull() && !n.SubnetIDs.IsUnknown() {
		diags.Append(n.SubnetIDs.ElementsAs(ctx, &out.SubnetIDs, false)...)
	}
	if out.ID == "" || len(out.SubnetIDs) == 0 {
		diags.AddAttributeError(path.Root("network"), "Network not built",
			"the network has no ID or no subnets: pass gpufleet_network.<name>.networks[each.key] after the network exists")
		return nil
	}
	return out
}
