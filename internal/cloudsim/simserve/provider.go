package simserve

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/simworld"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// ProviderOptions are the Start options of the world that the provider's
// simulate = true serves: free ports, the operations' durations and the
// Kubernetes APIs' reconciling scaled by o.TimeScale, and the simulated
// GPU nodes running the gpufleet-nodecheck binary (a warning when there
// is none).
func ProviderOptions(o simworld.Options) (Options, []string) {
	scale := o.TimeScale
	if scale <= 0 {
		scale = 1
	}
	scaled := func(d time.Duration) time.Duration { return time.Duration(float64(d) * scale) }
	var warnings []string
	runner, err := ValidatorRunner()
	if err != nil {
		warnings = append(warnings, err.Error())
	}
	var cat *planner.Catalog
	if o.Machines != nil {
		cat = &planner.Catalog{Offers: o.Machines}
	}
	var prices *planner.Catalog
	if o.Prices != nil {
		// The catalog's regions are the embedded table, as every
		// catalog's (planner.NewCatalog).
		var err error
		if prices, err = planner.NewCatalog(o.Prices, planner.EmbeddedRegions(), "", nil); err != nil {
			warnings = append(warnings, "simulated price APIs: "+err.Error())
		}
	}
	d := cloudsim.DefaultDurations
	return Options{Dir: o.Dir, Catalog: cat, GCPProject: o.GCPProject, Prices: prices,
		Durations: cloudsim.Durations{ClusterCreate: scaled(d.ClusterCreate), ClusterDelete: scaled(d.ClusterDelete),
			PoolCreate: scaled(d.PoolCreate), PoolUpdate: scaled(d.PoolUpdate), PoolDelete: scaled(d.PoolDelete)},
		Runner: runner, KubeReconcile: max(scaled(200*time.Millisecond), 50*time.Millisecond), RestartDelay: scaled(time.Second)}, warnings
}

// ProviderWorld is the provider's view of w.
func (w *World) ProviderWorld(scale float64, warnings []string) *simworld.World {
	pw := &simworld.World{Endpoints: simworld.Endpoints{AWS: w.Endpoints.AWS, GKE: w.Endpoints.GKE, Compute: w.Endpoints.Compute,
		Azure: w.Endpoints.Azure, Kube: w.Endpoints.Kube, Prices: w.Endpoints.Prices},
		GCPProject: w.GCPProject, AzureSubscription: w.AzureSubscription, AzureCA: w.AzureCA,
		AzurePoll: time.Second, Warnings: warnings}
	// The Azure SDK polls faster than once a second only in test
	// binaries (a provider binary run by a test included not).
	if scale > 0 && scale < 1 && testing.Testing() {
		pw.AzurePoll = time.Duration(float64(250*time.Millisecond) * scale)
	}
	pw.OnClose(w.Close)
	return pw
}

// InProcess is the provider's Starter in its own process (the provider's
// tests, which inject faults into the world's engine): each start serves
// the world on free ports, and a provider configured again on the same
// world (each Terraform command of a test) takes over its background
// reconciling from the previous server, which keeps serving its clients.
func InProcess(ctx context.Context, o simworld.Options) (*simworld.World, error) {
	w, pw, err := serve(ctx, o)
	if err != nil {
		return nil, err
	}
	inProcess.Lock()
	defer inProcess.Unlock()
	if old := inProcess.byDir[o.Dir]; old != nil {
		old.Kube.Quiesce()
	}
	inProcess.byDir[o.Dir] = w
	return pw, nil
}

// Serve is a Starter in the calling process for a world that nothing else
// in it serves (gpufleet sweep --simulate): the provider's options
// (ProviderOptions), on free ports, until the World's Close.
func Serve(ctx context.Context, o simworld.Options) (*simworld.World, error) {
	_, pw, err := serve(ctx, o)
	return pw, err
}

func serve(ctx context.Context, o simworld.Options) (*World, *simworld.World, error) {
	opts, warnings := ProviderOptions(o)
	w, err := Start(ctx, opts)
	if err != nil {
		return nil, nil, err
	}
	return w, w.ProviderWorld(o.TimeScale, warnings), nil
}

// InProcessWorld is the world InProcess last started for dir, nil if
// none.
func InProcessWorld(dir string) *World {
	inProcess.Lock()
	defer inProcess.Unlock()
	return inProcess.byDir[dir]
}

// CloseInProcess stops the Kubernetes APIs of dir's world (so that
// nothing writes to its directory any more) and forgets it; its other
// front ends keep serving clients that may still hold them.
func CloseInProcess(dir string) {
	inProcess.Lock()
	w := inProcess.byDir[dir]
	delete(inProcess.byDir, dir)
	inProcess.Unlock()
	if w != nil {
		w.Kube.Close()
	}
}

var inProcess = struct {
	sync.Mutex
	byDir map[string]*World
}{byDir: map[string]*World{}}
