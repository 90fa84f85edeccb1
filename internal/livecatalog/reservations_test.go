package livecatalog

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// fakeReservations is a ReservationSource that returns fixed offers (or
// an error) and counts its calls.
type fakeReservations struct {
	cloud, name string
	offers      []planner.Offer
	err         error
	calls       int
}

func (f *fakeReservations) Cloud() string { return f.cloud }
func (f *fakeReservations) Name() string  { return f.name }
func (f *fakeReservations) Capacity(context.Context) ([]planner.Offer, error) {
	f.calls++
	return slices.Clone(f.offers), f.err
}

// awsReservation is an AWS capacity reservation of p5.48xlarge as the
// EC2 API reports it: no hardware.
func awsReservation(id string, free int) planner.Offer {
	return planner.Offer{Cloud: "aws", Region: "eu-north-1", Zone: "eun1-az1", InstanceType: "p5.48xlarge",
		CapacityType: planner.Reserved, ReservationID: id, MaxNodes: free, PriceUSDHour: 0}
}

func awsBlockOffering(id string, start string) planner.Offer {
	return planner.Offer{Cloud: "aws", Region: "eu-north-1", Zone: "eun1-az2", InstanceType: "p5.48xlarge",
		CapacityType: planner.CapacityBlock, ReservationID: id, MaxNodes: 2, StartTime: start, DurationHours: 24, UpfrontUSD: 2 * 24 * 31.5}
}

func offerByID(c *planner.Catalog, id string) (planner.Offer, bool) {
	for _, o := range c.Offers {
		if o.ID() == id {
			return o, true
		}
	}
	return planner.Offer{}, false
}

func TestRefreshReservations(t *testing.T) {
	base := planner.Embedded()
	cr := awsReservation("cr-0abc", 3)
	block := awsBlockOffering("cb-0def", "2026-12-08T09:00:00Z")
	bought := awsBlockOffering("cr-0b0", "2026-12-04T11:30:00Z")
	bought.UpfrontUSD = 0 // bought: paid for
	for _, tc := range []struct {
		name    string
		sources []*fakeReservations
		// want maps offer IDs to their MaxNodes; every one must be in the
		// result with base's p5.48xlarge hardware.
		want     map[string]int
		absent   []string
		warnings []string // substrings, in order
		facts    map[string]string
	}{
		{name: "merge", sources: []*fakeReservations{{cloud: "aws", name: "ec2-reservations", offers: []planner.Offer{block, cr, bought}}},
			want:  map[string]int{cr.ID(): 3, block.ID(): 2, bought.ID(): 2},
			facts: map[string]string{"ec2-reservations": "3 reservations and offerings"}},
		{name: "a later source replaces an offer with the same ID",
			sources: []*fakeReservations{{cloud: "aws", name: "a", offers: []planner.Offer{cr}}, {cloud: "aws", name: "b", offers: []planner.Offer{awsReservation("cr-0abc", 1)}}},
			want:    map[string]int{cr.ID(): 1}},
		{name: "unknown instance type is skipped with a warning",
			sources: []*fakeReservations{{cloud: "aws", name: "ec2-reservations", offers: []planner.Offer{cr,
				{Cloud: "aws", Region: "eu-north-1", Zone: "eun1-az1", InstanceType: "p9.huge", CapacityType: planner.Reserved, ReservationID: "cr-0zzz", MaxNodes: 1}}}},
			want:     map[string]int{cr.ID(): 3},
			absent:   []string{"aws/eu-north-1/eun1-az1/p9.huge/reserved/cr-0zzz"},
			warnings: []string{`live reservations from ec2-reservations: aws instance type "p9.huge" has no offer in the catalog`},
			facts:    map[string]string{"ec2-reservations": "1 reservations and offerings"}},
		{name: "an offer the catalog refuses is skipped alone",
			sources: []*fakeReservations{{cloud: "aws", name: "ec2-reservations", offers: []planner.Offer{cr,
				{Cloud: "aws", Region: "eu-north-1", Zone: "eun1-az1", InstanceType: "p5.48xlarge", CapacityType: planner.CapacityBlock, ReservationID: "cb-nowindow", MaxNodes: 1, UpfrontUSD: 10}}}},
			want:     map[string]int{cr.ID(): 3},
			absent:   []string{"aws/eu-north-1/eun1-az1/p5.48xlarge/capacity_block/cb-nowindow"},
			warnings: []string{"live reservations from ec2-reservations: aws/eu-north-1/eun1-az1/p5.48xlarge/capacity_block/cb-nowindow skipped: "},
			facts:    map[string]string{"ec2-reservations": "1 reservations and offerings"}},
		{name: "offer of another cloud is skipped",
			sources:  []*fakeReservations{{cloud: "gcp", name: "gce-reservations", offers: []planner.Offer{cr}}},
			absent:   []string{cr.ID()},
			warnings: []string{"live reservations from gce-reservations: " + cr.ID() + " is on aws, not gcp"}},
		{name: "failing source is a warning naming it, the others still apply",
			sources: []*fakeReservations{{cloud: "gcp", name: "gce-reservations", err: errors.New("403 forbidden")},
				{cloud: "aws", name: "ec2-reservations", offers: []planner.Offer{cr}}},
			want:     map[string]int{cr.ID(): 3},
			warnings: []string{"live reservations from gce-reservations failed, using the catalog's gcp reservations: 403 forbidden"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var sources []ReservationSource
			for _, s := range tc.sources {
				sources = append(sources, s)
			}
			res := RefreshReservations(context.Background(), base, sources, nil, nil)
			hw, _ := planner.WithHardware(planner.Offer{Cloud: "aws", Region: "eu-north-1", InstanceType: "p5.48xlarge"}, base.Offers)
			for id, nodes := range tc.want {
				o, ok := offerByID(res.Catalog, id)
				if !ok {
					t.Fatalf("offer %s missing", id)
				}
				if o.MaxNodes != nodes || o.GPUModel != "H100" || o.GPUCount != 8 || o.GPUMemoryGiB != 80 || o.VCPUs != hw.VCPUs ||
					o.MemoryGiB != hw.MemoryGiB || o.Interconnect != planner.NVSwitch || o.Fabric != "efa" {
					t.Errorf("offer %s = %+v, want %d nodes and p5.48xlarge's hardware %+v", id, o, nodes, hw)
				}
			}
			for _, id := range tc.absent {
				if _, ok := offerByID(res.Catalog, id); ok {
					t.Errorf("offer %s should have been skipped", id)
				}
			}
			if len(res.Warnings) != len(tc.warnings) {
				t.Fatalf("warnings %q, want %d", res.Warnings, len(tc.warnings))
			}
			for i, w := range tc.warnings {
				if !strings.Contains(res.Warnings[i], w) {
					t.Errorf("warning %d = %q, want it to contain %q", i, res.Warnings[i], w)
				}
			}
			for k, v := range tc.facts {
				if res.Facts[k] != v {
					t.Errorf("facts[%s] = %q, want %q", k, res.Facts[k], v)
				}
			}
			if len(tc.want) == 0 && res.Catalog != base {
				t.Errorf("nothing added: the catalog should be base")
			}
		})
	}
}

