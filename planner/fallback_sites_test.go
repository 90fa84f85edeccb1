package planner

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
)

// TestFallbacksInSites: with FallbacksInSites an allocation's fallbacks
// are the best offers in its placement's own sites and zones (what a
// network built from the sites and a cluster per site can host), the ones
// left out are named with why, the allocations do not move, and without
// the rule the placement is byte for byte what it was.
func TestFallbacksInSites(t *testing.T) {
	c := mustCatalog(t,
		testOffer("aws", "eu-north-1", "eun1-az1", "p5", 8, 58, withMaxNodes(2)),
		testOffer("aws", "eu-north-1", "eun1-az2", "p5", 8, 58.5),
		testOffer("aws", "eu-north-1", "eun1-az1", "p5e", 8, 70),
		testOffer("aws", "eu-central-1", "euc1-az1", "p5", 8, 60),
		testOffer("aws", "eu-central-1", "euc1-az2", "p5", 8, 61),
		testOffer("azure", "westeurope", "", "nd", 8, 66),
		testOffer("azure", "northeurope", "", "nd", 8, 64),
	)
	ids := func(fs []Fallback) []string {
		var out []string
		for _, f := range fs {
			out = append(out, f.Offer.ID())
		}
		return out
	}
	tests := []struct {
		name         string
		req          Request
		allocations  []string
		want         []string // fallbacks, in allocation order ("": none)
		droppedOrder []string // dropped fallbacks with why, in allocation order
	}{
		{
			name:        "one zone: other types of that zone only",
			req:         Request{GPUs: 16, Residency: []string{"EU"}, Clouds: []string{"aws"}, FallbacksInSites: true},
			allocations: []string{"aws/eu-north-1/eun1-az1/p5/on_demand"},
			want:        []string{"aws/eu-north-1/eun1-az1/p5e/on_demand"},
			droppedOrder: []string{
				"aws/eu-north-1/eun1-az2/p5/on_demand: zone eun1-az2 is not a zone of site aws/eu-north-1 (eun1-az1), so its network has no subnet there",
				"aws/eu-central-1/euc1-az1/p5/on_demand: site aws/eu-central-1 has no allocation, so no cluster",
				"aws/eu-central-1/euc1-az2/p5/on_demand: site aws/eu-central-1 has no allocation, so no cluster",
			},
		},
		{
			name: "two clouds: each stays in its site; a zoneless cloud needs its region",
			req: Request{GPUs: 32, Residency: []string{"EU"}, Spread: Spread{MinClouds: 2, MaxShare: 0.5},
				FallbacksInSites: true},
			allocations: []string{"aws/eu-north-1/eun1-az1/p5/on_demand", "azure/northeurope//nd/on_demand"},
			want:        []string{"aws/eu-north-1/eun1-az1/p5e/on_demand", ""},
			droppedOrder: []string{
				"aws/eu-north-1/eun1-az2/p5/on_demand: zone eun1-az2 is not a zone of site aws/eu-north-1 (eun1-az1), so its network has no subnet there",
				"aws/eu-central-1/euc1-az1/p5/on_demand: site aws/eu-central-1 has no allocation, so no cluster",
				"aws/eu-central-1/euc1-az2/p5/on_demand: site aws/eu-central-1 has no allocation, so no cluster",
				"azure/westeurope//nd/on_demand: site azure/westeurope has no allocation, so no cluster",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			without := tt.req
			without.FallbacksInSites = false
			p, base := mustPlan(t, c, tt.req), mustPlan(t, c, without)
			var got, gotDropped []string
			for i, a := range p.Allocations {
				if a.Offer.ID() != tt.allocations[i] || a.Nodes != base.Allocations[i].Nodes || a.Offer.ID() != base.Allocations[i].Offer.ID() {
					t.Fatalf("allocation %d is %s x%d, want %s as without the rule (%s x%d)", i, a.Offer.ID(), a.Nodes, tt.allocations[i],
						base.Allocations[i].Offer.ID(), base.Allocations[i].Nodes)
				}
				got = append(got, ids(a.Fallbacks)...)
				if len(a.Fallbacks) == 0 {
					got = append(got, "")
				}
				for _, d := range a.DroppedFallbacks {
					gotDropped = append(gotDropped, d.Offer.ID()+": "+d.Reason)
					if !slices.Contains(ids(base.Allocations[i].Fallbacks), d.Offer.ID()) {
						t.Errorf("dropped %s is not a fallback without the rule (%v)", d.Offer.ID(), ids(base.Allocations[i].Fallbacks))
					}
				}
				// Every fallback without the rule is kept or dropped.
				for _, id := range ids(base.Allocations[i].Fallbacks) {
					kept := slices.Contains(ids(a.Fallbacks), id)
					dropped := slices.ContainsFunc(a.DroppedFallbacks, func(d DroppedFallback) bool { return d.Offer.ID() == id })
					if kept == dropped {
						t.Errorf("%s: kept %v, dropped %v", id, kept, dropped)
					}
				}
			}
			if len(p.Allocations) != len(tt.allocations) {
				t.Fatalf("%d allocations, want %d", len(p.Allocations), len(tt.allocations))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("fallbacks %q, want %q", got, tt.want)
			}
			if !slices.Equal(gotDropped, tt.droppedOrder) {
				t.Errorf("dropped\n  %q\nwant\n  %q", gotDropped, tt.droppedOrder)
			}
			// Without the rule: nothing dropped, and the JSON carries no
			// trace of it.
			b, err := json.Marshal(base)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte("fallbacks_in_sites")) || bytes.Contains(b, []byte("dropped_fallbacks")) {
				t.Errorf("a placement without the rule mentions it: %s", b)
			}
		})
	}
}
