package awslive

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/servicequotas"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/livecatalog"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// Availability reads what AWS says about where the catalog's instance
// types can run for this account:
//
//   - Offered: EC2 DescribeInstanceTypeOfferings per region
//     (LocationType availability-zone-id, filtered on the region's
//     catalog instance types), zone IDs as the catalog keeps them;
//   - Quotas: Service Quotas GetServiceQuota per region for the EC2 GPU
//     quotas L-417A185B (Running On-Demand P instances), L-7212CCBC (All
//     P Spot Instance Requests), L-DB2E81BA (Running On-Demand G and VT
//     instances) and L-3819A6DF (All G and VT Spot Instance Requests),
//     each asked only where the catalog has offers it covers, converted
//     from vCPUs to GPUs with the largest vCPUs-per-GPU ratio among those
//     offers' instance types (GetServiceQuota reports the limit, not the
//     usage, so MaxGPUs is the whole limit);
//   - SpotScores: EC2 GetSpotPlacementScores per instance type with a
//     spot offer (one call across the regions where it has one, from
//     Config.HomeRegion), SingleAvailabilityZone, TargetCapacity
//     Config.SpotTargetNodes instances, per zone ID.
//
// Every call runs in one bounded pool; any failure fails the whole fetch
// with an error naming the API and the region or instance type.
type Availability struct {
	Config Config
	calls  atomic.Int64
}

var _ livecatalog.AvailabilitySource = (*Availability)(nil)

// Cloud is "aws".
func (s *Availability) Cloud() string { return "aws" }

// Name names the source.
func (s *Availability) Name() string { return livecatalog.AWSAvailabilitySource }

// CacheKey separates the cache entries of different endpoints, regions
// and instance types.
func (s *Availability) CacheKey() string { return s.Config.cacheKey(s.Name()) }

// Calls counts the HTTP requests sent so far (retries included).
func (s *Availability) Calls() int64 { return s.calls.Load() }

// awsAvailJob is one call (with its pages) of an availability fetch.
type awsAvailJob struct {
	region       string       // offerings and quota jobs
	quota        *awsGPUQuota // quota jobs
	types        []string     // offerings and quota jobs: instance types asked about or covered
	instanceType string       // spot score jobs
	regions      []string     // spot score jobs
}

// jobs lists the calls a fetch makes, in a fixed order.
func (s *Availability) jobs(v awsView) []awsAvailJob {
	var jobs []awsAvailJob
	for _, r := range v.regions {
		jobs = append(jobs, awsAvailJob{region: r, types: v.regionTypes(r, "")})
	}
	for _, r := range v.regions {
		for i := range awsGPUQuotas {
			q := &awsGPUQuotas[i]
			if ts := awsFamilyTypes(q.Family, v.regionTypes(r, q.CapacityType)); len(ts) > 0 {
				jobs = append(jobs, awsAvailJob{region: r, quota: q, types: ts})
			}
		}
	}
	for _, t := range v.types {
		var regions []string
		for _, r := range v.regions {
			if slices.Contains(v.regionTypes(r, planner.Spot), t) {
				regions = append(regions, r)
			}
		}
		if len(regions) > 0 {
			jobs = append(jobs, awsAvailJob{instanceType: t, regions: regions})
		}
	}
	return jobs
}

// Availability fetches offerings, quotas and spot scores for
// instanceTypes (the configured ones when empty) in the configured
// regions; every list is sorted.
func (s *Availability) Availability(ctx context.Context, instanceTypes []string) (livecatalog.Availability, error) {
	v := s.Config.view(instanceTypes)
	jobs := s.jobs(v)
	sdk, err := s.Config.sdkConfig(ctx, &s.calls)
	if err != nil {
		return livecatalog.Availability{}, fmt.Errorf("%s: %w", s.Name(), err)
	}
	results := make([]livecatalog.Availability, len(jobs))
	err = awsForEach(ctx, len(jobs), s.Config.concurrency(), func(ctx context.Context, i int) error {
		j := jobs[i]
		var err error
		switch {
		case j.quota != nil:
			results[i].Quotas, err = s.quota(ctx, sdk, j, v)
		case j.instanceType != "":
			results[i].SpotScores, err = s.spotScores(ctx, sdk, j)
		default:
			results[i].Offered, err = s.offerings(ctx, sdk, j)
		}
		return err
	})
	if err != nil {
		return livecatalog.Availability{}, err
	}
	var out livecatalog.Availability
	for i, r := range results {
		if jobs[i].quota == nil && jobs[i].instanceType == "" {
			out.Regions = append(out.Regions, jobs[i].region)
			if out.Offered == nil {
				out.Offered = []livecatalog.ZoneOffering{}
			}
		}
		out.Offered = append(out.Offered, r.Offered...)
		out.Quotas = append(out.Quotas, r.Quotas...)
		out.SpotScores = append(out.SpotScores, r.SpotScores...)
	}
	slices.Sort(out.Regions)
	slices.SortFunc(out.Offered, func(a, b livecatalog.ZoneOffering) int {
		return strings.Compare(a.Region+"/"+a.Zone+"/"+a.InstanceType, b.Region+"/"+b.Zone+"/"+b.InstanceType)
	})
	awsSortQuotas(out.Quotas)
	slices.SortFunc(out.SpotScores, func(a, b livecatalog.SpotScore) int {
		return strings.Compare(a.Region+"/"+a.Zone+"/"+a.InstanceType, b.Region+"/"+b.Zone+"/"+b.InstanceType)
	})
	return out, nil
}

