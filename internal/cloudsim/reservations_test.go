package cloudsim

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
)

// reservedSpec is a pool of nodes on reservation id.
func reservedSpec(name, id string, nodes int) cloud.NodePoolSpec {
	s := poolSpec(name, "euc1-az1", nodes)
	s.CapacityType, s.Reservation = "reserved", &cloud.Reservation{ID: id}
	return s
}

func TestReservationLedger(t *testing.T) {
	tests := []struct {
		name string
		res  Reservation
		// pools are created in order; want is the error each create ends
		// with ("" for none, else a kind and a substring).
		pools []cloud.NodePoolSpec
		kinds []cloud.Kind
		msgs  []string
		// wantUsed is the reservation's used slots after the creates.
		wantUsed int
	}{
		{name: "pools take slots until the reservation is used up",
			res:   Reservation{ID: "cr-1", InstanceType: "p5.48xlarge", Zone: "euc1-az1", Count: 4},
			pools: []cloud.NodePoolSpec{reservedSpec("a", "cr-1", 3), reservedSpec("b", "cr-1", 2), reservedSpec("c", "cr-1", 1)},
			kinds: []cloud.Kind{0, cloud.KindCapacity, 0},
			msgs:  []string{"", "reservation cr-1 has 1 of 4 instances free, 2 requested", ""}, wantUsed: 4},
		{name: "another instance type is refused",
			res:   Reservation{ID: "cr-2", InstanceType: "p4d.24xlarge", Count: 4},
			pools: []cloud.NodePoolSpec{reservedSpec("a", "cr-2", 1)},
			kinds: []cloud.Kind{cloud.KindFatal}, msgs: []string{"reservation cr-2 is for p4d.24xlarge, not p5.48xlarge"}},
		{name: "another zone is refused",
			res:   Reservation{ID: "cr-3", InstanceType: "p5.48xlarge", Zone: "euc1-az2", Count: 4},
			pools: []cloud.NodePoolSpec{reservedSpec("a", "cr-3", 1)},
			kinds: []cloud.Kind{cloud.KindFatal}, msgs: []string{"reservation cr-3 is in zone euc1-az2, not euc1-az1"}},
		{name: "a reservation that does not exist",
			pools: []cloud.NodePoolSpec{reservedSpec("a", "cr-none", 1)},
			kinds: []cloud.Kind{cloud.KindFatal}, msgs: []string{"reservation cr-none does not exist"}},
		{name: "an ended reservation is capacity gone",
			res:   Reservation{ID: "cr-4", InstanceType: "p5.48xlarge", Count: 4, Start: t0.Add(-2 * time.Hour), End: t0.Add(-time.Hour)},
			pools: []cloud.NodePoolSpec{reservedSpec("a", "cr-4", 1)},
			kinds: []cloud.Kind{cloud.KindCapacity}, msgs: []string{"reservation cr-4 ended at 2026-11-25T11:00:00Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, clock := newEngine(t)
			b := direct(e, clock)
			ctx := context.Background()
			if _, err := b.CreateCluster(ctx, clusterSpec); err != nil {
				t.Fatal(err)
			}
			if tt.res.ID != "" {
				tt.res.Cloud, tt.res.Region, tt.res.Kind = "aws", "eu-central-1", "reserved"
				if _, err := e.PutReservation(tt.res); err != nil {
					t.Fatal(err)
				}
			}
			for i, spec := range tt.pools {
				_, err := b.CreateNodePool(ctx, spec)
				if tt.msgs[i] == "" {
					if err != nil {
						t.Fatalf("pool %s: %v", spec.Name, err)
					}
					continue
				}
				if cloud.KindOf(err) != tt.kinds[i] || !strings.Contains(err.Error(), tt.msgs[i]) {
					t.Fatalf("pool %s: %v; want kind %v containing %q", spec.Name, err, tt.kinds[i], tt.msgs[i])
				}
			}
			if tt.res.ID == "" {
				return
			}
			r, err := e.GetReservation("aws", tt.res.ID)
			if err != nil || r.Used != tt.wantUsed || r.Free() != tt.res.Count-tt.wantUsed {
				t.Fatalf("reservation %+v %v; want %d used", r, err, tt.wantUsed)
			}
		})
	}
}

