package azure

// Site networks on Azure (cloud.NetworkBackend) through armnetwork/v9.
//
// Every site network lives in its own resource group "<network>-rg" in
// the network's region, created with the network and deleted after it:
//
//   - the virtual network <network> (addressSpace = the site CIDR) with a
//     subnet "nodes-<zone>" per zone (Azure subnets are regional; the zone
//     only names them) associated with the security group, and
//     "GatewaySubnet" when the spec has a gateway CIDR (no security group:
//     Azure does not support one on the gateway subnet);
//   - the network security group "<network>-mesh": "allow-mesh" (inbound,
//     priority 100, all protocols and ports from the mesh's ranges) and
//     "deny-all-inbound" (priority 4096), reconciled to exactly these;
//   - the VPN gateway <gateway> (route-based, VpnGw2AZ, active-active,
//     BGP with the spec's ASN; IP configurations ipconfig0 and ipconfig1
//     in GatewaySubnet) with its Standard static public IPs
//     "<gateway>-ip0" and "<gateway>-ip1";
//   - per tunnel i of a VPN connection <conn>: a local network gateway and
//     a connection both named "<conn>-<i>" (IPsec, IKEv2, BGP, the
//     tunnel's key; the connection's custom APIPA BGP address is the
//     tunnel's local inside address on the gateway's IP configuration
//     TunnelSpec.Interface, which the gateway's bgpSettings must list: the
//     gateway is updated when it does not). Four tunnels to AWS are four
//     local network gateways and four connections, two per gateway
//     instance, as in Microsoft's "How to connect AWS and Azure using a
//     BGP-enabled VPN gateway"
//     (https://learn.microsoft.com/azure/vpn-gateway/vpn-gateway-howto-aws-bgp);
//   - a peering <peering> on both virtual networks.
//
// Gateways and connections are found by name alone (GetVPNGateway,
// GetVPNConnection, their deletes): in the resource group remembered by
// this process's Ensure call, or else by looking for them in the resource
// groups of the subscription's virtual networks in the region.
// Retries are left to the caller: errors are classified (classify).

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v9"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v3"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
)

var _ cloud.NetworkBackend = (*Backend)(nil)

// Names of what gpufleet creates for a site.
const (
	gatewaySubnet = "GatewaySubnet"
	meshRuleName  = "allow-mesh"
	denyRuleName  = "deny-all-inbound"
	gatewaySKU    = armnetwork.VirtualNetworkGatewaySKUNameVPNGw2AZ
)

func nsgName(network string) string        { return network + "-mesh" }
func nodeSubnet(zone string) string        { return "nodes-" + zone }
func pipName(gateway string, i int) string { return fmt.Sprintf("%s-ip%d", gateway, i) }
func ipConfigName(i int) string            { return fmt.Sprintf("ipconfig%d", i) }
func tunnelName(conn string, i int) string { return fmt.Sprintf("%s-%d", conn, i) }

// netClients are the armnetwork clients, made on first use from the
// credential and options New made, and the resource groups found for
// gateways and connections.
type netClients struct {
	once     sync.Once
	err      error
	vnets    *armnetwork.VirtualNetworksClient
	nsgs     *armnetwork.SecurityGroupsClient
	pips     *armnetwork.PublicIPAddressesClient
	gateways *armnetwork.VirtualNetworkGatewaysClient
	lngs     *armnetwork.LocalNetworkGatewaysClient
	conns    *armnetwork.VirtualNetworkGatewayConnectionsClient
	peerings *armnetwork.VirtualNetworkPeeringsClient

	mu     sync.Mutex
	groups map[string]string // kind/region/name -> resource group
	// gwLocks serialise the updates of one gateway's custom BGP
	// addresses by this process (rg/name -> lock).
	gwLocks map[string]*sync.Mutex
}

// gatewayLock returns the lock of a gateway's updates.
func (n *netClients) gatewayLock(rg, name string) *sync.Mutex {
	n.mu.Lock()
	defer n.mu.Unlock()
	k := strings.ToLower(rg + "/" + name)
	if n.gwLocks[k] == nil {
		n.gwLocks[k] = &sync.Mutex{}
	}
	return n.gwLocks[k]
}

func (b *Backend) network(op string) (*netClients, error) {
	n := &b.net
	n.once.Do(func() {
		f, err := armnetwork.NewClientFactory(b.cfg.SubscriptionID, b.cred, &b.opts)
		if err != nil {
			n.err = err
			return
		}
		n.vnets, n.nsgs, n.pips = f.NewVirtualNetworksClient(), f.NewSecurityGroupsClient(), f.NewPublicIPAddressesClient()
		n.gateways, n.lngs, n.conns = f.NewVirtualNetworkGatewaysClient(), f.NewLocalNetworkGatewaysClient(), f.NewVirtualNetworkGatewayConnectionsClient()
		n.peerings = f.NewVirtualNetworkPeeringsClient()
		n.groups, n.gwLocks = map[string]string{}, map[string]*sync.Mutex{}
	})
	if n.err != nil {
		return nil, cloud.Fatal("azure", op, "ClientError", "creating the armnetwork clients failed").Caused(n.err)
	}
	return n, nil
}

// networkKind classifies Microsoft.Network error codes (lower case) that
// the status alone gets wrong: Azure answers 400 for resources in use,
// and 409 AnotherOperationInProgress passes when the other operation
// ends (a retry helps).
func networkKind(code string) (cloud.Kind, bool) {
	switch {
	case code == "publicipcountlimitreached":
		return cloud.KindQuota, true
	case code == "anotheroperationinprogress":
		return cloud.KindTransient, true
	case strings.HasPrefix(code, "inuse") || strings.HasSuffix(code, "cannotbedeleted") || code == "resourcegroupdeletionblocked":
		return cloud.KindConflict, true
	}
	return 0, false
}

// done waits for an LRO and classifies its error.
func done[T any](ctx context.Context, b *Backend, op string, p *runtime.Poller[T], err error) (T, error) {
	var zero T
	if err != nil {
		return zero, classify(op, err)
	}
	res, err := untilDone(ctx, b, op, p)
	if err != nil {
		if ctx.Err() != nil {
			return zero, ctx.Err()
		}
		return zero, classify(op, err)
	}
	return res, nil
}

// gone waits for a delete; what is already gone is not an error.
func gone[T any](ctx context.Context, b *Backend, op string, p *runtime.Poller[T], err error) error {
	_, err = done(ctx, b, op, p, err)
	return cloud.IgnoreNotFound(err)
}

// found reports whether a GET found its resource; other errors are
// returned classified.
func found(op string, err error) (bool, error) {
	if err == nil {
		return true, nil
	}
	if cerr := classify(op, err); !cloud.IsNotFound(cerr) {
		return false, cerr
	}
	return false, nil
}

func normLocation(l string) string { return strings.ToLower(strings.ReplaceAll(l, " ", "")) }

// ---- networks ----

func checkNetworkSpec(spec cloud.NetworkSpec) error {
	const op = "EnsureNetwork"
	if spec.Name == "" || spec.Region == "" {
		return cloud.Invalid("azure", op, "InvalidSpec", "a network needs a name and a region")
	}
	for _, c := range append([]string{spec.CIDR, spec.GatewayCIDR}, spec.AllowedCIDRs...) {
		if _, err := netip.ParsePrefix(c); c != "" && err != nil {
			return cloud.Invalid("azure", op, "InvalidSpec", "network %s: %q is not a CIDR", spec.Name, c)
		}
	}
	seen := map[string]bool{}
	for _, s := range spec.Subnets {
		if s.Zone == "" || seen[s.Zone] {
			return cloud.Invalid("azure", op, "InvalidSpec", "network %s: subnets need distinct zones (zone %q)", spec.Name, s.Zone)
		}
		seen[s.Zone] = true
	}
	return nil
}

