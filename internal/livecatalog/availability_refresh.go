package livecatalog

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

type cachedAvailability struct {
	FetchedAt    time.Time    `json:"fetched_at"`
	Availability Availability `json:"availability"`
}

func (c *Cache) availabilityPath(s AvailabilitySource) string {
	name := s.Name()
	if k, ok := s.(cacheKeyer); ok {
		name = k.CacheKey()
	}
	name = strings.NewReplacer("/", "_", " ", "_", ":", "_").Replace(name)
	return filepath.Join(c.Dir, "availability-"+name+".json")
}

// getAvailability returns the source's facts, from the cache while fresh.
func (c *Cache) getAvailability(ctx context.Context, s AvailabilitySource, instanceTypes []string, now func() time.Time) (Availability, error) {
	if c != nil {
		ttl := c.TTL
		if ttl <= 0 {
			ttl = DefaultTTL
		}
		if data, err := os.ReadFile(c.availabilityPath(s)); err == nil {
			var v cachedAvailability
			if json.Unmarshal(data, &v) == nil && now().Sub(v.FetchedAt) < ttl {
				return v.Availability, nil
			}
		}
	}
	a, err := s.Availability(ctx, instanceTypes)
	if err != nil {
		return Availability{}, err
	}
	if c != nil {
		if data, err := json.Marshal(cachedAvailability{FetchedAt: now(), Availability: a}); err == nil {
			_ = os.MkdirAll(c.Dir, 0o755)
			tmp := c.availabilityPath(s) + ".tmp"
			if os.WriteFile(tmp, data, 0o644) == nil {
				_ = os.Rename(tmp, c.availabilityPath(s))
			}
		}
	}
	return a, nil
}

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
	// Sources are asked concurrently and merged in the order given.
	type fetch struct {
		a   Availability
		err error
	}
	fetches := make([]fetch, len(sources))
	var wg sync.WaitGroup
	for i, s := range sources {
		var types []string
		for _, o := range base.Offers {
			if o.Cloud == s.Cloud() && !slices.Contains(types, o.InstanceType) {
				types = append(types, o.InstanceType)
			}
		}
		slices.Sort(types)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fetches[i].a, fetches[i].err = cache.getAvailability(ctx, s, types, now)
		}()
	}
	wg.Wait()
	var facts []Availability
	for i, s := range sources {
		a, err := fetches[i].a, fetches[i].err
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
