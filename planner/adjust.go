package planner

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
)

// PriceOverride sets the price of matching offers, e.g. a negotiated rate
// or a live price. Empty Region or Zone match every region or zone; an
// empty CapacityType matches on-demand and spot offers.
type PriceOverride struct {
	Cloud        string
	InstanceType string
	Region       string
	// Zone narrows the override to one zone (live spot prices differ by
	// zone).
	Zone         string
	CapacityType CapacityType
	PriceUSDHour float64
}

// matches: an empty CapacityType matches the list-priced kinds (on-demand
// and spot) only; reservations, blocks and DWS capacity have prices of
// their own.
func (p PriceOverride) matches(o *Offer) bool {
	return p.Cloud == o.Cloud && p.InstanceType == o.InstanceType &&
		(p.Region == "" || p.Region == o.Region) && (p.Zone == "" || p.Zone == o.Zone) &&
		(p.CapacityType == o.CapacityType || p.CapacityType == "" && (o.CapacityType == OnDemand || o.CapacityType == Spot))
}

// OfferMatch selects offers by cloud, region, zone, instance type and
// capacity type; an empty Region, Zone, InstanceType or CapacityType matches
// every value (an empty Zone matches every zone of the region, and the
// offers of clouds without zones).
type OfferMatch struct {
	Cloud        string
	Region       string
	Zone         string
	InstanceType string
	CapacityType CapacityType
}

func (m OfferMatch) matches(o *Offer) bool {
	return m.Cloud == o.Cloud && (m.Region == "" || m.Region == o.Region) && (m.Zone == "" || m.Zone == o.Zone) &&
		(m.InstanceType == "" || m.InstanceType == o.InstanceType) && (m.CapacityType == "" || m.CapacityType == o.CapacityType)
}

// SpotScoreFact is a spot placement score for an instance type in a region
// (Zone empty) or one zone, 1 (unlikely) to 10 (very likely).
type SpotScoreFact struct {
	Cloud        string
	Region       string
	Zone         string
	InstanceType string
	Score        int
}

func (f SpotScoreFact) matches(o *Offer) bool {
	return o.CapacityType == Spot && f.Cloud == o.Cloud && f.Region == o.Region && f.InstanceType == o.InstanceType &&
		(f.Zone == "" || f.Zone == o.Zone)
}

// matchIndex lists OfferMatch positions by "cloud/instance type", an empty
// instance type under "cloud/".
type matchIndex map[string][]int

// candidates are the positions that may match an offer, in list order.
func (m matchIndex) candidates(cloud, instanceType string) []int {
	exact, any := m[cloud+"/"+instanceType], m[cloud+"/"]
	if len(any) == 0 || instanceType == "" {
		return exact
	}
	out := append(slices.Clone(exact), any...)
	slices.Sort(out)
	return out
}

// Adjustments change a catalog for one user: which clouds and regions are
// enabled, discounts and negotiated prices, and the facts about the account
// that live sources report (what cannot be obtained, quotas, spot scores).
type Adjustments struct {
	// Clouds keeps only these clouds' offers; empty keeps all.
	Clouds []string
	// Regions keeps, per cloud, only these regions; a cloud absent or with
	// no regions keeps all of its regions.
	Regions map[string][]string
	// DiscountPercent lowers every price of a cloud by this percentage,
	// in [0, 100): hourly prices and capacity blocks' upfront prices, not
	// the effective prices of reservations (already what is paid).
	DiscountPercent map[string]float64
	// Overrides set prices of matching offers; they are not discounted.
	// When several match an offer, the most specific wins (region and
	// capacity type set), then the last in the list.
	Overrides []PriceOverride
	// Unavailable sets max_nodes to 0 for every matching offer: the
	// instance type is not offered there, or the account may not use it.
	// The planner then rejects those offers as availability. A match that
	// selects nothing is ignored.
	Unavailable []OfferMatch
	// Limits are added to the catalog's limits (account quotas, see
	// Limit). Each must name a known cloud and have MaxGPUs >= 0; a limit
	// whose scope holds no offer is kept and binds nothing.
	Limits []Limit
	// SpotScores set the spot placement score of matching spot offers
	// (on-demand offers have none). A zone's score wins over its region's;
	// among facts equally specific the lowest score wins, so the result
	// does not depend on their order. Scores must be 1 to 10.
	SpotScores []SpotScoreFact
	// Reservations are reserved capacity the user declares (for accounts
	// the provider cannot read); see Reservation.
	Reservations []Reservation
	// Offers are added to the catalog before anything else is adjusted
	// (the reservations, capacity blocks and DWS capacity that live
	// sources read from the clouds): each replaces the catalog's offer
	// with the same ID, or is appended. Their hardware must be set
	// (WithHardware); a later ID wins over an earlier one.
	Offers []Offer
}

