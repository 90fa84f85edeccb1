package planner

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// checkLimits verifies, independently of the solver, that a placement keeps
// every limit of the catalog, and that each fallback keeps them when it
// replaces its allocation.
func checkLimits(t *testing.T, c *Catalog, p *Placement) {
	t.Helper()
	usage := func(swapped int, with *Fallback) []int {
		out := make([]int, len(c.Limits))
		for i, l := range c.Limits {
			for ai, a := range p.Allocations {
				if ai == swapped {
					if l.Matches(&with.Offer) {
						out[i] += with.Nodes * with.Offer.GPUCount
					}
					continue
				}
				if l.Matches(&a.Offer) {
					out[i] += a.GPUs
				}
			}
		}
		return out
	}
	for i, u := range usage(-1, nil) {
		if u > c.Limits[i].MaxGPUs {
			t.Fatalf("placement takes %d GPUs under %s", u, c.Limits[i])
		}
	}
	for ai, a := range p.Allocations {
		for _, f := range a.Fallbacks {
			for i, u := range usage(ai, &f) {
				if u > c.Limits[i].MaxGPUs {
					t.Fatalf("fallback %s for %s takes %d GPUs under %s", f.Offer.ID(), a.Offer.ID(), u, c.Limits[i])
				}
			}
		}
	}
}

// randomLimits draws nested and disjoint limits over the catalog's offers,
// the shapes clouds use: all regions of a cloud ⊃ one region ⊃ one region
// and capacity type ⊃ some instance types of those. Caps are tight (below
// what the scope holds) or loose, and sometimes below one node.
func randomLimits(rng *rand.Rand, c *Catalog) []Limit {
	var out []Limit
	add := func(l Limit) {
		l.Name = fmt.Sprintf("L%d", len(out))
		l.MaxGPUs = []int{0, 2, 4, 6, 8, 12, 16, 24, 40, 64, 100}[rng.IntN(11)]
		out = append(out, l)
	}
	for _, cloud := range c.Clouds() {
		if rng.IntN(3) == 0 {
			add(Limit{Cloud: cloud})
		}
		regions := map[string]bool{}
		for _, o := range c.Offers {
			if o.Cloud == cloud {
				regions[o.Region] = true
			}
		}
		for _, region := range sortedKeys(regions) {
			if rng.IntN(3) == 0 {
				add(Limit{Cloud: cloud, Region: region})
			}
			for _, ct := range CapacityTypes {
				if rng.IntN(3) == 0 {
					add(Limit{Cloud: cloud, Region: region, CapacityType: ct})
				}
				if rng.IntN(3) == 0 {
					var types []string
					for _, o := range c.Offers {
						if o.Cloud == cloud && o.Region == region && rng.IntN(2) == 0 {
							types = append(types, o.InstanceType)
						}
					}
					if len(types) > 0 {
						add(Limit{Cloud: cloud, Region: region, CapacityType: ct, InstanceTypes: types})
					}
				}
			}
		}
	}
	return out
}

