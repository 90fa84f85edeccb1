package awsfront

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// EC2 virtual private gateways and their VPC attachments: the wire side of
// model.go's VPNGateway and VPCAttachment (rules in network.go).

var vgwFilters = []string{"vpn-gateway-id", "state", "type", "attachment.state", "attachment.vpc-id", "amazon-side-asn", "availability-zone"}

func (s *server) vgwState(v VPNGateway) string { return v.state(s.now(), s.times().Gateway) }

// attachment is a virtual private gateway's attachment, if any.
func (s *server) attachment(o cloudsim.Row[VPNGateway], w *world) (xVpcAttachment, bool) {
	att, ok := w.attachments.get(o.Name)
	if !ok {
		return xVpcAttachment{}, false
	}
	st := "attached"
	if s.since(att.Created) < s.times().Attachment {
		st = "attaching"
	}
	return xVpcAttachment{VpcID: att.VPC, State: st}, true
}

func (s *server) vgwFields(o cloudsim.Row[VPNGateway], w *world) map[string][]string {
	v := o.Value
	f := map[string][]string{"vpn-gateway-id": {v.ID}, "state": {s.vgwState(v)}, "type": {v.Type},
		"amazon-side-asn": {strconv.FormatInt(v.AmazonSideASN, 10)}, "availability-zone": {v.Zone}}
	if att, ok := s.attachment(o, w); ok {
		f["attachment.state"], f["attachment.vpc-id"] = []string{att.State}, []string{att.VpcID}
	}
	return f
}

func (s *server) vgwXML(o cloudsim.Row[VPNGateway], w *world) xVpnGateway {
	v := o.Value
	x := xVpnGateway{VpnGatewayID: v.ID, State: s.vgwState(v), Type: v.Type, AmazonSideAsn: v.AmazonSideASN, Tags: xTags(w.tagsOf(o.Name, v))}
	if att, ok := s.attachment(o, w); ok {
		x.Attachments = []xVpcAttachment{att}
	}
	return x
}

func (s *server) createVpnGateway(r *http.Request, region, reqID string, w *world) (any, error) {
	gw := VPNGateway{Identity: Identity{Region: region}, Type: r.Form.Get("Type"), AmazonSideASN: 64512, Zone: r.Form.Get("AvailabilityZone")}
	if gw.Type == "" {
		return nil, missing("type")
	}
	if err := checkVPNType(gw.Type); err != nil {
		return nil, err
	}
	if v := r.Form.Get("AmazonSideAsn"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || !privateASN(n) {
			return nil, invalidValue("Value (%s) for parameter amazonSideAsn is invalid. It must be a private ASN: 64512-65534 or 4200000000-4294967294.", v)
		}
		gw.AmazonSideASN = n
	}
	var err error
	if gw.Tags, err = parseTags(r, resVgw.tagType); err != nil {
		return nil, err
	}
	gw.Created = s.now()
	o, err := insert(s, vgws, w, region, gw)
	if err != nil {
		return nil, err
	}
	out := reply("CreateVpnGateway", reqID)
	x := s.vgwXML(o, w)
	out.VpnGateway = &x
	return out, nil
}

var describeVpnGateways = describeHandler(describeSpec[VPNGateway, xVpnGateway]{action: "DescribeVpnGateways", kind: vgws, idParam: "VpnGatewayId",
	known: vgwFilters, fields: (*server).vgwFields,
	xml: (*server).vgwXML, set: func(o *netResponse) **[]xVpnGateway { return &o.VpnGateways }})

// gatewayAndVPC reads VpnGatewayId and VpcId, looking the gateway up.
func (s *server) gatewayAndVPC(r *http.Request, region string) (cloudsim.Row[VPNGateway], string, error) {
	v, err := required(r, "VpnGatewayId", "vpnGatewayId", "VpcId", "vpcId")
	if err != nil {
		return cloudsim.Row[VPNGateway]{}, "", err
	}
	gw, err := vgws.lookup(s, region, v[0])
	return gw, v[1], err
}

// attachVpnGateway attaches an available gateway to a VPC (one gateway per
// VPC, one VPC per gateway); it is attaching for times().Attachment.
func (s *server) attachVpnGateway(r *http.Request, region, reqID string, w *world) (any, error) {
	gw, vpcID, err := s.gatewayAndVPC(r, region)
	if err != nil {
		return nil, err
	}
	if _, err := vpcs.lookup(s, region, vpcID); err != nil {
		return nil, err
	}
	gwID := gw.Value.ID
	if st := s.vgwState(gw.Value); st != "available" {
		return nil, incorrectState("The vpn gateway '%s' is in state %s; it must be available to be attached", gwID, st)
	}
	if att, ok := s.attachment(gw, w); ok {
		return nil, incorrectState("The vpn gateway '%s' is already attached to %s", gwID, att.VpcID)
	}
	if others := w.attachments.where(func(a VPCAttachment) bool { return a.VPC == vpcID }); len(others) > 0 {
		return nil, &ec2Err{400, "VpnGatewayAttachmentLimitExceeded",
			fmt.Sprintf("The VPC '%s' already has a virtual private gateway attached (%s)", vpcID, others[0].Value.GatewayID)}
	}
	if err := s.net.attachments.Put(gw.Name, VPCAttachment{Gateway: gw.Name, GatewayID: gwID, VPC: vpcID, Created: s.now()}); err != nil {
		return nil, engineErr(err, resVgw)
	}
	out := reply("AttachVpnGateway", reqID)
	out.Attachment = &xVpcAttachment{VpcID: vpcID, State: "attaching"}
	return out, nil
}

// detachVpnGateway detaches a gateway at once; the route tables of the VPC
// stop propagating its routes, and routes to it become blackholes.
func (s *server) detachVpnGateway(r *http.Request, region, reqID string, w *world) (any, error) {
	gw, vpcID, err := s.gatewayAndVPC(r, region)
	if err != nil {
		return nil, err
	}
	gwID := gw.Value.ID
	if !attachedTo(w, region, gwID, vpcID) {
		return nil, &ec2Err{400, "InvalidVpnGatewayAttachment.NotFound",
			fmt.Sprintf("The attachment with vpn gateway ID '%s' and vpc ID '%s' does not exist", gwID, vpcID)}
	}
	if err := s.net.attachments.Delete(gw.Name); err != nil {
		return nil, engineErr(err, resVgw)
	}
	var errs []error
	for _, rt := range w.routeTables.where(func(t RouteTable) bool { return t.VPC == vpcID }) {
		errs = append(errs, drop(s.net.propagations, rt.Name+"/"+gwID))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, internalErr("vpn gateway "+gwID+" was detached, but its route propagation stayed", err)
	}
	return replyTrue("DetachVpnGateway", reqID), nil
}

var deleteVpnGateway = deleteHandler(deleteSpec[VPNGateway]{action: "DeleteVpnGateway", kind: vgws, idParam: "VpnGatewayId", param: "vpnGatewayId",
	check: func(s *server, w *world, gw cloudsim.Row[VPNGateway]) error {
		id := gw.Value.ID
		if att, ok := s.attachment(gw, w); ok {
			return incorrectState("The vpn gateway '%s' is attached to %s; detach it first", id, att.VpcID)
		}
		if conns := w.vpns.where(func(c VPNConnection) bool { return c.VPNGateway == id }); len(conns) > 0 {
			return incorrectState("The vpn gateway '%s' has VPN connections (%s); delete them first", id, conns[0].Value.ID)
		}
		return nil
	}})
