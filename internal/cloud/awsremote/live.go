package awsremote

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/awsconfig"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/livecatalog"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// SourcesFunc builds the AWS live sources of a configuration
// (awslive.Sources in the helper).
type SourcesFunc = livecatalog.AWSSources

// liveTarget is a livecatalog.AWSSourcesConfig as it crosses: the
// catalog as its AWS offers (none sent for the embedded catalog, which
// the helper has too).
type liveTarget struct {
	Embedded        bool                        `json:"embedded,omitempty"`
	Offers          []planner.Offer             `json:"offers,omitempty"`
	Endpoints       livecatalog.AWSEndpoints    `json:"endpoints"`
	ReservationsEC2 string                      `json:"reservations_ec2,omitempty"`
	Credentials     awsconfig.StaticCredentials `json:"credentials"`
}

func (t liveTarget) config() livecatalog.AWSSourcesConfig {
	c := livecatalog.AWSSourcesConfig{Endpoints: t.Endpoints, ReservationsEC2: t.ReservationsEC2, Credentials: t.Credentials}
	if !t.Embedded {
		c.Catalog = &planner.Catalog{Offers: t.Offers}
	}
	return c
}

// Sources is livecatalog.AWSSources through c's helper: the sources'
// names and cache keys are those of the sources in the helper, so that
// a fresh cache entry answers without starting it; each fetch is one
// call.
func Sources(c *Client) livecatalog.AWSSources {
	return func(cfg livecatalog.AWSSourcesConfig) livecatalog.AWSSourceSet {
		target := sync.OnceValues(func() (json.RawMessage, error) {
			t := liveTarget{Embedded: cfg.Catalog == nil, Endpoints: cfg.Endpoints, ReservationsEC2: cfg.ReservationsEC2, Credentials: cfg.Credentials}
			if cfg.Catalog != nil {
				t.Offers = []planner.Offer{}
				for _, o := range cfg.Catalog.Offers {
					if o.Cloud == "aws" {
						t.Offers = append(t.Offers, o)
					}
				}
			}
			return json.Marshal(t)
		})
		src := func(name string) remoteSource {
			return remoteSource{c: c, name: name, target: target,
				key: livecatalog.AWSCacheKey(name, cfg.Endpoints, "", nil, nil)}
		}
		return livecatalog.AWSSourceSet{
			Prices:       []livecatalog.PriceSource{keyed{src(livecatalog.AWSPricingSource)}, keyed{src(livecatalog.AWSSpotPricesSource)}},
			Availability: []livecatalog.AvailabilitySource{keyed{src(livecatalog.AWSAvailabilitySource)}},
			Reservations: []livecatalog.ReservationSource{src(livecatalog.AWSReservationsSource)},
		}
	}
}

// remoteSource is the AWS live source name of a configuration, in the
// helper.
type remoteSource struct {
	c      *Client
	name   string
	key    string
	target func() (json.RawMessage, error)
}

// keyed is a remoteSource whose source in the helper has a CacheKey (all
// but the reservations').
type keyed struct{ remoteSource }

// CacheKey is the helper's source's.
func (s keyed) CacheKey() string { return s.key }

// Cloud is "aws".
func (s remoteSource) Cloud() string { return "aws" }

// Name is the helper's source's.
func (s remoteSource) Name() string { return s.name }

type sourceArgs struct {
	Name          string   `json:"name"`
	InstanceTypes []string `json:"instance_types,omitempty"`
}

func (s remoteSource) call(ctx context.Context, method string, args sourceArgs, out any) error {
	t, err := s.target()
	if err != nil {
		return err
	}
	return s.c.call(ctx, method, t, args, out)
}

// Prices fetches the helper's source's prices.
func (s remoteSource) Prices(ctx context.Context) ([]livecatalog.Price, error) {
	var out []livecatalog.Price
	return out, s.call(ctx, "Prices", sourceArgs{Name: s.name}, &out)
}

// Availability fetches the helper's source's availability.
func (s remoteSource) Availability(ctx context.Context, instanceTypes []string) (livecatalog.Availability, error) {
	var out livecatalog.Availability
	return out, s.call(ctx, "Availability", sourceArgs{Name: s.name, InstanceTypes: instanceTypes}, &out)
}

// Capacity fetches the helper's source's reservations and offerings.
func (s remoteSource) Capacity(ctx context.Context) ([]planner.Offer, error) {
	var out []planner.Offer
	return out, s.call(ctx, "Capacity", sourceArgs{Name: s.name}, &out)
}

// sourceMethod is the helper's side of a source method.
type sourceMethod func(ctx context.Context, sources SourcesFunc, target, args json.RawMessage) (any, error)

// findSource is the source named name of kind T in the set.
func findSource[T interface{ Name() string }](all []T, name string) (T, error) {
	for _, s := range all {
		if s.Name() == name {
			return s, nil
		}
	}
	var zero T
	return zero, fmt.Errorf("%s has no AWS live source %q: install the %s of the provider's own release", HelperName, name, HelperName)
}

func serveSource(f func(ctx context.Context, set livecatalog.AWSSourceSet, a sourceArgs) (any, error)) sourceMethod {
	return func(ctx context.Context, sources SourcesFunc, target, args json.RawMessage) (any, error) {
		var t liveTarget
		if err := json.Unmarshal(target, &t); err != nil {
			return nil, err
		}
		var a sourceArgs
		if err := json.Unmarshal(args, &a); err != nil {
			return nil, err
		}
		return f(ctx, sources(t.config()), a)
	}
}

// sourceMethods are the helper's methods of the sources, by name.
var sourceMethods = map[string]sourceMethod{
	"Prices": serveSource(func(ctx context.Context, set livecatalog.AWSSourceSet, a sourceArgs) (any, error) {
		s, err := findSource(set.Prices, a.Name)
		if err != nil {
			return nil, err
		}
		return s.Prices(ctx)
	}),
	"Availability": serveSource(func(ctx context.Context, set livecatalog.AWSSourceSet, a sourceArgs) (any, error) {
		s, err := findSource(set.Availability, a.Name)
		if err != nil {
			return nil, err
		}
		return s.Availability(ctx, a.InstanceTypes)
	}),
	"Capacity": serveSource(func(ctx context.Context, set livecatalog.AWSSourceSet, a sourceArgs) (any, error) {
		s, err := findSource(set.Reservations, a.Name)
		if err != nil {
			return nil, err
		}
		return s.Capacity(ctx)
	}),
}
