package awsfront

import (
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// EC2 site-to-site VPN connections and their tunnels (the engine objects and rules are in network.go).

var vpnFilters = []string{"vpn-connection-id", "state", "customer-gateway-id", "vpn-gateway-id", "type", "option.static-routes-only", "category"}

var (
	linkLocal      = netip.MustParsePrefix("169.254.0.0/16")
	reservedTunnel = []netip.Prefix{
		netip.MustParsePrefix("169.254.0.0/30"), netip.MustParsePrefix("169.254.1.0/30"), netip.MustParsePrefix("169.254.2.0/30"),
		netip.MustParsePrefix("169.254.3.0/30"), netip.MustParsePrefix("169.254.4.0/30"), netip.MustParsePrefix("169.254.5.0/30"),
		netip.MustParsePrefix("169.254.169.252/30"),
	}
	pskPattern = regexp.MustCompile(`^[A-Za-z1-9._][A-Za-z0-9._]{7,63}$`)
)

// checkTunnelCIDR validates a TunnelInsideCidr.
func checkTunnelCIDR(v string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(v)
	if err != nil || !p.Addr().Is4() || p.Bits() != 30 || p.Masked() != p || !inside(p, linkLocal) {
		return netip.Prefix{}, invalidValue("The tunnel inside CIDR %s is invalid: it must be a /30 CIDR block in the 169.254.0.0/16 range.", v)
	}
	if slices.Contains(reservedTunnel, p) {
		return netip.Prefix{}, invalidValue("The tunnel inside CIDR %s is reserved and cannot be used.", v)
	}
	return p, nil
}

func checkPSK(v string) error {
	if !pskPattern.MatchString(v) {
		return invalidValue("Invalid PreSharedKey: it must be 8 to 64 characters of letters, digits, periods (.) and underscores (_), and cannot start with zero (0).")
	}
	return nil
}

// randomPSK is a key as AWS would choose one.
func randomPSK() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_."
	var b [32]byte
	_, _ = rand.Read(b[:])
	out := make([]byte, len(b))
	for i, c := range b {
		out[i] = alphabet[int(c)%len(alphabet)]
	}
	if out[0] == '0' || out[0] == '.' || out[0] == '_' {
		out[0] = 'k'
	}
	return string(out)
}

// freeTunnelCIDR is the first /30 of 169.254.10.0/23 not in use.
func freeTunnelCIDR(used map[netip.Prefix]bool) netip.Prefix {
	a := netip.MustParseAddr("169.254.10.0")
	for range 128 {
		p := netip.PrefixFrom(a, 30)
		if !used[p] {
			return p
		}
		for range 4 {
			a = a.Next()
		}
	}
	return netip.PrefixFrom(a, 30)
}

// insideIPs are the AWS and customer sides of a tunnel's /30.
func insideIPs(cidr string) (aws, customer string) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return "", ""
	}
	first := p.Addr().Next()
	return first.String(), first.Next().String()
}

func (s *server) vpnState(o cloudsim.Object) string {
	if s.since(o.Attrs["created"]) < s.times().Connection {
		return "pending"
	}
	return "available"
}

func tunnelEndID(vpnID string, i int) string { return fmt.Sprintf("%s/%d", vpnID, i) }

// vpnTunnel is one of a connection's two tunnels as it stands: created
// with the connection, or changed since by ModifyVpnTunnelOptions
// (modified is then the change's time).
type vpnTunnel struct {
	outsideIP, cidr, psk, modified string
}

func tunnelModName(vpn string, i int) string { return fmt.Sprintf("%s/%d", vpn, i) }

// vpnTunnels are a connection's tunnels 1 and 2 (indices 0 and 1).
func vpnTunnels(w *world, o cloudsim.Object) [2]vpnTunnel {
	var out [2]vpnTunnel
	for i := range out {
		p := fmt.Sprintf("tunnel%d_", i+1)
		out[i] = vpnTunnel{outsideIP: o.Attrs[p+"outside_ip"], cidr: o.Attrs[p+"cidr"], psk: o.Attrs[p+"psk"]}
		if m, ok := w.get(kindTunnelMod, tunnelModName(o.Name, i+1)); ok {
			out[i].cidr, out[i].psk, out[i].modified = m.Attrs["cidr"], m.Attrs["psk"], m.Attrs["modified"]
		}
	}
	return out
}

