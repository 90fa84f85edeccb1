package planner

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

var testStarts = []string{"2026-12-07T00:00:00Z", "2026-12-08T09:00:00Z", "2026-12-10T00:00:00Z"}

// randomKindsInstance is randomInstance with every capacity kind: reserved
// capacity (often free, sometimes exhausted), capacity blocks (sold whole),
// flex-start and calendar capacity, and a request that sometimes has a
// time window.
func randomKindsInstance(rng *rand.Rand) (*Catalog, Request) {
	n := 2 + rng.IntN(4)
	var offers []Offer
	used := map[string]bool{}
	for len(offers) < n {
		s := testSites[rng.IntN(len(testSites))]
		size := []int{1, 2, 4, 8}[rng.IntN(4)]
		o := Offer{
			Cloud: s.cloud, Region: s.region, Zone: s.zone, InstanceType: fmt.Sprintf("x%d.%d", size, rng.IntN(2)),
			GPUModel: "H100", GPUCount: size, GPUMemoryGiB: 80,
			CapacityType: AllCapacityTypes[rng.IntN(len(AllCapacityTypes))], PriceUSDHour: float64(size*(2+rng.IntN(3))) + float64(rng.IntN(3)),
			MaxNodes: rng.IntN(5), Interconnect: PCIe,
		}
		switch o.CapacityType {
		case Reserved:
			o.ReservationID = fmt.Sprintf("cr-%d", rng.IntN(3))
			if rng.IntN(2) == 0 {
				o.PriceUSDHour = 0
			}
		case CapacityBlock:
			o.ReservationID = fmt.Sprintf("cb-%d", rng.IntN(3))
			o.MaxNodes = 1 + rng.IntN(3)
			o.StartTime = testStarts[rng.IntN(len(testStarts))]
			o.DurationHours = []int{24, 48}[rng.IntN(2)]
			o.UpfrontUSD = float64(o.DurationHours*o.MaxNodes*size) * float64(1+rng.IntN(4))
			o.PriceUSDHour = 0 // derived
		case Calendar:
			o.ReservationID = fmt.Sprintf("cal-%d", rng.IntN(3))
			o.StartTime = testStarts[rng.IntN(len(testStarts))]
			o.DurationHours = []int{24, 72}[rng.IntN(2)]
		case FlexStart:
			o.MaxRunHours = []int{24, 168}[rng.IntN(2)]
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
	req := Request{GPUs: 1 + rng.IntN(20), CapacityTypes: AllCapacityTypes}
	switch rng.IntN(4) {
	case 0:
		req.StartAfter = testStarts[rng.IntN(len(testStarts))]
	case 1:
		req.DurationHours = []int{24, 48, 100}[rng.IntN(3)]
	case 2:
		req.StartAfter, req.DurationHours = testStarts[1], 48
	}
	if rng.IntN(4) == 0 {
		req.CapacityTypes = nil // on-demand, and reserved where there is some
	}
	switch rng.IntN(5) {
	case 0:
		req.Spread.MaxShare = 0.6
	case 1:
		req.Spread = Spread{MinClouds: 2}
	case 2:
		req.Gang = true
	}
	return c, req
}

// TestPlanKindsMatchBruteForce is TestPlanMatchesBruteForce over every
// capacity kind and time windows: reserved capacity at no or an effective
// price, blocks taken whole, windows deciding what qualifies.
func TestPlanKindsMatchBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(propertySeed, 16))
	feasibleCount, blocks, reserved := 0, 0, 0
	for i := range 1500 {
		c, req := randomKindsInstance(rng)
		p := matchBruteForce(t, i, c, req)
		if p == nil {
			continue
		}
		feasibleCount++
		checkKinds(t, p)
		if p.TotalBlockUSD > 0 {
			blocks++
		}
		if p.ReservedGPUs > 0 {
			reserved++
		}
	}
	if feasibleCount < 500 || blocks < 50 || reserved < 50 {
		t.Fatalf("%d feasible instances (%d with blocks, %d with reservations), want at least 500 (50, 50)", feasibleCount, blocks, reserved)
	}
	t.Logf("%d feasible instances matched, %d using blocks, %d using reservations", feasibleCount, blocks, reserved)
}

