package livecatalog

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// AvailabilityResult is a catalog with live availability applied.
type AvailabilityResult struct {
	Catalog *planner.Catalog
	// Facts counts what was applied, per source name.
	Facts map[string]string
	// Warnings name the sources that failed (their cloud keeps the
	// catalog's availability) and facts that could not be used.
	Warnings []string
}

// RefreshAvailability asks every source (through cache when given) and
// applies what they report with ApplyAvailability: zones not offered and
// restrictions make offers unavailable, quotas become planner limits, spot
// scores are set on spot offers. A source that fails is skipped with a
// warning, never an error.
func RefreshAvailability(ctx context.Context, base *planner.Catalog, sources []AvailabilitySource, cache *Cache, now func() time.Time) AvailabilityResult {
	if now == nil {
		now = time.Now
	}
	res := AvailabilityResult{Catalog: base, Facts: map[string]string{}}
	// Each source asks about the catalog's instance types of its cloud.
	types := map[string][]string{}
	for _, o := range base.Offers {
		if t := types[o.Cloud]; !slices.Contains(t, o.InstanceType) {
			types[o.Cloud] = append(t, o.InstanceType)
		}
	}
	for _, t := range types {
		slices.Sort(t)
	}
	// Sources are asked concurrently and merged in the order given.
	fetches := fetchAll(sources, func(s AvailabilitySource) (Availability, time.Time, error) {
		return cache.getAvailability(ctx, s, types[s.Cloud()], now)
	})
	var facts []Availability
	for i, s := range sources {
		a, err := fetches[i].value, fetches[i].err
		if err != nil {
			res.Warnings = append(res.Warnings, fmt.Sprintf("live availability from %s failed, using the catalog's %s availability: %v", s.Name(), s.Cloud(), err))
			continue
		}
		res.Facts[s.Name()] = fmt.Sprintf("%d zone offerings, %d restrictions, %d quotas, %d spot scores",
			len(a.Offered), len(a.Restrictions), len(a.Quotas), len(a.SpotScores))
		facts = append(facts, a)
	}
	if len(facts) == 0 {
		return res
	}
	cat, warnings, err := ApplyAvailability(base, facts)
	res.Warnings = append(res.Warnings, warnings...)
	if err != nil {
		res.Warnings = append(res.Warnings, fmt.Sprintf("live availability not applied: %v", err))
		return res
	}
	res.Catalog = cat
	return res
}