// WithHardware returns o with the hardware of its instance type (GPU
// model, count and memory, vCPUs, memory, interconnect, fabric) taken from
// offers: from an offer of o's cloud and instance type in o's region
// first, else anywhere in the cloud, the first in offers among equals. ok
// is false when offers have no offer of o's cloud and instance type. It is
// how a reservation read or declared without its hardware becomes a
// complete offer. For many lookups, index the offers once
// (NewHardwareIndex).
func WithHardware(o Offer, offers []Offer) (_ Offer, ok bool) {
	return NewHardwareIndex(offers).WithHardware(o)
}

func copyHardware(o Offer, from *Offer) Offer {
	o.GPUModel, o.GPUCount, o.GPUMemoryGiB = from.GPUModel, from.GPUCount, from.GPUMemoryGiB
	o.VCPUs, o.MemoryGiB, o.Interconnect, o.Fabric = from.VCPUs, from.MemoryGiB, from.Interconnect, from.Fabric
	return o
}

// HardwareIndex answers WithHardware for many offers in constant time
// each, with the same rule.
type HardwareIndex struct {
	offers            []Offer
	inRegion, inCloud map[string]int // first offer index by cloud/type/region and cloud/type
}

// NewHardwareIndex indexes offers (not copied: they must not change).
func NewHardwareIndex(offers []Offer) *HardwareIndex {
	h := &HardwareIndex{offers: offers, inRegion: map[string]int{}, inCloud: map[string]int{}}
	for i := range offers {
		o := &offers[i]
		k := o.Cloud + "/" + o.InstanceType
		if _, ok := h.inCloud[k]; !ok {
			h.inCloud[k] = i
		}
		if _, ok := h.inRegion[k+"/"+o.Region]; !ok {
			h.inRegion[k+"/"+o.Region] = i
		}
	}
	return h
}

// WithHardware is WithHardware(o, the indexed offers).
func (h *HardwareIndex) WithHardware(o Offer) (Offer, bool) {
	k := o.Cloud + "/" + o.InstanceType
	i, ok := h.inRegion[k+"/"+o.Region]
	if !ok {
		if i, ok = h.inCloud[k]; !ok {
			return o, false
		}
	}
	return copyHardware(o, &h.offers[i]), true
}

// withOffers returns base with add merged in: an offer of add replaces
// base's offer with the same ID (the last of add wins), the others are
// appended in add's order.
func withOffers(base, add []Offer) []Offer {
	if len(add) == 0 {
		return base
	}
	at := map[string]int{}
	out := slices.Clone(base)
	for i := range out {
		at[out[i].ID()] = i
	}
	for _, o := range add {
		if i, ok := at[o.ID()]; ok {
			out[i] = o
			continue
		}
		at[o.ID()] = len(out)
		out = append(out, o)
	}
	return out
}

// Reservation is capacity already paid for, declared by the user: Count
// instances of InstanceType in a region (and zone, where the cloud has
// zones). It becomes a reserved offer (Offer.ReservationID = ID) with the
// instance type's GPUs, memory and interconnect from the catalog's offers
// of that instance type, MaxNodes = Count and PriceUSDHour =
// EffectiveHourlyPrice (0: already paid for, no marginal cost).
//
// A reservation the catalog already lists (same cloud and ID: read from
// the cloud, or a catalog file's reserved row) is not counted twice: the
// two are one offer, with the smaller of the two counts (what both sources
// agree is there) and the declared effective price. They must agree on the
// region, zone and instance type.
type Reservation struct {
	ID                   string
	Cloud                string
	Region               string
	Zone                 string
	InstanceType         string
	Count                int
	EffectiveHourlyPrice float64
}

// ReservationError is a declared reservation that cannot be used: Index is
// its position in Adjustments.Reservations and Field the attribute at fault
// ("id", "cloud", "region", "zone", "instance_type", "count",
// "effective_hourly_price").
type ReservationError struct {
	Index   int
	Field   string
	Message string
}

func (e *ReservationError) Error() string {
	return fmt.Sprintf("reservation[%d].%s: %s", e.Index, e.Field, e.Message)
}