// checkKinds checks what a placement reports about its capacity kinds
// against its allocations.
func checkKinds(t *testing.T, p *Placement) {
	t.Helper()
	reserved, start, block := 0, "", int64(0)
	for _, a := range p.Allocations {
		o := a.Offer
		if o.CapacityType == Reserved {
			reserved += a.GPUs
		}
		if a.StartTime != o.StartTime {
			t.Fatalf("allocation %s starts at %q, its offer at %q", o.ID(), a.StartTime, o.StartTime)
		}
		start = max(start, o.StartTime)
		if o.CapacityType == CapacityBlock {
			block += usdToMicros(o.UpfrontUSD)
			if a.BlockUSD != o.UpfrontUSD {
				t.Fatalf("allocation %s reports block price %v, the block costs %v", o.ID(), a.BlockUSD, o.UpfrontUSD)
			}
			if p.Request.StartAfter != "" && o.StartTime < p.Request.StartAfter || o.DurationHours < p.Request.DurationHours {
				t.Fatalf("block %s (%s, %dh) is outside the window %s, %dh", o.ID(), o.StartTime, o.DurationHours, p.Request.StartAfter, p.Request.DurationHours)
			}
		} else if a.BlockUSD != 0 {
			t.Fatalf("allocation %s of kind %s reports a block price", o.ID(), o.CapacityType)
		}
		if o.CapacityType == FlexStart && o.MaxRunHours < p.Request.DurationHours {
			t.Fatalf("flex-start %s runs at most %dh, the request wants %dh", o.ID(), o.MaxRunHours, p.Request.DurationHours)
		}
		for _, f := range a.Fallbacks {
			if f.Offer.CapacityType == CapacityBlock {
				t.Fatalf("allocation %s has the capacity block %s as a fallback", o.ID(), f.Offer.ID())
			}
		}
	}
	if p.ReservedGPUs != reserved || p.StartTime != start || usdToMicros(p.TotalBlockUSD) != block {
		t.Fatalf("placement reports %d reserved GPUs, start %q, blocks %v; allocations: %d, %q, %d micro-USD",
			p.ReservedGPUs, p.StartTime, p.TotalBlockUSD, reserved, start, block)
	}
}

