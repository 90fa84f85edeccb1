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

// testOffer builds an offer with defaults; opts adjust it.
func testOffer(cloud, region, zone, instanceType string, gpus int, price float64, opts ...func(*Offer)) Offer {
	o := Offer{
		Cloud: cloud, Region: region, Zone: zone, InstanceType: instanceType, GPUModel: "H100", GPUCount: gpus,
		GPUMemoryGiB: 80, VCPUs: 96, MemoryGiB: 1024, CapacityType: OnDemand, PriceUSDHour: price,
		MaxNodes: Unlimited, Interconnect: NVSwitch,
	}
	for _, f := range opts {
		f(&o)
	}
	return o
}

func withModel(m string, mem float64) func(*Offer) {
	return func(o *Offer) { o.GPUModel, o.GPUMemoryGiB = m, mem }
}
func withMaxNodes(n int) func(*Offer)              { return func(o *Offer) { o.MaxNodes = n } }
func withSpot() func(*Offer)                       { return func(o *Offer) { o.CapacityType = Spot } }
func withSpotScore(s int) func(*Offer)             { return func(o *Offer) { o.SpotScore = s } }
func withInterconnect(i Interconnect) func(*Offer) { return func(o *Offer) { o.Interconnect = i } }

// withKind sets the capacity kind and its fields from k.
func withKind(k Offer) func(*Offer) {
	return func(o *Offer) {
		o.CapacityType, o.ReservationID, o.MaxNodes = k.CapacityType, k.ReservationID, k.MaxNodes
		o.StartTime, o.DurationHours, o.UpfrontUSD, o.MaxRunHours = k.StartTime, k.DurationHours, k.UpfrontUSD, k.MaxRunHours
	}
}

