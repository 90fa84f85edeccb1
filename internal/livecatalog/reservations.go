package livecatalog

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// ReservationSource lists the reserved and schedulable capacity of one
// cloud that an account holds or can buy: capacity reservations, capacity
// block offerings, DWS calendar reservations and flex-start capacity.
type ReservationSource interface {
	// Cloud is the cloud the capacity is on.
	Cloud() string
	// Name names the source in warnings.
	Name() string
	// Capacity fetches every reservation or offering the source has, as
	// offers of capacity types planner.Reserved, CapacityBlock, FlexStart
	// or Calendar. Each sets only what the cloud's API says: Cloud,
	// Region, Zone, InstanceType, CapacityType, ReservationID, MaxNodes
	// (free instances of a reservation, instances of a block),
	// PriceUSDHour (0 for capacity already paid for), StartTime,
	// DurationHours, UpfrontUSD, MaxRunHours; the hardware (GPU model,
	// count, memory, interconnect) comes from the catalog's offers of the
	// same instance type when the catalog is refreshed.
	Capacity(ctx context.Context) ([]planner.Offer, error)
}

// ReservationSources builds the reservation sources of the enabled clouds
// (each cloud's own reservation and capacity-block APIs; AWS's built by
// c.AWS, pointed at CapacityEndpoints["aws"] when set).
func ReservationSources(c SourcesConfig) []ReservationSource {
	var out []ReservationSource
	if c.enabled("aws") {
		out = append(out, c.awsSources().Reservations...)
	}
	if c.enabled("gcp") && c.GCPProject != "" {
		compute := c.GCPComputeEndpoint
		if u := c.CapacityEndpoints["gcp"]; u != "" {
			compute = strings.TrimRight(u, "/") + "/compute/v1/"
		}
		out = append(out, &GCPReservations{Project: c.GCPProject, Endpoint: compute, ClientOptions: c.GCPClientOptions, AuthEndpoints: c.GCPAuthEndpoints})
	}
	if c.enabled("azure") && c.AzureSubscriptionID != "" {
		arm := c.AzureEndpoint
		if u := c.CapacityEndpoints["azure"]; u != "" {
			arm = u
		}
		out = append(out, &AzureReservations{SubscriptionID: c.AzureSubscriptionID, Endpoint: arm,
			HTTPClient: c.AzureHTTPClient, Credential: c.AzureCredential})
	}
	return out
}

// ReservationsResult is a catalog with live reservations added.
type ReservationsResult struct {
	Catalog *planner.Catalog
	// Facts counts the offers added, per source name.
	Facts map[string]string
	// Provenance by offer ID, for the offers a source added: their price
	// (0 for capacity already paid for, a block's upfront fee) is the
	// source's.
	Provenance map[string]Provenance
	// Warnings name the sources that failed (the catalog keeps what it
	// had) and the offers that could not be used.
	Warnings []string
}

// RefreshReservations asks every source (through cache when given),
// concurrently, and adds what they report to base, merged in the sources'
// order: each offer gets its instance type's hardware from base's offers
// of the same cloud (planner.WithHardware, the rule declared reservations
// follow) and replaces base's offer with the same ID (a later source wins
// over an earlier one). An offer of an instance type base does not know,
// of a cloud other than its source's, or that the catalog's rules refuse
// (planner.NewCatalog's checks) is skipped with a warning; a
// source that fails is a warning naming it, never an error. Reservations
// declared in the provider's catalog {} block are merged later
// (planner.Adjustments.Reservations) and are not counted twice. The result
// does not depend on the order of a source's offers.
func RefreshReservations(ctx context.Context, base *planner.Catalog, sources []ReservationSource, cache *Cache, now func() time.Time) ReservationsResult {
	if now == nil {
		now = time.Now
	}
	res := ReservationsResult{Catalog: base, Facts: map[string]string{}, Provenance: map[string]Provenance{}}
	fetches := fetchAll(sources, func(s ReservationSource) ([]planner.Offer, time.Time, error) {
		return cache.getReservations(ctx, s, now)
	})
	// One offer the catalog would refuse (a block without its window, a
	// region the catalog does not know) is skipped alone, by the
	// catalog's own rules. All of a source's offers are checked at once
	// first (one catalog build); only when that fails, one by one.
	regions, hardware := base.Regions(), planner.NewHardwareIndex(base.Offers)
	var add []planner.Offer
	for i, s := range sources {
		offers, fetched, err := fetches[i].value, fetches[i].at, fetches[i].err
		if err != nil {
			res.Warnings = append(res.Warnings, fmt.Sprintf("live reservations from %s failed, using the catalog's %s reservations: %v", s.Name(), s.Cloud(), err))
			continue
		}
		offers = slices.Clone(offers)
		slices.SortStableFunc(offers, func(a, b planner.Offer) int { return strings.Compare(a.ID(), b.ID()) })
		var filled []planner.Offer
		for _, o := range offers {
			if f, ok := hardware.WithHardware(o); ok && o.Cloud == s.Cloud() {
				filled = append(filled, f)
			}
		}
		_, allValid := planner.NewCatalog(filled, regions, "", nil)
		usable := func(o planner.Offer) (planner.Offer, bool) {
			if allValid == nil {
				return o, true
			}
			if _, err := planner.NewCatalog([]planner.Offer{o}, regions, "", nil); err != nil {
				res.Warnings = append(res.Warnings, fmt.Sprintf("live reservations from %s: %s skipped: %v", s.Name(), o.ID(), err))
				return o, false
			}
			return o, true
		}
		used := 0
		for _, o := range offers {
			if o.Cloud != s.Cloud() {
				res.Warnings = append(res.Warnings, fmt.Sprintf("live reservations from %s: %s is on %s, not %s: skipped", s.Name(), o.ID(), o.Cloud, s.Cloud()))
				continue
			}
			full, ok := hardware.WithHardware(o)
			if !ok {
				res.Warnings = append(res.Warnings, fmt.Sprintf("live reservations from %s: %s instance type %q has no offer in the catalog, so its GPUs are unknown: %s skipped",
					s.Name(), o.Cloud, o.InstanceType, o.ID()))
				continue
			}
			full, ok = usable(full)
			if !ok {
				continue
			}
			add, used = append(add, full), used+1
			res.Provenance[full.ID()] = Provenance{Source: s.Name(), FetchAt: fetched}
		}
		res.Facts[s.Name()] = fmt.Sprintf("%d reservations and offerings", used)
	}
	if len(add) == 0 {
		return res
	}
	cat, err := base.Adjust(planner.Adjustments{Offers: add})
	if err != nil {
		res.Warnings = append(res.Warnings, fmt.Sprintf("live reservations not applied: %v", err))
		res.Provenance = map[string]Provenance{}
		return res
	}
	res.Catalog = cat
	return res
}
