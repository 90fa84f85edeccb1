package planner

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Limit caps the GPUs a placement may take from a set of offers: an account
// quota. An offer is in the limit's scope when its cloud is Cloud, its region
// is Region (any region when empty), its instance type is one of
// InstanceTypes (any when empty) and its capacity type is CapacityType (any
// when empty). A placement keeps, for every limit of the catalog, the sum of
// nodes × GPUs per node over the offers in the limit's scope at or below
// MaxGPUs.
type Limit struct {
	// Name is the quota as the cloud names it, shown in explanations.
	Name  string `json:"name"`
	Cloud string `json:"cloud"`
	// Region is empty for a limit over every region of Cloud.
	Region string `json:"region,omitempty"`
	// InstanceTypes the limit covers; empty covers every instance type of
	// Cloud (in Region).
	InstanceTypes []string `json:"instance_types,omitempty"`
	// CapacityType covered; empty covers both.
	CapacityType CapacityType `json:"capacity_type,omitempty"`
	// MaxGPUs is the most GPUs a placement may take from the scope, >= 0.
	MaxGPUs int `json:"max_gpus"`
}

// Matches reports whether the offer is in the limit's scope.
func (l *Limit) Matches(o *Offer) bool {
	return l.Cloud == o.Cloud && (l.Region == "" || l.Region == o.Region) &&
		(l.CapacityType == "" || l.CapacityType == o.CapacityType) &&
		(len(l.InstanceTypes) == 0 || slices.Contains(l.InstanceTypes, o.InstanceType))
}

// String names the limit and its scope for explanations, e.g.
// `quota "NVIDIA_H100_GPUS" (gcp us-central1, max 64 GPUs)`.
func (l Limit) String() string {
	name := l.Name
	if name == "" {
		name = "unnamed"
	}
	scope := []string{l.Cloud}
	if l.Region != "" {
		scope[0] += " " + l.Region
	} else {
		scope[0] += " all regions"
	}
	if len(l.InstanceTypes) > 0 {
		scope = append(scope, strings.Join(l.InstanceTypes, "/"))
	}
	if l.CapacityType != "" {
		scope = append(scope, string(l.CapacityType))
	}
	return fmt.Sprintf("quota %q (%s, max %d GPUs)", name, strings.Join(scope, ", "), l.MaxGPUs)
}

// compareLimits is the canonical order of limits: cloud, region, name,
// capacity type, instance types, MaxGPUs. Catalogs keep their limits in this
// order, so plans never depend on the order limits were given in.
func compareLimits(a, b *Limit) int {
	return cmp.Or(strings.Compare(a.Cloud, b.Cloud), strings.Compare(a.Region, b.Region),
		strings.Compare(a.Name, b.Name), strings.Compare(string(a.CapacityType), string(b.CapacityType)),
		slices.Compare(a.InstanceTypes, b.InstanceTypes), cmp.Compare(a.MaxGPUs, b.MaxGPUs))
}

// canonicalLimits returns copies of the limits with their instance types
// sorted and de-duplicated, in the canonical order.
func canonicalLimits(limits []Limit) []Limit {
	if len(limits) == 0 {
		return nil
	}
	out := make([]Limit, len(limits))
	for i, l := range limits {
		l.InstanceTypes = sortedUnique(l.InstanceTypes)
		out[i] = l
	}
	slices.SortFunc(out, func(a, b Limit) int { return compareLimits(&a, &b) })
	return out
}

// isCanonical reports whether limits are as canonicalLimits leaves them
// (as Adjust stores them), so that they can be used without a copy.
func isCanonical(limits []Limit) bool {
	for i := range limits {
		its := limits[i].InstanceTypes
		for j := 1; j < len(its); j++ {
			if its[j-1] >= its[j] {
				return false
			}
		}
		if i > 0 && compareLimits(&limits[i-1], &limits[i]) > 0 {
			return false
		}
	}
	return true
}

