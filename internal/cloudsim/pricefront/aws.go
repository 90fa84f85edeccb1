package pricefront

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/conformance"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// AWS serves, on one URL, the AWS APIs gpufleet reads live prices and
// availability from, built from a catalog's AWS offers:
//
//   - AWS Price List Query API GetProducts (awsJson1_1, X-Amz-Target
//     AWSPriceListService.GetProducts): one product per region and
//     instance type with the catalog's on-demand price, plus the Windows,
//     Dedicated and capacity-reservation variants the real list has, so
//     that a client that forgets a filter sees them;
//   - EC2 (ec2 query form, XML replies) DescribeSpotPriceHistory (the
//     catalog's spot prices per availability zone name, "Linux/UNIX" and
//     "Windows"), DescribeAvailabilityZones, DescribeInstanceTypeOfferings
//     (the catalog's zones, less AWSOptions.Unoffered) and
//     GetSpotPlacementScores;
//   - Service Quotas (awsJson1_1, X-Amz-Target ServiceQuotasV20190624.*)
//     GetServiceQuota and ListServiceQuotas for the EC2 GPU quotas.
//
// JSON requests are routed by X-Amz-Target, EC2 requests by their Action;
// the region is the SigV4 credential scope's (us-east-1 when unsigned).
// Signatures are not checked. Paged APIs page by min(MaxResults,
// PageSize) with opaque NextTokens.
type AWS struct {
	opts AWSOptions
	// test started this front end (conformance.Caller).
	test string

	mu       sync.Mutex
	seq      int64
	requests map[string]int64
	throttle map[string]int64
	fail     map[string]bool

	// Indexes built from the catalog at construction.
	onDemand  map[string]map[string]float64 // region → type → lowest on-demand price
	spot      map[string][]awsSpotEntry     // region → spot prices per zone
	offered   map[string][]awsOffering      // region → (zone ID, type)
	zones     map[string][]awsZone          // region → zones, by name
	shapes    map[string]planner.Offer      // type → one offer (vCPUs, GPUs, memory)
	spotTypes map[string]map[string]bool    // zone ID → types with a spot offer

	// productCache holds the Price List documents per instance type,
	// built on first use (under mu).
	productCache map[string][]awsProduct
}

// AWSOptions configure the simulated AWS.
type AWSOptions struct {
	// Catalog supplies regions, zones, instance types and prices; the
	// embedded catalog when nil. Only its "aws" offers are used.
	Catalog *planner.Catalog
	// Adjust, when set, gives the price served for an offer (on-demand or
	// spot, as o.CapacityType says) instead of o.PriceUSDHour, so that
	// tests can tell the live price from the catalog's.
	Adjust func(o planner.Offer) float64
	// PageSize caps every page (GetProducts' real maximum, 100, when
	// zero; EC2 pages default to the request's MaxResults, or 1000).
	PageSize int
	// ZoneNames maps zone IDs to zone names, overriding the default
	// mapping (see AWSZoneName), as AWS maps them differently per account.
	ZoneNames map[string]string
	// SpotPriceZoneIDs makes DescribeSpotPriceHistory items carry
	// availabilityZoneId as well as availabilityZone (newer replies do).
	SpotPriceZoneIDs bool
	// Unoffered removes offerings from DescribeInstanceTypeOfferings,
	// each "zoneID/instanceType" (e.g. "euc1-az1/p5.48xlarge").
	Unoffered []string
	// SpotScores sets GetSpotPlacementScores scores per
	// "zoneID/instanceType"; others get AWSDefaultSpotScore.
	SpotScores map[string]int
	// QuotaVCPUs sets GetServiceQuota values in vCPUs per "region/code"
	// or "code" (the region's key wins); others are
	// AWSDefaultQuotaVCPUs.
	QuotaVCPUs map[string]float64
	// ThrottleFirst makes the first N requests of an API (by operation
	// name, e.g. "GetProducts", "DescribeSpotPriceHistory",
	// "GetServiceQuota") answer the service's throttling error:
	// ThrottlingException 400 (Price List), TooManyRequestsException 400
	// (Service Quotas), RequestLimitExceeded 503 (EC2).
	ThrottleFirst map[string]int64
	// Fail makes every request of an API answer 500 (InternalFailure for
	// the JSON services, InternalError for EC2).
	Fail map[string]bool
	// Now stamps spot prices when a request has no StartTime; time.Now
	// when nil.
	Now func() time.Time
	// AccountID appears in quota ARNs; "123456789012" when empty.
	AccountID string
}

