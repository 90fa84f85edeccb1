package awsfront

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// EC2 security groups and their ingress rules (the engine objects and rules are in network.go).

var groupFilters = []string{"group-id", "group-name", "vpc-id", "description", "owner-id", "ip-permission.cidr", "ip-permission.protocol",
	"ip-permission.from-port", "ip-permission.to-port"}

func (s *server) groupFields(o cloudsim.Object, w *world) map[string][]string {
	f := map[string][]string{"group-id": {o.Attrs["id"]}, "group-name": {o.Attrs["name"]}, "vpc-id": {o.Attrs["vpc"]},
		"description": {o.Attrs["description"]}, "owner-id": {s.opts.AccountID}}
	for _, rule := range w.children(kindRule, "group", o.Name) {
		f["ip-permission.cidr"] = append(f["ip-permission.cidr"], rule.Attrs["cidr"])
		f["ip-permission.protocol"] = append(f["ip-permission.protocol"], rule.Attrs["protocol"])
		f["ip-permission.from-port"] = append(f["ip-permission.from-port"], rule.Attrs["from"])
		f["ip-permission.to-port"] = append(f["ip-permission.to-port"], rule.Attrs["to"])
	}
	return f
}

// permission is one ingress rule: a protocol, a port range and a source.
type permission struct {
	protocol, from, to, cidr, description string
}

func (p permission) key() string { return p.protocol + "|" + p.from + "|" + p.to + "|" + p.cidr }

func ruleOf(o cloudsim.Object) permission {
	a := o.Attrs
	return permission{a["protocol"], a["from"], a["to"], a["cidr"], a["description"]}
}

func portPtr(v string) *int {
	if v == "" {
		return nil
	}
	n, _ := strconv.Atoi(v)
	return &n
}

// xPermissions groups rules by protocol and ports, as EC2 reports them.
func xPermissions(rules []permission) []xIPPermission {
	slices.SortFunc(rules, func(a, b permission) int { return strings.Compare(a.key(), b.key()) })
	var out []xIPPermission
	for _, p := range rules {
		if n := len(out); n > 0 && out[n-1].IPProtocol == p.protocol && eqPort(out[n-1].FromPort, p.from) && eqPort(out[n-1].ToPort, p.to) {
			out[n-1].IPRanges = append(out[n-1].IPRanges, xIPRange{p.cidr, p.description})
			continue
		}
		out = append(out, xIPPermission{IPProtocol: p.protocol, FromPort: portPtr(p.from), ToPort: portPtr(p.to), IPRanges: []xIPRange{{p.cidr, p.description}}})
	}
	return out
}

func eqPort(a *int, b string) bool {
	if a == nil {
		return b == ""
	}
	return strconv.Itoa(*a) == b
}

func (s *server) groupXML(o cloudsim.Object, w *world) xSecurityGroup {
	a := o.Attrs
	var rules []permission
	for _, rule := range w.children(kindRule, "group", o.Name) {
		rules = append(rules, ruleOf(rule))
	}
	return xSecurityGroup{OwnerID: s.opts.AccountID, GroupID: a["id"], GroupName: a["name"], GroupDescription: a["description"], VpcID: a["vpc"],
		SecurityGroupArn: s.arn(a["region"], "security-group", a["id"]), Ingress: xPermissions(rules),
		Egress: []xIPPermission{{IPProtocol: "-1", IPRanges: []xIPRange{{CidrIP: "0.0.0.0/0"}}}}, Tags: xTags(w.tagsOf(o))}
}