// validate reports the first thing wrong with a limit, given the clouds the
// catalog knows.
func (l *Limit) validate(clouds []string) error {
	switch {
	case !slices.Contains(clouds, l.Cloud):
		return fmt.Errorf("unknown cloud %q; expected one of %s", l.Cloud, strings.Join(clouds, ", "))
	case l.MaxGPUs < 0:
		return fmt.Errorf("max_gpus must be 0 or more, got %d", l.MaxGPUs)
	case l.CapacityType != "" && l.CapacityType != OnDemand && l.CapacityType != Spot:
		return fmt.Errorf("capacity type must be %q, %q or empty (both), got %q", OnDemand, Spot, l.CapacityType)
	}
	return nil
}

// quotas is one plan's view of the catalog's limits: the limits in
// canonical order, indexed by cloud and region, and, per offer, the limits
// it is in (memoized). It is nil for a catalog without limits, and every
// method accepts a nil receiver, which is the planner without limits.
type quotas struct {
	c        *Catalog
	limits   []Limit
	byRegion map[[2]string][]int32 // cloud, region ("" for all regions) → limits
	of       [][]int32             // offer index → limits (nil: not computed yet)
	done     []bool
	// crossed names the first two binding limits found crossing over a
	// group the solver had to combine; the solve is then abandoned.
	crossed string
}

func newQuotas(c *Catalog) *quotas {
	if len(c.Limits) == 0 {
		return nil
	}
	limits := c.Limits
	if !isCanonical(limits) {
		limits = canonicalLimits(limits)
	}
	q := &quotas{c: c, limits: limits, byRegion: map[[2]string][]int32{},
		of: make([][]int32, len(c.Offers)), done: make([]bool, len(c.Offers))}
	for i, l := range q.limits {
		k := [2]string{l.Cloud, l.Region}
		q.byRegion[k] = append(q.byRegion[k], int32(i))
	}
	return q
}

// matching returns the limits whose scope holds offer idx, in canonical
// order.
func (q *quotas) matching(idx int) []int32 {
	if q == nil {
		return nil
	}
	if !q.done[idx] {
		q.of[idx] = q.match(&q.c.Offers[idx])
		q.done[idx] = true
	}
	return q.of[idx]
}

func (q *quotas) match(o *Offer) []int32 {
	var out []int32
	for _, k := range [][2]string{{o.Cloud, ""}, {o.Cloud, o.Region}} {
		for _, li := range q.byRegion[k] {
			if q.limits[li].Matches(o) {
				out = append(out, li)
			}
		}
	}
	slices.Sort(out)
	return out
}

// tooSmall returns the first limit (canonical order) whose MaxGPUs is below
// one node of the offer (a capacity block: the whole block), or nil: no
// node of such an offer can be used.
func (q *quotas) tooSmall(o *Offer) *Limit {
	if q == nil {
		return nil
	}
	var first *Limit
	for _, k := range [][2]string{{o.Cloud, ""}, {o.Cloud, o.Region}} {
		for _, li := range q.byRegion[k] {
			l := &q.limits[li]
			if l.MaxGPUs < o.unitGPUs() && l.Matches(o) && (first == nil || compareLimits(l, first) < 0) {
				first = l
			}
		}
	}
	return first
}

// usage sums, per limit, the GPUs of the solution's nodes in its scope.
func (q *quotas) usage(nodes map[int]int) []int {
	if q == nil {
		return nil
	}
	out := make([]int, len(q.limits))
	for idx, n := range nodes {
		for _, li := range q.matching(idx) {
			out[li] += n * q.c.Offers[idx].GPUCount
		}
	}
	return out
}

// swapOK reports whether replacing the nodes of offer from (removed GPUs)
// by added GPUs of offer to keeps every limit, given the usage per limit.
func (q *quotas) swapOK(usage []int, from, removed, to, added int) bool {
	if q == nil {
		return true
	}
	fromLimits := q.matching(from)
	for _, li := range q.matching(to) {
		u := usage[li] + added
		if slices.Contains(fromLimits, li) {
			u -= removed
		}
		if u > q.limits[li].MaxGPUs {
			return false
		}
	}
	return true
}

