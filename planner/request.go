package planner

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

// Request says what capacity is wanted and under which rules.
type Request struct {
	// GPUs is the number of GPUs wanted: the placement has at least this many.
	GPUs int `json:"gpus"`
	// GPUModels allows these GPU models (case-insensitive); empty allows all.
	GPUModels []string `json:"gpu_models,omitempty"`
	// MinGPUMemoryGiB requires at least this much memory per GPU; 0 for none.
	MinGPUMemoryGiB float64 `json:"min_gpu_memory_gib,omitempty"`
	// GPUsPerNode requires exactly this many GPUs per node; 0 for any.
	GPUsPerNode int `json:"gpus_per_node,omitempty"`
	// MinGPUsPerNode requires at least this many GPUs per node; 0 for any.
	// It conflicts with GPUsPerNode.
	MinGPUsPerNode int `json:"min_gpus_per_node,omitempty"`
	// Interconnect requires at least this GPU-to-GPU link class; empty for any.
	Interconnect Interconnect `json:"interconnect,omitempty"`
	// Residency allows only regions matching one of these: a jurisdiction
	// ("EU", "US", "UK", "CH", ...), an ISO country code ("DE", "FR", ...)
	// or a cloud/region ("aws/eu-central-1"). Empty allows every region.
	Residency []string `json:"residency,omitempty"`
	// DenyResidency excludes regions matching one of these (same syntax);
	// it wins over Residency.
	DenyResidency []string `json:"deny_residency,omitempty"`
	// Clouds allows these clouds; empty allows all.
	Clouds []string `json:"clouds,omitempty"`
	// CapacityTypes allows these capacity types; empty means on-demand,
	// and reserved as well where the catalog has reservations (capacity
	// already paid for is what a request that names no kind wants first).
	CapacityTypes []CapacityType `json:"capacity_types,omitempty"`
	// StartAfter is the earliest time the capacity is wanted (RFC 3339;
	// normalized to TimeLayout); empty for now. A capacity_block or
	// calendar offer qualifies only if it starts at or after it.
	StartAfter string `json:"start_after,omitempty"`
	// DurationHours is how long the capacity is wanted; 0 for open-ended.
	// A capacity_block or calendar offer qualifies only if it lasts at
	// least this long, a flex_start offer only if its max_run_hours is at
	// least this long. On-demand, spot and reserved offers are not
	// limited in time and always qualify.
	DurationHours int `json:"duration_hours,omitempty"`
	// MaxPricePerGPUHour rejects offers above this USD price per GPU-hour;
	// 0 for no cap.
	MaxPricePerGPUHour float64 `json:"max_price_per_gpu_hour,omitempty"`
	// MinSpotScore rejects spot offers whose known spot placement score
	// (Offer.SpotScore, 1 to 10) is below it; offers with an unknown score
	// and on-demand offers are kept. 0 for none.
	MinSpotScore int `json:"min_spot_score,omitempty"`
	// Spread rules how the GPUs are shared between clouds.
	Spread Spread `json:"spread"`
	// Gang puts every node in one region, and in one zone where the cloud
	// has zones. It conflicts with a spread over several clouds.
	Gang bool `json:"gang,omitempty"`
	// FallbacksInSites keeps only the fallbacks the placement's own sites
	// can host: in a cloud/region of an allocation and, where the offer has
	// a zone, in a zone of an allocation of that site. That is what a
	// network built from the placement's sites (subnets in their zones) and
	// a cluster per site can take; the others are left out, each with why
	// (Allocation.DroppedFallbacks). It changes fallbacks only.
	FallbacksInSites bool `json:"fallbacks_in_sites,omitempty"`
}

// Spread limits how GPUs are distributed across clouds.
type Spread struct {
	// MinClouds is the least number of distinct clouds with nodes; 0 or 1
	// for no minimum.
	MinClouds int `json:"min_clouds,omitempty"`
	// MaxShare is the largest fraction of the placement's GPUs allowed on
	// any one cloud, in (0, 1]; 0 means 1 (no limit).
	MaxShare float64 `json:"max_share,omitempty"`
}

