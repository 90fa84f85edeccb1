package planner

import (
	"strings"
	"testing"
)

func TestAdjust(t *testing.T) {
	c := mustCatalog(t,
		testOffer("aws", "eu-central-1", "euc1-az1", "p5", 8, 80),
		testOffer("aws", "eu-central-1", "euc1-az1", "p5", 8, 40, withSpot()),
		testOffer("aws", "us-east-1", "use1-az1", "p5", 8, 64),
		testOffer("gcp", "europe-west4", "europe-west4-a", "a3", 8, 100),
		testOffer("azure", "westeurope", "", "nd", 8, 120),
	)
	price := func(c *Catalog, id string) float64 {
		for _, o := range c.Offers {
			if o.ID() == id {
				return o.PriceUSDHour
			}
		}
		return -1
	}
	tests := []struct {
		name   string
		adj    Adjustments
		prices map[string]float64 // -1: removed
		err    string
	}{
		{"clouds", Adjustments{Clouds: []string{"aws", "azure"}}, map[string]float64{
			"gcp/europe-west4/europe-west4-a/a3/on_demand": -1, "azure/westeurope//nd/on_demand": 120}, ""},
		{"regions", Adjustments{Regions: map[string][]string{"aws": {"us-east-1"}}}, map[string]float64{
			"aws/eu-central-1/euc1-az1/p5/on_demand": -1, "aws/us-east-1/use1-az1/p5/on_demand": 64, "gcp/europe-west4/europe-west4-a/a3/on_demand": 100}, ""},
		{"discount", Adjustments{DiscountPercent: map[string]float64{"aws": 25}}, map[string]float64{
			"aws/eu-central-1/euc1-az1/p5/on_demand": 60, "aws/eu-central-1/euc1-az1/p5/spot": 30, "gcp/europe-west4/europe-west4-a/a3/on_demand": 100}, ""},
		{"override beats discount, most specific wins", Adjustments{
			DiscountPercent: map[string]float64{"aws": 25},
			Overrides: []PriceOverride{
				{Cloud: "aws", InstanceType: "p5", PriceUSDHour: 50},
				{Cloud: "aws", InstanceType: "p5", Region: "us-east-1", PriceUSDHour: 45},
				{Cloud: "aws", InstanceType: "p5", CapacityType: Spot, PriceUSDHour: 20},
			}}, map[string]float64{
			"aws/eu-central-1/euc1-az1/p5/on_demand": 50, "aws/us-east-1/use1-az1/p5/on_demand": 45, "aws/eu-central-1/euc1-az1/p5/spot": 20}, ""},
		{"a zone's override beats its region's", Adjustments{
			Overrides: []PriceOverride{
				{Cloud: "aws", InstanceType: "p5", Region: "eu-central-1", Zone: "euc1-az1", CapacityType: Spot, PriceUSDHour: 18},
				{Cloud: "aws", InstanceType: "p5", Region: "eu-central-1", CapacityType: Spot, PriceUSDHour: 25},
				{Cloud: "aws", InstanceType: "p5", Region: "us-east-1", Zone: "use1-az9", PriceUSDHour: 1},
			}}, nil, "price override 2 matches no offer"},
		{"zone override", Adjustments{
			Overrides: []PriceOverride{
				{Cloud: "aws", InstanceType: "p5", Region: "eu-central-1", Zone: "euc1-az1", CapacityType: Spot, PriceUSDHour: 18},
				{Cloud: "aws", InstanceType: "p5", Region: "eu-central-1", CapacityType: Spot, PriceUSDHour: 25},
			}}, map[string]float64{"aws/eu-central-1/euc1-az1/p5/spot": 18, "aws/eu-central-1/euc1-az1/p5/on_demand": 80}, ""},
		{"override matches nothing", Adjustments{Overrides: []PriceOverride{{Cloud: "aws", InstanceType: "p9", PriceUSDHour: 1}}}, nil,
			"price override 0 matches no offer"},
		{"bad discount", Adjustments{DiscountPercent: map[string]float64{"aws": 100}}, nil, "must be in [0, 100)"},
		{"unknown discount cloud", Adjustments{DiscountPercent: map[string]float64{"oracle": 5}}, nil, "unknown cloud"},
		{"bad override price", Adjustments{Overrides: []PriceOverride{{Cloud: "aws", InstanceType: "p5", PriceUSDHour: 0}}}, nil, "must be a positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Adjust(tt.adj)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for id, want := range tt.prices {
				if p := price(got, id); p != want {
					t.Errorf("%s: price %v, want %v", id, p, want)
				}
			}
			if !strings.HasPrefix(got.Version, "2026-01-01+sha256:") {
				t.Errorf("version %q lost the date", got.Version)
			}
		})
	}
	if same, _ := c.Adjust(Adjustments{}); same.Version != c.Version {
		t.Errorf("no adjustment changed the version: %s -> %s", c.Version, same.Version)
	}
}