func mustCatalog(t testing.TB, offers ...Offer) *Catalog {
	t.Helper()
	c, err := NewCatalog(offers, EmbeddedRegions(), "2026-01-01", nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustPlan(t testing.TB, c *Catalog, req Request) *Placement {
	t.Helper()
	p, err := Plan(c, req)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPlanDeterministic: shuffling the catalog's rows never changes a byte
// of the placement.
func TestPlanDeterministic(t *testing.T) {
	emb := Embedded()
	requests := []Request{
		{GPUs: 64, GPUModels: []string{"H100", "H200"}, GPUsPerNode: 8, Residency: []string{"EU"}, Spread: Spread{MinClouds: 2, MaxShare: 0.6}},
		{GPUs: 512, GPUModels: []string{"H100"}, Spread: Spread{MinClouds: 3, MaxShare: 0.4}},
		{GPUs: 37, MinGPUMemoryGiB: 40, CapacityTypes: []CapacityType{OnDemand, Spot}},
		{GPUs: 16, GPUModels: []string{"A100"}, Gang: true},
		{GPUs: 24, GPUModels: []string{"L4", "T4"}, Residency: []string{"JP", "SG"}},
	}
	rng := rand.New(rand.NewPCG(7, 7))
	for _, req := range requests {
		want, err := json.Marshal(mustPlan(t, emb, req))
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			shuffled := slices.Clone(emb.Offers)
			rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
			c, err := NewCatalog(shuffled, EmbeddedRegions(), "2026-11-25", nil)
			if err != nil {
				t.Fatal(err)
			}
			if c.Version != emb.Version {
				t.Fatalf("version %s after shuffle, want %s", c.Version, emb.Version)
			}
			got, _ := json.Marshal(mustPlan(t, c, req))
			if !bytes.Equal(got, want) {
				t.Fatalf("request %+v: placement differs after shuffling the catalog", req)
			}
		}
	}
}

// TestResidencyNeverViolated: for random residency rules on the embedded
// catalog, every allocation and every fallback is in an allowed region and
// none in a denied one.
func TestResidencyNeverViolated(t *testing.T) {
	c := Embedded()
	codes := []string{"EU", "US", "UK", "CH", "JP", "DE", "FR", "SE", "GB", "IN", "aws/eu-central-1", "gcp/europe-west4", "azure/westeurope"}
	rng := rand.New(rand.NewPCG(5, 9))
	checked := 0
	for range 150 {
		req := Request{GPUs: 1 + rng.IntN(128), CapacityTypes: []CapacityType{OnDemand, Spot}}
		for range 1 + rng.IntN(3) {
			req.Residency = append(req.Residency, codes[rng.IntN(len(codes))])
		}
		if rng.IntN(3) == 0 {
			req.DenyResidency = []string{codes[rng.IntN(len(codes))]}
		}
		if rng.IntN(2) == 0 {
			req.Spread = Spread{MinClouds: 2, MaxShare: 0.7}
		}
		p, err := Plan(c, req)
		var inf *InfeasibleError
		if errors.As(err, &inf) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		n, _ := req.Normalize(c)
		for _, a := range p.Allocations {
			offers := []Offer{a.Offer}
			for _, f := range a.Fallbacks {
				offers = append(offers, f.Offer)
			}
			for _, o := range offers {
				r, _ := c.Region(o.Cloud, o.Region)
				if !matchesResidency(r, n.Residency) || matchesResidency(r, n.DenyResidency) {
					t.Fatalf("%s (%s/%s) placed for residency %v deny %v", o.ID(), r.Country, r.Jurisdiction, n.Residency, n.DenyResidency)
				}
				checked++
			}
		}
	}
	if checked < 100 {
		t.Fatalf("only %d offers checked", checked)
	}
}

// TestRejectionReasons exercises every reason on a crafted catalog.
func TestRejectionReasons(t *testing.T) {
	tests := []struct {
		name   string
		offers []Offer
		req    Request
		reject string // offer ID
		want   Reason
	}{
		{"cloud", []Offer{testOffer("aws", "eu-central-1", "euc1-az1", "p5", 8, 50), testOffer("gcp", "europe-west4", "europe-west4-a", "a3", 8, 40)},
			Request{GPUs: 8, Clouds: []string{"aws"}}, "gcp/europe-west4/europe-west4-a/a3/on_demand", ReasonCloud},
		{"capacity_type", []Offer{testOffer("aws", "eu-central-1", "euc1-az1", "p5", 8, 50), testOffer("aws", "eu-central-1", "euc1-az1", "p5", 8, 20, withSpot())},
			Request{GPUs: 8}, "aws/eu-central-1/euc1-az1/p5/spot", ReasonCapacityType},
		{"gpu_model", []Offer{testOffer("aws", "eu-central-1", "euc1-az1", "p5", 8, 50), testOffer("aws", "eu-central-1", "euc1-az1", "p4d", 8, 30, withModel("A100", 40))},
			Request{GPUs: 8, GPUModels: []string{"h100"}}, "aws/eu-central-1/euc1-az1/p4d/on_demand", ReasonGPUModel},
		{"gpu_memory", []Offer{testOffer("aws", "eu-central-1", "euc1-az1", "p5", 8, 50), testOffer("aws", "eu-central-1", "euc1-az1", "p4d", 8, 30, withModel("A100", 40))},
			Request{GPUs: 8, MinGPUMemoryGiB: 80}, "aws/eu-central-1/euc1-az1/p4d/on_demand", ReasonGPUMemory},
		{"gpus_per_node", []Offer{testOffer("aws", "eu-central-1", "euc1-az1", "p5", 8, 50), testOffer("aws", "eu-central-1", "euc1-az1", "p5.4x", 1, 5)},
			Request{GPUs: 8, GPUsPerNode: 8}, "aws/eu-central-1/euc1-az1/p5.4x/on_demand", ReasonGPUsPerNode},
		{"min_gpus_per_node", []Offer{testOffer("aws", "eu-central-1", "euc1-az1", "p5", 8, 50), testOffer("aws", "eu-central-1", "euc1-az1", "p5.4x", 1, 5)},
			Request{GPUs: 8, MinGPUsPerNode: 4}, "aws/eu-central-1/euc1-az1/p5.4x/on_demand", ReasonGPUsPerNode},
		{"interconnect", []Offer{testOffer("aws", "eu-central-1", "euc1-az1", "p5", 8, 50), testOffer("aws", "eu-central-1", "euc1-az1", "g6", 8, 20, withInterconnect(PCIe))},
			Request{GPUs: 8, Interconnect: NVLink}, "aws/eu-central-1/euc1-az1/g6/on_demand", ReasonInterconnect},
		{"residency", []Offer{testOffer("aws", "eu-central-1", "euc1-az1", "p5", 8, 50), testOffer("aws", "us-east-1", "use1-az1", "p5", 8, 40)},
			Request{GPUs: 8, Residency: []string{"EU"}}, "aws/us-east-1/use1-az1/p5/on_demand", ReasonResidency},
		{"deny_residency", []Offer{testOffer("aws", "eu-central-1", "euc1-az1", "p5", 8, 50), testOffer("aws", "us-east-1", "use1-az1", "p5", 8, 40)},
			Request{GPUs: 8, DenyResidency: []string{"US"}}, "aws/us-east-1/use1-az1/p5/on_demand", ReasonResidency},
		{"price_cap", []Offer{testOffer("aws", "eu-central-1", "euc1-az1", "p5", 8, 50), testOffer("aws", "us-east-1", "use1-az1", "p5", 8, 90)},
			Request{GPUs: 8, MaxPricePerGPUHour: 10}, "aws/us-east-1/use1-az1/p5/on_demand", ReasonPriceCap},
		{"spot_score", []Offer{testOffer("aws", "eu-central-1", "euc1-az1", "p5", 8, 50), testOffer("aws", "us-east-1", "use1-az1", "p5", 8, 40, withSpot(), withSpotScore(2))},
			Request{GPUs: 8, CapacityTypes: []CapacityType{OnDemand, Spot}, MinSpotScore: 5}, "aws/us-east-1/use1-az1/p5/spot", ReasonSpotScore},
		{"availability", []Offer{testOffer("aws", "eu-central-1", "euc1-az1", "p5", 8, 50), testOffer("aws", "us-east-1", "use1-az1", "p5", 8, 40, withMaxNodes(0))},
			Request{GPUs: 8}, "aws/us-east-1/use1-az1/p5/on_demand", ReasonAvailability},
		{"block_window", []Offer{testOffer("aws", "eu-central-1", "euc1-az1", "p5", 8, 50), testOffer("aws", "eu-central-1", "euc1-az1", "p5", 8, 0, withKind(Offer{
			CapacityType: CapacityBlock, ReservationID: "cb-1", MaxNodes: 1, StartTime: "2026-12-08T09:00:00Z", DurationHours: 24, UpfrontUSD: 480}))},
			Request{GPUs: 8, CapacityTypes: []CapacityType{OnDemand, CapacityBlock}, StartAfter: "2026-12-09T00:00:00Z"}, "aws/eu-central-1/euc1-az1/p5/capacity_block/cb-1", ReasonBlockWindow},
		{"duration_exceeds_max_run", []Offer{testOffer("aws", "eu-central-1", "euc1-az1", "p5", 8, 50), testOffer("gcp", "europe-west4", "europe-west4-a", "a3", 8, 30, withKind(Offer{
			CapacityType: FlexStart, MaxNodes: Unlimited, MaxRunHours: 168}))},
			Request{GPUs: 8, CapacityTypes: []CapacityType{OnDemand, FlexStart}, DurationHours: 200}, "gcp/europe-west4/europe-west4-a/a3/flex_start", ReasonMaxRun},
		{"reservation_exhausted", []Offer{testOffer("aws", "eu-central-1", "euc1-az1", "p5", 8, 50), testOffer("aws", "eu-central-1", "euc1-az1", "p5", 8, 0, withKind(Offer{
			CapacityType: Reserved, ReservationID: "cr-1", MaxNodes: 0}))},
			Request{GPUs: 8}, "aws/eu-central-1/euc1-az1/p5/reserved/cr-1", ReasonReservationExhausted},
		{"gang", []Offer{testOffer("aws", "eu-central-1", "euc1-az1", "p5", 8, 50, withMaxNodes(2)), testOffer("aws", "eu-central-1", "euc1-az2", "p5", 8, 40, withMaxNodes(1))},
			Request{GPUs: 16, Gang: true}, "aws/eu-central-1/euc1-az2/p5/on_demand", ReasonGang},
		{"spread", []Offer{testOffer("aws", "eu-central-1", "euc1-az1", "p5", 8, 40, withMaxNodes(1)), testOffer("aws", "eu-central-1", "euc1-az2", "p5", 8, 40), testOffer("gcp", "europe-west4", "europe-west4-a", "a3", 8, 90)},
			Request{GPUs: 16, Spread: Spread{MaxShare: 0.5}}, "aws/eu-central-1/euc1-az1/p5/on_demand", ReasonSpread},
		{"more_expensive", []Offer{testOffer("aws", "eu-central-1", "euc1-az1", "p5", 8, 50), testOffer("aws", "eu-central-1", "euc1-az2", "p5", 8, 60)},
			Request{GPUs: 8}, "aws/eu-central-1/euc1-az2/p5/on_demand", ReasonMoreExpensive},
		{"quota", []Offer{testOffer("aws", "eu-central-1", "euc1-az1", "p5", 8, 50), testOffer("aws", "us-east-1", "use1-az1", "p5", 8, 40)},
			Request{GPUs: 8}, "aws/us-east-1/use1-az1/p5/on_demand", ReasonQuota},
	}
	// Catalog limits per test name.
	limits := map[string][]Limit{"quota": {{Name: "P", Cloud: "aws", Region: "us-east-1", MaxGPUs: 4}}}
	seen := map[Reason]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCatalog(t, tt.offers...)
			if ls := limits[tt.name]; ls != nil {
				c = withLimits(t, c, ls...)
			}
			p := mustPlan(t, c, tt.req)
			for _, r := range p.Rejected {
				if r.OfferID == tt.reject {
					if r.Reason != tt.want {
						t.Fatalf("reason %s (%s), want %s", r.Reason, r.Detail, tt.want)
					}
					if r.Detail == "" {
						t.Fatal("empty detail")
					}
					seen[r.Reason] = true
					return
				}
			}
			t.Fatalf("offer %s not rejected; rejected: %+v", tt.reject, p.Rejected)
		})
	}
	for _, r := range Reasons {
		if !seen[r] {
			t.Errorf("reason %s not exercised", r)
		}
	}
}

