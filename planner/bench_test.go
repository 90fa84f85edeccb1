package planner

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

// benchRequests are the request shapes the benchmarks plan.
var benchRequests = []struct {
	name string
	req  Request
}{
	// The README's request: H100/H200 in the EU over at least two clouds.
	{"eu-spread", Request{GPUModels: []string{"H100", "H200"}, Residency: []string{"EU"},
		CapacityTypes: []CapacityType{OnDemand, Spot}, Spread: Spread{MinClouds: 2, MaxShare: 0.6}}},
	// Any GPU with at least 40 GiB anywhere, any node size: the largest
	// eligible set and every node size at once.
	{"global-any", Request{MinGPUMemoryGiB: 40, CapacityTypes: []CapacityType{OnDemand, Spot}}},
	// Three clouds, none above 40%.
	{"three-clouds", Request{GPUModels: []string{"H100", "A100"}, Spread: Spread{MinClouds: 3, MaxShare: 0.4}}},
}

func BenchmarkPlanEmbedded(b *testing.B) {
	c := Embedded()
	for _, rq := range benchRequests {
		for _, gpus := range []int{8, 512, 4096} {
			b.Run(fmt.Sprintf("%s/gpus=%d", rq.name, gpus), func(b *testing.B) {
				req := rq.req
				req.GPUs = gpus
				b.ReportAllocs()
				for b.Loop() {
					if _, err := Plan(c, req); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// syntheticCatalog builds n offers over the embedded region table: four GPU
// models, node sizes 1/2/4/8, on-demand and spot, prices spread ±30% around
// a per-model base, a third of the offers with a max_nodes of 1-20.
func syntheticCatalog(tb testing.TB, n int) *Catalog {
	rng := rand.New(rand.NewPCG(uint64(n), 42))
	regions := EmbeddedRegions()
	models := []struct {
		name string
		mem  float64
		base float64
	}{{"H100", 80, 10}, {"H200", 141, 12}, {"A100", 40, 4}, {"L4", 24, 1}}
	offers := make([]Offer, 0, n)
	for i := 0; len(offers) < n; i++ {
		r := regions[rng.IntN(len(regions))]
		m := models[rng.IntN(len(models))]
		size := []int{1, 2, 4, 8}[rng.IntN(4)]
		o := Offer{
			Cloud: r.Cloud, Region: r.Name, Zone: fmt.Sprintf("%s-%c", r.Name, 'a'+rng.IntN(3)),
			InstanceType: fmt.Sprintf("syn-%s-%dg-%d", m.name, size, i), GPUModel: m.name, GPUCount: size,
			GPUMemoryGiB: m.mem, CapacityType: CapacityTypes[rng.IntN(2)],
			PriceUSDHour: float64(size) * m.base * (0.7 + 0.6*rng.Float64()), MaxNodes: Unlimited, Interconnect: NVLink,
		}
		if rng.IntN(3) == 0 {
			o.MaxNodes = 1 + rng.IntN(20)
		}
		offers = append(offers, o)
	}
	c, err := NewCatalog(offers, regions, "", nil)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func BenchmarkPlanSynthetic(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		c := syntheticCatalog(b, n)
		for _, rq := range benchRequests {
			for _, gpus := range []int{512, 4096} {
				b.Run(fmt.Sprintf("offers=%d/%s/gpus=%d", n, rq.name, gpus), func(b *testing.B) {
					req := rq.req
					req.GPUs = gpus
					b.ReportAllocs()
					for b.Loop() {
						if _, err := Plan(c, req); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}

// BenchmarkParseEmbedded measures loading the embedded catalog (done once
// per process).
func BenchmarkParseEmbedded(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseCatalog("offers.csv", embeddedOffersCSV); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseSynthetic measures reading a catalog file of 100,000 offers
// (the synthetic catalog written as CSV, max_nodes on a third of the rows).
func BenchmarkParseSynthetic(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString(csvHeader + ",max_nodes\n")
	for _, o := range syntheticCatalog(b, 100_000).Offers {
		maxNodes := ""
		if o.MaxNodes != Unlimited {
			maxNodes = strconv.Itoa(o.MaxNodes)
		}
		price := strconv.FormatFloat(o.PriceUSDHour, 'f', 4, 64)
		if o.CapacityType == Spot { // a row of its own, priced as spot
			o.InstanceType += "-spot"
		}
		fmt.Fprintf(&buf, "%s,%s,%s,%d,%g,%d,%g,%s,%s,%s,%s,%s\n", o.Cloud, o.InstanceType, o.GPUModel, o.GPUCount, o.GPUMemoryGiB,
			o.VCPUs, o.MemoryGiB, o.Region, o.Zone, price, "", maxNodes)
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseCatalog("synthetic.csv", data); err != nil {
			b.Fatal(err)
		}
	}
}

// withReservations is the embedded catalog plus what a team holds ahead:
// two AWS reservations of p5.48xlarge (16 and 8 H100s) in Stockholm, a
// GCP reservation of 4 a3-highgpu-8g, and three AWS capacity blocks of 4
// nodes each starting over a week.
func withReservations(tb testing.TB) *Catalog {
	c := Embedded()
	find := func(cloud, region, instanceType string) Offer {
		for _, o := range c.Offers {
			if o.Cloud == cloud && o.Region == region && o.InstanceType == instanceType && o.CapacityType == OnDemand {
				return o
			}
		}
		tb.Fatalf("no %s %s %s in the embedded catalog", cloud, region, instanceType)
		return Offer{}
	}
	reserve := func(o Offer, id string, nodes int) Offer {
		o.CapacityType, o.ReservationID, o.MaxNodes, o.PriceUSDHour = Reserved, id, nodes, 0
		return o
	}
	p5 := find("aws", "eu-north-1", "p5.48xlarge")
	a3 := find("gcp", "europe-west1", "a3-highgpu-8g")
	extra := []Offer{reserve(p5, "cr-16", 2), reserve(p5, "cr-8", 1), reserve(a3, "gcp-res-1", 4)}
	for i, start := range []string{"2026-12-07T00:00:00Z", "2026-12-09T00:00:00Z", "2026-12-11T00:00:00Z"} {
		b := p5
		b.CapacityType, b.ReservationID, b.MaxNodes, b.StartTime, b.DurationHours = CapacityBlock, fmt.Sprintf("cb-%d", i), 4, start, 48
		b.UpfrontUSD, b.PriceUSDHour = 4*48*p5.PriceUSDHour*0.6, 0
		extra = append(extra, b)
	}
	out, err := NewCatalog(append(slices.Clone(c.Offers), extra...), EmbeddedRegions(), "", nil)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// BenchmarkPlanReservations is BenchmarkPlanEmbedded's eu-spread request
// on the embedded catalog with and without reservations and blocks (the
// same request, capacity types on_demand and spot plus the new kinds
// where there are some), so the two figures compare the cost of the kinds.
func BenchmarkPlanReservations(b *testing.B) {
	for _, cat := range []struct {
		name  string
		c     *Catalog
		kinds []CapacityType
	}{
		{"without", Embedded(), []CapacityType{OnDemand, Spot}},
		{"with", withReservations(b), []CapacityType{OnDemand, Spot, Reserved, CapacityBlock}},
	} {
		for _, gpus := range []int{64, 512} {
			b.Run(fmt.Sprintf("%s/gpus=%d", cat.name, gpus), func(b *testing.B) {
				req := benchRequests[0].req
				req.GPUs, req.CapacityTypes = gpus, cat.kinds
				b.ReportAllocs()
				for b.Loop() {
					if _, err := Plan(cat.c, req); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
