package awsfront

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// EC2 site-to-site VPN connections and their tunnels: the wire side of
// model.go's VPNConnection and TunnelModification (rules in network.go).

var vpnFilters = []string{"vpn-connection-id", "state", "customer-gateway-id", "vpn-gateway-id", "type", "option.static-routes-only", "category"}

func (s *server) vpnState(v VPNConnection) string { return v.state(s.now(), s.times().Connection) }

func tunnelModName(vpn string, i int) string { return fmt.Sprintf("%s/%d", vpn, i) }

// tunnelsOf are a connection's tunnels 1 and 2 (indices 0 and 1) as they
// stand: created with the connection, or changed since by
// ModifyVpnTunnelOptions (Modified is then the change's time).
func (w *world) tunnelsOf(o cloudsim.Row[VPNConnection]) [2]VPNTunnel {
	out := o.Value.Tunnels
	for i := range out {
		if m, ok := w.tunnelMods.get(tunnelModName(o.Name, i+1)); ok {
			out[i].InsideCIDR, out[i].PSK, out[i].Modified = m.InsideCIDR, m.PSK, m.Modified
		}
	}
	return out
}

func (s *server) vpnFields(o cloudsim.Row[VPNConnection], _ *world) map[string][]string {
	v := o.Value
	return map[string][]string{"vpn-connection-id": {v.ID}, "state": {s.vpnState(v)}, "customer-gateway-id": {v.CustomerGateway},
		"vpn-gateway-id": {v.VPNGateway}, "type": {v.Type}, "option.static-routes-only": {strconv.FormatBool(v.StaticRoutesOnly)}, "category": {"VPN"}}
}

// vpnXML reports a connection with its tunnels: UP once it is available
// and the engine sees a mirroring end.
func (s *server) vpnXML(o cloudsim.Row[VPNConnection], w *world) xVpnConnection {
	v := o.Value
	x := xVpnConnection{VpnConnectionID: v.ID, State: s.vpnState(v), Type: v.Type, Category: "VPN", CustomerGatewayID: v.CustomerGateway,
		VpnGatewayID: v.VPNGateway, Tags: xTags(w.tagsOf(o.Name, v))}
	x.Options.StaticRoutesOnly = v.StaticRoutesOnly
	x.Options.TunnelInsideIPVersion = "ipv4"
	settle := s.times().Connection
	for n, tn := range w.tunnelsOf(o) {
		x.Options.Tunnels = append(x.Options.Tunnels, xTunnelOption{OutsideIPAddress: tn.OutsideIP, TunnelInsideCidr: tn.InsideCIDR, PreSharedKey: tn.PSK})
		ready := v.Created.Add(settle)
		modified := !tn.Modified.IsZero()
		if modified {
			ready = tn.Modified.Add(settle)
		}
		t := xTelemetry{OutsideIPAddress: tn.OutsideIP, Status: "DOWN", LastStatusChange: ec2Time(ready)}
		switch {
		case x.State == "available" && modified && s.since(tn.Modified) < settle:
			t.StatusMessage, t.LastStatusChange = "modifying the tunnel's options", ec2Time(tn.Modified)
		case x.State == "available":
			up, detail := s.e.TunnelStatus(cloudName, tunnelEndID(v.ID, n+1))
			t.StatusMessage = detail
			if up {
				t.Status = "UP"
			}
		default:
			t.StatusMessage, t.LastStatusChange = "", ec2Time(v.Created)
		}
		x.Telemetry = append(x.Telemetry, t)
	}
	return x
}

