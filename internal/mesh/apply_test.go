package mesh_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	awsbackend "github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/aws"
	azbackend "github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/azure"
	gcpbackend "github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/gcp"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/awsfront"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/azurefront"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/computefront"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/gkefront"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/mesh"
)

// world is one simulated world with the real SDK backends of every cloud
// pointed at it over loopback.
type world struct {
	e        *cloudsim.Engine
	backends mesh.Backends
}

var fast = cloudsim.Durations{ClusterCreate: 5 * time.Millisecond, ClusterDelete: 5 * time.Millisecond,
	PoolCreate: 5 * time.Millisecond, PoolUpdate: 5 * time.Millisecond, PoolDelete: 5 * time.Millisecond}

func newWorld(t testing.TB) *world {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	e, err := cloudsim.New(cloudsim.Config{Durations: fast})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	awsSrv := httptest.NewServer(awsfront.New(e, awsfront.Options{}))
	t.Cleanup(awsSrv.Close)
	a, err := awsbackend.New(ctx, awsbackend.Config{Region: "eu-central-1",
		Endpoints:   awsbackend.Endpoints{EKS: awsSrv.URL, EC2: awsSrv.URL, IAM: awsSrv.URL},
		Credentials: credentials.NewStaticCredentialsProvider("SIM", "SIM", ""), Poll: 2 * time.Millisecond, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	computeSrv := httptest.NewServer(computefront.New(e, computefront.Options{OperationTime: 5 * time.Millisecond}))
	t.Cleanup(computeSrv.Close)
	gke, stop, err := gkefront.Serve(e, gkefront.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	g, err := gcpbackend.New(ctx, gcpbackend.Config{Project: "sim", Endpoint: gke, Insecure: true,
		ComputeEndpoint: computeSrv.URL + "/compute/v1/", Poll: 2 * time.Millisecond, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	azureSrv := httptest.NewTLSServer(azurefront.New(e, azurefront.Options{SubscriptionID: "sub",
		Network: azurefront.NetworkDurations{Resource: 5 * time.Millisecond, Gateway: 20 * time.Millisecond}}))
	t.Cleanup(azureSrv.Close)
	z, err := azbackend.New(azbackend.Config{SubscriptionID: "sub", Credential: azbackend.StaticToken("sim"), Endpoint: azureSrv.URL,
		HTTPClient: azureSrv.Client(), Poll: 2 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return &world{e: e, backends: mesh.Backends{"aws": a, "gcp": g, "azure": z}}
}

func (w *world) resources() []cloudsim.Object { return w.e.Inventory().Resources().Objects }

func plan(t testing.TB, prev mesh.Plan, sites ...mesh.Site) mesh.Plan {
	t.Helper()
	p, err := mesh.Build("fleet", netip.MustParsePrefix("10.64.0.0/12"), nil, sites, prev, mesh.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var (
	central = mesh.Site{Key: "aws/eu-central-1", Zones: []string{"euc1-az1"}}
	north   = mesh.Site{Key: "aws/eu-north-1", Zones: []string{"eun1-az1"}}
	west4   = mesh.Site{Key: "gcp/europe-west4", Zones: []string{"europe-west4-a", "europe-west4-b"}}
	weu     = mesh.Site{Key: "azure/westeurope", Zones: []string{"1", "2"}}
)

// TestApplyObserveDestroy builds an AWS+GCP+Azure mesh with a same-cloud peering
// through the real SDK clients, checks every tunnel comes up (the
// simulator brings a tunnel up only when both ends mirror each other), and
// that destroy leaves nothing.
func TestApplyObserveDestroy(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	p := plan(t, mesh.Plan{}, central, north, west4, weu)
	st, err := mesh.Apply(ctx, w.backends, p, mesh.Plan{})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range p.Links {
		ls := st.Links[l.Key()]
		if !ls.Complete(l) {
			t.Fatalf("link %s incomplete after apply: %+v", l.Key(), ls)
		}
	}
	obs, err := mesh.WaitEstablished(ctx, w.backends, p, 5*time.Millisecond, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range p.Links {
		ls := obs.Links[l.Key()]
		if !ls.Established(l) {
			t.Fatalf("link %s never established: A %s, B %s", l.Key(), tunnelsUp(ls.A), tunnelsUp(ls.B))
		}
		if l.Kind == mesh.KindVPN && len(ls.A.Tunnels) != mesh.TunnelsPerLink(cloudOf(l.A), cloudOf(l.B)) {
			t.Fatalf("link %s has %d tunnels", l.Key(), len(ls.A.Tunnels))
		}
	}
	// Every tunnel of every AWS VPN connection is up: none is left to
	// AWS's own options.
	if down := downAWSTunnels(t, w); len(down) > 0 {
		t.Fatalf("AWS tunnels down: %v", down)
	}
	// Applying again changes nothing.
	before := len(w.resources())
	if _, err := mesh.Apply(ctx, w.backends, p, p); err != nil {
		t.Fatal(err)
	}
	if after := len(w.resources()); after != before {
		t.Fatalf("re-apply changed the world: %d -> %d objects", before, after)
	}
	if err := mesh.Destroy(ctx, w.backends, p); err != nil {
		t.Fatal(err)
	}
	if left := w.resources(); len(left) != 0 {
		t.Fatalf("destroy left %d objects, first %+v", len(left), left[0])
	}
}

func cloudOf(site string) string { c, _, _ := strings.Cut(site, "/"); return c }

// downAWSTunnels are the AWS tunnels (connection/outside address) the
// simulated AWS reports down.
func downAWSTunnels(t testing.TB, w *world) []string {
	t.Helper()
	conns, err := awsfront.VPNConnections(w.e)
	if err != nil {
		t.Fatal(err)
	}
	var down []string
	for _, c := range conns {
		for i := 1; i <= 2; i++ {
			if up, detail := w.e.TunnelStatus("aws", c.TunnelEnd(i)); !up {
				down = append(down, fmt.Sprintf("%s (%s)", c.TunnelEnd(i), detail))
			}
		}
	}
	return down
}

func tunnelsUp(c *cloud.VPNConnection) string {
	if c == nil {
		return "missing"
	}
	s := ""
	for _, t := range c.Tunnels {
		if t.Up {
			s += "up "
		} else {
			s += "down "
		}
	}
	return s
}

// TestApplyUpgradesTwoTunnelLinks: a mesh built when every link had two
// tunnels (the plan a gpufleet_network state of then holds) is applied
// with the plan Build makes from it: each AWS link gets its other two
// tunnels, all come up, and what existed stays: the AWS VPN connections
// (same IDs, same outside addresses: their second tunnels were changed in
// place) and the Azure connections; GCP rebuilds its tunnels on a
// FOUR_IPS_REDUNDANCY external gateway (GCE cannot change an external
// gateway's interfaces).
func TestApplyUpgradesTwoTunnelLinks(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	current := plan(t, mesh.Plan{}, central, west4, weu)
	old := current
	old.Links = nil
	for _, l := range current.Links {
		l.Tunnels = l.Tunnels[:min(len(l.Tunnels), 2)]
		old.Links = append(old.Links, l)
	}
	if _, err := mesh.Apply(ctx, w.backends, old, mesh.Plan{}); err != nil {
		t.Fatal(err)
	}
	before, err := mesh.WaitEstablished(ctx, w.backends, old, 5*time.Millisecond, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if down := downAWSTunnels(t, w); len(down) != 4 { // the second tunnel of each of the two links' two connections
		t.Fatalf("two-tunnel links: AWS tunnels down %v, want the four unused ones", down)
	}
	azureConns := map[string]string{}
	for _, o := range w.resources() {
		if o.Cloud == "azure" && o.Kind == "Connection" {
			azureConns[o.Name] = o.ID
		}
	}

	if len(azureConns) != 4 { // two to AWS, two to GCP
		t.Fatalf("Azure connections %v", azureConns)
	}
	next := plan(t, old, central, west4, weu)
	if _, err := mesh.Apply(ctx, w.backends, next, old); err != nil {
		t.Fatal(err)
	}
	after, err := mesh.WaitEstablished(ctx, w.backends, next, 5*time.Millisecond, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range next.Links {
		ls := after.Links[l.Key()]
		if !ls.Established(l) {
			t.Fatalf("link %s not established after the upgrade: A %s, B %s", l.Key(), tunnelsUp(ls.A), tunnelsUp(ls.B))
		}
		if cloudOf(l.A) != "aws" {
			continue
		}
		was := before.Links[l.Key()].A
		if ls.A.ID != was.ID || !slices.Equal(ls.A.LocalIPs[:2], was.LocalIPs) {
			t.Errorf("link %s: AWS connections %s %v, were %s %v", l.Key(), ls.A.ID, ls.A.LocalIPs, was.ID, was.LocalIPs)
		}
	}
	if down := downAWSTunnels(t, w); len(down) > 0 {
		t.Fatalf("AWS tunnels down after the upgrade: %v", down)
	}
	for _, o := range w.resources() {
		if id, had := azureConns[o.Name]; had && o.Kind == "Connection" && o.ID != id {
			t.Errorf("Azure connection %s was replaced", o.Name)
		}
	}
	if err := mesh.Destroy(ctx, w.backends, next); err != nil {
		t.Fatal(err)
	}
	if left := w.resources(); len(left) != 0 {
		t.Fatalf("destroy left %d objects, first %+v", len(left), left[0])
	}
}

// TestApplyRemovesSite: removing a site deletes its network, gateway and
// links and leaves the others' objects as they were.
func TestApplyRemovesSite(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	full := plan(t, mesh.Plan{}, central, north, west4)
	if _, err := mesh.Apply(ctx, w.backends, full, mesh.Plan{}); err != nil {
		t.Fatal(err)
	}
	smaller := plan(t, full, central, west4)
	if _, err := mesh.Apply(ctx, w.backends, smaller, full); err != nil {
		t.Fatal(err)
	}
	for _, o := range w.resources() {
		if o.Cloud == "aws" && containsRegion(o, "eu-north-1") {
			t.Errorf("eu-north-1 still holds %s %s", o.Kind, o.Name)
		}
	}
	if err := mesh.Destroy(ctx, w.backends, smaller); err != nil {
		t.Fatal(err)
	}
	if left := w.resources(); len(left) != 0 {
		t.Fatalf("destroy left %d objects, first %+v", len(left), left[0])
	}
}

func containsRegion(o cloudsim.Object, region string) bool {
	if o.Attrs["region"] == region {
		return true
	}
	return len(o.Name) >= len(region) && o.Name[:len(region)] == region
}

// BenchmarkThreeCloudMesh builds and destroys a mesh of four sites on
// three clouds (two AWS regions peered, five VPN links, eighteen tunnels)
// through the real SDK clients and the simulated clouds, and reports the
// simulated cloud operations (engine calls: each API request is one or
// more) each build and teardown makes.
func BenchmarkThreeCloudMesh(b *testing.B) {
	w := newWorld(b)
	ctx := context.Background()
	p := plan(b, mesh.Plan{}, central, north, west4, weu)
	calls := func() int {
		n := 0
		for _, c := range w.e.Calls() {
			n += c
		}
		return n
	}
	start := calls()
	for b.Loop() {
		if _, err := mesh.Apply(ctx, w.backends, p, mesh.Plan{}); err != nil {
			b.Fatal(err)
		}
		if err := mesh.Destroy(ctx, w.backends, p); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(calls()-start)/float64(b.N), "engine-ops/op")
}
