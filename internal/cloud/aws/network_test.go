package aws

import (
	"context"
	"errors"
	"maps"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/awsfront"
)

const (
	euc1 = "eu-central-1"
	use1 = "us-east-1"
)

type netEnv struct {
	b     *Backend
	e     *cloudsim.Engine
	clock *cloudsim.FakeClock
}

// newNetEnv serves the simulated EC2 on loopback to a backend that polls
// every millisecond. The engine's clock moves a second per millisecond, so
// that gateways and connections settle at once.
func newNetEnv(t *testing.T) *netEnv {
	t.Helper()
	return newNetEnvWith(t, awsfront.Options{}, nil)
}

// newNetEnvWith is newNetEnv with front end options (their clock is the
// engine's) and the backend configuration changed by cfg.
func newNetEnvWith(t *testing.T, opts awsfront.Options, cfg func(*Config, *cloudsim.FakeClock)) *netEnv {
	t.Helper()
	clock := cloudsim.NewFakeClock(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	e, err := cloudsim.New(cloudsim.Config{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	opts.Clock = clock
	srv := httptest.NewServer(awsfront.New(e, opts))
	t.Cleanup(srv.Close)
	c := Config{Region: euc1, Endpoints: Endpoints{EKS: srv.URL, EC2: srv.URL, IAM: srv.URL, AutoScaling: srv.URL},
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "SECRET", ""), Poll: time.Millisecond, Timeout: 10 * time.Second}
	if cfg != nil {
		cfg(&c, clock)
	}
	b, err := New(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(clock.Tick(time.Millisecond, time.Second))
	return &netEnv{b: b, e: e, clock: clock}
}

// objects are the names of the engine's resources, sorted.
func (ev *netEnv) objects() []string {
	var out []string
	for _, o := range ev.e.Inventory().Resources().Objects {
		out = append(out, o.Kind+" "+o.Name)
	}
	return out
}

func (ev *netEnv) count(kind string) int {
	n := 0
	for _, o := range ev.e.Inventory().Resources().Objects {
		if o.Kind == kind {
			n++
		}
	}
	return n
}

func (ev *netEnv) empty(t *testing.T) {
	t.Helper()
	if inv := ev.e.Inventory().Resources(); !inv.Empty() {
		t.Fatalf("leftovers: %v", ev.objects())
	}
}

func mustOK[T any](t *testing.T) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func wantKind(t *testing.T, what string, err error, k cloud.Kind) {
	t.Helper()
	if cloud.KindOf(err) != k || err == nil {
		t.Fatalf("%s: %v (kind %s), want %s", what, err, cloud.KindOf(err), k)
	}
}

func siteSpec(name, region, cidr string, zones ...string) cloud.NetworkSpec {
	s := cloud.NetworkSpec{Name: name, Region: region, CIDR: cidr, AllowedCIDRs: []string{"10.20.0.0/16", "10.30.0.0/16"},
		Tags: map[string]string{"gpufleet:fleet": "test"}}
	prefix := strings.Join(strings.Split(cidr, ".")[:2], ".")
	for i, z := range zones {
		s.Subnets = append(s.Subnets, cloud.SubnetSpec{Zone: z, CIDR: prefix + "." + []string{"0", "16", "32", "48"}[i] + ".0/20"})
	}
	return s
}

func TestEnsureNetwork(t *testing.T) {
	ev := newNetEnv(t)
	ctx := context.Background()
	spec := siteSpec("site-a", euc1, "10.20.0.0/16", "euc1-az1", "euc1-az2")
	n := mustOK[cloud.Network](t)(ev.b.EnsureNetwork(ctx, spec))
	if !strings.HasPrefix(n.ID, "vpc-") || n.CIDR != "10.20.0.0/16" || len(n.Subnets) != 2 || n.Subnets[0].Zone != "euc1-az1" ||
		n.Subnets[1].CIDR != "10.20.16.0/20" || !strings.HasPrefix(n.FirewallID, "sg-") || !slices.Equal(n.AllowedCIDRs, spec.AllowedCIDRs) {
		t.Fatalf("ensure: %+v", n)
	}
	before, calls := ev.objects(), ev.e.Calls()
	// VPC, main route table, 2 subnets, security group, 2 rules.
	if len(before) != 7 {
		t.Fatalf("objects: %v", before)
	}
	again := mustOK[cloud.Network](t)(ev.b.EnsureNetwork(ctx, spec))
	if again.ID != n.ID || again.FirewallID != n.FirewallID || !slices.Equal(again.Subnets, n.Subnets) || !slices.Equal(ev.objects(), before) {
		t.Fatalf("second ensure: %+v, objects %v", again, ev.objects())
	}
	after := ev.e.Calls()
	for _, op := range []string{"aws/CreateVpc", "aws/CreateSubnet", "aws/CreateSecurityGroup", "aws/CreateSecurityGroupRule", "aws/DeleteSecurityGroupRule"} {
		if after[op] != calls[op] {
			t.Errorf("second ensure called %s (%d -> %d)", op, calls[op], after[op])
		}
	}
	got := mustOK[cloud.Network](t)(ev.b.GetNetwork(ctx, euc1, "site-a"))
	if got.ID != n.ID || !slices.Equal(got.Subnets, n.Subnets) || got.FirewallID != n.FirewallID || !slices.Equal(got.AllowedCIDRs, n.AllowedCIDRs) {
		t.Fatalf("get: %+v, want %+v", got, n)
	}

	// A new zone adds a subnet; the mesh ranges are set to the spec's, and
	// a rule added out of band goes.
	sgID := n.FirewallID
	mustOK[*ec2.AuthorizeSecurityGroupIngressOutput](t)(ev.b.in(euc1).ec2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{
		GroupId: awssdk.String(sgID), IpPermissions: []ec2types.IpPermission{{IpProtocol: awssdk.String("tcp"), FromPort: awssdk.Int32(22), ToPort: awssdk.Int32(22),
			IpRanges: []ec2types.IpRange{{CidrIp: awssdk.String("0.0.0.0/0")}}}}}))
	spec = siteSpec("site-a", euc1, "10.20.0.0/16", "euc1-az1", "euc1-az2", "euc1-az3")
	spec.AllowedCIDRs = []string{"10.40.0.0/16", "10.20.0.0/16", "10.40.0.0/16"}
	n = mustOK[cloud.Network](t)(ev.b.EnsureNetwork(ctx, spec))
	if len(n.Subnets) != 3 || n.Subnets[2].Zone != "euc1-az3" || !slices.Equal(n.AllowedCIDRs, []string{"10.20.0.0/16", "10.40.0.0/16"}) {
		t.Fatalf("reconciled: %+v", n)
	}
	sg := mustOK[*ec2.DescribeSecurityGroupsOutput](t)(ev.b.in(euc1).ec2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{sgID}})).SecurityGroups[0]
	if len(sg.IpPermissions) != 1 || !slices.Equal(allowedCIDRs(&sg), []string{"10.20.0.0/16", "10.40.0.0/16"}) {
		t.Fatalf("rules: %+v", sg.IpPermissions)
	}
	if ev.count("SecurityGroupRule") != 2 || ev.count("Subnet") != 3 {
		t.Fatalf("objects: %v", ev.objects())
	}

	conflict := siteSpec("site-a", euc1, "10.99.0.0/16", "euc1-az1")
	_, err := ev.b.EnsureNetwork(ctx, conflict)
	wantKind(t, "other CIDR", err, cloud.KindConflict)
	moved := siteSpec("site-a", euc1, "10.20.0.0/16", "euc1-az1")
	moved.Subnets[0].CIDR = "10.20.128.0/20"
	_, err = ev.b.EnsureNetwork(ctx, moved)
	wantKind(t, "other subnet CIDR", err, cloud.KindConflict)
	bad := siteSpec("site-b", euc1, "10.50.0.0/16", "euc1-az1")
	bad.Subnets[0].CIDR = "10.51.0.0/20"
	_, err = ev.b.EnsureNetwork(ctx, bad)
	wantKind(t, "subnet outside the VPC", err, cloud.KindInvalid)
	mustOK[struct{}](t)(struct{}{}, ev.b.DeleteNetwork(ctx, euc1, "site-b"))

	mustOK[struct{}](t)(struct{}{}, ev.b.DeleteNetwork(ctx, euc1, "site-a"))
	_, err = ev.b.GetNetwork(ctx, euc1, "site-a")
	wantKind(t, "get deleted", err, cloud.KindNotFound)
	mustOK[struct{}](t)(struct{}{}, ev.b.DeleteNetwork(ctx, euc1, "site-a"))
	ev.empty(t)
}

