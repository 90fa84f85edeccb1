package aws

// Node groups on EC2 capacity reservations and Capacity Blocks for ML,
// and buying Capacity Blocks.
//
// A pool of kind "reserved" is an ON_DEMAND node group whose launch
// template targets the reservation
// (CapacityReservationSpecification.CapacityReservationTarget.CapacityReservationId):
// its instances launch into it. A "capacity_block" pool is a
// CAPACITY_BLOCK node group whose launch template has
// InstanceMarketOptions.MarketType capacity-block, the target and the
// instance type ("Create a managed node group with Capacity Blocks for
// ML": such node groups "can only be created with custom launch
// templates", whose LaunchTemplateData holds those three,
// https://docs.aws.amazon.com/eks/latest/userguide/capacity-blocks-mng.html).
// The instance type then is in the template only (EKS refuses it in both
// places). The node group's desired size is the pool's nodes from the
// start: before a block's start its instances cannot launch
// ("instances can be launched ... once the Capacity Block is active",
// https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/capacity-blocks-using.html),
// and CreateNodePool waits for the start (cloud.NodePoolSpec.CreateTimeout;
// a spec without the start reads it from DescribeCapacityReservations).
// flex_start and calendar are GCP's kinds: an AWS pool of either is a
// KindInvalid error.

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
)

// PurchaseTokenTag is the tag a purchased Capacity Block carries with
// its purchase token: PurchaseCapacityBlock finds an earlier purchase by
// it.
const PurchaseTokenTag = "gpufleet:purchase-token"

var _ cloud.CapacityPurchaser = (*Backend)(nil)

// CapacityBlockType reports an instance type of a family sold as
// Capacity Blocks for ML: the P families (p4d, p5, p5e, p5en, p6-b200, …)
// and Trainium (trn1, trn2) ("Supported instance types",
// https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/capacity-blocks-using.html).
func CapacityBlockType(instanceType string) bool {
	family, _, _ := strings.Cut(instanceType, ".")
	return len(family) > 1 && family[0] == 'p' && family[1] >= '0' && family[1] <= '9' || strings.HasPrefix(family, "trn")
}

func reservationID(spec cloud.NodePoolSpec) string {
	if spec.Reservation == nil {
		return ""
	}
	return spec.Reservation.ID
}

// nodegroupCapacity is the EKS capacity type of a pool's kind, or a
// KindInvalid error naming a kind EKS does not have or a reservation kind
// without a reservation.
func nodegroupCapacity(spec cloud.NodePoolSpec) (ekstypes.CapacityTypes, error) {
	invalid := func(format string, args ...any) error {
		return cloud.Invalid("aws", "CreateNodegroup", "UnsupportedCapacityType", format, args...).ForOffer(spec)
	}
	switch spec.CapacityType {
	case "", "on_demand":
		return ekstypes.CapacityTypesOnDemand, nil
	case "spot":
		return ekstypes.CapacityTypesSpot, nil
	case "reserved", "capacity_block":
		if reservationID(spec) == "" {
			return "", invalid("pool %s: capacity type %q needs a capacity reservation ID (cr-…), and none was given", spec.Name, spec.CapacityType)
		}
		if spec.CapacityType == "reserved" {
			return ekstypes.CapacityTypesOnDemand, nil
		}
		return ekstypes.CapacityTypesCapacityBlock, nil
	}
	return "", invalid("pool %s: capacity type %q is not available on AWS; AWS pools are on_demand, spot, reserved (a capacity reservation) or capacity_block (a Capacity Block for ML)",
		spec.Name, spec.CapacityType)
}

// launchData is what gpufleet puts in a node group's launch template.
type launchData struct {
	UserData string
	// InstanceType, ReservationID and MarketType are set for pools on a
	// reservation (MarketType "capacity-block" for Capacity Blocks).
	InstanceType, ReservationID, MarketType string
}

func (d launchData) empty() bool { return d == launchData{} }

func (d launchData) String() string {
	parts := []string{fmt.Sprintf("user data of %d bytes", len(d.UserData))}
	if d.ReservationID != "" {
		parts = append(parts, "instance type "+d.InstanceType, "capacity reservation "+d.ReservationID)
	}
	if d.MarketType != "" {
		parts = append(parts, "market type "+d.MarketType)
	}
	return strings.Join(parts, ", ")
}

func launchDataOf(spec cloud.NodePoolSpec) launchData {
	d := launchData{UserData: spec.UserData}
	if id := reservationID(spec); id != "" && (spec.CapacityType == "reserved" || spec.CapacityType == "capacity_block") {
		d.InstanceType, d.ReservationID = spec.InstanceType, id
		if spec.CapacityType == "capacity_block" {
			d.MarketType = string(ec2types.MarketTypeCapacityBlock)
		}
	}
	return d
}