func (s *server) createSecurityGroup(r *http.Request, region, reqID string) (any, error) {
	name, desc, vpcID := r.Form.Get("GroupName"), r.Form.Get("GroupDescription"), r.Form.Get("VpcId")
	switch {
	case name == "":
		return nil, missing("groupName")
	case desc == "":
		return nil, missing("groupDescription")
	case vpcID == "":
		return nil, &ec2Err{400, "VPCIdNotSpecified", "No default VPC for this user"}
	case len(name) > 255 || len(desc) > 255:
		return nil, invalidValue("Group names and descriptions may be at most 255 characters")
	case strings.HasPrefix(name, "sg-"):
		return nil, invalidValue("Group names may not be in the format sg-*.")
	}
	tags, err := parseTags(r, resGroup.tagType)
	if err != nil {
		return nil, err
	}
	if _, err := s.lookup(resVpc, region, vpcID); err != nil {
		return nil, err
	}
	w := s.world()
	for _, g := range w.children(kindGroup, "vpc", vpcID) {
		if g.Attrs["name"] == name {
			return nil, &ec2Err{400, "InvalidGroup.Duplicate", fmt.Sprintf("The security group '%s' already exists for VPC '%s'", name, vpcID)}
		}
	}
	id := newID("sg", w)
	o, err := s.e.PutObject(cloudName, kindGroup, objectName(resGroup, region, id), withTags(map[string]string{
		"id": id, "region": region, "vpc": vpcID, "name": name, "description": desc, "created": s.stamp()}, tags))
	if err != nil {
		return nil, engineErr(err, resGroup)
	}
	out := reply("CreateSecurityGroup", reqID)
	out.GroupID, out.SecurityGroupArn, out.TagSet = id, s.arn(region, "security-group", id), setOf(xTags(w.tagsOf(o)))
	return out, nil
}

// groupParam finds the group a request names by GroupId (or GroupName).
func (s *server) groupParam(r *http.Request, region string) (cloudsim.Object, error) {
	if id := r.Form.Get("GroupId"); id != "" {
		return s.lookup(resGroup, region, id)
	}
	name := r.Form.Get("GroupName")
	if name == "" {
		return cloudsim.Object{}, missing("groupId")
	}
	if err := s.gate(resGroup); err != nil {
		return cloudsim.Object{}, err
	}
	for _, g := range s.world().inRegion(kindGroup, region) {
		if g.Attrs["name"] == name {
			return g, nil
		}
	}
	return cloudsim.Object{}, &ec2Err{400, "InvalidGroup.NotFound", fmt.Sprintf("The security group '%s' does not exist", name)}
}

// groupsNamed narrows DescribeSecurityGroups to GroupName.N, each of
// which must match.
func groupsNamed(r *http.Request, objs []cloudsim.Object) ([]cloudsim.Object, error) {
	names := formList(r, "GroupName")
	if len(names) == 0 {
		return objs, nil
	}
	var named []cloudsim.Object
	for _, n := range names {
		i := slices.IndexFunc(objs, func(o cloudsim.Object) bool { return o.Attrs["name"] == n })
		if i < 0 {
			return nil, &ec2Err{400, "InvalidGroup.NotFound", fmt.Sprintf("The security group '%s' does not exist", n)}
		}
		named = append(named, objs[i])
	}
	return named, nil
}

var describeSecurityGroups = describeHandler(describeSpec[xSecurityGroup]{action: "DescribeSecurityGroups", res: resGroup, idParam: "GroupId",
	known: groupFilters, fields: (*server).groupFields, narrow: groupsNamed,
	xml: (*server).groupXML, set: func(o *netResponse) **[]xSecurityGroup { return &o.SecurityGroups }})

var protocols = map[string]string{"-1": "-1", "all": "-1", "tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp", "icmp": "icmp", "1": "icmp"}

