package aws

import (
	"context"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/awsfront"
)

// blockPrices sells p5.48xlarge Capacity Blocks in the simulator.
var blockPrices = map[string]float64{"p5.48xlarge": 31.464}

// newReservationEnv is a simulated AWS selling Capacity Blocks, whose
// backend tells time by the engine's clock, with cluster c1.
func newReservationEnv(t *testing.T) *netEnv {
	t.Helper()
	ev := newNetEnvWith(t, awsfront.Options{CapacityBlockPrices: blockPrices}, func(c *Config, clock *cloudsim.FakeClock) { c.Now = clock.Now })
	mustOK[cloud.Cluster](t)(ev.b.CreateCluster(context.Background(), cloud.ClusterSpec{Name: "c1", Region: euc1, PublicEndpoint: true}))
	return ev
}

// createReservation makes a targeted capacity reservation in zone.
func (ev *netEnv) createReservation(t *testing.T, instanceType, zone string, count int32) string {
	t.Helper()
	out := mustOK[*ec2.CreateCapacityReservationOutput](t)(ev.b.in(euc1).ec2.CreateCapacityReservation(context.Background(), &ec2.CreateCapacityReservationInput{
		InstanceType: awssdk.String(instanceType), InstancePlatform: ec2types.CapacityReservationInstancePlatformLinuxUnix,
		InstanceCount: awssdk.Int32(count), AvailabilityZoneId: awssdk.String(zone), InstanceMatchCriteria: ec2types.InstanceMatchCriteriaTargeted}))
	return awssdk.ToString(out.CapacityReservation.CapacityReservationId)
}

// available is the reservation's AvailableInstanceCount as EC2 reports it,
// checked against the engine's ledger.
func (ev *netEnv) available(t *testing.T, id string) int {
	t.Helper()
	c := mustOK[ec2types.CapacityReservation](t)(ev.b.describeReservation(context.Background(), ev.b.in(euc1), id))
	r := mustOK[cloudsim.Reservation](t)(ev.e.GetReservation("aws", id))
	if got := int(awssdk.ToInt32(c.AvailableInstanceCount)); got != r.Free() || int(awssdk.ToInt32(c.TotalInstanceCount)) != r.Count {
		t.Fatalf("EC2 reports %d of %d available, the ledger %d of %d", got, awssdk.ToInt32(c.TotalInstanceCount), r.Free(), r.Count)
	}
	return r.Free()
}

func reservedPool(name, zone, id string, nodes int) cloud.NodePoolSpec {
	p := gpuPool("c1", name, zone)
	p.CapacityType, p.Nodes, p.Reservation, p.UserData = "reserved", nodes, &cloud.Reservation{ID: id}, "#!/bin/bash\necho join"
	return p
}