// A pool on reserved capacity frees its slots when deleted, and the
// reservation cannot be cancelled under it.
func TestReservationFreedOnDelete(t *testing.T) {
	e, clock := newEngine(t)
	b, ctx := direct(e, clock), context.Background()
	if _, err := b.CreateCluster(ctx, clusterSpec); err != nil {
		t.Fatal(err)
	}
	if _, err := e.PutReservation(Reservation{Cloud: "aws", ID: "cr-1", Region: "eu-central-1", InstanceType: "p5.48xlarge", Kind: "reserved", Count: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateNodePool(ctx, reservedSpec("a", "cr-1", 2)); err != nil {
		t.Fatal(err)
	}
	if err := e.DeleteReservation("aws", "cr-1"); !cloud.IsConflict(err) {
		t.Fatalf("cancel under running nodes: %v", err)
	}
	if _, err := e.PutReservation(Reservation{Cloud: "aws", ID: "cr-1", Region: "eu-central-1", InstanceType: "p5.48xlarge", Kind: "reserved", Count: 1}); !cloud.IsConflict(err) {
		t.Fatalf("shrink under running nodes: %v", err)
	}
	if err := b.DeleteNodePool(ctx, "eu-central-1", "c1", "a"); err != nil {
		t.Fatal(err)
	}
	if r, _ := e.GetReservation("aws", "cr-1"); r.Used != 0 || r.Free() != 2 {
		t.Fatalf("after delete: %+v", r)
	}
	if err := e.DeleteReservation("aws", "cr-1"); err != nil {
		t.Fatal(err)
	}
	if list, err := e.Reservations("aws"); err != nil || len(list) != 0 {
		t.Fatalf("list after cancel: %v %v", list, err)
	}
}

// A capacity block that starts later makes its pool wait: no node before
// the start, all of them after; at the block's end they are terminated.
func TestCapacityBlockStartsLater(t *testing.T) {
	e, clock := newEngine(t)
	b, ctx := direct(e, clock), context.Background()
	if _, err := b.CreateCluster(ctx, clusterSpec); err != nil {
		t.Fatal(err)
	}
	start := t0.Add(2 * time.Hour)
	if _, err := e.PutReservation(Reservation{Cloud: "aws", ID: "cr-block", Region: "eu-central-1", Zone: "euc1-az1", InstanceType: "p5.48xlarge",
		Kind: "capacity_block", Count: 2, Start: start, End: start.Add(24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	spec := reservedSpec("a", "cr-block", 2)
	spec.CapacityType, spec.Reservation.Start = "capacity_block", start
	if _, err := e.CreateNodePool("aws", spec, PoolOptions{Family: "p", GPUsPerNode: 8}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	if p, _ := e.GetNodePool("aws", "eu-central-1", "c1", "a"); len(p.Nodes) != 0 {
		t.Fatalf("%d nodes launched an hour before the block starts", len(p.Nodes))
	} else if st, _ := e.PoolStatus(p); st != cloud.StatusCreating {
		t.Fatalf("status before the start: %s", st)
	}
	np, err := b.waitPool(ctx, spec.CreateTimeout(0, clock.Now()), "eu-central-1", "c1", "a", "CreateNodePool")
	if err != nil || np.ReadyNodes != 2 || clock.Now().Before(start) {
		t.Fatalf("after waiting: %+v %v at %s", np, err, clock.Now())
	}
	clock.Advance(24 * time.Hour)
	p, _ := e.GetNodePool("aws", "eu-central-1", "c1", "a")
	if len(p.Nodes) != 0 || len(p.Issues) == 0 || p.Issues[len(p.Issues)-1].Code != IssueReservationExpired {
		t.Fatalf("after the block's end: %d nodes, issues %v", len(p.Nodes), p.Issues)
	}
	if r, _ := e.GetReservation("aws", "cr-block"); r.Used != 0 || r.State(clock.Now()) != "expired" {
		t.Fatalf("reservation after its end: %+v %s", r, r.State(clock.Now()))
	}
}
