package cloudsim

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func newEngine(t *testing.T) (*Engine, *FakeClock) {
	t.Helper()
	clock := NewFakeClock(t0)
	e, err := New(Config{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	return e, clock
}

// direct returns a backend whose waits advance the fake clock.
func direct(e *Engine, clock *FakeClock) *DirectBackend {
	return &DirectBackend{Engine: e, CloudName: "aws", Poll: 500 * time.Millisecond,
		Options: func(string) PoolOptions { return PoolOptions{Family: "p", GPUsPerNode: 8} },
		Sleep: func(ctx context.Context, d time.Duration) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			clock.Advance(d)
			return nil
		}}
}

func poolSpec(name, zone string, nodes int) cloud.NodePoolSpec {
	return cloud.NodePoolSpec{Cluster: "c1", Region: "eu-central-1", Name: name, InstanceType: "p5.48xlarge", Zone: zone,
		CapacityType: "on_demand", Nodes: nodes, Labels: map[string]string{"a": "b"},
		Taints: []cloud.Taint{{Key: "gpufleet.dev/unvalidated", Value: "true", Effect: "NoSchedule"}}}
}

var clusterSpec = cloud.ClusterSpec{Name: "c1", Region: "eu-central-1", KubernetesVersion: "1.31"}

func TestClusterLifecycle(t *testing.T) {
	e, clock := newEngine(t)
	c, err := e.CreateCluster("aws", clusterSpec)
	if err != nil || e.ClusterStatus(c) != cloud.StatusCreating {
		t.Fatalf("%v %v", c, err)
	}
	clock.Advance(DefaultDurations.ClusterCreate)
	c, _ = e.GetCluster("aws", "eu-central-1", "c1")
	if e.ClusterStatus(c) != cloud.StatusActive || !strings.HasSuffix(c.Endpoint, ".cloudsim.invalid") {
		t.Fatalf("cluster %+v", c)
	}
	again, err := e.CreateCluster("aws", clusterSpec)
	if err != nil || again.ID != c.ID {
		t.Fatalf("retried create: %v %v", again, err)
	}
	other := clusterSpec
	other.KubernetesVersion = "1.30"
	if _, err := e.CreateCluster("aws", other); !cloud.IsConflict(err) {
		t.Fatalf("conflicting create: %v", err)
	}
	if _, err := e.CreateNodePool("aws", poolSpec("p1", "euc1-az1", 1), PoolOptions{Family: "p", GPUsPerNode: 8}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.DeleteCluster("aws", "eu-central-1", "c1"); !cloud.IsConflict(err) || !strings.Contains(err.Error(), "delete the node pools first") {
		t.Fatalf("delete with a pool: %v", err)
	}
	if _, err := e.DeleteNodePool("aws", "eu-central-1", "c1", "p1"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(DefaultDurations.PoolDelete)
	if _, err := e.DeleteCluster("aws", "eu-central-1", "c1"); err != nil {
		t.Fatal(err)
	}
	c, _ = e.GetCluster("aws", "eu-central-1", "c1")
	if e.ClusterStatus(c) != cloud.StatusDeleting {
		t.Fatal("not deleting")
	}
	clock.Advance(DefaultDurations.ClusterDelete)
	if _, err := e.GetCluster("aws", "eu-central-1", "c1"); !cloud.IsNotFound(err) {
		t.Fatalf("deleted cluster: %v", err)
	}
	if !e.Inventory().Empty() {
		t.Fatalf("inventory %+v", e.Inventory())
	}
}

func TestCapacityAndQuota(t *testing.T) {
	e, clock := newEngine(t)
	b := direct(e, clock)
	ctx := context.Background()
	if _, err := b.CreateCluster(ctx, clusterSpec); err != nil {
		t.Fatal(err)
	}
	if err := e.SetCapacity("aws", "euc1-az1", "p5.48xlarge", "on_demand", 2); err != nil {
		t.Fatal(err)
	}
	if err := e.SetQuota("aws", "eu-central-1", "p", 32); err != nil {
		t.Fatal(err)
	}

	// Three nodes where two exist: the pool is accepted, then fails.
	p, err := b.CreateNodePool(ctx, poolSpec("big", "euc1-az1", 3))
	if !cloud.IsCapacity(err) || p.Status != cloud.StatusCreateFailed || p.Issues[0].Code != "InsufficientCapacity" {
		t.Fatalf("pool %+v err %v", p, err)
	}
	var ce *cloud.Error
	if !asError(err, &ce) || ce.Zone != "euc1-az1" || ce.InstanceType != "p5.48xlarge" || ce.CapacityType != "on_demand" {
		t.Fatalf("capacity error names %+v", ce)
	}
	if err := b.DeleteNodePool(ctx, "eu-central-1", "c1", "big"); err != nil {
		t.Fatal(err)
	}
	// Two nodes fit, and use the zone up.
	p, err = b.CreateNodePool(ctx, poolSpec("ok", "euc1-az1", 2))
	if err != nil || p.Status != cloud.StatusActive || p.ReadyNodes != 2 {
		t.Fatalf("pool %+v err %v", p, err)
	}
	if _, err := b.CreateNodePool(ctx, poolSpec("more", "euc1-az1", 1)); !cloud.IsCapacity(err) {
		t.Fatalf("exhausted zone: %v", err)
	}
	// Another zone has capacity, but the region's quota (32 GPUs) allows
	// only two more 8-GPU nodes.
	if _, err := b.CreateNodePool(ctx, poolSpec("az2", "euc1-az2", 3)); !cloud.IsQuota(err) || !strings.Contains(err.Error(), "16 in use, 24 more requested") {
		t.Fatalf("quota: %v", err)
	}
	// Scaling down releases capacity; scaling beyond it degrades the pool.
	one := 1
	if p, err = b.UpdateNodePool(ctx, "eu-central-1", "c1", "ok", cloud.NodePoolUpdate{Nodes: &one}); err != nil || p.ReadyNodes != 1 {
		t.Fatalf("scale down %+v %v", p, err)
	}
	three := 3
	p, err = b.UpdateNodePool(ctx, "eu-central-1", "c1", "ok", cloud.NodePoolUpdate{Nodes: &three})
	if !cloud.IsCapacity(err) || p.Status != cloud.StatusDegraded || p.ReadyNodes != 1 {
		t.Fatalf("scale up beyond capacity %+v %v", p, err)
	}
	for _, name := range []string{"ok", "more", "az2"} {
		if err := b.DeleteNodePool(ctx, "eu-central-1", "c1", name); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.DeleteCluster(ctx, "eu-central-1", "c1"); err != nil {
		t.Fatal(err)
	}
	if inv := e.Inventory(); !inv.Empty() {
		t.Fatalf("leaked %+v", inv)
	}
	if e.st.Capacity[capacityKey("aws", "euc1-az1", "p5.48xlarge", "on_demand")] != 2 {
		t.Fatalf("capacity not released: %v", e.st.Capacity)
	}
}

func asError(err error, target **cloud.Error) bool {
	e, ok := err.(*cloud.Error)
	*target = e
	return ok
}

func TestIdempotencyToken(t *testing.T) {
	e, _ := newEngine(t)
	if _, err := e.CreateCluster("aws", clusterSpec); err != nil {
		t.Fatal(err)
	}
	spec := poolSpec("p", "euc1-az1", 1)
	spec.IdempotencyToken = "tok-1"
	a, err := e.CreateNodePool("aws", spec, PoolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.CreateNodePool("aws", spec, PoolOptions{})
	if err != nil || a.ID != b.ID || len(e.Inventory().Pools) != 1 {
		t.Fatalf("retry made %v (%v)", b.ID, err)
	}
	spec.Nodes = 2
	if _, err := e.CreateNodePool("aws", spec, PoolOptions{}); !cloud.IsConflict(err) {
		t.Fatalf("same name, other spec: %v", err)
	}
}

func TestFaults(t *testing.T) {
	e, clock := newEngine(t)
	b := direct(e, clock)
	ctx := context.Background()
	if err := e.Inject(Fault{Cloud: "aws", Op: "CreateCluster", Times: 2,
		Err: &cloud.Error{Kind: cloud.KindTransient, Cloud: "aws", Op: "CreateCluster", Code: "ServiceUnavailable", Message: "try again"}}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := b.CreateCluster(ctx, clusterSpec); !cloud.IsTransient(err) {
			t.Fatalf("fault not applied: %v", err)
		}
	}
	if _, err := b.CreateCluster(ctx, clusterSpec); err != nil {
		t.Fatalf("fault applied three times: %v", err)
	}
	// A failure midway, only in one zone.
	if err := e.Inject(Fault{Cloud: "aws", Op: "CreateNodePool", Target: Target{Zone: "euc1-az1"},
		Midway: &PendingIssue{Kind: cloud.KindFatal, Issue: cloud.Issue{Code: "AsgInstanceLaunchFailures", Message: "launch template invalid"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateNodePool(ctx, poolSpec("az2", "euc1-az2", 1)); err != nil {
		t.Fatalf("fault leaked to another zone: %v", err)
	}
	p, err := b.CreateNodePool(ctx, poolSpec("az1", "euc1-az1", 1))
	if err == nil || cloud.KindOf(err) != cloud.KindFatal || p.Status != cloud.StatusCreateFailed || p.Issues[0].Code != "AsgInstanceLaunchFailures" {
		t.Fatalf("midway fault: %+v %v", p, err)
	}
}

// TestPoolStatusOfACopyBeforeItsFailureIsRecorded: a pool read just before
// its failing create ends is still creating when its status is asked
// after the end (not Active); the next read has the failure.
func TestPoolStatusOfACopyBeforeItsFailureIsRecorded(t *testing.T) {
	e, clock := newEngine(t)
	if _, err := e.CreateCluster("aws", clusterSpec); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	if err := e.Inject(Fault{Cloud: "aws", Op: "CreateNodePool",
		Midway: &PendingIssue{Kind: cloud.KindFatal, Issue: cloud.Issue{Code: "VMExtensionProvisioningError", Message: "the GPU driver extension failed"}}}); err != nil {
		t.Fatal(err)
	}
	spec := poolSpec("p", "euc1-az1", 1)
	if _, err := e.CreateNodePool("aws", spec, PoolOptions{}); err != nil {
		t.Fatal(err)
	}
	read, err := e.GetNodePool("aws", spec.Region, spec.Cluster, spec.Name)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour) // past ReadyAt, nothing read since
	if st, _ := e.PoolStatus(read); st != cloud.StatusCreating {
		t.Fatalf("status of the earlier read %s, want %s", st, cloud.StatusCreating)
	}
	again, err := e.GetNodePool("aws", spec.Region, spec.Cluster, spec.Name)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := e.PoolStatus(again); st != cloud.StatusCreateFailed || again.Issues[0].Code != "VMExtensionProvisioningError" {
		t.Fatalf("after the end: %s %+v", st, again.Issues)
	}
}

func TestThrottling(t *testing.T) {
	e, clock := newEngine(t)
	if err := e.SetRateLimit("aws", "GetCluster", 1, 2); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		_, err := e.GetCluster("aws", "eu-central-1", "c1")
		if i < 2 && !cloud.IsNotFound(err) {
			t.Fatalf("call %d: %v", i, err)
		}
		if i == 2 && !cloud.IsThrottled(err) {
			t.Fatalf("third call not throttled: %v", err)
		}
	}
	clock.Advance(time.Second)
	if _, err := e.GetCluster("aws", "eu-central-1", "c1"); cloud.IsThrottled(err) {
		t.Fatal("still throttled after a second")
	}
}

// TestSharedRateLimit: operations under one shared limit ("Get*") draw
// on one bucket together, on top of an operation's own limit; other
// operations are not limited; refusals are counted.
func TestSharedRateLimit(t *testing.T) {
	e, clock := newEngine(t)
	if err := e.SetSharedRateLimit("aws", "reads", []string{"Get*"}, 1, 2); err != nil {
		t.Fatal(err)
	}
	if err := e.SetRateLimit("aws", "GetNodePool", 1, 1); err != nil {
		t.Fatal(err)
	}
	calls := []struct {
		name      string
		call      func() error
		throttled bool
	}{
		{"a cluster read takes a shared token", func() error { _, err := e.GetCluster("aws", "eu-central-1", "c1"); return err }, false},
		{"a pool read takes the other", func() error { _, err := e.GetNodePool("aws", "eu-central-1", "c1", "p"); return err }, false},
		{"the shared bucket is empty", func() error { _, err := e.GetCluster("aws", "eu-central-1", "c1"); return err }, true},
		{"another cloud is not limited", func() error { _, err := e.GetCluster("gcp", "europe-west4", "c1"); return err }, false},
		{"a delete is no read", func() error { _, err := e.DeleteCluster("aws", "eu-central-1", "c1"); return err }, false},
	}
	for _, c := range calls {
		if err := c.call(); cloud.IsThrottled(err) != c.throttled {
			t.Fatalf("%s: %v", c.name, err)
		}
	}
	clock.Advance(time.Second)
	// A shared token is back, the pool's own bucket too: one pool read, not
	// a second, and not a cluster read after it.
	if _, err := e.GetNodePool("aws", "eu-central-1", "c1", "p"); cloud.IsThrottled(err) {
		t.Fatalf("pool read after a second: %v", err)
	}
	if _, err := e.GetCluster("aws", "eu-central-1", "c1"); !cloud.IsThrottled(err) {
		t.Fatalf("cluster read with the shared bucket empty: %v", err)
	}
	if got := e.ThrottledCalls(); got["aws/shared:reads"] != 2 || got["aws/GetNodePool"] != 0 {
		t.Fatalf("throttled calls %v", got)
	}
}

func TestPersistence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "sim", "state.json")
	clock := NewFakeClock(t0)
	a, err := New(Config{Clock: clock, StateFile: file})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.CreateCluster("gcp", cloud.ClusterSpec{Name: "g1", Region: "europe-west4", KubernetesVersion: "1.31"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.PutObject("aws", "LaunchTemplate", "lt-1", map[string]string{"user_data": "x"}); err != nil {
		t.Fatal(err)
	}
	b, err := New(Config{Clock: clock, StateFile: file})
	if err != nil {
		t.Fatal(err)
	}
	inv := b.Inventory()
	if len(inv.Clusters) != 1 || inv.Clusters[0].Name != "g1" || len(inv.Objects) != 1 {
		t.Fatalf("second engine sees %+v", inv)
	}
	// Identifiers continue from the persisted counter.
	c, _ := b.CreateCluster("azure", cloud.ClusterSpec{Name: "z1", Region: "westeurope"})
	if c.ID != "azure-cluster-000003" {
		t.Fatalf("id %s", c.ID)
	}
	os.WriteFile(file, []byte("{not json"), 0o644)
	if _, err := New(Config{StateFile: file}); err == nil || !strings.Contains(err.Error(), "simulator state unreadable: "+file) {
		t.Fatalf("corrupt state: %v", err)
	}
}

func TestObjects(t *testing.T) {
	e, _ := newEngine(t)
	o, err := e.PutObject("aws", "Role", "node-role", map[string]string{"policy": "a"})
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := e.PutObject("aws", "Role", "node-role", map[string]string{"policy": "a"}); again.ID != o.ID {
		t.Fatal("not idempotent")
	}
	if _, err := e.PutObject("aws", "Role", "node-role", map[string]string{"policy": "b"}); !cloud.IsConflict(err) {
		t.Fatalf("conflict: %v", err)
	}
	if err := e.DeleteObject("aws", "Role", "node-role"); err != nil {
		t.Fatal(err)
	}
	if err := e.DeleteObject("aws", "Role", "node-role"); !cloud.IsNotFound(err) {
		t.Fatalf("second delete: %v", err)
	}
}

// TestLookupObject: a front end's own checks read objects without rate
// limits or faults, and get a copy.
func TestLookupObject(t *testing.T) {
	e, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.PutObject("aws", "Vpc", "eu-central-1/vpc-1", map[string]string{"cidr": "10.64.0.0/16"}); err != nil {
		t.Fatal(err)
	}
	if err := e.Inject(Fault{Cloud: "aws", Op: "GetVpc", Times: 1, Err: &cloud.Error{Kind: cloud.KindTransient, Cloud: "aws", Code: "InternalError"}}); err != nil {
		t.Fatal(err)
	}
	o, ok := e.LookupObject("aws", "Vpc", "eu-central-1/vpc-1")
	if !ok || o.Attrs["cidr"] != "10.64.0.0/16" {
		t.Fatalf("lookup: %v %+v", ok, o)
	}
	o.Attrs["cidr"] = "changed"
	if again, _ := e.LookupObject("aws", "Vpc", "eu-central-1/vpc-1"); again.Attrs["cidr"] != "10.64.0.0/16" {
		t.Fatal("the lookup returned the engine's own attributes")
	}
	if _, ok := e.LookupObject("aws", "Vpc", "eu-central-1/vpc-2"); ok {
		t.Fatal("found a missing object")
	}
	if _, err := e.GetObject("aws", "Vpc", "eu-central-1/vpc-1"); err == nil {
		t.Fatal("the injected fault was spent by the lookup")
	}
}

// TestFakeClockTick: a ticking clock moves only forward, by whole steps,
// while it ticks; after stop it stands still.
func TestFakeClockTick(t *testing.T) {
	start := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	clock := NewFakeClock(start)
	stop := clock.Tick(time.Millisecond, time.Second)
	for clock.Now().Sub(start) < 5*time.Second {
		time.Sleep(time.Millisecond)
	}
	stop()
	stop() // twice is fine
	at := clock.Now()
	if d := at.Sub(start); d%time.Second != 0 {
		t.Errorf("moved %v: not whole steps", d)
	}
	time.Sleep(5 * time.Millisecond)
	if !clock.Now().Equal(at) {
		t.Errorf("moved after stop: %v -> %v", at, clock.Now())
	}
}