// peerEnds registers the peer's mirror of each tunnel of a connection, as
// the other cloud's front end would.
func peerEnds(t *testing.T, ev *netEnv, spec cloud.VPNConnectionSpec, c cloud.VPNConnection, gatewayASN int64, only ...int) {
	t.Helper()
	for i, tun := range spec.Tunnels {
		if len(only) > 0 && !slices.Contains(only, i) {
			continue
		}
		if err := ev.e.RegisterTunnelEnd(cloudsim.TunnelEnd{Cloud: "gcp", ID: spec.Name + "/" + string(rune('0'+i)), LocalIP: tun.PeerIP, PeerIP: c.LocalIPs[i],
			LocalInsideIP: tun.PeerInsideIP, PeerInsideIP: tun.LocalInsideIP, PSK: tun.PSK, LocalASN: spec.PeerASN, PeerASN: gatewayASN}); err != nil {
			t.Fatal(err)
		}
	}
}

func vpnSpec(name string, peerIPs ...string) cloud.VPNConnectionSpec {
	s := cloud.VPNConnectionSpec{Name: name, Region: euc1, Network: "site-a", Gateway: "site-a-vgw", Peer: "gcp/europe-west4", PeerASN: 65010,
		PeerCIDRs: []string{"10.30.0.0/16"}, Tags: map[string]string{"gpufleet:fleet": "test"}}
	for i, cidr := range []string{"169.254.21.0/30", "169.254.21.4/30"} {
		p := cidr[:len(cidr)-4]
		s.Tunnels = append(s.Tunnels, cloud.TunnelSpec{InsideCIDR: cidr, LocalInsideIP: p + string(rune('1'+4*i)), PeerInsideIP: p + string(rune('2'+4*i)),
			PeerIP: peerIPs[i%len(peerIPs)], PSK: "key." + strings.ReplaceAll(name, "-", "_") + "_" + string(rune('a'+i))})
	}
	return s
}

