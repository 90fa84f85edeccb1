package planner

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Region is one cloud region and where it is: the facts residency rules are
// checked against.
type Region struct {
	Cloud    string `json:"cloud"`
	Name     string `json:"region"`
	Location string `json:"location"`
	// Country is the ISO 3166-1 alpha-2 code (GB for the United Kingdom).
	Country string `json:"country"`
	// Jurisdiction groups countries under one data-protection regime: "EU"
	// for the EU and EEA, "UK", "CH", and otherwise the country code.
	Jurisdiction string `json:"jurisdiction"`
	Continent    string `json:"continent"`
}

// Key is the region's cloud/region name.
func (r Region) Key() string { return r.Cloud + "/" + r.Name }

// Catalog is a set of offers and the region table they are placed in.
// Build one with NewCatalog, LoadCatalogFile or Embedded; the zero value is
// empty. A Catalog is not modified by the planner and may be shared by
// concurrent Plan calls.
type Catalog struct {
	// Version identifies the catalog's content: its date where known and a
	// digest of its offers, so that two catalogs with the same version hold
	// the same offers.
	Version string
	// Offers in canonical order (compareOffers).
	Offers []Offer
	// Sources says where the prices come from, one line per cloud or file.
	Sources []string
	// Limits are the account's quotas, in canonical order (cloud, region,
	// name, capacity type, instance types, max GPUs): every placement keeps
	// each of them (see Limit). They are facts about the account, like
	// MaxNodes; set them with Adjust (Adjustments.Limits) so that Version
	// digests them too. Empty for a catalog without quotas.
	Limits []Limit

	regions map[string]Region
	// Derived at construction: offer IDs by index, distinct GPU models,
	// residency codes.
	ids       []string
	models    []string
	residency []string
	// hasReserved: some offer is reserved capacity, which a request that
	// names no capacity types may use (see Request.Normalize).
	hasReserved bool
}

// NewCatalog builds a catalog from offers and a region table. Offers are
// validated, must have unique IDs and must be in a region of the table; they
// are stored in the canonical order, so the catalog does not depend on the
// order of its inputs. date (may be empty) goes into the version.
func NewCatalog(offers []Offer, regions []Region, date string, sources []string) (*Catalog, error) {
	return newCatalog(offers, regions, date, sources, nil)
}

// newCatalog is NewCatalog with limits, which are stored in canonical order
// and digested into the version when there are any.
func newCatalog(offers []Offer, regions []Region, date string, sources []string, limits []Limit) (*Catalog, error) {
	return buildCatalog(offers, nil, false, regions, date, sources, limits)
}

// buildCatalog is newCatalog for offers whose IDs may already be known: ids
// is nil or holds offers[i].ID() at i (readOffers computes them to report
// duplicates by line), so that no ID is built twice. checked says the
// offers are known to be valid, unique and in regions (fastOffers checked
// them as it read them) and that offers and ids belong to the catalog,
// which reorders them in place.
func buildCatalog(offers []Offer, ids []string, checked bool, regions []Region, date string, sources []string, limits []Limit) (*Catalog, error) {
	c := &Catalog{regions: make(map[string]Region, len(regions)), Sources: slices.Clone(sources), Limits: canonicalLimits(limits)}
	for _, r := range regions {
		c.regions[r.Key()] = r
	}
	if ids == nil {
		ids = make([]string, len(offers))
		for i := range offers {
			ids[i] = offers[i].ID()
		}
	}
	if !checked {
		seen := make(map[string]struct{}, len(offers))
		for i := range offers {
			o := &offers[i]
			if err := o.fillDerived(); err != nil {
				return nil, fmt.Errorf("offer %s: %w", ids[i], err)
			}
			if err := o.validate(); err != nil {
				return nil, fmt.Errorf("offer %s: %w", ids[i], err)
			}
			if _, ok := c.regions[o.Site()]; !ok {
				return nil, fmt.Errorf("offer %s: region %q is not in the region table of %s", ids[i], o.Region, o.Cloud)
			}
			if _, dup := seen[ids[i]]; dup {
				return nil, fmt.Errorf("offer %s appears twice", ids[i])
			}
			seen[ids[i]] = struct{}{}
		}
	}
	// Sort a permutation rather than the offers themselves: an Offer is
	// about 200 bytes, an index 4.
	order := canonicalOrder(offers)
	if checked {
		// fastOffers' slices are this catalog's own: permute them in
		// place rather than copy every offer into a new slice.
		permute(offers, ids, order)
		c.Offers, c.ids = offers, ids
	} else {
		c.Offers = make([]Offer, len(offers))
		c.ids = make([]string, len(offers))
		for i, j := range order {
			c.Offers[i], c.ids[i] = offers[j], ids[j]
		}
	}
	c.Version = versionOf(c.Offers, c.ids, c.Limits, date)
	c.models = c.distinct(func(o *Offer) string { return o.GPUModel })
	for i := range c.Offers {
		c.hasReserved = c.hasReserved || c.Offers[i].CapacityType == Reserved
	}
	c.residency = c.regionValues(regionJurisdiction, regionCountry, Region.Key)
	return c, nil
}

