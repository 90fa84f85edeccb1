package planner

import (
	"math"
	"sort"
)

// solution is the solver's answer: nodes per offer index.
type solution struct {
	gpus  int
	value value
	nodes map[int]int
}

// solve finds the best solution over the eligible offers (indices into
// c.Offers) under the catalog's limits as q (newQuotas(c)) sees them; ok is
// false when none satisfies the request.
//
// Limits of the catalog that bind on the eligible offers are kept exactly
// (see quotas.tableFor); when two of them cross, ok is false (Plan checks
// for that first and says so).
func solve(c *Catalog, q *quotas, req *Request, eligible []int) (solution, bool) {
	items := make([]item, len(eligible))
	for i, idx := range eligible {
		items[i] = itemOf(c, idx)
	}
	switch {
	case req.Gang:
		return solveGang(c, q, req.GPUs, items)
	case !req.Spread.active():
		return solveSingle(q, req.GPUs, items)
	default:
		return solveSpread(c, q, req, items)
	}
}

// itemOf is offer idx as the solver sees it: a node at its price, up to
// max_nodes of them, or for a capacity block (sold whole) one unit of all
// its nodes at their combined price.
func itemOf(c *Catalog, idx int) item {
	o := &c.Offers[idx]
	it := item{offer: idx, size: o.GPUCount, price: o.priceMicros(), cap: o.MaxNodes}
	if o.wholeBlock() && o.MaxNodes > 0 {
		it.size *= o.MaxNodes
		it.price *= int64(o.MaxNodes)
		it.cap, it.unit = 1, o.MaxNodes
	}
	return it
}

// singleLimit is the largest total worth considering when nothing but the
// GPU count constrains the total: with G or more GPUs and a node of at most
// maxSize GPUs, G+maxSize-1 GPUs always suffice, since dropping any node
// from a larger solution keeps at least G GPUs and costs less (and keeps
// every limit, which only bounds from above).
func singleLimit(gpus int, items []item) int {
	maxSize, avail := 0, 0
	for _, it := range items {
		maxSize = max(maxSize, it.size)
		avail = addGPUs(avail, it.capGPUs())
	}
	return min(gpus+maxSize-1, avail)
}

func solveSingle(q *quotas, gpus int, items []item) (solution, bool) {
	limit := singleLimit(gpus, items)
	if limit < gpus {
		return solution{}, false
	}
	t, ok := q.tableAtLeast(items, limit, gpus)
	if !ok {
		return solution{}, false
	}
	g, v, ok := t.best(gpus)
	if !ok {
		return solution{}, false
	}
	s := solution{gpus: g, value: v, nodes: map[int]int{}}
	t.nodes(g, s.nodes)
	return s, true
}

// solveGang solves each zone (region, for clouds without zones) on its own
// and keeps the best: value, then fewer GPUs, then the zone that comes first
// (cloud, region, zone).
//
// Zones are solved in order of a lower bound on their cost (the cheapest
// GPUs first, fractionally, within availability and the limits), and a
// zone is skipped when that bound shows it cannot beat the best found:
// dearer than it, or at best equal in cost with no fewer GPUs, no fewer
// allocations (the fewest items whose availability reaches the count) and a
// later zone. Only the zones that could win are solved exactly, so the work
// does not grow with zones × GPUs, and the winner is the one solving every
// zone would pick.
func solveGang(c *Catalog, q *quotas, gpus int, items []item) (solution, bool) {
	bySite := map[[3]string][]item{}
	for _, it := range items {
		o := &c.Offers[it.offer]
		k := [3]string{o.Cloud, o.Region, o.Zone}
		bySite[k] = append(bySite[k], it)
	}
	keys := make([][3]string, 0, len(bySite))
	for k := range bySite {
		keys = append(keys, k)
	}
	less := func(a, b [3]string) bool {
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		if a[1] != b[1] {
			return a[1] < b[1]
		}
		return a[2] < b[2]
	}
	sort.Slice(keys, func(i, j int) bool { return less(keys[i], keys[j]) })
	type zone struct {
		key    [3]string
		items  []item
		lb     int64 // no placement of gpus or more in the zone costs less
		allocs int32 // nor takes fewer allocations
	}
	var zones []zone
	for _, k := range keys {
		its := bySite[k]
		limit := singleLimit(gpus, its)
		if limit < gpus {
			continue // solveSingle: infeasible
		}
		root, ok := q.tree(its, limit)
		if !ok {
			return solution{}, false // this zone cannot be solved exactly
		}
		var segs []segment
		if root == nil {
			segs = segmentsOf(its)
		} else {
			segs = root.segments()
		}
		lb, left := 0.0, gpus
		for _, sg := range segs {
			take := min(left, sg.gpus)
			lb += float64(take) * sg.perGPU
			if left -= take; left == 0 {
				break
			}
		}
		if left > 0 {
			continue // the limits leave too few GPUs
		}
		zones = append(zones, zone{key: k, items: its, lb: int64(math.Ceil(lb*(1-1e-9) - 1e-3)), allocs: fewestItems(its, gpus)})
	}
	sort.SliceStable(zones, func(i, j int) bool { return zones[i].lb < zones[j].lb })
	var best solution
	var bestKey [3]string
	found := false
	for _, z := range zones {
		if found {
			if z.lb > best.value.cost {
				break // and every zone after it
			}
			if z.lb == best.value.cost && best.gpus == gpus &&
				(z.allocs > best.value.allocs || z.allocs == best.value.allocs && less(bestKey, z.key)) {
				continue
			}
		}
		s, ok := solveSingle(q, gpus, z.items)
		if q != nil && q.crossed != "" {
			return solution{}, false
		}
		if !ok {
			continue
		}
		if !found || s.value.cost < best.value.cost ||
			(s.value.cost == best.value.cost && (s.gpus < best.gpus || (s.gpus == best.gpus && (s.value.allocs < best.value.allocs ||
				s.value.allocs == best.value.allocs && less(z.key, bestKey))))) {
			best, bestKey, found = s, z.key, true
		}
	}
	return best, found
}

