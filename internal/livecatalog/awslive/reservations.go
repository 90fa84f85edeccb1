package awslive

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	awsbackend "github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/aws"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/livecatalog"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// Reservations reads the AWS capacity an account holds or can buy,
// region by region (concurrently), following every page:
//
//   - EC2 DescribeCapacityReservations (states active and scheduled):
//     each reservation of a catalog instance type with instances free is
//     an offer; a Capacity Block (reservationType capacity-block) already
//     bought is a planner.CapacityBlock offer with its start and duration
//     and nothing more to pay (UpfrontUSD 0), any other a planner.Reserved
//     offer (price 0: it is paid for whether used or not). MaxNodes is
//     availableInstanceCount (totalInstanceCount for a block that has not
//     begun, which EC2 shows with none available), Zone the
//     availabilityZoneId, ReservationID the cr-… ID.
//   - EC2 DescribeCapacityBlockOfferings for the region's catalog
//     instance types that Capacity Blocks exist for
//     (awsbackend.CapacityBlockType: the P and Trn families),
//     for each of BlockInstanceCounts and BlockDurationHours, starting
//     within BlockWindow: planner.CapacityBlock offers whose
//     ReservationID is the offering ID (cb-…; buying it makes a cr-…
//     reservation), MaxNodes the instance count, UpfrontUSD the
//     upfrontFee (USD only), StartTime and DurationHours the block's. EC2
//     names an offering's zone (availabilityZone) only; it becomes the
//     zone ID through the region's DescribeAvailabilityZones.
//
// Any failure fails the fetch with an error naming the API and region.
type Reservations struct {
	Config Config
	// BlockInstanceCounts are the block sizes asked for; 1, 2, 4 and 8
	// instances when empty.
	BlockInstanceCounts []int
	// BlockDurationHours are the block lengths asked for; 24 hours when
	// empty.
	BlockDurationHours []int
	// BlockWindow is how far ahead blocks may start; 14 days when zero.
	BlockWindow time.Duration
	// PageSize is the MaxResults of each call; 100 when zero.
	PageSize int
	calls    atomic.Int64
}

var _ livecatalog.ReservationSource = (*Reservations)(nil)

// Cloud is "aws".
func (s *Reservations) Cloud() string { return "aws" }

// Name names the source.
func (s *Reservations) Name() string { return livecatalog.AWSReservationsSource }

// Calls counts the HTTP requests sent so far (retries included).
func (s *Reservations) Calls() int64 { return s.calls.Load() }

func (s *Reservations) counts() []int {
	if len(s.BlockInstanceCounts) > 0 {
		return s.BlockInstanceCounts
	}
	return []int{1, 2, 4, 8}
}

func (s *Reservations) hours() []int {
	if len(s.BlockDurationHours) > 0 {
		return s.BlockDurationHours
	}
	return []int{24}
}

func (s *Reservations) pageSize() *int32 {
	if s.PageSize > 0 {
		return aws.Int32(int32(s.PageSize))
	}
	return aws.Int32(100)
}

func (s *Reservations) window() time.Duration {
	if s.BlockWindow > 0 {
		return s.BlockWindow
	}
	return 14 * 24 * time.Hour
}

// Capacity fetches the reservations and block offerings of every
// configured region, sorted by offer ID and start.
func (s *Reservations) Capacity(ctx context.Context) ([]planner.Offer, error) {
	v := s.Config.view(nil)
	sdk, err := s.Config.sdkConfig(ctx, &s.calls)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Name(), err)
	}
	now := s.Config.now().UTC()
	var mu sync.Mutex
	var out []planner.Offer
	err = awsForEach(ctx, len(v.regions), s.Config.concurrency(), func(ctx context.Context, i int) error {
		region := v.regions[i]
		client := s.Config.ec2Client(sdk, region)
		held, err := s.reservations(ctx, client, region, v)
		if err != nil {
			return fmt.Errorf("%s: DescribeCapacityReservations in %s: %w", s.Name(), region, err)
		}
		blocks, err := s.offerings(ctx, client, region, v, now)
		if err != nil {
			return err
		}
		mu.Lock()
		out = append(out, held...)
		out = append(out, blocks...)
		mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b planner.Offer) int {
		return strings.Compare(a.ID()+"|"+a.StartTime, b.ID()+"|"+b.StartTime)
	})
	return out, nil
}

// reservations are the region's active and scheduled reservations with
// free instances, as offers.
func (s *Reservations) reservations(ctx context.Context, client *ec2.Client, region string, v awsView) ([]planner.Offer, error) {
	pages := ec2.NewDescribeCapacityReservationsPaginator(client, &ec2.DescribeCapacityReservationsInput{
		Filters:    []ec2types.Filter{{Name: aws.String("state"), Values: []string{"active", "scheduled"}}},
		MaxResults: s.pageSize(),
	}, func(o *ec2.DescribeCapacityReservationsPaginatorOptions) { o.StopOnDuplicateToken = true })
	var out []planner.Offer
	for n := 1; pages.HasMorePages(); n++ {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("page %d: %w", n, err)
		}
		for _, c := range page.CapacityReservations {
			it := aws.ToString(c.InstanceType)
			free := int(aws.ToInt32(c.AvailableInstanceCount))
			if c.ReservationType == ec2types.CapacityReservationTypeCapacityBlock && c.State == ec2types.CapacityReservationStateScheduled {
				// A block that has not begun shows no available capacity
				// (capacity-blocks-view.html): all of it is to come.
				free = int(aws.ToInt32(c.TotalInstanceCount))
			}
			if _, known := v.shapes[it]; !known || free <= 0 {
				continue
			}
			o := planner.Offer{Cloud: "aws", Region: region, Zone: aws.ToString(c.AvailabilityZoneId), InstanceType: it,
				CapacityType: planner.Reserved, ReservationID: aws.ToString(c.CapacityReservationId), MaxNodes: free}
			if c.ReservationType == ec2types.CapacityReservationTypeCapacityBlock {
				start, end := aws.ToTime(c.StartDate), aws.ToTime(c.EndDate)
				if start.IsZero() || !end.After(start) {
					return nil, fmt.Errorf("capacity block %s has no start and end (%v, %v)", o.ReservationID, c.StartDate, c.EndDate)
				}
				o.CapacityType, o.StartTime = planner.CapacityBlock, start.UTC().Format(planner.TimeLayout)
				o.DurationHours = int(math.Ceil(end.Sub(start).Hours()))
			}
			out = append(out, o)
		}
	}
	return out, nil
}

