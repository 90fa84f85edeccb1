package planner

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Placement is the planner's decision.
type Placement struct {
	// CatalogVersion is the version of the catalog the placement was made from.
	CatalogVersion string `json:"catalog_version"`
	// Request is the request in normalized form (see Request.Normalize).
	Request Request `json:"request"`
	// Allocations are the offers used, sorted by cloud, region, zone,
	// instance type and capacity type.
	Allocations []Allocation `json:"allocations"`
	TotalGPUs   int          `json:"total_gpus"`
	TotalNodes  int          `json:"total_nodes"`
	// TotalHourlyUSD is the sum of the allocations' hourly prices.
	TotalHourlyUSD float64 `json:"total_hourly_usd"`
	// ReservedGPUs are the GPUs on reserved capacity (already paid for);
	// the other TotalGPUs - ReservedGPUs are bought.
	ReservedGPUs int `json:"reserved_gpus,omitempty"`
	// TotalBlockUSD is the upfront price of the capacity blocks used.
	TotalBlockUSD float64 `json:"total_block_usd,omitempty"`
	// StartTime is when every allocation's capacity can be used: the
	// latest start of the capacity blocks and calendar reservations used;
	// empty when all of it is usable now.
	StartTime string `json:"start_time,omitempty"`
	// Rejected explains every catalog offer not used, in catalog order.
	Rejected []Rejection `json:"rejected"`
	// AbsentGPUModels are the GPU models the request allows that the
	// catalog has no offer of (known models it does not sell): they were
	// not offered, so the placement could not use them.
	AbsentGPUModels []string `json:"absent_gpu_models,omitempty"`
}

// Allocation is a number of nodes of one offer.
type Allocation struct {
	Offer     Offer   `json:"offer"`
	Nodes     int     `json:"nodes"`
	GPUs      int     `json:"gpus"`
	HourlyUSD float64 `json:"hourly_usd"`
	// BlockUSD is the upfront price of a capacity block allocation (the
	// whole block: every node for its whole duration); 0 for other kinds.
	BlockUSD float64 `json:"block_usd,omitempty"`
	// StartTime is when a capacity block or calendar allocation starts;
	// empty for capacity usable now (flex_start: when the queue grants it).
	StartTime string `json:"start_time,omitempty"`
	// Fallbacks are the best replacements for the whole allocation, cheapest
	// first, each keeping every constraint of the request when it replaces
	// this allocation alone (see MaxFallbacks).
	Fallbacks []Fallback `json:"fallbacks"`
	// DroppedFallbacks are the fallbacks the allocation would have without
	// Request.FallbacksInSites that the placement's sites cannot host,
	// cheapest first, each with the reason.
	DroppedFallbacks []DroppedFallback `json:"dropped_fallbacks,omitempty"`
}

// Fallback is an offer that can take over an allocation.
type Fallback struct {
	Offer     Offer   `json:"offer"`
	Nodes     int     `json:"nodes"`
	HourlyUSD float64 `json:"hourly_usd"`
}

// DroppedFallback is a fallback left out because the placement's sites
// cannot host it.
type DroppedFallback struct {
	Fallback
	Reason string `json:"reason"`
}

// MaxFallbacks is how many fallbacks each allocation lists.
const MaxFallbacks = 3

// RejectedCounts counts the rejections per reason.
func (p *Placement) RejectedCounts() map[Reason]int {
	out := map[Reason]int{}
	for _, r := range p.Rejected {
		out[r.Reason]++
	}
	return out
}

// Clouds returns the distinct clouds of the allocations, sorted.
func (p *Placement) Clouds() []string {
	var out []string
	for _, a := range p.Allocations {
		out = append(out, a.Offer.Cloud)
	}
	return sortedUnique(out)
}

// GPUsByCloud sums the allocated GPUs per cloud.
func (p *Placement) GPUsByCloud() map[string]int {
	out := map[string]int{}
	for _, a := range p.Allocations {
		out[a.Offer.Cloud] += a.GPUs
	}
	return out
}

