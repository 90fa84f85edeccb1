package awsfront

import (
	"crypto/rand"
	"fmt"
	"maps"
	"math"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The typed model of the simulated EC2 networking (moto's models/responses
// split): one Go type per kind, each a row of its cloudsim table
// (store.go), with the EC2 rules its values obey as methods. The wire
// handlers (vpc.go, subnet.go, …) read query parameters into these values
// and render them as XML; the rules and their sources are listed in
// network.go's doc comment.
//
// A resource holds the settings of its creation, which never change, with
// the tags given at creation (CreateTags adds Tag rows instead); what
// changes is a child row of its own kind that comes and goes.

// VPC is a VPC (vpc-…).
type VPC struct {
	Identity
	CIDR string `json:"cidr"`
	// MainRouteTable is the ID of the route table CreateVpc made with it.
	MainRouteTable  string    `json:"main_rtb"`
	CIDRAssociation string    `json:"cidr_association"`
	Created         time.Time `json:"created"`
}

// Subnet is a subnet (subnet-…) of a VPC.
type Subnet struct {
	Identity
	VPC    string `json:"vpc"`
	CIDR   string `json:"cidr"`
	Zone   string `json:"zone"`
	ZoneID string `json:"zone_id"`
}

// SecurityGroup is a security group (sg-…) of a VPC.
type SecurityGroup struct {
	Identity
	VPC         string `json:"vpc"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

// SecurityGroupRule is one ingress rule (sgr-…) of a security group: a
// protocol, a port range (empty for protocols without ports) and a source
// CIDR.
type SecurityGroupRule struct {
	ID string `json:"id"`
	// Group is the row name of its security group.
	Group       string `json:"group"`
	Protocol    string `json:"protocol"`
	From        string `json:"from"`
	To          string `json:"to"`
	CIDR        string `json:"cidr"`
	Description string `json:"description,omitempty"`
}

// RouteTable is a route table (rtb-…): the main route table of its VPC.
type RouteTable struct {
	Identity
	VPC         string `json:"vpc"`
	Main        bool   `json:"main"`
	Association string `json:"association"`
}

// Route is a route CreateRoute added to a route table: to a virtual
// private gateway or a peering connection.
type Route struct {
	// Table is the row name of its route table.
	Table       string `json:"table"`
	Destination string `json:"dest"`
	Gateway     string `json:"gateway,omitempty"`
	Peering     string `json:"peering,omitempty"`
}

// RoutePropagation is a route table that learns a virtual private
// gateway's routes.
type RoutePropagation struct {
	Table   string `json:"table"`
	Gateway string `json:"gateway"`
}

// VPNGateway is a virtual private gateway (vgw-…).
type VPNGateway struct {
	Identity
	Type          string    `json:"type"`
	AmazonSideASN int64     `json:"asn"`
	Zone          string    `json:"zone,omitempty"`
	Created       time.Time `json:"created"`
}

// VPCAttachment is a virtual private gateway's attachment to a VPC.
type VPCAttachment struct {
	// Gateway is the row name of the gateway, GatewayID its ID.
	Gateway   string    `json:"gateway"`
	GatewayID string    `json:"gateway_id"`
	VPC       string    `json:"vpc"`
	Created   time.Time `json:"created"`
}

// CustomerGateway is a customer gateway (cgw-…): the peer device of VPN
// connections.
type CustomerGateway struct {
	Identity
	Type       string `json:"type"`
	IP         string `json:"ip"`
	ASN        int64  `json:"asn"`
	DeviceName string `json:"device,omitempty"`
}

// VPNConnection is a site-to-site VPN connection (vpn-…) between a virtual
// private gateway and a customer gateway, with the two tunnels of its
// creation (TunnelModification rows change them later).
type VPNConnection struct {
	Identity
	Type             string       `json:"type"`
	CustomerGateway  string       `json:"cgw"`
	VPNGateway       string       `json:"vgw"`
	StaticRoutesOnly bool         `json:"static_routes_only"`
	Tunnels          [2]VPNTunnel `json:"tunnels"`
	Created          time.Time    `json:"created"`
}

// VPNTunnel is one tunnel of a VPN connection: AWS's outside address, the
// inside /30 and the pre-shared key.
type VPNTunnel struct {
	OutsideIP  string `json:"outside_ip"`
	InsideCIDR string `json:"cidr"`
	PSK        string `json:"psk"`
	// Modified is when ModifyVpnTunnelOptions last changed it (zero: as
	// created).
	Modified time.Time `json:"modified,omitzero"`
}

// TunnelModification is a tunnel's options as ModifyVpnTunnelOptions set
// them, row-named <connection row>/<tunnel number>.
type TunnelModification struct {
	Connection string    `json:"connection"`
	InsideCIDR string    `json:"cidr"`
	PSK        string    `json:"psk"`
	Modified   time.Time `json:"modified"`
}

// PeeringConnection is a VPC peering connection (pcx-…), seen from both
// its regions.
type PeeringConnection struct {
	Identity
	Requester PeeringSide `json:"requester"`
	Accepter  PeeringSide `json:"accepter"`
	// Failed is why it was created failed (overlapping CIDRs); empty
	// otherwise.
	Failed  string    `json:"failed,omitempty"`
	Created time.Time `json:"created"`
}

// PeeringSide is one VPC of a peering.
type PeeringSide struct {
	Region string `json:"region"`
	VPC    string `json:"vpc"`
	CIDR   string `json:"cidr"`
}

// PeeringAcceptance records that a peering was accepted.
type PeeringAcceptance struct {
	Peering  string    `json:"peering"`
	Accepted time.Time `json:"accepted"`
}

// Tag is a tag CreateTags set on a resource (named by its row).
type Tag struct {
	Resource string `json:"resource"`
	Key      string `json:"key"`
	Value    string `json:"value"`
}

// model is what every kind with an ID answers the generic lookup,
// describe, delete and tag paths (store.go, handlers.go).
type model interface {
	ec2ID() string
	// seenFrom reports whether a region sees it.
	seenFrom(region string) bool
	// creationTags are the tags given at its creation.
	creationTags() map[string]string
}

// Identity is what every kind with an ID has: the ID, the region that
// sees it and the tags given at its creation (CreateTags adds Tag rows).
type Identity struct {
	ID     string            `json:"id"`
	Region string            `json:"region,omitempty"`
	Tags   map[string]string `json:"tags,omitempty"`
}

func (v Identity) ec2ID() string                   { return v.ID }
func (v Identity) seenFrom(region string) bool     { return v.Region == region }
func (v Identity) creationTags() map[string]string { return v.Tags }
func (v *Identity) setID(id string)                { v.ID = id }

// seenFrom: a peering is seen from both its regions.
func (v PeeringConnection) seenFrom(region string) bool {
	return v.Requester.Region == region || v.Accepter.Region == region
}

// Rules of the kinds.

// checkRange is EC2's rule for a VPC's CIDR block: /16 to /28
// (InvalidVpc.Range).
func (v VPC) checkRange(p netip.Prefix) error {
	if p.Bits() < 16 || p.Bits() > 28 {
		return &ec2Err{400, "InvalidVpc.Range", fmt.Sprintf("The CIDR '%s' is invalid.", v.CIDR)}
	}
	return nil
}

// prefix is the VPC's CIDR block.
func (v VPC) prefix() netip.Prefix {
	p, _ := netip.ParsePrefix(v.CIDR)
	return p
}

// checkIn is EC2's rule for a subnet's CIDR block: /16 to /28 inside its
// VPC's (InvalidSubnet.Range), overlapping none of siblings'
// (InvalidSubnet.Conflict).
func (v Subnet) checkIn(vpc netip.Prefix, siblings []Subnet) error {
	p, _ := netip.ParsePrefix(v.CIDR)
	if p.Bits() < 16 || p.Bits() > 28 || !inside(p, vpc) {
		return &ec2Err{400, "InvalidSubnet.Range", fmt.Sprintf("The CIDR '%s' is invalid.", v.CIDR)}
	}
	for _, o := range siblings {
		if q, err := netip.ParsePrefix(o.CIDR); err == nil && q.Overlaps(p) {
			return &ec2Err{400, "InvalidSubnet.Conflict", fmt.Sprintf("The CIDR '%s' conflicts with another subnet", v.CIDR)}
		}
	}
	return nil
}

// availableAddresses is what EC2 reports free in a new subnet: all but
// the five addresses AWS reserves.
func (v Subnet) availableAddresses() int {
	p, _ := netip.ParsePrefix(v.CIDR)
	return 1<<(32-p.Bits()) - 5
}

// check is EC2's rule for a security group's name and description: at
// most 255 characters, the name not sg-*.
func (v SecurityGroup) check() error {
	switch {
	case len(v.Name) > 255 || len(v.Description) > 255:
		return invalidValue("Group names and descriptions may be at most 255 characters")
	case strings.HasPrefix(v.Name, "sg-"):
		return invalidValue("Group names may not be in the format sg-*.")
	}
	return nil
}

// uniqueIn is EC2's rule that a security group's name is unique among its
// VPC's groups (InvalidGroup.Duplicate).
func (v SecurityGroup) uniqueIn(siblings []SecurityGroup) error {
	for _, g := range siblings {
		if g.Name == v.Name {
			return &ec2Err{400, "InvalidGroup.Duplicate", fmt.Sprintf("The security group '%s' already exists for VPC '%s'", v.Name, v.VPC)}
		}
	}
	return nil
}

// permission is a rule's identity: protocol, ports and source.
func (v SecurityGroupRule) permission() permission {
	return permission{v.Protocol, v.From, v.To, v.CIDR, v.Description}
}

// protocols are the names and numbers of the protocols a rule names.
var protocols = map[string]string{"-1": "-1", "all": "-1", "tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp", "icmp": "icmp", "1": "icmp"}

// checkPorts is EC2's rule for an ingress rule's protocol and ports: a
// protocol by name or number (0–255; names and their numbers are one
// protocol), and for TCP and UDP a port range within 0–65535, for ICMP a
// type and code within -1–255; other protocols have no ports. It returns
// them as a rule keeps them.
func checkPorts(v, from, to string) (string, string, string, error) {
	proto, ok := protocols[strings.ToLower(v)]
	if !ok {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 && n <= 255 {
			proto, ok = v, true
		}
	}
	if !ok {
		return "", "", "", invalidValue("Invalid value '%s' for IP protocol. Unknown protocol.", v)
	}
	switch proto {
	case "tcp", "udp", "icmp":
		lo, hi := 0, 65535
		if proto == "icmp" {
			lo, hi = -1, 255
		}
		f, ferr := strconv.Atoi(from)
		t, terr := strconv.Atoi(to)
		if ferr != nil || terr != nil {
			return "", "", "", invalidValue("Invalid value for portRange. Must specify both from and to ports with TCP/UDP/ICMP.")
		}
		if f < lo || t > hi || (proto != "icmp" && f > t) {
			return "", "", "", invalidValue("Invalid value for portRange: %d-%d", f, t)
		}
		from, to = strconv.Itoa(f), strconv.Itoa(t)
	default:
		from, to = "", ""
	}
	return proto, from, to, nil
}

// checkVPNType is the one VPN type EC2 has (gateways and connections).
func checkVPNType(typ string) error {
	if typ != "ipsec.1" {
		return invalidValue("Value (%s) for parameter type is invalid. Valid values: ipsec.1", typ)
	}
	return nil
}

// privateASN reports a private ASN: 64512–65534 or 4200000000–4294967294.
func privateASN(n int64) bool {
	return (n >= 64512 && n <= 65534) || (n >= 4200000000 && n <= 4294967294)
}

// state is a gateway's state: pending for settle after its creation,
// available then.
func (v VPNGateway) state(now time.Time, settle time.Duration) string {
	if now.Sub(v.Created) < settle {
		return "pending"
	}
	return "available"
}

// check is EC2's rule for a customer gateway: an IPv4 address.
func (v CustomerGateway) check() error {
	if a, err := netip.ParseAddr(v.IP); err != nil || !a.Is4() {
		return invalidValue("Value (%s) for parameter ipAddress is invalid. Invalid format.", v.IP)
	}
	return nil
}

// extendedASN reports an ASN EC2 answers as bgpAsnExtended (above 2^31-1).
func (v CustomerGateway) extendedASN() bool { return v.ASN > math.MaxInt32 }

// state is a connection's state: pending for settle after its creation,
// available then.
func (v VPNConnection) state(now time.Time, settle time.Duration) string {
	if now.Sub(v.Created) < settle {
		return "pending"
	}
	return "available"
}

// insideIPs are the AWS and customer sides of the tunnel's /30.
func (t VPNTunnel) insideIPs() (aws, customer string) {
	p, err := netip.ParsePrefix(t.InsideCIDR)
	if err != nil {
		return "", ""
	}
	first := p.Addr().Next()
	return first.String(), first.Next().String()
}

var (
	linkLocal      = netip.MustParsePrefix("169.254.0.0/16")
	reservedTunnel = []netip.Prefix{
		netip.MustParsePrefix("169.254.0.0/30"), netip.MustParsePrefix("169.254.1.0/30"), netip.MustParsePrefix("169.254.2.0/30"),
		netip.MustParsePrefix("169.254.3.0/30"), netip.MustParsePrefix("169.254.4.0/30"), netip.MustParsePrefix("169.254.5.0/30"),
		netip.MustParsePrefix("169.254.169.252/30"),
	}
	pskPattern = regexp.MustCompile(`^[A-Za-z1-9._][A-Za-z0-9._]{7,63}$`)
)

// checkTunnelCIDR validates a TunnelInsideCidr: a /30 of 169.254.0.0/16, none
// of AWS's reserved ones.
func checkTunnelCIDR(v string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(v)
	if err != nil || !p.Addr().Is4() || p.Bits() != 30 || p.Masked() != p || !inside(p, linkLocal) {
		return netip.Prefix{}, invalidValue("The tunnel inside CIDR %s is invalid: it must be a /30 CIDR block in the 169.254.0.0/16 range.", v)
	}
	if slices.Contains(reservedTunnel, p) {
		return netip.Prefix{}, invalidValue("The tunnel inside CIDR %s is reserved and cannot be used.", v)
	}
	return p, nil
}

// checkPSK validates a PreSharedKey: 8–64 letters, digits, '.' and '_',
// not starting with '0'.
func checkPSK(v string) error {
	if !pskPattern.MatchString(v) {
		return invalidValue("Invalid PreSharedKey: it must be 8 to 64 characters of letters, digits, periods (.) and underscores (_), and cannot start with zero (0).")
	}
	return nil
}

// checkTunnels is EC2's rule for the tunnel options CreateVpnConnection
// is given: each TunnelInsideCidr valid (checkTunnelCIDR) and not given
// for both tunnels, each PreSharedKey valid (checkPSK).
func checkTunnels(given []VPNTunnel) error {
	seen := map[netip.Prefix]bool{}
	for _, t := range given {
		if t.InsideCIDR != "" {
			c, err := checkTunnelCIDR(t.InsideCIDR)
			if err != nil {
				return err
			}
			if seen[c] {
				return invalidValue("The tunnel inside CIDR %s is given for both tunnels.", t.InsideCIDR)
			}
			seen[c] = true
		}
		if t.PSK != "" {
			if err := checkPSK(t.PSK); err != nil {
				return err
			}
		}
	}
	return nil
}

// planTunnels sets the connection's two tunnels from the options given
// (checked by checkTunnels): an inside CIDR given must be unused by the
// gateway's other connections (used); a tunnel without one gets the
// first free /30 of 169.254.10.0/23, one without a key a random key.
func (v *VPNConnection) planTunnels(given []VPNTunnel, used map[netip.Prefix]bool) error {
	taken := maps.Clone(used)
	for _, t := range given {
		if c, err := netip.ParsePrefix(t.InsideCIDR); err == nil {
			if used[c] {
				return invalidValue("The tunnel inside CIDR %s is already used by another VPN connection of %s.", c, v.VPNGateway)
			}
			taken[c] = true
		}
	}
	for i := range v.Tunnels {
		if i < len(given) {
			v.Tunnels[i].InsideCIDR, v.Tunnels[i].PSK = given[i].InsideCIDR, given[i].PSK
		}
		if v.Tunnels[i].InsideCIDR == "" {
			c := freeTunnelCIDR(taken)
			taken[c] = true
			v.Tunnels[i].InsideCIDR = c.String()
		}
		if v.Tunnels[i].PSK == "" {
			v.Tunnels[i].PSK = randomPSK()
		}
	}
	return nil
}

// randomPSK is a key as AWS would choose one.
func randomPSK() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_."
	var b [32]byte
	// crypto/rand.Read never fails (it panics on a broken system).
	rand.Read(b[:])
	out := make([]byte, len(b))
	for i, c := range b {
		out[i] = alphabet[int(c)%len(alphabet)]
	}
	if out[0] == '0' || out[0] == '.' || out[0] == '_' {
		out[0] = 'k'
	}
	return string(out)
}

// freeTunnelCIDR is the first /30 of 169.254.10.0/23 not in use.
func freeTunnelCIDR(used map[netip.Prefix]bool) netip.Prefix {
	a := netip.MustParseAddr("169.254.10.0")
	for range 128 {
		p := netip.PrefixFrom(a, 30)
		if !used[p] {
			return p
		}
		for range 4 {
			a = a.Next()
		}
	}
	return netip.PrefixFrom(a, 30)
}

// peeringExpiry is how long a peering request waits for its acceptance.
const peeringExpiry = 7 * 24 * time.Hour

// status is a peering's status code and message at now.
func (v PeeringConnection) status(now time.Time, accepted bool, account string) (string, string) {
	switch {
	case v.Failed != "":
		return "failed", v.Failed
	case accepted:
		return "active", "Active"
	case now.Sub(v.Created) >= peeringExpiry:
		return "expired", "Expired"
	}
	return "pending-acceptance", "Pending Acceptance by " + account
}

// joins reports whether the peering is between VPCs a and b (either way).
func (v PeeringConnection) joins(a, b string) bool {
	return (v.Requester.VPC == a && v.Accepter.VPC == b) || (v.Requester.VPC == b && v.Accepter.VPC == a)
}

// has reports whether a VPC is one of the peering's two.
func (v PeeringConnection) has(vpc string) bool {
	return v.Requester.VPC == vpc || v.Accepter.VPC == vpc
}