// exhausted returns the first limit (canonical order) that has no room for
// one more node of offer idx at the given usage, or -1.
func (q *quotas) exhausted(usage []int, idx int) int32 {
	if q == nil {
		return -1
	}
	for _, li := range q.matching(idx) {
		if usage[li]+q.c.Offers[idx].unitGPUs() > q.limits[li].MaxGPUs {
			return li
		}
	}
	return -1
}

// limitNode is one scope of a laminar family of binding limits over a group
// of items: the root (limit -1) holds the items under no binding limit, each
// other node the items whose innermost binding limit it is.
type limitNode struct {
	limit    int32
	cap      int
	items    []item
	children []*limitNode
	avail    int // GPUs obtainable from the subtree under its limits
}

// tree arranges the limits that bind on items (their scope's availability
// among items is above MaxGPUs, and MaxGPUs is below limit, the largest
// total the caller asks about) into a tree of nested scopes. It returns nil
// when no limit binds, and ok false when two binding limits overlap without
// one containing the other; q.crossed then names the first such pair.
func (q *quotas) tree(items []item, limit int) (root *limitNode, ok bool) {
	if q == nil {
		return nil, true
	}
	avail := map[int32]int{}
	count := map[int32]int{}
	for _, it := range items {
		for _, li := range q.matching(it.offer) {
			avail[li] = addGPUs(avail[li], it.capGPUs())
			count[li]++
		}
	}
	binding := func(li int32) bool {
		c := q.limits[li].MaxGPUs
		return c < limit && avail[li] > c
	}
	binds := false
	for li := range avail {
		if binding(li) {
			binds = true
			break
		}
	}
	if !binds {
		return nil, true
	}
	// Each item's binding limits from the widest scope to the narrowest
	// (equal scopes: the larger cap outside) must form a chain whose links
	// are the same for every item: then every scope lies inside its parent
	// and two scopes sharing an item are nested, which is laminarity.
	root = &limitNode{limit: -1, cap: unlimitedGPUs}
	nodes := map[int32]*limitNode{}
	parent := map[int32]int32{}
	var chain []int32
	for _, it := range items {
		chain = chain[:0]
		for _, li := range q.matching(it.offer) {
			if binding(li) {
				chain = append(chain, li)
			}
		}
		slices.SortFunc(chain, func(a, b int32) int {
			return cmp.Or(cmp.Compare(count[b], count[a]), cmp.Compare(q.limits[b].MaxGPUs, q.limits[a].MaxGPUs), cmp.Compare(a, b))
		})
		prev := int32(-1)
		for _, li := range chain {
			if p, seen := parent[li]; !seen {
				parent[li] = prev
			} else if p != prev {
				if q.crossed == "" {
					pair := q.crossingPair(items, binding)
					q.crossed = q.limits[pair[0]].String() + " and " + q.limits[pair[1]].String()
				}
				return nil, false
			}
			prev = li
		}
		node := root
		if prev >= 0 {
			if node = nodes[prev]; node == nil {
				node = &limitNode{limit: prev, cap: q.limits[prev].MaxGPUs}
				nodes[prev] = node
			}
		}
		node.items = append(node.items, it)
	}
	// A limit may hold no item directly (all of its items are in narrower
	// scopes): create its node, then link every node to its parent in
	// canonical limit order.
	lims := make([]int32, 0, len(parent))
	for li := range parent {
		lims = append(lims, li)
	}
	slices.Sort(lims)
	for _, li := range lims {
		n := nodes[li]
		if n == nil {
			n = &limitNode{limit: li, cap: q.limits[li].MaxGPUs}
			nodes[li] = n
		}
	}
	for _, li := range lims {
		p := root
		if parent[li] >= 0 {
			p = nodes[parent[li]]
		}
		p.children = append(p.children, nodes[li])
	}
	root.setAvail()
	return root, true
}

