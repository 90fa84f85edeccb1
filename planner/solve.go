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
		o := &c.Offers[idx]
		items[i] = item{offer: idx, size: o.GPUCount, price: o.priceMicros(), cap: o.MaxNodes}
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
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		if a[1] != b[1] {
			return a[1] < b[1]
		}
		return a[2] < b[2]
	})
	var best solution
	found := false
	for _, k := range keys {
		s, ok := solveSingle(q, gpus, bySite[k])
		if q != nil && q.crossed != "" {
			return solution{}, false // this zone cannot be solved exactly
		}
		if !ok {
			continue
		}
		if !found || s.value.cost < best.value.cost ||
			(s.value.cost == best.value.cost && (s.gpus < best.gpus || (s.gpus == best.gpus && s.value.allocs < best.value.allocs))) {
			best, found = s, true
		}
	}
	return best, found
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
		lb := float64(acc.cost) + s.lowerBound(i, r)
		if s.t == s.bestT {
			if lb > s.pruneLevel(true) {
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
	for x := min(r, s.m, g.t.limit); x >= 0; x-- {
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
