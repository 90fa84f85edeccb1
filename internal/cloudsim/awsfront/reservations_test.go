package awsfront

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

var testBlockPrices = map[string]float64{"p5.48xlarge": 31.464, "p4d.24xlarge": 11.0}

func reservationInput(instanceType, zone string, count int32) *ec2.CreateCapacityReservationInput {
	return &ec2.CreateCapacityReservationInput{InstanceType: aws.String(instanceType), InstancePlatform: ec2types.CapacityReservationInstancePlatformLinuxUnix,
		InstanceCount: aws.Int32(count), AvailabilityZoneId: aws.String(zone), InstanceMatchCriteria: ec2types.InstanceMatchCriteriaTargeted}
}

// describeAll follows every page of DescribeCapacityReservations.
func (ev *env) describeAll(t *testing.T, in *ec2.DescribeCapacityReservationsInput) []ec2types.CapacityReservation {
	t.Helper()
	var out []ec2types.CapacityReservation
	p := ec2.NewDescribeCapacityReservationsPaginator(ev.ec2, in)
	for p.HasMorePages() {
		out = append(out, must[*ec2.DescribeCapacityReservationsOutput](t)(p.NextPage(ctx)).CapacityReservations...)
	}
	return out
}

func ids(rs []ec2types.CapacityReservation) []string {
	var out []string
	for _, r := range rs {
		out = append(out, aws.ToString(r.CapacityReservationId))
	}
	return out
}