// crossingPair finds the first two binding limits (canonical order) whose
// scopes among items overlap without one containing the other.
func (q *quotas) crossingPair(items []item, binding func(int32) bool) [2]int32 {
	scopes := map[int32]map[int]bool{}
	for _, it := range items {
		for _, li := range q.matching(it.offer) {
			if binding(li) {
				if scopes[li] == nil {
					scopes[li] = map[int]bool{}
				}
				scopes[li][it.offer] = true
			}
		}
	}
	lims := make([]int32, 0, len(scopes))
	for li := range scopes {
		lims = append(lims, li)
	}
	slices.Sort(lims)
	within := func(a, b map[int]bool) bool {
		for k := range a {
			if !b[k] {
				return false
			}
		}
		return true
	}
	for i, a := range lims {
		for _, b := range lims[i+1:] {
			shared := false
			for k := range scopes[a] {
				if scopes[b][k] {
					shared = true
					break
				}
			}
			if shared && !within(scopes[a], scopes[b]) && !within(scopes[b], scopes[a]) {
				return [2]int32{a, b}
			}
		}
	}
	panic("planner: limits reported crossing but no crossing pair found")
}

func (n *limitNode) setAvail() int {
	a := 0
	for _, it := range n.items {
		a = addGPUs(a, it.capGPUs())
	}
	for _, ch := range n.children {
		a = addGPUs(a, ch.setAvail())
	}
	n.avail = min(a, n.cap)
	return n.avail
}

// build computes the node's exact-count table up to limit: the table of its
// own items (a bounded knapsack, as without limits) combined with each child
// scope's table by min-plus convolution, everything capped at the node's
// limit. Children go first, smallest first, so that the partial sums stay
// small until the node's own, possibly unlimited, items join last.
//
// With target > 0 (the root of a request that wants at least target GPUs
// and asks only for the best total in [target, limit]), partial sums that
// cannot lead to the optimum are dropped between convolutions: a sum of g
// GPUs costing more than a known placement (a greedy fill under the limits)
// once the rest's fractional lower bound for the missing target−g GPUs is
// added. Only entries strictly dearer than that placement go, so every
// entry of the final table that could be the answer, ties included, is
// exact.
func (n *limitNode) build(limit, target int) *table {
	lim := min(limit, n.cap, n.avail)
	children := slices.Clone(n.children)
	slices.SortStableFunc(children, func(a, b *limitNode) int { return cmp.Compare(min(a.cap, a.avail), min(b.cap, b.avail)) })
	var p *pruner
	if target > 0 && len(children) > 1 {
		p = newPruner(n, children, target)
	}
	var acc *table
	for k, ch := range children {
		ct := ch.build(lim, 0)
		if acc == nil {
			acc = ct
		} else {
			acc = convolve(acc, ct, lim)
		}
		if p != nil {
			p.prune(acc, k)
		}
	}
	if len(n.items) > 0 {
		own := 0
		for _, it := range n.items {
			own = addGPUs(own, it.capGPUs())
		}
		bt := buildTable(n.items, min(lim, own))
		if acc == nil {
			acc = bt
		} else {
			acc = convolve(acc, bt, lim)
		}
	}
	if acc == nil {
		acc = buildTable(nil, 0)
	}
	acc.avail = n.avail
	return acc
}

// pruner drops partial sums at the root that cannot beat a known placement.
type pruner struct {
	target int
	ub     float64   // the known placement's cost plus a tolerance
	segs   []segment // the root's own items' and every child's, cheapest first
	owner  []int     // owner[i]: the child whose segment segs[i] is, -1 for the root's own
	rest   []float64 // rest[r]: lower bound on r GPUs from what is not combined yet
}

