// Package pricefront serves the clouds' public price APIs for tests and
// simulate mode, shaped like the real ones.
package pricefront

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// AzureItem is one Azure Retail Prices API item (the fields gpufleet reads,
// spelled as the API spells them).
type AzureItem struct {
	CurrencyCode  string  `json:"currencyCode"`
	RetailPrice   float64 `json:"retailPrice"`
	UnitPrice     float64 `json:"unitPrice"`
	ArmRegionName string  `json:"armRegionName"`
	Location      string  `json:"location"`
	MeterName     string  `json:"meterName"`
	ProductName   string  `json:"productName"`
	SkuName       string  `json:"skuName"`
	ServiceName   string  `json:"serviceName"`
	ServiceFamily string  `json:"serviceFamily"`
	UnitOfMeasure string  `json:"unitOfMeasure"`
	Type          string  `json:"type"`
	ArmSkuName    string  `json:"armSkuName"`
	IsPrimary     bool    `json:"isPrimaryMeterRegion"`
}

// AzureRetail serves GET /api/retail/prices: pages of PageSize items with
// an absolute NextPageLink ($skip), like prices.azure.com. ThrottleFirst
// makes the first N requests answer 429.
type AzureRetail struct {
	Items         []AzureItem
	PageSize      int
	ThrottleFirst int64
	requests      atomic.Int64
}

// Requests counts the requests served.
func (a *AzureRetail) Requests() int64 { return a.requests.Load() }

func (a *AzureRetail) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := a.requests.Add(1)
	if r.URL.Path != "/api/retail/prices" {
		http.NotFound(w, r)
		return
	}
	if n <= a.ThrottleFirst {
		w.Header().Set("Retry-After", "1")
		http.Error(w, `{"Error":{"Code":"TooManyRequests","Message":"Too many requests"}}`, http.StatusTooManyRequests)
		return
	}
	size := a.PageSize
	if size <= 0 {
		size = 100
	}
	skip, _ := strconv.Atoi(r.URL.Query().Get("$skip"))
	end := min(skip+size, len(a.Items))
	page := struct {
		BillingCurrency    string      `json:"BillingCurrency"`
		CustomerEntityID   string      `json:"CustomerEntityId"`
		CustomerEntityType string      `json:"CustomerEntityType"`
		Items              []AzureItem `json:"Items"`
		NextPageLink       *string     `json:"NextPageLink"`
		Count              int         `json:"Count"`
	}{BillingCurrency: "USD", CustomerEntityID: "Default", CustomerEntityType: "Retail", Items: []AzureItem{}}
	if skip < len(a.Items) {
		page.Items = a.Items[skip:end]
	}
	page.Count = len(page.Items)
	if end < len(a.Items) {
		q := r.URL.Query()
		q.Set("$skip", strconv.Itoa(end))
		next := fmt.Sprintf("http://%s%s?%s", r.Host, r.URL.Path, q.Encode())
		page.NextPageLink = &next
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(page)
}

// AzureItemsFromCatalog turns a catalog's Azure offers into Retail Prices
// items (a Consumption meter per on-demand offer, a "Spot" meter per spot
// offer, Linux), the way prices.azure.com lists virtual machines.
func AzureItemsFromCatalog(c *planner.Catalog) []AzureItem {
	seen := map[string]bool{}
	var out []AzureItem
	for _, o := range c.Offers {
		if o.Cloud != "azure" {
			continue
		}
		k := o.Region + "/" + o.InstanceType + "/" + string(o.CapacityType)
		if seen[k] {
			continue
		}
		seen[k] = true
		sku := strings.ReplaceAll(strings.TrimPrefix(o.InstanceType, "Standard_"), "_", " ")
		if o.CapacityType == planner.Spot {
			sku += " Spot"
		}
		out = append(out, AzureItem{CurrencyCode: "USD", RetailPrice: o.PriceUSDHour, UnitPrice: o.PriceUSDHour,
			ArmRegionName: o.Region, Location: o.Region, MeterName: sku, SkuName: sku,
			ProductName: "Virtual Machines " + strings.Fields(sku)[0] + " Series", ServiceName: "Virtual Machines",
			ServiceFamily: "Compute", UnitOfMeasure: "1 Hour", Type: "Consumption", ArmSkuName: o.InstanceType, IsPrimary: true})
	}
	return out
}