// AWSDefaultQuotaVCPUs is the value of a GPU quota AWSOptions.QuotaVCPUs
// does not set: the simulator's choice, not AWS's default for new
// accounts.
const AWSDefaultQuotaVCPUs = 768

// The operation names used as keys of AWSOptions.ThrottleFirst and Fail
// and of the request counters.
const (
	AWSGetProducts                   = "GetProducts"
	AWSDescribeSpotPriceHistory      = "DescribeSpotPriceHistory"
	AWSDescribeAvailabilityZones     = "DescribeAvailabilityZones"
	AWSDescribeInstanceTypeOfferings = "DescribeInstanceTypeOfferings"
	AWSGetSpotPlacementScores        = "GetSpotPlacementScores"
	AWSGetServiceQuota               = "GetServiceQuota"
	AWSListServiceQuotas             = "ListServiceQuotas"
)

type awsSpotEntry struct {
	zoneID, instanceType string
	price                float64
}

type awsOffering struct{ zoneID, instanceType string }

type awsZone struct{ name, id string }

// NewAWS indexes the catalog's AWS offers.
func NewAWS(opts AWSOptions) *AWS {
	if opts.Catalog == nil {
		opts.Catalog = planner.Embedded()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.AccountID == "" {
		opts.AccountID = "123456789012"
	}
	a := &AWS{opts: opts, requests: map[string]int64{}, throttle: maps.Clone(opts.ThrottleFirst), fail: maps.Clone(opts.Fail),
		onDemand: map[string]map[string]float64{}, spot: map[string][]awsSpotEntry{}, offered: map[string][]awsOffering{},
		zones: map[string][]awsZone{}, shapes: map[string]planner.Offer{}, spotTypes: map[string]map[string]bool{},
		productCache: map[string][]awsProduct{}, test: conformance.Caller()}
	if a.throttle == nil {
		a.throttle = map[string]int64{}
	}
	if a.fail == nil {
		a.fail = map[string]bool{}
	}
	unoffered := map[string]bool{}
	for _, u := range opts.Unoffered {
		unoffered[u] = true
	}
	seenZone, seenOffering := map[string]bool{}, map[string]bool{}
	for _, o := range opts.Catalog.Offers {
		if o.Cloud != "aws" {
			continue
		}
		price := o.PriceUSDHour
		if opts.Adjust != nil {
			price = opts.Adjust(o)
		}
		if _, ok := a.shapes[o.InstanceType]; !ok {
			a.shapes[o.InstanceType] = o
		}
		if o.Zone != "" && !seenZone[o.Zone] {
			seenZone[o.Zone] = true
			a.zones[o.Region] = append(a.zones[o.Region], awsZone{name: a.zoneName(o.Region, o.Zone), id: o.Zone})
		}
		if k := o.Zone + "/" + o.InstanceType; !seenOffering[k] && !unoffered[k] {
			seenOffering[k] = true
			a.offered[o.Region] = append(a.offered[o.Region], awsOffering{o.Zone, o.InstanceType})
		}
		switch o.CapacityType {
		case planner.OnDemand:
			m := a.onDemand[o.Region]
			if m == nil {
				m = map[string]float64{}
				a.onDemand[o.Region] = m
			}
			if p, ok := m[o.InstanceType]; !ok || price < p {
				m[o.InstanceType] = price
			}
		case planner.Spot:
			a.spot[o.Region] = append(a.spot[o.Region], awsSpotEntry{o.Zone, o.InstanceType, price})
			if a.spotTypes[o.Zone] == nil {
				a.spotTypes[o.Zone] = map[string]bool{}
			}
			a.spotTypes[o.Zone][o.InstanceType] = true
		}
	}
	for r := range a.zones {
		slices.SortFunc(a.zones[r], func(x, y awsZone) int { return strings.Compare(x.name, y.name) })
	}
	for r := range a.offered {
		slices.SortFunc(a.offered[r], func(x, y awsOffering) int {
			return strings.Compare(x.zoneID+"/"+x.instanceType, y.zoneID+"/"+y.instanceType)
		})
	}
	for r := range a.spot {
		slices.SortFunc(a.spot[r], func(x, y awsSpotEntry) int {
			return strings.Compare(a.zoneName(r, x.zoneID)+"/"+x.instanceType, a.zoneName(r, y.zoneID)+"/"+y.instanceType)
		})
	}
	return a
}

// Requests counts the requests an API received (throttled and failed ones
// included).
func (a *AWS) Requests(api string) int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.requests[api]
}

