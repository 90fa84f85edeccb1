package livecatalog

import (
	"context"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"google.golang.org/api/compute/v1"
	"google.golang.org/api/option"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/computefront"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// TestGCPReservations reads a project's reservations and calendar-mode
// future reservations from the simulated Compute Engine API: free
// instances of each reservation (a node pool holds some), the catalog
// name of an N1 machine type with its GPU, a calendar reservation with its
// window (listed once, as calendar, before and after its delivery), and
// nothing for a full reservation, another project or an ended window.
func TestGCPReservations(t *testing.T) {
	const project, zone = "fleet-prod", "europe-west4-a"
	clock := cloudsim.NewFakeClock(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	e, err := cloudsim.New(cloudsim.Config{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(computefront.New(e, computefront.Options{Clock: clock, OperationTime: -1}))
	t.Cleanup(srv.Close)
	ctx := context.Background()
	opts := []option.ClientOption{option.WithoutAuthentication()}
	svc, err := compute.NewService(ctx, append(opts, option.WithEndpoint(srv.URL+"/compute/v1/"))...)
	if err != nil {
		t.Fatal(err)
	}
	reserve := func(proj, name, machine string, count int64, accels ...*compute.AcceleratorConfig) {
		t.Helper()
		if _, err := svc.Reservations.Insert(proj, zone, &compute.Reservation{Name: name, SpecificReservation: &compute.AllocationSpecificSKUReservation{Count: count,
			InstanceProperties: &compute.AllocationSpecificSKUAllocationReservedInstanceProperties{MachineType: machine, GuestAccelerators: accels}}}).Do(); err != nil {
			t.Fatal(err)
		}
	}
	reserve(project, "res-a3", "a3-highgpu-8g", 4)
	reserve(project, "res-t4", "n1-highmem-8", 2, &compute.AcceleratorConfig{AcceleratorType: "nvidia-tesla-t4", AcceleratorCount: 1})
	reserve(project, "res-full", "a2-highgpu-1g", 1)
	reserve("other-project", "res-other", "a3-highgpu-8g", 8)
	start := clock.Now().Add(2 * time.Hour)
	if _, err := svc.FutureReservations.Insert(project, zone, &compute.FutureReservation{Name: "fr-cal", ReservationName: "cal-a3", ReservationMode: "CALENDAR",
		TimeWindow: &compute.FutureReservationTimeWindow{StartTime: start.Format(time.RFC3339), EndTime: start.Add(24 * time.Hour).Format(time.RFC3339)},
		SpecificSkuProperties: &compute.FutureReservationSpecificSKUProperties{TotalCount: 2,
			InstanceProperties: &compute.AllocationSpecificSKUAllocationReservedInstanceProperties{MachineType: "a3-highgpu-8g"}}}).Do(); err != nil {
		t.Fatal(err)
	}
	// Node pools hold 1 of res-a3 and all of res-full.
	if _, err := e.CreateCluster("gcp", cloud.ClusterSpec{Name: "c1", Region: "europe-west4", KubernetesVersion: "1.33"}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	for _, p := range []struct{ name, machine, res string }{{"p1", "a3-highgpu-8g", "res-a3"}, {"p2", "a2-highgpu-1g", "res-full"}} {
		spec := cloud.NodePoolSpec{Cluster: "c1", Region: "europe-west4", Zone: zone, Name: p.name, InstanceType: p.machine, CapacityType: "reserved",
			Nodes: 1, Reservation: &cloud.Reservation{ID: p.res}}
		if _, err := e.CreateNodePool("gcp", spec, cloudsim.PoolOptions{GPUsPerNode: 1}); err != nil {
			t.Fatal(err)
		}
	}

	srcs := ReservationSources(SourcesConfig{Clouds: []string{"gcp"}, GCPProject: project, GCPComputeEndpoint: srv.URL + "/compute/v1/", GCPClientOptions: opts})
	if len(srcs) != 1 || srcs[0].Cloud() != "gcp" {
		t.Fatalf("sources %v", srcs)
	}
	if n := len(ReservationSources(SourcesConfig{Clouds: []string{"gcp"}})); n != 0 {
		t.Fatalf("%d sources without a project", n)
	}
	calendar := planner.Offer{Cloud: "gcp", Region: "europe-west4", Zone: zone, InstanceType: "a3-highgpu-8g", CapacityType: planner.Calendar,
		ReservationID: "cal-a3", MaxNodes: 2, StartTime: start.UTC().Format(planner.TimeLayout), DurationHours: 24}
	want := []planner.Offer{
		{Cloud: "gcp", Region: "europe-west4", Zone: zone, InstanceType: "a3-highgpu-8g", CapacityType: planner.Reserved, ReservationID: "res-a3", MaxNodes: 3},
		calendar,
		{Cloud: "gcp", Region: "europe-west4", Zone: zone, InstanceType: "n1-highmem-8+1xT4", CapacityType: planner.Reserved, ReservationID: "res-t4", MaxNodes: 2},
	}
	slices.SortFunc(want, func(a, b planner.Offer) int {
		if a.ID() < b.ID() {
			return -1
		}
		return 1
	})
	src := srcs[0].(*GCPReservations)
	for _, tt := range []struct {
		name    string
		advance time.Duration
		want    []planner.Offer
	}{
		{"before the calendar start", 0, want},
		{"calendar delivered", 2 * time.Hour, want},
		{"calendar ended", 24 * time.Hour, slices.DeleteFunc(slices.Clone(want), func(o planner.Offer) bool { return o.CapacityType == planner.Calendar })},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clock.Advance(tt.advance)
			src.Now = clock.Now
			got, err := src.Capacity(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("offers\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
