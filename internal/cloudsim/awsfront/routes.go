package awsfront

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// EC2 route tables, routes and route propagation (the engine objects and rules are in network.go).

var routeTableFilters = []string{"route-table-id", "vpc-id", "association.main", "association.route-table-association-id",
	"association.route-table-id", "route.destination-cidr-block", "route.gateway-id", "route.vpc-peering-connection-id",
	"route.state", "route.origin", "owner-id"}

func (s *server) routeTableFields(o cloudsim.Object, w *world) map[string][]string {
	a := o.Attrs
	f := map[string][]string{"route-table-id": {a["id"]}, "vpc-id": {a["vpc"]}, "association.main": {a["main"]},
		"association.route-table-association-id": {a["association"]}, "association.route-table-id": {a["id"]}, "owner-id": {s.opts.AccountID}}
	for _, rt := range s.routes(o, w) {
		f["route.destination-cidr-block"] = append(f["route.destination-cidr-block"], rt.DestinationCidrBlock)
		f["route.gateway-id"] = append(f["route.gateway-id"], rt.GatewayID)
		f["route.vpc-peering-connection-id"] = append(f["route.vpc-peering-connection-id"], rt.PeeringID)
		f["route.state"] = append(f["route.state"], rt.State)
		f["route.origin"] = append(f["route.origin"], rt.Origin)
	}
	return f
}

// routes are a route table's routes: the VPC's local route, then those
// CreateRoute added, by destination. A route whose target is gone, not
// attached or not active is a blackhole.
func (s *server) routes(o cloudsim.Object, w *world) []xRoute {
	region, vpcID := o.Attrs["region"], o.Attrs["vpc"]
	cidr, _ := s.vpcOf(w, region, vpcID)
	out := []xRoute{{DestinationCidrBlock: cidr.String(), GatewayID: "local", State: "active", Origin: "CreateRouteTable"}}
	added := w.children(kindRoute, "table", o.Name)
	slices.SortFunc(added, func(a, b cloudsim.Object) int { return strings.Compare(a.Attrs["dest"], b.Attrs["dest"]) })
	for _, rt := range added {
		x := xRoute{DestinationCidrBlock: rt.Attrs["dest"], GatewayID: rt.Attrs["gateway"], PeeringID: rt.Attrs["peering"], State: "blackhole", Origin: "CreateRoute"}
		switch {
		case x.GatewayID != "":
			if att, ok := w.get(kindAttachment, objectName(resVgw, region, x.GatewayID)); ok && att.Attrs["vpc"] == vpcID {
				x.State = "active"
			}
		case x.PeeringID != "":
			if p, ok := w.get(kindPeering, objectName(resPeering, region, x.PeeringID)); ok {
				if st, _ := s.peeringStatus(w, p); st == "active" {
					x.State = "active"
				}
			}
		}
		out = append(out, x)
	}
	return out
}

func (s *server) routeTableXML(o cloudsim.Object, w *world) xRouteTable {
	a := o.Attrs
	x := xRouteTable{RouteTableID: a["id"], VpcID: a["vpc"], OwnerID: s.opts.AccountID, Routes: s.routes(o, w), Tags: xTags(w.tagsOf(o))}
	if a["main"] == "true" {
		x.Associations = []xRouteTableAssociation{{Main: true, AssociationID: a["association"], RouteTableID: a["id"], State: "associated"}}
	}
	for _, p := range w.children(kindPropagate, "table", o.Name) {
		x.Propagating = append(x.Propagating, xPropagatingVgw{p.Attrs["gateway"]})
	}
	slices.SortFunc(x.Propagating, func(a, b xPropagatingVgw) int { return strings.Compare(a.GatewayID, b.GatewayID) })
	return x
}

var describeRouteTables = describeHandler(describeSpec[xRouteTable]{action: "DescribeRouteTables", res: resRouteTable, idParam: "RouteTableId",
	known: routeTableFilters, fields: (*server).routeTableFields,
	xml: (*server).routeTableXML, set: func(o *netResponse) **[]xRouteTable { return &o.RouteTables }})

// attachedTo reports whether a virtual private gateway is attached (or
// attaching) to a VPC.
func attachedTo(w *world, region, vgwID, vpcID string) bool {
	att, ok := w.get(kindAttachment, objectName(resVgw, region, vgwID))
	return ok && att.Attrs["vpc"] == vpcID
}

