package planner

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
)

// site is a region of the embedded region table used by generated instances.
type site struct{ cloud, region, zone string }

var testSites = []site{
	{"aws", "eu-central-1", "euc1-az1"}, {"aws", "eu-central-1", "euc1-az2"}, {"aws", "us-east-1", "use1-az1"},
	{"gcp", "europe-west4", "europe-west4-a"}, {"gcp", "us-central1", "us-central1-a"},
	{"azure", "westeurope", ""}, {"azure", "switzerlandnorth", ""}, {"azure", "eastus", ""},
}

// randomInstance builds a small catalog and request. Prices come from a
// small set so that ties are frequent; about one offer in five is unlimited
// when allowUnlimited is set.
func randomInstance(rng *rand.Rand, allowUnlimited bool) (*Catalog, Request) {
	n := 2 + rng.IntN(4)
	var offers []Offer
	used := map[string]bool{}
	for len(offers) < n {
		s := testSites[rng.IntN(len(testSites))]
		size := []int{1, 2, 4, 8}[rng.IntN(4)]
		o := Offer{
			Cloud: s.cloud, Region: s.region, Zone: s.zone, InstanceType: fmt.Sprintf("x%d.%d", size, rng.IntN(2)),
			GPUModel: []string{"H100", "A100"}[rng.IntN(2)], GPUCount: size, GPUMemoryGiB: 80,
			CapacityType: CapacityTypes[rng.IntN(2)], PriceUSDHour: float64(size*(2+rng.IntN(3))) + float64(rng.IntN(3)),
			MaxNodes: rng.IntN(5), Interconnect: PCIe,
		}
		if allowUnlimited && rng.IntN(5) == 0 {
			o.MaxNodes = Unlimited
		}
		if used[o.ID()] {
			continue
		}
		used[o.ID()] = true
		offers = append(offers, o)
	}
	c, err := NewCatalog(offers, EmbeddedRegions(), "", nil)
	if err != nil {
		panic(err)
	}
	req := Request{GPUs: 1 + rng.IntN(20), CapacityTypes: []CapacityType{OnDemand, Spot}}
	switch rng.IntN(10) {
	case 0:
		req.CapacityTypes = []CapacityType{OnDemand}
	case 1:
		req.GPUModels = []string{c.Offers[0].GPUModel}
	case 2:
		req.Residency = []string{"EU"}
	case 3:
		req.DenyResidency = []string{"US"}
	case 4:
		req.GPUsPerNode = []int{1, 2, 4, 8}[rng.IntN(4)]
	case 5:
		req.MaxPricePerGPUHour = 3.5
	}
	switch rng.IntN(6) {
	case 0:
		req.Spread.MinClouds = 2
	case 1:
		req.Spread.MaxShare = []float64{0.5, 0.6, 0.75}[rng.IntN(3)]
	case 2:
		req.Spread = Spread{MinClouds: 2, MaxShare: 0.6}
	case 3:
		req.Gang = true
	}
	return c, req
}

// bruteForce enumerates every node vector with at most bound GPUs in total
// (finite caps and the catalog's limits are respected; unlimited offers are
// bounded by the total) and returns the best by cost, then GPUs, then allocations.
func bruteForce(c *Catalog, req Request, bound int) (best value, bestT int, found bool) {
	n, err := req.Normalize(c)
	if err != nil {
		panic(err)
	}
	elig := eligibleOffers(c, &n)
	nodes := make([]int, len(elig))
	var rec func(i, total int)
	rec = func(i, total int) {
		if i == len(elig) {
			if total < n.GPUs {
				return
			}
			var v value
			byCloud := map[string]int{}
			zones := map[string]bool{}
			for j, idx := range elig {
				if nodes[j] == 0 {
					continue
				}
				o := &c.Offers[idx]
				v.cost += o.priceMicros() * int64(nodes[j])
				v.allocs++
				byCloud[o.Cloud] += nodes[j] * o.GPUCount
				zones[o.Cloud+"/"+o.Region+"/"+o.Zone] = true
			}
			if n.Gang && len(zones) > 1 {
				return
			}
			if !spreadOK(&n, byCloud, total) {
				return
			}
			for _, l := range c.Limits {
				used := 0
				for j, idx := range elig {
					if l.Matches(&c.Offers[idx]) {
						used += nodes[j] * c.Offers[idx].GPUCount
					}
				}
				if used > l.MaxGPUs {
					return
				}
			}
			if !found || v.cost < best.cost || (v.cost == best.cost && (total < bestT || (total == bestT && v.allocs < best.allocs))) {
				best, bestT, found = v, total, true
			}
			return
		}
		o := &c.Offers[elig[i]]
		step := 1
		if o.wholeBlock() {
			step = o.MaxNodes // a capacity block: every node or none
		}
		for k := 0; total+k*o.GPUCount <= bound && (o.MaxNodes == Unlimited || k <= o.MaxNodes); k += step {
			nodes[i] = k
			rec(i+1, total+k*o.GPUCount)
		}
		nodes[i] = 0
	}
	rec(0, 0)
	return best, bestT, found
}

