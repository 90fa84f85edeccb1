package awsfront

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// EC2 virtual private gateways and their VPC attachments (the engine objects and rules are in network.go).

var vgwFilters = []string{"vpn-gateway-id", "state", "type", "attachment.state", "attachment.vpc-id", "amazon-side-asn", "availability-zone"}

func (s *server) vgwState(o cloudsim.Object) string {
	if s.since(o.Attrs["created"]) < s.times().Gateway {
		return "pending"
	}
	return "available"
}

// attachment is a virtual private gateway's attachment, if any.
func (s *server) attachment(o cloudsim.Object, w *world) (xVpcAttachment, bool) {
	att, ok := w.get(kindAttachment, o.Name)
	if !ok {
		return xVpcAttachment{}, false
	}
	st := "attached"
	if s.since(att.Attrs["created"]) < s.times().Attachment {
		st = "attaching"
	}
	return xVpcAttachment{VpcID: att.Attrs["vpc"], State: st}, true
}

func (s *server) vgwFields(o cloudsim.Object, w *world) map[string][]string {
	f := map[string][]string{"vpn-gateway-id": {o.Attrs["id"]}, "state": {s.vgwState(o)}, "type": {o.Attrs["type"]},
		"amazon-side-asn": {o.Attrs["asn"]}, "availability-zone": {o.Attrs["zone"]}}
	if att, ok := s.attachment(o, w); ok {
		f["attachment.state"], f["attachment.vpc-id"] = []string{att.State}, []string{att.VpcID}
	}
	return f
}

func (s *server) vgwXML(o cloudsim.Object, w *world) xVpnGateway {
	asn, _ := strconv.ParseInt(o.Attrs["asn"], 10, 64)
	x := xVpnGateway{VpnGatewayID: o.Attrs["id"], State: s.vgwState(o), Type: o.Attrs["type"], AmazonSideAsn: asn, Tags: xTags(w.tagsOf(o))}
	if att, ok := s.attachment(o, w); ok {
		x.Attachments = []xVpcAttachment{att}
	}
	return x
}

// privateASN reports a private ASN: 64512–65534 or 4200000000–4294967294.
func privateASN(n int64) bool {
	return (n >= 64512 && n <= 65534) || (n >= 4200000000 && n <= 4294967294)
}

func (s *server) createVpnGateway(r *http.Request, region, reqID string) (any, error) {
	typ := r.Form.Get("Type")
	if typ == "" {
		return nil, missing("type")
	}
	if typ != "ipsec.1" {
		return nil, invalidValue("Value (%s) for parameter type is invalid. Valid values: ipsec.1", typ)
	}
	asn := int64(64512)
	if v := r.Form.Get("AmazonSideAsn"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || !privateASN(n) {
			return nil, invalidValue("Value (%s) for parameter amazonSideAsn is invalid. It must be a private ASN: 64512-65534 or 4200000000-4294967294.", v)
		}
		asn = n
	}
	tags, err := parseTags(r, resVgw.tagType)
	if err != nil {
		return nil, err
	}
	w := s.world()
	if len(w.inRegion(kindVgw, region)) >= maxVpnGateways {
		return nil, &ec2Err{400, "VpnGatewayLimitExceeded", "The maximum number of virtual private gateways has been reached."}
	}
	id := newID("vgw", w)
	o, err := s.e.PutObject(cloudName, kindVgw, objectName(resVgw, region, id), withTags(map[string]string{
		"id": id, "region": region, "type": typ, "asn": strconv.FormatInt(asn, 10), "zone": r.Form.Get("AvailabilityZone"), "created": s.stamp()}, tags))
	if err != nil {
		return nil, engineErr(err, resVgw)
	}
	out := reply("CreateVpnGateway", reqID)
	x := s.vgwXML(o, w)
	out.VpnGateway = &x
	return out, nil
}

var describeVpnGateways = describeHandler(describeSpec[xVpnGateway]{action: "DescribeVpnGateways", res: resVgw, idParam: "VpnGatewayId",
	known: vgwFilters, fields: (*server).vgwFields,
	xml: (*server).vgwXML, set: func(o *netResponse) **[]xVpnGateway { return &o.VpnGateways }})

