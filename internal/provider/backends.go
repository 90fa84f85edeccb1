package provider

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	awsbackend "github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/aws"
	azbackend "github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/azure"
	gcpbackend "github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/gcp"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/awsfront"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/azurefront"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/computefront"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/gkefront"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/kubefront"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// DefaultSimulateDir is where simulate = true keeps the simulated world.
const DefaultSimulateDir = ".gpufleet-sim"

// simTimeScaleEnv shortens (or lengthens) simulated operations: 0.01 makes
// a 3 s cluster creation take 30 ms (tests).
const simTimeScaleEnv = "GPUFLEET_SIM_TIME_SCALE"

// backends builds the cloud backends on first use: real SDK clients, talking
// either to the clouds or, with simulate = true, to cloudsim on loopback.
type backends struct {
	simulate  bool
	simDir    string
	awsConfig awsbackend.Config
	gcpConfig gcpbackend.Config
	azConfig  azbackend.Config
	// enabled are the clouds the configuration enables (all in simulate).
	enabled []string
	catalog *planner.Catalog

	once   sync.Once
	err    error
	byName map[string]cloud.Backend
	// networks are the backends' network halves, by cloud.
	networks map[string]cloud.NetworkBackend
	engine   *cloudsim.Engine
	// kube serves the simulated clusters' Kubernetes APIs (simulate).
	kube    *kubefront.Server
	metrics cloud.Metrics
}

// logMetrics reports the cloud calls made so far (calls, errors by kind,
// time spent) at debug level.
func (b *backends) logMetrics(ctx context.Context) {
	for op, s := range b.metrics.Snapshot() {
		tflog.Debug(ctx, "cloud calls", map[string]any{"op": op, "calls": s.Calls, "errors": s.Errors, "time": s.Time.String()})
	}
}

// supports reports whether a cloud can get a backend: every cloud in
// simulate mode, otherwise the clouds the configuration enables (AKS needs
// its subscription, GKE its project).
func (b *backends) supports(cl string) bool {
	return b.simulate || slices.Contains(b.enabled, cl)
}

// addBackendError reports that a cloud's backend could not be had, under
// summary on the attribute at p (path.Empty() for none), except a
// simulated world whose state cannot be read: that is no fault of the site
// or the cloud, so it gets its own heading, and its message names the file
// and the fix.
func addBackendError(diags *diag.Diagnostics, p path.Path, summary string, err error) {
	var se *cloudsim.StateError
	switch {
	case errors.As(err, &se):
		diags.AddError("Simulator state unreadable", err.Error())
	case p.Equal(path.Empty()):
		diags.AddError(summary, err.Error())
	default:
		diags.AddAttributeError(p, summary, err.Error())
	}
}

// get returns the backend of a cloud.
func (b *backends) get(ctx context.Context, cl string) (cloud.Backend, error) {
	b.once.Do(func() { b.err = b.init(ctx) })
	if b.err != nil {
		return nil, b.err
	}
	be, ok := b.byName[cl]
	if !ok {
		return nil, fmt.Errorf("no %s backend: enable %s in the provider configuration (a %s {} block with its project or subscription), or use simulate = true", cl, cl, cl)
	}
	return be, nil
}

// network returns the network backend of a cloud.
func (b *backends) network(ctx context.Context, cl string) (cloud.NetworkBackend, error) {
	if _, err := b.get(ctx, cl); err != nil {
		return nil, err
	}
	nb, ok := b.networks[cl]
	if !ok {
		return nil, fmt.Errorf("the %s backend cannot build networks", cl)
	}
	return nb, nil
}

// tunnelWait is how often and how long an apply watches new tunnels come
// up: a minute or two on the real clouds.
func (b *backends) tunnelWait() (poll, timeout time.Duration) {
	if b.simulate {
		return scaled(time.Second), scaled(time.Minute)
	}
	return 15 * time.Second, 5 * time.Minute
}

func timeScale() float64 {
	if v, err := strconv.ParseFloat(os.Getenv(simTimeScaleEnv), 64); err == nil && v > 0 {
		return v
	}
	return 1
}

func scaled(d time.Duration) time.Duration { return time.Duration(float64(d) * timeScale()) }

