package livecatalog

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strings"

	"google.golang.org/api/cloudbilling/v1"
	"google.golang.org/api/option"

	gcpbackend "github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/gcp"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// GCPBilling reads Compute Engine list prices from the Cloud Billing
// Catalog API (services.skus.list on services/6F81-5844-456A, USD,
// following nextPageToken).
//
// Google bills an accelerator-optimized VM in parts: its GPUs, its vCPUs
// and its memory, each a SKU per region and usage type ("OnDemand",
// "Preemptible" for Spot). GCPBilling prices an instance type of a known
// family (A3 High, A3 Mega, A2, A2 Ultra, G2; see gcpBillingFamilies) as
//
//	GPUs × GPU SKU + vCPUs × core SKU + memory GiB × RAM SKU
//
// in each region the SKUs list in serviceRegions, with the shapes (GPUs,
// vCPUs, memory) taken from the catalog. Other families, and regions where
// one of the three SKUs is missing, keep the catalog's prices. The unit
// price of a SKU is the last tier of its first pricing expression.
type GCPBilling struct {
	// Catalog gives the instance types and their shapes (planner.Embedded
	// when nil).
	Catalog *planner.Catalog
	// Regions limits the prices to these regions (every GCP region of the
	// catalog when empty).
	Regions []string
	// Endpoint overrides https://cloudbilling.googleapis.com/ (a simulator).
	Endpoint string
	// ClientOptions for the Cloud Billing client (credentials, HTTP
	// client); Application Default Credentials when empty.
	ClientOptions []option.ClientOption
	// AuthEndpoints override the token endpoints of Terraform Cloud
	// dynamic credentials (used when ClientOptions is empty).
	AuthEndpoints gcpbackend.AuthEndpoints
	// PageSize is the SKUs asked per page (5000, the API's maximum, when
	// zero); MaxPages bounds the paging (1,000 when zero).
	PageSize int64
	MaxPages int
	// Retry bounds the retries of each page.
	Retry GCPRetry
}

var _ PriceSource = (*GCPBilling)(nil)

// Cloud is "gcp".
func (g *GCPBilling) Cloud() string { return "gcp" }

// Name names the source.
func (g *GCPBilling) Name() string { return "gcp-cloud-billing" }

// CacheKey separates the cache entries of different endpoints, regions and
// catalogs.
func (g *GCPBilling) CacheKey() string {
	h := sha256.Sum256([]byte(g.Endpoint + "|" + strings.Join(g.Regions, ",") + "|" + g.catalog().Version))
	return g.Name() + "-" + hex.EncodeToString(h[:6])
}

func (g *GCPBilling) catalog() *planner.Catalog {
	if g.Catalog != nil {
		return g.Catalog
	}
	return planner.Embedded()
}

// gcpRateKey names one unit price: a SKU name in a region for a capacity
// type.
type gcpRateKey struct {
	Region, Name string
	Capacity     planner.CapacityType
}

// Prices lists every SKU page, then prices the catalog's instance types.
func (g *GCPBilling) Prices(ctx context.Context) ([]Price, error) {
	opts, err := gcpOptions(ctx, g.Endpoint, g.AuthEndpoints, g.ClientOptions)
	if err != nil {
		return nil, fmt.Errorf("cloudbilling credentials: %w", err)
	}
	svc, err := cloudbilling.NewService(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("cloudbilling client: %w", err)
	}
	pageSize := cmp.Or(g.PageSize, 5000)
	maxPages := cmp.Or(g.MaxPages, 1000)
	rates := map[gcpRateKey]float64{}
	token, listed := "", 0
	for page := 1; ; page++ {
		if page > maxPages {
			return nil, fmt.Errorf("cloudbilling services.skus.list: more than %d pages", maxPages)
		}
		call := svc.Services.Skus.List(gcpComputeService).CurrencyCode("USD").PageSize(pageSize).Context(ctx)
		if token != "" {
			call = call.PageToken(token)
		}
		resp, err := gcpDo(ctx, g.Retry, fmt.Sprintf("cloudbilling services.skus.list page %d", page), func() (*cloudbilling.ListSkusResponse, error) {
			return call.Do()
		})
		if err != nil {
			return nil, err
		}
		for _, s := range resp.Skus {
			addGCPRates(rates, s)
		}
		listed += len(resp.Skus)
		if token = resp.NextPageToken; token == "" {
			break
		}
	}
	if len(rates) == 0 {
		// Not one GPU, core or RAM SKU: the catalog answered something
		// else than Compute Engine's list prices; say so rather than
		// silently keep every catalog price.
		return nil, fmt.Errorf("cloudbilling services.skus.list: none of %d SKUs is a GPU, core or RAM SKU of %s", listed, gcpFamilyNames())
	}
	return gcpPrices(g.catalog(), g.Regions, rates), nil
}

