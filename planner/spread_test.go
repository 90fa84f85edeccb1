package planner

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
)

// issue19Catalog is the catalog of issue 19, where floor(max_share*T) makes
// the spread's lower bound oscillate in the total T.
func issue19Catalog(t testing.TB) *Catalog {
	return mustCatalog(t,
		testOffer("aws", "eu-central-1", "euc1-az1", "p8", 8, 8),
		testOffer("gcp", "europe-west4", "europe-west4-a", "g1", 1, 3),
		testOffer("gcp", "europe-west4", "europe-west4-a", "g8", 8, 23.20, withMaxNodes(3)),
		testOffer("azure", "westeurope", "", "z4", 4, 20),
		testOffer("azure", "westeurope", "", "z1", 1, 5.20, withMaxNodes(5)),
	)
}

// TestSpreadSearchDoesNotStopEarly: the cheapest placement of at least 8
// (or 7) GPUs over two clouds with at most half on one has 16 GPUs (aws 8 +
// gcp 8 for 31.20), beyond totals whose bound already exceeds the 32.00 of
// the best 8-GPU placement.
func TestSpreadSearchDoesNotStopEarly(t *testing.T) {
	c := issue19Catalog(t)
	for _, gpus := range []int{7, 8, 16} {
		p := mustPlan(t, c, Request{GPUs: gpus, Spread: Spread{MinClouds: 2, MaxShare: 0.5}})
		if p.TotalHourlyUSD != 31.20 || p.TotalGPUs != 16 {
			t.Errorf("gpus %d: %.2f USD for %d GPUs %+v, want 31.20 for 16", gpus, p.TotalHourlyUSD, p.TotalGPUs, p.GPUsByCloud())
		}
	}
}

// oscillatingInstance builds a small catalog and spread request where
// floor(max_share*T) makes the best placement's total jump above the
// request: two or three clouds (mostly three), odd node sizes, clouds of
// very different prices per GPU (so that a larger total, which lets the
// cheap ones hold more, can cost less), tight shares, and finite
// availability so that exhaustive enumeration is complete.
func oscillatingInstance(rng *rand.Rand) (*Catalog, Request) {
	clouds := []site{
		{"aws", "eu-central-1", "euc1-az1"}, {"gcp", "europe-west4", "europe-west4-a"},
		{"azure", "westeurope", ""},
	}[:2+min(1, rng.IntN(4))]
	sizes := []int{1, 2, 3, 5, 7, 8, 9}
	var offers []Offer
	used := map[string]bool{}
	n := len(clouds) + rng.IntN(3)
	for len(offers) < n {
		ci := len(offers)
		if ci >= len(clouds) {
			ci = rng.IntN(len(clouds))
		}
		s := clouds[ci]
		// Per GPU, cloud 0 is cheap, cloud 1 costs about half as much again and
		// cloud 2 more than both together; cloud 0 mostly has large nodes,
		// cloud 2 small ones. A larger total lets the cheap
		// clouds hold a large node more, and at an odd total both may
		// hold one GPU less and cloud 2 must take it: the bound for one
		// total oscillates. Small nodes cost a little more per GPU.
		size := sizes[rng.IntN(len(sizes))]
		switch {
		case ci == 0 && rng.IntN(4) > 0:
			size = sizes[3+rng.IntN(4)]
		case ci == 2 && rng.IntN(4) > 0:
			size = sizes[rng.IntN(3)]
		}
		perGPU := []float64{1, 1.5, 6}[ci%3] + 0.5*float64(rng.IntN(3))
		if size < 4 {
			perGPU += 0.25 * float64(rng.IntN(3))
		}
		o := testOffer(s.cloud, s.region, s.zone, fmt.Sprintf("n%d.%d", size, rng.IntN(3)), size,
			float64(size)*perGPU, withMaxNodes(1+rng.IntN(5)))
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
	req := Request{GPUs: 1 + rng.IntN(24), Spread: Spread{
		MinClouds: 1 + rng.IntN(2),
		MaxShare:  []float64{0.34, 0.4, 0.45, 0.5, 0.5, 0.5, 0.5, 0.5, 0.55, 0.6, 0.67}[rng.IntN(11)],
	}}
	return c, req
}

// TestSpreadOscillatingShareMatchesBruteForce: on generated cases where the
// share's floor makes the spread bound oscillate, Plan matches exhaustive
// enumeration on cost, GPUs and allocations, and on infeasibility; enough
// of them have their best total above the request to matter.
func TestSpreadOscillatingShareMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(propertySeed, 19))
	feasible, above := 0, 0
	for i := range 3000 {
		c, req := oscillatingInstance(rng)
		want, wantT, ok := bruteForce(c, req, unlimitedGPUs)
		p, err := Plan(c, req)
		if !ok {
			var inf *InfeasibleError
			if !errors.As(err, &inf) {
				t.Fatalf("instance %d: brute force finds nothing, Plan returned %v, %v", i, p, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("instance %d: brute force found cost %d with %d GPUs, Plan failed: %v\nrequest %+v\noffers %+v", i, want.cost, wantT, err, req, c.Offers)
		}
		feasible++
		if wantT > req.GPUs {
			above++
		}
		if got := checkPlacement(t, c, req, p); got != want || p.TotalGPUs != wantT {
			t.Fatalf("instance %d: Plan %+v with %d GPUs, brute force %+v with %d GPUs\nrequest %+v\noffers %+v", i, got, p.TotalGPUs, want, wantT, req, c.Offers)
		}
	}
	if feasible < 1000 || above < 300 {
		t.Fatalf("%d feasible instances, %d with the best total above the request; want at least 1000 and 300", feasible, above)
	}
	t.Logf("%d feasible instances matched, %d with the best total above the request", feasible, above)
}
