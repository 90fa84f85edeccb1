package computefront

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/protobuf/proto"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

func TestNetworkLifecycleWithOperations(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	op, err := w.nets.Insert(ctx, &computepb.InsertNetworkRequest{Project: project, NetworkResource: &computepb.Network{
		Name: proto.String("site"), AutoCreateSubnetworks: proto.Bool(false),
		RoutingConfig: &computepb.NetworkRoutingConfig{RoutingMode: proto.String("GLOBAL")}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := op.Proto().GetStatus(); got != computepb.Operation_PENDING {
		t.Fatalf("insert answered %s, want PENDING", got)
	}
	w.clock.Advance(opTime / 2)
	if err := op.Poll(ctx); err != nil || op.Proto().GetStatus() != computepb.Operation_RUNNING {
		t.Fatalf("halfway: %v %s, want RUNNING", err, op.Proto().GetStatus())
	}
	w.clock.Advance(opTime / 2)
	if err := op.Poll(ctx); err != nil || !op.Done() {
		t.Fatalf("after its time: %v %s, want DONE", err, op.Proto().GetStatus())
	}
	if got := op.Proto().GetTargetLink(); got != w.link("global/networks/site") {
		t.Fatalf("targetLink %s", got)
	}
	// The global operation can be read on its own.
	gop, err := w.glbOps.Get(ctx, &computepb.GetGlobalOperationRequest{Project: project, Operation: op.Name()})
	if err != nil || gop.GetStatus() != computepb.Operation_DONE || gop.GetOperationType() != "insert" {
		t.Fatalf("global operation: %v %v", err, gop)
	}
	if _, err := w.regOps.Get(ctx, &computepb.GetRegionOperationRequest{Project: project, Region: region, Operation: op.Name()}); err == nil {
		t.Fatal("a global operation was found as a regional one")
	}

	for i, z := range []string{"a", "b", "c"} {
		var sec []*computepb.SubnetworkSecondaryRange
		if i == 0 {
			sec = []*computepb.SubnetworkSecondaryRange{{RangeName: proto.String("pods"), IpCidrRange: proto.String("10.10.64.0/18")}}
		}
		w.subnet(t, "site", "site-"+z, "10.10."+string(rune('0'+i))+".0/24", sec...)
	}
	fop, err := w.fws.Insert(ctx, &computepb.InsertFirewallRequest{Project: project, FirewallResource: &computepb.Firewall{
		Name: proto.String("site-mesh"), Network: proto.String("global/networks/site"),
		Allowed: []*computepb.Allowed{{IPProtocol: proto.String("all")}}, SourceRanges: []string{"10.20.0.0/16"}}})
	w.done(t, fop, err)

	n, err := w.nets.Get(ctx, &computepb.GetNetworkRequest{Project: project, Network: "site"})
	if err != nil {
		t.Fatal(err)
	}
	if n.GetId() == 0 || n.GetSelfLink() != w.link("global/networks/site") || n.GetRoutingConfig().GetRoutingMode() != "GLOBAL" || len(n.GetSubnetworks()) != 3 {
		t.Fatalf("network: %v", n)
	}
	if !strings.HasPrefix(n.GetSubnetworks()[0], APIRoot) {
		t.Fatalf("subnetwork links are not selfLinks under %s: %v", APIRoot, n.GetSubnetworks())
	}

	// Paging: one item a page, filtered by network.
	pager := iterator.NewPager(w.subs.List(ctx, &computepb.ListSubnetworksRequest{Project: project, Region: region,
		Filter: proto.String(`network = "` + n.GetSelfLink() + `"`)}), 1, "")
	var names []string
	pages := 0
	for {
		var page []*computepb.Subnetwork
		tok, err := pager.NextPage(&page)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, s := range page {
			names = append(names, s.GetName())
			if s.GetNetwork() != n.GetSelfLink() || s.GetRegion() != w.link("regions/"+region) || s.GetGatewayAddress() == "" {
				t.Fatalf("subnetwork %v", s)
			}
		}
		if tok == "" {
			break
		}
	}
	if !slices.Equal(names, []string{"site-a", "site-b", "site-c"}) || pages != 3 {
		t.Fatalf("listed %v in %d pages", names, pages)
	}
	none := w.subs.List(ctx, &computepb.ListSubnetworksRequest{Project: project, Region: region, Filter: proto.String(`network = "global/networks/other"`)})
	if _, err := none.Next(); !errors.Is(err, iterator.Done) {
		t.Fatalf("filter on another network: %v", err)
	}

	// Firewall PATCH replaces the fields it names only.
	pop, err := w.fws.Patch(ctx, &computepb.PatchFirewallRequest{Project: project, Firewall: "site-mesh",
		FirewallResource: &computepb.Firewall{Name: proto.String("site-mesh"), SourceRanges: []string{"10.30.0.0/16", "10.20.0.0/16"}}})
	w.done(t, pop, err)
	fw, err := w.fws.Get(ctx, &computepb.GetFirewallRequest{Project: project, Firewall: "site-mesh"})
	if err != nil || !slices.Equal(fw.GetSourceRanges(), []string{"10.30.0.0/16", "10.20.0.0/16"}) || fw.GetPriority() != 1000 ||
		fw.GetDirection() != "INGRESS" || len(fw.GetAllowed()) != 1 {
		t.Fatalf("patched firewall: %v %v", err, fw)
	}

	// A network in use cannot go.
	_, err = w.nets.Delete(ctx, &computepb.DeleteNetworkRequest{Project: project, Network: "site"})
	apiErr(t, err, 400, "resourceInUseByAnotherResource")

	for _, z := range []string{"a", "b", "c"} {
		op, err := w.subs.Delete(ctx, &computepb.DeleteSubnetworkRequest{Project: project, Region: region, Subnetwork: "site-" + z})
		w.done(t, op, err)
	}
	dop, err := w.fws.Delete(ctx, &computepb.DeleteFirewallRequest{Project: project, Firewall: "site-mesh"})
	w.done(t, dop, err)
	nop, err := w.nets.Delete(ctx, &computepb.DeleteNetworkRequest{Project: project, Network: "site"})
	w.done(t, nop, err)
	_, err = w.nets.Get(ctx, &computepb.GetNetworkRequest{Project: project, Network: "site"})
	apiErr(t, err, 404, "notFound")
	if left := w.resources(); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
}

func TestValidationErrors(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.network(t, "net")
	w.network(t, "other")
	w.subnet(t, "net", "net-a", "10.0.0.0/24", &computepb.SubnetworkSecondaryRange{RangeName: proto.String("pods"), IpCidrRange: proto.String("10.1.0.0/16")})
	w.subnet(t, "other", "other-a", "10.0.0.0/24") // another network may reuse a range
	sub := func(name, network, cidr string, sec ...*computepb.SubnetworkSecondaryRange) error {
		_, err := w.subs.Insert(ctx, &computepb.InsertSubnetworkRequest{Project: project, Region: region, SubnetworkResource: &computepb.Subnetwork{
			Name: proto.String(name), Network: proto.String(network), IpCidrRange: proto.String(cidr), SecondaryIpRanges: sec}})
		return err
	}
	sec := func(name, cidr string) *computepb.SubnetworkSecondaryRange {
		return &computepb.SubnetworkSecondaryRange{RangeName: proto.String(name), IpCidrRange: proto.String(cidr)}
	}
	for _, tt := range []struct {
		name   string
		err    error
		code   int
		reason string
	}{
		{"invalid name", sub("Net_B", "global/networks/net", "10.0.1.0/24"), 400, "invalid"},
		{"existing name", sub("net-a", "global/networks/net", "10.0.1.0/24"), 409, "alreadyExists"},
		{"not a CIDR", sub("net-b", "global/networks/net", "10.0.1.0"), 400, "invalid"},
		{"host bits set", sub("net-b", "global/networks/net", "10.0.1.7/24"), 400, "invalid"},
		{"inside another subnetwork", sub("net-b", "global/networks/net", "10.0.0.128/25"), 400, "invalid"},
		{"around another subnetwork", sub("net-b", "global/networks/net", "10.0.0.0/16"), 400, "invalid"},
		{"over another's secondary range", sub("net-b", "global/networks/net", "10.1.2.0/24"), 400, "invalid"},
		{"secondary over another's secondary", sub("net-b", "global/networks/net", "10.2.0.0/24", sec("pods", "10.1.0.0/20")), 400, "invalid"},
		{"secondary over own primary", sub("net-b", "global/networks/net", "10.2.0.0/24", sec("pods", "10.2.0.0/25")), 400, "invalid"},
		{"secondary names repeat", sub("net-b", "global/networks/net", "10.2.0.0/24", sec("x", "10.3.0.0/24"), sec("x", "10.4.0.0/24")), 400, "invalid"},
		{"missing network", sub("net-b", "global/networks/nope", "10.2.0.0/24"), 404, "notFound"},
		{"malformed network", sub("net-b", "net", "10.2.0.0/24"), 400, "invalid"},
		{"firewall without rules", func() error {
			_, err := w.fws.Insert(ctx, &computepb.InsertFirewallRequest{Project: project, FirewallResource: &computepb.Firewall{
				Name: proto.String("fw"), Network: proto.String("global/networks/net")}})
			return err
		}(), 400, "invalid"},
		{"firewall bad range", func() error {
			_, err := w.fws.Insert(ctx, &computepb.InsertFirewallRequest{Project: project, FirewallResource: &computepb.Firewall{
				Name: proto.String("fw"), Network: proto.String("global/networks/net"), Allowed: []*computepb.Allowed{{IPProtocol: proto.String("all")}},
				SourceRanges: []string{"10.0.0.0/33"}}})
			return err
		}(), 400, "invalid"},
		{"router without ASN", func() error {
			_, err := w.rts.Insert(ctx, &computepb.InsertRouterRequest{Project: project, Region: region, RouterResource: &computepb.Router{
				Name: proto.String("rt"), Network: proto.String("global/networks/net")}})
			return err
		}(), 400, "invalid"},
		{"external gateway with too few interfaces", func() error {
			_, err := w.exts.Insert(ctx, &computepb.InsertExternalVpnGatewayRequest{Project: project, ExternalVpnGatewayResource: &computepb.ExternalVpnGateway{
				Name: proto.String("peer"), RedundancyType: proto.String("TWO_IPS_REDUNDANCY"),
				Interfaces: []*computepb.ExternalVpnGatewayInterface{{Id: proto.Uint32(0), IpAddress: proto.String("203.0.113.1")}}}})
			return err
		}(), 400, "invalid"},
		{"four-IP external gateway with two interfaces", func() error {
			_, err := w.exts.Insert(ctx, &computepb.InsertExternalVpnGatewayRequest{Project: project, ExternalVpnGatewayResource: &computepb.ExternalVpnGateway{
				Name: proto.String("peer"), RedundancyType: proto.String("FOUR_IPS_REDUNDANCY"),
				Interfaces: []*computepb.ExternalVpnGatewayInterface{{Id: proto.Uint32(0), IpAddress: proto.String("203.0.113.1")}, {Id: proto.Uint32(1), IpAddress: proto.String("203.0.113.2")}}}})
			return err
		}(), 400, "invalid"},
		{"interface 2 of a two-IP external gateway", func() error {
			_, err := w.exts.Insert(ctx, &computepb.InsertExternalVpnGatewayRequest{Project: project, ExternalVpnGatewayResource: &computepb.ExternalVpnGateway{
				Name: proto.String("peer"), RedundancyType: proto.String("TWO_IPS_REDUNDANCY"),
				Interfaces: []*computepb.ExternalVpnGatewayInterface{{Id: proto.Uint32(0), IpAddress: proto.String("203.0.113.1")}, {Id: proto.Uint32(2), IpAddress: proto.String("203.0.113.2")}}}})
			return err
		}(), 400, "invalid"},
		{"an interface id twice", func() error {
			_, err := w.exts.Insert(ctx, &computepb.InsertExternalVpnGatewayRequest{Project: project, ExternalVpnGatewayResource: &computepb.ExternalVpnGateway{
				Name: proto.String("peer"), RedundancyType: proto.String("TWO_IPS_REDUNDANCY"),
				Interfaces: []*computepb.ExternalVpnGatewayInterface{{Id: proto.Uint32(1), IpAddress: proto.String("203.0.113.1")}, {Id: proto.Uint32(1), IpAddress: proto.String("203.0.113.2")}}}})
			return err
		}(), 400, "invalid"},
		{"missing resource", func() error {
			_, err := w.gws.Get(ctx, &computepb.GetVpnGatewayRequest{Project: project, Region: region, VpnGateway: "nope"})
			return err
		}(), 404, "notFound"},
		{"another project", func() error {
			_, err := w.nets.Get(ctx, &computepb.GetNetworkRequest{Project: "someone-else", Network: "net"})
			return err
		}(), 404, "notFound"},
	} {
		t.Run(tt.name, func(t *testing.T) { apiErr(t, tt.err, tt.code, tt.reason) })
	}
}

func TestPeeringStates(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.network(t, "a")
	w.network(t, "b")
	w.subnet(t, "a", "a-a", "10.1.0.0/24")
	w.subnet(t, "b", "b-a", "10.2.0.0/24")
	peer := func(on, to string) error {
		op, err := w.nets.AddPeering(ctx, &computepb.AddPeeringNetworkRequest{Project: project, Network: on,
			NetworksAddPeeringRequestResource: &computepb.NetworksAddPeeringRequest{Name: proto.String("a-b"), NetworkPeering: &computepb.NetworkPeering{
				Name: proto.String("a-b"), Network: proto.String(w.link("global/networks/" + to)), ExchangeSubnetRoutes: proto.Bool(true)}}})
		if err != nil {
			return err
		}
		return w.finish(op)
	}
	state := func(network string) string {
		n, err := w.nets.Get(ctx, &computepb.GetNetworkRequest{Project: project, Network: network})
		if err != nil {
			t.Fatal(err)
		}
		if len(n.GetPeerings()) == 0 {
			return "none"
		}
		return n.GetPeerings()[0].GetState()
	}
	if err := peer("a", "b"); err != nil {
		t.Fatal(err)
	}
	if got := state("a"); got != "INACTIVE" {
		t.Fatalf("one side: %s, want INACTIVE", got)
	}
	apiErr(t, peer("a", "b"), 400, "invalid") // the name is taken
	if err := peer("b", "a"); err != nil {
		t.Fatal(err)
	}
	if a, b := state("a"), state("b"); a != "ACTIVE" || b != "ACTIVE" {
		t.Fatalf("both sides: %s %s, want ACTIVE", a, b)
	}
	n, _ := w.nets.Get(ctx, &computepb.GetNetworkRequest{Project: project, Network: "a"})
	if got := n.GetPeerings()[0].GetNetwork(); got != w.link("global/networks/b") {
		t.Fatalf("peer network link %s", got)
	}
	// A peered network cannot be deleted.
	_, err := w.nets.Delete(ctx, &computepb.DeleteNetworkRequest{Project: project, Network: "a"})
	apiErr(t, err, 400, "resourceInUseByAnotherResource")

	op, err := w.nets.RemovePeering(ctx, &computepb.RemovePeeringNetworkRequest{Project: project, Network: "b",
		NetworksRemovePeeringRequestResource: &computepb.NetworksRemovePeeringRequest{Name: proto.String("a-b")}})
	w.done(t, op, err)
	if a, b := state("a"), state("b"); a != "INACTIVE" || b != "none" {
		t.Fatalf("after removal on b: %s %s", a, b)
	}

	// Overlapping ranges cannot be peered.
	w.network(t, "c")
	w.subnet(t, "c", "c-a", "10.1.0.0/16")
	op, err = w.nets.AddPeering(ctx, &computepb.AddPeeringNetworkRequest{Project: project, Network: "c",
		NetworksAddPeeringRequestResource: &computepb.NetworksAddPeeringRequest{NetworkPeering: &computepb.NetworkPeering{
			Name: proto.String("c-a"), Network: proto.String("global/networks/a")}}})
	apiErr(t, err, 400, "invalid")
}

// vpnSetup creates a network, an HA gateway, a router (ASN 64514), an
// external gateway and one tunnel on interface 0 linked by the router.
func vpnSetup(t *testing.T, w *world) (gw *computepb.VpnGateway, peerIP string) {
	t.Helper()
	ctx := context.Background()
	w.network(t, "site")
	op, err := w.gws.Insert(ctx, &computepb.InsertVpnGatewayRequest{Project: project, Region: region, VpnGatewayResource: &computepb.VpnGateway{
		Name: proto.String("gw"), Network: proto.String(w.link("global/networks/site")), StackType: proto.String("IPV4_ONLY")}})
	w.done(t, op, err)
	gw, err = w.gws.Get(ctx, &computepb.GetVpnGatewayRequest{Project: project, Region: region, VpnGateway: "gw"})
	if err != nil {
		t.Fatal(err)
	}
	op, err = w.rts.Insert(ctx, &computepb.InsertRouterRequest{Project: project, Region: region, RouterResource: &computepb.Router{
		Name: proto.String("gw-router"), Network: proto.String("global/networks/site"), Bgp: &computepb.RouterBgp{Asn: proto.Uint32(64514)}}})
	w.done(t, op, err)
	peerIP = "203.0.113.10"
	op, err = w.exts.Insert(ctx, &computepb.InsertExternalVpnGatewayRequest{Project: project, ExternalVpnGatewayResource: &computepb.ExternalVpnGateway{
		Name: proto.String("peer"), RedundancyType: proto.String("SINGLE_IP_INTERNALLY_REDUNDANT"),
		Interfaces: []*computepb.ExternalVpnGatewayInterface{{Id: proto.Uint32(0), IpAddress: proto.String(peerIP)}}}})
	w.done(t, op, err)
	op, err = w.tuns.Insert(ctx, &computepb.InsertVpnTunnelRequest{Project: project, Region: region, VpnTunnelResource: &computepb.VpnTunnel{
		Name: proto.String("t0"), VpnGateway: proto.String(gw.GetSelfLink()), VpnGatewayInterface: proto.Int32(0),
		PeerExternalGateway: proto.String(w.link("global/externalVpnGateways/peer")), PeerExternalGatewayInterface: proto.Int32(0),
		SharedSecret: proto.String("s3cret"), IkeVersion: proto.Int32(2), Router: proto.String(w.link("regions/" + region + "/routers/gw-router"))}})
	w.done(t, op, err)
	op, err = w.rts.Patch(ctx, &computepb.PatchRouterRequest{Project: project, Region: region, Router: "gw-router", RouterResource: &computepb.Router{
		Interfaces: []*computepb.RouterInterface{{Name: proto.String("t0-if"), IpRange: proto.String("169.254.21.1/30"),
			LinkedVpnTunnel: proto.String(w.link("regions/" + region + "/vpnTunnels/t0"))}},
		BgpPeers: []*computepb.RouterBgpPeer{{Name: proto.String("t0-bgp"), InterfaceName: proto.String("t0-if"),
			PeerIpAddress: proto.String("169.254.21.2"), PeerAsn: proto.Uint32(65010)}}}})
	w.done(t, op, err)
	return gw, peerIP
}

func TestTunnelEstablishedOnlyWithMirroringEnd(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	gw, peerIP := vpnSetup(t, w)
	ifs := gw.GetVpnInterfaces()
	if len(ifs) != 2 || ifs[0].GetIpAddress() == "" || ifs[0].GetIpAddress() == ifs[1].GetIpAddress() || !strings.HasPrefix(ifs[0].GetIpAddress(), "198.1") {
		t.Fatalf("gateway interfaces: %v", ifs)
	}
	tunnel := func() *computepb.VpnTunnel {
		tn, err := w.tuns.Get(ctx, &computepb.GetVpnTunnelRequest{Project: project, Region: region, VpnTunnel: "t0"})
		if err != nil {
			t.Fatal(err)
		}
		return tn
	}
	tn := tunnel()
	if tn.GetStatus() != "NO_INCOMING_PACKETS" || tn.GetPeerIp() != peerIP || tn.GetSharedSecret() != sharedSecretMask || tn.GetSharedSecretHash() == "" {
		t.Fatalf("before the peer: %s %q peer %s secret %q", tn.GetStatus(), tn.GetDetailedStatus(), tn.GetPeerIp(), tn.GetSharedSecret())
	}
	mirror := cloudsim.TunnelEnd{Cloud: "aws", ID: "vpn-1/0", LocalIP: peerIP, PeerIP: ifs[0].GetIpAddress(), PSK: "wrong",
		LocalInsideIP: "169.254.21.2", PeerInsideIP: "169.254.21.1", LocalASN: 65010, PeerASN: 64514}
	if err := w.e.RegisterTunnelEnd(mirror); err != nil {
		t.Fatal(err)
	}
	if tn := tunnel(); tn.GetStatus() != "NEGOTIATION_FAILURE" || !strings.Contains(tn.GetDetailedStatus(), "pre-shared key") {
		t.Fatalf("key mismatch: %s %q", tn.GetStatus(), tn.GetDetailedStatus())
	}
	mirror.PSK = "s3cret"
	if err := w.e.RegisterTunnelEnd(mirror); err != nil {
		t.Fatal(err)
	}
	if tn := tunnel(); tn.GetStatus() != "ESTABLISHED" {
		t.Fatalf("with a mirroring end: %s %q", tn.GetStatus(), tn.GetDetailedStatus())
	}
	// The router's BGP settings are part of the registered end: a peer
	// ASN change breaks the session.
	op, err := w.rts.Patch(ctx, &computepb.PatchRouterRequest{Project: project, Region: region, Router: "gw-router", RouterResource: &computepb.Router{
		BgpPeers: []*computepb.RouterBgpPeer{{Name: proto.String("t0-bgp"), InterfaceName: proto.String("t0-if"),
			PeerIpAddress: proto.String("169.254.21.2"), PeerAsn: proto.Uint32(65011)}}}})
	w.done(t, op, err)
	if tn := tunnel(); tn.GetStatus() != "NEGOTIATION_FAILURE" || !strings.Contains(tn.GetDetailedStatus(), "ASN") {
		t.Fatalf("ASN mismatch: %s %q", tn.GetStatus(), tn.GetDetailedStatus())
	}

	// What is in use cannot be deleted.
	_, err = w.gws.Delete(ctx, &computepb.DeleteVpnGatewayRequest{Project: project, Region: region, VpnGateway: "gw"})
	apiErr(t, err, 400, "resourceInUseByAnotherResource")
	_, err = w.exts.Delete(ctx, &computepb.DeleteExternalVpnGatewayRequest{Project: project, ExternalVpnGateway: "peer"})
	apiErr(t, err, 400, "resourceInUseByAnotherResource")
	_, err = w.tuns.Delete(ctx, &computepb.DeleteVpnTunnelRequest{Project: project, Region: region, VpnTunnel: "t0"})
	apiErr(t, err, 400, "resourceInUseByAnotherResource")
	_, err = w.rts.Delete(ctx, &computepb.DeleteRouterRequest{Project: project, Region: region, Router: "gw-router"})
	apiErr(t, err, 400, "resourceInUseByAnotherResource")

	// PUT clears the router's interfaces and peers; then everything goes.
	rt, err := w.rts.Get(ctx, &computepb.GetRouterRequest{Project: project, Region: region, Router: "gw-router"})
	if err != nil {
		t.Fatal(err)
	}
	rt.Interfaces, rt.BgpPeers = nil, nil
	op, err = w.rts.Update(ctx, &computepb.UpdateRouterRequest{Project: project, Region: region, Router: "gw-router", RouterResource: rt})
	w.done(t, op, err)
	op, err = w.tuns.Delete(ctx, &computepb.DeleteVpnTunnelRequest{Project: project, Region: region, VpnTunnel: "t0"})
	w.done(t, op, err)
	if _, detail := w.e.TunnelStatus("gcp", "projects/"+project+"/regions/"+region+"/vpnTunnels/t0"); detail != "tunnel not found" {
		t.Fatalf("the deleted tunnel's end is still registered: %s", detail)
	}
	for _, del := range []func() (*compute.Operation, error){
		func() (*compute.Operation, error) {
			return w.exts.Delete(ctx, &computepb.DeleteExternalVpnGatewayRequest{Project: project, ExternalVpnGateway: "peer"})
		},
		func() (*compute.Operation, error) {
			return w.rts.Delete(ctx, &computepb.DeleteRouterRequest{Project: project, Region: region, Router: "gw-router"})
		},
		func() (*compute.Operation, error) {
			return w.gws.Delete(ctx, &computepb.DeleteVpnGatewayRequest{Project: project, Region: region, VpnGateway: "gw"})
		},
		func() (*compute.Operation, error) {
			return w.nets.Delete(ctx, &computepb.DeleteNetworkRequest{Project: project, Network: "site"})
		},
	} {
		op, err := del()
		w.done(t, op, err)
	}
	if left := w.resources(); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
}

func TestRouterRejectsBadLinks(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	vpnSetup(t, w)
	patch := func(ifs []*computepb.RouterInterface, peers []*computepb.RouterBgpPeer) error {
		_, err := w.rts.Patch(ctx, &computepb.PatchRouterRequest{Project: project, Region: region, Router: "gw-router",
			RouterResource: &computepb.Router{Interfaces: ifs, BgpPeers: peers}})
		return err
	}
	iface := func(name, rng, tunnel string) *computepb.RouterInterface {
		return &computepb.RouterInterface{Name: proto.String(name), IpRange: proto.String(rng), LinkedVpnTunnel: proto.String(tunnel)}
	}
	t0 := "regions/" + region + "/vpnTunnels/t0"
	for _, tt := range []struct {
		name string
		err  error
		code int
	}{
		{"missing tunnel", patch([]*computepb.RouterInterface{iface("x", "169.254.21.1/30", "regions/"+region+"/vpnTunnels/nope")}, nil), 404},
		{"tunnel linked twice", patch([]*computepb.RouterInterface{iface("x", "169.254.21.1/30", t0), iface("y", "169.254.22.1/30", t0)}, nil), 400},
		{"peer outside the interface range", patch([]*computepb.RouterInterface{iface("x", "169.254.21.1/30", t0)},
			[]*computepb.RouterBgpPeer{{Name: proto.String("p"), InterfaceName: proto.String("x"), PeerIpAddress: proto.String("169.254.21.9"), PeerAsn: proto.Uint32(1)}}), 400},
		{"peer on a missing interface", patch([]*computepb.RouterInterface{iface("x", "169.254.21.1/30", t0)},
			[]*computepb.RouterBgpPeer{{Name: proto.String("p"), InterfaceName: proto.String("z"), PeerIpAddress: proto.String("169.254.21.2"), PeerAsn: proto.Uint32(1)}}), 400},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var ge *googleapi.Error
			if !errors.As(tt.err, &ge) || ge.Code != tt.code {
				t.Fatalf("want %d, got %v", tt.code, tt.err)
			}
		})
	}
	// The failed patches left the router as it was.
	rt, err := w.rts.Get(ctx, &computepb.GetRouterRequest{Project: project, Region: region, Router: "gw-router"})
	if err != nil || len(rt.GetInterfaces()) != 1 || rt.GetInterfaces()[0].GetName() != "t0-if" || rt.GetBgp().GetAsn() != 64514 {
		t.Fatalf("router after rejected patches: %v %v", err, rt)
	}
}

func TestFaultsAndRateLimits(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.network(t, "net")

	if err := w.e.Inject(cloudsim.Fault{Cloud: "gcp", Op: "CreateFirewall", Err: &cloud.Error{Kind: cloud.KindInvalid, Message: "injected"}}); err != nil {
		t.Fatal(err)
	}
	_, err := w.fws.Insert(ctx, &computepb.InsertFirewallRequest{Project: project, FirewallResource: &computepb.Firewall{
		Name: proto.String("fw"), Network: proto.String("global/networks/net"), Allowed: []*computepb.Allowed{{IPProtocol: proto.String("all")}}}})
	apiErr(t, err, 400, "invalid")

	// Quota is reported in the operation, and nothing is created.
	if err := w.e.Inject(cloudsim.Fault{Cloud: "gcp", Op: "CreateVpnGateway", Err: &cloud.Error{Kind: cloud.KindQuota, Message: "Quota 'VPN_GATEWAYS' exceeded. Limit: 0.0 in region europe-west4."}}); err != nil {
		t.Fatal(err)
	}
	op, err := w.gws.Insert(ctx, &computepb.InsertVpnGatewayRequest{Project: project, Region: region, VpnGatewayResource: &computepb.VpnGateway{
		Name: proto.String("gw"), Network: proto.String("global/networks/net")}})
	if err != nil {
		t.Fatalf("quota must surface in the operation, not the call: %v", err)
	}
	err = w.finish(op)
	var ge *googleapi.Error
	if !errors.As(err, &ge) || ge.Code != 403 || op.Proto().GetError().GetErrors()[0].GetCode() != "QUOTA_EXCEEDED" || op.Proto().GetHttpErrorStatusCode() != 403 {
		t.Fatalf("quota operation: %v %v", err, op.Proto())
	}
	_, err = w.gws.Get(ctx, &computepb.GetVpnGatewayRequest{Project: project, Region: region, VpnGateway: "gw"})
	apiErr(t, err, 404, "notFound")

	// Transient errors on GETs are retried by the client (503).
	if err := w.e.Inject(cloudsim.Fault{Cloud: "gcp", Op: "GetNetwork", Err: &cloud.Error{Kind: cloud.KindTransient, Message: "blip"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.nets.Get(ctx, &computepb.GetNetworkRequest{Project: project, Network: "net"}); err != nil {
		t.Fatalf("a transient fault is retried: %v", err)
	}

	if err := w.e.SetRateLimit("gcp", "GetNetwork", 1, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := w.nets.Get(ctx, &computepb.GetNetworkRequest{Project: project, Network: "net"}); err != nil {
		t.Fatal(err)
	}
	_, err = w.nets.Get(ctx, &computepb.GetNetworkRequest{Project: project, Network: "net"})
	apiErr(t, err, 429, "rateLimitExceeded")
	w.clock.Advance(time.Second)
	if _, err := w.nets.Get(ctx, &computepb.GetNetworkRequest{Project: project, Network: "net"}); err != nil {
		t.Fatalf("after the bucket refilled: %v", err)
	}
	if left := w.resources(); !slices.Equal(left, []string{"Network " + project + "/net"}) {
		t.Fatalf("resources: %v", left)
	}
}

func TestOperationWaitOnRealClock(t *testing.T) {
	e, err := cloudsim.New(cloudsim.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(e, Options{OperationTime: 50 * time.Millisecond}))
	defer srv.Close()
	ctx := context.Background()
	opts := []option.ClientOption{option.WithEndpoint(srv.URL), option.WithoutAuthentication()}
	nets, err := compute.NewNetworksRESTClient(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ops, err := compute.NewGlobalOperationsRESTClient(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	op, err := nets.Insert(ctx, &computepb.InsertNetworkRequest{Project: "p", NetworkResource: &computepb.Network{Name: proto.String("n")}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	got, err := ops.Wait(ctx, &computepb.WaitGlobalOperationRequest{Project: "p", Operation: op.Name()})
	if err != nil || got.GetStatus() != computepb.Operation_DONE {
		t.Fatalf("wait: %v %v", err, got)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("wait took %s", d)
	}
	// Unknown paths and methods are Google errors too.
	resp, err := http.Get(srv.URL + "/compute/v1/projects/p/global/nothing")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown collection: %d", resp.StatusCode)
	}
}

func TestStateFileServesAnyPort(t *testing.T) {
	file := t.TempDir() + "/world.json"
	serve := func() (*httptest.Server, *compute.NetworksClient, *compute.GlobalOperationsClient) {
		e, err := cloudsim.New(cloudsim.Config{StateFile: file})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(New(e, Options{OperationTime: -1}))
		t.Cleanup(srv.Close)
		opts := []option.ClientOption{option.WithEndpoint(srv.URL), option.WithoutAuthentication()}
		nets, err := compute.NewNetworksRESTClient(context.Background(), opts...)
		if err != nil {
			t.Fatal(err)
		}
		ops, err := compute.NewGlobalOperationsRESTClient(context.Background(), opts...)
		if err != nil {
			t.Fatal(err)
		}
		return srv, nets, ops
	}
	ctx := context.Background()
	_, nets1, _ := serve()
	op, err := nets1.Insert(ctx, &computepb.InsertNetworkRequest{Project: "p", NetworkResource: &computepb.Network{Name: proto.String("n")}})
	if err != nil || !op.Done() {
		t.Fatalf("an operation with no time is DONE at once: %v %v", err, op.Proto().GetStatus())
	}
	_, nets2, ops2 := serve() // another process on the same state file
	n, err := nets2.Get(ctx, &computepb.GetNetworkRequest{Project: "p", Network: "n"})
	if err != nil || n.GetSelfLink() != APIRoot+"projects/p/global/networks/n" {
		t.Fatalf("read from another front end: %v %s", err, n.GetSelfLink())
	}
	got, err := ops2.Get(ctx, &computepb.GetGlobalOperationRequest{Project: "p", Operation: op.Name()})
	if err != nil || got.GetStatus() != computepb.Operation_DONE || got.GetTargetLink() != n.GetSelfLink() {
		t.Fatalf("operation from another front end: %v %v", err, got)
	}
}

// TestTunnelToMissingPeerInterface: a tunnel may only use an interface its
// external gateway's redundancy type has (SINGLE_IP_INTERNALLY_REDUNDANT:
// interface 0).
func TestTunnelToMissingPeerInterface(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	gw, _ := vpnSetup(t, w)
	_, err := w.tuns.Insert(ctx, &computepb.InsertVpnTunnelRequest{Project: project, Region: region, VpnTunnelResource: &computepb.VpnTunnel{
		Name: proto.String("t1"), VpnGateway: proto.String(gw.GetSelfLink()), VpnGatewayInterface: proto.Int32(1),
		PeerExternalGateway: proto.String(w.link("global/externalVpnGateways/peer")), PeerExternalGatewayInterface: proto.Int32(1),
		SharedSecret: proto.String("s3cret"), IkeVersion: proto.Int32(2)}})
	apiErr(t, err, 400, "invalid")
}
