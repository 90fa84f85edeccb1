package computefront

import (
	"net/http"
	"net/netip"
	"sort"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

func init() {
	register(&kindInfo{
		kind: kindNetwork, coll: "networks", apiKind: "compute#network", label: "network",
		newMsg: func() proto.Message { return &computepb.Network{} },
		open:   openTable[computepb.Network],
		check:  checkNetwork, user: networkUser, render: renderNetwork, expand: expandNetwork,
	})
}

func checkNetwork(_ *server, _ *snapshot, _ *request, msg, _ proto.Message) error {
	n := msg.(*computepb.Network)
	if n.IPv4Range != nil {
		return invalidField("resource.IPv4Range", n.GetIPv4Range(), "Legacy networks are not simulated; use autoCreateSubnetworks=false and subnetworks.")
	}
	if n.RoutingConfig == nil {
		n.RoutingConfig = &computepb.NetworkRoutingConfig{}
	}
	switch n.GetRoutingConfig().GetRoutingMode() {
	case "":
		n.RoutingConfig.RoutingMode = proto.String("REGIONAL")
	case "REGIONAL", "GLOBAL":
	default:
		return invalidField("resource.routingConfig.routingMode", n.GetRoutingConfig().GetRoutingMode(), "Must be REGIONAL or GLOBAL.")
	}
	if n.Mtu == nil {
		n.Mtu = proto.Int32(1460)
	}
	if m := n.GetMtu(); m < 1300 || m > 8896 {
		return invalidField("resource.mtu", itoa(int64(m)), "Must be from 1300 to 8896.")
	}
	if n.AutoCreateSubnetworks == nil {
		n.AutoCreateSubnetworks = proto.Bool(false)
	}
	n.Subnetworks, n.Peerings, n.GatewayIPv4 = nil, nil, nil
	return nil
}

// networkUser names what keeps a network from being deleted.
func networkUser(sn *snapshot, rel string) string {
	for _, u := range []string{
		firstUser(sn, kindSubnetwork, rel, func(m *computepb.Subnetwork) []string { return []string{m.GetNetwork()} }),
		firstUser(sn, kindFirewall, rel, func(m *computepb.Firewall) []string { return []string{m.GetNetwork()} }),
		firstUser(sn, kindVpnGateway, rel, func(m *computepb.VpnGateway) []string { return []string{m.GetNetwork()} }),
		firstUser(sn, kindRouter, rel, func(m *computepb.Router) []string { return []string{m.GetNetwork()} }),
	} {
		if u != "" {
			return u
		}
	}
	if m, ok := sn.loadRel(rel); ok {
		if ps := m.(*computepb.Network).GetPeerings(); len(ps) > 0 {
			return ps[0].GetNetwork()
		}
	}
	return ""
}

// renderNetwork lists the network's subnetworks and computes its
// peerings' states.
func renderNetwork(_ *server, sn *snapshot, msg proto.Message) {
	n := msg.(*computepb.Network)
	rel := n.GetSelfLink()
	var subs []string
	sn.each(kindSubnetwork, func(_ string, m proto.Message) {
		if s := m.(*computepb.Subnetwork); s.GetNetwork() == rel {
			subs = append(subs, s.GetSelfLink())
		}
	})
	sort.Strings(subs)
	n.Subnetworks = subs
	for _, p := range n.Peerings {
		p.State, p.StateDetails = proto.String("INACTIVE"), proto.String("The peer network does not exist.")
		peer, ok := sn.loadRel(p.GetNetwork())
		if !ok {
			continue
		}
		p.StateDetails = proto.String("Waiting for peer network to connect.")
		for _, back := range peer.(*computepb.Network).GetPeerings() {
			if back.GetNetwork() == rel {
				p.State, p.StateDetails = proto.String("ACTIVE"), proto.String("Connected.")
			}
		}
	}
	n.SelfLinkWithId = proto.String(rel[:len(rel)-len(n.GetName())] + itoa(int64(n.GetId())))
}

func expandNetwork(base string, msg proto.Message) {
	n := msg.(*computepb.Network)
	for i, s := range n.Subnetworks {
		n.Subnetworks[i] = prefix(base, s)
	}
	for _, p := range n.Peerings {
		p.Network = prefixPtr(base, p.Network)
	}
	n.SelfLinkWithId = prefixPtr(base, n.SelfLinkWithId)
}

// peeringVerb serves addPeering and removePeering.
func (s *server) peeringVerb(q *request) (any, error) {
	rel, object := q.path(), objectName(q.project, "", q.name)
	sn, err := s.snapshot()
	if err != nil {
		return nil, err
	}
	cur, ok := sn.load(kindNetwork, object)
	if !ok {
		return nil, notFound(rel)
	}
	old := cur.(*computepb.Network)
	n := proto.Clone(old).(*computepb.Network)
	switch q.verb {
	case "addPeering":
		var body computepb.NetworksAddPeeringRequest
		if _, err := parseBody(q.r, &body); err != nil {
			return nil, err
		}
		p, err := s.newPeering(sn, q, n, &body)
		if err != nil {
			return nil, err
		}
		n.Peerings = append(n.Peerings, p)
	case "removePeering":
		var body computepb.NetworksRemovePeeringRequest
		if _, err := parseBody(q.r, &body); err != nil {
			return nil, err
		}
		i := peeringIndex(n, body.GetName())
		if i < 0 {
			return nil, notFoundf(rel, "The peering '%s' of network '%s' was not found", body.GetName(), rel)
		}
		n.Peerings = append(n.Peerings[:i], n.Peerings[i+1:]...)
	default:
		return nil, &apiError{Code: http.StatusMethodNotAllowed, Reason: "methodNotAllowed", Message: "networks." + q.verb + " is not supported by cloudsim"}
	}
	if err := s.replace(kindNetwork, object, n); err != nil {
		return nil, engineError(err, rel, false)
	}
	return s.startOp(q, q.verb, rel, n.GetId(), nil)
}

func peeringIndex(n *computepb.Network, name string) int {
	for i, p := range n.GetPeerings() {
		if p.GetName() == name {
			return i
		}
	}
	return -1
}

// newPeering validates an addPeering request.
func (s *server) newPeering(sn *snapshot, q *request, n *computepb.Network, body *computepb.NetworksAddPeeringRequest) (*computepb.NetworkPeering, error) {
	p := &computepb.NetworkPeering{Name: body.Name, Network: body.PeerNetwork, ExchangeSubnetRoutes: body.AutoCreateRoutes}
	if body.NetworkPeering != nil {
		p = proto.Clone(body.NetworkPeering).(*computepb.NetworkPeering)
	}
	if err := checkName("networkPeering.name", p.GetName()); err != nil {
		return nil, err
	}
	if peeringIndex(n, p.GetName()) >= 0 {
		return nil, invalidf("There is already a peering named '%s' on network '%s'.", p.GetName(), n.GetSelfLink())
	}
	peerRel, _, err := normRef(sn, q.project, "networkPeering.network", p.GetNetwork(), kindNetwork)
	if err != nil {
		return nil, err
	}
	if peerRel == n.GetSelfLink() {
		return nil, invalidf("A network cannot be peered with itself.")
	}
	for _, other := range n.GetPeerings() {
		if other.GetNetwork() == peerRel {
			return nil, invalidf("Network '%s' is already peered with '%s' (peering '%s').", n.GetSelfLink(), peerRel, other.GetName())
		}
	}
	if a, b, ok := overlappingRanges(sn, n.GetSelfLink(), peerRel); ok {
		return nil, invalidf("An IP range in the peer network (%s) overlaps with an IP range in the local network (%s).", b, a)
	}
	p.Network = proto.String(peerRel)
	if p.ExchangeSubnetRoutes == nil {
		p.ExchangeSubnetRoutes = proto.Bool(true)
	}
	p.AutoCreateRoutes = proto.Bool(true)
	if p.StackType == nil {
		p.StackType = proto.String("IPV4_ONLY")
	}
	p.State, p.StateDetails = nil, nil
	return p, nil
}

// networkRanges are all subnetwork ranges (primary and secondary) of a
// network.
func networkRanges(sn *snapshot, network string) []netip.Prefix {
	var out []netip.Prefix
	sn.each(kindSubnetwork, func(_ string, m proto.Message) {
		s := m.(*computepb.Subnetwork)
		if s.GetNetwork() != network {
			return
		}
		for _, c := range subnetRanges(s) {
			if p, err := netip.ParsePrefix(c); err == nil {
				out = append(out, p)
			}
		}
	})
	return out
}

func subnetRanges(s *computepb.Subnetwork) []string {
	out := []string{s.GetIpCidrRange()}
	for _, r := range s.GetSecondaryIpRanges() {
		out = append(out, r.GetIpCidrRange())
	}
	return out
}

func overlappingRanges(sn *snapshot, a, b string) (netip.Prefix, netip.Prefix, bool) {
	for _, pa := range networkRanges(sn, a) {
		for _, pb := range networkRanges(sn, b) {
			if pa.Overlaps(pb) {
				return pa, pb, true
			}
		}
	}
	return netip.Prefix{}, netip.Prefix{}, false
}
