package awsfront

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// EC2 subnets: the wire side of model.go's Subnet (rules in network.go).

var subnetFilters = []string{"vpc-id", "subnet-id", "cidr-block", "cidr", "cidrBlock", "availability-zone", "availabilityZone",
	"availability-zone-id", "availabilityZoneId", "state", "default-for-az", "defaultForAz", "owner-id", "subnet-arn"}

func (s *server) subnetFields(o cloudsim.Row[Subnet], _ *world) map[string][]string {
	v := o.Value
	return map[string][]string{"vpc-id": {v.VPC}, "subnet-id": {v.ID}, "cidr-block": {v.CIDR}, "cidr": {v.CIDR}, "cidrBlock": {v.CIDR},
		"availability-zone": {v.Zone}, "availabilityZone": {v.Zone}, "availability-zone-id": {v.ZoneID}, "availabilityZoneId": {v.ZoneID},
		"state": {"available"}, "default-for-az": {"false"}, "defaultForAz": {"false"}, "owner-id": {s.opts.AccountID},
		"subnet-arn": {s.arn(v.Region, "subnet", v.ID)}}
}

func (s *server) subnetXML(o cloudsim.Row[Subnet], w *world) xSubnet {
	v := o.Value
	return xSubnet{SubnetID: v.ID, SubnetArn: s.arn(v.Region, "subnet", v.ID), VpcID: v.VPC, OwnerID: s.opts.AccountID,
		State: "available", CidrBlock: v.CIDR, AvailabilityZone: v.Zone, AvailabilityZoneID: v.ZoneID,
		AvailableAddresses: v.availableAddresses(), Tags: xTags(w.tagsOf(o.Name, v))}
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
func (s *server) createSubnet(r *http.Request, region, reqID string, w *world) (any, error) {
	v, err := required(r, "VpcId", "vpcId", "CidrBlock", "cidrBlock")
	if err != nil {
		return nil, err
	}
	vpcID, cidr := v[0], v[1]
	p, err := parseCIDR(cidr, "cidrBlock")
	if err != nil {
		return nil, err
	}
	sn := Subnet{Identity: Identity{Region: region}, VPC: vpcID, CIDR: p.String()}
	if sn.Tags, err = parseTags(r, resSubnet.tagType); err != nil {
		return nil, err
	}
	if _, err := vpcs.lookup(s, region, vpcID); err != nil {
		return nil, err
	}
	if err := sn.checkIn(w.vpcCIDR(region, vpcID), w.subnets.where(func(o Subnet) bool { return o.VPC == vpcID }).values()); err != nil {
		return nil, err
	}
	sn.Zone, sn.ZoneID = zoneNames(region, r.Form.Get("AvailabilityZone"), r.Form.Get("AvailabilityZoneId"))
	o, err := insert(s, subnets, w, region, sn)
	if err != nil {
		return nil, err
	}
	out := reply("CreateSubnet", reqID)
	x := s.subnetXML(o, w)
	out.Subnet = &x
	return out, nil
}

var describeSubnets = describeHandler(describeSpec[Subnet, xSubnet]{action: "DescribeSubnets", kind: subnets, idParam: "SubnetId",
	known: subnetFilters, fields: (*server).subnetFields,
	xml: (*server).subnetXML, set: func(o *netResponse) **[]xSubnet { return &o.Subnets }})

var deleteSubnet = deleteHandler(deleteSpec[Subnet]{action: "DeleteSubnet", kind: subnets, idParam: "SubnetId", param: "subnetId"})