// RequestError is a request that is malformed or names something the
// catalog does not know. Field is the request attribute, in the provider's
// attribute names ("gpu_models[1]", "spread.max_share").
type RequestError struct {
	Field       string
	Message     string
	Suggestions []string
}

func (e *RequestError) Error() string {
	msg := e.Field + ": " + e.Message
	if len(e.Suggestions) > 0 {
		msg += " (did you mean " + quoteJoin(e.Suggestions, " or ") + "?)"
	}
	return msg
}

func quoteJoin(items []string, sep string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, sep)
}

// sharePPM is the max share in millionths, exact for the integer arithmetic
// of the solver.
func (s Spread) sharePPM() int64 {
	if s.MaxShare <= 0 || s.MaxShare >= 1 {
		return 1_000_000
	}
	return int64(math.Round(s.MaxShare * 1e6))
}

func (s Spread) minClouds() int { return max(s.MinClouds, 1) }

// active reports whether the spread constrains anything.
func (s Spread) active() bool { return s.minClouds() > 1 || s.sharePPM() < 1_000_000 }

// Normalize checks the request against the catalog and returns it in
// canonical form: GPU models spelled as in the catalog (or the GPU table,
// for known models the catalog does not sell, which are kept and match no
// offer; names known to neither are errors with suggestions), residency codes
// upper-cased (cloud/region lower-cased), lists sorted and de-duplicated,
// capacity types defaulted to on-demand. Errors are *RequestError.
func (r Request) Normalize(c *Catalog) (Request, error) {
	n := r
	if r.GPUs <= 0 {
		return n, &RequestError{Field: "gpus", Message: fmt.Sprintf("must be at least 1, got %d", r.GPUs)}
	}
	n.GPUModels = nil
	for i, m := range r.GPUModels {
		// The catalog's spelling first, then the GPU table's: a known model
		// the catalog does not sell is kept and matches no offer.
		canon, ok := lookupFold(c.models, strings.TrimSpace(m))
		if !ok {
			canon, ok = lookupFold(knownGPUModels, strings.TrimSpace(m))
		}
		if !ok {
			names := c.GPUModelNames()
			return n, &RequestError{Field: fmt.Sprintf("gpu_models[%d]", i),
				Message: fmt.Sprintf("unknown GPU model %q; known models are %s (the catalog has %s)", m,
					strings.Join(names, ", "), strings.Join(c.models, ", ")),
				Suggestions: nearest(m, names, 3)}
		}
		n.GPUModels = append(n.GPUModels, canon)
	}
	n.GPUModels = sortedUnique(n.GPUModels)
	if r.MinGPUMemoryGiB < 0 || math.IsNaN(r.MinGPUMemoryGiB) {
		return n, &RequestError{Field: "min_gpu_memory_gib", Message: fmt.Sprintf("must be 0 (no minimum) or positive, got %v", r.MinGPUMemoryGiB)}
	}
	if r.GPUsPerNode < 0 {
		return n, &RequestError{Field: "gpus_per_node", Message: fmt.Sprintf("must be 0 (any) or positive, got %d", r.GPUsPerNode)}
	}
	if r.MinGPUsPerNode < 0 {
		return n, &RequestError{Field: "min_gpus_per_node", Message: fmt.Sprintf("must be 0 (any) or positive, got %d", r.MinGPUsPerNode)}
	}
	if r.GPUsPerNode > 0 && r.MinGPUsPerNode > 0 {
		return n, &RequestError{Field: "min_gpus_per_node", Message: "conflicts with gpus_per_node: set an exact count or a minimum, not both"}
	}
	if r.Interconnect != "" && r.Interconnect.Rank() < 0 {
		return n, &RequestError{Field: "interconnect", Message: fmt.Sprintf("unknown interconnect %q; expected one of %s",
			r.Interconnect, quoteJoin(stringsOf(Interconnects), ", "))}
	}
	var err error
	if n.Residency, err = normalizeResidency(c, "residency", r.Residency); err != nil {
		return n, err
	}
	if n.DenyResidency, err = normalizeResidency(c, "deny_residency", r.DenyResidency); err != nil {
		return n, err
	}
	known := c.regionValues(regionCloud)
	n.Clouds = nil
	for i, cl := range r.Clouds {
		canon, ok := lookupFold(known, strings.TrimSpace(cl))
		if !ok {
			return n, &RequestError{Field: fmt.Sprintf("clouds[%d]", i),
				Message: fmt.Sprintf("unknown cloud %q; expected one of %s", cl, quoteJoin(known, ", ")), Suggestions: nearest(cl, known, 1)}
		}
		n.Clouds = append(n.Clouds, canon)
	}
	n.Clouds = sortedUnique(n.Clouds)
	n.CapacityTypes = nil
	for i, ct := range r.CapacityTypes {
		if !ct.known() {
			return n, &RequestError{Field: fmt.Sprintf("capacity_types[%d]", i),
				Message:     fmt.Sprintf("unknown capacity type %q; expected one of %s", ct, quoteJoin(stringsOf(AllCapacityTypes), ", ")),
				Suggestions: nearest(string(ct), stringsOf(AllCapacityTypes), 1)}
		}
		n.CapacityTypes = append(n.CapacityTypes, ct)
	}
	if len(n.CapacityTypes) == 0 {
		n.CapacityTypes = []CapacityType{OnDemand}
		if c.hasReserved {
			n.CapacityTypes = append(n.CapacityTypes, Reserved)
		}
	}
	if r.StartAfter != "" {
		t, err := canonicalTime(r.StartAfter)
		if err != nil {
			return n, &RequestError{Field: "start_after", Message: err.Error()}
		}
		n.StartAfter = t
	}
	if r.DurationHours < 0 {
		return n, &RequestError{Field: "duration_hours", Message: fmt.Sprintf("must be 0 (open-ended) or a positive number of hours, got %d", r.DurationHours)}
	}
	slices.Sort(n.CapacityTypes)
	n.CapacityTypes = slices.Compact(n.CapacityTypes)
	if r.MaxPricePerGPUHour < 0 || math.IsNaN(r.MaxPricePerGPUHour) || math.IsInf(r.MaxPricePerGPUHour, 0) {
		return n, &RequestError{Field: "max_price_per_gpu_hour", Message: fmt.Sprintf("must be 0 (no cap) or a positive USD price, got %v", r.MaxPricePerGPUHour)}
	}
	if r.MinSpotScore < 0 || r.MinSpotScore > 10 {
		return n, &RequestError{Field: "min_spot_score", Message: fmt.Sprintf("must be 0 (no minimum) or a spot placement score from 1 to 10, got %d", r.MinSpotScore)}
	}
	if s := r.Spread.MaxShare; s < 0 || s > 1 || math.IsNaN(s) {
		return n, &RequestError{Field: "spread.max_share", Message: fmt.Sprintf("must be in (0, 1], got %v", s)}
	}
	if r.Spread.MinClouds < 0 {
		return n, &RequestError{Field: "spread.min_clouds", Message: fmt.Sprintf("must be 0 or positive, got %d", r.Spread.MinClouds)}
	}
	if allowed := len(n.Clouds); allowed > 0 && r.Spread.MinClouds > allowed {
		return n, &RequestError{Field: "spread.min_clouds", Message: fmt.Sprintf("is %d but clouds allows only %d (%s)",
			r.Spread.MinClouds, allowed, strings.Join(n.Clouds, ", "))}
	}
	if allowed := len(known); r.Spread.MinClouds > allowed {
		return n, &RequestError{Field: "spread.min_clouds", Message: fmt.Sprintf("is %d but there are only %d clouds", r.Spread.MinClouds, allowed)}
	}
	if r.Gang && r.Spread.active() {
		return n, &RequestError{Field: "gang", Message: "conflicts with spread: a gang puts every node in one zone of one cloud, so spread.min_clouds must be at most 1 and spread.max_share must be 1 or unset"}
	}
	return n, nil
}