func TestFallbacksKeepConstraints(t *testing.T) {
	c := mustCatalog(t,
		testOffer("aws", "eu-central-1", "euc1-az1", "p5", 8, 40, withMaxNodes(2)),
		testOffer("aws", "eu-central-1", "euc1-az2", "p5", 8, 45, withMaxNodes(2)),
		testOffer("gcp", "europe-west4", "europe-west4-a", "a3", 8, 60, withMaxNodes(2)),
		testOffer("gcp", "europe-west4", "europe-west4-b", "a3", 8, 70, withMaxNodes(1)),
		testOffer("azure", "westeurope", "", "nd", 8, 100),
		testOffer("aws", "us-east-1", "use1-az1", "p5", 8, 10),
	)
	p := mustPlan(t, c, Request{GPUs: 32, Residency: []string{"EU"}, Spread: Spread{MinClouds: 2, MaxShare: 0.5}})
	if p.TotalGPUs != 32 || len(p.Allocations) != 2 {
		t.Fatalf("placement %+v", p.Allocations)
	}
	aws := p.Allocations[0]
	if aws.Offer.ID() != "aws/eu-central-1/euc1-az1/p5/on_demand" || aws.Nodes != 2 {
		t.Fatalf("first allocation %s x%d", aws.Offer.ID(), aws.Nodes)
	}
	var ids []string
	for _, f := range aws.Fallbacks {
		ids = append(ids, f.Offer.ID())
	}
	// euc1-az2 keeps the split; azure keeps it too; gcp-b has too few nodes
	// and gcp-a would put every GPU on gcp; us-east-1 breaks residency.
	want := []string{"aws/eu-central-1/euc1-az2/p5/on_demand", "azure/westeurope//nd/on_demand"}
	if !slices.Equal(ids, want) {
		t.Fatalf("fallbacks %v, want %v", ids, want)
	}
}