func newPruner(root *limitNode, children []*limitNode, target int) *pruner {
	ub, ok := root.greedy(target)
	if !ok {
		return nil
	}
	p := &pruner{target: target, ub: float64(ub) + 1 + 1e-9*float64(ub), rest: make([]float64, target+1)}
	type owned struct {
		seg   segment
		owner int
	}
	var all []owned
	for _, sg := range segmentsOf(root.items) {
		all = append(all, owned{sg, -1})
	}
	for k, ch := range children {
		for _, sg := range ch.segments() {
			all = append(all, owned{sg, k})
		}
	}
	slices.SortStableFunc(all, func(a, b owned) int { return cmp.Compare(a.seg.perGPU, b.seg.perGPU) })
	for _, o := range all {
		p.segs = append(p.segs, o.seg)
		p.owner = append(p.owner, o.owner)
	}
	return p
}

// prune drops the entries of acc (children 0..k combined) that cannot be
// part of a placement of at least target GPUs cheaper than the known one:
// the entry's cost plus the cheapest fractional fill of the missing GPUs
// from the children after k and the root's own items is above it.
func (p *pruner) prune(acc *table, k int) {
	// rest[r]: the r cheapest GPUs of what is left, +Inf beyond it.
	r, cost := 0, 0.0
	for i, sg := range p.segs {
		if p.owner[i] >= 0 && p.owner[i] <= k {
			continue
		}
		for range min(sg.gpus, p.target-r) {
			r++
			cost += sg.perGPU
			p.rest[r] = cost
		}
		if r == p.target {
			break
		}
	}
	for r++; r <= p.target; r++ {
		p.rest[r] = math.Inf(1)
	}
	rest := p.rest
	if keys, ok := acc.packed(); ok && acc.f == nil {
		for g, key := range keys {
			if key < infKey && float64(key>>packShift)+rest[max(0, p.target-g)] > p.ub {
				keys[g] = infKey
			}
		}
		return
	}
	acc.materialize()
	acc.keys = nil
	for g, v := range acc.f {
		if v.finite() && float64(v.cost)+rest[max(0, p.target-g)] > p.ub {
			acc.f[g] = infinite
		}
	}
}

// greedy fills target GPUs from the subtree's items, cheapest per GPU first
// (ties: catalog order), within every item's availability and every
// scope's cap, and returns the cost: a placement the optimum is no dearer
// than. ok is false when the greedy fill falls short.
func (n *limitNode) greedy(target int) (int64, bool) {
	type entry struct {
		it    item
		chain []*limitNode
	}
	var entries []entry
	var walk func(m *limitNode, chain []*limitNode)
	walk = func(m *limitNode, chain []*limitNode) {
		chain = append(slices.Clip(chain), m)
		for _, it := range m.items {
			entries = append(entries, entry{it, chain})
		}
		for _, ch := range m.children {
			walk(ch, chain)
		}
	}
	walk(n, nil)
	slices.SortStableFunc(entries, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.it.price*int64(b.it.size), b.it.price*int64(a.it.size)), cmp.Compare(a.it.offer, b.it.offer))
	})
	left := map[*limitNode]int{}
	var fill func(m *limitNode)
	fill = func(m *limitNode) {
		left[m] = m.cap
		for _, ch := range m.children {
			fill(ch)
		}
	}
	fill(n)
	total, cost := 0, int64(0)
	for _, e := range entries {
		if total >= target {
			break
		}
		room := unlimitedGPUs
		for _, m := range e.chain {
			room = min(room, left[m])
		}
		nodes := min(room/e.it.size, (target-total+e.it.size-1)/e.it.size)
		if e.it.cap != Unlimited {
			nodes = min(nodes, e.it.cap)
		}
		if nodes <= 0 {
			continue
		}
		total += nodes * e.it.size
		cost += int64(nodes) * e.it.price
		for _, m := range e.chain {
			left[m] -= nodes * e.it.size
		}
	}
	return cost, total >= target
}

