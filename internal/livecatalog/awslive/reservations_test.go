package awslive

import (
	"context"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/awsfront"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/livecatalog"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// TestAWSReservationsFromSimulator reads the reservations an account
// holds and the Capacity Blocks it can buy from the simulated EC2
// (awsfront, on the engine's ledger) over loopback, two results a page:
// reservations with free instances of catalog types become reserved
// offers (a bought block a capacity_block offer with nothing to pay),
// full, expired and non-catalog ones are left out, and the offerings of
// the catalog's P types become capacity_block offers with the offering
// ID, zone ID, start, duration and upfront price.
func TestAWSReservationsFromSimulator(t *testing.T) {
	awsTestEnv(t)
	const euc1 = "eu-central-1"
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	clock := cloudsim.NewFakeClock(now)
	e, err := cloudsim.New(cloudsim.Config{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(awsfront.New(e, awsfront.Options{Clock: clock, CapacityBlockPrices: map[string]float64{"p5.48xlarge": 30}}))
	t.Cleanup(srv.Close)
	cfg := awsTestConfig(srv, []string{euc1})
	cfg.Now = clock.Now
	cfg.Catalog = &planner.Catalog{Offers: []planner.Offer{
		{Cloud: "aws", Region: euc1, Zone: "euc1-az1", InstanceType: "p5.48xlarge", CapacityType: planner.OnDemand, GPUModel: "H100", GPUCount: 8, PriceUSDHour: 55, MaxNodes: planner.Unlimited},
		{Cloud: "aws", Region: euc1, Zone: "euc1-az2", InstanceType: "g6.xlarge", CapacityType: planner.OnDemand, GPUModel: "L4", GPUCount: 1, PriceUSDHour: 1, MaxNodes: planner.Unlimited},
	}}

	client := ec2.NewFromConfig(aws.Config{Region: euc1, Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "SECRET", "")},
		func(o *ec2.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	ctx := context.Background()
	reserve := func(it, zone string, count int32, end time.Time) string {
		in := &ec2.CreateCapacityReservationInput{InstanceType: aws.String(it), InstancePlatform: ec2types.CapacityReservationInstancePlatformLinuxUnix,
			InstanceCount: aws.Int32(count), AvailabilityZoneId: aws.String(zone)}
		if !end.IsZero() {
			in.EndDateType, in.EndDate = ec2types.EndDateTypeLimited, aws.Time(end)
		}
		out, err := client.CreateCapacityReservation(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.CapacityReservation.CapacityReservationId)
	}
	p5a := reserve("p5.48xlarge", "euc1-az1", 4, time.Time{})
	p5b := reserve("p5.48xlarge", "euc1-az2", 2, time.Time{})
	full := reserve("p5.48xlarge", "euc1-az1", 1, time.Time{})
	g6 := reserve("g6.xlarge", "euc1-az2", 3, time.Time{})
	reserve("m5.large", "euc1-az1", 10, time.Time{}) // not in the catalog
	reserve("g6.xlarge", "euc1-az1", 1, now.Add(time.Hour))
	// One of p5a's instances and the whole of full are in use.
	if _, err := e.CreateCluster("aws", cloud.ClusterSpec{Name: "c1", Region: euc1}); err != nil {
		t.Fatal(err)
	}
	for name, id := range map[string]string{"a": p5a, "f": full} {
		if _, err := e.CreateNodePool("aws", cloud.NodePoolSpec{Cluster: "c1", Region: euc1, Name: name, InstanceType: "p5.48xlarge", Zone: "euc1-az1",
			CapacityType: "reserved", Nodes: 1, Reservation: &cloud.Reservation{ID: id}}, cloudsim.PoolOptions{Family: "p", GPUsPerNode: 8}); err != nil {
			t.Fatal(err)
		}
	}
	// A block bought two days ahead.
	offers, err := client.DescribeCapacityBlockOfferings(ctx, &ec2.DescribeCapacityBlockOfferingsInput{InstanceType: aws.String("p5.48xlarge"),
		InstanceCount: aws.Int32(2), CapacityDurationHours: aws.Int32(48)})
	if err != nil {
		t.Fatal(err)
	}
	bought, err := client.PurchaseCapacityBlock(ctx, &ec2.PurchaseCapacityBlockInput{CapacityBlockOfferingId: offers.CapacityBlockOfferings[1].CapacityBlockOfferingId,
		InstancePlatform: ec2types.CapacityReservationInstancePlatformLinuxUnix})
	if err != nil {
		t.Fatal(err)
	}
	block := bought.CapacityReservation
	clock.Advance(2 * time.Hour) // the g6 reservation has expired

	src := &Reservations{Config: cfg, BlockInstanceCounts: []int{1, 2}, BlockWindow: 3 * 24 * time.Hour, PageSize: 2}
	got, err := src.Capacity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	day := func(d int) string { return time.Date(2026, 11, d, 11, 30, 0, 0, time.UTC).Format(planner.TimeLayout) }
	zoneOfDay := func(d int) string { // the simulator's schedule: zone a on even days, b on odd
		if time.Date(2026, 11, d, 0, 0, 0, 0, time.UTC).Unix()/86400%2 == 0 {
			return "euc1-az1"
		}
		return "euc1-az2"
	}
	want := []planner.Offer{
		{Cloud: "aws", Region: euc1, Zone: "euc1-az1", InstanceType: "p5.48xlarge", CapacityType: planner.Reserved, ReservationID: p5a, MaxNodes: 3},
		{Cloud: "aws", Region: euc1, Zone: "euc1-az2", InstanceType: "p5.48xlarge", CapacityType: planner.Reserved, ReservationID: p5b, MaxNodes: 2},
		{Cloud: "aws", Region: euc1, Zone: "euc1-az2", InstanceType: "g6.xlarge", CapacityType: planner.Reserved, ReservationID: g6, MaxNodes: 3},
		{Cloud: "aws", Region: euc1, Zone: aws.ToString(block.AvailabilityZoneId), InstanceType: "p5.48xlarge", CapacityType: planner.CapacityBlock,
			ReservationID: aws.ToString(block.CapacityReservationId), MaxNodes: 2, StartTime: aws.ToTime(block.StartDate).Format(planner.TimeLayout), DurationHours: 48},
	}
	for _, count := range []int{1, 2} {
		for _, d := range []int{26, 27, 28} {
			want = append(want, planner.Offer{Cloud: "aws", Region: euc1, Zone: zoneOfDay(d), InstanceType: "p5.48xlarge", CapacityType: planner.CapacityBlock,
				MaxNodes: count, StartTime: day(d), DurationHours: 24, UpfrontUSD: float64(30 * 24 * count)})
		}
	}
	// Offering IDs are the simulator's: match them by everything else.
	var blocks []planner.Offer
	for _, o := range got {
		if o.CapacityType == planner.CapacityBlock && len(o.ReservationID) > 3 && o.ReservationID[:3] == "cb-" {
			blocks = append(blocks, o)
		}
	}
	if len(blocks) != 6 {
		t.Fatalf("%d block offerings, want 6: %+v", len(blocks), got)
	}
	ids := map[string]bool{}
	for _, b := range blocks {
		ids[b.ReservationID] = true
	}
	if len(ids) != 6 {
		t.Fatalf("offering IDs not unique: %v", ids)
	}
	key := func(o planner.Offer) string {
		if len(o.ReservationID) > 3 && o.ReservationID[:3] == "cb-" {
			o.ReservationID = ""
		}
		return o.ID() + "|" + o.StartTime + "|" + string(rune('0'+o.MaxNodes))
	}
	gotKeys, wantKeys := map[string]planner.Offer{}, map[string]planner.Offer{}
	for _, o := range got {
		gotKeys[key(o)] = o
	}
	for _, o := range want {
		wantKeys[key(o)] = o
	}
	if len(got) != len(want) || len(gotKeys) != len(wantKeys) {
		t.Fatalf("got %d offers, want %d:\n got %+v\nwant %+v", len(got), len(want), got, want)
	}
	for k, w := range wantKeys {
		g, ok := gotKeys[k]
		if b := g; ok && len(b.ReservationID) > 3 && b.ReservationID[:3] == "cb-" {
			w.ReservationID = b.ReservationID
		}
		if !ok || g != w {
			t.Errorf("offer %s: got %+v, want %+v", k, g, w)
		}
	}
	if !slices.IsSortedFunc(got, func(a, b planner.Offer) int {
		return strings.Compare(a.ID()+"|"+a.StartTime, b.ID()+"|"+b.StartTime)
	}) {
		t.Error("offers not sorted by ID and start")
	}
	// Pages of two: the six active or scheduled reservations take three
	// calls, each offering query (three results) two, and the zone names
	// one.
	if n := src.Calls(); n != 3+2*2+1 {
		t.Errorf("%d calls, want 8: every page followed once", n)
	}
	if srcs := livecatalog.ReservationSources(livecatalog.SourcesConfig{Clouds: []string{"aws"}, AWS: Sources}); len(srcs) != 1 || srcs[0].Cloud() != "aws" {
		t.Fatalf("ReservationSources for aws: %v", srcs)
	}
}
