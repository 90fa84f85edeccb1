package azure

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
)

// Agent pools on capacity reservation groups
// (https://learn.microsoft.com/azure/aks/use-capacity-reservation-groups).
//
// A "reserved" pool's spec names a capacity reservation group
// (cloud.Reservation.ID): its full resource ID, or the short form
// "resourceGroup:groupName" that the live catalog's reserved offers carry
// (planner reservation IDs cannot contain '/'; ':' is in neither a
// resource group name nor a capacity reservation group name). The agent
// pool's properties.capacityReservationGroupID is the group's resource
// ID, and its VMs take the group's capacity reservation of the pool's VM
// size and zone ("a VM's size and zone must match a capacity reservation
// in the group":
// https://learn.microsoft.com/azure/virtual-machines/capacity-reservation-associate-vm).
//
// What AKS requires, and what this backend does about it:
//   - "an existing capacity reservation group with at least one capacity
//     reservation. If not, the node pool is added to the cluster with a
//     warning and no capacity reservation group gets associated": AKS
//     would quietly create an unreserved pool, so CreateNodePool reads
//     the group first (with $expand=instanceView) and refuses a group
//     without a reservation of the pool's VM size and zone (KindInvalid:
//     that offer can never work).
//   - Azure lets VMs beyond a reservation's quantity join the group
//     (overallocation: they run without the capacity SLA, at pay-as-you-go
//     prices: https://learn.microsoft.com/azure/virtual-machines/capacity-reservation-overallocate).
//     A gpufleet reserved offer promises reserved capacity, so a pool
//     larger than the reservation's free instances (capacity minus
//     virtualMachinesAllocated) is a KindCapacity error naming the group
//     before anything is created, and the fleet fails over to its next
//     offer.
//   - The cluster identity needs the Contributor role on the resource
//     group that holds the capacity reservation group. CreateNodePool
//     grants it (the same role-assignment mechanism as the network role,
//     roles.go) and DeleteNodePool revokes it when the cluster's last pool
//     on a group in that resource group goes. AKS documents the feature
//     for a user-assigned cluster identity only ("You need to create a
//     user-assigned managed identity ... and assign the identity to your
//     AKS cluster. System-assigned managed identities don't work for this
//     feature"), so the role goes to the cluster's user-assigned identity
//     (gpufleet_cluster azure.user_assigned_identity_id, identity.go), and
//     a reserved pool on a cluster with a system-assigned identity is a
//     KindInvalid error before anything is created, saying what to set.
//   - capacity_block, flex_start and calendar capacity do not exist on
//     Azure: a pool of those kinds is a KindInvalid error naming the kind.

// contributor is the built-in Contributor role
// (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/general#contributor).
const contributor = "b24988ac-6180-42a0-ab88-20f7382dd24c"

// ReservationKey is the short form of a capacity reservation group's
// resource ID ("resourceGroup:groupName"), the planner reservation ID of
// its offers; ReservationGroupID turns it back into the resource ID.
func ReservationKey(groupID string) string {
	ref, err := arm.ParseResourceID(groupID)
	if err != nil {
		return groupID
	}
	return ref.ResourceGroupName + ":" + ref.Name
}

// ReservationGroupID is the resource ID of the capacity reservation group
// id names in subscription sub: id itself when it is a resource ID of one,
// else the short form of ReservationKey.
func ReservationGroupID(sub, id string) (string, error) {
	if strings.HasPrefix(id, "/") {
		ref, err := arm.ParseResourceID(id)
		if err != nil || !strings.EqualFold(ref.ResourceType.String(), "Microsoft.Compute/capacityReservationGroups") {
			return "", fmt.Errorf("%q is not the resource ID of a capacity reservation group (/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/capacityReservationGroups/{name})", id)
		}
		return id, nil
	}
	rg, name, ok := strings.Cut(id, ":")
	if !ok || rg == "" || name == "" || strings.ContainsAny(name, ":/") {
		return "", fmt.Errorf("%q names no capacity reservation group: want its resource ID or resourceGroup:groupName", id)
	}
	return "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/Microsoft.Compute/capacityReservationGroups/" + name, nil
}

