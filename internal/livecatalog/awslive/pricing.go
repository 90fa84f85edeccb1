package awslive

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/pricing"
	pricingtypes "github.com/aws/aws-sdk-go-v2/service/pricing/types"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/livecatalog"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// Pricing reads AWS on-demand list prices from the Price List Query
// API (GetProducts, service code AmazonEC2): one query per instance type
// (TERM_MATCH filters instanceType, operatingSystem=Linux,
// tenancy=Shared, preInstalledSw=NA, capacitystatus=Used), following
// NextToken, each answering the type's price in every region. Prices of
// regions outside Config's are dropped.
type Pricing struct {
	Config Config
	calls  atomic.Int64
}

// Cloud is "aws".
func (s *Pricing) Cloud() string { return "aws" }

// Name names the source.
func (s *Pricing) Name() string { return livecatalog.AWSPricingSource }

// CacheKey separates the cache entries of different endpoints, regions
// and instance types.
func (s *Pricing) CacheKey() string { return s.Config.cacheKey(s.Name()) }

// Calls counts the HTTP requests sent so far (retries included).
func (s *Pricing) Calls() int64 { return s.calls.Load() }

// Prices fetches the on-demand price of every configured instance type,
// sorted by region and instance type; where the list has several
// products for one region and type, the lowest price wins.
func (s *Pricing) Prices(ctx context.Context) ([]livecatalog.Price, error) {
	types := s.Config.view(nil).types
	regions := s.Config.Regions
	sdk, err := s.Config.sdkConfig(ctx, &s.calls)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Name(), err)
	}
	client := s.Config.pricingClient(sdk)
	var mu sync.Mutex
	best := map[string]awsListPrice{}
	err = awsForEach(ctx, len(types), s.Config.concurrency(), func(ctx context.Context, i int) error {
		prices, err := awsProductPrices(ctx, client, types[i])
		if err != nil {
			return fmt.Errorf("%s: GetProducts instanceType=%s: %w", s.Name(), types[i], err)
		}
		mu.Lock()
		defer mu.Unlock()
		for _, p := range prices {
			if len(regions) > 0 && !slices.Contains(regions, p.Region) {
				continue
			}
			k := p.Region + "/" + p.InstanceType
			if b, ok := best[k]; !ok || p.USDPerHour < b.USDPerHour {
				best[k] = p
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]livecatalog.Price, 0, len(best))
	for _, p := range best {
		out = append(out, livecatalog.Price{Cloud: "aws", Region: p.Region, InstanceType: p.InstanceType, CapacityType: planner.OnDemand, USDPerHour: p.USDPerHour})
	}
	slices.SortFunc(out, func(a, b livecatalog.Price) int {
		return strings.Compare(a.Region+"/"+a.InstanceType, b.Region+"/"+b.InstanceType)
	})
	return out, nil
}

// awsProductFilters are the GetProducts filters for one instance type.
func awsProductFilters(instanceType string) []pricingtypes.Filter {
	f := func(field, value string) pricingtypes.Filter {
		return pricingtypes.Filter{Type: pricingtypes.FilterTypeTermMatch, Field: aws.String(field), Value: aws.String(value)}
	}
	return []pricingtypes.Filter{
		f("instanceType", instanceType), f("operatingSystem", "Linux"), f("tenancy", "Shared"),
		f("preInstalledSw", "NA"), f("capacitystatus", "Used"),
	}
}

// awsProductPrices pages through GetProducts for one instance type.
func awsProductPrices(ctx context.Context, client pricing.GetProductsAPIClient, instanceType string) ([]awsListPrice, error) {
	pages := pricing.NewGetProductsPaginator(client, &pricing.GetProductsInput{
		ServiceCode: aws.String("AmazonEC2"), FormatVersion: aws.String("aws_v1"), MaxResults: aws.Int32(100),
		Filters: awsProductFilters(instanceType),
	}, func(o *pricing.GetProductsPaginatorOptions) { o.StopOnDuplicateToken = true })
	var out []awsListPrice
	for n := 1; pages.HasMorePages(); n++ {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("page %d: %w", n, err)
		}
		for _, doc := range page.PriceList {
			p, ok, err := parseAWSPriceDocument(doc)
			if err != nil {
				return nil, fmt.Errorf("page %d: %w", n, err)
			}
			if ok && p.InstanceType == instanceType {
				out = append(out, p)
			}
		}
	}
	return out, nil
}
