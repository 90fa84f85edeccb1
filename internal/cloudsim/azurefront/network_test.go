package azurefront

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v9"

	gcloud "github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

func TestNetworkVNetLifecycle(t *testing.T) {
	ev := newNetEnv(t, nil)
	ev.createRG("site-rg")
	nsg := ev.nsg("site-rg", "site-mesh", meshRule("10.0.0.0/16", "10.1.0.0/16"))
	if *nsg.Properties.ProvisioningState != armnetwork.ProvisioningStateSucceeded || len(nsg.Properties.DefaultSecurityRules) != 6 ||
		*nsg.Properties.SecurityRules[0].Properties.SourceAddressPrefixes[1] != "10.1.0.0/16" {
		t.Fatalf("nsg: %+v", nsg.Properties)
	}

	// The PUT answers 201 with Updating; the poller waits for Succeeded.
	p, err := ev.vnets.BeginCreateOrUpdate(ctx, "site-rg", "site", vnetSpec("10.0.0.0/16",
		subnetSpec("nodes-1", "10.0.0.0/20", *nsg.ID), subnetSpec("GatewaySubnet", "10.0.255.0/27", "")), nil)
	if err != nil {
		t.Fatal(err)
	}
	mid, err := ev.vnets.Get(ctx, "site-rg", "site", nil)
	if err != nil || *mid.Properties.ProvisioningState != armnetwork.ProvisioningStateUpdating {
		t.Fatalf("vnet while creating: %v %v", err, mid.Properties)
	}
	res, err := p.PollUntilDone(ctx, poll)
	if err != nil {
		t.Fatal(err)
	}
	v := res.VirtualNetwork
	if *v.ID != ev.id("site-rg", "virtualNetworks", "site") || *v.Properties.ProvisioningState != armnetwork.ProvisioningStateSucceeded ||
		len(v.Properties.Subnets) != 2 || *v.Properties.AddressSpace.AddressPrefixes[0] != "10.0.0.0/16" {
		t.Fatalf("vnet: %+v", v)
	}
	if got := *v.Properties.Subnets[1].Properties.NetworkSecurityGroup.ID; got != *nsg.ID {
		t.Errorf("nodes-1 nsg %s", got)
	}
	got, err := ev.nsgs.Get(ctx, "site-rg", "site-mesh", nil)
	if err != nil || len(got.Properties.Subnets) != 1 || !strings.HasSuffix(*got.Properties.Subnets[0].ID, "/subnets/nodes-1") {
		t.Fatalf("nsg subnets: %v %+v", err, got.Properties)
	}

	// Subnets have their own API; lists follow.
	sp, err := ev.subnets.BeginCreateOrUpdate(ctx, "site-rg", "site", "nodes-2", *subnetSpec("", "10.0.16.0/20", *nsg.ID), nil)
	sn := waitOK(t, sp, err)
	if *sn.Properties.AddressPrefix != "10.0.16.0/20" || *sn.Type != "Microsoft.Network/virtualNetworks/subnets" {
		t.Fatalf("subnet: %+v", sn)
	}
	var names []string
	for pager := ev.subnets.NewListPager("site-rg", "site", nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page.Value {
			names = append(names, *s.Name)
		}
	}
	if !slices.Equal(names, []string{"GatewaySubnet", "nodes-1", "nodes-2"}) {
		t.Fatalf("subnets %v", names)
	}
	var all []string
	for pager := ev.vnets.NewListAllPager(nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range page.Value {
			all = append(all, *v.ID)
		}
	}
	if !slices.Equal(all, []string{*v.ID}) {
		t.Fatalf("list all: %v", all)
	}
	ok(t, del(ev.subnets.BeginDelete(ctx, "site-rg", "site", "nodes-2", nil)))

	// Deletes of what is in use are refused; the rest goes in order.
	_, err = ev.nsgs.BeginDelete(ctx, "site-rg", "site-mesh", nil)
	if re := respErr(t, err); re.StatusCode != 409 || re.ErrorCode != "InUseNetworkSecurityGroupCannotBeDeleted" {
		t.Fatalf("delete associated nsg: %v", err)
	}
	ok(t, del(ev.vnets.BeginDelete(ctx, "site-rg", "site", nil)))
	if _, err := ev.vnets.Get(ctx, "site-rg", "site", nil); respErr(t, err).StatusCode != 404 || respErr(t, err).ErrorCode != "ResourceNotFound" {
		t.Fatalf("deleted vnet: %v", err)
	}
	if _, err := ev.subnets.Get(ctx, "site-rg", "site", "nodes-1", nil); respErr(t, err).StatusCode != 404 {
		t.Fatalf("subnet of deleted vnet: %v", err)
	}
	ok(t, del(ev.vnets.BeginDelete(ctx, "site-rg", "site", nil))) // 204: gone already
	ok(t, del(ev.nsgs.BeginDelete(ctx, "site-rg", "site-mesh", nil)))
	ok(t, del(ev.rg.BeginDelete(ctx, "site-rg", nil)))
	if inv := ev.e.Inventory(); !inv.Empty() {
		t.Fatalf("leftovers: %+v", inv)
	}
}

