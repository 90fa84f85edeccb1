package catalogbuild

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

func TestBuild(t *testing.T) {
	embedded := planner.Embedded()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(bad, []byte("not,a,catalog\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	first := embedded.Offers[0]
	var order []string
	live := func(ctx context.Context, base *planner.Catalog) Live {
		order = append(order, "live")
		c, err := base.Adjust(planner.Adjustments{Overrides: []planner.PriceOverride{{Cloud: first.Cloud, InstanceType: first.InstanceType,
			Region: first.Region, CapacityType: first.CapacityType, PriceUSDHour: 12345}}})
		if err != nil {
			t.Fatal(err)
		}
		return Live{Catalog: c, PriceWarnings: []string{"p"}, AvailabilityWarnings: []string{"a"}, SourceErr: errors.New("s")}
	}
	for _, tc := range []struct {
		name      string
		spec      Spec
		wantErr   any
		check     func(t *testing.T, r Result)
		wantOrder []string
	}{
		{name: "embedded, nothing set: the embedded catalog as it is", spec: Spec{},
			check: func(t *testing.T, r Result) {
				if r.Catalog != embedded || r.Live != nil {
					t.Errorf("got %p live %v, want the embedded catalog %p and no live step", r.Catalog, r.Live, embedded)
				}
			}},
		{name: "unreadable file", spec: Spec{File: filepath.Join(dir, "missing.csv")}, wantErr: new(*FileError)},
		{name: "unparsable file", spec: Spec{File: bad}, wantErr: new(*FileError)},
		{name: "adjustments refused", spec: Spec{Adjustments: planner.Adjustments{DiscountPercent: map[string]float64{"aws": 100}}},
			wantErr: new(*AdjustError)},
		{name: "reservation refused stays a ReservationError",
			spec:    Spec{Adjustments: planner.Adjustments{Reservations: []planner.Reservation{{Cloud: "aws", ID: "cr-1", Count: 0}}}},
			wantErr: new(*planner.ReservationError)},
		{name: "live then adjustments: the discount applies to the live price",
			spec:      Spec{Live: live, Adjustments: planner.Adjustments{DiscountPercent: map[string]float64{first.Cloud: 10}}},
			wantOrder: []string{"live"},
			check: func(t *testing.T, r Result) {
				if got := r.Live.Warnings(); len(got) != 3 || got[0] != "s" || got[1] != "p" || got[2] != "a" {
					t.Errorf("warnings %q, want s, p, a", got)
				}
				for _, o := range r.Catalog.Offers {
					if o.ID() == first.ID() && o.PriceUSDHour != 12345*0.9 {
						t.Errorf("price %v, want the live price less 10%% (%v)", o.PriceUSDHour, 12345*0.9)
					}
				}
			}},
		{name: "regions restrict", spec: Spec{Adjustments: planner.Adjustments{Regions: map[string][]string{first.Cloud: {first.Region}}}},
			check: func(t *testing.T, r Result) {
				for _, o := range r.Catalog.Offers {
					if o.Cloud == first.Cloud && o.Region != first.Region {
						t.Fatalf("offer %s kept outside %s", o.ID(), first.Region)
					}
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			order = nil
			r, err := Build(context.Background(), tc.spec)
			if tc.wantErr != nil {
				if err == nil || !errors.As(err, tc.wantErr) {
					t.Fatalf("err %v (%T), want %T", err, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(order) != len(tc.wantOrder) {
				t.Errorf("steps %v, want %v", order, tc.wantOrder)
			}
			tc.check(t, r)
		})
	}
}