// fewestItems is the fewest items whose availability sums to at least gpus
// GPUs: no placement of that many takes fewer allocations.
func fewestItems(items []item, gpus int) int32 {
	caps := make([]int, len(items))
	for i, it := range items {
		caps[i] = it.capGPUs()
	}
	sort.Sort(sort.Reverse(sort.IntSlice(caps)))
	sum := 0
	for i, c := range caps {
		if sum = addGPUs(sum, c); sum >= gpus {
			return int32(i + 1)
		}
	}
	return int32(len(caps))
}

// spreadGroup is one cloud's items in a spread search.
type spreadGroup struct {
	cloud string
	items []item
	avail int
	rate  float64
	t     *table
	segs  []segment // the table's items by price per GPU, for lowerBound
	// all are every item's GPUs by price per GPU under the limits that bind
	// (see limitNode.segments), whatever the table's limit: relaxedBound
	// must hold for totals beyond it.
	all []segment
}

// segment is GPUs available at one price per GPU (micro-USD).
type segment struct {
	perGPU float64
	gpus   int
}

func segmentsOf(items []item) []segment {
	segs := make([]segment, len(items))
	for i, it := range items {
		segs[i] = segment{perGPU: float64(it.price) / float64(it.size), gpus: it.capGPUs()}
	}
	sort.SliceStable(segs, func(i, j int) bool { return segs[i].perGPU < segs[j].perGPU })
	return segs
}

// ppm is the denominator of max_share in the solver's integer arithmetic.
const ppm = 1_000_000

// shareCap is the most GPUs one cloud may hold in a placement of total GPUs.
func shareCap(total int, sharePPM int64) int {
	return int(int64(total) * sharePPM / ppm)
}

