package gkefront

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

func TestClusterLifecycle(t *testing.T) {
	ev := newEnv(t, "", nil)
	op := must[*containerpb.Operation](t)(ev.c.CreateCluster(tctx(t), &containerpb.CreateClusterRequest{
		Parent: parent, Cluster: &containerpb.Cluster{Name: "c1", InitialClusterVersion: "1.32", ResourceLabels: map[string]string{"owner": "gpufleet"}}}))
	if op.GetStatus() != containerpb.Operation_RUNNING || op.GetOperationType() != containerpb.Operation_CREATE_CLUSTER ||
		!strings.HasPrefix(op.GetName(), "operation-") || !strings.HasSuffix(op.GetTargetLink(), parent+"/clusters/c1") ||
		!strings.HasSuffix(op.GetSelfLink(), opName(op)) {
		t.Fatalf("create op %v", op)
	}
	if got := ev.op(t, op); got.GetStatus() != containerpb.Operation_RUNNING {
		t.Fatalf("op %v, want RUNNING", got)
	}
	c := must[*containerpb.Cluster](t)(ev.c.GetCluster(tctx(t), &containerpb.GetClusterRequest{Name: parent + "/clusters/c1"}))
	if c.GetStatus() != containerpb.Cluster_PROVISIONING || c.GetEndpoint() != "" {
		t.Fatalf("cluster %v, want PROVISIONING without endpoint", c)
	}
	_, err := ev.c.CreateCluster(tctx(t), &containerpb.CreateClusterRequest{Parent: parent, Cluster: &containerpb.Cluster{Name: "c1"}})
	if st := wantCode(t, err, codes.AlreadyExists); st.Message() != "Already exists: "+parent+"/clusters/c1." {
		t.Fatalf("message %q", st.Message())
	}

	ev.clock.Advance(testDurations.ClusterCreate)
	if got := ev.op(t, op); got.GetStatus() != containerpb.Operation_DONE || got.GetError() != nil || got.GetEndTime() == "" {
		t.Fatalf("op %v, want DONE", got)
	}
	c = must[*containerpb.Cluster](t)(ev.c.GetCluster(tctx(t), &containerpb.GetClusterRequest{Name: parent + "/clusters/c1"}))
	switch {
	case c.GetStatus() != containerpb.Cluster_RUNNING:
		t.Fatalf("status %s", c.GetStatus())
	case c.GetEndpoint() != "c1.europe-west4.gcp.cloudsim.invalid" || c.GetMasterAuth().GetClusterCaCertificate() == "":
		t.Fatalf("endpoint/CA %q %v", c.GetEndpoint(), c.GetMasterAuth())
	case c.GetCurrentMasterVersion() != "1.32" || c.GetServicesIpv4Cidr() != "10.100.0.0/16" || c.GetLocation() != region:
		t.Fatalf("version/cidr/location %v", c)
	case c.GetSelfLink() != apiBase+parent+"/clusters/c1" || c.GetResourceLabels()["owner"] != "gpufleet":
		t.Fatalf("selfLink/labels %v", c)
	}
	// The zone form of the location finds the regional cluster too.
	must[*containerpb.Cluster](t)(ev.c.GetCluster(tctx(t), &containerpb.GetClusterRequest{Name: "projects/" + project + "/locations/" + zone + "/clusters/c1"}))
	if l := must[*containerpb.ListClustersResponse](t)(ev.c.ListClusters(tctx(t), &containerpb.ListClustersRequest{Parent: parent})); len(l.GetClusters()) != 1 {
		t.Fatalf("list %v", l)
	}

	del := must[*containerpb.Operation](t)(ev.c.DeleteCluster(tctx(t), &containerpb.DeleteClusterRequest{Name: parent + "/clusters/c1"}))
	if del.GetOperationType() != containerpb.Operation_DELETE_CLUSTER || ev.op(t, del).GetStatus() != containerpb.Operation_RUNNING {
		t.Fatalf("delete op %v", del)
	}
	c = must[*containerpb.Cluster](t)(ev.c.GetCluster(tctx(t), &containerpb.GetClusterRequest{Name: parent + "/clusters/c1"}))
	if c.GetStatus() != containerpb.Cluster_STOPPING {
		t.Fatalf("status %s, want STOPPING", c.GetStatus())
	}
	ev.clock.Advance(testDurations.ClusterDelete)
	if got := ev.op(t, del); got.GetStatus() != containerpb.Operation_DONE || got.GetError() != nil {
		t.Fatalf("delete op %v, want DONE", got)
	}
	_, err = ev.c.GetCluster(tctx(t), &containerpb.GetClusterRequest{Name: parent + "/clusters/c1"})
	wantCode(t, err, codes.NotFound)
	// A finished operation stays readable; nothing is left in the engine.
	if got := ev.op(t, del); got.GetStatus() != containerpb.Operation_DONE {
		t.Fatalf("delete op after sweep %v", got)
	}
	if inv := ev.e.Inventory(); !inv.Empty() {
		t.Fatalf("inventory %+v", inv)
	}
}

