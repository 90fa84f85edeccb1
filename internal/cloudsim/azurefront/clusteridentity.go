package azurefront

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
)

// The managed cluster identity (ManagedClusterIdentity in the AKS API
// model; https://learn.microsoft.com/azure/aks/use-managed-identity).
// identity.type SystemAssigned (also the default when identity is absent)
// gives the cluster its own principal (clusterPrincipal), reported as
// identity.principalId and tenantId. UserAssigned runs the cluster as the
// one identity in identity.userAssignedIdentities ({<resource ID>: {}} in
// the request; the control plane runs as one identity, so cloudsim takes
// exactly one, as az aks create --assign-identity gives one),
// reported as userAssignedIdentities[<id>] {principalId, clientId} (the
// ManagedServiceIdentityUserAssignedIdentitiesValue model; no top-level
// principalId). cloudsim serves no Microsoft.ManagedIdentity API, so it
// cannot check that the identity exists: it checks the ID's form, and
// derives the identity's principal and client IDs from it (stable per ID,
// as Azure's are per identity). The roles the cluster identity needs
// (network role, roles.go; reservation role, reservations.go) are checked
// against the principal of whichever identity the cluster has. An update
// may change the identity, as az aks update --assign-identity does.
//
// A capacity reservation group needs a user-assigned identity: "You need
// to create a user-assigned managed identity with the Contributor role for
// the resource group that contains the capacity reservation group and
// assign the identity to your AKS cluster. System-assigned managed
// identities don't work for this feature"
// (https://learn.microsoft.com/azure/aks/use-capacity-reservation-groups).
// AKS publishes no error text for an agent pool with
// capacityReservationGroupID on a system-assigned cluster; cloudsim
// answers 400 InvalidParameter on that property, quoting the doc
// (systemIdentityRefused).

// identityIDRe is the resource ID of a user-assigned managed identity
// (ARM IDs compare case-insensitively).
var identityIDRe = regexp.MustCompile(`(?i)^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.ManagedIdentity/userAssignedIdentities/[^/]+$`)

// identityBody is identity in a managed cluster PUT.
type identityBody struct {
	Type                   string                     `json:"type"`
	UserAssignedIdentities map[string]json.RawMessage `json:"userAssignedIdentities"`
}

// userIdentity is the user-assigned identity ID identity asks for ("" for
// a system-assigned one), or a 400 InvalidParameter naming what is wrong.
func userIdentity(identity *identityBody) (string, error) {
	if identity == nil {
		return "", nil
	}
	ids := make([]string, 0, len(identity.UserAssignedIdentities))
	for id := range identity.UserAssignedIdentities {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	switch {
	case identity.Type == "" || strings.EqualFold(identity.Type, "SystemAssigned"):
		if len(ids) > 0 {
			return "", newErr(400, "InvalidParameter",
				"The value of parameter identity.userAssignedIdentities is invalid: it must be empty when identity.type is '%s'.", identity.Type)
		}
		return "", nil
	case !strings.EqualFold(identity.Type, "UserAssigned"):
		return "", newErr(400, "InvalidParameter",
			"The value of parameter identity.type '%s' is invalid: cloudsim's managed clusters take SystemAssigned or UserAssigned.", identity.Type)
	case len(ids) != 1:
		return "", newErr(400, "InvalidParameter",
			"The value of parameter identity.userAssignedIdentities is invalid: identity.type 'UserAssigned' needs exactly one user assigned identity, got %d.", len(ids))
	case !identityIDRe.MatchString(ids[0]):
		return "", newErr(400, "InvalidParameter",
			"The value of parameter identity.userAssignedIdentities '%s' is invalid: want /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}.", ids[0])
	}
	return ids[0], nil
}

// identityGUID is a GUID derived from salt and a resource ID.
func identityGUID(salt, id string) string { return guidOf(salt + "|" + strings.ToLower(id)) }

// guidOf is a GUID derived from s.
func guidOf(s string) string {
	h := sha256.Sum256([]byte(s))
	x := hex.EncodeToString(h[:16])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// metaPrincipal is the object ID of the identity of cluster m.
func metaPrincipal(sub string, m clusterMeta) string {
	if m.Identity != "" {
		return identityGUID("principal", m.Identity)
	}
	return clusterPrincipal(sub, m.ResourceGroup, m.Name)
}

// identityJSON is the identity a managed cluster GET reports.
func identityJSON(sub string, m clusterMeta) map[string]any {
	if m.Identity == "" {
		return map[string]any{"type": "SystemAssigned", "principalId": metaPrincipal(sub, m), "tenantId": subscriptionTenant}
	}
	return map[string]any{"type": "UserAssigned", "userAssignedIdentities": map[string]any{
		m.Identity: map[string]string{"principalId": metaPrincipal(sub, m), "clientId": identityGUID("client", m.Identity)},
	}}
}

// systemIdentityRefused is the error of an agent pool on capacity
// reservation group groupID in cluster m, which has a system-assigned
// identity (see above).
func systemIdentityRefused(m clusterMeta, groupID string) error {
	return newErr(400, "InvalidParameter",
		"The value of parameter agentPoolProfile.capacityReservationGroupID '%s' is invalid: managed cluster %s has a system-assigned identity. "+
			"Create a user-assigned managed identity with the Contributor role for the resource group that contains the capacity reservation group and assign it to the cluster; "+
			"system-assigned managed identities don't work for this feature (https://learn.microsoft.com/azure/aks/use-capacity-reservation-groups).",
		groupID, m.Name)
}