func (s *server) vpnFields(o cloudsim.Object, _ *world) map[string][]string {
	a := o.Attrs
	return map[string][]string{"vpn-connection-id": {a["id"]}, "state": {s.vpnState(o)}, "customer-gateway-id": {a["cgw"]},
		"vpn-gateway-id": {a["vgw"]}, "type": {a["type"]}, "option.static-routes-only": {a["static_routes_only"]}, "category": {"VPN"}}
}

// vpnXML reports a connection with its tunnels: UP once it is available
// and the engine sees a mirroring end.
func (s *server) vpnXML(o cloudsim.Object, w *world) xVpnConnection {
	a := o.Attrs
	x := xVpnConnection{VpnConnectionID: a["id"], State: s.vpnState(o), Type: a["type"], Category: "VPN", CustomerGatewayID: a["cgw"],
		VpnGatewayID: a["vgw"], Tags: xTags(w.tagsOf(o))}
	x.Options.StaticRoutesOnly = a["static_routes_only"] == "true"
	x.Options.TunnelInsideIPVersion = "ipv4"
	for n, tn := range vpnTunnels(w, o) {
		i := n + 1
		x.Options.Tunnels = append(x.Options.Tunnels, xTunnelOption{OutsideIPAddress: tn.outsideIP, TunnelInsideCidr: tn.cidr, PreSharedKey: tn.psk})
		ready := later(a["created"], s.times().Connection)
		if tn.modified != "" {
			ready = later(tn.modified, s.times().Connection)
		}
		t := xTelemetry{OutsideIPAddress: tn.outsideIP, Status: "DOWN", LastStatusChange: ec2Time(ready)}
		switch {
		case x.State == "available" && tn.modified != "" && s.since(tn.modified) < s.times().Connection:
			t.StatusMessage, t.LastStatusChange = "modifying the tunnel's options", ec2Time(tn.modified)
		case x.State == "available":
			up, detail := s.e.TunnelStatus(cloudName, tunnelEndID(a["id"], i))
			t.StatusMessage = detail
			if up {
				t.Status = "UP"
			}
		default:
			t.StatusMessage, t.LastStatusChange = "", ec2Time(a["created"])
		}
		x.Telemetry = append(x.Telemetry, t)
	}
	return x
}

