// Package netplan allocates non-overlapping address ranges for the sites of
// a GPU fleet from one supernet: per site a VPC/VNet block holding node
// subnets per zone, a pod range and a service range. It is pure and
// deterministic, and stable: allocations that exist are fed back in and
// never move, so adding or removing a site never renumbers the others.
package netplan

import (
	"cmp"
	"fmt"
	"maps"
	"math/big"
	"net/netip"
	"slices"
	"strings"
)

// Input names what a planning error is about, so that callers can point
// at the setting to change.
type Input string

// Inputs of Allocate.
const (
	InputSupernet Input = "supernet"
	InputExclude  Input = "exclude"
	InputSites    Input = "sites"
)

// InputError is an error caused by one input.
type InputError struct {
	Input Input
	Err   error
}

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// InputErrorf formats an error about input.
func InputErrorf(input Input, format string, args ...any) error {
	return &InputError{Input: input, Err: fmt.Errorf(format, args...)}
}

// Sizes are the prefix lengths of each range. Within a site block, node
// subnets take the first quarter (MaxZones subnets), services the next
// range, pods the second half.
type Sizes struct {
	Site     int // e.g. 16: one /16 per site
	Subnet   int // e.g. 20: one /20 of nodes per zone
	Services int // e.g. 20
	Pods     int // e.g. 17: the second half of a /16
}

// DefaultSizes suit GPU fleets: 4,096 node addresses per zone, 32,768 pod
// addresses (EKS VPC CNI and AKS routable pods take pod IPs from the VPC),
// 4,096 services per cluster.
var DefaultSizes = Sizes{Site: 16, Subnet: 20, Services: 20, Pods: 17}

// maxZones is how many zone subnets fit in the first quarter of a site.
func (s Sizes) maxZones() int { return 1 << (s.Subnet - s.Site - 2) }

func (s Sizes) validate() error {
	switch {
	case s.Site <= 0 || s.Subnet <= s.Site+2 || s.Services <= s.Site+2 || s.Pods != s.Site+1 || s.Subnet > GatewayBits:
		return fmt.Errorf("netplan: sizes %+v: need site < subnet-2 <= %d, site < services-2 and pods = site+1", s, GatewayBits-2)
	}
	return nil
}

// Site is a site to place: its key (cloud/region) and its zones.
type Site struct {
	Key   string
	Zones []string
}

// Allocation is one site's ranges.
type Allocation struct {
	Site     string            `json:"site"`
	Block    netip.Prefix      `json:"block"`
	Subnets  map[string]string `json:"subnets"` // zone → prefix
	Pods     netip.Prefix      `json:"pods"`
	Services netip.Prefix      `json:"services"`
	// Gateway is reserved for a VPN gateway (Azure's GatewaySubnet): the
	// /27 just below the pods, free in every site block.
	Gateway netip.Prefix `json:"gateway"`
}

// Plan is the allocation of every site, sorted by site key.
type Plan struct {
	Supernet netip.Prefix `json:"supernet"`
	Sites    []Allocation `json:"sites"`
}

