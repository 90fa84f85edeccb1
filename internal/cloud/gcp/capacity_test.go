package gcp

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	compute "google.golang.org/api/compute/v1"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/computefront"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/gkefront"
)

const resZone = netRegion + "-a"

// capWorld is the simulated GKE and Compute Engine on a fake clock, with a
// cluster c1 in the default network.
type capWorld struct {
	*netWorld
	clock *cloudsim.FakeClock
	svc   *compute.Service
}

var capDurations = cloudsim.Durations{ClusterCreate: 30 * time.Millisecond, ClusterDelete: 20 * time.Millisecond,
	PoolCreate: 30 * time.Millisecond, PoolUpdate: 20 * time.Millisecond, PoolDelete: 20 * time.Millisecond}

func newCapWorld(t *testing.T) *capWorld {
	t.Helper()
	clock := cloudsim.NewFakeClock(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	e, err := cloudsim.New(cloudsim.Config{Clock: clock, Durations: capDurations})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(computefront.New(e, computefront.Options{Project: netProject, Clock: clock, OperationTime: -1}))
	t.Cleanup(srv.Close)
	gke, stop, err := gkefront.Serve(e, gkefront.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	b, err := New(context.Background(), Config{Project: netProject, Endpoint: gke, Insecure: true, Now: clock.Now,
		ComputeEndpoint: srv.URL + "/compute/v1/", Poll: 2 * time.Millisecond, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c, err := b.compute(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	w := &capWorld{netWorld: &netWorld{e: e, b: b}, clock: clock, svc: c.svc}
	w.drive(t, func() error {
		_, err := b.CreateCluster(context.Background(), cloud.ClusterSpec{Name: "c1", Region: netRegion, KubernetesVersion: "1.33", PublicEndpoint: true})
		return err
	})
	return w
}

// advancing runs fn while the clock moves 10 ms every real millisecond.
func (w *capWorld) advancing(fn func()) {
	defer w.clock.Tick(time.Millisecond, 10*time.Millisecond)()
	fn()
}

// drive runs fn while the clock moves, failing the test on its error.
func (w *capWorld) drive(t *testing.T, fn func() error) {
	t.Helper()
	var err error
	w.advancing(func() { err = fn() })
	if err != nil {
		t.Fatal(err)
	}
}

// reserve inserts a specific reservation of count machines in zone.
func (w *capWorld) reserve(t *testing.T, name, zone, machine string, count int64, accels ...*compute.AcceleratorConfig) {
	t.Helper()
	_, err := w.svc.Reservations.Insert(netProject, zone, &compute.Reservation{Name: name, SpecificReservationRequired: true,
		SpecificReservation: &compute.AllocationSpecificSKUReservation{Count: count,
			InstanceProperties: &compute.AllocationSpecificSKUAllocationReservedInstanceProperties{MachineType: machine, GuestAccelerators: accels}}}).Do()
	if err != nil {
		t.Fatal(err)
	}
}

func (w *capWorld) inUse(t *testing.T, name string) int64 {
	t.Helper()
	r, err := w.svc.Reservations.Get(netProject, resZone, name).Do()
	if err != nil {
		t.Fatal(err)
	}
	return r.SpecificReservation.InUseCount
}

// create creates a pool while the clock moves.
func (w *capWorld) create(spec cloud.NodePoolSpec) (p cloud.NodePool, err error) {
	w.advancing(func() { p, err = w.b.CreateNodePool(context.Background(), spec) })
	return p, err
}

func (w *capWorld) remove(t *testing.T, name string) {
	t.Helper()
	w.drive(t, func() error { return w.b.DeleteNodePool(context.Background(), netRegion, "c1", name) })
}

// created is the outcome of a create.
type created struct {
	p   cloud.NodePool
	err error
}

// startCreate sends a create with the clock standing still and returns
// once the engine has the pool; the create's outcome comes on the channel.
func (w *capWorld) startCreate(t *testing.T, spec cloud.NodePoolSpec) <-chan created {
	t.Helper()
	done := make(chan created, 1)
	go func() {
		p, err := w.b.CreateNodePool(context.Background(), spec)
		done <- created{p, err}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, ok := w.e.LookupPool("gcp", netRegion, spec.Cluster, spec.Name); ok {
			return done
		}
		if time.Now().After(deadline) {
			t.Fatalf("pool %s was not created", spec.Name)
		}
		time.Sleep(time.Millisecond)
	}
}

// awaitCreate waits for a started create to succeed.
func awaitCreate(t *testing.T, done <-chan created) cloud.NodePool {
	t.Helper()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r.p
	case <-time.After(10 * time.Second):
		t.Fatal("the create did not finish once its capacity was there")
	}
	return cloud.NodePool{}
}

var h100x8 = &compute.AcceleratorConfig{AcceleratorType: "nvidia-h100-80gb", AcceleratorCount: 8}

func reservedPool(name, zone, machine, res string, nodes int) cloud.NodePoolSpec {
	s := gpuPool("c1", name, zone)
	s.InstanceType, s.CapacityType, s.Nodes, s.Reservation = machine, "reserved", nodes, &cloud.Reservation{ID: res}
	return s
}

// TestPoolConsumesReservation: a reserved pool consumes its reservation
// (inUseCount per node, the GKE request names it), one that does not fit
// fails with a capacity error naming the reservation, a pool of another
// machine type or zone is refused, and deleting the pools frees the
// reservation; nothing is left.
func TestPoolConsumesReservation(t *testing.T) {
	w := newCapWorld(t)
	ctx := context.Background()
	w.reserve(t, "res-h100", resZone, "a3-highgpu-8g", 3, h100x8)
	w.reserve(t, "res-bare", resZone, "a3-highgpu-8g", 1)

	spec := reservedPool("p1", resZone, "a3-highgpu-8g", "res-h100", 2)
	p, err := w.create(spec)
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != cloud.StatusActive || !p.Spec.Equal(spec) || p.Spec.Reservation.ID != "res-h100" {
		t.Fatalf("pool %+v, want active %+v", p.Spec, spec)
	}
	if got := w.inUse(t, "res-h100"); got != 2 {
		t.Fatalf("inUseCount %d, want 2", got)
	}
	raw := try(w.b.client.GetNodePool(ctx, &containerpb.GetNodePoolRequest{Name: w.b.poolPath(netRegion, "c1", "p1")})).must(t)
	if ra := raw.GetConfig().GetReservationAffinity(); ra.GetConsumeReservationType() != containerpb.ReservationAffinity_SPECIFIC_RESERVATION ||
		ra.GetKey() != reservationKey || len(ra.GetValues()) != 1 || ra.GetValues()[0] != "res-h100" {
		t.Fatalf("reservation affinity %v", ra)
	}

	for _, tt := range []struct {
		name string
		spec cloud.NodePoolSpec
		kind cloud.Kind
		text string
	}{
		{"exhausted", reservedPool("p2", resZone, "a3-highgpu-8g", "res-h100", 2), cloud.KindCapacity, "res-h100"},
		{"other accelerators", func() cloud.NodePoolSpec {
			s := reservedPool("p3", resZone, "a2-highgpu-1g", "res-h100", 1)
			s.GPUModel, s.GPUsPerNode = "A100", 1
			return s
		}(), cloud.KindInvalid, "No available resources in specified reservations 'res-h100'"},
		{"other machine type", reservedPool("p4", resZone, "a3-megagpu-8g", "res-bare", 1), cloud.KindInvalid, "No available resources in specified reservations 'res-bare'"},
		{"other zone", reservedPool("p5", netRegion+"-b", "a3-highgpu-8g", "res-h100", 1), cloud.KindInvalid, "not found in zone " + netRegion + "-b"},
		{"no such reservation", reservedPool("p6", resZone, "a3-highgpu-8g", "res-none", 1), cloud.KindInvalid, "res-none"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := w.create(tt.spec)
			wantKind(t, err, tt.kind)
			if !strings.Contains(err.Error(), tt.text) {
				t.Fatalf("error %q does not say %q", err, tt.text)
			}
			var ce *cloud.Error
			if !errors.As(err, &ce) || ce.Zone != tt.spec.Zone || ce.CapacityType != "reserved" {
				t.Fatalf("error %v does not name the offer", err)
			}
			if _, ok := w.e.LookupPool("gcp", netRegion, "c1", tt.spec.Name); ok {
				w.remove(t, tt.spec.Name)
			}
		})
	}
	if got := w.inUse(t, "res-h100"); got != 2 {
		t.Fatalf("inUseCount %d after the refused pools, want 2", got)
	}
	w.remove(t, "p1")
	if got := w.inUse(t, "res-h100"); got != 0 {
		t.Fatalf("inUseCount %d after the delete, want 0", got)
	}
	for _, name := range []string{"res-h100", "res-bare"} {
		if _, err := w.svc.Reservations.Delete(netProject, resZone, name).Do(); err != nil {
			t.Fatal(err)
		}
	}
	w.drive(t, func() error { return w.b.DeleteCluster(ctx, netRegion, "c1") })
	if inv := w.e.Inventory().Resources(); !inv.Empty() {
		t.Fatalf("leftovers: %v", w.names())
	}
}

// TestFlexStartPool: a flex-start pool is sent as GKE asks (flexStart,
// autoscaling from 0 with location policy ANY, no reservation, the maximum
// run duration from the capacity's end), stays provisioning while it is
// queued and becomes active after the queue.
func TestFlexStartPool(t *testing.T) {
	w := newCapWorld(t)
	ctx := context.Background()
	spec := gpuPool("c1", "flex", resZone)
	spec.CapacityType, spec.Nodes = "flex_start", 2
	spec.Reservation = &cloud.Reservation{End: w.clock.Now().Add(48 * time.Hour)}
	// The clock stands still: the pool is queued.
	done := w.startCreate(t, spec)
	w.clock.Advance(capDurations.PoolCreate + time.Millisecond)
	if p := try(w.b.GetNodePool(ctx, netRegion, "c1", "flex")).must(t); p.Status != cloud.StatusCreating || p.ReadyNodes != 0 {
		t.Fatalf("queued flex-start pool %s with %d nodes, want creating with none", p.Status, p.ReadyNodes)
	}
	w.clock.Advance(cloudsim.FlexStartQueue)
	r := awaitCreate(t, done)
	if r.Status != cloud.StatusActive || r.Spec.CapacityType != "flex_start" || !r.Spec.Equal(spec) {
		t.Fatalf("pool %+v", r)
	}
	raw := try(w.b.client.GetNodePool(ctx, &containerpb.GetNodePoolRequest{Name: w.b.poolPath(netRegion, "c1", "flex")})).must(t)
	cfg, as := raw.GetConfig(), raw.GetAutoscaling()
	if !cfg.GetFlexStart() || cfg.GetReservationAffinity().GetConsumeReservationType() != containerpb.ReservationAffinity_NO_RESERVATION ||
		!as.GetEnabled() || as.GetTotalMinNodeCount() != 0 || as.GetTotalMaxNodeCount() != 2 || as.GetLocationPolicy() != containerpb.NodePoolAutoscaling_ANY ||
		cfg.GetMaxRunDuration().AsDuration() != 48*time.Hour {
		t.Fatalf("flex-start request: config %v, autoscaling %v", cfg, as)
	}
	if n := len(w.enginePool(t, "c1", "flex").Nodes); n != 2 {
		t.Fatalf("%d nodes, want 2", n)
	}
	// At the maximum run duration the nodes go.
	w.clock.Advance(48 * time.Hour)
	try(w.b.GetNodePool(ctx, netRegion, "c1", "flex")).must(t)
	w.clock.Advance(capDurations.PoolUpdate + time.Millisecond)
	if p := try(w.b.GetNodePool(ctx, netRegion, "c1", "flex")).must(t); p.Spec.Nodes != 0 || p.ReadyNodes != 0 {
		t.Fatalf("flex-start pool after its maximum run duration: %d nodes, %d ready, want none", p.Spec.Nodes, p.ReadyNodes)
	}
	if n := len(w.enginePool(t, "c1", "flex").Nodes); n != 0 {
		t.Fatalf("%d machines after the maximum run duration, want 0", n)
	}
	w.remove(t, "flex")
}

// TestCalendarReservationWaits: a pool on a calendar-mode reservation that
// starts later holds its slots and launches nothing before the start (its
// reservation does not exist yet), then becomes active, with nodes that
// run until the reservation's end.
func TestCalendarReservationWaits(t *testing.T) {
	w := newCapWorld(t)
	ctx := context.Background()
	start := w.clock.Now().Add(time.Hour).UTC()
	end := start.Add(24 * time.Hour)
	_, err := w.svc.FutureReservations.Insert(netProject, resZone, &compute.FutureReservation{Name: "fr-cal", ReservationName: "cal-h100",
		ReservationMode: "CALENDAR", TimeWindow: &compute.FutureReservationTimeWindow{StartTime: start.Format(time.RFC3339), EndTime: end.Format(time.RFC3339)},
		SpecificSkuProperties: &compute.FutureReservationSpecificSKUProperties{TotalCount: 2,
			InstanceProperties: &compute.AllocationSpecificSKUAllocationReservedInstanceProperties{MachineType: "a3-highgpu-8g", GuestAccelerators: []*compute.AcceleratorConfig{h100x8}}}}).Do()
	if err != nil {
		t.Fatal(err)
	}
	spec := reservedPool("cal", resZone, "a3-highgpu-8g", "cal-h100", 2)
	spec.CapacityType = "calendar"
	done := w.startCreate(t, spec)
	w.clock.Advance(time.Hour - time.Minute)
	if p := try(w.b.GetNodePool(ctx, netRegion, "c1", "cal")).must(t); p.Status != cloud.StatusCreating || p.ReadyNodes != 0 {
		t.Fatalf("pool before the start %s with %d nodes, want creating with none", p.Status, p.ReadyNodes)
	}
	if n := len(w.enginePool(t, "c1", "cal").Nodes); n != 0 {
		t.Fatalf("%d nodes launched before the reservation's start", n)
	}
	if _, err := w.svc.Reservations.Get(netProject, resZone, "cal-h100").Do(); err == nil {
		t.Fatal("the calendar reservation exists before its start")
	}
	w.clock.Advance(time.Minute + capDurations.PoolCreate + time.Millisecond)
	r := awaitCreate(t, done)
	if r.Status != cloud.StatusActive || r.Spec.CapacityType != "calendar" || r.Spec.Reservation.ID != "cal-h100" {
		t.Fatalf("pool %+v", r)
	}
	if got := w.inUse(t, "cal-h100"); got != 2 {
		t.Fatalf("inUseCount %d, want 2", got)
	}
	raw := try(w.b.client.GetNodePool(ctx, &containerpb.GetNodePoolRequest{Name: w.b.poolPath(netRegion, "c1", "cal")})).must(t)
	if d := raw.GetConfig().GetMaxRunDuration().AsDuration(); d != 24*time.Hour {
		t.Fatalf("max run duration %s, want 24h (start to end)", d)
	}
	// At the end the reservation's instances are terminated.
	w.clock.Advance(24 * time.Hour)
	p := try(w.b.GetNodePool(ctx, netRegion, "c1", "cal")).must(t)
	if p.Status == cloud.StatusActive || p.ReadyNodes != 0 || len(p.Issues) == 0 || !strings.Contains(p.Issues[0].Message, "cal-h100") {
		t.Fatalf("pool after the reservation's end: %s, %d ready, issues %v", p.Status, p.ReadyNodes, p.Issues)
	}
	w.remove(t, "cal")
	// The ended reservation is gone from Compute Engine; the ledger holds
	// no slots for the deleted pool.
	if _, err := w.svc.Reservations.Get(netProject, resZone, "cal-h100").Do(); err == nil {
		t.Fatal("the calendar reservation exists after its end")
	}
	if r, err := w.e.GetReservation("gcp", "cal-h100"); err != nil || r.Used != 0 {
		t.Fatalf("ledger after the delete: %+v %v", r, err)
	}
}

// TestWithCapacity: what a new pool's request says for each capacity
// type, read back by capacityOf, and the specs refused before any call.
func TestWithCapacity(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	res := func(id string, start, end time.Duration) *cloud.Reservation {
		r := &cloud.Reservation{ID: id}
		if start != 0 {
			r.Start = now.Add(start)
		}
		if end != 0 {
			r.End = now.Add(end)
		}
		return r
	}
	for _, tt := range []struct {
		name     string
		capacity string
		zone     string
		res      *cloud.Reservation
		kind     cloud.Kind // of the error; 0: none
		maxRun   time.Duration
	}{
		{"on demand", "on_demand", resZone, nil, 0, 0},
		{"spot", "spot", resZone, nil, 0, 0},
		{"reserved", "reserved", resZone, res("res-a", 0, 0), 0, 0},
		{"reserved until an end", "reserved", resZone, res("res-a", 0, 10*time.Hour), 0, 10 * time.Hour},
		{"calendar counts from its start", "calendar", resZone, res("cal-a", 2*time.Hour, 26*time.Hour), 0, 24 * time.Hour},
		{"flex-start", "flex_start", resZone, res("", 0, 7*24*time.Hour), 0, 7 * 24 * time.Hour},
		{"reserved without a reservation", "reserved", resZone, nil, cloud.KindInvalid, 0},
		{"reserved without a zone", "reserved", "", res("res-a", 0, 0), cloud.KindInvalid, 0},
		{"ended", "calendar", resZone, res("cal-a", -26*time.Hour, -2*time.Hour), cloud.KindCapacity, 0},
		{"unknown capacity type", "capacity_block", resZone, res("cr-1", 0, 0), cloud.KindInvalid, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			spec := gpuPool("c1", "p", tt.zone)
			spec.CapacityType, spec.Reservation = tt.capacity, tt.res
			pool := &containerpb.NodePool{Config: &containerpb.NodeConfig{ResourceLabels: map[string]string{}}}
			err := withCapacity(spec, pool, now)
			if tt.kind != 0 {
				wantKind(t, err, tt.kind)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := pool.Config.GetMaxRunDuration().AsDuration(); got != tt.maxRun {
				t.Fatalf("max run duration %s, want %s", got, tt.maxRun)
			}
			ct, r := capacityOf(pool.Config)
			resID := func(r *cloud.Reservation) string {
				if r == nil {
					return ""
				}
				return r.ID
			}
			if ct != tt.capacity || resID(r) != resID(spec.Reservation) {
				t.Fatalf("read back %s %+v, want %s %+v", ct, r, tt.capacity, spec.Reservation)
			}
		})
	}
}