func (d launchData) request() *ec2types.RequestLaunchTemplateData {
	out := &ec2types.RequestLaunchTemplateData{}
	if d.UserData != "" {
		out.UserData = awssdk.String(base64.StdEncoding.EncodeToString([]byte(d.UserData)))
	}
	if d.ReservationID != "" {
		out.InstanceType = ec2types.InstanceType(d.InstanceType)
		out.CapacityReservationSpecification = &ec2types.LaunchTemplateCapacityReservationSpecificationRequest{
			CapacityReservationTarget: &ec2types.CapacityReservationTarget{CapacityReservationId: awssdk.String(d.ReservationID)}}
	}
	if d.MarketType != "" {
		out.InstanceMarketOptions = &ec2types.LaunchTemplateInstanceMarketOptionsRequest{MarketType: ec2types.MarketType(d.MarketType)}
	}
	return out
}

// launchDataFrom reads what a template version holds.
func launchDataFrom(v ec2types.ResponseLaunchTemplateData) launchData {
	var d launchData
	if u := awssdk.ToString(v.UserData); u != "" {
		if raw, err := base64.StdEncoding.DecodeString(u); err == nil {
			d.UserData = string(raw)
		} else {
			d.UserData = u
		}
	}
	if c := v.CapacityReservationSpecification; c != nil && c.CapacityReservationTarget != nil {
		d.ReservationID = awssdk.ToString(c.CapacityReservationTarget.CapacityReservationId)
	}
	if d.ReservationID != "" || v.InstanceType != "" {
		d.InstanceType = string(v.InstanceType)
	}
	if m := v.InstanceMarketOptions; m != nil {
		d.MarketType = string(m.MarketType)
	}
	return d
}

// ensureLaunchTemplate creates the template once (version 1). The client
// token is derived from the data, so that a retried create is the same
// request; a template of that name that already exists is reused only
// when it holds the same data, else the create is a KindConflict error
// naming what differs (a retried create must not silently launch other
// capacity than asked).
func (b *Backend) ensureLaunchTemplate(ctx context.Context, r *regional, name string, d launchData) error {
	_, err := r.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: awssdk.String(name),
		ClientToken:        awssdk.String(token("lt", name, d.UserData, d.InstanceType, d.ReservationID, d.MarketType)),
		LaunchTemplateData: d.request(),
	})
	if err == nil {
		return nil
	}
	cerr := classify("CreateLaunchTemplate", err)
	var ce *cloud.Error
	if !cloud.IsConflict(cerr) && !(errors.As(cerr, &ce) && ce.Code == "IdempotentParameterMismatch") {
		return cerr
	}
	have, ok, err := b.launchTemplateData(ctx, r, name, "1")
	switch {
	case err != nil:
		return err
	case !ok:
		// Deleted between the create and the read: a retry creates it.
		return cloud.Transient("aws", "CreateLaunchTemplate", "LaunchTemplateGone", "launch template %s went away while it was created", name).Caused(cerr)
	case have != d:
		return cloud.Conflict("aws", "CreateLaunchTemplate", "InvalidLaunchTemplateName.AlreadyExistsException",
			"launch template %s exists with other data (%s) than this pool needs (%s): delete the template, or the pool, and apply again", name, have, d).Caused(cerr)
	}
	return nil
}

// launchTemplateData reads a template version's data; ok is false when
// the template is gone.
func (b *Backend) launchTemplateData(ctx context.Context, r *regional, name, version string) (launchData, bool, error) {
	out, err := r.ec2.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{
		LaunchTemplateName: awssdk.String(name), Versions: []string{version}})
	if err != nil {
		cerr := classify("DescribeLaunchTemplateVersions", err)
		if cloud.IsNotFound(cerr) {
			return launchData{}, false, nil
		}
		return launchData{}, false, cerr
	}
	for _, v := range out.LaunchTemplateVersions {
		if v.LaunchTemplateData != nil {
			return launchDataFrom(*v.LaunchTemplateData), true, nil
		}
	}
	return launchData{}, false, nil
}

// readCapacity completes a described node group's spec with its capacity
// kind and reservation, read from its launch template: CAPACITY_BLOCK is
// "capacity_block", ON_DEMAND launching into a capacity reservation
// "reserved"; the template's instance type when the node group names
// none. A template that is gone leaves the node group's own fields.
func (b *Backend) readCapacity(ctx context.Context, region string, ng *ekstypes.Nodegroup, spec *cloud.NodePoolSpec) error {
	if ng.CapacityType == ekstypes.CapacityTypesCapacityBlock {
		spec.CapacityType = "capacity_block"
	}
	lt := ng.LaunchTemplate
	if lt == nil || awssdk.ToString(lt.Name) == "" {
		return nil
	}
	d, ok, err := b.launchTemplateData(ctx, b.in(region), awssdk.ToString(lt.Name), cmp.Or(awssdk.ToString(lt.Version), "1"))
	if err != nil || !ok {
		return err
	}
	if spec.InstanceType == "" {
		spec.InstanceType = d.InstanceType
	}
	if d.ReservationID == "" {
		return nil
	}
	spec.Reservation = &cloud.Reservation{ID: d.ReservationID}
	if spec.CapacityType == "on_demand" {
		spec.CapacityType = "reserved"
	}
	return nil
}