// canonicalOrder returns the permutation that sorts offers by
// compareOffers. Prices in micro-dollars are computed once per offer rather
// than once per comparison; the order is compareOffers' own.
func canonicalOrder(offers []Offer) []int32 {
	type key struct {
		micros, gpus int64
		score        int
		idx          int32
	}
	keys := make([]key, len(offers))
	for i := range offers {
		o := &offers[i]
		keys[i] = key{micros: o.priceMicros(), gpus: int64(o.GPUCount), score: o.SpotScore, idx: int32(i)}
	}
	slices.SortFunc(keys, func(a, b key) int {
		if c := cmp.Compare(a.micros*b.gpus, b.micros*a.gpus); c != 0 {
			return c
		}
		if c := cmp.Compare(a.micros, b.micros); c != 0 {
			return c
		}
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		return compareNames(&offers[a.idx], &offers[b.idx])
	})
	order := make([]int32, len(keys))
	for i, k := range keys {
		order[i] = k.idx
	}
	return order
}

// permute puts offers[order[i]] and ids[order[i]] at i, following each
// cycle of the permutation; order is consumed (set to -1).
func permute(offers []Offer, ids []string, order []int32) {
	for i := range order {
		if order[i] < 0 {
			continue
		}
		o, id := offers[i], ids[i]
		j := i
		for {
			k := int(order[j])
			order[j] = -1
			if k == i {
				offers[j], ids[j] = o, id
				break
			}
			offers[j], ids[j] = offers[k], ids[k]
			j = k
		}
	}
}

// versionOf digests the offers (ids[i] is offers[i].ID()) and limits in
// canonical order. A spot score and the limits are digested only when
// present, so that a catalog without them keeps the version it always had.
// Each offer's line is the one fmt's "%s|%s|%d|%g|%d|%g|%d|%d|%s|%s" made,
// appended with strconv into one buffer.
func versionOf(offers []Offer, ids []string, limits []Limit, date string) string {
	h := sha256.New()
	buf := make([]byte, 0, 256)
	for i := range offers {
		o := &offers[i]
		buf = append(buf[:0], ids[i]...)
		buf = append(append(buf, '|'), o.GPUModel...)
		buf = strconv.AppendInt(append(buf, '|'), int64(o.GPUCount), 10)
		buf = strconv.AppendFloat(append(buf, '|'), o.GPUMemoryGiB, 'g', -1, 64)
		buf = strconv.AppendInt(append(buf, '|'), int64(o.VCPUs), 10)
		buf = strconv.AppendFloat(append(buf, '|'), o.MemoryGiB, 'g', -1, 64)
		buf = strconv.AppendInt(append(buf, '|'), o.priceMicros(), 10)
		buf = strconv.AppendInt(append(buf, '|'), int64(o.MaxNodes), 10)
		buf = append(append(buf, '|'), o.Interconnect...)
		buf = append(append(buf, '|'), o.Fabric...)
		if o.SpotScore != 0 {
			buf = strconv.AppendInt(append(buf, "|spot_score="...), int64(o.SpotScore), 10)
		}
		if o.StartTime != "" || o.DurationHours != 0 || o.UpfrontUSD != 0 || o.MaxRunHours != 0 {
			buf = append(append(buf, "|start="...), o.StartTime...)
			buf = strconv.AppendInt(append(buf, "|hours="...), int64(o.DurationHours), 10)
			buf = strconv.AppendInt(append(buf, "|upfront="...), usdToMicros(o.UpfrontUSD), 10)
			buf = strconv.AppendInt(append(buf, "|max_run="...), int64(o.MaxRunHours), 10)
		}
		h.Write(append(buf, '\n'))
	}
	for _, l := range limits {
		fmt.Fprintf(h, "limit|%s|%s|%s|%s|%s|%d\n", l.Name, l.Cloud, l.Region, strings.Join(l.InstanceTypes, ","), l.CapacityType, l.MaxGPUs)
	}
	sum := hex.EncodeToString(h.Sum(nil))[:12]
	if date == "" {
		return "sha256:" + sum
	}
	return date + "+sha256:" + sum
}

// Region returns the region table entry for cloud/region.
func (c *Catalog) Region(cloud, region string) (Region, bool) {
	r, ok := c.regions[cloud+"/"+region]
	return r, ok
}

// Regions returns the region table sorted by cloud and region.
func (c *Catalog) Regions() []Region {
	out := make([]Region, 0, len(c.regions))
	for _, r := range c.regions {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Region) int {
		return cmp.Or(strings.Compare(a.Cloud, b.Cloud), strings.Compare(a.Name, b.Name))
	})
	return out
}

// GPUModels returns the distinct GPU models of the catalog's offers, sorted.
func (c *Catalog) GPUModels() []string { return slices.Clone(c.models) }

// Clouds returns the distinct clouds of the catalog's offers, sorted.
func (c *Catalog) Clouds() []string {
	return c.distinct(func(o *Offer) string { return o.Cloud })
}

func (c *Catalog) distinct(key func(*Offer) string) []string {
	set := map[string]bool{}
	for i := range c.Offers {
		set[key(&c.Offers[i])] = true
	}
	return sortedKeys(set)
}