func (b *backends) init(ctx context.Context) error {
	cfg := b.awsConfig
	if b.simulate {
		d := cloudsim.DefaultDurations
		e, err := cloudsim.New(cloudsim.Config{
			StateFile: filepath.Join(b.simDir, "state.json"),
			Durations: cloudsim.Durations{ClusterCreate: scaled(d.ClusterCreate), ClusterDelete: scaled(d.ClusterDelete),
				PoolCreate: scaled(d.PoolCreate), PoolUpdate: scaled(d.PoolUpdate), PoolDelete: scaled(d.PoolDelete)},
		})
		if err != nil {
			return err
		}
		b.engine = e
		if b.kube, err = startKube(ctx, b.simDir, e, b.catalog); err != nil {
			return err
		}
		url, err := serveLoopback(awsfront.New(e, awsfront.Options{InstanceOptions: instanceOptions(b.catalog, awsfront.DefaultInstanceOptions)}))
		if err != nil {
			return err
		}
		// STS stays the real regional endpoint: it is only the host of the
		// presigned URL inside EKS tokens, which nothing sends.
		cfg.Endpoints = awsbackend.Endpoints{EKS: url, EC2: url, IAM: url, AutoScaling: url}
		cfg.Credentials = credentials.NewStaticCredentialsProvider("SIMULATED", "SIMULATED", "")
		cfg.Poll = scaled(250 * time.Millisecond)
		tflog.Info(ctx, "simulated clouds ready", map[string]any{"state": filepath.Join(b.simDir, "state.json"), "endpoint": url})
	}
	a, err := awsbackend.New(ctx, cfg)
	if err != nil {
		return err
	}
	raw := map[string]cloud.Backend{"aws": a}
	gcfg := b.gcpConfig
	if b.simulate {
		addr, _, err := gkefront.Serve(b.engine, gkefront.Options{InstanceOptions: instanceOptions(b.catalog, gkefront.DefaultInstanceOptions)})
		if err != nil {
			return err
		}
		gcfg.Endpoint, gcfg.Insecure, gcfg.Poll = addr, true, scaled(250*time.Millisecond)
		if gcfg.Project == "" {
			gcfg.Project = "gpufleet-sim"
		}
		compute, err := serveLoopback(computefront.New(b.engine, computefront.Options{
			Project: gcfg.Project, OperationTime: b.engine.Durations().PoolUpdate}))
		if err != nil {
			return err
		}
		gcfg.ComputeEndpoint = compute + "/compute/v1/"
	}
	if b.simulate || slices.Contains(b.enabled, "gcp") {
		g, err := gcpbackend.New(ctx, gcfg)
		if err != nil {
			return err
		}
		raw["gcp"] = g
	}
	acfg := b.azConfig
	if b.simulate {
		srv := httptest.NewTLSServer(azurefront.New(b.engine, azurefront.Options{InstanceOptions: instanceOptions(b.catalog, azurefront.DefaultInstanceOptions)}))
		acfg.Endpoint, acfg.HTTPClient, acfg.Credential = srv.URL, srv.Client(), azbackend.StaticToken("SIMULATED")
		// The Azure SDK refuses polling faster than once a second outside
		// test binaries (a provider binary run by a test included).
		acfg.Poll = time.Second
		if timeScale() < 1 && testing.Testing() {
			acfg.Poll = scaled(250 * time.Millisecond)
		}
		if acfg.SubscriptionID == "" {
			acfg.SubscriptionID = "00000000-0000-0000-0000-000000000000"
		}
	}
	if b.simulate || slices.Contains(b.enabled, "azure") {
		z, err := azbackend.New(acfg)
		if err != nil {
			return err
		}
		raw["azure"] = z
	}
	policy := cloud.DefaultRetryPolicy
	if b.simulate {
		policy.Base = scaled(policy.Base)
	}
	policy.OnRetry = func(op string, attempt int, err error, delay time.Duration) {
		tflog.Warn(ctx, "retrying cloud call", map[string]any{"op": op, "attempt": attempt, "error": err.Error(), "delay": delay.String()})
	}
	b.byName = map[string]cloud.Backend{}
	b.networks = map[string]cloud.NetworkBackend{}
	for name, be := range raw {
		b.byName[name] = cloud.WithMetrics(cloud.WithRetries(be, policy), &b.metrics, nil)
		if nb, ok := be.(cloud.NetworkBackend); ok {
			b.networks[name] = cloud.WithNetworkRetries(nb, policy)
		}
	}
	return nil
}

