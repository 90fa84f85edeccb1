package azurefront

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
)

// Kubernetes credentials of managed clusters.
//
// listClusterAdminCredential answers {"kubeconfigs":[{"name":"clusterAdmin",
// "value":<base64 kubeconfig>}]} (the CredentialResults shape of the AKS
// REST API,
// https://learn.microsoft.com/en-us/rest/api/aks/managed-clusters/list-cluster-admin-credentials):
// server = the engine endpoint with :443, certificate-authority-data =
// the engine's cluster CA, and the user clusterAdmin_<rg>_<name> with a
// client certificate that the cluster CA signs (CN masterclient, O
// system:masters, as AKS's admin certificate, ECDSA P-256, valid two
// years) and the engine's cluster-admin token. A cluster with
// disableLocalAccounts refuses it (400 BadRequest "Getting static
// credential is not allowed because this cluster is set to disable local
// accounts.",
// https://learn.microsoft.com/en-us/azure/aks/manage-local-accounts-managed-azure-ad).
//
// listClusterUserCredential answers "clusterUser": without Entra ID the
// same user as the admin's, named clusterUser_<rg>_<name>; with an
// aadProfile the user is the kubelogin exec plugin that AKS writes
// (get-token --server-id 6dae42f8-4368-4678-94ff-3960e28e3630), whose
// tokens cloudsim cannot mint.
//
// aadProfile: only managed Entra ID integration is modelled (managed must
// be true, else 400 BadRequest; the legacy integration with client and
// server apps is retired); enableAzureRBAC, adminGroupObjectIDs and
// tenantID are kept and reported. disableLocalAccounts needs an
// aadProfile (400 BadRequest otherwise, as AKS: local accounts can be
// disabled only on Entra ID clusters).

// aadProfile is ManagedClusterAADProfile (managed integration).
type aadProfile struct {
	Managed             *bool    `json:"managed,omitempty"`
	EnableAzureRBAC     *bool    `json:"enableAzureRBAC,omitempty"`
	AdminGroupObjectIDs []string `json:"adminGroupObjectIDs,omitempty"`
	TenantID            string   `json:"tenantID,omitempty"`
}

// AKSServerAppID is the application ID of the AKS Microsoft Entra server,
// the audience of Entra ID tokens for AKS clusters' Kubernetes APIs.
const AKSServerAppID = "6dae42f8-4368-4678-94ff-3960e28e3630"

// subscriptionTenant is the tenant reported for managed clusters.
const subscriptionTenant = "00000000-0000-0000-0000-000000000002"

func checkAAD(p aadProfile) (*aadProfile, error) {
	if p.Managed == nil || !*p.Managed {
		return nil, newErr(400, "BadRequest",
			"aadProfile.managed must be true: cloudsim models managed Microsoft Entra ID integration only (the legacy integration with client and server applications is retired).")
	}
	out := p
	if out.TenantID == "" {
		out.TenantID = subscriptionTenant
	}
	return &out, nil
}

// clientCertificate makes a client certificate and key (PEM) that ca
// signs.
func clientCertificate(ca *x509.Certificate, caKey crypto.Signer, cn string, orgs []string, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: orgs},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(2 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), nil
}

// credentials answers listClusterUserCredential and
// listClusterAdminCredential with one kubeconfig.
func (s *server) credentials(q *req, rg, name string, admin bool) (reply, error) {
	m, err := s.clusterMetaFor(rg, name)
	if err != nil {
		return reply{}, err
	}
	c, err := s.e.GetCluster(cloudName, m.Location, name)
	if err != nil {
		if cloud.IsNotFound(err) {
			return reply{}, clusterNotFound(rg, name)
		}
		return reply{}, err
	}
	if admin && m.DisableLocalAccounts {
		return reply{}, newErr(http.StatusBadRequest, "BadRequest", "Getting static credential is not allowed because this cluster is set to disable local accounts.")
	}
	user, credName := "clusterUser_"+m.ResourceGroup+"_"+name, "clusterUser"
	if admin {
		user, credName = "clusterAdmin_"+m.ResourceGroup+"_"+name, "clusterAdmin"
	}
	var userBlock string
	if !admin && m.AAD != nil {
		userBlock = fmt.Sprintf(`    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      args:
      - get-token
      - --environment
      - AzurePublicCloud
      - --server-id
      - %s
      - --client-id
      - 80faf920-1908-4b52-b5ef-a8e7bedfc67a
      - --tenant-id
      - %s
      - --login
      - devicecode
      command: kubelogin
      env: null
      installHint: |2

        kubelogin is not installed which is required to connect to AAD enabled cluster.
      interactiveMode: IfAvailable
      provideClusterInfo: false
`, AKSServerAppID, m.AAD.TenantID)
	} else {
		token, _, err := s.e.KubeAdmin(cloudName, m.Location, name)
		if err != nil {
			return reply{}, err
		}
		ca, caKey, err := s.e.KubeCA(cloudName, m.Location, name)
		if err != nil {
			return reply{}, err
		}
		cert, key, err := clientCertificate(ca, caKey, "masterclient", []string{"system:masters"}, s.now())
		if err != nil {
			return reply{}, err
		}
		userBlock = fmt.Sprintf("    client-certificate-data: %s\n    client-key-data: %s\n    token: %s\n",
			base64.StdEncoding.EncodeToString(cert), base64.StdEncoding.EncodeToString(key), token)
	}
	kubeconfig := fmt.Sprintf(`apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: %s
    server: %s:443
  name: %s
contexts:
- context:
    cluster: %s
    user: %s
  name: %s
current-context: %s
kind: Config
preferences: {}
users:
- name: %s
  user:
%s`, c.CACertificate, c.Endpoint, name, name, user, name, name, user, userBlock)
	return reply{status: http.StatusOK, body: map[string]any{"kubeconfigs": []map[string]string{
		{"name": credName, "value": base64.StdEncoding.EncodeToString([]byte(kubeconfig))},
	}}}, nil
}
