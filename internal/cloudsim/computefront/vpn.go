package computefront

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/netip"
	"slices"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

func init() {
	register(&kindInfo{
		kind: kindVpnGateway, coll: "vpnGateways", apiKind: "compute#vpnGateway", label: "vpn_gateway", regional: true,
		newMsg: func() proto.Message { return &computepb.VpnGateway{} },
		open:   openTable[computepb.VpnGateway],
		check:  checkVpnGateway,
		user: func(sn *snapshot, rel string) string {
			return firstUser(sn, kindVpnTunnel, rel, func(t *computepb.VpnTunnel) []string { return []string{t.GetVpnGateway()} })
		},
		expand: func(base string, m proto.Message) {
			g := m.(*computepb.VpnGateway)
			g.Network = prefixPtr(base, g.Network)
		},
	})
	register(&kindInfo{
		kind: kindExternalVpnGateway, coll: "externalVpnGateways", apiKind: "compute#externalVpnGateway", label: "external_vpn_gateway",
		newMsg: func() proto.Message { return &computepb.ExternalVpnGateway{} },
		open:   openTable[computepb.ExternalVpnGateway],
		check:  checkExternalVpnGateway,
		user: func(sn *snapshot, rel string) string {
			return firstUser(sn, kindVpnTunnel, rel, func(t *computepb.VpnTunnel) []string { return []string{t.GetPeerExternalGateway()} })
		},
	})
	register(&kindInfo{
		kind: kindVpnTunnel, coll: "vpnTunnels", apiKind: "compute#vpnTunnel", label: "vpn_tunnel", regional: true,
		newMsg: func() proto.Message { return &computepb.VpnTunnel{} },
		open:   openTable[computepb.VpnTunnel],
		check:  checkVpnTunnel,
		user: func(sn *snapshot, rel string) string {
			return firstUser(sn, kindRouter, rel, func(r *computepb.Router) []string {
				var out []string
				for _, i := range r.GetInterfaces() {
					out = append(out, i.GetLinkedVpnTunnel())
				}
				return out
			})
		},
		render: renderVpnTunnel,
		expand: func(base string, m proto.Message) {
			t := m.(*computepb.VpnTunnel)
			t.VpnGateway, t.PeerExternalGateway, t.Router = prefixPtr(base, t.VpnGateway), prefixPtr(base, t.PeerExternalGateway), prefixPtr(base, t.Router)
		},
		changed: func(s *server, rel string, deleted bool) error {
			if deleted {
				return s.e.UnregisterTunnelEnd(cloudName, rel)
			}
			return s.syncTunnelEnds()
		},
	})
}

func labelFingerprint(m map[string]string, self string) *string {
	keys := []string{self}
	for k, v := range m {
		keys = append(keys, k+"="+v)
	}
	return proto.String(base64.StdEncoding.EncodeToString([]byte(itoa(int64(numericID(keys...) % 1e9)))))
}

func checkVpnGateway(s *server, sn *snapshot, q *request, msg, _ proto.Message) error {
	g := msg.(*computepb.VpnGateway)
	if g.GetNetwork() == "" {
		return invalidField("resource.network", "", "An HA VPN gateway needs a network.")
	}
	network, _, err := normRef(sn, q.project, "resource.network", g.GetNetwork(), kindNetwork)
	if err != nil {
		return err
	}
	g.Network = proto.String(network)
	if g.StackType == nil {
		g.StackType = proto.String("IPV4_ONLY")
	}
	if st := g.GetStackType(); st != "IPV4_ONLY" && st != "IPV4_IPV6" {
		return invalidField("resource.stackType", st, "Must be IPV4_ONLY or IPV4_IPV6.")
	}
	if g.GatewayIpVersion == nil {
		g.GatewayIpVersion = proto.String("IPV4")
	}
	g.VpnInterfaces = nil
	for i := range 2 {
		ip, err := s.e.AllocatePublicIP()
		if err != nil {
			return engineError(err, g.GetSelfLink(), false)
		}
		g.VpnInterfaces = append(g.VpnInterfaces, &computepb.VpnGatewayVpnGatewayInterface{Id: proto.Uint32(uint32(i)), IpAddress: proto.String(ip)})
	}
	g.LabelFingerprint = labelFingerprint(g.Labels, g.GetSelfLink())
	return nil
}

// redundancy is how many interfaces each external VPN gateway redundancy
// type has, with ids 0 to n-1 (the ExternalVpnGateway and
// ExternalVpnGatewayInterface.id documentation of the Compute API:
// https://cloud.google.com/compute/docs/reference/rest/v1/externalVpnGateways;
// FOUR_IPS_REDUNDANCY is an AWS peer's two VPN connections, interfaces 0
// and 1 one connection's tunnels, 2 and 3 the other's).
var redundancy = map[string]int{"SINGLE_IP_INTERNALLY_REDUNDANT": 1, "TWO_IPS_REDUNDANCY": 2, "FOUR_IPS_REDUNDANCY": 4}