// convolve combines two tables over disjoint items: f[g] = min over x of
// a.f[g−x] + b.f[x], for g up to limit. Ties keep the smallest x (the first
// found), so the reconstruction is deterministic. O(limit × b.limit), less
// where a's finite entries span less than its limit. The result holds its
// values packed (see table.packed); materialize fills f.
func convolve(a, b *table, limit int) *table {
	lim := min(limit, a.limit+b.limit)
	t := &table{limit: lim, left: a, right: b, rate: min(a.rate, b.rate), avail: addGPUs(a.avail, b.avail)}
	t.split = make([]int32, lim+1)
	ka, okA := a.packed()
	kb, okB := b.packed()
	if !okA || !okB {
		convolveValues(t, a.materialize(), b.materialize())
		return t
	}
	kf := make([]int64, lim+1)
	for g := range kf {
		kf[g] = infKey
	}
	// Only the span of a's finite entries is scanned (the root's partial
	// sums are pruned to a narrow band, see pruner).
	lo, hi := finiteSpan(ka)
	for x := 0; x <= min(b.limit, lim) && lo <= hi; x++ {
		bk := kb[x]
		if bk >= infKey {
			continue
		}
		top := min(hi, lim-x)
		if top < lo {
			break
		}
		dst, sp, src := kf[x+lo:x+top+1], t.split[x+lo:x+top+1], ka[lo:top+1]
		for g, ak := range src {
			// An infinite ak stays at or above infKey: no branch needed.
			if s := ak + bk; s < dst[g] {
				dst[g], sp[g] = s, int32(x)
			}
		}
	}
	t.keys = kf
	return t
}

// Values packed in one int64, cost << packShift | allocs, compare as the
// values do; sums of two finite packed values stay below infKey and sums
// with infKey stay at or above it without overflowing.
const (
	packShift           = 16
	maxPackedCost       = 1 << 44
	infKey        int64 = 1 << 62
)

// packed returns the table's values packed, computing them from f once;
// ok is false when a cost or allocation count does not fit.
func (t *table) packed() ([]int64, bool) {
	if t.keys != nil {
		return t.keys, true
	}
	out := make([]int64, len(t.f))
	for i, v := range t.f {
		switch {
		case !v.finite():
			out[i] = infKey
		case v.cost < 0 || v.cost >= maxPackedCost || v.allocs < 0 || v.allocs >= 1<<(packShift-1):
			return nil, false
		default:
			out[i] = v.cost<<packShift | int64(v.allocs)
		}
	}
	t.keys = out
	return out, true
}

// materialize fills f from the packed values where only those are held.
func (t *table) materialize() *table {
	if t.f == nil {
		t.f = make([]value, len(t.keys))
		for g, k := range t.keys {
			if k >= infKey {
				t.f[g] = infinite
			} else {
				t.f[g] = value{cost: k >> packShift, allocs: int32(k & (1<<packShift - 1))}
			}
		}
	}
	return t
}

// finiteSpan returns the first and last index of a finite packed value
// (lo > hi when there is none).
func finiteSpan(k []int64) (lo, hi int) {
	lo, hi = 0, len(k)-1
	for lo <= hi && k[lo] >= infKey {
		lo++
	}
	for hi >= lo && k[hi] >= infKey {
		hi--
	}
	return lo, hi
}

// convolveValues is convolve on unpacked values, for tables whose costs or
// allocation counts do not fit the packed form.
func convolveValues(t, a, b *table) {
	lim := t.limit
	t.f = make([]value, lim+1)
	for g := range t.f {
		t.f[g] = infinite
	}
	for x := 0; x <= min(b.limit, lim); x++ {
		bv := b.f[x]
		if !bv.finite() {
			continue
		}
		top := min(a.limit, lim-x)
		for g, av := range a.f[:top+1] {
			if !av.finite() {
				continue
			}
			cand := value{cost: av.cost + bv.cost, allocs: av.allocs + bv.allocs}
			if cand.less(t.f[g+x]) {
				t.f[g+x], t.split[g+x] = cand, int32(x)
			}
		}
	}
}