// createVpnConnection connects a virtual private gateway to a customer
// gateway with two tunnels (see the doc comment for the checks).
func (s *server) createVpnConnection(r *http.Request, region, reqID string, w *world) (any, error) {
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
	conn := VPNConnection{Identity: Identity{Region: region}, Type: typ, CustomerGateway: cgwID, VPNGateway: vgwID}
	if v := r.Form.Get("Options.StaticRoutesOnly"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, invalidValue("Value (%s) for parameter staticRoutesOnly is invalid.", v)
		}
		conn.StaticRoutesOnly = b
	}
	opts := indices(r, "Options.TunnelOptions")
	if len(opts) > 2 {
		return nil, invalidValue("A VPN connection has two tunnels; %d tunnel options were given.", len(opts))
	}
	var given []VPNTunnel
	for _, n := range opts {
		p := fmt.Sprintf("Options.TunnelOptions.%d.", n)
		given = append(given, VPNTunnel{InsideCIDR: r.Form.Get(p + "TunnelInsideCidr"), PSK: r.Form.Get(p + "PreSharedKey")})
	}
	if err := checkTunnels(given); err != nil {
		return nil, err
	}
	var err error
	if conn.Tags, err = parseTags(r, resVpn.tagType); err != nil {
		return nil, err
	}
	cgw, err := cgws.lookup(s, region, cgwID)
	if err != nil {
		return nil, err
	}
	vgw, err := vgws.lookup(s, region, vgwID)
	if err != nil {
		return nil, err
	}
	if st := s.vgwState(vgw.Value); st != "available" {
		return nil, incorrectState("The vpn gateway '%s' is in state %s; it must be available", vgwID, st)
	}
	if err := vpns.underQuota(w, region); err != nil {
		return nil, err
	}
	if err := conn.planTunnels(given, usedTunnelCIDRs(w, vgwID, "")); err != nil {
		return nil, err
	}
	conn.Created = s.now()
	for i := range conn.Tunnels {
		ip, err := s.e.AllocatePublicIP()
		if err != nil {
			return nil, engineErr(err, resVpn)
		}
		conn.Tunnels[i].OutsideIP = ip
	}
	o, err := insert(s, vpns, w, region, conn)
	if err != nil {
		return nil, err
	}
	conn, id := o.Value, o.Value.ID
	for i, t := range conn.Tunnels {
		if err := s.registerTunnel(conn, i+1, t, vgw.Value, cgw.Value); err != nil {
			// Undone, so that the SDK's retry of the 500 creates one
			// connection, not a second one.
			undo := drop(s.net.vpns, o.Name)
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
	for _, c := range w.vpns.where(func(v VPNConnection) bool { return v.VPNGateway == vgwID }) {
		for n, tn := range w.tunnelsOf(c) {
			if tunnelModName(c.Name, n+1) == skip {
				continue
			}
			if p, err := netip.ParsePrefix(tn.InsideCIDR); err == nil {
				used[p] = true
			}
		}
	}
	return used
}

// modifyVpnTunnelOptions sets the inside CIDR and key of the tunnel of a
// connection with the given outside address (see the doc comment).
func (s *server) modifyVpnTunnelOptions(r *http.Request, region, reqID string, w *world) (any, error) {
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
	o, err := vpns.lookup(s, region, id)
	if err != nil {
		return nil, err
	}
	conn := o.Value
	if st := s.vpnState(conn); st != "available" {
		return nil, incorrectState("The VPN connection %s is in state %s; its tunnel options can be modified once it is available.", id, st)
	}
	tunnels := w.tunnelsOf(o)
	n := slices.IndexFunc(tunnels[:], func(t VPNTunnel) bool { return t.OutsideIP == outside })
	if n < 0 {
		return nil, invalidValue("The VPN tunnel outside IP address %s does not belong to VPN connection %s.", outside, id)
	}
	tn := tunnels[n]
	if !tn.Modified.IsZero() && s.since(tn.Modified) < s.times().Connection {
		return nil, incorrectState("The tunnel %s of VPN connection %s is still being modified.", outside, id)
	}
	if v := r.Form.Get("TunnelOptions.TunnelInsideCidr"); v != "" {
		c, err := checkTunnelCIDR(v)
		if err != nil {
			return nil, err
		}
		if usedTunnelCIDRs(w, conn.VPNGateway, tunnelModName(o.Name, n+1))[c] {
			return nil, invalidValue("The tunnel inside CIDR %s is already used by a VPN connection of %s.", v, conn.VPNGateway)
		}
		tn.InsideCIDR = c.String()
	}
	if v := r.Form.Get("TunnelOptions.PreSharedKey"); v != "" {
		if err := checkPSK(v); err != nil {
			return nil, err
		}
		tn.PSK = v
	}
	name := tunnelModName(o.Name, n+1)
	if _, ok := w.tunnelMods.get(name); ok {
		if err := drop(s.net.tunnelMods, name); err != nil {
			return nil, engineErr(err, resVpn)
		}
	}
	tn.Modified = s.now()
	if err := s.net.tunnelMods.Put(name, TunnelModification{Connection: o.Name, InsideCIDR: tn.InsideCIDR, PSK: tn.PSK, Modified: tn.Modified}); err != nil {
		return nil, engineErr(err, resVpn)
	}
	cgw, _ := w.cgws.get(cgws.name(region, conn.CustomerGateway))
	vgw, _ := w.vgws.get(vgws.name(region, conn.VPNGateway))
	if err := s.registerTunnel(conn, n+1, tn, vgw, cgw); err != nil {
		return nil, internalErr("tunnel "+outside+" of "+conn.ID+" was modified, but not registered", err)
	}
	if w, err = s.world(); err != nil {
		return nil, err
	}
	out := reply("ModifyVpnTunnelOptions", reqID)
	x := s.vpnXML(o, w)
	out.VpnConnection = &x
	return out, nil
}

// registerTunnel registers tunnel n of a connection with the engine.
func (s *server) registerTunnel(conn VPNConnection, n int, tn VPNTunnel, vgw VPNGateway, cgw CustomerGateway) error {
	awsSide, customer := tn.insideIPs()
	return s.e.RegisterTunnelEnd(cloudsim.TunnelEnd{Cloud: cloudName, ID: tunnelEndID(conn.ID, n), LocalIP: tn.OutsideIP, PeerIP: cgw.IP,
		LocalInsideIP: awsSide, PeerInsideIP: customer, PSK: tn.PSK, LocalASN: vgw.AmazonSideASN, PeerASN: cgw.ASN})
}

var describeVpnConnections = describeHandler(describeSpec[VPNConnection, xVpnConnection]{action: "DescribeVpnConnections", kind: vpns, idParam: "VpnConnectionId",
	known: vpnFilters, fields: (*server).vpnFields,
	xml: (*server).vpnXML, set: func(o *netResponse) **[]xVpnConnection { return &o.VpnConnections }})

var deleteVpnConnection = deleteHandler(deleteSpec[VPNConnection]{action: "DeleteVpnConnection", kind: vpns,
	idParam: "VpnConnectionId", param: "vpnConnectionId",
	children: func(s *server, w *world, o cloudsim.Row[VPNConnection]) error {
		return dropAll(s.net.tunnelMods, w.tunnelMods.where(func(m TunnelModification) bool { return m.Connection == o.Name }))
	},
	after: func(s *server, _ *world, o cloudsim.Row[VPNConnection]) error {
		var errs []error
		for i := 1; i <= 2; i++ {
			errs = append(errs, s.e.UnregisterTunnelEnd(cloudName, tunnelEndID(o.Value.ID, i)))
		}
		return errors.Join(errs...)
	}})
