package livecatalog

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// ApplyAvailability returns a copy of base with the availability facts
// applied, the warnings about facts it could not use, and an error only
// when the adjusted catalog cannot be built. base is not changed; with
// nothing to apply it is returned as is.
//
//   - Offered and Regions: an offer of the fact's cloud in a covered region
//     whose instance type is not offered in its zone gets max_nodes 0
//     (planner.Adjustments.Unavailable), so the planner rejects it as
//     availability. An offer without a zone (Azure, regional offers) counts
//     as offered when its instance type is offered in any zone of the
//     region; an offering without a zone covers every zone of its region.
//     The fact's cloud is the cloud its offerings name (else its
//     restrictions, quotas or spot scores; else the one cloud whose region
//     table has the covered region). Nil Offered removes nothing, and
//     neither do offerings without covered Regions.
//   - Restrictions: an offer restricted in its region (Zone empty) or in
//     its zone gets max_nodes 0, both capacity types.
//   - Quotas become planner limits (Catalog.Limits), which every plan then
//     keeps exactly. A quota whose capacity type is not recognized covers
//     both capacity types (the safe reading: it can only cap more), one
//     with a negative MaxGPUs (usage above the limit) caps at 0.
//   - SpotScores set the spot offers' spot placement scores (a zone's score
//     wins over its region's, then the lowest).
//
// Facts naming a cloud the catalog does not know, and spot scores outside 1
// to 10, are skipped with a warning. The result does not depend on the
// order of the facts or of the entries within them.
func ApplyAvailability(base *planner.Catalog, facts []Availability) (*planner.Catalog, []string, error) {
	regionClouds := map[string][]string{} // region name → clouds that have it
	known := map[string]bool{}            // clouds, and cloud/region keys
	for _, r := range base.Regions() {
		regionClouds[r.Name] = append(regionClouds[r.Name], r.Cloud)
		known[r.Cloud], known[r.Key()] = true, true
	}
	var adj planner.Adjustments
	warn := map[string]bool{}
	for _, f := range facts {
		adj.Unavailable = append(adj.Unavailable, applyNotOffered(base, f, regionClouds, known, warn)...)
		for _, r := range f.Restrictions {
			if !known[r.Cloud] {
				warn[fmt.Sprintf("restriction of %s in %s on unknown cloud %q skipped", r.InstanceType, applyWhere(r.Region, r.Zone), r.Cloud)] = true
				continue
			}
			adj.Unavailable = append(adj.Unavailable, planner.OfferMatch{Cloud: r.Cloud, Region: r.Region, Zone: r.Zone, InstanceType: r.InstanceType})
		}
		for _, q := range f.Quotas {
			if l, ok := applyQuotaLimit(q, known, warn); ok {
				adj.Limits = append(adj.Limits, l)
			}
		}
		for _, s := range f.SpotScores {
			switch {
			case !known[s.Cloud]:
				warn[fmt.Sprintf("spot score of %s in %s on unknown cloud %q skipped", s.InstanceType, applyWhere(s.Region, s.Zone), s.Cloud)] = true
			case s.Score < 1 || s.Score > 10:
				warn[fmt.Sprintf("spot score %d of %s in %s %s is not 1 to 10, skipped", s.Score, s.InstanceType, s.Cloud, applyWhere(s.Region, s.Zone))] = true
			case s.Region == "" || s.InstanceType == "":
				warn[fmt.Sprintf("spot score of %s without region or instance type (%q, %q) skipped", s.Cloud, s.Region, s.InstanceType)] = true
			default:
				adj.SpotScores = append(adj.SpotScores, planner.SpotScoreFact{Cloud: s.Cloud, Region: s.Region, Zone: s.Zone, InstanceType: s.InstanceType, Score: s.Score})
			}
		}
	}
	warnings := applySortedSet(warn)
	adj.Unavailable = applySortedUnique(adj.Unavailable, func(a, b planner.OfferMatch) int {
		return cmp.Or(strings.Compare(a.Cloud, b.Cloud), strings.Compare(a.Region, b.Region), strings.Compare(a.Zone, b.Zone),
			strings.Compare(a.InstanceType, b.InstanceType), strings.Compare(string(a.CapacityType), string(b.CapacityType)))
	})
	adj.Limits = applySortedUnique(adj.Limits, func(a, b planner.Limit) int {
		return cmp.Or(strings.Compare(a.Cloud, b.Cloud), strings.Compare(a.Region, b.Region), strings.Compare(a.Name, b.Name),
			strings.Compare(string(a.CapacityType), string(b.CapacityType)), slices.Compare(a.InstanceTypes, b.InstanceTypes),
			cmp.Compare(a.MaxGPUs, b.MaxGPUs))
	})
	adj.SpotScores = applySortedUnique(adj.SpotScores, func(a, b planner.SpotScoreFact) int {
		return cmp.Or(strings.Compare(a.Cloud, b.Cloud), strings.Compare(a.Region, b.Region), strings.Compare(a.Zone, b.Zone),
			strings.Compare(a.InstanceType, b.InstanceType), cmp.Compare(a.Score, b.Score))
	})
	if len(adj.Unavailable) == 0 && len(adj.Limits) == 0 && len(adj.SpotScores) == 0 {
		return base, warnings, nil
	}
	c, err := base.Adjust(adj)
	if err != nil {
		return nil, warnings, fmt.Errorf("applying availability facts: %w", err)
	}
	return c, warnings, nil
}

