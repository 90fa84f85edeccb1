package azurefront

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	azcloud "github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v9"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v3"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

var fastNet = NetworkDurations{Resource: 20 * time.Millisecond, Gateway: 60 * time.Millisecond}

// netEnv is a front end with the armnetwork clients pointed at it.
type netEnv struct {
	t        *testing.T
	e        *cloudsim.Engine
	srv      *httptest.Server
	rg       *armresources.ResourceGroupsClient
	vnets    *armnetwork.VirtualNetworksClient
	subnets  *armnetwork.SubnetsClient
	peerings *armnetwork.VirtualNetworkPeeringsClient
	nsgs     *armnetwork.SecurityGroupsClient
	pips     *armnetwork.PublicIPAddressesClient
	gws      *armnetwork.VirtualNetworkGatewaysClient
	lngs     *armnetwork.LocalNetworkGatewaysClient
	conns    *armnetwork.VirtualNetworkGatewayConnectionsClient
}

// newNetEnv starts a front end; clock nil is real time. Retries are off,
// so that throttling and faults reach the test.
func newNetEnv(t *testing.T, clock *cloudsim.FakeClock) *netEnv {
	t.Helper()
	cfg := cloudsim.Config{Durations: fast}
	opts := Options{SubscriptionID: sub, Network: fastNet}
	if clock != nil {
		cfg.Clock, opts.Clock = clock, clock
	}
	e, err := cloudsim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ev := &netEnv{t: t, e: e, srv: httptest.NewTLSServer(New(e, opts))}
	t.Cleanup(ev.srv.Close)
	o := &arm.ClientOptions{ClientOptions: azcore.ClientOptions{
		Cloud: azcloud.Configuration{ActiveDirectoryAuthorityHost: ev.srv.URL, Services: map[azcloud.ServiceName]azcloud.ServiceConfiguration{
			azcloud.ResourceManager: {Endpoint: ev.srv.URL, Audience: "https://management.azure.com"},
		}},
		Transport: ev.srv.Client(),
		Retry:     policy.RetryOptions{MaxRetries: -1},
	}}
	if ev.rg, err = armresources.NewResourceGroupsClient(sub, fakeCred{}, o); err != nil {
		t.Fatal(err)
	}
	f, err := armnetwork.NewClientFactory(sub, fakeCred{}, o)
	if err != nil {
		t.Fatal(err)
	}
	ev.vnets, ev.subnets, ev.peerings = f.NewVirtualNetworksClient(), f.NewSubnetsClient(), f.NewVirtualNetworkPeeringsClient()
	ev.nsgs, ev.pips, ev.gws = f.NewSecurityGroupsClient(), f.NewPublicIPAddressesClient(), f.NewVirtualNetworkGatewaysClient()
	ev.lngs, ev.conns = f.NewLocalNetworkGatewaysClient(), f.NewVirtualNetworkGatewayConnectionsClient()
	return ev
}

func (ev *netEnv) createRG(name string) {
	ev.t.Helper()
	if _, err := ev.rg.CreateOrUpdate(ctx, name, armresources.ResourceGroup{Location: to.Ptr(location)}, nil); err != nil {
		ev.t.Fatal(err)
	}
}

func (ev *netEnv) id(rg, typ, name string) string {
	return "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/Microsoft.Network/" + typ + "/" + name
}

// wait runs a Begin* call's poller.
func wait[T any](p *runtime.Poller[T], err error) (T, error) {
	var zero T
	if err != nil {
		return zero, err
	}
	return p.PollUntilDone(ctx, poll)
}

