package livecatalog

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

func applyOffer(cloud, region, zone, instanceType string, ct planner.CapacityType, price float64) planner.Offer {
	return planner.Offer{Cloud: cloud, Region: region, Zone: zone, InstanceType: instanceType, GPUModel: "H100", GPUCount: 8,
		GPUMemoryGiB: 80, VCPUs: 96, MemoryGiB: 1024, CapacityType: ct, PriceUSDHour: price, MaxNodes: planner.Unlimited,
		Interconnect: planner.NVSwitch}
}

// applyCatalog: aws in two zones of eu-central-1 (on-demand and spot) and
// in us-east-1, azure in westeurope (no zones), gcp in europe-west4.
func applyCatalog(t *testing.T) *planner.Catalog {
	t.Helper()
	c, err := planner.NewCatalog([]planner.Offer{
		applyOffer("aws", "eu-central-1", "euc1-az1", "p5", planner.OnDemand, 80),
		applyOffer("aws", "eu-central-1", "euc1-az1", "p5", planner.Spot, 40),
		applyOffer("aws", "eu-central-1", "euc1-az2", "p5", planner.OnDemand, 80),
		applyOffer("aws", "eu-central-1", "euc1-az2", "p5", planner.Spot, 42),
		applyOffer("aws", "us-east-1", "use1-az1", "p5", planner.OnDemand, 70),
		applyOffer("azure", "westeurope", "", "ND96", planner.OnDemand, 100),
		applyOffer("azure", "westeurope", "", "ND96", planner.Spot, 50),
		applyOffer("gcp", "europe-west4", "europe-west4-a", "a3", planner.OnDemand, 90),
	}, planner.EmbeddedRegions(), "2026-11-25", []string{"test"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const (
	awsAZ1    = "aws/eu-central-1/euc1-az1/p5/on_demand"
	awsAZ1S   = "aws/eu-central-1/euc1-az1/p5/spot"
	awsAZ2    = "aws/eu-central-1/euc1-az2/p5/on_demand"
	awsAZ2S   = "aws/eu-central-1/euc1-az2/p5/spot"
	awsUSE1   = "aws/us-east-1/use1-az1/p5/on_demand"
	azureOD   = "azure/westeurope//ND96/on_demand"
	azureSpot = "azure/westeurope//ND96/spot"
	gcpA      = "gcp/europe-west4/europe-west4-a/a3/on_demand"
)

func TestApplyAvailability(t *testing.T) {
	base := applyCatalog(t)
	tests := []struct {
		name        string
		facts       []Availability
		unavailable []string        // offer IDs with max_nodes 0; every other stays unlimited
		limits      []planner.Limit // nil: none
		scores      map[string]int  // spot scores; others 0
		warnings    []string        // substrings, one per warning, in order
		same        bool            // base returned as is
	}{
		{name: "offered: a zone without the type loses it",
			facts:       []Availability{{Regions: []string{"eu-central-1"}, Offered: []ZoneOffering{{Cloud: "aws", Region: "eu-central-1", Zone: "euc1-az1", InstanceType: "p5"}}}},
			unavailable: []string{awsAZ2, awsAZ2S}},
		{name: "offered: a covered region offering the type in no zone of the catalog",
			facts:       []Availability{{Regions: []string{"eu-central-1"}, Offered: []ZoneOffering{{Cloud: "aws", Region: "eu-central-1", Zone: "euc1-az9", InstanceType: "p5"}}}},
			unavailable: []string{awsAZ1, awsAZ1S, awsAZ2, awsAZ2S}},
		{name: "offered: an offering without zone covers the region's zones",
			facts: []Availability{{Regions: []string{"eu-central-1"}, Offered: []ZoneOffering{{Cloud: "aws", Region: "eu-central-1", InstanceType: "p5"}}}},
			same:  true},
		{name: "offered: a regional offer is offered when any zone has the type",
			facts: []Availability{{Regions: []string{"westeurope"}, Offered: []ZoneOffering{{Cloud: "azure", Region: "westeurope", Zone: "2", InstanceType: "ND96"}}}},
			same:  true},
		{name: "offered: nothing offered, the cloud from the region table",
			facts:       []Availability{{Regions: []string{"westeurope"}, Offered: []ZoneOffering{}}},
			unavailable: []string{azureOD, azureSpot}},
		{name: "offered: nil removes nothing",
			facts: []Availability{{Regions: []string{"eu-central-1", "westeurope"}}},
			same:  true},
		{name: "offered: offerings without covered regions",
			facts:    []Availability{{Offered: []ZoneOffering{{Cloud: "aws", Region: "eu-central-1", Zone: "euc1-az1", InstanceType: "p5"}}}},
			warnings: []string{"zone offerings of aws list no covered regions"},
			same:     true},
		{name: "restriction: a region",
			facts:       []Availability{{Restrictions: []Restriction{{Cloud: "azure", Region: "westeurope", InstanceType: "ND96", Reason: "NotAvailableForSubscription"}}}},
			unavailable: []string{azureOD, azureSpot}},
		{name: "restriction: a zone",
			facts:       []Availability{{Restrictions: []Restriction{{Cloud: "aws", Region: "eu-central-1", Zone: "euc1-az1", InstanceType: "p5", Reason: "x"}}}},
			unavailable: []string{awsAZ1, awsAZ1S}},
		{name: "restriction: unknown cloud",
			facts:    []Availability{{Restrictions: []Restriction{{Cloud: "oci", Region: "eu-frankfurt-1", InstanceType: "BM.GPU.H100.8"}}}},
			warnings: []string{`restriction of BM.GPU.H100.8 in eu-frankfurt-1 on unknown cloud "oci" skipped`},
			same:     true},
		{name: "quotas become limits",
			facts: []Availability{{Quotas: []Quota{
				{Name: "NVIDIA_H100_GPUS", Cloud: "gcp", Region: "europe-west4", InstanceTypes: []string{"a3", "a3"}, CapacityType: "on_demand", MaxGPUs: 16},
				{Name: "PREEMPTIBLE_NVIDIA_H100_GPUS", Cloud: "gcp", Region: "europe-west4", CapacityType: "preemptible", MaxGPUs: 8},
				{Name: "lowPriorityCores", Cloud: "azure", Region: "westeurope", CapacityType: "Low Priority", MaxGPUs: -3},
				{Name: "GPUS_ALL_REGIONS", Cloud: "gcp", MaxGPUs: 64},
				{Name: "odd", Cloud: "aws", Region: "eu-central-1", CapacityType: "reserved", MaxGPUs: 8},
				{Name: "far", Cloud: "oci", MaxGPUs: 8},
			}}},
			limits: []planner.Limit{
				{Name: "odd", Cloud: "aws", Region: "eu-central-1", MaxGPUs: 8},
				{Name: "lowPriorityCores", Cloud: "azure", Region: "westeurope", CapacityType: planner.Spot, MaxGPUs: 0},
				{Name: "GPUS_ALL_REGIONS", Cloud: "gcp", MaxGPUs: 64},
				{Name: "NVIDIA_H100_GPUS", Cloud: "gcp", Region: "europe-west4", InstanceTypes: []string{"a3"}, CapacityType: planner.OnDemand, MaxGPUs: 16},
				{Name: "PREEMPTIBLE_NVIDIA_H100_GPUS", Cloud: "gcp", Region: "europe-west4", CapacityType: planner.Spot, MaxGPUs: 8},
			},
			warnings: []string{`quota "far" on unknown cloud "oci" skipped`,
				`quota "lowPriorityCores" (azure westeurope) has -3 GPUs left: usage is above the limit, capped at 0`,
				`quota "odd" (aws eu-central-1) has unknown capacity type "reserved": it caps both capacity types`}},
		{name: "spot scores",
			facts: []Availability{{SpotScores: []SpotScore{
				{Cloud: "aws", Region: "eu-central-1", InstanceType: "p5", Score: 6},
				{Cloud: "aws", Region: "eu-central-1", Zone: "euc1-az2", InstanceType: "p5", Score: 2},
				{Cloud: "azure", Region: "westeurope", InstanceType: "ND96", Score: 0},
				{Cloud: "aws", InstanceType: "p5", Score: 3},
			}}},
			scores: map[string]int{awsAZ1S: 6, awsAZ2S: 2},
			warnings: []string{`spot score 0 of ND96 in azure westeurope is not 1 to 10, skipped`,
				`spot score of aws without region or instance type ("", "p5") skipped`}},
		{name: "no facts", same: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, warnings, err := ApplyAvailability(base, tt.facts)
			if err != nil {
				t.Fatal(err)
			}
			if len(warnings) != len(tt.warnings) {
				t.Fatalf("warnings %q, want %d", warnings, len(tt.warnings))
			}
			for i, w := range tt.warnings {
				if !strings.Contains(warnings[i], w) {
					t.Errorf("warning %d %q, want %q", i, warnings[i], w)
				}
			}
			if tt.same != (got == base) {
				t.Fatalf("returned the base catalog: %v, want %v", got == base, tt.same)
			}
			for _, o := range got.Offers {
				want := planner.Unlimited
				if slices.Contains(tt.unavailable, o.ID()) {
					want = 0
				}
				if o.MaxNodes != want {
					t.Errorf("%s: max_nodes %d, want %d", o.ID(), o.MaxNodes, want)
				}
				if o.SpotScore != tt.scores[o.ID()] {
					t.Errorf("%s: spot score %d, want %d", o.ID(), o.SpotScore, tt.scores[o.ID()])
				}
			}
			if len(got.Limits) != len(tt.limits) {
				t.Fatalf("limits %+v, want %+v", got.Limits, tt.limits)
			}
			for i, l := range tt.limits {
				g := got.Limits[i]
				if g.Name != l.Name || g.Cloud != l.Cloud || g.Region != l.Region || g.CapacityType != l.CapacityType ||
					g.MaxGPUs != l.MaxGPUs || !slices.Equal(g.InstanceTypes, l.InstanceTypes) {
					t.Errorf("limit %d: %+v, want %+v", i, g, l)
				}
			}
			if !tt.same && got.Version == base.Version {
				t.Errorf("version %s unchanged", got.Version)
			}
		})
	}
	// The base catalog is not changed.
	if fresh := applyCatalog(t); base.Version != fresh.Version || len(base.Limits) != 0 || !slices.Equal(base.Offers, fresh.Offers) {
		t.Fatal("ApplyAvailability changed its base catalog")
	}
}

// TestApplyAvailabilityPlanKeepsQuota: a plan over the result takes no
// more GPUs under a quota than it allows, exactly up to it when it is the
// cheapest, and a request beyond it names the quota.
func TestApplyAvailabilityPlanKeepsQuota(t *testing.T) {
	c, warnings, err := ApplyAvailability(applyCatalog(t), []Availability{{
		Regions: []string{"eu-central-1"},
		Offered: []ZoneOffering{{Cloud: "aws", Region: "eu-central-1", Zone: "euc1-az1", InstanceType: "p5"}, {Cloud: "aws", Region: "eu-central-1", Zone: "euc1-az2", InstanceType: "p5"}},
		Quotas:  []Quota{{Name: "L-417A185B Running On-Demand P instances", Cloud: "aws", Region: "eu-central-1", CapacityType: "on_demand", MaxGPUs: 24}},
	}})
	if err != nil || len(warnings) > 0 {
		t.Fatal(err, warnings)
	}
	// On-demand only: aws eu-central-1 (80) is cheaper than gcp (90) and
	// azure (100) but its quota allows 24 GPUs: three nodes, whatever zone.
	p, err := planner.Plan(c, planner.Request{GPUs: 64, Residency: []string{"EU"}})
	if err != nil {
		t.Fatal(err)
	}
	byCloud := p.GPUsByCloud()
	if byCloud["aws"] != 24 || byCloud["gcp"] != 40 || p.TotalHourlyUSD != 3*80+5*90 {
		t.Fatalf("placement %v, %.2f USD per hour; want aws 24 (the quota), gcp 40", byCloud, p.TotalHourlyUSD)
	}
	quota := 0
	for _, r := range p.Rejected {
		if r.Reason == planner.ReasonQuota {
			quota++
		}
	}
	if quota != 1 {
		t.Fatalf("rejections %+v, want the unused aws zone explained by the quota", p.Rejected)
	}
	// A gang of 32 on aws needs 8 more GPUs of quota.
	_, err = planner.Plan(c, planner.Request{GPUs: 32, Clouds: []string{"aws"}, Residency: []string{"EU"}, Gang: true})
	var inf *planner.InfeasibleError
	if !errors.As(err, &inf) || inf.Constraint != "quota" || inf.Quota != "L-417A185B Running On-Demand P instances" ||
		!strings.Contains(inf.Message, "falls short by 8 GPUs") {
		t.Fatalf("error %v", err)
	}
}

// TestApplyAvailabilityOrderIndependent: shuffling the facts and their
// entries gives the same catalog and warnings.
func TestApplyAvailabilityOrderIndependent(t *testing.T) {
	base := applyCatalog(t)
	facts := []Availability{
		{Regions: []string{"eu-central-1", "us-east-1"}, Offered: []ZoneOffering{
			{Cloud: "aws", Region: "eu-central-1", Zone: "euc1-az1", InstanceType: "p5"},
			{Cloud: "aws", Region: "us-east-1", Zone: "use1-az1", InstanceType: "p4d"},
		}, Quotas: []Quota{
			{Name: "P on-demand", Cloud: "aws", Region: "eu-central-1", CapacityType: "on_demand", MaxGPUs: 16},
			{Name: "P spot", Cloud: "aws", Region: "eu-central-1", CapacityType: "spot", MaxGPUs: 8},
			{Name: "P spot", Cloud: "aws", Region: "eu-central-1", CapacityType: "spot", MaxGPUs: 8},
		}, SpotScores: []SpotScore{
			{Cloud: "aws", Region: "eu-central-1", InstanceType: "p5", Score: 4},
			{Cloud: "aws", Region: "eu-central-1", InstanceType: "p5", Score: 7},
			{Cloud: "aws", Region: "eu-central-1", Zone: "euc1-az1", InstanceType: "p5", Score: 9},
		}},
		{Restrictions: []Restriction{{Cloud: "azure", Region: "westeurope", InstanceType: "ND96"}, {Cloud: "oci", Region: "x", InstanceType: "y"}},
			Quotas: []Quota{{Name: "lowPriorityCores", Cloud: "azure", Region: "westeurope", CapacityType: "spot", MaxGPUs: -1}}},
		{Quotas: []Quota{{Name: "GPUS_ALL_REGIONS", Cloud: "gcp", MaxGPUs: 32}}, SpotScores: []SpotScore{{Cloud: "gcp", Region: "europe-west4", InstanceType: "a3", Score: 12}}},
	}
	want, wantWarnings, err := ApplyAvailability(base, facts)
	if err != nil {
		t.Fatal(err)
	}
	if len(want.Limits) != 4 || len(wantWarnings) != 3 {
		t.Fatalf("limits %+v warnings %q", want.Limits, wantWarnings)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		shuffled := make([]Availability, len(facts))
		for i, f := range facts {
			f.Offered, f.Regions = slices.Clone(f.Offered), slices.Clone(f.Regions)
			f.Quotas, f.SpotScores, f.Restrictions = slices.Clone(f.Quotas), slices.Clone(f.SpotScores), slices.Clone(f.Restrictions)
			rng.Shuffle(len(f.Offered), func(i, j int) { f.Offered[i], f.Offered[j] = f.Offered[j], f.Offered[i] })
			rng.Shuffle(len(f.Quotas), func(i, j int) { f.Quotas[i], f.Quotas[j] = f.Quotas[j], f.Quotas[i] })
			rng.Shuffle(len(f.SpotScores), func(i, j int) { f.SpotScores[i], f.SpotScores[j] = f.SpotScores[j], f.SpotScores[i] })
			rng.Shuffle(len(f.Restrictions), func(i, j int) { f.Restrictions[i], f.Restrictions[j] = f.Restrictions[j], f.Restrictions[i] })
			shuffled[i] = f
		}
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		got, warnings, err := ApplyAvailability(base, shuffled)
		if err != nil {
			t.Fatal(err)
		}
		if got.Version != want.Version || !slices.Equal(warnings, wantWarnings) || !slices.Equal(got.Offers, want.Offers) {
			t.Fatalf("result depends on the order of the facts: %s %q vs %s %q", got.Version, warnings, want.Version, wantWarnings)
		}
	}
}