// TestCapacityReservations: created reservations land in the engine's
// ledger (zone ID, count, tags), a retry with the client token returns
// the first, Describe filters and pages, unknown and malformed IDs are
// EC2's errors, a cancel removes one that nothing uses and refuses one
// that node pools use, and the engine's faults reach the actions.
func TestCapacityReservations(t *testing.T) {
	ev := newEnv(t, envConfig{})
	in := reservationInput("p5.48xlarge", "euc1-az2", 4)
	in.ClientToken = aws.String("tok-1")
	in.TagSpecifications = []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeCapacityReservation,
		Tags: []ec2types.Tag{{Key: aws.String("team"), Value: aws.String("ml")}}}}
	first := must[*ec2.CreateCapacityReservationOutput](t)(ev.ec2.CreateCapacityReservation(ctx, in)).CapacityReservation
	id := aws.ToString(first.CapacityReservationId)
	if first.State != ec2types.CapacityReservationStateActive || aws.ToString(first.AvailabilityZone) != "eu-central-1b" ||
		aws.ToInt32(first.AvailableInstanceCount) != 4 || first.ReservationType != ec2types.CapacityReservationTypeDefault {
		t.Fatalf("created %+v", first)
	}
	led := must[cloudsim.Reservation](t)(ev.e.GetReservation("aws", id))
	if led.Zone != "euc1-az2" || led.Count != 4 || led.Kind != "reserved" || led.Attrs["tag:team"] != "ml" {
		t.Fatalf("ledger %+v", led)
	}
	again := must[*ec2.CreateCapacityReservationOutput](t)(ev.ec2.CreateCapacityReservation(ctx, in)).CapacityReservation
	if aws.ToString(again.CapacityReservationId) != id {
		t.Fatalf("retry with the token made %s, want %s", aws.ToString(again.CapacityReservationId), id)
	}
	in.InstanceCount = aws.Int32(5)
	if _, err := ev.ec2.CreateCapacityReservation(ctx, in, noRetryEC2); apiCode(err) != "IdempotentParameterMismatch" {
		t.Fatalf("token with other parameters: %v", err)
	}
	limited := reservationInput("p4d.24xlarge", "euc1-az1", 1)
	limited.EndDateType = ec2types.EndDateTypeLimited
	if _, err := ev.ec2.CreateCapacityReservation(ctx, limited, noRetryEC2); apiCode(err) != "MissingParameter" {
		t.Fatalf("limited without an end date: %v", err)
	}
	limited.EndDate = aws.Time(epoch0.Add(48 * time.Hour))
	must[*ec2.CreateCapacityReservationOutput](t)(ev.ec2.CreateCapacityReservation(ctx, limited))
	for i := range 5 {
		must[*ec2.CreateCapacityReservationOutput](t)(ev.ec2.CreateCapacityReservation(ctx, reservationInput("g6.xlarge", "euc1-az3", int32(i+1))))
	}

	all := ev.describeAll(t, &ec2.DescribeCapacityReservationsInput{})
	paged := ev.describeAll(t, &ec2.DescribeCapacityReservationsInput{MaxResults: aws.Int32(2)})
	if len(all) != 7 || !slices.Equal(ids(all), ids(paged)) || !slices.IsSorted(ids(all)) {
		t.Fatalf("all %v, paged by 2 %v: want the same 7, sorted", ids(all), ids(paged))
	}
	for _, tt := range []struct {
		filter, value string
		want          int
	}{
		{"instance-type", "g6.*", 5},
		{"tag:team", "ml", 1},
		{"availability-zone-id", "euc1-az1", 1},
		{"end-date-type", "limited", 1},
		{"state", "active", 7},
		{"state", "expired", 0},
	} {
		got := ev.describeAll(t, &ec2.DescribeCapacityReservationsInput{Filters: []ec2types.Filter{{Name: aws.String(tt.filter), Values: []string{tt.value}}}})
		if len(got) != tt.want {
			t.Errorf("filter %s=%s: %d, want %d", tt.filter, tt.value, len(got), tt.want)
		}
	}
	// The limited one expires at its end.
	ev.clock.Advance(48 * time.Hour)
	if got := ev.describeAll(t, &ec2.DescribeCapacityReservationsInput{Filters: []ec2types.Filter{{Name: aws.String("state"), Values: []string{"expired"}}}}); len(got) != 1 {
		t.Fatalf("%d expired after 48h, want 1", len(got))
	}
	for _, tt := range []struct{ id, code string }{
		{"cr-0123456789abcdef0", "InvalidCapacityReservationId.NotFound"},
		{"bogus", "InvalidCapacityReservationId.Malformed"},
	} {
		if _, err := ev.ec2.DescribeCapacityReservations(ctx, &ec2.DescribeCapacityReservationsInput{CapacityReservationIds: []string{tt.id}}, noRetryEC2); apiCode(err) != tt.code {
			t.Errorf("describe %s: %v, want %s", tt.id, err, tt.code)
		}
	}

	// A faulty ledger answers as EC2 does.
	if err := ev.e.Inject(cloudsim.Fault{Cloud: "aws", Op: "ListReservations", Err: cloud.Throttled("aws", "ListReservations", "ThrottlingException", "slow down")}); err != nil {
		t.Fatal(err)
	}
	if _, err := ev.ec2.DescribeCapacityReservations(ctx, &ec2.DescribeCapacityReservationsInput{}, noRetryEC2); apiCode(err) != "RequestLimitExceeded" {
		t.Fatalf("throttled describe: %v", err)
	}
	if err := ev.e.Inject(cloudsim.Fault{Cloud: "aws", Op: "PutReservation", Err: cloud.Transient("aws", "PutReservation", "", "down")}); err != nil {
		t.Fatal(err)
	}
	if _, err := ev.ec2.CreateCapacityReservation(ctx, reservationInput("g6.xlarge", "euc1-az3", 1), noRetryEC2); apiCode(err) != "Unavailable" {
		t.Fatalf("create while the ledger is down: %v", err)
	}

	// A reservation a node pool uses is not cancelled; a free one is.
	if _, err := ev.e.CreateCluster("aws", cloud.ClusterSpec{Name: "c1", Region: region}); err != nil {
		t.Fatal(err)
	}
	if _, err := ev.e.CreateNodePool("aws", cloud.NodePoolSpec{Cluster: "c1", Region: region, Name: "p", InstanceType: "p5.48xlarge",
		Zone: "euc1-az2", CapacityType: "reserved", Nodes: 2, Reservation: &cloud.Reservation{ID: id}}, cloudsim.PoolOptions{Family: "p", GPUsPerNode: 8}); err != nil {
		t.Fatal(err)
	}
	if got := ev.describeAll(t, &ec2.DescribeCapacityReservationsInput{CapacityReservationIds: []string{id}}); aws.ToInt32(got[0].AvailableInstanceCount) != 2 {
		t.Fatalf("available %d with 2 of 4 used", aws.ToInt32(got[0].AvailableInstanceCount))
	}
	if _, err := ev.ec2.CancelCapacityReservation(ctx, &ec2.CancelCapacityReservationInput{CapacityReservationId: aws.String(id)}, noRetryEC2); apiCode(err) != "IncorrectState" {
		t.Fatalf("cancel of a reservation in use: %v", err)
	}
	free := ids(all)[0]
	if free == id {
		free = ids(all)[1]
	}
	out := must[*ec2.CancelCapacityReservationOutput](t)(ev.ec2.CancelCapacityReservation(ctx, &ec2.CancelCapacityReservationInput{CapacityReservationId: aws.String(free)}))
	if !aws.ToBool(out.Return) {
		t.Fatal("cancel returned false")
	}
	if _, err := ev.ec2.DescribeCapacityReservations(ctx, &ec2.DescribeCapacityReservationsInput{CapacityReservationIds: []string{free}}, noRetryEC2); apiCode(err) != "InvalidCapacityReservationId.NotFound" {
		t.Fatalf("describe of a cancelled reservation: %v", err)
	}
}