func stringsOf[T ~string](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = string(x)
	}
	return out
}

func lookupFold(list []string, s string) (string, bool) {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return x, true
		}
	}
	return "", false
}

func sortedUnique(xs []string) []string {
	if len(xs) == 0 {
		return nil
	}
	out := slices.Clone(xs)
	sort.Strings(out)
	return slices.Compact(out)
}

// residencyAliases are accepted spellings of jurisdiction codes.
var residencyAliases = map[string]string{"EEA": "EU", "EU/EEA": "EU", "GB": "GB"}

// ResidencyCodes returns every residency value the catalog's region table
// accepts: jurisdictions, countries and cloud/region names, sorted.
func (c *Catalog) ResidencyCodes() []string { return slices.Clone(c.residency) }

// regionValues collects the distinct values of the region table's fields,
// sorted.
func (c *Catalog) regionValues(fields ...func(Region) string) []string {
	set := map[string]bool{}
	for _, r := range c.regions {
		for _, f := range fields {
			set[f(r)] = true
		}
	}
	return sortedKeys(set)
}

func regionCloud(r Region) string        { return r.Cloud }
func regionJurisdiction(r Region) string { return r.Jurisdiction }
func regionCountry(r Region) string      { return r.Country }

func normalizeResidency(c *Catalog, field string, values []string) ([]string, error) {
	codes := c.residency
	var out []string
	for i, v := range values {
		v = strings.TrimSpace(v)
		var canon string
		if strings.Contains(v, "/") && !strings.EqualFold(v, "EU/EEA") {
			canon = strings.ToLower(v)
		} else {
			canon = strings.ToUpper(v)
			if a, ok := residencyAliases[canon]; ok {
				canon = a
			}
		}
		if !slices.Contains(codes, canon) {
			return nil, &RequestError{Field: fmt.Sprintf("%s[%d]", field, i),
				Message: fmt.Sprintf("unknown jurisdiction, country or cloud/region %q; expected a jurisdiction (%s), an ISO country code (DE, FR, ...) or a cloud/region such as aws/eu-central-1",
					v, strings.Join(c.regionValues(regionJurisdiction), ", ")),
				Suggestions: nearest(v, codes, 3)}
		}
		out = append(out, canon)
	}
	return sortedUnique(out), nil
}

