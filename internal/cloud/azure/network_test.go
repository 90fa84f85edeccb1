package azure

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v9"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/azurefront"
)

const (
	testSub    = "00000000-0000-0000-0000-0000000000aa"
	testRegion = "westeurope"
)

// netSim is an Azure front end on an engine, with the backend pointed at
// it and the writes (PUT, DELETE) it served counted.
type netSim struct {
	t   *testing.T
	e   *cloudsim.Engine
	srv *httptest.Server
	b   *Backend

	mu     sync.Mutex
	writes []string
}

func newNetSim(t *testing.T) *netSim {
	t.Helper()
	e, err := cloudsim.New(cloudsim.Config{AzureSubscription: testSub, Durations: cloudsim.Durations{
		ClusterCreate: 20 * time.Millisecond, ClusterDelete: 20 * time.Millisecond, PoolCreate: 20 * time.Millisecond,
		PoolUpdate: 20 * time.Millisecond, PoolDelete: 20 * time.Millisecond,
	}})
	if err != nil {
		t.Fatal(err)
	}
	h := azurefront.New(e, azurefront.Options{SubscriptionID: testSub,
		Network: azurefront.NetworkDurations{Resource: 10 * time.Millisecond, Gateway: 40 * time.Millisecond}})
	s := &netSim{t: t, e: e}
	s.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut || r.Method == http.MethodDelete {
			s.mu.Lock()
			s.writes = append(s.writes, r.Method+" "+r.URL.Path)
			s.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(s.srv.Close)
	s.b = s.backend()
	return s
}

// backend is a new backend on the front end (as another process).
func (s *netSim) backend() *Backend {
	s.t.Helper()
	b, err := New(Config{SubscriptionID: testSub, Credential: StaticToken("cloudsim"), Endpoint: s.srv.URL, HTTPClient: s.srv.Client(), Poll: 5 * time.Millisecond})
	if err != nil {
		s.t.Fatal(err)
	}
	return b
}

func (s *netSim) writeCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.writes)
}

func (s *netSim) resourceKinds() []string {
	var out []string
	for _, o := range s.e.Inventory().Resources().Objects {
		out = append(out, o.Kind+" "+o.Name)
	}
	return out
}

var ctx = context.Background()

func siteSpec(name, cidr string, zones ...string) cloud.NetworkSpec {
	p := strings.TrimSuffix(cidr, ".0.0/16")
	// The gateway /27 lies just below the pods, as netplan places it.
	spec := cloud.NetworkSpec{Name: name, Region: testRegion, CIDR: cidr, GatewayCIDR: p + ".127.224/27",
		AllowedCIDRs: []string{"10.30.0.0/16", cidr}, Tags: map[string]string{"gpufleet.io/site": name}}
	for i, z := range zones {
		spec.Subnets = append(spec.Subnets, cloud.SubnetSpec{Zone: z, CIDR: fmt.Sprintf("%s.%d.0/20", p, 16*i)})
	}
	return spec
}

func kindOf(t *testing.T, err error, want cloud.Kind) {
	t.Helper()
	if got := cloud.KindOf(err); got != want || err == nil {
		t.Fatalf("error %v: kind %s, want %s", err, got, want)
	}
}

