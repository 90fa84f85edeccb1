package planner

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

// InfeasibleError is a request that no placement satisfies. Constraint is
// the binding one, as a request attribute ("gpu_models", "residency",
// "availability", "spread.max_share", "gang", ...; "quota" when the
// catalog's limits are what binds); Relaxations are the nearest requests
// that would succeed, each changing one attribute.
type InfeasibleError struct {
	GPUs       int
	Constraint string
	Message    string
	// Quota names the binding limit (Limit.Name) when Constraint is "quota".
	Quota string
	// Obtainable is the most GPUs the request could get with only its GPU
	// count lowered (0 when no offer is eligible).
	Obtainable  int
	Relaxations []Relaxation
	// AbsentGPUModels are the GPU models the request allows that the
	// catalog has no offer of; Message says so too.
	AbsentGPUModels []string
}

// Relaxation is one change to a request that would make it feasible.
type Relaxation struct {
	// Field is the request attribute to change.
	Field string `json:"field"`
	// Change says how, e.g. "<= 48", ">= 0.75", "add spot".
	Change string `json:"change"`
}

func (r Relaxation) String() string { return r.Field + " " + r.Change }

func (e *InfeasibleError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cannot place %d GPUs: %s (binding constraint: %s)", e.GPUs, e.Message, e.Constraint)
	if len(e.Relaxations) > 0 {
		parts := make([]string, len(e.Relaxations))
		for i, r := range e.Relaxations {
			parts[i] = r.String()
		}
		b.WriteString("; nearest feasible requests: " + strings.Join(parts, ", or "))
	} else {
		b.WriteString("; no single change to the request makes it feasible")
	}
	return b.String()
}

// feasible solves a normalized request without building a placement.
func feasible(c *Catalog, req *Request) bool {
	f := newOfferFilter(c, req)
	_, ok := solve(c, f.q, req, f.eligibleOffers())
	return ok
}

func eligibleOffers(c *Catalog, req *Request) []int {
	return newOfferFilter(c, req).eligibleOffers()
}

// eligibleOffers returns the indices of the catalog's offers that pass.
func (f *offerFilter) eligibleOffers() []int {
	var out []int
	for i := range f.c.Offers {
		if f.eligible(&f.c.Offers[i]) {
			out = append(out, i)
		}
	}
	return out
}

func explainInfeasible(c *Catalog, req *Request, eligible []int, reasons []Rejection) *InfeasibleError {
	e := &InfeasibleError{GPUs: req.GPUs}
	if len(c.Limits) > 0 && feasible(c.withLimits(nil), req) {
		// Without its limits the catalog has a placement: a quota binds.
		e.Obtainable = maxFeasibleGPUs(c, req)
		e.Constraint = "quota"
		e.Quota, e.Message = bindingQuota(c, req, e.Obtainable)
	} else if len(eligible) == 0 {
		e.Constraint, e.Message = bindingFilter(req, reasons)
	} else {
		avail, bestZone, bestZoneName := 0, 0, ""
		zones := map[string]int{}
		clouds := map[string]bool{}
		for _, idx := range eligible {
			o := &c.Offers[idx]
			it := itemOf(c, idx)
			avail = addGPUs(avail, it.capGPUs())
			zones[zoneName(o)] = addGPUs(zones[zoneName(o)], it.capGPUs())
			clouds[o.Cloud] = true
		}
		for _, z := range sortedKeys(zones) {
			if zones[z] > bestZone {
				bestZone, bestZoneName = zones[z], z
			}
		}
		e.Obtainable = maxFeasibleGPUs(c, req)
		switch {
		case avail < req.GPUs:
			e.Constraint = "availability"
			e.Message = fmt.Sprintf("at most %d GPUs are obtainable from the %d offers that meet the request (%s)", avail, len(eligible), describe(req))
		case req.Gang:
			e.Constraint = "gang"
			e.Message = fmt.Sprintf("no single zone has %d GPUs; the largest, %s, has %d", req.GPUs, bestZoneName, bestZone)
		case len(clouds) < req.Spread.minClouds():
			e.Constraint = "spread.min_clouds"
			verb := "clouds (%s) have"
			if len(clouds) == 1 {
				verb = "cloud (%s) has"
			}
			e.Message = fmt.Sprintf("only %d "+verb+" offers that meet the request (%s), spread.min_clouds is %d",
				len(clouds), strings.Join(sortedKeys(clouds), ", "), describe(req), req.Spread.minClouds())
		case req.Spread.sharePPM() < ppm:
			e.Constraint = "spread.max_share"
			e.Message = fmt.Sprintf("with at most %g of the GPUs on any one cloud, at most %d GPUs can be placed (%s)", req.Spread.MaxShare, e.Obtainable, describe(req))
		default:
			e.Constraint = "spread.min_clouds"
			e.Message = fmt.Sprintf("%d GPUs cannot be spread over %d clouds (%s)", req.GPUs, req.Spread.minClouds(), describe(req))
		}
	}
	if e.AbsentGPUModels = c.AbsentGPUModels(*req); len(e.AbsentGPUModels) > 0 {
		e.Message += "; " + absentModelsNote(e.AbsentGPUModels)
	}
	e.Relaxations = relaxations(c, req, e.Obtainable)
	return e
}

