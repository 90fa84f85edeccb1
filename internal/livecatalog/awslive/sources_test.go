package awslive

import (
	"context"
	"testing"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/awsconfig"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/livecatalog"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// TestSources: Sources builds the four AWS sources from plain data, under
// the names and cache keys livecatalog gives them (what a proxy of a
// source computes without the SDK), reservations on ReservationsEC2,
// signing with the static key pair when one is given and with the run's
// credentials (nil here: the default chain) when not.
func TestSources(t *testing.T) {
	cat := planner.Embedded()
	e := livecatalog.AWSEndpoints{Pricing: "http://127.0.0.1:1", EC2: "http://127.0.0.1:2", ServiceQuotas: "http://127.0.0.1:3"}
	for _, tc := range []struct {
		name    string
		c       livecatalog.AWSSourcesConfig
		wantEC2 string // the reservations' EC2
		wantKey string // the access key signed with; "" for the run's
	}{
		{"static credentials", livecatalog.AWSSourcesConfig{Catalog: cat, Endpoints: e,
			Credentials: awsconfig.StaticCredentials{AccessKeyID: "AKIDTEST", SecretAccessKey: "SECRET"}}, e.EC2, "AKIDTEST"},
		{"run's credentials, reservations elsewhere", livecatalog.AWSSourcesConfig{Catalog: cat, Endpoints: e, ReservationsEC2: "http://127.0.0.1:4"},
			"http://127.0.0.1:4", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set := Sources(tc.c)
			if len(set.Prices) != 2 || len(set.Availability) != 1 || len(set.Reservations) != 1 {
				t.Fatalf("%d price, %d availability, %d reservation sources, want 2, 1, 1", len(set.Prices), len(set.Availability), len(set.Reservations))
			}
			pricing, _ := set.Prices[0].(*Pricing)
			spot, _ := set.Prices[1].(*SpotPrices)
			avail, _ := set.Availability[0].(*Availability)
			res, _ := set.Reservations[0].(*Reservations)
			if pricing == nil || spot == nil || avail == nil || res == nil {
				t.Fatalf("sources %T %T %T %T, want Pricing, SpotPrices, Availability, Reservations", set.Prices[0], set.Prices[1], set.Availability[0], set.Reservations[0])
			}
			for _, s := range []struct {
				name, key string
				want      string
			}{
				{pricing.Name(), pricing.CacheKey(), livecatalog.AWSPricingSource},
				{spot.Name(), spot.CacheKey(), livecatalog.AWSSpotPricesSource},
				{avail.Name(), avail.CacheKey(), livecatalog.AWSAvailabilitySource},
			} {
				if want := livecatalog.AWSCacheKey(s.want, e, "", nil, nil); s.name != s.want || s.key != want {
					t.Errorf("source %q with cache key %q, want %q with %q", s.name, s.key, s.want, want)
				}
			}
			if res.Name() != livecatalog.AWSReservationsSource || res.Config.Endpoints.EC2 != tc.wantEC2 || res.Config.Endpoints.Pricing != e.Pricing {
				t.Errorf("reservations %q on %+v, want %q with EC2 %s", res.Name(), res.Config.Endpoints, livecatalog.AWSReservationsSource, tc.wantEC2)
			}
			for _, cfg := range []Config{pricing.Config, spot.Config, avail.Config, res.Config} {
				if cfg.Catalog != cat {
					t.Errorf("a source asks about another catalog")
				}
				key := ""
				if cfg.Credentials != nil {
					v, err := cfg.Credentials.Retrieve(context.Background())
					if err != nil {
						t.Fatal(err)
					}
					key = v.AccessKeyID
				}
				if key != tc.wantKey {
					t.Errorf("a source signs with %q, want %q", key, tc.wantKey)
				}
			}
		})
	}
}