// kindsCatalog is a small catalog with one offer of each kind in
// aws/eu-central-1 and on-demand capacity on GCP.
func kindsCatalog(t *testing.T, extra ...Offer) *Catalog {
	t.Helper()
	base := Offer{Cloud: "aws", Region: "eu-central-1", Zone: "euc1-az1", InstanceType: "p5.48xlarge", GPUModel: "H100",
		GPUCount: 8, GPUMemoryGiB: 80, Interconnect: NVSwitch}
	with := func(f func(*Offer)) Offer { o := base; f(&o); return o }
	offers := []Offer{
		with(func(o *Offer) { o.CapacityType, o.PriceUSDHour, o.MaxNodes = OnDemand, 98.32, Unlimited }),
		with(func(o *Offer) {
			o.CapacityType, o.ReservationID, o.MaxNodes = Reserved, "cr-0123", 2
		}),
		with(func(o *Offer) {
			o.CapacityType, o.ReservationID, o.MaxNodes = CapacityBlock, "cb-0abc", 4
			o.StartTime, o.DurationHours, o.UpfrontUSD = "2026-12-08T09:00:00+01:00", 48, 4*48*8*3.5
		}),
		{Cloud: "gcp", Region: "europe-west4", Zone: "europe-west4-a", InstanceType: "a3-highgpu-8g", GPUModel: "H100", GPUCount: 8,
			GPUMemoryGiB: 80, Interconnect: NVSwitch, CapacityType: FlexStart, PriceUSDHour: 60, MaxNodes: Unlimited, MaxRunHours: 168},
		{Cloud: "gcp", Region: "europe-west4", Zone: "europe-west4-a", InstanceType: "a3-highgpu-8g", GPUModel: "H100", GPUCount: 8,
			GPUMemoryGiB: 80, Interconnect: NVSwitch, CapacityType: OnDemand, PriceUSDHour: 88, MaxNodes: Unlimited},
	}
	c, err := NewCatalog(append(offers, extra...), EmbeddedRegions(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPlanCapacityKinds(t *testing.T) {
	all := []CapacityType{OnDemand, Reserved, CapacityBlock, FlexStart}
	for _, tc := range []struct {
		name  string
		req   Request
		want  []string // allocation offer IDs and nodes
		start string
		block float64
		rej   map[string]Reason
	}{
		{name: "reserved first, the rest on demand (no kinds named)", req: Request{GPUs: 24, Clouds: []string{"aws"}},
			want: []string{"aws/eu-central-1/euc1-az1/p5.48xlarge/on_demand x1", "aws/eu-central-1/euc1-az1/p5.48xlarge/reserved/cr-0123 x2"},
			rej:  map[string]Reason{"aws/eu-central-1/euc1-az1/p5.48xlarge/capacity_block/cb-0abc": ReasonCapacityType}},
		{name: "a whole block when it is cheaper", req: Request{GPUs: 48, CapacityTypes: all, Clouds: []string{"aws"}},
			want:  []string{"aws/eu-central-1/euc1-az1/p5.48xlarge/capacity_block/cb-0abc x4", "aws/eu-central-1/euc1-az1/p5.48xlarge/reserved/cr-0123 x2"},
			start: "2026-12-08T08:00:00Z", block: 5376},
		{name: "the block starts before start_after", req: Request{GPUs: 40, CapacityTypes: all, Clouds: []string{"aws"}, StartAfter: "2026-12-09T00:00:00Z"},
			want: []string{"aws/eu-central-1/euc1-az1/p5.48xlarge/on_demand x3", "aws/eu-central-1/euc1-az1/p5.48xlarge/reserved/cr-0123 x2"},
			rej:  map[string]Reason{"aws/eu-central-1/euc1-az1/p5.48xlarge/capacity_block/cb-0abc": ReasonBlockWindow}},
		{name: "the block is too short", req: Request{GPUs: 40, CapacityTypes: all, Clouds: []string{"aws"}, DurationHours: 72},
			want: []string{"aws/eu-central-1/euc1-az1/p5.48xlarge/on_demand x3", "aws/eu-central-1/euc1-az1/p5.48xlarge/reserved/cr-0123 x2"},
			rej:  map[string]Reason{"aws/eu-central-1/euc1-az1/p5.48xlarge/capacity_block/cb-0abc": ReasonBlockWindow}},
		{name: "flex-start within its max run", req: Request{GPUs: 16, CapacityTypes: []CapacityType{FlexStart, OnDemand}, Clouds: []string{"gcp"}, DurationHours: 100},
			want: []string{"gcp/europe-west4/europe-west4-a/a3-highgpu-8g/flex_start x2"}},
		{name: "flex-start beyond its max run", req: Request{GPUs: 16, CapacityTypes: []CapacityType{FlexStart, OnDemand}, Clouds: []string{"gcp"}, DurationHours: 200},
			want: []string{"gcp/europe-west4/europe-west4-a/a3-highgpu-8g/on_demand x2"},
			rej:  map[string]Reason{"gcp/europe-west4/europe-west4-a/a3-highgpu-8g/flex_start": ReasonMaxRun}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := kindsCatalog(t)
			p, err := Plan(c, tc.req)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range p.Allocations {
				got = append(got, fmt.Sprintf("%s x%d", a.Offer.ID(), a.Nodes))
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("allocations %v, want %v", got, tc.want)
			}
			if p.StartTime != tc.start || p.TotalBlockUSD != tc.block {
				t.Fatalf("start %q, block cost %v; want %q, %v", p.StartTime, p.TotalBlockUSD, tc.start, tc.block)
			}
			checkKinds(t, p)
			for _, r := range p.Rejected {
				if want, ok := tc.rej[r.OfferID]; ok && r.Reason != want {
					t.Errorf("%s rejected as %s (%s), want %s", r.OfferID, r.Reason, r.Detail, want)
				}
			}
		})
	}
}

func TestReservationExhausted(t *testing.T) {
	c := kindsCatalog(t, Offer{Cloud: "aws", Region: "eu-central-1", Zone: "euc1-az2", InstanceType: "p5.48xlarge", GPUModel: "H100",
		GPUCount: 8, GPUMemoryGiB: 80, Interconnect: NVSwitch, CapacityType: Reserved, ReservationID: "cr-full", MaxNodes: 0})
	p, err := Plan(c, Request{GPUs: 8})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range p.Rejected {
		if strings.HasSuffix(r.OfferID, "/cr-full") {
			if r.Reason != ReasonReservationExhausted || r.Detail != "reservation cr-full has no free instance" {
				t.Fatalf("rejection %+v", r)
			}
			return
		}
	}
	t.Fatal("cr-full not rejected")
}

func TestCapacityKindValidation(t *testing.T) {
	base := Offer{Cloud: "aws", Region: "eu-central-1", InstanceType: "p5.48xlarge", GPUModel: "H100", GPUCount: 8, MaxNodes: 2}
	for _, tc := range []struct {
		name string
		edit func(*Offer)
		want string
	}{
		{"reserved without id", func(o *Offer) { o.CapacityType = Reserved }, "reservation_id is empty"},
		{"reserved with negative price", func(o *Offer) { o.CapacityType, o.ReservationID, o.PriceUSDHour = Reserved, "r", -1 }, "effective price"},
		{"on-demand free", func(o *Offer) { o.CapacityType = OnDemand }, "price must be a positive"},
		{"block without start", func(o *Offer) {
			o.CapacityType, o.ReservationID, o.DurationHours, o.UpfrontUSD = CapacityBlock, "b", 24, 100
		}, "start_time is empty"},
		{"block bought (no upfront price) with an hourly price", func(o *Offer) {
			o.CapacityType, o.ReservationID, o.StartTime, o.DurationHours, o.PriceUSDHour = CapacityBlock, "b", testStarts[0], 24, 1
		}, "a capacity block already bought (upfront_price 0) is paid for: its price must be 0"},
		{"block with a negative upfront price", func(o *Offer) {
			o.CapacityType, o.ReservationID, o.StartTime, o.DurationHours, o.UpfrontUSD, o.PriceUSDHour = CapacityBlock, "b", testStarts[0], 24, -5, 1
		}, "upfront_price must be 0 (a block already bought) or a positive"},
		{"block of unlimited nodes", func(o *Offer) {
			o.CapacityType, o.ReservationID, o.StartTime, o.DurationHours, o.UpfrontUSD, o.PriceUSDHour, o.MaxNodes = CapacityBlock, "b", testStarts[0], 24, 100, 1, Unlimited
		}, "instance count"},
		{"bad start", func(o *Offer) {
			o.CapacityType, o.ReservationID, o.StartTime, o.DurationHours, o.UpfrontUSD = CapacityBlock, "b", "tuesday", 24, 100
		}, "start_time: \"tuesday\" is not an RFC 3339 time"},
		{"flex-start without max run", func(o *Offer) { o.CapacityType, o.PriceUSDHour = FlexStart, 5 }, "max_run_hours must be a positive"},
		{"on-demand with a window", func(o *Offer) { o.CapacityType, o.PriceUSDHour, o.StartTime = OnDemand, 5, testStarts[0] }, "start_time and duration_hours are for"},
		{"unknown kind", func(o *Offer) { o.CapacityType, o.PriceUSDHour = "savings_plan", 5 }, "capacity type must be one of"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := base
			tc.edit(&o)
			_, err := NewCatalog([]Offer{o}, EmbeddedRegions(), "", nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestBoughtBlock: a capacity block already bought is priced 0 (upfront
// and per hour) and is not to buy; an offering (upfront > 0) is. Both are
// valid catalog offers, and a plan on the bought one costs nothing.
func TestBoughtBlock(t *testing.T) {
	offering := Offer{Cloud: "aws", Region: "eu-central-1", Zone: "euc1-az1", InstanceType: "p5.48xlarge", GPUModel: "H100", GPUCount: 8,
		CapacityType: CapacityBlock, ReservationID: "cb-0abc", StartTime: testStarts[1], DurationHours: 24, MaxNodes: 2, UpfrontUSD: 1152}
	bought := offering
	bought.ReservationID, bought.UpfrontUSD = "cr-0b0", 0
	c, err := NewCatalog([]Offer{offering, bought}, EmbeddedRegions(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range c.Offers {
		if o.ToBuy() != (o.ReservationID == "cb-0abc") {
			t.Errorf("%s: ToBuy = %v", o.ID(), o.ToBuy())
		}
	}
	p, err := Plan(c, Request{GPUs: 16, CapacityTypes: []CapacityType{CapacityBlock}})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Allocations) != 1 || p.Allocations[0].Offer.ReservationID != "cr-0b0" || p.TotalHourlyUSD != 0 || p.TotalBlockUSD != 0 {
		t.Fatalf("placement %+v, want the bought block at no cost", p.Allocations)
	}
}

func TestRequestWindowNormalize(t *testing.T) {
	c := kindsCatalog(t)
	n, err := Request{GPUs: 8, StartAfter: "2026-12-08T10:00:00+01:00", DurationHours: 48}.Normalize(c)
	if err != nil {
		t.Fatal(err)
	}
	if n.StartAfter != "2026-12-08T09:00:00Z" || !slices.Equal(n.CapacityTypes, []CapacityType{OnDemand, Reserved}) {
		t.Fatalf("normalized %+v", n)
	}
	for _, tc := range []struct {
		req   Request
		field string
	}{
		{Request{GPUs: 8, StartAfter: "next week"}, "start_after"},
		{Request{GPUs: 8, DurationHours: -1}, "duration_hours"},
		{Request{GPUs: 8, CapacityTypes: []CapacityType{"reservd"}}, "capacity_types[0]"},
	} {
		_, err := tc.req.Normalize(c)
		var re *RequestError
		if !errors.As(err, &re) || re.Field != tc.field {
			t.Fatalf("%+v: error %v, want one for %s", tc.req, err, tc.field)
		}
	}
}
