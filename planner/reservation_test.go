package planner

import (
	"errors"
	"strings"
	"testing"
)

func TestDeclaredReservations(t *testing.T) {
	c := kindsCatalog(t)
	adj := Adjustments{Reservations: []Reservation{
		// The catalog lists cr-0123 (2 free): declared again with 3, it is
		// one offer of min(2, 3) nodes at the declared price.
		{ID: "cr-0123", Cloud: "aws", Region: "eu-central-1", Zone: "euc1-az1", InstanceType: "p5.48xlarge", Count: 3, EffectiveHourlyPrice: 1.5},
		{ID: "gcp-res-1", Cloud: "gcp", Region: "europe-west4", Zone: "europe-west4-b", InstanceType: "a3-highgpu-8g", Count: 2},
	}}
	a, err := c.Adjust(adj)
	if err != nil {
		t.Fatal(err)
	}
	var reserved []Offer
	for _, o := range a.Offers {
		if o.CapacityType == Reserved {
			reserved = append(reserved, o)
		}
	}
	if len(reserved) != 2 {
		t.Fatalf("%d reserved offers, want 2: %+v", len(reserved), reserved)
	}
	byID := map[string]Offer{}
	for _, o := range reserved {
		byID[o.ID()] = o
	}
	cr := byID["aws/eu-central-1/euc1-az1/p5.48xlarge/reserved/cr-0123"]
	if cr.MaxNodes != 2 || cr.PriceUSDHour != 1.5 {
		t.Fatalf("merged reservation %+v, want 2 nodes at 1.5", cr)
	}
	g := byID["gcp/europe-west4/europe-west4-b/a3-highgpu-8g/reserved/gcp-res-1"]
	if g.MaxNodes != 2 || g.PriceUSDHour != 0 || g.GPUModel != "H100" || g.GPUCount != 8 || g.Interconnect != NVSwitch {
		t.Fatalf("declared reservation %+v", g)
	}
	// The plan counts each reservation once: 4 reserved nodes in all.
	p, err := Plan(a, Request{GPUs: 64})
	if err != nil {
		t.Fatal(err)
	}
	if p.ReservedGPUs != 32 {
		t.Fatalf("reserved GPUs %d, want 32 (2 + 2 nodes of 8)", p.ReservedGPUs)
	}
	if a.Version == c.Version {
		t.Fatal("declared reservations do not change the catalog version")
	}
}

