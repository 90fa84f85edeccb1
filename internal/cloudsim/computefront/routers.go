package computefront

import (
	"net/netip"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

func init() {
	register(&kindInfo{
		kind: kindRouter, coll: "routers", apiKind: "compute#router", label: "router", regional: true, mutable: true,
		newMsg: func() proto.Message { return &computepb.Router{} },
		open:   openTable[computepb.Router],
		check:  checkRouter,
		user: func(sn *snapshot, rel string) string {
			return firstUser(sn, kindVpnTunnel, rel, func(t *computepb.VpnTunnel) []string { return []string{t.GetRouter()} })
		},
		expand: func(base string, m proto.Message) {
			r := m.(*computepb.Router)
			r.Network = prefixPtr(base, r.Network)
			for _, i := range r.Interfaces {
				i.LinkedVpnTunnel = prefixPtr(base, i.LinkedVpnTunnel)
			}
		},
		changed: func(s *server, _ string, _ bool) error { return s.syncTunnelEnds() },
	})
}

func checkRouter(_ *server, sn *snapshot, q *request, msg, oldMsg proto.Message) error {
	r := msg.(*computepb.Router)
	if r.GetNetwork() == "" {
		return invalidField("resource.network", "", "A router needs a network.")
	}
	network, _, err := normRef(sn, q.project, "resource.network", r.GetNetwork(), kindNetwork)
	if err != nil {
		return err
	}
	if old, ok := oldMsg.(*computepb.Router); ok && old.GetNetwork() != network {
		return invalidField("resource.network", r.GetNetwork(), "The network of a router cannot be changed.")
	}
	r.Network = proto.String(network)
	if r.GetBgp().GetAsn() == 0 {
		return invalidField("resource.bgp.asn", "0", "A Cloud Router needs a BGP ASN (a private ASN: 64512-65534 or 4200000000-4294967294).")
	}
	if r.Bgp.AdvertiseMode == nil {
		r.Bgp.AdvertiseMode = proto.String("DEFAULT")
	}
	if m := r.Bgp.GetAdvertiseMode(); m != "DEFAULT" && m != "CUSTOM" {
		return invalidField("resource.bgp.advertiseMode", m, "Must be DEFAULT or CUSTOM.")
	}
	ifaces := map[string]netip.Prefix{}
	linked := map[string]string{}
	for i, iface := range r.GetInterfaces() {
		field := "resource.interfaces[" + itoa(int64(i)) + "]"
		if err := checkName(field+".name", iface.GetName()); err != nil {
			return err
		}
		if _, dup := ifaces[iface.GetName()]; dup {
			return invalidField(field+".name", iface.GetName(), "Interface names must be unique in a router.")
		}
		var p netip.Prefix
		if iface.GetIpRange() != "" {
			if p, err = netip.ParsePrefix(iface.GetIpRange()); err != nil || !p.Addr().Is4() || p.Masked().Addr() == p.Addr() {
				return invalidField(field+".ipRange", iface.GetIpRange(), "Must be an IPv4 address with its prefix length, e.g. 169.254.21.1/30.")
			}
		}
		ifaces[iface.GetName()] = p
		if iface.GetLinkedVpnTunnel() == "" {
			continue
		}
		tRel, tRef, err := normRef(sn, q.project, field+".linkedVpnTunnel", iface.GetLinkedVpnTunnel(), kindVpnTunnel)
		if err != nil {
			return err
		}
		if tRef.region != q.region {
			return invalidField(field+".linkedVpnTunnel", iface.GetLinkedVpnTunnel(), "The tunnel must be in the router's region.")
		}
		t, _ := sn.loadRel(tRel)
		if t.(*computepb.VpnTunnel).GetRouter() != r.GetSelfLink() {
			return invalidField(field+".linkedVpnTunnel", iface.GetLinkedVpnTunnel(), "The tunnel does not use this router (its router field names another one or none).")
		}
		if other, dup := linked[tRel]; dup {
			return invalidField(field+".linkedVpnTunnel", iface.GetLinkedVpnTunnel(), "The tunnel is already linked by interface "+other+".")
		}
		linked[tRel] = iface.GetName()
		iface.LinkedVpnTunnel = proto.String(tRel)
	}
	peers, peerOf := map[string]bool{}, map[string]string{}
	for i, peer := range r.GetBgpPeers() {
		field := "resource.bgpPeers[" + itoa(int64(i)) + "]"
		if err := checkName(field+".name", peer.GetName()); err != nil {
			return err
		}
		if peers[peer.GetName()] {
			return invalidField(field+".name", peer.GetName(), "BGP peer names must be unique in a router.")
		}
		peers[peer.GetName()] = true
		p, ok := ifaces[peer.GetInterfaceName()]
		if !ok {
			return invalidField(field+".interfaceName", peer.GetInterfaceName(), "No interface of that name on the router.")
		}
		if other, dup := peerOf[peer.GetInterfaceName()]; dup {
			return invalidField(field+".interfaceName", peer.GetInterfaceName(), "The interface already has BGP peer "+other+".")
		}
		peerOf[peer.GetInterfaceName()] = peer.GetName()
		if peer.GetPeerAsn() == 0 {
			return invalidField(field+".peerAsn", "0", "A BGP peer needs a peer ASN.")
		}
		a, err := netip.ParseAddr(peer.GetPeerIpAddress())
		if err != nil || (p.IsValid() && (!p.Masked().Contains(a) || a == p.Addr())) {
			return invalidField(field+".peerIpAddress", peer.GetPeerIpAddress(), "Must be an address in the interface's range "+p.String()+", other than the router's own.")
		}
		if p.IsValid() {
			peer.IpAddress = proto.String(p.Addr().String())
		}
		if peer.AdvertiseMode == nil {
			peer.AdvertiseMode = proto.String("DEFAULT")
		}
		if peer.Enable == nil {
			peer.Enable = proto.String("TRUE")
		}
	}
	return nil
}
