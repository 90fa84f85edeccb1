package livecatalog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// AzureRetail reads the public Azure Retail Prices API: Linux
// pay-as-you-go (Consumption) and Spot hourly prices of virtual machines,
// following NextPageLink.
type AzureRetail struct {
	// BaseURL is https://prices.azure.com unless overridden.
	BaseURL string
	Client  *http.Client
	// Filter narrows the query (an OData $filter); the default asks for
	// the GPU series gpufleet knows (N-series virtual machines).
	Filter string
	// MaxPages bounds the paging (1,000 when zero).
	MaxPages int
}

// DefaultAzureFilter asks for N-series virtual machine consumption prices.
const DefaultAzureFilter = "serviceName eq 'Virtual Machines' and priceType eq 'Consumption' and contains(armSkuName, 'Standard_N')"

// Cloud is "azure".
func (a *AzureRetail) Cloud() string { return "azure" }

// Name names the source.
func (a *AzureRetail) Name() string { return "azure-retail-prices" }

// CacheKey separates the cache entries of different endpoints and filters.
func (a *AzureRetail) CacheKey() string {
	h := sha256.Sum256([]byte(a.BaseURL + "|" + a.Filter))
	return a.Name() + "-" + hex.EncodeToString(h[:6])
}

type azurePage struct {
	Items []struct {
		RetailPrice   float64 `json:"retailPrice"`
		ArmRegionName string  `json:"armRegionName"`
		MeterName     string  `json:"meterName"`
		ProductName   string  `json:"productName"`
		SkuName       string  `json:"skuName"`
		UnitOfMeasure string  `json:"unitOfMeasure"`
		Type          string  `json:"type"`
		ArmSkuName    string  `json:"armSkuName"`
		CurrencyCode  string  `json:"currencyCode"`
	} `json:"Items"`
	NextPageLink *string `json:"NextPageLink"`
}

// Prices fetches every page. Windows meters and Low Priority meters are
// skipped; "Spot" meters are spot prices; everything else is on-demand.
func (a *AzureRetail) Prices(ctx context.Context) ([]Price, error) {
	base := a.BaseURL
	if base == "" {
		base = "https://prices.azure.com"
	}
	filter := a.Filter
	if filter == "" {
		filter = DefaultAzureFilter
	}
	client := a.Client
	if client == nil {
		client = http.DefaultClient
	}
	maxPages := a.MaxPages
	if maxPages <= 0 {
		maxPages = 1000
	}
	next := strings.TrimRight(base, "/") + "/api/retail/prices?api-version=2023-01-01-preview&$filter=" + url.QueryEscape(filter)
	var out []Price
	for page := 0; next != ""; page++ {
		if page >= maxPages {
			return nil, fmt.Errorf("more than %d pages; narrow the filter", maxPages)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, next, nil)
		if err != nil {
			return nil, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		var p azurePage
		err = json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("page %d: HTTP %d", page+1, resp.StatusCode)
		}
		if err != nil {
			return nil, fmt.Errorf("page %d: %w", page+1, err)
		}
		for _, it := range p.Items {
			if it.Type != "Consumption" || it.UnitOfMeasure != "1 Hour" || it.CurrencyCode != "USD" ||
				strings.HasSuffix(it.ProductName, " Windows") || strings.Contains(it.SkuName, "Low Priority") {
				continue
			}
			ct := planner.OnDemand
			if strings.Contains(it.SkuName, "Spot") || strings.Contains(it.MeterName, "Spot") {
				ct = planner.Spot
			}
			out = append(out, Price{Cloud: "azure", Region: it.ArmRegionName, InstanceType: it.ArmSkuName, CapacityType: ct, USDPerHour: it.RetailPrice})
		}
		next = ""
		if p.NextPageLink != nil {
			next = *p.NextPageLink
		}
	}
	return out, nil
}