func TestVPNGatewayAndConnections(t *testing.T) {
	ev := newNetEnv(t)
	ctx := context.Background()
	mustOK[cloud.Network](t)(ev.b.EnsureNetwork(ctx, siteSpec("site-a", euc1, "10.20.0.0/16", "euc1-az1")))
	gwSpec := cloud.GatewaySpec{Name: "site-a-vgw", Region: euc1, Network: "site-a", ASN: 64620}
	gw := mustOK[cloud.Gateway](t)(ev.b.EnsureVPNGateway(ctx, gwSpec))
	if !strings.HasPrefix(gw.ID, "vgw-") || gw.ASN != 64620 || gw.Status != cloud.StatusActive || len(gw.PublicIPs) != 0 {
		t.Fatalf("gateway: %+v", gw)
	}
	if again := mustOK[cloud.Gateway](t)(ev.b.EnsureVPNGateway(ctx, gwSpec)); again.ID != gw.ID || again.Status != cloud.StatusActive || ev.count("VpnGateway") != 1 {
		t.Fatalf("second ensure: %+v (%v)", again, ev.objects())
	}
	if got := mustOK[cloud.Gateway](t)(ev.b.GetVPNGateway(ctx, euc1, "site-a-vgw")); got.ID != gw.ID || got.Status != cloud.StatusActive {
		t.Fatalf("get: %+v", got)
	}
	rt := mustOK[*ec2types.RouteTable](t)(ev.b.mainRouteTable(ctx, ev.b.in(euc1), mustOK[cloud.Network](t)(ev.b.GetNetwork(ctx, euc1, "site-a")).ID))
	if len(rt.PropagatingVgws) != 1 || awssdk.ToString(rt.PropagatingVgws[0].GatewayId) != gw.ID {
		t.Fatalf("propagation: %+v", rt.PropagatingVgws)
	}
	_, err := ev.b.EnsureVPNGateway(ctx, cloud.GatewaySpec{Name: "site-a-vgw", Region: euc1, Network: "site-a", ASN: 64999})
	wantKind(t, "other ASN", err, cloud.KindConflict)

	// One peer address: one customer gateway, one connection with both
	// tunnels.
	one := vpnSpec("to-aws-peer", "203.0.113.10")
	c1 := mustOK[cloud.VPNConnection](t)(ev.b.EnsureVPNConnection(ctx, one))
	if !strings.HasPrefix(c1.ID, "vpn-") || strings.Contains(c1.ID, ",") || len(c1.LocalIPs) != 2 || c1.LocalIPs[0] == c1.LocalIPs[1] ||
		len(c1.Tunnels) != 2 || c1.Tunnels[0].Up || c1.Tunnels[1].PeerIP != "203.0.113.10" || c1.Status != cloud.StatusActive {
		t.Fatalf("one peer address: %+v", c1)
	}
	if ev.count("VpnConnection") != 1 || ev.count("CustomerGateway") != 1 {
		t.Fatalf("objects: %v", ev.objects())
	}
	peerEnds(t, ev, one, c1, gw.ASN, 0)
	got := mustOK[cloud.VPNConnection](t)(ev.b.GetVPNConnection(ctx, euc1, one.Name))
	if !got.Tunnels[0].Up || got.Tunnels[1].Up || !slices.Equal(got.LocalIPs, c1.LocalIPs) {
		t.Fatalf("with the peer's first tunnel: %+v", got)
	}

	// Two peer addresses: two customer gateways and connections, one mesh
	// tunnel each, reported in spec order.
	two := vpnSpec("to-gcp", "203.0.113.20", "203.0.113.21")
	two.Tunnels[0].InsideCIDR, two.Tunnels[0].LocalInsideIP, two.Tunnels[0].PeerInsideIP = "169.254.22.0/30", "169.254.22.1", "169.254.22.2"
	two.Tunnels[1].InsideCIDR, two.Tunnels[1].LocalInsideIP, two.Tunnels[1].PeerInsideIP = "169.254.22.4/30", "169.254.22.5", "169.254.22.6"
	c2 := mustOK[cloud.VPNConnection](t)(ev.b.EnsureVPNConnection(ctx, two))
	if strings.Count(c2.ID, ",") != 1 || len(c2.LocalIPs) != 2 || c2.Tunnels[0].PeerIP != "203.0.113.20" || c2.Tunnels[1].PeerIP != "203.0.113.21" {
		t.Fatalf("two peer addresses: %+v", c2)
	}
	peerEnds(t, ev, two, c2, gw.ASN)
	got = mustOK[cloud.VPNConnection](t)(ev.b.GetVPNConnection(ctx, euc1, two.Name))
	if !got.Tunnels[0].Up || !got.Tunnels[1].Up || got.Status != cloud.StatusActive {
		t.Fatalf("both tunnels up: %+v", got)
	}
	if got.Tunnels[0].InsideCIDR != "169.254.22.0/30" || got.Tunnels[1].InsideCIDR != "169.254.22.4/30" {
		t.Fatalf("inside ranges read back: %+v, want those of the spec", got.Tunnels)
	}
	before := ev.objects()
	if again := mustOK[cloud.VPNConnection](t)(ev.b.EnsureVPNConnection(ctx, two)); again.ID != c2.ID || !slices.Equal(ev.objects(), before) {
		t.Fatalf("second ensure: %+v, objects %v", again, ev.objects())
	}

	// A new key replaces the connection that carries it (new outside
	// address too); the other one stays.
	two.Tunnels[1].PSK = "key.rotated_1"
	c3 := mustOK[cloud.VPNConnection](t)(ev.b.EnsureVPNConnection(ctx, two))
	ids2, ids3 := strings.Split(c2.ID, ","), strings.Split(c3.ID, ",")
	if len(ids3) != 2 || !slices.Contains(ids3, ids2[0]) || slices.Contains(ids3, ids2[1]) || c3.LocalIPs[0] != c2.LocalIPs[0] || c3.LocalIPs[1] == c2.LocalIPs[1] {
		t.Fatalf("rotated key: %+v, was %+v", c3, c2)
	}
	if ev.count("VpnConnection") != 3 || ev.count("CustomerGateway") != 3 {
		t.Fatalf("objects after the rotation: %v", ev.objects())
	}
	// Both tunnels to one address now: the second customer gateway and
	// connection go.
	merged := two
	merged.Tunnels = slices.Clone(two.Tunnels)
	merged.Tunnels[1].PeerIP = "203.0.113.20"
	c4 := mustOK[cloud.VPNConnection](t)(ev.b.EnsureVPNConnection(ctx, merged))
	if strings.Contains(c4.ID, ",") || len(c4.Tunnels) != 2 || ev.count("VpnConnection") != 2 || ev.count("CustomerGateway") != 2 {
		t.Fatalf("merged: %+v, objects %v", c4, ev.objects())
	}

	invalid := vpnSpec("invalid", "203.0.113.30")
	invalid.Tunnels[0].LocalInsideIP, invalid.Tunnels[0].PeerInsideIP = "169.254.21.2", "169.254.21.1"
	_, err = ev.b.EnsureVPNConnection(ctx, invalid)
	wantKind(t, "AWS side not .1", err, cloud.KindInvalid)
	reserved := vpnSpec("reserved", "203.0.113.30")
	reserved.Tunnels[0].InsideCIDR, reserved.Tunnels[0].LocalInsideIP, reserved.Tunnels[0].PeerInsideIP = "169.254.2.0/30", "169.254.2.1", "169.254.2.2"
	_, err = ev.b.EnsureVPNConnection(ctx, reserved)
	wantKind(t, "reserved inside CIDR", err, cloud.KindInvalid)
	mustOK[struct{}](t)(struct{}{}, ev.b.DeleteVPNConnection(ctx, euc1, "reserved"))

	// What must go first.
	err = ev.b.DeleteNetwork(ctx, euc1, "site-a")
	wantKind(t, "delete network with a gateway", err, cloud.KindConflict)
	if ev.count("Subnet") != 1 || ev.count("SecurityGroup") != 1 {
		t.Fatalf("DeleteNetwork deleted something: %v", ev.objects())
	}
	err = ev.b.DeleteVPNGateway(ctx, euc1, "site-a-vgw")
	wantKind(t, "delete gateway with connections", err, cloud.KindConflict)

	// A connection deleted out of band: Get reports what is left.
	r := ev.b.in(euc1)
	mustOK[*ec2.DeleteVpnConnectionOutput](t)(r.ec2.DeleteVpnConnection(ctx, &ec2.DeleteVpnConnectionInput{VpnConnectionId: awssdk.String(c1.ID)}))
	left := mustOK[cloud.VPNConnection](t)(ev.b.GetVPNConnection(ctx, euc1, one.Name))
	if len(left.Tunnels) != 0 || left.Status != cloud.StatusDegraded {
		t.Fatalf("connection deleted out of band: %+v", left)
	}

	for _, name := range []string{one.Name, two.Name} {
		mustOK[struct{}](t)(struct{}{}, ev.b.DeleteVPNConnection(ctx, euc1, name))
		_, err = ev.b.GetVPNConnection(ctx, euc1, name)
		wantKind(t, "get deleted connection", err, cloud.KindNotFound)
		mustOK[struct{}](t)(struct{}{}, ev.b.DeleteVPNConnection(ctx, euc1, name))
	}
	for _, id := range append(strings.Split(c3.ID, ","), c1.ID) {
		if up, detail := ev.e.TunnelStatus("aws", id+"/1"); up || detail != "tunnel not found" {
			t.Errorf("tunnel end of %s still registered: %s", id, detail)
		}
	}
	mustOK[struct{}](t)(struct{}{}, ev.b.DeleteVPNGateway(ctx, euc1, "site-a-vgw"))
	_, err = ev.b.GetVPNGateway(ctx, euc1, "site-a-vgw")
	wantKind(t, "get deleted gateway", err, cloud.KindNotFound)
	mustOK[struct{}](t)(struct{}{}, ev.b.DeleteVPNGateway(ctx, euc1, "site-a-vgw"))
	mustOK[struct{}](t)(struct{}{}, ev.b.DeleteNetwork(ctx, euc1, "site-a"))
	ev.empty(t)
}