// Plan places the request on the catalog.
//
// The placement has the minimum total hourly price over all sets of nodes
// that satisfy every constraint: at least req.GPUs GPUs, the offer filters
// (clouds, capacity types, models, memory, GPUs per node, interconnect,
// residency, price cap, spot score), availability (max_nodes per offer), the
// catalog's limits (quotas), spread and gang.
// Ties in price are broken by fewer GPUs, then fewer allocations, then by the
// solver's deterministic order over the canonical offer order (price per
// GPU-hour, price per node, higher spot placement score, cloud, region,
// zone, instance type, capacity type); the result depends only on the catalog's content and the request,
// never on the order of the catalog's rows.
//
// Limits (Catalog.Limits) are kept exactly: limits that bind on the eligible
// offers (their scope holds more GPUs than MaxGPUs) and are nested or
// disjoint become a tree of scopes whose exact-count tables are combined by
// min-plus convolution, each capped at its MaxGPUs; offers under no binding
// limit are solved as without limits, and without binding limits the solver
// is exactly the one without limits. Binding limits that overlap without one
// containing the other are refused with a *LimitsCrossError.
//
// Errors: *RequestError for a malformed request, *InfeasibleError when no
// placement satisfies it, *LimitsCrossError for crossing limits.
func Plan(c *Catalog, req Request) (*Placement, error) {
	n, err := req.Normalize(c)
	if err != nil {
		return nil, err
	}
	return planNormalized(c, &n, true)
}

// planNormalized plans a normalized request; without explain an infeasible
// request returns a bare *InfeasibleError (no diagnosis, no relaxations).
func planNormalized(c *Catalog, req *Request, explain bool) (*Placement, error) {
	n := *req
	reasons := make([]Rejection, len(c.Offers))
	var eligible []int
	f := newOfferFilter(c, &n)
	for i := range c.Offers {
		if r, d := f.check(&c.Offers[i]); r != "" {
			reasons[i] = Rejection{OfferID: c.ids[i], Reason: r, Detail: d}
		} else {
			eligible = append(eligible, i)
		}
	}
	sol, ok := solve(c, f.q, &n, eligible)
	if f.q != nil && f.q.crossed != "" {
		return nil, &LimitsCrossError{Limits: f.q.crossed}
	}
	if !ok {
		if !explain {
			return nil, &InfeasibleError{GPUs: n.GPUs, Constraint: "unknown", Message: "no placement"}
		}
		return nil, explainInfeasible(c, &n, eligible, reasons)
	}
	p := &Placement{CatalogVersion: c.Version, Request: n, AbsentGPUModels: c.AbsentGPUModels(n)}
	var allocIdx []int
	for idx := range sol.nodes {
		allocIdx = append(allocIdx, idx)
	}
	// Offer indices follow the canonical order, which is not the order
	// allocations are listed in: sort indices by site.
	slices.SortFunc(allocIdx, func(a, b int) int { return compareSites(&c.Offers[a], &c.Offers[b]) })
	for _, idx := range allocIdx {
		o, nodes := c.Offers[idx], sol.nodes[idx]
		a := Allocation{Offer: o, Nodes: nodes, GPUs: nodes * o.GPUCount, HourlyUSD: microsToUSD(o.priceMicros() * int64(nodes)),
			StartTime: o.StartTime}
		if o.wholeBlock() {
			a.BlockUSD = o.UpfrontUSD
			p.TotalBlockUSD = microsToUSD(usdToMicros(p.TotalBlockUSD) + usdToMicros(o.UpfrontUSD))
		}
		if o.CapacityType == Reserved {
			p.ReservedGPUs += a.GPUs
		}
		p.StartTime = max(p.StartTime, o.StartTime)
		p.Allocations = append(p.Allocations, a)
		p.TotalGPUs += nodes * o.GPUCount
		p.TotalNodes += nodes
	}
	p.TotalHourlyUSD = microsToUSD(sol.value.cost)
	addFallbacks(c, f.q, &n, p, allocIdx, eligible, sol)
	p.Rejected = explainUnused(c, f.q, &n, p, eligible, sol, reasons)
	return p, nil
}