func TestRequestErrors(t *testing.T) {
	c := Embedded()
	tests := []struct {
		req        Request
		field      string
		contains   string
		suggestion string
	}{
		{Request{GPUs: 0}, "gpus", "at least 1", ""},
		{Request{GPUs: 8, GPUModels: []string{"H10"}}, "gpu_models[0]", "unknown GPU model", "H100"},
		{Request{GPUs: 8, GPUModels: []string{"H100", "A10O"}}, "gpu_models[1]", "unknown GPU model", "A100"},
		{Request{GPUs: 8, Residency: []string{"EUR"}}, "residency[0]", "unknown jurisdiction", "EU"},
		{Request{GPUs: 8, DenyResidency: []string{"aws/eu-centrl-1"}}, "deny_residency[0]", "unknown", "aws/eu-central-1"},
		{Request{GPUs: 8, Clouds: []string{"gpc"}}, "clouds[0]", "unknown cloud", "gcp"},
		{Request{GPUs: 8, CapacityTypes: []CapacityType{"preemptible"}}, "capacity_types[0]", "unknown capacity type", ""},
		{Request{GPUs: 8, Spread: Spread{MaxShare: 1.5}}, "spread.max_share", "(0, 1]", ""},
		{Request{GPUs: 8, Spread: Spread{MaxShare: -0.1}}, "spread.max_share", "(0, 1]", ""},
		{Request{GPUs: 8, Spread: Spread{MinClouds: 3}, Clouds: []string{"aws", "gcp"}}, "spread.min_clouds", "allows only 2", ""},
		{Request{GPUs: 8, Spread: Spread{MinClouds: 4}}, "spread.min_clouds", "only 3 clouds", ""},
		{Request{GPUs: 8, Gang: true, Spread: Spread{MinClouds: 2}}, "gang", "conflicts with spread", ""},
		{Request{GPUs: 8, GPUsPerNode: 8, MinGPUsPerNode: 4}, "min_gpus_per_node", "conflicts", ""},
		{Request{GPUs: 8, Interconnect: "infiniband"}, "interconnect", "unknown interconnect", ""},
		{Request{GPUs: 8, MaxPricePerGPUHour: -1}, "max_price_per_gpu_hour", "positive", ""},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			_, err := Plan(c, tt.req)
			var re *RequestError
			if !errors.As(err, &re) {
				t.Fatalf("error %v, want *RequestError", err)
			}
			if re.Field != tt.field || !strings.Contains(re.Message, tt.contains) {
				t.Fatalf("got %s: %s", re.Field, re.Message)
			}
			if tt.suggestion != "" && (len(re.Suggestions) == 0 || re.Suggestions[0] != tt.suggestion) {
				t.Fatalf("suggestions %v, want %s first", re.Suggestions, tt.suggestion)
			}
		})
	}
}