// startKube serves the simulated clusters' Kubernetes APIs for the life
// of the provider process; their GPU nodes run the validator DaemonSet's
// container as the gpufleet-nodecheck binary on simulated GPUs.
func startKube(ctx context.Context, dir string, e *cloudsim.Engine, cat *planner.Catalog) (*kubefront.Server, error) {
	var runner kubefront.PodRunner = kubefront.PodRunnerFunc(func(context.Context, kubefront.PodRun) kubefront.PodResult {
		return kubefront.PodResult{ExitCode: 128, Err: errNoValidatorBinary}
	})
	if bin := simNodecheck(); bin != "" {
		runner = checkOnce{kubefront.ExecRunner{Binary: bin}}
	} else {
		tflog.Warn(ctx, errNoValidatorBinary.Error())
	}
	hw := map[string]kubefront.Hardware{}
	for _, o := range cat.Offers {
		hw[o.Cloud+"/"+o.InstanceType] = kubefront.Hardware{GPUModel: o.GPUModel, GPUs: o.GPUCount, CPUs: o.VCPUs, MemoryGiB: int(o.MemoryGiB)}
	}
	k := kubefront.New(e, kubefront.Options{Runner: runner, ReconcileInterval: max(scaled(200*time.Millisecond), 50*time.Millisecond),
		WorkDir:      filepath.Join(dir, "pods"), // the simulated pods' kubeconfigs stay with their world
		RestartDelay: scaled(time.Second),
		Hardware:     func(cl, it string) kubefront.Hardware { return hw[cl+"/"+it] }})
	if _, err := k.Start(context.WithoutCancel(ctx)); err != nil {
		return nil, fmt.Errorf("simulated Kubernetes APIs: %w", err)
	}
	kubeServers.Lock()
	defer kubeServers.Unlock()
	if old := kubeServers.byDir[dir]; old != nil {
		// Its clients may still be at work (another configuration of the
		// provider in this process on the same world): keep it serving,
		// without its background loop.
		old.Quiesce()
	}
	kubeServers.byDir[dir] = k
	return k, nil
}

// kubeServers are the simulated Kubernetes APIs this process serves, by
// world: a provider configured again (each Terraform command, in tests
// that serve the provider in-process) takes over its world's background
// reconciling from the previous server, which keeps serving its clients.
var kubeServers = struct {
	sync.Mutex
	byDir map[string]*kubefront.Server
}{byDir: map[string]*kubefront.Server{}}

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

// serveLoopback serves h on 127.0.0.1 for the life of the provider process.
func serveLoopback(h http.Handler) (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("simulated clouds: %w", err)
	}
	go http.Serve(l, h) //nolint:errcheck // ends with the process
	return "http://" + l.Addr().String(), nil
}

// instanceOptions tells cloudsim the GPU count of an instance type from
// the catalog, and its quota family from the front end's own rule.
func instanceOptions(c *planner.Catalog, family func(string) cloudsim.PoolOptions) func(string) cloudsim.PoolOptions {
	gpus := map[string]int{}
	for _, o := range c.Offers {
		gpus[o.InstanceType] = o.GPUCount
	}
	return func(it string) cloudsim.PoolOptions {
		o := family(it)
		if n, ok := gpus[it]; ok {
			o.GPUsPerNode = n
		}
		return o
	}
}

// awsSDKConfig turns the provider's aws block into backend settings.
func awsSDKConfig(m *awsModel) awsbackend.Config {
	cfg := awsbackend.Config{}
	if m != nil && m.Endpoints != nil {
		cfg.Endpoints = awsbackend.Endpoints{EKS: m.Endpoints.EKS.ValueString(), EC2: m.Endpoints.EC2.ValueString(), IAM: m.Endpoints.IAM.ValueString(),
			STS: m.Endpoints.STS.ValueString(), AutoScaling: m.Endpoints.AutoScaling.ValueString()}
	}
	return cfg
}

// gcpSDKConfig turns the provider's gcp block into backend settings.
func gcpSDKConfig(m *gcpModel) gcpbackend.Config {
	cfg := gcpbackend.Config{}
	if m != nil {
		cfg.Project = m.Project.ValueString()
		cfg.NodeServiceAccount = m.NodeServiceAccount.ValueString()
		if m.Endpoints != nil {
			cfg.Endpoint = m.Endpoints.Container.ValueString()
			cfg.ComputeEndpoint = m.Endpoints.Compute.ValueString()
		}
	}
	return cfg
}

// azureSDKConfig turns the provider's azure block into backend settings.
func azureSDKConfig(m *azureModel) azbackend.Config {
	cfg := azbackend.Config{}
	if m != nil {
		cfg.SubscriptionID = m.SubscriptionID.ValueString()
		if m.Endpoints != nil {
			cfg.Endpoint = m.Endpoints.ResourceManager.ValueString()
		}
	}
	return cfg
}