// compareSites orders offers by cloud, region, zone, instance type and
// capacity type: the order placements list their allocations in.
func compareSites(a, b *Offer) int {
	return cmp.Or(strings.Compare(a.Cloud, b.Cloud), strings.Compare(a.Region, b.Region),
		strings.Compare(a.Zone, b.Zone), strings.Compare(a.InstanceType, b.InstanceType),
		strings.Compare(string(a.CapacityType), string(b.CapacityType)), strings.Compare(a.ReservationID, b.ReservationID))
}

// spreadOK reports whether GPUs per cloud satisfy the request's spread.
func spreadOK(req *Request, byCloud map[string]int, total int) bool {
	return SpreadSatisfied(req.Spread, byCloud, total)
}

// SpreadSatisfied reports whether GPUs per cloud meet a spread: no cloud
// above MaxShare of total, and at least MinClouds clouds with GPUs. Apply
// uses it to keep failovers within the placement's rules.
func SpreadSatisfied(s Spread, byCloud map[string]int, total int) bool {
	nonEmpty := 0
	limit := shareCap(total, s.sharePPM())
	for _, g := range byCloud {
		if g > 0 {
			nonEmpty++
		}
		if g > limit {
			return false
		}
	}
	return nonEmpty >= s.minClouds()
}

// addFallbacks ranks, for each allocation, the eligible offers that could
// replace it whole: enough spare nodes, the same zone for a gang, and the
// spread, the GPU total and every limit still met after the swap. Only the
// best MaxFallbacks are kept, by hourly price, then the canonical offer
// order. With req.FallbacksInSites they are the best the placement's sites
// can host (siteHosts), and the best without that rule that it drops are
// recorded with why.
//
// Offers with spare nodes (in the placement's zone for a gang) are grouped
// by cloud and node size in canonical order, which within a group is the order of hourly
// price for any allocation: the GPU total and the spread are checked once
// per group, and a group's walk ends at the first offer that cannot enter
// the best so far. The work per allocation does not grow with the offers
// that cannot be fallbacks.
func addFallbacks(c *Catalog, q *quotas, req *Request, p *Placement, allocIdx []int, eligible []int, sol solution) {
	byCloud := p.GPUsByCloud()
	usage := q.usage(sol.nodes)
	type candidate struct {
		idx, nodes int
		cost       int64
	}
	better := func(x, y candidate) bool {
		if x.cost != y.cost {
			return x.cost < y.cost
		}
		return compareOffers(&c.Offers[x.idx], &c.Offers[y.idx]) < 0
	}
	// used[idx]: nodes of the solution on eligible offer idx.
	used := make([]int32, len(c.Offers))
	for idx, n := range sol.nodes {
		used[idx] = int32(n)
	}
	type group struct {
		cloud    string
		size     int
		unl      []int // eligible offers without a node limit, canonical order
		lim      []int // eligible offers with spare nodes, canonical order
		minSpare int   // the fewest spare nodes among lim
	}
	spare := func(idx int) int {
		if o := &c.Offers[idx]; o.MaxNodes != Unlimited {
			return o.MaxNodes - int(used[idx])
		}
		return Unlimited
	}
	unhostable := siteHosts(p, req)
	var groups []*group
	var last *group
	site := &p.Allocations[0].Offer // a gang's allocations share one zone
	for _, idx := range eligible {
		o := &c.Offers[idx]
		if req.Gang && (o.Cloud != site.Cloud || o.Region != site.Region || o.Zone != site.Zone) {
			continue
		}
		sp := spare(idx)
		if sp == 0 || o.wholeBlock() {
			continue // a capacity block is bought whole, ahead: no failover
		}
		g := last
		if g == nil || g.cloud != o.Cloud || g.size != o.GPUCount {
			g = nil
			for _, h := range groups {
				if h.cloud == o.Cloud && h.size == o.GPUCount {
					g = h
					break
				}
			}
			if g == nil {
				g = &group{cloud: o.Cloud, size: o.GPUCount, minSpare: math.MaxInt}
				groups = append(groups, g)
			}
			last = g
		}
		if sp == Unlimited {
			g.unl = append(g.unl, idx)
		} else {
			g.lim = append(g.lim, idx)
			g.minSpare = min(g.minSpare, sp)
		}
	}
	// insert puts cand into a best-first list of at most MaxFallbacks.
	insert := func(top []candidate, cand candidate) []candidate {
		pos := len(top)
		for pos > 0 && better(cand, top[pos-1]) {
			pos--
		}
		if pos == MaxFallbacks {
			return top
		}
		top = append(top[:pos], append([]candidate{cand}, top[pos:]...)...)
		if len(top) > MaxFallbacks {
			top = top[:MaxFallbacks]
		}
		return top
	}
	for ai := range p.Allocations {
		a := &p.Allocations[ai]
		top := make([]candidate, 0, MaxFallbacks+1)
		// all are the best without the sites rule (unhostable != nil); as
		// good as top or better, so top's end ends its walk too.
		var all []candidate
		for _, g := range groups {
			nodes := (a.GPUs + g.size - 1) / g.size
			total := p.TotalGPUs - a.GPUs + nodes*g.size
			if total < req.GPUs || !spreadOKAfterSwap(req, byCloud, total, a.Offer.Cloud, a.GPUs, g.cloud, nodes*g.size) {
				continue
			}
			// The offers without a limit and those with room for nodes,
			// merged in canonical order. Offers of lim without that room
			// are skipped where they stand rather than filtered into a
			// list per node count: the walk stops after MaxFallbacks
			// candidates, long before the end of a large group.
			unl, lim := g.unl, g.lim
			checkRoom := nodes > g.minSpare
			for len(unl) > 0 || len(lim) > 0 {
				var idx int
				if len(lim) == 0 || len(unl) > 0 && unl[0] < lim[0] {
					idx, unl = unl[0], unl[1:]
				} else {
					idx, lim = lim[0], lim[1:]
					if checkRoom && spare(idx) < nodes {
						continue
					}
				}
				if idx == allocIdx[ai] {
					continue
				}
				o := &c.Offers[idx]
				cand := candidate{idx: idx, nodes: nodes, cost: o.priceMicros() * int64(nodes)}
				if len(top) == MaxFallbacks && !better(cand, top[len(top)-1]) {
					break // nor any later offer of the group
				}
				if !q.swapOK(usage, allocIdx[ai], a.GPUs, idx, nodes*o.GPUCount) {
					continue
				}
				if unhostable != nil {
					all = insert(all, cand)
					if unhostable(o) != "" {
						continue
					}
				}
				top = insert(top, cand)
			}
		}
		a.Fallbacks = make([]Fallback, len(top))
		for i, f := range top {
			a.Fallbacks[i] = Fallback{Offer: c.Offers[f.idx], Nodes: f.nodes, HourlyUSD: microsToUSD(f.cost)}
		}
		for _, f := range all {
			if why := unhostable(&c.Offers[f.idx]); why != "" {
				a.DroppedFallbacks = append(a.DroppedFallbacks, DroppedFallback{Reason: why,
					Fallback: Fallback{Offer: c.Offers[f.idx], Nodes: f.nodes, HourlyUSD: microsToUSD(f.cost)}})
			}
		}
	}
}

