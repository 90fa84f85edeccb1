package azure

import (
	"fmt"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v8"
)

// The cluster identity. A cluster is created with a system-assigned
// identity unless cloud.ClusterSpec.Identity names a user-assigned managed
// identity, which the user creates (azurerm_user_assigned_identity, az
// identity create): gpufleet calls no Microsoft.ManagedIdentity API. The
// managed cluster PUT then carries identity {type: UserAssigned,
// userAssignedIdentities: {<id>: {}}}, and its GET reports the identity's
// principalId under userAssignedIdentities[<id>]
// (https://learn.microsoft.com/azure/aks/use-managed-identity#enable-a-user-assigned-managed-identity).
// The roles gpufleet grants the cluster identity (network role, roles.go;
// reservation role, reservations.go) go to that principal.

// IdentityIDForm is the accepted form of a user-assigned identity ID.
const IdentityIDForm = "/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>"

// CheckIdentityID reports whether id is the resource ID of a user-assigned
// managed identity.
func CheckIdentityID(id string) error {
	ref, err := arm.ParseResourceID(id)
	if err != nil || ref.SubscriptionID == "" || ref.ResourceGroupName == "" || ref.Name == "" || ref.Parent == nil ||
		!strings.EqualFold(ref.ResourceType.String(), "Microsoft.ManagedIdentity/userAssignedIdentities") ||
		!strings.EqualFold(ref.Parent.ResourceType.String(), "Microsoft.Resources/resourceGroups") {
		return fmt.Errorf("%q is not the resource ID of a user-assigned managed identity: want %s", id, IdentityIDForm)
	}
	return nil
}

// clusterIdentity is the identity block of a managed cluster PUT.
func clusterIdentity(id string) *armcontainerservice.ManagedClusterIdentity {
	if id == "" {
		return &armcontainerservice.ManagedClusterIdentity{Type: to.Ptr(armcontainerservice.ResourceIdentityTypeSystemAssigned)}
	}
	return &armcontainerservice.ManagedClusterIdentity{Type: to.Ptr(armcontainerservice.ResourceIdentityTypeUserAssigned),
		UserAssignedIdentities: map[string]*armcontainerservice.ManagedServiceIdentityUserAssignedIdentitiesValue{id: {}}}
}

// userIdentity is the user-assigned identity of a managed cluster ("" for
// another type; the first by ID when several are reported) and its
// principal ID.
func userIdentity(mi *armcontainerservice.ManagedClusterIdentity) (id, principal string) {
	if mi == nil || mi.Type == nil || *mi.Type != armcontainerservice.ResourceIdentityTypeUserAssigned {
		return "", ""
	}
	ids := make([]string, 0, len(mi.UserAssignedIdentities))
	for id := range mi.UserAssignedIdentities {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if v := mi.UserAssignedIdentities[id]; v != nil && str(v.PrincipalID) != "" {
			return id, str(v.PrincipalID)
		}
	}
	if len(ids) > 0 {
		return ids[0], ""
	}
	return "", ""
}

// identityPrincipal is the object ID of a managed cluster's identity and
// whether it is user-assigned: the system-assigned principalId, or that of
// its user-assigned identity (userIdentity).
func identityPrincipal(mi *armcontainerservice.ManagedClusterIdentity) (principal string, userAssigned bool) {
	if mi == nil {
		return "", false
	}
	if mi.Type != nil && *mi.Type == armcontainerservice.ResourceIdentityTypeUserAssigned {
		_, principal := userIdentity(mi)
		return principal, true
	}
	return str(mi.PrincipalID), false
}