// ReservedCapacity is one capacity reservation of a group, as its
// instance view reports it.
type ReservedCapacity struct {
	// GroupID is the capacity reservation group's resource ID.
	GroupID  string
	Name     string
	Location string
	VMSize   string
	// Zone is the reservation's zone; "" for a regional one.
	Zone string
	// Capacity is the instances reserved (sku.capacity); Allocated the
	// VMs using them (instanceView.utilizationInfo.virtualMachinesAllocated).
	Capacity, Allocated int
	// State is the provisioning state ("Succeeded" when usable).
	State string
}

// Free is the reservation's instances no VM uses.
func (r ReservedCapacity) Free() int { return max(r.Capacity-r.Allocated, 0) }

// ReservationClients are the Compute clients of capacity reservations.
type ReservationClients struct {
	Groups       *armcompute.CapacityReservationGroupsClient
	Reservations *armcompute.CapacityReservationsClient
}

// NewReservationClients creates them for a subscription.
func NewReservationClients(sub string, cred azcore.TokenCredential, opts *arm.ClientOptions) (ReservationClients, error) {
	g, err := armcompute.NewCapacityReservationGroupsClient(sub, cred, opts)
	if err != nil {
		return ReservationClients{}, err
	}
	r, err := armcompute.NewCapacityReservationsClient(sub, cred, opts)
	if err != nil {
		return ReservationClients{}, err
	}
	return ReservationClients{Groups: g, Reservations: r}, nil
}