// Allocate places sites in supernet, avoiding exclude. Allocations in
// existing are kept unchanged for the sites still present (their new zones
// get new subnets inside their block); new sites take the lowest free
// blocks, in site key order. Errors say how much space was needed.
func Allocate(supernet netip.Prefix, exclude []netip.Prefix, sites []Site, existing []Allocation, sizes Sizes) (Plan, error) {
	if err := sizes.validate(); err != nil {
		return Plan{}, err
	}
	supernet = supernet.Masked()
	if !supernet.Addr().Is4() || supernet.Bits() > sizes.Site {
		return Plan{}, InputErrorf(InputSupernet, "supernet %s must be an IPv4 prefix of /%d or larger to hold one /%d per site", supernet, sizes.Site, sizes.Site)
	}
	for i, e := range exclude {
		for _, f := range exclude[:i] {
			if e.Overlaps(f) {
				return Plan{}, InputErrorf(InputExclude, "exclude ranges %s and %s overlap; list each range once", f, e)
			}
		}
	}
	sorted := slices.Clone(sites)
	slices.SortFunc(sorted, func(a, b Site) int { return cmp.Compare(a.Key, b.Key) })
	for i := 1; i < len(sorted); i++ {
		if sorted[i].Key == sorted[i-1].Key {
			return Plan{}, InputErrorf(InputSites, "site %s is listed twice", sorted[i].Key)
		}
	}
	kept := map[string]Allocation{}
	var used []netip.Prefix
	for _, a := range existing {
		if !slices.ContainsFunc(sorted, func(s Site) bool { return s.Key == a.Site }) {
			continue // removed: its block is free again
		}
		if !supernet.Contains(a.Block.Addr()) || a.Block.Bits() < supernet.Bits() {
			return Plan{}, InputErrorf(InputSupernet, "site %s keeps %s, which is outside the supernet %s; changing the supernet renumbers sites, so replace the network instead", a.Site, a.Block, supernet)
		}
		for _, e := range exclude {
			if a.Block.Overlaps(e) {
				return Plan{}, InputErrorf(InputExclude, "site %s already uses %s, which overlaps the excluded %s", a.Site, a.Block, e)
			}
		}
		kept[a.Site] = a
		used = append(used, a.Block)
	}
	blocks := freeBlocks(supernet, sizes.Site, append(slices.Clone(used), exclude...))
	plan := Plan{Supernet: supernet}
	needed := 0
	for _, s := range sorted {
		if _, ok := kept[s.Key]; !ok {
			needed++
		}
	}
	if needed > len(blocks) {
		total := len(sorted)
		bits := sizes.Site - ceilLog2(total+countOverlapping(supernet, sizes.Site, exclude))
		return Plan{}, InputErrorf(InputSupernet, "%d sites need %d more /%d blocks (%s addresses each) but the supernet %s has %d free after existing sites and exclusions; a /%d would fit them all",
			total, needed, sizes.Site, blockAddresses(sizes.Site), supernet, len(blocks), max(bits, 1))
	}
	for _, s := range sorted {
		a, ok := kept[s.Key]
		if !ok {
			a = newAllocation(s.Key, blocks[0], sizes)
			blocks = blocks[1:]
		}
		var err error
		if a, err = withZones(a, s.Zones, sizes); err != nil {
			return Plan{}, err
		}
		plan.Sites = append(plan.Sites, a)
	}
	return plan, nil
}

func newAllocation(site string, block netip.Prefix, sizes Sizes) Allocation {
	pods := nth(block, sizes.Pods, 1)
	services := nth(block, sizes.Services, 1<<(sizes.Services-sizes.Site-2))
	return Allocation{Site: site, Block: block, Subnets: map[string]string{}, Pods: pods, Services: services,
		Gateway: gatewayRange(block, sizes)}
}

// GatewayBits is the size of the range reserved for a VPN gateway.
const GatewayBits = 27

// gatewayRange is the last /27 before the pods (the second half of the
// block): the service range, at most a /(site+3) starting at the second
// quarter, never reaches it.
func gatewayRange(block netip.Prefix, sizes Sizes) netip.Prefix {
	return nth(block, GatewayBits, 1<<(GatewayBits-sizes.Site-1)-1)
}

// withZones gives every zone a subnet, keeping existing ones, new zones
// taking the lowest free slots of the node quarter in zone order.
func withZones(a Allocation, zones []string, sizes Sizes) (Allocation, error) {
	out := a
	if !out.Gateway.IsValid() {
		out.Gateway = gatewayRange(a.Block, sizes)
	}
	out.Subnets = map[string]string{}
	taken := map[string]bool{}
	sortedZones := slices.Clone(zones)
	slices.Sort(sortedZones)
	sortedZones = slices.Compact(sortedZones)
	for _, z := range sortedZones {
		if p, ok := a.Subnets[z]; ok {
			out.Subnets[z] = p
			taken[p] = true
		}
	}
	slot := 0
	for _, z := range sortedZones {
		if _, ok := out.Subnets[z]; ok {
			continue
		}
		for ; slot < sizes.maxZones() && taken[nth(a.Block, sizes.Subnet, slot).String()]; slot++ {
		}
		if slot >= sizes.maxZones() {
			return a, InputErrorf(InputSites, "site %s needs %d zone subnets; a /%d block holds %d /%d subnets", a.Site, len(sortedZones), sizes.Site, sizes.maxZones(), sizes.Subnet)
		}
		p := nth(a.Block, sizes.Subnet, slot).String()
		out.Subnets[z] = p
		taken[p] = true
	}
	return out, nil
}

