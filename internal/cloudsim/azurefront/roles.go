package azurefront

import (
	"net/http"
	"strings"
)

// Role assignments (Microsoft.Authorization/roleAssignments) at any scope:
//
//	{scope}/providers/Microsoft.Authorization/roleAssignments/{name}  PUT, GET, DELETE
//
// They are kept as rows of table RoleAssignment named by the lower-cased
// assignment name, with the scope, principal and role definition. The one
// rule they feed is the cluster identity's network role: an AKS cluster in
// a bring-your-own VNet needs its identity to hold Network Contributor (or
// a role with Microsoft.Network/virtualNetworks/subnets/join/action and
// read) on the subnets or the VNet, and a system-assigned identity gets it
// only from whoever creates the cluster, after creation ("If you use your
// own VNet ... with a system-assigned managed identity, the Azure CLI grants
// the Network Contributor role after the cluster is created; with an ARM
// template or other clients, use the object ID of the cluster's identity
// to create a role assignment": https://learn.microsoft.com/azure/aks/use-managed-identity,
// and the cluster identity permissions in
// https://learn.microsoft.com/azure/aks/aks-service-permissions). cloudsim
// refuses a new agent pool in a VNet subnet while the cluster's identity
// lacks such a role (checkNetworkRole).

// networkRoles are the built-in roles that carry subnets/join/action:
// Network Contributor, Contributor, Owner
// (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles).
var networkRoles = []string{
	"4d97b98b-1d4f-4787-a291-c67834d212e7", // Network Contributor
	"b24988ac-6180-42a0-ab88-20f7382dd24c", // Contributor
	"8e3af657-a8ff-443c-a75c-2fe8c4bcb635", // Owner
}

// isRoleAssignmentPath matches {scope}/providers/Microsoft.Authorization/
// roleAssignments/{name}.
func isRoleAssignmentPath(q *req) bool {
	n := len(q.segs)
	return n >= 6 && q.seg(n-4, "providers") && q.seg(n-3, "Microsoft.Authorization") && q.seg(n-2, "roleAssignments")
}

type roleAssignment struct {
	Name             string `json:"name"`
	Scope            string `json:"scope"`
	PrincipalID      string `json:"principalId"`
	PrincipalType    string `json:"principalType,omitempty"`
	RoleDefinitionID string `json:"roleDefinitionId"`
}

func (a roleAssignment) json() map[string]any {
	return map[string]any{
		"id":   a.Scope + "/providers/Microsoft.Authorization/roleAssignments/" + a.Name,
		"name": a.Name, "type": "Microsoft.Authorization/roleAssignments",
		"properties": map[string]any{
			"scope": a.Scope, "principalId": a.PrincipalID, "principalType": a.PrincipalType,
			"roleDefinitionId": a.RoleDefinitionID,
		},
	}
}

// rgOfScope is the lower-cased resource group of a scope ("" for a
// subscription scope).
func rgOfScope(scope string) string {
	p := strings.Split(strings.Trim(scope, "/"), "/")
	if len(p) >= 4 && strings.EqualFold(p[2], "resourceGroups") {
		return strings.ToLower(p[3])
	}
	return ""
}