func TestNormalizeCanonicalizes(t *testing.T) {
	n, err := Request{GPUs: 8, GPUModels: []string{"h200", "H100", "h100"}, Residency: []string{"eu", "AWS/us-east-1", "eea"},
		Clouds: []string{"GCP", "aws"}, CapacityTypes: []CapacityType{Spot, OnDemand, Spot}}.Normalize(Embedded())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(n.GPUModels, []string{"H100", "H200"}) || !slices.Equal(n.Residency, []string{"EU", "aws/us-east-1"}) ||
		!slices.Equal(n.Clouds, []string{"aws", "gcp"}) || !slices.Equal(n.CapacityTypes, []CapacityType{OnDemand, Spot}) {
		t.Fatalf("normalized %+v", n)
	}
}

func TestInfeasibleExplains(t *testing.T) {
	eu := []Offer{
		testOffer("aws", "eu-central-1", "euc1-az1", "p5", 8, 40, withMaxNodes(4)),
		testOffer("aws", "eu-central-1", "euc1-az1", "p5", 8, 15, withMaxNodes(4), withSpot()),
		testOffer("gcp", "europe-west4", "europe-west4-a", "a3", 8, 90, withMaxNodes(2)),
		testOffer("azure", "westeurope", "", "nd", 8, 100, withMaxNodes(0)),
		testOffer("azure", "eastus", "", "nd", 8, 80),
		testOffer("aws", "eu-central-1", "euc1-az1", "p4d", 8, 30, withModel("A100", 40), withMaxNodes(10)),
	}
	c := mustCatalog(t, eu...)
	tests := []struct {
		name        string
		req         Request
		constraint  string
		message     string
		relaxations []string
	}{
		{"availability", Request{GPUs: 64, GPUModels: []string{"H100"}, Residency: []string{"EU"}},
			"availability", "at most 48 GPUs are obtainable",
			[]string{"gpus <= 48", "capacity_types add spot", "gpu_models add A100", "residency add US"}},
		{"max_share", Request{GPUs: 48, GPUModels: []string{"H100"}, Residency: []string{"EU"}, Spread: Spread{MaxShare: 0.6}},
			"spread.max_share", "at most 40 GPUs can be placed",
			[]string{"gpus <= 40", "spread.max_share >= 0.67", "residency add US"}},
		{"min_clouds", Request{GPUs: 8, GPUModels: []string{"A100"}, Spread: Spread{MinClouds: 2}},
			"spread.min_clouds", "only 1 cloud (aws) has offers",
			[]string{"spread.min_clouds <= 1", "gpu_models add H100"}},
		{"gang", Request{GPUs: 40, GPUModels: []string{"H100"}, Residency: []string{"EU"}, Gang: true},
			"gang", "no single zone has 40 GPUs; the largest, aws/eu-central-1 zone euc1-az1, has 32",
			[]string{"gpus <= 32", "capacity_types add spot", "gang = false", "gpu_models add A100", "residency add US"}},
		{"filter", Request{GPUs: 8, GPUModels: []string{"A100"}, Residency: []string{"US"}},
			"residency", "no offer in the catalog meets the request",
			[]string{"gpu_models add H100", "residency add EU"}},
		{"price_cap", Request{GPUs: 8, MaxPricePerGPUHour: 3}, "max_price_per_gpu_hour", "no offer",
			[]string{"capacity_types add spot", "max_price_per_gpu_hour >= 3.7500"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Plan(c, tt.req)
			var inf *InfeasibleError
			if !errors.As(err, &inf) {
				t.Fatalf("error %v, want *InfeasibleError", err)
			}
			if inf.Constraint != tt.constraint || !strings.Contains(inf.Message, tt.message) {
				t.Fatalf("got %s: %s", inf.Constraint, inf.Message)
			}
			var got []string
			for _, r := range inf.Relaxations {
				got = append(got, r.String())
			}
			if !slices.Equal(got, tt.relaxations) {
				t.Fatalf("relaxations %q, want %q", got, tt.relaxations)
			}
			if !strings.Contains(err.Error(), "nearest feasible requests: "+strings.Join(tt.relaxations, ", or ")) {
				t.Fatalf("error text %q", err.Error())
			}
		})
	}
}

