package simserve

import (
	"maps"
	"testing"

	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

func TestCapacityBlockPrices(t *testing.T) {
	od := func(cl, it string, usd float64) planner.Offer {
		return planner.Offer{Cloud: cl, InstanceType: it, CapacityType: planner.OnDemand, PriceUSDHour: usd}
	}
	tests := []struct {
		name   string
		offers []planner.Offer
		want   map[string]float64
	}{
		{"none", nil, map[string]float64{}},
		{"lowest on-demand price of block families", []planner.Offer{
			od("aws", "p5.48xlarge", 60), od("aws", "p5.48xlarge", 55), od("aws", "trn1.32xlarge", 21),
			od("aws", "g6.xlarge", 1), od("gcp", "p5.48xlarge", 1),
		}, map[string]float64{"p5.48xlarge": 55, "trn1.32xlarge": 21}},
		{"the catalog's block price wins", []planner.Offer{
			od("aws", "p5.48xlarge", 60),
			{Cloud: "aws", InstanceType: "p5.48xlarge", CapacityType: planner.CapacityBlock, UpfrontUSD: 4800, MaxNodes: 4, DurationHours: 40},
		}, map[string]float64{"p5.48xlarge": 30}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CapacityBlockPrices(&planner.Catalog{Offers: tt.offers}); !maps.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}
