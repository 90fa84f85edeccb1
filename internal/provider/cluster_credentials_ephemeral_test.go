package provider

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	tfjson "github.com/hashicorp/terraform-json"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/echoprovider"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/kubefront"
)

// stateFunc is a state check written as a function of the whole state.
type stateFunc func(*tfjson.State) error

func (f stateFunc) CheckState(_ context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	resp.Error = f(req.State)
}

// stateResources lists the resources of the root module of a state.
func stateResources(s *tfjson.State) []*tfjson.StateResource {
	if s == nil || s.Values == nil || s.Values.RootModule == nil {
		return nil
	}
	return s.Values.RootModule.Resources
}

// credentialSites are one simulated cluster per cloud.
var credentialSites = []string{"aws/eu-central-1", "gcp/europe-west4", "azure/westeurope"}

// credentialsConfig is three clusters that keep no kubeconfig and the
// ephemeral credentials of each; echo copies them into the state of an
// echo resource, which is how a test sees ephemeral values. (No for_each:
// the test harness's state reader refuses for_each instances.)
func (w simWorld) credentialsConfig(echo bool) string {
	c := w.provider()
	data := []string{}
	for _, site := range credentialSites {
		cl, _, _ := strings.Cut(site, "/")
		c += fmt.Sprintf(`
resource "gpufleet_cluster" %[1]q {
  site             = %[2]q
  store_kubeconfig = false
  node_validation  = { enabled = false }
}

ephemeral "gpufleet_cluster_credentials" %[1]q {
  cluster_id = gpufleet_cluster.%[1]s.id
}
`, cl, site)
		data = append(data, fmt.Sprintf("%q = ephemeral.gpufleet_cluster_credentials.%s", site, cl))
	}
	if echo {
		c += fmt.Sprintf(`
provider "echo" {
  data = { %s }
}

resource "echo" "creds" {}
`, strings.Join(data, ", "))
	}
	return c
}

// echoedCredentials are the credentials echo recorded, by site.
type echoedCredentials struct {
	ClusterID            string  `json:"cluster_id"`
	Endpoint             string  `json:"endpoint"`
	ClusterCACertificate string  `json:"cluster_ca_certificate"`
	Token                *string `json:"token"`
	ClientCertificate    *string `json:"client_certificate"`
	ClientKey            *string `json:"client_key"`
	ExpiresAt            *string `json:"expires_at"`
}

func echoed(s *tfjson.State) (map[string]echoedCredentials, map[string]map[string]any, error) {
	var creds map[string]echoedCredentials
	clusters := map[string]map[string]any{}
	for _, r := range stateResources(s) {
		switch r.Type {
		case "echo":
			b, err := json.Marshal(r.AttributeValues["data"])
			if err != nil {
				return nil, nil, err
			}
			if err := json.Unmarshal(b, &creds); err != nil {
				return nil, nil, fmt.Errorf("echo data %s: %v", b, err)
			}
		case "gpufleet_cluster":
			clusters[fmt.Sprint(r.AttributeValues["site"])] = r.AttributeValues
		}
	}
	if len(creds) != len(credentialSites) || len(clusters) != len(credentialSites) {
		return nil, nil, fmt.Errorf("want credentials and a cluster for each of %v, got %d and %d", credentialSites, len(creds), len(clusters))
	}
	return creds, clusters, nil
}

