package gcp

import (
	"context"
	"maps"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/computefront"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/gkefront"
)

const (
	netProject = "sim-net"
	netRegion  = "europe-west4"
)

// netWorld is an engine with the Compute Engine front end on loopback
// (real clock, short operations) and a Backend pointed at it.
type netWorld struct {
	e *cloudsim.Engine
	b *Backend
}

func newNetWorld(t *testing.T) *netWorld {
	t.Helper()
	return newWorldWith(t, cloudsim.Config{}, 15*time.Millisecond)
}

// newWorldWith serves computefront (operations of opTime) and gkefront on
// an engine made from cfg, to a backend polling every 5 ms.
func newWorldWith(t *testing.T, cfg cloudsim.Config, opTime time.Duration) *netWorld {
	t.Helper()
	e, err := cloudsim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(computefront.New(e, computefront.Options{Project: netProject, OperationTime: opTime}))
	t.Cleanup(srv.Close)
	gke, stop, err := gkefront.Serve(e, gkefront.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	b, err := New(context.Background(), Config{Project: netProject, Endpoint: gke, Insecure: true,
		ComputeEndpoint: srv.URL + "/compute/v1/", Poll: 5 * time.Millisecond, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return &netWorld{e: e, b: b}
}

// objects maps each billable engine object to its attributes.
func (w *netWorld) objects() map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, o := range w.e.Inventory().Resources().Objects {
		out[o.Kind+" "+o.Name] = o.Attrs
	}
	return out
}

func (w *netWorld) names() []string { return slices.Sorted(maps.Keys(w.objects())) }

// creates counts the engine's create calls of resources (operation
// records aside).
func (w *netWorld) creates() map[string]int {
	out := map[string]int{}
	for k, n := range w.e.Calls() {
		if strings.HasPrefix(k, "gcp/Create") && !strings.HasSuffix(k, "Operation") {
			out[k] = n
		}
	}
	return out
}

func siteSpec(name, cidr string, zones map[string]string, allowed ...string) cloud.NetworkSpec {
	s := cloud.NetworkSpec{Name: name, Region: netRegion, CIDR: cidr, AllowedCIDRs: allowed}
	for _, z := range slices.Sorted(maps.Keys(zones)) {
		s.Subnets = append(s.Subnets, cloud.SubnetSpec{Zone: z, CIDR: zones[z]})
	}
	return s
}

// tried is a call's result, for try(f()).must(t).
type tried[T any] struct {
	v   T
	err error
}

func try[T any](v T, err error) tried[T] { return tried[T]{v, err} }

// must fails the test on an error and returns the value.
func (r tried[T]) must(t *testing.T) T {
	t.Helper()
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.v
}

func wantKind(t *testing.T, err error, k cloud.Kind) {
	t.Helper()
	if got := cloud.KindOf(err); err == nil || got != k {
		t.Fatalf("want a %s error, got %v (%s)", k, err, got)
	}
}