// createTimeout is how long a create of spec may wait: the configured
// timeout, plus the time until its reservation's start. A spec that does
// not say when its Capacity Block starts reads it from the reservation.
func (b *Backend) createTimeout(ctx context.Context, r *regional, spec cloud.NodePoolSpec) (time.Duration, error) {
	now := b.now()
	if spec.CapacityType == "capacity_block" && spec.Reservation != nil && spec.Reservation.Start.IsZero() {
		res, err := b.describeReservation(ctx, r, spec.Reservation.ID)
		if cloud.IsNotFound(err) {
			// The node group fails with EC2's own word for it.
			return spec.CreateTimeout(b.cfg.Timeout, now), nil
		}
		if err != nil {
			return 0, err
		}
		s := *spec.Reservation
		s.Start = awssdk.ToTime(res.StartDate)
		spec.Reservation = &s
	}
	return spec.CreateTimeout(b.cfg.Timeout, now), nil
}

func (b *Backend) now() time.Time {
	if b.cfg.Now != nil {
		return b.cfg.Now()
	}
	return time.Now()
}

// describeReservation describes one capacity reservation.
func (b *Backend) describeReservation(ctx context.Context, r *regional, id string) (ec2types.CapacityReservation, error) {
	out, err := r.ec2.DescribeCapacityReservations(ctx, &ec2.DescribeCapacityReservationsInput{CapacityReservationIds: []string{id}})
	if err != nil {
		return ec2types.CapacityReservation{}, classify("DescribeCapacityReservations", err)
	}
	for _, c := range out.CapacityReservations {
		if awssdk.ToString(c.CapacityReservationId) == id {
			return c, nil
		}
	}
	return ec2types.CapacityReservation{}, cloud.NotFound("aws", "DescribeCapacityReservations", "InvalidCapacityReservationId.NotFound",
		"capacity reservation %s does not exist", id)
}

// PurchaseCapacityBlock buys the Capacity Block offering offeringID
// (EC2 PurchaseCapacityBlock, Linux/UNIX) tagged PurchaseTokenTag=token,
// and returns the capacity reservation it becomes. A reservation already
// tagged with the token (an earlier purchase: a retried apply, or a
// purchase whose answer was lost) is returned instead, and nothing is
// bought.
func (b *Backend) PurchaseCapacityBlock(ctx context.Context, region, offeringID, token string) (cloud.Reservation, error) {
	if token == "" {
		return cloud.Reservation{}, cloud.Invalid("aws", "PurchaseCapacityBlock", "MissingToken", "purchase of Capacity Block offering %s: a purchase token is required, so that a retry buys nothing twice", offeringID)
	}
	r := b.in(region)
	if res, ok, err := b.purchased(ctx, r, token); err != nil || ok {
		return res, err
	}
	out, err := r.ec2.PurchaseCapacityBlock(ctx, &ec2.PurchaseCapacityBlockInput{
		CapacityBlockOfferingId: awssdk.String(offeringID),
		InstancePlatform:        ec2types.CapacityReservationInstancePlatformLinuxUnix,
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeCapacityReservation,
			Tags: []ec2types.Tag{{Key: awssdk.String(PurchaseTokenTag), Value: awssdk.String(token)}}}},
	})
	if err != nil {
		cerr := classify("PurchaseCapacityBlock", err)
		// The purchase may have gone through before the error (a lost
		// answer): look again before giving up.
		if res, ok, lerr := b.purchased(ctx, r, token); lerr == nil && ok {
			return res, nil
		}
		return cloud.Reservation{}, cerr
	}
	if out.CapacityReservation == nil {
		return cloud.Reservation{}, cloud.Transient("aws", "PurchaseCapacityBlock", "EmptyResponse", "PurchaseCapacityBlock answered no capacity reservation for offering %s", offeringID)
	}
	return reservationOf(*out.CapacityReservation), nil
}

// purchased finds the capacity reservation tagged with a purchase token.
func (b *Backend) purchased(ctx context.Context, r *regional, token string) (cloud.Reservation, bool, error) {
	p := ec2.NewDescribeCapacityReservationsPaginator(r.ec2, &ec2.DescribeCapacityReservationsInput{
		Filters: []ec2types.Filter{{Name: awssdk.String("tag:" + PurchaseTokenTag), Values: []string{token}}}})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return cloud.Reservation{}, false, classify("DescribeCapacityReservations", err)
		}
		for _, c := range page.CapacityReservations {
			return reservationOf(c), true, nil
		}
	}
	return cloud.Reservation{}, false, nil
}

func reservationOf(c ec2types.CapacityReservation) cloud.Reservation {
	return cloud.Reservation{ID: awssdk.ToString(c.CapacityReservationId), Start: awssdk.ToTime(c.StartDate).UTC(), End: awssdk.ToTime(c.EndDate).UTC()}
}
