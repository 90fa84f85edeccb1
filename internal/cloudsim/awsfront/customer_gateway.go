package awsfront

import (
	"math"
	"net/http"
	"strconv"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// EC2 customer gateways: the wire side of model.go's CustomerGateway
// (rules in network.go).

var cgwFilters = []string{"customer-gateway-id", "ip-address", "bgp-asn", "state", "type", "device-name"}

func (s *server) cgwFields(o cloudsim.Row[CustomerGateway], _ *world) map[string][]string {
	v := o.Value
	return map[string][]string{"customer-gateway-id": {v.ID}, "ip-address": {v.IP}, "bgp-asn": {strconv.FormatInt(v.ASN, 10)},
		"state": {"available"}, "type": {v.Type}, "device-name": {v.DeviceName}}
}

func (s *server) cgwXML(o cloudsim.Row[CustomerGateway], w *world) xCustomerGateway {
	v := o.Value
	x := xCustomerGateway{CustomerGatewayID: v.ID, State: "available", Type: v.Type, IPAddress: v.IP, DeviceName: v.DeviceName,
		Tags: xTags(w.tagsOf(o.Name, v))}
	if asn := strconv.FormatInt(v.ASN, 10); v.extendedASN() {
		x.BgpAsnExtended = asn
	} else {
		x.BgpAsn = asn
	}
	return x
}

// createCustomerGateway records a peer device: IpAddress (or PublicIp)
// and BgpAsn (or BgpAsnExtended; 65000 when neither is given).
func (s *server) createCustomerGateway(r *http.Request, region, reqID string, w *world) (any, error) {
	gw := CustomerGateway{Identity: Identity{Region: region}, Type: r.Form.Get("Type"), IP: r.Form.Get("IpAddress"), ASN: 65000, DeviceName: r.Form.Get("DeviceName")}
	if gw.Type == "" {
		return nil, missing("type")
	}
	if err := checkVPNType(gw.Type); err != nil {
		return nil, err
	}
	if gw.IP == "" {
		gw.IP = r.Form.Get("PublicIp")
	}
	if gw.IP == "" {
		return nil, missing("ipAddress")
	}
	if err := gw.check(); err != nil {
		return nil, err
	}
	if v := r.Form.Get("BgpAsn"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 || n > math.MaxInt32 {
			return nil, invalidValue("Value (%s) for parameter bgpAsn is invalid.", v)
		}
		gw.ASN = n
	}
	if v := r.Form.Get("BgpAsnExtended"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= math.MaxInt32 || n > 4294967294 {
			return nil, invalidValue("Value (%s) for parameter bgpAsnExtended is invalid.", v)
		}
		gw.ASN = n
	}
	var err error
	if gw.Tags, err = parseTags(r, resCgw.tagType); err != nil {
		return nil, err
	}
	o, err := insert(s, cgws, w, region, gw)
	if err != nil {
		return nil, err
	}
	out := reply("CreateCustomerGateway", reqID)
	x := s.cgwXML(o, w)
	out.CustomerGateway = &x
	return out, nil
}

var describeCustomerGateways = describeHandler(describeSpec[CustomerGateway, xCustomerGateway]{action: "DescribeCustomerGateways",
	kind: cgws, idParam: "CustomerGatewayId", known: cgwFilters, fields: (*server).cgwFields,
	xml: (*server).cgwXML, set: func(o *netResponse) **[]xCustomerGateway { return &o.CustomerGateways }})

var deleteCustomerGateway = deleteHandler(deleteSpec[CustomerGateway]{action: "DeleteCustomerGateway", kind: cgws,
	idParam: "CustomerGatewayId", param: "customerGatewayId",
	check: func(_ *server, w *world, o cloudsim.Row[CustomerGateway]) error {
		id := o.Value.ID
		if conns := w.vpns.where(func(c VPNConnection) bool { return c.CustomerGateway == id }); len(conns) > 0 {
			return incorrectState("The customer gateway '%s' is in use by %s", id, conns[0].Value.ID)
		}
		return nil
	}})