// matchesResidency reports whether a region matches one of the codes.
func matchesResidency(r Region, codes []string) bool {
	for _, code := range codes {
		if code == r.Jurisdiction || code == r.Country || code == r.Key() {
			return true
		}
	}
	return false
}

// Nearest returns up to n candidates that look like typos of s, closest
// first: the suggestions of RequestError, for callers validating names.
func Nearest(s string, candidates []string, n int) []string { return nearest(s, candidates, n) }

// nearest returns up to n candidates closest to s, closest first, ties
// alphabetical; only candidates within a distance that makes them plausible
// typos. Distance is the edit distance after folding case and look-alike
// characters (O/0, I/l/1), less a half for a candidate that s begins (an
// unfinished name).
func nearest(s string, candidates []string, n int) []string {
	type scored struct {
		name string
		d    float64
	}
	var list []scored
	ls := fold(s)
	for _, c := range candidates {
		lc := fold(c)
		d := float64(levenshtein(ls, lc))
		if strings.HasPrefix(lc, ls) {
			d -= 0.5
		}
		if d <= float64(max(2, len(s)/3)) {
			list = append(list, scored{c, d})
		}
	}
	sort.SliceStable(list, func(i, j int) bool {
		if list[i].d != list[j].d {
			return list[i].d < list[j].d
		}
		return list[i].name < list[j].name
	})
	var out []string
	for i := 0; i < len(list) && i < n; i++ {
		out = append(out, list[i].name)
	}
	return out
}

func fold(s string) string {
	return strings.NewReplacer("o", "0", "i", "1", "l", "1").Replace(strings.ToLower(s))
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