// TestAccClusterCredentials_ephemeral opens the credentials of an EKS, a
// GKE and an AKS cluster in the simulated clouds and calls each cluster's
// Kubernetes API with them (the simulated API server checks EKS tokens'
// form, and client certificates against the cluster CA); the endpoint and
// CA are the cluster's; nothing of them is in the state but what echo
// was given (step 1), and without echo no token, key or kubeconfig is in
// the state at all (step 2).
func TestAccClusterCredentials_ephemeral(t *testing.T) {
	w := newSimWorld(t)
	var tokens []string
	works := stateFunc(func(s *tfjson.State) error {
		creds, clusters, err := echoed(s)
		if err != nil {
			return err
		}
		srv := kubefront.New(w.engine(t), kubefront.Options{})
		if _, err := srv.Start(context.Background()); err != nil {
			return err
		}
		defer srv.Close()
		for _, site := range credentialSites {
			c, cl := creds[site], clusters[site]
			// AKS kubeconfigs name the port, https://FQDN:443.
			if c.ClusterID != cl["id"] || strings.TrimSuffix(c.Endpoint, ":443") != cl["endpoint"] || c.Endpoint == "" {
				return fmt.Errorf("%s: credentials for %s at %q, cluster %v at %v", site, c.ClusterID, c.Endpoint, cl["id"], cl["endpoint"])
			}
			if cl["kubeconfig"] != nil || cl["store_kubeconfig"] != false {
				return fmt.Errorf("%s: store_kubeconfig = false keeps kubeconfig %v", site, cl["kubeconfig"])
			}
			// The kubernetes provider wants the CA as PEM; the cluster
			// resource has it base64-encoded.
			want, _ := base64.StdEncoding.DecodeString(fmt.Sprint(cl["ca_certificate"]))
			if blk, _ := pem.Decode([]byte(c.ClusterCACertificate)); blk == nil || c.ClusterCACertificate != string(want) {
				return fmt.Errorf("%s: CA %q is not the cluster's PEM CA %q", site, c.ClusterCACertificate, want)
			} else if _, err := x509.ParseCertificate(blk.Bytes); err != nil {
				return fmt.Errorf("%s: CA: %v", site, err)
			}
			secret, err := kubeAccessWorks(srv, site, c)
			if err != nil {
				return err
			}
			tokens = append(tokens, secret)
		}
		return nil
	})
	// nothingSecret: no ephemeral resource, kubeconfig, token or key is in
	// the state (the echo resource aside, which exists to hold them).
	nothingSecret := func(withEcho bool) stateFunc {
		return func(s *tfjson.State) error {
			for _, r := range stateResources(s) {
				if r.Type == "echo" && withEcho {
					continue
				}
				if r.Mode != tfjson.ManagedResourceMode || r.Type != "gpufleet_cluster" {
					return fmt.Errorf("unexpected %s in the state", r.Address)
				}
				if r.AttributeValues["kubeconfig"] != nil {
					return fmt.Errorf("%s keeps a kubeconfig with store_kubeconfig = false", r.Address)
				}
				b, err := json.Marshal(r.AttributeValues)
				if err != nil {
					return err
				}
				for _, secret := range append([]string{"k8s-aws-v1.", "PRIVATE KEY"}, tokens...) {
					if strings.Contains(string(b), secret) {
						return fmt.Errorf("%s holds a credential (%.20s...) in the state", r.Address, secret)
					}
				}
			}
			return nil
		}
	}
	resource.Test(t, resource.TestCase{
		TerraformVersionChecks: []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_10_0)},
		ProtoV6ProviderFactories: map[string]func() (tfprotov6.ProviderServer, error){
			"gpufleet": testAccProtoV6ProviderFactories["gpufleet"],
			"echo":     echoprovider.NewProviderServer(),
		},
		CheckDestroy: w.noLeaks(t),
		Steps: []resource.TestStep{
			{Config: w.credentialsConfig(true), ConfigStateChecks: []statecheck.StateCheck{works, nothingSecret(true)}},
			{Config: w.credentialsConfig(false), ConfigStateChecks: []statecheck.StateCheck{nothingSecret(false)}},
		},
	})
	if len(tokens) != len(credentialSites) {
		t.Fatalf("checked %d credentials, want %d", len(tokens), len(credentialSites))
	}
}

// TestAccClusterCredentials_errors: what a wrong cluster ID says.
func TestAccClusterCredentials_errors(t *testing.T) {
	w := newSimWorld(t)
	for _, tc := range []struct {
		name, id string
		want     *regexp.Regexp
	}{
		{"not an ID", "gpufleet-aws-eu-central-1", regexp.MustCompile(`(?s)cluster_id.*must be a gpufleet_cluster ID, cloud/region/name`)},
		{"unknown cloud", "oci/eu-frankfurt-1/c1", regexp.MustCompile(`(?s)must be a gpufleet_cluster ID`)},
		{"no such cluster", "aws/eu-central-1/absent", regexp.MustCompile(`(?s)Cluster not found.*no\s+cluster\s+absent\s+in\s+aws/eu-central-1`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_10_0)},
				ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config: w.provider() + fmt.Sprintf(`
ephemeral "gpufleet_cluster_credentials" "c" {
  cluster_id = %q
}
`, tc.id),
					ExpectError: tc.want,
				}},
			})
		})
	}
}

