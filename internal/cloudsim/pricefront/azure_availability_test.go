package pricefront

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

const azAvailTestSub = "00000000-0000-0000-0000-00000000f1ee"

// azAvailGet sends an authenticated GET and decodes the body.
func azAvailGet(t *testing.T, c *http.Client, u string, v any, auth bool) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if auth {
		req.Header.Set("Authorization", "Bearer cloudsim-token")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("%s: %v", u, err)
	}
	return resp
}

type azAvailPage struct {
	Value []struct {
		ResourceType string `json:"resourceType"`
		Name         string `json:"name"`
		Locations    []string
		LocationInfo []struct {
			Location string
			Zones    []string
		} `json:"locationInfo"`
		Restrictions []struct {
			Type            string
			Values          []string
			RestrictionInfo struct{ Locations, Zones []string } `json:"restrictionInfo"`
			ReasonCode      string                              `json:"reasonCode"`
		}
	} `json:"value"`
	NextLink string `json:"nextLink"`
	Error    struct{ Code string }
}

func TestAzureAvailabilitySkusPagingAndFilter(t *testing.T) {
	sim := &AzureAvailability{Catalog: planner.Embedded(), SubscriptionID: azAvailTestSub, PageSize: 10,
		Zones:        map[string][]string{"eastus": {"3", "1"}},
		Restrictions: []AzureSkuRestriction{{Region: "eastus", InstanceType: "Standard_ND96isr_H100_v5", Zones: []string{"1"}}}}
	srv := httptest.NewTLSServer(sim)
	defer srv.Close()
	q := url.Values{"api-version": {"2021-07-01"}, "$filter": {"location eq 'eastus'"}}
	next := srv.URL + "/subscriptions/" + azAvailTestSub + "/providers/Microsoft.Compute/skus?" + q.Encode()
	total, pages := 0, 0
	for next != "" {
		var p azAvailPage
		if resp := azAvailGet(t, srv.Client(), next, &p, true); resp.StatusCode != 200 {
			t.Fatalf("HTTP %d %s", resp.StatusCode, p.Error.Code)
		}
		pages++
		total += len(p.Value)
		for _, v := range p.Value {
			if v.Locations[0] != "eastus" {
				t.Fatalf("filter ignored: %+v", v)
			}
			if v.Name == "Standard_ND96isr_H100_v5" {
				if v.LocationInfo[0].Zones[0] != "1" || len(v.Restrictions) != 1 || v.Restrictions[0].Type != "Zone" ||
					v.Restrictions[0].RestrictionInfo.Zones[0] != "1" || v.Restrictions[0].ReasonCode != "NotAvailableForSubscription" {
					t.Fatalf("ND96isr entry %+v", v)
				}
			}
		}
		next = p.NextLink
	}
	if want := len(sim.SkuEntries("eastus")); total != want || pages != (want+9)/10 || sim.Requests(AzureSkus) != int64(pages) {
		t.Fatalf("%d entries in %d pages, want %d", total, pages, want)
	}
	base := srv.URL + "/subscriptions/" + azAvailTestSub + "/providers/Microsoft.Compute/"
	for _, tc := range []struct {
		name, url string
		auth      bool
		code      int
		errCode   string
	}{
		{"no token", base + "skus?api-version=2021-07-01", false, 401, "AuthenticationFailed"},
		{"no api-version", base + "skus", true, 400, "MissingApiVersionParameter"},
		{"other filter", base + "skus?api-version=2021-07-01&%24filter=name+eq+%27x%27", true, 400, "InvalidFilter"},
		{"other subscription", srv.URL + "/subscriptions/x/providers/Microsoft.Compute/skus?api-version=2021-07-01", true, 404, "SubscriptionNotFound"},
		{"unknown location", base + "locations/mars-north/usages?api-version=2026-04-01", true, 404, "NoRegisteredProviderFound"},
	} {
		var p azAvailPage
		if resp := azAvailGet(t, srv.Client(), tc.url, &p, tc.auth); resp.StatusCode != tc.code || p.Error.Code != tc.errCode {
			t.Errorf("%s: HTTP %d %s", tc.name, resp.StatusCode, p.Error.Code)
		}
	}
}

func TestAzureAvailabilityUsagesAndFaults(t *testing.T) {
	sim := &AzureAvailability{Catalog: planner.Embedded(), ThrottleFirst: 1, RetryAfter: 1500 * time.Millisecond,
		Usages: map[string]AzureUsage{"westus/standardNDSH100v5Family": {Limit: 96, Current: 48}}}
	srv := httptest.NewTLSServer(sim)
	defer srv.Close()
	u := srv.URL + "/subscriptions/s/providers/Microsoft.Compute/locations/westus/usages?api-version=2026-04-01"
	var p struct {
		Value []struct {
			Name         struct{ Value, LocalizedValue string }
			Limit        int64
			CurrentValue int32
		}
		Error struct{ Code string }
	}
	resp := azAvailGet(t, srv.Client(), u, &p, true)
	if resp.StatusCode != 429 || p.Error.Code != "TooManyRequests" || resp.Header.Get("Retry-After") != "2" || resp.Header.Get("x-ms-retry-after-ms") != "1500" {
		t.Fatalf("throttle: HTTP %d %s %v", resp.StatusCode, p.Error.Code, resp.Header)
	}
	azAvailGet(t, srv.Client(), u, &p, true)
	got := map[string][2]int64{}
	for _, v := range p.Value {
		got[v.Name.Value] = [2]int64{v.Limit, int64(v.CurrentValue)}
	}
	if got["standardNDSH100v5Family"] != [2]int64{96, 48} || got["lowPriorityCores"] != [2]int64{100, 0} ||
		got["Standard NCASv3_T4 Family"] != [2]int64{100, 0} || got["cores"] != [2]int64{350, 0} {
		t.Fatalf("usages %v", got)
	}
	sim.Fail = map[string]bool{AzureUsages: true}
	if resp := azAvailGet(t, srv.Client(), u, &p, true); resp.StatusCode != 500 || p.Error.Code != "InternalServerError" {
		t.Fatalf("fail: HTTP %d %s", resp.StatusCode, p.Error.Code)
	}
	if sim.Requests(AzureUsages) != 3 || sim.Requests(AzureSkus) != 0 {
		t.Fatalf("requests %d %d", sim.Requests(AzureUsages), sim.Requests(AzureSkus))
	}
}
