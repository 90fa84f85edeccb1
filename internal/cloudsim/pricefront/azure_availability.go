package pricefront

import (
	"cmp"
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/conformance"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// The Azure APIs AzureAvailability serves, as Requests and Fail name them.
const (
	AzureSkus   = "resourceSkus" // GET /subscriptions/{s}/providers/Microsoft.Compute/skus
	AzureUsages = "usages"       // GET /subscriptions/{s}/providers/Microsoft.Compute/locations/{l}/usages
)

// AzureUsage is one usage entry's limit and current value (vCPUs for
// families, cores and lowPriorityCores).
type AzureUsage struct {
	Limit   int64
	Current int32
}

// AzureSkuRestriction restricts a size in a region (Zones empty: a
// Location restriction) or in zones of it (a Zone restriction).
type AzureSkuRestriction struct {
	Region, InstanceType string
	Zones                []string
	// ReasonCode is NotAvailableForSubscription when empty (or QuotaId).
	ReasonCode string
}

// AzureAvailability serves the Azure Resource Manager APIs that say where
// a subscription can run VM sizes, generated from a catalog's Azure
// offers: Resource SKUs (one entry per size and location, with
// locationInfo zones and restrictions, $filter=location eq '...',
// nextLink paging with $skiptoken) and compute usages per location (every
// GPU family of azAvailFamilies plus cores, lowPriorityCores and a few
// others). Serve it over TLS (httptest.NewTLSServer): the SDK sends bearer
// tokens only over HTTPS. Fields must not be changed while requests are in
// flight.
type AzureAvailability struct {
	Catalog *planner.Catalog
	// SubscriptionID is the only subscription answered ("" for any).
	SubscriptionID string
	// PageSize is the entries per page of both APIs (100 when zero).
	PageSize int
	// Zones sets the zones of locationInfo: "region/size" or "region";
	// otherwise the zones of the catalog's offers of the size there (none
	// for the embedded catalog, whose Azure offers are regional).
	Zones map[string][]string
	// Restrictions are added to the SKUs they name.
	Restrictions []AzureSkuRestriction
	// Unoffered drops sizes from the SKU list: "region/size".
	Unoffered []string
	// Usages set usage values: "region/name" or "name" (every region).
	// Families not set have DefaultFamilyLimit vCPUs (100 when zero);
	// lowPriorityCores 100, cores 350.
	Usages             map[string]AzureUsage
	DefaultFamilyLimit int64
	// ThrottleFirst makes the first N requests of each API answer 429
	// TooManyRequests with Retry-After (RetryAfter, 1s when zero, also sent
	// in milliseconds as x-ms-retry-after-ms).
	ThrottleFirst int64
	RetryAfter    time.Duration
	// Fail makes an API (AzureSkus, AzureUsages) answer 500.
	Fail map[string]bool

	mu       sync.Mutex
	requests map[string]int64
}

// azAvailFamilies are the quota families of GPU sizes, spelled as the
// usages API spells them, with their localized names.
var azAvailFamilies = []struct {
	name, localized string
	sizes           []string
}{
	{"standardNDSH100v5Family", "Standard NDSH100v5 Family vCPUs", []string{"Standard_ND96isr_H100_v5"}},
	{"StandardNCadsH100v5Family", "Standard NCadsH100v5 Family vCPUs", []string{"Standard_NC40ads_H100_v5", "Standard_NC80adis_H100_v5"}},
	{"StandardNCADSA100v4Family", "Standard NCADSA100v4 Family vCPUs", []string{"Standard_NC24ads_A100_v4", "Standard_NC48ads_A100_v4", "Standard_NC96ads_A100_v4"}},
	{"standardNDAMSv4_A100Family", "Standard NDAMSv4_A100Family vCPUs", []string{"Standard_ND96amsr_A100_v4"}},
	{"StandardNDASv4_A100Family", "Standard NDASv4_A100 Family vCPUs", []string{"Standard_ND96asr_v4"}},
	{"standardNCSv3Family", "Standard NCSv3 Family vCPUs", []string{"Standard_NC6s_v3", "Standard_NC12s_v3", "Standard_NC24s_v3", "Standard_NC24rs_v3"}},
	{"Standard NCASv3_T4 Family", "Standard NCASv3_T4 Family vCPUs", []string{"Standard_NC4as_T4_v3", "Standard_NC8as_T4_v3", "Standard_NC16as_T4_v3", "Standard_NC64as_T4_v3"}},
	{"standardNDSv2Family", "Standard NDSv2 Family vCPUs", []string{"Standard_ND40rs_v2"}},
	{"standardNVSv3Family", "Standard NVSv3 Family vCPUs", []string{"Standard_NV12s_v3", "Standard_NV24s_v3", "Standard_NV48s_v3"}},
	{"StandardNVADSA10v5Family", "Standard NVADSA10v5 Family vCPUs", []string{"Standard_NV36ads_A10_v5", "Standard_NV36adms_A10_v5", "Standard_NV72ads_A10_v5"}},
}

func azAvailFamilyOf(size string) string {
	for _, f := range azAvailFamilies {
		if slices.Contains(f.sizes, size) {
			return f.name
		}
	}
	return "standardNFamily"
}

// Requests counts the requests of an API (throttled and failed included).
func (a *AzureAvailability) Requests(api string) int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.requests[api]
}

