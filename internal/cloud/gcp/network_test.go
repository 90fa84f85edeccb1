package gcp

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/googleapis/gax-go/v2/apierror"
	compute "google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

var twoZones = map[string]string{"europe-west4-a": "10.10.0.0/20", "europe-west4-b": "10.10.16.0/20"}

func TestEnsureNetworkIsIdempotent(t *testing.T) {
	w := newNetWorld(t)
	ctx := context.Background()
	spec := siteSpec("mesh-ew4", "10.10.0.0/16", twoZones, "10.20.0.0/16", "10.10.0.0/16")
	spec.PodsCIDR, spec.ServicesCIDR = "10.10.128.0/18", "10.10.192.0/20"
	n := try(w.b.EnsureNetwork(ctx, spec)).must(t)
	if !strings.HasSuffix(n.ID, "/compute/v1/projects/"+netProject+"/global/networks/mesh-ew4") || n.CIDR != "10.10.0.0/16" ||
		!strings.HasSuffix(n.FirewallID, "/global/firewalls/mesh-ew4-mesh-ingress") ||
		!slices.Equal(n.AllowedCIDRs, []string{"10.10.0.0/16", "10.20.0.0/16"}) {
		t.Fatalf("network: %+v", n)
	}
	if len(n.Subnets) != 2 || n.Subnets[0].Zone != "europe-west4-a" || n.Subnets[0].CIDR != "10.10.0.0/20" ||
		n.Subnets[1].Zone != "europe-west4-b" || !strings.HasSuffix(n.Subnets[1].ID, "/regions/europe-west4/subnetworks/mesh-ew4-b") {
		t.Fatalf("subnets: %+v", n.Subnets)
	}
	// Secondary ranges are on the first subnetwork only.
	c := try(w.b.compute(ctx)).must(t)
	for name, want := range map[string]int{"mesh-ew4-a": 2, "mesh-ew4-b": 0} {
		s := try(read(ctx, c.svc.Subnetworks.Get(netProject, netRegion, name).Context(ctx).Do)).must(t)
		if len(s.SecondaryIpRanges) != want {
			t.Fatalf("%s has %d secondary ranges, want %d", name, len(s.SecondaryIpRanges), want)
		}
	}
	net := try(read(ctx, c.svc.Networks.Get(netProject, "mesh-ew4").Context(ctx).Do)).must(t)
	if net.AutoCreateSubnetworks || net.RoutingConfig.RoutingMode != "GLOBAL" {
		t.Fatalf("network mode: %v", net)
	}

	before, creates := w.objects(), w.creates()
	again := try(w.b.EnsureNetwork(ctx, spec)).must(t)
	if !maps.EqualFunc(before, w.objects(), maps.Equal) || !maps.Equal(creates, w.creates()) {
		t.Fatalf("a second EnsureNetwork changed the world:\n%v\n%v\ncreates %v -> %v", before, w.objects(), creates, w.creates())
	}
	if again.ID != n.ID || !slices.Equal(again.Subnets, n.Subnets) || again.FirewallID != n.FirewallID {
		t.Fatalf("second answer differs: %+v vs %+v", again, n)
	}
	got := try(w.b.GetNetwork(ctx, netRegion, "mesh-ew4")).must(t)
	if got.ID != n.ID || !slices.Equal(got.Subnets, n.Subnets) {
		t.Fatalf("GetNetwork: %+v", got)
	}
	_, err := w.b.GetNetwork(ctx, netRegion, "nope")
	wantKind(t, err, cloud.KindNotFound)
}