// gcpFamilyNames lists the priced families for messages.
func gcpFamilyNames() string {
	names := make([]string, len(gcpBillingFamilies))
	for i, f := range gcpBillingFamilies {
		names[i] = f.Name
	}
	return strings.Join(names, ", ")
}

// addGCPRates records the unit price of a SKU of a known family in each of
// its regions. Unknown SKUs, other usage types (commitments), other
// currencies and unexpected units are ignored.
func addGCPRates(rates map[gcpRateKey]float64, s *cloudbilling.Sku) {
	if s == nil || s.Category == nil || len(s.PricingInfo) == 0 || s.PricingInfo[0].PricingExpression == nil {
		return
	}
	name, spot, ok := parseGCPSkuDescription(s.Description)
	if !ok {
		return
	}
	kind, ok := gcpSkuNames[name]
	if !ok {
		return
	}
	var ct planner.CapacityType
	switch s.Category.UsageType {
	case "OnDemand":
		ct = planner.OnDemand
	case "Preemptible":
		ct = planner.Spot
	default:
		return
	}
	if spot != (ct == planner.Spot) {
		return
	}
	expr := s.PricingInfo[0].PricingExpression
	wantUnit := "h"
	if kind == gcpRAM {
		wantUnit = "GiBy.h"
	}
	if expr.UsageUnit != wantUnit || len(expr.TieredRates) == 0 {
		return
	}
	m := expr.TieredRates[len(expr.TieredRates)-1].UnitPrice
	if m == nil || (m.CurrencyCode != "" && m.CurrencyCode != "USD") {
		return
	}
	usd := float64(m.Units) + float64(m.Nanos)/1e9
	if !(usd > 0) {
		return
	}
	for _, region := range s.ServiceRegions {
		k := gcpRateKey{Region: region, Name: name, Capacity: ct}
		if old, ok := rates[k]; !ok || usd < old {
			rates[k] = usd // two SKUs for one key: the lower, whatever the order
		}
	}
}

// parseGCPSkuDescription splits a Compute Engine SKU description into the
// SKU name and whether it is a Spot SKU:
//
//	"A3 Instance Core running in Americas"                              → "A3 Instance Core", false
//	"Spot Preemptible A3 Instance Core running in Americas"             → "A3 Instance Core", true
//	"Nvidia H100 80GB GPU attached to Spot Preemptible VMs running in Americas" → "Nvidia H100 80GB GPU", true
//
// Descriptions without " running in " (commitments, reservations) do not
// parse.
func parseGCPSkuDescription(desc string) (name string, spot, ok bool) {
	name, _, ok = strings.Cut(desc, " running in ")
	if !ok || name == "" {
		return "", false, false
	}
	if n, found := strings.CutPrefix(name, "Spot Preemptible "); found {
		name, spot = n, true
	}
	if n, found := strings.CutSuffix(name, " attached to Spot Preemptible VMs"); found {
		if spot {
			return "", false, false
		}
		name, spot = n, true
	}
	return name, spot, true
}

// gcpPrices prices every instance type of a known family of the catalog in
// every region (of regions, when given) where its three SKUs have a rate.
func gcpPrices(cat *planner.Catalog, regions []string, rates map[gcpRateKey]float64) []Price {
	type site struct{ region, instanceType string }
	seen := map[site]bool{}
	var out []Price
	for _, o := range cat.Offers {
		s := site{o.Region, o.InstanceType}
		if o.Cloud != "gcp" || seen[s] || (len(regions) > 0 && !slices.Contains(regions, o.Region)) {
			continue
		}
		seen[s] = true
		f, ok := gcpBillingFamilyOf(o.InstanceType)
		if !ok {
			continue
		}
		for _, ct := range planner.CapacityTypes {
			gpu, okG := rates[gcpRateKey{o.Region, f.GPU, ct}]
			core, okC := rates[gcpRateKey{o.Region, f.Core, ct}]
			ram, okR := rates[gcpRateKey{o.Region, f.RAM, ct}]
			if !okG || !okC || !okR {
				continue
			}
			usd := float64(o.GPUCount)*gpu + float64(o.VCPUs)*core + o.MemoryGiB*ram
			out = append(out, Price{Cloud: "gcp", Region: o.Region, InstanceType: o.InstanceType, CapacityType: ct,
				USDPerHour: math.Round(usd*1e6) / 1e6})
		}
	}
	slices.SortFunc(out, func(a, b Price) int {
		return cmp.Or(strings.Compare(a.Region, b.Region), strings.Compare(a.InstanceType, b.InstanceType),
			strings.Compare(string(a.CapacityType), string(b.CapacityType)))
	})
	return out
}
