package simserve

import (
	awsbackend "github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/aws"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// CapacityBlockPrices are the prices per instance-hour of the Capacity
// Blocks the simulated AWS sells (awsfront.Options.CapacityBlockPrices),
// from a catalog: every AWS instance type of a family sold as blocks
// (awsbackend.CapacityBlockType) is offered, at the price of the
// catalog's capacity_block offers of it (UpfrontUSD over their nodes and
// hours, the lowest) when it has some, else at its lowest on-demand
// price.
func CapacityBlockPrices(c *planner.Catalog) map[string]float64 {
	out := map[string]float64{}
	if c == nil {
		return out
	}
	blocks := map[string]float64{}
	lower := func(m map[string]float64, it string, p float64) {
		if cur, ok := m[it]; !ok || p < cur {
			m[it] = p
		}
	}
	for _, o := range c.Offers {
		if o.Cloud != "aws" || !awsbackend.CapacityBlockType(o.InstanceType) {
			continue
		}
		switch {
		case o.CapacityType == planner.CapacityBlock && o.UpfrontUSD > 0 && o.MaxNodes > 0 && o.DurationHours > 0:
			lower(blocks, o.InstanceType, o.UpfrontUSD/float64(o.MaxNodes*o.DurationHours))
		case o.CapacityType == planner.OnDemand && o.PriceUSDHour > 0:
			lower(out, o.InstanceType, o.PriceUSDHour)
		}
	}
	for it, p := range blocks {
		out[it] = p
	}
	return out
}