// meshRules are the security rules of a site: the mesh's ranges in,
// everything else inbound out.
func meshRules(allowed []string) []*armnetwork.SecurityRule {
	src := slices.Clone(allowed)
	slices.Sort(src)
	src = slices.Compact(src)
	var rules []*armnetwork.SecurityRule
	if len(src) > 0 {
		var prefixes []*string
		for _, c := range src {
			prefixes = append(prefixes, to.Ptr(c))
		}
		rules = append(rules, &armnetwork.SecurityRule{Name: to.Ptr(meshRuleName), Properties: &armnetwork.SecurityRulePropertiesFormat{
			Description: to.Ptr("gpufleet: the mesh's sites"),
			Access:      to.Ptr(armnetwork.SecurityRuleAccessAllow), Direction: to.Ptr(armnetwork.SecurityRuleDirectionInbound),
			Priority: to.Ptr[int32](100), Protocol: to.Ptr(armnetwork.SecurityRuleProtocolAsterisk),
			SourceAddressPrefixes: prefixes, SourcePortRange: to.Ptr("*"), DestinationAddressPrefix: to.Ptr("*"), DestinationPortRange: to.Ptr("*"),
		}})
	}
	return append(rules, &armnetwork.SecurityRule{Name: to.Ptr(denyRuleName), Properties: &armnetwork.SecurityRulePropertiesFormat{
		Description: to.Ptr("gpufleet: nothing else inbound"),
		Access:      to.Ptr(armnetwork.SecurityRuleAccessDeny), Direction: to.Ptr(armnetwork.SecurityRuleDirectionInbound),
		Priority: to.Ptr[int32](4096), Protocol: to.Ptr(armnetwork.SecurityRuleProtocolAsterisk),
		SourceAddressPrefix: to.Ptr("*"), SourcePortRange: to.Ptr("*"), DestinationAddressPrefix: to.Ptr("*"), DestinationPortRange: to.Ptr("*"),
	}})
}

