package awsfront

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// EC2 security groups and their ingress rules: the wire side of model.go's
// SecurityGroup and SecurityGroupRule (rules in network.go).

var groupFilters = []string{"group-id", "group-name", "vpc-id", "description", "owner-id", "ip-permission.cidr", "ip-permission.protocol",
	"ip-permission.from-port", "ip-permission.to-port"}

func (s *server) groupFields(o cloudsim.Row[SecurityGroup], w *world) map[string][]string {
	g := o.Value
	f := map[string][]string{"group-id": {g.ID}, "group-name": {g.Name}, "vpc-id": {g.VPC},
		"description": {g.Description}, "owner-id": {s.opts.AccountID}}
	for _, rule := range w.rulesOf(o.Name).values() {
		f["ip-permission.cidr"] = append(f["ip-permission.cidr"], rule.CIDR)
		f["ip-permission.protocol"] = append(f["ip-permission.protocol"], rule.Protocol)
		f["ip-permission.from-port"] = append(f["ip-permission.from-port"], rule.From)
		f["ip-permission.to-port"] = append(f["ip-permission.to-port"], rule.To)
	}
	return f
}

// rulesOf are the rules of a security group (by its row name).
func (w *world) rulesOf(group string) rows[SecurityGroupRule] {
	return w.rules.where(func(r SecurityGroupRule) bool { return r.Group == group })
}

// permission is one ingress rule: a protocol, a port range and a source.
type permission struct {
	protocol, from, to, cidr, description string
}

func (p permission) key() string { return p.protocol + "|" + p.from + "|" + p.to + "|" + p.cidr }

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

func (s *server) groupXML(o cloudsim.Row[SecurityGroup], w *world) xSecurityGroup {
	g := o.Value
	var rules []permission
	for _, rule := range w.rulesOf(o.Name).values() {
		rules = append(rules, rule.permission())
	}
	return xSecurityGroup{OwnerID: s.opts.AccountID, GroupID: g.ID, GroupName: g.Name, GroupDescription: g.Description, VpcID: g.VPC,
		SecurityGroupArn: s.arn(g.Region, "security-group", g.ID), Ingress: xPermissions(rules),
		Egress: []xIPPermission{{IPProtocol: "-1", IPRanges: []xIPRange{{CidrIP: "0.0.0.0/0"}}}}, Tags: xTags(w.tagsOf(o.Name, g))}
}

func (s *server) createSecurityGroup(r *http.Request, region, reqID string, w *world) (any, error) {
	name, desc, vpcID := r.Form.Get("GroupName"), r.Form.Get("GroupDescription"), r.Form.Get("VpcId")
	switch {
	case name == "":
		return nil, missing("groupName")
	case desc == "":
		return nil, missing("groupDescription")
	case vpcID == "":
		return nil, &ec2Err{400, "VPCIdNotSpecified", "No default VPC for this user"}
	}
	g := SecurityGroup{Identity: Identity{Region: region}, VPC: vpcID, Name: name, Description: desc}
	if err := g.check(); err != nil {
		return nil, err
	}
	var err error
	if g.Tags, err = parseTags(r, resGroup.tagType); err != nil {
		return nil, err
	}
	if _, err := vpcs.lookup(s, region, vpcID); err != nil {
		return nil, err
	}
	if err := g.uniqueIn(w.groups.where(func(o SecurityGroup) bool { return o.VPC == vpcID }).values()); err != nil {
		return nil, err
	}
	o, err := insert(s, groups, w, region, g)
	if err != nil {
		return nil, err
	}
	out := reply("CreateSecurityGroup", reqID)
	out.GroupID, out.SecurityGroupArn, out.TagSet = o.Value.ID, s.arn(region, "security-group", o.Value.ID), setOf(xTags(w.tagsOf(o.Name, o.Value)))
	return out, nil
}

// groupParam finds the group a request names by GroupId (or GroupName).
func (s *server) groupParam(r *http.Request, region string, w *world) (cloudsim.Row[SecurityGroup], error) {
	var none cloudsim.Row[SecurityGroup]
	if id := r.Form.Get("GroupId"); id != "" {
		return groups.lookup(s, region, id)
	}
	name := r.Form.Get("GroupName")
	if name == "" {
		return none, missing("groupId")
	}
	if err := groups.gate(s); err != nil {
		return none, err
	}
	for _, g := range groups.inRegion(w, region) {
		if g.Value.Name == name {
			return g, nil
		}
	}
	return none, &ec2Err{400, "InvalidGroup.NotFound", fmt.Sprintf("The security group '%s' does not exist", name)}
}