// attachVpnGateway attaches an available gateway to a VPC (one gateway per
// VPC, one VPC per gateway); it is attaching for times().Attachment.
func (s *server) attachVpnGateway(r *http.Request, region, reqID string) (any, error) {
	v, err := required(r, "VpnGatewayId", "vpnGatewayId", "VpcId", "vpcId")
	if err != nil {
		return nil, err
	}
	gwID, vpcID := v[0], v[1]
	gw, err := s.lookup(resVgw, region, gwID)
	if err != nil {
		return nil, err
	}
	if _, err := s.lookup(resVpc, region, vpcID); err != nil {
		return nil, err
	}
	w := s.world()
	if st := s.vgwState(gw); st != "available" {
		return nil, incorrectState("The vpn gateway '%s' is in state %s; it must be available to be attached", gwID, st)
	}
	if att, ok := s.attachment(gw, w); ok {
		return nil, incorrectState("The vpn gateway '%s' is already attached to %s", gwID, att.VpcID)
	}
	if others := w.children(kindAttachment, "vpc", vpcID); len(others) > 0 {
		return nil, &ec2Err{400, "VpnGatewayAttachmentLimitExceeded",
			fmt.Sprintf("The VPC '%s' already has a virtual private gateway attached (%s)", vpcID, others[0].Attrs["gateway_id"])}
	}
	if _, err := s.e.PutObject(cloudName, kindAttachment, gw.Name, map[string]string{
		"gateway": gw.Name, "gateway_id": gwID, "vpc": vpcID, "created": s.stamp()}); err != nil {
		return nil, engineErr(err, resVgw)
	}
	out := reply("AttachVpnGateway", reqID)
	out.Attachment = &xVpcAttachment{VpcID: vpcID, State: "attaching"}
	return out, nil
}

// detachVpnGateway detaches a gateway at once; the route tables of the VPC
// stop propagating its routes, and routes to it become blackholes.
func (s *server) detachVpnGateway(r *http.Request, region, reqID string) (any, error) {
	v, err := required(r, "VpnGatewayId", "vpnGatewayId", "VpcId", "vpcId")
	if err != nil {
		return nil, err
	}
	gwID, vpcID := v[0], v[1]
	gw, err := s.lookup(resVgw, region, gwID)
	if err != nil {
		return nil, err
	}
	w := s.world()
	if !attachedTo(w, region, gwID, vpcID) {
		return nil, &ec2Err{400, "InvalidVpnGatewayAttachment.NotFound",
			fmt.Sprintf("The attachment with vpn gateway ID '%s' and vpc ID '%s' does not exist", gwID, vpcID)}
	}
	if err := s.e.DeleteObject(cloudName, kindAttachment, gw.Name); err != nil {
		return nil, engineErr(err, resVgw)
	}
	var errs []error
	for _, rt := range w.children(kindRouteTable, "vpc", vpcID) {
		errs = append(errs, s.deleteObject(kindPropagate, rt.Name+"/"+gwID))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, internalErr("vpn gateway "+gwID+" was detached, but its route propagation stayed", err)
	}
	return replyTrue("DetachVpnGateway", reqID), nil
}

var deleteVpnGateway = deleteHandler(deleteSpec{action: "DeleteVpnGateway", res: resVgw, idParam: "VpnGatewayId", param: "vpnGatewayId",
	check: func(s *server, w *world, gw cloudsim.Object) error {
		if att, ok := s.attachment(gw, w); ok {
			return incorrectState("The vpn gateway '%s' is attached to %s; detach it first", gw.Attrs["id"], att.VpcID)
		}
		if conns := w.children(kindVpn, "vgw", gw.Attrs["id"]); len(conns) > 0 {
			return incorrectState("The vpn gateway '%s' has VPN connections (%s); delete them first", gw.Attrs["id"], conns[0].Attrs["id"])
		}
		return nil
	}})
