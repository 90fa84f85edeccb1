package azurefront

import (
	"encoding/json"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// Network security groups (see network.go for the mapping).

// secRuleProps are a security rule's properties, as in ARM.
type secRuleProps struct {
	Description                string   `json:"description,omitempty"`
	Protocol                   string   `json:"protocol"`
	SourcePortRange            string   `json:"sourcePortRange,omitempty"`
	SourcePortRanges           []string `json:"sourcePortRanges,omitempty"`
	DestinationPortRange       string   `json:"destinationPortRange,omitempty"`
	DestinationPortRanges      []string `json:"destinationPortRanges,omitempty"`
	SourceAddressPrefix        string   `json:"sourceAddressPrefix,omitempty"`
	SourceAddressPrefixes      []string `json:"sourceAddressPrefixes,omitempty"`
	DestinationAddressPrefix   string   `json:"destinationAddressPrefix,omitempty"`
	DestinationAddressPrefixes []string `json:"destinationAddressPrefixes,omitempty"`
	Access                     string   `json:"access"`
	Priority                   int      `json:"priority"`
	Direction                  string   `json:"direction"`
}

// secRule is a security rule, as in ARM.
type secRule struct {
	Name       string       `json:"name"`
	Properties secRuleProps `json:"properties"`
}

// nsgProps is a network security group as stored.
type nsgProps struct {
	Rules []secRule `json:"rules"`
}

var (
	serviceTag = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9.]*$`)
	portRange  = regexp.MustCompile(`^(\*|\d{1,5}(-\d{1,5})?)$`)
)

// canonical returns the value of allowed equal to v ignoring case.
func canonical(v string, allowed ...string) (string, bool) {
	for _, a := range allowed {
		if strings.EqualFold(a, v) {
			return a, true
		}
	}
	return "", false
}

func checkAddressPrefix(rule, p string) error {
	if p == "*" || serviceTag.MatchString(p) {
		return nil
	}
	if _, err := netip.ParseAddr(p); err == nil {
		return nil
	}
	if _, err := netip.ParsePrefix(p); err == nil {
		return nil
	}
	return newErr(400, "SecurityRuleInvalidAddressPrefix", "Security rule %s has invalid Address prefix. Value provided: %s", rule, p)
}

func checkPortRange(rule, p string) error {
	ok := portRange.MatchString(p)
	if ok && p != "*" {
		lo, hi, found := strings.Cut(p, "-")
		a, _ := strconv.Atoi(lo)
		b := a
		if found {
			b, _ = strconv.Atoi(hi)
		}
		ok = a <= 65535 && b <= 65535 && a <= b
	}
	if !ok {
		return newErr(400, "SecurityRuleInvalidPortRange", "Security rule %s has invalid Port range. Value provided: %s. Value should be an integer OR integer range with '-' delimiter. Valid range 0-65535.", rule, p)
	}
	return nil
}

// checkOneOf requires exactly one of a single value and a list.
func checkOneOf(rule, what, one string, many []string) ([]string, error) {
	switch {
	case one != "" && len(many) > 0:
		return nil, newErr(400, "SecurityRuleParameterContainsUnsupportedValue",
			"Security rule %s specifies both %s and %ss; give one of them.", rule, what, what)
	case one != "":
		return []string{one}, nil
	case len(many) > 0:
		return many, nil
	}
	return nil, newErr(400, "SecurityRuleParameterContainsUnsupportedValue", "Security rule %s has no %s.", rule, what)
}

func checkRule(r *secRule) error {
	p := &r.Properties
	var ok bool
	if p.Access, ok = canonical(p.Access, "Allow", "Deny"); !ok {
		return newErr(400, "SecurityRuleParameterContainsUnsupportedValue", "Security rule %s has an unsupported access; want Allow or Deny.", r.Name)
	}
	if p.Direction, ok = canonical(p.Direction, "Inbound", "Outbound"); !ok {
		return newErr(400, "SecurityRuleParameterContainsUnsupportedValue", "Security rule %s has an unsupported direction; want Inbound or Outbound.", r.Name)
	}
	if p.Protocol, ok = canonical(p.Protocol, "*", "Tcp", "Udp", "Icmp", "Esp", "Ah"); !ok {
		return newErr(400, "SecurityRuleParameterContainsUnsupportedValue", "Security rule %s has an unsupported protocol; want *, Tcp, Udp, Icmp, Esp or Ah.", r.Name)
	}
	if p.Priority < 100 || p.Priority > 4096 {
		return newErr(400, "SecurityRuleInvalidPriority", "Security rule %s has invalid Priority. Value provided: %d Allowed range 100-4096.", r.Name, p.Priority)
	}
	for _, side := range []struct {
		what       string
		one        string
		many       []string
		isAddrSide bool
	}{
		{"sourceAddressPrefix", p.SourceAddressPrefix, p.SourceAddressPrefixes, true},
		{"destinationAddressPrefix", p.DestinationAddressPrefix, p.DestinationAddressPrefixes, true},
		{"sourcePortRange", p.SourcePortRange, p.SourcePortRanges, false},
		{"destinationPortRange", p.DestinationPortRange, p.DestinationPortRanges, false},
	} {
		vals, err := checkOneOf(r.Name, side.what, side.one, side.many)
		if err != nil {
			return err
		}
		for _, v := range vals {
			if side.isAddrSide {
				err = checkAddressPrefix(r.Name, v)
			} else {
				err = checkPortRange(r.Name, v)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *server) putNSG(_ *netWorld, r *netRecord, raw json.RawMessage) error {
	var b struct {
		SecurityRules []secRule `json:"securityRules"`
	}
	if err := props(raw, &b); err != nil {
		return err
	}
	seen := map[string]bool{}
	for i := range b.SecurityRules {
		rule := &b.SecurityRules[i]
		if rule.Name == "" || seen[strings.ToLower(rule.Name)] {
			return newErr(400, "InvalidRequestFormat", "Cannot parse the request: security rule names must be present and unique (%q).", rule.Name)
		}
		seen[strings.ToLower(rule.Name)] = true
		if err := checkRule(rule); err != nil {
			return err
		}
		for _, o := range b.SecurityRules[:i] {
			if o.Properties.Priority == rule.Properties.Priority && o.Properties.Direction == rule.Properties.Direction {
				return newErr(400, "SecurityRuleConflict", "Security rule %s conflicts with rule %s. Rules cannot have the same Priority and Direction. To learn more, see aka.ms/nsgrules.",
					rule.Name, o.Name)
			}
		}
	}
	if b.SecurityRules == nil {
		b.SecurityRules = []secRule{}
	}
	r.NSG = &nsgProps{Rules: b.SecurityRules}
	return nil
}

// nsgSubnets returns the subnets associated with a security group.
func nsgSubnets(w *netWorld, sub string, nsg netRecord) []string {
	var out []string
	for _, sn := range w.all(kindSubnet) {
		if k, _, ok := refTo(sn.Subnet.NSG, kindNSG); ok && k == nsg.key() {
			out = append(out, sn.id(sub))
		}
	}
	return out
}

func nsgDeletable(w *netWorld, r netRecord) error {
	if users := nsgSubnets(w, w.sub, r); len(users) > 0 {
		return newErr(409, "InUseNetworkSecurityGroupCannotBeDeleted",
			"Network security group %s cannot be deleted because it is in use by the following resources: %s. In order to delete the Network security group, remove the association with the resource(s).",
			r.Name, strings.Join(users, ", "))
	}
	return nil
}

// defaultRules are the rules Azure puts in every security group.
var defaultRules = []secRule{
	{"AllowVnetInBound", secRuleProps{Description: "Allow inbound traffic from all VMs in VNET", Protocol: "*", SourcePortRange: "*", DestinationPortRange: "*",
		SourceAddressPrefix: "VirtualNetwork", DestinationAddressPrefix: "VirtualNetwork", Access: "Allow", Priority: 65000, Direction: "Inbound"}},
	{"AllowAzureLoadBalancerInBound", secRuleProps{Description: "Allow inbound traffic from azure load balancer", Protocol: "*", SourcePortRange: "*", DestinationPortRange: "*",
		SourceAddressPrefix: "AzureLoadBalancer", DestinationAddressPrefix: "*", Access: "Allow", Priority: 65001, Direction: "Inbound"}},
	{"DenyAllInBound", secRuleProps{Description: "Deny all inbound traffic", Protocol: "*", SourcePortRange: "*", DestinationPortRange: "*",
		SourceAddressPrefix: "*", DestinationAddressPrefix: "*", Access: "Deny", Priority: 65500, Direction: "Inbound"}},
	{"AllowVnetOutBound", secRuleProps{Description: "Allow outbound traffic from all VMs to all VMs in VNET", Protocol: "*", SourcePortRange: "*", DestinationPortRange: "*",
		SourceAddressPrefix: "VirtualNetwork", DestinationAddressPrefix: "VirtualNetwork", Access: "Allow", Priority: 65000, Direction: "Outbound"}},
	{"AllowInternetOutBound", secRuleProps{Description: "Allow outbound traffic from all VMs to Internet", Protocol: "*", SourcePortRange: "*", DestinationPortRange: "*",
		SourceAddressPrefix: "*", DestinationAddressPrefix: "Internet", Access: "Allow", Priority: 65001, Direction: "Outbound"}},
	{"DenyAllOutBound", secRuleProps{Description: "Deny all outbound traffic", Protocol: "*", SourcePortRange: "*", DestinationPortRange: "*",
		SourceAddressPrefix: "*", DestinationAddressPrefix: "*", Access: "Deny", Priority: 65500, Direction: "Outbound"}},
}

func (s *server) nsgJSONProps(q *req, w *netWorld, r netRecord) map[string]any {
	state := r.state(s.now())
	render := func(rules []secRule, seg string) []any {
		out := []any{}
		for _, rule := range rules {
			p := toMap(rule.Properties)
			p["provisioningState"] = state
			out = append(out, map[string]any{
				"id": r.id(q.sub) + "/" + seg + "/" + rule.Name, "name": rule.Name, "etag": r.etag(),
				"type": "Microsoft.Network/networkSecurityGroups/" + seg, "properties": p,
			})
		}
		return out
	}
	var subnets []any
	for _, id := range nsgSubnets(w, q.sub, r) {
		subnets = append(subnets, subResource(id))
	}
	p := map[string]any{
		"securityRules":        render(r.NSG.Rules, "securityRules"),
		"defaultSecurityRules": render(defaultRules, "defaultSecurityRules"),
	}
	if subnets != nil {
		p["subnets"] = subnets
	}
	return p
}