// solveSpread handles min_clouds and max_share exactly. For a candidate
// total T the clouds' exact-count tables are combined by branch and bound
// (each cloud at most floor(max_share*T) GPUs, at least min_clouds clouds
// non-empty); totals are tried in increasing order and the search stops as
// soon as a lower bound for T (a fractional fill of the cheapest clouds up
// to their share) reaches the best cost found, which no larger total can
// beat since that bound never decreases with T.
func solveSpread(c *Catalog, q *quotas, req *Request, items []item) (solution, bool) {
	gpus, k, share := req.GPUs, req.Spread.minClouds(), req.Spread.sharePPM()
	byCloud := map[string][]item{}
	for _, it := range items {
		cl := c.Offers[it.offer].Cloud
		byCloud[cl] = append(byCloud[cl], it)
	}
	if len(byCloud) < k {
		return solution{}, false
	}
	groups := make([]*spreadGroup, 0, len(byCloud))
	maxSize, total := 0, 0
	for cl, its := range byCloud {
		g := &spreadGroup{cloud: cl, items: its, rate: math.Inf(1)}
		for _, it := range its {
			g.rate = min(g.rate, float64(it.price)/float64(it.size))
			maxSize = max(maxSize, it.size)
		}
		g.avail, g.all = q.avail(its)
		total = addGPUs(total, g.avail)
		groups = append(groups, g)
	}
	// Cheapest clouds first: the branch and bound finds good incumbents early.
	sort.Slice(groups, func(i, j int) bool {
		if groups[i].rate != groups[j].rate {
			return groups[i].rate < groups[j].rate
		}
		return groups[i].cloud < groups[j].cloud
	})
	tCap := spreadCap(groups, share, total)
	if tCap < gpus {
		return solution{}, false
	}
	// The totals searched end where relaxedBound proves that no larger
	// total can be better (see run), or at tCap; tables are built for a
	// first guess and doubled while the search needs more.
	ceiling := tCap
	perCloud := int(math.Ceil(float64(ppm) / float64(share)))
	limit := min(ceiling, gpus+maxSize*(k+perCloud))
	for {
		for _, g := range groups {
			var ok bool
			if g.t, ok = q.tableFor(g.items, min(limit, g.avail)); !ok {
				return solution{}, false
			}
			if g.segs = g.t.segs; g.segs == nil {
				g.segs = segmentsOf(g.t.items)
			}
		}
		s := &spreadSearch{groups: groups, k: k, share: share}
		done := s.run(gpus, limit)
		if done || limit >= ceiling {
			if !s.found {
				return solution{}, false
			}
			sol := solution{gpus: s.bestT, value: s.best, nodes: map[int]int{}}
			for i, g := range groups {
				g.t.nodes(s.bestGS[i], sol.nodes)
			}
			return sol, true
		}
		limit = min(2*limit, ceiling)
	}
}

