// Package mesh plans and builds the cross-cloud network of a GPU fleet:
// one network per site (addresses from netplan), a VPN gateway per site
// that has a peer on another cloud, an IPsec/BGP link for every pair of
// sites on different clouds (four tunnels when one side is AWS, two
// between GCP and Azure: see TunnelsPerLink), and a peering for every pair
// on the same cloud.
//
// Planning is pure and stable: what a previous plan allocated (addresses,
// ASNs, tunnel inside ranges, pre-shared keys) is fed back in and kept, so
// adding or removing a site never changes the others. Apply builds a plan
// through cloud.NetworkBackend, concurrently where the clouds allow.
package mesh

import (
	"cmp"
	"crypto/rand"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/lazyre"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/netplan"
)

// Site is one site of the fleet.
type Site struct {
	// Key is "cloud/region".
	Key   string
	Zones []string
}

// Cloud and Region split a site key.
func splitKey(key string) (cloudName, region string) {
	c, r, _ := strings.Cut(key, "/")
	return c, r
}

// Link kinds.
const (
	KindVPN     = "vpn"
	KindPeering = "peering"
)

// PlannedSite is a site with its addresses, names and ASN.
type PlannedSite struct {
	Key, Cloud, Region string
	Addresses          netplan.Allocation
	// NetworkName and GatewayName are the cloud resource names.
	NetworkName, GatewayName string
	// ASN is the site gateway's BGP autonomous system number.
	ASN int64
	// NeedsGateway is true when the site has a VPN link.
	NeedsGateway bool
}

// Tunnel is one tunnel of a VPN link. A is the link's first site (the
// lower key), which takes the /30's first usable address (AWS requires its
// side to be .1, and "aws" sorts first).
//
// Tunnel i of a link runs on interface Interface(i) of a two-interface
// gateway (GCP HA VPN interface, Azure active-active instance) and, on
// AWS, in VPN connection Interface(i) (whose customer gateway is the
// peer's interface Interface(i)) as that connection's tunnel i/2. Tunnels
// 0 and 1 are thus the two gpufleet built before AWS links had four, so a
// link planned then keeps them as they are when tunnels 2 and 3 are added.
type Tunnel struct {
	InsideCIDR netip.Prefix
	AInside    netip.Addr
	BInside    netip.Addr
	PSK        string
}

// Link connects two sites: A < B by key.
type Link struct {
	A, B string
	Kind string
	// Name is the peering's name; a VPN link's connections are named by
	// ConnectionName on each side.
	Name    string
	Tunnels []Tunnel // VPN only: TunnelsPerLink
}

// Interface is the gateway interface (and AWS VPN connection) tunnel i of
// a link uses: tunnels alternate between a gateway's two interfaces.
func Interface(i int) int { return i % 2 }

// TunnelsPerLink is how many tunnels a VPN link between two clouds has:
// four when one side is AWS, two otherwise (GCP ↔ Azure).
//
// AWS gives every VPN connection two tunnels, each with its own outside
// address, and a connection has one customer gateway (one peer address).
// A peer with two interfaces therefore takes two customer gateways and two
// VPN connections, four tunnels in all, to have every tunnel up: Google's
// "Create HA VPN connections between Google Cloud and AWS"
// (https://cloud.google.com/network-connectivity/docs/vpn/how-to/connect-ha-vpn-aws-peer-gateway:
// an external VPN gateway with FOUR_IPS_REDUNDANCY, four tunnels, four
// Cloud Router BGP sessions) and Microsoft's "How to connect AWS and Azure
// using a BGP-enabled VPN gateway"
// (https://learn.microsoft.com/azure/vpn-gateway/vpn-gateway-howto-aws-bgp:
// an active-active gateway, four local network gateways and four
// connections, APIPA BGP addresses in 169.254.21.0–169.254.22.255). GCP HA
// VPN's two interfaces and Azure's two active-active instances pair up one
// to one: two tunnels
// (https://cloud.google.com/network-connectivity/docs/vpn/how-to/creating-ha-vpn,
// TWO_IPS_REDUNDANCY).
func TunnelsPerLink(cloudA, cloudB string) int {
	if cloudA == "aws" || cloudB == "aws" {
		return 4
	}
	return 2
}

// Key is "A|B".
func (l Link) Key() string { return l.A + "|" + l.B }

// Plan is the mesh of a set of sites.
type Plan struct {
	Name     string
	Supernet netip.Prefix
	Exclude  []netip.Prefix
	Sites    []PlannedSite // sorted by key
	Links    []Link        // sorted by key
}

// Site returns the planned site with that key.
func (p Plan) Site(key string) (PlannedSite, bool) {
	i := slices.IndexFunc(p.Sites, func(s PlannedSite) bool { return s.Key == key })
	if i < 0 {
		return PlannedSite{}, false
	}
	return p.Sites[i], true
}

