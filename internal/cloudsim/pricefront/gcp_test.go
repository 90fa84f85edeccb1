package pricefront

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

func gcpGetJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	return resp.StatusCode
}

func gcpMoneyUSD(m GCPMoney) float64 {
	u, _ := strconv.ParseFloat(m.Units, 64)
	return u + float64(m.Nanos)/1e9
}

// TestGCPSkusReproduceCatalog recomputes every priced instance type from
// the served SKUs with the family formula.
func TestGCPSkusReproduceCatalog(t *testing.T) {
	cat := planner.Embedded()
	g := &GCP{Catalog: cat}
	type k struct{ name, region, usage string }
	rates := map[k]float64{}
	for _, s := range g.Skus() {
		p := s.PricingInfo[0].PricingExpression
		name, _, ok := strings.Cut(s.Description, " running in ")
		for _, r := range s.ServiceRegions {
			if ok {
				rates[k{name, r, s.Category.UsageType}] = gcpMoneyUSD(p.TieredRates[len(p.TieredRates)-1].UnitPrice)
			}
		}
		if strings.Contains(s.Description, "Instance Ram") && p.UsageUnit != "GiBy.h" {
			t.Errorf("%s: unit %s", s.Description, p.UsageUnit)
		}
	}
	n := 0
	for _, o := range cat.Offers {
		f, ok := gcpFamilyOf(o.InstanceType)
		if o.Cloud != "gcp" || !ok {
			continue
		}
		usage, core, ram, gpu := "OnDemand", f.core, f.ram, f.gpu
		if o.CapacityType == planner.Spot {
			usage, core, ram, gpu = "Preemptible", "Spot Preemptible "+f.core, "Spot Preemptible "+f.ram, f.gpu+" attached to Spot Preemptible VMs"
		}
		c, r, gp := rates[k{core, o.Region, usage}], rates[k{ram, o.Region, usage}], rates[k{gpu, o.Region, usage}]
		if c <= 0 || r <= 0 || gp <= 0 {
			t.Fatalf("%s: rates %v %v %v", o.ID(), c, r, gp)
		}
		if got := float64(o.GPUCount)*gp + float64(o.VCPUs)*c + o.MemoryGiB*r; math.Abs(got-o.PriceUSDHour) > 0.005 {
			t.Errorf("%s: %v, catalog %v", o.ID(), got, o.PriceUSDHour)
		}
		n++
	}
	if n == 0 {
		t.Fatal("nothing priced")
	}
}

func TestGCPSkusPagingAndErrors(t *testing.T) {
	g := &GCP{Catalog: planner.Embedded(), PageSize: 100, ThrottleFirst: 1}
	srv := httptest.NewServer(g)
	defer srv.Close()
	base := srv.URL + "/v1/services/" + GCPComputeService + "/skus?currencyCode=USD&pageSize=5000"

	var e struct {
		Error struct {
			Code    int    `json:"code"`
			Status  string `json:"status"`
			Errors  []struct{ Reason, Domain string }
			Message string `json:"message"`
		} `json:"error"`
	}
	if code := gcpGetJSON(t, base, &e); code != 429 || e.Error.Code != 429 || e.Error.Errors[0].Reason != "rateLimitExceeded" || e.Error.Status != "RESOURCE_EXHAUSTED" {
		t.Fatalf("throttle: %d %+v", code, e)
	}
	g.ThrottleFirst = 0 // per API: the other APIs would throttle their first request too
	total, token, pages := 0, "", 0
	for {
		var page struct {
			Skus          []GCPSku `json:"skus"`
			NextPageToken string   `json:"nextPageToken"`
		}
		url := base
		if token != "" {
			url += "&pageToken=" + token
		}
		if code := gcpGetJSON(t, url, &page); code != 200 {
			t.Fatalf("page %d: HTTP %d", pages, code)
		}
		pages++
		total += len(page.Skus)
		if token = page.NextPageToken; token == "" {
			break
		}
	}
	if n := len(g.Skus()); total != n || pages != (n+99)/100 || g.Requests(GCPSkus) != int64(pages)+1 {
		t.Fatalf("%d SKUs in %d pages (%d requests), want %d", total, pages, g.Requests(GCPSkus), n)
	}
	for _, tc := range []struct {
		path string
		code int
	}{
		{"/v1/services/" + GCPComputeService + "/skus?pageToken=bogus", 400},
		{"/v1/services/0000-0000-0000/skus", 404},
		{"/compute/v1/nowhere", 404},
		{"/compute/v1/projects/p/regions/mars-north1", 404},
	} {
		if code := gcpGetJSON(t, srv.URL+tc.path, &e); code != tc.code || e.Error.Code != tc.code {
			t.Errorf("%s: HTTP %d, want %d", tc.path, code, tc.code)
		}
	}
	g.Fail = map[string]bool{GCPProjects: true}
	if code := gcpGetJSON(t, srv.URL+"/compute/v1/projects/p", &e); code != 500 || e.Error.Errors[0].Reason != "backendError" {
		t.Fatalf("fail: %d %+v", code, e)
	}
}

func TestGCPComputeQuotasAndZones(t *testing.T) {
	g := &GCP{Catalog: planner.Embedded(), Project: "fleet-prod", RemovedZones: []string{"us-central1-a/nvidia-h100-80gb"},
		Quotas: map[string]GCPQuota{"us-central1/NVIDIA_H100_GPUS": {Limit: 24, Usage: 8}, "GPUS_ALL_REGIONS": {Limit: 12}}}
	srv := httptest.NewServer(g)
	defer srv.Close()
	var region struct {
		Name   string
		Zones  []string
		Quotas []struct {
			Metric       string
			Limit, Usage float64
		}
	}
	gcpGetJSON(t, srv.URL+"/compute/v1/projects/fleet-prod/regions/us-central1", &region)
	quotas := map[string][2]float64{}
	for _, q := range region.Quotas {
		quotas[q.Metric] = [2]float64{q.Limit, q.Usage}
	}
	if quotas["NVIDIA_H100_GPUS"] != [2]float64{24, 8} || quotas["PREEMPTIBLE_NVIDIA_H100_GPUS"] != [2]float64{16, 0} ||
		quotas["COMMITTED_NVIDIA_H100_GPUS"] != [2]float64{0, 0} || len(region.Zones) == 0 {
		t.Fatalf("region %+v", region)
	}
	var project struct {
		Quotas []struct {
			Metric       string
			Limit, Usage float64
		}
	}
	gcpGetJSON(t, srv.URL+"/compute/v1/projects/fleet-prod", &project)
	found := false
	for _, q := range project.Quotas {
		found = found || (q.Metric == "GPUS_ALL_REGIONS" && q.Limit == 12)
	}
	if !found {
		t.Fatalf("project %+v", project)
	}
	var e struct{ Error struct{ Code int } }
	if code := gcpGetJSON(t, srv.URL+"/compute/v1/projects/other/regions/us-central1", &e); code != 403 {
		t.Fatalf("other project: HTTP %d", code)
	}
	zones := g.AcceleratorZones()
	for _, want := range []struct {
		zone, accel string
		listed      bool
	}{
		{"us-central1-a", "nvidia-h100-80gb", false},
		{"us-central1-a", "nvidia-h100-mega-80gb", true},
		{"us-central1-b", "nvidia-h100-80gb", true},
		{"us-central1-b", "nvidia-h200-141gb", true},
	} {
		if got := slices.Contains(zones[want.zone], want.accel); got != want.listed {
			t.Errorf("%s %s listed %v", want.zone, want.accel, got)
		}
	}
}