func (a *AzureAvailability) count(api string) int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.requests == nil {
		a.requests = map[string]int64{}
	}
	a.requests[api]++
	return a.requests[api]
}

// azAvailError writes an ARM error body.
func azAvailError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("x-ms-failure-cause", "gateway")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": message}})
}

func (a *AzureAvailability) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if x := conformance.Begin(conformance.Azure, "", w, r); x != nil {
		defer x.End()
		w = x
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	var api, location string
	switch {
	case len(parts) == 5 && parts[0] == "subscriptions" && parts[2] == "providers" && strings.EqualFold(parts[3], "Microsoft.Compute") && parts[4] == "skus":
		api = AzureSkus
	case len(parts) == 7 && parts[0] == "subscriptions" && parts[2] == "providers" && strings.EqualFold(parts[3], "Microsoft.Compute") &&
		parts[4] == "locations" && parts[6] == "usages":
		api, location = AzureUsages, parts[5]
	default:
		azAvailError(w, http.StatusNotFound, "NotFound", "The requested resource "+r.URL.Path+" was not found.")
		return
	}
	n := a.count(api)
	switch {
	case r.Method != http.MethodGet:
		azAvailError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "The method "+r.Method+" is not allowed.")
	case !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer "):
		azAvailError(w, http.StatusUnauthorized, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
	case r.URL.Query().Get("api-version") == "":
		azAvailError(w, http.StatusBadRequest, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.")
	case a.SubscriptionID != "" && parts[1] != a.SubscriptionID:
		azAvailError(w, http.StatusNotFound, "SubscriptionNotFound", "The subscription '"+parts[1]+"' could not be found.")
	case n <= a.ThrottleFirst:
		after := cmp.Or(a.RetryAfter, time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(after.Seconds()))))
		w.Header().Set("x-ms-retry-after-ms", strconv.FormatInt(after.Milliseconds(), 10))
		azAvailError(w, http.StatusTooManyRequests, "TooManyRequests",
			"The request is being throttled as the limit has been reached for operation type - Read_ObservationWindow_00:05:00.")
	case a.Fail[api]:
		azAvailError(w, http.StatusInternalServerError, "InternalServerError", "Encountered internal server error. Please try again.")
	case api == AzureSkus:
		a.serveSkus(w, r)
	default:
		a.serveUsages(w, r, location)
	}
}

var azAvailLocationFilter = regexp.MustCompile(`(?i)^\s*location\s+eq\s+'([^']+)'\s*$`)