// applyNotOffered returns a match for every offer of base in a region f covers
// whose instance type f does not offer in its zone.
func applyNotOffered(base *planner.Catalog, f Availability, regionClouds map[string][]string, known map[string]bool, warn map[string]bool) []planner.OfferMatch {
	if f.Offered == nil {
		return nil
	}
	if len(f.Regions) == 0 {
		if len(f.Offered) > 0 {
			warn[fmt.Sprintf("zone offerings of %s list no covered regions: no offer is removed for them", strings.Join(applyClouds(f), ", "))] = true
		}
		return nil
	}
	covered := map[string]bool{} // cloud/region
	clouds := applyClouds(f)
	for _, region := range f.Regions {
		cands := clouds
		if len(cands) == 0 {
			cands = regionClouds[region]
			if len(cands) != 1 {
				warn[fmt.Sprintf("covered region %q names no cloud and %d clouds have a region of that name: no offer is removed there", region, len(cands))] = true
				continue
			}
		}
		for _, cl := range cands {
			if known[cl+"/"+region] {
				covered[cl+"/"+region] = true
			}
		}
	}
	for _, cl := range clouds {
		if !known[cl] {
			warn[fmt.Sprintf("zone offerings on unknown cloud %q skipped", cl)] = true
		}
	}
	inZone := map[[4]string]bool{}   // cloud, region, zone, instance type
	inRegion := map[[3]string]bool{} // cloud, region, instance type
	for _, z := range f.Offered {
		inZone[[4]string{z.Cloud, z.Region, z.Zone, z.InstanceType}] = true
		inRegion[[3]string{z.Cloud, z.Region, z.InstanceType}] = true
	}
	var out []planner.OfferMatch
	for _, o := range base.Offers {
		if !covered[o.Site()] {
			continue
		}
		offered := inRegion[[3]string{o.Cloud, o.Region, o.InstanceType}] &&
			(o.Zone == "" || inZone[[4]string{o.Cloud, o.Region, o.Zone, o.InstanceType}] || inZone[[4]string{o.Cloud, o.Region, "", o.InstanceType}])
		if !offered {
			out = append(out, planner.OfferMatch{Cloud: o.Cloud, Region: o.Region, Zone: o.Zone, InstanceType: o.InstanceType})
		}
	}
	return out
}

// applyClouds returns the clouds a fact's entries name, sorted: those of its
// offerings, else of its restrictions, quotas and spot scores.
func applyClouds(f Availability) []string {
	set := map[string]bool{}
	for _, z := range f.Offered {
		set[z.Cloud] = true
	}
	if len(set) == 0 {
		for _, r := range f.Restrictions {
			set[r.Cloud] = true
		}
		for _, q := range f.Quotas {
			set[q.Cloud] = true
		}
		for _, s := range f.SpotScores {
			set[s.Cloud] = true
		}
	}
	delete(set, "")
	return applySortedSet(set)
}

// applyQuotaLimit converts a quota to a planner limit.
func applyQuotaLimit(q Quota, known map[string]bool, warn map[string]bool) (planner.Limit, bool) {
	if !known[q.Cloud] {
		warn[fmt.Sprintf("quota %q on unknown cloud %q skipped", q.Name, q.Cloud)] = true
		return planner.Limit{}, false
	}
	l := planner.Limit{Name: q.Name, Cloud: q.Cloud, Region: q.Region, InstanceTypes: slices.Clone(q.InstanceTypes), MaxGPUs: q.MaxGPUs}
	slices.Sort(l.InstanceTypes)
	l.InstanceTypes = slices.Compact(l.InstanceTypes)
	ct, ok := applyCapacityType(q.CapacityType)
	if !ok {
		warn[fmt.Sprintf("quota %q (%s %s) has unknown capacity type %q: it caps both capacity types", q.Name, q.Cloud, q.Region, q.CapacityType)] = true
	}
	l.CapacityType = ct
	if l.MaxGPUs < 0 {
		warn[fmt.Sprintf("quota %q (%s %s) has %d GPUs left: usage is above the limit, capped at 0", q.Name, q.Cloud, q.Region, q.MaxGPUs)] = true
		l.MaxGPUs = 0
	}
	return l, true
}

// applyCapacityType reads a quota's capacity type: empty for both, on-demand
// and spot under the names the clouds use (GCP preemptible, Azure low
// priority). ok is false, with both, for anything else.
func applyCapacityType(s string) (planner.CapacityType, bool) {
	switch strings.NewReplacer("-", "_", " ", "_").Replace(strings.ToLower(strings.TrimSpace(s))) {
	case "":
		return "", true
	case "on_demand", "ondemand", "regular", "standard":
		return planner.OnDemand, true
	case "spot", "preemptible", "low_priority", "lowpriority":
		return planner.Spot, true
	}
	return "", false
}

// applyWhere names a region, or a zone of it, in warnings.
func applyWhere(region, zone string) string {
	if zone == "" {
		return region
	}
	return region + " zone " + zone
}

func applySortedUnique[T any](xs []T, compare func(a, b T) int) []T {
	slices.SortFunc(xs, compare)
	return slices.CompactFunc(xs, func(a, b T) bool { return compare(a, b) == 0 })
}

func applySortedSet(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