func TestNodePoolLifecycle(t *testing.T) {
	ev := newEnv(t, "", nil)
	ev.activeCluster(t, "c1")
	clusterName := parent + "/clusters/c1"
	poolName := clusterName + "/nodePools/gpu"
	op := must[*containerpb.Operation](t)(ev.c.CreateNodePool(tctx(t), poolRequest("c1", "gpu", "europe-west4-b", 2)))
	if op.GetOperationType() != containerpb.Operation_CREATE_NODE_POOL || op.GetStatus() != containerpb.Operation_RUNNING ||
		!strings.HasSuffix(op.GetTargetLink(), poolName) {
		t.Fatalf("op %v", op)
	}
	np := must[*containerpb.NodePool](t)(ev.c.GetNodePool(tctx(t), &containerpb.GetNodePoolRequest{Name: poolName}))
	if np.GetStatus() != containerpb.NodePool_PROVISIONING {
		t.Fatalf("status %s", np.GetStatus())
	}
	_, err := ev.c.CreateNodePool(tctx(t), poolRequest("c1", "gpu", "europe-west4-b", 2))
	if st := wantCode(t, err, codes.AlreadyExists); !strings.Contains(st.Message(), poolName) {
		t.Fatalf("message %q", st.Message())
	}
	ev.clock.Advance(testDurations.PoolCreate)
	if got := ev.op(t, op); got.GetStatus() != containerpb.Operation_DONE || got.GetError() != nil {
		t.Fatalf("op %v", got)
	}
	np = must[*containerpb.NodePool](t)(ev.c.GetNodePool(tctx(t), &containerpb.GetNodePoolRequest{Name: poolName}))
	cfg := np.GetConfig()
	switch {
	case np.GetStatus() != containerpb.NodePool_RUNNING || np.GetInitialNodeCount() != 2:
		t.Fatalf("status/count %v", np)
	case len(np.GetLocations()) != 1 || np.GetLocations()[0] != "europe-west4-b":
		t.Fatalf("locations %v", np.GetLocations())
	case cfg.GetMachineType() != h100Type || cfg.GetSpot() || cfg.GetLabels()["gpufleet.io/pool"] != "gpu":
		t.Fatalf("config %v", cfg)
	case len(cfg.GetTaints()) != 1 || cfg.GetTaints()[0].GetEffect() != containerpb.NodeTaint_NO_SCHEDULE:
		t.Fatalf("taints %v", cfg.GetTaints())
	case len(cfg.GetAccelerators()) != 1 || cfg.GetAccelerators()[0].GetAcceleratorCount() != 8 ||
		cfg.GetAccelerators()[0].GetGpuDriverInstallationConfig().GetGpuDriverVersion() != containerpb.GPUDriverInstallationConfig_LATEST:
		t.Fatalf("accelerators %v", cfg.GetAccelerators())
	case np.GetVersion() != "1.32" || np.GetSelfLink() != apiBase+poolName:
		t.Fatalf("version/selfLink %v", np)
	}
	p := must[cloudsim.Pool](t)(ev.e.GetNodePool("gcp", region, "c1", "gpu"))
	if p.Spec.Zone != "europe-west4-b" || p.Spec.CapacityType != "on_demand" || p.Family != "a3" || p.GPUsPerNode != 8 || p.Spec.Taints[0].Effect != "NoSchedule" {
		t.Fatalf("engine pool %+v", p)
	}
	if l := must[*containerpb.ListNodePoolsResponse](t)(ev.c.ListNodePools(tctx(t), &containerpb.ListNodePoolsRequest{Parent: clusterName})); len(l.GetNodePools()) != 1 {
		t.Fatalf("list %v", l)
	}

	// Resize.
	size := must[*containerpb.Operation](t)(ev.c.SetNodePoolSize(tctx(t), &containerpb.SetNodePoolSizeRequest{Name: poolName, NodeCount: 3}))
	if size.GetOperationType() != containerpb.Operation_SET_NODE_POOL_SIZE || ev.op(t, size).GetStatus() != containerpb.Operation_RUNNING {
		t.Fatalf("size op %v", size)
	}
	if np := must[*containerpb.NodePool](t)(ev.c.GetNodePool(tctx(t), &containerpb.GetNodePoolRequest{Name: poolName})); np.GetStatus() != containerpb.NodePool_RECONCILING {
		t.Fatalf("status %s, want RECONCILING", np.GetStatus())
	}
	_, err = ev.c.SetNodePoolSize(tctx(t), &containerpb.SetNodePoolSizeRequest{Name: poolName, NodeCount: 4})
	if st := wantCode(t, err, codes.FailedPrecondition); !strings.Contains(st.Message(), "incompatible operation") {
		t.Fatalf("message %q", st.Message())
	}
	ev.clock.Advance(testDurations.PoolUpdate)
	if got := ev.op(t, size); got.GetStatus() != containerpb.Operation_DONE || got.GetError() != nil {
		t.Fatalf("size op %v", got)
	}

	// Labels and taints are replaced. nodeVersion and imageType are
	// required (container v1 UpdateNodePoolRequest); "-" keeps the
	// control plane's version.
	upd := must[*containerpb.Operation](t)(ev.c.UpdateNodePool(tctx(t), &containerpb.UpdateNodePoolRequest{
		Name: poolName, NodeVersion: "-", ImageType: "COS_CONTAINERD",
		Labels: &containerpb.NodeLabels{Labels: map[string]string{"team": "research"}},
		Taints: &containerpb.NodeTaints{Taints: []*containerpb.NodeTaint{{Key: "dedicated", Value: "ml", Effect: containerpb.NodeTaint_NO_EXECUTE}}},
	}))
	ev.clock.Advance(testDurations.PoolUpdate)
	if got := ev.op(t, upd); got.GetStatus() != containerpb.Operation_DONE || got.GetError() != nil {
		t.Fatalf("update op %v", got)
	}
	np = must[*containerpb.NodePool](t)(ev.c.GetNodePool(tctx(t), &containerpb.GetNodePoolRequest{Name: poolName}))
	if np.GetInitialNodeCount() != 3 || len(np.GetConfig().GetLabels()) != 1 || np.GetConfig().GetLabels()["team"] != "research" ||
		len(np.GetConfig().GetTaints()) != 1 || np.GetConfig().GetTaints()[0].GetEffect() != containerpb.NodeTaint_NO_EXECUTE {
		t.Fatalf("after update %v", np)
	}

	// Delete.
	_, err = ev.c.DeleteCluster(tctx(t), &containerpb.DeleteClusterRequest{Name: clusterName})
	wantCode(t, err, codes.FailedPrecondition)
	del := must[*containerpb.Operation](t)(ev.c.DeleteNodePool(tctx(t), &containerpb.DeleteNodePoolRequest{Name: poolName}))
	if np := must[*containerpb.NodePool](t)(ev.c.GetNodePool(tctx(t), &containerpb.GetNodePoolRequest{Name: poolName})); np.GetStatus() != containerpb.NodePool_STOPPING {
		t.Fatalf("status %s, want STOPPING", np.GetStatus())
	}
	ev.clock.Advance(testDurations.PoolDelete)
	if got := ev.op(t, del); got.GetStatus() != containerpb.Operation_DONE || got.GetError() != nil {
		t.Fatalf("delete op %v", got)
	}
	_, err = ev.c.GetNodePool(tctx(t), &containerpb.GetNodePoolRequest{Name: poolName})
	wantCode(t, err, codes.NotFound)
	delC := must[*containerpb.Operation](t)(ev.c.DeleteCluster(tctx(t), &containerpb.DeleteClusterRequest{Name: clusterName}))
	ev.clock.Advance(testDurations.ClusterDelete)
	if got := ev.op(t, delC); got.GetStatus() != containerpb.Operation_DONE {
		t.Fatalf("delete cluster op %v", got)
	}
	if inv := ev.e.Inventory(); !inv.Empty() {
		t.Fatalf("inventory %+v", inv)
	}
}

