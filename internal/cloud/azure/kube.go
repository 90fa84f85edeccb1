package azure

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v8"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
)

var _ cloud.KubeAccess = (*Backend)(nil)

// aksServerScope asks Microsoft Entra ID for a token for the AKS Entra
// server application (6dae42f8-4368-4678-94ff-3960e28e3630), the audience
// of Kubernetes API tokens on Entra ID clusters; it is what kubelogin's
// --server-id asks for
// (https://learn.microsoft.com/en-us/azure/aks/kubelogin-authentication).
const aksServerScope = "6dae42f8-4368-4678-94ff-3960e28e3630/.default"

// kubeTokenMargin is how long before an Entra ID token's expiry
// KubeCredentials reports it expired.
const kubeTokenMargin = 2 * time.Minute

// KubeCredentials returns credentials for a managed cluster's Kubernetes
// API.
//
// A cluster with an aadProfile (Microsoft Entra ID) gets a token of the
// backend's credential for the AKS server application, with the server
// and CA of listClusterUserCredential's kubeconfig: the identity's Entra
// ID roles or Kubernetes RBAC decide what it may do. Other clusters have
// local accounts: listClusterAdminCredential's kubeconfig gives the
// server, CA and the clusterAdmin user's client certificate (its static
// token when it has no certificate)
// (https://learn.microsoft.com/en-us/rest/api/aks/managed-clusters/list-cluster-admin-credentials).
// A cluster without Entra ID and with local accounts disabled cannot be
// reached (KindInvalid); a cluster not Succeeded has no endpoint yet
// (KindConflict).
func (b *Backend) KubeCredentials(ctx context.Context, region, cluster string) (cloud.KubeCredentials, error) {
	const op = "KubeCredentials"
	rg := resourceGroup(cluster)
	mc, err := b.clusters.Get(ctx, rg, cluster, nil)
	if err != nil {
		return cloud.KubeCredentials{}, classify("GetCluster", err)
	}
	p := mc.Properties
	if p == nil {
		p = &armcontainerservice.ManagedClusterProperties{}
	}
	if provisioning(p.ProvisioningState) != cloud.StatusActive || (str(p.Fqdn) == "" && str(p.PrivateFQDN) == "") {
		state := str(p.ProvisioningState)
		return cloud.KubeCredentials{}, cloud.Conflict("azure", op, state, "managed cluster %s is %s and has no Kubernetes endpoint yet", cluster, state)
	}
	if p.AADProfile != nil {
		creds, err := b.clusters.ListClusterUserCredentials(ctx, rg, cluster, nil)
		if err != nil {
			return cloud.KubeCredentials{}, classify("ListClusterUserCredentials", err)
		}
		out, err := fromKubeconfigs(op, cluster, "clusterUser", creds.Kubeconfigs, false)
		if err != nil {
			return cloud.KubeCredentials{}, err
		}
		tok, err := b.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{aksServerScope}})
		if err != nil {
			if ctx.Err() != nil {
				return cloud.KubeCredentials{}, ctx.Err()
			}
			return cloud.KubeCredentials{}, cloud.Fatal("azure", op, "TokenFailed", "getting a Microsoft Entra ID token for the Kubernetes API of %s (scope %s): %v", cluster, aksServerScope, err).Caused(err)
		}
		out.BearerToken = tok.Token
		if !tok.ExpiresOn.IsZero() {
			out.Expiry = tok.ExpiresOn.Add(-kubeTokenMargin)
		}
		return out, nil
	}
	if p.DisableLocalAccounts != nil && *p.DisableLocalAccounts {
		return cloud.KubeCredentials{}, cloud.Invalid("azure", op, "LocalAccountsDisabled", "managed cluster %s has neither Microsoft Entra ID integration nor local accounts", cluster)
	}
	creds, err := b.clusters.ListClusterAdminCredentials(ctx, rg, cluster, nil)
	if err != nil {
		return cloud.KubeCredentials{}, classify("ListClusterAdminCredentials", err)
	}
	return fromKubeconfigs(op, cluster, "clusterAdmin", creds.Kubeconfigs, true)
}

// fromKubeconfigs reads the server, CA and (withUser) the user's client
// certificate or token from the kubeconfig named name (else the first).
func fromKubeconfigs(op, cluster, name string, results []*armcontainerservice.CredentialResult, withUser bool) (cloud.KubeCredentials, error) {
	bad := func(format string, args ...any) error {
		return cloud.Fatal("azure", op, "InvalidKubeconfig", "managed cluster %s: %s", cluster, fmt.Sprintf(format, args...))
	}
	var data []byte
	for i, r := range results {
		if r == nil {
			continue
		}
		if i == 0 || str(r.Name) == name {
			data = r.Value
		}
		if str(r.Name) == name {
			break
		}
	}
	if data == nil {
		return cloud.KubeCredentials{}, bad("the credential answer has no kubeconfig")
	}
	kc, err := clientcmd.Load(data)
	if err != nil {
		return cloud.KubeCredentials{}, bad("kubeconfig %s: %v", name, err)
	}
	kctx := kc.Contexts[kc.CurrentContext]
	if kctx == nil || kc.Clusters[kctx.Cluster] == nil {
		return cloud.KubeCredentials{}, bad("kubeconfig %s has no current context with a cluster", name)
	}
	cl := kc.Clusters[kctx.Cluster]
	out := cloud.KubeCredentials{Endpoint: cl.Server, CAData: cl.CertificateAuthorityData}
	if !strings.HasPrefix(out.Endpoint, "https://") || len(out.CAData) == 0 {
		return cloud.KubeCredentials{}, bad("kubeconfig %s: server %q or its CA is missing", name, cl.Server)
	}
	if !withUser {
		return out, nil
	}
	user := kc.AuthInfos[kctx.AuthInfo]
	switch {
	case user == nil:
		return cloud.KubeCredentials{}, bad("kubeconfig %s has no user %q", name, kctx.AuthInfo)
	case len(user.ClientCertificateData) > 0 && len(user.ClientKeyData) > 0:
		out.ClientCertData, out.ClientKeyData = user.ClientCertificateData, user.ClientKeyData
	case user.Token != "":
		out.BearerToken = user.Token
	default:
		return cloud.KubeCredentials{}, bad("user %s of kubeconfig %s has neither a client certificate nor a token", kctx.AuthInfo, name)
	}
	return out, nil
}
