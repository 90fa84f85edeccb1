package awsfront

// EC2 On-Demand Capacity Reservations and Capacity Blocks for ML, on the
// engine's one reservation ledger (cloudsim.Reservation, cloud "aws"):
// this file maps the EC2 wire format to it and back, and words the
// engine's reservation issues the way EC2 and EKS report them.
//
// Actions (EC2 2016-11-15, the API model's members):
//
//   - CreateCapacityReservation: InstanceType, InstancePlatform and
//     InstanceCount (> 0) are required, AvailabilityZone or
//     AvailabilityZoneId one of them; EndDateType unlimited (default; an
//     EndDate with it is InvalidParameterCombination) or limited (EndDate
//     required, in the future); InstanceMatchCriteria open (default) or
//     targeted; Tenancy default or dedicated; ClientToken makes a retry
//     return the first reservation (other parameters with the same token:
//     IdempotentParameterMismatch). The reservation is active at once
//     (EC2 "pending" is not simulated) and of reservationType "default".
//     Ledger kind "reserved".
//   - DescribeCapacityReservations: CapacityReservationId.N (unknown:
//     InvalidCapacityReservationId.NotFound; not cr-…:
//     InvalidCapacityReservationId.Malformed), Filter.N (instance-type,
//     availability-zone, availability-zone-id, instance-platform, tenancy,
//     state, end-date-type, instance-match-criteria, reservation-type,
//     owner-id, tag:KEY, tag-key, tag-value), MaxResults 1–1000
//     (DescribeCapacityReservationsMaxResults) and NextToken. state is
//     the ledger's State on the engine's clock (scheduled before the
//     start, active, expired from the end), and payment-pending for a
//     block's first PoolUpdate after its PurchaseCapacityBlock (the
//     states of "View Capacity Blocks",
//     https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/capacity-blocks-view.html).
//     totalInstanceCount is the count, availableInstanceCount the free
//     slots (cloudsim.Reservation.Free: one per node of the node groups
//     launched into it) — zero for a block that has not begun ("Before a
//     Capacity Block reservation begins, the available capacity appears
//     as zero", ibid.), whose size is then the tag
//     aws:ec2capacityreservation:incrementalRequestedQuantity.
//   - CancelCapacityReservation: removes it from the ledger (a Describe
//     by ID then answers NotFound; EC2 keeps it "cancelled" for a while,
//     which is not simulated). A Capacity Block cannot be cancelled
//     ("You can't modify or cancel a Capacity Block",
//     https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CancelCapacityReservation.html):
//     InvalidParameterValue. One with instances running in node groups is
//     IncorrectState (the ledger refuses: gpufleet never cancels capacity
//     under running nodes; EC2 would let them run on as On-Demand).
//   - DescribeCapacityBlockOfferings: InstanceType, InstanceCount (1–64)
//     and CapacityDurationHours (24–336 in whole days, or up to 182 days
//     in whole weeks: "Capacity Block durations",
//     https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/capacity-blocks-purchase.html)
//     are required; StartDateRange / EndDateRange bound the start and the
//     end. The offerings come from a deterministic schedule
//     (CapacityBlockOfferings): one block a day, from 11:30 UTC to 11:30
//     UTC ("All Capacity Blocks end at 11:30AM UTC", and EC2 "provide[s]
//     the details of up to 6 available blocks", capacity-blocks-purchase.html:
//     the first 6 starts in range), starting up to 8 weeks ahead (the
//     simulator's horizon), in zone a on even days and zone b on odd
//     days, for the instance types of Options.CapacityBlockPrices, whose
//     price per instance-hour makes the upfrontFee (USD). Purchases do
//     not deplete the schedule. MaxResults 1–1000 and NextToken page it.
//   - PurchaseCapacityBlock: CapacityBlockOfferingId and InstancePlatform
//     required; TagSpecification.N (ResourceType capacity-reservation)
//     tags the reservation. The offering ID encodes the offering, so any
//     offering the schedule made can be bought while its start is ahead
//     (else InvalidParameterValue). The block becomes a capacity
//     reservation cr-… of reservationType capacity-block, instance match
//     criteria targeted, end date type limited (ledger kind
//     "capacity_block"), whose state follows the clock as above.
//
// Engine operations, for SetRateLimit and Inject: CreateCapacityReservation
// and PurchaseCapacityBlock -> PutReservation (after ListReservations for
// the client token); DescribeCapacityReservations -> GetReservation per ID,
// ListReservations without; CancelCapacityReservation -> GetReservation,
// DeleteReservation. DescribeCapacityBlockOfferings reads only the
// schedule and is never throttled.
//
// Node groups: a launch template's CapacityReservationSpecification
// (CapacityReservationTarget.CapacityReservationId) and
// InstanceMarketOptions.MarketType are kept (ec2.go); a node group
// launched from it targets the reservation (nodegroupReservation), and
// the engine's ledger does the rest: one slot per node, freed when the
// node group goes; a block that starts later keeps the node group
// CREATING until its start. Only launches that target a reservation by
// ID use it: instances matching an "open" reservation do not consume it
// on their own (EC2 would count them).

