package computefront

import (
	"net/netip"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

func init() {
	register(&kindInfo{
		kind: kindFirewall, coll: "firewalls", apiKind: "compute#firewall", label: "firewall", mutable: true,
		newMsg: func() proto.Message { return &computepb.Firewall{} },
		open:   openTable[computepb.Firewall],
		check:  checkFirewall,
		expand: func(base string, m proto.Message) {
			f := m.(*computepb.Firewall)
			f.Network = prefixPtr(base, f.Network)
		},
	})
}

// checkSourceRange accepts a CIDR or a single address, IPv4 or IPv6.
func checkSourceRange(field, v string) error {
	if _, err := netip.ParsePrefix(v); err == nil {
		return nil
	}
	if _, err := netip.ParseAddr(v); err == nil {
		return nil
	}
	return invalidField(field, v, "Must be a CIDR range or an IP address.")
}

func checkFirewall(_ *server, sn *snapshot, q *request, msg, oldMsg proto.Message) error {
	f := msg.(*computepb.Firewall)
	if f.GetNetwork() == "" {
		f.Network = proto.String("global/networks/default")
	}
	network, _, err := normRef(sn, q.project, "resource.network", f.GetNetwork(), kindNetwork)
	if err != nil {
		return err
	}
	f.Network = proto.String(network)
	if f.Direction == nil {
		f.Direction = proto.String("INGRESS")
	}
	if d := f.GetDirection(); d != "INGRESS" && d != "EGRESS" {
		return invalidField("resource.direction", d, "Must be INGRESS or EGRESS.")
	}
	if old, ok := oldMsg.(*computepb.Firewall); ok {
		if old.GetNetwork() != network {
			return invalidField("resource.network", f.GetNetwork(), "The network of a firewall rule cannot be changed.")
		}
		if old.GetDirection() != f.GetDirection() {
			return invalidField("resource.direction", f.GetDirection(), "The direction of a firewall rule cannot be changed.")
		}
	}
	if f.Priority == nil {
		f.Priority = proto.Int32(1000)
	}
	if p := f.GetPriority(); p < 0 || p > 65535 {
		return invalidField("resource.priority", itoa(int64(p)), "Must be from 0 to 65535.")
	}
	if (len(f.GetAllowed()) == 0) == (len(f.GetDenied()) == 0) {
		return invalidf("Invalid value for field 'resource': a firewall rule needs exactly one of allowed or denied.")
	}
	for i, a := range f.GetAllowed() {
		if a.GetIPProtocol() == "" {
			return invalidField("resource.allowed["+itoa(int64(i))+"].IPProtocol", "", "A protocol is required (tcp, udp, icmp, all, ...).")
		}
		a.IPProtocol = proto.String(strings.ToLower(a.GetIPProtocol()))
	}
	for i, r := range f.GetSourceRanges() {
		if err := checkSourceRange("resource.sourceRanges["+itoa(int64(i))+"]", r); err != nil {
			return err
		}
	}
	for i, r := range f.GetDestinationRanges() {
		if err := checkSourceRange("resource.destinationRanges["+itoa(int64(i))+"]", r); err != nil {
			return err
		}
	}
	if f.GetDirection() == "INGRESS" && len(f.SourceRanges)+len(f.SourceTags)+len(f.SourceServiceAccounts) == 0 {
		f.SourceRanges = []string{"0.0.0.0/0"}
	}
	if f.Disabled == nil {
		f.Disabled = proto.Bool(false)
	}
	return nil
}
