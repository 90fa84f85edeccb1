// Package simworld is the provider's side of a simulated world
// (simulate = true): where its clouds' front ends listen, how to reach
// its clusters' Kubernetes APIs, and the Starter that serves it. The
// provider binary starts the world in the gpufleet-simkube helper process
// (Helper), so that it links no simulator (their package set-up cost every
// provider start, simulate or not); the provider's tests start it in their
// own process (simserve), where faults can be injected into its engine.
// This package links nothing of internal/cloudsim.
package simworld

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// EndpointSuffix ends the host of every simulated cluster endpoint
// (https://<name>.<region>.<cloud>.cloudsim.invalid, a name that resolves
// nowhere: RFC 2606 reserves .invalid).
const EndpointSuffix = ".cloudsim.invalid"

// Options say which world to serve and how.
type Options struct {
	// Dir is the world's state directory (the provider's simulate_dir).
	Dir string `json:"dir"`
	// GCPProject is the simulated project the configuration names; the
	// simulator's default when empty.
	GCPProject string `json:"gcp_project,omitempty"`
	// Machines are the catalog's node types (GPUs per node and hardware
	// by cloud and instance type); nil leaves the front ends' guesses
	// from the type names.
	Machines []planner.Offer `json:"machines,omitempty"`
	// TimeScale scales the simulated operations' durations and the
	// simulated nodes' reconcile intervals (0.01: a 3 s cluster creation
	// takes 30 ms); 1 when zero.
	TimeScale float64 `json:"time_scale,omitempty"`
	// Prices, when set, are the offers of the catalog whose prices and
	// availability the world also serves through the clouds' price APIs
	// (AWS Price List, EC2 and Service Quotas; Cloud Billing and Compute
	// Engine's; Azure Retail Prices and Resource SKUs), for the live
	// catalog with simulate = true: Endpoints.Prices.
	Prices []planner.Offer `json:"prices,omitempty"`
}

// Machines are the distinct node types of c (one offer per cloud and
// instance type, in catalog order): what a simulated world needs of a
// catalog.
func Machines(c *planner.Catalog) []planner.Offer {
	if c == nil {
		return nil
	}
	seen := map[string]bool{}
	var out []planner.Offer
	for _, o := range c.Offers {
		k := o.Cloud + "/" + o.InstanceType
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, planner.Offer{Cloud: o.Cloud, InstanceType: o.InstanceType, GPUModel: o.GPUModel,
			GPUCount: o.GPUCount, VCPUs: o.VCPUs, MemoryGiB: o.MemoryGiB})
	}
	return out
}

// Endpoints are where a world's front ends listen, all on loopback.
type Endpoints struct {
	// AWS is the base URL of EKS, EC2, IAM and Auto Scaling
	// ("http://127.0.0.1:PORT").
	AWS string `json:"aws"`
	// GKE is the ClusterManager gRPC address ("127.0.0.1:PORT",
	// plaintext).
	GKE string `json:"gke"`
	// Compute is the base URL of Compute Engine (paths /compute/v1/...).
	Compute string `json:"compute"`
	// Azure is the Resource Manager base URL ("https://127.0.0.1:PORT"),
	// whose certificate is World.AzureCA.
	Azure string `json:"azure"`
	// Kube is the address ("127.0.0.1:PORT") that serves every simulated
	// cluster's Kubernetes API.
	Kube string `json:"kube"`
	// Prices are the price and availability APIs (Options.Prices); empty
	// when the world serves none.
	Prices PriceEndpoints `json:"prices,omitzero"`
}

// PriceEndpoints are where a world serves the clouds' price and
// availability APIs.
type PriceEndpoints struct {
	// AWS is the base URL of the Price List, EC2 (spot prices, zones,
	// instance type offerings) and Service Quotas APIs.
	AWS string `json:"aws"`
	// GCP is the base URL of Cloud Billing's catalog and of Compute
	// Engine's zones, machine types and quotas (paths /compute/v1/...).
	GCP string `json:"gcp"`
	// AzureRetail is the Retail Prices API's base URL; AzureARM the
	// Resource Manager base URL of the resource SKUs and usages
	// ("https://…", whose certificate is World.AzureCA).
	AzureRetail string `json:"azure_retail"`
	AzureARM    string `json:"azure_arm"`
}

// World is a served simulated world, as the provider's backends use it.
type World struct {
	Endpoints Endpoints `json:"endpoints"`
	// GCPProject and AzureSubscription are the accounts served.
	GCPProject        string `json:"gcp_project"`
	AzureSubscription string `json:"azure_subscription"`
	// AzureCA is the Azure front end's certificate (PEM).
	AzureCA []byte `json:"azure_ca"`
	// AzurePoll is how often the Azure backend should poll the world's
	// long-running operations (the Azure SDK refuses under a second
	// outside test binaries).
	AzurePoll time.Duration `json:"azure_poll"`
	// Warnings are what the world could not set up, for the log (no
	// validator binary for the simulated GPU nodes).
	Warnings []string `json:"warnings,omitempty"`

	close func()
	// pid is the helper process's (Helper), 0 in process.
	pid int
}

// Close stops serving the world (its state is saved after every change).
func (w *World) Close() {
	if w.close != nil {
		w.close()
	}
}

// OnClose makes f what Close does (a Starter's way to end its world).
func (w *World) OnClose(f func()) { w.close = f }

// AzureClient is an HTTP client that trusts the Azure front end's
// certificate.
func (w *World) AzureClient() (*http.Client, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(w.AzureCA) {
		return nil, errors.New("simulated Azure: no certificate in the world's azure_ca")
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr}, nil
}

// DialKube dials as a Kubernetes client configuration's Dial does in a
// simulated world: a simulated cluster endpoint reaches Endpoints.Kube,
// a loopback address itself, and nothing else.
func (w *World) DialKube(ctx context.Context, network, address string) (net.Conn, error) {
	return Dial(ctx, w.Endpoints.Kube, network, address)
}

// Dial connects to address as a simulated world's clients may: hosts
// ending in EndpointSuffix go to kubeAddr (the world's Kubernetes APIs),
// loopback addresses are dialled as they are, and anything else is
// refused, so that a simulation never reaches a real network.
func Dial(ctx context.Context, kubeAddr, network, address string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	if strings.HasSuffix(strings.ToLower(host), EndpointSuffix) {
		if kubeAddr == "" {
			return nil, errors.New("simulated Kubernetes APIs: not started")
		}
		return d.DialContext(ctx, "tcp", kubeAddr)
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return d.DialContext(ctx, network, address)
	}
	return nil, fmt.Errorf("refusing to dial %s: only simulated endpoints and loopback are reachable", address)
}

// A Starter serves the world of opts.Dir for as long as the provider
// process runs (or until the World's Close).
type Starter func(ctx context.Context, opts Options) (*World, error)

// StateError is a simulated world whose state cannot be read (a corrupt
// or foreign state file): no fault of the configuration or of a cloud, so
// the provider reports it under a heading of its own.
type StateError struct {
	Path string
	Err  error
}

func (e *StateError) Error() string {
	return fmt.Sprintf("simulator state unreadable: %s: %v; restore it or remove the directory", e.Path, e.Err)
}

// Unwrap returns the cause.
func (e *StateError) Unwrap() error { return e.Err }