// TotalRequests counts every request received.
func (a *AWS) TotalRequests() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	var n int64
	for _, c := range a.requests {
		n += c
	}
	return n
}

// RequestCounts returns a copy of the per-API request counters.
func (a *AWS) RequestCounts() map[string]int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return maps.Clone(a.requests)
}

// SetThrottle makes the next n requests of api answer its throttling
// error.
func (a *AWS) SetThrottle(api string, n int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.throttle[api] = n
}

// SetFail makes every request of api fail with a 500 (or stop failing).
func (a *AWS) SetFail(api string, fail bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.fail[api] = fail
}

// fault is what the fault options make of a request.
type fault int

const (
	faultNone fault = iota
	faultThrottle
	faultFail
)

// admit counts a request of api and says which fault, if any, it gets,
// with a request ID shaped like AWS's (a UUID).
func (a *AWS) admit(api string) (fault, string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.seq++
	id := fmt.Sprintf("%08x-0000-4000-8000-%012x", a.seq, a.seq)
	a.requests[api]++
	switch {
	case a.fail[api]:
		return faultFail, id
	case a.throttle[api] > 0:
		a.throttle[api]--
		return faultThrottle, id
	}
	return faultNone, id
}

func (a *AWS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Requests and responses are judged by the AWS API models in tests.
	if x := conformance.Begin(conformance.AWS, a.test, w, r); x != nil {
		defer x.End()
		w = x
	}
	region := scopeRegion(r)
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		service, op, _ := strings.Cut(target, ".")
		switch service {
		case "AWSPriceListService":
			a.servePricing(w, r, op)
		case "ServiceQuotasV20190624":
			a.serveQuotas(w, r, region, op)
		default:
			writeJSONError(w, http.StatusBadRequest, "UnknownOperationException", "", "unknown target "+target)
		}
		return
	}
	if err := r.ParseForm(); err != nil {
		writeJSONError(w, http.StatusBadRequest, "SerializationException", "", err.Error())
		return
	}
	a.serveEC2(w, r, region)
}

// scopeRegion returns the region of a SigV4 credential scope
// (AKID/20261125/eu-central-1/ec2/aws4_request), us-east-1 when unsigned.
func scopeRegion(r *http.Request) string {
	auth := r.Header.Get("Authorization")
	i := strings.Index(auth, "Credential=")
	if i < 0 {
		return "us-east-1"
	}
	cred := auth[i+len("Credential="):]
	if j := strings.IndexAny(cred, ", "); j >= 0 {
		cred = cred[:j]
	}
	if parts := strings.Split(cred, "/"); len(parts) >= 5 {
		return parts[2]
	}
	return "us-east-1"
}

// writeJSONError answers an awsJson1_1 error: the code in __type and in
// X-Amzn-ErrorType, as AWS does.
func writeJSONError(w http.ResponseWriter, status int, code, requestID, message string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", code)
	if requestID != "" {
		w.Header().Set("X-Amzn-RequestId", requestID)
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "Message": message})
}

func writeJSON(w http.ResponseWriter, requestID string, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", requestID)
	_ = json.NewEncoder(w).Encode(v)
}

// pageSize is the size of a page for a request asking for maxResults
// (0 when it does not say), capped by PageSize.
func (a *AWS) pageSize(maxResults, dflt int) int {
	n := dflt
	if maxResults > 0 {
		n = maxResults
	}
	if a.opts.PageSize > 0 && a.opts.PageSize < n {
		n = a.opts.PageSize
	}
	return max(n, 1)
}

// Tokens are opaque to clients: the API and the offset of the next item.
func pageToken(api string, offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(api + ":" + strconv.Itoa(offset)))
}

func parsePageToken(api, token string) (int, bool) {
	if token == "" {
		return 0, true
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return 0, false
	}
	name, off, ok := strings.Cut(string(raw), ":")
	n, err := strconv.Atoi(off)
	if !ok || name != api || err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// page cuts items [offset, offset+size) and the token of the next page
// ("" at the end).
func page[T any](api string, items []T, offset, size int) ([]T, string) {
	if offset >= len(items) {
		return nil, ""
	}
	end := min(offset+size, len(items))
	next := ""
	if end < len(items) {
		next = pageToken(api, end)
	}
	return items[offset:end], next
}