// siteHosts returns, with req.FallbacksInSites, why the placement's own
// sites cannot host an offer ("" when they can): a network built from the
// sites has subnets in the allocations' zones only, and a cluster per site
// exists in the allocations' regions only. Nil without the rule.
func siteHosts(p *Placement, req *Request) func(*Offer) string {
	if !req.FallbacksInSites {
		return nil
	}
	zones := map[string][]string{} // site -> the allocations' zones, sorted
	for _, a := range p.Allocations {
		s := a.Offer.Site()
		if _, ok := zones[s]; !ok {
			zones[s] = nil
		}
		if a.Offer.Zone != "" && !slices.Contains(zones[s], a.Offer.Zone) {
			zones[s] = append(zones[s], a.Offer.Zone)
			slices.Sort(zones[s])
		}
	}
	return func(o *Offer) string {
		z, ok := zones[o.Site()]
		switch {
		case !ok:
			return fmt.Sprintf("site %s has no allocation, so no cluster", o.Site())
		case o.Zone != "" && !slices.Contains(z, o.Zone):
			if len(z) == 0 {
				return fmt.Sprintf("zone %s: site %s has no zone", o.Zone, o.Site())
			}
			return fmt.Sprintf("zone %s is not a zone of site %s (%s), so its network has no subnet there", o.Zone, o.Site(), strings.Join(z, ", "))
		}
		return ""
	}
}