func TestPeering(t *testing.T) {
	ev := newNetEnv(t)
	ctx := context.Background()
	a := mustOK[cloud.Network](t)(ev.b.EnsureNetwork(ctx, siteSpec("site-a", euc1, "10.20.0.0/16", "euc1-az1")))
	b := mustOK[cloud.Network](t)(ev.b.EnsureNetwork(ctx, siteSpec("site-b", use1, "10.30.0.0/16", "use1-az1")))
	spec := cloud.PeeringSpec{Name: "a-b", A: cloud.PeeringSide{Region: euc1, Network: "site-a", CIDR: "10.20.0.0/16"},
		B: cloud.PeeringSide{Region: use1, Network: "site-b", CIDR: "10.30.0.0/16"}}
	p := mustOK[cloud.Peering](t)(ev.b.EnsurePeering(ctx, spec))
	if !strings.HasPrefix(p.ID, "pcx-") || !p.Active {
		t.Fatalf("peering: %+v", p)
	}
	routeTo := func(region, vpc, dest string) string {
		rt := mustOK[*ec2types.RouteTable](t)(ev.b.mainRouteTable(ctx, ev.b.in(region), vpc))
		for _, r := range rt.Routes {
			if awssdk.ToString(r.DestinationCidrBlock) == dest {
				return awssdk.ToString(r.VpcPeeringConnectionId) + " " + string(r.State)
			}
		}
		return ""
	}
	if got := routeTo(euc1, a.ID, "10.30.0.0/16"); got != p.ID+" active" {
		t.Fatalf("route in A: %q", got)
	}
	if got := routeTo(use1, b.ID, "10.20.0.0/16"); got != p.ID+" active" {
		t.Fatalf("route in B: %q", got)
	}
	before := ev.objects()
	if again := mustOK[cloud.Peering](t)(ev.b.EnsurePeering(ctx, spec)); again != p || !slices.Equal(ev.objects(), before) {
		t.Fatalf("second ensure: %+v, objects %v", again, ev.objects())
	}
	if got := mustOK[cloud.Peering](t)(ev.b.GetPeering(ctx, spec)); got != p {
		t.Fatalf("get: %+v", got)
	}
	err := ev.b.DeleteNetwork(ctx, use1, "site-b")
	wantKind(t, "delete a peered network", err, cloud.KindConflict)

	// Overlapping networks: EC2 fails the request.
	mustOK[cloud.Network](t)(ev.b.EnsureNetwork(ctx, siteSpec("site-c", use1, "10.20.0.0/16", "use1-az1")))
	overlap := cloud.PeeringSpec{Name: "a-c", A: spec.A, B: cloud.PeeringSide{Region: use1, Network: "site-c", CIDR: "10.20.0.0/16"}}
	_, err = ev.b.EnsurePeering(ctx, overlap)
	wantKind(t, "overlapping peering", err, cloud.KindInvalid)
	_, err = ev.b.EnsurePeering(ctx, overlap)
	wantKind(t, "overlapping peering again", err, cloud.KindInvalid)
	if n := ev.count("VpcPeeringConnection"); n != 2 {
		t.Fatalf("%d peerings, want 2 (a retried failed peering is not asked again)", n)
	}
	mustOK[struct{}](t)(struct{}{}, ev.b.DeletePeering(ctx, overlap))

	mustOK[struct{}](t)(struct{}{}, ev.b.DeletePeering(ctx, spec))
	_, err = ev.b.GetPeering(ctx, spec)
	wantKind(t, "get deleted peering", err, cloud.KindNotFound)
	if routeTo(euc1, a.ID, "10.30.0.0/16") != "" || routeTo(use1, b.ID, "10.20.0.0/16") != "" {
		t.Fatal("routes left after DeletePeering")
	}
	mustOK[struct{}](t)(struct{}{}, ev.b.DeletePeering(ctx, spec))
	for _, n := range []struct{ region, name string }{{euc1, "site-a"}, {use1, "site-b"}, {use1, "site-c"}} {
		mustOK[struct{}](t)(struct{}{}, ev.b.DeleteNetwork(ctx, n.region, n.name))
	}
	ev.empty(t)
}

