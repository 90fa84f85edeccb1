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
// networks as it is: the same attributes and types (siteNetworkAttrTypes),
// all optional.
func clusterNetworkAttributes() map[string]schema.Attribute {
	used := map[string]string{"network_name": "Network name.", "network_id": "Network ID.", "subnet_ids": "Node subnet ID per zone.",
		"pods_cidr": "Pod range.", "services_cidr": "Service range (not used on EKS, which refuses one inside the VPC)."}
	out := make(map[string]schema.Attribute, len(siteNetworkAttrTypes))
	for name, t := range siteNetworkAttrTypes {
		desc, ok := used[name]
		if !ok {
			desc = "As in `gpufleet_network.networks`; not used by the cluster."
		}
		switch t := t.(type) {
		case types.MapType:
			out[name] = schema.MapAttribute{Optional: true, ElementType: t.ElemType, Description: desc}
		case types.ListType:
			out[name] = schema.ListAttribute{Optional: true, ElementType: t.ElemType, Description: desc}
		case basetypes.Int64Type:
			out[name] = schema.Int64Attribute{Optional: true, Description: desc}
		default:
			out[name] = schema.StringAttribute{Optional: true, Description: desc}
		}
	}
	return out
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
