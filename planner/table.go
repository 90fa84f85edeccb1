package planner

import (
	"math"
	"sort"
)

// value is the solver's objective for a set of nodes: total price in
// micro-USD per hour, then the number of allocations (offers used), compared
// lexicographically.
type value struct {
	cost   int64
	allocs int32
}

var infinite = value{cost: math.MaxInt64}

func (v value) finite() bool { return v.cost != math.MaxInt64 }

func (v value) less(w value) bool {
	if v.cost != w.cost {
		return v.cost < w.cost
	}
	return v.allocs < w.allocs
}

// item is one eligible offer as the solver sees it.
type item struct {
	offer int   // index in Catalog.Offers
	size  int   // GPUs per node
	price int64 // micro-USD per node-hour
	cap   int   // nodes obtainable, or Unlimited
	// unit is the nodes one unit of the item stands for: a capacity
	// block's instance count (its size and price are the whole block's,
	// its cap 1); 0 for an offer of single nodes.
	unit int
}

// nodesOf is the nodes n units of the item stand for.
func (it item) nodesOf(n int) int { return n * max(it.unit, 1) }

// capGPUs is the GPUs obtainable from the item, or unlimitedGPUs.
func (it item) capGPUs() int {
	if it.cap == Unlimited {
		return unlimitedGPUs
	}
	return it.cap * it.size
}

// unlimitedGPUs stands for "no known bound" in GPU counts; sums saturate at it.
const unlimitedGPUs = math.MaxInt32

func addGPUs(a, b int) int { return min(a+b, unlimitedGPUs) }

// table holds, for one group of items (a cloud, a zone, or everything), the
// cheapest way to obtain exactly g GPUs for every g up to limit: a bounded
// knapsack solved item by item, each item in O(limit) with a sliding-window
// minimum per residue class of its node size.
type table struct {
	items []item
	limit int
	f     []value   // f[g]: best value for exactly g GPUs
	used  [][]int32 // used[k][g]: nodes of blocks[k] in the best way to reach g with blocks[0..k]
	// blocks are items in the order the knapsack added them (see block).
	blocks []block
	avail  int     // GPUs obtainable from the group, or unlimitedGPUs
	rate   float64 // lowest price per GPU among the items (micro-USD), a linear lower bound

	// A table built under limits (see convolve) combines two tables over
	// disjoint items: split[g] GPUs of the best way to reach g come from
	// right, the rest from left; used is then nil.
	left, right *table
	split       []int32
	// segs, when set, replace segmentsOf(items) in the spread search's
	// lower bound (see limitNode.segments).
	segs []segment
	// keys are the values packed (see table.packed); a convolved table
	// holds only these until materialize fills f.
	keys []int64
}

// pruneItems keeps, for each node size, only the cheapest items whose nodes
// cover limit GPUs: an optimal solution never uses a dearer item of a size
// while a cheaper one of the same size has nodes left (swapping a node never
// costs more), and among equal prices the largest availability comes first,
// which gives the fewest allocations. Items are returned by size, then in
// that order.
func pruneItems(items []item, limit int) []item {
	sorted := append([]item(nil), items...)
	sort.SliceStable(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if a.size != b.size {
			return a.size < b.size
		}
		if a.price != b.price {
			return a.price < b.price
		}
		if a.cap != b.cap {
			return a.cap == Unlimited || (b.cap != Unlimited && a.cap > b.cap)
		}
		return a.offer < b.offer
	})
	out := sorted[:0:0]
	covered := map[int]int{}
	for _, it := range sorted {
		if covered[it.size] >= limit || it.cap == 0 {
			continue
		}
		out = append(out, it)
		covered[it.size] = addGPUs(covered[it.size], it.capGPUs())
	}
	return out
}

// block is a run of pruned items of one node size and one price per node
// (items of a table are sorted so that such items are adjacent: the largest
// availability first). The knapsack treats a block as one item of their
// combined availability whose n nodes take the fewest allocations, the
// first items filled first: in an optimal solution a block's nodes are
// spread that way (any other spread of n nodes has as many allocations or
// more, and uses a later item more), so the table's values and the nodes it
// reconstructs are those of the items taken one by one, in O(limit) per
// block instead of per item.
type block struct {
	items []item
	size  int
	price int64
	cap   int   // nodes obtainable from the block, or Unlimited
	cum   []int // cum[j]: nodes of items[0..j]; allocations of n nodes: the least j with cum[j-1] >= n
}

// blocksOf splits sorted pruned items into blocks.
func blocksOf(items []item) []block {
	var out []block
	for i := 0; i < len(items); {
		j := i + 1
		for j < len(items) && items[j].size == items[i].size && items[j].price == items[i].price && items[i].cap != Unlimited {
			j++
		}
		b := block{items: items[i:j], size: items[i].size, price: items[i].price}
		for _, it := range b.items {
			b.cap = addNodes(b.cap, it.cap)
			b.cum = append(b.cum, b.cap)
		}
		out = append(out, b)
		i = j
	}
	return out
}

func addNodes(a, b int) int {
	if a == Unlimited || b == Unlimited {
		return Unlimited
	}
	return a + b
}