func TestEnsureNetworkAddsZonesAndReconcilesFirewall(t *testing.T) {
	w := newNetWorld(t)
	ctx := context.Background()
	spec := siteSpec("site", "10.10.0.0/16", map[string]string{"europe-west4-b": "10.10.16.0/20"}, "10.20.0.0/16")
	spec.PodsCIDR = "10.10.128.0/18"
	try(w.b.EnsureNetwork(ctx, spec)).must(t)
	creates := w.creates()

	// Zone a sorts first but b already carries the secondary range.
	spec = siteSpec("site", "10.10.0.0/16", twoZones, "10.30.0.0/16", "10.20.0.0/16")
	spec.PodsCIDR = "10.10.128.0/18"
	n := try(w.b.EnsureNetwork(ctx, spec)).must(t)
	if len(n.Subnets) != 2 || !slices.Equal(n.AllowedCIDRs, []string{"10.20.0.0/16", "10.30.0.0/16"}) {
		t.Fatalf("after adding a zone: %+v", n)
	}
	after := w.creates()
	if after["gcp/CreateSubnetwork"] != creates["gcp/CreateSubnetwork"]+1 || after["gcp/CreateNetwork"] != creates["gcp/CreateNetwork"] {
		t.Fatalf("creates %v -> %v: want one more subnetwork and no network", creates, after)
	}
	c := try(w.b.compute(ctx)).must(t)
	if s := try(read(ctx, c.svc.Subnetworks.Get(netProject, netRegion, "site-a").Context(ctx).Do)).must(t); len(s.SecondaryIpRanges) != 0 {
		t.Fatalf("the new subnetwork got secondary ranges: %v", s.SecondaryIpRanges)
	}

	// No allowed ranges: the rule is disabled, not opened to the world.
	spec.AllowedCIDRs = nil
	n = try(w.b.EnsureNetwork(ctx, spec)).must(t)
	fw := try(read(ctx, c.svc.Firewalls.Get(netProject, "site-mesh-ingress").Context(ctx).Do)).must(t)
	if len(n.AllowedCIDRs) != 0 || !fw.Disabled {
		t.Fatalf("empty allowed list: %v, rule %v", n.AllowedCIDRs, fw)
	}
	spec.AllowedCIDRs = []string{"10.40.0.0/16"}
	n = try(w.b.EnsureNetwork(ctx, spec)).must(t)
	fw = try(read(ctx, c.svc.Firewalls.Get(netProject, "site-mesh-ingress").Context(ctx).Do)).must(t)
	if !slices.Equal(n.AllowedCIDRs, []string{"10.40.0.0/16"}) || fw.Disabled || fw.Direction != "INGRESS" || fw.Allowed[0].IPProtocol != "all" {
		t.Fatalf("re-enabled: %v, rule %v", n.AllowedCIDRs, fw)
	}
}

func TestEnsureNetworkConflicts(t *testing.T) {
	w := newNetWorld(t)
	ctx := context.Background()
	try(w.b.EnsureNetwork(ctx, siteSpec("site", "10.10.0.0/16", twoZones))).must(t)
	for _, tt := range []struct {
		name string
		spec cloud.NetworkSpec
	}{
		{"another CIDR", siteSpec("site", "10.11.0.0/16", map[string]string{"europe-west4-a": "10.11.0.0/20"})},
		{"a zone's range changed", siteSpec("site", "10.10.0.0/16", map[string]string{"europe-west4-a": "10.10.32.0/20"})},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := w.objects()
			_, err := w.b.EnsureNetwork(ctx, tt.spec)
			wantKind(t, err, cloud.KindConflict)
			if !maps.EqualFunc(before, w.objects(), maps.Equal) {
				t.Fatal("a conflicting EnsureNetwork changed the world")
			}
		})
	}
	// A network made elsewhere (no CIDR in its description) is adopted only
	// when its subnetworks lie in the block.
	c := try(w.b.compute(ctx)).must(t)
	op := try(c.svc.Networks.Insert(netProject, &compute.Network{
		Name: "foreign", AutoCreateSubnetworks: false, ForceSendFields: []string{"AutoCreateSubnetworks"}}).Context(ctx).Do()).must(t)
	if err := w.b.waitOp(ctx, op, "InsertNetwork"); err != nil {
		t.Fatal(err)
	}
	op = try(c.svc.Subnetworks.Insert(netProject, netRegion, &compute.Subnetwork{
		Name: "foreign-x", Network: "global/networks/foreign", IpCidrRange: "192.168.0.0/24"}).Context(ctx).Do()).must(t)
	if err := w.b.waitOp(ctx, op, "InsertSubnetwork"); err != nil {
		t.Fatal(err)
	}
	_, err := w.b.EnsureNetwork(ctx, siteSpec("foreign", "10.50.0.0/16", map[string]string{"europe-west4-a": "10.50.0.0/20"}))
	wantKind(t, err, cloud.KindConflict)
	_, err = w.b.EnsureNetwork(ctx, siteSpec("foreign", "192.168.0.0/16", map[string]string{"europe-west4-a": "192.168.16.0/20"}))
	if err != nil {
		t.Fatalf("adopting a network whose subnetworks are in the block: %v", err)
	}

	// A subnetwork range overlapping another zone's is the API's 400.
	_, err = w.b.EnsureNetwork(ctx, siteSpec("site", "10.10.0.0/16", map[string]string{"europe-west4-a": "10.10.0.0/20", "europe-west4-c": "10.10.8.0/21"}))
	wantKind(t, err, cloud.KindInvalid)
}

// connSpec is a connection from the site's gateway to a peer with two
// addresses.
func connSpec(peerIPs [2]string, psk string) cloud.VPNConnectionSpec {
	return cloud.VPNConnectionSpec{Name: "site-to-aws", Region: netRegion, Network: "site", Gateway: "site-vpn", Peer: "aws/eu-central-1",
		PeerASN: 64600, PeerCIDRs: []string{"10.20.0.0/16"}, Tags: map[string]string{"gpufleet/mesh": "m1"},
		Tunnels: []cloud.TunnelSpec{
			{InsideCIDR: "169.254.21.0/30", LocalInsideIP: "169.254.21.1", PeerInsideIP: "169.254.21.2", PeerIP: peerIPs[0], PSK: psk + "0"},
			{InsideCIDR: "169.254.21.4/30", LocalInsideIP: "169.254.21.5", PeerInsideIP: "169.254.21.6", PeerIP: peerIPs[1], PSK: psk + "1", Interface: 1},
		}}
}

