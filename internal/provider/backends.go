package provider

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/awsconfig"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/awsremote"
	azbackend "github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/azure"
	gcpbackend "github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/gcp"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/simworld"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/simworld/simbackends"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// DefaultSimulateDir is where simulate = true keeps the simulated world.
const DefaultSimulateDir = ".gpufleet-sim"

// simTimeScaleEnv shortens (or lengthens) simulated operations: 0.01 makes
// a 3 s cluster creation take 30 ms (tests).
const simTimeScaleEnv = simbackends.TimeScaleEnv

// backends builds the cloud backends on first use: real SDK clients, talking
// either to the clouds or, with simulate = true, to a simulated world on
// loopback that start serves.
type backends struct {
	simulate  bool
	simDir    string
	start     simworld.Starter
	awsConfig awsconfig.Settings
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
	// world is the simulated world (simulate), started once (simulated)
	// under worldMu.
	worldMu sync.Mutex
	world   *simworld.World
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
	var se *simworld.StateError
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

func timeScale() float64 { return simbackends.TimeScale() }

func scaled(d time.Duration) time.Duration { return simbackends.Scaled(d) }

func (b *backends) init(ctx context.Context) error {
	cfg, gcfg, acfg := b.awsConfig, b.gcpConfig, b.azConfig
	if b.simulate {
		w, err := b.simulated(ctx, b.catalog, false)
		if err != nil {
			return err
		}
		if err := simbackends.Configs(w, &cfg, &gcfg, &acfg); err != nil {
			return err
		}
		tflog.Info(ctx, "simulated clouds ready", map[string]any{"dir": b.simDir, "endpoint": w.Endpoints.AWS})
	}
	// EKS runs in the gpufleet-aws helper, started on the first AWS call:
	// this process links no AWS SDK (issue 14).
	raw := map[string]cloud.Backend{"aws": awsremote.NewBackend(awsremote.Shared, cfg)}
	if b.simulate || slices.Contains(b.enabled, "gcp") {
		g, err := gcpbackend.New(ctx, gcfg)
		if err != nil {
			return err
		}
		raw["gcp"] = g
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
			b.networks[name] = cloud.WithNetworkMetrics(cloud.WithNetworkRetries(nb, policy), &b.metrics, nil)
		}
	}
	return nil
}

// simulated serves the simulated world of simDir on free loopback ports
// for the life of the provider process, through the provider's Starter,
// once: its clusters' GPU nodes run the validator DaemonSet's container
// as the gpufleet-nodecheck binary on simulated GPUs, and the node types
// are machines'. With prices the world also serves the clouds' price and
// availability APIs from machines (the live catalog's sources); the
// first call decides.
func (b *backends) simulated(ctx context.Context, machines *planner.Catalog, prices bool) (*simworld.World, error) {
	b.worldMu.Lock()
	defer b.worldMu.Unlock()
	if b.world != nil {
		return b.world, nil
	}
	if b.start == nil {
		return nil, errors.New("simulate = true: this provider was built without a simulator")
	}
	opts := simworld.Options{Dir: b.simDir, GCPProject: b.gcpConfig.Project, Machines: simworld.Machines(machines), TimeScale: timeScale()}
	if prices && machines != nil {
		opts.Prices = machines.Offers
	}
	w, err := b.start(ctx, opts)
	if err != nil {
		return nil, err
	}
	for _, msg := range w.Warnings {
		tflog.Warn(ctx, msg)
	}
	b.world = w
	return w, nil
}

// awsSDKConfig turns the provider's aws block into backend settings.
func awsSDKConfig(m *awsModel) awsconfig.Settings {
	cfg := awsconfig.Settings{}
	if m != nil && m.Endpoints != nil {
		cfg.Endpoints = awsconfig.Endpoints{EKS: m.Endpoints.EKS.ValueString(), EC2: m.Endpoints.EC2.ValueString(), IAM: m.Endpoints.IAM.ValueString(),
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
