package livecatalog

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Cache keeps each source's prices on disk for TTL, so that plans stay
// fast and do not call the price APIs every time. A nil cache fetches every
// time.
type Cache struct {
	Dir string
	TTL time.Duration
}

// DefaultTTL is how long fetched prices are reused.
const DefaultTTL = time.Hour

type cached struct {
	FetchedAt time.Time `json:"fetched_at"`
	Prices    []Price   `json:"prices"`
}

// cacheKeyer is implemented by sources whose cache entry depends on more
// than their name (an endpoint override).
type cacheKeyer interface{ CacheKey() string }

func (c *Cache) path(s PriceSource) string {
	name := s.Name()
	if k, ok := s.(cacheKeyer); ok {
		name = k.CacheKey()
	}
	name = strings.NewReplacer("/", "_", " ", "_", ":", "_").Replace(name)
	return filepath.Join(c.Dir, name+".json")
}

// get returns the source's prices, from the cache while fresh.
func (c *Cache) get(ctx context.Context, s PriceSource, now func() time.Time) ([]Price, time.Time, error) {
	if c != nil {
		ttl := c.TTL
		if ttl <= 0 {
			ttl = DefaultTTL
		}
		if data, err := os.ReadFile(c.path(s)); err == nil {
			var v cached
			if json.Unmarshal(data, &v) == nil && now().Sub(v.FetchedAt) < ttl {
				return v.Prices, v.FetchedAt, nil
			}
		}
	}
	prices, err := s.Prices(ctx)
	if err != nil {
		return nil, time.Time{}, err
	}
	fetched := now()
	if c != nil {
		if data, err := json.Marshal(cached{FetchedAt: fetched, Prices: prices}); err == nil {
			_ = os.MkdirAll(c.Dir, 0o755)
			tmp := c.path(s) + ".tmp"
			if os.WriteFile(tmp, data, 0o644) == nil {
				_ = os.Rename(tmp, c.path(s))
			}
		}
	}
	return prices, fetched, nil
}