// TestPlanPrefersExactTieBreaks pins the documented tie order.
func TestPlanTieBreaks(t *testing.T) {
	// Same cost: 2 nodes of 4 (8 GPUs) vs 1 node of 12? Use: 8 GPUs for 80
	// from one 8-GPU node, or 10 GPUs for 80 from five 2-GPU nodes: fewer
	// GPUs wins.
	c := mustCatalog(t,
		testOffer("aws", "eu-central-1", "euc1-az1", "p5", 8, 80),
		testOffer("gcp", "europe-west4", "europe-west4-a", "a3-2g", 2, 16),
	)
	p := mustPlan(t, c, Request{GPUs: 7})
	if p.TotalGPUs != 8 || len(p.Allocations) != 1 || p.Allocations[0].Offer.Cloud != "gcp" {
		// gcp: 4 nodes x 2 = 8 GPUs for 64 is cheaper than aws 80.
		t.Fatalf("placement %+v", p.Allocations)
	}
	// Equal cost and GPUs: one allocation beats two.
	c = mustCatalog(t,
		testOffer("aws", "eu-central-1", "euc1-az1", "a", 4, 40, withMaxNodes(1)),
		testOffer("aws", "eu-central-1", "euc1-az2", "b", 4, 40, withMaxNodes(1)),
		testOffer("aws", "eu-central-1", "euc1-az3", "c", 8, 80, withMaxNodes(1)),
	)
	p = mustPlan(t, c, Request{GPUs: 8})
	if len(p.Allocations) != 1 || p.Allocations[0].Offer.InstanceType != "c" {
		t.Fatalf("placement %+v", p.Allocations)
	}
	// Equal everything: the canonical offer order decides (euc1-az1 first).
	c = mustCatalog(t,
		testOffer("aws", "eu-central-1", "euc1-az2", "p5", 8, 80),
		testOffer("aws", "eu-central-1", "euc1-az1", "p5", 8, 80),
	)
	p = mustPlan(t, c, Request{GPUs: 8})
	if p.Allocations[0].Offer.Zone != "euc1-az1" {
		t.Fatalf("placement %+v", p.Allocations)
	}
}