// createVpnConnection connects a virtual private gateway to a customer
// gateway with two tunnels (see the doc comment for the checks).
func (s *server) createVpnConnection(r *http.Request, region, reqID string) (any, error) {
	typ, cgwID, vgwID := r.Form.Get("Type"), r.Form.Get("CustomerGatewayId"), r.Form.Get("VpnGatewayId")
	switch {
	case typ == "":
		return nil, missing("type")
	case typ != "ipsec.1":
		return nil, invalidValue("Value (%s) for parameter type is invalid. Valid values: ipsec.1", typ)
	case cgwID == "":
		return nil, missing("customerGatewayId")
	case r.Form.Get("TransitGatewayId") != "":
		return nil, invalidValue("awsfront simulates VPN connections to virtual private gateways only")
	case vgwID == "":
		return nil, missing("vpnGatewayId")
	}
	static := "false"
	if v := r.Form.Get("Options.StaticRoutesOnly"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, invalidValue("Value (%s) for parameter staticRoutesOnly is invalid.", v)
		}
		static = strconv.FormatBool(b)
	}
	opts := indices(r, "Options.TunnelOptions")
	if len(opts) > 2 {
		return nil, invalidValue("A VPN connection has two tunnels; %d tunnel options were given.", len(opts))
	}
	type tunnel struct{ cidr, psk string }
	var tunnels []tunnel
	mine := map[netip.Prefix]bool{}
	for _, n := range opts {
		p := fmt.Sprintf("Options.TunnelOptions.%d.", n)
		t := tunnel{r.Form.Get(p + "TunnelInsideCidr"), r.Form.Get(p + "PreSharedKey")}
		if t.cidr != "" {
			c, err := checkTunnelCIDR(t.cidr)
			if err != nil {
				return nil, err
			}
			if mine[c] {
				return nil, invalidValue("The tunnel inside CIDR %s is given for both tunnels.", t.cidr)
			}
			mine[c] = true
		}
		if t.psk != "" {
			if err := checkPSK(t.psk); err != nil {
				return nil, err
			}
		}
		tunnels = append(tunnels, t)
	}
	tags, err := parseTags(r, resVpn.tagType)
	if err != nil {
		return nil, err
	}
	cgw, err := s.lookup(resCgw, region, cgwID)
	if err != nil {
		return nil, err
	}
	vgw, err := s.lookup(resVgw, region, vgwID)
	if err != nil {
		return nil, err
	}
	if st := s.vgwState(vgw); st != "available" {
		return nil, incorrectState("The vpn gateway '%s' is in state %s; it must be available", vgwID, st)
	}
	w := s.world()
	if len(w.inRegion(kindVpn, region)) >= maxVpnConnections {
		return nil, &ec2Err{400, "VpnConnectionLimitExceeded", "The maximum number of VPN connections has been reached."}
	}
	used := usedTunnelCIDRs(w, vgwID, "")
	for c := range mine {
		if used[c] {
			return nil, invalidValue("The tunnel inside CIDR %s is already used by another VPN connection of %s.", c, vgwID)
		}
	}
	for len(tunnels) < 2 {
		tunnels = append(tunnels, tunnel{})
	}
	for i := range tunnels {
		if tunnels[i].cidr == "" {
			c := freeTunnelCIDR(func() map[netip.Prefix]bool {
				all := maps.Clone(used)
				maps.Copy(all, mine)
				return all
			}())
			mine[c] = true
			tunnels[i].cidr = c.String()
		}
		if tunnels[i].psk == "" {
			tunnels[i].psk = randomPSK()
		}
	}
	id := newID("vpn", w)
	attrs := withTags(map[string]string{"id": id, "region": region, "type": typ, "cgw": cgwID, "vgw": vgwID, "static_routes_only": static,
		"created": s.stamp()}, tags)
	for i, t := range tunnels {
		p := fmt.Sprintf("tunnel%d_", i+1)
		ip, err := s.e.AllocatePublicIP()
		if err != nil {
			return nil, engineErr(err, resVpn)
		}
		attrs[p+"cidr"], attrs[p+"psk"], attrs[p+"outside_ip"] = t.cidr, t.psk, ip
	}
	o, err := s.e.PutObject(cloudName, kindVpn, objectName(resVpn, region, id), attrs)
	if err != nil {
		return nil, engineErr(err, resVpn)
	}
	for i, t := range tunnels {
		if err := s.registerTunnel(o, i+1, attrs[fmt.Sprintf("tunnel%d_outside_ip", i+1)], t.cidr, t.psk, vgw, cgw); err != nil {
			// Undone, so that the SDK's retry of the 500 creates one
			// connection, not a second one.
			undo := s.deleteObject(kindVpn, o.Name)
			for n := 1; n <= i; n++ {
				undo = errors.Join(undo, s.e.UnregisterTunnelEnd(cloudName, tunnelEndID(id, n)))
			}
			if undo != nil {
				return nil, internalErr("vpn connection "+id+" stayed after its tunnels failed to register ("+err.Error()+")", undo)
			}
			return nil, internalErr("vpn connection "+id+" was not created: its tunnels failed to register", err)
		}
	}
	out := reply("CreateVpnConnection", reqID)
	x := s.vpnXML(o, w)
	out.VpnConnection = &x
	return out, nil
}

// usedTunnelCIDRs are the inside CIDRs of the tunnels of a virtual private
// gateway's connections, but for tunnel skip ("<vpn name>/<n>").
func usedTunnelCIDRs(w *world, vgwID, skip string) map[netip.Prefix]bool {
	used := map[netip.Prefix]bool{}
	for _, c := range w.children(kindVpn, "vgw", vgwID) {
		for n, tn := range vpnTunnels(w, c) {
			if tunnelModName(c.Name, n+1) == skip {
				continue
			}
			if p, err := netip.ParsePrefix(tn.cidr); err == nil {
				used[p] = true
			}
		}
	}
	return used
}

