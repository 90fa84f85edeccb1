// Package planner decides where GPU capacity should come from.
//
// It is a pure library: a Catalog of offers (cloud, region, zone, instance
// type, GPU model and count, capacity type, hourly price, availability) and a
// Request (how many GPUs, which models, residency, clouds, capacity types,
// price caps, spread and gang rules) go in; a Placement comes out. Plan does
// no I/O, reads no clock and uses no randomness: the same catalog and request
// always give the same placement, byte for byte, whatever the order of the
// catalog's rows.
//
// The placement has the exact minimum total hourly price under every
// constraint (availability caps included); see Plan for the tie-break order.
// Every offer that is not used carries a Reason, and a request that cannot be
// met returns an *InfeasibleError naming the binding constraint and the
// nearest feasible relaxation.
package planner

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// CapacityType is how a node is bought.
type CapacityType string

// Capacity types.
const (
	OnDemand CapacityType = "on_demand"
	Spot     CapacityType = "spot"
	// Reserved is capacity already paid for (an AWS On-Demand Capacity
	// Reservation, a GCP reservation, an Azure capacity reservation): its
	// PriceUSDHour is the marginal cost of using it, 0 unless the user
	// sets an effective price, and MaxNodes is the reservation's size (its
	// free instances). ReservationID names it.
	Reserved CapacityType = "reserved"
	// CapacityBlock is a purchasable fixed block (an AWS Capacity Block for
	// ML): MaxNodes instances from StartTime for DurationHours, sold whole
	// for UpfrontUSD. A placement takes all of its nodes or none, and its
	// PriceUSDHour is UpfrontUSD spread over the block's nodes and hours
	// (BlockHourlyPrice), so that it compares with hourly prices.
	//
	// An offering not bought yet has UpfrontUSD > 0 (its ReservationID is
	// the offering's ID); a block already bought is priced 0 upfront and
	// 0 per hour (paid for, like a reservation) and its ReservationID is
	// the capacity reservation it became. Applying a placement on an
	// offering buys it (see Offer.ToBuy).
	CapacityBlock CapacityType = "capacity_block"
	// FlexStart is GCP Dynamic Workload Scheduler flex-start capacity:
	// queued until the cloud can grant it, at its own hourly price, for at
	// most MaxRunHours.
	FlexStart CapacityType = "flex_start"
	// Calendar is GCP Dynamic Workload Scheduler calendar mode: capacity
	// reserved for a fixed window (StartTime, DurationHours) at its own
	// hourly price, up to MaxNodes nodes.
	Calendar CapacityType = "calendar"
)

// CapacityTypes lists the list-priced capacity types, on-demand and spot,
// in their canonical order: those every catalog row of an instance type
// may have.
var CapacityTypes = []CapacityType{OnDemand, Spot}

// AllCapacityTypes lists every capacity type a request may name, sorted.
var AllCapacityTypes = []CapacityType{Calendar, CapacityBlock, FlexStart, OnDemand, Reserved, Spot}

// Scheduled reports whether the capacity type holds capacity for a known
// window or run length (capacity_block, calendar, flex_start), which a
// request's start_after and duration_hours decide on.
func (t CapacityType) Scheduled() bool { return t == CapacityBlock || t == Calendar || t == FlexStart }

func (t CapacityType) known() bool { return slices.Contains(AllCapacityTypes, t) }

// TimeLayout is how start times are written: RFC 3339 in UTC, to the
// second ("2026-12-08T09:00:00Z").
const TimeLayout = "2006-01-02T15:04:05Z"

// canonicalTime parses an RFC 3339 time and writes it in TimeLayout, so
// that times compare as strings.
func canonicalTime(s string) (string, error) {
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(s))
	if err != nil {
		return "", fmt.Errorf("%q is not an RFC 3339 time such as 2026-12-08T09:00:00Z", s)
	}
	return t.UTC().Format(TimeLayout), nil
}

// BlockHourlyPrice is the price of one node-hour of a capacity block: its
// upfront price over its nodes and hours. The objective compares it with
// hourly prices; the placement reports the upfront price itself
// (Allocation.BlockUSD).
func BlockHourlyPrice(upfrontUSD float64, durationHours, nodes int) float64 {
	return upfrontUSD / float64(durationHours) / float64(nodes)
}