// spreadCap is the largest total any spread placement can have, at most
// total: every cloud holds at most max_share*T GPUs and at most what it has,
// so T <= sum of min(avail, max_share*T). The right side minus T is concave
// in T and 0 at 0, so the totals that pass form an interval from 0, found
// by bisection in exact integer arithmetic.
func spreadCap(groups []*spreadGroup, share int64, total int) int {
	fits := func(t int) bool {
		sum := int64(0)
		for _, g := range groups {
			sum += min(int64(g.avail)*ppm, int64(t)*share)
		}
		return sum >= int64(t)*ppm
	}
	if fits(total) {
		return total
	}
	lo, hi := 0, total // fits(lo), !fits(hi)
	for hi-lo > 1 {
		if mid := lo + (hi-lo)/2; fits(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

type spreadSearch struct {
	groups []*spreadGroup
	k      int
	share  int64

	found  bool
	best   value
	bestT  int
	bestGS []int

	gs []int
	t  int
	m  int

	pos   []int     // scratch for relaxedBound
	taken []float64 // scratch for relaxedBound

	// bounds[i-1][r] is lowerBound(i, r) for the current total, i >= 1,
	// tabulated once per total (+Inf beyond what groups i.. can hold).
	bounds [][]float64
	// caps[i-1] are the GPUs obtainable per item of groups i.., largest
	// first, summed: allocBound.
	caps [][]int
	// restCap[i] is the most GPUs groups i.. may hold at the current total.
	restCap []int
}

// tabulate fills bounds for the current total: the greedy fill of
// lowerBound takes the cheapest GPUs first, so the bound for r+1 GPUs
// extends the fill for r, and one pass gives every r up to the total.
func (s *spreadSearch) tabulate() {
	n := len(s.groups)
	s.restCap = make([]int, n+1)
	for i := n - 1; i >= 0; i-- {
		s.restCap[i] = addGPUs(s.restCap[i+1], min(s.m, s.groups[i].t.limit))
	}
	if s.bounds == nil {
		s.bounds = make([][]float64, n-1)
	}
	for i := 1; i < n; i++ {
		b := s.bounds[i-1][:0]
		b = append(b, 0)
		rest := s.groups[i:]
		if len(rest) > 8 {
			for _, g := range rest {
				for range min(s.m, g.t.limit) {
					if len(b) > s.t {
						break
					}
					b = append(b, b[len(b)-1]+g.rate)
				}
			}
		} else {
			var pos, taken [8]int
			for len(b) <= s.t {
				best := -1
				for j, g := range rest {
					if pos[j] < len(g.segs) && taken[j] < min(s.m, g.t.limit) &&
						(best < 0 || g.segs[pos[j]].perGPU < rest[best].segs[pos[best]].perGPU) {
						best = j
					}
				}
				if best < 0 {
					break
				}
				g := rest[best]
				seg := g.segs[pos[best]]
				take := min(s.t+1-len(b), seg.gpus, min(s.m, g.t.limit)-taken[best])
				base := b[len(b)-1]
				for u := 1; u <= take; u++ {
					b = append(b, base+float64(u)*seg.perGPU)
				}
				taken[best] += take
				if take == seg.gpus {
					pos[best]++
				}
			}
		}
		for len(b) <= s.t {
			b = append(b, math.Inf(1))
		}
		s.bounds[i-1] = b
	}
}

// bound is lowerBound(i, r), from the table for i >= 1.
func (s *spreadSearch) bound(i, r int) float64 {
	if i == 0 {
		return s.lowerBound(0, r)
	}
	return s.bounds[i-1][r]
}

// allocBound is a lower bound on the allocations that r GPUs from groups
// i.. take: the fewest items whose availability sums to r.
func (s *spreadSearch) allocBound(i, r int) int32 {
	if r == 0 {
		return 0
	}
	if i == 0 {
		return 1
	}
	if s.caps == nil {
		s.caps = make([][]int, len(s.groups)-1)
		for j := 1; j < len(s.groups); j++ {
			var all []int
			for _, g := range s.groups[j:] {
				for _, it := range g.t.items {
					all = append(all, it.capGPUs())
				}
			}
			sort.Sort(sort.Reverse(sort.IntSlice(all)))
			for k := 1; k < len(all); k++ {
				all[k] = addGPUs(all[k], all[k-1])
			}
			s.caps[j-1] = all
		}
	}
	return int32(sort.SearchInts(s.caps[i-1], r) + 1)
}

// run searches totals gpus..limit; done reports that relaxedBound proved
// no larger total can be better.
//
// The stopping rule must hold for every total beyond the stop, and the
// bound for one total (lowerBound, each cloud at most floor(max_share*T)
// GPUs) is not monotone in T: the floor lets a cheap cloud hold 7 of 15 GPUs
// and 8 of 16. relaxedBound drops the floor (each cloud at most
// max_share*T, a real number), and that bound never decreases as T grows
// (see relaxedBound), so once it reaches the best cost found the search
// may stop. A total whose own bound reaches it is skipped.
func (s *spreadSearch) run(gpus, limit int) bool {
	s.gs = make([]int, len(s.groups))
	for t := gpus; t <= limit; t++ {
		if s.found && s.relaxedBound(t) >= s.pruneLevel(false) {
			return true
		}
		s.t, s.m = t, shareCap(t, s.share)
		lb := s.lowerBound(0, t)
		if math.IsInf(lb, 1) || s.found && lb >= s.pruneLevel(false) {
			continue
		}
		s.tabulate()
		s.branch(0, t, value{}, 0)
	}
	return false
}

// relaxedBound is a lower bound on the cost of every placement of T or more
// GPUs: the fractional relaxation of exactly T GPUs from every group's
// segments (all of its items, whatever the table's limit) with each group
// holding at most max_share*T GPUs, a real number.
//
// It never decreases as T grows: scaling an optimal fractional solution x'
// for T' >= T by T/T' gives one for T (the sum is T, each segment and each
// limit's scope holds no more than before, each group at most
// max_share*T'*T/T' = max_share*T), and with non-negative prices it costs no
// more than x'. So relaxedBound(T) <= relaxedBound(T') <= lowerBound at T'
// (whose caps are floor(max_share*T') <= max_share*T') <= the cost of any
// placement of T' GPUs.
func (s *spreadSearch) relaxedBound(t int) float64 {
	limit := float64(t) * float64(s.share) / ppm
	if len(s.pos) != len(s.groups) {
		s.pos, s.taken = make([]int, len(s.groups)), make([]float64, len(s.groups))
	}
	pos, taken := s.pos, s.taken
	for j := range pos {
		pos[j], taken[j] = 0, 0
	}
	r, cost := float64(t), 0.0
	for r > 0 {
		best := -1
		for j, g := range s.groups {
			if pos[j] < len(g.all) && taken[j] < limit &&
				(best < 0 || g.all[pos[j]].perGPU < s.groups[best].all[pos[best]].perGPU) {
				best = j
			}
		}
		if best < 0 {
			return math.Inf(1)
		}
		seg := s.groups[best].all[pos[best]]
		// A segment only partly taken means r or the group's cap ran out:
		// the loop ends or the group is skipped from now on.
		switch room := limit - taken[best]; {
		case r <= float64(seg.gpus) && r <= room:
			return cost + r*seg.perGPU
		case room <= float64(seg.gpus):
			cost += room * seg.perGPU
			r -= room
			taken[best] = limit
		default:
			cost += float64(seg.gpus) * seg.perGPU
			r -= float64(seg.gpus)
			taken[best] += float64(seg.gpus)
			pos[best]++
		}
	}
	return cost
}

// pruneLevel is the cost a partial solution's lower bound must stay under
// to be explored: strictly under the incumbent for a larger total (a tie in
// cost loses on GPUs), at most equal for the incumbent's own total (it may
// win on allocations). A small tolerance keeps floating-point bounds safe.
func (s *spreadSearch) pruneLevel(sameTotal bool) float64 {
	tol := 1 + 1e-9*float64(s.best.cost)
	if sameTotal {
		return float64(s.best.cost) + tol
	}
	return float64(s.best.cost) - tol + 1
}

// lowerBound is a lower bound on the cost of exactly r GPUs from groups
// i.. with each group at most m GPUs: the fractional relaxation, filling
// from the cheapest price per GPU across the groups' items within their
// availability. It is +Inf when the groups cannot hold r GPUs.
func (s *spreadSearch) lowerBound(i, r int) float64 {
	rest := s.groups[i:]
	var pos, taken [8]int
	if len(rest) > len(pos) {
		return s.linearBound(i, r)
	}
	cost := 0.0
	for r > 0 {
		best := -1
		for j, g := range rest {
			if pos[j] < len(g.segs) && taken[j] < min(s.m, g.t.limit) &&
				(best < 0 || g.segs[pos[j]].perGPU < rest[best].segs[pos[best]].perGPU) {
				best = j
			}
		}
		if best < 0 {
			return math.Inf(1)
		}
		g := rest[best]
		seg := g.segs[pos[best]]
		take := min(r, seg.gpus, min(s.m, g.t.limit)-taken[best])
		cost += float64(take) * seg.perGPU
		r -= take
		taken[best] += take
		// A segment only partly taken means r or the group's cap ran out:
		// the loop ends or the group is skipped from now on.
		if take == seg.gpus {
			pos[best]++
		}
	}
	return cost
}

// linearBound is the cruder bound used for very many groups: every GPU of a
// group at its lowest price per GPU.
func (s *spreadSearch) linearBound(i, r int) float64 {
	cost := 0.0
	for _, g := range s.groups[i:] {
		if r == 0 {
			break
		}
		take := min(r, s.m, g.t.limit)
		cost += float64(take) * g.rate
		r -= take
	}
	if r > 0 {
		return math.Inf(1)
	}
	return cost
}

func (s *spreadSearch) branch(i, r int, acc value, nonEmpty int) {
	n := len(s.groups)
	if nonEmpty+(n-i) < s.k {
		return
	}
	if s.found {
		lb := float64(acc.cost) + s.bound(i, r)
		if s.t == s.bestT {
			// Only a strictly better value replaces the incumbent: at
			// its cost, it takes fewer allocations.
			if lb > s.pruneLevel(true) ||
				lb >= s.pruneLevel(false) && acc.allocs+max(s.allocBound(i, r), int32(s.k-nonEmpty)) >= s.best.allocs {
				return
			}
		} else if lb >= s.pruneLevel(false) {
			return
		}
	}
	g := s.groups[i]
	if i == n-1 {
		if r > s.m || r > g.t.limit || !g.t.f[r].finite() {
			return
		}
		if r > 0 {
			nonEmpty++
		}
		if nonEmpty < s.k {
			return
		}
		v := value{cost: acc.cost + g.t.f[r].cost, allocs: acc.allocs + g.t.f[r].allocs}
		s.gs[i] = r
		if !s.found || v.cost < s.best.cost || (v.cost == s.best.cost && s.t == s.bestT && v.allocs < s.best.allocs) {
			s.found, s.best, s.bestT = true, v, s.t
			s.bestGS = append(s.bestGS[:0], s.gs...)
		}
		return
	}
	// The groups after i hold at most restCap[i+1]: fewer GPUs here leave
	// too many for them.
	for x := min(r, s.m, g.t.limit); x >= max(0, r-s.restCap[i+1]); x-- {
		fv := g.t.f[x]
		if !fv.finite() {
			continue
		}
		s.gs[i] = x
		ne := nonEmpty
		if x > 0 {
			ne++
		}
		s.branch(i+1, r-x, value{cost: acc.cost + fv.cost, allocs: acc.allocs + fv.allocs}, ne)
	}
}