// waitOK runs a Begin* call's poller and fails the test on an error.
func waitOK[T any](t *testing.T, p *runtime.Poller[T], err error) T {
	t.Helper()
	v, err := wait(p, err)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func subnetSpec(name, prefix, nsgID string) *armnetwork.Subnet {
	sn := &armnetwork.Subnet{Name: to.Ptr(name), Properties: &armnetwork.SubnetPropertiesFormat{AddressPrefix: to.Ptr(prefix)}}
	if nsgID != "" {
		sn.Properties.NetworkSecurityGroup = &armnetwork.SecurityGroup{ID: to.Ptr(nsgID)}
	}
	return sn
}

func vnetSpec(cidr string, subnets ...*armnetwork.Subnet) armnetwork.VirtualNetwork {
	return armnetwork.VirtualNetwork{Location: to.Ptr(location), Properties: &armnetwork.VirtualNetworkPropertiesFormat{
		AddressSpace: &armnetwork.AddressSpace{AddressPrefixes: []*string{to.Ptr(cidr)}}, Subnets: subnets,
	}}
}

func (ev *netEnv) vnet(rg, name, cidr string, subnets ...*armnetwork.Subnet) armnetwork.VirtualNetwork {
	ev.t.Helper()
	p, err := ev.vnets.BeginCreateOrUpdate(ctx, rg, name, vnetSpec(cidr, subnets...), nil)
	return waitOK(ev.t, p, err).VirtualNetwork
}

func meshRule(prefixes ...string) *armnetwork.SecurityRule {
	var src []*string
	for _, p := range prefixes {
		src = append(src, to.Ptr(p))
	}
	return &armnetwork.SecurityRule{Name: to.Ptr("allow-mesh"), Properties: &armnetwork.SecurityRulePropertiesFormat{
		Access: to.Ptr(armnetwork.SecurityRuleAccessAllow), Direction: to.Ptr(armnetwork.SecurityRuleDirectionInbound),
		Priority: to.Ptr[int32](100), Protocol: to.Ptr(armnetwork.SecurityRuleProtocolAsterisk),
		SourceAddressPrefixes: src, SourcePortRange: to.Ptr("*"), DestinationAddressPrefix: to.Ptr("*"), DestinationPortRange: to.Ptr("*"),
	}}
}

func (ev *netEnv) nsg(rg, name string, rules ...*armnetwork.SecurityRule) armnetwork.SecurityGroup {
	ev.t.Helper()
	p, err := ev.nsgs.BeginCreateOrUpdate(ctx, rg, name, armnetwork.SecurityGroup{Location: to.Ptr(location),
		Properties: &armnetwork.SecurityGroupPropertiesFormat{SecurityRules: rules}}, nil)
	return waitOK(ev.t, p, err).SecurityGroup
}

func pipSpec() armnetwork.PublicIPAddress {
	return armnetwork.PublicIPAddress{Location: to.Ptr(location),
		SKU:        &armnetwork.PublicIPAddressSKU{Name: to.Ptr(armnetwork.PublicIPAddressSKUNameStandard)},
		Properties: &armnetwork.PublicIPAddressPropertiesFormat{PublicIPAllocationMethod: to.Ptr(armnetwork.IPAllocationMethodStatic)}}
}

func (ev *netEnv) pip(rg, name string) armnetwork.PublicIPAddress {
	ev.t.Helper()
	p, err := ev.pips.BeginCreateOrUpdate(ctx, rg, name, pipSpec(), nil)
	return waitOK(ev.t, p, err).PublicIPAddress
}

// gatewaySpec is an active-active BGP gateway on vnet's GatewaySubnet with
// the public IPs ip0 and ip1 and custom BGP addresses per configuration.
func (ev *netEnv) gatewaySpec(rg, name, vnet string, asn int64, custom0, custom1 []string) armnetwork.VirtualNetworkGateway {
	gwID := ev.id(rg, "virtualNetworkGateways", name)
	var cfgs []*armnetwork.VirtualNetworkGatewayIPConfiguration
	var peering []*armnetwork.IPConfigurationBgpPeeringAddress
	for i, custom := range [][]string{custom0, custom1} {
		cfg := "ipconfig" + string(rune('0'+i))
		cfgs = append(cfgs, &armnetwork.VirtualNetworkGatewayIPConfiguration{Name: to.Ptr(cfg), Properties: &armnetwork.VirtualNetworkGatewayIPConfigurationPropertiesFormat{
			Subnet:          &armnetwork.SubResource{ID: to.Ptr(ev.id(rg, "virtualNetworks", vnet) + "/subnets/GatewaySubnet")},
			PublicIPAddress: &armnetwork.SubResource{ID: to.Ptr(ev.id(rg, "publicIPAddresses", name+"-ip"+string(rune('0'+i))))},
		}})
		var ips []*string
		for _, c := range custom {
			ips = append(ips, to.Ptr(c))
		}
		peering = append(peering, &armnetwork.IPConfigurationBgpPeeringAddress{IPConfigurationID: to.Ptr(gwID + "/ipConfigurations/" + cfg), CustomBgpIPAddresses: ips})
	}
	return armnetwork.VirtualNetworkGateway{Location: to.Ptr(location), Properties: &armnetwork.VirtualNetworkGatewayPropertiesFormat{
		GatewayType: to.Ptr(armnetwork.VirtualNetworkGatewayTypeVPN), VPNType: to.Ptr(armnetwork.VPNTypeRouteBased),
		SKU:    &armnetwork.VirtualNetworkGatewaySKU{Name: to.Ptr(armnetwork.VirtualNetworkGatewaySKUNameVPNGw2AZ), Tier: to.Ptr(armnetwork.VirtualNetworkGatewaySKUTierVPNGw2AZ)},
		Active: to.Ptr(true), EnableBgp: to.Ptr(true), IPConfigurations: cfgs,
		BgpSettings: &armnetwork.BgpSettings{Asn: to.Ptr(asn), BgpPeeringAddresses: peering},
	}}
}

// site creates a resource group with a network (GatewaySubnet
// 10.0.255.0/27), two public IPs and an active-active gateway.
func (ev *netEnv) site(rg, gw string) armnetwork.VirtualNetworkGateway {
	ev.t.Helper()
	ev.createRG(rg)
	ev.vnet(rg, "vnet", "10.0.0.0/16", subnetSpec("nodes-1", "10.0.0.0/20", ""), subnetSpec("GatewaySubnet", "10.0.255.0/27", ""))
	ev.pip(rg, gw+"-ip0")
	ev.pip(rg, gw+"-ip1")
	p, err := ev.gws.BeginCreateOrUpdate(ctx, rg, gw, ev.gatewaySpec(rg, gw, "vnet", 65010, []string{"169.254.21.2"}, []string{"169.254.22.2"}), nil)
	return waitOK(ev.t, p, err).VirtualNetworkGateway
}

func (ev *netEnv) lng(rg, name, ip string, asn int64, bgpIP string) armnetwork.LocalNetworkGateway {
	ev.t.Helper()
	p, err := ev.lngs.BeginCreateOrUpdate(ctx, rg, name, armnetwork.LocalNetworkGateway{Location: to.Ptr(location), Properties: &armnetwork.LocalNetworkGatewayPropertiesFormat{
		GatewayIPAddress: to.Ptr(ip), BgpSettings: &armnetwork.BgpSettings{Asn: to.Ptr(asn), BgpPeeringAddress: to.Ptr(bgpIP)},
		LocalNetworkAddressSpace: &armnetwork.AddressSpace{AddressPrefixes: []*string{to.Ptr("10.1.0.0/16")}},
	}}, nil)
	return waitOK(ev.t, p, err).LocalNetworkGateway
}

func (ev *netEnv) connSpec(rg, gw, lng, psk, cfg, customIP string) armnetwork.VirtualNetworkGatewayConnection {
	gwID := ev.id(rg, "virtualNetworkGateways", gw)
	return armnetwork.VirtualNetworkGatewayConnection{Location: to.Ptr(location), Properties: &armnetwork.VirtualNetworkGatewayConnectionPropertiesFormat{
		ConnectionType: to.Ptr(armnetwork.VirtualNetworkGatewayConnectionTypeIPsec), ConnectionProtocol: to.Ptr(armnetwork.VirtualNetworkGatewayConnectionProtocolIKEv2),
		SharedKey: to.Ptr(psk), EnableBgp: to.Ptr(true),
		VirtualNetworkGateway1: &armnetwork.VirtualNetworkGateway{ID: to.Ptr(gwID)},
		LocalNetworkGateway2:   &armnetwork.LocalNetworkGateway{ID: to.Ptr(ev.id(rg, "localNetworkGateways", lng))},
		GatewayCustomBgpIPAddresses: []*armnetwork.GatewayCustomBgpIPAddressIPConfiguration{{
			IPConfigurationID: to.Ptr(gwID + "/ipConfigurations/" + cfg), CustomBgpIPAddress: to.Ptr(customIP),
		}},
	}}
}

// del runs a Begin*Delete's poller.
func del[T any](p *runtime.Poller[T], err error) error {
	_, err = wait(p, err)
	return err
}

// ok fails the test on an error.
func ok(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