// ruleSig describes what a rule does, for comparing rule sets.
func ruleSig(r *armnetwork.SecurityRule) string {
	p := r.Properties
	if p == nil {
		return str(r.Name)
	}
	list := func(one *string, many []*string) string {
		var out []string
		if one != nil && *one != "" {
			out = append(out, *one)
		}
		for _, m := range many {
			out = append(out, str(m))
		}
		slices.Sort(out)
		return strings.Join(out, ",")
	}
	var prio int32
	if p.Priority != nil {
		prio = *p.Priority
	}
	return strings.ToLower(fmt.Sprintf("%s|%v|%v|%d|%v|%s|%s|%s|%s", str(r.Name), deref(p.Access), deref(p.Direction), prio, deref(p.Protocol),
		list(p.SourceAddressPrefix, p.SourceAddressPrefixes), list(p.DestinationAddressPrefix, p.DestinationAddressPrefixes),
		list(p.SourcePortRange, p.SourcePortRanges), list(p.DestinationPortRange, p.DestinationPortRanges)))
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func sameRules(a, b []*armnetwork.SecurityRule) bool {
	sig := func(rs []*armnetwork.SecurityRule) []string {
		var out []string
		for _, r := range rs {
			out = append(out, ruleSig(r))
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(sig(a), sig(b))
}

// ensureNSG creates the site's security group or reconciles its rules.
func (b *Backend) ensureNSG(ctx context.Context, n *netClients, rg string, spec cloud.NetworkSpec) (armnetwork.SecurityGroup, error) {
	const op = "EnsureNetwork"
	want := meshRules(spec.AllowedCIDRs)
	cur, err := n.nsgs.Get(ctx, rg, nsgName(spec.Name), nil)
	ok, err := found(op, err)
	if err != nil {
		return armnetwork.SecurityGroup{}, err
	}
	if ok && cur.Properties != nil && sameRules(cur.Properties.SecurityRules, want) {
		return cur.SecurityGroup, nil
	}
	p, err := n.nsgs.BeginCreateOrUpdate(ctx, rg, nsgName(spec.Name), armnetwork.SecurityGroup{
		Location: to.Ptr(spec.Region), Tags: armTags(spec.Tags), Properties: &armnetwork.SecurityGroupPropertiesFormat{SecurityRules: want},
	}, nil)
	res, err := done(ctx, b, op, p, err)
	return res.SecurityGroup, err
}

// EnsureNetwork creates or reconciles a site's resource group, virtual
// network, subnets and security group, and waits until they are ready.
// It changes nothing that already matches the spec.
func (b *Backend) EnsureNetwork(ctx context.Context, spec cloud.NetworkSpec) (cloud.Network, error) {
	const op = "EnsureNetwork"
	n, err := b.network(op)
	if err != nil {
		return cloud.Network{}, err
	}
	if err := checkNetworkSpec(spec); err != nil {
		return cloud.Network{}, err
	}
	rg := resourceGroup(spec.Name)
	cur, err := n.vnets.Get(ctx, rg, spec.Name, nil)
	exists, err := found(op, err)
	if err != nil {
		return cloud.Network{}, err
	}
	if exists {
		if loc := normLocation(str(cur.Location)); loc != normLocation(spec.Region) {
			return cloud.Network{}, cloud.Conflict("azure", op, "Conflict", "virtual network %s exists in %s, not %s", spec.Name, loc, spec.Region)
		}
		if got := addressPrefixes(cur.Properties); !slices.Equal(got, []string{spec.CIDR}) {
			return cloud.Network{}, cloud.Conflict("azure", op, "Conflict",
				"virtual network %s exists with address space %s, not %s: keep the site's CIDR or delete the network first", spec.Name, strings.Join(got, ", "), spec.CIDR)
		}
	} else if _, err := b.groups.CreateOrUpdate(ctx, rg, armresources.ResourceGroup{Location: to.Ptr(spec.Region), Tags: armTags(spec.Tags)}, nil); err != nil {
		return cloud.Network{}, classify("CreateResourceGroup", err)
	}
	nsg, err := b.ensureNSG(ctx, n, rg, spec)
	if err != nil {
		return cloud.Network{}, err
	}
	subnets, changed := plannedSubnets(cur.Properties, spec, str(nsg.ID))
	if !exists || changed {
		p, err := n.vnets.BeginCreateOrUpdate(ctx, rg, spec.Name, armnetwork.VirtualNetwork{
			Location: to.Ptr(spec.Region), Tags: armTags(spec.Tags),
			Properties: &armnetwork.VirtualNetworkPropertiesFormat{
				AddressSpace: &armnetwork.AddressSpace{AddressPrefixes: []*string{to.Ptr(spec.CIDR)}}, Subnets: subnets,
			},
		}, nil)
		if _, err := done(ctx, b, op, p, err); err != nil {
			return cloud.Network{}, err
		}
	}
	return b.GetNetwork(ctx, spec.Region, spec.Name)
}

func addressPrefixes(p *armnetwork.VirtualNetworkPropertiesFormat) []string {
	var out []string
	if p != nil && p.AddressSpace != nil {
		for _, a := range p.AddressSpace.AddressPrefixes {
			out = append(out, str(a))
		}
	}
	return out
}

// plannedSubnets is the subnet list of a virtual network PUT: the
// existing subnets (a PUT without one would delete it), with the spec's
// prefixes and security group, and the spec's new ones; changed reports
// a difference from what exists.
func plannedSubnets(cur *armnetwork.VirtualNetworkPropertiesFormat, spec cloud.NetworkSpec, nsgID string) ([]*armnetwork.Subnet, bool) {
	type want struct{ prefix, nsg string }
	wants := map[string]want{}
	for _, s := range spec.Subnets {
		wants[strings.ToLower(nodeSubnet(s.Zone))] = want{s.CIDR, nsgID}
	}
	if spec.GatewayCIDR != "" {
		wants[strings.ToLower(gatewaySubnet)] = want{spec.GatewayCIDR, ""}
	}
	var out []*armnetwork.Subnet
	changed := false
	have := map[string]bool{}
	if cur != nil {
		for _, s := range cur.Subnets {
			name := str(s.Name)
			prefix, nsg := "", ""
			if s.Properties != nil {
				prefix = str(s.Properties.AddressPrefix)
				if s.Properties.NetworkSecurityGroup != nil {
					nsg = str(s.Properties.NetworkSecurityGroup.ID)
				}
			}
			if w, ok := wants[strings.ToLower(name)]; ok {
				if w.prefix != prefix || !strings.EqualFold(w.nsg, nsg) {
					changed = true
				}
				prefix, nsg = w.prefix, w.nsg
			}
			have[strings.ToLower(name)] = true
			out = append(out, subnet(name, prefix, nsg))
		}
	}
	var add []string
	for _, s := range spec.Subnets {
		add = append(add, nodeSubnet(s.Zone))
	}
	if spec.GatewayCIDR != "" {
		add = append(add, gatewaySubnet)
	}
	sort.Strings(add)
	for _, name := range add {
		if !have[strings.ToLower(name)] {
			w := wants[strings.ToLower(name)]
			out = append(out, subnet(name, w.prefix, w.nsg))
			changed = true
		}
	}
	return out, changed
}

func subnet(name, prefix, nsgID string) *armnetwork.Subnet {
	s := &armnetwork.Subnet{Name: to.Ptr(name), Properties: &armnetwork.SubnetPropertiesFormat{AddressPrefix: to.Ptr(prefix)}}
	if nsgID != "" {
		s.Properties.NetworkSecurityGroup = &armnetwork.SecurityGroup{ID: to.Ptr(nsgID)}
	}
	return s
}

// GetNetwork reads a site's virtual network and security group.
func (b *Backend) GetNetwork(ctx context.Context, region, name string) (cloud.Network, error) {
	const op = "GetNetwork"
	n, err := b.network(op)
	if err != nil {
		return cloud.Network{}, err
	}
	rg := resourceGroup(name)
	v, err := n.vnets.Get(ctx, rg, name, nil)
	if err != nil {
		return cloud.Network{}, classify(op, err)
	}
	net := cloud.Network{Name: name, Region: region, ID: str(v.ID)}
	if l := str(v.Location); l != "" {
		net.Region = normLocation(l)
	}
	if p := v.Properties; p != nil {
		if a := addressPrefixes(p); len(a) > 0 {
			net.CIDR = a[0]
		}
		for _, s := range p.Subnets {
			sn := str(s.Name)
			prefix := ""
			if s.Properties != nil {
				prefix = str(s.Properties.AddressPrefix)
			}
			if strings.EqualFold(sn, gatewaySubnet) {
				net.GatewaySubnetID = str(s.ID)
			} else if zone, ok := strings.CutPrefix(sn, "nodes-"); ok {
				net.Subnets = append(net.Subnets, cloud.Subnet{Zone: zone, CIDR: prefix, ID: str(s.ID)})
			}
		}
	}
	sort.Slice(net.Subnets, func(i, j int) bool { return net.Subnets[i].Zone < net.Subnets[j].Zone })
	nsg, err := n.nsgs.Get(ctx, rg, nsgName(name), nil)
	if ok, err := found(op, err); err != nil {
		return cloud.Network{}, err
	} else if ok {
		net.FirewallID = str(nsg.ID)
		if nsg.Properties != nil {
			for _, r := range nsg.Properties.SecurityRules {
				if strings.EqualFold(str(r.Name), meshRuleName) && r.Properties != nil {
					for _, c := range r.Properties.SourceAddressPrefixes {
						net.AllowedCIDRs = append(net.AllowedCIDRs, str(c))
					}
				}
			}
		}
		slices.Sort(net.AllowedCIDRs)
	}
	return net, nil
}

// DeleteNetwork deletes a site's virtual network, security group and
// resource group. A network with a gateway or peerings is a KindConflict
// error.
func (b *Backend) DeleteNetwork(ctx context.Context, region, name string) error {
	const op = "DeleteNetwork"
	n, err := b.network(op)
	if err != nil {
		return err
	}
	rg := resourceGroup(name)
	v, err := n.vnets.Get(ctx, rg, name, nil)
	exists, err := found(op, err)
	if err != nil {
		return err
	}
	if exists {
		if v.Properties != nil && len(v.Properties.VirtualNetworkPeerings) > 0 {
			var names []string
			for _, p := range v.Properties.VirtualNetworkPeerings {
				names = append(names, str(p.Name))
			}
			return cloud.Conflict("azure", op, "InUsePeerings", "virtual network %s still has peerings (%s): delete them first", name, strings.Join(names, ", "))
		}
		p, err := n.vnets.BeginDelete(ctx, rg, name, nil)
		if err := gone(ctx, b, op, p, err); err != nil {
			return err
		}
	}
	p, err := n.nsgs.BeginDelete(ctx, rg, nsgName(name), nil)
	if err := gone(ctx, b, op, p, err); err != nil {
		return err
	}
	gp, err := b.groups.BeginDelete(ctx, rg, nil)
	return gone(ctx, b, "DeleteResourceGroup", gp, err)
}

// ---- resource groups of gateways and connections ----

func groupKey(kind, region, name string) string {
	return kind + "/" + normLocation(region) + "/" + name
}

func (n *netClients) remember(kind, region, name, rg string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.groups[groupKey(kind, region, name)] = rg
}

func (n *netClients) forget(kind, region, name string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.groups, groupKey(kind, region, name))
}

// siteGroup finds the resource group holding a gateway or connection:
// the remembered one, or the first resource group of a virtual network in
// region where probe finds it; KindNotFound when none does.
func (b *Backend) siteGroup(ctx context.Context, n *netClients, op, kind, region, name string, probe func(rg string) (bool, error)) (string, error) {
	n.mu.Lock()
	known, ok := n.groups[groupKey(kind, region, name)]
	n.mu.Unlock()
	if ok {
		if hit, err := probe(known); err != nil || hit {
			return known, err
		}
	}
	var rgs []string
	for pager := n.vnets.NewListAllPager(nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return "", classify(op, err)
		}
		for _, v := range page.Value {
			if normLocation(str(v.Location)) != normLocation(region) {
				continue
			}
			if id, err := arm.ParseResourceID(str(v.ID)); err == nil && !strings.EqualFold(id.ResourceGroupName, known) {
				rgs = append(rgs, id.ResourceGroupName)
			}
		}
	}
	slices.Sort(rgs)
	for _, rg := range slices.Compact(rgs) {
		hit, err := probe(rg)
		if err != nil {
			return "", err
		}
		if hit {
			n.remember(kind, region, name, rg)
			return rg, nil
		}
	}
	return "", cloud.NotFound("azure", op, "ResourceNotFound", "%s %s not found in %s", kind, name, region)
}

// ---- VPN gateways ----

// probeGateway reports a gateway or one of its public IPs in rg.
func (b *Backend) probeGateway(ctx context.Context, n *netClients, op, name string, withIPs bool) func(string) (bool, error) {
	return func(rg string) (bool, error) {
		_, err := n.gateways.Get(ctx, rg, name, nil)
		if hit, err := found(op, err); err != nil || hit || !withIPs {
			return hit, err
		}
		for i := range 2 {
			_, err := n.pips.Get(ctx, rg, pipName(name, i), nil)
			if hit, err := found(op, err); err != nil || hit {
				return hit, err
			}
		}
		return false, nil
	}
}

// waitGateway waits while a gateway is being created or updated by an
// earlier call; found is false when there is none.
func (b *Backend) waitGateway(ctx context.Context, n *netClients, op, rg, name string) (armnetwork.VirtualNetworkGateway, bool, error) {
	var hit bool
	w := wait(b, op, "VPN gateway "+name, func(ctx context.Context) (armnetwork.VirtualNetworkGateway, string, error) {
		cur, err := n.gateways.Get(ctx, rg, name, nil)
		if hit, err = found(op, err); err != nil || !hit {
			return armnetwork.VirtualNetworkGateway{}, "done", err
		}
		st := cloud.StatusCreating
		if cur.Properties != nil {
			st = provisioning((*string)(cur.Properties.ProvisioningState))
		}
		if st == cloud.StatusCreating || st == cloud.StatusUpdating {
			return cur.VirtualNetworkGateway, string(st), nil
		}
		return cur.VirtualNetworkGateway, "done", nil
	})
	w.Classify = nil // found has classified the reads' errors
	gw, err := w.Until(ctx)
	if err != nil {
		return armnetwork.VirtualNetworkGateway{}, false, err
	}
	return gw, hit, nil
}

// ensurePublicIP creates or finds a Standard static public IP.
func (b *Backend) ensurePublicIP(ctx context.Context, n *netClients, op, rg, name, region string, tags map[string]string) (string, error) {
	cur, err := n.pips.Get(ctx, rg, name, nil)
	if hit, err := found(op, err); err != nil {
		return "", err
	} else if hit {
		return str(cur.ID), nil
	}
	p, err := n.pips.BeginCreateOrUpdate(ctx, rg, name, armnetwork.PublicIPAddress{
		Location: to.Ptr(region), Tags: armTags(tags),
		SKU: &armnetwork.PublicIPAddressSKU{Name: to.Ptr(armnetwork.PublicIPAddressSKUNameStandard), Tier: to.Ptr(armnetwork.PublicIPAddressSKUTierRegional)},
		Properties: &armnetwork.PublicIPAddressPropertiesFormat{
			PublicIPAllocationMethod: to.Ptr(armnetwork.IPAllocationMethodStatic), PublicIPAddressVersion: to.Ptr(armnetwork.IPVersionIPv4),
		},
	}, nil)
	res, err := done(ctx, b, op, p, err)
	return str(res.ID), err
}

// EnsureVPNGateway creates or finds a site's VPN gateway and its public
// IPs, and waits until it has succeeded (30-45 minutes on Azure).
func (b *Backend) EnsureVPNGateway(ctx context.Context, spec cloud.GatewaySpec) (cloud.Gateway, error) {
	const op = "EnsureVPNGateway"
	n, err := b.network(op)
	if err != nil {
		return cloud.Gateway{}, err
	}
	rg := resourceGroup(spec.Network)
	n.remember("gateway", spec.Region, spec.Name, rg)
	v, err := n.vnets.Get(ctx, rg, spec.Network, nil)
	if err != nil {
		return cloud.Gateway{}, classify(op, err)
	}
	var subnetID string
	if v.Properties != nil {
		for _, s := range v.Properties.Subnets {
			if strings.EqualFold(str(s.Name), gatewaySubnet) {
				subnetID = str(s.ID)
			}
		}
	}
	if subnetID == "" {
		return cloud.Gateway{}, cloud.Invalid("azure", op, "GatewaySubnetMissing",
			"network %s has no GatewaySubnet: give the site a gateway CIDR (a /27 or larger) before creating gateway %s", spec.Network, spec.Name)
	}
	cur, exists, err := b.waitGateway(ctx, n, op, rg, spec.Name)
	if err != nil {
		return cloud.Gateway{}, err
	}
	if exists && cur.Properties != nil && provisioning((*string)(cur.Properties.ProvisioningState)) == cloud.StatusActive && cur.Properties.BgpSettings != nil &&
		deref(cur.Properties.BgpSettings.Asn) == spec.ASN && len(cur.Properties.IPConfigurations) == 2 {
		return b.GetVPNGateway(ctx, spec.Region, spec.Name)
	}
	gwID := gatewayID(b.cfg.SubscriptionID, rg, spec.Name)
	var cfgs []*armnetwork.VirtualNetworkGatewayIPConfiguration
	var peering []*armnetwork.IPConfigurationBgpPeeringAddress
	for i := range 2 {
		ipID, err := b.ensurePublicIP(ctx, n, op, rg, pipName(spec.Name, i), spec.Region, spec.Tags)
		if err != nil {
			return cloud.Gateway{}, err
		}
		cfgs = append(cfgs, &armnetwork.VirtualNetworkGatewayIPConfiguration{Name: to.Ptr(ipConfigName(i)),
			Properties: &armnetwork.VirtualNetworkGatewayIPConfigurationPropertiesFormat{
				PrivateIPAllocationMethod: to.Ptr(armnetwork.IPAllocationMethodDynamic),
				Subnet:                    &armnetwork.SubResource{ID: to.Ptr(subnetID)}, PublicIPAddress: &armnetwork.SubResource{ID: to.Ptr(ipID)},
			}})
		cfgID := gwID + "/ipConfigurations/" + ipConfigName(i)
		peering = append(peering, &armnetwork.IPConfigurationBgpPeeringAddress{IPConfigurationID: to.Ptr(cfgID),
			CustomBgpIPAddresses: customBgp(cur, cfgID)})
	}
	p, err := n.gateways.BeginCreateOrUpdate(ctx, rg, spec.Name, armnetwork.VirtualNetworkGateway{
		Location: to.Ptr(spec.Region), Tags: armTags(spec.Tags),
		Properties: &armnetwork.VirtualNetworkGatewayPropertiesFormat{
			GatewayType: to.Ptr(armnetwork.VirtualNetworkGatewayTypeVPN), VPNType: to.Ptr(armnetwork.VPNTypeRouteBased),
			SKU:                  &armnetwork.VirtualNetworkGatewaySKU{Name: to.Ptr(gatewaySKU), Tier: to.Ptr(armnetwork.VirtualNetworkGatewaySKUTier(gatewaySKU))},
			VPNGatewayGeneration: to.Ptr(armnetwork.VPNGatewayGenerationGeneration2),
			Active:               to.Ptr(true), EnableBgp: to.Ptr(true), IPConfigurations: cfgs,
			BgpSettings: &armnetwork.BgpSettings{Asn: to.Ptr(spec.ASN), BgpPeeringAddresses: peering},
		},
	}, nil)
	if _, err := done(ctx, b, op, p, err); err != nil {
		return cloud.Gateway{}, err
	}
	return b.GetVPNGateway(ctx, spec.Region, spec.Name)
}

func gatewayID(sub, rg, name string) string {
	return "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/Microsoft.Network/virtualNetworkGateways/" + name
}

// customBgp returns the custom BGP addresses a gateway has for an IP
// configuration (kept when the gateway is updated).
func customBgp(gw armnetwork.VirtualNetworkGateway, cfgID string) []*string {
	out := []*string{}
	if gw.Properties == nil || gw.Properties.BgpSettings == nil {
		return out
	}
	for _, pa := range gw.Properties.BgpSettings.BgpPeeringAddresses {
		if strings.EqualFold(str(pa.IPConfigurationID), cfgID) {
			out = append(out, pa.CustomBgpIPAddresses...)
		}
	}
	return out
}

// publicAddress reads the address of a public IP by ID.
func (b *Backend) publicAddress(ctx context.Context, n *netClients, op, id string) (string, error) {
	rid, err := arm.ParseResourceID(id)
	if err != nil {
		return "", cloud.Fatal("azure", op, "InvalidResourceID", "public IP address ID %q: %v", id, err)
	}
	ip, err := n.pips.Get(ctx, rid.ResourceGroupName, rid.Name, nil)
	if err != nil {
		return "", classify(op, err)
	}
	if ip.Properties == nil {
		return "", nil
	}
	return str(ip.Properties.IPAddress), nil
}

// GetVPNGateway reads a gateway and its public IP addresses.
func (b *Backend) GetVPNGateway(ctx context.Context, region, name string) (cloud.Gateway, error) {
	const op = "GetVPNGateway"
	n, err := b.network(op)
	if err != nil {
		return cloud.Gateway{}, err
	}
	rg, err := b.siteGroup(ctx, n, op, "gateway", region, name, b.probeGateway(ctx, n, op, name, false))
	if err != nil {
		return cloud.Gateway{}, err
	}
	gw, err := n.gateways.Get(ctx, rg, name, nil)
	if err != nil {
		return cloud.Gateway{}, classify(op, err)
	}
	out := cloud.Gateway{Name: name, Region: normLocation(str(gw.Location)), ID: str(gw.ID), Status: cloud.StatusCreating}
	if p := gw.Properties; p != nil {
		out.Status = provisioning((*string)(p.ProvisioningState))
		if p.BgpSettings != nil {
			out.ASN = deref(p.BgpSettings.Asn)
		}
		for _, c := range p.IPConfigurations {
			if c.Properties == nil || c.Properties.PublicIPAddress == nil {
				continue
			}
			addr, err := b.publicAddress(ctx, n, op, str(c.Properties.PublicIPAddress.ID))
			if err != nil {
				return cloud.Gateway{}, err
			}
			out.PublicIPs = append(out.PublicIPs, addr)
		}
	}
	return out, nil
}

// DeleteVPNGateway deletes a gateway and then its public IPs. A gateway
// that connections use is a KindConflict error.
func (b *Backend) DeleteVPNGateway(ctx context.Context, region, name string) error {
	const op = "DeleteVPNGateway"
	n, err := b.network(op)
	if err != nil {
		return err
	}
	rg, err := b.siteGroup(ctx, n, op, "gateway", region, name, b.probeGateway(ctx, n, op, name, true))
	if err != nil {
		return cloud.IgnoreNotFound(err)
	}
	p, err := n.gateways.BeginDelete(ctx, rg, name, nil)
	if err := gone(ctx, b, op, p, err); err != nil {
		return err
	}
	for i := range 2 {
		p, err := n.pips.BeginDelete(ctx, rg, pipName(name, i), nil)
		if err := gone(ctx, b, op, p, err); err != nil {
			return err
		}
	}
	n.forget("gateway", region, name)
	return nil
}

// ---- VPN connections ----

var apipaLo, apipaHi = netip.MustParseAddr("169.254.21.0"), netip.MustParseAddr("169.254.22.255")

func checkTunnels(spec cloud.VPNConnectionSpec) error {
	const op = "EnsureVPNConnection"
	if len(spec.Tunnels) == 0 || len(spec.Tunnels) > 4 {
		return cloud.Invalid("azure", op, "InvalidSpec",
			"connection %s has %d tunnels; gpufleet links an Azure active-active gateway with one to four (two per instance, to AWS)", spec.Name, len(spec.Tunnels))
	}
	for i, t := range spec.Tunnels {
		if t.Interface != 0 && t.Interface != 1 {
			return cloud.Invalid("azure", op, "InvalidSpec", "connection %s tunnel %d: gateway instance %d is not 0 or 1 (ipconfig0, ipconfig1)", spec.Name, i, t.Interface)
		}
		a, err := netip.ParseAddr(t.LocalInsideIP)
		if err != nil || a.Less(apipaLo) || apipaHi.Less(a) {
			return cloud.Invalid("azure", op, "InvalidInsideAddress",
				"connection %s tunnel %d: local inside address %q is outside Azure's APIPA BGP range 169.254.21.0-169.254.22.255; choose inside CIDRs within it",
				spec.Name, i, t.LocalInsideIP)
		}
		if _, err := netip.ParseAddr(t.PeerInsideIP); err != nil {
			return cloud.Invalid("azure", op, "InvalidSpec", "connection %s tunnel %d: peer inside address %q is not an IP address", spec.Name, i, t.PeerInsideIP)
		}
		if a, err := netip.ParseAddr(t.PeerIP); err != nil || !a.Is4() {
			return cloud.Invalid("azure", op, "InvalidSpec", "connection %s tunnel %d: peer address %q is not an IPv4 address", spec.Name, i, t.PeerIP)
		}
	}
	return nil
}

// EnsureVPNConnection creates or reconciles the local network gateways
// and connections of a connection to a peer site, adding the tunnels'
// inside addresses to the gateway's custom BGP addresses first.
func (b *Backend) EnsureVPNConnection(ctx context.Context, spec cloud.VPNConnectionSpec) (cloud.VPNConnection, error) {
	const op = "EnsureVPNConnection"
	n, err := b.network(op)
	if err != nil {
		return cloud.VPNConnection{}, err
	}
	if err := checkTunnels(spec); err != nil {
		return cloud.VPNConnection{}, err
	}
	rg := resourceGroup(spec.Network)
	n.remember("connection", spec.Region, spec.Name, rg)
	// Connections to several peers update one gateway: one at a time.
	lock := n.gatewayLock(rg, spec.Gateway)
	lock.Lock()
	gw, exists, err := b.waitGateway(ctx, n, op, rg, spec.Gateway)
	if err != nil {
		lock.Unlock()
		return cloud.VPNConnection{}, err
	}
	err = func() error {
		defer lock.Unlock()
		if !exists || gw.Properties == nil {
			return cloud.NotFound("azure", op, "ResourceNotFound", "VPN gateway %s of network %s not found: create it first", spec.Gateway, spec.Network)
		}
		for i, t := range spec.Tunnels {
			if t.Interface >= len(gw.Properties.IPConfigurations) {
				return cloud.Invalid("azure", op, "InvalidSpec", "VPN gateway %s has %d IP configurations; tunnel %d of %s is on the gateway's instance %d",
					spec.Gateway, len(gw.Properties.IPConfigurations), i, spec.Name, t.Interface)
			}
		}
		return b.ensureCustomBgp(ctx, n, rg, spec, gw)
	}()
	if err != nil {
		return cloud.VPNConnection{}, err
	}
	for i, t := range spec.Tunnels {
		lngID, err := b.ensureLNG(ctx, n, rg, spec, i, t)
		if err != nil {
			return cloud.VPNConnection{}, err
		}
		if err := b.ensureConnection(ctx, n, rg, spec, str(gw.ID), str(gw.Properties.IPConfigurations[t.Interface].ID), lngID, i, t); err != nil {
			return cloud.VPNConnection{}, err
		}
	}
	// Tunnels the spec no longer has.
	conns, err := b.tunnelConnections(ctx, n, op, rg, spec.Name)
	if err != nil {
		return cloud.VPNConnection{}, err
	}
	for _, c := range conns {
		if c.index >= len(spec.Tunnels) {
			p, err := n.conns.BeginDelete(ctx, rg, str(c.conn.Name), nil)
			if err := gone(ctx, b, op, p, err); err != nil {
				return cloud.VPNConnection{}, err
			}
			lp, err := n.lngs.BeginDelete(ctx, rg, str(c.conn.Name), nil)
			if err := gone(ctx, b, op, lp, err); err != nil {
				return cloud.VPNConnection{}, err
			}
		}
	}
	return b.GetVPNConnection(ctx, spec.Region, spec.Name)
}

// ensureCustomBgp adds each tunnel's local inside address to the custom
// BGP addresses of the gateway's IP configuration TunnelSpec.Interface,
// updating the gateway (and waiting for it) when one is missing.
func (b *Backend) ensureCustomBgp(ctx context.Context, n *netClients, rg string, spec cloud.VPNConnectionSpec, gw armnetwork.VirtualNetworkGateway) error {
	const op = "EnsureVPNConnection"
	p := gw.Properties
	if p.BgpSettings == nil {
		p.BgpSettings = &armnetwork.BgpSettings{}
	}
	changed := false
	for _, t := range spec.Tunnels {
		cfgID := str(p.IPConfigurations[t.Interface].ID)
		j := slices.IndexFunc(p.BgpSettings.BgpPeeringAddresses, func(pa *armnetwork.IPConfigurationBgpPeeringAddress) bool {
			return strings.EqualFold(str(pa.IPConfigurationID), cfgID)
		})
		if j < 0 {
			p.BgpSettings.BgpPeeringAddresses = append(p.BgpSettings.BgpPeeringAddresses, &armnetwork.IPConfigurationBgpPeeringAddress{IPConfigurationID: to.Ptr(cfgID)})
			j = len(p.BgpSettings.BgpPeeringAddresses) - 1
		}
		pa := p.BgpSettings.BgpPeeringAddresses[j]
		if !slices.ContainsFunc(pa.CustomBgpIPAddresses, func(a *string) bool { return str(a) == t.LocalInsideIP }) {
			pa.CustomBgpIPAddresses = append(pa.CustomBgpIPAddresses, to.Ptr(t.LocalInsideIP))
			changed = true
		}
	}
	if !changed {
		return nil
	}
	poller, err := n.gateways.BeginCreateOrUpdate(ctx, rg, str(gw.Name), gw, nil)
	_, err = done(ctx, b, op, poller, err)
	return err
}

func (b *Backend) ensureLNG(ctx context.Context, n *netClients, rg string, spec cloud.VPNConnectionSpec, i int, t cloud.TunnelSpec) (string, error) {
	const op = "EnsureVPNConnection"
	name := tunnelName(spec.Name, i)
	prefixes := slices.Clone(spec.PeerCIDRs)
	slices.Sort(prefixes)
	cur, err := n.lngs.Get(ctx, rg, name, nil)
	hit, err := found(op, err)
	if err != nil {
		return "", err
	}
	if hit && cur.Properties != nil && str(cur.Properties.GatewayIPAddress) == t.PeerIP && cur.Properties.BgpSettings != nil &&
		deref(cur.Properties.BgpSettings.Asn) == spec.PeerASN && str(cur.Properties.BgpSettings.BgpPeeringAddress) == t.PeerInsideIP &&
		slices.Equal(lngPrefixes(cur.Properties), prefixes) {
		return str(cur.ID), nil
	}
	var space []*string
	for _, c := range prefixes {
		space = append(space, to.Ptr(c))
	}
	p, err := n.lngs.BeginCreateOrUpdate(ctx, rg, name, armnetwork.LocalNetworkGateway{
		Location: to.Ptr(spec.Region), Tags: armTags(spec.Tags),
		Properties: &armnetwork.LocalNetworkGatewayPropertiesFormat{
			GatewayIPAddress:         to.Ptr(t.PeerIP),
			BgpSettings:              &armnetwork.BgpSettings{Asn: to.Ptr(spec.PeerASN), BgpPeeringAddress: to.Ptr(t.PeerInsideIP)},
			LocalNetworkAddressSpace: &armnetwork.AddressSpace{AddressPrefixes: space},
		},
	}, nil)
	res, err := done(ctx, b, op, p, err)
	return str(res.ID), err
}

func lngPrefixes(p *armnetwork.LocalNetworkGatewayPropertiesFormat) []string {
	var out []string
	if p.LocalNetworkAddressSpace != nil {
		for _, a := range p.LocalNetworkAddressSpace.AddressPrefixes {
			out = append(out, str(a))
		}
	}
	slices.Sort(out)
	return out
}

func (b *Backend) ensureConnection(ctx context.Context, n *netClients, rg string, spec cloud.VPNConnectionSpec, gwID, cfgID, lngID string, i int, t cloud.TunnelSpec) error {
	const op = "EnsureVPNConnection"
	name := tunnelName(spec.Name, i)
	cur, err := n.conns.Get(ctx, rg, name, nil)
	hit, err := found(op, err)
	if err != nil {
		return err
	}
	psk := t.PSK
	if hit {
		key, err := n.conns.GetSharedKey(ctx, rg, name, nil)
		if err != nil {
			return classify(op, err)
		}
		if psk == "" {
			// No key given: keep the connection's (Azure returns it,
			// https://learn.microsoft.com/rest/api/network-gateway/virtual-network-gateway-connections/get-shared-key).
			psk = str(key.Value)
		}
		if connectionMatches(cur.Properties, gwID, cfgID, lngID, t) && str(key.Value) == psk {
			return nil
		}
	}
	if psk == "" {
		return cloud.KeyRequiredError("azure", op, spec.Name, i)
	}
	p, err := n.conns.BeginCreateOrUpdate(ctx, rg, name, armnetwork.VirtualNetworkGatewayConnection{
		Location: to.Ptr(spec.Region), Tags: armTags(spec.Tags),
		Properties: &armnetwork.VirtualNetworkGatewayConnectionPropertiesFormat{
			ConnectionType:         to.Ptr(armnetwork.VirtualNetworkGatewayConnectionTypeIPsec),
			ConnectionProtocol:     to.Ptr(armnetwork.VirtualNetworkGatewayConnectionProtocolIKEv2),
			SharedKey:              to.Ptr(psk),
			EnableBgp:              to.Ptr(true),
			VirtualNetworkGateway1: &armnetwork.VirtualNetworkGateway{ID: to.Ptr(gwID)},
			LocalNetworkGateway2:   &armnetwork.LocalNetworkGateway{ID: to.Ptr(lngID)},
			GatewayCustomBgpIPAddresses: []*armnetwork.GatewayCustomBgpIPAddressIPConfiguration{{
				IPConfigurationID: to.Ptr(cfgID), CustomBgpIPAddress: to.Ptr(t.LocalInsideIP),
			}},
		},
	}, nil)
	_, err = done(ctx, b, op, p, err)
	return err
}

// connectionMatches compares a connection with what a tunnel needs (the
// shared key aside, which GET does not return).
func connectionMatches(p *armnetwork.VirtualNetworkGatewayConnectionPropertiesFormat, gwID, cfgID, lngID string, t cloud.TunnelSpec) bool {
	if p == nil || p.VirtualNetworkGateway1 == nil || p.LocalNetworkGateway2 == nil || len(p.GatewayCustomBgpIPAddresses) != 1 {
		return false
	}
	c := p.GatewayCustomBgpIPAddresses[0]
	return strings.EqualFold(str(p.VirtualNetworkGateway1.ID), gwID) && strings.EqualFold(str(p.LocalNetworkGateway2.ID), lngID) &&
		strings.EqualFold(str(c.IPConfigurationID), cfgID) && str(c.CustomBgpIPAddress) == t.LocalInsideIP && deref(p.EnableBgp) &&
		deref(p.ConnectionProtocol) == armnetwork.VirtualNetworkGatewayConnectionProtocolIKEv2
}

// tunnelConn is a connection "<name>-<index>".
type tunnelConn struct {
	index int
	conn  *armnetwork.VirtualNetworkGatewayConnection
}

// tunnelConnections lists the connections of a VPN connection, by index.
func (b *Backend) tunnelConnections(ctx context.Context, n *netClients, op, rg, name string) ([]tunnelConn, error) {
	re := regexp.MustCompile(`(?i)^` + regexp.QuoteMeta(name) + `-(\d+)$`)
	var out []tunnelConn
	for pager := n.conns.NewListPager(rg, nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			if cerr := classify(op, err); cloud.IsNotFound(cerr) {
				return nil, nil
			} else {
				return nil, cerr
			}
		}
		for _, c := range page.Value {
			if m := re.FindStringSubmatch(str(c.Name)); m != nil {
				i, _ := strconv.Atoi(m[1])
				out = append(out, tunnelConn{i, c})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].index < out[j].index })
	return out, nil
}