func checkExternalVpnGateway(_ *server, _ *snapshot, _ *request, msg, _ proto.Message) error {
	g := msg.(*computepb.ExternalVpnGateway)
	n, ok := redundancy[g.GetRedundancyType()]
	if !ok {
		return invalidField("resource.redundancyType", g.GetRedundancyType(), "Must be SINGLE_IP_INTERNALLY_REDUNDANT, TWO_IPS_REDUNDANCY or FOUR_IPS_REDUNDANCY.")
	}
	if len(g.GetInterfaces()) != n {
		return invalidf("Invalid value for field 'resource.interfaces': redundancy type %s needs %d interfaces, got %d.", g.GetRedundancyType(), n, len(g.GetInterfaces()))
	}
	ids := map[uint32]bool{}
	for i, iface := range g.GetInterfaces() {
		field := "resource.interfaces[" + itoa(int64(i)) + "]"
		if iface.Id == nil {
			iface.Id = proto.Uint32(uint32(i))
		}
		if int(iface.GetId()) >= n || ids[iface.GetId()] {
			return invalidField(field+".id", itoa(int64(iface.GetId())),
				"Interface ids of a "+g.GetRedundancyType()+" external VPN gateway are 0 to "+itoa(int64(n-1))+", each once.")
		}
		ids[iface.GetId()] = true
		if a, err := netip.ParseAddr(iface.GetIpAddress()); err != nil || !a.Is4() {
			return invalidField(field+".ipAddress", iface.GetIpAddress(), "Must be an IPv4 address.")
		}
	}
	g.LabelFingerprint = labelFingerprint(g.Labels, g.GetSelfLink())
	return nil
}

// sharedSecretMask is how GCE answers a tunnel's secret.
const sharedSecretMask = "*************"

func checkVpnTunnel(_ *server, sn *snapshot, q *request, msg, _ proto.Message) error {
	t := msg.(*computepb.VpnTunnel)
	switch {
	case t.TargetVpnGateway != nil:
		return invalidField("resource.targetVpnGateway", t.GetTargetVpnGateway(), "Classic VPN is not simulated; use an HA VPN gateway (vpnGateway).")
	case t.PeerGcpGateway != nil:
		return invalidField("resource.peerGcpGateway", t.GetPeerGcpGateway(), "Only peerExternalGateway is simulated.")
	case t.GetVpnGateway() == "":
		return invalidField("resource.vpnGateway", "", "An HA VPN tunnel needs vpnGateway.")
	case t.GetPeerExternalGateway() == "":
		return invalidField("resource.peerExternalGateway", "", "An HA VPN tunnel needs peerExternalGateway.")
	case t.GetSharedSecret() == "":
		return invalidField("resource.sharedSecret", "", "A shared secret is required.")
	}
	gwRel, gwRef, err := normRef(sn, q.project, "resource.vpnGateway", t.GetVpnGateway(), kindVpnGateway)
	if err != nil {
		return err
	}
	if gwRef.region != q.region || gwRef.project != q.project {
		return invalidField("resource.vpnGateway", t.GetVpnGateway(), "The VPN gateway must be in the tunnel's region.")
	}
	gwMsg, _ := sn.loadRel(gwRel)
	gw := gwMsg.(*computepb.VpnGateway)
	if t.VpnGatewayInterface == nil {
		return invalidField("resource.vpnGatewayInterface", "", "An HA VPN tunnel needs vpnGatewayInterface.")
	}
	if i := t.GetVpnGatewayInterface(); i < 0 || int(i) >= len(gw.GetVpnInterfaces()) {
		return invalidField("resource.vpnGatewayInterface", itoa(int64(i)), "The gateway has interfaces 0 and 1.")
	}
	extRel, _, err := normRef(sn, q.project, "resource.peerExternalGateway", t.GetPeerExternalGateway(), kindExternalVpnGateway)
	if err != nil {
		return err
	}
	extMsg, _ := sn.loadRel(extRel)
	ext := extMsg.(*computepb.ExternalVpnGateway)
	if t.PeerExternalGatewayInterface == nil {
		if len(ext.GetInterfaces()) > 1 {
			return invalidField("resource.peerExternalGatewayInterface", "", "The external gateway has several interfaces: name one.")
		}
		t.PeerExternalGatewayInterface = proto.Int32(0)
	}
	pi := t.GetPeerExternalGatewayInterface()
	j := slices.IndexFunc(ext.GetInterfaces(), func(x *computepb.ExternalVpnGatewayInterface) bool { return pi >= 0 && x.GetId() == uint32(pi) })
	if j < 0 {
		return invalidField("resource.peerExternalGatewayInterface", itoa(int64(pi)),
			"The "+ext.GetRedundancyType()+" external VPN gateway has no interface "+itoa(int64(pi))+".")
	}
	if t.IkeVersion == nil {
		t.IkeVersion = proto.Int32(2)
	}
	if v := t.GetIkeVersion(); v != 1 && v != 2 {
		return invalidField("resource.ikeVersion", itoa(int64(v)), "Must be 1 or 2.")
	}
	if t.GetRouter() != "" {
		rtRel, rtRef, err := normRef(sn, q.project, "resource.router", t.GetRouter(), kindRouter)
		if err != nil {
			return err
		}
		if rtRef.region != q.region {
			return invalidField("resource.router", t.GetRouter(), "The router must be in the tunnel's region.")
		}
		rt, _ := sn.loadRel(rtRel)
		if rt.(*computepb.Router).GetNetwork() != gw.GetNetwork() {
			return invalidField("resource.router", t.GetRouter(), "The router must be in the VPN gateway's network.")
		}
		t.Router = proto.String(rtRel)
	}
	t.VpnGateway, t.PeerExternalGateway = proto.String(gwRel), proto.String(extRel)
	t.PeerIp = proto.String(ext.GetInterfaces()[j].GetIpAddress())
	sum := sha256.Sum256([]byte(t.GetSharedSecret()))
	t.SharedSecretHash = proto.String(base64.RawURLEncoding.EncodeToString(sum[:21]))
	t.Status, t.DetailedStatus = nil, nil
	t.LabelFingerprint = labelFingerprint(t.Labels, t.GetSelfLink())
	return nil
}