func TestNetworkInlineSubnetsReplace(t *testing.T) {
	ev := newNetEnv(t, nil)
	ev.createRG("rg")
	ev.vnet("rg", "v", "10.0.0.0/16", subnetSpec("a", "10.0.0.0/24", ""), subnetSpec("b", "10.0.1.0/24", ""))
	// A PUT without b removes it; the engine objects follow.
	v := ev.vnet("rg", "v", "10.0.0.0/16", subnetSpec("a", "10.0.0.0/24", ""), subnetSpec("c", "10.0.2.0/24", ""))
	var names []string
	for _, s := range v.Properties.Subnets {
		names = append(names, *s.Name)
	}
	var objs []string
	for _, o := range ev.e.Inventory().Resources().Objects {
		if o.Kind == "Subnet" {
			objs = append(objs, o.Name)
		}
	}
	if !slices.Equal(names, []string{"a", "c"}) || !slices.Equal(objs, []string{"rg/v/a", "rg/v/c"}) {
		t.Fatalf("subnets %v, objects %v", names, objs)
	}
}

func TestNetworkValidation(t *testing.T) {
	ev := newNetEnv(t, nil)
	ev.createRG("rg")
	ev.vnet("rg", "v", "10.0.0.0/16", subnetSpec("a", "10.0.0.0/24", ""), subnetSpec("GatewaySubnet", "10.0.255.0/27", ""))
	ev.vnet("rg", "nogw", "10.9.0.0/16", subnetSpec("a", "10.9.0.0/24", ""))
	ev.pip("rg", "gw-ip0")
	ev.pip("rg", "gw-ip1")
	subnet := func(prefix, nsg string) error {
		_, err := ev.subnets.BeginCreateOrUpdate(ctx, "rg", "v", "x", *subnetSpec("", prefix, nsg), nil)
		return err
	}
	rule := func(mod func(*armnetwork.SecurityRule)) error {
		r := meshRule("10.0.0.0/16")
		mod(r)
		_, err := ev.nsgs.BeginCreateOrUpdate(ctx, "rg", "n", armnetwork.SecurityGroup{Location: to.Ptr(location),
			Properties: &armnetwork.SecurityGroupPropertiesFormat{SecurityRules: []*armnetwork.SecurityRule{r}}}, nil)
		return err
	}
	gateway := func(mod func(*armnetwork.VirtualNetworkGateway)) error {
		g := ev.gatewaySpec("rg", "gw", "v", 65010, []string{"169.254.21.2"}, nil)
		mod(&g)
		_, err := ev.gws.BeginCreateOrUpdate(ctx, "rg", "gw", g, nil)
		return err
	}
	for _, tt := range []struct {
		name   string
		call   func() error
		status int
		code   string
	}{
		{"subnet not a CIDR", func() error { return subnet("10.0.1.0/33", "") }, 400, "InvalidCIDRNotation"},
		{"subnet not canonical", func() error { return subnet("10.0.1.7/24", "") }, 400, "InvalidCIDRNotation"},
		{"subnet outside the address space", func() error { return subnet("10.1.0.0/24", "") }, 400, "NetcfgInvalidSubnet"},
		{"subnet overlapping", func() error { return subnet("10.0.0.128/25", "") }, 400, "NetcfgSubnetRangesOverlap"},
		{"subnet with a missing nsg", func() error { return subnet("10.0.1.0/24", ev.id("rg", "networkSecurityGroups", "nope")) }, 400, "InvalidResourceReference"},
		{"inline subnets overlapping", func() error {
			_, err := ev.vnets.BeginCreateOrUpdate(ctx, "rg", "w", vnetSpec("10.5.0.0/16", subnetSpec("a", "10.5.0.0/24", ""), subnetSpec("b", "10.5.0.0/25", "")), nil)
			return err
		}, 400, "NetcfgSubnetRangesOverlap"},
		{"vnet in another location", func() error {
			s := vnetSpec("10.0.0.0/16")
			s.Location = to.Ptr("northeurope")
			_, err := ev.vnets.BeginCreateOrUpdate(ctx, "rg", "v", s, nil)
			return err
		}, 409, "InvalidResourceLocation"},
		{"vnet in a missing group", func() error {
			_, err := ev.vnets.BeginCreateOrUpdate(ctx, "nope", "v", vnetSpec("10.0.0.0/16"), nil)
			return err
		}, 404, "ResourceGroupNotFound"},
		{"rule priority", func() error {
			return rule(func(r *armnetwork.SecurityRule) { r.Properties.Priority = to.Ptr[int32](5000) })
		}, 400, "SecurityRuleInvalidPriority"},
		{"rule address", func() error {
			return rule(func(r *armnetwork.SecurityRule) {
				r.Properties.SourceAddressPrefixes = []*string{to.Ptr("10.0.0.0/99")}
			})
		}, 400, "SecurityRuleInvalidAddressPrefix"},
		{"rule protocol", func() error {
			return rule(func(r *armnetwork.SecurityRule) {
				r.Properties.Protocol = to.Ptr(armnetwork.SecurityRuleProtocol("Sctp"))
			})
		}, 400, "SecurityRuleParameterContainsUnsupportedValue"},
		{"rules with one priority", func() error {
			a, b := meshRule("10.0.0.0/16"), meshRule("10.1.0.0/16")
			b.Name = to.Ptr("other")
			_, err := ev.nsgs.BeginCreateOrUpdate(ctx, "rg", "n", armnetwork.SecurityGroup{Location: to.Ptr(location),
				Properties: &armnetwork.SecurityGroupPropertiesFormat{SecurityRules: []*armnetwork.SecurityRule{a, b}}}, nil)
			return err
		}, 400, "SecurityRuleConflict"},
		{"standard dynamic ip", func() error {
			s := pipSpec()
			s.Properties.PublicIPAllocationMethod = to.Ptr(armnetwork.IPAllocationMethodDynamic)
			_, err := ev.pips.BeginCreateOrUpdate(ctx, "rg", "dyn", s, nil)
			return err
		}, 400, "StandardSkuPublicIPAddressesMustBeStatic"},
		{"gateway sku", func() error {
			return gateway(func(g *armnetwork.VirtualNetworkGateway) {
				g.Properties.SKU.Name = to.Ptr(armnetwork.VirtualNetworkGatewaySKUName("VpnGw9"))
			})
		}, 400, "InvalidGatewaySku"},
		{"gateway without GatewaySubnet", func() error {
			return gateway(func(g *armnetwork.VirtualNetworkGateway) {
				for _, c := range g.Properties.IPConfigurations {
					c.Properties.Subnet.ID = to.Ptr(ev.id("rg", "virtualNetworks", "nogw") + "/subnets/a")
				}
			})
		}, 400, "InvalidGatewaySubnet"},
		{"gateway with a missing public ip", func() error {
			return gateway(func(g *armnetwork.VirtualNetworkGateway) {
				g.Properties.IPConfigurations[1].Properties.PublicIPAddress.ID = to.Ptr(ev.id("rg", "publicIPAddresses", "nope"))
			})
		}, 400, "InvalidResourceReference"},
		{"gateway with one public ip twice", func() error {
			return gateway(func(g *armnetwork.VirtualNetworkGateway) {
				g.Properties.IPConfigurations[1].Properties.PublicIPAddress = g.Properties.IPConfigurations[0].Properties.PublicIPAddress
			})
		}, 400, "PublicIPAddressInUse"},
		{"active-active with one ip configuration", func() error {
			return gateway(func(g *armnetwork.VirtualNetworkGateway) {
				g.Properties.IPConfigurations = g.Properties.IPConfigurations[:1]
			})
		}, 400, "ActiveActiveGatewayRequiresTwoIpConfigurations"},
		{"custom BGP address outside APIPA", func() error {
			return gateway(func(g *armnetwork.VirtualNetworkGateway) {
				g.Properties.BgpSettings.BgpPeeringAddresses[0].CustomBgpIPAddresses = []*string{to.Ptr("169.254.23.1")}
			})
		}, 400, "InvalidCustomBgpIpAddress"},
		{"reserved ASN", func() error {
			return gateway(func(g *armnetwork.VirtualNetworkGateway) { g.Properties.BgpSettings.Asn = to.Ptr[int64](65518) })
		}, 400, "InvalidAsn"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil {
				t.Fatal("accepted")
			}
			if re := respErr(t, err); re.StatusCode != tt.status || re.ErrorCode != tt.code {
				t.Fatalf("got %d %s, want %d %s: %v", re.StatusCode, re.ErrorCode, tt.status, tt.code, err)
			}
		})
	}
	// Nothing of the refused requests exists.
	for _, o := range ev.e.Inventory().Resources().Objects {
		if o.Name == "rg/v/x" || o.Name == "rg/n" || o.Name == "rg/gw" || o.Name == "rg/dyn" || o.Name == "rg/w" {
			t.Errorf("refused request left %s %s", o.Kind, o.Name)
		}
	}
}