func TestCapacityExhausted(t *testing.T) {
	for _, spot := range []bool{false, true} {
		ev := newEnv(t, "", nil)
		ev.activeCluster(t, "c1")
		ct := "on_demand"
		if spot {
			ct = "spot"
		}
		if err := ev.e.SetCapacity("gcp", zone, h100Type, ct, 0); err != nil {
			t.Fatal(err)
		}
		req := poolRequest("c1", "gpu", zone, 2)
		req.NodePool.Config.Spot = spot
		op := must[*containerpb.Operation](t)(ev.c.CreateNodePool(tctx(t), req))
		ev.clock.Advance(testDurations.PoolCreate)
		got := ev.op(t, op)
		want := "[ZONE_RESOURCE_POOL_EXHAUSTED]"
		if spot {
			want = "[GCE_STOCKOUT]"
		}
		if got.GetStatus() != containerpb.Operation_DONE || got.GetError().GetCode() != int32(codes.ResourceExhausted) ||
			!strings.Contains(got.GetError().GetMessage(), want) ||
			!strings.Contains(got.GetError().GetMessage(), "The zone 'projects/"+project+"/zones/"+zone+"' does not have enough resources available to fulfill the request.") {
			t.Fatalf("spot=%v op %v", spot, got)
		}
		np := must[*containerpb.NodePool](t)(ev.c.GetNodePool(tctx(t), &containerpb.GetNodePoolRequest{Name: parent + "/clusters/c1/nodePools/gpu"}))
		if np.GetStatus() != containerpb.NodePool_ERROR || !strings.Contains(np.GetStatusMessage(), want) ||
			len(np.GetConditions()) != 1 || np.GetConditions()[0].GetCode() != containerpb.StatusCondition_GCE_STOCKOUT {
			t.Fatalf("spot=%v pool %v", spot, np)
		}
		// The frozen result does not change.
		ev.clock.Advance(testDurations.PoolCreate)
		if again := ev.op(t, op); again.GetError().GetMessage() != got.GetError().GetMessage() {
			t.Fatalf("op changed: %v", again)
		}
	}
}