// offerings are the region's Capacity Block offerings, as offers.
func (s *Reservations) offerings(ctx context.Context, client *ec2.Client, region string, v awsView, now time.Time) ([]planner.Offer, error) {
	var types []string
	for _, t := range v.regionTypes(region, "") {
		if awsbackend.CapacityBlockType(t) {
			types = append(types, t)
		}
	}
	if len(types) == 0 {
		return nil, nil
	}
	var ids map[string]string
	var out []planner.Offer
	for _, it := range types {
		for _, count := range s.counts() {
			for _, hours := range s.hours() {
				items, err := awsBlockOfferings(ctx, client, it, count, hours, now, now.Add(s.window()+time.Duration(hours)*time.Hour), s.pageSize())
				if err != nil {
					return nil, fmt.Errorf("%s: DescribeCapacityBlockOfferings in %s for %d×%s, %dh: %w", s.Name(), region, count, it, hours, err)
				}
				if len(items) > 0 && ids == nil {
					if ids, err = awsZoneIDs(ctx, client); err != nil {
						return nil, fmt.Errorf("%s: DescribeAvailabilityZones in %s: %w", s.Name(), region, err)
					}
				}
				for _, b := range items {
					o, err := awsBlockOffer(region, b, ids)
					if err != nil {
						return nil, fmt.Errorf("%s: DescribeCapacityBlockOfferings in %s: %w", s.Name(), region, err)
					}
					out = append(out, o)
				}
			}
		}
	}
	return out, nil
}

// awsBlockOfferings pages through DescribeCapacityBlockOfferings.
func awsBlockOfferings(ctx context.Context, client ec2.DescribeCapacityBlockOfferingsAPIClient, it string, count, hours int, from, until time.Time, pageSize *int32) ([]ec2types.CapacityBlockOffering, error) {
	pages := ec2.NewDescribeCapacityBlockOfferingsPaginator(client, &ec2.DescribeCapacityBlockOfferingsInput{
		InstanceType: aws.String(it), InstanceCount: aws.Int32(int32(count)), CapacityDurationHours: aws.Int32(int32(hours)),
		StartDateRange: aws.Time(from), EndDateRange: aws.Time(until), MaxResults: pageSize,
	}, func(o *ec2.DescribeCapacityBlockOfferingsPaginatorOptions) { o.StopOnDuplicateToken = true })
	var out []ec2types.CapacityBlockOffering
	for n := 1; pages.HasMorePages(); n++ {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("page %d: %w", n, err)
		}
		out = append(out, page.CapacityBlockOfferings...)
	}
	return out, nil
}

// awsBlockOffer is an offering as an offer; a zone that ids cannot map,
// a fee that is not a USD amount, or a block without a start is an error.
func awsBlockOffer(region string, b ec2types.CapacityBlockOffering, ids map[string]string) (planner.Offer, error) {
	id := aws.ToString(b.CapacityBlockOfferingId)
	zone := ids[aws.ToString(b.AvailabilityZone)]
	if zone == "" {
		return planner.Offer{}, fmt.Errorf("offering %s: zone %q is not among the region's availability zones", id, aws.ToString(b.AvailabilityZone))
	}
	if c := aws.ToString(b.CurrencyCode); c != "" && c != "USD" {
		return planner.Offer{}, fmt.Errorf("offering %s is priced in %s, not USD", id, c)
	}
	fee, err := strconv.ParseFloat(aws.ToString(b.UpfrontFee), 64)
	if err != nil || fee < 0 {
		return planner.Offer{}, fmt.Errorf("offering %s: upfront fee %q is not an amount", id, aws.ToString(b.UpfrontFee))
	}
	start := aws.ToTime(b.StartDate)
	hours := int(aws.ToInt32(b.CapacityBlockDurationHours))
	count := int(aws.ToInt32(b.InstanceCount))
	if start.IsZero() || hours <= 0 || count <= 0 {
		return planner.Offer{}, fmt.Errorf("offering %s has no start, duration or instance count", id)
	}
	return planner.Offer{Cloud: "aws", Region: region, Zone: zone, InstanceType: aws.ToString(b.InstanceType),
		CapacityType: planner.CapacityBlock, ReservationID: id, MaxNodes: count, UpfrontUSD: fee,
		StartTime: start.UTC().Format(planner.TimeLayout), DurationHours: hours}, nil
}