// spreadOKAfterSwap is spreadOK for byCloud with removed GPUs taken from
// cloud from and added GPUs put on cloud to.
func spreadOKAfterSwap(req *Request, byCloud map[string]int, total int, from string, removed int, to string, added int) bool {
	limit := shareCap(total, req.Spread.sharePPM())
	nonEmpty := 0
	check := func(cloud string, g int) bool {
		if cloud == from {
			g -= removed
		}
		if cloud == to {
			g += added
		}
		if g > 0 {
			nonEmpty++
		}
		return g <= limit
	}
	for cloud, g := range byCloud {
		if !check(cloud, g) {
			return false
		}
	}
	if _, ok := byCloud[to]; !ok && !check(to, 0) {
		return false
	}
	return nonEmpty >= req.Spread.minClouds()
}

// explainUnused gives every eligible offer that the placement does not use
// its reason (gang, quota, spread or more_expensive) and returns all
// rejections in catalog order. Quota and spread apply only to an offer
// cheaper per GPU than the dearest one used: a dearer offer is unused
// because it is dearer, whatever its quota.
func explainUnused(c *Catalog, q *quotas, req *Request, p *Placement, eligible []int, sol solution, reasons []Rejection) []Rejection {
	byCloud := p.GPUsByCloud()
	usage := q.usage(sol.nodes)
	limit := shareCap(p.TotalGPUs, req.Spread.sharePPM())
	// The dearest price per GPU among the allocations, compared exactly as
	// micro-USD per node over GPUs per node.
	var dearest *Offer
	for i := range p.Allocations {
		if o := &p.Allocations[i].Offer; dearest == nil || o.priceMicros()*int64(dearest.GPUCount) > dearest.priceMicros()*int64(o.GPUCount) {
			dearest = o
		}
	}
	site := p.Allocations[0].Offer
	// Most unused offers are dearer than every GPU used; their details
	// differ only in the price, and are made without fmt in shared blocks.
	var details stringTable
	dearer := fmt.Sprintf(" USD per GPU-hour; the dearest GPU used costs %.4f", dearest.PricePerGPUHour())
	var buf []byte
	for _, idx := range eligible {
		if sol.nodes[idx] > 0 {
			continue
		}
		o := &c.Offers[idx]
		cheaper := o.priceMicros()*int64(dearest.GPUCount) < dearest.priceMicros()*int64(o.GPUCount)
		var r Rejection
		switch {
		case req.Gang && (o.Cloud != site.Cloud || o.Region != site.Region || o.Zone != site.Zone):
			r = Rejection{Reason: ReasonGang, Detail: fmt.Sprintf("the gang is placed in %s", zoneName(&site))}
		case cheaper && q.exhausted(usage, idx) >= 0:
			li := q.exhausted(usage, idx)
			r = Rejection{Reason: ReasonQuota, Detail: fmt.Sprintf("%.4f USD per GPU-hour is cheaper than %s, but %s is exhausted: the placement takes %d of its GPUs, no room for a %d-GPU node",
				o.PricePerGPUHour(), dearest.InstanceType, q.limits[li], usage[li], o.GPUCount)}
		case req.Spread.active() && cheaper && byCloud[o.Cloud]+o.GPUCount > limit:
			r = Rejection{Reason: ReasonSpread, Detail: fmt.Sprintf("%.4f USD per GPU-hour is cheaper than %s, but %s already holds %d of %d GPUs and max_share allows %d",
				o.PricePerGPUHour(), dearest.InstanceType, o.Cloud, byCloud[o.Cloud], p.TotalGPUs, limit)}
		case cheaper:
			r = Rejection{Reason: ReasonMoreExpensive, Detail: fmt.Sprintf("%.4f USD per GPU-hour, but whole %d-GPU nodes of it do not lower the total of %.2f USD per hour",
				o.PricePerGPUHour(), o.GPUCount, p.TotalHourlyUSD)}
		default: // fmt's "%.4f USD per GPU-hour; the dearest GPU used costs %.4f"
			buf = append(strconv.AppendFloat(buf[:0], o.PricePerGPUHour(), 'f', 4, 64), dearer...)
			r = Rejection{Reason: ReasonMoreExpensive, Detail: details.copy(buf)}
		}
		r.OfferID = c.ids[idx]
		reasons[idx] = r
	}
	out := make([]Rejection, 0, len(c.Offers)-len(sol.nodes))
	for idx, r := range reasons {
		if sol.nodes[idx] == 0 {
			out = append(out, r)
		}
	}
	return out
}