// Link returns the planned link with that key.
func (p Plan) Link(key string) (Link, bool) {
	i := slices.IndexFunc(p.Links, func(l Link) bool { return l.Key() == key })
	if i < 0 {
		return Link{}, false
	}
	return p.Links[i], true
}

// AllowedCIDRs are the ranges every site's firewall lets in: the blocks of
// all sites.
func (p Plan) AllowedCIDRs() []string {
	var out []string
	for _, s := range p.Sites {
		out = append(out, s.Addresses.Block.String())
	}
	slices.Sort(out)
	return out
}

// Tunnels counts the IPsec tunnels of the plan.
func (p Plan) Tunnels() int {
	n := 0
	for _, l := range p.Links {
		n += len(l.Tunnels)
	}
	return n
}

// Inputs of Build beyond netplan's (errors are *netplan.InputError).
const (
	InputName netplan.Input = "name"
	InputASN  netplan.Input = "asn"
)

// Options tune planning.
type Options struct {
	// Sizes of the address ranges; netplan.DefaultSizes when zero.
	Sizes netplan.Sizes
	// Rand supplies pre-shared keys; crypto/rand when nil.
	Rand io.Reader
	// ASNs is the range site ASNs come from; [64600, 65000] when zero.
	ASNMin, ASNMax int64
	// TunnelsPerLink is how many tunnels a link between two clouds has
	// (the function TunnelsPerLink when nil). Tests set it to plan links
	// as releases before four-tunnel AWS links did (two everywhere), which
	// is what states written then hold.
	TunnelsPerLink func(cloudA, cloudB string) int
}

// namePattern is what every cloud accepts as a resource name prefix (GCP
// is the strictest: lower case, digits and hyphens, starting with a letter).
var namePattern = lazyre.New(`^[a-z]([a-z0-9-]{0,18}[a-z0-9])?$`)

// ValidName reports whether name can prefix every cloud resource name.
func ValidName(name string) error {
	if !namePattern().MatchString(name) {
		return fmt.Errorf("%q must be 1 to 20 lower-case letters, digits or hyphens, starting with a letter and not ending with a hyphen (GCP's naming rule, the strictest of the three clouds)", name)
	}
	return nil
}

// insideRanges are where tunnel /30s come from: Azure accepts custom APIPA
// BGP addresses only in 169.254.21.0–169.254.22.255; AWS and GCP accept
// them too.
var insideRanges = []netip.Prefix{netip.MustParsePrefix("169.254.21.0/24"), netip.MustParsePrefix("169.254.22.0/24")}

// reservedASNs may not be used by a peer: Azure reserves 65515–65520, AWS
// gateways default to 64512.
var reservedASNs = []int64{64512, 65515, 65516, 65517, 65518, 65519, 65520}