// A block offering gets its hourly price from its upfront price, and the
// declared reservation of the same ID merges with the live one (the
// smaller count, not twice).
func TestRefreshReservationsMergesWithDeclared(t *testing.T) {
	base := planner.Embedded()
	block := awsBlockOffering("cb-0def", "2026-12-08T09:00:00Z")
	src := &fakeReservations{cloud: "aws", name: "ec2", offers: []planner.Offer{awsReservation("cr-0abc", 3), block}}
	res := RefreshReservations(context.Background(), base, []ReservationSource{src}, nil, nil)
	if o, _ := offerByID(res.Catalog, block.ID()); o.PriceUSDHour != 31.5 {
		t.Errorf("block hourly price %v, want 31.5 (upfront over nodes and hours)", o.PriceUSDHour)
	}
	adj, err := res.Catalog.Adjust(planner.Adjustments{Reservations: []planner.Reservation{
		{ID: "cr-0abc", Cloud: "aws", Region: "eu-north-1", Zone: "eun1-az1", InstanceType: "p5.48xlarge", Count: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, o := range adj.Offers {
		if o.ReservationID == "cr-0abc" {
			n++
			if o.MaxNodes != 2 {
				t.Errorf("merged reservation has %d nodes, want 2", o.MaxNodes)
			}
		}
	}
	if n != 1 {
		t.Errorf("reservation cr-0abc is %d offers, want 1", n)
	}
}

// The result is the same whatever the order of a source's offers, and the
// cache answers a second refresh.
func TestRefreshReservationsDeterministicAndCached(t *testing.T) {
	base := planner.Embedded()
	offers := []planner.Offer{awsReservation("cr-0abc", 3), awsReservation("cr-0abd", 1), awsBlockOffering("cb-0def", "2026-12-08T09:00:00Z")}
	var first *planner.Catalog
	for i := range 3 {
		o := slices.Clone(offers)
		if i == 1 {
			slices.Reverse(o)
		} else if i == 2 {
			o[0], o[1] = o[1], o[0]
		}
		res := RefreshReservations(context.Background(), base, []ReservationSource{&fakeReservations{cloud: "aws", name: "ec2", offers: o}}, nil, nil)
		if first == nil {
			first = res.Catalog
			continue
		}
		if res.Catalog.Version != first.Version || !reflect.DeepEqual(res.Catalog.Offers, first.Offers) {
			t.Fatalf("order %d gave another catalog (%s vs %s)", i, res.Catalog.Version, first.Version)
		}
	}
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	cache := &Cache{Dir: t.TempDir(), TTL: time.Hour}
	src := &fakeReservations{cloud: "aws", name: "ec2", offers: offers}
	a := RefreshReservations(context.Background(), base, []ReservationSource{src}, cache, clock)
	b := RefreshReservations(context.Background(), base, []ReservationSource{src}, cache, clock)
	if src.calls != 1 || a.Catalog.Version != b.Catalog.Version {
		t.Fatalf("%d calls (want 1: the second from the cache), versions %s %s", src.calls, a.Catalog.Version, b.Catalog.Version)
	}
}

// BenchmarkRefreshReservations: 500 live reservations (an account with
// many) merged into the embedded catalog, each checked by the catalog's
// rules.
func BenchmarkRefreshReservations(b *testing.B) {
	base := planner.Embedded()
	var offers []planner.Offer
	for i := range 500 {
		offers = append(offers, awsReservation(fmt.Sprintf("cr-%017d", i), 1+i%4))
	}
	src := &fakeReservations{cloud: "aws", name: "ec2", offers: offers}
	b.ResetTimer()
	for b.Loop() {
		if res := RefreshReservations(context.Background(), base, []ReservationSource{src}, nil, nil); len(res.Warnings) > 0 {
			b.Fatal(res.Warnings)
		}
	}
}