func TestQuotaExceeded(t *testing.T) {
	ev := newEnv(t, "", nil)
	ev.activeCluster(t, "c1")
	if err := ev.e.SetQuota("gcp", region, "a3", 8); err != nil {
		t.Fatal(err)
	}
	op := must[*containerpb.Operation](t)(ev.c.CreateNodePool(tctx(t), poolRequest("c1", "gpu", zone, 2)))
	ev.clock.Advance(testDurations.PoolCreate)
	got := ev.op(t, op)
	msg := got.GetError().GetMessage()
	if got.GetStatus() != containerpb.Operation_DONE || got.GetError().GetCode() != int32(codes.ResourceExhausted) ||
		!strings.Contains(msg, "[QUOTA_EXCEEDED]") || !strings.Contains(msg, "Quota 'NVIDIA_H100_GPUS' exceeded. Limit: 8.0 in region europe-west4.") {
		t.Fatalf("op %v", got)
	}
	np := must[*containerpb.NodePool](t)(ev.c.GetNodePool(tctx(t), &containerpb.GetNodePoolRequest{Name: parent + "/clusters/c1/nodePools/gpu"}))
	if np.GetStatus() != containerpb.NodePool_ERROR || np.GetConditions()[0].GetCode() != containerpb.StatusCondition_GCE_QUOTA_EXCEEDED {
		t.Fatalf("pool %v", np)
	}
	// One node fits.
	must[*containerpb.Operation](t)(ev.c.CreateNodePool(tctx(t), poolRequest("c1", "one", zone, 1)))
	ev.clock.Advance(testDurations.PoolCreate)
	if np := must[*containerpb.NodePool](t)(ev.c.GetNodePool(tctx(t), &containerpb.GetNodePoolRequest{Name: parent + "/clusters/c1/nodePools/one"})); np.GetStatus() != containerpb.NodePool_RUNNING {
		t.Fatalf("pool one %v", np)
	}
}

func TestNotFoundAndInvalid(t *testing.T) {
	ev := newEnv(t, "", nil)
	_, err := ev.c.GetCluster(tctx(t), &containerpb.GetClusterRequest{Name: parent + "/clusters/nope"})
	if st := wantCode(t, err, codes.NotFound); st.Message() != "Not found: "+parent+"/clusters/nope." {
		t.Fatalf("message %q", st.Message())
	}
	_, err = ev.c.GetNodePool(tctx(t), &containerpb.GetNodePoolRequest{Name: parent + "/clusters/nope/nodePools/x"})
	wantCode(t, err, codes.NotFound)
	_, err = ev.c.DeleteCluster(tctx(t), &containerpb.DeleteClusterRequest{Name: parent + "/clusters/nope"})
	wantCode(t, err, codes.NotFound)
	_, err = ev.c.GetOperation(tctx(t), &containerpb.GetOperationRequest{Name: parent + "/operations/operation-1-2"})
	wantCode(t, err, codes.NotFound)
	ev.activeCluster(t, "c1")
	_, err = ev.c.GetNodePool(tctx(t), &containerpb.GetNodePoolRequest{Name: parent + "/clusters/c1/nodePools/x"})
	if st := wantCode(t, err, codes.NotFound); !strings.Contains(st.Message(), "nodePools/x") {
		t.Fatalf("message %q", st.Message())
	}
	_, err = ev.c.DeleteNodePool(tctx(t), &containerpb.DeleteNodePoolRequest{Name: parent + "/clusters/c1/nodePools/x"})
	wantCode(t, err, codes.NotFound)
	_, err = ev.c.GetCluster(tctx(t), &containerpb.GetClusterRequest{Name: "clusters/c1"})
	wantCode(t, err, codes.InvalidArgument)
	req := poolRequest("c1", "bad", zone, 1)
	req.NodePool.Config.Taints[0].Effect = containerpb.NodeTaint_EFFECT_UNSPECIFIED
	_, err = ev.c.CreateNodePool(tctx(t), req)
	wantCode(t, err, codes.InvalidArgument)
	_, err = ev.c.CreateNodePool(tctx(t), poolRequest("c1", "far", "us-central1-a", 1))
	wantCode(t, err, codes.InvalidArgument)
	// A node pool on a cluster still provisioning is refused.
	must[*containerpb.Operation](t)(ev.c.CreateCluster(tctx(t), &containerpb.CreateClusterRequest{Parent: parent, Cluster: &containerpb.Cluster{Name: "c2"}}))
	_, err = ev.c.CreateNodePool(tctx(t), poolRequest("c2", "gpu", zone, 1))
	wantCode(t, err, codes.FailedPrecondition)
}

