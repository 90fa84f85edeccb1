package cloudsim

import (
	"fmt"
	"net/netip"
	"sort"
)

// The simulated clouds hand out public addresses from 198.18.0.0/15 (RFC
// 2544, reserved for benchmarks and never routed): they are only strings
// in API answers; nothing is ever sent to them.
var publicRange = netip.MustParsePrefix("198.18.0.0/15")

// AllocatePublicIP hands out the next simulated public address (VPN
// gateway interfaces, AWS tunnel outside addresses, Azure public IPs). It
// is persisted, so a later process never reuses an address; an error is
// the engine's (the world cannot be read or saved), and no address is
// handed out then.
func (e *Engine) AllocatePublicIP() (string, error) {
	defer e.lock()()
	if err := e.ready(); err != nil {
		return "", err
	}
	e.st.PublicIPs++
	a := publicRange.Addr().As4()
	n := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	n += uint32(e.st.PublicIPs % (1 << 17))
	ip := netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
	if err := e.save(); err != nil {
		return "", err
	}
	return ip.String(), nil
}

// TunnelEnd is one side of an IPsec tunnel with its BGP session, as a
// front end registers it when a tunnel is created. Two ends make an
// established tunnel when they mirror each other: same key, each one's
// outside address the other's peer address, inside addresses and ASNs
// swapped.
type TunnelEnd struct {
	// Cloud and ID identify the tunnel in its front end (e.g. "aws",
	// "vpn-0123/1").
	Cloud, ID string
	// LocalIP and PeerIP are the outside addresses.
	LocalIP, PeerIP string
	// LocalInsideIP and PeerInsideIP are the BGP peer addresses.
	LocalInsideIP, PeerInsideIP string
	PSK                         string
	LocalASN, PeerASN           int64
}

func (t TunnelEnd) mirrors(o TunnelEnd) bool {
	return t.LocalIP == o.PeerIP && t.PeerIP == o.LocalIP && t.PSK == o.PSK &&
		t.LocalInsideIP == o.PeerInsideIP && t.PeerInsideIP == o.LocalInsideIP &&
		t.LocalASN == o.PeerASN && t.PeerASN == o.LocalASN
}

// RegisterTunnelEnd records (or replaces) a tunnel end; an error is the
// engine's (the world cannot be read or saved).
func (e *Engine) RegisterTunnelEnd(t TunnelEnd) error {
	defer e.lock()()
	if err := e.ready(); err != nil {
		return err
	}
	if old, ok := e.st.TunnelEnds[t.Cloud+"/"+t.ID]; ok && *old == t {
		return nil
	}
	e.st.TunnelEnds[t.Cloud+"/"+t.ID] = &t
	return e.save()
}

// UnregisterTunnelEnd forgets a tunnel end (the tunnel was deleted); one
// that is not there is no error.
func (e *Engine) UnregisterTunnelEnd(cl, id string) error {
	defer e.lock()()
	if err := e.ready(); err != nil {
		return err
	}
	if _, ok := e.st.TunnelEnds[cl+"/"+id]; !ok {
		return nil
	}
	delete(e.st.TunnelEnds, cl+"/"+id)
	return e.save()
}

// TunnelStatus reports whether a registered tunnel end is established
// (a mirroring end exists, on any cloud) and, when it is not, why, in the
// words a cloud's tunnel status detail would use.
func (e *Engine) TunnelStatus(cl, id string) (up bool, detail string) {
	defer e.lock()()
	t, ok := e.st.TunnelEnds[cl+"/"+id]
	if !ok {
		return false, "tunnel not found"
	}
	keys := make([]string, 0, len(e.st.TunnelEnds))
	for k := range e.st.TunnelEnds {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		o := e.st.TunnelEnds[k]
		if k == cl+"/"+id || o.LocalIP != t.PeerIP || o.PeerIP != t.LocalIP {
			continue
		}
		if o.mirrors(*t) {
			return true, "IPsec and BGP established"
		}
		switch {
		case o.PSK != t.PSK:
			return false, "IKE negotiation failed: pre-shared key mismatch"
		case o.LocalASN != t.PeerASN || o.PeerASN != t.LocalASN:
			return false, fmt.Sprintf("BGP session down: peer ASN %d, expected %d", o.LocalASN, t.PeerASN)
		default:
			return false, "BGP session down: inside addresses do not match"
		}
	}
	return false, "waiting for the peer: no response from " + t.PeerIP
}
