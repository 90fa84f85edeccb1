package livecatalog

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"path"
	"slices"
	"strings"
	"time"

	"google.golang.org/api/compute/v1"
	"google.golang.org/api/option"

	gcpbackend "github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/gcp"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// GCPReservations is the reserved and scheduled capacity of a project,
// from the Compute Engine API:
//
//   - reservations.aggregatedList: each READY reservation with a
//     specificReservation is a "reserved" offer, ReservationID = its name,
//     in its zone, MaxNodes = specificReservation.count − inUseCount (the
//     instances it can still launch; a reservation with none free is left
//     out), PriceUSDHour 0 (reserved capacity is paid for whether used or
//     not).
//   - futureReservations.aggregatedList: each calendar-mode future
//     reservation (reservationMode CALENDAR) that Google approved
//     (status.procurementStatus APPROVED, PROVISIONING, FULFILLED or
//     COMMITTED) and has not ended is a "calendar" offer, ReservationID =
//     reservationName (the reservation Compute Engine creates at
//     delivery, which node pools name), StartTime =
//     timeWindow.startTime, DurationHours = its window rounded up to whole
//     hours, MaxNodes = specificSkuProperties.totalCount less the
//     delivered reservation's inUseCount; PriceUSDHour 0 (an approved
//     calendar reservation is billed for its window whether used or not:
//     https://cloud.google.com/compute/docs/instances/future-reservations-calendar-mode-overview).
//     Its delivered reservation is not listed again as "reserved".
//
// The instance type is the catalog's name of
// instanceProperties.machineType with its guestAccelerators
// (gcp.CatalogInstanceType). Offers set only what the API says; the
// hardware comes from the catalog.
//
// Flex-start (DWS) capacity is not listed: the API has no flex-start
// offers to read (flex-start is requested per node pool, not held), and
// the catalog has no flex-start price rows; its spot rows are another
// price (spot is preemptible at any time, flex-start runs up to seven days
// at its own discount), so there is no honest price to offer it at here.
//
// A fetch makes one call per page of each aggregated list.
type GCPReservations struct {
	// Project is the project whose reservations are read (required).
	Project string
	// Endpoint overrides https://compute.googleapis.com/compute/v1/.
	Endpoint string
	// ClientOptions for the Compute Engine client; Application Default
	// Credentials (or Terraform Cloud dynamic credentials) when empty.
	ClientOptions []option.ClientOption
	// AuthEndpoints override the token endpoints of Terraform Cloud
	// dynamic credentials (used when ClientOptions is empty).
	AuthEndpoints gcpbackend.AuthEndpoints
	// Retry bounds the retries of each request.
	Retry GCPRetry
	// Now tells which calendar reservations have ended; time.Now when nil.
	Now func() time.Time
}

var _ ReservationSource = (*GCPReservations)(nil)

// Cloud is "gcp".
func (g *GCPReservations) Cloud() string { return "gcp" }

// Name names the source.
func (g *GCPReservations) Name() string { return "gcp-compute-reservations" }

// calendarLive are the procurement statuses of a future reservation that
// Google approved (compute v1 FutureReservationStatus.procurementStatus).
var calendarLive = map[string]bool{"APPROVED": true, "PROVISIONING": true, "FULFILLED": true, "COMMITTED": true}

// Capacity lists the project's reservations and calendar reservations.
func (g *GCPReservations) Capacity(ctx context.Context) ([]planner.Offer, error) {
	if g.Project == "" {
		return nil, errors.New("gcp reservations: a project is required")
	}
	opts, err := gcpOptions(ctx, g.Endpoint, g.AuthEndpoints, g.ClientOptions)
	if err != nil {
		return nil, fmt.Errorf("compute credentials: %w", err)
	}
	svc, err := compute.NewService(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("compute client: %w", err)
	}
	now := time.Now()
	if g.Now != nil {
		now = g.Now()
	}
	var frs []*compute.FutureReservation
	err = gcpPages(ctx, g.Retry, "compute futureReservations.aggregatedList "+g.Project,
		func(token string) (*compute.FutureReservationsAggregatedListResponse, error) {
			return svc.FutureReservations.AggregatedList(g.Project).PageToken(token).Context(ctx).Do()
		}, func(page *compute.FutureReservationsAggregatedListResponse) string {
			for _, k := range slices.Sorted(maps.Keys(page.Items)) {
				frs = append(frs, page.Items[k].FutureReservations...)
			}
			return page.NextPageToken
		})
	if err != nil {
		return nil, err
	}
	var rs []*compute.Reservation
	err = gcpPages(ctx, g.Retry, "compute reservations.aggregatedList "+g.Project,
		func(token string) (*compute.ReservationAggregatedList, error) {
			return svc.Reservations.AggregatedList(g.Project).PageToken(token).Context(ctx).Do()
		}, func(page *compute.ReservationAggregatedList) string {
			for _, k := range slices.Sorted(maps.Keys(page.Items)) {
				rs = append(rs, page.Items[k].Reservations...)
			}
			return page.NextPageToken
		})
	if err != nil {
		return nil, err
	}
	return gcpReservationOffers(rs, frs, now), nil
}