// Interconnect is the GPU-to-GPU link inside one node, ordered from the
// slowest to the fastest: PCIe < NVLink (bridges or partial mesh) < NVSwitch
// (all-to-all NVLink).
type Interconnect string

// Interconnect classes.
const (
	PCIe     Interconnect = "pcie"
	NVLink   Interconnect = "nvlink"
	NVSwitch Interconnect = "nvswitch"
)

// Interconnects lists every interconnect class from the slowest to the fastest.
var Interconnects = []Interconnect{PCIe, NVLink, NVSwitch}

// Rank orders interconnect classes; unknown classes rank below PCIe.
func (i Interconnect) Rank() int {
	for n, c := range Interconnects {
		if c == i {
			return n
		}
	}
	return -1
}

// Unlimited is the MaxNodes value of an offer whose availability is not known
// to be bounded.
const Unlimited = -1

// Offer is one way to buy GPU nodes: an instance type in one zone (or region,
// where the cloud has no zones) with one capacity type and one hourly price.
type Offer struct {
	Cloud        string       `json:"cloud"`
	Region       string       `json:"region"`
	Zone         string       `json:"zone,omitempty"`
	InstanceType string       `json:"instance_type"`
	GPUModel     string       `json:"gpu_model"`
	GPUCount     int          `json:"gpus_per_node"`
	GPUMemoryGiB float64      `json:"gpu_memory_gib"`
	VCPUs        int          `json:"vcpus"`
	MemoryGiB    float64      `json:"memory_gib"`
	CapacityType CapacityType `json:"capacity_type"`
	// PriceUSDHour is the price of one node for one hour.
	PriceUSDHour float64 `json:"price_usd_hour"`
	// MaxNodes is how many nodes can be obtained; Unlimited when unknown.
	MaxNodes int `json:"max_nodes"`
	// Interconnect is the GPU-to-GPU link inside the node.
	Interconnect Interconnect `json:"interconnect"`
	// Fabric is the node-to-node RDMA network, if any: "efa", "infiniband",
	// "gpudirect-tcpx", "gpudirect-tcpxo", "rdma-roce"; empty when none.
	Fabric string `json:"fabric,omitempty"`
	// SpotScore is the cloud's spot placement score for a spot offer, 1
	// (unlikely to be obtained) to 10 (very likely); 0 when unknown. Set it
	// with Adjust (Adjustments.SpotScores); the CSV format has no column
	// for it.
	SpotScore int `json:"spot_score,omitempty"`

	// ReservationID names the reservation, capacity block or calendar
	// reservation the offer is (required for reserved, capacity_block and
	// calendar; optional for flex_start; empty for on-demand and spot).
	ReservationID string `json:"reservation_id,omitempty"`
	// StartTime is when a capacity block or calendar reservation starts,
	// in TimeLayout.
	StartTime string `json:"start_time,omitempty"`
	// DurationHours is how long a capacity block or calendar reservation
	// lasts.
	DurationHours int `json:"duration_hours,omitempty"`
	// UpfrontUSD is the price of a whole capacity block (every node, for
	// its whole duration); 0 for a block already bought (see
	// CapacityBlock).
	UpfrontUSD float64 `json:"upfront_usd,omitempty"`
	// MaxRunHours is the longest a flex_start node may run.
	MaxRunHours int `json:"max_run_hours,omitempty"`
}

// ID names the offer uniquely within a catalog:
// cloud/region/zone/instance_type/capacity_type (zone empty where the cloud
// has none), followed by /reservation_id for an offer that has one.
func (o Offer) ID() string {
	parts := []string{o.Cloud, o.Region, o.Zone, o.InstanceType, string(o.CapacityType)}
	if o.ReservationID != "" {
		parts = append(parts, o.ReservationID)
	}
	return strings.Join(parts, "/")
}

// bought reports whether the offer is a capacity block already bought: 0
// upfront (see CapacityBlock).
func (o Offer) bought() bool { return o.CapacityType == CapacityBlock && o.UpfrontUSD == 0 }