func TestOffersSortedAndFiltered(t *testing.T) {
	offers, err := Offers(Embedded(), Request{GPUModels: []string{"H100"}, Residency: []string{"EU"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(offers) == 0 {
		t.Fatal("no EU H100 offers in the embedded catalog")
	}
	clouds := map[string]bool{}
	for i, o := range offers {
		clouds[o.Cloud] = true
		if o.GPUModel != "H100" {
			t.Fatalf("offer %s has model %s", o.ID(), o.GPUModel)
		}
		if i > 0 && compareOffers(&offers[i-1], &o) >= 0 {
			t.Fatalf("offers not sorted at %d", i)
		}
	}
	if len(clouds) != 3 {
		t.Fatalf("EU H100 offers on %v, want all three clouds", clouds)
	}
}

// TestDearerDetails checks the details explainUnused makes without fmt
// against fmt's.
func TestDearerDetails(t *testing.T) {
	c := syntheticCatalog(t, 5_000)
	p, err := Plan(c, Request{GPUs: 512, CapacityTypes: []CapacityType{OnDemand, Spot}})
	if err != nil {
		t.Fatal(err)
	}
	dearest := 0.0
	for _, a := range p.Allocations {
		dearest = max(dearest, a.Offer.PricePerGPUHour())
	}
	byID := map[string]*Offer{}
	for i := range c.Offers {
		byID[c.Offers[i].ID()] = &c.Offers[i]
	}
	n := 0
	for _, r := range p.Rejected {
		if !strings.Contains(r.Detail, "the dearest GPU used costs") {
			continue
		}
		n++
		if want := fmt.Sprintf("%.4f USD per GPU-hour; the dearest GPU used costs %.4f", byID[r.OfferID].PricePerGPUHour(), dearest); r.Detail != want {
			t.Fatalf("%s: detail %q, want %q", r.OfferID, r.Detail, want)
		}
	}
	if n < 1000 {
		t.Fatalf("only %d offers are dearer than the dearest GPU used", n)
	}
}