// haSpec is a connection to a two-interface peer (GCP HA VPN, Azure
// active-active) with n tunnels, tunnel i to interface i%2, as the mesh
// plans it.
func haSpec(name string, n int) cloud.VPNConnectionSpec {
	s := vpnSpec(name, "203.0.113.20", "203.0.113.21")
	s.Tunnels = nil
	for i := range n {
		base := 4 * i
		s.Tunnels = append(s.Tunnels, cloud.TunnelSpec{InsideCIDR: "169.254.22." + strconv.Itoa(base) + "/30",
			LocalInsideIP: "169.254.22." + strconv.Itoa(base+1), PeerInsideIP: "169.254.22." + strconv.Itoa(base+2),
			PeerIP: []string{"203.0.113.20", "203.0.113.21"}[i%2], PSK: "key.ha_" + strconv.Itoa(i), Interface: i % 2})
	}
	return s
}

// TestVPNConnectionFourTunnels: four tunnels to a two-interface peer are
// two customer gateways and two VPN connections with both tunnels each,
// all four up once the peer mirrors them; a connection built with one
// tunnel per address (gpufleet's earlier plan) gets its second tunnel in
// place, keeping its ID and outside addresses.
func TestVPNConnectionFourTunnels(t *testing.T) {
	ev := newNetEnv(t)
	ctx := context.Background()
	mustOK[cloud.Network](t)(ev.b.EnsureNetwork(ctx, siteSpec("site-a", euc1, "10.20.0.0/16", "euc1-az1")))
	gw := mustOK[cloud.Gateway](t)(ev.b.EnsureVPNGateway(ctx, cloud.GatewaySpec{Name: "site-a-vgw", Region: euc1, Network: "site-a", ASN: 64620}))

	tests := []struct {
		name  string
		first int // tunnels of a first Ensure (0: none)
	}{
		{"new", 0},
		{"from two tunnels", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := haSpec("to-gcp-"+strconv.Itoa(tt.first), 4)
			var before cloud.VPNConnection
			if tt.first > 0 {
				old := haSpec(spec.Name, tt.first)
				before = mustOK[cloud.VPNConnection](t)(ev.b.EnsureVPNConnection(ctx, old))
				peerEnds(t, ev, old, before, gw.ASN)
				if got := mustOK[cloud.VPNConnection](t)(ev.b.GetVPNConnection(ctx, euc1, spec.Name)); len(got.Tunnels) != 2 || !got.Tunnels[0].Up || !got.Tunnels[1].Up {
					t.Fatalf("two-tunnel connection: %+v", got)
				}
			}
			c := mustOK[cloud.VPNConnection](t)(ev.b.EnsureVPNConnection(ctx, spec))
			if strings.Count(c.ID, ",") != 1 || len(c.Tunnels) != 4 || len(c.LocalIPs) != 4 || c.Status != cloud.StatusActive {
				t.Fatalf("four tunnels: %+v", c)
			}
			distinct := map[string]bool{}
			for i, ip := range c.LocalIPs {
				distinct[ip] = true
				if c.Tunnels[i].PeerIP != spec.Tunnels[i].PeerIP {
					t.Errorf("tunnel %d goes to %s, want %s", i, c.Tunnels[i].PeerIP, spec.Tunnels[i].PeerIP)
				}
			}
			if len(distinct) != 4 {
				t.Fatalf("outside addresses %v are not four", c.LocalIPs)
			}
			if tt.first > 0 && (c.ID != before.ID || !slices.Equal(c.LocalIPs[:2], before.LocalIPs)) {
				t.Fatalf("upgrade replaced connections: %+v, was %+v", c, before)
			}
			peerEnds(t, ev, spec, c, gw.ASN)
			// Modified tunnels are down while AWS replaces them (seconds
			// of the engine's clock).
			allUp := func(c cloud.VPNConnection) bool {
				return !slices.ContainsFunc(c.Tunnels, func(t cloud.TunnelStatus) bool { return !t.Up })
			}
			got := mustOK[cloud.VPNConnection](t)(ev.b.GetVPNConnection(ctx, euc1, spec.Name))
			for deadline := time.Now().Add(5 * time.Second); !allUp(got) && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
				got = mustOK[cloud.VPNConnection](t)(ev.b.GetVPNConnection(ctx, euc1, spec.Name))
			}
			if !allUp(got) {
				t.Fatalf("tunnels not all up: %+v", got)
			}
			snapshot := ev.objects()
			if again := mustOK[cloud.VPNConnection](t)(ev.b.EnsureVPNConnection(ctx, spec)); again.ID != c.ID || !slices.Equal(ev.objects(), snapshot) {
				t.Fatalf("second ensure changed things: %+v", again)
			}
			mustOK[struct{}](t)(struct{}{}, ev.b.DeleteVPNConnection(ctx, euc1, spec.Name))
		})
	}
	three := haSpec("three", 4)
	three.Tunnels[1].PeerIP = three.Tunnels[0].PeerIP
	_, err := ev.b.EnsureVPNConnection(ctx, three)
	wantKind(t, "three tunnels to one address", err, cloud.KindInvalid)
	_, err = ev.b.EnsureVPNConnection(ctx, haSpec("three", 3))
	wantKind(t, "three tunnels", err, cloud.KindInvalid)
	mustOK[struct{}](t)(struct{}{}, ev.b.DeleteVPNGateway(ctx, euc1, "site-a-vgw"))
	mustOK[struct{}](t)(struct{}{}, ev.b.DeleteNetwork(ctx, euc1, "site-a"))
	ev.empty(t)
}

