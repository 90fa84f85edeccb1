package planner

import (
	"maps"
	"math/rand/v2"
	"testing"
)

// itemTable is the knapsack item by item (every item its own block), the
// reference for buildTable's blocks.
func itemTable(all []item, limit int) *table {
	t := &table{items: pruneItems(all, limit), limit: limit}
	prev, cur := make([]value, limit+1), make([]value, limit+1)
	for g := range prev {
		prev[g] = infinite
	}
	prev[0] = value{}
	dq := make([]int, 0, limit+1)
	for _, it := range t.items {
		used := make([]int32, limit+1)
		knapsackItem(it, prev, cur, used, dq, limit)
		t.blocks = append(t.blocks, block{items: []item{it}, size: it.size, price: it.price, cap: it.cap, cum: []int{it.cap}})
		t.used = append(t.used, used)
		prev, cur = cur, prev
	}
	t.f = prev
	return t
}

// TestBlocksMatchItems: a table built with blocks of equal size and price
// has the values and reconstructs the nodes of the table built item by
// item, ties included, on random items with many equal prices (and some of
// another size at the same price per GPU, where ties in cost are long).
func TestBlocksMatchItems(t *testing.T) {
	rng := rand.New(rand.NewPCG(propertySeed, 23))
	blocks := 0
	for i := range 3000 {
		var items []item
		for k := range 2 + rng.IntN(12) {
			size := []int{1, 1, 2, 3, 4}[rng.IntN(5)]
			it := item{offer: k, size: size, price: int64(size) * int64(2+rng.IntN(2)), cap: 1 + rng.IntN(4)}
			if rng.IntN(3) == 0 {
				it.price += int64(rng.IntN(2))
			}
			if rng.IntN(12) == 0 {
				it.cap = Unlimited
			}
			items = append(items, it)
		}
		limit := 1 + rng.IntN(40)
		got, want := buildTable(items, limit), itemTable(items, limit)
		if len(got.blocks) < len(want.blocks) {
			blocks++
		}
		for g := 0; g <= limit; g++ {
			if got.f[g] != want.f[g] {
				t.Fatalf("case %d: f[%d] = %+v, item by item %+v\nitems %+v", i, g, got.f[g], want.f[g], items)
			}
			if !got.f[g].finite() {
				continue
			}
			a, b := map[int]int{}, map[int]int{}
			got.nodes(g, a)
			want.nodes(g, b)
			if !maps.Equal(a, b) {
				t.Fatalf("case %d: nodes for %d GPUs %v, item by item %v\nitems %+v", i, g, a, b, items)
			}
		}
	}
	if blocks < 1000 {
		t.Fatalf("only %d cases had blocks of several items", blocks)
	}
	t.Logf("%d cases with blocks of several items", blocks)
}
