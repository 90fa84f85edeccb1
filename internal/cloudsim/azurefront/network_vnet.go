package azurefront

import (
	"encoding/json"
	"net/netip"
	"slices"
	"strings"
)

// Virtual networks, subnets and peerings (see network.go for the
// mapping).

// subnetProps is a subnet as stored.
type subnetProps struct {
	AddressPrefix string `json:"addressPrefix"`
	// NSG is the associated security group's ID as given.
	NSG string `json:"nsg,omitempty"`
}

// subnetBody is a subnet's properties in a PUT.
type subnetBody struct {
	AddressPrefix        string   `json:"addressPrefix"`
	AddressPrefixes      []string `json:"addressPrefixes"`
	NetworkSecurityGroup *struct {
		ID string `json:"id"`
	} `json:"networkSecurityGroup"`
}

// vnetBody is a virtual network's properties in a PUT.
type vnetBody struct {
	AddressSpace *struct {
		AddressPrefixes []string `json:"addressPrefixes"`
	} `json:"addressSpace"`
	Subnets []struct {
		Name       string     `json:"name"`
		Properties subnetBody `json:"properties"`
	} `json:"subnets"`
}

// parseCIDR reads a prefix in canonical form (400 InvalidCIDRNotation).
func parseCIDR(cidr, resource string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return p, newErr(400, "InvalidCIDRNotation", "The address prefix %s in resource %s has an invalid CIDR notation.", cidr, resource)
	}
	if p != p.Masked() {
		return p, newErr(400, "InvalidCIDRNotation",
			"The address prefix %s in resource %s has an invalid CIDR notation. For the given prefix length, the address prefix should be %s.", cidr, resource, p.Masked())
	}
	return p, nil
}

