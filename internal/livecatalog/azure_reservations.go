package livecatalog

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"

	azbackend "github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/azure"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// AzureReservations is Azure's ReservationSource: the capacity
// reservation groups of a subscription
// (https://learn.microsoft.com/rest/api/compute/capacity-reservation-groups/list-by-subscription)
// and, per group, its capacity reservations (size, zone, quantity) and
// its instance view (the VMs allocated in each:
// https://learn.microsoft.com/azure/virtual-machines/capacity-reservation-overallocate
// shows it). Each reservation becomes one planner.Reserved offer: the
// group's location, the reservation's zone ("" for a regional one) and VM
// size, MaxNodes = quantity − VMs allocated, PriceUSDHour 0 (a capacity
// reservation is billed whether VMs use it or not: a VM in it costs
// nothing more), and ReservationID = the group's short name
// "resourceGroup:groupName" (azure.ReservationKey: planner reservation
// IDs cannot contain '/'), which the AKS backend turns back into the
// group's resource ID (azure.ReservationGroupID) for the agent pool's
// capacityReservationGroupID. Reservations not in provisioning state
// Succeeded are left out (a Failed one is unusable until its quantity is
// restored: capacity-reservation-modify).
//
// A fetch makes one list call per page of groups, then per group one GET
// ($expand=instanceView) and one list call per page of reservations.
type AzureReservations struct {
	SubscriptionID string
	// Endpoint overrides Azure Resource Manager with one base URL (a local
	// simulator); HTTPClient is its transport.
	Endpoint   string
	HTTPClient *http.Client
	// Credential replaces azidentity's default chain when set.
	Credential azcore.TokenCredential
	// ClientOptions for anything else (retry policy, cloud).
	ClientOptions arm.ClientOptions
}

var _ ReservationSource = (*AzureReservations)(nil)

// Cloud is "azure".
func (a *AzureReservations) Cloud() string { return "azure" }

// Name names the source.
func (a *AzureReservations) Name() string { return "azure-capacity-reservations" }

// Capacity lists the reserved offers, sorted by offer ID.
func (a *AzureReservations) Capacity(ctx context.Context) ([]planner.Offer, error) {
	if a.SubscriptionID == "" {
		return nil, fmt.Errorf("azure capacity reservations: a subscription is required")
	}
	opts, cred, err := azureClientOptions(a.ClientOptions, a.Endpoint, a.HTTPClient, a.Credential)
	if err != nil {
		return nil, fmt.Errorf("azure capacity reservations: %w", err)
	}
	c, err := azbackend.NewReservationClients(a.SubscriptionID, cred, &opts)
	if err != nil {
		return nil, err
	}
	var groups []string
	pager := c.Groups.NewListBySubscriptionPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, &azureAPIError{api: "capacityReservationGroups", region: a.SubscriptionID, err: err}
		}
		for _, g := range page.Value {
			if g != nil && g.ID != nil {
				groups = append(groups, *g.ID)
			}
		}
	}
	slices.Sort(groups)
	var out []planner.Offer
	for _, id := range groups {
		rs, err := c.ReservationGroup(ctx, id)
		if err != nil {
			return nil, &azureAPIError{api: "capacityReservations", region: azbackend.ReservationKey(id), err: err}
		}
		out = append(out, azureReservedOffers(rs)...)
	}
	slices.SortFunc(out, func(x, y planner.Offer) int { return cmp.Compare(x.ID(), y.ID()) })
	return out, nil
}

// azureReservedOffers are the offers of one group's reservations (see
// AzureReservations); reservations of the same size and zone add up.
func azureReservedOffers(rs []azbackend.ReservedCapacity) []planner.Offer {
	var out []planner.Offer
	for _, r := range rs {
		if r.VMSize == "" || !strings.EqualFold(r.State, "Succeeded") {
			continue
		}
		o := planner.Offer{Cloud: "azure", Region: strings.ToLower(strings.ReplaceAll(r.Location, " ", "")), Zone: r.Zone, InstanceType: r.VMSize,
			CapacityType: planner.Reserved, ReservationID: azbackend.ReservationKey(r.GroupID), MaxNodes: r.Free()}
		if i := slices.IndexFunc(out, func(x planner.Offer) bool { return x.ID() == o.ID() }); i >= 0 {
			out[i].MaxNodes += o.MaxNodes
			continue
		}
		out = append(out, o)
	}
	return out
}

// azureClientOptions are the ARM client options and credential of the
// live Azure sources: one base URL for ARM and sign-in when endpoint is
// set, httpClient as the transport, and, without cred, the backend's
// credential (workload identity — Terraform Cloud dynamic credentials,
// OIDC — else the default chain).
func azureClientOptions(base arm.ClientOptions, endpoint string, httpClient *http.Client, cred azcore.TokenCredential) (arm.ClientOptions, azcore.TokenCredential, error) {
	opts := azbackend.EndpointOptions(base, endpoint, httpClient)
	if cred == nil {
		c, err := azbackend.Credential(os.Getenv, opts.ClientOptions)
		if err != nil {
			return opts, nil, err
		}
		cred = c
	}
	return opts, cred, nil
}