func TestEnsureNetworkIdempotent(t *testing.T) {
	s := newNetSim(t)
	spec := siteSpec("gf-weu", "10.20.0.0/16", "1", "2")
	net, err := s.b.EnsureNetwork(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	base := "/subscriptions/" + testSub + "/resourceGroups/gf-weu-rg/providers/Microsoft.Network/"
	want := cloud.Network{Name: "gf-weu", Region: testRegion, ID: base + "virtualNetworks/gf-weu", CIDR: "10.20.0.0/16",
		Subnets: []cloud.Subnet{
			{Zone: "1", CIDR: "10.20.0.0/20", ID: base + "virtualNetworks/gf-weu/subnets/nodes-1"},
			{Zone: "2", CIDR: "10.20.16.0/20", ID: base + "virtualNetworks/gf-weu/subnets/nodes-2"},
		},
		FirewallID: base + "networkSecurityGroups/gf-weu-mesh", AllowedCIDRs: []string{"10.20.0.0/16", "10.30.0.0/16"},
		GatewaySubnetID: base + "virtualNetworks/gf-weu/subnets/GatewaySubnet"}
	if !reflect.DeepEqual(net, want) {
		t.Fatalf("network:\n got %+v\nwant %+v", net, want)
	}
	if got := s.resourceKinds(); !slices.Equal(got, []string{"NetworkSecurityGroup gf-weu-rg/gf-weu-mesh", "ResourceGroup gf-weu-rg",
		"Subnet gf-weu-rg/gf-weu/gatewaysubnet", "Subnet gf-weu-rg/gf-weu/nodes-1", "Subnet gf-weu-rg/gf-weu/nodes-2", "VirtualNetwork gf-weu-rg/gf-weu"}) {
		t.Fatalf("resources: %v", got)
	}

	before, writes := s.e.Inventory(), s.writeCount()
	again, err := s.b.EnsureNetwork(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again, net) || !reflect.DeepEqual(s.e.Inventory(), before) || s.writeCount() != writes {
		t.Fatalf("second EnsureNetwork changed something: %d writes, %+v", s.writeCount()-writes, again)
	}
	// Another process finds the same network.
	if got, err := s.backend().GetNetwork(ctx, testRegion, "gf-weu"); err != nil || !reflect.DeepEqual(got, net) {
		t.Fatalf("get: %v %+v", err, got)
	}
}

func TestEnsureNetworkReconciles(t *testing.T) {
	s := newNetSim(t)
	spec := siteSpec("gf-weu", "10.20.0.0/16", "1", "2")
	first, err := s.b.EnsureNetwork(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	rules := func() []string {
		t.Helper()
		g, err := s.b.net.nsgs.Get(ctx, "gf-weu-rg", "gf-weu-mesh", nil)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range g.Properties.SecurityRules {
			p := r.Properties
			var src []string
			for _, c := range p.SourceAddressPrefixes {
				src = append(src, *c)
			}
			if p.SourceAddressPrefix != nil {
				src = append(src, *p.SourceAddressPrefix)
			}
			out = append(out, fmt.Sprintf("%s %s %s %d %s", *r.Name, *p.Direction, *p.Access, *p.Priority, strings.Join(src, ",")))
		}
		return out
	}
	for _, tt := range []struct {
		name  string
		mod   func(*cloud.NetworkSpec)
		check func(t *testing.T, n cloud.Network)
	}{
		{"new zone adds a subnet", func(sp *cloud.NetworkSpec) {
			sp.Subnets = append(sp.Subnets, cloud.SubnetSpec{Zone: "3", CIDR: "10.20.32.0/20"})
		}, func(t *testing.T, n cloud.Network) {
			if len(n.Subnets) != 3 || n.Subnets[2].Zone != "3" || n.Subnets[2].CIDR != "10.20.32.0/20" ||
				n.Subnets[0] != first.Subnets[0] || n.Subnets[1] != first.Subnets[1] || n.GatewaySubnetID != first.GatewaySubnetID {
				t.Fatalf("subnets: %+v", n.Subnets)
			}
		}},
		{"allowed ranges replace the rule's", func(sp *cloud.NetworkSpec) {
			sp.AllowedCIDRs = []string{"10.40.0.0/16", "10.20.0.0/16", "10.50.0.0/16"}
		}, func(t *testing.T, n cloud.Network) {
			if !slices.Equal(n.AllowedCIDRs, []string{"10.20.0.0/16", "10.40.0.0/16", "10.50.0.0/16"}) ||
				!slices.Equal(rules(), []string{"allow-mesh Inbound Allow 100 10.20.0.0/16,10.40.0.0/16,10.50.0.0/16", "deny-all-inbound Inbound Deny 4096 *"}) {
				t.Fatalf("allowed %v, rules %v", n.AllowedCIDRs, rules())
			}
		}},
		{"no allowed ranges leave the deny rule", func(sp *cloud.NetworkSpec) { sp.AllowedCIDRs = nil }, func(t *testing.T, n cloud.Network) {
			if len(n.AllowedCIDRs) != 0 || !slices.Equal(rules(), []string{"deny-all-inbound Inbound Deny 4096 *"}) {
				t.Fatalf("allowed %v, rules %v", n.AllowedCIDRs, rules())
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.mod(&spec)
			n, err := s.b.EnsureNetwork(ctx, spec)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, n)
		})
	}

	// Another address space is a conflict, and changes nothing.
	writes := s.writeCount()
	other := spec
	other.CIDR = "10.21.0.0/16"
	_, err = s.b.EnsureNetwork(ctx, other)
	kindOf(t, err, cloud.KindConflict)
	if !strings.Contains(err.Error(), "address space 10.20.0.0/16, not 10.21.0.0/16") || s.writeCount() != writes {
		t.Fatalf("conflict: %v (%d writes)", err, s.writeCount()-writes)
	}
	// A subnet outside the address space is the cloud's 400.
	bad := spec
	bad.Subnets = append(slices.Clone(spec.Subnets), cloud.SubnetSpec{Zone: "9", CIDR: "10.99.0.0/20"})
	_, err = s.b.EnsureNetwork(ctx, bad)
	kindOf(t, err, cloud.KindInvalid)
	if !strings.Contains(err.Error(), "NetcfgInvalidSubnet") {
		t.Fatalf("invalid subnet: %v", err)
	}
}

// mirror registers the other cloud's end of every tunnel of a connection.
func (s *netSim) mirror(t *testing.T, spec cloud.VPNConnectionSpec, conn cloud.VPNConnection, asn int64) {
	t.Helper()
	for i, tun := range spec.Tunnels {
		if err := s.e.RegisterTunnelEnd(cloudsim.TunnelEnd{Cloud: "gcp", ID: fmt.Sprintf("%s/%d", spec.Name, i), LocalIP: tun.PeerIP, PeerIP: conn.LocalIPs[i],
			LocalInsideIP: tun.PeerInsideIP, PeerInsideIP: tun.LocalInsideIP, PSK: tun.PSK, LocalASN: spec.PeerASN, PeerASN: asn}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestVPNLifecycle(t *testing.T) {
	s := newNetSim(t)
	if _, err := s.b.EnsureNetwork(ctx, siteSpec("gf-weu", "10.20.0.0/16", "1")); err != nil {
		t.Fatal(err)
	}
	noGW := siteSpec("gf-bare", "10.21.0.0/16", "1")
	noGW.GatewayCIDR = ""
	if _, err := s.b.EnsureNetwork(ctx, noGW); err != nil {
		t.Fatal(err)
	}
	_, err := s.b.EnsureVPNGateway(ctx, cloud.GatewaySpec{Name: "gf-bare-gw", Region: testRegion, Network: "gf-bare", ASN: 65010})
	kindOf(t, err, cloud.KindInvalid)

	gwSpec := cloud.GatewaySpec{Name: "gf-weu-gw", Region: testRegion, Network: "gf-weu", ASN: 65010}
	gw, err := s.b.EnsureVPNGateway(ctx, gwSpec)
	if err != nil {
		t.Fatal(err)
	}
	if gw.Status != cloud.StatusActive || gw.ASN != 65010 || len(gw.PublicIPs) != 2 || gw.PublicIPs[0] == gw.PublicIPs[1] ||
		!strings.HasSuffix(gw.ID, "/resourceGroups/gf-weu-rg/providers/Microsoft.Network/virtualNetworkGateways/gf-weu-gw") {
		t.Fatalf("gateway: %+v", gw)
	}
	writes := s.writeCount()
	if again, err := s.b.EnsureVPNGateway(ctx, gwSpec); err != nil || !reflect.DeepEqual(again, gw) || s.writeCount() != writes {
		t.Fatalf("second EnsureVPNGateway: %v %+v (%d writes)", err, again, s.writeCount()-writes)
	}

	spec := cloud.VPNConnectionSpec{Name: "gf-weu-to-gcp", Region: testRegion, Network: "gf-weu", Gateway: "gf-weu-gw", Peer: "gcp/europe-west4",
		PeerASN: 64514, PeerCIDRs: []string{"10.30.0.0/16"}, Tunnels: []cloud.TunnelSpec{
			{InsideCIDR: "169.254.21.0/30", LocalInsideIP: "169.254.21.1", PeerInsideIP: "169.254.21.2", PeerIP: "203.0.113.10", PSK: "k0"},
			{InsideCIDR: "169.254.22.0/30", LocalInsideIP: "169.254.22.1", PeerInsideIP: "169.254.22.2", PeerIP: "203.0.113.11", PSK: "k1", Interface: 1},
		}}
	bad := spec
	bad.Tunnels = slices.Clone(spec.Tunnels)
	bad.Tunnels[1].LocalInsideIP = "169.254.10.1"
	_, err = s.b.EnsureVPNConnection(ctx, bad)
	kindOf(t, err, cloud.KindInvalid)
	if !strings.Contains(err.Error(), "169.254.21.0-169.254.22.255") {
		t.Fatalf("inside address error: %v", err)
	}

	conn, err := s.b.EnsureVPNConnection(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(conn.LocalIPs, gw.PublicIPs) || len(conn.Tunnels) != 2 || conn.Tunnels[0].PeerIP != "203.0.113.10" ||
		conn.Tunnels[0].Up || conn.Tunnels[1].Up || conn.Status != cloud.StatusActive {
		t.Fatalf("connection: %+v", conn)
	}
	// The gateway lists the inside addresses as custom BGP addresses.
	g, err := s.b.net.gateways.Get(ctx, "gf-weu-rg", "gf-weu-gw", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, pa := range g.Properties.BgpSettings.BgpPeeringAddresses {
		if len(pa.CustomBgpIPAddresses) != 1 || *pa.CustomBgpIPAddresses[0] != spec.Tunnels[i].LocalInsideIP {
			t.Fatalf("custom BGP addresses of ipconfig%d: %v", i, pa.CustomBgpIPAddresses)
		}
	}
	s.mirror(t, spec, conn, gw.ASN)
	up, err := s.backend().GetVPNConnection(ctx, testRegion, spec.Name)
	if err != nil || !up.Tunnels[0].Up || !up.Tunnels[1].Up {
		t.Fatalf("with the peer's ends: %v %+v", err, up)
	}
	for i, tn := range up.Tunnels {
		if tn.InsideCIDR != spec.Tunnels[i].InsideCIDR {
			t.Fatalf("tunnel %d inside range read back %q, want the spec's %q", i, tn.InsideCIDR, spec.Tunnels[i].InsideCIDR)
		}
	}
	writes = s.writeCount()
	if _, err := s.b.EnsureVPNConnection(ctx, spec); err != nil || s.writeCount() != writes {
		t.Fatalf("second EnsureVPNConnection: %v (%d writes)", err, s.writeCount()-writes)
	}
	// A rotated key is reconciled.
	rotated := spec
	rotated.Tunnels = slices.Clone(spec.Tunnels)
	rotated.Tunnels[0].PSK = "k0-new"
	if c, err := s.b.EnsureVPNConnection(ctx, rotated); err != nil || c.Tunnels[0].Up || !c.Tunnels[1].Up {
		t.Fatalf("rotated key: %v %+v", err, c)
	}
	if c, err := s.b.EnsureVPNConnection(ctx, spec); err != nil || !c.Tunnels[0].Up {
		t.Fatalf("key back: %v %+v", err, c)
	}

	// Teardown order is enforced by the cloud.
	kindOf(t, s.b.DeleteNetwork(ctx, testRegion, "gf-weu"), cloud.KindConflict)
	kindOf(t, s.b.DeleteVPNGateway(ctx, testRegion, "gf-weu-gw"), cloud.KindConflict)

	// A tunnel deleted out of band is reported missing, and restored.
	p, err := s.b.net.conns.BeginDelete(ctx, "gf-weu-rg", "gf-weu-to-gcp-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.PollUntilDone(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if c, err := s.b.GetVPNConnection(ctx, testRegion, spec.Name); err != nil || len(c.Tunnels) != 1 || len(c.LocalIPs) != 1 {
		t.Fatalf("after out-of-band delete: %v %+v", err, c)
	}
	if c, err := s.b.EnsureVPNConnection(ctx, spec); err != nil || len(c.Tunnels) != 2 || !c.Tunnels[1].Up {
		t.Fatalf("restored: %v %+v", err, c)
	}

	// Teardown by another process (nothing remembered).
	other := s.backend()
	for _, step := range []struct {
		name string
		del  func() error
		get  func() error
	}{
		{"connection", func() error { return other.DeleteVPNConnection(ctx, testRegion, spec.Name) },
			func() error { _, err := other.GetVPNConnection(ctx, testRegion, spec.Name); return err }},
		{"gateway", func() error { return other.DeleteVPNGateway(ctx, testRegion, "gf-weu-gw") },
			func() error { _, err := other.GetVPNGateway(ctx, testRegion, "gf-weu-gw"); return err }},
		{"network", func() error { return other.DeleteNetwork(ctx, testRegion, "gf-weu") },
			func() error { _, err := other.GetNetwork(ctx, testRegion, "gf-weu"); return err }},
		{"bare network", func() error { return other.DeleteNetwork(ctx, testRegion, "gf-bare") },
			func() error { _, err := other.GetNetwork(ctx, testRegion, "gf-bare"); return err }},
	} {
		if err := step.del(); err != nil {
			t.Fatalf("delete %s: %v", step.name, err)
		}
		kindOf(t, step.get(), cloud.KindNotFound)
		if err := step.del(); err != nil {
			t.Fatalf("delete %s again: %v", step.name, err)
		}
	}
	if got := s.resourceKinds(); len(got) != 0 {
		t.Fatalf("leftovers: %v", got)
	}
	if inv := s.e.Inventory(); !inv.Empty() {
		t.Fatalf("bookkeeping left: %+v", inv.Objects)
	}
	if up, _ := s.e.TunnelStatus("gcp", spec.Name+"/0"); up {
		t.Fatal("the peer's tunnel is still up")
	}
}

func TestVPNConnectionsInParallel(t *testing.T) {
	s := newNetSim(t)
	if _, err := s.b.EnsureNetwork(ctx, siteSpec("gf-weu", "10.20.0.0/16", "1")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.b.EnsureVPNGateway(ctx, cloud.GatewaySpec{Name: "gw", Region: testRegion, Network: "gf-weu", ASN: 65010}); err != nil {
		t.Fatal(err)
	}
	// Two peers at once: each adds its inside addresses to the one gateway.
	specs := []cloud.VPNConnectionSpec{}
	for i, peer := range []string{"aws", "gcp"} {
		specs = append(specs, cloud.VPNConnectionSpec{Name: "to-" + peer, Region: testRegion, Network: "gf-weu", Gateway: "gw", PeerASN: int64(64512 + i),
			Tunnels: []cloud.TunnelSpec{
				{LocalInsideIP: fmt.Sprintf("169.254.21.%d", 4*i+1), PeerInsideIP: fmt.Sprintf("169.254.21.%d", 4*i+2), PeerIP: fmt.Sprintf("203.0.113.%d", 10*i+1), PSK: "a"},
				{LocalInsideIP: fmt.Sprintf("169.254.22.%d", 4*i+1), PeerInsideIP: fmt.Sprintf("169.254.22.%d", 4*i+2), PeerIP: fmt.Sprintf("203.0.113.%d", 10*i+2), PSK: "b", Interface: 1},
			}})
	}
	errs := make([]error, len(specs))
	var wg sync.WaitGroup
	for i, spec := range specs {
		wg.Go(func() { _, errs[i] = s.b.EnsureVPNConnection(ctx, spec) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("%s: %v", specs[i].Name, err)
		}
	}
	g, err := s.b.net.gateways.Get(ctx, "gf-weu-rg", "gw", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, pa := range g.Properties.BgpSettings.BgpPeeringAddresses {
		var got []string
		for _, a := range pa.CustomBgpIPAddresses {
			got = append(got, *a)
		}
		slices.Sort(got)
		if want := []string{fmt.Sprintf("169.254.2%d.1", i+1), fmt.Sprintf("169.254.2%d.5", i+1)}; !slices.Equal(got, want) {
			t.Errorf("ipconfig%d custom BGP addresses %v, want %v", i, got, want)
		}
	}
}

// TestVPNConnectionToAWS: four tunnels to AWS (two AWS VPN connections,
// one per gateway instance) are four local network gateways and four
// connections, tunnels 0 and 2 on ipconfig0 and 1 and 3 on ipconfig1, each
// instance listing its two APIPA addresses; all four are up once AWS
// mirrors them. A connection built with two tunnels (gpufleet's earlier
// plan) keeps them untouched and gets the other two.
func TestVPNConnectionToAWS(t *testing.T) {
	s := newNetSim(t)
	if _, err := s.b.EnsureNetwork(ctx, siteSpec("gf-weu", "10.20.0.0/16", "1")); err != nil {
		t.Fatal(err)
	}
	gw, err := s.b.EnsureVPNGateway(ctx, cloud.GatewaySpec{Name: "gw", Region: testRegion, Network: "gf-weu", ASN: 65010})
	if err != nil {
		t.Fatal(err)
	}
	spec := cloud.VPNConnectionSpec{Name: "to-aws", Region: testRegion, Network: "gf-weu", Gateway: "gw", Peer: "aws/eu-central-1", PeerASN: 64600,
		PeerCIDRs: []string{"10.30.0.0/16"}}
	for i := range 4 {
		spec.Tunnels = append(spec.Tunnels, cloud.TunnelSpec{InsideCIDR: fmt.Sprintf("169.254.21.%d/30", 4*i), LocalInsideIP: fmt.Sprintf("169.254.21.%d", 4*i+2),
			PeerInsideIP: fmt.Sprintf("169.254.21.%d", 4*i+1), PeerIP: fmt.Sprintf("198.51.100.%d", i+1), PSK: fmt.Sprintf("key%d", i), Interface: i % 2})
	}
	old := spec
	old.Tunnels = spec.Tunnels[:2]
	before, err := s.b.EnsureVPNConnection(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	s.mirror(t, old, before, gw.ASN)
	oldConns := map[string]string{}
	for i := range 2 {
		c, err := s.b.net.conns.Get(ctx, "gf-weu-rg", fmt.Sprintf("to-aws-%d", i), nil)
		if err != nil {
			t.Fatal(err)
		}
		oldConns[*c.Name] = *c.Etag
	}

	conn, err := s.b.EnsureVPNConnection(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if len(conn.Tunnels) != 4 || !slices.Equal(conn.LocalIPs, []string{gw.PublicIPs[0], gw.PublicIPs[1], gw.PublicIPs[0], gw.PublicIPs[1]}) ||
		!conn.Tunnels[0].Up || !conn.Tunnels[1].Up {
		t.Fatalf("four tunnels: %+v", conn)
	}
	for name, etag := range oldConns {
		c, err := s.b.net.conns.Get(ctx, "gf-weu-rg", name, nil)
		if err != nil || *c.Etag != etag {
			t.Fatalf("connection %s of the two-tunnel plan was rewritten: %v", name, err)
		}
	}
	g, err := s.b.net.gateways.Get(ctx, "gf-weu-rg", "gw", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, pa := range g.Properties.BgpSettings.BgpPeeringAddresses {
		var got []string
		for _, a := range pa.CustomBgpIPAddresses {
			got = append(got, *a)
		}
		slices.Sort(got)
		want := []string{spec.Tunnels[i].LocalInsideIP, spec.Tunnels[i+2].LocalInsideIP}
		if slices.Sort(want); !slices.Equal(got, want) {
			t.Errorf("ipconfig%d custom BGP addresses %v, want %v", i, got, want)
		}
	}
	s.mirror(t, spec, conn, gw.ASN)
	up, err := s.b.GetVPNConnection(ctx, testRegion, spec.Name)
	if err != nil || slices.ContainsFunc(up.Tunnels, func(t cloud.TunnelStatus) bool { return !t.Up }) {
		t.Fatalf("with AWS mirroring all four: %v %+v", err, up)
	}
	bad := spec
	bad.Tunnels = slices.Clone(spec.Tunnels)
	bad.Tunnels[3].Interface = 2
	_, err = s.b.EnsureVPNConnection(ctx, bad)
	kindOf(t, err, cloud.KindInvalid)
	if err := s.b.DeleteVPNConnection(ctx, testRegion, spec.Name); err != nil {
		t.Fatal(err)
	}
	if err := s.b.DeleteVPNGateway(ctx, testRegion, "gw"); err != nil {
		t.Fatal(err)
	}
	if err := s.b.DeleteNetwork(ctx, testRegion, "gf-weu"); err != nil {
		t.Fatal(err)
	}
	if got := s.resourceKinds(); len(got) != 0 {
		t.Fatalf("leftovers: %v", got)
	}
}

func TestPeering(t *testing.T) {
	s := newNetSim(t)
	for _, sp := range []cloud.NetworkSpec{siteSpec("gf-a", "10.20.0.0/16", "1"), siteSpec("gf-b", "10.21.0.0/16", "1")} {
		if _, err := s.b.EnsureNetwork(ctx, sp); err != nil {
			t.Fatal(err)
		}
	}
	spec := cloud.PeeringSpec{Name: "gf-a-gf-b", A: cloud.PeeringSide{Region: testRegion, Network: "gf-a", CIDR: "10.20.0.0/16"},
		B: cloud.PeeringSide{Region: testRegion, Network: "gf-b", CIDR: "10.21.0.0/16"}}
	p, err := s.b.EnsurePeering(ctx, spec)
	if err != nil || !p.Active || !strings.HasSuffix(p.ID, "/virtualNetworks/gf-a/virtualNetworkPeerings/gf-a-gf-b") {
		t.Fatalf("peering: %v %+v", err, p)
	}
	for _, side := range []struct{ rg, vnet, remote string }{{"gf-a-rg", "gf-a", "gf-b"}, {"gf-b-rg", "gf-b", "gf-a"}} {
		got, err := s.b.net.peerings.Get(ctx, side.rg, side.vnet, spec.Name, nil)
		if err != nil || !*got.Properties.AllowVirtualNetworkAccess || !*got.Properties.AllowForwardedTraffic ||
			!strings.HasSuffix(*got.Properties.RemoteVirtualNetwork.ID, "/virtualNetworks/"+side.remote) {
			t.Fatalf("side %s: %v %+v", side.vnet, err, got.Properties)
		}
	}
	writes := s.writeCount()
	if again, err := s.b.EnsurePeering(ctx, spec); err != nil || again != p || s.writeCount() != writes {
		t.Fatalf("second EnsurePeering: %v %+v (%d writes)", err, again, s.writeCount()-writes)
	}
	kindOf(t, s.b.DeleteNetwork(ctx, testRegion, "gf-a"), cloud.KindConflict)

	// One side deleted out of band: inactive, and restored.
	dp, err := s.b.net.peerings.BeginDelete(ctx, "gf-b-rg", "gf-b", spec.Name, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dp.PollUntilDone(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := s.b.GetPeering(ctx, spec); err != nil || got.Active {
		t.Fatalf("one side: %v %+v", err, got)
	}
	if got, err := s.b.EnsurePeering(ctx, spec); err != nil || !got.Active {
		t.Fatalf("restored: %v %+v", err, got)
	}
	if err := s.b.DeletePeering(ctx, spec); err != nil {
		t.Fatal(err)
	}
	_, err = s.b.GetPeering(ctx, spec)
	kindOf(t, err, cloud.KindNotFound)
	if err := s.b.DeletePeering(ctx, spec); err != nil {
		t.Fatalf("delete again: %v", err)
	}
	for _, n := range []string{"gf-a", "gf-b"} {
		if err := s.b.DeleteNetwork(ctx, testRegion, n); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.resourceKinds(); len(got) != 0 {
		t.Fatalf("leftovers: %v", got)
	}
}

func TestNetworkThrottlingAndFaults(t *testing.T) {
	s := newNetSim(t)
	_, err := s.b.GetNetwork(ctx, testRegion, "nope")
	kindOf(t, err, cloud.KindNotFound)
	if _, err := s.b.EnsureNetwork(ctx, siteSpec("gf-weu", "10.20.0.0/16", "1")); err != nil {
		t.Fatal(err)
	}
	if err := s.e.SetRateLimit("azure", "GetVirtualNetwork", 0.001, 0); err != nil {
		t.Fatal(err)
	}
	_, err = s.b.GetNetwork(ctx, testRegion, "gf-weu")
	kindOf(t, err, cloud.KindThrottled)
	if err := s.e.SetRateLimit("azure", "GetVirtualNetwork", 0, 0); err != nil {
		t.Fatal(err)
	}

	gw := cloud.GatewaySpec{Name: "gw", Region: testRegion, Network: "gf-weu", ASN: 65010}
	if err := s.e.Inject(cloudsim.Fault{Cloud: "azure", Op: "CreateVirtualNetworkGateway", Err: &cloud.Error{Kind: cloud.KindTransient, Code: "Boom", Message: "unavailable"}}); err != nil {
		t.Fatal(err)
	}
	_, err = s.b.EnsureVPNGateway(ctx, gw)
	kindOf(t, err, cloud.KindTransient)
	if err := s.e.Inject(cloudsim.Fault{Cloud: "azure", Op: "CreatePublicIPAddress", Err: &cloud.Error{Kind: cloud.KindQuota, Code: "PublicIPCountLimitReached", Message: "limit"}}); err != nil {
		t.Fatal(err)
	}
	_, err = s.b.EnsureVPNGateway(ctx, cloud.GatewaySpec{Name: "gw2", Region: testRegion, Network: "gf-weu", ASN: 65010})
	kindOf(t, err, cloud.KindQuota)
	// The retry finds what the failed attempts created.
	if g, err := s.b.EnsureVPNGateway(ctx, gw); err != nil || g.Status != cloud.StatusActive {
		t.Fatalf("retry: %v %+v", err, g)
	}
	// A cancelled wait returns the context's error.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.b.EnsureVPNGateway(cctx, cloud.GatewaySpec{Name: "gw3", Region: testRegion, Network: "gf-weu", ASN: 65010}); !strings.Contains(fmt.Sprint(err), "context canceled") {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestClassifyNetwork(t *testing.T) {
	for _, tt := range []struct {
		status int
		code   string
		want   cloud.Kind
	}{
		{404, "ResourceNotFound", cloud.KindNotFound},
		{404, "ResourceGroupNotFound", cloud.KindNotFound},
		{409, "InUseSubnetCannotBeDeleted", cloud.KindConflict},
		{400, "InUseSubnetCannotBeDeleted", cloud.KindConflict}, // Azure's own status
		{400, "InUseNetworkSecurityGroupCannotBeDeleted", cloud.KindConflict},
		{400, "PublicIPAddressCannotBeDeleted", cloud.KindConflict},
		{409, "AnotherOperationInProgress", cloud.KindTransient},
		{409, "ResourceGroupDeletionBlocked", cloud.KindConflict},
		{429, "TooManyRequests", cloud.KindThrottled},
		{429, "SubscriptionRequestsThrottled", cloud.KindThrottled},
		{400, "PublicIPCountLimitReached", cloud.KindQuota},
		{400, "QuotaExceeded", cloud.KindQuota},
		{400, "NetcfgInvalidSubnet", cloud.KindInvalid},
		{400, "InvalidCustomBgpIpAddress", cloud.KindInvalid},
		{500, "InternalServerError", cloud.KindTransient},
	} {
		err := &azcore.ResponseError{StatusCode: tt.status, ErrorCode: tt.code, RawResponse: &http.Response{StatusCode: tt.status,
			Request: httptest.NewRequest(http.MethodGet, "https://management.azure.com/subscriptions/s", nil)}}
		if got := cloud.KindOf(classify("Op", err)); got != tt.want {
			t.Errorf("%d %s: %s, want %s", tt.status, tt.code, got, tt.want)
		}
	}
	if got := meshRules([]string{"10.1.0.0/16", "10.0.0.0/16", "10.1.0.0/16"}); len(got) != 2 || len(got[0].Properties.SourceAddressPrefixes) != 2 ||
		*got[0].Properties.SourceAddressPrefixes[0] != "10.0.0.0/16" || *got[1].Properties.Access != armnetwork.SecurityRuleAccessDeny {
		t.Fatalf("mesh rules: %+v", got)
	}
}

// TestOperationPollsRideOutThrottling: the status polls of a long-running
// operation (a virtual network PUT, a managed cluster PUT) throttled twice
// (429 with Retry-After) wait and poll again instead of failing the call,
// which would make the caller's retries repeat it.
func TestOperationPollsRideOutThrottling(t *testing.T) {
	s := newNetSim(t)
	throttle := func(op string) {
		if err := s.e.Inject(cloudsim.Fault{Cloud: "azure", Op: op, Times: 2,
			Err: &cloud.Error{Kind: cloud.KindThrottled, Cloud: "azure", Op: op, Code: "SubscriptionRequestsThrottled", Message: "too many reads"}}); err != nil {
			t.Fatal(err)
		}
	}
	throttle("GetNetworkOperation")
	if _, err := s.b.EnsureNetwork(ctx, siteSpec("gf-weu", "10.20.0.0/16", "1")); err != nil {
		t.Fatalf("network with its operation polls throttled: %v", err)
	}
	throttle("GetCluster")
	if _, err := s.b.CreateCluster(ctx, cloud.ClusterSpec{Name: "c1", Region: testRegion}); err != nil {
		t.Fatalf("cluster with its operation polls throttled: %v", err)
	}
}
