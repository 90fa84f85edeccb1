package planner

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
)

// PriceOverride sets the price of matching offers, e.g. a negotiated rate.
// Empty Region or CapacityType match every region or capacity type.
type PriceOverride struct {
	Cloud        string
	InstanceType string
	Region       string
	CapacityType CapacityType
	PriceUSDHour float64
}

func (p PriceOverride) matches(o *Offer) bool {
	return p.Cloud == o.Cloud && p.InstanceType == o.InstanceType &&
		(p.Region == "" || p.Region == o.Region) && (p.CapacityType == "" || p.CapacityType == o.CapacityType)
}

// Adjustments change a catalog for one user: which clouds and regions are
// enabled, discounts and negotiated prices.
type Adjustments struct {
	// Clouds keeps only these clouds' offers; empty keeps all.
	Clouds []string
	// Regions keeps, per cloud, only these regions; a cloud absent or with
	// no regions keeps all of its regions.
	Regions map[string][]string
	// DiscountPercent lowers every price of a cloud by this percentage,
	// in [0, 100).
	DiscountPercent map[string]float64
	// Overrides set prices of matching offers; they are not discounted.
	// When several match an offer, the most specific wins (region and
	// capacity type set), then the last in the list.
	Overrides []PriceOverride
}

// Adjust returns a new catalog with the adjustments applied; c is not
// changed. The new catalog's version digests the adjusted offers, so plans
// made from it say which prices they used. Every override must match at
// least one offer, so that a typo does not silently keep list prices.
func (c *Catalog) Adjust(a Adjustments) (*Catalog, error) {
	for cloud, d := range a.DiscountPercent {
		if d < 0 || d >= 100 || math.IsNaN(d) {
			return nil, fmt.Errorf("discount_percent[%q] must be in [0, 100), got %v", cloud, d)
		}
		if !slices.Contains(c.regionValues(regionCloud), cloud) {
			return nil, fmt.Errorf("discount_percent[%q]: unknown cloud; expected one of %s", cloud, strings.Join(c.regionValues(regionCloud), ", "))
		}
	}
	used := make([]bool, len(a.Overrides))
	for i, o := range a.Overrides {
		if !(o.PriceUSDHour > 0) || math.IsInf(o.PriceUSDHour, 0) {
			return nil, fmt.Errorf("price override %d (%s %s): price must be a positive USD amount per node-hour, got %v", i, o.Cloud, o.InstanceType, o.PriceUSDHour)
		}
		if o.CapacityType != "" && o.CapacityType != OnDemand && o.CapacityType != Spot {
			return nil, fmt.Errorf("price override %d (%s %s): capacity type must be %q, %q or empty, got %q", i, o.Cloud, o.InstanceType, OnDemand, Spot, o.CapacityType)
		}
	}
	var offers []Offer
	for _, o := range c.Offers {
		if len(a.Clouds) > 0 && !slices.Contains(a.Clouds, o.Cloud) {
			continue
		}
		if regions := a.Regions[o.Cloud]; len(regions) > 0 && !slices.Contains(regions, o.Region) {
			continue
		}
		if d, ok := a.DiscountPercent[o.Cloud]; ok {
			o.PriceUSDHour *= 1 - d/100
		}
		best, bestSpecificity := -1, -1
		for i, p := range a.Overrides {
			if !p.matches(&o) {
				continue
			}
			used[i] = true
			spec := 0
			if p.Region != "" {
				spec += 2
			}
			if p.CapacityType != "" {
				spec++
			}
			if spec >= bestSpecificity {
				best, bestSpecificity = i, spec
			}
		}
		if best >= 0 {
			o.PriceUSDHour = a.Overrides[best].PriceUSDHour
		}
		offers = append(offers, o)
	}
	for i, ok := range used {
		if !ok {
			o := a.Overrides[i]
			return nil, fmt.Errorf("price override %d matches no offer of the catalog: %s %s region %q capacity type %q",
				i, o.Cloud, o.InstanceType, o.Region, o.CapacityType)
		}
	}
	date, _, _ := strings.Cut(c.Version, "+")
	if strings.HasPrefix(date, "sha256:") {
		date = ""
	}
	return NewCatalog(offers, slices.Collect(maps.Values(c.regions)), date, c.Sources)
}