// TestAccCluster_storeKubeconfig turns the kubeconfig in the state off and
// on again: each is an update in place, the cluster stays (its cloud ID
// does not change), and the kubeconfig is rendered again when turned on.
func TestAccCluster_storeKubeconfig(t *testing.T) {
	w := newSimWorld(t)
	config := func(store string) string {
		return w.provider() + fmt.Sprintf(`
resource "gpufleet_cluster" "c" {
  site            = "aws/eu-central-1"
  node_validation = { enabled = false }
  %s
}
`, store)
	}
	kubeconfig := tfjsonpath.New("kubeconfig")
	hasKubeconfig := knownvalue.StringRegexp(regexp.MustCompile(`(?s)server: https://.*certificate-authority-data: .*command: aws`))
	sameCluster := statecheck.CompareValue(compare.ValuesSame())
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             w.noLeaks(t),
		Steps: []resource.TestStep{
			{Config: config(""), ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("gpufleet_cluster.c", tfjsonpath.New("store_kubeconfig"), knownvalue.Bool(true)),
				statecheck.ExpectKnownValue("gpufleet_cluster.c", kubeconfig, hasKubeconfig),
				sameCluster.AddStateValue("gpufleet_cluster.c", tfjsonpath.New("cloud_id")),
			}},
			{Config: config("store_kubeconfig = false"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("gpufleet_cluster.c", plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue("gpufleet_cluster.c", kubeconfig, knownvalue.Null()),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("gpufleet_cluster.c", kubeconfig, knownvalue.Null()),
					sameCluster.AddStateValue("gpufleet_cluster.c", tfjsonpath.New("cloud_id")),
				}},
			{Config: config("store_kubeconfig = true"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("gpufleet_cluster.c", plancheck.ResourceActionUpdate),
					plancheck.ExpectUnknownValue("gpufleet_cluster.c", kubeconfig),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("gpufleet_cluster.c", kubeconfig, hasKubeconfig),
					sameCluster.AddStateValue("gpufleet_cluster.c", tfjsonpath.New("cloud_id")),
				}},
		},
	})
}

// kubeAccessWorks lists a simulated cluster's nodes with credentials, and
// checks that the API server refuses the same request without them; it
// returns the secret part of the credentials (token or client key).
func kubeAccessWorks(srv *kubefront.Server, site string, c echoedCredentials) (string, error) {
	cfg := &rest.Config{Host: c.Endpoint, TLSClientConfig: rest.TLSClientConfig{CAData: []byte(c.ClusterCACertificate)}, Dial: srv.DialContext}
	var secret string
	switch {
	case c.Token != nil && c.ClientCertificate == nil && c.ClientKey == nil:
		cfg.BearerToken, secret = *c.Token, *c.Token
		// EKS tokens always expire; the simulated GKE and AKS tokens
		// come from static token sources, which have no expiry.
		if c.ExpiresAt == nil && strings.HasPrefix(site, "aws/") {
			return "", fmt.Errorf("%s: an EKS token without expires_at", site)
		}
		if c.ExpiresAt != nil {
			exp, err := time.Parse(time.RFC3339, *c.ExpiresAt)
			if err != nil || !exp.After(time.Now()) || exp.After(time.Now().Add(2*time.Hour)) {
				return "", fmt.Errorf("%s: expires_at %q is not a near future time (%v)", site, *c.ExpiresAt, err)
			}
		}
	case c.Token == nil && c.ClientCertificate != nil && c.ClientKey != nil:
		cfg.CertData, cfg.KeyData, secret = []byte(*c.ClientCertificate), []byte(*c.ClientKey), *c.ClientKey
	default:
		return "", fmt.Errorf("%s: want a token or a client certificate and key, got %+v", site, c)
	}
	kc, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return "", err
	}
	if _, err := kc.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{}); err != nil {
		return "", fmt.Errorf("%s: listing nodes with the ephemeral credentials: %v", site, err)
	}
	// The API server does check: no credentials, no nodes.
	if kc, err = kubernetes.NewForConfig(rest.AnonymousClientConfig(cfg)); err != nil {
		return "", err
	}
	if _, err := kc.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{}); err == nil {
		return "", fmt.Errorf("%s: the simulated API server let an anonymous client list nodes", site)
	}
	return secret, nil
}

// TestSetClusterComputed_storeKubeconfig: the kubeconfig follows
// store_kubeconfig, and a state written before the attribute existed
// (null) keeps its kubeconfig and records true, so that upgrading the
// provider plans no change.
func TestSetClusterComputed_storeKubeconfig(t *testing.T) {
	c := cloud.Cluster{Name: "c1", Region: "eu-central-1", Endpoint: "https://c1.example", CACertificate: "Q0E="}
	for _, tc := range []struct {
		name      string
		store     types.Bool
		wantStore bool
		wantKube  bool
	}{
		{"old state", types.BoolNull(), true, true},
		{"on", types.BoolValue(true), true, true},
		{"off", types.BoolValue(false), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := clusterModel{Cloud: types.StringValue("aws"), StoreKubeconfig: tc.store}
			setClusterComputed(&m, c)
			if m.StoreKubeconfig.ValueBool() != tc.wantStore || m.StoreKubeconfig.IsNull() {
				t.Errorf("store_kubeconfig = %v, want %v", m.StoreKubeconfig, tc.wantStore)
			}
			if got := !m.Kubeconfig.IsNull() && strings.Contains(m.Kubeconfig.ValueString(), "server: https://c1.example"); got != tc.wantKube {
				t.Errorf("kubeconfig %q, want one: %v", m.Kubeconfig.ValueString(), tc.wantKube)
			}
		})
	}
}