// absentModelsNote says which requested GPU models the catalog does not
// sell, for messages and explanations.
func absentModelsNote(models []string) string {
	verb := "is a known GPU model"
	if len(models) > 1 {
		verb = "are known GPU models"
	}
	return strings.Join(models, ", ") + " " + verb + " with no offers in this catalog, so not offered"
}

// AbsentGPUModelsNote is the sentence a placement's explanation gives for
// Placement.AbsentGPUModels; empty when there are none.
func (p *Placement) AbsentGPUModelsNote() string {
	if len(p.AbsentGPUModels) == 0 {
		return ""
	}
	return absentModelsNote(p.AbsentGPUModels)
}

// describe summarizes the request's filters for messages.
func describe(req *Request) string {
	var parts []string
	if len(req.GPUModels) > 0 {
		parts = append(parts, strings.Join(req.GPUModels, "/"))
	}
	if req.MinGPUMemoryGiB > 0 {
		parts = append(parts, fmt.Sprintf(">= %g GiB per GPU", req.MinGPUMemoryGiB))
	}
	parts = append(parts, strings.Join(stringsOf(req.CapacityTypes), "+"))
	if len(req.Residency) > 0 {
		parts = append(parts, "in "+strings.Join(req.Residency, "/"))
	}
	if len(req.DenyResidency) > 0 {
		parts = append(parts, "not in "+strings.Join(req.DenyResidency, "/"))
	}
	if len(req.Clouds) > 0 {
		parts = append(parts, "on "+strings.Join(req.Clouds, "/"))
	}
	if req.GPUsPerNode > 0 {
		parts = append(parts, fmt.Sprintf("%d GPUs per node", req.GPUsPerNode))
	}
	if req.MinGPUsPerNode > 0 {
		parts = append(parts, fmt.Sprintf(">= %d GPUs per node", req.MinGPUsPerNode))
	}
	if req.MaxPricePerGPUHour > 0 {
		parts = append(parts, fmt.Sprintf("<= %g USD per GPU-hour", req.MaxPricePerGPUHour))
	}
	if req.MinSpotScore > 0 {
		parts = append(parts, fmt.Sprintf("spot score >= %d", req.MinSpotScore))
	}
	return strings.Join(parts, ", ")
}

// bindingFilter finds the filter that removes the last offers when the
// filters apply one after another in Reasons order.
func bindingFilter(req *Request, reasons []Rejection) (string, string) {
	counts := map[Reason]int{}
	for _, r := range reasons {
		counts[r.Reason]++
	}
	// Filters apply in Reasons order and an offer gets the first that fails,
	// so the last reason with any offer is where the survivors ran out.
	last := Reason("")
	for _, r := range Reasons {
		if counts[r] > 0 {
			last = r
		}
	}
	if last == "" {
		return "catalog", "the catalog has no offers"
	}
	return reasonField(last), fmt.Sprintf("no offer in the catalog meets the request (%s); %s removes the last %d candidates",
		describe(req), reasonField(last), counts[last])
}

func reasonField(r Reason) string {
	switch r {
	case ReasonCloud:
		return "clouds"
	case ReasonCapacityType:
		return "capacity_types"
	case ReasonGPUModel:
		return "gpu_models"
	case ReasonGPUMemory:
		return "min_gpu_memory_gib"
	case ReasonPriceCap:
		return "max_price_per_gpu_hour"
	case ReasonAvailability, ReasonReservationExhausted:
		return "availability"
	case ReasonBlockWindow:
		return "start_after"
	case ReasonMaxRun:
		return "duration_hours"
	case ReasonSpotScore:
		return "min_spot_score"
	}
	return string(r)
}