func (s *server) serveRoleAssignment(q *req) (reply, error) {
	n := len(q.segs)
	name := q.segs[n-1]
	scope := "/" + strings.Join(q.segs[:n-4], "/")
	key := strings.ToLower(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	have, exists, err := s.t.roles.Lookup(key)
	if err != nil {
		return reply{}, err
	}
	switch q.r.Method {
	case http.MethodGet:
		if !exists {
			return reply{}, newErr(404, "RoleAssignmentNotFound", "The role assignment '%s' is not found.", name)
		}
		return reply{status: http.StatusOK, body: have.json()}, nil
	case http.MethodDelete:
		if !exists {
			return reply{status: http.StatusNoContent}, nil
		}
		if err := s.t.roles.Remove(key); err != nil {
			return reply{}, err
		}
		return reply{status: http.StatusOK, body: have.json()}, nil
	case http.MethodPut:
		var body struct {
			Properties struct {
				RoleDefinitionID string `json:"roleDefinitionId"`
				PrincipalID      string `json:"principalId"`
				PrincipalType    string `json:"principalType"`
			} `json:"properties"`
		}
		if err := decode(q.r, &body); err != nil {
			return reply{}, err
		}
		p := body.Properties
		if p.RoleDefinitionID == "" || p.PrincipalID == "" {
			return reply{}, newErr(400, "InvalidRoleAssignmentRequest", "properties.roleDefinitionId and properties.principalId are required.")
		}
		a := roleAssignment{Name: name, Scope: scope, PrincipalID: p.PrincipalID, PrincipalType: p.PrincipalType, RoleDefinitionID: p.RoleDefinitionID}
		if exists {
			if !strings.EqualFold(have.Scope, a.Scope) || have.PrincipalID != a.PrincipalID || !strings.EqualFold(have.RoleDefinitionID, a.RoleDefinitionID) {
				return reply{}, newErr(400, "RoleAssignmentUpdateNotPermitted",
					"Tenant ID, application ID, principal ID, and scope are not allowed to be updated.")
			}
			return reply{status: http.StatusCreated, body: have.json()}, nil
		}
		rows, err := s.t.roles.All()
		if err != nil {
			return reply{}, err
		}
		for _, r := range rows {
			if other := r.Value; strings.EqualFold(other.Scope, a.Scope) && other.PrincipalID == a.PrincipalID && strings.EqualFold(other.RoleDefinitionID, a.RoleDefinitionID) {
				return reply{}, newErr(409, "RoleAssignmentExists", "The role assignment already exists.")
			}
		}
		if err := s.t.roles.Put(key, a); err != nil {
			return reply{}, err
		}
		return reply{status: http.StatusCreated, body: a.json()}, nil
	}
	return reply{}, newErr(405, "MethodNotAllowed", "The requested method %s is not allowed.", q.r.Method)
}

// clusterPrincipal is the object ID of a cluster's system-assigned
// identity: stable per cluster ID, distinct between clusters.
func clusterPrincipal(sub, rg, name string) string {
	return guidOf(strings.ToLower(clusterID(sub, rg, name)))
}

// covers reports whether scope is id or one of its parents.
func covers(scope, id string) bool {
	scope, id = strings.ToLower(strings.TrimRight(scope, "/")), strings.ToLower(id)
	return id == scope || strings.HasPrefix(id, scope+"/")
}

// checkNetworkRole refuses an agent pool in subnet while the identity of
// cluster m (system- or user-assigned: clusteridentity.go) holds no network role over it, with the error a
// bring-your-own-VNet cluster whose identity cannot join the subnet gets.
// Callers hold s.mu.
func (s *server) checkNetworkRole(sub string, m clusterMeta, subnet string) error {
	principal := metaPrincipal(sub, m)
	if ok, err := s.hasRole(principal, subnet, networkRoles); ok || err != nil {
		return err
	}
	return newErr(403, "LinkedAuthorizationFailed",
		"The client '%s' with object id '%s' does not have permission to perform action 'Microsoft.Network/virtualNetworks/subnets/join/action' on the linked scope(s) '%s', or the scope(s) are invalid. "+
			"Grant the cluster identity Network Contributor on the subnet or its virtual network (https://learn.microsoft.com/azure/aks/use-managed-identity).",
		principal, principal, subnet)
}

// hasRole reports whether principal holds one of the built-in roles (by
// role definition ID) at id or a scope above it.
func (s *server) hasRole(principal, id string, roles []string) (bool, error) {
	rows, err := s.t.roles.All()
	if err != nil {
		return false, err
	}
	for _, row := range rows {
		a := row.Value
		if a.PrincipalID != principal || !covers(a.Scope, id) {
			continue
		}
		for _, r := range roles {
			if strings.HasSuffix(strings.ToLower(a.RoleDefinitionID), "/roledefinitions/"+r) {
				return true, nil
			}
		}
	}
	return false, nil
}