// Build plans the mesh for sites. prev is the plan in effect (zero for a
// new mesh): its allocations, ASNs, inside ranges and keys are kept for
// the sites and links that remain.
func Build(name string, supernet netip.Prefix, exclude []netip.Prefix, sites []Site, prev Plan, opt Options) (Plan, error) {
	if err := ValidName(name); err != nil {
		return Plan{}, &netplan.InputError{Input: InputName, Err: fmt.Errorf("name %w", err)}
	}
	if opt.Sizes == (netplan.Sizes{}) {
		opt.Sizes = netplan.DefaultSizes
	}
	if opt.Rand == nil {
		opt.Rand = rand.Reader
	}
	if opt.ASNMin == 0 {
		opt.ASNMin, opt.ASNMax = 64600, 65000
	}
	if opt.TunnelsPerLink == nil {
		opt.TunnelsPerLink = TunnelsPerLink
	}
	npSites := make([]netplan.Site, len(sites))
	for i, s := range sites {
		c, r := splitKey(s.Key)
		if c == "" || r == "" {
			return Plan{}, netplan.InputErrorf(netplan.InputSites, "site %q must be cloud/region", s.Key)
		}
		npSites[i] = netplan.Site{Key: s.Key, Zones: s.Zones}
	}
	var existing []netplan.Allocation
	for _, s := range prev.Sites {
		existing = append(existing, s.Addresses)
	}
	addrs, err := netplan.Allocate(supernet, exclude, npSites, existing, opt.Sizes)
	if err != nil {
		return Plan{}, err
	}
	plan := Plan{Name: name, Supernet: addrs.Supernet, Exclude: slices.Clone(exclude)}

	usedASN := map[int64]bool{}
	for _, a := range reservedASNs {
		usedASN[a] = true
	}
	for _, a := range addrs.Sites {
		if old, ok := prev.Site(a.Site); ok && old.ASN != 0 {
			usedASN[old.ASN] = true
		}
	}
	nextASN := opt.ASNMin
	for _, a := range addrs.Sites {
		c, r := splitKey(a.Site)
		ps := PlannedSite{Key: a.Site, Cloud: c, Region: r, Addresses: a,
			NetworkName: name + "-" + r, GatewayName: name + "-" + r + "-vpn"}
		if old, ok := prev.Site(a.Site); ok && old.ASN != 0 {
			ps.ASN = old.ASN
		} else {
			for ; nextASN <= opt.ASNMax && usedASN[nextASN]; nextASN++ {
			}
			if nextASN > opt.ASNMax {
				return Plan{}, netplan.InputErrorf(InputASN, "no free private ASN left in %d–%d for site %s", opt.ASNMin, opt.ASNMax, a.Site)
			}
			ps.ASN = nextASN
			usedASN[nextASN] = true
		}
		plan.Sites = append(plan.Sites, ps)
	}

	usedInside := map[netip.Prefix]bool{}
	for _, l := range prev.Links {
		if _, ok := plan.Site(l.A); !ok {
			continue
		}
		if _, ok := plan.Site(l.B); !ok {
			continue
		}
		for _, t := range l.Tunnels {
			usedInside[t.InsideCIDR] = true
		}
	}
	free := freeInside(usedInside)
	for i, a := range plan.Sites {
		for _, b := range plan.Sites[i+1:] {
			l := Link{A: a.Key, B: b.Key, Kind: KindVPN}
			if a.Cloud == b.Cloud {
				l.Kind = KindPeering
				l.Name = name + "-" + a.Region + "-" + b.Region
			}
			if old, ok := prev.Link(l.Key()); ok && old.Kind == l.Kind {
				l.Tunnels = slices.Clone(old.Tunnels)
			}
			if l.Kind == KindVPN {
				// A link planned with fewer tunnels (before AWS links had
				// four) keeps its tunnels and gets the missing ones.
				want := opt.TunnelsPerLink(a.Cloud, b.Cloud)
				if len(l.Tunnels) > want {
					l.Tunnels = l.Tunnels[:want]
				}
				for len(l.Tunnels) < want {
					if len(free) == 0 {
						return Plan{}, netplan.InputErrorf(netplan.InputSites, "the tunnel inside ranges %s and %s hold %d tunnels; this mesh needs more: use fewer sites on different clouds", insideRanges[0], insideRanges[1], 2*64)
					}
					cidr := free[0]
					free = free[1:]
					psk, err := newPSK(opt.Rand)
					if err != nil {
						return Plan{}, err
					}
					l.Tunnels = append(l.Tunnels, Tunnel{InsideCIDR: cidr, AInside: cidr.Addr().Next(), BInside: cidr.Addr().Next().Next(), PSK: psk})
				}
			}
			plan.Links = append(plan.Links, l)
		}
	}
	for i, s := range plan.Sites {
		connections := 0
		for _, l := range plan.Links {
			if l.Kind == KindVPN && (l.A == s.Key || l.B == s.Key) {
				plan.Sites[i].NeedsGateway = true
				connections += len(l.Tunnels)
			}
		}
		if s.Cloud == "azure" && connections > AzureMaxConnections {
			return Plan{}, netplan.InputErrorf(netplan.InputSites,
				"site %s needs %d site-to-site connections (four per AWS peer, two per GCP peer) and its VpnGw2AZ gateway takes at most %d: link it to fewer sites on other clouds",
				s.Key, connections, AzureMaxConnections)
		}
	}
	slices.SortFunc(plan.Links, func(x, y Link) int { return cmp.Compare(x.Key(), y.Key()) })
	return plan, nil
}

// ConnectionName is the name of a VPN link's connection on one side: each
// side names it after the other.
func (l Link) ConnectionName(mesh, side string) string {
	peer := l.B
	if side == l.B {
		peer = l.A
	}
	c, r := splitKey(peer)
	return mesh + "-" + c + "-" + r
}

func freeInside(used map[netip.Prefix]bool) []netip.Prefix {
	var out []netip.Prefix
	for _, r := range insideRanges {
		for p := r.Addr(); r.Contains(p); {
			cidr := netip.PrefixFrom(p, 30)
			if !used[cidr] {
				out = append(out, cidr)
			}
			for range 4 {
				p = p.Next()
			}
		}
	}
	return out
}

// pskAlphabet is what AWS, GCP and Azure all accept in a pre-shared key.
const pskAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._"

// newPSK returns a 32-character key (about 190 bits) that does not start
// with "0" (an AWS rule).
func newPSK(r io.Reader) (string, error) {
	buf := make([]byte, 32)
	if _, err := io.ReadFull(r, buf); err != nil {
		return "", fmt.Errorf("generating a pre-shared key: %w", err)
	}
	out := make([]byte, len(buf))
	for i, b := range buf {
		alphabet := pskAlphabet
		if i == 0 {
			alphabet = pskAlphabet[:52] // a letter first
		}
		out[i] = alphabet[int(b)%len(alphabet)]
	}
	return string(out), nil
}