func TestNetworkConnectionValidation(t *testing.T) {
	ev := newNetEnv(t, nil)
	ev.site("rg", "gw")
	ev.lng("rg", "peer", "203.0.113.10", 64512, "169.254.21.1")
	for _, tt := range []struct {
		name string
		mod  func(*armnetwork.VirtualNetworkGatewayConnection)
		code string
	}{
		{"empty shared key", func(c *armnetwork.VirtualNetworkGatewayConnection) { c.Properties.SharedKey = to.Ptr("") }, "SharedKeyRequired"},
		{"custom address not on the gateway", func(c *armnetwork.VirtualNetworkGatewayConnection) {
			c.Properties.GatewayCustomBgpIPAddresses[0].CustomBgpIPAddress = to.Ptr("169.254.21.6")
		}, "InvalidCustomBgpIpAddress"},
		{"missing local network gateway", func(c *armnetwork.VirtualNetworkGatewayConnection) {
			c.Properties.LocalNetworkGateway2.ID = to.Ptr(ev.id("rg", "localNetworkGateways", "nope"))
		}, "InvalidResourceReference"},
		{"vnet-to-vnet", func(c *armnetwork.VirtualNetworkGatewayConnection) {
			c.Properties.ConnectionType = to.Ptr(armnetwork.VirtualNetworkGatewayConnectionTypeVnet2Vnet)
		}, "InvalidRequestFormat"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := ev.connSpec("rg", "gw", "peer", "secret", "ipconfig0", "169.254.21.2")
			tt.mod(&c)
			_, err := ev.conns.BeginCreateOrUpdate(ctx, "rg", "c", c, nil)
			if re := respErr(t, err); re.StatusCode != 400 || re.ErrorCode != tt.code {
				t.Fatalf("got %d %s, want 400 %s", re.StatusCode, re.ErrorCode, tt.code)
			}
		})
	}
}