// reservationOffers turns declared reservations into reserved offers and
// merges them into offers (see Reservation). all are the catalog's offers
// before any filtering, where instance types are looked up; a reservation
// must be in a cloud and region the adjustments enable.
func (c *Catalog) reservationOffers(offers, all []Offer, enabled Adjustments) ([]Offer, error) {
	rs := enabled.Reservations
	hardware := NewHardwareIndex(all)
	clouds := c.regionValues(regionCloud)
	seen := map[string]int{} // cloud/ID → index
	for i, r := range rs {
		fail := func(field, format string, args ...any) error {
			return &ReservationError{Index: i, Field: field, Message: fmt.Sprintf(format, args...)}
		}
		if r.ID == "" || strings.Contains(r.ID, "/") {
			return nil, fail("id", "%q is not a reservation ID: it must be non-empty and contain no '/'", r.ID)
		}
		if !slices.Contains(clouds, r.Cloud) {
			return nil, fail("cloud", "unknown cloud %q; expected one of %s", r.Cloud, strings.Join(clouds, ", "))
		}
		if j, dup := seen[r.Cloud+"/"+r.ID]; dup {
			return nil, fail("id", "%s reservation %q is already declared by reservation[%d]", r.Cloud, r.ID, j)
		}
		seen[r.Cloud+"/"+r.ID] = i
		if len(enabled.Clouds) > 0 && !slices.Contains(enabled.Clouds, r.Cloud) {
			return nil, fail("cloud", "%s is not enabled (enabled: %s)", r.Cloud, strings.Join(enabled.Clouds, ", "))
		}
		if regions := enabled.Regions[r.Cloud]; len(regions) > 0 && !slices.Contains(regions, r.Region) {
			return nil, fail("region", "%q is not one of the enabled %s regions (%s)", r.Region, r.Cloud, strings.Join(regions, ", "))
		}
		if _, ok := c.Region(r.Cloud, r.Region); !ok {
			known := knownRegionsOf(r.Cloud)
			return nil, fail("region", "%q is not a known %s region (known: %s)", r.Region, r.Cloud, known)
		}
		if r.Count < 0 {
			return nil, fail("count", "must be 0 or a positive number of instances, got %d", r.Count)
		}
		if r.EffectiveHourlyPrice < 0 || math.IsNaN(r.EffectiveHourlyPrice) || math.IsInf(r.EffectiveHourlyPrice, 0) {
			return nil, fail("effective_hourly_price", "must be 0 (already paid for) or a positive USD price per instance-hour, got %v", r.EffectiveHourlyPrice)
		}
		// The instance type's facts: an offer of it in the region first,
		// else anywhere in the cloud (canonical order picks among equals).
		o, ok := hardware.WithHardware(Offer{Cloud: r.Cloud, Region: r.Region, Zone: r.Zone, InstanceType: r.InstanceType,
			CapacityType: Reserved, ReservationID: r.ID, MaxNodes: r.Count, PriceUSDHour: r.EffectiveHourlyPrice})
		if !ok {
			var types []string
			for k := range all {
				if all[k].Cloud == r.Cloud {
					types = append(types, all[k].InstanceType)
				}
			}
			types = sortedUnique(types)
			msg := fmt.Sprintf("%s instance type %q has no offer in the catalog, so its GPUs are unknown", r.Cloud, r.InstanceType)
			if s := nearest(r.InstanceType, types, 3); len(s) > 0 {
				msg += " (did you mean " + quoteJoin(s, " or ") + "?)"
			}
			return nil, fail("instance_type", "%s", msg)
		}
		merged := false
		for k := range offers {
			l := &offers[k]
			if l.CapacityType != Reserved || l.Cloud != r.Cloud || l.ReservationID != r.ID {
				continue
			}
			switch {
			case l.Region != r.Region:
				return nil, fail("region", "is %q, but the catalog lists %s reservation %q in %q", r.Region, r.Cloud, r.ID, l.Region)
			case l.Zone != r.Zone:
				return nil, fail("zone", "is %q, but the catalog lists %s reservation %q in zone %q", r.Zone, r.Cloud, r.ID, l.Zone)
			case l.InstanceType != r.InstanceType:
				return nil, fail("instance_type", "is %q, but the catalog lists %s reservation %q of %q", r.InstanceType, r.Cloud, r.ID, l.InstanceType)
			}
			if l.MaxNodes != Unlimited {
				o.MaxNodes = min(o.MaxNodes, l.MaxNodes)
			}
			*l, merged = o, true
		}
		if !merged {
			offers = append(offers, o)
		}
	}
	return offers, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Adjust returns a new catalog with the adjustments applied; c is not
// changed. The new catalog's version digests the adjusted offers, so plans
// made from it say which prices and facts they used. Every override must
// match at least one offer, so that a typo does not silently keep list
// prices. The catalog's limits are kept and Adjustments.Limits added.
func (c *Catalog) Adjust(a Adjustments) (*Catalog, error) {
	clouds := c.regionValues(regionCloud)
	for i, l := range a.Limits {
		if err := l.validate(clouds); err != nil {
			return nil, fmt.Errorf("limits[%d] (%q): %w", i, l.Name, err)
		}
	}
	for i, m := range a.Unavailable {
		if !slices.Contains(clouds, m.Cloud) {
			return nil, fmt.Errorf("unavailable[%d]: unknown cloud %q; expected one of %s", i, m.Cloud, strings.Join(clouds, ", "))
		}
		if m.CapacityType != "" && m.CapacityType != OnDemand && m.CapacityType != Spot {
			return nil, fmt.Errorf("unavailable[%d]: capacity type must be %q, %q or empty, got %q", i, OnDemand, Spot, m.CapacityType)
		}
	}
	for i, f := range a.SpotScores {
		switch {
		case !slices.Contains(clouds, f.Cloud):
			return nil, fmt.Errorf("spot_scores[%d]: unknown cloud %q; expected one of %s", i, f.Cloud, strings.Join(clouds, ", "))
		case f.Region == "" || f.InstanceType == "":
			return nil, fmt.Errorf("spot_scores[%d]: region and instance type must be set, got %q and %q", i, f.Region, f.InstanceType)
		case f.Score < 1 || f.Score > 10:
			return nil, fmt.Errorf("spot_scores[%d] (%s %s %s): score must be 1 to 10, got %d", i, f.Cloud, f.Region, f.InstanceType, f.Score)
		}
	}
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
	// Index the facts by cloud and instance type (live sources give
	// thousands; matching each offer against all of them is quadratic).
	// Indexes stay in list order, which the "last wins" rules rely on.
	overrides := map[string][]int{}
	for i, p := range a.Overrides {
		overrides[p.Cloud+"/"+p.InstanceType] = append(overrides[p.Cloud+"/"+p.InstanceType], i)
	}
	spotScores := map[string][]int{}
	for i, f := range a.SpotScores {
		spotScores[f.Cloud+"/"+f.InstanceType] = append(spotScores[f.Cloud+"/"+f.InstanceType], i)
	}
	unavailable := matchIndex{}
	for i, m := range a.Unavailable {
		unavailable[m.Cloud+"/"+m.InstanceType] = append(unavailable[m.Cloud+"/"+m.InstanceType], i)
	}
	all := withOffers(c.Offers, a.Offers)
	var offers []Offer
	for _, o := range all {
		if len(a.Clouds) > 0 && !slices.Contains(a.Clouds, o.Cloud) {
			continue
		}
		if regions := a.Regions[o.Cloud]; len(regions) > 0 && !slices.Contains(regions, o.Region) {
			continue
		}
		if d, ok := a.DiscountPercent[o.Cloud]; ok && o.CapacityType != Reserved {
			o.PriceUSDHour *= 1 - d/100
			o.UpfrontUSD *= 1 - d/100 // a block's hourly price stays its upfront price over its hours
		}
		best, bestSpecificity := -1, -1
		for _, i := range overrides[o.Cloud+"/"+o.InstanceType] {
			p := a.Overrides[i]
			if !p.matches(&o) {
				continue
			}
			used[i] = true
			spec := 0
			if p.Zone != "" {
				spec += 4
			}
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
		for _, i := range unavailable.candidates(o.Cloud, o.InstanceType) {
			if a.Unavailable[i].matches(&o) {
				o.MaxNodes = 0
				break
			}
		}
		if score, zoneLevel := 0, false; o.CapacityType == Spot {
			for _, i := range spotScores[o.Cloud+"/"+o.InstanceType] {
				f := a.SpotScores[i]
				if !f.matches(&o) {
					continue
				}
				z := f.Zone != ""
				if score == 0 || z && !zoneLevel || z == zoneLevel && f.Score < score {
					score, zoneLevel = f.Score, z
				}
			}
			if score > 0 {
				o.SpotScore = score
			}
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
	if len(a.Reservations) > 0 {
		var err error
		if offers, err = c.reservationOffers(offers, all, a); err != nil {
			return nil, err
		}
	}
	date, _, _ := strings.Cut(c.Version, "+")
	if strings.HasPrefix(date, "sha256:") {
		date = ""
	}
	limits := append(slices.Clone(c.Limits), a.Limits...)
	return newCatalog(offers, slices.Collect(maps.Values(c.regions)), date, c.Sources, limits)
}
