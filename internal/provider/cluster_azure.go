package provider

import (
	"context"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/objectplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	azbackend "github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/azure"
)

// clusterAzureModel is gpufleet_cluster.azure.
type clusterAzureModel struct {
	UserAssignedIdentityID types.String `tfsdk:"user_assigned_identity_id"`
}

var clusterAzureAttrTypes = map[string]attr.Type{"user_assigned_identity_id": types.StringType}

// clusterAzureSchema is gpufleet_cluster.azure. Changing the identity
// replaces the cluster: AKS can switch a cluster to another identity in
// place (az aks update --assign-identity), but the kubelet keeps the old
// one until every node pool is upgraded, and the roles gpufleet granted
// the old principal would have to move with it
// (https://learn.microsoft.com/azure/aks/use-managed-identity#update-an-existing-cluster-to-use-a-user-assigned-managed-identity).
func clusterAzureSchema() schema.SingleNestedAttribute {
	return schema.SingleNestedAttribute{Optional: true,
		PlanModifiers: []planmodifier.Object{objectplanmodifier.RequiresReplace()},
		Description:   "AKS settings (Azure sites only). Changing them replaces the cluster.",
		Attributes: map[string]schema.Attribute{
			"user_assigned_identity_id": schema.StringAttribute{Optional: true,
				Validators: []validator.String{identityIDValidator{}},
				Description: "Resource ID of a user-assigned managed identity the cluster runs as (`" + azbackend.IdentityIDForm + "`), " +
					"e.g. `azurerm_user_assigned_identity.<name>.id`; create it yourself, gpufleet only assigns it. " +
					"Pools on capacity reservation groups (`reserved` offers) need it: AKS does not use a system-assigned identity for them " +
					"(https://learn.microsoft.com/azure/aks/use-capacity-reservation-groups). gpufleet grants this identity the roles the cluster needs " +
					"(Network Contributor on the site network, Contributor on a reservation group's resource group). Unset: a system-assigned identity."},
		},
	}
}

// clusterIdentity is azure.user_assigned_identity_id, "" when unset.
func clusterIdentity(ctx context.Context, v types.Object, diags *diag.Diagnostics) string {
	if v.IsNull() || v.IsUnknown() {
		return ""
	}
	var m clusterAzureModel
	diags.Append(v.As(ctx, &m, basetypes.ObjectAsOptions{})...)
	return m.UserAssignedIdentityID.ValueString()
}

// observedAzure is azure after a read that found the cluster running as
// the user-assigned identity id ("" for the cloud's own): state itself
// when it says the same (ARM may spell an ID in another case), else what
// the cloud reports, so an identity changed out of band plans a
// replacement and an imported cluster keeps its identity.
func observedAzure(ctx context.Context, state types.Object, id string, diags *diag.Diagnostics) types.Object {
	if strings.EqualFold(clusterIdentity(ctx, state, diags), id) {
		return state
	}
	v := types.StringNull()
	if id != "" {
		v = types.StringValue(id)
	}
	return types.ObjectValueMust(clusterAzureAttrTypes, map[string]attr.Value{"user_assigned_identity_id": v})
}

// identityIDValidator checks the form of a user-assigned identity ID at
// plan time (azbackend.CheckIdentityID, the check the backend makes).
type identityIDValidator struct{}

func (identityIDValidator) Description(context.Context) string {
	return "must be the resource ID of a user-assigned managed identity, " + azbackend.IdentityIDForm
}

func (v identityIDValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (identityIDValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := azbackend.CheckIdentityID(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid user-assigned identity ID", req.Path.String()+": "+err.Error())
	}
}
