package awslive

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/pricefront"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/livecatalog"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

func TestAWSQuotaGPUs(t *testing.T) {
	shape := func(vcpus, gpus int) planner.Offer { return planner.Offer{VCPUs: vcpus, GPUCount: gpus} }
	p5, p4d, p3 := shape(192, 8), shape(96, 8), shape(8, 1)
	g5x, g5_16x, g5_48x := shape(4, 1), shape(64, 1), shape(192, 8)
	tests := []struct {
		name   string
		vcpus  float64
		shapes []planner.Offer
		want   int
	}{
		{"one type", 384, []planner.Offer{p5}, 16},
		{"rounded down", 383, []planner.Offer{p5}, 15},
		{"fractional vCPUs rounded down", 383.99, []planner.Offer{p5}, 15},
		{"float noise below a whole vCPU", 191.9999999999, []planner.Offer{p5}, 8},
		{"mixed P family: the largest vCPUs per GPU", 1152, []planner.Offer{p4d, p5, p3}, 48},
		{"mixed G family: one-GPU 16xlarge dominates", 768, []planner.Offer{g5x, g5_48x, g5_16x}, 12},
		{"below one GPU's worth", 20, []planner.Offer{p5}, 0},
		{"zero quota", 0, []planner.Offer{p5}, 0},
		{"no instance types", 384, nil, 0},
		{"shapes without GPUs ignored", 384, []planner.Offer{shape(8, 0), p5}, 16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := awsQuotaGPUs(tt.vcpus, tt.shapes); got != tt.want {
				t.Fatalf("awsQuotaGPUs(%v) = %d, want %d", tt.vcpus, got, tt.want)
			}
		})
	}
}

// awsCatalogSets lists the embedded catalog's AWS (region, zone, type)
// triples in regions, of any capacity type and of spot offers.
func awsCatalogSets(regions []string) (offered, spot map[string]bool) {
	offered, spot = map[string]bool{}, map[string]bool{}
	for _, o := range planner.Embedded().Offers {
		if o.Cloud != "aws" || !slices.Contains(regions, o.Region) {
			continue
		}
		k := o.Region + "/" + o.Zone + "/" + o.InstanceType
		offered[k] = true
		if o.CapacityType == planner.Spot {
			spot[k] = true
		}
	}
	return offered, spot
}