func zoneName(o *Offer) string {
	if o.Zone == "" {
		return o.Site()
	}
	return o.Site() + " zone " + o.Zone
}

// KindNote describes, for people, what an allocation of capacity beyond
// on-demand and spot is: " (reservation cr-1, already paid for)", " (capacity
// block cb-1 from 2026-12-08T09:00:00Z for 48 h, 5376.00 USD upfront)",
// " (calendar cal-1 from ... for 72 h)", " (flex-start, at most 168 h)".
// Empty for on-demand and spot, so that their descriptions read as before.
func KindNote(a *Allocation) string {
	o := &a.Offer
	switch o.CapacityType {
	case Reserved:
		if o.PriceUSDHour == 0 {
			return fmt.Sprintf(" (reservation %s, already paid for)", o.ReservationID)
		}
		return fmt.Sprintf(" (reservation %s at an effective %.4f USD per node-hour)", o.ReservationID, o.PriceUSDHour)
	case CapacityBlock:
		return fmt.Sprintf(" (capacity block %s from %s for %d h, %.2f USD upfront)", o.ReservationID, o.StartTime, o.DurationHours, a.BlockUSD)
	case Calendar:
		return fmt.Sprintf(" (calendar %s from %s for %d h)", o.ReservationID, o.StartTime, o.DurationHours)
	case FlexStart:
		return fmt.Sprintf(" (flex-start, queued, at most %d h)", o.MaxRunHours)
	}
	return ""
}

// CapacityNote sums up, for people, the reserved and scheduled capacity of
// a placement: "16 of 48 GPUs on reserved capacity; capacity blocks cost
// 5376.00 USD upfront; all capacity is usable from 2026-12-08T08:00:00Z".
// Empty when the placement uses neither.
func CapacityNote(p *Placement) string {
	var parts []string
	if p.ReservedGPUs > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d GPUs on reserved capacity", p.ReservedGPUs, p.TotalGPUs))
	}
	if p.TotalBlockUSD > 0 {
		parts = append(parts, fmt.Sprintf("capacity blocks cost %.2f USD upfront", p.TotalBlockUSD))
	}
	if p.StartTime != "" {
		parts = append(parts, "all capacity is usable from "+p.StartTime)
	}
	return strings.Join(parts, "; ")
}