func TestNetworkErrors(t *testing.T) {
	ev := newNetEnv(t)
	ctx := context.Background()
	mustOK[cloud.Network](t)(ev.b.EnsureNetwork(ctx, siteSpec("site-a", euc1, "10.20.0.0/16", "euc1-az1")))

	if err := ev.e.SetRateLimit("aws", "GetVpc", 0.001, 0); err != nil {
		t.Fatal(err)
	}
	_, err := ev.b.GetNetwork(ctx, euc1, "site-a")
	var ce *cloud.Error
	if !cloud.IsThrottled(err) || !cloud.IsRetryable(err) || !errors.As(err, &ce) || ce.Code != "RequestLimitExceeded" || ce.Op != "DescribeVpcs" {
		t.Fatalf("throttled: %#v", err)
	}
	if err := ev.e.SetRateLimit("aws", "GetVpc", 0, 0); err != nil {
		t.Fatal(err)
	}

	if err := ev.e.Inject(cloudsim.Fault{Cloud: "aws", Op: "CreateVpnGateway", Err: &cloud.Error{Kind: cloud.KindQuota, Code: "VpnGatewayLimitExceeded", Message: "limit"}}); err != nil {
		t.Fatal(err)
	}
	_, err = ev.b.EnsureVPNGateway(ctx, cloud.GatewaySpec{Name: "gw", Region: euc1, Network: "site-a", ASN: 64620})
	wantKind(t, "gateway quota", err, cloud.KindQuota)
	if err := ev.e.ClearFaults(); err != nil {
		t.Fatal(err)
	}
	_, err = ev.b.EnsureVPNGateway(ctx, cloud.GatewaySpec{Name: "gw", Region: euc1, Network: "nowhere", ASN: 64620})
	wantKind(t, "gateway of a missing network", err, cloud.KindNotFound)
	_, err = ev.b.EnsureVPNConnection(ctx, vpnSpec("c", "203.0.113.1"))
	wantKind(t, "connection without a gateway", err, cloud.KindNotFound)

	// EC2's own DependencyViolation, straight from DeleteVpc.
	n := mustOK[cloud.Network](t)(ev.b.GetNetwork(ctx, euc1, "site-a"))
	_, err = ev.b.in(euc1).ec2.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: awssdk.String(n.ID)})
	wantKind(t, "DeleteVpc with subnets", classify("DeleteVpc", err), cloud.KindConflict)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := ev.b.EnsureNetwork(cctx, siteSpec("site-a", euc1, "10.20.0.0/16", "euc1-az1")); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	mustOK[struct{}](t)(struct{}{}, ev.b.DeleteNetwork(ctx, euc1, "site-a"))
	ev.empty(t)
}

