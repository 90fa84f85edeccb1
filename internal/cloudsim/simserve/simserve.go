// Package simserve starts a simulated world's front ends on loopback: the
// cloudsim engine of a state directory, with AWS (EKS, EC2, IAM, Auto
// Scaling), GKE (gRPC and its REST mapping), Compute Engine, Azure
// Resource Manager (TLS) and the clusters' Kubernetes APIs in front of it.
// The provider's simulate = true starts one on free ports for the life of
// its process; gpufleet sim serve starts one on fixed ports until it is
// interrupted, for the real CLIs (aws, az, gcloud, kubectl).
package simserve

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/awsfront"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/azurefront"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/computefront"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/gkefront"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/kubefront"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// StateFile is the engine's state file in a simulated world's directory.
func StateFile(dir string) string { return filepath.Join(dir, "state.json") }

// Defaults of the simulated accounts: the provider's simulate = true uses
// them when its configuration names none.
const (
	DefaultGCPProject        = "gpufleet-sim"
	DefaultAzureSubscription = "00000000-0000-0000-0000-000000000000"
	// DefaultAWSAccount is awsfront's account ID.
	DefaultAWSAccount = "123456789012"
)

// Ports are the loopback ports of the front ends; zero picks a free port.
type Ports struct {
	// AWS serves EKS (REST-JSON), EC2, IAM and Auto Scaling (query/XML).
	AWS int
	// GKE serves the ClusterManager gRPC service, GKEREST its REST/JSON
	// mapping (what gcloud speaks, with the Service Usage call gcloud makes
	// first), Compute the Compute Engine REST API.
	GKE, GKEREST, Compute int
	// Azure serves Resource Manager, its metadata endpoints and a
	// simulated Entra ID token endpoint over TLS.
	Azure int
	// Kube serves every simulated cluster's Kubernetes API over TLS.
	Kube int
}

// DefaultPorts are gpufleet sim serve's fixed ports.
var DefaultPorts = Ports{AWS: 4570, GKE: 4571, GKEREST: 4572, Compute: 4573, Azure: 4574, Kube: 4575}

// Options configure Start.
type Options struct {
	// Dir is the world's state directory (StateFile, the simulated pods'
	// kubeconfigs in pods/).
	Dir string
	// Durations are how long operations take; DefaultDurations when zero.
	Durations cloudsim.Durations
	// Ports of the front ends (zero: a free port each).
	Ports Ports
	// Catalog tells GPUs per node and the nodes' hardware by instance
	// type; nil uses the front ends' guesses from the type names.
	Catalog *planner.Catalog
	// GCPProject and AzureSubscription are the accepted project and
	// subscription; DefaultGCPProject and DefaultAzureSubscription when
	// empty.
	GCPProject, AzureSubscription string
	// Runner runs the containers of simulated pods (the validator
	// DaemonSet's); nil leaves pods Pending.
	Runner kubefront.PodRunner
	// KubeReconcile is how often the Kubernetes APIs reconcile Nodes and
	// pods with the engine (kubefront.Options.ReconcileInterval);
	// RestartDelay the back-off before a container is started again.
	KubeReconcile, RestartDelay time.Duration
}

// Endpoints are where the front ends listen.
type Endpoints struct {
	// AWS is the base URL of EKS, EC2, IAM and Auto Scaling
	// ("http://127.0.0.1:PORT").
	AWS string
	// GKE is the gRPC address ("127.0.0.1:PORT", plaintext); GKEREST the
	// base URL of the REST mapping (paths /v1/projects/...).
	GKE, GKEREST string
	// Compute is the base URL of Compute Engine (paths /compute/v1/...).
	Compute string
	// Azure is the Resource Manager base URL ("https://127.0.0.1:PORT");
	// its certificate is World.AzureCA.
	Azure string
	// Kube is the Kubernetes APIs' address ("127.0.0.1:PORT"); each
	// cluster's kubeconfig (World.Kube.Kubeconfig) names it.
	Kube string
}

// World is a started simulated world.
type World struct {
	Engine    *cloudsim.Engine
	Kube      *kubefront.Server
	Endpoints Endpoints
	// GCPProject and AzureSubscription are the accounts served.
	GCPProject, AzureSubscription string
	// AzureClient trusts the Azure front end's certificate; AzureCA is
	// that certificate (PEM).
	AzureClient *http.Client
	AzureCA     []byte

	closers []func()
	once    sync.Once
}

