package awsremote_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/awsconfig"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/awsremote"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/awsremote/awsserve"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/contract"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/awsfront"
)

const euc1 = "eu-central-1"

// helperBin is gpufleet-aws, built once for the tests that run the
// process.
var helperBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "awsremote-test-")
	if err != nil {
		panic(err)
	}
	helperBin = filepath.Join(dir, awsremote.HelperName)
	build := exec.Command("go", "build", "-o", helperBin, "../../../cmd/gpufleet/gpufleet-aws")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		panic("building gpufleet-aws: " + err.Error())
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// world is a simulated AWS on loopback whose clock moves a second per
// millisecond (gateways and node groups settle at once), and the
// settings that reach it.
func world(t testing.TB) (*cloudsim.Engine, awsconfig.Settings) {
	t.Helper()
	clock := cloudsim.NewFakeClock(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	e, err := cloudsim.New(cloudsim.Config{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(awsfront.New(e, awsfront.Options{Clock: clock}))
	t.Cleanup(srv.Close)
	t.Cleanup(clock.Tick(time.Millisecond, time.Second))
	return e, awsconfig.Settings{Region: euc1, Endpoints: awsconfig.Endpoints{EKS: srv.URL, EC2: srv.URL, IAM: srv.URL, AutoScaling: srv.URL},
		Credentials: awsconfig.StaticCredentials{AccessKeyID: "AKIDTEST", SecretAccessKey: "SECRET"}, Poll: time.Millisecond, Timeout: 10 * time.Second}
}

// inProcess serves the SDK implementation on a socket in this process:
// the calls cross the same gRPC, JSON and error encoding as with the
// helper binary.
func inProcess(t testing.TB, impl awsremote.Implementation) *awsremote.Client {
	t.Helper()
	socket, stop, err := awsremote.Listen(impl)
	if err != nil {
		t.Fatal(err)
	}
	c := &awsremote.Client{Socket: socket}
	t.Cleanup(func() { c.Close(); stop() })
	return c
}

// TestContract runs the backend contract suite on EKS through the
// bridge: every cloud.Backend method, node replacement and node pool
// listing, with their errors' kinds, as the in-process backend passes it
// (internal/cloud/aws TestContract).
func TestContract(t *testing.T) {
	contract.Run(t, contract.Harness{
		World: func(t *testing.T) (cloud.Backend, *cloudsim.Engine) {
			e, s := world(t)
			return awsremote.NewBackend(inProcess(t, awsserve.Implementation), s), e
		},
		Cluster: func(name string) cloud.ClusterSpec {
			return cloud.ClusterSpec{Name: name, Region: euc1, PublicEndpoint: true}
		},
		Pool: func(cluster, name string) cloud.NodePoolSpec {
			return cloud.NodePoolSpec{Cluster: cluster, Region: euc1, Name: name, InstanceType: "p5.48xlarge", Zone: "euc1-az3",
				CapacityType: "on_demand", Nodes: 1, Labels: map[string]string{"gpufleet.io/pool": name}}
		},
		Replace: &contract.ReplaceHarness{
			Foreign: "gce://p/z/n",
			Refused: func([]cloudsim.Node) []contract.Refusal {
				return []contract.Refusal{{Name: "unknown instance", Pool: "train",
					Node: cloud.NodeRef{Name: "n", ProviderID: "aws:///euc1-az3/i-00000000000000000"}, Kind: cloud.KindNotFound}}
			},
		},
	})
}

// TestNetworkThroughHelper builds a site network with a VPN gateway
// through the bridge, reads it back, lists and deletes what gpufleet made,
// and leaves the simulated EC2 empty.
func TestNetworkThroughHelper(t *testing.T) {
	e, s := world(t)
	b := awsremote.NewBackend(inProcess(t, awsserve.Implementation), s)
	ctx := context.Background()
	spec := cloud.NetworkSpec{Name: "site-a", Region: euc1, CIDR: "10.20.0.0/16", AllowedCIDRs: []string{"10.20.0.0/16", "10.30.0.0/16"},
		Subnets: []cloud.SubnetSpec{{Zone: "euc1-az1", CIDR: "10.20.0.0/20"}, {Zone: "euc1-az2", CIDR: "10.20.16.0/20"}},
		Tags:    map[string]string{"gpufleet:fleet": "test"}}
	n, err := b.EnsureNetwork(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.GetNetwork(ctx, euc1, "site-a")
	if err != nil || !reflect.DeepEqual(got, n) {
		t.Fatalf("GetNetwork = %+v, %v; want %+v", got, err, n)
	}
	if len(n.Subnets) != 2 || n.ID == "" {
		t.Fatalf("network %+v", n)
	}
	gw, err := b.EnsureVPNGateway(ctx, cloud.GatewaySpec{Name: "site-a-gw", Region: euc1, Network: "site-a", ASN: 64512})
	if err != nil || gw.ID == "" {
		t.Fatalf("gateway %+v, %v", gw, err)
	}
	if _, err := b.GetVPNConnection(ctx, euc1, "nope"); !cloud.IsNotFound(err) {
		t.Fatalf("GetVPNConnection of nothing: %v, want not found", err)
	}
	if err := b.DeleteNetwork(ctx, euc1, "site-a"); !cloud.IsConflict(err) {
		t.Fatalf("DeleteNetwork with a gateway: %v, want a conflict", err)
	}
	contract.ListedDelete(t, b, b, cloud.ListOptions{Regions: []string{euc1}}, nil)
	if inv := e.Inventory().Resources(); !inv.Empty() {
		t.Fatalf("leftovers: %+v", inv.Objects)
	}
}

// blocking is a backend whose GetCluster waits for its context to end
// and records how it ended: the test of what crosses with a context.
type blocking struct {
	awsremote.Full
	mu       sync.Mutex
	deadline time.Time
	ended    error
	entered  chan struct{}
}

func (b *blocking) GetCluster(ctx context.Context, region, name string) (cloud.Cluster, error) {
	d, _ := ctx.Deadline()
	b.mu.Lock()
	b.deadline = d
	b.mu.Unlock()
	close(b.entered)
	<-ctx.Done()
	b.mu.Lock()
	b.ended = ctx.Err()
	b.mu.Unlock()
	return cloud.Cluster{}, ctx.Err()
}

// TestContextCrosses: a call's deadline reaches the helper's backend, and
// cancelling the call cancels it there; the caller gets its own
// context's error at once.
func TestContextCrosses(t *testing.T) {
	b := &blocking{entered: make(chan struct{})}
	impl := awsremote.Implementation{Backend: func(context.Context, awsconfig.Settings) (awsremote.Full, error) { return b, nil }}
	c := inProcess(t, impl)
	remote := awsremote.NewBackend(c, awsconfig.Settings{})
	deadline := time.Now().Add(time.Hour)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	errc := make(chan error, 1)
	go func() { _, err := remote.GetCluster(ctx, euc1, "c"); errc <- err }()
	<-b.entered
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("caller got %v, want context.Canceled", err)
	}
	for i := 0; ; i++ {
		b.mu.Lock()
		ended, d := b.ended, b.deadline
		b.mu.Unlock()
		if ended != nil {
			if !errors.Is(ended, context.Canceled) {
				t.Errorf("the helper's call ended with %v, want context.Canceled", ended)
			}
			if diff := d.Sub(deadline); diff < -time.Second || diff > time.Second {
				t.Errorf("the helper's deadline %v, want about %v", d, deadline)
			}
			break
		}
		if i == 1000 {
			t.Fatal("the helper's call was not cancelled")
		}
		time.Sleep(time.Millisecond)
	}
}