// ToBuy reports whether the offer is a capacity block offering not bought
// yet (UpfrontUSD > 0): using it means buying it, which cannot be undone.
func (o Offer) ToBuy() bool { return o.CapacityType == CapacityBlock && o.UpfrontUSD > 0 }

// wholeBlock reports whether the offer is sold whole: a capacity block's
// nodes are all taken or none.
func (o *Offer) wholeBlock() bool { return o.CapacityType == CapacityBlock }

// unitGPUs is the fewest GPUs the offer can be taken in: one node, or a
// capacity block's every node.
func (o *Offer) unitGPUs() int {
	if o.wholeBlock() && o.MaxNodes > 0 {
		return o.GPUCount * o.MaxNodes
	}
	return o.GPUCount
}

// fillDerived sets what an offer's kind derives from its other fields: a
// capacity block's hourly price (BlockHourlyPrice) when it has none, and
// canonical start times.
func (o *Offer) fillDerived() error {
	if o.StartTime != "" {
		t, err := canonicalTime(o.StartTime)
		if err != nil {
			return fmt.Errorf("start_time: %w", err)
		}
		o.StartTime = t
	}
	if o.CapacityType == CapacityBlock && o.PriceUSDHour == 0 && o.UpfrontUSD > 0 && o.DurationHours > 0 && o.MaxNodes > 0 {
		o.PriceUSDHour = BlockHourlyPrice(o.UpfrontUSD, o.DurationHours, o.MaxNodes)
	}
	return nil
}

// Site is the cloud/region key used for sites in placements.
func (o Offer) Site() string { return o.Cloud + "/" + o.Region }

// PricePerGPUHour is the node price divided by the GPUs in the node.
func (o Offer) PricePerGPUHour() float64 { return o.PriceUSDHour / float64(o.GPUCount) }

// priceMicros is the node price in millionths of a dollar, the unit every
// comparison and sum in the solver uses so that results do not depend on
// floating-point summation order.
func (o Offer) priceMicros() int64 { return usdToMicros(o.PriceUSDHour) }

func usdToMicros(usd float64) int64 { return int64(math.Round(usd * 1e6)) }

func microsToUSD(m int64) float64 { return float64(m) / 1e6 }

// compareOffers is the documented total order on offers used for every
// remaining tie: price per GPU-hour, then price per node, then the higher
// spot placement score (spot offers ranked by how likely their capacity is;
// offers without a score compare equal here), then cloud, region, zone,
// instance type, capacity type and reservation ID (alphabetically). It returns -1, 0 or +1.
// Two distinct offers of one catalog never compare equal.
func compareOffers(a, b *Offer) int {
	// price per GPU compared exactly: pa/ga < pb/gb  <=>  pa*gb < pb*ga
	pa, pb := a.priceMicros()*int64(b.GPUCount), b.priceMicros()*int64(a.GPUCount)
	if c := cmpInt64(pa, pb); c != 0 {
		return c
	}
	if c := cmpInt64(a.priceMicros(), b.priceMicros()); c != 0 {
		return c
	}
	if c := cmpInt64(int64(b.SpotScore), int64(a.SpotScore)); c != 0 {
		return c
	}
	return compareNames(a, b)
}