func TestAWSAvailabilityFromSimulator(t *testing.T) {
	regions := []string{"eu-central-1", "us-west-2"}
	opts := pricefront.AWSOptions{
		PageSize:   2,
		Unoffered:  []string{"euc1-az2/g5.xlarge", "usw2-az1/p5.48xlarge"},
		SpotScores: map[string]int{"euc1-az1/g5.xlarge": 9, "usw2-az2/p5.48xlarge": 2},
		QuotaVCPUs: map[string]float64{"L-417A185B": 384, "us-west-2/L-417A185B": 1152, "L-DB2E81BA": 768, "L-7212CCBC": 0, "L-3819A6DF": 100},
	}
	sim, cfg := newAWSSim(t, opts, regions...)
	src := &Availability{Config: cfg}
	av, err := src.Availability(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(av.Regions, regions) {
		t.Fatalf("regions %v", av.Regions)
	}
	offered, spot := awsCatalogSets(regions)
	delete(offered, "eu-central-1/euc1-az2/g5.xlarge")
	delete(offered, "us-west-2/usw2-az1/p5.48xlarge")
	if len(av.Offered) != len(offered) {
		t.Fatalf("%d offerings, want %d", len(av.Offered), len(offered))
	}
	for _, o := range av.Offered {
		if o.Cloud != "aws" || !offered[o.Region+"/"+o.Zone+"/"+o.InstanceType] {
			t.Fatalf("unexpected offering %+v", o)
		}
	}

	if len(av.SpotScores) != len(spot) {
		t.Fatalf("%d spot scores, want %d", len(av.SpotScores), len(spot))
	}
	for _, s := range av.SpotScores {
		want := pricefront.AWSDefaultSpotScore(s.Zone, s.InstanceType)
		if w, ok := opts.SpotScores[s.Zone+"/"+s.InstanceType]; ok {
			want = w
		}
		if !spot[s.Region+"/"+s.Zone+"/"+s.InstanceType] || s.Score != want {
			t.Fatalf("spot score %+v, want %d", s, want)
		}
	}

	quotas := map[string]livecatalog.Quota{}
	for _, q := range av.Quotas {
		quotas[q.Region+"/"+q.Name] = q
	}
	for _, tt := range []struct {
		key      string
		capacity planner.CapacityType
		maxGPUs  int
	}{
		// P on-demand in eu-central-1: p3 (8 vCPUs/GPU), p4d and p4de (12).
		{"eu-central-1/L-417A185B Running On-Demand P instances", planner.OnDemand, 384 / 12},
		// The region's value wins; p5 and p6 run 24 vCPUs per GPU.
		{"us-west-2/L-417A185B Running On-Demand P instances", planner.OnDemand, 1152 / 24},
		// G on-demand: g*.16xlarge run 64 vCPUs on one GPU.
		{"eu-central-1/L-DB2E81BA Running On-Demand G and VT instances", planner.OnDemand, 768 / 64},
		{"us-west-2/L-3819A6DF All G and VT Spot Instance Requests", planner.Spot, 100 / 64},
		{"us-west-2/L-7212CCBC All P Spot Instance Requests", planner.Spot, 0},
	} {
		q, ok := quotas[tt.key]
		if !ok || q.MaxGPUs != tt.maxGPUs || q.CapacityType != string(tt.capacity) || q.Cloud != "aws" || len(q.InstanceTypes) == 0 {
			t.Fatalf("%s: %+v (found %v), want %d GPUs", tt.key, q, ok, tt.maxGPUs)
		}
		family := "g"
		if strings.Contains(tt.key, " P ") {
			family = "p"
		}
		for _, it := range q.InstanceTypes {
			if !strings.HasPrefix(it, family) {
				t.Fatalf("%s covers %s", tt.key, it)
			}
		}
	}

	// Calls: offerings two per page per region, one GetServiceQuota per
	// quota, spot scores two zones per page per instance type.
	byRegion, zonesPerType := map[string]int{}, map[string]int{}
	for k := range offered {
		byRegion[strings.SplitN(k, "/", 2)[0]]++
	}
	for k := range spot {
		zonesPerType[k[strings.LastIndex(k, "/")+1:]]++
	}
	want := map[string]int64{pricefront.AWSGetServiceQuota: int64(len(av.Quotas))}
	for _, n := range byRegion {
		want[pricefront.AWSDescribeInstanceTypeOfferings] += int64(ceilDiv(n, 2))
	}
	for _, n := range zonesPerType {
		want[pricefront.AWSGetSpotPlacementScores] += int64(ceilDiv(n, 2))
	}
	var total int64
	for api, n := range want {
		if got := sim.Requests(api); got != n {
			t.Fatalf("%s: %d requests, want %d", api, got, n)
		}
		total += n
	}
	if src.Calls() != total || sim.TotalRequests() != total {
		t.Fatalf("%d calls counted, %d served, want %d", src.Calls(), sim.TotalRequests(), total)
	}

	// Asked about two instance types only, it asks only about them.
	only, err := src.Availability(context.Background(), []string{"p5.48xlarge", "g5.xlarge"})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range only.Offered {
		if o.InstanceType != "p5.48xlarge" && o.InstanceType != "g5.xlarge" {
			t.Fatalf("offering of %s", o.InstanceType)
		}
	}
	for _, q := range only.Quotas {
		if len(q.InstanceTypes) != 1 {
			t.Fatalf("quota %+v covers more than the type asked about", q)
		}
	}
}

// TestAWSColdFetchCalls counts the API calls a cold fetch of all three
// AWS sources makes (nothing cached, no throttling, real page sizes), for
// a few regions and for every region of the embedded catalog.
func TestAWSColdFetchCalls(t *testing.T) {
	tests := []struct {
		name    string
		regions []string
	}{
		{"three regions", awsTestRegions},
		{"every catalog region", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, cfg := newAWSSim(t, pricefront.AWSOptions{}, tt.regions...)
			ctx := context.Background()
			pricing, spot, avail := &Pricing{Config: cfg}, &SpotPrices{Config: cfg}, &Availability{Config: cfg}
			if _, err := pricing.Prices(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := spot.Prices(ctx); err != nil {
				t.Fatal(err)
			}
			av, err := avail.Availability(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			v := cfg.view(nil)
			spotRegions, spotTypes := 0, map[string]int{}
			for _, r := range v.regions {
				ts := v.regionTypes(r, planner.Spot)
				if len(ts) > 0 {
					spotRegions++
				}
				for _, t := range ts {
					spotTypes[t]++
				}
			}
			// One GetSpotPlacementScores per type and ten of its regions.
			scoreRequests := 0
			for _, n := range spotTypes {
				scoreRequests += (n + awsSpotScoreRegions - 1) / awsSpotScoreRegions
			}
			want := map[string]int64{
				pricefront.AWSGetProducts:                   int64(len(v.types)),
				pricefront.AWSDescribeSpotPriceHistory:      int64(spotRegions),
				pricefront.AWSDescribeAvailabilityZones:     int64(spotRegions),
				pricefront.AWSDescribeInstanceTypeOfferings: int64(len(v.regions)),
				pricefront.AWSGetServiceQuota:               int64(len(av.Quotas)),
				pricefront.AWSGetSpotPlacementScores:        int64(scoreRequests),
			}
			var total int64
			for api, n := range want {
				if got := sim.Requests(api); got != n {
					t.Fatalf("%s: %d requests, want %d", api, got, n)
				}
				total += n
			}
			calls := pricing.Calls() + spot.Calls() + avail.Calls()
			if calls != total || sim.TotalRequests() != total {
				t.Fatalf("%d calls counted, %d served, want %d", calls, sim.TotalRequests(), total)
			}
			t.Logf("cold fetch, %d regions, %d instance types: %d calls (pricing %d, spot %d, availability %d): %v",
				len(v.regions), len(v.types), calls, pricing.Calls(), spot.Calls(), avail.Calls(), sim.RequestCounts())
		})
	}
}