// parsePermissions reads IpPermissions.N (IpProtocol, FromPort, ToPort,
// IpRanges.M.CidrIp / Description), or the single rule of the top-level
// IpProtocol, FromPort, ToPort, CidrIp.
func parsePermissions(r *http.Request) ([]permission, error) {
	type raw struct{ prefix, rangesPrefix string }
	var raws []raw
	for _, n := range indices(r, "IpPermissions") {
		p := fmt.Sprintf("IpPermissions.%d.", n)
		raws = append(raws, raw{p, p + "IpRanges"})
	}
	if len(raws) == 0 && r.Form.Get("IpProtocol") != "" {
		raws = append(raws, raw{"", ""})
	}
	if len(raws) == 0 {
		return nil, missing("ipPermissions")
	}
	var out []permission
	for _, rp := range raws {
		v := r.Form.Get(rp.prefix + "IpProtocol")
		proto, ok := protocols[strings.ToLower(v)]
		if !ok {
			if n, err := strconv.Atoi(v); err == nil && n >= 0 && n <= 255 {
				proto, ok = v, true
			}
		}
		if !ok {
			return nil, invalidValue("Invalid value '%s' for IP protocol. Unknown protocol.", v)
		}
		from, to := r.Form.Get(rp.prefix+"FromPort"), r.Form.Get(rp.prefix+"ToPort")
		switch proto {
		case "tcp", "udp", "icmp":
			lo, hi := 0, 65535
			if proto == "icmp" {
				lo, hi = -1, 255
			}
			f, ferr := strconv.Atoi(from)
			t, terr := strconv.Atoi(to)
			if ferr != nil || terr != nil {
				return nil, invalidValue("Invalid value for portRange. Must specify both from and to ports with TCP/UDP/ICMP.")
			}
			if f < lo || t > hi || (proto != "icmp" && f > t) {
				return nil, invalidValue("Invalid value for portRange: %d-%d", f, t)
			}
			from, to = strconv.Itoa(f), strconv.Itoa(t)
		default:
			from, to = "", ""
		}
		var ranges [][2]string
		if rp.rangesPrefix == "" {
			ranges = append(ranges, [2]string{r.Form.Get("CidrIp"), ""})
		} else {
			for _, m := range indices(r, rp.rangesPrefix) {
				ranges = append(ranges, [2]string{r.Form.Get(fmt.Sprintf("%s.%d.CidrIp", rp.rangesPrefix, m)),
					r.Form.Get(fmt.Sprintf("%s.%d.Description", rp.rangesPrefix, m))})
			}
			if len(indices(r, rp.prefix+"Groups"))+len(indices(r, rp.prefix+"Ipv6Ranges"))+len(indices(r, rp.prefix+"PrefixListIds")) > 0 {
				return nil, invalidValue("awsfront simulates IPv4 CIDR sources (IpRanges) only")
			}
		}
		if len(ranges) == 0 {
			return nil, missing(rp.prefix + "IpRanges")
		}
		for _, cr := range ranges {
			c, err := netip.ParsePrefix(cr[0])
			if err != nil || !c.Addr().Is4() || c.Masked() != c {
				return nil, invalidValue("CIDR block %s is malformed", cr[0])
			}
			out = append(out, permission{proto, from, to, c.String(), cr[1]})
		}
	}
	return out, nil
}

func (s *server) ruleXML(o cloudsim.Object, g cloudsim.Object) xSecurityGroupRule {
	p := ruleOf(o)
	x := xSecurityGroupRule{RuleID: o.Attrs["id"], GroupID: g.Attrs["id"], OwnerID: s.opts.AccountID, IPProtocol: p.protocol,
		FromPort: -1, ToPort: -1, CidrIPv4: p.cidr, Description: p.description}
	if f := portPtr(p.from); f != nil {
		x.FromPort = *f
	}
	if t := portPtr(p.to); t != nil {
		x.ToPort = *t
	}
	return x
}

