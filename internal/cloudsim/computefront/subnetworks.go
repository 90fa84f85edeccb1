package computefront

import (
	"net/netip"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

func init() {
	register(&kindInfo{
		kind: kindSubnetwork, coll: "subnetworks", apiKind: "compute#subnetwork", label: "subnetwork", regional: true,
		newMsg: func() proto.Message { return &computepb.Subnetwork{} },
		open:   openTable[computepb.Subnetwork],
		check:  checkSubnetwork,
		expand: func(base string, m proto.Message) {
			s := m.(*computepb.Subnetwork)
			s.Network = prefixPtr(base, s.Network)
		},
	})
}

// parseRange reads a masked IPv4 prefix of /8 to /29.
func parseRange(field, v string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(v)
	switch {
	case err != nil || !p.Addr().Is4():
		return netip.Prefix{}, invalidField(field, v, "Must be a valid IPv4 CIDR range.")
	case p.Masked() != p:
		return netip.Prefix{}, invalidField(field, v, "The range is not a network address: its host bits must be zero ("+p.Masked().String()+").")
	case p.Bits() < 8 || p.Bits() > 29:
		return netip.Prefix{}, invalidField(field, v, "The prefix length must be from /8 to /29.")
	}
	return p, nil
}

func checkSubnetwork(_ *server, sn *snapshot, q *request, msg, _ proto.Message) error {
	s := msg.(*computepb.Subnetwork)
	if s.GetNetwork() == "" {
		return invalidField("resource.network", "", "A subnetwork needs a network.")
	}
	network, _, err := normRef(sn, q.project, "resource.network", s.GetNetwork(), kindNetwork)
	if err != nil {
		return err
	}
	s.Network = proto.String(network)
	primary, err := parseRange("resource.ipCidrRange", s.GetIpCidrRange())
	if err != nil {
		return err
	}
	mine := []netip.Prefix{primary}
	names := map[string]bool{}
	for i, r := range s.GetSecondaryIpRanges() {
		field := "resource.secondaryIpRanges[" + itoa(int64(i)) + "]"
		if err := checkName(field+".rangeName", r.GetRangeName()); err != nil {
			return err
		}
		if names[r.GetRangeName()] {
			return invalidField(field+".rangeName", r.GetRangeName(), "Secondary range names must be unique in a subnetwork.")
		}
		names[r.GetRangeName()] = true
		p, err := parseRange(field+".ipCidrRange", r.GetIpCidrRange())
		if err != nil {
			return err
		}
		for _, o := range mine {
			if o.Overlaps(p) {
				return invalidField(field+".ipCidrRange", p.String(), "It overlaps with range "+o.String()+" of the same subnetwork.")
			}
		}
		mine = append(mine, p)
	}
	self := s.GetSelfLink()
	var conflict error
	sn.each(kindSubnetwork, func(_ string, m proto.Message) {
		other := m.(*computepb.Subnetwork)
		if conflict != nil || other.GetNetwork() != network || other.GetSelfLink() == self {
			return
		}
		for _, c := range subnetRanges(other) {
			op, err := netip.ParsePrefix(c)
			if err != nil {
				continue
			}
			for _, p := range mine {
				if p.Overlaps(op) {
					conflict = invalidf("Invalid IPCidrRange: %s conflicts with existing subnetwork '%s' (range %s) in network '%s'.",
						p, other.GetSelfLink(), op, network)
					return
				}
			}
		}
	})
	if conflict != nil {
		return conflict
	}
	gw := primary.Addr().Next()
	s.GatewayAddress = proto.String(gw.String())
	if s.StackType == nil {
		s.StackType = proto.String("IPV4_ONLY")
	}
	if s.Purpose == nil {
		s.Purpose = proto.String("PRIVATE")
	}
	if s.PrivateIpGoogleAccess == nil {
		s.PrivateIpGoogleAccess = proto.Bool(false)
	}
	s.Fingerprint = proto.String(itoa(int64(numericID(self, s.GetIpCidrRange()) % 1e12)))
	return nil
}