// groupsNamed narrows DescribeSecurityGroups to GroupName.N, each of
// which must match.
func groupsNamed(r *http.Request, objs rows[SecurityGroup]) (rows[SecurityGroup], error) {
	names := formList(r, "GroupName")
	if len(names) == 0 {
		return objs, nil
	}
	var named rows[SecurityGroup]
	for _, n := range names {
		i := slices.IndexFunc(objs, func(o cloudsim.Row[SecurityGroup]) bool { return o.Value.Name == n })
		if i < 0 {
			return nil, &ec2Err{400, "InvalidGroup.NotFound", fmt.Sprintf("The security group '%s' does not exist", n)}
		}
		named = append(named, objs[i])
	}
	return named, nil
}

var describeSecurityGroups = describeHandler(describeSpec[SecurityGroup, xSecurityGroup]{action: "DescribeSecurityGroups", kind: groups, idParam: "GroupId",
	known: groupFilters, fields: (*server).groupFields, narrow: groupsNamed,
	xml: (*server).groupXML, set: func(o *netResponse) **[]xSecurityGroup { return &o.SecurityGroups }})

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
		proto, from, to, err := checkPorts(r.Form.Get(rp.prefix+"IpProtocol"), r.Form.Get(rp.prefix+"FromPort"), r.Form.Get(rp.prefix+"ToPort"))
		if err != nil {
			return nil, err
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

func (s *server) ruleXML(rule SecurityGroupRule, g SecurityGroup) xSecurityGroupRule {
	p := rule.permission()
	x := xSecurityGroupRule{RuleID: rule.ID, GroupID: g.ID, OwnerID: s.opts.AccountID, IPProtocol: p.protocol,
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
func (s *server) authorizeIngress(r *http.Request, region, reqID string, w *world) (any, error) {
	g, err := s.groupParam(r, region, w)
	if err != nil {
		return nil, err
	}
	perms, err := parsePermissions(r)
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, rule := range w.rulesOf(g.Name).values() {
		have[rule.permission().key()] = true
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
		rule := SecurityGroupRule{ID: newID("sgr", w), Group: g.Name, Protocol: p.protocol, From: p.from, To: p.to, CIDR: p.cidr,
			Description: p.description}
		name := g.Name + "/ingress/" + p.key()
		if err := s.net.rules.Put(name, rule); err != nil {
			var undo []error
			for _, name := range added {
				undo = append(undo, drop(s.net.rules, name))
			}
			if uerr := errors.Join(undo...); uerr != nil {
				return nil, internalErr("rules added before the failure ("+err.Error()+") stayed", uerr)
			}
			return nil, engineErr(err, resGroup)
		}
		added = append(added, name)
		out.SecurityGroupRules = addItem(out.SecurityGroupRules, s.ruleXML(rule, g.Value))
	}
	return out, nil
}

// revokeIngress removes the rules that exist (by permission or
// SecurityGroupRuleId.N); the others are reported unknown, and when none
// exists it is InvalidPermission.NotFound.
func (s *server) revokeIngress(r *http.Request, region, reqID string, w *world) (any, error) {
	g, err := s.groupParam(r, region, w)
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
	byKey, byID := map[string]cloudsim.Row[SecurityGroupRule]{}, map[string]cloudsim.Row[SecurityGroupRule]{}
	for _, rule := range w.rulesOf(g.Name) {
		byKey[rule.Value.permission().key()] = rule
		byID[rule.Value.ID] = rule
	}
	var found []cloudsim.Row[SecurityGroupRule]
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
		if err := drop(s.net.rules, o.Name); err != nil {
			return nil, engineErr(err, resGroup)
		}
	}
	out := replyTrue("RevokeSecurityGroupIngress", reqID)
	out.UnknownPermissions = setOf(xPermissions(unknown))
	return out, nil
}

var deleteSecurityGroup = deleteHandler(deleteSpec[SecurityGroup]{action: "DeleteSecurityGroup", kind: groups, idParam: "GroupId", param: "groupId",
	find: (*server).groupParam,
	children: func(s *server, w *world, g cloudsim.Row[SecurityGroup]) error {
		return dropAll(s.net.rules, w.rulesOf(g.Name))
	},
	answer: func(out *netResponse, g SecurityGroup) { out.GroupID = g.ID }})