func TestNetworkVPNAndInUse(t *testing.T) {
	ev := newNetEnv(t, nil)
	gw := ev.site("rg", "gw")
	gp := gw.Properties
	ip0, err := ev.pips.Get(ctx, "rg", "gw-ip0", nil)
	if err != nil {
		t.Fatal(err)
	}
	ip1, _ := ev.pips.Get(ctx, "rg", "gw-ip1", nil)
	if *gp.ProvisioningState != armnetwork.ProvisioningStateSucceeded || !*gp.Active || *gp.BgpSettings.Asn != 65010 ||
		len(gp.BgpSettings.BgpPeeringAddresses) != 2 {
		t.Fatalf("gateway: %+v", gp)
	}
	pa := gp.BgpSettings.BgpPeeringAddresses
	if *pa[0].DefaultBgpIPAddresses[0] != "10.0.255.4" || *pa[1].DefaultBgpIPAddresses[0] != "10.0.255.5" ||
		*pa[0].CustomBgpIPAddresses[0] != "169.254.21.2" || *pa[0].TunnelIPAddresses[0] != *ip0.Properties.IPAddress ||
		*pa[1].TunnelIPAddresses[0] != *ip1.Properties.IPAddress || *gp.BgpSettings.BgpPeeringAddress != "10.0.255.4,10.0.255.5" {
		t.Fatalf("bgp peering addresses: %+v %+v", *pa[0], *pa[1])
	}
	if !strings.HasPrefix(*ip0.Properties.IPAddress, "198.18.") || *ip0.Properties.IPAddress == *ip1.Properties.IPAddress ||
		!strings.HasSuffix(*ip0.Properties.IPConfiguration.ID, "/virtualNetworkGateways/gw/ipConfigurations/ipconfig0") {
		t.Fatalf("public ips: %+v %+v", ip0.Properties, ip1.Properties)
	}
	sn, _ := ev.subnets.Get(ctx, "rg", "vnet", "GatewaySubnet", nil)
	if len(sn.Properties.IPConfigurations) != 2 {
		t.Fatalf("GatewaySubnet ip configurations: %+v", sn.Properties)
	}
	ev.lng("rg", "peer", "203.0.113.10", 64512, "169.254.21.1")
	cp, err := ev.conns.BeginCreateOrUpdate(ctx, "rg", "c", ev.connSpec("rg", "gw", "peer", "secret", "ipconfig0", "169.254.21.2"), nil)
	conn := waitOK(t, cp, err)
	if conn.Properties.SharedKey != nil || *conn.Properties.ConnectionStatus != armnetwork.VirtualNetworkGatewayConnectionStatusConnecting {
		t.Fatalf("connection: %+v", conn.Properties)
	}
	if key, err := ev.conns.GetSharedKey(ctx, "rg", "c", nil); err != nil || *key.Value != "secret" {
		t.Fatalf("shared key: %v %v", err, key)
	}

	for _, tt := range []struct {
		name string
		call func() error
		code string
	}{
		{"subnet with a gateway", func() error { _, err := ev.subnets.BeginDelete(ctx, "rg", "vnet", "GatewaySubnet", nil); return err }, "InUseSubnetCannotBeDeleted"},
		{"vnet with a gateway", func() error { _, err := ev.vnets.BeginDelete(ctx, "rg", "vnet", nil); return err }, "InUseSubnetCannotBeDeleted"},
		{"vnet PUT dropping GatewaySubnet", func() error {
			_, err := ev.vnets.BeginCreateOrUpdate(ctx, "rg", "vnet", vnetSpec("10.0.0.0/16", subnetSpec("nodes-1", "10.0.0.0/20", "")), nil)
			return err
		}, "InUseSubnetCannotBeDeleted"},
		{"public ip of a gateway", func() error { _, err := ev.pips.BeginDelete(ctx, "rg", "gw-ip0", nil); return err }, "PublicIPAddressCannotBeDeleted"},
		{"gateway with a connection", func() error { _, err := ev.gws.BeginDelete(ctx, "rg", "gw", nil); return err }, "InUseVirtualNetworkGatewayCannotBeDeleted"},
		{"local gateway with a connection", func() error { _, err := ev.lngs.BeginDelete(ctx, "rg", "peer", nil); return err }, "InUseLocalNetworkGatewayCannotBeDeleted"},
		{"resource group with network resources", func() error { _, err := ev.rg.BeginDelete(ctx, "rg", nil); return err }, "ResourceGroupDeletionBlocked"},
		{"gateway PUT dropping a custom address in use", func() error {
			_, err := ev.gws.BeginCreateOrUpdate(ctx, "rg", "gw", ev.gatewaySpec("rg", "gw", "vnet", 65010, nil, []string{"169.254.22.2"}), nil)
			return err
		}, "InvalidCustomBgpIpAddress"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			re := respErr(t, tt.call())
			want := 409
			if tt.code == "InvalidCustomBgpIpAddress" {
				want = 400
			}
			if re.StatusCode != want || re.ErrorCode != tt.code {
				t.Fatalf("got %d %s, want %d %s", re.StatusCode, re.ErrorCode, want, tt.code)
			}
		})
	}

	ok(t, del(ev.conns.BeginDelete(ctx, "rg", "c", nil)))
	ok(t, del(ev.lngs.BeginDelete(ctx, "rg", "peer", nil)))
	ok(t, del(ev.gws.BeginDelete(ctx, "rg", "gw", nil)))
	ok(t, del(ev.pips.BeginDelete(ctx, "rg", "gw-ip0", nil)))
	ok(t, del(ev.pips.BeginDelete(ctx, "rg", "gw-ip1", nil)))
	ok(t, del(ev.vnets.BeginDelete(ctx, "rg", "vnet", nil)))
	ok(t, del(ev.rg.BeginDelete(ctx, "rg", nil)))
	if inv := ev.e.Inventory(); !inv.Empty() {
		t.Fatalf("leftovers: %+v", inv.Objects)
	}
}