func within(p netip.Prefix, space []netip.Prefix) bool {
	for _, s := range space {
		if s.Bits() <= p.Bits() && s.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

// checkSubnet validates a subnet against its network's address space,
// the other subnets (name -> prefix) and the security groups.
func checkSubnet(w *netWorld, vnet netRecord, space []netip.Prefix, name string, b subnetBody, others map[string]netip.Prefix) (subnetProps, netip.Prefix, error) {
	prefix := b.AddressPrefix
	if prefix == "" && len(b.AddressPrefixes) == 1 {
		prefix = b.AddressPrefixes[0]
	}
	id := vnet.id(w.sub) + "/subnets/" + name
	if prefix == "" {
		return subnetProps{}, netip.Prefix{}, newErr(400, "InvalidRequestFormat", "Cannot parse the request: subnet %s has no addressPrefix.", name)
	}
	p, err := parseCIDR(prefix, id)
	if err != nil {
		return subnetProps{}, p, err
	}
	if !within(p, space) {
		return subnetProps{}, p, newErr(400, "NetcfgInvalidSubnet", "Subnet '%s' is not valid in virtual network '%s'.", name, vnet.Name)
	}
	for _, o := range sortedKeys(others) {
		if !strings.EqualFold(o, name) && others[o].Overlaps(p) {
			return subnetProps{}, p, newErr(400, "NetcfgSubnetRangesOverlap",
				"Subnet '%s' is not valid because its IP address range overlaps with that of an existing subnet '%s' in virtual network '%s'.", name, o, vnet.Name)
		}
	}
	sp := subnetProps{AddressPrefix: p.String()}
	if b.NetworkSecurityGroup != nil && b.NetworkSecurityGroup.ID != "" {
		nsg, ok := w.ref(b.NetworkSecurityGroup.ID, kindNSG)
		if !ok || nsg.Location != vnet.Location {
			return subnetProps{}, p, newErr(400, "InvalidResourceReference",
				"Resource %s referenced by resource %s was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.",
				b.NetworkSecurityGroup.ID, id)
		}
		sp.NSG = b.NetworkSecurityGroup.ID
	}
	return sp, p, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// addressSpace parses a virtual network's address prefixes.
func addressSpace(r netRecord) []netip.Prefix {
	var out []netip.Prefix
	for _, a := range r.AddressPrefixes {
		if p, err := netip.ParsePrefix(a); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// subnetUsers returns the gateway IP configurations in a subnet.
func subnetUsers(w *netWorld, sub string, subnet netRecord) []string {
	var out []string
	for _, g := range w.all(kindGateway) {
		for _, c := range g.Gateway.IPConfigs {
			if k, _, ok := refTo(c.Subnet, kindSubnet); ok && k == subnet.key() {
				out = append(out, g.id(sub)+"/ipConfigurations/"+c.Name)
			}
		}
	}
	return out
}

func inUseSubnet(w *netWorld, subnet netRecord) error {
	users := subnetUsers(w, w.sub, subnet)
	if len(users) == 0 {
		return nil
	}
	return newErr(409, "InUseSubnetCannotBeDeleted",
		"Subnet %s is in use by %s and cannot be deleted. In order to delete the subnet, delete all the resources within the subnet. See aka.ms/deletesubnet.",
		subnet.Name, strings.Join(users, ", "))
}

// putVNet validates a virtual network PUT; the returned function replaces
// its subnets once the network is stored.
func (s *server) putVNet(q *req, w *netWorld, r *netRecord, old netRecord, existed bool, raw json.RawMessage) (func() error, error) {
	var b vnetBody
	if err := props(raw, &b); err != nil {
		return nil, err
	}
	if b.AddressSpace == nil || len(b.AddressSpace.AddressPrefixes) == 0 {
		return nil, newErr(400, "InvalidRequestFormat", "Cannot parse the request: virtual network %s has no addressSpace.addressPrefixes.", r.Name)
	}
	var space []netip.Prefix
	for _, a := range b.AddressSpace.AddressPrefixes {
		p, err := parseCIDR(a, r.id(q.sub))
		if err != nil {
			return nil, err
		}
		space = append(space, p)
		r.AddressPrefixes = append(r.AddressPrefixes, p.String())
	}
	others := map[string]netip.Prefix{}
	type planned struct {
		name  string
		props subnetProps
	}
	var subnets []planned
	for _, sn := range b.Subnets {
		if sn.Name == "" {
			return nil, newErr(400, "InvalidRequestFormat", "Cannot parse the request: a subnet of virtual network %s has no name.", r.Name)
		}
		if _, dup := others[strings.ToLower(sn.Name)]; dup {
			return nil, newErr(400, "InvalidRequestFormat", "Cannot parse the request: subnet %s is given twice.", sn.Name)
		}
		sp, p, err := checkSubnet(w, *r, space, sn.Name, sn.Properties, others)
		if err != nil {
			return nil, err
		}
		others[strings.ToLower(sn.Name)] = p
		subnets = append(subnets, planned{sn.Name, sp})
	}
	var keep []netRecord
	var drop []netRecord
	if existed {
		for _, cur := range w.children(kindSubnet, old) {
			i := slices.IndexFunc(subnets, func(p planned) bool { return strings.EqualFold(p.name, cur.Name) })
			switch {
			case i < 0:
				if err := inUseSubnet(w, cur); err != nil {
					return nil, err
				}
				drop = append(drop, cur)
			case subnets[i].props.AddressPrefix != cur.Subnet.AddressPrefix && len(subnetUsers(w, q.sub, cur)) > 0:
				return nil, newErr(409, "InUseSubnetCannotBeUpdated",
					"Subnet %s is in use by %s and its address prefix cannot be changed.", cur.Name, strings.Join(subnetUsers(w, q.sub, cur), ", "))
			default:
				keep = append(keep, cur)
			}
		}
	}
	vnet := *r
	return func() error {
		for _, d := range drop {
			if err := s.dropNet(w, d); err != nil {
				return err
			}
		}
		for _, p := range subnets {
			rec := netRecord{Kind: kindSubnet, RG: vnet.RG, VNet: vnet.Name, Name: p.name, Location: vnet.Location, GUID: newID(), Subnet: &p.props}
			if i := slices.IndexFunc(keep, func(k netRecord) bool { return strings.EqualFold(k.Name, p.name) }); i >= 0 {
				rec.Name, rec.GUID = keep[i].Name, keep[i].GUID
			}
			rec.ReadyAt = s.now().Add(s.netDuration(kindSubnet))
			if err := s.saveNet(w, rec); err != nil {
				return err
			}
		}
		return nil
	}, nil
}

// putSubnet validates a subnet PUT.
func (s *server) putSubnet(w *netWorld, r *netRecord, vnet, old netRecord, existed bool, raw json.RawMessage) error {
	var b subnetBody
	if err := props(raw, &b); err != nil {
		return err
	}
	others := map[string]netip.Prefix{}
	for _, c := range w.children(kindSubnet, vnet) {
		if p, err := netip.ParsePrefix(c.Subnet.AddressPrefix); err == nil && c.key() != r.key() {
			others[strings.ToLower(c.Name)] = p
		}
	}
	sp, _, err := checkSubnet(w, vnet, addressSpace(vnet), r.Name, b, others)
	if err != nil {
		return err
	}
	if existed && sp.AddressPrefix != old.Subnet.AddressPrefix {
		if users := subnetUsers(w, w.sub, old); len(users) > 0 {
			return newErr(409, "InUseSubnetCannotBeUpdated", "Subnet %s is in use by %s and its address prefix cannot be changed.", r.Name, strings.Join(users, ", "))
		}
	}
	r.Subnet = &sp
	return nil
}

func (s *server) vnetDeletable(w *netWorld, r netRecord) error {
	for _, sn := range w.children(kindSubnet, r) {
		if err := inUseSubnet(w, sn); err != nil {
			return err
		}
	}
	return nil
}

func (s *server) subnetDeletable(w *netWorld, r netRecord) error { return inUseSubnet(w, r) }

func (s *server) vnetProps(q *req, w *netWorld, r netRecord) map[string]any {
	subnets := []any{}
	for _, sn := range w.children(kindSubnet, r) {
		subnets = append(subnets, s.renderNet(q, w, sn))
	}
	peerings := []any{}
	for _, p := range w.children(kindPeering, r) {
		peerings = append(peerings, s.renderNet(q, w, p))
	}
	return map[string]any{
		"addressSpace":           map[string]any{"addressPrefixes": r.AddressPrefixes},
		"subnets":                subnets,
		"virtualNetworkPeerings": peerings,
		"enableDdosProtection":   false,
	}
}

func (s *server) subnetJSONProps(q *req, w *netWorld, r netRecord) map[string]any {
	p := map[string]any{
		"addressPrefix":                     r.Subnet.AddressPrefix,
		"delegations":                       []any{},
		"privateEndpointNetworkPolicies":    "Disabled",
		"privateLinkServiceNetworkPolicies": "Enabled",
	}
	if r.Subnet.NSG != "" {
		p["networkSecurityGroup"] = subResource(r.Subnet.NSG)
	}
	if users := subnetUsers(w, q.sub, r); len(users) > 0 {
		var cfgs []any
		for _, u := range users {
			cfgs = append(cfgs, subResource(u))
		}
		p["ipConfigurations"] = cfgs
	}
	return p
}

// peerProps is a virtual network peering as stored.
type peerProps struct {
	Remote              string `json:"remote"`
	AllowVNetAccess     bool   `json:"allowVnetAccess"`
	AllowForwarded      bool   `json:"allowForwarded"`
	AllowGatewayTransit bool   `json:"allowGatewayTransit"`
	UseRemoteGateways   bool   `json:"useRemoteGateways"`
	// Disconnected: the remote side was deleted after the peering
	// connected; it stays so until deleted and created again.
	Disconnected bool `json:"disconnected,omitempty"`
}

func (s *server) putPeering(w *netWorld, r *netRecord, vnet netRecord, raw json.RawMessage) error {
	var b struct {
		AllowVirtualNetworkAccess *bool `json:"allowVirtualNetworkAccess"`
		AllowForwardedTraffic     bool  `json:"allowForwardedTraffic"`
		AllowGatewayTransit       bool  `json:"allowGatewayTransit"`
		UseRemoteGateways         bool  `json:"useRemoteGateways"`
		RemoteVirtualNetwork      *struct {
			ID string `json:"id"`
		} `json:"remoteVirtualNetwork"`
	}
	if err := props(raw, &b); err != nil {
		return err
	}
	if b.RemoteVirtualNetwork == nil || b.RemoteVirtualNetwork.ID == "" {
		return newErr(400, "InvalidRequestFormat", "Cannot parse the request: peering %s has no remoteVirtualNetwork.", r.Name)
	}
	remote, ok := w.ref(b.RemoteVirtualNetwork.ID, kindVNet)
	if !ok {
		return newErr(400, "InvalidResourceReference",
			"Resource %s referenced by resource %s was not found. Please make sure that the referenced resource exists.", b.RemoteVirtualNetwork.ID, r.id(w.sub))
	}
	if remote.key() == vnet.key() {
		return newErr(400, "InvalidRequestFormat", "Cannot parse the request: virtual network %s cannot be peered with itself.", vnet.Name)
	}
	for _, a := range addressSpace(vnet) {
		for _, c := range addressSpace(remote) {
			if a.Overlaps(c) {
				return newErr(400, "VnetAddressSpacesOverlap",
					"Cannot create or update peering %s. Virtual networks %s and %s cannot be peered because their address spaces overlap. Overlapping address prefixes: %s, %s",
					r.Name, vnet.Name, remote.Name, a, c)
			}
		}
	}
	pp := &peerProps{Remote: b.RemoteVirtualNetwork.ID, AllowVNetAccess: b.AllowVirtualNetworkAccess == nil || *b.AllowVirtualNetworkAccess,
		AllowForwarded: b.AllowForwardedTraffic, AllowGatewayTransit: b.AllowGatewayTransit, UseRemoteGateways: b.UseRemoteGateways}
	if old, ok := w.get(kindPeering, r.key()); ok && old.Peering.Disconnected {
		pp.Disconnected = true
	}
	r.Peering = pp
	return nil
}

// peeringState is Initiated, Connected (the remote network peers back)
// or Disconnected.
func peeringState(w *netWorld, r netRecord) string {
	if r.Peering.Disconnected {
		return "Disconnected"
	}
	remote, ok := w.ref(r.Peering.Remote, kindVNet)
	if !ok {
		return "Disconnected"
	}
	local := netKey(r.RG, r.VNet)
	for _, back := range w.children(kindPeering, remote) {
		if k, _, ok := refTo(back.Peering.Remote, kindVNet); ok && k == local && !back.Peering.Disconnected {
			return "Connected"
		}
	}
	return "Initiated"
}

// disconnectRemote marks the peerings back to a deleted peering's network
// Disconnected (they were connected: a peering already disconnected
// leaves the other side as it is).
func (s *server) disconnectRemote(w *netWorld, r netRecord) error {
	remote, ok := w.ref(r.Peering.Remote, kindVNet)
	if !ok || r.Peering.Disconnected {
		return nil
	}
	local := netKey(r.RG, r.VNet)
	for _, back := range w.children(kindPeering, remote) {
		if k, _, ok := refTo(back.Peering.Remote, kindVNet); ok && k == local && !back.Peering.Disconnected {
			p := *back.Peering
			p.Disconnected = true
			back.Peering = &p
			if err := s.saveNet(w, back); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *server) peeringJSONProps(q *req, w *netWorld, r netRecord) map[string]any {
	state := peeringState(w, r)
	sync := "FullyInSync"
	if state != "Connected" {
		sync = "RemoteNotInSync"
	}
	p := map[string]any{
		"allowVirtualNetworkAccess": r.Peering.AllowVNetAccess,
		"allowForwardedTraffic":     r.Peering.AllowForwarded,
		"allowGatewayTransit":       r.Peering.AllowGatewayTransit,
		"useRemoteGateways":         r.Peering.UseRemoteGateways,
		"remoteVirtualNetwork":      subResource(r.Peering.Remote),
		"peeringState":              state,
		"peeringSyncLevel":          sync,
	}
	if remote, ok := w.ref(r.Peering.Remote, kindVNet); ok {
		space := map[string]any{"addressPrefixes": remote.AddressPrefixes}
		p["remoteAddressSpace"], p["remoteVirtualNetworkAddressSpace"] = space, space
	}
	return p
}