// writePage slices entries by $skiptoken and writes {"value": ..., "nextLink": ...}.
func (a *AzureAvailability) writePage(w http.ResponseWriter, r *http.Request, entries []map[string]any) {
	q := r.URL.Query()
	skip := 0
	if t := q.Get("$skiptoken"); t != "" {
		var err error
		if skip, err = strconv.Atoi(t); err != nil || skip < 0 || skip > len(entries) {
			azAvailError(w, http.StatusBadRequest, "InvalidSkipToken", "The skip token '"+t+"' is not valid.")
			return
		}
	}
	end := min(skip+cmp.Or(a.PageSize, 100), len(entries))
	body := map[string]any{"value": entries[skip:end]}
	if end < len(entries) {
		q.Set("$skiptoken", strconv.Itoa(end))
		scheme := "https"
		if r.TLS == nil {
			scheme = "http"
		}
		body["nextLink"] = (&url.URL{Scheme: scheme, Host: r.Host, Path: r.URL.Path, RawQuery: q.Encode()}).String()
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(body)
}

func (a *AzureAvailability) serveSkus(w http.ResponseWriter, r *http.Request) {
	only := ""
	if f := r.URL.Query().Get("$filter"); f != "" {
		m := azAvailLocationFilter.FindStringSubmatch(f)
		if m == nil {
			azAvailError(w, http.StatusBadRequest, "InvalidFilter", "Only the location filter is supported: \"location eq '<location>'\".")
			return
		}
		only = m[1]
	}
	a.writePage(w, r, a.SkuEntries(only))
}

// SkuEntries returns the Resource SKU entries of a location ("" for all),
// sorted by location and name.
func (a *AzureAvailability) SkuEntries(location string) []map[string]any {
	type site struct{ region, size string }
	offers := map[site]planner.Offer{}
	zones := map[site][]string{}
	regions := map[string]bool{}
	if a.Catalog != nil {
		for _, o := range a.Catalog.Offers {
			s := site{o.Region, o.InstanceType}
			if o.Cloud != "azure" || (location != "" && !strings.EqualFold(o.Region, location)) || slices.Contains(a.Unoffered, o.Region+"/"+o.InstanceType) {
				continue
			}
			regions[o.Region] = true
			offers[s] = o
			if o.Zone != "" && !slices.Contains(zones[s], o.Zone) {
				zones[s] = append(zones[s], o.Zone)
			}
		}
	}
	var out []map[string]any
	for _, region := range gcpSortedKeys(regions) {
		var sizes []string
		for s := range offers {
			if s.region == region {
				sizes = append(sizes, s.size)
			}
		}
		slices.Sort(sizes)
		for _, size := range sizes {
			s := site{region, size}
			z, ok := a.Zones[region+"/"+size]
			if !ok {
				z, ok = a.Zones[region]
			}
			if !ok {
				z = zones[s]
			}
			out = append(out, a.vmSku(offers[s], slices.Sorted(slices.Values(z))))
		}
		out = append(out, azAvailNoiseSkus(region)...)
	}
	return out
}

// vmSku is a virtualMachines Resource SKU entry for an offer's size in its
// region.
func (a *AzureAvailability) vmSku(o planner.Offer, zones []string) map[string]any {
	restrictions := []map[string]any{}
	for _, r := range a.Restrictions {
		if r.Region != o.Region || r.InstanceType != o.InstanceType {
			continue
		}
		reason := cmp.Or(r.ReasonCode, "NotAvailableForSubscription")
		info := map[string]any{"locations": []string{o.Region}}
		typ := "Location"
		if len(r.Zones) > 0 {
			typ, info["zones"] = "Zone", r.Zones
		}
		restrictions = append(restrictions, map[string]any{"type": typ, "values": []string{o.Region}, "restrictionInfo": info, "reasonCode": reason})
	}
	if zones == nil {
		zones = []string{}
	}
	f := strconv.FormatFloat
	return map[string]any{
		"resourceType": "virtualMachines", "name": o.InstanceType, "tier": "Standard",
		"size": strings.TrimPrefix(o.InstanceType, "Standard_"), "family": azAvailFamilyOf(o.InstanceType),
		"locations":    []string{o.Region},
		"locationInfo": []map[string]any{{"location": o.Region, "zones": zones, "zoneDetails": []any{}}},
		"capabilities": []map[string]string{
			{"name": "MaxResourceVolumeMB", "value": "2949120"},
			{"name": "OSVhdSizeMB", "value": "1047552"},
			{"name": "vCPUs", "value": strconv.Itoa(o.VCPUs)},
			{"name": "MemoryGB", "value": f(o.MemoryGiB, 'f', -1, 64)},
			{"name": "GPUs", "value": strconv.Itoa(o.GPUCount)},
			{"name": "HyperVGenerations", "value": "V1,V2"},
			{"name": "LowPriorityCapable", "value": "True"},
			{"name": "PremiumIO", "value": "True"},
			{"name": "vCPUsAvailable", "value": strconv.Itoa(o.VCPUs)},
			{"name": "AcceleratedNetworkingEnabled", "value": "True"},
		},
		"restrictions": restrictions,
	}
}

// azAvailNoiseSkus are entries a GPU availability source must skip: a
// general-purpose size and a disk SKU.
func azAvailNoiseSkus(region string) []map[string]any {
	return []map[string]any{
		{"resourceType": "disks", "name": "Premium_LRS", "tier": "Premium", "size": "P1", "locations": []string{region},
			"locationInfo": []map[string]any{{"location": region, "zones": []string{}, "zoneDetails": []any{}}},
			"capabilities": []map[string]string{{"name": "MaxSizeGiB", "value": "4"}}, "restrictions": []any{}},
		{"resourceType": "virtualMachines", "name": "Standard_D4s_v5", "tier": "Standard", "size": "D4s_v5", "family": "standardDSv5Family",
			"locations":    []string{region},
			"locationInfo": []map[string]any{{"location": region, "zones": []string{"1", "2", "3"}, "zoneDetails": []any{}}},
			"capabilities": []map[string]string{{"name": "vCPUs", "value": "4"}, {"name": "MemoryGB", "value": "16"}}, "restrictions": []any{}},
	}
}

// usage returns a usage's configured value or its default.
func (a *AzureAvailability) usage(region, name string, def AzureUsage) AzureUsage {
	if u, ok := a.Usages[region+"/"+name]; ok {
		return u
	}
	if u, ok := a.Usages[name]; ok {
		return u
	}
	return def
}

func (a *AzureAvailability) serveUsages(w http.ResponseWriter, r *http.Request, location string) {
	if a.Catalog == nil {
		azAvailError(w, http.StatusNotFound, "NoRegisteredProviderFound", "No registered resource provider found for location '"+location+"'.")
		return
	}
	if _, ok := a.Catalog.Region("azure", location); !ok {
		azAvailError(w, http.StatusNotFound, "NoRegisteredProviderFound", "No registered resource provider found for location '"+location+"'.")
		return
	}
	entry := func(name, localized string, def AzureUsage) map[string]any {
		u := a.usage(location, name, def)
		return map[string]any{"unit": "Count", "currentValue": u.Current, "limit": u.Limit,
			"name": map[string]string{"value": name, "localizedValue": localized}}
	}
	entries := []map[string]any{
		entry("availabilitySets", "Availability Sets", AzureUsage{Limit: 2500}),
		entry("cores", "Total Regional vCPUs", AzureUsage{Limit: 350}),
		entry("virtualMachines", "Virtual Machines", AzureUsage{Limit: 25000}),
		entry("virtualMachineScaleSets", "Virtual Machine Scale Sets", AzureUsage{Limit: 2500}),
		entry("standardDSv5Family", "Standard DSv5 Family vCPUs", AzureUsage{Limit: 350}),
	}
	for _, f := range azAvailFamilies {
		entries = append(entries, entry(f.name, f.localized, AzureUsage{Limit: cmp.Or(a.DefaultFamilyLimit, 100)}))
	}
	entries = append(entries, entry("lowPriorityCores", "Total Regional Low-priority vCPUs", AzureUsage{Limit: 100}))
	a.writePage(w, r, entries)
}
