package pricefront

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/conformance"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// The Google APIs GCP serves, as Requests and Fail name them.
const (
	GCPSkus             = "skus"             // cloudbilling services.skus.list
	GCPAcceleratorTypes = "acceleratorTypes" // compute acceleratorTypes.aggregatedList
	GCPRegions          = "regions"          // compute regions.get
	GCPProjects         = "projects"         // compute projects.get
)

// GCPQuota is a Compute Engine quota's limit and usage.
type GCPQuota struct {
	Limit, Usage float64
}

// GCP serves, generated from a catalog's GCP offers:
//
//   - Cloud Billing: GET /v1/services/6F81-5844-456A/skus (pageSize,
//     pageToken, currencyCode) with the GPU, core and RAM SKUs of the
//     A3 High, A3 Mega, A2, A2 Ultra and G2 families, priced so that
//     GPUs × GPU + vCPUs × core + GiB × RAM gives back the catalog's price of
//     each instance type (see gcpSkus), plus SKUs gpufleet must ignore;
//   - Compute Engine under /compute/v1/: projects/{p}/aggregated/
//     acceleratorTypes (maxResults, pageToken), projects/{p}/regions/{r}
//     with its quotas and projects/{p} with GPUS_ALL_REGIONS.
//
// Clients use the server's URL + "/" as the Cloud Billing endpoint and
// URL + "/compute/v1/" as the Compute Engine endpoint. Fields must not be
// changed while requests are in flight.
type GCP struct {
	Catalog *planner.Catalog
	// Project is the only project answered ("" for any).
	Project string
	// PageSize caps the page sizes clients ask for (the APIs' own maxima,
	// 5000 SKUs and 500 accelerator types, when zero).
	PageSize int
	// Adjust, when set, replaces the USD unit price of every SKU (after the
	// generator): tests change prices to prove live prices are used.
	Adjust func(description, region string, usd float64) float64
	// Quotas sets quota values: "region/METRIC" for regional quotas,
	// "METRIC" for project quotas (GPUS_ALL_REGIONS). GPU metrics not set
	// have DefaultGPULimit (16 when zero) and no usage; GPUS_ALL_REGIONS
	// has a limit of 64.
	Quotas          map[string]GCPQuota
	DefaultGPULimit float64
	// RemovedZones drop accelerator types from the aggregated list: "zone"
	// drops every type in the zone, "zone/type" one type.
	RemovedZones []string
	// ThrottleFirst makes the first N requests of each API answer 429
	// rateLimitExceeded.
	ThrottleFirst int64
	// Fail makes an API (GCPSkus, ...) answer 500 backendError.
	Fail map[string]bool

	mu         sync.Mutex
	requests   map[string]int64
	ratesOf    *planner.Catalog
	ratesCache []gcpSkuRate
}

// Requests counts the requests of an API (throttled and failed included).
func (g *GCP) Requests(api string) int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.requests[api]
}

// count counts a request and returns its number within its API.
func (g *GCP) count(api string) int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.requests == nil {
		g.requests = map[string]int64{}
	}
	g.requests[api]++
	return g.requests[api]
}

func (g *GCP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Requests and responses are judged by the cloudbilling and compute
	// v1 discovery documents in tests.
	if x := conformance.Begin(conformance.Google, "", w, r); x != nil {
		defer x.End()
		w = x
	}
	if r.Method != http.MethodGet {
		gcpError(w, http.StatusMethodNotAllowed, "Method not allowed.", "global", "methodNotAllowed", "INVALID_ARGUMENT")
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	var api string
	switch {
	case len(parts) == 4 && parts[0] == "v1" && parts[1] == "services" && parts[3] == "skus":
		api = GCPSkus
	case len(parts) == 6 && parts[0] == "compute" && parts[2] == "projects" && parts[4] == "aggregated" && parts[5] == "acceleratorTypes":
		api = GCPAcceleratorTypes
	case len(parts) == 6 && parts[0] == "compute" && parts[2] == "projects" && parts[4] == "regions":
		api = GCPRegions
	case len(parts) == 4 && parts[0] == "compute" && parts[2] == "projects":
		api = GCPProjects
	default:
		gcpError(w, http.StatusNotFound, "The requested URL "+r.URL.Path+" was not found on this server.", "global", "notFound", "NOT_FOUND")
		return
	}
	if n := g.count(api); n <= g.ThrottleFirst {
		gcpError(w, http.StatusTooManyRequests, "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user'.",
			"usageLimits", "rateLimitExceeded", "RESOURCE_EXHAUSTED")
		return
	}
	if g.Fail[api] {
		gcpError(w, http.StatusInternalServerError, "Internal error encountered.", "global", "backendError", "INTERNAL")
		return
	}
	if api != GCPSkus && parts[1] != "v1" {
		gcpError(w, http.StatusNotFound, "The requested URL "+r.URL.Path+" was not found on this server.", "global", "notFound", "NOT_FOUND")
		return
	}
	if api != GCPSkus && g.Project != "" && parts[3] != g.Project {
		gcpError(w, http.StatusForbidden, "Required 'compute.regions.get' permission for 'projects/"+parts[3]+"'", "global", "forbidden", "PERMISSION_DENIED")
		return
	}
	switch api {
	case GCPSkus:
		g.serveSkus(w, r, parts[2])
	case GCPAcceleratorTypes:
		g.serveAcceleratorTypes(w, r, parts[3])
	case GCPRegions:
		g.serveRegion(w, r, parts[3], parts[5])
	case GCPProjects:
		g.serveProject(w, r, parts[3])
	}
}

// gcpError writes the JSON error body Google APIs answer with.
func gcpError(w http.ResponseWriter, code int, message, domain, reason, status string) {
	body := map[string]any{"error": map[string]any{
		"code": code, "message": message, "status": status,
		"errors": []map[string]string{{"message": message, "domain": domain, "reason": reason}},
	}}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}

func gcpWriteJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_ = json.NewEncoder(w).Encode(v)
}

// pageBounds reads an offset page token and a page size (capped by the
// API's maximum and PageSize) and returns the page's bounds and the next
// token ("" on the last page).
func (g *GCP) pageBounds(token, size string, apiMax, total int) (start, end int, next string, ok bool) {
	n, err := strconv.Atoi(size)
	if size == "" || err != nil || n <= 0 || n > apiMax {
		n = apiMax
	}
	if g.PageSize > 0 {
		n = min(n, g.PageSize)
	}
	if token != "" {
		start, err = strconv.Atoi(strings.TrimPrefix(token, "p"))
		if !strings.HasPrefix(token, "p") || err != nil || start < 0 || start > total {
			return 0, 0, "", false
		}
	}
	end = min(start+n, total)
	if end < total {
		next = "p" + strconv.Itoa(end)
	}
	return start, end, next, true
}