func TestDeclaredReservationErrors(t *testing.T) {
	ok := Reservation{ID: "r-1", Cloud: "aws", Region: "eu-central-1", Zone: "euc1-az2", InstanceType: "p5.48xlarge", Count: 2}
	for _, tc := range []struct {
		name  string
		edit  func(*Reservation)
		adj   Adjustments
		field string
		want  string
	}{
		{"empty id", func(r *Reservation) { r.ID = "" }, Adjustments{}, "id", "not a reservation ID"},
		{"unknown cloud", func(r *Reservation) { r.Cloud = "oci" }, Adjustments{}, "cloud", "unknown cloud"},
		{"cloud not enabled", func(*Reservation) {}, Adjustments{Clouds: []string{"gcp"}}, "cloud", "aws is not enabled"},
		{"region not enabled", func(*Reservation) {}, Adjustments{Regions: map[string][]string{"aws": {"us-east-1"}}}, "region", "not one of the enabled aws regions"},
		{"unknown region", func(r *Reservation) { r.Region = "eu-central-9" }, Adjustments{}, "region", "not a known aws region"},
		{"negative count", func(r *Reservation) { r.Count = -1 }, Adjustments{}, "count", "must be 0 or a positive"},
		{"negative price", func(r *Reservation) { r.EffectiveHourlyPrice = -2 }, Adjustments{}, "effective_hourly_price", "must be 0"},
		{"unknown instance type", func(r *Reservation) { r.InstanceType = "p5.48xlarg" }, Adjustments{}, "instance_type", `did you mean "p5.48xlarge"`},
		{"listed elsewhere", func(r *Reservation) { r.ID, r.Zone = "cr-0123", "euc1-az2" }, Adjustments{}, "zone", `lists aws reservation "cr-0123" in zone "euc1-az1"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ok
			tc.edit(&r)
			adj := tc.adj
			adj.Reservations = []Reservation{r}
			_, err := kindsCatalog(t).Adjust(adj)
			var re *ReservationError
			if !errors.As(err, &re) || re.Index != 0 || re.Field != tc.field || !strings.Contains(re.Message, tc.want) {
				t.Fatalf("error %v, want reservation[0].%s containing %q", err, tc.field, tc.want)
			}
		})
	}
	_, err := kindsCatalog(t).Adjust(Adjustments{Reservations: []Reservation{ok, ok}})
	var re *ReservationError
	if !errors.As(err, &re) || re.Index != 1 || re.Field != "id" || !strings.Contains(re.Message, "already declared by reservation[0]") {
		t.Fatalf("duplicate: error %v", err)
	}
}

func TestParseCatalogKinds(t *testing.T) {
	head := csvHeader + ",max_nodes," + strings.Join(KindColumns, ",") + "\n"
	data := head +
		"aws,p5.48xlarge,H100,8,80,192,2048,eu-central-1,euc1-az1,98.32,40.1,,,,,,,\n" +
		"aws,p5.48xlarge,H100,8,80,192,2048,eu-central-1,euc1-az1,,,2,reserved,cr-0123,,,,\n" +
		"aws,p5.48xlarge,H100,8,80,192,2048,eu-central-1,euc1-az1,,,4,capacity_block,cb-0abc,2026-12-08T09:00:00Z,48,5376,\n" +
		"gcp,a3-highgpu-8g,H100,8,80,208,1872,europe-west4,europe-west4-a,60,,,flex_start,,,,,168\n" +
		"gcp,a3-highgpu-8g,H100,8,80,208,1872,europe-west4,europe-west4-b,70,,3,calendar,cal-1,2026-12-09T00:00:00Z,72,,\n"
	c, err := ParseCatalog("kinds.csv", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Offer{}
	for _, o := range c.Offers {
		got[o.ID()] = o
	}
	if len(got) != 6 {
		t.Fatalf("%d offers, want 6: %v", len(got), c.ids)
	}
	b := got["aws/eu-central-1/euc1-az1/p5.48xlarge/capacity_block/cb-0abc"]
	if b.MaxNodes != 4 || b.UpfrontUSD != 5376 || b.PriceUSDHour != 3.5*8 || b.DurationHours != 48 {
		t.Fatalf("block %+v", b)
	}
	if r := got["aws/eu-central-1/euc1-az1/p5.48xlarge/reserved/cr-0123"]; r.PriceUSDHour != 0 || r.MaxNodes != 2 {
		t.Fatalf("reservation %+v", r)
	}
	if f := got["gcp/europe-west4/europe-west4-a/a3-highgpu-8g/flex_start"]; f.MaxRunHours != 168 || f.PriceUSDHour != 60 {
		t.Fatalf("flex-start %+v", f)
	}
	for _, tc := range []struct{ row, want string }{
		{"aws,p5.48xlarge,H100,8,80,192,2048,eu-central-1,euc1-az1,98.32,,,reservd,,,,,", "kinds.csv:2:66: column capacity_type: \"reservd\" is not empty"},
		{"aws,p5.48xlarge,H100,8,80,192,2048,eu-central-1,euc1-az1,,,2,reserved,,,,,", "column capacity_type: reservation_id is empty"},
		{"aws,p5.48xlarge,H100,8,80,192,2048,eu-central-1,euc1-az1,30,,4,capacity_block,cb,2026-12-08T09:00:00Z,48,5376,", "column price_usd_hour: is \"30\"; a capacity_block row leaves it empty"},
		{"aws,p5.48xlarge,H100,8,80,192,2048,eu-central-1,euc1-az1,,,4,capacity_block,cb,tuesday,48,5376,", "column start_time: \"tuesday\" is not an RFC 3339 time"},
		{"aws,p5.48xlarge,H100,8,80,192,2048,eu-central-1,euc1-az1,98.32,,,,cr-1,,,,", "column reservation_id: is \"cr-1\" on a row with no capacity_type"},
	} {
		_, err := ParseCatalog("kinds.csv", []byte(head+tc.row+"\n"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("row %s: error %v, want %q", tc.row, err, tc.want)
		}
	}
}

// TestAdjustKeepsKindPrices: a discount lowers a block's upfront price with
// its hourly price and leaves a reservation's effective price; a price
// override without a capacity type changes on-demand and spot only.
func TestAdjustKeepsKindPrices(t *testing.T) {
	c := kindsCatalog(t)
	a, err := c.Adjust(Adjustments{DiscountPercent: map[string]float64{"aws": 50},
		Overrides: []PriceOverride{{Cloud: "aws", InstanceType: "p5.48xlarge", PriceUSDHour: 70}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range a.Offers {
		switch o.CapacityType {
		case OnDemand:
			if o.Cloud == "aws" && o.PriceUSDHour != 70 {
				t.Errorf("%s: price %v, want the override 70", o.ID(), o.PriceUSDHour)
			}
		case Reserved:
			if o.PriceUSDHour != 0 {
				t.Errorf("%s: effective price %v, want 0", o.ID(), o.PriceUSDHour)
			}
		case CapacityBlock:
			if o.UpfrontUSD != 4*48*8*3.5/2 || usdToMicros(o.PriceUSDHour) != usdToMicros(BlockHourlyPrice(o.UpfrontUSD, o.DurationHours, o.MaxNodes)) {
				t.Errorf("%s: upfront %v, hourly %v after a 50%% discount", o.ID(), o.UpfrontUSD, o.PriceUSDHour)
			}
		}
	}
}

// TestWithHardware: an instance type's hardware comes from its offer in
// the same region first, else from its first offer in the cloud; another
// cloud's offer of that name does not count.
func TestWithHardware(t *testing.T) {
	offers := []Offer{
		{Cloud: "gcp", Region: "eu-north-1", InstanceType: "x", GPUModel: "G", GPUCount: 1},
		{Cloud: "aws", Region: "us-east-1", InstanceType: "x", GPUModel: "A", GPUCount: 2, VCPUs: 3, Fabric: "efa"},
		{Cloud: "aws", Region: "eu-north-1", InstanceType: "x", GPUModel: "B", GPUCount: 4, Interconnect: NVSwitch},
		{Cloud: "aws", Region: "eu-north-1", InstanceType: "x", GPUModel: "C", GPUCount: 8},
	}
	for _, tc := range []struct {
		cloud, region, want string
		ok                  bool
	}{
		{"aws", "eu-north-1", "B", true},
		{"aws", "ap-south-1", "A", true},
		{"gcp", "us-east-1", "G", true},
		{"azure", "eu-north-1", "", false},
	} {
		in := Offer{Cloud: tc.cloud, Region: tc.region, InstanceType: "x", CapacityType: Reserved, ReservationID: "r", MaxNodes: 3}
		got, ok := WithHardware(in, offers)
		if ok != tc.ok || got.GPUModel != tc.want || got.ReservationID != "r" || got.MaxNodes != 3 || got.Region != tc.region {
			t.Errorf("%s %s: %+v %v, want GPU model %q", tc.cloud, tc.region, got, ok, tc.want)
		}
	}
}
