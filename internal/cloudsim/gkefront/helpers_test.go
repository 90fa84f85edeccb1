package gkefront

import (
	"context"
	"testing"
	"time"

	container "cloud.google.com/go/container/apiv1"
	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

const (
	project  = "proj-1"
	region   = "europe-west4"
	zone     = "europe-west4-a"
	parent   = "projects/" + project + "/locations/" + region
	h100Type = "a3-highgpu-8g"
)

var epoch0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

var testDurations = cloudsim.Durations{
	ClusterCreate: 10 * time.Minute, ClusterDelete: 5 * time.Minute,
	PoolCreate: 3 * time.Minute, PoolUpdate: 2 * time.Minute, PoolDelete: 2 * time.Minute,
}

type env struct {
	e     *cloudsim.Engine
	clock *cloudsim.FakeClock
	c     *container.ClusterManagerClient
	raw   containerpb.ClusterManagerClient
}

func newEnv(t *testing.T, stateFile string, clock *cloudsim.FakeClock) *env {
	t.Helper()
	if clock == nil {
		clock = cloudsim.NewFakeClock(epoch0)
	}
	e, err := cloudsim.New(cloudsim.Config{Clock: clock, Durations: testDurations, StateFile: stateFile})
	if err != nil {
		t.Fatal(err)
	}
	addr, stop, err := Serve(e, Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	ctx := context.Background()
	c, err := container.NewClusterManagerClient(ctx, option.WithEndpoint(addr), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &env{e: e, clock: clock, c: c, raw: containerpb.NewClusterManagerClient(c.Connection())}
}

func tctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func must[T any](t *testing.T) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func wantCode(t *testing.T, err error, c codes.Code) *status.Status {
	t.Helper()
	st, _ := status.FromError(err)
	if err == nil || st.Code() != c {
		t.Fatalf("error %v, want code %s", err, c)
	}
	return st
}

func opName(op *containerpb.Operation) string {
	return parent + "/operations/" + op.GetName()
}

func (ev *env) op(t *testing.T, op *containerpb.Operation) *containerpb.Operation {
	t.Helper()
	return must[*containerpb.Operation](t)(ev.c.GetOperation(tctx(t), &containerpb.GetOperationRequest{Name: opName(op)}))
}

// activeCluster creates a regional cluster and advances past its creation.
func (ev *env) activeCluster(t *testing.T, name string) {
	t.Helper()
	must[*containerpb.Operation](t)(ev.c.CreateCluster(tctx(t), &containerpb.CreateClusterRequest{
		Parent: parent, Cluster: &containerpb.Cluster{Name: name, InitialClusterVersion: "1.32"}}))
	ev.clock.Advance(testDurations.ClusterCreate)
}

func poolRequest(cluster, name, zone string, nodes int32) *containerpb.CreateNodePoolRequest {
	return &containerpb.CreateNodePoolRequest{
		Parent: parent + "/clusters/" + cluster,
		NodePool: &containerpb.NodePool{
			Name: name, InitialNodeCount: nodes, Locations: []string{zone},
			Config: &containerpb.NodeConfig{
				MachineType: h100Type,
				Labels:      map[string]string{"gpufleet.io/pool": name},
				Taints:      []*containerpb.NodeTaint{{Key: "nvidia.com/gpu", Value: "present", Effect: containerpb.NodeTaint_NO_SCHEDULE}},
				Accelerators: []*containerpb.AcceleratorConfig{{AcceleratorCount: 8, AcceleratorType: "nvidia-h100-80gb",
					GpuDriverInstallationConfig: &containerpb.GPUDriverInstallationConfig{
						GpuDriverVersion: containerpb.GPUDriverInstallationConfig_LATEST.Enum()}}},
			},
		},
	}
}