// TestPoolOnReservation: a pool on a capacity reservation launches into
// it (an ON_DEMAND node group whose launch template targets it), takes
// one slot per node, reads back as reserved on that reservation, and
// frees its slots when deleted; a pool the reservation cannot take fails
// with a capacity error that names the reservation, and leaves the slots
// of the others alone.
func TestPoolOnReservation(t *testing.T) {
	ev := newReservationEnv(t)
	ctx := context.Background()
	id := ev.createReservation(t, "p5.48xlarge", "euc1-az3", 3)

	train := reservedPool("train", "euc1-az3", id, 2)
	p := mustOK[cloud.NodePool](t)(ev.b.CreateNodePool(ctx, train))
	if p.Status != cloud.StatusActive || p.ReadyNodes != 2 || !p.Spec.Equal(train) || p.Spec.Reservation.ID != id {
		t.Fatalf("pool %+v (status %s), want active %+v", p.Spec, p.Status, train)
	}
	if got := ev.available(t, id); got != 1 {
		t.Fatalf("%d instances free after a pool of 2 in a reservation of 3, want 1", got)
	}
	ng := mustOK[*eks.DescribeNodegroupOutput](t)(ev.b.in(euc1).eks.DescribeNodegroup(ctx,
		&eks.DescribeNodegroupInput{ClusterName: awssdk.String("c1"), NodegroupName: awssdk.String("train")})).Nodegroup
	if ng.CapacityType != ekstypes.CapacityTypesOnDemand || ng.LaunchTemplate == nil {
		t.Fatalf("node group capacity %s, launch template %v; want ON_DEMAND from a launch template", ng.CapacityType, ng.LaunchTemplate)
	}
	d, ok := mustOK2(t)(ev.b.launchTemplateData(ctx, ev.b.in(euc1), launchTemplateName("c1", "train"), "1"))
	if want := (launchData{UserData: train.UserData, InstanceType: "p5.48xlarge", ReservationID: id}); !ok || d != want {
		t.Fatalf("launch template data %+v, want %+v", d, want)
	}
	// A retried create is the same pool and takes nothing more.
	mustOK[cloud.NodePool](t)(ev.b.CreateNodePool(ctx, train))
	if got := ev.available(t, id); got != 1 {
		t.Fatalf("a retried create changed the free count to %d", got)
	}

	tests := []struct {
		name  string
		spec  cloud.NodePoolSpec
		kind  cloud.Kind
		names string
	}{
		{"exhausted", reservedPool("more", "euc1-az3", id, 2), cloud.KindCapacity, id},
		{"other zone", reservedPool("elsewhere", "euc1-az1", id, 1), cloud.KindCapacity, id},
		{"no such reservation", reservedPool("ghost", "euc1-az3", "cr-0123456789abcdef0", 1), cloud.KindFatal, "cr-0123456789abcdef0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ev.b.CreateNodePool(ctx, tt.spec)
			wantKind(t, tt.name, err, tt.kind)
			if !strings.Contains(err.Error(), tt.names) {
				t.Fatalf("error %q does not name the reservation %s", err, tt.names)
			}
			if p.Status != cloud.StatusCreateFailed {
				t.Fatalf("failed pool is %s, want create failed", p.Status)
			}
			if err := ev.b.DeleteNodePool(ctx, euc1, "c1", tt.spec.Name); err != nil {
				t.Fatal(err)
			}
			if got := ev.available(t, id); got != 1 {
				t.Fatalf("a failed pool left %d free, want 1", got)
			}
		})
	}

	if err := ev.b.DeleteNodePool(ctx, euc1, "c1", "train"); err != nil {
		t.Fatal(err)
	}
	if got := ev.available(t, id); got != 3 {
		t.Fatalf("%d free after the pool's delete, want all 3", got)
	}
	if _, ok := mustOK2(t)(ev.b.launchTemplateData(ctx, ev.b.in(euc1), launchTemplateName("c1", "train"), "1")); ok {
		t.Fatal("the pool's launch template outlived it")
	}
}

func mustOK2(t *testing.T) func(d launchData, ok bool, err error) (launchData, bool) {
	return func(d launchData, ok bool, err error) (launchData, bool) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return d, ok
	}
}

// TestPoolCapacityKinds: the kinds EKS has no node groups for, and the
// reservation kinds without a reservation, are refused before anything is
// created, naming the kind.
func TestPoolCapacityKinds(t *testing.T) {
	ev := newReservationEnv(t)
	ctx := context.Background()
	for _, tt := range []struct {
		kind    string
		reserve *cloud.Reservation
	}{
		{"flex_start", nil},
		{"calendar", &cloud.Reservation{ID: "calendar-1"}},
		{"reserved", nil},
		{"capacity_block", nil},
		{"preemptible", nil},
	} {
		t.Run(tt.kind, func(t *testing.T) {
			spec := gpuPool("c1", "p-"+strings.ReplaceAll(tt.kind, "_", "-"), "euc1-az3")
			spec.CapacityType, spec.Reservation = tt.kind, tt.reserve
			_, err := ev.b.CreateNodePool(ctx, spec)
			wantKind(t, tt.kind, err, cloud.KindInvalid)
			if !strings.Contains(err.Error(), tt.kind) {
				t.Fatalf("error %q does not name %s", err, tt.kind)
			}
			if _, gerr := ev.b.GetNodePool(ctx, euc1, "c1", spec.Name); !cloud.IsNotFound(gerr) {
				t.Fatalf("refused pool exists: %v", gerr)
			}
		})
	}
}