// ReservationGroup reads the capacity reservations of the group with
// resource ID groupID, in name order: each reservation's size, zone and
// capacity (the reservations list) and its allocated VMs (the group's
// instance view, $expand=instanceView). Errors are the SDK's.
func (c ReservationClients) ReservationGroup(ctx context.Context, groupID string) ([]ReservedCapacity, error) {
	ref, err := arm.ParseResourceID(groupID)
	if err != nil {
		return nil, err
	}
	g, err := c.Groups.Get(ctx, ref.ResourceGroupName, ref.Name,
		&armcompute.CapacityReservationGroupsClientGetOptions{Expand: to.Ptr(armcompute.CapacityReservationGroupInstanceViewTypesInstanceView)})
	if err != nil {
		return nil, err
	}
	allocated := map[string]int{}
	if p := g.Properties; p != nil && p.InstanceView != nil {
		for _, iv := range p.InstanceView.CapacityReservations {
			if iv != nil && iv.UtilizationInfo != nil {
				allocated[strings.ToLower(str(iv.Name))] = len(iv.UtilizationInfo.VirtualMachinesAllocated)
			}
		}
	}
	var out []ReservedCapacity
	pager := c.Reservations.NewListByCapacityReservationGroupPager(ref.ResourceGroupName, ref.Name, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, r := range page.Value {
			if r == nil {
				continue
			}
			rc := ReservedCapacity{GroupID: groupID, Name: str(r.Name), Location: str(r.Location), Allocated: allocated[strings.ToLower(str(r.Name))]}
			if r.SKU != nil {
				rc.VMSize = str(r.SKU.Name)
				if r.SKU.Capacity != nil {
					rc.Capacity = int(*r.SKU.Capacity)
				}
			}
			if len(r.Zones) > 0 {
				rc.Zone = str(r.Zones[0])
			}
			if r.Properties != nil {
				rc.State = str(r.Properties.ProvisioningState)
			}
			out = append(out, rc)
		}
	}
	slices.SortFunc(out, func(a, b ReservedCapacity) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// reservationGroup is the capacity reservation group a spec targets (its
// resource ID), "" for capacity without one; other scheduled kinds are
// refused (see above).
func (b *Backend) reservationGroup(op string, spec cloud.NodePoolSpec) (string, error) {
	switch spec.CapacityType {
	case "", "on_demand", "spot":
		return "", nil
	case "reserved":
	default:
		return "", cloud.Invalid("azure", op, "UnsupportedCapacityType",
			"capacity type %q is not available on Azure: AKS agent pools take on_demand, spot or reserved (a capacity reservation group); pick another offer for pool %s",
			spec.CapacityType, spec.Name).ForOffer(spec)
	}
	if spec.Reservation == nil || spec.Reservation.ID == "" {
		return "", cloud.Invalid("azure", op, "InvalidCapacityReservationGroup", "pool %s is reserved but names no capacity reservation group", spec.Name).ForOffer(spec)
	}
	id, err := ReservationGroupID(b.cfg.SubscriptionID, spec.Reservation.ID)
	if err != nil {
		return "", cloud.Invalid("azure", op, "InvalidCapacityReservationGroup", "pool %s: reservation %v", spec.Name, err).ForOffer(spec)
	}
	return id, nil
}

// checkReservation refuses a pool of n more nodes on group that has no
// capacity reservation of the pool's VM size and zone (KindInvalid) or
// fewer free instances in it than n (KindCapacity), naming the group.
func (b *Backend) checkReservation(ctx context.Context, op, group string, spec cloud.NodePoolSpec, n int) error {
	rs, err := b.res.ReservationGroup(ctx, group)
	if err != nil {
		return cloud.WithOffer(classify("GetCapacityReservationGroup", err), spec)
	}
	var have []string
	for _, r := range rs {
		if !strings.EqualFold(r.VMSize, spec.InstanceType) || r.Zone != spec.Zone {
			have = append(have, fmt.Sprintf("%s (%s, zone %q)", r.Name, r.VMSize, r.Zone))
			continue
		}
		if r.Free() < n {
			return cloud.Capacity("azure", op, "CapacityReservationExhausted",
				"capacity reservation group %s: reservation %s has %d of %d %s instances free in zone %q, pool %s needs %d",
				ReservationKey(group), r.Name, r.Free(), r.Capacity, r.VMSize, r.Zone, spec.Name, n).ForOffer(spec)
		}
		return nil
	}
	has := "it has none: AKS would add the pool without the group"
	if len(have) > 0 {
		has = "it has " + strings.Join(have, ", ")
	}
	return cloud.Invalid("azure", op, "CapacityReservationNotFound",
		"capacity reservation group %s has no capacity reservation of %s in zone %q for pool %s (%s); a VM's size and zone must match a reservation in the group",
		ReservationKey(group), spec.InstanceType, spec.Zone, spec.Name, has).ForOffer(spec)
}

// rgScope is the resource group part of a resource ID.
func rgScope(id string) string {
	ref, err := arm.ParseResourceID(id)
	if err != nil {
		return ""
	}
	return "/subscriptions/" + ref.SubscriptionID + "/resourceGroups/" + ref.ResourceGroupName
}

// clusterPrincipal is the object ID of a cluster's identity and whether
// it is user-assigned.
func (b *Backend) clusterPrincipal(ctx context.Context, cluster string) (string, bool, error) {
	resp, err := b.clusters.Get(ctx, resourceGroup(cluster), cluster, nil)
	if err != nil {
		return "", false, classify("GetCluster", err)
	}
	principal, user := identityPrincipal(resp.Identity)
	return principal, user, nil
}

// reservationPrincipal is the user-assigned identity of the cluster of a
// reserved pool, which is granted Contributor on the reservation group's
// resource group; a cluster without one is refused (see above).
func (b *Backend) reservationPrincipal(ctx context.Context, spec cloud.NodePoolSpec) (string, error) {
	principal, user, err := b.clusterPrincipal(ctx, spec.Cluster)
	if err != nil {
		return "", cloud.WithOffer(err, spec)
	}
	if !user {
		return "", cloud.Invalid("azure", "CreateNodePool", "UserAssignedIdentityRequired",
			"pool %s is reserved, but cluster %s has a system-assigned identity, which AKS does not use for capacity reservation groups: "+
				"set azure.user_assigned_identity_id on its gpufleet_cluster to a user-assigned managed identity (%s; "+
				"this replaces the cluster), see https://learn.microsoft.com/azure/aks/use-capacity-reservation-groups",
			spec.Name, spec.Cluster, IdentityIDForm).ForOffer(spec)
	}
	return principal, nil
}

// releaseReservationRole revokes the role CreateNodePool granted once
// no pool of the cluster uses a capacity reservation group in that
// resource group any more.
func (b *Backend) releaseReservationRole(ctx context.Context, cluster, group string) error {
	scope := rgScope(group)
	p := b.pools.NewListPager(resourceGroup(cluster), cluster, nil)
	for p.More() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return classify("ListNodePools", err)
		}
		for _, ap := range page.Value {
			if ap != nil && ap.Properties != nil && strings.EqualFold(rgScope(str(ap.Properties.CapacityReservationGroupID)), scope) &&
				provisioning(ap.Properties.ProvisioningState) != cloud.StatusDeleting {
				return nil
			}
		}
	}
	principal, _, err := b.clusterPrincipal(ctx, cluster)
	if err != nil || principal == "" {
		return cloud.IgnoreNotFound(err)
	}
	return b.revokeRole(ctx, "RevokeReservationRole", scope, principal, contributor)
}
