package awsfront

import (
	"fmt"
	"net/http"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// EC2 VPC peering connections: the wire side of model.go's
// PeeringConnection and PeeringAcceptance (rules in network.go).

var peeringFilters = []string{"vpc-peering-connection-id", "status-code", "status-message", "expiration-time",
	"requester-vpc-info.vpc-id", "requester-vpc-info.cidr-block", "requester-vpc-info.owner-id",
	"accepter-vpc-info.vpc-id", "accepter-vpc-info.cidr-block", "accepter-vpc-info.owner-id"}

// peeringStatus is a peering's status code and message.
func (s *server) peeringStatus(w *world, o cloudsim.Row[PeeringConnection]) (string, string) {
	_, accepted := w.accepts.get(o.Name)
	return o.Value.status(s.now(), accepted, s.opts.AccountID)
}

func (s *server) peeringFields(o cloudsim.Row[PeeringConnection], w *world) map[string][]string {
	v := o.Value
	code, msg := s.peeringStatus(w, o)
	return map[string][]string{"vpc-peering-connection-id": {v.ID}, "status-code": {code}, "status-message": {msg},
		"expiration-time":           {ec2Time(v.Created.Add(peeringExpiry))},
		"requester-vpc-info.vpc-id": {v.Requester.VPC}, "requester-vpc-info.cidr-block": {v.Requester.CIDR}, "requester-vpc-info.owner-id": {s.opts.AccountID},
		"accepter-vpc-info.vpc-id": {v.Accepter.VPC}, "accepter-vpc-info.cidr-block": {v.Accepter.CIDR}, "accepter-vpc-info.owner-id": {s.opts.AccountID}}
}

func (s *server) peeringXML(o cloudsim.Row[PeeringConnection], w *world) xPeering {
	v := o.Value
	side := func(p PeeringSide) xPeeringVpc {
		x := xPeeringVpc{VpcID: p.VPC, CidrBlock: p.CIDR, OwnerID: s.opts.AccountID, Region: p.Region}
		x.CidrSet = append(x.CidrSet, struct {
			CidrBlock string `xml:"cidrBlock"`
		}{p.CIDR})
		return x
	}
	x := xPeering{ID: v.ID, Requester: side(v.Requester), Accepter: side(v.Accepter), Tags: xTags(w.tagsOf(o.Name, v))}
	x.Status.Code, x.Status.Message = s.peeringStatus(w, o)
	if x.Status.Code == "pending-acceptance" {
		x.ExpirationTime = ec2Time(v.Created.Add(peeringExpiry))
	}
	return x
}

// createPeering requests a peering of VpcId (this region) with PeerVpcId
// (PeerRegion, this one by default). Overlapping CIDRs make it failed.
func (s *server) createPeering(r *http.Request, region, reqID string, w *world) (any, error) {
	vpcID, peerID := r.Form.Get("VpcId"), r.Form.Get("PeerVpcId")
	peerRegion := r.Form.Get("PeerRegion")
	if peerRegion == "" {
		peerRegion = region
	}
	switch {
	case vpcID == "":
		return nil, missing("vpcId")
	case peerID == "":
		return nil, missing("peerVpcId")
	case r.Form.Get("PeerOwnerId") != "" && r.Form.Get("PeerOwnerId") != s.opts.AccountID:
		return nil, invalidValue("awsfront simulates one account (%s); peering with %s is not simulated", s.opts.AccountID, r.Form.Get("PeerOwnerId"))
	case vpcID == peerID:
		return nil, invalidValue("A VPC cannot be peered with itself (%s)", vpcID)
	}
	tags, err := parseTags(r, resPeering.tagType)
	if err != nil {
		return nil, err
	}
	mine, err := vpcs.lookup(s, region, vpcID)
	if err != nil {
		return nil, err
	}
	theirs, err := vpcs.lookup(s, peerRegion, peerID)
	if err != nil {
		return nil, err
	}
	for _, p := range w.peerings {
		if p.Value.joins(vpcID, peerID) && s.livePeering(w, p) {
			return nil, &ec2Err{400, "VpcPeeringConnectionAlreadyExists",
				fmt.Sprintf("A VPC peering connection between %s and %s already exists: %s", vpcID, peerID, p.Value.ID)}
		}
	}
	pc := PeeringConnection{Identity: Identity{Tags: tags}, Requester: PeeringSide{region, vpcID, mine.Value.CIDR},
		Accepter: PeeringSide{peerRegion, peerID, theirs.Value.CIDR}, Created: s.now()}
	if a, b := mine.Value.prefix(), theirs.Value.prefix(); a.Overlaps(b) {
		pc.Failed = fmt.Sprintf("Overlapping CIDR range: %s overlaps %s", a, b)
	}
	o, err := insert(s, peerings, w, region, pc)
	if err != nil {
		return nil, err
	}
	pc = o.Value
	out := reply("CreateVpcPeeringConnection", reqID)
	x := s.peeringXML(o, w)
	if pc.Failed == "" {
		x.Status.Code, x.Status.Message = "initiating-request", "Initiating Request to "+s.opts.AccountID
	}
	out.Peering = &x
	return out, nil
}

// acceptPeering accepts a pending peering from the accepter's region.
func (s *server) acceptPeering(r *http.Request, region, reqID string, w *world) (any, error) {
	id := r.Form.Get("VpcPeeringConnectionId")
	if id == "" {
		return nil, missing("vpcPeeringConnectionId")
	}
	o, err := peerings.lookup(s, region, id)
	if err != nil {
		return nil, err
	}
	if at := o.Value.Accepter.Region; at != region {
		return nil, &ec2Err{400, "OperationNotPermitted",
			fmt.Sprintf("User %s cannot accept peering %s in %s: it is accepted in %s", s.opts.AccountID, id, region, at)}
	}
	if st, _ := s.peeringStatus(w, o); st != "pending-acceptance" {
		return nil, &ec2Err{400, "InvalidStateTransition", fmt.Sprintf("Invalid state transition for %s, attempted to transition from %s to active", id, st)}
	}
	if err := s.net.accepts.Put(o.Name, PeeringAcceptance{Peering: o.Name, Accepted: s.now()}); err != nil {
		return nil, engineErr(err, resPeering)
	}
	if w, err = s.world(); err != nil {
		return nil, err
	}
	out := reply("AcceptVpcPeeringConnection", reqID)
	x := s.peeringXML(o, w)
	out.Peering = &x
	return out, nil
}

var describePeerings = describeHandler(describeSpec[PeeringConnection, xPeering]{action: "DescribeVpcPeeringConnections", kind: peerings,
	idParam: "VpcPeeringConnectionId", known: peeringFilters, fields: (*server).peeringFields, paged: true,
	xml: (*server).peeringXML, set: func(o *netResponse) **[]xPeering { return &o.Peerings }})

// deletePeering deletes a peering from either side; routes to it become
// blackholes.
var deletePeering = deleteHandler(deleteSpec[PeeringConnection]{action: "DeleteVpcPeeringConnection", kind: peerings,
	idParam: "VpcPeeringConnectionId", param: "vpcPeeringConnectionId",
	children: func(s *server, w *world, o cloudsim.Row[PeeringConnection]) error {
		return dropAll(s.net.accepts, w.accepts.where(func(a PeeringAcceptance) bool { return a.Peering == o.Name }))
	}})
