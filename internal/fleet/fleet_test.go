package fleet

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

func world(t *testing.T) (*cloudsim.Engine, *Fleet) {
	t.Helper()
	e, f, _ := worldClock(t)
	return e, f
}

func worldClock(t *testing.T) (*cloudsim.Engine, *Fleet, *cloudsim.FakeClock) {
	t.Helper()
	clock := cloudsim.NewFakeClock(time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC))
	e, err := cloudsim.New(cloudsim.Config{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	b := &cloudsim.DirectBackend{Engine: e, CloudName: "aws", Poll: time.Second,
		Options: func(string) cloudsim.PoolOptions { return cloudsim.PoolOptions{Family: "p", GPUsPerNode: 8} },
		Sleep: func(ctx context.Context, d time.Duration) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			clock.Advance(d)
			time.Sleep(time.Millisecond) // let the other pools' goroutines run
			return nil
		}}
	ctx := context.Background()
	for _, region := range []string{"eu-central-1", "eu-north-1"} {
		if _, err := b.CreateCluster(ctx, cloud.ClusterSpec{Name: "c-" + region, Region: region}); err != nil {
			t.Fatal(err)
		}
	}
	return e, &Fleet{Backends: map[string]cloud.Backend{"aws": b},
		Clusters: map[string]string{"aws/eu-central-1": "c-eu-central-1", "aws/eu-north-1": "c-eu-north-1"}}, clock
}

func offer(region, zone string, nodes int) Offer {
	return Offer{Key: "aws/" + region + "/" + zone + "/p5.48xlarge/on_demand", Cloud: "aws", Region: region, Zone: zone,
		InstanceType: "p5.48xlarge", CapacityType: "on_demand", Nodes: nodes, GPUsPerNode: 8}
}

var spec = Spec{Labels: map[string]string{"gpufleet.dev/fleet": "train"},
	Taints: []cloud.Taint{{Key: "gpufleet.dev/unvalidated", Value: "true", Effect: "NoSchedule"}}}

func pools(e *cloudsim.Engine) int { return len(e.Inventory().Pools) }

func TestCreateConcurrently(t *testing.T) {
	e, f := world(t)
	allocs := []Allocation{{Offer: offer("eu-central-1", "euc1-az1", 2)}, {Offer: offer("eu-north-1", "eun1-az1", 3)}}
	got, err := f.Create(context.Background(), allocs, spec, true)
	if err != nil || len(got) != 2 || pools(e) != 2 {
		t.Fatalf("pools %+v err %v", got, err)
	}
	for _, p := range got {
		if p.Status != cloud.StatusActive || p.Offer.Key != p.Allocation || p.Name != PoolName(p.Offer.Key) {
			t.Fatalf("pool %+v", p)
		}
	}
	if err := f.Delete(context.Background(), got); err != nil || pools(e) != 0 {
		t.Fatalf("delete: %v, %d pools left", err, pools(e))
	}
}

func TestFailoverOnCapacity(t *testing.T) {
	e, f := world(t)
	if err := e.SetCapacity("aws", "euc1-az1", "p5.48xlarge", "on_demand", 1); err != nil {
		t.Fatal(err)
	}
	a := Allocation{Offer: offer("eu-central-1", "euc1-az1", 2),
		Fallbacks: []Offer{offer("eu-central-1", "euc1-az1", 2), offer("eu-north-1", "eun1-az1", 2)}}
	got, err := f.Create(context.Background(), []Allocation{a}, spec, true)
	if err != nil || len(got) != 1 {
		t.Fatalf("pools %+v err %v", got, err)
	}
	p := got[0]
	if p.Offer.Zone != "eun1-az1" || p.Allocation != a.Key || len(p.Tried) != 2 || !strings.Contains(p.Tried[1], "blocked earlier") {
		t.Fatalf("failover %+v", p)
	}
	if inv := e.Inventory(); len(inv.Pools) != 1 || inv.Pools[0].Spec.Zone != "eun1-az1" {
		t.Fatalf("a failed pool was left behind: %+v", inv.Pools)
	}
}

func TestCapacityEverywhereLeaksNothing(t *testing.T) {
	e, f := world(t)
	if err := e.SetCapacity("aws", "euc1-az1", "p5.48xlarge", "on_demand", 0); err != nil {
		t.Fatal(err)
	}
	if err := e.SetCapacity("aws", "eun1-az1", "p5.48xlarge", "on_demand", 0); err != nil {
		t.Fatal(err)
	}
	a := Allocation{Offer: offer("eu-central-1", "euc1-az1", 1), Fallbacks: []Offer{offer("eu-north-1", "eun1-az1", 1)}}
	ok := Allocation{Offer: offer("eu-north-1", "eun1-az2", 1)}
	got, err := f.Create(context.Background(), []Allocation{a, ok}, spec, true)
	if err == nil || !cloud.IsCapacity(err) || !strings.Contains(err.Error(), "no offer could be placed") {
		t.Fatalf("error %v", err)
	}
	if len(got) != 1 || got[0].Allocation != ok.Key || pools(e) != 1 {
		t.Fatalf("the placed pool must be reported and the failed ones deleted: %+v, %d in the cloud", got, pools(e))
	}
}