// offerings asks where the region's instance types are offered, by zone
// ID.
func (s *Availability) offerings(ctx context.Context, sdk aws.Config, j awsAvailJob) ([]livecatalog.ZoneOffering, error) {
	pages := ec2.NewDescribeInstanceTypeOfferingsPaginator(s.Config.ec2Client(sdk, j.region), &ec2.DescribeInstanceTypeOfferingsInput{
		LocationType: ec2types.LocationTypeAvailabilityZoneId,
		Filters:      []ec2types.Filter{{Name: aws.String("instance-type"), Values: j.types}},
		MaxResults:   aws.Int32(1000),
	}, func(o *ec2.DescribeInstanceTypeOfferingsPaginatorOptions) { o.StopOnDuplicateToken = true })
	var out []livecatalog.ZoneOffering
	for n := 1; pages.HasMorePages(); n++ {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: DescribeInstanceTypeOfferings in %s, page %d: %w", s.Name(), j.region, n, err)
		}
		for _, o := range page.InstanceTypeOfferings {
			out = append(out, livecatalog.ZoneOffering{Cloud: "aws", Region: j.region, Zone: aws.ToString(o.Location), InstanceType: string(o.InstanceType)})
		}
	}
	return out, nil
}

// quota reads one GPU quota of a region and converts it to GPUs.
func (s *Availability) quota(ctx context.Context, sdk aws.Config, j awsAvailJob, v awsView) ([]livecatalog.Quota, error) {
	out, err := s.Config.quotasClient(sdk, j.region).GetServiceQuota(ctx, &servicequotas.GetServiceQuotaInput{
		ServiceCode: aws.String("ec2"), QuotaCode: aws.String(j.quota.Code),
	})
	if err != nil {
		return nil, fmt.Errorf("%s: GetServiceQuota %s in %s: %w", s.Name(), j.quota.Code, j.region, err)
	}
	if out.Quota == nil || out.Quota.Value == nil {
		return nil, fmt.Errorf("%s: GetServiceQuota %s in %s: the reply has no value", s.Name(), j.quota.Code, j.region)
	}
	name := j.quota.Name
	if n := aws.ToString(out.Quota.QuotaName); n != "" {
		name = n
	}
	shapes := make([]planner.Offer, len(j.types))
	for i, t := range j.types {
		shapes[i] = v.shapes[t]
	}
	return []livecatalog.Quota{{Name: j.quota.Code + " " + name, Cloud: "aws", Region: j.region, InstanceTypes: j.types,
		CapacityType: string(j.quota.CapacityType), MaxGPUs: awsQuotaGPUs(*out.Quota.Value, shapes)}}, nil
}

// spotScores asks the spot placement scores of one instance type in the
// regions where it has spot offers, per zone: ten regions a request, the
// most GetSpotPlacementScores takes (EC2 API reference, RegionNames:
// "Maximum of 10 items").
func (s *Availability) spotScores(ctx context.Context, sdk aws.Config, j awsAvailJob) ([]livecatalog.SpotScore, error) {
	nodes := s.Config.SpotTargetNodes
	if nodes <= 0 {
		nodes = 1
	}
	var out []livecatalog.SpotScore
	for regions := range slices.Chunk(j.regions, awsSpotScoreRegions) {
		pages := ec2.NewGetSpotPlacementScoresPaginator(s.Config.ec2Client(sdk, s.Config.homeRegion()), &ec2.GetSpotPlacementScoresInput{
			InstanceTypes: []string{j.instanceType}, TargetCapacity: aws.Int32(int32(nodes)),
			TargetCapacityUnitType: ec2types.TargetCapacityUnitTypeUnits, SingleAvailabilityZone: aws.Bool(true),
			RegionNames: regions, MaxResults: aws.Int32(1000),
		}, func(o *ec2.GetSpotPlacementScoresPaginatorOptions) { o.StopOnDuplicateToken = true })
		for n := 1; pages.HasMorePages(); n++ {
			page, err := pages.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("%s: GetSpotPlacementScores %s, page %d: %w", s.Name(), j.instanceType, n, err)
			}
			for _, sc := range page.SpotPlacementScores {
				out = append(out, livecatalog.SpotScore{Cloud: "aws", Region: aws.ToString(sc.Region), Zone: aws.ToString(sc.AvailabilityZoneId),
					InstanceType: j.instanceType, Score: int(aws.ToInt32(sc.Score))})
			}
		}
	}
	return out, nil
}

// awsSpotScoreRegions is the most regions one GetSpotPlacementScores
// request names.
const awsSpotScoreRegions = 10