// gcpPages fetches every page of a list: call asks for the page after
// token (the first with ""), each takes a page and returns the next
// token ("" after the last page).
func gcpPages[P any](ctx context.Context, r GCPRetry, api string, call func(token string) (P, error), each func(P) string) error {
	token := ""
	for {
		page, err := gcpDo(ctx, r, api, func() (P, error) { return call(token) })
		if err != nil {
			return err
		}
		if token = each(page); token == "" {
			return nil
		}
	}
}

// gcpReservationOffers turns reservations and future reservations into
// offers, in ID order.
func gcpReservationOffers(rs []*compute.Reservation, frs []*compute.FutureReservation, now time.Time) []planner.Offer {
	inUse := map[string]int64{} // zone/name -> instances in use
	for _, r := range rs {
		if r != nil && r.SpecificReservation != nil {
			inUse[path.Base(r.Zone)+"/"+r.Name] = r.SpecificReservation.InUseCount
		}
	}
	var out []planner.Offer
	calendarNames := map[string]bool{}
	for _, fr := range frs {
		if fr == nil || fr.ReservationMode != "CALENDAR" || fr.Status == nil || !calendarLive[fr.Status.ProcurementStatus] ||
			fr.TimeWindow == nil || fr.SpecificSkuProperties == nil {
			continue
		}
		zone := path.Base(fr.Zone)
		name := fr.ReservationName
		if name == "" {
			name = fr.Name
		}
		calendarNames[zone+"/"+name] = true
		start, err := time.Parse(time.RFC3339, fr.TimeWindow.StartTime)
		if err != nil {
			continue
		}
		end, err := time.Parse(time.RFC3339, fr.TimeWindow.EndTime)
		if err != nil && fr.TimeWindow.Duration != nil {
			end, err = start.Add(time.Duration(fr.TimeWindow.Duration.Seconds)*time.Second), nil
		}
		if err != nil || !end.After(start) || !now.Before(end) {
			continue
		}
		free := fr.SpecificSkuProperties.TotalCount - inUse[zone+"/"+name]
		it := reservedInstanceType(fr.SpecificSkuProperties.InstanceProperties)
		if free <= 0 || it == "" {
			continue
		}
		out = append(out, planner.Offer{Cloud: "gcp", Region: gcpZoneRegion(zone), Zone: zone, InstanceType: it,
			CapacityType: planner.Calendar, ReservationID: name, MaxNodes: int(free),
			StartTime: start.UTC().Format(planner.TimeLayout), DurationHours: int(math.Ceil(end.Sub(start).Hours()))})
	}
	for _, r := range rs {
		if r == nil || r.SpecificReservation == nil || (r.Status != "" && r.Status != "READY") {
			continue
		}
		zone := path.Base(r.Zone)
		if calendarNames[zone+"/"+r.Name] {
			continue
		}
		free := r.SpecificReservation.Count - r.SpecificReservation.InUseCount
		it := reservedInstanceType(r.SpecificReservation.InstanceProperties)
		if free <= 0 || it == "" {
			continue
		}
		out = append(out, planner.Offer{Cloud: "gcp", Region: gcpZoneRegion(zone), Zone: zone, InstanceType: it,
			CapacityType: planner.Reserved, ReservationID: r.Name, MaxNodes: int(free)})
	}
	slices.SortFunc(out, func(a, b planner.Offer) int { return strings.Compare(a.ID(), b.ID()) })
	return out
}

// reservedInstanceType is the catalog's name of reserved instance
// properties.
func reservedInstanceType(p *compute.AllocationSpecificSKUAllocationReservedInstanceProperties) string {
	if p == nil || p.MachineType == "" {
		return ""
	}
	machine := path.Base(p.MachineType)
	for _, a := range p.GuestAccelerators {
		if a != nil && a.AcceleratorCount > 0 {
			return gcpbackend.CatalogInstanceType(machine, path.Base(a.AcceleratorType), int(a.AcceleratorCount))
		}
	}
	return machine
}
