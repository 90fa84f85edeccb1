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
	"strings"
)

// CapacityType is how a node is bought.
type CapacityType string

// Capacity types.
const (
	OnDemand CapacityType = "on_demand"
	Spot     CapacityType = "spot"
)

// CapacityTypes lists every capacity type in their canonical order.
var CapacityTypes = []CapacityType{OnDemand, Spot}

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
}

// ID names the offer uniquely within a catalog:
// cloud/region/zone/instance_type/capacity_type (zone empty where the cloud
// has none).
func (o Offer) ID() string {
	return strings.Join([]string{o.Cloud, o.Region, o.Zone, o.InstanceType, string(o.CapacityType)}, "/")
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
// instance type and capacity type (alphabetically). It returns -1, 0 or +1.
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
// instance type and capacity type, alphabetically.
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
	return strings.Compare(string(a.CapacityType), string(b.CapacityType))
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
	case !(o.PriceUSDHour > 0) || math.IsInf(o.PriceUSDHour, 0):
		return fmt.Errorf("price must be a positive number of USD per hour, got %v", o.PriceUSDHour)
	case o.MaxNodes < Unlimited:
		return fmt.Errorf("max_nodes must be empty or a non-negative integer, got %d", o.MaxNodes)
	case o.CapacityType != OnDemand && o.CapacityType != Spot:
		return fmt.Errorf("capacity type must be %q or %q, got %q", OnDemand, Spot, o.CapacityType)
	case o.SpotScore < 0 || o.SpotScore > 10:
		return fmt.Errorf("spot_score must be 0 (unknown) or 1 to 10, got %d", o.SpotScore)
	}
	return nil
}
