package awsfront

import (
	"fmt"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// EC2 subnets (the engine objects and rules are in network.go).

var subnetFilters = []string{"vpc-id", "subnet-id", "cidr-block", "cidr", "cidrBlock", "availability-zone", "availabilityZone",
	"availability-zone-id", "availabilityZoneId", "state", "default-for-az", "defaultForAz", "owner-id", "subnet-arn"}

func (s *server) subnetFields(o cloudsim.Object, _ *world) map[string][]string {
	a := o.Attrs
	return map[string][]string{"vpc-id": {a["vpc"]}, "subnet-id": {a["id"]}, "cidr-block": {a["cidr"]}, "cidr": {a["cidr"]}, "cidrBlock": {a["cidr"]},
		"availability-zone": {a["zone"]}, "availabilityZone": {a["zone"]}, "availability-zone-id": {a["zone_id"]}, "availabilityZoneId": {a["zone_id"]},
		"state": {"available"}, "default-for-az": {"false"}, "defaultForAz": {"false"}, "owner-id": {s.opts.AccountID},
		"subnet-arn": {s.arn(a["region"], "subnet", a["id"])}}
}

func (s *server) subnetXML(o cloudsim.Object, w *world) xSubnet {
	a := o.Attrs
	p, _ := netip.ParsePrefix(a["cidr"])
	return xSubnet{SubnetID: a["id"], SubnetArn: s.arn(a["region"], "subnet", a["id"]), VpcID: a["vpc"], OwnerID: s.opts.AccountID,
		State: "available", CidrBlock: a["cidr"], AvailabilityZone: a["zone"], AvailabilityZoneID: a["zone_id"],
		AvailableAddresses: 1<<(32-p.Bits()) - 5, Tags: xTags(w.tagsOf(o))}
}

var zoneIDPattern = regexp.MustCompile(`^[a-z]+[0-9]+-az([0-9]+)$`)

// zoneNames completes a zone ID (euc1-az1) with a zone name (eu-central-1a)
// and the other way round: zone N is letter N (AWS maps them per account;
// cloudsim's account maps them in order).
func zoneNames(region, zone, zoneID string) (string, string) {
	short := region
	if parts := strings.Split(region, "-"); len(parts) == 3 && parts[1] != "" {
		short = parts[0] + parts[1][:1] + parts[2]
	}
	switch {
	case zoneID != "" && zone == "":
		if m := zoneIDPattern.FindStringSubmatch(zoneID); m != nil {
			if n, _ := strconv.Atoi(m[1]); n >= 1 && n <= 26 {
				zone = region + string(rune('a'+n-1))
			}
		}
	case zone != "" && zoneID == "":
		if rest, ok := strings.CutPrefix(zone, region); ok && len(rest) == 1 && rest[0] >= 'a' && rest[0] <= 'z' {
			zoneID = fmt.Sprintf("%s-az%d", short, rest[0]-'a'+1)
		}
	case zone == "" && zoneID == "":
		zone, zoneID = region+"a", short+"-az1"
	}
	return zone, zoneID
}

// createSubnet creates a subnet of a VPC: its CIDR inside the VPC's, /16–/28,
// overlapping no other subnet of the VPC.
func (s *server) createSubnet(r *http.Request, region, reqID string) (any, error) {
	v, err := required(r, "VpcId", "vpcId", "CidrBlock", "cidrBlock")
	if err != nil {
		return nil, err
	}
	vpcID, cidr := v[0], v[1]
	p, err := parseCIDR(cidr, "cidrBlock")
	if err != nil {
		return nil, err
	}
	tags, err := parseTags(r, resSubnet.tagType)
	if err != nil {
		return nil, err
	}
	if _, err := s.lookup(resVpc, region, vpcID); err != nil {
		return nil, err
	}
	w := s.world()
	vpcCIDR, _ := s.vpcOf(w, region, vpcID)
	if p.Bits() < 16 || p.Bits() > 28 || !inside(p, vpcCIDR) {
		return nil, &ec2Err{400, "InvalidSubnet.Range", fmt.Sprintf("The CIDR '%s' is invalid.", cidr)}
	}
	for _, o := range w.children(kindSubnet, "vpc", vpcID) {
		if q, err := netip.ParsePrefix(o.Attrs["cidr"]); err == nil && q.Overlaps(p) {
			return nil, &ec2Err{400, "InvalidSubnet.Conflict", fmt.Sprintf("The CIDR '%s' conflicts with another subnet", cidr)}
		}
	}
	zone, zoneID := zoneNames(region, r.Form.Get("AvailabilityZone"), r.Form.Get("AvailabilityZoneId"))
	id := newID("subnet", w)
	o, err := s.e.PutObject(cloudName, kindSubnet, objectName(resSubnet, region, id), withTags(map[string]string{
		"id": id, "region": region, "vpc": vpcID, "cidr": p.String(), "zone": zone, "zone_id": zoneID, "created": s.stamp()}, tags))
	if err != nil {
		return nil, engineErr(err, resSubnet)
	}
	out := reply("CreateSubnet", reqID)
	x := s.subnetXML(o, w)
	out.Subnet = &x
	return out, nil
}

var describeSubnets = describeHandler(describeSpec[xSubnet]{action: "DescribeSubnets", res: resSubnet, idParam: "SubnetId",
	known: subnetFilters, fields: (*server).subnetFields,
	xml: (*server).subnetXML, set: func(o *netResponse) **[]xSubnet { return &o.Subnets }})

var deleteSubnet = deleteHandler(deleteSpec{action: "DeleteSubnet", res: resSubnet, idParam: "SubnetId", param: "subnetId"})
