package awsfront

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// EC2 VPCs (the engine objects and rules are in network.go).

var vpcFilters = []string{"vpc-id", "cidr", "cidr-block-association.cidr-block", "state", "is-default", "owner-id", "dhcp-options-id"}

func (s *server) vpcFields(o cloudsim.Object, _ *world) map[string][]string {
	return map[string][]string{"vpc-id": {o.Attrs["id"]}, "cidr": {o.Attrs["cidr"]}, "cidr-block-association.cidr-block": {o.Attrs["cidr"]},
		"state": {"available"}, "is-default": {"false"}, "owner-id": {s.opts.AccountID}, "dhcp-options-id": {"default"}}
}

func (s *server) vpcXML(o cloudsim.Object, w *world) xVpc {
	return xVpc{VpcID: o.Attrs["id"], OwnerID: s.opts.AccountID, State: "available", CidrBlock: o.Attrs["cidr"],
		Associations:  []xCidrAssociation{{AssociationID: o.Attrs["cidr_association"], CidrBlock: o.Attrs["cidr"], State: "associated"}},
		DhcpOptionsID: "default", InstanceTenancy: "default", Tags: xTags(w.tagsOf(o))}
}

// createVpc creates a VPC (CidrBlock, /16–/28) with its main route table.
func (s *server) createVpc(r *http.Request, region, reqID string) (any, error) {
	v := r.Form.Get("CidrBlock")
	if v == "" {
		return nil, missing("cidrBlock")
	}
	p, err := parseCIDR(v, "cidrBlock")
	if err != nil {
		return nil, err
	}
	if p.Bits() < 16 || p.Bits() > 28 {
		return nil, &ec2Err{400, "InvalidVpc.Range", fmt.Sprintf("The CIDR '%s' is invalid.", v)}
	}
	tags, err := parseTags(r, resVpc.tagType)
	if err != nil {
		return nil, err
	}
	w := s.world()
	if len(w.inRegion(kindVpc, region)) >= maxVpcs {
		return nil, &ec2Err{400, "VpcLimitExceeded", "The maximum number of VPCs has been reached."}
	}
	id, rtb := newID("vpc", w), newID("rtb", w)
	attrs := withTags(map[string]string{"id": id, "region": region, "cidr": p.String(), "main_rtb": rtb,
		"cidr_association": newID("vpc-cidr-assoc", w), "created": s.stamp()}, tags)
	o, err := s.e.PutObject(cloudName, kindVpc, objectName(resVpc, region, id), attrs)
	if err != nil {
		return nil, engineErr(err, resVpc)
	}
	_, err = s.e.PutObject(cloudName, kindRouteTable, objectName(resRouteTable, region, rtb), map[string]string{
		"id": rtb, "region": region, "vpc": id, "main": "true", "association": newID("rtbassoc", w), "created": s.stamp()})
	if err != nil {
		if uerr := s.deleteObject(kindVpc, o.Name); uerr != nil {
			return nil, internalErr("vpc "+id+" stayed after its route table failed ("+err.Error()+")", uerr)
		}
		return nil, engineErr(err, resRouteTable)
	}
	out := reply("CreateVpc", reqID)
	x := s.vpcXML(o, w)
	x.State = "pending"
	out.Vpc = &x
	return out, nil
}

var describeVpcs = describeHandler(describeSpec[xVpc]{action: "DescribeVpcs", res: resVpc, idParam: "VpcId",
	known: vpcFilters, fields: (*server).vpcFields, paged: true,
	xml: (*server).vpcXML, set: func(o *netResponse) **[]xVpc { return &o.Vpcs }})

// livePeering reports a peering that is neither failed nor expired.
func (s *server) livePeering(w *world, o cloudsim.Object) bool {
	st, _ := s.peeringStatus(w, o)
	return st == "pending-acceptance" || st == "active"
}

// deleteVpc deletes a VPC and its main route table; subnets, security
// groups, an attached gateway or a live peering are DependencyViolation.
var deleteVpc = deleteHandler(deleteSpec{action: "DeleteVpc", res: resVpc, idParam: "VpcId", param: "vpcId",
	check: func(s *server, w *world, o cloudsim.Object) error {
		id := o.Attrs["id"]
		dependent := len(w.children(kindSubnet, "vpc", id)) > 0 || len(w.children(kindGroup, "vpc", id)) > 0 ||
			len(w.children(kindAttachment, "vpc", id)) > 0
		for _, p := range w.byKind[kindPeering] {
			if (p.Attrs["requester_vpc"] == id || p.Attrs["accepter_vpc"] == id) && s.livePeering(w, p) {
				dependent = true
			}
		}
		if dependent {
			return &ec2Err{400, "DependencyViolation", fmt.Sprintf("The vpc '%s' has dependencies and cannot be deleted.", id)}
		}
		return nil
	},
	after: func(s *server, w *world, o cloudsim.Object) error {
		var errs []error
		for _, rt := range w.children(kindRouteTable, "vpc", o.Attrs["id"]) {
			if err := s.deleteObject(kindRouteTable, rt.Name); err != nil {
				errs = append(errs, err)
				continue
			}
			errs = append(errs, s.deleteChildren(w, rt.Name, map[string]string{kindRoute: "table", kindPropagate: "table"}))
		}
		return errors.Join(errs...)
	}})
