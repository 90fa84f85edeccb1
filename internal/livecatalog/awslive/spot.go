package awslive

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/livecatalog"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// SpotPrices reads current AWS spot prices with EC2
// DescribeSpotPriceHistory, one region at a time (concurrently): the
// catalog's spot instance types of the region, "Linux/UNIX", StartTime =
// now (so only the price in effect now comes back per zone), following
// NextToken. EC2 reports spot prices per availability zone name
// (eu-central-1a), which AWS maps to zone IDs differently per account; the
// catalog keeps zone IDs (euc1-az1), so names are translated with the
// region's DescribeAvailabilityZones, asked only when a reply lacks
// availabilityZoneId.
//
// Prices reports a price per zone (livecatalog.Price.Zone, a zone ID) for
// the zones where the catalog has a spot offer of the type, so
// livecatalog.Refresh prices every spot offer at its own zone's price.
type SpotPrices struct {
	Config Config
	calls  atomic.Int64
}

// ZonePrice is the spot price in effect in one zone.
type ZonePrice struct {
	Region string `json:"region"`
	// Zone is the zone ID (euc1-az1), as the catalog names zones.
	Zone         string    `json:"zone"`
	InstanceType string    `json:"instance_type"`
	USDPerHour   float64   `json:"usd_per_hour"`
	Since        time.Time `json:"since"`
}

// Cloud is "aws".
func (s *SpotPrices) Cloud() string { return "aws" }

// Name names the source.
func (s *SpotPrices) Name() string { return livecatalog.AWSSpotPricesSource }

// CacheKey separates the cache entries of different endpoints, regions
// and instance types.
func (s *SpotPrices) CacheKey() string { return s.Config.cacheKey(s.Name()) }

// Calls counts the HTTP requests sent so far (retries included).
func (s *SpotPrices) Calls() int64 { return s.calls.Load() }

// Prices reports the current spot price per zone of the catalog's spot
// offers (see SpotPrices), sorted by region, instance type and zone.
func (s *SpotPrices) Prices(ctx context.Context) ([]livecatalog.Price, error) {
	zp, err := s.ZonePrices(ctx)
	if err != nil {
		return nil, err
	}
	v := s.Config.view(nil)
	var out []livecatalog.Price
	for _, p := range zp {
		if !slices.Contains(v.zones[p.Region+"/"+p.InstanceType+"/"+string(planner.Spot)], p.Zone) {
			continue
		}
		out = append(out, livecatalog.Price{Cloud: "aws", Region: p.Region, Zone: p.Zone, InstanceType: p.InstanceType, CapacityType: planner.Spot, USDPerHour: p.USDPerHour})
	}
	return out, nil
}

// ZonePrices reports the spot price in effect in every zone of the
// configured regions for the catalog's spot instance types there, sorted
// by region, instance type and zone ID.
func (s *SpotPrices) ZonePrices(ctx context.Context) ([]ZonePrice, error) {
	v := s.Config.view(nil)
	var regions []string
	for _, r := range v.regions {
		if len(v.regionTypes(r, planner.Spot)) > 0 {
			regions = append(regions, r)
		}
	}
	sdk, err := s.Config.sdkConfig(ctx, &s.calls)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Name(), err)
	}
	now := s.Config.now().UTC()
	var mu sync.Mutex
	var out []ZonePrice
	err = awsForEach(ctx, len(regions), s.Config.concurrency(), func(ctx context.Context, i int) error {
		region := regions[i]
		client := s.Config.ec2Client(sdk, region)
		items, err := awsSpotHistory(ctx, client, v.regionTypes(region, planner.Spot), now)
		if err != nil {
			return fmt.Errorf("%s: DescribeSpotPriceHistory in %s: %w", s.Name(), region, err)
		}
		var ids map[string]string
		if slices.ContainsFunc(items, func(it ec2types.SpotPrice) bool { return aws.ToString(it.AvailabilityZoneId) == "" }) {
			if ids, err = awsZoneIDs(ctx, client); err != nil {
				return fmt.Errorf("%s: DescribeAvailabilityZones in %s: %w", s.Name(), region, err)
			}
		}
		prices, err := awsLatestSpotPrices(region, items, ids)
		if err != nil {
			return fmt.Errorf("%s: DescribeSpotPriceHistory in %s: %w", s.Name(), region, err)
		}
		mu.Lock()
		out = append(out, prices...)
		mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b ZonePrice) int {
		return strings.Compare(a.Region+"/"+a.InstanceType+"/"+a.Zone, b.Region+"/"+b.InstanceType+"/"+b.Zone)
	})
	return out, nil
}

// awsSpotHistory pages through DescribeSpotPriceHistory.
func awsSpotHistory(ctx context.Context, client ec2.DescribeSpotPriceHistoryAPIClient, types []string, now time.Time) ([]ec2types.SpotPrice, error) {
	its := make([]ec2types.InstanceType, len(types))
	for i, t := range types {
		its[i] = ec2types.InstanceType(t)
	}
	pages := ec2.NewDescribeSpotPriceHistoryPaginator(client, &ec2.DescribeSpotPriceHistoryInput{
		InstanceTypes: its, ProductDescriptions: []string{"Linux/UNIX"}, StartTime: aws.Time(now), MaxResults: aws.Int32(1000),
	}, func(o *ec2.DescribeSpotPriceHistoryPaginatorOptions) { o.StopOnDuplicateToken = true })
	var out []ec2types.SpotPrice
	for n := 1; pages.HasMorePages(); n++ {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("page %d: %w", n, err)
		}
		out = append(out, page.SpotPriceHistory...)
	}
	return out, nil
}

// awsZoneIDs maps the region's zone names to zone IDs.
func awsZoneIDs(ctx context.Context, client *ec2.Client) (map[string]string, error) {
	out, err := client.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{})
	if err != nil {
		return nil, err
	}
	ids := map[string]string{}
	for _, z := range out.AvailabilityZones {
		ids[aws.ToString(z.ZoneName)] = aws.ToString(z.ZoneId)
	}
	return ids, nil
}

// awsLatestSpotPrices keeps, per zone ID and instance type, the
// "Linux/UNIX" price with the latest timestamp (a history may hold
// several changes). A zone whose name ids cannot map is an error: prices
// must not land in the wrong zone.
func awsLatestSpotPrices(region string, items []ec2types.SpotPrice, ids map[string]string) ([]ZonePrice, error) {
	latest := map[string]ZonePrice{}
	for _, it := range items {
		if it.ProductDescription != "Linux/UNIX" {
			continue
		}
		zone := aws.ToString(it.AvailabilityZoneId)
		if zone == "" {
			name := aws.ToString(it.AvailabilityZone)
			if zone = ids[name]; zone == "" {
				return nil, fmt.Errorf("zone %q is not among the region's availability zones", name)
			}
		}
		usd, err := strconv.ParseFloat(aws.ToString(it.SpotPrice), 64)
		if err != nil || !(usd > 0) {
			return nil, fmt.Errorf("spot price %q of %s in %s is not a positive number", aws.ToString(it.SpotPrice), it.InstanceType, zone)
		}
		p := ZonePrice{Region: region, Zone: zone, InstanceType: string(it.InstanceType), USDPerHour: usd, Since: aws.ToTime(it.Timestamp).UTC()}
		k := zone + "/" + p.InstanceType
		if cur, ok := latest[k]; !ok || p.Since.After(cur.Since) {
			latest[k] = p
		}
	}
	out := make([]ZonePrice, 0, len(latest))
	for _, p := range latest {
		out = append(out, p)
	}
	return out, nil
}
