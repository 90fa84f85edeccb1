package computefront

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
	"google.golang.org/protobuf/proto"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

const (
	project = "sim-project"
	region  = "europe-west4"
	opTime  = 2 * time.Second
)

// world is an engine, a front end on loopback and the real REST clients.
type world struct {
	e      *cloudsim.Engine
	clock  *cloudsim.FakeClock
	url    string
	nets   *compute.NetworksClient
	subs   *compute.SubnetworksClient
	fws    *compute.FirewallsClient
	gws    *compute.VpnGatewaysClient
	exts   *compute.ExternalVpnGatewaysClient
	tuns   *compute.VpnTunnelsClient
	rts    *compute.RoutersClient
	regOps *compute.RegionOperationsClient
	glbOps *compute.GlobalOperationsClient
}

func newWorld(t *testing.T) *world {
	t.Helper()
	clock := cloudsim.NewFakeClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	e, err := cloudsim.New(cloudsim.Config{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(e, Options{Project: project, Clock: clock, OperationTime: opTime}))
	t.Cleanup(srv.Close)
	w := &world{e: e, clock: clock, url: srv.URL}
	ctx := context.Background()
	opts := []option.ClientOption{option.WithEndpoint(srv.URL), option.WithoutAuthentication()}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	w.nets, err = compute.NewNetworksRESTClient(ctx, opts...)
	must(err)
	w.subs, err = compute.NewSubnetworksRESTClient(ctx, opts...)
	must(err)
	w.fws, err = compute.NewFirewallsRESTClient(ctx, opts...)
	must(err)
	w.gws, err = compute.NewVpnGatewaysRESTClient(ctx, opts...)
	must(err)
	w.exts, err = compute.NewExternalVpnGatewaysRESTClient(ctx, opts...)
	must(err)
	w.tuns, err = compute.NewVpnTunnelsRESTClient(ctx, opts...)
	must(err)
	w.rts, err = compute.NewRoutersRESTClient(ctx, opts...)
	must(err)
	w.regOps, err = compute.NewRegionOperationsRESTClient(ctx, opts...)
	must(err)
	w.glbOps, err = compute.NewGlobalOperationsRESTClient(ctx, opts...)
	must(err)
	return w
}

// done advances the clock past the operation and polls it to DONE,
// failing the test on an operation error.
func (w *world) done(t *testing.T, op *compute.Operation, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.finish(op); err != nil {
		t.Fatal(err)
	}
}

// finish advances the clock past the operation and polls it once.
func (w *world) finish(op *compute.Operation) error {
	if op.Done() {
		return nil
	}
	w.clock.Advance(opTime)
	if err := op.Poll(context.Background()); err != nil {
		return err
	}
	if !op.Done() {
		return errors.New("operation " + op.Name() + " is not done after its time")
	}
	return nil
}

// apiErr asserts a Google API error with code and reason.
func apiErr(t *testing.T, err error, code int, reason string) {
	t.Helper()
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		t.Fatalf("want a googleapi error %d %s, got %T %v", code, reason, err, err)
	}
	if ge.Code != code || len(ge.Errors) == 0 || ge.Errors[0].Reason != reason {
		t.Fatalf("want %d %s, got %d %+v (%s)", code, reason, ge.Code, ge.Errors, ge.Message)
	}
}

func (w *world) link(rel string) string { return APIRoot + "projects/" + project + "/" + rel }

// network creates a custom-mode network.
func (w *world) network(t *testing.T, name string) {
	t.Helper()
	op, err := w.nets.Insert(context.Background(), &computepb.InsertNetworkRequest{Project: project, NetworkResource: &computepb.Network{
		Name: proto.String(name), AutoCreateSubnetworks: proto.Bool(false),
		RoutingConfig: &computepb.NetworkRoutingConfig{RoutingMode: proto.String("GLOBAL")},
	}})
	w.done(t, op, err)
}

// subnet creates a subnetwork of a network in region.
func (w *world) subnet(t *testing.T, network, name, cidr string, secondary ...*computepb.SubnetworkSecondaryRange) {
	t.Helper()
	op, err := w.subs.Insert(context.Background(), &computepb.InsertSubnetworkRequest{Project: project, Region: region,
		SubnetworkResource: &computepb.Subnetwork{Name: proto.String(name), Network: proto.String(w.link("global/networks/" + network)),
			IpCidrRange: proto.String(cidr), SecondaryIpRanges: secondary}})
	w.done(t, op, err)
}

// resources lists the billable objects left in the engine.
func (w *world) resources() []string {
	var out []string
	for _, o := range w.e.Inventory().Resources().Objects {
		out = append(out, o.Kind+" "+o.Name)
	}
	return out
}
