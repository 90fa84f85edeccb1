package livecatalog

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// Cache keeps each source's prices and availability on disk for TTL, so
// that plans stay fast and do not call the clouds' APIs every time. A nil
// cache fetches every time.
type Cache struct {
	Dir string
	TTL time.Duration
}

// DefaultTTL is how long fetched prices are reused.
const DefaultTTL = time.Hour

// entry is one cached fetch.
type entry[T any] struct {
	FetchedAt time.Time `json:"fetched_at"`
	Value     T         `json:"value"`
}

// cacheKeyer is implemented by sources whose cache entry depends on more
// than their name (an endpoint override).
type cacheKeyer interface{ CacheKey() string }

// file is where a source's kind ("prices", "availability") of data is
// cached.
func (c *Cache) file(kind string, s interface{ Name() string }) string {
	name := s.Name()
	if k, ok := s.(cacheKeyer); ok {
		name = k.CacheKey()
	}
	name = strings.NewReplacer("/", "_", " ", "_", ":", "_").Replace(name)
	return filepath.Join(c.Dir, kind+"-"+name+".json")
}

// cached returns what fetch returns and when, from file while it is
// younger than the cache's TTL; a fresh fetch is written back.
func cached[T any](c *Cache, file string, now func() time.Time, fetch func() (T, error)) (T, time.Time, error) {
	if c != nil {
		ttl := c.TTL
		if ttl <= 0 {
			ttl = DefaultTTL
		}
		if data, err := os.ReadFile(file); err == nil {
			var e entry[T]
			if json.Unmarshal(data, &e) == nil && now().Sub(e.FetchedAt) < ttl {
				return e.Value, e.FetchedAt, nil
			}
		}
	}
	v, err := fetch()
	if err != nil {
		var zero T
		return zero, time.Time{}, err
	}
	fetched := now()
	if c != nil {
		if data, err := json.Marshal(entry[T]{FetchedAt: fetched, Value: v}); err == nil {
			_ = os.MkdirAll(c.Dir, 0o755)
			if os.WriteFile(file+".tmp", data, 0o644) == nil {
				_ = os.Rename(file+".tmp", file)
			}
		}
	}
	return v, fetched, nil
}

// get returns the source's prices, from the cache while fresh.
func (c *Cache) get(ctx context.Context, s PriceSource, now func() time.Time) ([]Price, time.Time, error) {
	var file string
	if c != nil {
		file = c.file("prices", s)
	}
	return cached(c, file, now, func() ([]Price, error) { return s.Prices(ctx) })
}

// getAvailability returns the source's facts, from the cache while fresh.
func (c *Cache) getAvailability(ctx context.Context, s AvailabilitySource, instanceTypes []string, now func() time.Time) (Availability, time.Time, error) {
	var file string
	if c != nil {
		file = c.file("availability", s)
	}
	return cached(c, file, now, func() (Availability, error) { return s.Availability(ctx, instanceTypes) })
}

// getReservations returns the source's reservations, from the cache while
// fresh.
func (c *Cache) getReservations(ctx context.Context, s ReservationSource, now func() time.Time) ([]planner.Offer, time.Time, error) {
	var file string
	if c != nil {
		file = c.file("reservations", s)
	}
	return cached(c, file, now, func() ([]planner.Offer, error) { return s.Capacity(ctx) })
}

// fetched is one source's result.
type fetched[T any] struct {
	value T
	at    time.Time
	err   error
}

// fetchAll runs fetch for every source concurrently (each waits on its
// own API) and returns the results in the sources' order.
func fetchAll[S, T any](sources []S, fetch func(S) (T, time.Time, error)) []fetched[T] {
	out := make([]fetched[T], len(sources))
	var wg sync.WaitGroup
	for i, s := range sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i].value, out[i].at, out[i].err = fetch(s)
		}()
	}
	wg.Wait()
	return out
}