func TestClassifyNetworkCodes(t *testing.T) {
	for code, want := range map[string]cloud.Kind{
		"InvalidVpcID.NotFound":                       cloud.KindNotFound,
		"InvalidVpnGatewayID.NotFound":                cloud.KindNotFound,
		"InvalidPermission.NotFound":                  cloud.KindNotFound,
		"DependencyViolation":                         cloud.KindConflict,
		"IncorrectState":                              cloud.KindConflict,
		"InvalidStateTransition":                      cloud.KindConflict,
		"InvalidGroup.Duplicate":                      cloud.KindConflict,
		"InvalidPermission.Duplicate":                 cloud.KindConflict,
		"InvalidSubnet.Conflict":                      cloud.KindConflict,
		"RouteAlreadyExists":                          cloud.KindConflict,
		"Gateway.NotAttached":                         cloud.KindConflict,
		"VpnGatewayAttachmentLimitExceeded":           cloud.KindConflict,
		"VpcPeeringConnectionAlreadyExists":           cloud.KindConflict,
		"InvalidSubnet.Range":                         cloud.KindInvalid,
		"InvalidVpc.Range":                            cloud.KindInvalid,
		"InvalidVpcID.Malformed":                      cloud.KindInvalid,
		"InvalidParameterValue":                       cloud.KindInvalid,
		"InvalidParameterCombination":                 cloud.KindInvalid,
		"VpnGatewayLimitExceeded":                     cloud.KindQuota,
		"VpcLimitExceeded":                            cloud.KindQuota,
		"CustomerGatewayLimitExceeded":                cloud.KindQuota,
		"RequestLimitExceeded":                        cloud.KindThrottled,
		"Unavailable":                                 cloud.KindTransient,
		"UnauthorizedOperation":                       cloud.KindFatal,
		"InvalidLaunchTemplateName.NotFoundException": cloud.KindNotFound,
	} {
		if got := cloud.KindOf(classify("Op", &smithy.GenericAPIError{Code: code, Message: "m"})); got != want {
			t.Errorf("%s: %s, want %s", code, got, want)
		}
	}
}

