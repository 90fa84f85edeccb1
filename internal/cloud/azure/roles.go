package azure

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
)

// The cluster identity's network role. An AKS cluster in a bring-your-own
// VNet needs its identity to hold Network Contributor on the subnets or
// the VNet; a system-assigned identity exists only once the cluster does,
// and only the Azure CLI grants the role by itself: "with an ARM template
// or other clients, you need to use the object ID of the cluster's managed
// identity to create a role assignment"
// (https://learn.microsoft.com/azure/aks/use-managed-identity; the cluster
// identity's permissions: https://learn.microsoft.com/azure/aks/aks-service-permissions).
// CreateCluster grants it on the VNet right after creation, before any
// agent pool goes in a subnet.
//
// The role assignment is a plain ARM PUT through azcore's pipeline (no
// armauthorization module is served here): api-version 2022-04-01 of
// Microsoft.Authorization/roleAssignments
// (https://learn.microsoft.com/rest/api/authorization/role-assignments/create).

const (
	roleAssignmentsAPIVersion = "2022-04-01"
	// networkContributor is the built-in role's ID
	// (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/networking#network-contributor).
	networkContributor = "4d97b98b-1d4f-4787-a291-c67834d212e7"
)

// armOnce holds a generic ARM client, created on first use.
type armOnce struct {
	once   sync.Once
	client *arm.Client
	err    error
}

func (b *Backend) armClient() (*arm.Client, error) {
	o := &b.authz
	o.once.Do(func() {
		o.client, o.err = arm.NewClient("gpufleet/authorization", "v1.0.0", b.cred, &b.opts)
	})
	return o.client, o.err
}

// roleAssignmentName is a GUID derived from scope, principal and role, so
// a retried grant PUTs the same assignment.
func roleAssignmentName(scope, principal, role string) string {
	h := sha256.Sum256([]byte(strings.ToLower(scope) + "|" + principal + "|" + role))
	x := hex.EncodeToString(h[:16])
	return x[0:8] + "-" + x[8:12] + "-4" + x[13:16] + "-a" + x[17:20] + "-" + x[20:32]
}

// grantNetworkRole gives principal (a cluster's identity: system- or
// user-assigned, identity.go)
// Network Contributor on scope (its VNet).
func (b *Backend) grantNetworkRole(ctx context.Context, scope, principal string) error {
	return b.grantRole(ctx, "GrantNetworkRole", scope, principal, networkContributor)
}

// grantRole gives principal (a cluster's identity) the built-in role with
// ID role on scope. An assignment that already exists under another name
// (409 RoleAssignmentExists) is success; a principal not yet replicated
// (400 PrincipalNotFound) is transient, so cloud.WithRetries tries again.
// principalType is set, as the docs advise for new service principals, so
// replication delay is tolerated.
func (b *Backend) grantRole(ctx context.Context, op, scope, principal, role string) error {
	if principal == "" {
		return cloud.Fatal("azure", op, "NoIdentity", "%s", "the cluster reports no identity to grant role "+role+" on "+scope)
	}
	c, err := b.armClient()
	if err != nil {
		return err
	}
	roleID := "/subscriptions/" + b.cfg.SubscriptionID + "/providers/Microsoft.Authorization/roleDefinitions/" + role
	path := scope + "/providers/Microsoft.Authorization/roleAssignments/" + url.PathEscape(roleAssignmentName(scope, principal, role))
	req, err := runtime.NewRequest(ctx, http.MethodPut, runtime.JoinPaths(c.Endpoint(), path))
	if err != nil {
		return err
	}
	q := req.Raw().URL.Query()
	q.Set("api-version", roleAssignmentsAPIVersion)
	req.Raw().URL.RawQuery = q.Encode()
	req.Raw().Header["Accept"] = []string{"application/json"}
	body := map[string]any{"properties": map[string]any{
		"roleDefinitionId": roleID, "principalId": principal, "principalType": "ServicePrincipal",
	}}
	if err := runtime.MarshalAsJSON(req, body); err != nil {
		return err
	}
	resp, err := c.Pipeline().Do(req)
	if err != nil {
		return classify(op, err)
	}
	if runtime.HasStatusCode(resp, http.StatusOK, http.StatusCreated) {
		return nil
	}
	rerr := runtime.NewResponseError(resp)
	if re, ok := rerr.(*azcore.ResponseError); ok {
		switch strings.ToLower(re.ErrorCode) {
		case "roleassignmentexists":
			return nil
		case "principalnotfound":
			return cloud.Transient("azure", op, re.ErrorCode, "identity %s is not replicated yet: %s", principal, responseMessage(re))
		}
	}
	return classify(op, rerr)
}

// revokeNetworkRole deletes the assignment grantNetworkRole made for
// cluster name (DeleteCluster, before the cluster and its identity go):
// an assignment outlives its principal as "Identity not found" and counts
// against the subscription's limit
// (https://learn.microsoft.com/azure/role-based-access-control/troubleshoot-limits).
// A cluster that is gone or has no subnet has nothing to revoke.
func (b *Backend) revokeNetworkRole(ctx context.Context, name string) error {
	resp, err := b.clusters.Get(ctx, resourceGroup(name), name, nil)
	if err != nil {
		return cloud.IgnoreNotFound(classify("GetCluster", err))
	}
	if resp.Properties == nil {
		return nil
	}
	principal, _ := identityPrincipal(resp.Identity)
	scope := vnetOf(systemSubnet(resp.Properties.AgentPoolProfiles))
	if principal == "" || scope == "" {
		return nil
	}
	return b.revokeRole(ctx, "RevokeNetworkRole", scope, principal, networkContributor)
}

// revokeRole deletes the assignment grantRole made (gone already is
// success).
func (b *Backend) revokeRole(ctx context.Context, op, scope, principal, role string) error {
	c, err := b.armClient()
	if err != nil {
		return err
	}
	path := scope + "/providers/Microsoft.Authorization/roleAssignments/" + url.PathEscape(roleAssignmentName(scope, principal, role))
	req, err := runtime.NewRequest(ctx, http.MethodDelete, runtime.JoinPaths(c.Endpoint(), path))
	if err != nil {
		return err
	}
	q := req.Raw().URL.Query()
	q.Set("api-version", roleAssignmentsAPIVersion)
	req.Raw().URL.RawQuery = q.Encode()
	hr, err := c.Pipeline().Do(req)
	if err != nil {
		return classify(op, err)
	}
	if runtime.HasStatusCode(hr, http.StatusOK, http.StatusNoContent, http.StatusNotFound) {
		return nil
	}
	return classify(op, runtime.NewResponseError(hr))
}
