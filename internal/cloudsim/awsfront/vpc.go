package awsfront

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// EC2 VPCs: the wire side of model.go's VPC (rules in network.go).

var vpcFilters = []string{"vpc-id", "cidr", "cidr-block-association.cidr-block", "state", "is-default", "owner-id", "dhcp-options-id"}

func (s *server) vpcFields(o cloudsim.Row[VPC], _ *world) map[string][]string {
	v := o.Value
	return map[string][]string{"vpc-id": {v.ID}, "cidr": {v.CIDR}, "cidr-block-association.cidr-block": {v.CIDR},
		"state": {"available"}, "is-default": {"false"}, "owner-id": {s.opts.AccountID}, "dhcp-options-id": {"default"}}
}

func (s *server) vpcXML(o cloudsim.Row[VPC], w *world) xVpc {
	v := o.Value
	return xVpc{VpcID: v.ID, OwnerID: s.opts.AccountID, State: "available", CidrBlock: v.CIDR,
		Associations:  []xCidrAssociation{{AssociationID: v.CIDRAssociation, CidrBlock: v.CIDR, State: "associated"}},
		DhcpOptionsID: "default", InstanceTenancy: "default", Tags: xTags(w.tagsOf(o.Name, v))}
}

// createVpc creates a VPC (CidrBlock, /16–/28) with its main route table.
func (s *server) createVpc(r *http.Request, region, reqID string, w *world) (any, error) {
	v := r.Form.Get("CidrBlock")
	if v == "" {
		return nil, missing("cidrBlock")
	}
	p, err := parseCIDR(v, "cidrBlock")
	if err != nil {
		return nil, err
	}
	vpc := VPC{Identity: Identity{Region: region}, CIDR: p.String()}
	if err := vpc.checkRange(p); err != nil {
		return nil, err
	}
	if vpc.Tags, err = parseTags(r, resVpc.tagType); err != nil {
		return nil, err
	}
	vpc.MainRouteTable, vpc.CIDRAssociation, vpc.Created = newID("rtb", w), newID("vpc-cidr-assoc", w), s.now()
	o, err := insert(s, vpcs, w, region, vpc)
	if err != nil {
		return nil, err
	}
	vpc = o.Value
	rt := RouteTable{Identity: Identity{ID: vpc.MainRouteTable, Region: region}, VPC: vpc.ID, Main: true, Association: newID("rtbassoc", w)}
	if err := s.net.routeTables.Put(routeTables.name(region, rt.ID), rt); err != nil {
		if uerr := drop(s.net.vpcs, o.Name); uerr != nil {
			return nil, internalErr("vpc "+vpc.ID+" stayed after its route table failed ("+err.Error()+")", uerr)
		}
		return nil, engineErr(err, resRouteTable)
	}
	out := reply("CreateVpc", reqID)
	x := s.vpcXML(o, w)
	x.State = "pending"
	out.Vpc = &x
	return out, nil
}

var describeVpcs = describeHandler(describeSpec[VPC, xVpc]{action: "DescribeVpcs", kind: vpcs, idParam: "VpcId",
	known: vpcFilters, fields: (*server).vpcFields, paged: true,
	xml: (*server).vpcXML, set: func(o *netResponse) **[]xVpc { return &o.Vpcs }})

// livePeering reports a peering that is neither failed nor expired.
func (s *server) livePeering(w *world, o cloudsim.Row[PeeringConnection]) bool {
	st, _ := s.peeringStatus(w, o)
	return st == "pending-acceptance" || st == "active"
}

// deleteVpc deletes a VPC and its main route table; subnets, security
// groups, an attached gateway or a live peering are DependencyViolation.
var deleteVpc = deleteHandler(deleteSpec[VPC]{action: "DeleteVpc", kind: vpcs, idParam: "VpcId", param: "vpcId",
	check: func(s *server, w *world, o cloudsim.Row[VPC]) error {
		id := o.Value.ID
		dependent := len(w.subnets.where(func(v Subnet) bool { return v.VPC == id })) > 0 ||
			len(w.groups.where(func(v SecurityGroup) bool { return v.VPC == id })) > 0 ||
			len(w.attachments.where(func(v VPCAttachment) bool { return v.VPC == id })) > 0
		for _, p := range w.peerings {
			if p.Value.has(id) && s.livePeering(w, p) {
				dependent = true
			}
		}
		if dependent {
			return &ec2Err{400, "DependencyViolation", fmt.Sprintf("The vpc '%s' has dependencies and cannot be deleted.", id)}
		}
		return nil
	},
	after: func(s *server, w *world, o cloudsim.Row[VPC]) error {
		var errs []error
		for _, rt := range w.routeTables.where(func(v RouteTable) bool { return v.VPC == o.Value.ID }) {
			if err := drop(s.net.routeTables, rt.Name); err != nil {
				errs = append(errs, err)
				continue
			}
			errs = append(errs, s.dropRouteTableChildren(w, rt))
		}
		return errors.Join(errs...)
	}})