// createRoute adds a route to a virtual private gateway attached to the
// table's VPC (GatewayId) or to a peering of the VPC
// (VpcPeeringConnectionId).
func (s *server) createRoute(r *http.Request, region, reqID string) (any, error) {
	tableID, dest := r.Form.Get("RouteTableId"), r.Form.Get("DestinationCidrBlock")
	gw, pcx := r.Form.Get("GatewayId"), r.Form.Get("VpcPeeringConnectionId")
	switch {
	case tableID == "":
		return nil, missing("routeTableId")
	case dest == "":
		return nil, missing("destinationCidrBlock")
	case (gw == "") == (pcx == ""):
		return nil, &ec2Err{400, "InvalidParameterCombination", "The request must name exactly one target: gatewayId or vpcPeeringConnectionId (awsfront simulates these two)"}
	}
	for _, other := range []string{"NatGatewayId", "InstanceId", "NetworkInterfaceId", "TransitGatewayId", "LocalGatewayId", "CarrierGatewayId",
		"EgressOnlyInternetGatewayId", "VpcEndpointId", "CoreNetworkArn", "DestinationIpv6CidrBlock", "DestinationPrefixListId"} {
		if r.Form.Get(other) != "" {
			return nil, invalidValue("awsfront does not simulate %s", other)
		}
	}
	p, err := parseCIDR(dest, "destinationCidrBlock")
	if err != nil {
		return nil, err
	}
	rt, err := s.lookup(resRouteTable, region, tableID)
	if err != nil {
		return nil, err
	}
	if gw != "" {
		if !strings.HasPrefix(gw, "vgw-") {
			return nil, &ec2Err{400, "InvalidGatewayID.NotFound", fmt.Sprintf("The gateway ID '%s' does not exist", gw)}
		}
		if _, err := s.lookup(resVgw, region, gw); err != nil {
			return nil, err
		}
	} else if _, err := s.lookup(resPeering, region, pcx); err != nil {
		return nil, err
	}
	w := s.world()
	vpcID := rt.Attrs["vpc"]
	vpcCIDR, _ := s.vpcOf(w, region, vpcID)
	if inside(p, vpcCIDR) {
		return nil, invalidValue("The destination CIDR block %s is equal to or more specific than one of this VPC's CIDR blocks. This route can target only an interface or an instance.", dest)
	}
	if gw != "" && !attachedTo(w, region, gw, vpcID) {
		return nil, &ec2Err{400, "Gateway.NotAttached", fmt.Sprintf("resource %s is not attached to network %s", gw, vpcID)}
	}
	if pcx != "" {
		o, _ := w.get(kindPeering, objectName(resPeering, region, pcx))
		if o.Attrs["requester_vpc"] != vpcID && o.Attrs["accepter_vpc"] != vpcID {
			return nil, invalidValue("route table %s and network %s belong to different networks", tableID, pcx)
		}
	}
	existing := w.children(kindRoute, "table", rt.Name)
	for _, o := range existing {
		if o.Attrs["dest"] == p.String() {
			return nil, &ec2Err{400, "RouteAlreadyExists", fmt.Sprintf("The route identified by %s already exists.", dest)}
		}
	}
	if len(existing) >= maxRoutesPerTable {
		return nil, &ec2Err{400, "RouteLimitExceeded", "The maximum number of routes has been reached."}
	}
	if _, err := s.e.PutObject(cloudName, kindRoute, rt.Name+"/"+p.String(), map[string]string{
		"table": rt.Name, "dest": p.String(), "gateway": gw, "peering": pcx}); err != nil {
		return nil, engineErr(err, resRouteTable)
	}
	return replyTrue("CreateRoute", reqID), nil
}

func (s *server) deleteRoute(r *http.Request, region, reqID string) (any, error) {
	v, err := required(r, "RouteTableId", "routeTableId", "DestinationCidrBlock", "destinationCidrBlock")
	if err != nil {
		return nil, err
	}
	tableID, dest := v[0], v[1]
	p, err := parseCIDR(dest, "destinationCidrBlock")
	if err != nil {
		return nil, err
	}
	rt, err := s.lookup(resRouteTable, region, tableID)
	if err != nil {
		return nil, err
	}
	if err := s.e.DeleteObject(cloudName, kindRoute, rt.Name+"/"+p.String()); err != nil {
		if cloud.IsNotFound(err) {
			return nil, &ec2Err{400, "InvalidRoute.NotFound", fmt.Sprintf("no route with destination-cidr-block %s in route table %s", dest, tableID)}
		}
		return nil, engineErr(err, resRouteTable)
	}
	return replyTrue("DeleteRoute", reqID), nil
}

// enableVgwRoutePropagation lets a route table learn the routes of a
// virtual private gateway attached to its VPC.
func (s *server) enableVgwRoutePropagation(r *http.Request, region, reqID string) (any, error) {
	v, err := required(r, "RouteTableId", "routeTableId", "GatewayId", "gatewayId")
	if err != nil {
		return nil, err
	}
	tableID, gw := v[0], v[1]
	rt, err := s.lookup(resRouteTable, region, tableID)
	if err != nil {
		return nil, err
	}
	if _, err := s.lookup(resVgw, region, gw); err != nil {
		return nil, err
	}
	if !attachedTo(s.world(), region, gw, rt.Attrs["vpc"]) {
		return nil, &ec2Err{400, "Gateway.NotAttached", fmt.Sprintf("resource %s is not attached to network %s", gw, rt.Attrs["vpc"])}
	}
	if _, err := s.e.PutObject(cloudName, kindPropagate, rt.Name+"/"+gw, map[string]string{"table": rt.Name, "gateway": gw}); err != nil {
		return nil, engineErr(err, resRouteTable)
	}
	return replyTrue("EnableVgwRoutePropagation", reqID), nil
}