// TestPoolOnFutureCapacityBlock buys a Capacity Block that starts
// tomorrow (twice, with one token: one purchase), and creates a pool on
// it: the node group waits, launching nothing, until the block starts,
// and becomes active with its nodes after the start; deleting it frees
// the block's slots.
func TestPoolOnFutureCapacityBlock(t *testing.T) {
	ev := newReservationEnv(t)
	ctx := context.Background()
	offers := mustOK[*ec2.DescribeCapacityBlockOfferingsOutput](t)(ev.b.in(euc1).ec2.DescribeCapacityBlockOfferings(ctx, &ec2.DescribeCapacityBlockOfferingsInput{
		InstanceType: awssdk.String("p5.48xlarge"), InstanceCount: awssdk.Int32(2), CapacityDurationHours: awssdk.Int32(48)})).CapacityBlockOfferings
	if len(offers) == 0 {
		t.Fatal("no Capacity Block offerings")
	}
	offer := offers[0]
	now := ev.clock.Now()
	start := awssdk.ToTime(offer.StartDate)
	if !start.After(now) || start.Sub(now) > 24*time.Hour || awssdk.ToInt32(offer.InstanceCount) != 2 || awssdk.ToString(offer.UpfrontFee) != "3020.54" {
		t.Fatalf("first offering %+v at %s, want 2 instances for 48h starting within a day, 2×48×31.464 USD", offer, now)
	}

	res := mustOK[cloud.Reservation](t)(ev.b.PurchaseCapacityBlock(ctx, euc1, awssdk.ToString(offer.CapacityBlockOfferingId), "purchase-1"))
	again := mustOK[cloud.Reservation](t)(ev.b.PurchaseCapacityBlock(ctx, euc1, awssdk.ToString(offer.CapacityBlockOfferingId), "purchase-1"))
	if again != res || !res.Start.Equal(start) || !res.End.Equal(awssdk.ToTime(offer.EndDate)) {
		t.Fatalf("purchases %+v and %+v, want one reservation from %s to %s", res, again, start, awssdk.ToTime(offer.EndDate))
	}
	if all := mustOK[[]cloudsim.Reservation](t)(ev.e.Reservations("aws")); len(all) != 1 || all[0].Kind != "capacity_block" {
		t.Fatalf("ledger %+v, want the one block bought", all)
	}
	ledger := mustOK[cloudsim.Reservation](t)(ev.e.GetReservation("aws", res.ID))

	spec := gpuPool("c1", "block", ledger.Zone)
	spec.CapacityType, spec.Nodes, spec.Reservation = "capacity_block", 2, &cloud.Reservation{ID: res.ID}
	type result struct {
		p   cloud.NodePool
		err error
	}
	done := make(chan result, 1)
	go func() {
		p, err := ev.b.CreateNodePool(ctx, spec)
		done <- result{p, err}
	}()
	// The node group exists and waits: no nodes before the start.
	var pool cloudsim.Pool
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if p, ok := ev.e.LookupPool("aws", euc1, "c1", "block"); ok {
			pool = p
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the node group was not created")
		}
	}
	if pool.Spec.CapacityType != "capacity_block" || pool.Spec.Reservation == nil || pool.Spec.Reservation.ID != res.ID {
		t.Fatalf("engine pool %+v, want a capacity block pool on %s", pool.Spec, res.ID)
	}
	ev.clock.Advance(start.Add(-time.Hour).Sub(ev.clock.Now()))
	if nodes := mustOK[[]cloudsim.Node](t)(ev.e.PoolNodes("aws", euc1, "c1", "block")); len(nodes) != 0 {
		t.Fatalf("%d nodes an hour before the block starts", len(nodes))
	}
	select {
	case r := <-done:
		t.Fatalf("create returned before the start: %+v, %v", r.p, r.err)
	default:
	}
	ng := mustOK[*eks.DescribeNodegroupOutput](t)(ev.b.in(euc1).eks.DescribeNodegroup(ctx,
		&eks.DescribeNodegroupInput{ClusterName: awssdk.String("c1"), NodegroupName: awssdk.String("block")})).Nodegroup
	if ng.Status != ekstypes.NodegroupStatusCreating || ng.CapacityType != ekstypes.CapacityTypesCapacityBlock || len(ng.InstanceTypes) != 1 {
		t.Fatalf("node group %s, capacity %s, instance types %v; want CREATING CAPACITY_BLOCK", ng.Status, ng.CapacityType, ng.InstanceTypes)
	}
	ev.clock.Advance(time.Hour)

	var r result
	select {
	case r = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the create did not finish after the block started")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.p.Status != cloud.StatusActive || r.p.ReadyNodes != 2 || !r.p.Spec.Equal(spec) {
		t.Fatalf("pool %+v (%s, %d ready), want active %+v", r.p.Spec, r.p.Status, r.p.ReadyNodes, spec)
	}
	for _, n := range mustOK[[]cloudsim.Node](t)(ev.e.PoolNodes("aws", euc1, "c1", "block")) {
		if n.CreatedAt.Before(start) {
			t.Fatalf("node %s launched at %s, before the block's start %s", n.Name, n.CreatedAt, start)
		}
	}
	if got := ev.available(t, res.ID); got != 0 {
		t.Fatalf("%d free in the block with its pool running, want 0", got)
	}
	if err := ev.b.DeleteNodePool(ctx, euc1, "c1", "block"); err != nil {
		t.Fatal(err)
	}
	if got := ev.available(t, res.ID); got != 2 {
		t.Fatalf("%d free after the delete, want 2", got)
	}
}