// maxFeasibleGPUs is the largest GPU count the request could get with
// nothing else changed (0 if none), by bisection: feasibility is monotone
// in the GPU count.
func maxFeasibleGPUs(c *Catalog, req *Request) int {
	try := *req
	lo, hi := 0, req.GPUs-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		try.GPUs = mid
		if feasible(c, &try) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// relaxations tries one change at a time, from the mildest.
func relaxations(c *Catalog, req *Request, obtainable int) []Relaxation {
	var out []Relaxation
	if obtainable > 0 {
		out = append(out, Relaxation{Field: "gpus", Change: fmt.Sprintf("<= %d", obtainable)})
	}
	if !slices.Contains(req.CapacityTypes, Spot) {
		try := *req
		try.CapacityTypes = append(slices.Clone(req.CapacityTypes), Spot)
		slices.Sort(try.CapacityTypes)
		if feasible(c, &try) {
			out = append(out, Relaxation{Field: "capacity_types", Change: "add spot"})
		}
	}
	if share := req.Spread.sharePPM(); share < ppm {
		try := *req
		try.Spread.MaxShare = 1
		if feasible(c, &try) {
			// Bisect on whole percent.
			lo, hi := int(share/10_000), 100
			for lo < hi {
				mid := (lo + hi) / 2
				try.Spread.MaxShare = float64(mid) / 100
				if feasible(c, &try) {
					hi = mid
				} else {
					lo = mid + 1
				}
			}
			out = append(out, Relaxation{Field: "spread.max_share", Change: fmt.Sprintf(">= %.2f", float64(lo)/100)})
		}
	}
	if k := req.Spread.minClouds(); k > 1 {
		try := *req
		for try.Spread.MinClouds = k - 1; try.Spread.MinClouds >= 1; try.Spread.MinClouds-- {
			if feasible(c, &try) {
				out = append(out, Relaxation{Field: "spread.min_clouds", Change: fmt.Sprintf("<= %d", try.Spread.MinClouds)})
				break
			}
		}
	}
	if req.MaxPricePerGPUHour > 0 {
		try := *req
		try.MaxPricePerGPUHour = 0
		if feasible(c, &try) {
			var prices []float64
			for _, idx := range eligibleOffers(c, &try) {
				if p := c.Offers[idx].PricePerGPUHour(); p > req.MaxPricePerGPUHour {
					prices = append(prices, p)
				}
			}
			sort.Float64s(prices)
			prices = slices.Compact(prices)
			i := sort.Search(len(prices), func(i int) bool {
				try.MaxPricePerGPUHour = math.Nextafter(prices[i], math.Inf(1))
				return feasible(c, &try)
			})
			if i < len(prices) {
				out = append(out, Relaxation{Field: "max_price_per_gpu_hour", Change: fmt.Sprintf(">= %.4f", prices[i])})
			}
		}
	}
	if req.MinSpotScore > 0 {
		try := *req
		for try.MinSpotScore = req.MinSpotScore - 1; try.MinSpotScore >= 0; try.MinSpotScore-- {
			if feasible(c, &try) {
				change := fmt.Sprintf("<= %d", try.MinSpotScore)
				if try.MinSpotScore == 0 {
					change = "unset"
				}
				out = append(out, Relaxation{Field: "min_spot_score", Change: change})
				break
			}
		}
	}
	for _, rel := range []struct {
		field  string
		apply  func(*Request) bool
		change func(*Request, *Placement) string
	}{
		{"gang", func(r *Request) bool { ok := r.Gang; r.Gang = false; return ok }, func(*Request, *Placement) string { return "= false" }},
		{"gpus_per_node", func(r *Request) bool {
			ok := r.GPUsPerNode > 0 || r.MinGPUsPerNode > 0
			r.GPUsPerNode, r.MinGPUsPerNode = 0, 0
			return ok
		}, func(*Request, *Placement) string { return "unset (any node size)" }},
		{"interconnect", func(r *Request) bool { ok := r.Interconnect != ""; r.Interconnect = ""; return ok },
			func(*Request, *Placement) string { return "unset" }},
		{"clouds", func(r *Request) bool { ok := len(r.Clouds) > 0; r.Clouds = nil; return ok },
			func(_ *Request, p *Placement) string { return "include " + strings.Join(p.Clouds(), ", ") }},
		{"gpu_models", func(r *Request) bool {
			ok := len(r.GPUModels) > 0 || r.MinGPUMemoryGiB > 0
			r.GPUModels = nil
			return ok
		}, func(orig *Request, p *Placement) string {
			return "add " + strings.Join(newValues(orig.GPUModels, p, modelOf), ", ")
		}},
		{"residency", func(r *Request) bool { ok := len(r.Residency) > 0; r.Residency = nil; return ok },
			func(orig *Request, p *Placement) string {
				return "add " + strings.Join(newValues(orig.Residency, p, func(o *Offer) string {
					reg, _ := c.Region(o.Cloud, o.Region)
					return reg.Jurisdiction
				}), ", ")
			}},
	} {
		try := *req
		if !rel.apply(&try) {
			continue
		}
		p, err := planNormalized(c, &try, false)
		if err != nil {
			continue
		}
		out = append(out, Relaxation{Field: rel.field, Change: rel.change(req, p)})
	}
	return out
}

func modelOf(o *Offer) string { return o.GPUModel }

// newValues lists the values of key over the placement's allocations that
// are not already in have.
func newValues(have []string, p *Placement, key func(*Offer) string) []string {
	var out []string
	for i := range p.Allocations {
		if v := key(&p.Allocations[i].Offer); !slices.Contains(have, v) {
			out = append(out, v)
		}
	}
	return sortedUnique(out)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// bindingQuota names the limit that makes the request infeasible, for a
// request that has a placement once the catalog's limits are removed, and
// says by how many GPUs it falls short. Candidates are the limits with no
// room left in the best placement of the obtainable GPUs (an offer in scope
// has nodes left, the limit not one node's GPUs), then the other limits
// whose scope holds more than they allow — a limit can make a spread or a
// gang infeasible without being full in any placement —, each in canonical
// order. The first of the first eight whose removal alone makes the request
// feasible is named, with the smallest MaxGPUs that would do (by
// bisection). When none does alone, the candidates are named together.
func bindingQuota(c *Catalog, req *Request, obtainable int) (string, string) {
	q := newQuotas(c)
	free := c.withLimits(nil)
	elig := eligibleOffers(free, req)
	usage := make([]int, len(q.limits))
	used := map[string]int{} // offer ID → nodes
	if obtainable > 0 {
		try := *req
		try.GPUs = obtainable
		if p, err := planNormalized(c, &try, false); err == nil {
			for _, a := range p.Allocations {
				used[a.Offer.ID()] = a.Nodes
				for li := range q.limits {
					if q.limits[li].Matches(&a.Offer) {
						usage[li] += a.GPUs
					}
				}
			}
		}
	}
	// A limit is exhausted when an offer in its scope has nodes left but
	// the limit has no room for one of them.
	smallest := make([]int, len(q.limits)) // smallest node in scope with nodes left
	avail := make([]int, len(q.limits))
	for _, idx := range elig {
		o := &c.Offers[idx]
		left := o.MaxNodes == Unlimited || used[c.ids[idx]] < o.MaxNodes
		for _, li := range q.matching(idx) {
			avail[li] = addGPUs(avail[li], itemOf(c, idx).capGPUs())
			if left && (smallest[li] == 0 || o.GPUCount < smallest[li]) {
				smallest[li] = o.GPUCount
			}
		}
	}
	var cands, binding []int
	for li := range q.limits {
		allowed := q.limits[li].MaxGPUs
		switch {
		case smallest[li] > 0 && avail[li] > allowed && usage[li]+smallest[li] > allowed:
			cands = append(cands, li)
		case avail[li] > allowed:
			binding = append(binding, li)
		}
	}
	cands = append(cands, binding...)
	const maxTries = 8
	for i, li := range cands {
		if i == maxTries {
			break
		}
		others := slices.Delete(slices.Clone(q.limits), li, li+1)
		if !feasible(c.withLimits(others), req) {
			continue
		}
		l := q.limits[li]
		// The smallest MaxGPUs that makes the request feasible: above the
		// current one, and at most what a placement without the limit takes
		// from its scope.
		lo, hi := l.MaxGPUs, 0
		if p, err := planNormalized(c.withLimits(others), req, false); err == nil {
			for _, a := range p.Allocations {
				if l.Matches(&a.Offer) {
					hi += a.GPUs
				}
			}
		}
		hi = max(hi, lo+1)
		with := func(maxGPUs int) bool {
			ls := slices.Clone(q.limits)
			ls[li].MaxGPUs = maxGPUs
			return feasible(c.withLimits(ls), req)
		}
		for lo+1 < hi {
			mid := lo + (hi-lo)/2
			if with(mid) {
				hi = mid
			} else {
				lo = mid
			}
		}
		return l.Name, fmt.Sprintf("%s caps the request (%s) at %d GPUs: it falls short by %d GPUs (max_gpus %d would place %d)",
			l, describe(req), obtainable, hi-l.MaxGPUs, hi, req.GPUs)
	}
	if len(cands) == 0 {
		// Not expected: a request feasible without limits has an exhausted
		// limit. Name every limit that binds on the request's offers.
		return "", fmt.Sprintf("the catalog's quotas cap the request (%s) at %d GPUs, %d short", describe(req), obtainable, req.GPUs-obtainable)
	}
	names := make([]string, 0, 3)
	for _, li := range cands[:min(3, len(cands))] {
		names = append(names, q.limits[li].String())
	}
	more := ""
	if len(cands) > 3 {
		more = fmt.Sprintf(" and %d more", len(cands)-3)
	}
	return q.limits[cands[0]].Name, fmt.Sprintf("%s%s together cap the request (%s) at %d GPUs, %d short of %d; no one of them alone is the cause",
		strings.Join(names, ", "), more, describe(req), obtainable, req.GPUs-obtainable, req.GPUs)
}