// renderVpnTunnel hides the secret and reports the engine's view of the
// tunnel.
func renderVpnTunnel(s *server, _ *snapshot, msg proto.Message) {
	t := msg.(*computepb.VpnTunnel)
	t.SharedSecret = proto.String(sharedSecretMask)
	up, detail := s.e.TunnelStatus(cloudName, t.GetSelfLink())
	status := "NO_INCOMING_PACKETS"
	switch {
	case up:
		status, detail = "ESTABLISHED", "Tunnel is up and running."
	case strings.HasPrefix(detail, "IKE negotiation failed"), strings.HasPrefix(detail, "BGP session down"):
		status = "NEGOTIATION_FAILURE"
	}
	t.Status, t.DetailedStatus = proto.String(status), proto.String(detail)
}

// syncTunnelEnds registers every tunnel's end with the engine, from the
// tunnel, its gateways and the router interface and BGP peer that link it.
func (s *server) syncTunnelEnds() error {
	sn, err := s.snapshot()
	if err != nil {
		return err
	}
	var errs []error
	sn.each(kindVpnTunnel, func(_ string, m proto.Message) {
		errs = append(errs, s.e.RegisterTunnelEnd(tunnelEnd(sn, m.(*computepb.VpnTunnel))))
	})
	return errors.Join(errs...)
}

func tunnelEnd(sn *snapshot, t *computepb.VpnTunnel) cloudsim.TunnelEnd {
	end := cloudsim.TunnelEnd{Cloud: cloudName, ID: t.GetSelfLink(), PeerIP: t.GetPeerIp(), PSK: t.GetSharedSecret()}
	if gw, ok := sn.loadRel(t.GetVpnGateway()); ok {
		if ifs := gw.(*computepb.VpnGateway).GetVpnInterfaces(); int(t.GetVpnGatewayInterface()) < len(ifs) {
			end.LocalIP = ifs[t.GetVpnGatewayInterface()].GetIpAddress()
		}
	}
	rtMsg, ok := sn.loadRel(t.GetRouter())
	if !ok {
		return end
	}
	rt := rtMsg.(*computepb.Router)
	end.LocalASN = int64(rt.GetBgp().GetAsn())
	for _, iface := range rt.GetInterfaces() {
		if iface.GetLinkedVpnTunnel() != t.GetSelfLink() {
			continue
		}
		if p, err := netip.ParsePrefix(iface.GetIpRange()); err == nil {
			end.LocalInsideIP = p.Addr().String()
		}
		for _, peer := range rt.GetBgpPeers() {
			if peer.GetInterfaceName() == iface.GetName() {
				end.PeerInsideIP, end.PeerASN = peer.GetPeerIpAddress(), int64(peer.GetPeerAsn())
			}
		}
	}
	return end
}
