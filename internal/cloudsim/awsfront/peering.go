package awsfront

import (
	"fmt"
	"net/http"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// EC2 VPC peering connections (the engine objects and rules are in network.go).

var peeringFilters = []string{"vpc-peering-connection-id", "status-code", "status-message", "expiration-time",
	"requester-vpc-info.vpc-id", "requester-vpc-info.cidr-block", "requester-vpc-info.owner-id",
	"accepter-vpc-info.vpc-id", "accepter-vpc-info.cidr-block", "accepter-vpc-info.owner-id"}

// peeringStatus is a peering's status code and message.
func (s *server) peeringStatus(w *world, o cloudsim.Object) (string, string) {
	switch _, accepted := w.get(kindAccept, o.Name); {
	case o.Attrs["failed"] != "":
		return "failed", o.Attrs["failed"]
	case accepted:
		return "active", "Active"
	case s.since(o.Attrs["created"]) >= peeringExpiry:
		return "expired", "Expired"
	}
	return "pending-acceptance", "Pending Acceptance by " + s.opts.AccountID
}

func (s *server) peeringFields(o cloudsim.Object, w *world) map[string][]string {
	a := o.Attrs
	code, msg := s.peeringStatus(w, o)
	return map[string][]string{"vpc-peering-connection-id": {a["id"]}, "status-code": {code}, "status-message": {msg},
		"expiration-time":           {ec2Time(later(a["created"], peeringExpiry))},
		"requester-vpc-info.vpc-id": {a["requester_vpc"]}, "requester-vpc-info.cidr-block": {a["requester_cidr"]}, "requester-vpc-info.owner-id": {s.opts.AccountID},
		"accepter-vpc-info.vpc-id": {a["accepter_vpc"]}, "accepter-vpc-info.cidr-block": {a["accepter_cidr"]}, "accepter-vpc-info.owner-id": {s.opts.AccountID}}
}

func (s *server) peeringXML(o cloudsim.Object, w *world) xPeering {
	a := o.Attrs
	side := func(p string) xPeeringVpc {
		v := xPeeringVpc{VpcID: a[p+"_vpc"], CidrBlock: a[p+"_cidr"], OwnerID: s.opts.AccountID, Region: a[p+"_region"]}
		v.CidrSet = append(v.CidrSet, struct {
			CidrBlock string `xml:"cidrBlock"`
		}{a[p+"_cidr"]})
		return v
	}
	x := xPeering{ID: a["id"], Requester: side("requester"), Accepter: side("accepter"), Tags: xTags(w.tagsOf(o))}
	x.Status.Code, x.Status.Message = s.peeringStatus(w, o)
	if x.Status.Code == "pending-acceptance" {
		x.ExpirationTime = ec2Time(later(a["created"], peeringExpiry))
	}
	return x
}

// createPeering requests a peering of VpcId (this region) with PeerVpcId
// (PeerRegion, this one by default). Overlapping CIDRs make it failed.
func (s *server) createPeering(r *http.Request, region, reqID string) (any, error) {
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
	if _, err := s.lookup(resVpc, region, vpcID); err != nil {
		return nil, err
	}
	if _, err := s.lookup(resVpc, peerRegion, peerID); err != nil {
		return nil, err
	}
	w := s.world()
	for _, p := range w.byKind[kindPeering] {
		a := p.Attrs
		if ((a["requester_vpc"] == vpcID && a["accepter_vpc"] == peerID) || (a["requester_vpc"] == peerID && a["accepter_vpc"] == vpcID)) && s.livePeering(w, p) {
			return nil, &ec2Err{400, "VpcPeeringConnectionAlreadyExists",
				fmt.Sprintf("A VPC peering connection between %s and %s already exists: %s", vpcID, peerID, a["id"])}
		}
	}
	mine, _ := s.vpcOf(w, region, vpcID)
	theirs, _ := s.vpcOf(w, peerRegion, peerID)
	failed := ""
	if mine.Overlaps(theirs) {
		failed = fmt.Sprintf("Overlapping CIDR range: %s overlaps %s", mine, theirs)
	}
	id := newID("pcx", w)
	o, err := s.e.PutObject(cloudName, kindPeering, objectName(resPeering, region, id), withTags(map[string]string{
		"id": id, "requester_region": region, "requester_vpc": vpcID, "requester_cidr": mine.String(),
		"accepter_region": peerRegion, "accepter_vpc": peerID, "accepter_cidr": theirs.String(), "failed": failed, "created": s.stamp()}, tags))
	if err != nil {
		return nil, engineErr(err, resPeering)
	}
	out := reply("CreateVpcPeeringConnection", reqID)
	x := s.peeringXML(o, w)
	if failed == "" {
		x.Status.Code, x.Status.Message = "initiating-request", "Initiating Request to "+s.opts.AccountID
	}
	out.Peering = &x
	return out, nil
}

// acceptPeering accepts a pending peering from the accepter's region.
func (s *server) acceptPeering(r *http.Request, region, reqID string) (any, error) {
	id := r.Form.Get("VpcPeeringConnectionId")
	if id == "" {
		return nil, missing("vpcPeeringConnectionId")
	}
	o, err := s.lookup(resPeering, region, id)
	if err != nil {
		return nil, err
	}
	if o.Attrs["accepter_region"] != region {
		return nil, &ec2Err{400, "OperationNotPermitted",
			fmt.Sprintf("User %s cannot accept peering %s in %s: it is accepted in %s", s.opts.AccountID, id, region, o.Attrs["accepter_region"])}
	}
	w := s.world()
	if st, _ := s.peeringStatus(w, o); st != "pending-acceptance" {
		return nil, &ec2Err{400, "InvalidStateTransition", fmt.Sprintf("Invalid state transition for %s, attempted to transition from %s to active", id, st)}
	}
	if _, err := s.e.PutObject(cloudName, kindAccept, o.Name, map[string]string{"peering": o.Name, "accepted": s.stamp()}); err != nil {
		return nil, engineErr(err, resPeering)
	}
	out := reply("AcceptVpcPeeringConnection", reqID)
	x := s.peeringXML(o, s.world())
	out.Peering = &x
	return out, nil
}

var describePeerings = describeHandler(describeSpec[xPeering]{action: "DescribeVpcPeeringConnections", res: resPeering, idParam: "VpcPeeringConnectionId",
	known: peeringFilters, fields: (*server).peeringFields, paged: true,
	xml: (*server).peeringXML, set: func(o *netResponse) **[]xPeering { return &o.Peerings }})

// deletePeering deletes a peering from either side; routes to it become
// blackholes.
var deletePeering = deleteHandler(deleteSpec{action: "DeleteVpcPeeringConnection", res: resPeering, idParam: "VpcPeeringConnectionId", param: "vpcPeeringConnectionId",
	children: map[string]string{kindAccept: "peering"}})