// awsSpec is a connection to an AWS site as the mesh plans it: four
// tunnels, tunnel i on HA VPN interface i%2 to AWS outside address i
// (tunnels 0 and 2 in AWS's first VPN connection, 1 and 3 in its second).
func awsSpec(psk string) cloud.VPNConnectionSpec {
	s := connSpec([2]string{"198.51.100.1", "198.51.100.2"}, psk)
	s.Tunnels = append(s.Tunnels,
		cloud.TunnelSpec{InsideCIDR: "169.254.21.8/30", LocalInsideIP: "169.254.21.10", PeerInsideIP: "169.254.21.9", PeerIP: "198.51.100.3", PSK: psk + "2"},
		cloud.TunnelSpec{InsideCIDR: "169.254.21.12/30", LocalInsideIP: "169.254.21.14", PeerInsideIP: "169.254.21.13", PeerIP: "198.51.100.4", PSK: psk + "3", Interface: 1})
	return s
}

// mirror registers the peer's ends of a connection's tunnels, as the
// peer cloud's front end would.
func mirror(t *testing.T, w *netWorld, spec cloud.VPNConnectionSpec, gw cloud.Gateway, asn int64) {
	t.Helper()
	for i, tun := range spec.Tunnels {
		if err := w.e.RegisterTunnelEnd(cloudsim.TunnelEnd{Cloud: "aws", ID: "vpn-peer/" + string(rune('0'+i)), LocalIP: tun.PeerIP, PeerIP: gw.PublicIPs[tun.Interface],
			LocalInsideIP: tun.PeerInsideIP, PeerInsideIP: tun.LocalInsideIP, PSK: tun.PSK, LocalASN: spec.PeerASN, PeerASN: asn}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestVPNLifecycleLeavesNothing(t *testing.T) {
	w := newNetWorld(t)
	ctx := context.Background()
	try(w.b.EnsureNetwork(ctx, siteSpec("site", "10.10.0.0/16", twoZones, "10.20.0.0/16"))).must(t)
	gspec := cloud.GatewaySpec{Name: "site-vpn", Region: netRegion, Network: "site", ASN: 64514}
	gw := try(w.b.EnsureVPNGateway(ctx, gspec)).must(t)
	if len(gw.PublicIPs) != 2 || gw.PublicIPs[0] == gw.PublicIPs[1] || gw.ASN != 64514 || gw.Status != cloud.StatusActive {
		t.Fatalf("gateway: %+v", gw)
	}
	if again := try(w.b.EnsureVPNGateway(ctx, gspec)).must(t); !slices.Equal(again.PublicIPs, gw.PublicIPs) || again.ID != gw.ID {
		t.Fatalf("second EnsureVPNGateway: %+v", again)
	}
	_, err := w.b.EnsureVPNGateway(ctx, cloud.GatewaySpec{Name: "site-vpn", Region: netRegion, Network: "site", ASN: 64515})
	wantKind(t, err, cloud.KindConflict)

	spec := connSpec([2]string{"203.0.113.1", "203.0.113.2"}, "k")
	conn := try(w.b.EnsureVPNConnection(ctx, spec)).must(t)
	if !slices.Equal(conn.LocalIPs, gw.PublicIPs) || len(conn.Tunnels) != 2 || conn.Tunnels[0].Up || conn.Tunnels[1].PeerIP != "203.0.113.2" ||
		conn.Status != cloud.StatusActive || !strings.HasSuffix(conn.ID, "/global/externalVpnGateways/site-to-aws-peer") {
		t.Fatalf("connection before the peer: %+v", conn)
	}
	c := try(w.b.compute(ctx)).must(t)
	rt := try(read(ctx, c.svc.Routers.Get(netProject, netRegion, "site-vpn-router").Context(ctx).Do)).must(t)
	if len(rt.Interfaces) != 2 || rt.Interfaces[1].IpRange != "169.254.21.5/30" || rt.BgpPeers[1].PeerIpAddress != "169.254.21.6" ||
		rt.BgpPeers[0].PeerAsn != 64600 {
		t.Fatalf("router: %v", rt)
	}
	mirror(t, w, spec, gw, 64514)
	conn = try(w.b.GetVPNConnection(ctx, netRegion, spec.Name)).must(t)
	if !conn.Tunnels[0].Up || !conn.Tunnels[1].Up {
		t.Fatalf("with the peer's mirroring ends: %+v", conn.Tunnels)
	}
	for i, tn := range conn.Tunnels {
		if tn.InsideCIDR != spec.Tunnels[i].InsideCIDR {
			t.Fatalf("tunnel %d inside range read back %q, want the spec's %q", i, tn.InsideCIDR, spec.Tunnels[i].InsideCIDR)
		}
	}
	before, creates := w.objects(), w.creates()
	try(w.b.EnsureVPNConnection(ctx, spec)).must(t)
	if !maps.EqualFunc(before, w.objects(), maps.Equal) || !maps.Equal(creates, w.creates()) {
		t.Fatalf("a second EnsureVPNConnection changed the world: creates %v -> %v", creates, w.creates())
	}

	// Order matters: the network and the gateway are in use.
	_, err = w.b.EnsureNetwork(ctx, siteSpec("site", "10.10.0.0/16", twoZones, "10.20.0.0/16"))
	if err != nil {
		t.Fatal(err)
	}
	wantKind(t, w.b.DeleteNetwork(ctx, netRegion, "site"), cloud.KindConflict)
	if _, ok := w.objects()["Firewall "+netProject+"/site-mesh-ingress"]; !ok {
		t.Fatal("a refused DeleteNetwork deleted the firewall rule")
	}
	wantKind(t, w.b.DeleteVPNGateway(ctx, netRegion, "site-vpn"), cloud.KindConflict)

	for range 2 { // deletes are idempotent
		if err := w.b.DeleteVPNConnection(ctx, netRegion, spec.Name); err != nil {
			t.Fatal(err)
		}
	}
	_, err = w.b.GetVPNConnection(ctx, netRegion, spec.Name)
	wantKind(t, err, cloud.KindNotFound)
	for range 2 {
		if err := w.b.DeleteVPNGateway(ctx, netRegion, "site-vpn"); err != nil {
			t.Fatal(err)
		}
		if err := w.b.DeleteNetwork(ctx, netRegion, "site"); err != nil {
			t.Fatal(err)
		}
	}
	if left := w.names(); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
}

// TestVPNConnectionToAWS: four tunnels to AWS are a FOUR_IPS_REDUNDANCY
// external gateway whose interfaces 0 and 1 are the tunnels of HA VPN
// interface 0 and 2 and 3 those of interface 1, four tunnels and four BGP
// sessions, all up once AWS mirrors them. A connection built with two
// tunnels (gpufleet's earlier plan) is rebuilt on the new external
// gateway, since GCE cannot change an external gateway's interfaces.
func TestVPNConnectionToAWS(t *testing.T) {
	w := newNetWorld(t)
	ctx := context.Background()
	try(w.b.EnsureNetwork(ctx, siteSpec("site", "10.10.0.0/16", twoZones))).must(t)
	gw := try(w.b.EnsureVPNGateway(ctx, cloud.GatewaySpec{Name: "site-vpn", Region: netRegion, Network: "site", ASN: 64514})).must(t)
	spec := awsSpec("k")
	old := spec
	old.Tunnels = spec.Tunnels[:2]
	try(w.b.EnsureVPNConnection(ctx, old)).must(t)

	conn := try(w.b.EnsureVPNConnection(ctx, spec)).must(t)
	if len(conn.Tunnels) != 4 || conn.Status != cloud.StatusActive {
		t.Fatalf("four tunnels: %+v", conn)
	}
	c := try(w.b.compute(ctx)).must(t)
	ext := try(read(ctx, c.svc.ExternalVpnGateways.Get(netProject, "site-to-aws-peer").Context(ctx).Do)).must(t)
	var extIPs []string
	for _, i := range ext.Interfaces {
		extIPs = append(extIPs, i.IpAddress)
	}
	if ext.RedundancyType != "FOUR_IPS_REDUNDANCY" || !slices.Equal(extIPs, []string{"198.51.100.1", "198.51.100.3", "198.51.100.2", "198.51.100.4"}) {
		t.Fatalf("external gateway %s %v", ext.RedundancyType, extIPs)
	}
	for i, want := range []struct{ iface, peer int64 }{{0, 0}, {1, 2}, {0, 1}, {1, 3}} {
		tn := try(read(ctx, c.svc.VpnTunnels.Get(netProject, netRegion, "site-to-aws-"+strconv.Itoa(i)).Context(ctx).Do)).must(t)
		if tn.VpnGatewayInterface != want.iface || tn.PeerExternalGatewayInterface != want.peer || conn.LocalIPs[i] != gw.PublicIPs[want.iface] {
			t.Errorf("tunnel %d on interface %d to peer interface %d (local %s), want %d to %d", i, tn.VpnGatewayInterface, tn.PeerExternalGatewayInterface, conn.LocalIPs[i], want.iface, want.peer)
		}
	}
	rt := try(read(ctx, c.svc.Routers.Get(netProject, netRegion, "site-vpn-router").Context(ctx).Do)).must(t)
	if len(rt.Interfaces) != 4 || len(rt.BgpPeers) != 4 {
		t.Fatalf("router: %v", rt)
	}
	mirror(t, w, spec, gw, 64514)
	conn = try(w.b.GetVPNConnection(ctx, netRegion, spec.Name)).must(t)
	for i, tn := range conn.Tunnels {
		if !tn.Up {
			t.Errorf("tunnel %d down with AWS mirroring it: %+v", i, conn.Tunnels)
		}
	}
	before := w.objects()
	try(w.b.EnsureVPNConnection(ctx, spec)).must(t)
	if !maps.EqualFunc(before, w.objects(), maps.Equal) {
		t.Fatal("a second EnsureVPNConnection changed the world")
	}

	for _, tc := range []struct {
		name string
		edit func(*cloud.VPNConnectionSpec)
	}{
		{"three tunnels", func(s *cloud.VPNConnectionSpec) { s.Tunnels = s.Tunnels[:3] }},
		{"three peer addresses", func(s *cloud.VPNConnectionSpec) { s.Tunnels[3].PeerIP = s.Tunnels[0].PeerIP }},
		{"three on one interface", func(s *cloud.VPNConnectionSpec) { s.Tunnels[1].Interface = 0 }},
		{"interface 2", func(s *cloud.VPNConnectionSpec) { s.Tunnels[3].Interface = 2 }},
	} {
		bad := awsSpec("k")
		tc.edit(&bad)
		_, err := w.b.EnsureVPNConnection(ctx, bad)
		if cloud.KindOf(err) != cloud.KindInvalid {
			t.Errorf("%s: %v, want KindInvalid", tc.name, err)
		}
	}
	if err := w.b.DeleteVPNConnection(ctx, netRegion, spec.Name); err != nil {
		t.Fatal(err)
	}
	if err := w.b.DeleteVPNGateway(ctx, netRegion, "site-vpn"); err != nil {
		t.Fatal(err)
	}
	if err := w.b.DeleteNetwork(ctx, netRegion, "site"); err != nil {
		t.Fatal(err)
	}
	if left := w.names(); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
}

func TestVPNConnectionReconcilesChanges(t *testing.T) {
	w := newNetWorld(t)
	ctx := context.Background()
	try(w.b.EnsureNetwork(ctx, siteSpec("site", "10.10.0.0/16", twoZones))).must(t)
	gw := try(w.b.EnsureVPNGateway(ctx, cloud.GatewaySpec{Name: "site-vpn", Region: netRegion, Network: "site", ASN: 64514})).must(t)
	spec := connSpec([2]string{"203.0.113.1", "203.0.113.2"}, "k")
	first := try(w.b.EnsureVPNConnection(ctx, spec)).must(t)

	// A new key replaces the tunnels; the router links the new ones.
	spec = connSpec([2]string{"203.0.113.1", "203.0.113.2"}, "rotated")
	try(w.b.EnsureVPNConnection(ctx, spec)).must(t)
	mirror(t, w, spec, gw, 64514)
	conn := try(w.b.GetVPNConnection(ctx, netRegion, spec.Name)).must(t)
	if !conn.Tunnels[0].Up || !conn.Tunnels[1].Up {
		t.Fatalf("after a key rotation: %+v", conn.Tunnels)
	}
	if conn.ID != first.ID {
		t.Fatalf("the external gateway was replaced for a key change")
	}

	// The peer now answers on one address: a single-IP external gateway.
	spec = connSpec([2]string{"203.0.113.9", "203.0.113.9"}, "rotated")
	conn = try(w.b.EnsureVPNConnection(ctx, spec)).must(t)
	c := try(w.b.compute(ctx)).must(t)
	ext := try(read(ctx, c.svc.ExternalVpnGateways.Get(netProject, "site-to-aws-peer").Context(ctx).Do)).must(t)
	if ext.RedundancyType != "SINGLE_IP_INTERNALLY_REDUNDANT" || len(conn.Tunnels) != 2 || conn.Tunnels[0].PeerIP != "203.0.113.9" || conn.Tunnels[0].Up {
		t.Fatalf("single peer address: %v %+v", ext, conn)
	}
	rt := try(read(ctx, c.svc.Routers.Get(netProject, netRegion, "site-vpn-router").Context(ctx).Do)).must(t)
	if len(rt.Interfaces) != 2 || len(rt.BgpPeers) != 2 {
		t.Fatalf("router after replacements: %v", rt)
	}

	// A tunnel deleted out of band is reported missing, then recreated.
	try(w.b.compute(ctx)).must(t)
	if err := w.b.deleteTunnels(ctx, c, netRegion, spec.Name, ""); err != nil {
		t.Fatal(err)
	}
	conn = try(w.b.GetVPNConnection(ctx, netRegion, spec.Name)).must(t)
	if len(conn.Tunnels) != 0 || conn.Status != cloud.StatusDegraded {
		t.Fatalf("without tunnels: %+v", conn)
	}
	if conn = try(w.b.EnsureVPNConnection(ctx, spec)).must(t); len(conn.Tunnels) != 2 {
		t.Fatalf("recreated: %+v", conn)
	}
	_, err := w.b.EnsureVPNConnection(ctx, cloud.VPNConnectionSpec{Name: "x", Region: netRegion, Gateway: "site-vpn", PeerASN: 1})
	wantKind(t, err, cloud.KindInvalid)
	bad := connSpec([2]string{"203.0.113.1", "203.0.113.2"}, "k")
	bad.Gateway = "nope"
	_, err = w.b.EnsureVPNConnection(ctx, bad)
	wantKind(t, err, cloud.KindNotFound)
}

func TestPeeringBothSidesAndRemoval(t *testing.T) {
	w := newNetWorld(t)
	ctx := context.Background()
	try(w.b.EnsureNetwork(ctx, siteSpec("site-a", "10.10.0.0/16", map[string]string{"europe-west4-a": "10.10.0.0/20"}))).must(t)
	bspec := siteSpec("site-b", "10.11.0.0/16", map[string]string{"us-central1-a": "10.11.0.0/20"})
	bspec.Region = "us-central1"
	try(w.b.EnsureNetwork(ctx, bspec)).must(t)
	spec := cloud.PeeringSpec{Name: "a-b", A: cloud.PeeringSide{Region: netRegion, Network: "site-a", CIDR: "10.10.0.0/16"},
		B: cloud.PeeringSide{Region: "us-central1", Network: "site-b", CIDR: "10.11.0.0/16"}}
	_, err := w.b.GetPeering(ctx, spec)
	wantKind(t, err, cloud.KindNotFound)
	p := try(w.b.EnsurePeering(ctx, spec)).must(t)
	if !p.Active || p.Name != "a-b" || !strings.Contains(p.ID, "/global/networks/site-a") {
		t.Fatalf("peering: %+v", p)
	}
	creates := w.creates()
	if p = try(w.b.EnsurePeering(ctx, spec)).must(t); !p.Active || !maps.Equal(creates, w.creates()) {
		t.Fatalf("second EnsurePeering: %+v, creates %v -> %v", p, creates, w.creates())
	}

	// One side removed out of band: inactive, then repaired.
	c := try(w.b.compute(ctx)).must(t)
	op := try(c.svc.Networks.RemovePeering(netProject, "site-b", &compute.NetworksRemovePeeringRequest{Name: "a-b"}).Context(ctx).Do()).must(t)
	if err := w.b.waitOp(ctx, op, "RemovePeering"); err != nil {
		t.Fatal(err)
	}
	if p = try(w.b.GetPeering(ctx, spec)).must(t); p.Active {
		t.Fatalf("one side gone: %+v", p)
	}
	if p = try(w.b.EnsurePeering(ctx, spec)).must(t); !p.Active {
		t.Fatalf("repaired: %+v", p)
	}
	wantKind(t, w.b.DeleteNetwork(ctx, netRegion, "site-a"), cloud.KindConflict)
	clash := spec
	clash.B.Network = "site-c"
	try(w.b.EnsureNetwork(ctx, siteSpec("site-c", "10.12.0.0/16", map[string]string{"europe-west4-a": "10.12.0.0/20"}))).must(t)
	_, err = w.b.EnsurePeering(ctx, clash)
	wantKind(t, err, cloud.KindConflict)

	for range 2 {
		if err := w.b.DeletePeering(ctx, spec); err != nil {
			t.Fatal(err)
		}
	}
	_, err = w.b.GetPeering(ctx, spec)
	wantKind(t, err, cloud.KindNotFound)
	for _, n := range []string{"site-a", "site-c"} {
		if err := w.b.DeleteNetwork(ctx, netRegion, n); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.b.DeleteNetwork(ctx, "us-central1", "site-b"); err != nil {
		t.Fatal(err)
	}
	if left := w.names(); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
}

func TestNetworkErrorsThroughTheFrontEnd(t *testing.T) {
	w := newNetWorld(t)
	ctx := context.Background()
	_, err := w.b.EnsureVPNGateway(ctx, cloud.GatewaySpec{Name: "gw", Region: netRegion, Network: "missing", ASN: 64514})
	wantKind(t, err, cloud.KindNotFound)
	try(w.b.EnsureNetwork(ctx, siteSpec("site", "10.10.0.0/16", twoZones))).must(t)

	if err := w.e.Inject(cloudsim.Fault{Cloud: "gcp", Op: "CreateVpnGateway", Err: &cloud.Error{Kind: cloud.KindQuota, Message: "Quota 'VPN_GATEWAYS' exceeded. Limit: 0.0 in region europe-west4."}}); err != nil {
		t.Fatal(err)
	}
	_, err = w.b.EnsureVPNGateway(ctx, cloud.GatewaySpec{Name: "gw", Region: netRegion, Network: "site", ASN: 64514})
	wantKind(t, err, cloud.KindQuota)
	var ce *cloud.Error
	if !errors.As(err, &ce) || ce.Code != "QUOTA_EXCEEDED" || !strings.Contains(ce.Message, "VPN_GATEWAYS") {
		t.Fatalf("quota error: %#v", err)
	}

	if err := w.e.SetRateLimit("gcp", "GetNetwork", 0.001, 1); err != nil {
		t.Fatal(err)
	}
	try(w.b.GetNetwork(ctx, netRegion, "site")).must(t)
	_, err = w.b.GetNetwork(ctx, netRegion, "site")
	wantKind(t, err, cloud.KindThrottled)
	if err := w.e.SetRateLimit("gcp", "GetNetwork", 0, 0); err != nil {
		t.Fatal(err)
	}

	if err := w.e.Inject(cloudsim.Fault{Cloud: "gcp", Op: "DeleteFirewall", Err: &cloud.Error{Kind: cloud.KindFatal, Message: "boom"}}); err != nil {
		t.Fatal(err)
	}
	// An internal error (500) is worth a retry.
	wantKind(t, w.b.DeleteNetwork(ctx, netRegion, "site"), cloud.KindTransient)
	if err := w.b.DeleteNetwork(ctx, netRegion, "site"); err != nil {
		t.Fatal(err)
	}
}

func TestClassifyCompute(t *testing.T) {
	gerr := func(code int, reason, msg string) error {
		return &googleapi.Error{Code: code, Message: msg, Errors: []googleapi.ErrorItem{{Reason: reason, Message: msg}}}
	}
	wrapped, _ := apierror.FromError(gerr(404, "notFound", "The resource 'projects/p/global/networks/n' was not found"))
	for _, tt := range []struct {
		name string
		err  error
		want cloud.Kind
	}{
		{"not found", gerr(404, "notFound", "The resource 'projects/p/global/networks/n' was not found"), cloud.KindNotFound},
		{"not found inside apierror", wrapped, cloud.KindNotFound},
		{"already exists", gerr(409, "alreadyExists", "The resource 'projects/p/global/networks/n' already exists"), cloud.KindConflict},
		{"in use", gerr(400, "resourceInUseByAnotherResource", "The network resource 'projects/p/global/networks/n' is already being used by 'projects/p/global/firewalls/f'"), cloud.KindConflict},
		{"not ready", gerr(400, "resourceNotReady", "The resource is not ready"), cloud.KindConflict},
		{"rate limit 429", gerr(429, "rateLimitExceeded", "Rate Limit Exceeded"), cloud.KindThrottled},
		{"rate limit 403", gerr(403, "rateLimitExceeded", "Rate Limit Exceeded"), cloud.KindThrottled},
		{"user rate limit", gerr(403, "userRateLimitExceeded", "User Rate Limit Exceeded"), cloud.KindThrottled},
		{"quota", gerr(403, "quotaExceeded", "Quota 'NETWORKS' exceeded. Limit: 15.0 globally."), cloud.KindQuota},
		{"quota in the message", gerr(403, "forbidden", "QUOTA_EXCEEDED: Quota 'FIREWALLS' exceeded"), cloud.KindQuota},
		{"invalid", gerr(400, "invalid", "Invalid value for field 'resource.ipCidrRange'"), cloud.KindInvalid},
		{"backend", gerr(503, "backendError", "Internal error. Please try again."), cloud.KindTransient},
		{"internal", gerr(500, "internalError", "Internal error"), cloud.KindTransient},
		{"forbidden", gerr(403, "forbidden", "Required 'compute.networks.create' permission"), cloud.KindFatal},
		{"no body", &googleapi.Error{Code: 502}, cloud.KindTransient},
		{"context", context.Canceled, cloud.KindFatal},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := classifyCompute("Op", tt.err)
			if k := cloud.KindOf(got); k != tt.want {
				t.Fatalf("%v: %s, want %s", tt.err, k, tt.want)
			}
			if tt.err == context.Canceled && !errors.Is(got, context.Canceled) {
				t.Fatalf("context errors pass through, got %v", got)
			}
		})
	}
	for _, tt := range []struct {
		code   string
		status int64
		want   cloud.Kind
	}{
		{"QUOTA_EXCEEDED", 403, cloud.KindQuota},
		{"ZONE_RESOURCE_POOL_EXHAUSTED", 503, cloud.KindCapacity},
		{"RESOURCE_IN_USE_BY_ANOTHER_RESOURCE", 400, cloud.KindConflict},
		{"RESOURCE_NOT_FOUND", 404, cloud.KindNotFound},
		{"RESOURCE_ALREADY_EXISTS", 409, cloud.KindConflict},
		{"INTERNAL_ERROR", 500, cloud.KindTransient},
	} {
		op := &compute.Operation{HttpErrorStatusCode: tt.status,
			Error: &compute.OperationError{Errors: []*compute.OperationErrorErrors{{Code: tt.code, Message: "m"}}}}
		err := operationError("Op", op)
		var ce *cloud.Error
		if !errors.As(err, &ce) || ce.Kind != tt.want || ce.Code != tt.code {
			t.Errorf("operation error %s: %v, want %s", tt.code, err, tt.want)
		}
	}
	if err := operationError("Op", &compute.Operation{}); err != nil {
		t.Errorf("an operation without errors: %v", err)
	}
}

func TestComputeEndpointAndNames(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8080":              "http://127.0.0.1:8080/compute/v1/",
		"http://127.0.0.1:8080/":             "http://127.0.0.1:8080/compute/v1/",
		"http://127.0.0.1:8080/compute/v1":   "http://127.0.0.1:8080/compute/v1/",
		"http://127.0.0.1:8080/compute/v1/":  "http://127.0.0.1:8080/compute/v1/",
		"https://compute.googleapis.com":     "https://compute.googleapis.com/compute/v1/",
		"https://compute.googleapis.com/cx/": "https://compute.googleapis.com/cx/compute/v1/",
	} {
		if got := computeEndpoint(in); got != want {
			t.Errorf("computeEndpoint(%q) = %q, want %q", in, got, want)
		}
	}
	for _, tt := range []struct{ network, region, zone, want string }{
		{"site", "europe-west4", "europe-west4-a", "site-a"},
		{"site", "us-central1", "us-central1-f", "site-f"},
		{"site", "europe-west4", "elsewhere_1", "site-elsewhere-1"},
	} {
		if got := subnetName(tt.network, tt.region, tt.zone); got != tt.want {
			t.Errorf("subnetName(%q, %q, %q) = %q, want %q", tt.network, tt.region, tt.zone, got, tt.want)
		}
	}
	if !sameRef("https://www.googleapis.com/compute/v1/projects/p/global/networks/n", "http://127.0.0.1:1/compute/v1/projects/p/global/networks/n") ||
		!sameRef("projects/p/global/networks/n", "https://compute.googleapis.com/compute/v1/projects/p/global/networks/n") ||
		sameRef("projects/p/global/networks/n", "projects/p/global/networks/m") {
		t.Error("sameRef")
	}
}

// TestReadRetriesUnavailable: gets and lists retry 503 and 504 (as the
// apiv1 clients' Get and List did) and nothing else; a cancelled context
// ends the retries with the last error.
func TestReadRetriesUnavailable(t *testing.T) {
	for _, tt := range []struct {
		name      string
		fails     []int
		wantCalls int
		wantErr   int
	}{
		{"ok", nil, 1, 0},
		{"503 then ok", []int{503}, 2, 0},
		{"504, 503 then ok", []int{504, 503}, 3, 0},
		{"500 is not retried", []int{500}, 1, 500},
		{"404 is not retried", []int{404, 503}, 1, 404},
	} {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			v, err := read(context.Background(), func(...googleapi.CallOption) (string, error) {
				calls++
				if calls <= len(tt.fails) {
					return "", &googleapi.Error{Code: tt.fails[calls-1]}
				}
				return "v", nil
			})
			var ge *googleapi.Error
			switch {
			case calls != tt.wantCalls:
				t.Fatalf("%d calls, want %d", calls, tt.wantCalls)
			case tt.wantErr == 0 && (err != nil || v != "v"):
				t.Fatalf("%q, %v", v, err)
			case tt.wantErr != 0 && (!errors.As(err, &ge) || ge.Code != tt.wantErr):
				t.Fatalf("error %v, want %d", err, tt.wantErr)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	_, err := read(ctx, func(...googleapi.CallOption) (string, error) {
		calls++
		cancel()
		return "", &googleapi.Error{Code: 503}
	})
	var ge *googleapi.Error
	if calls != 1 || !errors.As(err, &ge) || ge.Code != 503 {
		t.Fatalf("cancelled: %d calls, %v", calls, err)
	}
}

// TestPagesFollowsTokens: pages reads every page in turn and stops when
// yield does; firstOf reads no page after the one with its item.
func TestPagesFollowsTokens(t *testing.T) {
	book := map[string]struct {
		items []int
		next  string
	}{"": {[]int{1, 2}, "p2"}, "p2": {nil, "p3"}, "p3": {[]int{3}, ""}}
	var asked []string
	page := func(token string) ([]int, string, error) {
		asked = append(asked, token)
		p := book[token]
		return p.items, p.next, nil
	}
	var got []int
	if err := pages(page, func(v int) bool { got = append(got, v); return true }); err != nil || !slices.Equal(got, []int{1, 2, 3}) ||
		!slices.Equal(asked, []string{"", "p2", "p3"}) {
		t.Fatalf("pages: %v, read %q, %v", got, asked, err)
	}
	asked = nil
	if v, err := firstOf(page, func(v int) bool { return v == 2 }); v != 2 || err != nil || !slices.Equal(asked, []string{""}) {
		t.Fatalf("firstOf: %d, read %q, %v", v, asked, err)
	}
	boom := errors.New("boom")
	if _, err := firstOf(func(string) ([]int, string, error) { return nil, "", boom }, func(int) bool { return true }); !errors.Is(err, boom) {
		t.Fatalf("a page's error: %v", err)
	}
}