// authorizeIngress adds rules; when one exists already nothing is added
// (InvalidPermission.Duplicate).
func (s *server) authorizeIngress(r *http.Request, region, reqID string) (any, error) {
	g, err := s.groupParam(r, region)
	if err != nil {
		return nil, err
	}
	perms, err := parsePermissions(r)
	if err != nil {
		return nil, err
	}
	w := s.world()
	have := map[string]bool{}
	for _, rule := range w.children(kindRule, "group", g.Name) {
		have[ruleOf(rule).key()] = true
	}
	for _, p := range perms {
		if have[p.key()] {
			return nil, &ec2Err{400, "InvalidPermission.Duplicate",
				fmt.Sprintf("the specified rule \"peer: %s, %s, ALLOW\" already exists", p.cidr, strings.ToUpper(strings.ReplaceAll(p.protocol, "-1", "all")))}
		}
		have[p.key()] = true
	}
	if len(have) > maxRulesPerGroup {
		return nil, &ec2Err{400, "RulesPerSecurityGroupLimitExceeded", "The maximum number of rules per security group has been reached."}
	}
	out := replyTrue("AuthorizeSecurityGroupIngress", reqID)
	var added []string
	for _, p := range perms {
		id := newID("sgr", w)
		o, err := s.e.PutObject(cloudName, kindRule, g.Name+"/ingress/"+p.key(), map[string]string{
			"id": id, "group": g.Name, "protocol": p.protocol, "from": p.from, "to": p.to, "cidr": p.cidr, "description": p.description})
		if err != nil {
			var undo []error
			for _, name := range added {
				undo = append(undo, s.deleteObject(kindRule, name))
			}
			if uerr := errors.Join(undo...); uerr != nil {
				return nil, internalErr("rules added before the failure ("+err.Error()+") stayed", uerr)
			}
			return nil, engineErr(err, resGroup)
		}
		added = append(added, o.Name)
		out.SecurityGroupRules = addItem(out.SecurityGroupRules, s.ruleXML(o, g))
	}
	return out, nil
}

// revokeIngress removes the rules that exist (by permission or
// SecurityGroupRuleId.N); the others are reported unknown, and when none
// exists it is InvalidPermission.NotFound.
func (s *server) revokeIngress(r *http.Request, region, reqID string) (any, error) {
	g, err := s.groupParam(r, region)
	if err != nil {
		return nil, err
	}
	ruleIDs := formList(r, "SecurityGroupRuleId")
	var perms []permission
	if len(ruleIDs) == 0 {
		if perms, err = parsePermissions(r); err != nil {
			return nil, err
		}
	}
	w := s.world()
	byKey, byID := map[string]cloudsim.Object{}, map[string]cloudsim.Object{}
	for _, rule := range w.children(kindRule, "group", g.Name) {
		byKey[ruleOf(rule).key()] = rule
		byID[rule.Attrs["id"]] = rule
	}
	var found []cloudsim.Object
	var unknown []permission
	for _, p := range perms {
		if o, ok := byKey[p.key()]; ok {
			found = append(found, o)
		} else {
			unknown = append(unknown, p)
		}
	}
	for _, id := range ruleIDs {
		o, ok := byID[id]
		if !ok {
			return nil, &ec2Err{400, "InvalidSecurityGroupRuleId.NotFound", fmt.Sprintf("The security group rule ID '%s' does not exist", id)}
		}
		found = append(found, o)
	}
	if len(found) == 0 {
		return nil, &ec2Err{400, "InvalidPermission.NotFound", "The specified rule does not exist in this security group."}
	}
	for _, o := range found {
		if err := s.e.DeleteObject(cloudName, kindRule, o.Name); err != nil && !cloud.IsNotFound(err) {
			return nil, engineErr(err, resGroup)
		}
	}
	out := replyTrue("RevokeSecurityGroupIngress", reqID)
	out.UnknownPermissions = setOf(xPermissions(unknown))
	return out, nil
}

var deleteSecurityGroup = deleteHandler(deleteSpec{action: "DeleteSecurityGroup", res: resGroup, idParam: "GroupId", param: "groupId",
	find: func(s *server, r *http.Request, region string) (cloudsim.Object, error) {
		return s.groupParam(r, region)
	},
	children: map[string]string{kindRule: "group"},
	answer:   func(out *netResponse, g cloudsim.Object) { out.GroupID = g.Attrs["id"] }})