import (
	"encoding/xml"
	"fmt"
	"hash/fnv"
	"maps"
	"math/bits"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

func init() {
	for a, h := range map[string]networkHandler{
		"CreateCapacityReservation":      (*server).createCapacityReservation,
		"DescribeCapacityReservations":   (*server).describeCapacityReservations,
		"CancelCapacityReservation":      (*server).cancelCapacityReservation,
		"DescribeCapacityBlockOfferings": (*server).describeCapacityBlockOfferings,
		"PurchaseCapacityBlock":          (*server).purchaseCapacityBlock,
	} {
		networkActions[a] = h
		ec2Actions[a] = true
	}
}

// Wire values of the API model.
var (
	instancePlatforms = []string{"Linux/UNIX", "Red Hat Enterprise Linux", "SUSE Linux", "Windows", "Windows with SQL Server",
		"Windows with SQL Server Enterprise", "Windows with SQL Server Standard", "Windows with SQL Server Web",
		"Linux with SQL Server Standard", "Linux with SQL Server Web", "Linux with SQL Server Enterprise",
		"RHEL with SQL Server Standard", "RHEL with SQL Server Enterprise", "RHEL with SQL Server Web", "RHEL with HA",
		"RHEL with HA and SQL Server Standard", "RHEL with HA and SQL Server Enterprise", "Ubuntu Pro"}
	reservationFilters = []string{"instance-type", "availability-zone", "availability-zone-id", "instance-platform", "tenancy",
		"state", "end-date-type", "instance-match-criteria", "reservation-type", "owner-id"}
)

// Ledger attrs of an AWS reservation.
const (
	attrPlatform    = "platform"
	attrZoneName    = "zone_name"
	attrTenancy     = "tenancy"
	attrMatch       = "match_criteria"
	attrEndDateType = "end_date_type"
	attrType        = "reservation_type"
	attrToken       = "client_token"
	attrOffering    = "offering"
	tagPrefix       = "tag:"
)

type xCapacityReservation struct {
	ID               string `xml:"capacityReservationId"`
	OwnerID          string `xml:"ownerId"`
	Arn              string `xml:"capacityReservationArn"`
	ZoneID           string `xml:"availabilityZoneId"`
	InstanceType     string `xml:"instanceType"`
	Platform         string `xml:"instancePlatform"`
	Zone             string `xml:"availabilityZone"`
	Tenancy          string `xml:"tenancy"`
	Total            int    `xml:"totalInstanceCount"`
	Available        int    `xml:"availableInstanceCount"`
	State            string `xml:"state"`
	StartDate        string `xml:"startDate,omitempty"`
	EndDate          string `xml:"endDate,omitempty"`
	EndDateType      string `xml:"endDateType"`
	MatchCriteria    string `xml:"instanceMatchCriteria"`
	CreateDate       string `xml:"createDate"`
	Tags             []xTag `xml:"tagSet>item"`
	ReservationType  string `xml:"reservationType"`
	EbsOptimized     bool   `xml:"ebsOptimized"`
	EphemeralStorage bool   `xml:"ephemeralStorage"`
}

type xCapacityBlockOffering struct {
	ID            string `xml:"capacityBlockOfferingId"`
	InstanceType  string `xml:"instanceType"`
	Zone          string `xml:"availabilityZone"`
	InstanceCount int    `xml:"instanceCount"`
	StartDate     string `xml:"startDate"`
	EndDate       string `xml:"endDate"`
	DurationHours int    `xml:"capacityBlockDurationHours"`
	UpfrontFee    string `xml:"upfrontFee"`
	CurrencyCode  string `xml:"currencyCode"`
	Tenancy       string `xml:"tenancy"`
}

type reservationResponse struct {
	XMLName      xml.Name
	Xmlns        string                    `xml:"xmlns,attr"`
	RequestID    string                    `xml:"requestId"`
	Reservation  *xCapacityReservation     `xml:"capacityReservation,omitempty"`
	Reservations *[]xCapacityReservation   `xml:"capacityReservationSet>item,omitempty"`
	Offerings    *[]xCapacityBlockOffering `xml:"capacityBlockOfferingSet>item,omitempty"`
	NextToken    string                    `xml:"nextToken,omitempty"`
	Return       *bool                     `xml:"return,omitempty"`
}

func reservationReply(action, reqID string) *reservationResponse {
	return &reservationResponse{XMLName: xml.Name{Local: action + "Response"}, Xmlns: ec2NS, RequestID: reqID}
}

// ec2Millis is EC2's timestamp format.
func ec2Millis(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// wireAttrs fills in the EC2 fields a ledger reservation put there by
// other means than this front end (a test, another simulator path) lacks:
// Linux/UNIX, default tenancy, targeted (gpufleet names reservations by
// ID), the end date type its end implies, the reservation type its kind
// implies, and the zone name of its zone ID.
func wireAttrs(r cloudsim.Reservation) cloudsim.Reservation {
	a := maps.Clone(r.Attrs)
	if a == nil {
		a = map[string]string{}
	}
	fill := func(k, v string) {
		if a[k] == "" {
			a[k] = v
		}
	}
	fill(attrPlatform, "Linux/UNIX")
	fill(attrTenancy, "default")
	fill(attrMatch, "targeted")
	if r.End.IsZero() {
		fill(attrEndDateType, "unlimited")
	} else {
		fill(attrEndDateType, "limited")
	}
	if r.Kind == "capacity_block" {
		fill(attrType, "capacity-block")
	} else {
		fill(attrType, "default")
	}
	if a[attrZoneName] == "" && r.Zone != "" {
		a[attrZoneName], _ = zoneNames(r.Region, "", r.Zone)
	}
	r.Attrs = a
	return r
}

// reservationState is the EC2 state of a ledger reservation now.
func (s *server) reservationState(r cloudsim.Reservation) string {
	now := s.now()
	st := r.State(now)
	if st == "scheduled" && r.Attrs[attrOffering] != "" && now.Sub(r.CreatedAt) < s.e.Durations().PoolUpdate {
		return "payment-pending"
	}
	return st
}

func (s *server) reservationXML(r cloudsim.Reservation) xCapacityReservation {
	r = wireAttrs(r)
	tags := map[string]string{}
	for k, v := range r.Attrs {
		if t, ok := strings.CutPrefix(k, tagPrefix); ok {
			tags[t] = v
		}
	}
	state, free := s.reservationState(r), r.Free()
	if r.Attrs[attrType] == "capacity-block" && (state == "scheduled" || state == "payment-pending") {
		free = 0
		tags["aws:ec2capacityreservation:incrementalRequestedQuantity"] = strconv.Itoa(r.Count)
	}
	return xCapacityReservation{ID: r.ID, OwnerID: s.opts.AccountID, Arn: s.arn(r.Region, "capacity-reservation", r.ID),
		ZoneID: r.Zone, Zone: r.Attrs[attrZoneName], InstanceType: r.InstanceType, Platform: r.Attrs[attrPlatform],
		Tenancy: r.Attrs[attrTenancy], Total: r.Count, Available: free, State: state,
		StartDate: ec2Millis(r.Start), EndDate: ec2Millis(r.End), EndDateType: r.Attrs[attrEndDateType],
		MatchCriteria: r.Attrs[attrMatch], CreateDate: ec2Millis(r.CreatedAt), Tags: xTags(tags), ReservationType: r.Attrs[attrType]}
}

func reservationFields(x xCapacityReservation) map[string][]string {
	return map[string][]string{"instance-type": {x.InstanceType}, "availability-zone": {x.Zone}, "availability-zone-id": {x.ZoneID},
		"instance-platform": {x.Platform}, "tenancy": {x.Tenancy}, "state": {x.State}, "end-date-type": {x.EndDateType},
		"instance-match-criteria": {x.MatchCriteria}, "reservation-type": {x.ReservationType}, "owner-id": {x.OwnerID}}
}

// reservationErr answers an engine error about reservation id.
func reservationErr(err error, id string) error {
	if cloud.IsNotFound(err) {
		return noReservation(id)
	}
	return ec2Error(err, "InvalidCapacityReservationId.NotFound", "IncorrectState")
}

func noReservation(id string) error {
	if !strings.HasPrefix(id, "cr-") || !idPattern.MatchString(id) {
		return &ec2Err{400, "InvalidCapacityReservationId.Malformed", fmt.Sprintf("Invalid id: \"%s\"", id)}
	}
	return &ec2Err{400, "InvalidCapacityReservationId.NotFound", fmt.Sprintf("The capacity reservation ID '%s' does not exist", id)}
}

// reservationTags reads the tags of a create: TagSpecification.N (the
// locationName of PurchaseCapacityBlock's member) or TagSpecifications.N
// (CreateCapacityReservation's member has none), ResourceType
// capacity-reservation.
func reservationTags(r *http.Request) (map[string]string, error) {
	for k, vs := range r.Form {
		if rest, ok := strings.CutPrefix(k, "TagSpecifications."); ok {
			r.Form["TagSpecification."+rest] = vs
			delete(r.Form, k)
		}
	}
	return parseTags(r, "capacity-reservation")
}

func oneOf(param, v string, allowed []string) error {
	if !slices.Contains(allowed, v) {
		return invalidValue("Value (%s) for parameter %s is invalid. Valid values: %s", v, param, strings.Join(allowed, ", "))
	}
	return nil
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

func (s *server) createCapacityReservation(r *http.Request, region, reqID string) (any, error) {
	v, err := required(r, "InstanceType", "instanceType", "InstancePlatform", "instancePlatform", "InstanceCount", "instanceCount")
	if err != nil {
		return nil, err
	}
	it, platform := v[0], v[1]
	if err := oneOf("instancePlatform", platform, instancePlatforms); err != nil {
		return nil, err
	}
	count, err := strconv.Atoi(v[2])
	if err != nil || count < 1 {
		return nil, invalidValue("Value (%s) for parameter instanceCount is invalid. Expecting a positive integer.", v[2])
	}
	az, azID := r.Form.Get("AvailabilityZone"), r.Form.Get("AvailabilityZoneId")
	if az == "" && azID == "" {
		return nil, missing("availabilityZone")
	}
	az, azID = zoneNames(region, az, azID)
	tenancy := orDefault(r.Form.Get("Tenancy"), "default")
	match := orDefault(r.Form.Get("InstanceMatchCriteria"), "open")
	endType := orDefault(r.Form.Get("EndDateType"), "unlimited")
	if err := errorsOf(oneOf("tenancy", tenancy, []string{"default", "dedicated"}),
		oneOf("instanceMatchCriteria", match, []string{"open", "targeted"}),
		oneOf("endDateType", endType, []string{"unlimited", "limited"})); err != nil {
		return nil, err
	}
	var end time.Time
	switch e := r.Form.Get("EndDate"); {
	case endType == "unlimited" && e != "":
		return nil, &ec2Err{400, "InvalidParameterCombination", "EndDate cannot be specified when EndDateType is unlimited"}
	case endType == "limited" && e == "":
		return nil, missing("endDate")
	case e != "":
		if end, err = time.Parse(time.RFC3339, e); err != nil || !end.After(s.now()) {
			return nil, invalidValue("Value (%s) for parameter endDate is invalid. The end date must be in the future.", e)
		}
	}
	tags, err := reservationTags(r)
	if err != nil {
		return nil, err
	}
	token := r.Form.Get("ClientToken")
	want := cloudsim.Reservation{Cloud: cloudName, Region: region, Zone: azID, InstanceType: it, Kind: "reserved", Count: count, End: end,
		Attrs: map[string]string{attrPlatform: platform, attrZoneName: az, attrTenancy: tenancy, attrMatch: match,
			attrEndDateType: endType, attrType: "default", attrToken: token}}
	for k, v := range tags {
		want.Attrs[tagPrefix+k] = v
	}
	if token != "" {
		all, err := s.e.Reservations(cloudName)
		if err != nil {
			return nil, reservationErr(err, "")
		}
		for _, have := range all {
			if have.Attrs[attrToken] != token || have.Region != region {
				continue
			}
			if have.InstanceType != it || have.Count != count || have.Zone != azID || !have.End.Equal(end) {
				return nil, &ec2Err{400, "IdempotentParameterMismatch", "The client token you have provided is associated with a resource that is already deleted or has different parameters."}
			}
			out := reservationReply("CreateCapacityReservation", reqID)
			x := s.reservationXML(have)
			out.Reservation = &x
			return out, nil
		}
	}
	want.ID = randomID("cr")
	got, err := s.e.PutReservation(want)
	if err != nil {
		return nil, reservationErr(err, want.ID)
	}
	out := reservationReply("CreateCapacityReservation", reqID)
	x := s.reservationXML(got)
	out.Reservation = &x
	return out, nil
}

func errorsOf(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// maxResults reads MaxResults between lo and hi (the API model's bounds);
// 0 when absent.
func maxResults(r *http.Request, lo, hi int) (int, error) {
	m := r.Form.Get("MaxResults")
	if m == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(m)
	if err != nil || n < lo || n > hi {
		return 0, invalidValue("Value ( %s ) for parameter maxResults is invalid. Expecting a value greater than %d and less than %d.", m, lo, hi)
	}
	return n, nil
}

// pageOf cuts a page of up to limit items (all when 0) at NextToken, the
// offset into the sorted matches, and the token of the next page.
func pageOf[T any](r *http.Request, items []T, limit int) ([]T, string, error) {
	start := 0
	if t := r.Form.Get("NextToken"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 || n > len(items) {
			return nil, "", invalidValue("The token '%s' is invalid.", t)
		}
		start = n
	}
	if limit == 0 || start+limit >= len(items) {
		return items[start:], "", nil
	}
	return items[start : start+limit], strconv.Itoa(start + limit), nil
}

func (s *server) describeCapacityReservations(r *http.Request, region, reqID string) (any, error) {
	filters, err := parseFilters(r, reservationFilters)
	if err != nil {
		return nil, err
	}
	limit, err := maxResults(r, 1, 1000)
	if err != nil {
		return nil, err
	}
	ids := formList(r, "CapacityReservationId")
	var found []cloudsim.Reservation
	if len(ids) > 0 {
		for _, id := range ids {
			got, err := s.e.GetReservation(cloudName, id)
			if err == nil && got.Region != region {
				err = cloud.NotFound(cloudName, "GetReservation", "NotFound", "reservation %s", id)
			}
			if err != nil {
				return nil, reservationErr(err, id)
			}
			found = append(found, got)
		}
	} else {
		all, err := s.e.Reservations(cloudName)
		if err != nil {
			return nil, reservationErr(err, "")
		}
		for _, res := range all {
			if res.Region == region {
				found = append(found, res)
			}
		}
	}
	var items []xCapacityReservation
	for _, res := range found {
		x := s.reservationXML(res)
		tags := map[string]string{}
		for _, t := range x.Tags {
			tags[t.Key] = t.Value
		}
		if matches(filters, reservationFields(x), tags) {
			items = append(items, x)
		}
	}
	page, next, err := pageOf(r, items, limit)
	if err != nil {
		return nil, err
	}
	out := reservationReply("DescribeCapacityReservations", reqID)
	out.Reservations, out.NextToken = &page, next
	return out, nil
}

func (s *server) cancelCapacityReservation(r *http.Request, region, reqID string) (any, error) {
	v, err := required(r, "CapacityReservationId", "capacityReservationId")
	if err != nil {
		return nil, err
	}
	id := v[0]
	got, err := s.e.GetReservation(cloudName, id)
	if err == nil && got.Region != region {
		return nil, noReservation(id)
	}
	if err != nil {
		return nil, reservationErr(err, id)
	}
	if wireAttrs(got).Attrs[attrType] == "capacity-block" {
		return nil, invalidValue("The capacity reservation %s is a Capacity Block, which cannot be cancelled.", id)
	}
	if err := s.e.DeleteReservation(cloudName, id); err != nil {
		if cloud.IsConflict(err) {
			return nil, incorrectState("The capacity reservation %s has instances running and cannot be cancelled by gpufleet's simulator: delete its node groups first.", id)
		}
		return nil, reservationErr(err, id)
	}
	out := reservationReply("CancelCapacityReservation", reqID)
	t := true
	out.Return = &t
	return out, nil
}

// CapacityBlockOffering is one offering of the simulated schedule.
type CapacityBlockOffering struct {
	ID           string
	InstanceType string
	// Zone is the zone name (eu-central-1a), ZoneID its ID (euc1-az1).
	Zone, ZoneID string
	Count        int
	Start, End   time.Time
	Hours        int
	UpfrontUSD   float64
	zoneIndex    int
	typeIndex    int
	day, durDays int
}

// capacityBlockStart is the time of day simulated Capacity Blocks start:
// they last whole days and "All Capacity Blocks end at 11:30AM UTC"
// (capacity-blocks-purchase.html).
const capacityBlockStart = 11*time.Hour + 30*time.Minute

// capacityBlockHorizon is how far ahead the simulator offers blocks.
const capacityBlockHorizon = 8 * 7 * 24 * time.Hour

// maxBlockOfferings is how many offerings one query answers at most
// ("we provide the details of up to 6 available blocks",
// capacity-blocks-purchase.html).
const maxBlockOfferings = 6

func validBlockHours(h int) bool {
	days := h / 24
	return h%24 == 0 && (days >= 1 && days <= 14 || days > 14 && days <= 182 && days%7 == 0)
}

func (s *server) blockTypes() []string { return sortedKeys(s.opts.CapacityBlockPrices) }

// CapacityBlockOfferings is the simulated schedule: the blocks of count
// instances of instanceType for hours in region whose start is in
// [from, to) and that end by until (zero: no bound), in start order.
func (s *server) CapacityBlockOfferings(region, instanceType string, count, hours int, from, to, until time.Time) []CapacityBlockOffering {
	types := s.blockTypes()
	ti := slices.Index(types, instanceType)
	if ti < 0 {
		return nil
	}
	price := s.opts.CapacityBlockPrices[instanceType]
	var out []CapacityBlockOffering
	first := from.UTC().Truncate(24 * time.Hour).Add(capacityBlockStart)
	for start := first; start.Before(to); start = start.Add(24 * time.Hour) {
		end := start.Add(time.Duration(hours) * time.Hour)
		if start.Before(from) || !until.IsZero() && end.After(until) {
			continue
		}
		day := int(start.Unix() / 86400)
		o := CapacityBlockOffering{InstanceType: instanceType, Count: count, Start: start, End: end, Hours: hours,
			UpfrontUSD: price * float64(count*hours), zoneIndex: day % 2, typeIndex: ti, day: day, durDays: hours / 24}
		o.Zone, o.ZoneID = zoneNames(region, region+string(rune('a'+o.zoneIndex)), "")
		o.ID = offeringID(region, o)
		out = append(out, o)
	}
	return out
}

// offeringID encodes an offering in 17 hex digits, as EC2's cb-… IDs
// are: the start day (17 bits), duration in days (8), count (7), zone
// index (4), instance type index (12) and a 20-bit check of the region
// and instance type, so that a purchase can rebuild it.
func offeringID(region string, o CapacityBlockOffering) string {
	v := uint64(o.day)<<31 | uint64(o.durDays)<<23 | uint64(o.Count)<<16 | uint64(o.zoneIndex)<<12 | uint64(o.typeIndex)
	return fmt.Sprintf("cb-%012x%05x", v, offeringCheck(region, o.InstanceType))
}

func offeringCheck(region, instanceType string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(region + "|" + instanceType))
	return h.Sum32() & 0xfffff
}

// offeringOf rebuilds an offering from its ID.
func (s *server) offeringOf(region, id string) (CapacityBlockOffering, bool) {
	hexPart, ok := strings.CutPrefix(id, "cb-")
	if !ok || len(hexPart) != 17 {
		return CapacityBlockOffering{}, false
	}
	v, err1 := strconv.ParseUint(hexPart[:12], 16, 64)
	check, err2 := strconv.ParseUint(hexPart[12:], 16, 32)
	types := s.blockTypes()
	ti := int(v & 0xfff)
	if err1 != nil || err2 != nil || bits.Len64(v) > 48 || ti >= len(types) || uint32(check) != offeringCheck(region, types[ti]) {
		return CapacityBlockOffering{}, false
	}
	day, durDays, count, zi := int(v>>31), int(v>>23&0xff), int(v>>16&0x7f), int(v>>12&0xf)
	start := time.Unix(int64(day)*86400, 0).UTC().Add(capacityBlockStart)
	for _, o := range s.CapacityBlockOfferings(region, types[ti], count, durDays*24, start, start.Add(time.Second), time.Time{}) {
		if o.zoneIndex == zi && o.ID == id {
			return o, true
		}
	}
	return CapacityBlockOffering{}, false
}

// dateParam reads an optional ISO 8601 timestamp parameter.
func dateParam(r *http.Request, name, param string) (time.Time, error) {
	v := r.Form.Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, invalidValue("Value (%s) for parameter %s is invalid.", v, param)
	}
	return t, nil
}

func (s *server) describeCapacityBlockOfferings(r *http.Request, region, reqID string) (any, error) {
	v, err := required(r, "InstanceType", "instanceType", "InstanceCount", "instanceCount", "CapacityDurationHours", "capacityDurationHours")
	if err != nil {
		return nil, err
	}
	count, err := strconv.Atoi(v[1])
	if err != nil || count < 1 || count > 64 {
		return nil, invalidValue("Value (%s) for parameter instanceCount is invalid. Capacity Blocks have 1 to 64 instances.", v[1])
	}
	hours, err := strconv.Atoi(v[2])
	if err != nil || !validBlockHours(hours) {
		return nil, invalidValue("Value (%s) for parameter capacityDurationHours is invalid. Capacity Blocks last 1 to 14 days, or up to 182 days in 7-day increments, in hours.", v[2])
	}
	from, err := dateParam(r, "StartDateRange", "startDateRange")
	if err != nil {
		return nil, err
	}
	until, err := dateParam(r, "EndDateRange", "endDateRange")
	if err != nil {
		return nil, err
	}
	limit, err := maxResults(r, 1, 1000)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if from.Before(now) {
		from = now
	}
	var items []xCapacityBlockOffering
	offers := s.CapacityBlockOfferings(region, v[0], count, hours, from, now.Add(capacityBlockHorizon), until)
	for _, o := range offers[:min(len(offers), maxBlockOfferings)] {
		items = append(items, xCapacityBlockOffering{ID: o.ID, InstanceType: o.InstanceType, Zone: o.Zone, InstanceCount: o.Count,
			StartDate: ec2Millis(o.Start), EndDate: ec2Millis(o.End), DurationHours: o.Hours,
			UpfrontFee: strconv.FormatFloat(o.UpfrontUSD, 'f', 2, 64), CurrencyCode: "USD", Tenancy: "default"})
	}
	page, next, err := pageOf(r, items, limit)
	if err != nil {
		return nil, err
	}
	out := reservationReply("DescribeCapacityBlockOfferings", reqID)
	out.Offerings, out.NextToken = &page, next
	return out, nil
}

func (s *server) purchaseCapacityBlock(r *http.Request, region, reqID string) (any, error) {
	v, err := required(r, "CapacityBlockOfferingId", "capacityBlockOfferingId", "InstancePlatform", "instancePlatform")
	if err != nil {
		return nil, err
	}
	if err := oneOf("instancePlatform", v[1], instancePlatforms); err != nil {
		return nil, err
	}
	o, ok := s.offeringOf(region, v[0])
	if !ok {
		return nil, invalidValue("The Capacity Block offering ID '%s' is not valid in %s.", v[0], region)
	}
	if !o.Start.After(s.now()) {
		return nil, invalidValue("The Capacity Block offering %s is no longer available: it started at %s.", o.ID, ec2Millis(o.Start))
	}
	tags, err := reservationTags(r)
	if err != nil {
		return nil, err
	}
	res := cloudsim.Reservation{Cloud: cloudName, ID: randomID("cr"), Region: region, Zone: o.ZoneID, InstanceType: o.InstanceType,
		Kind: "capacity_block", Count: o.Count, Start: o.Start, End: o.End,
		Attrs: map[string]string{attrPlatform: v[1], attrZoneName: o.Zone, attrTenancy: "default", attrMatch: "targeted",
			attrEndDateType: "limited", attrType: "capacity-block", attrOffering: o.ID}}
	for k, v := range tags {
		res.Attrs[tagPrefix+k] = v
	}
	got, err := s.e.PutReservation(res)
	if err != nil {
		return nil, reservationErr(err, res.ID)
	}
	out := reservationReply("PurchaseCapacityBlock", reqID)
	x := s.reservationXML(got)
	out.Reservation = &x
	return out, nil
}

// Node groups on reservations.

// nodegroupReservation is the reservation a node group launched from lt
// targets, and its engine capacity type: EKS's CAPACITY_BLOCK needs a
// launch template with InstanceMarketOptions.MarketType capacity-block
// and a CapacityReservationTarget ("Managed node groups with Capacity
// Blocks can only be created with custom launch templates", and the
// template's required data,
// https://docs.aws.amazon.com/eks/latest/userguide/capacity-blocks-mng.html);
// a capacity-block template with another capacity type is refused too.
// An ON_DEMAND node group whose template targets a reservation is
// "reserved" (its instances launch into the reservation).
func nodegroupReservation(ct string, lt *LaunchTemplate) (string, *cloud.Reservation, error) {
	var id, market string
	if lt != nil {
		id, market = lt.CapacityReservationID, lt.MarketType
	}
	switch {
	case ct == "capacity_block" && (market != "capacity-block" || id == ""):
		return "", nil, badParam("Capacity type CAPACITY_BLOCK requires a launch template with InstanceMarketOptions MarketType capacity-block and a CapacityReservationTarget naming the Capacity Block.")
	case ct != "capacity_block" && market == "capacity-block":
		return "", nil, badParam("A launch template with InstanceMarketOptions MarketType capacity-block requires capacityType CAPACITY_BLOCK.")
	case ct == "spot" && id != "":
		return "", nil, badParam("Capacity type SPOT cannot target a capacity reservation.")
	case id == "":
		return ct, nil, nil
	case ct == "on_demand":
		ct = "reserved"
	}
	return ct, &cloud.Reservation{ID: id}, nil
}

// eksCapacityType is the capacityType EKS reports for an engine
// capacity type ("reserved": ON_DEMAND into a reservation).
func eksCapacityType(ct string) string {
	if ct == "reserved" {
		return "ON_DEMAND"
	}
	return strings.ToUpper(ct)
}

// reservationIssue words the engine's reservation issues as EKS reports
// the Auto Scaling group's failed launches (code
// AsgInstanceLaunchFailures, the EC2 error in the message). EC2 answers a
// launch its targeted reservation cannot take — no free slot, another
// instance type or zone, ended — with ReservationCapacityExceeded, "The
// requested reservation does not have sufficient compatible and available
// capacity for this request." (RunInstances; e.g.
// hashicorp/terraform-provider-aws#35745 and #32458, the latter for an
// instance type the reservation is not for), and a reservation that does
// not exist with InvalidCapacityReservationId.NotFound. The engine's
// message follows, naming the reservation.
func reservationIssue(p cloudsim.Pool, is cloud.Issue) (eksIssue, bool) {
	var ec2 string
	switch {
	case is.Code == cloudsim.IssueReservationInvalid && strings.Contains(is.Message, "does not exist"):
		ec2 = fmt.Sprintf("InvalidCapacityReservationId.NotFound - The capacity reservation ID '%s' does not exist", reservationIDOf(p))
	case is.Code == cloudsim.IssueReservationExhausted, is.Code == cloudsim.IssueReservationExpired, is.Code == cloudsim.IssueReservationInvalid:
		ec2 = "ReservationCapacityExceeded - The requested reservation does not have sufficient compatible and available capacity for this request"
	default:
		return eksIssue{}, false
	}
	return eksIssue{Code: "AsgInstanceLaunchFailures", ResourceIDs: []string{asgName(p.Spec.Name, p.ID)},
		Message: fmt.Sprintf("Could not launch On-Demand Instances. %s (%s). Launching EC2 instance failed.", ec2, is.Message)}, true
}

func reservationIDOf(p cloudsim.Pool) string {
	if p.Spec.Reservation == nil {
		return ""
	}
	return p.Spec.Reservation.ID
}

type xMarketOptions struct {
	MarketType string `xml:"marketType"`
}

type xCapacityReservationSpec struct {
	Preference string `xml:"capacityReservationPreference,omitempty"`
	TargetID   string `xml:"capacityReservationTarget>capacityReservationId,omitempty"`
}

// launchTemplateCapacity reads a launch template's
// CapacityReservationSpecification (CapacityReservationPreference,
// CapacityReservationTarget.CapacityReservationId) and
// InstanceMarketOptions.MarketType, the LaunchTemplateData members of the
// API model (LaunchTemplate.checkCapacity checks them).
func launchTemplateCapacity(r *http.Request, lt *LaunchTemplate) {
	const spec = "LaunchTemplateData.CapacityReservationSpecification."
	lt.CapacityReservationID = r.Form.Get(spec + "CapacityReservationTarget.CapacityReservationId")
	lt.CapacityReservationPreference = r.Form.Get(spec + "CapacityReservationPreference")
	lt.MarketType = r.Form.Get("LaunchTemplateData.InstanceMarketOptions.MarketType")
}

// launchTemplateCapacityXML reports them back (DescribeLaunchTemplateVersions).
func launchTemplateCapacityXML(lt LaunchTemplate) (*xMarketOptions, *xCapacityReservationSpec) {
	var m *xMarketOptions
	var c *xCapacityReservationSpec
	if v := lt.MarketType; v != "" {
		m = &xMarketOptions{MarketType: v}
	}
	if lt.CapacityReservationID != "" || lt.CapacityReservationPreference != "" {
		c = &xCapacityReservationSpec{Preference: lt.CapacityReservationPreference, TargetID: lt.CapacityReservationID}
	}
	return m, c
}

// Availability zones.

func init() {
	networkActions["DescribeAvailabilityZones"] = (*server).describeAvailabilityZones
	ec2Actions["DescribeAvailabilityZones"] = true
}

// simZones is how many availability zones each simulated region has
// (named in order, as zoneNames maps them: a = az1, …).
const simZones = 3

type xAvailabilityZone struct {
	ZoneName           string `xml:"zoneName"`
	ZoneID             string `xml:"zoneId"`
	State              string `xml:"zoneState"`
	RegionName         string `xml:"regionName"`
	GroupName          string `xml:"groupName"`
	NetworkBorderGroup string `xml:"networkBorderGroup"`
	OptInStatus        string `xml:"optInStatus"`
	ZoneType           string `xml:"zoneType"`
}

type xAvailabilityZones struct {
	XMLName   xml.Name            `xml:"DescribeAvailabilityZonesResponse"`
	Xmlns     string              `xml:"xmlns,attr"`
	RequestID string              `xml:"requestId"`
	Zones     []xAvailabilityZone `xml:"availabilityZoneInfo>item"`
}

// describeAvailabilityZones lists the region's zones, which Capacity Block
// offerings name (availabilityZone) and clients map to zone IDs;
// ZoneName.N and ZoneId.N narrow the list.
func (s *server) describeAvailabilityZones(r *http.Request, region, reqID string) (any, error) {
	names, zoneIDs := formList(r, "ZoneName"), formList(r, "ZoneId")
	out := xAvailabilityZones{Xmlns: ec2NS, RequestID: reqID, Zones: []xAvailabilityZone{}}
	for i := range simZones {
		name, id := zoneNames(region, region+string(rune('a'+i)), "")
		if len(names) > 0 && !slices.Contains(names, name) || len(zoneIDs) > 0 && !slices.Contains(zoneIDs, id) {
			continue
		}
		out.Zones = append(out.Zones, xAvailabilityZone{ZoneName: name, ZoneID: id, State: "available", RegionName: region, GroupName: region,
			NetworkBorderGroup: region, OptInStatus: "opt-in-not-required", ZoneType: "availability-zone"})
	}
	return out, nil
}
