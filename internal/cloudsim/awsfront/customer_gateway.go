package awsfront

import (
	"math"
	"net/http"
	"net/netip"
	"strconv"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// EC2 customer gateways (the engine objects and rules are in network.go).

var cgwFilters = []string{"customer-gateway-id", "ip-address", "bgp-asn", "state", "type", "device-name"}

func (s *server) cgwFields(o cloudsim.Object, _ *world) map[string][]string {
	a := o.Attrs
	return map[string][]string{"customer-gateway-id": {a["id"]}, "ip-address": {a["ip"]}, "bgp-asn": {a["asn"]}, "state": {"available"},
		"type": {a["type"]}, "device-name": {a["device"]}}
}

func (s *server) cgwXML(o cloudsim.Object, w *world) xCustomerGateway {
	a := o.Attrs
	x := xCustomerGateway{CustomerGatewayID: a["id"], State: "available", Type: a["type"], IPAddress: a["ip"], DeviceName: a["device"],
		Tags: xTags(w.tagsOf(o))}
	if n, _ := strconv.ParseInt(a["asn"], 10, 64); n <= math.MaxInt32 {
		x.BgpAsn = a["asn"]
	} else {
		x.BgpAsnExtended = a["asn"]
	}
	return x
}

// createCustomerGateway records a peer device: IpAddress (or PublicIp)
// and BgpAsn (or BgpAsnExtended; 65000 when neither is given).
func (s *server) createCustomerGateway(r *http.Request, region, reqID string) (any, error) {
	typ := r.Form.Get("Type")
	if typ == "" {
		return nil, missing("type")
	}
	if typ != "ipsec.1" {
		return nil, invalidValue("Value (%s) for parameter type is invalid. Valid values: ipsec.1", typ)
	}
	ip := r.Form.Get("IpAddress")
	if ip == "" {
		ip = r.Form.Get("PublicIp")
	}
	if ip == "" {
		return nil, missing("ipAddress")
	}
	if a, err := netip.ParseAddr(ip); err != nil || !a.Is4() {
		return nil, invalidValue("Value (%s) for parameter ipAddress is invalid. Invalid format.", ip)
	}
	asn := int64(65000)
	if v := r.Form.Get("BgpAsn"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 || n > math.MaxInt32 {
			return nil, invalidValue("Value (%s) for parameter bgpAsn is invalid.", v)
		}
		asn = n
	}
	if v := r.Form.Get("BgpAsnExtended"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= math.MaxInt32 || n > 4294967294 {
			return nil, invalidValue("Value (%s) for parameter bgpAsnExtended is invalid.", v)
		}
		asn = n
	}
	tags, err := parseTags(r, resCgw.tagType)
	if err != nil {
		return nil, err
	}
	w := s.world()
	if len(w.inRegion(kindCgw, region)) >= maxCustomerGateways {
		return nil, &ec2Err{400, "CustomerGatewayLimitExceeded", "The maximum number of customer gateways has been reached."}
	}
	id := newID("cgw", w)
	o, err := s.e.PutObject(cloudName, kindCgw, objectName(resCgw, region, id), withTags(map[string]string{
		"id": id, "region": region, "type": typ, "ip": ip, "asn": strconv.FormatInt(asn, 10), "device": r.Form.Get("DeviceName"),
		"created": s.stamp()}, tags))
	if err != nil {
		return nil, engineErr(err, resCgw)
	}
	out := reply("CreateCustomerGateway", reqID)
	x := s.cgwXML(o, w)
	out.CustomerGateway = &x
	return out, nil
}

var describeCustomerGateways = describeHandler(describeSpec[xCustomerGateway]{action: "DescribeCustomerGateways", res: resCgw, idParam: "CustomerGatewayId",
	known: cgwFilters, fields: (*server).cgwFields,
	xml: (*server).cgwXML, set: func(o *netResponse) **[]xCustomerGateway { return &o.CustomerGateways }})

var deleteCustomerGateway = deleteHandler(deleteSpec{action: "DeleteCustomerGateway", res: resCgw, idParam: "CustomerGatewayId", param: "customerGatewayId",
	check: func(_ *server, w *world, o cloudsim.Object) error {
		if conns := w.children(kindVpn, "cgw", o.Attrs["id"]); len(conns) > 0 {
			return incorrectState("The customer gateway '%s' is in use by %s", o.Attrs["id"], conns[0].Attrs["id"])
		}
		return nil
	}})