// nth is the i-th prefix of length bits inside block.
func nth(block netip.Prefix, bits, i int) netip.Prefix {
	base := new(big.Int).SetBytes(block.Addr().AsSlice())
	step := new(big.Int).Lsh(big.NewInt(int64(i)), uint(32-bits))
	base.Add(base, step)
	b := base.FillBytes(make([]byte, 4))
	return netip.PrefixFrom(netip.AddrFrom4([4]byte(b)), bits)
}

// freeBlocks lists the blocks of length bits in supernet that overlap none
// of used, lowest first.
func freeBlocks(supernet netip.Prefix, bits int, used []netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for i := range 1 << (bits - supernet.Bits()) {
		b := nth(supernet, bits, i)
		if !slices.ContainsFunc(used, b.Overlaps) {
			out = append(out, b)
		}
	}
	return out
}

func countOverlapping(supernet netip.Prefix, bits int, exclude []netip.Prefix) int {
	return (1 << (bits - supernet.Bits())) - len(freeBlocks(supernet, bits, exclude))
}

func ceilLog2(n int) int {
	b := 0
	for 1<<b < n {
		b++
	}
	return b
}

func blockAddresses(bits int) string {
	n := 1 << (32 - bits)
	s := fmt.Sprint(n)
	var parts []string
	for len(s) > 3 {
		parts = append([]string{s[len(s)-3:]}, parts...)
		s = s[:len(s)-3]
	}
	return strings.Join(append([]string{s}, parts...), ",")
}

// Prefixes lists every range of the plan (blocks excluded, as the others
// lie inside them), for overlap checks.
func (p Plan) Prefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, a := range p.Sites {
		out = append(out, a.Pods, a.Services, a.Gateway)
		for _, z := range slices.Sorted(maps.Keys(a.Subnets)) {
			out = append(out, netip.MustParsePrefix(a.Subnets[z]))
		}
	}
	return out
}

// Restore rebuilds the allocation of a site from what exists in its cloud:
// its block and its node subnets (zone → prefix). The pod, service and
// gateway ranges are where Allocate puts them in a block of that size, so
// a network read back (terraform import) is planned exactly as the one
// that was created. A block of another size, or a subnet outside the
// block's node quarter, is an error: Allocate did not make it.
func Restore(site string, block netip.Prefix, subnets map[string]string, sizes Sizes) (Allocation, error) {
	if err := sizes.validate(); err != nil {
		return Allocation{}, err
	}
	if !block.IsValid() || !block.Addr().Is4() || block.Bits() != sizes.Site || block.Masked() != block {
		return Allocation{}, InputErrorf(InputSites, "site %s: its network's range %s is not a /%d block as gpufleet allocates", site, block, sizes.Site)
	}
	a := newAllocation(site, block, sizes)
	nodes := nth(block, sizes.Site+2, 0)
	for _, z := range slices.Sorted(maps.Keys(subnets)) {
		p, err := netip.ParsePrefix(subnets[z])
		if err != nil || p.Bits() != sizes.Subnet || p.Masked() != p || !nodes.Contains(p.Addr()) {
			return Allocation{}, InputErrorf(InputSites, "site %s: the subnet %s of zone %s is not a /%d in the node range %s of %s", site, subnets[z], z, sizes.Subnet, nodes, block)
		}
		a.Subnets[z] = p.String()
	}
	return a, nil
}