// TestCapacityBlocks: the offerings come from a deterministic schedule
// (11:30 UTC starts, 8 weeks ahead, paged, bounded by the date range,
// priced per instance-hour), a purchase makes a capacity-block
// reservation whose state follows the clock (payment-pending, scheduled,
// active, expired), which cannot be cancelled; bad or past offerings are
// refused.
func TestCapacityBlocks(t *testing.T) {
	ev := newEnv(t, envConfig{opts: Options{CapacityBlockPrices: testBlockPrices}})
	offerings := func(in *ec2.DescribeCapacityBlockOfferingsInput) []ec2types.CapacityBlockOffering {
		t.Helper()
		var out []ec2types.CapacityBlockOffering
		p := ec2.NewDescribeCapacityBlockOfferingsPaginator(ev.ec2, in)
		for p.HasMorePages() {
			out = append(out, must[*ec2.DescribeCapacityBlockOfferingsOutput](t)(p.NextPage(ctx)).CapacityBlockOfferings...)
		}
		return out
	}
	in := func(it string, count, hours int32) *ec2.DescribeCapacityBlockOfferingsInput {
		return &ec2.DescribeCapacityBlockOfferingsInput{InstanceType: aws.String(it), InstanceCount: aws.Int32(count), CapacityDurationHours: aws.Int32(hours)}
	}
	all := offerings(in("p5.48xlarge", 2, 24))
	paged := in("p5.48xlarge", 2, 24)
	paged.MaxResults = aws.Int32(4)
	again := offerings(paged)
	if len(all) != 6 || len(again) != 6 {
		t.Fatalf("%d offerings (%d paged by 4), want the next 6 days' blocks", len(all), len(again))
	}
	late := in("p5.48xlarge", 2, 24)
	late.StartDateRange = aws.Time(epoch0.Add(50 * 24 * time.Hour))
	if got := offerings(late); len(got) != 6 || !aws.ToTime(got[0].StartDate).After(epoch0.Add(50*24*time.Hour)) {
		t.Fatalf("offerings from day 50: %d starting %v", len(got), got)
	}
	beyond := in("p5.48xlarge", 2, 24)
	beyond.StartDateRange = aws.Time(epoch0.Add(60 * 24 * time.Hour))
	if got := offerings(beyond); len(got) != 0 {
		t.Fatalf("%d offerings beyond the 8-week horizon", len(got))
	}
	for i, o := range all {
		start := aws.ToTime(o.StartDate)
		if aws.ToString(o.CapacityBlockOfferingId) != aws.ToString(again[i].CapacityBlockOfferingId) ||
			start.Hour() != 11 || start.Minute() != 30 || !start.After(epoch0) ||
			aws.ToTime(o.EndDate).Sub(start) != 24*time.Hour || aws.ToString(o.UpfrontFee) != "1510.27" || aws.ToString(o.CurrencyCode) != "USD" {
			t.Fatalf("offering %d: %+v (paged: %s)", i, o, aws.ToString(again[i].CapacityBlockOfferingId))
		}
	}
	ranged := in("p5.48xlarge", 1, 48)
	ranged.StartDateRange = aws.Time(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	ranged.EndDateRange = aws.Time(time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC))
	if got := offerings(ranged); len(got) != 2 || aws.ToTime(got[0].StartDate).Day() != 1 || aws.ToTime(got[1].StartDate).Day() != 2 {
		t.Fatalf("blocks of 48h starting from Dec 1 and ending by Dec 5: %+v", got)
	}
	if got := offerings(in("m5.large", 1, 24)); len(got) != 0 {
		t.Fatalf("offerings for a type not sold as blocks: %d", len(got))
	}
	for _, bad := range []*ec2.DescribeCapacityBlockOfferingsInput{in("p5.48xlarge", 1, 25), in("p5.48xlarge", 65, 24), in("p5.48xlarge", 1, 15*24)} {
		if _, err := ev.ec2.DescribeCapacityBlockOfferings(ctx, bad, noRetryEC2); apiCode(err) != "InvalidParameterValue" {
			t.Errorf("offerings for %d instances × %dh: %v", aws.ToInt32(bad.InstanceCount), aws.ToInt32(bad.CapacityDurationHours), err)
		}
	}

	offer := all[1]
	bought := must[*ec2.PurchaseCapacityBlockOutput](t)(ev.ec2.PurchaseCapacityBlock(ctx, &ec2.PurchaseCapacityBlockInput{
		CapacityBlockOfferingId: offer.CapacityBlockOfferingId, InstancePlatform: ec2types.CapacityReservationInstancePlatformLinuxUnix,
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeCapacityReservation,
			Tags: []ec2types.Tag{{Key: aws.String("gpufleet:purchase-token"), Value: aws.String("t1")}}}}})).CapacityReservation
	id := aws.ToString(bought.CapacityReservationId)
	if aws.ToInt32(bought.AvailableInstanceCount) != 0 {
		t.Fatalf("a block before its start shows %d available, want 0", aws.ToInt32(bought.AvailableInstanceCount))
	}
	if bought.ReservationType != ec2types.CapacityReservationTypeCapacityBlock || bought.State != ec2types.CapacityReservationStatePaymentPending ||
		!aws.ToTime(bought.StartDate).Equal(aws.ToTime(offer.StartDate)) || aws.ToInt32(bought.TotalInstanceCount) != 2 ||
		aws.ToString(bought.AvailabilityZone) != aws.ToString(offer.AvailabilityZone) {
		t.Fatalf("bought %+v from %+v", bought, offer)
	}
	state := func() ec2types.CapacityReservationState {
		t.Helper()
		got := ev.describeAll(t, &ec2.DescribeCapacityReservationsInput{Filters: []ec2types.Filter{
			{Name: aws.String("tag:gpufleet:purchase-token"), Values: []string{"t1"}}}})
		if len(got) != 1 {
			t.Fatalf("%d reservations tagged t1", len(got))
		}
		return got[0].State
	}
	start, end := aws.ToTime(offer.StartDate), aws.ToTime(offer.EndDate)
	for _, step := range []struct {
		at   time.Time
		want ec2types.CapacityReservationState
	}{
		{epoch0.Add(testDurations.PoolUpdate), ec2types.CapacityReservationStateScheduled},
		{start, ec2types.CapacityReservationStateActive},
		{end, ec2types.CapacityReservationStateExpired},
	} {
		ev.clock.Advance(step.at.Sub(ev.clock.Now()))
		if got := state(); got != step.want {
			t.Fatalf("state at %s: %s, want %s", step.at, got, step.want)
		}
	}
	if _, err := ev.ec2.CancelCapacityReservation(ctx, &ec2.CancelCapacityReservationInput{CapacityReservationId: aws.String(id)}, noRetryEC2); apiCode(err) != "InvalidParameterValue" {
		t.Fatalf("cancel of a Capacity Block: %v", err)
	}
	for _, bad := range []string{aws.ToString(offer.CapacityBlockOfferingId), "cb-0123456789abcdef0", "nonsense"} {
		_, err := ev.ec2.PurchaseCapacityBlock(ctx, &ec2.PurchaseCapacityBlockInput{CapacityBlockOfferingId: aws.String(bad),
			InstancePlatform: ec2types.CapacityReservationInstancePlatformLinuxUnix}, noRetryEC2)
		if apiCode(err) != "InvalidParameterValue" {
			t.Errorf("purchase of %s (started, unknown or malformed): %v", bad, err)
		}
	}
}