func withLimits(t testing.TB, c *Catalog, limits ...Limit) *Catalog {
	t.Helper()
	out, err := c.Adjust(Adjustments{Limits: limits})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPlanWithLimitsMatchesBruteForce compares the solver with exhaustive
// enumeration that respects the limits, on random small catalogs with
// random nested and disjoint limits and requests with spread, gang and
// filters. Finite availability everywhere, so the enumeration is complete:
// cost, GPUs, allocations and infeasibility must agree, and every placement
// and fallback must keep the limits.
func TestPlanWithLimitsMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(propertySeed, 11))
	feasibleCount, bound, quotaInfeasible := 0, 0, 0
	for i := range 3000 {
		base, req := randomInstance(rng, false)
		limits := randomLimits(rng, base)
		if len(limits) == 0 {
			continue
		}
		c := withLimits(t, base, limits...)
		want, wantT, ok := bruteForce(c, req, unlimitedGPUs)
		p, err := Plan(c, req)
		if !ok {
			var inf *InfeasibleError
			if !errors.As(err, &inf) {
				t.Fatalf("instance %d: brute force finds nothing, Plan returned %v, %v", i, p, err)
			}
			// Feasible without the limits: the error must blame a quota.
			if _, _, okFree := bruteForce(base, req, unlimitedGPUs); okFree {
				quotaInfeasible++
				if inf.Constraint != "quota" || inf.Quota == "" && !strings.Contains(inf.Message, "together") {
					t.Fatalf("instance %d: infeasible only because of limits, error says %s: %s (quota %q)", i, inf.Constraint, inf.Message, inf.Quota)
				}
			}
			continue
		}
		feasibleCount++
		if err != nil {
			t.Fatalf("instance %d: brute force found cost %d with %d GPUs, Plan failed: %v\nrequest %+v\nlimits %+v\noffers %+v", i, want.cost, wantT, err, req, c.Limits, c.Offers)
		}
		got := checkPlacement(t, c, req, p)
		if got != want || p.TotalGPUs != wantT {
			t.Fatalf("instance %d: Plan %+v with %d GPUs, brute force %+v with %d GPUs\nrequest %+v\nlimits %+v\noffers %+v", i, got, p.TotalGPUs, want, wantT, req, c.Limits, c.Offers)
		}
		if free, _, okFree := bruteForce(base, req, unlimitedGPUs); okFree && free != want {
			bound++
		}
	}
	if feasibleCount < 500 || bound < 100 || quotaInfeasible < 50 {
		t.Fatalf("%d feasible instances compared, %d where limits changed the answer, %d infeasible because of a quota; want at least 500, 100 and 50",
			feasibleCount, bound, quotaInfeasible)
	}
	t.Logf("%d feasible instances matched, %d where limits changed the answer, %d infeasible because of a quota", feasibleCount, bound, quotaInfeasible)
}

