package provider

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/fleet"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// poolCapacityTypes are the capacity types each cloud's node pools can
// target (docs/reservations.md, "What pools target"):
//   - AWS: an EKS managed node group launches into a capacity reservation,
//     or a purchased Capacity Block, through its launch template
//     (CapacityReservationSpecification.CapacityReservationTarget, and
//     InstanceMarketOptions.MarketType "capacity-block" for a block):
//     docs.aws.amazon.com/eks/latest/userguide/capacity-blocks-mng.html.
//   - GCP: a GKE node pool consumes a named reservation, calendar-mode ones
//     included (NodeConfig.reservationAffinity SPECIFIC_RESERVATION, key
//     compute.googleapis.com/reservation-name), or asks for flex-start
//     capacity (NodeConfig.flexStart); container/v1 container-api.json.
//   - Azure: an AKS agent pool takes a capacity reservation group
//     (properties.capacityReservationGroupID):
//     learn.microsoft.com/azure/aks/use-capacity-reservation-groups.
//     Azure has no capacity blocks or DWS.
var poolCapacityTypes = map[string][]planner.CapacityType{
	"aws":   {planner.CapacityBlock, planner.OnDemand, planner.Reserved, planner.Spot},
	"gcp":   {planner.Calendar, planner.FlexStart, planner.OnDemand, planner.Reserved, planner.Spot},
	"azure": {planner.OnDemand, planner.Reserved, planner.Spot},
}

// poolKinds are the capacity types cloud's node pools can target
// (unknown clouds: only on-demand and spot).
func poolKinds(cloud string) []planner.CapacityType {
	if kinds, ok := poolCapacityTypes[cloud]; ok {
		return kinds
	}
	return planner.CapacityTypes
}

// poolCanTarget reports whether cloud's node pools can target capacity
// type ct.
func poolCanTarget(cloud, ct string) bool {
	return slices.Contains(poolKinds(cloud), planner.CapacityType(ct))
}

// capacityNote is one plan diagnostic about an allocation's capacity.
type capacityNote struct {
	err             bool
	summary, detail string
}

// capacityNotes are the plan's diagnostics about allocation o's capacity:
// an error when its cloud's pools cannot target its kind, an error when it
// is a capacity block offering the configuration does not allow buying,
// and a warning when its block or calendar reservation starts after now
// (the apply waits for it).
func capacityNotes(o fleet.Offer, allowPurchase bool, now time.Time) []capacityNote {
	var out []capacityNote
	if !poolCanTarget(o.Cloud, o.CapacityType) {
		var accepted []string
		for _, k := range poolKinds(o.Cloud) {
			accepted = append(accepted, string(k))
		}
		return append(out, capacityNote{err: true, summary: "Capacity type not supported by " + o.Cloud + " node pools",
			detail: fmt.Sprintf("allocation %s uses %s capacity, which %s node pools cannot target; %s node pools take %s. "+
				"Leave %s out of the placement's capacity_types (or its clouds) to plan without it.",
				o.Key, o.CapacityType, o.Cloud, o.Cloud, strings.Join(accepted, ", "), o.CapacityType)})
	}
	if o.Purchase && !allowPurchase {
		out = append(out, capacityNote{err: true, summary: "Capacity block would be bought",
			detail: fmt.Sprintf("allocation %s is capacity block offering %s (%d x %s%s), which is not bought yet: applying buys it for $%.2f upfront, "+
				"which cannot be undone. Set purchase_capacity_blocks = true on this gpufleet_pool to allow it, "+
				"or leave capacity_block out of the placement's capacity_types.", o.Key, o.ReservationID, o.Nodes, o.InstanceType, window(o), o.UpfrontUSD)})
	}
	if (o.CapacityType == string(planner.CapacityBlock) || o.CapacityType == string(planner.Calendar)) && o.Start.After(now) {
		out = append(out, capacityNote{summary: "The apply will wait for a reservation to start",
			detail: fmt.Sprintf("the apply will wait until %s (%s from now) for allocation %s: its nodes cannot launch before its %s starts. "+
				"Each pool's create waits that long on top of its usual time.", o.Start.UTC().Format(time.RFC3339), o.Start.Sub(now).Round(time.Minute),
				o.Key, fleet.KindWords(o.CapacityType))})
	}
	return out
}

// window writes a block's time window for messages.
func window(o fleet.Offer) string {
	if o.Start.IsZero() {
		return ""
	}
	s := " from " + o.Start.UTC().Format(time.RFC3339)
	if !o.End.IsZero() {
		s += " to " + o.End.UTC().Format(time.RFC3339)
	}
	return s
}

// buysBlocks reports whether an allocation or fallback is a capacity
// block offering to buy (its reservation is known only after apply).
func buysBlocks(allocs []fleet.Allocation) bool {
	for _, a := range allocs {
		if a.Purchase {
			return true
		}
		for _, f := range a.Fallbacks {
			if f.Purchase {
				return true
			}
		}
	}
	return false
}

// reportPurchases says what the apply bought: every block is paid for,
// whether or not a pool is on it. A block no pool uses (its pool failed)
// is an error-level fact the user must see: it stays reserved, and the
// next apply reuses it (the purchase is idempotent by pool and cluster).
func reportPurchases(bought []fleet.Purchase, pools []fleet.Pool, diags *diag.Diagnostics) {
	for _, b := range bought {
		used := slices.ContainsFunc(pools, func(p fleet.Pool) bool {
			return p.Offer.Cloud == b.Cloud && p.Offer.ReservationID == b.Reservation.ID
		})
		what := fmt.Sprintf("capacity block offering %s in %s %s was bought for $%.2f for allocation %s: it is capacity reservation %s, %s to %s",
			b.Offering, b.Cloud, b.Region, b.UpfrontUSD, b.Allocation, b.Reservation.ID,
			b.Reservation.Start.UTC().Format(time.RFC3339), b.Reservation.End.UTC().Format(time.RFC3339))
		if used {
			diags.AddWarning("Capacity block bought", what+". The pool on it records it in pools[\""+b.Allocation+"\"].reservation_id; the purchase cannot be undone.")
			continue
		}
		diags.AddWarning("Capacity block bought but no pool is on it",
			what+", but no node pool is on it (its pool could not be created, or the allocation failed over elsewhere). The block stays reserved and paid for until it ends; "+
				"an apply that creates this allocation's pool on it again gets the same block back (the purchase is idempotent) instead of buying another.")
	}
}