func buildTable(all []item, limit int) *table {
	t := &table{items: pruneItems(all, limit), limit: limit, rate: math.Inf(1)}
	for _, it := range all {
		t.avail = addGPUs(t.avail, it.capGPUs())
		t.rate = min(t.rate, float64(it.price)/float64(it.size))
	}
	prev := make([]value, limit+1)
	cur := make([]value, limit+1)
	for g := range prev {
		prev[g] = infinite
	}
	prev[0] = value{}
	dq := make([]int, 0, limit+1)
	for _, b := range blocksOf(t.items) {
		used := make([]int32, limit+1)
		if len(b.items) > 1 && knapsackBlock(&b, prev, cur, used, dq, limit) {
			t.blocks = append(t.blocks, b)
			t.used = append(t.used, used)
			prev, cur = cur, prev
			continue
		}
		// One item, or a block whose ties in cost would take too long to
		// resolve together: item by item.
		for k, it := range b.items {
			if k > 0 {
				used = make([]int32, limit+1)
			}
			knapsackItem(it, prev, cur, used, dq, limit)
			t.blocks = append(t.blocks, block{items: b.items[k : k+1], size: it.size, price: it.price, cap: it.cap, cum: []int{it.cap}})
			t.used = append(t.used, used)
			prev, cur = cur, prev
		}
	}
	t.f = prev
	return t
}

// knapsackItem adds one item to the exact-count values prev, writing cur
// and used (nodes of the item in cur[g]): for each residue class of the
// node size, a sliding-window minimum over the last cap entries. Among
// equal values the fewest nodes of the item win.
func knapsackItem(it item, prev, cur []value, used []int32, dq []int, limit int) {
	a, p := it.size, it.price
	key := func(r, tp int) value {
		v := prev[r+a*tp]
		return value{cost: v.cost - p*int64(tp), allocs: v.allocs}
	}
	for r := 0; r < a && r <= limit; r++ {
		dq = dq[:0]
		head := 0
		for s := 0; r+a*s <= limit; s++ {
			g := r + a*s
			if s >= 1 && prev[g-a].finite() {
				kn := key(r, s-1)
				for len(dq) > head && !key(r, dq[len(dq)-1]).less(kn) {
					dq = dq[:len(dq)-1]
				}
				dq = append(dq, s-1)
			}
			if it.cap != Unlimited {
				for len(dq) > head && dq[head] < s-it.cap {
					head++
				}
			}
			best, n := prev[g], 0
			if len(dq) > head {
				tp := dq[head]
				v := prev[r+a*tp]
				cand := value{cost: v.cost + p*int64(s-tp), allocs: v.allocs + 1}
				if cand.less(best) {
					best, n = cand, s-tp
				}
			}
			cur[g], used[g] = best, int32(n)
		}
	}
}

// knapsackBlock adds a block of items of one size and price (finite
// availability) as knapsackItem adds one item, except that n nodes take
// allocs(n) allocations (block.cum), which depends on n and not only on n
// being positive. The window keeps every entry of the lowest cost (ties
// included) and resolves allocations among them; that is quick unless many
// entries tie in cost (offers of another size at the same price per GPU),
// and it reports false, leaving the block to be added item by item, when
// the ties cost more than a few passes over the table.
func knapsackBlock(b *block, prev, cur []value, used []int32, dq []int, limit int) bool {
	a, p, capN := b.size, b.price, b.cap
	budget := 8 * (limit + 1)
	costKey := func(r, tp int) int64 { return prev[r+a*tp].cost - p*int64(tp) }
	for r := 0; r < a && r <= limit; r++ {
		dq = dq[:0]
		head := 0
		for s := 0; r+a*s <= limit; s++ {
			g := r + a*s
			if s >= 1 && prev[g-a].finite() {
				kn := costKey(r, s-1)
				for len(dq) > head && costKey(r, dq[len(dq)-1]) > kn {
					dq = dq[:len(dq)-1]
				}
				dq = append(dq, s-1)
			}
			for len(dq) > head && dq[head] < s-capN {
				head++
			}
			best, n := prev[g], 0
			if len(dq) > head {
				// The run of lowest cost is dq[head:end]; the largest tp
				// (fewest nodes) first, so that ties keep the fewest.
				low := costKey(r, dq[head])
				end := head + 1
				for end < len(dq) && costKey(r, dq[end]) == low {
					end++
				}
				if budget -= end - head; budget < 0 {
					return false
				}
				for i := end - 1; i >= head; i-- {
					tp := dq[i]
					v := prev[r+a*tp]
					cand := value{cost: v.cost + p*int64(s-tp), allocs: v.allocs + b.allocs(s-tp)}
					if cand.less(best) {
						best, n = cand, s-tp
					}
				}
			}
			cur[g], used[g] = best, int32(n)
		}
	}
	return true
}

// allocs is the fewest items of the block that hold n nodes (0 < n <= cap).
func (b *block) allocs(n int) int32 {
	return int32(sort.SearchInts(b.cum, n) + 1)
}

// nodes reconstructs the nodes per item of the best way to reach exactly g
// GPUs, adding them to out (offer index → nodes).
func (t *table) nodes(g int, out map[int]int) {
	if t.left != nil {
		if x := int(t.split[g]); x > 0 {
			t.right.nodes(x, out)
			g -= x
		}
		t.left.nodes(g, out)
		return
	}
	for k := len(t.blocks) - 1; k >= 0; k-- {
		n := int(t.used[k][g])
		b := &t.blocks[k]
		g -= n * b.size
		for _, it := range b.items {
			if n == 0 {
				break
			}
			take := n
			if it.cap != Unlimited {
				take = min(n, it.cap)
			}
			out[it.offer] += it.nodesOf(take)
			n -= take
		}
	}
	if g != 0 {
		panic("planner: table reconstruction did not reach zero GPUs")
	}
}

// best returns the best total in [lo, limit]: lowest cost, then fewest
// GPUs, then fewest allocations (f[g] already has the fewest allocations
// for its cost).
func (t *table) best(lo int) (int, value, bool) {
	bestG, bestV := -1, infinite
	for g := lo; g <= t.limit; g++ {
		if t.f[g].cost < bestV.cost {
			bestG, bestV = g, t.f[g]
		}
	}
	return bestG, bestV, bestG >= 0
}
