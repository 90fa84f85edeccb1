package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// UpgradeState maps every earlier schema version of gpufleet_network to
// the current one.
//
// Version 0 (up to this release) kept every tunnel's IKE pre-shared key in
// the state (`preshared_keys`, sensitive). The keys now live only in the
// clouds' VPN connections and tunnels (see mesh.keyLink): the upgrade
// drops the attribute and keeps everything else as it is, so the tunnels
// are neither replaced nor rekeyed — the next apply sends them without a
// key, which every backend reads as "keep the tunnel's key".
func (r *NetworkResource) UpgradeState(context.Context) map[int64]resource.StateUpgrader {
	return map[int64]resource.StateUpgrader{0: {StateUpgrader: r.upgradeNetworkStateV0}}
}

// upgradeNetworkStateV0 reads a version 0 state by the current schema,
// ignoring the attributes it no longer has (preshared_keys).
func (r *NetworkResource) upgradeNetworkStateV0(ctx context.Context, req resource.UpgradeStateRequest, resp *resource.UpgradeStateResponse) {
	if req.RawState == nil {
		resp.Diagnostics.AddError("Upgrading the gpufleet_network state", "the version 0 state is empty")
		return
	}
	var sr resource.SchemaResponse
	r.Schema(ctx, resource.SchemaRequest{}, &sr)
	typ := sr.Schema.Type().TerraformType(ctx)
	val, err := req.RawState.UnmarshalWithOpts(typ, tfprotov6.UnmarshalOpts{
		ValueFromJSONOpts: tftypes.ValueFromJSONOpts{IgnoreUndefinedAttributes: true}})
	if err != nil {
		resp.Diagnostics.AddError("Upgrading the gpufleet_network state",
			fmt.Sprintf("the version 0 state does not read as gpufleet_network: %v. Remove the resource from the state (terraform state rm) and import it.", err))
		return
	}
	dv, err := tfprotov6.NewDynamicValue(typ, val)
	if err != nil {
		resp.Diagnostics.AddError("Upgrading the gpufleet_network state", err.Error())
		return
	}
	resp.DynamicValue = &dv
}