// tunnelLNGs lists the local network gateways of a VPN connection.
func (b *Backend) tunnelLNGs(ctx context.Context, n *netClients, op, rg, name string) ([]string, error) {
	re := regexp.MustCompile(`(?i)^` + regexp.QuoteMeta(name) + `-\d+$`)
	var out []string
	for pager := n.lngs.NewListPager(rg, nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			if cerr := classify(op, err); cloud.IsNotFound(cerr) {
				return nil, nil
			} else {
				return nil, cerr
			}
		}
		for _, l := range page.Value {
			if re.MatchString(str(l.Name)) {
				out = append(out, str(l.Name))
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// GetVPNConnection reads the connections "<name>-<i>" (fewer tunnels when
// some were deleted out of band), their local network gateways and the
// gateway's public IPs.
// GetTunnelKeys reads each tunnel's key back from its connection
// (GetSharedKey).
func (b *Backend) GetTunnelKeys(ctx context.Context, region, name string) ([]string, error) {
	const op = "GetVPNConnection"
	n, err := b.network(op)
	if err != nil {
		return nil, err
	}
	var conns []tunnelConn
	rg, err := b.siteGroup(ctx, n, op, "connection", region, name, func(rg string) (bool, error) {
		c, err := b.tunnelConnections(ctx, n, op, rg, name)
		conns = c
		return len(c) > 0, err
	})
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, tc := range conns {
		key, err := n.conns.GetSharedKey(ctx, rg, str(tc.conn.Name), nil)
		if err != nil {
			return nil, classify(op, err)
		}
		for len(keys) <= tc.index {
			keys = append(keys, "")
		}
		keys[tc.index] = str(key.Value)
	}
	return keys, nil
}

func (b *Backend) GetVPNConnection(ctx context.Context, region, name string) (cloud.VPNConnection, error) {
	const op = "GetVPNConnection"
	n, err := b.network(op)
	if err != nil {
		return cloud.VPNConnection{}, err
	}
	var conns []tunnelConn
	_, err = b.siteGroup(ctx, n, op, "connection", region, name, func(rg string) (bool, error) {
		c, err := b.tunnelConnections(ctx, n, op, rg, name)
		conns = c
		return len(c) > 0, err
	})
	if err != nil {
		return cloud.VPNConnection{}, err
	}
	out := cloud.VPNConnection{Name: name, Region: normLocation(region), ID: str(conns[0].conn.ID), Status: cloud.StatusActive}
	gateways := map[string]*armnetwork.VirtualNetworkGateway{}
	for _, tc := range conns {
		p := tc.conn.Properties
		if p == nil || p.VirtualNetworkGateway1 == nil || p.LocalNetworkGateway2 == nil {
			continue
		}
		if st := provisioning((*string)(p.ProvisioningState)); st != cloud.StatusActive && out.Status == cloud.StatusActive {
			out.Status = st
		}
		gwID := str(p.VirtualNetworkGateway1.ID)
		gw, ok := gateways[strings.ToLower(gwID)]
		if !ok {
			rid, err := arm.ParseResourceID(gwID)
			if err != nil {
				return cloud.VPNConnection{}, cloud.Fatal("azure", op, "InvalidResourceID", "gateway ID %q: %v", gwID, err)
			}
			res, err := n.gateways.Get(ctx, rid.ResourceGroupName, rid.Name, nil)
			if err != nil {
				return cloud.VPNConnection{}, classify(op, err)
			}
			gw = &res.VirtualNetworkGateway
			gateways[strings.ToLower(gwID)] = gw
		}
		localIP, err := b.tunnelLocalIP(ctx, n, op, gw, p)
		if err != nil {
			return cloud.VPNConnection{}, err
		}
		rid, err := arm.ParseResourceID(str(p.LocalNetworkGateway2.ID))
		if err != nil {
			return cloud.VPNConnection{}, cloud.Fatal("azure", op, "InvalidResourceID", "local network gateway ID %q: %v", str(p.LocalNetworkGateway2.ID), err)
		}
		lng, err := n.lngs.Get(ctx, rid.ResourceGroupName, rid.Name, nil)
		if err != nil {
			return cloud.VPNConnection{}, classify(op, err)
		}
		peerIP := ""
		if lng.Properties != nil {
			peerIP = str(lng.Properties.GatewayIPAddress)
		}
		out.LocalIPs = append(out.LocalIPs, localIP)
		out.Tunnels = append(out.Tunnels, cloud.TunnelStatus{ID: str(tc.conn.ID), PeerIP: peerIP, InsideCIDR: insideCIDR(p),
			Up: deref(p.ConnectionStatus) == armnetwork.VirtualNetworkGatewayConnectionStatusConnected})
	}
	return out, nil
}

// insideCIDR is the tunnel's link-local /30: the network of the
// connection's custom APIPA BGP address (gatewayCustomBgpIpAddresses,
// https://learn.microsoft.com/rest/api/network-gateway/virtual-network-gateway-connections/get),
// "" without one.
func insideCIDR(p *armnetwork.VirtualNetworkGatewayConnectionPropertiesFormat) string {
	if len(p.GatewayCustomBgpIPAddresses) == 0 {
		return ""
	}
	a, err := netip.ParseAddr(str(p.GatewayCustomBgpIPAddresses[0].CustomBgpIPAddress))
	if err != nil {
		return ""
	}
	return netip.PrefixFrom(a, 30).Masked().String()
}

// tunnelLocalIP is the public IP of the gateway IP configuration a
// connection's custom BGP address names (the first one without).
func (b *Backend) tunnelLocalIP(ctx context.Context, n *netClients, op string, gw *armnetwork.VirtualNetworkGateway, p *armnetwork.VirtualNetworkGatewayConnectionPropertiesFormat) (string, error) {
	if gw.Properties == nil || len(gw.Properties.IPConfigurations) == 0 {
		return "", nil
	}
	cfg := gw.Properties.IPConfigurations[0]
	if len(p.GatewayCustomBgpIPAddresses) > 0 {
		want := str(p.GatewayCustomBgpIPAddresses[0].IPConfigurationID)
		for _, c := range gw.Properties.IPConfigurations {
			if strings.EqualFold(str(c.ID), want) {
				cfg = c
			}
		}
	}
	if cfg.Properties == nil || cfg.Properties.PublicIPAddress == nil {
		return "", nil
	}
	return b.publicAddress(ctx, n, op, str(cfg.Properties.PublicIPAddress.ID))
}

// DeleteVPNConnection deletes the connections "<name>-<i>" and then their
// local network gateways.
func (b *Backend) DeleteVPNConnection(ctx context.Context, region, name string) error {
	const op = "DeleteVPNConnection"
	n, err := b.network(op)
	if err != nil {
		return err
	}
	var conns []tunnelConn
	var lngs []string
	rg, err := b.siteGroup(ctx, n, op, "connection", region, name, func(rg string) (bool, error) {
		c, err := b.tunnelConnections(ctx, n, op, rg, name)
		if err != nil {
			return false, err
		}
		l, err := b.tunnelLNGs(ctx, n, op, rg, name)
		conns, lngs = c, l
		return len(c)+len(l) > 0, err
	})
	if err != nil {
		return cloud.IgnoreNotFound(err)
	}
	for _, c := range conns {
		p, err := n.conns.BeginDelete(ctx, rg, str(c.conn.Name), nil)
		if err := gone(ctx, b, op, p, err); err != nil {
			return err
		}
	}
	for _, l := range lngs {
		p, err := n.lngs.BeginDelete(ctx, rg, l, nil)
		if err := gone(ctx, b, op, p, err); err != nil {
			return err
		}
	}
	n.forget("connection", region, name)
	return nil
}

// ---- peerings ----

// peeringSide is one virtual network of a peering.
type peeringSide struct {
	rg, vnet, remoteID string
}

func (b *Backend) peeringSides(ctx context.Context, n *netClients, op string, spec cloud.PeeringSpec) ([2]peeringSide, error) {
	var ids [2]string
	for i, s := range []cloud.PeeringSide{spec.A, spec.B} {
		v, err := n.vnets.Get(ctx, resourceGroup(s.Network), s.Network, nil)
		if err != nil {
			return [2]peeringSide{}, classify(op, err)
		}
		ids[i] = str(v.ID)
	}
	return [2]peeringSide{
		{resourceGroup(spec.A.Network), spec.A.Network, ids[1]},
		{resourceGroup(spec.B.Network), spec.B.Network, ids[0]},
	}, nil
}

// EnsurePeering creates both sides of a peering (a side left Disconnected
// by the other's deletion is created again) and returns its state.
func (b *Backend) EnsurePeering(ctx context.Context, spec cloud.PeeringSpec) (cloud.Peering, error) {
	const op = "EnsurePeering"
	n, err := b.network(op)
	if err != nil {
		return cloud.Peering{}, err
	}
	sides, err := b.peeringSides(ctx, n, op, spec)
	if err != nil {
		return cloud.Peering{}, err
	}
	for _, s := range sides {
		cur, err := n.peerings.Get(ctx, s.rg, s.vnet, spec.Name, nil)
		hit, err := found(op, err)
		if err != nil {
			return cloud.Peering{}, err
		}
		if hit && cur.Properties != nil {
			p := cur.Properties
			if deref(p.PeeringState) == armnetwork.VirtualNetworkPeeringStateDisconnected {
				dp, err := n.peerings.BeginDelete(ctx, s.rg, s.vnet, spec.Name, nil)
				if err := gone(ctx, b, op, dp, err); err != nil {
					return cloud.Peering{}, err
				}
			} else if p.RemoteVirtualNetwork != nil && strings.EqualFold(str(p.RemoteVirtualNetwork.ID), s.remoteID) &&
				deref(p.AllowVirtualNetworkAccess) && deref(p.AllowForwardedTraffic) {
				continue
			}
		}
		pp, err := n.peerings.BeginCreateOrUpdate(ctx, s.rg, s.vnet, spec.Name, armnetwork.VirtualNetworkPeering{
			Properties: &armnetwork.VirtualNetworkPeeringPropertiesFormat{
				AllowVirtualNetworkAccess: to.Ptr(true), AllowForwardedTraffic: to.Ptr(true),
				RemoteVirtualNetwork: &armnetwork.SubResource{ID: to.Ptr(s.remoteID)},
			},
		}, nil)
		if _, err := done(ctx, b, op, pp, err); err != nil {
			return cloud.Peering{}, err
		}
	}
	return b.GetPeering(ctx, spec)
}

// GetPeering reads both sides: active when both are Connected; a peering
// with one side gone is inactive, with both gone KindNotFound.
func (b *Backend) GetPeering(ctx context.Context, spec cloud.PeeringSpec) (cloud.Peering, error) {
	const op = "GetPeering"
	n, err := b.network(op)
	if err != nil {
		return cloud.Peering{}, err
	}
	out := cloud.Peering{Name: spec.Name, Active: true}
	seen := 0
	for _, s := range []cloud.PeeringSide{spec.A, spec.B} {
		p, err := n.peerings.Get(ctx, resourceGroup(s.Network), s.Network, spec.Name, nil)
		hit, err := found(op, err)
		if err != nil {
			return cloud.Peering{}, err
		}
		if !hit {
			out.Active = false
			continue
		}
		seen++
		if out.ID == "" {
			out.ID = str(p.ID)
		}
		if p.Properties == nil || deref(p.Properties.PeeringState) != armnetwork.VirtualNetworkPeeringStateConnected {
			out.Active = false
		}
	}
	if seen == 0 {
		return cloud.Peering{}, cloud.NotFound("azure", op, "ResourceNotFound", "peering %s not found on %s or %s", spec.Name, spec.A.Network, spec.B.Network)
	}
	return out, nil
}

// DeletePeering deletes both sides of a peering.
func (b *Backend) DeletePeering(ctx context.Context, spec cloud.PeeringSpec) error {
	const op = "DeletePeering"
	n, err := b.network(op)
	if err != nil {
		return err
	}
	for _, s := range []cloud.PeeringSide{spec.A, spec.B} {
		p, err := n.peerings.BeginDelete(ctx, resourceGroup(s.Network), s.Network, spec.Name, nil)
		if err := gone(ctx, b, op, p, err); err != nil {
			return err
		}
	}
	return nil
}
