package azurefront

import (
	"crypto/x509"
	"encoding/pem"
	"slices"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v8"
	"k8s.io/client-go/tools/clientcmd"
)

// TestCredentials creates managed clusters with and without Microsoft
// Entra ID and local accounts, and reads their kubeconfigs through the
// SDK: the admin's client certificate chains to the engine's cluster CA
// (system:masters) and carries the engine's admin token, Entra ID users
// get the kubelogin exec plugin, disabled local accounts refuse the admin
// credential, and the profiles AKS refuses are refused.
func TestCredentials(t *testing.T) {
	managed := &armcontainerservice.ManagedClusterAADProfile{Managed: to.Ptr(true), EnableAzureRBAC: to.Ptr(true)}
	tests := []struct {
		name         string
		aad          *armcontainerservice.ManagedClusterAADProfile
		disableLocal *bool
		putCode      string // the PUT's error code; "" when created
		adminCode    string // listClusterAdminCredential's error code
		userExec     bool   // the user kubeconfig runs kubelogin
	}{
		{"local accounts", nil, nil, "", "", false},
		{"entra id with local accounts", managed, to.Ptr(false), "", "", true},
		{"entra id only", managed, to.Ptr(true), "", "BadRequest", true},
		{"disabled local accounts without entra id", nil, to.Ptr(true), "BadRequest", "", false},
		{"legacy entra id", &armcontainerservice.ManagedClusterAADProfile{Managed: to.Ptr(false), ServerAppID: to.Ptr("x")}, nil, "BadRequest", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := newEnv(t, "")
			ev.createRG("rg1")
			mc := armcontainerservice.ManagedCluster{Location: to.Ptr(location), Properties: &armcontainerservice.ManagedClusterProperties{
				KubernetesVersion: to.Ptr("1.33"), DNSPrefix: to.Ptr("aks1"), AgentPoolProfiles: []*armcontainerservice.ManagedClusterAgentPoolProfile{systemProfile("system", "")},
				AADProfile: tt.aad, DisableLocalAccounts: tt.disableLocal}}
			got, err := ev.putCluster("rg1", "aks1", mc)
			if tt.putCode != "" {
				if err == nil || respErr(t, err).ErrorCode != tt.putCode {
					t.Fatalf("put: %v, want %s", err, tt.putCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p := got.Properties; (p.AADProfile != nil) != (tt.aad != nil) || (tt.aad != nil && !*p.AADProfile.Managed) ||
				*p.DisableLocalAccounts != (tt.disableLocal != nil && *tt.disableLocal) {
				t.Fatalf("reported aadProfile %+v disableLocalAccounts %v", p.AADProfile, *p.DisableLocalAccounts)
			}
			c, ok := ev.e.LookupCluster(cloudName, location, "aks1")
			if !ok {
				t.Fatal("no engine cluster")
			}
			token, caPEM, err := ev.e.KubeAdmin(cloudName, location, "aks1")
			if err != nil {
				t.Fatal(err)
			}

			admin, err := ev.mc.ListClusterAdminCredentials(ctx, "rg1", "aks1", nil)
			switch {
			case tt.adminCode != "":
				if err == nil || respErr(t, err).ErrorCode != tt.adminCode {
					t.Fatalf("admin credential: %v, want %s", err, tt.adminCode)
				}
			case err != nil:
				t.Fatal(err)
			default:
				if len(admin.Kubeconfigs) != 1 || *admin.Kubeconfigs[0].Name != "clusterAdmin" {
					t.Fatalf("kubeconfigs %+v", admin.Kubeconfigs)
				}
				kc, err := clientcmd.Load(admin.Kubeconfigs[0].Value)
				if err != nil {
					t.Fatal(err)
				}
				cl, user := kc.Clusters["aks1"], kc.AuthInfos["clusterAdmin_rg1_aks1"]
				if cl == nil || user == nil || kc.CurrentContext != "aks1" || cl.Server != c.Endpoint+":443" || string(cl.CertificateAuthorityData) != string(caPEM) {
					t.Fatalf("kubeconfig %+v", kc)
				}
				if user.Token != token {
					t.Fatalf("admin token %q, want the engine's %q", user.Token, token)
				}
				verifyClientCert(t, user.ClientCertificateData, user.ClientKeyData, caPEM)
			}

			userCreds, err := ev.mc.ListClusterUserCredentials(ctx, "rg1", "aks1", nil)
			if err != nil {
				t.Fatal(err)
			}
			kc, err := clientcmd.Load(userCreds.Kubeconfigs[0].Value)
			if err != nil {
				t.Fatal(err)
			}
			u := kc.AuthInfos["clusterUser_rg1_aks1"]
			if u == nil {
				t.Fatalf("no clusterUser in %+v", kc.AuthInfos)
			}
			if exec := u.Exec != nil; exec != tt.userExec {
				t.Fatalf("user exec %+v, want exec %v", u.Exec, tt.userExec)
			}
			if tt.userExec && (u.Exec.Command != "kubelogin" || !slices.Contains(u.Exec.Args, AKSServerAppID) || u.Token != "") {
				t.Fatalf("exec %+v", u.Exec)
			}
		})
	}
}

// verifyClientCert checks a PEM client certificate for client auth that
// caPEM signs, with the subject of AKS's admin certificate, and its key.
func verifyClientCert(t *testing.T, certPEM, keyPEM, caPEM []byte) {
	t.Helper()
	b, _ := pem.Decode(certPEM)
	k, _ := pem.Decode(keyPEM)
	if b == nil || k == nil {
		t.Fatalf("client certificate %q / key %q is not PEM", certPEM, keyPEM)
	}
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("CA is not PEM")
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("client certificate does not chain to the cluster CA: %v", err)
	}
	if cert.Subject.CommonName != "masterclient" || !slices.Equal(cert.Subject.Organization, []string{"system:masters"}) {
		t.Fatalf("subject %v", cert.Subject)
	}
	if _, err := x509.ParseECPrivateKey(k.Bytes); err != nil {
		t.Fatalf("client key: %v", err)
	}
}