// TestNetworkMetrics: the provider's decorators count network calls as
// they count cluster calls (cloud.WithNetworkMetrics over the retries):
// calls and errors by kind, keyed by cloud and method.
func TestNetworkMetrics(t *testing.T) {
	ev := newNetEnv(t)
	ctx := context.Background()
	var m cloud.Metrics
	nb := cloud.WithNetworkMetrics(cloud.WithNetworkRetries(ev.b, cloud.RetryPolicy{MaxAttempts: 2, Base: time.Millisecond}), &m, nil)
	if _, err := nb.GetNetwork(ctx, euc1, "site-a"); !cloud.IsNotFound(err) {
		t.Fatalf("GetNetwork of a missing network: %v", err)
	}
	mustOK[cloud.Network](t)(nb.EnsureNetwork(ctx, siteSpec("site-a", euc1, "10.20.0.0/16", "euc1-az1")))
	mustOK[cloud.Network](t)(nb.GetNetwork(ctx, euc1, "site-a"))
	if err := nb.DeleteNetwork(ctx, euc1, "site-a"); err != nil {
		t.Fatal(err)
	}
	s := m.Snapshot()
	for op, want := range map[string]cloud.OpStats{
		"aws.GetNetwork":    {Calls: 2, Errors: map[string]int{"not_found": 1}},
		"aws.EnsureNetwork": {Calls: 1, Errors: map[string]int{}},
		"aws.DeleteNetwork": {Calls: 1, Errors: map[string]int{}},
	} {
		if got := s[op]; got.Calls != want.Calls || !maps.Equal(got.Errors, want.Errors) {
			t.Errorf("%s: %+v, want %d calls, errors %v", op, got, want.Calls, want.Errors)
		}
	}
	if len(s) != 3 {
		t.Errorf("counted %v, want the three network methods called", s)
	}
	ev.empty(t)
}
