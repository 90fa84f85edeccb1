package awsfront

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// EC2 route tables, routes and route propagation: the wire side of
// model.go's RouteTable, Route and RoutePropagation (rules in network.go).

var routeTableFilters = []string{"route-table-id", "vpc-id", "association.main", "association.route-table-association-id",
	"association.route-table-id", "route.destination-cidr-block", "route.gateway-id", "route.vpc-peering-connection-id",
	"route.state", "route.origin", "owner-id"}

func (s *server) routeTableFields(o cloudsim.Row[RouteTable], w *world) map[string][]string {
	v := o.Value
	f := map[string][]string{"route-table-id": {v.ID}, "vpc-id": {v.VPC}, "association.main": {strconv.FormatBool(v.Main)},
		"association.route-table-association-id": {v.Association}, "association.route-table-id": {v.ID}, "owner-id": {s.opts.AccountID}}
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
func (s *server) routes(o cloudsim.Row[RouteTable], w *world) []xRoute {
	region, vpcID := o.Value.Region, o.Value.VPC
	cidr := w.vpcCIDR(region, vpcID)
	out := []xRoute{{DestinationCidrBlock: cidr.String(), GatewayID: "local", State: "active", Origin: "CreateRouteTable"}}
	added := w.routesOf(o.Name).values()
	slices.SortFunc(added, func(a, b Route) int { return strings.Compare(a.Destination, b.Destination) })
	for _, rt := range added {
		x := xRoute{DestinationCidrBlock: rt.Destination, GatewayID: rt.Gateway, PeeringID: rt.Peering, State: "blackhole", Origin: "CreateRoute"}
		switch {
		case x.GatewayID != "":
			if attachedTo(w, region, x.GatewayID, vpcID) {
				x.State = "active"
			}
		case x.PeeringID != "":
			name := peerings.name(region, x.PeeringID)
			if p, ok := w.peerings.get(name); ok {
				if st, _ := s.peeringStatus(w, cloudsim.Row[PeeringConnection]{Name: name, Value: p}); st == "active" {
					x.State = "active"
				}
			}
		}
		out = append(out, x)
	}
	return out
}

// routesOf and propagationsOf are a route table's (by its row name).
func (w *world) routesOf(table string) rows[Route] {
	return w.routes.where(func(r Route) bool { return r.Table == table })
}

func (w *world) propagationsOf(table string) rows[RoutePropagation] {
	return w.propagations.where(func(r RoutePropagation) bool { return r.Table == table })
}

// dropRouteTableChildren deletes a deleted route table's routes,
// propagations and tags.
func (s *server) dropRouteTableChildren(w *world, rt cloudsim.Row[RouteTable]) error {
	return errors.Join(dropAll(s.net.routes, w.routesOf(rt.Name)), dropAll(s.net.propagations, w.propagationsOf(rt.Name)),
		s.dropTags(w, rt.Name))
}

func (s *server) routeTableXML(o cloudsim.Row[RouteTable], w *world) xRouteTable {
	v := o.Value
	x := xRouteTable{RouteTableID: v.ID, VpcID: v.VPC, OwnerID: s.opts.AccountID, Routes: s.routes(o, w), Tags: xTags(w.tagsOf(o.Name, v))}
	if v.Main {
		x.Associations = []xRouteTableAssociation{{Main: true, AssociationID: v.Association, RouteTableID: v.ID, State: "associated"}}
	}
	for _, p := range w.propagationsOf(o.Name).values() {
		x.Propagating = append(x.Propagating, xPropagatingVgw{p.Gateway})
	}
	slices.SortFunc(x.Propagating, func(a, b xPropagatingVgw) int { return strings.Compare(a.GatewayID, b.GatewayID) })
	return x
}

var describeRouteTables = describeHandler(describeSpec[RouteTable, xRouteTable]{action: "DescribeRouteTables", kind: routeTables, idParam: "RouteTableId",
	known: routeTableFilters, fields: (*server).routeTableFields,
	xml: (*server).routeTableXML, set: func(o *netResponse) **[]xRouteTable { return &o.RouteTables }})

// attachedTo reports whether a virtual private gateway is attached (or
// attaching) to a VPC.
func attachedTo(w *world, region, vgwID, vpcID string) bool {
	att, ok := w.attachments.get(vgws.name(region, vgwID))
	return ok && att.VPC == vpcID
}

// createRoute adds a route to a virtual private gateway attached to the
// table's VPC (GatewayId) or to a peering of the VPC
// (VpcPeeringConnectionId).
func (s *server) createRoute(r *http.Request, region, reqID string, w *world) (any, error) {
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
	rt, err := routeTables.lookup(s, region, tableID)
	if err != nil {
		return nil, err
	}
	var peering PeeringConnection
	if gw != "" {
		if !strings.HasPrefix(gw, "vgw-") {
			return nil, &ec2Err{400, "InvalidGatewayID.NotFound", fmt.Sprintf("The gateway ID '%s' does not exist", gw)}
		}
		if _, err := vgws.lookup(s, region, gw); err != nil {
			return nil, err
		}
	} else {
		o, err := peerings.lookup(s, region, pcx)
		if err != nil {
			return nil, err
		}
		peering = o.Value
	}
	vpcID := rt.Value.VPC
	if inside(p, w.vpcCIDR(region, vpcID)) {
		return nil, invalidValue("The destination CIDR block %s is equal to or more specific than one of this VPC's CIDR blocks. This route can target only an interface or an instance.", dest)
	}
	if gw != "" && !attachedTo(w, region, gw, vpcID) {
		return nil, &ec2Err{400, "Gateway.NotAttached", fmt.Sprintf("resource %s is not attached to network %s", gw, vpcID)}
	}
	if pcx != "" && !peering.has(vpcID) {
		return nil, invalidValue("route table %s and network %s belong to different networks", tableID, pcx)
	}
	existing := w.routesOf(rt.Name).values()
	for _, o := range existing {
		if o.Destination == p.String() {
			return nil, &ec2Err{400, "RouteAlreadyExists", fmt.Sprintf("The route identified by %s already exists.", dest)}
		}
	}
	if len(existing) >= maxRoutesPerTable {
		return nil, &ec2Err{400, "RouteLimitExceeded", "The maximum number of routes has been reached."}
	}
	if err := s.net.routes.Put(rt.Name+"/"+p.String(), Route{Table: rt.Name, Destination: p.String(), Gateway: gw, Peering: pcx}); err != nil {
		return nil, engineErr(err, resRouteTable)
	}
	return replyTrue("CreateRoute", reqID), nil
}

func (s *server) deleteRoute(r *http.Request, region, reqID string, w *world) (any, error) {
	v, err := required(r, "RouteTableId", "routeTableId", "DestinationCidrBlock", "destinationCidrBlock")
	if err != nil {
		return nil, err
	}
	tableID, dest := v[0], v[1]
	p, err := parseCIDR(dest, "destinationCidrBlock")
	if err != nil {
		return nil, err
	}
	rt, err := routeTables.lookup(s, region, tableID)
	if err != nil {
		return nil, err
	}
	if err := s.net.routes.Delete(rt.Name + "/" + p.String()); err != nil {
		if cloud.IsNotFound(err) {
			return nil, &ec2Err{400, "InvalidRoute.NotFound", fmt.Sprintf("no route with destination-cidr-block %s in route table %s", dest, tableID)}
		}
		return nil, engineErr(err, resRouteTable)
	}
	return replyTrue("DeleteRoute", reqID), nil
}

// enableVgwRoutePropagation lets a route table learn the routes of a
// virtual private gateway attached to its VPC.
func (s *server) enableVgwRoutePropagation(r *http.Request, region, reqID string, w *world) (any, error) {
	v, err := required(r, "RouteTableId", "routeTableId", "GatewayId", "gatewayId")
	if err != nil {
		return nil, err
	}
	tableID, gw := v[0], v[1]
	rt, err := routeTables.lookup(s, region, tableID)
	if err != nil {
		return nil, err
	}
	if _, err := vgws.lookup(s, region, gw); err != nil {
		return nil, err
	}
	if !attachedTo(w, region, gw, rt.Value.VPC) {
		return nil, &ec2Err{400, "Gateway.NotAttached", fmt.Sprintf("resource %s is not attached to network %s", gw, rt.Value.VPC)}
	}
	if err := s.net.propagations.Put(rt.Name+"/"+gw, RoutePropagation{Table: rt.Name, Gateway: gw}); err != nil {
		return nil, engineErr(err, resRouteTable)
	}
	return replyTrue("EnableVgwRoutePropagation", reqID), nil
}