// TestNodegroupOnReservation: node groups launch into the reservation
// their launch template targets; EKS's rules for Capacity Block node
// groups hold; a reservation that cannot take the nodes fails the node
// group with the health issue EKS reports (the EC2 error, naming the
// reservation), and the launch template reports what it targets.
func TestNodegroupOnReservation(t *testing.T) {
	ev := newEnv(t, envConfig{opts: Options{CapacityBlockPrices: testBlockPrices}})
	ev.activeCluster(t, "c1")
	cr := aws.ToString(must[*ec2.CreateCapacityReservationOutput](t)(ev.ec2.CreateCapacityReservation(ctx, reservationInput("p5.48xlarge", "euc1-az1", 1))).CapacityReservation.CapacityReservationId)
	template := func(name string, market ec2types.MarketType) {
		t.Helper()
		data := &ec2types.RequestLaunchTemplateData{InstanceType: ec2types.InstanceTypeP548xlarge,
			CapacityReservationSpecification: &ec2types.LaunchTemplateCapacityReservationSpecificationRequest{
				CapacityReservationTarget: &ec2types.CapacityReservationTarget{CapacityReservationId: aws.String(cr)}}}
		if market != "" {
			data.InstanceMarketOptions = &ec2types.LaunchTemplateInstanceMarketOptionsRequest{MarketType: market}
		}
		must[*ec2.CreateLaunchTemplateOutput](t)(ev.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String(name), LaunchTemplateData: data}))
	}
	template("lt-reserved", "")
	template("lt-block", ec2types.MarketTypeCapacityBlock)
	v := must[*ec2.DescribeLaunchTemplateVersionsOutput](t)(ev.ec2.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{
		LaunchTemplateName: aws.String("lt-block"), Versions: []string{"1"}})).LaunchTemplateVersions[0].LaunchTemplateData
	if v.InstanceMarketOptions == nil || v.InstanceMarketOptions.MarketType != ec2types.MarketTypeCapacityBlock ||
		aws.ToString(v.CapacityReservationSpecification.CapacityReservationTarget.CapacityReservationId) != cr {
		t.Fatalf("launch template data %+v", v)
	}
	ng := func(name, lt string, ct types.CapacityTypes, desired int32) *eks.CreateNodegroupInput {
		in := nodegroupInput("c1", name)
		in.InstanceTypes, in.CapacityType = nil, ct
		in.ScalingConfig.DesiredSize = aws.Int32(desired)
		if lt != "" {
			in.LaunchTemplate = &types.LaunchTemplateSpecification{Name: aws.String(lt)}
		}
		return in
	}
	for _, tt := range []struct {
		name string
		in   *eks.CreateNodegroupInput
	}{
		{"block without a template", ng("a", "", types.CapacityTypesCapacityBlock, 1)},
		{"block from an on-demand template", ng("b", "lt-reserved", types.CapacityTypesCapacityBlock, 1)},
		{"on-demand from a block template", ng("c", "lt-block", types.CapacityTypesOnDemand, 1)},
	} {
		if _, err := ev.eks.CreateNodegroup(ctx, tt.in, noRetryEKS); apiCode(err) != "InvalidParameterException" {
			t.Errorf("%s: %v, want InvalidParameterException", tt.name, err)
		}
	}

	must[*eks.CreateNodegroupOutput](t)(ev.eks.CreateNodegroup(ctx, ng("fits", "lt-reserved", types.CapacityTypesOnDemand, 1)))
	must[*eks.CreateNodegroupOutput](t)(ev.eks.CreateNodegroup(ctx, ng("overflow", "lt-reserved", types.CapacityTypesOnDemand, 1)))
	ev.clock.Advance(testDurations.PoolCreate)
	describe := func(name string) *types.Nodegroup {
		return must[*eks.DescribeNodegroupOutput](t)(ev.eks.DescribeNodegroup(ctx, &eks.DescribeNodegroupInput{ClusterName: aws.String("c1"), NodegroupName: aws.String(name)})).Nodegroup
	}
	if g := describe("fits"); g.Status != types.NodegroupStatusActive || g.CapacityType != types.CapacityTypesOnDemand {
		t.Fatalf("node group in the reservation: %s %s", g.Status, g.CapacityType)
	}
	g := describe("overflow")
	if g.Status != types.NodegroupStatusCreateFailed || len(g.Health.Issues) != 1 {
		t.Fatalf("node group beyond the reservation: %s %+v", g.Status, g.Health)
	}
	is := g.Health.Issues[0]
	if is.Code != types.NodegroupIssueCodeAsgInstanceLaunchFailures || !strings.Contains(aws.ToString(is.Message), "ReservationCapacityExceeded") ||
		!strings.Contains(aws.ToString(is.Message), cr) {
		t.Fatalf("health issue %s: %s", is.Code, aws.ToString(is.Message))
	}
}