// compareNames is the last part of compareOffers: cloud, region, zone,
// instance type, capacity type and reservation ID, alphabetically.
func compareNames(a, b *Offer) int {
	if c := strings.Compare(a.Cloud, b.Cloud); c != 0 {
		return c
	}
	if c := strings.Compare(a.Region, b.Region); c != 0 {
		return c
	}
	if c := strings.Compare(a.Zone, b.Zone); c != 0 {
		return c
	}
	if c := strings.Compare(a.InstanceType, b.InstanceType); c != 0 {
		return c
	}
	if c := strings.Compare(string(a.CapacityType), string(b.CapacityType)); c != 0 {
		return c
	}
	return strings.Compare(a.ReservationID, b.ReservationID)
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// validate reports the first thing wrong with an offer.
func (o Offer) validate() error {
	switch {
	case o.Cloud == "":
		return fmt.Errorf("cloud is empty")
	case o.Region == "":
		return fmt.Errorf("region is empty")
	case o.InstanceType == "":
		return fmt.Errorf("instance_type is empty")
	case o.GPUModel == "":
		return fmt.Errorf("gpu_model is empty")
	case o.GPUCount <= 0:
		return fmt.Errorf("gpu_count must be a positive integer, got %d", o.GPUCount)
	case o.CapacityType == Reserved && (o.PriceUSDHour < 0 || math.IsNaN(o.PriceUSDHour) || math.IsInf(o.PriceUSDHour, 0)):
		return fmt.Errorf("effective price of a reservation must be 0 (already paid for) or a positive number of USD per hour, got %v", o.PriceUSDHour)
	case o.bought() && o.PriceUSDHour != 0:
		return fmt.Errorf("a capacity block already bought (upfront_price 0) is paid for: its price must be 0, got %v", o.PriceUSDHour)
	case o.CapacityType != Reserved && !o.bought() && (!(o.PriceUSDHour > 0) || math.IsInf(o.PriceUSDHour, 0)):
		return fmt.Errorf("price must be a positive number of USD per hour, got %v", o.PriceUSDHour)
	case o.MaxNodes < Unlimited:
		return fmt.Errorf("max_nodes must be empty or a non-negative integer, got %d", o.MaxNodes)
	case !o.CapacityType.known():
		return fmt.Errorf("capacity type must be one of %s, got %q", quoteJoin(stringsOf(AllCapacityTypes), ", "), o.CapacityType)
	case o.SpotScore < 0 || o.SpotScore > 10:
		return fmt.Errorf("spot_score must be 0 (unknown) or 1 to 10, got %d", o.SpotScore)
	}
	return o.validateKind()
}

// validateKind checks the fields of the capacity kinds beyond on-demand
// and spot: each kind has the fields it needs and no others.
func (o Offer) validateKind() error {
	k := o.CapacityType
	needsID := k == Reserved || k == CapacityBlock || k == Calendar
	window := k == CapacityBlock || k == Calendar
	switch {
	case needsID && o.ReservationID == "":
		return fmt.Errorf("reservation_id is empty; a %s offer must name its reservation", k)
	case o.ReservationID != "" && !needsID && k != FlexStart:
		return fmt.Errorf("reservation_id is set on a %s offer; only reserved, capacity_block, calendar and flex_start offers have one", k)
	case strings.Contains(o.ReservationID, "/"):
		return fmt.Errorf("reservation_id %q contains '/', which offer IDs use as a separator", o.ReservationID)
	case window && o.StartTime == "":
		return fmt.Errorf("start_time is empty; a %s offer must say when it starts", k)
	case window && o.DurationHours <= 0:
		return fmt.Errorf("duration_hours must be a positive number of hours for a %s offer, got %d", k, o.DurationHours)
	case !window && (o.StartTime != "" || o.DurationHours != 0):
		return fmt.Errorf("start_time and duration_hours are for capacity_block and calendar offers only, set on a %s offer", k)
	case k == CapacityBlock && !(o.UpfrontUSD >= 0 && !math.IsInf(o.UpfrontUSD, 0)):
		return fmt.Errorf("upfront_price must be 0 (a block already bought) or a positive number of USD for a capacity_block offer, got %v", o.UpfrontUSD)
	case k == CapacityBlock && o.MaxNodes == Unlimited:
		return fmt.Errorf("max_nodes must be the block's instance count for a capacity_block offer, got unlimited")
	case k != CapacityBlock && o.UpfrontUSD != 0:
		return fmt.Errorf("upfront_price is for capacity_block offers only, set on a %s offer", k)
	case k == FlexStart && o.MaxRunHours <= 0:
		return fmt.Errorf("max_run_hours must be a positive number of hours for a flex_start offer, got %d", o.MaxRunHours)
	case k != FlexStart && o.MaxRunHours != 0:
		return fmt.Errorf("max_run_hours is for flex_start offers only, set on a %s offer", k)
	}
	return nil
}