// tableFor is buildTable under the catalog's limits: the exact cheapest way
// to get exactly g GPUs from items, for every g up to limit, keeping every
// limit. Without binding limits it is buildTable itself. ok is false when
// binding limits cross (see Plan).
func (q *quotas) tableFor(items []item, limit int) (*table, bool) {
	return q.tableAtLeast(items, limit, 0)
}

// tableAtLeast is tableFor for a caller that only reads the best entry in
// [target, limit] (table.best(target)): entries that cannot be that best
// may be left infinite (see limitNode.build). target 0 keeps every entry.
func (q *quotas) tableAtLeast(items []item, limit, target int) (*table, bool) {
	root, ok := q.tree(items, limit)
	if !ok {
		return nil, false
	}
	if root == nil {
		return buildTable(items, limit), true
	}
	t := root.build(limit, target).materialize()
	if t.limit < limit {
		// Callers index f up to the limit they asked for.
		f := make([]value, limit+1)
		copy(f, t.f)
		for g := t.limit + 1; g <= limit; g++ {
			f[g] = infinite
		}
		t = &table{limit: limit, f: f, left: t, avail: t.avail, rate: t.rate, split: make([]int32, limit+1)}
		// left alone: split[g] = 0 GPUs from right (nil) for every g.
	}
	t.items, t.segs = items, root.segments()
	return t, true
}

// segments are the items' GPUs by price per GPU for the spread search's
// fractional lower bound, each scope keeping only its cheapest MaxGPUs:
// with nested caps the fractional relaxation is solved greedily, and a
// greedy fill never takes a scope's dearer GPUs beyond its cap.
func (n *limitNode) segments() []segment {
	segs := segmentsOf(n.items)
	for _, ch := range n.children {
		segs = append(segs, ch.segments()...)
	}
	slices.SortStableFunc(segs, func(a, b segment) int { return cmp.Compare(a.perGPU, b.perGPU) })
	left := n.cap
	for i := range segs {
		segs[i].gpus = min(segs[i].gpus, left)
		left -= segs[i].gpus
		if left == 0 {
			return segs[:i+1]
		}
	}
	return segs
}

// avail is the GPUs obtainable from items under the limits (an upper bound
// where limits cross), and segs their GPUs by price per GPU with every scope
// keeping only its cheapest MaxGPUs (see limitNode.segments; without limits
// or where they cross, every item's GPUs): a fractional relaxation valid for
// any total.
func (q *quotas) avail(items []item) (avail int, segs []segment) {
	a := 0
	for _, it := range items {
		a = addGPUs(a, it.capGPUs())
	}
	root, ok := q.tree(items, unlimitedGPUs)
	if !ok || root == nil {
		return a, segmentsOf(items)
	}
	return root.avail, root.segments()
}

// withLimits returns a shallow copy of c with other limits, for what-if
// solves in explanations (its Version is not updated).
func (c *Catalog) withLimits(limits []Limit) *Catalog {
	d := *c
	d.Limits = limits
	return &d
}

// LimitsCrossError is returned by Plan when two of the catalog's limits
// that bind on a group of offers the solver combines (all eligible offers;
// one cloud's for a spread; one zone's for a gang) overlap without one
// containing the other (for example a per-instance-type quota over both capacity types
// and a spot quota over every instance type of the same region). Nested or
// disjoint limits — the way clouds define quotas: per-family or per-model
// inside per-region inside all-regions, on-demand apart from spot — are
// solved exactly; crossing ones are refused rather than risk a placement
// that breaks one. Narrow one limit's scope (instance types or capacity
// type) so that one contains the other, or split it.
type LimitsCrossError struct {
	Limits string
}

func (e *LimitsCrossError) Error() string {
	return "catalog limits " + e.Limits + " overlap without one containing the other; the planner solves only nested or disjoint limits: narrow or split one of them"
}