func TestNoFailover(t *testing.T) {
	e, f := world(t)
	if err := e.SetQuota("aws", "eu-central-1", "p", 8); err != nil {
		t.Fatal(err)
	}
	a := Allocation{Offer: offer("eu-central-1", "euc1-az1", 2), Fallbacks: []Offer{offer("eu-north-1", "eun1-az1", 2)}}
	_, err := f.Create(context.Background(), []Allocation{a}, spec, false)
	if !cloud.IsQuota(err) || !strings.Contains(err.Error(), "QuotaExceeded") || pools(e) != 0 {
		t.Fatalf("error %v, %d pools", err, pools(e))
	}
}

func TestAcceptRejectsFallback(t *testing.T) {
	e, f := world(t)
	if err := e.SetCapacity("aws", "euc1-az1", "p5.48xlarge", "on_demand", 0); err != nil {
		t.Fatal(err)
	}
	f.Accept = func(placed []Offer, candidate, replacing Offer) bool { return candidate.Region == replacing.Region }
	a := Allocation{Offer: offer("eu-central-1", "euc1-az1", 1),
		Fallbacks: []Offer{offer("eu-north-1", "eun1-az1", 1), offer("eu-central-1", "euc1-az2", 1)}}
	got, err := f.Create(context.Background(), []Allocation{a}, spec, true)
	if err != nil || got[0].Offer.Zone != "euc1-az2" || !strings.Contains(strings.Join(got[0].Tried, ";"), "would break the placement's spread") {
		t.Fatalf("pools %+v err %v", got, err)
	}
}

func TestCancellationRecordsThePool(t *testing.T) {
	e, f := world(t)
	ctx, cancel := context.WithCancel(context.Background())
	b := f.Backends["aws"].(*cloudsim.DirectBackend)
	b.Sleep = func(context.Context, time.Duration) error { cancel(); return context.Canceled }
	got, err := f.Create(ctx, []Allocation{{Offer: offer("eu-central-1", "euc1-az1", 1)}}, spec, true)
	if !errors.Is(err, context.Canceled) || len(got) != 1 || got[0].Status != cloud.StatusCreating || pools(e) != 1 {
		t.Fatalf("pools %+v err %v, %d in the cloud", got, err, pools(e))
	}
}

// TestUnusableFallbackDoesNotEndTheSearch: a fallback whose zone has no
// subnet in the site's network (the backends' KindInvalid errors naming
// the offer's zone) or whose site has no cluster is skipped, and the
// allocation goes on to its next fallback.
func TestUnusableFallbackDoesNotEndTheSearch(t *testing.T) {
	e, f := world(t)
	if err := e.SetCapacity("aws", "eun1-az1", "p5.48xlarge", "on_demand", 0); err != nil {
		t.Fatal(err)
	}
	if err := e.Inject(cloudsim.Fault{Cloud: "aws", Op: "CreateNodePool", Target: cloudsim.Target{Zone: "euc1-az3"}, Err: &cloud.Error{Kind: cloud.KindInvalid,
		Cloud: "aws", Op: "CreateNodegroup", Code: "NoSubnetInZone", Message: "the network has no subnet in zone \"euc1-az3\"",
		Zone: "euc1-az3", InstanceType: "p5.48xlarge", CapacityType: "on_demand"}}); err != nil {
		t.Fatal(err)
	}
	a := Allocation{Offer: offer("eu-north-1", "eun1-az1", 2),
		Fallbacks: []Offer{offer("eu-central-1", "euc1-az3", 2), offer("us-east-1", "use1-az1", 2), offer("eu-central-1", "euc1-az1", 2)}}
	got, err := f.Create(context.Background(), []Allocation{a}, spec, true)
	if err != nil || len(got) != 1 || got[0].Offer.Zone != "euc1-az1" {
		t.Fatalf("pools %+v err %v", got, err)
	}
	if tried := strings.Join(got[0].Tried, "\n"); !strings.Contains(tried, "NoSubnetInZone") || !strings.Contains(tried, "no cluster in aws/us-east-1") {
		t.Fatalf("tried %s", tried)
	}
	if inv := e.Inventory(); len(inv.Pools) != 1 {
		t.Fatalf("pools left: %+v", inv.Pools)
	}
}