func TestThrottlingAndFaults(t *testing.T) {
	ev := newEnv(t, "", nil)
	ev.activeCluster(t, "c1")
	if err := ev.e.SetRateLimit("gcp", "GetCluster", 0.001, 1); err != nil {
		t.Fatal(err)
	}
	must[*containerpb.Cluster](t)(ev.c.GetCluster(tctx(t), &containerpb.GetClusterRequest{Name: parent + "/clusters/c1"}))
	_, err := ev.c.GetCluster(tctx(t), &containerpb.GetClusterRequest{Name: parent + "/clusters/c1"})
	if st := wantCode(t, err, codes.ResourceExhausted); !strings.Contains(st.Message(), "RATE_LIMIT_EXCEEDED") ||
		strings.Contains(st.Message(), "ZONE_RESOURCE_POOL_EXHAUSTED") || len(st.Details()) != 1 {
		t.Fatalf("status %v", st.Proto())
	}
	if err := ev.e.SetRateLimit("gcp", "GetCluster", 0, 0); err != nil {
		t.Fatal(err)
	}

	// Unavailable: the raw stub does not retry.
	if err := ev.e.Inject(cloudsim.Fault{Cloud: "gcp", Op: "GetNodePool", Err: &cloud.Error{Kind: cloud.KindTransient, Cloud: "gcp", Op: "GetNodePool", Code: "backendError", Message: "try again"}}); err != nil {
		t.Fatal(err)
	}
	_, err = ev.raw.GetNodePool(tctx(t), &containerpb.GetNodePoolRequest{Name: parent + "/clusters/c1/nodePools/x"})
	wantCode(t, err, codes.Unavailable)
	if err := ev.e.Inject(cloudsim.Fault{Cloud: "gcp", Op: "CreateCluster", Err: &cloud.Error{Kind: cloud.KindFatal, Cloud: "gcp", Op: "CreateCluster", Code: "internal", Message: "boom"}}); err != nil {
		t.Fatal(err)
	}
	_, err = ev.c.CreateCluster(tctx(t), &containerpb.CreateClusterRequest{Parent: parent, Cluster: &containerpb.Cluster{Name: "c9"}})
	wantCode(t, err, codes.Internal)

	// A midway fault fails the operation with the injected issue.
	if err := ev.e.Inject(cloudsim.Fault{Cloud: "gcp", Op: "CreateNodePool", Midway: &cloudsim.PendingIssue{Kind: cloud.KindCapacity,
		Issue: cloud.Issue{Code: "InsufficientCapacity", Message: "injected"}}}); err != nil {
		t.Fatal(err)
	}
	op := must[*containerpb.Operation](t)(ev.c.CreateNodePool(tctx(t), poolRequest("c1", "gpu", zone, 1)))
	ev.clock.Advance(testDurations.PoolCreate)
	if got := ev.op(t, op); got.GetError().GetCode() != int32(codes.ResourceExhausted) || !strings.Contains(got.GetError().GetMessage(), "ZONE_RESOURCE_POOL_EXHAUSTED") {
		t.Fatalf("op %v", got)
	}
}

func TestOperationsPersist(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state.json")
	clock := cloudsim.NewFakeClock(epoch0)
	ev := newEnv(t, file, clock)
	op := must[*containerpb.Operation](t)(ev.c.CreateCluster(tctx(t), &containerpb.CreateClusterRequest{
		Parent: parent, Cluster: &containerpb.Cluster{Name: "c1", Locations: []string{"europe-west4-c"}}}))

	ev2 := newEnv(t, file, clock)
	if got := ev2.op(t, op); got.GetStatus() != containerpb.Operation_RUNNING || got.GetOperationType() != containerpb.Operation_CREATE_CLUSTER {
		t.Fatalf("op from second server %v", got)
	}
	clock.Advance(testDurations.ClusterCreate)
	if got := ev2.op(t, op); got.GetStatus() != containerpb.Operation_DONE {
		t.Fatalf("op %v, want DONE", got)
	}
	// The cluster's node locations place a pool that names none.
	req := poolRequest("c1", "gpu", "", 1)
	req.NodePool.Locations = nil
	pop := must[*containerpb.Operation](t)(ev2.c.CreateNodePool(tctx(t), req))

	ev3 := newEnv(t, file, clock)
	if got := ev3.op(t, pop); got.GetStatus() != containerpb.Operation_RUNNING {
		t.Fatalf("pool op %v", got)
	}
	clock.Advance(testDurations.PoolCreate)
	if got := ev3.op(t, pop); got.GetStatus() != containerpb.Operation_DONE || got.GetError() != nil {
		t.Fatalf("pool op %v", got)
	}
	np := must[*containerpb.NodePool](t)(ev3.c.GetNodePool(tctx(t), &containerpb.GetNodePoolRequest{Name: parent + "/clusters/c1/nodePools/gpu"}))
	if np.GetLocations()[0] != "europe-west4-c" || len(np.GetConfig().GetAccelerators()) != 1 {
		t.Fatalf("pool %v", np)
	}
}