// TestPlanWithLimitsUnlimitedOffers: unlimited offers under limits; the
// enumeration is complete up to a bound, as in
// TestPlanUnlimitedAgainstBoundedBruteForce.
func TestPlanWithLimitsUnlimitedOffers(t *testing.T) {
	rng := rand.New(rand.NewPCG(propertySeed+5, 13))
	compared := 0
	for i := range 1500 {
		base, req := randomInstance(rng, true)
		req.GPUs = 1 + rng.IntN(10)
		c := withLimits(t, base, randomLimits(rng, base)...)
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
				t.Fatalf("instance %d: Plan %+v with %d GPUs, brute force %+v with %d GPUs (found %v)\nrequest %+v\nlimits %+v\noffers %+v", i, got, p.TotalGPUs, want, wantT, ok, req, c.Limits, c.Offers)
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

// TestPlanWithAnyLimits draws limits of any shape, crossing ones included:
// Plan must either refuse with *LimitsCrossError or match the brute force
// exactly (crossing limits that cannot bind, or that are nested within
// every group the solver combines, do not stop it).
func TestPlanWithAnyLimits(t *testing.T) {
	rng := rand.New(rand.NewPCG(propertySeed, 17))
	compared, refused := 0, 0
	for i := range 3000 {
		base, req := randomInstance(rng, false)
		var limits []Limit
		for range 2 + rng.IntN(3) {
			o := base.Offers[rng.IntN(len(base.Offers))]
			l := Limit{Name: fmt.Sprintf("L%d", len(limits)), Cloud: o.Cloud, MaxGPUs: []int{0, 4, 8, 12, 16, 24}[rng.IntN(6)]}
			if rng.IntN(3) == 0 {
				l.Region = o.Region
			}
			if rng.IntN(3) == 0 {
				l.CapacityType = CapacityTypes[rng.IntN(2)]
			}
			for _, other := range base.Offers {
				if other.Cloud == o.Cloud && rng.IntN(2) == 0 {
					l.InstanceTypes = append(l.InstanceTypes, other.InstanceType)
				}
			}
			limits = append(limits, l)
		}
		c := withLimits(t, base, limits...)
		want, wantT, ok := bruteForce(c, req, unlimitedGPUs)
		p, err := Plan(c, req)
		var cross *LimitsCrossError
		if errors.As(err, &cross) {
			refused++
			continue
		}
		if !ok {
			var inf *InfeasibleError
			if !errors.As(err, &inf) {
				t.Fatalf("instance %d: brute force finds nothing, Plan returned %v, %v", i, p, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("instance %d: brute force found cost %d, Plan failed: %v\nrequest %+v\nlimits %+v\noffers %+v", i, want.cost, err, req, c.Limits, c.Offers)
		}
		if got := checkPlacement(t, c, req, p); got != want || p.TotalGPUs != wantT {
			t.Fatalf("instance %d: Plan %+v with %d GPUs, brute force %+v with %d GPUs\nrequest %+v\nlimits %+v\noffers %+v", i, got, p.TotalGPUs, want, wantT, req, c.Limits, c.Offers)
		}
		compared++
	}
	if compared < 500 || refused < 3 {
		t.Fatalf("%d instances compared, %d refused as crossing; want at least 500 and 3", compared, refused)
	}
	t.Logf("%d instances compared, %d refused as crossing", compared, refused)
}

// realisticQuotas are quotas shaped like the clouds' own over the catalog's
// offers, with caps drawn from 64 to 512 GPUs: AWS per region and GPU family
// (instance types of one GPU model), on-demand and spot apart; GCP per
// region and GPU model, on-demand and preemptible apart, inside a 1024-GPU
// GPUS_ALL_REGIONS; Azure per region and family on-demand and one
// low-priority quota per region for spot.
func realisticQuotas(c *Catalog, seed uint64) []Limit {
	rng := rand.New(rand.NewPCG(seed, 99))
	caps := []int{64, 96, 128, 192, 256, 384, 512}
	type key struct{ cloud, region, model string }
	types := map[key]map[string]bool{}
	var keys []key
	for _, o := range c.Offers {
		k := key{o.Cloud, o.Region, o.GPUModel}
		if types[k] == nil {
			types[k] = map[string]bool{}
			keys = append(keys, k)
		}
		types[k][o.InstanceType] = true
	}
	slices.SortFunc(keys, func(a, b key) int {
		return strings.Compare(a.cloud+"/"+a.region+"/"+a.model, b.cloud+"/"+b.region+"/"+b.model)
	})
	var out []Limit
	lowPriority := map[string]bool{}
	for _, k := range keys {
		its := sortedKeys(types[k])
		switch k.cloud {
		case "aws":
			out = append(out,
				Limit{Name: "Running On-Demand " + k.model + " instances", Cloud: k.cloud, Region: k.region, InstanceTypes: its, CapacityType: OnDemand, MaxGPUs: caps[rng.IntN(len(caps))]},
				Limit{Name: "All " + k.model + " Spot Instance Requests", Cloud: k.cloud, Region: k.region, InstanceTypes: its, CapacityType: Spot, MaxGPUs: caps[rng.IntN(len(caps))]})
		case "gcp":
			out = append(out,
				Limit{Name: "NVIDIA_" + k.model + "_GPUS", Cloud: k.cloud, Region: k.region, InstanceTypes: its, CapacityType: OnDemand, MaxGPUs: caps[rng.IntN(len(caps))]},
				Limit{Name: "PREEMPTIBLE_NVIDIA_" + k.model + "_GPUS", Cloud: k.cloud, Region: k.region, InstanceTypes: its, CapacityType: Spot, MaxGPUs: caps[rng.IntN(len(caps))]})
		case "azure":
			out = append(out, Limit{Name: "standard" + k.model + "Family", Cloud: k.cloud, Region: k.region, InstanceTypes: its, CapacityType: OnDemand, MaxGPUs: caps[rng.IntN(len(caps))]})
			if !lowPriority[k.region] {
				lowPriority[k.region] = true
				out = append(out, Limit{Name: "lowPriorityCores", Cloud: k.cloud, Region: k.region, CapacityType: Spot, MaxGPUs: caps[rng.IntN(len(caps))]})
			}
		}
	}
	return append(out, Limit{Name: "GPUS_ALL_REGIONS", Cloud: "gcp", MaxGPUs: 1024})
}

// quotaRequests are the request shapes planned under realistic quotas.
var quotaRequests = []Request{
	{GPUs: 64, GPUModels: []string{"H100", "H200"}, GPUsPerNode: 8, Residency: []string{"EU"}, Spread: Spread{MinClouds: 2, MaxShare: 0.6}},
	{GPUs: 700, GPUModels: []string{"H100"}, Spread: Spread{MinClouds: 3, MaxShare: 0.4}},
	{GPUs: 1500, MinGPUMemoryGiB: 40, CapacityTypes: []CapacityType{OnDemand, Spot}},
	{GPUs: 200, GPUModels: []string{"A100"}, Gang: true},
	{GPUs: 600, GPUModels: []string{"L4", "T4"}, Residency: []string{"JP", "SG"}, CapacityTypes: []CapacityType{OnDemand, Spot}},
	{GPUs: 2000, GPUModels: []string{"H100"}},
}

// TestPlanDeterministicWithLimits: shuffling the catalog's rows and its
// limits never changes a byte of a placement or an error, and the quotas
// are kept.
func TestPlanDeterministicWithLimits(t *testing.T) {
	emb := Embedded()
	limits := realisticQuotas(emb, 1)
	c := withLimits(t, emb, limits...)
	rng := rand.New(rand.NewPCG(8, 8))
	for _, req := range quotaRequests {
		p, err := Plan(c, req)
		if err == nil {
			checkLimits(t, c, p)
		}
		want, _ := json.Marshal(p)
		want = append(want, fmt.Sprint(err)...)
		for range 2 {
			offers := slices.Clone(emb.Offers)
			rng.Shuffle(len(offers), func(i, j int) { offers[i], offers[j] = offers[j], offers[i] })
			ls := slices.Clone(limits)
			rng.Shuffle(len(ls), func(i, j int) { ls[i], ls[j] = ls[j], ls[i] })
			sc, err := NewCatalog(offers, EmbeddedRegions(), "2026-11-25", nil)
			if err != nil {
				t.Fatal(err)
			}
			sc = withLimits(t, sc, ls...)
			if sc.Version != c.Version {
				t.Fatalf("version %s after shuffle, want %s", sc.Version, c.Version)
			}
			sp, err := Plan(sc, req)
			got, _ := json.Marshal(sp)
			got = append(got, fmt.Sprint(err)...)
			if !bytes.Equal(got, want) {
				t.Fatalf("request %+v: placement differs after shuffling the catalog and its limits", req)
			}
		}
	}
}

// quotaCatalog: two cheap aws offers share the 8-GPU quota Q, a dearer gcp
// offer has 2 nodes, and an azure offer sits under a quota smaller than its
// node.
func quotaCatalog(t *testing.T) *Catalog {
	c := mustCatalog(t,
		testOffer("aws", "eu-central-1", "euc1-az1", "p5", 8, 40),
		testOffer("aws", "eu-central-1", "euc1-az2", "p5", 8, 45),
		testOffer("gcp", "europe-west4", "europe-west4-a", "a3", 8, 80, withMaxNodes(2)),
		testOffer("azure", "westeurope", "", "nd", 8, 30),
	)
	return withLimits(t, c,
		Limit{Name: "Q", Cloud: "aws", Region: "eu-central-1", InstanceTypes: []string{"p5"}, CapacityType: OnDemand, MaxGPUs: 8},
		Limit{Name: "Tiny", Cloud: "azure", Region: "westeurope", MaxGPUs: 4},
		Limit{Name: "Unused", Cloud: "gcp", Region: "us-central1", MaxGPUs: 0},
	)
}

func TestQuotaExplanations(t *testing.T) {
	c := quotaCatalog(t)
	p := mustPlan(t, c, Request{GPUs: 16})
	if len(p.Allocations) != 2 || p.Allocations[0].Offer.Zone != "euc1-az1" || p.Allocations[1].Offer.Cloud != "gcp" {
		t.Fatalf("placement %+v", p.Allocations)
	}
	byID := map[string]Rejection{}
	for _, r := range p.Rejected {
		byID[r.OfferID] = r
	}
	tests := []struct {
		id     string
		reason Reason
		detail []string
	}{
		{"aws/eu-central-1/euc1-az2/p5/on_demand", ReasonQuota, []string{`quota "Q"`, "max 8 GPUs", "is exhausted", "takes 8 of its GPUs"}},
		{"azure/westeurope//nd/on_demand", ReasonQuota, []string{`quota "Tiny"`, "max 4 GPUs", "no room for one 8-GPU node"}},
	}
	for _, tt := range tests {
		r := byID[tt.id]
		if r.Reason != tt.reason {
			t.Errorf("%s: reason %q (%s), want %q", tt.id, r.Reason, r.Detail, tt.reason)
		}
		for _, d := range tt.detail {
			if !strings.Contains(r.Detail, d) {
				t.Errorf("%s: detail %q lacks %q", tt.id, r.Detail, d)
			}
		}
	}
	// The gcp allocation's fallbacks may not put a second node under Q.
	for _, f := range p.Allocations[1].Fallbacks {
		if f.Offer.Cloud == "aws" {
			t.Errorf("fallback %s breaks quota Q", f.Offer.ID())
		}
	}
	checkLimits(t, c, p)
}

func TestQuotaInfeasible(t *testing.T) {
	c := quotaCatalog(t)
	tests := []struct {
		name        string
		req         Request
		quota       string
		message     []string
		relaxations []string
	}{
		// Q allows one aws node and gcp has two: 24 GPUs; 32 need Q at 16.
		{"one quota", Request{GPUs: 32}, "Q", []string{`quota "Q" (aws eu-central-1, p5, on_demand, max 8 GPUs) caps the request`, "at 24 GPUs", "falls short by 8 GPUs", "max_gpus 16 would place 32"},
			[]string{"gpus <= 24"}},
		// A gang fits in one aws zone only with more quota.
		{"gang", Request{GPUs: 24, Clouds: []string{"aws"}, Gang: true}, "Q", []string{"at 8 GPUs", "falls short by 16 GPUs"},
			[]string{"gpus <= 8"}},
		// Azure's quota is below one node: the filter removes it.
		{"below one node", Request{GPUs: 8, Clouds: []string{"azure"}}, "Tiny", []string{`quota "Tiny"`, "at 0 GPUs", "falls short by 4 GPUs"},
			[]string{"clouds include aws"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Plan(c, tt.req)
			var inf *InfeasibleError
			if !errors.As(err, &inf) {
				t.Fatalf("error %v, want *InfeasibleError", err)
			}
			if inf.Constraint != "quota" || inf.Quota != tt.quota {
				t.Fatalf("constraint %q quota %q: %s", inf.Constraint, inf.Quota, inf.Message)
			}
			for _, m := range tt.message {
				if !strings.Contains(inf.Message, m) {
					t.Errorf("message %q lacks %q", inf.Message, m)
				}
			}
			var got []string
			for _, r := range inf.Relaxations {
				got = append(got, r.String())
			}
			if !slices.Equal(got, tt.relaxations) {
				t.Errorf("relaxations %q, want %q", got, tt.relaxations)
			}
		})
	}
}

func TestLimitsCross(t *testing.T) {
	c := withLimits(t, mustCatalog(t,
		testOffer("aws", "eu-central-1", "euc1-az1", "p5", 8, 40),
		testOffer("aws", "eu-central-1", "euc1-az1", "p5", 8, 20, withSpot()),
		testOffer("aws", "eu-central-1", "euc1-az1", "p4d", 8, 30, withModel("A100", 40), withSpot()),
	),
		Limit{Name: "P5", Cloud: "aws", Region: "eu-central-1", InstanceTypes: []string{"p5"}, MaxGPUs: 16},
		Limit{Name: "Spot", Cloud: "aws", Region: "eu-central-1", CapacityType: Spot, MaxGPUs: 16},
	)
	_, err := Plan(c, Request{GPUs: 24, CapacityTypes: []CapacityType{OnDemand, Spot}})
	var cross *LimitsCrossError
	if !errors.As(err, &cross) || !strings.Contains(err.Error(), `quota "P5"`) || !strings.Contains(err.Error(), `quota "Spot"`) {
		t.Fatalf("error %v, want *LimitsCrossError naming P5 and Spot", err)
	}
	// A gang solves zone by zone: the error holds there too.
	if _, err := Plan(c, Request{GPUs: 24, CapacityTypes: []CapacityType{OnDemand, Spot}, Gang: true}); !errors.As(err, &cross) {
		t.Fatalf("gang: error %v, want *LimitsCrossError", err)
	}
	// 8 GPUs: no placement worth considering (at most 15 GPUs) can reach
	// either cap, so neither binds and the plan is exact.
	if p := mustPlan(t, c, Request{GPUs: 8, CapacityTypes: []CapacityType{OnDemand, Spot}}); p.TotalGPUs != 8 || p.Allocations[0].Offer.ID() != "aws/eu-central-1/euc1-az1/p5/spot" {
		t.Fatalf("placement %+v", p.Allocations)
	}
	// On-demand only, the spot quota holds no eligible offer: no crossing.
	if p := mustPlan(t, c, Request{GPUs: 16}); p.TotalGPUs != 16 {
		t.Fatalf("placement %+v", p.Allocations)
	}
}

// TestSpotScoreRanksEqualPrices: between spot offers of one price, the
// higher spot placement score wins the tie; without scores the order is
// alphabetical as before.
func TestSpotScoreRanksEqualPrices(t *testing.T) {
	c := mustCatalog(t,
		testOffer("aws", "eu-central-1", "euc1-az1", "p5", 8, 15, withSpot()),
		testOffer("aws", "eu-central-1", "euc1-az2", "p5", 8, 15, withSpot()),
	)
	req := Request{GPUs: 8, CapacityTypes: []CapacityType{Spot}}
	p, err := Plan(c, req)
	if err != nil || p.Allocations[0].Offer.Zone != "euc1-az1" {
		t.Fatalf("without scores: %v %+v", err, p.Allocations)
	}
	scored, err := c.Adjust(Adjustments{SpotScores: []SpotScoreFact{
		{Cloud: "aws", Region: "eu-central-1", Zone: "euc1-az1", InstanceType: "p5", Score: 3},
		{Cloud: "aws", Region: "eu-central-1", Zone: "euc1-az2", InstanceType: "p5", Score: 9},
	}})
	if err != nil {
		t.Fatal(err)
	}
	p, err = Plan(scored, req)
	if err != nil || p.Allocations[0].Offer.Zone != "euc1-az2" || len(p.Allocations[0].Fallbacks) == 0 || p.Allocations[0].Fallbacks[0].Offer.Zone != "euc1-az1" {
		t.Fatalf("with scores: %v %+v", err, p.Allocations)
	}
}

func TestMinSpotScore(t *testing.T) {
	c := mustCatalog(t,
		testOffer("aws", "eu-central-1", "euc1-az1", "p5", 8, 40),
		testOffer("aws", "eu-central-1", "euc1-az1", "p5", 8, 15, withSpot()),
		testOffer("aws", "eu-central-1", "euc1-az2", "p5", 8, 16, withSpot()),
		testOffer("aws", "us-east-1", "use1-az1", "p5", 8, 17, withSpot()),
	)
	c, err := c.Adjust(Adjustments{SpotScores: []SpotScoreFact{
		{Cloud: "aws", Region: "eu-central-1", InstanceType: "p5", Score: 7},
		{Cloud: "aws", Region: "eu-central-1", Zone: "euc1-az1", InstanceType: "p5", Score: 2},
	}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		min     int
		gpus    int
		want    string // first allocation's offer
		err     string
		reasons map[string]Reason
	}{
		{"off", 0, 8, "aws/eu-central-1/euc1-az1/p5/spot", "", nil},
		{"zone score below", 5, 8, "aws/eu-central-1/euc1-az2/p5/spot", "", map[string]Reason{"aws/eu-central-1/euc1-az1/p5/spot": ReasonSpotScore}},
		{"unknown score kept", 8, 8, "aws/us-east-1/use1-az1/p5/spot", "", map[string]Reason{"aws/eu-central-1/euc1-az2/p5/spot": ReasonSpotScore}},
		{"too high", 11, 8, "", "min_spot_score: must be 0 (no minimum) or a spot placement score from 1 to 10, got 11", nil},
		{"negative", -1, 8, "", "min_spot_score: must be 0", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Plan(c, Request{GPUs: tt.gpus, CapacityTypes: []CapacityType{OnDemand, Spot}, MinSpotScore: tt.min})
			if tt.err != "" {
				var re *RequestError
				if !errors.As(err, &re) || re.Field != "min_spot_score" || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want *RequestError %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Allocations[0].Offer.ID(); got != tt.want {
				t.Fatalf("allocation %s, want %s", got, tt.want)
			}
			for _, r := range p.Rejected {
				if want, ok := tt.reasons[r.OfferID]; ok && (r.Reason != want || !strings.Contains(r.Detail, "below min_spot_score")) {
					t.Fatalf("%s: %s (%s), want %s", r.OfferID, r.Reason, r.Detail, want)
				}
			}
		})
	}
	// Every spot offer scored too low: the error suggests a lower minimum.
	_, err = Plan(c, Request{GPUs: 8, Clouds: []string{"aws"}, Residency: []string{"EU"}, CapacityTypes: []CapacityType{Spot}, MinSpotScore: 9})
	var inf *InfeasibleError
	if !errors.As(err, &inf) || inf.Constraint != "min_spot_score" || !strings.Contains(err.Error(), "min_spot_score <= 7") {
		t.Fatalf("error %v", err)
	}
}

func TestAdjustFacts(t *testing.T) {
	c := mustCatalog(t,
		testOffer("aws", "eu-central-1", "euc1-az1", "p5", 8, 80),
		testOffer("aws", "eu-central-1", "euc1-az1", "p5", 8, 40, withSpot()),
		testOffer("aws", "eu-central-1", "euc1-az2", "p5", 8, 40, withSpot()),
		testOffer("gcp", "europe-west4", "europe-west4-a", "a3", 8, 100),
	)
	get := func(c *Catalog, id string) Offer {
		for _, o := range c.Offers {
			if o.ID() == id {
				return o
			}
		}
		t.Fatalf("no offer %s", id)
		return Offer{}
	}
	q := Limit{Name: "Q", Cloud: "aws", Region: "eu-central-1", MaxGPUs: 16}
	tests := []struct {
		name  string
		adj   Adjustments
		check func(t *testing.T, got *Catalog)
		err   string
	}{
		{"limits are kept in canonical order", Adjustments{Limits: []Limit{{Name: "Z", Cloud: "gcp", MaxGPUs: 8}, q, {Name: "A", Cloud: "aws", InstanceTypes: []string{"p5", "p4d", "p5"}, MaxGPUs: 0}}},
			func(t *testing.T, got *Catalog) {
				var names []string
				for _, l := range got.Limits {
					names = append(names, l.Name)
				}
				if !slices.Equal(names, []string{"A", "Q", "Z"}) || !slices.Equal(got.Limits[0].InstanceTypes, []string{"p4d", "p5"}) {
					t.Fatalf("limits %+v", got.Limits)
				}
			}, ""},
		{"limit matching no offer", Adjustments{Limits: []Limit{{Name: "far", Cloud: "gcp", Region: "us-central1", MaxGPUs: 0}}}, nil, ""},
		{"limit unknown cloud", Adjustments{Limits: []Limit{{Name: "x", Cloud: "oracle", MaxGPUs: 8}}}, nil, `limits[0] ("x"): unknown cloud "oracle"; expected one of aws, azure, gcp`},
		{"limit negative", Adjustments{Limits: []Limit{{Name: "x", Cloud: "aws", MaxGPUs: -1}}}, nil, "max_gpus must be 0 or more, got -1"},
		{"limit capacity type", Adjustments{Limits: []Limit{{Name: "x", Cloud: "aws", CapacityType: "preemptible", MaxGPUs: 1}}}, nil, `capacity type must be "on_demand", "spot" or empty (both), got "preemptible"`},
		{"unavailable zone", Adjustments{Unavailable: []OfferMatch{{Cloud: "aws", Region: "eu-central-1", Zone: "euc1-az2", InstanceType: "p5"}}},
			func(t *testing.T, got *Catalog) {
				if get(got, "aws/eu-central-1/euc1-az2/p5/spot").MaxNodes != 0 || get(got, "aws/eu-central-1/euc1-az1/p5/spot").MaxNodes != Unlimited {
					t.Fatalf("offers %+v", got.Offers)
				}
			}, ""},
		{"unavailable region", Adjustments{Unavailable: []OfferMatch{{Cloud: "aws", Region: "eu-central-1", InstanceType: "p5", CapacityType: Spot}}},
			func(t *testing.T, got *Catalog) {
				if get(got, "aws/eu-central-1/euc1-az2/p5/spot").MaxNodes != 0 || get(got, "aws/eu-central-1/euc1-az1/p5/spot").MaxNodes != 0 ||
					get(got, "aws/eu-central-1/euc1-az1/p5/on_demand").MaxNodes != Unlimited {
					t.Fatalf("offers %+v", got.Offers)
				}
			}, ""},
		{"unavailable unknown cloud", Adjustments{Unavailable: []OfferMatch{{Cloud: "aw"}}}, nil, `unavailable[0]: unknown cloud "aw"`},
		{"spot scores: zone wins, then the lowest", Adjustments{SpotScores: []SpotScoreFact{
			{Cloud: "aws", Region: "eu-central-1", InstanceType: "p5", Score: 3},
			{Cloud: "aws", Region: "eu-central-1", Zone: "euc1-az1", InstanceType: "p5", Score: 9},
			{Cloud: "aws", Region: "eu-central-1", Zone: "euc1-az1", InstanceType: "p5", Score: 8},
			{Cloud: "aws", Region: "eu-central-1", InstanceType: "p5", Score: 5},
		}}, func(t *testing.T, got *Catalog) {
			if s := get(got, "aws/eu-central-1/euc1-az1/p5/spot").SpotScore; s != 8 {
				t.Fatalf("zone score %d, want 8", s)
			}
			if s := get(got, "aws/eu-central-1/euc1-az2/p5/spot").SpotScore; s != 3 {
				t.Fatalf("region score %d, want 3", s)
			}
			if s := get(got, "aws/eu-central-1/euc1-az1/p5/on_demand").SpotScore; s != 0 {
				t.Fatalf("on-demand score %d, want 0", s)
			}
		}, ""},
		{"spot score range", Adjustments{SpotScores: []SpotScoreFact{{Cloud: "aws", Region: "eu-central-1", InstanceType: "p5", Score: 11}}}, nil, "score must be 1 to 10, got 11"},
		{"spot score region", Adjustments{SpotScores: []SpotScoreFact{{Cloud: "aws", InstanceType: "p5", Score: 1}}}, nil, "region and instance type must be set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Adjust(tt.adj)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Version == c.Version {
				t.Errorf("version %s unchanged by a change of facts", got.Version)
			}
			if !strings.HasPrefix(got.Version, "2026-01-01+sha256:") {
				t.Errorf("version %q lost the date", got.Version)
			}
			if tt.check != nil {
				tt.check(t, got)
			}
		})
	}
	// Limits carry over through later adjustments, in any order, and the
	// version depends on them but not on their order.
	a := withLimits(t, c, q, Limit{Name: "G", Cloud: "gcp", MaxGPUs: 8})
	b := withLimits(t, withLimits(t, c, Limit{Name: "G", Cloud: "gcp", MaxGPUs: 8}), q)
	if a.Version != b.Version || len(b.Limits) != 2 {
		t.Fatalf("versions %s and %s, limits %+v", a.Version, b.Version, b.Limits)
	}
	if d, _ := a.Adjust(Adjustments{DiscountPercent: map[string]float64{"aws": 10}}); len(d.Limits) != 2 {
		t.Fatalf("limits lost by a discount: %+v", d.Limits)
	}
	if same, _ := c.Adjust(Adjustments{}); same.Version != c.Version || same.Limits != nil {
		t.Fatalf("empty adjustment changed the version or added limits")
	}
}

// BenchmarkPlanWithQuotas plans the benchmark requests on the embedded
// catalog under realistic quotas (64 to 512 GPUs per cloud, region and GPU
// family and capacity type, GPUS_ALL_REGIONS 1024 on gcp), and without them
// for comparison. Requests that the quotas make infeasible are measured
// with their explanation, the work a caller would see.
func BenchmarkPlanWithQuotas(b *testing.B) {
	emb := Embedded()
	quota, err := emb.Adjust(Adjustments{Limits: realisticQuotas(emb, 1)})
	if err != nil {
		b.Fatal(err)
	}
	for _, cat := range []struct {
		name string
		c    *Catalog
	}{{"quotas", quota}, {"none", emb}} {
		for _, rq := range benchRequests {
			for _, gpus := range []int{64, 512, 4096} {
				b.Run(fmt.Sprintf("%s/%s/gpus=%d", cat.name, rq.name, gpus), func(b *testing.B) {
					req := rq.req
					req.GPUs = gpus
					b.ReportAllocs()
					for b.Loop() {
						_, err := Plan(cat.c, req)
						var inf *InfeasibleError
						if err != nil && !errors.As(err, &inf) {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}
