package planner

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// Benchmarks of issue 19: gang placements on a large catalog, and catalogs
// whose offers tie on price per GPU (where pruning by price alone fails).

// BenchmarkPlanGang plans a gang (every node in one zone) on the synthetic
// catalog: about 420 zones, each solved on its own.
func BenchmarkPlanGang(b *testing.B) {
	c := syntheticCatalog(b, 100_000)
	for _, gpus := range []int{4096, 32768} {
		b.Run(fmt.Sprintf("offers=100000/gpus=%d", gpus), func(b *testing.B) {
			req := Request{GPUs: gpus, MinGPUMemoryGiB: 40, CapacityTypes: []CapacityType{OnDemand, Spot}, Gang: true}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Plan(c, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// tiedCatalog has 12 unlimited offers, four node sizes on each of three
// clouds, all at 2 USD per GPU-hour.
func tiedCatalog(tb testing.TB) *Catalog {
	var offers []Offer
	for _, s := range []site{{"aws", "eu-central-1", "euc1-az1"}, {"gcp", "europe-west4", "europe-west4-a"}, {"azure", "westeurope", ""}} {
		for _, size := range []int{1, 2, 4, 8} {
			offers = append(offers, testOffer(s.cloud, s.region, s.zone, fmt.Sprintf("tie%d", size), size, 2*float64(size)))
		}
	}
	c, err := NewCatalog(offers, EmbeddedRegions(), "", nil)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// smallNodesCatalog has n one-GPU offers over the embedded regions (three
// zones each), each with 1 to 3 nodes, at 2 USD per GPU-hour, or at one of
// a few prices around it when varied.
func smallNodesCatalog(tb testing.TB, n int, varied bool) *Catalog {
	rng := rand.New(rand.NewPCG(uint64(n), 19))
	regions := EmbeddedRegions()
	offers := make([]Offer, 0, n)
	for i := 0; len(offers) < n; i++ {
		r := regions[rng.IntN(len(regions))]
		price := 2.0
		if varied {
			price = 1.8 + 0.05*float64(rng.IntN(9))
		}
		offers = append(offers, testOffer(r.Cloud, r.Name, fmt.Sprintf("%s-%c", r.Name, 'a'+rng.IntN(3)),
			fmt.Sprintf("one-%d", i), 1, price, withMaxNodes(1+rng.IntN(3))))
	}
	c, err := NewCatalog(offers, regions, "", nil)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// BenchmarkPlanTies: equal prices per GPU everywhere, with and without a
// spread.
func BenchmarkPlanTies(b *testing.B) {
	spread := Spread{MinClouds: 2, MaxShare: 0.6}
	run := func(name string, c *Catalog, req Request) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Plan(c, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	tied := tiedCatalog(b)
	for _, gpus := range []int{8192, 32768} {
		run(fmt.Sprintf("offers=12/spread/gpus=%d", gpus), tied, Request{GPUs: gpus, Spread: spread})
	}
	for _, varied := range []bool{false, true} {
		c := smallNodesCatalog(b, 20_000, varied)
		prices := "equal"
		if varied {
			prices = "varied"
		}
		run(fmt.Sprintf("offers=20000/one-gpu/%s/gpus=32768", prices), c, Request{GPUs: 32768})
		run(fmt.Sprintf("offers=20000/one-gpu/%s/spread/gpus=32768", prices), c, Request{GPUs: 32768, Spread: spread})
		run(fmt.Sprintf("offers=20000/one-gpu/%s/gang/gpus=16", prices), c, Request{GPUs: 16, Gang: true})
	}
}
