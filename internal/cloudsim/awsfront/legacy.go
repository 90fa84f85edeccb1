package awsfront

import "fmt"

// The Legacy readers of the network tables (store.go): each turns the
// flat attrs of an engine object of the version before the tables into
// its kind's row.

func legacyVPC(a *oldAttrs) VPC {
	return VPC{Identity: a.identity(), CIDR: a.str("cidr"), MainRouteTable: a.str("main_rtb"),
		CIDRAssociation: a.str("cidr_association"), Created: a.time("created")}
}

func legacySubnet(a *oldAttrs) Subnet {
	return Subnet{Identity: a.identity(), VPC: a.str("vpc"), CIDR: a.str("cidr"), Zone: a.str("zone"),
		ZoneID: a.str("zone_id")}
}

func legacyGroup(a *oldAttrs) SecurityGroup {
	return SecurityGroup{Identity: a.identity(), VPC: a.str("vpc"), Name: a.str("name"),
		Description: a.str("description")}
}

func legacyRule(a *oldAttrs) SecurityGroupRule {
	return SecurityGroupRule{ID: a.str("id"), Group: a.str("group"), Protocol: a.str("protocol"), From: a.str("from"), To: a.str("to"),
		CIDR: a.str("cidr"), Description: a.str("description")}
}

func legacyRouteTable(a *oldAttrs) RouteTable {
	return RouteTable{Identity: a.identity(), VPC: a.str("vpc"), Main: a.bool("main"),
		Association: a.str("association")}
}

func legacyRoute(a *oldAttrs) Route {
	return Route{Table: a.str("table"), Destination: a.str("dest"), Gateway: a.str("gateway"), Peering: a.str("peering")}
}

func legacyPropagation(a *oldAttrs) RoutePropagation {
	return RoutePropagation{Table: a.str("table"), Gateway: a.str("gateway")}
}

func legacyVPNGateway(a *oldAttrs) VPNGateway {
	return VPNGateway{Identity: a.identity(), Type: a.str("type"), AmazonSideASN: a.int("asn"), Zone: a.str("zone"),
		Created: a.time("created")}
}

func legacyAttachment(a *oldAttrs) VPCAttachment {
	return VPCAttachment{Gateway: a.str("gateway"), GatewayID: a.str("gateway_id"), VPC: a.str("vpc"), Created: a.time("created")}
}

func legacyCustomerGateway(a *oldAttrs) CustomerGateway {
	return CustomerGateway{Identity: a.identity(), Type: a.str("type"), IP: a.str("ip"), ASN: a.int("asn"),
		DeviceName: a.str("device")}
}

func legacyVPNConnection(a *oldAttrs) VPNConnection {
	v := VPNConnection{Identity: a.identity(), Type: a.str("type"), CustomerGateway: a.str("cgw"),
		VPNGateway: a.str("vgw"), StaticRoutesOnly: a.bool("static_routes_only"), Created: a.time("created")}
	for i := range v.Tunnels {
		p := fmt.Sprintf("tunnel%d_", i+1)
		v.Tunnels[i] = VPNTunnel{OutsideIP: a.str(p + "outside_ip"), InsideCIDR: a.str(p + "cidr"), PSK: a.str(p + "psk")}
	}
	return v
}

func legacyTunnelMod(a *oldAttrs) TunnelModification {
	return TunnelModification{Connection: a.str("connection"), InsideCIDR: a.str("cidr"), PSK: a.str("psk"), Modified: a.time("modified")}
}

func legacyPeering(a *oldAttrs) PeeringConnection {
	side := func(p string) PeeringSide {
		return PeeringSide{Region: a.str(p + "_region"), VPC: a.str(p + "_vpc"), CIDR: a.str(p + "_cidr")}
	}
	return PeeringConnection{Identity: Identity{ID: a.str("id"), Tags: a.tags()}, Requester: side("requester"), Accepter: side("accepter"), Failed: a.str("failed"),
		Created: a.time("created")}
}

func legacyAccept(a *oldAttrs) PeeringAcceptance {
	return PeeringAcceptance{Peering: a.str("peering"), Accepted: a.time("accepted")}
}

func legacyTag(a *oldAttrs) Tag {
	return Tag{Resource: a.str("resource"), Key: a.str("key"), Value: a.str("value")}
}