// TestLedgerReservationsOnTheWire: reservations put in the engine's
// ledger by other means (tests, other simulator paths) are reported with
// the EC2 fields they imply, so that answers stay valid EC2.
func TestLedgerReservationsOnTheWire(t *testing.T) {
	ev := newEnv(t, envConfig{})
	start := epoch0.Add(24 * time.Hour)
	for _, r := range []cloudsim.Reservation{
		{Cloud: "aws", ID: "cr-00000000000000001", Region: region, Zone: "euc1-az2", InstanceType: "p5.48xlarge", Kind: "reserved", Count: 2},
		{Cloud: "aws", ID: "cr-00000000000000002", Region: region, Zone: "euc1-az1", InstanceType: "p5.48xlarge", Kind: "capacity_block", Count: 4,
			Start: start, End: start.Add(48 * time.Hour)},
		{Cloud: "aws", ID: "cr-00000000000000003", Region: "us-east-1", Zone: "use1-az1", InstanceType: "p5.48xlarge", Kind: "reserved", Count: 1},
	} {
		must[cloudsim.Reservation](t)(ev.e.PutReservation(r))
	}
	got := ev.describeAll(t, &ec2.DescribeCapacityReservationsInput{})
	if len(got) != 2 {
		t.Fatalf("%d reservations in %s, want the region's 2", len(got), region)
	}
	plain, block := got[0], got[1]
	if plain.InstancePlatform != ec2types.CapacityReservationInstancePlatformLinuxUnix || aws.ToString(plain.AvailabilityZone) != "eu-central-1b" ||
		plain.EndDateType != ec2types.EndDateTypeUnlimited || plain.ReservationType != ec2types.CapacityReservationTypeDefault ||
		plain.InstanceMatchCriteria != ec2types.InstanceMatchCriteriaTargeted || plain.State != ec2types.CapacityReservationStateActive {
		t.Errorf("reservation %+v", plain)
	}
	if block.ReservationType != ec2types.CapacityReservationTypeCapacityBlock || block.EndDateType != ec2types.EndDateTypeLimited ||
		block.State != ec2types.CapacityReservationStateScheduled || !aws.ToTime(block.StartDate).Equal(start) {
		t.Errorf("block %+v", block)
	}
	if _, err := ev.ec2.CancelCapacityReservation(ctx, &ec2.CancelCapacityReservationInput{CapacityReservationId: block.CapacityReservationId}, noRetryEC2); apiCode(err) != "InvalidParameterValue" {
		t.Errorf("cancel of a ledger block: %v", err)
	}
}