// checkPlacement verifies a placement against the request independently of
// the solver and returns its value.
func checkPlacement(t *testing.T, c *Catalog, req Request, p *Placement) value {
	t.Helper()
	n, _ := req.Normalize(c)
	var v value
	total := 0
	byCloud := map[string]int{}
	zones := map[string]bool{}
	for _, a := range p.Allocations {
		o := a.Offer
		if r, d := newOfferFilter(c, &n).check(&o); r != "" {
			t.Fatalf("allocation %s violates %s: %s", o.ID(), r, d)
		}
		if o.MaxNodes != Unlimited && a.Nodes > o.MaxNodes {
			t.Fatalf("allocation %s uses %d nodes, %d obtainable", o.ID(), a.Nodes, o.MaxNodes)
		}
		if o.wholeBlock() && a.Nodes != o.MaxNodes {
			t.Fatalf("allocation %s uses %d nodes of a block of %d", o.ID(), a.Nodes, o.MaxNodes)
		}
		v.cost += o.priceMicros() * int64(a.Nodes)
		v.allocs++
		total += a.GPUs
		byCloud[o.Cloud] += a.GPUs
		zones[o.Cloud+"/"+o.Region+"/"+o.Zone] = true
	}
	if total != p.TotalGPUs || total < n.GPUs {
		t.Fatalf("total GPUs %d (reported %d), requested %d", total, p.TotalGPUs, n.GPUs)
	}
	if n.Gang && len(zones) != 1 {
		t.Fatalf("gang placement spans %d zones", len(zones))
	}
	if !spreadOK(&n, byCloud, total) {
		t.Fatalf("spread violated: %v of %d", byCloud, total)
	}
	checkLimits(t, c, p)
	if usdToMicros(p.TotalHourlyUSD) != v.cost {
		t.Fatalf("total hourly %v, allocations sum to %d micro-USD", p.TotalHourlyUSD, v.cost)
	}
	if len(p.Rejected)+len(p.Allocations) != len(c.Offers) {
		t.Fatalf("%d rejections + %d allocations != %d offers", len(p.Rejected), len(p.Allocations), len(c.Offers))
	}
	return v
}

// TestPlanMatchesBruteForce compares the solver with exhaustive enumeration
// on random small instances: finite availability everywhere, so the
// enumeration is complete and the two must agree on cost, GPUs and
// allocations, and on infeasibility.
func TestPlanMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(propertySeed, 2))
	feasibleCount := 0
	for i := range 1500 {
		c, req := randomInstance(rng, false)
		if matchBruteForce(t, i, c, req) != nil {
			feasibleCount++
		}
	}
	if feasibleCount < 500 {
		t.Fatalf("only %d feasible instances compared, want at least 500", feasibleCount)
	}
	t.Logf("%d feasible instances matched", feasibleCount)
}

// matchBruteForce plans instance i and checks it against exhaustive
// enumeration (every offer finite): the same cost, GPUs and allocations,
// or both infeasible. It returns the placement, nil when infeasible.
func matchBruteForce(t *testing.T, i int, c *Catalog, req Request) *Placement {
	t.Helper()
	want, wantT, ok := bruteForce(c, req, unlimitedGPUs)
	p, err := Plan(c, req)
	if !ok {
		var inf *InfeasibleError
		if !errors.As(err, &inf) {
			t.Fatalf("instance %d: brute force finds nothing, Plan returned %v, %v", i, p, err)
		}
		return nil
	}
	if err != nil {
		t.Fatalf("instance %d: brute force found cost %d with %d GPUs, Plan failed: %v\nrequest %+v\noffers %+v", i, want.cost, wantT, err, req, c.Offers)
	}
	got := checkPlacement(t, c, req, p)
	if got != want || p.TotalGPUs != wantT {
		t.Fatalf("instance %d: Plan %+v with %d GPUs, brute force %+v with %d GPUs\nrequest %+v\noffers %+v", i, got, p.TotalGPUs, want, wantT, req, c.Offers)
	}
	return p
}

// TestPlanUnlimitedAgainstBoundedBruteForce covers unlimited offers: the
// enumeration is complete up to a bound on total GPUs, so the solver must
// match it whenever its own answer is within the bound, and beat it
// otherwise.
func TestPlanUnlimitedAgainstBoundedBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(propertySeed+2, 4))
	compared := 0
	for i := range 1200 {
		c, req := randomInstance(rng, true)
		req.GPUs = 1 + rng.IntN(10)
		bound := 3*req.GPUs + 16
		want, wantT, ok := bruteForce(c, req, bound)
		p, err := Plan(c, req)
		if err != nil {
			if ok {
				t.Fatalf("instance %d: brute force found cost %d, Plan failed: %v", i, want.cost, err)
			}
			continue
		}
		got := checkPlacement(t, c, req, p)
		switch {
		case p.TotalGPUs <= bound:
			if !ok || got != want || p.TotalGPUs != wantT {
				t.Fatalf("instance %d: Plan %+v with %d GPUs, brute force %+v with %d GPUs (found %v)\nrequest %+v\noffers %+v", i, got, p.TotalGPUs, want, wantT, ok, req, c.Offers)
			}
			compared++
		case ok && got.cost >= want.cost:
			t.Fatalf("instance %d: Plan uses %d GPUs beyond the bound at cost %d, brute force has %d", i, p.TotalGPUs, got.cost, want.cost)
		}
	}
	if compared < 500 {
		t.Fatalf("only %d instances compared, want at least 500", compared)
	}
	t.Logf("%d instances matched", compared)
}

// propertySeed seeds the property tests; change it locally to explore other instances.
var propertySeed uint64 = 1
