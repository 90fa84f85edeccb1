// Package livecatalog refreshes the planner's catalog from the clouds' own
// price APIs. Each source sits behind PriceSource; Refresh merges what the
// sources return into a catalog, records where every price came from, and
// falls back to the catalog's own prices for a cloud whose source fails,
// with a warning that names the source and the error, so that a price API
// being down never fails a plan.
package livecatalog

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/catalogbuild"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// Price is one list price a source reports.
type Price struct {
	Cloud  string `json:"cloud"`
	Region string `json:"region"`
	// Zone is set for prices that differ by zone (AWS spot); empty prices
	// every zone of the region.
	Zone         string               `json:"zone,omitempty"`
	InstanceType string               `json:"instance_type"`
	CapacityType planner.CapacityType `json:"capacity_type"`
	USDPerHour   float64              `json:"usd_per_hour"`
}

// PriceSource fetches the current prices of one cloud.
type PriceSource interface {
	// Cloud is the cloud the prices are for.
	Cloud() string
	// Name names the source in provenance and warnings.
	Name() string
	// Prices fetches every price the source has.
	Prices(ctx context.Context) ([]Price, error)
}

// Provenance says where an offer's price came from.
type Provenance = catalogbuild.Provenance

// Result is a refreshed catalog.
type Result struct {
	Catalog *planner.Catalog
	// Provenance by offer ID, for the offers whose price a source set;
	// the others keep the base catalog's price (its Sources say where from).
	Provenance map[string]Provenance
	// Warnings name the sources that failed and what was used instead.
	Warnings []string
}

// Refresh asks every source (through cache when one is given) and sets the
// price of every matching offer of base. Prices for offers the catalog does
// not have are ignored: the catalog decides what exists, sources only price
// it.
func Refresh(ctx context.Context, base *planner.Catalog, sources []PriceSource, cache *Cache, now func() time.Time) Result {
	if now == nil {
		now = time.Now
	}
	res := Result{Catalog: base, Provenance: map[string]Provenance{}}
	offers := map[string][]string{} // cloud/region/instance/capacity[/zone] → offer IDs
	for _, o := range base.Offers {
		k := key(o.Cloud, o.Region, o.InstanceType, o.CapacityType)
		offers[k] = append(offers[k], o.ID())
		offers[k+"/"+o.Zone] = append(offers[k+"/"+o.Zone], o.ID())
	}
	// Sources are asked concurrently and merged in the order given.
	fetches := fetchAll(sources, func(s PriceSource) ([]Price, time.Time, error) { return cache.get(ctx, s, now) })
	var overrides []planner.PriceOverride
	byOffer := map[string]Provenance{}
	for i, s := range sources {
		prices, fetched, err := fetches[i].value, fetches[i].at, fetches[i].err
		if err != nil {
			res.Warnings = append(res.Warnings, fmt.Sprintf("live prices from %s failed, using the catalog's %s prices: %v", s.Name(), s.Cloud(), err))
			continue
		}
		for _, p := range prices {
			k := key(p.Cloud, p.Region, p.InstanceType, p.CapacityType)
			if p.Zone != "" {
				k += "/" + p.Zone
			}
			ids, ok := offers[k]
			if !ok || !(p.USDPerHour > 0) {
				continue
			}
			for _, id := range ids {
				byOffer[id] = Provenance{Source: s.Name(), FetchAt: fetched}
			}
			overrides = append(overrides, planner.PriceOverride{Cloud: p.Cloud, InstanceType: p.InstanceType, Region: p.Region,
				Zone: p.Zone, CapacityType: p.CapacityType, PriceUSDHour: p.USDPerHour})
		}
	}
	if len(overrides) == 0 {
		return res
	}
	// Deterministic: sources may list a price twice; the lowest wins.
	sort.SliceStable(overrides, func(i, j int) bool {
		a, b := overrides[i], overrides[j]
		if ka, kb := key(a.Cloud, a.Region, a.InstanceType, a.CapacityType)+"/"+a.Zone, key(b.Cloud, b.Region, b.InstanceType, b.CapacityType)+"/"+b.Zone; ka != kb {
			return ka < kb
		}
		return a.PriceUSDHour > b.PriceUSDHour
	})
	cat, err := base.Adjust(planner.Adjustments{Overrides: overrides})
	if err != nil {
		res.Warnings = append(res.Warnings, fmt.Sprintf("live prices not applied: %v", err))
		return res
	}
	res.Catalog, res.Provenance = cat, byOffer
	return res
}

func key(cloud, region, instanceType string, ct planner.CapacityType) string {
	return cloud + "/" + region + "/" + instanceType + "/" + string(ct)
}
