package livecatalog

import (
	"context"

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
// (each cloud's own reservation and capacity-block APIs).
func ReservationSources(c SourcesConfig) []ReservationSource {
	var out []ReservationSource
	if c.enabled("aws") {
		out = append(out, &AWSReservations{Config: AWSConfig{Catalog: c.Catalog, Endpoints: c.AWSEndpoints, Credentials: c.AWSCredentials}})
	}
	if c.enabled("gcp") && c.GCPProject != "" {
		out = append(out, &GCPReservations{Project: c.GCPProject, Endpoint: c.GCPComputeEndpoint, ClientOptions: c.GCPClientOptions, AuthEndpoints: c.GCPAuthEndpoints})
	}
	if c.enabled("azure") && c.AzureSubscriptionID != "" {
		out = append(out, &AzureReservations{SubscriptionID: c.AzureSubscriptionID, Endpoint: c.AzureEndpoint,
			HTTPClient: c.AzureHTTPClient, Credential: c.AzureCredential})
	}
	return out
}