func TestNetworkConnectionStatus(t *testing.T) {
	ev := newNetEnv(t, nil)
	ev.site("rg", "gw")
	ip0, _ := ev.pips.Get(ctx, "rg", "gw-ip0", nil)
	ev.lng("rg", "peer", "203.0.113.10", 64512, "169.254.21.1")
	cp, err := ev.conns.BeginCreateOrUpdate(ctx, "rg", "c", ev.connSpec("rg", "gw", "peer", "secret", "ipconfig0", "169.254.21.2"), nil)
	waitOK(t, cp, err)
	// The other cloud's end of the same tunnel.
	mirror := cloudsim.TunnelEnd{Cloud: "aws", ID: "vpn-1/0", LocalIP: "203.0.113.10", PeerIP: *ip0.Properties.IPAddress,
		LocalInsideIP: "169.254.21.1", PeerInsideIP: "169.254.21.2", PSK: "secret", LocalASN: 64512, PeerASN: 65010}
	status := func() armnetwork.VirtualNetworkGatewayConnectionStatus {
		t.Helper()
		c, err := ev.conns.Get(ctx, "rg", "c", nil)
		if err != nil {
			t.Fatal(err)
		}
		return *c.Properties.ConnectionStatus
	}
	for _, tt := range []struct {
		name string
		end  *cloudsim.TunnelEnd
		want armnetwork.VirtualNetworkGatewayConnectionStatus
	}{
		{"no peer", nil, armnetwork.VirtualNetworkGatewayConnectionStatusConnecting},
		{"peer with another key", func() *cloudsim.TunnelEnd { m := mirror; m.PSK = "other"; return &m }(), armnetwork.VirtualNetworkGatewayConnectionStatusNotConnected},
		{"peer with another ASN", func() *cloudsim.TunnelEnd { m := mirror; m.PeerASN = 65011; return &m }(), armnetwork.VirtualNetworkGatewayConnectionStatusNotConnected},
		{"mirroring peer", &mirror, armnetwork.VirtualNetworkGatewayConnectionStatusConnected},
	} {
		if err := ev.e.UnregisterTunnelEnd(mirror.Cloud, mirror.ID); err != nil {
			t.Fatal(err)
		}
		if tt.end != nil {
			if err := ev.e.RegisterTunnelEnd(*tt.end); err != nil {
				t.Fatal(err)
			}
		}
		if got := status(); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
	if up, _ := ev.e.TunnelStatus("aws", "vpn-1/0"); !up {
		t.Fatal("the peer's end is not up")
	}
	// Rotating the key on Azure only breaks the tunnel.
	cp, err = ev.conns.BeginCreateOrUpdate(ctx, "rg", "c", ev.connSpec("rg", "gw", "peer", "rotated", "ipconfig0", "169.254.21.2"), nil)
	waitOK(t, cp, err)
	if got := status(); got != armnetwork.VirtualNetworkGatewayConnectionStatusNotConnected {
		t.Fatalf("after key rotation: %s", got)
	}
	ok(t, del(ev.conns.BeginDelete(ctx, "rg", "c", nil)))
	if up, detail := ev.e.TunnelStatus("aws", "vpn-1/0"); up || !strings.HasPrefix(detail, "waiting for the peer") {
		t.Fatalf("peer after delete: %v %s", up, detail)
	}
}

func TestNetworkPeering(t *testing.T) {
	ev := newNetEnv(t, nil)
	ev.createRG("a-rg")
	ev.createRG("b-rg")
	a := ev.vnet("a-rg", "a", "10.0.0.0/16")
	b := ev.vnet("b-rg", "b", "10.1.0.0/16")
	peer := func(rg, vnet, remote string) armnetwork.VirtualNetworkPeering {
		t.Helper()
		p, err := ev.peerings.BeginCreateOrUpdate(ctx, rg, vnet, "mesh", armnetwork.VirtualNetworkPeering{Properties: &armnetwork.VirtualNetworkPeeringPropertiesFormat{
			AllowVirtualNetworkAccess: to.Ptr(true), AllowForwardedTraffic: to.Ptr(true), RemoteVirtualNetwork: &armnetwork.SubResource{ID: to.Ptr(remote)},
		}}, nil)
		return waitOK(t, p, err).VirtualNetworkPeering
	}
	state := func(rg, vnet string) armnetwork.VirtualNetworkPeeringState {
		t.Helper()
		p, err := ev.peerings.Get(ctx, rg, vnet, "mesh", nil)
		if err != nil {
			t.Fatal(err)
		}
		return *p.Properties.PeeringState
	}
	if got := peer("a-rg", "a", *b.ID); *got.Properties.PeeringState != armnetwork.VirtualNetworkPeeringStateInitiated ||
		*got.Properties.RemoteAddressSpace.AddressPrefixes[0] != "10.1.0.0/16" {
		t.Fatalf("one side: %+v", got.Properties)
	}
	peer("b-rg", "b", *a.ID)
	if sa, sb := state("a-rg", "a"), state("b-rg", "b"); sa != armnetwork.VirtualNetworkPeeringStateConnected || sb != armnetwork.VirtualNetworkPeeringStateConnected {
		t.Fatalf("both sides: %s %s", sa, sb)
	}
	va, _ := ev.vnets.Get(ctx, "a-rg", "a", nil)
	if len(va.Properties.VirtualNetworkPeerings) != 1 || *va.Properties.VirtualNetworkPeerings[0].Name != "mesh" {
		t.Fatalf("vnet peerings: %+v", va.Properties.VirtualNetworkPeerings)
	}
	// Overlapping networks cannot peer.
	ev.createRG("c-rg")
	c := ev.vnet("c-rg", "c", "10.0.128.0/17")
	if _, err := ev.peerings.BeginCreateOrUpdate(ctx, "c-rg", "c", "mesh", armnetwork.VirtualNetworkPeering{Properties: &armnetwork.VirtualNetworkPeeringPropertiesFormat{
		RemoteVirtualNetwork: &armnetwork.SubResource{ID: a.ID}}}, nil); respErr(t, err).ErrorCode != "VnetAddressSpacesOverlap" {
		t.Fatalf("overlap: %v", err)
	}
	_ = c
	// One side deleted: the other is Disconnected until recreated.
	ok(t, del(ev.peerings.BeginDelete(ctx, "a-rg", "a", "mesh", nil)))
	if got := state("b-rg", "b"); got != armnetwork.VirtualNetworkPeeringStateDisconnected {
		t.Fatalf("after delete: %s", got)
	}
	peer("a-rg", "a", *b.ID)
	if sa, sb := state("a-rg", "a"), state("b-rg", "b"); sa != armnetwork.VirtualNetworkPeeringStateInitiated || sb != armnetwork.VirtualNetworkPeeringStateDisconnected {
		t.Fatalf("recreated one side: %s %s", sa, sb)
	}
	ok(t, del(ev.peerings.BeginDelete(ctx, "b-rg", "b", "mesh", nil)))
	peer("b-rg", "b", *a.ID)
	if sa, sb := state("a-rg", "a"), state("b-rg", "b"); sa != armnetwork.VirtualNetworkPeeringStateConnected || sb != armnetwork.VirtualNetworkPeeringStateConnected {
		t.Fatalf("recreated both: %s %s", sa, sb)
	}
	// Deleting a network takes its peerings; the remote side disconnects.
	ok(t, del(ev.vnets.BeginDelete(ctx, "b-rg", "b", nil)))
	if got := state("a-rg", "a"); got != armnetwork.VirtualNetworkPeeringStateDisconnected {
		t.Fatalf("after network delete: %s", got)
	}
}

func TestNetworkGatewayTakesLonger(t *testing.T) {
	clock := cloudsim.NewFakeClock(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
	ev := newNetEnv(t, clock)
	ev.createRG("rg")
	states := func() (vnet, gw armnetwork.ProvisioningState) {
		t.Helper()
		v, err := ev.vnets.Get(ctx, "rg", "vnet", nil)
		if err != nil {
			t.Fatal(err)
		}
		g, err := ev.gws.Get(ctx, "rg", "gw", nil)
		if err != nil {
			t.Fatal(err)
		}
		return *v.Properties.ProvisioningState, *g.Properties.ProvisioningState
	}
	if _, err := ev.vnets.BeginCreateOrUpdate(ctx, "rg", "vnet", vnetSpec("10.0.0.0/16", subnetSpec("GatewaySubnet", "10.0.255.0/27", "")), nil); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"gw-ip0", "gw-ip1"} {
		if _, err := ev.pips.BeginCreateOrUpdate(ctx, "rg", n, pipSpec(), nil); err != nil {
			t.Fatal(err)
		}
	}
	p, err := ev.gws.BeginCreateOrUpdate(ctx, "rg", "gw", ev.gatewaySpec("rg", "gw", "vnet", 65010, nil, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if v, g := states(); v != armnetwork.ProvisioningStateUpdating || g != armnetwork.ProvisioningStateUpdating {
		t.Fatalf("at once: %s %s", v, g)
	}
	// Azure refuses another PUT until the gateway is done.
	_, err = ev.gws.BeginCreateOrUpdate(ctx, "rg", "gw", ev.gatewaySpec("rg", "gw", "vnet", 65010, []string{"169.254.21.9"}, nil), nil)
	if re := respErr(t, err); re.StatusCode != 409 || re.ErrorCode != "AnotherOperationInProgress" {
		t.Fatalf("PUT while updating: %v", err)
	}
	clock.Advance(fastNet.Resource)
	if v, g := states(); v != armnetwork.ProvisioningStateSucceeded || g != armnetwork.ProvisioningStateUpdating {
		t.Fatalf("after the resource duration: %s %s", v, g)
	}
	if _, err := p.Poll(ctx); err != nil || p.Done() {
		t.Fatalf("gateway poll: %v done=%v", err, p.Done())
	}
	clock.Advance(fastNet.Gateway)
	if _, g := states(); g != armnetwork.ProvisioningStateSucceeded {
		t.Fatalf("after the gateway duration: %s", g)
	}
	if _, err := p.Poll(ctx); err != nil || !p.Done() {
		t.Fatalf("gateway poll: %v done=%v", err, p.Done())
	}
	res, err := p.Result(ctx)
	if err != nil || *res.Properties.ProvisioningState != armnetwork.ProvisioningStateSucceeded {
		t.Fatalf("result: %v", err)
	}
}

func TestNetworkThrottlingAndFaults(t *testing.T) {
	ev := newNetEnv(t, nil)
	ev.createRG("rg")
	ev.vnet("rg", "v", "10.0.0.0/16")
	if err := ev.e.SetRateLimit("azure", "GetVirtualNetwork", 0.001, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := ev.vnets.Get(ctx, "rg", "v", nil); err != nil {
		t.Fatal(err)
	}
	_, err := ev.vnets.Get(ctx, "rg", "v", nil)
	if re := respErr(t, err); re.StatusCode != http.StatusTooManyRequests || re.ErrorCode != "SubscriptionRequestsThrottled" ||
		re.RawResponse.Header.Get("Retry-After") != "1" {
		t.Fatalf("throttled: %v", err)
	}
	if err := ev.e.SetRateLimit("azure", "GetVirtualNetwork", 0, 0); err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name   string
		fault  cloudsim.Fault
		call   func() error
		status int
		code   string
	}{
		{"transient create", cloudsim.Fault{Cloud: "azure", Op: "CreateVirtualNetwork",
			Err: &gcloud.Error{Kind: gcloud.KindTransient, Code: "Boom", Message: "backend unavailable"}},
			func() error {
				_, err := ev.vnets.BeginCreateOrUpdate(ctx, "rg", "w", vnetSpec("10.2.0.0/16"), nil)
				return err
			}, 503, "ServiceUnavailable"},
		{"public ip limit", cloudsim.Fault{Cloud: "azure", Op: "CreatePublicIPAddress",
			Err: &gcloud.Error{Kind: gcloud.KindQuota, Code: "PublicIPCountLimitReached", Message: "Cannot create more than 10 public IP addresses for this subscription in this region."}},
			func() error { _, err := ev.pips.BeginCreateOrUpdate(ctx, "rg", "ip", pipSpec(), nil); return err }, 400, "PublicIPCountLimitReached"},
		{"operation status", cloudsim.Fault{Cloud: "azure", Op: "GetNetworkOperation",
			Err: &gcloud.Error{Kind: gcloud.KindTransient, Code: "Boom", Message: "backend unavailable"}},
			func() error {
				p, err := ev.nsgs.BeginCreateOrUpdate(ctx, "rg", "n", armnetwork.SecurityGroup{Location: to.Ptr(location)}, nil)
				_, err = wait(p, err)
				return err
			}, 503, "ServiceUnavailable"},
		// A record the engine cannot keep (a failure to persist) fails
		// the request instead of answering success and forgetting the
		// resource's settings.
		{"record not persisted", cloudsim.Fault{Cloud: "azure", Op: "CreateNetworkSecurityGroup",
			Err: &gcloud.Error{Kind: gcloud.KindFatal, Message: "disk full"}},
			func() error {
				_, err := ev.nsgs.BeginCreateOrUpdate(ctx, "rg", "n2", armnetwork.SecurityGroup{Location: to.Ptr(location)}, nil)
				return err
			}, 500, "InternalServerError"},
		{"delete", cloudsim.Fault{Cloud: "azure", Op: "DeleteVirtualNetwork",
			Err: &gcloud.Error{Kind: gcloud.KindConflict, Code: "AnotherOperationInProgress", Message: "Another operation on this or dependent resource is in progress."}},
			func() error { _, err := ev.vnets.BeginDelete(ctx, "rg", "v", nil); return err }, 409, "AnotherOperationInProgress"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := ev.e.Inject(tt.fault); err != nil {
				t.Fatal(err)
			}
			if re := respErr(t, tt.call()); re.StatusCode != tt.status || re.ErrorCode != tt.code {
				t.Fatalf("got %d %s, want %d %s", re.StatusCode, re.ErrorCode, tt.status, tt.code)
			}
		})
	}
	// The faulted requests changed nothing.
	if _, err := ev.vnets.Get(ctx, "rg", "v", nil); err != nil {
		t.Fatalf("vnet after the faulted delete: %v", err)
	}
	if _, err := ev.vnets.Get(ctx, "rg", "w", nil); respErr(t, err).StatusCode != 404 {
		t.Fatalf("vnet of the faulted create: %v", err)
	}
}

func TestNetworkDurationsFollowTheEngine(t *testing.T) {
	for _, tt := range []struct {
		engine            cloudsim.Durations
		resource, gateway time.Duration
	}{
		{cloudsim.DefaultDurations, 500 * time.Millisecond, 6 * time.Second},
		{fast, 15 * time.Millisecond, 60 * time.Millisecond},
	} {
		e, err := cloudsim.New(cloudsim.Config{Durations: tt.engine})
		if err != nil {
			t.Fatal(err)
		}
		s := New(e, Options{}).(*server)
		if r, g := s.netDuration(kindVNet), s.netDuration(kindGateway); r != tt.resource || g != tt.gateway {
			t.Errorf("engine %+v: resource %s gateway %s, want %s %s", tt.engine, r, g, tt.resource, tt.gateway)
		}
	}
}