func TestHelpers(t *testing.T) {
	for in, want := range map[string]string{"europe-west4-a": "europe-west4", "europe-west4": "europe-west4", "us-central1-f": "us-central1", "global": "global"} {
		if got := RegionOf(in); got != want {
			t.Errorf("RegionOf(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]cloudsim.PoolOptions{
		"a3-highgpu-8g": {Family: "a3", GPUsPerNode: 8}, "a2-ultragpu-1g": {Family: "a2", GPUsPerNode: 1},
		"g2-standard-4": {Family: "g2", GPUsPerNode: 1}, "a3-megagpu-8g": {Family: "a3", GPUsPerNode: 8},
	} {
		if got := DefaultInstanceOptions(in); got != want {
			t.Errorf("DefaultInstanceOptions(%q) = %+v, want %+v", in, got, want)
		}
	}
}

// computeObjects stores a network and its subnetworks the way
// computefront does: protojson rows of its tables, references as relative
// paths.
func (ev *env) computeObjects(t *testing.T, network string, subnets map[string][]*computepb.SubnetworkSecondaryRange) {
	t.Helper()
	put := func(kind, name string, m proto.Message) {
		data, err := protojson.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := cloudsim.NewTable[json.RawMessage](ev.e, "gcp", kind, cloudsim.TableOptions{}).Put(name, data); err != nil {
			t.Fatal(err)
		}
	}
	put("Network", project+"/"+network, &computepb.Network{Name: proto.String(network), AutoCreateSubnetworks: proto.Bool(false)})
	i := 0
	for name, ranges := range subnets {
		put("Subnetwork", project+"/"+region+"/"+name, &computepb.Subnetwork{Name: proto.String(name),
			Network:     proto.String("projects/" + project + "/global/networks/" + network),
			IpCidrRange: proto.String(fmt.Sprintf("10.%d.0.0/20", 10+i)), SecondaryIpRanges: ranges})
		i++
	}
}

// TestClusterNetwork: a cluster in a VPC network must name compute
// objects that exist, with the secondary ranges it asks for; GetCluster
// reports them and the subnetwork's service range.
func TestClusterNetwork(t *testing.T) {
	ev := newEnv(t, "", nil)
	siteRanges := []*computepb.SubnetworkSecondaryRange{
		{RangeName: proto.String("pods"), IpCidrRange: proto.String("10.10.128.0/18")},
		{RangeName: proto.String("services"), IpCidrRange: proto.String("10.10.192.0/20")},
	}
	ev.computeObjects(t, "site", map[string][]*computepb.SubnetworkSecondaryRange{"site-a": siteRanges, "site-b": nil})
	ev.computeObjects(t, "other", map[string][]*computepb.SubnetworkSecondaryRange{"other-a": nil})
	aliases := func(pods, services string) *containerpb.IPAllocationPolicy {
		return &containerpb.IPAllocationPolicy{UseIpAliases: true, ClusterSecondaryRangeName: pods, ServicesSecondaryRangeName: services}
	}
	for _, tt := range []struct {
		name                string
		network, subnetwork string
		policy              *containerpb.IPAllocationPolicy
		msg                 string // INVALID_ARGUMENT message; "" for success
	}{
		{"unknown network", "nope", "", nil, `Network "nope" not found in project "proj-1".`},
		{"unknown subnetwork", "site", "site-z", nil, `Subnetwork "site-z" not found in region "europe-west4"`},
		{"subnetwork in the default network", "", "site-a", nil, `Network "default" not found`},
		{"subnetwork of another network", "site", "other-a", nil, `Subnetwork "other-a" is in network "other", not in network "site".`},
		{"range names without aliases", "site", "site-a", &containerpb.IPAllocationPolicy{ClusterSecondaryRangeName: "pods"}, "needs ipAllocationPolicy.useIpAliases"},
		{"unknown range", "site", "site-b", aliases("pods", "services"), `Secondary range "pods" (ipAllocationPolicy.clusterSecondaryRangeName) does not exist in subnetwork "site-b".`},
		{"range names without subnetwork", "site", "", aliases("pods", ""), "need a subnetwork"},
		{"site network", "site", "site-a", aliases("pods", "services"), ""},
		{"paths for names", "projects/proj-1/global/networks/site", "https://www.googleapis.com/compute/v1/projects/proj-1/regions/europe-west4/subnetworks/site-a",
			aliases("pods", "services"), ""},
		{"network without ranges", "site", "site-b", &containerpb.IPAllocationPolicy{UseIpAliases: true}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			name := "c-" + strings.ReplaceAll(tt.name, " ", "-")
			_, err := ev.c.CreateCluster(tctx(t), &containerpb.CreateClusterRequest{Parent: parent, Cluster: &containerpb.Cluster{
				Name: name, Network: tt.network, Subnetwork: tt.subnetwork, IpAllocationPolicy: tt.policy}})
			if tt.msg != "" {
				if st := wantCode(t, err, codes.InvalidArgument); !strings.Contains(st.Message(), tt.msg) {
					t.Fatalf("message %q, want %q", st.Message(), tt.msg)
				}
				if _, ok := ev.e.LookupCluster("gcp", region, name); ok {
					t.Fatal("the refused cluster exists")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c := must[*containerpb.Cluster](t)(ev.c.GetCluster(tctx(t), &containerpb.GetClusterRequest{Name: parent + "/clusters/" + name}))
			subnet := lastSegment(tt.subnetwork)
			if c.GetNetwork() != "site" || c.GetSubnetwork() != subnet ||
				c.GetNetworkConfig().GetNetwork() != "projects/proj-1/global/networks/site" ||
				c.GetNetworkConfig().GetSubnetwork() != "projects/proj-1/regions/europe-west4/subnetworks/"+subnet {
				t.Fatalf("network %q/%q config %v", c.GetNetwork(), c.GetSubnetwork(), c.GetNetworkConfig())
			}
			wantPods, wantServices := "10.10.128.0/18", "10.10.192.0/20"
			if subnet == "site-b" {
				wantPods, wantServices = "", "10.100.0.0/16" // the engine's
			}
			if c.GetServicesIpv4Cidr() != wantServices || c.GetClusterIpv4Cidr() != wantPods ||
				(wantPods != "" && (c.GetIpAllocationPolicy().GetServicesIpv4CidrBlock() != wantServices || c.GetIpAllocationPolicy().GetClusterIpv4CidrBlock() != wantPods)) {
				t.Fatalf("ranges: services %s pods %s policy %v", c.GetServicesIpv4Cidr(), c.GetClusterIpv4Cidr(), c.GetIpAllocationPolicy())
			}
		})
	}
	// A cluster without a network reports none, and the engine's range.
	ev.activeCluster(t, "plain")
	c := must[*containerpb.Cluster](t)(ev.c.GetCluster(tctx(t), &containerpb.GetClusterRequest{Name: parent + "/clusters/plain"}))
	if c.GetNetwork() != "" || c.GetNetworkConfig() != nil || c.GetServicesIpv4Cidr() != "10.100.0.0/16" {
		t.Fatalf("plain cluster: %q %v %s", c.GetNetwork(), c.GetNetworkConfig(), c.GetServicesIpv4Cidr())
	}
}

// TestNodeConfigRules: GKE refuses a machine type that is no Compute
// Engine machine type name (the catalog's "n1-highmem-8+1xT4"), an OAuth
// scope that is not a scope URL and a malformed service account; an N1
// pool's GPUs per node are its accelerators.
func TestNodeConfigRules(t *testing.T) {
	ev := newEnv(t, "", nil)
	ev.activeCluster(t, "c1")
	t4 := func(name, machine string) *containerpb.CreateNodePoolRequest {
		req := poolRequest("c1", name, zone, 1)
		req.NodePool.Config.MachineType = machine
		req.NodePool.Config.Accelerators[0].AcceleratorType = "nvidia-tesla-t4"
		req.NodePool.Config.Accelerators[0].AcceleratorCount = 2
		return req
	}
	tests := []struct {
		name   string
		edit   func(*containerpb.NodeConfig)
		want   codes.Code
		reason string
	}{
		{"catalog name as machine type", func(c *containerpb.NodeConfig) { c.MachineType = "n1-highmem-8+1xT4" }, codes.InvalidArgument, "machineType"},
		{"scope alias", func(c *containerpb.NodeConfig) { c.OauthScopes = []string{"cloud-platform"} }, codes.InvalidArgument, "oauthScopes"},
		{"service account name", func(c *containerpb.NodeConfig) { c.ServiceAccount = "gke-nodes" }, codes.InvalidArgument, "serviceAccount"},
		{"least-privilege service account and cloud-platform", func(c *containerpb.NodeConfig) {
			c.ServiceAccount = "gke-nodes@acme-ml.iam.gserviceaccount.com"
			c.OauthScopes = []string{"https://www.googleapis.com/auth/cloud-platform"}
		}, codes.OK, ""},
		{"default service account", func(c *containerpb.NodeConfig) { c.ServiceAccount = "default" }, codes.OK, ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := t4(fmt.Sprintf("p%d", i), "n1-standard-8")
			tt.edit(req.NodePool.Config)
			_, err := ev.c.CreateNodePool(tctx(t), req)
			if tt.want == codes.OK {
				if err != nil {
					t.Fatal(err)
				}
				p, ok := ev.e.LookupPool("gcp", "europe-west4", "c1", req.NodePool.Name)
				if !ok || p.GPUsPerNode != 2 || p.Spec.GPUModel != "T4" {
					t.Fatalf("pool %+v: an N1 VM's GPUs are its 2 T4 accelerators", p)
				}
				return
			}
			if st := wantCode(t, err, tt.want); !strings.Contains(st.Message(), tt.reason) {
				t.Fatalf("message %q does not name %s", st.Message(), tt.reason)
			}
		})
	}
}

// TestClusterWithNodePools: the node pools of a CreateCluster request
// (gcloud's default-pool) are created with the cluster, listed with it,
// and checked like CreateNodePool's; a bad one refuses the whole request.
func TestClusterWithNodePools(t *testing.T) {
	ev := newEnv(t, "", nil)
	defaultPool := &containerpb.NodePool{Name: "default-pool", InitialNodeCount: 3, Config: &containerpb.NodeConfig{MachineType: "e2-medium"}}
	tests := []struct {
		name    string
		cluster *containerpb.Cluster
		code    codes.Code
		pools   []string
	}{
		{"gcloud's default-pool", &containerpb.Cluster{Name: "c1", NodePools: []*containerpb.NodePool{defaultPool}}, codes.OK, []string{"default-pool"}},
		{"two pools", &containerpb.Cluster{Name: "c2", NodePools: []*containerpb.NodePool{defaultPool, poolRequest("c2", "gpu", zone, 1).NodePool}}, codes.OK, []string{"default-pool", "gpu"}},
		{"a pool without a name", &containerpb.Cluster{Name: "c3", NodePools: []*containerpb.NodePool{{InitialNodeCount: 1}}}, codes.InvalidArgument, nil},
		{"two pools of one name", &containerpb.Cluster{Name: "c4", NodePools: []*containerpb.NodePool{defaultPool, defaultPool}}, codes.InvalidArgument, nil},
		{"a catalog name as machine type", &containerpb.Cluster{Name: "c5", NodePools: []*containerpb.NodePool{{Name: "p", InitialNodeCount: 1,
			Config: &containerpb.NodeConfig{MachineType: "n1-standard-4+1xT4"}}}}, codes.InvalidArgument, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ev.c.CreateCluster(tctx(t), &containerpb.CreateClusterRequest{Parent: parent, Cluster: tt.cluster})
			if tt.code != codes.OK {
				wantCode(t, err, tt.code)
				if _, err := ev.c.GetCluster(tctx(t), &containerpb.GetClusterRequest{Name: parent + "/clusters/" + tt.cluster.Name}); status.Code(err) != codes.NotFound {
					t.Fatalf("refused cluster exists: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ev.clock.Advance(testDurations.ClusterCreate + testDurations.PoolCreate)
			l := must[*containerpb.ListNodePoolsResponse](t)(ev.c.ListNodePools(tctx(t), &containerpb.ListNodePoolsRequest{Parent: parent + "/clusters/" + tt.cluster.Name}))
			var got []string
			for _, p := range l.GetNodePools() {
				got = append(got, p.GetName())
				if p.GetStatus() != containerpb.NodePool_RUNNING {
					t.Errorf("pool %s is %s", p.GetName(), p.GetStatus())
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.pools, ",") {
				t.Fatalf("pools %v, want %v", got, tt.pools)
			}
		})
	}
}

// TestRecordsNotPersisted: a record of the front end's own (cluster and
// node pool metadata, operations) that the engine cannot keep fails the
// request with INTERNAL instead of answering success and forgetting it.
func TestRecordsNotPersisted(t *testing.T) {
	fatal := func(op string) cloudsim.Fault {
		return cloudsim.Fault{Cloud: "gcp", Op: op, Err: &cloud.Error{Kind: cloud.KindFatal, Cloud: "gcp", Op: op, Code: "internal", Message: "disk full"}}
	}
	tests := []struct {
		name, op string
		call     func(ev *env) error
	}{
		{"cluster metadata", "Create" + kindClusterMeta, func(ev *env) error {
			_, err := ev.c.CreateCluster(tctx(t), &containerpb.CreateClusterRequest{Parent: parent, Cluster: &containerpb.Cluster{Name: "c9"}})
			return err
		}},
		{"cluster operation", "Create" + kindOperation, func(ev *env) error {
			_, err := ev.c.CreateCluster(tctx(t), &containerpb.CreateClusterRequest{Parent: parent, Cluster: &containerpb.Cluster{Name: "c9"}})
			return err
		}},
		{"node pool metadata", "Create" + kindPoolMeta, func(ev *env) error {
			_, err := ev.c.CreateNodePool(tctx(t), poolRequest("c1", "gpu", zone, 1))
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := newEnv(t, "", nil)
			ev.activeCluster(t, "c1")
			if err := ev.e.Inject(fatal(tt.op)); err != nil {
				t.Fatal(err)
			}
			wantCode(t, tt.call(ev), codes.Internal)
		})
	}
}