// Start opens the world of opts.Dir and serves its front ends on
// loopback until Close. A port in use fails Start, naming the flag's
// front end.
func Start(ctx context.Context, opts Options) (w *World, err error) {
	if opts.Durations == (cloudsim.Durations{}) {
		opts.Durations = cloudsim.DefaultDurations
	}
	if opts.GCPProject == "" {
		opts.GCPProject = DefaultGCPProject
	}
	if opts.AzureSubscription == "" {
		opts.AzureSubscription = DefaultAzureSubscription
	}
	// The engine names simulated nodes with its own defaults (the same
	// as these unless a configuration names another account).
	e, err := cloudsim.New(cloudsim.Config{StateFile: StateFile(opts.Dir), Durations: opts.Durations})
	if err != nil {
		return nil, err
	}
	w = &World{Engine: e, GCPProject: opts.GCPProject, AzureSubscription: opts.AzureSubscription}
	defer func() {
		if err != nil {
			w.Close()
			w = nil
		}
	}()
	hw := hardware(opts.Catalog)
	k := kubefront.New(e, kubefront.Options{Addr: addr(opts.Ports.Kube), Runner: opts.Runner,
		ReconcileInterval: opts.KubeReconcile, RestartDelay: opts.RestartDelay,
		WorkDir:  filepath.Join(opts.Dir, "pods"), // the simulated pods' kubeconfigs stay with their world
		Hardware: func(cl, it string) kubefront.Hardware { return hw[cl+"/"+it] }})
	if w.Endpoints.Kube, err = k.Start(context.WithoutCancel(ctx)); err != nil {
		return nil, fmt.Errorf("simulated Kubernetes APIs: %w", err)
	}
	w.Kube = k
	w.closers = append(w.closers, k.Close)

	if w.Endpoints.AWS, err = w.serveHTTP("AWS", opts.Ports.AWS, awsfront.New(e, awsfront.Options{
		InstanceOptions:     InstanceOptions(opts.Catalog, awsfront.DefaultInstanceOptions),
		CapacityBlockPrices: CapacityBlockPrices(opts.Catalog)})); err != nil {
		return nil, err
	}
	gke := gkefront.Options{InstanceOptions: InstanceOptions(opts.Catalog, gkefront.DefaultInstanceOptions)}
	gkeAddr, stop, err := gkefront.ServeOn(addr(opts.Ports.GKE), e, gke)
	if err != nil {
		return nil, fmt.Errorf("simulated GKE (gRPC): %w", err)
	}
	w.Endpoints.GKE = gkeAddr
	w.closers = append(w.closers, stop)
	if w.Endpoints.GKEREST, err = w.serveHTTP("GKE (REST)", opts.Ports.GKEREST, serviceUsage(gkefront.NewREST(e, gke))); err != nil {
		return nil, err
	}
	if w.Endpoints.Compute, err = w.serveHTTP("Compute Engine", opts.Ports.Compute, computefront.New(e, computefront.Options{
		Project: opts.GCPProject, OperationTime: e.Durations().PoolUpdate})); err != nil {
		return nil, err
	}
	if err := w.serveAzure(opts); err != nil {
		return nil, err
	}
	return w, nil
}

func addr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

func listen(what string, port int) (net.Listener, error) {
	l, err := net.Listen("tcp", addr(port))
	if err != nil {
		return nil, fmt.Errorf("simulated %s: %w", what, err)
	}
	return l, nil
}

// serveHTTP serves h on a loopback port and returns its base URL.
func (w *World) serveHTTP(what string, port int, h http.Handler) (string, error) {
	l, err := listen(what, port)
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l) //nolint:errcheck // ends with Close
	w.closers = append(w.closers, func() { srv.Close() })
	return "http://" + l.Addr().String(), nil
}