// modifyVpnTunnelOptions sets the inside CIDR and key of the tunnel of a
// connection with the given outside address (see the doc comment).
func (s *server) modifyVpnTunnelOptions(r *http.Request, region, reqID string) (any, error) {
	id, outside := r.Form.Get("VpnConnectionId"), r.Form.Get("VpnTunnelOutsideIpAddress")
	switch {
	case id == "":
		return nil, missing("vpnConnectionId")
	case outside == "":
		return nil, missing("vpnTunnelOutsideIpAddress")
	case len(indices(r, "TunnelOptions")) > 0:
		return nil, invalidValue("TunnelOptions is one tunnel's options, not a list.")
	}
	var known []string
	for k := range r.Form {
		if strings.HasPrefix(k, "TunnelOptions.") {
			known = append(known, k)
		}
	}
	if len(known) == 0 {
		return nil, missing("tunnelOptions")
	}
	for _, k := range known {
		if k != "TunnelOptions.TunnelInsideCidr" && k != "TunnelOptions.PreSharedKey" {
			return nil, invalidValue("awsfront simulates changing TunnelInsideCidr and PreSharedKey only, not %s.", strings.TrimPrefix(k, "TunnelOptions."))
		}
	}
	o, err := s.lookup(resVpn, region, id)
	if err != nil {
		return nil, err
	}
	if st := s.vpnState(o); st != "available" {
		return nil, incorrectState("The VPN connection %s is in state %s; its tunnel options can be modified once it is available.", id, st)
	}
	w := s.world()
	tunnels := vpnTunnels(w, o)
	n := slices.IndexFunc(tunnels[:], func(t vpnTunnel) bool { return t.outsideIP == outside })
	if n < 0 {
		return nil, invalidValue("The VPN tunnel outside IP address %s does not belong to VPN connection %s.", outside, id)
	}
	tn := tunnels[n]
	if tn.modified != "" && s.since(tn.modified) < s.times().Connection {
		return nil, incorrectState("The tunnel %s of VPN connection %s is still being modified.", outside, id)
	}
	cidr, psk := tn.cidr, tn.psk
	if v := r.Form.Get("TunnelOptions.TunnelInsideCidr"); v != "" {
		c, err := checkTunnelCIDR(v)
		if err != nil {
			return nil, err
		}
		if usedTunnelCIDRs(w, o.Attrs["vgw"], tunnelModName(o.Name, n+1))[c] {
			return nil, invalidValue("The tunnel inside CIDR %s is already used by a VPN connection of %s.", v, o.Attrs["vgw"])
		}
		cidr = c.String()
	}
	if v := r.Form.Get("TunnelOptions.PreSharedKey"); v != "" {
		if err := checkPSK(v); err != nil {
			return nil, err
		}
		psk = v
	}
	name := tunnelModName(o.Name, n+1)
	if _, ok := w.get(kindTunnelMod, name); ok {
		if err := s.e.DeleteObject(cloudName, kindTunnelMod, name); err != nil && !cloud.IsNotFound(err) {
			return nil, engineErr(err, resVpn)
		}
	}
	if _, err := s.e.PutObject(cloudName, kindTunnelMod, name, map[string]string{"connection": o.Name, "cidr": cidr, "psk": psk, "modified": s.stamp()}); err != nil {
		return nil, engineErr(err, resVpn)
	}
	cgw, _ := w.get(kindCgw, objectName(resCgw, region, o.Attrs["cgw"]))
	vgw, _ := w.get(kindVgw, objectName(resVgw, region, o.Attrs["vgw"]))
	if err := s.registerTunnel(o, n+1, outside, cidr, psk, vgw, cgw); err != nil {
		return nil, internalErr("tunnel "+outside+" of "+o.Attrs["id"]+" was modified, but not registered", err)
	}
	w = s.world()
	out := reply("ModifyVpnTunnelOptions", reqID)
	x := s.vpnXML(o, w)
	out.VpnConnection = &x
	return out, nil
}

// registerTunnel registers tunnel n of a connection with the engine.
func (s *server) registerTunnel(o cloudsim.Object, n int, outside, cidr, psk string, vgw, cgw cloudsim.Object) error {
	localASN, _ := strconv.ParseInt(vgw.Attrs["asn"], 10, 64)
	peerASN, _ := strconv.ParseInt(cgw.Attrs["asn"], 10, 64)
	awsSide, customer := insideIPs(cidr)
	return s.e.RegisterTunnelEnd(cloudsim.TunnelEnd{Cloud: cloudName, ID: tunnelEndID(o.Attrs["id"], n), LocalIP: outside, PeerIP: cgw.Attrs["ip"],
		LocalInsideIP: awsSide, PeerInsideIP: customer, PSK: psk, LocalASN: localASN, PeerASN: peerASN})
}

var describeVpnConnections = describeHandler(describeSpec[xVpnConnection]{action: "DescribeVpnConnections", res: resVpn, idParam: "VpnConnectionId",
	known: vpnFilters, fields: (*server).vpnFields,
	xml: (*server).vpnXML, set: func(o *netResponse) **[]xVpnConnection { return &o.VpnConnections }})

var deleteVpnConnection = deleteHandler(deleteSpec{action: "DeleteVpnConnection", res: resVpn, idParam: "VpnConnectionId", param: "vpnConnectionId",
	children: map[string]string{kindTunnelMod: "connection"},
	after: func(s *server, _ *world, o cloudsim.Object) error {
		var errs []error
		for i := 1; i <= 2; i++ {
			errs = append(errs, s.e.UnregisterTunnelEnd(cloudName, tunnelEndID(o.Attrs["id"], i)))
		}
		return errors.Join(errs...)
	}})