// serveAzure serves Resource Manager over TLS: the Azure SDK's bearer
// token policy, and azure-cli's MSAL, refuse plain http.
func (w *World) serveAzure(opts Options) error {
	l, err := listen("Azure", opts.Ports.Azure)
	if err != nil {
		return err
	}
	srv := httptest.NewUnstartedServer(azurefront.New(w.Engine, azurefront.Options{
		InstanceOptions: InstanceOptions(opts.Catalog, azurefront.DefaultInstanceOptions)}))
	srv.Listener.Close()
	srv.Listener = l
	srv.StartTLS()
	w.closers = append(w.closers, srv.Close)
	w.Endpoints.Azure, w.AzureClient = srv.URL, srv.Client()
	w.AzureCA = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	return nil
}

// AzureCertPool is a pool holding the Azure front end's certificate.
func (w *World) AzureCertPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(w.AzureCA)
	return p
}

// Close stops every front end (the world's state is saved after every
// change, so nothing is lost).
func (w *World) Close() {
	w.once.Do(func() {
		for _, c := range slices.Backward(w.closers) {
			c()
		}
	})
}

// InstanceOptions tells cloudsim the GPU count of an instance type from
// the catalog, and its quota family from the front end's own rule.
func InstanceOptions(c *planner.Catalog, family func(string) cloudsim.PoolOptions) func(string) cloudsim.PoolOptions {
	gpus := map[string]int{}
	if c != nil {
		for _, o := range c.Offers {
			gpus[o.InstanceType] = o.GPUCount
		}
	}
	return func(it string) cloudsim.PoolOptions {
		o := family(it)
		if n, ok := gpus[it]; ok {
			o.GPUsPerNode = n
		}
		return o
	}
}

// hardware is the catalog's nodes by "cloud/instance type".
func hardware(c *planner.Catalog) map[string]kubefront.Hardware {
	hw := map[string]kubefront.Hardware{}
	if c != nil {
		for _, o := range c.Offers {
			hw[o.Cloud+"/"+o.InstanceType] = kubefront.Hardware{GPUModel: o.GPUModel, GPUs: o.GPUCount, CPUs: o.VCPUs, MemoryGiB: int(o.MemoryGiB)}
		}
	}
	return hw
}

// NodecheckEnv names the gpufleet-nodecheck binary that simulated GPU
// nodes run as the validator DaemonSet's container.
const NodecheckEnv = "GPUFLEET_SIM_NODECHECK"

// ErrNoValidatorBinary says why simulated validator pods cannot run.
var ErrNoValidatorBinary = errors.New("no gpufleet-nodecheck binary for the simulated nodes: build it (make build) and set " + NodecheckEnv + " to its path, put it on PATH, or beside the provider")

// ValidatorRunner runs the validator DaemonSet's containers as the
// gpufleet-nodecheck binary (Nodecheck) on simulated GPUs, each checking
// its node once. Without the binary, pods fail as a real DaemonSet's with
// an image that cannot be pulled (nodes stay tainted), and the error is
// ErrNoValidatorBinary.
func ValidatorRunner() (kubefront.PodRunner, error) {
	if bin := Nodecheck(); bin != "" {
		return checkOnce{kubefront.ExecRunner{Binary: bin}}, nil
	}
	return kubefront.PodRunnerFunc(func(context.Context, kubefront.PodRun) kubefront.PodResult {
		return kubefront.PodResult{ExitCode: 128, Err: ErrNoValidatorBinary}
	}), ErrNoValidatorBinary
}

// Nodecheck finds the validator binary simulated nodes run:
// $GPUFLEET_SIM_NODECHECK, gpufleet-nodecheck on PATH, or beside the
// running executable; empty when there is none.
func Nodecheck() string {
	if p := os.Getenv(NodecheckEnv); p != "" {
		return p
	}
	if p, err := exec.LookPath("gpufleet-nodecheck"); err == nil {
		return p
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "gpufleet-nodecheck")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return ""
}

// checkOnce runs the simulated validator containers with --interval 0:
// each checks its node once and exits (the pod Succeeds, or Fails with the
// node labelled), instead of re-checking every recheck_interval for the
// life of the pod, so that a provider process leaves no long-running
// processes behind. Re-checks are the real DaemonSet's; the simulation
// covers the first validation, which is what gates a node's work.
type checkOnce struct{ kubefront.ExecRunner }

func (r checkOnce) Run(ctx context.Context, p kubefront.PodRun) kubefront.PodResult {
	args := slices.Clone(p.Args)
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "--interval" {
			args[i+1] = "0"
		}
	}
	p.Args = args
	return r.ExecRunner.Run(ctx, p)
}
