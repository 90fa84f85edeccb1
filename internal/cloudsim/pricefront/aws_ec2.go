package pricefront

import (
	"encoding/xml"
	"fmt"
	"hash/fnv"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

const awsEC2NS = "http://ec2.amazonaws.com/doc/2016-11-15/"

// ec2Fault is an EC2 error reply: <Response><Errors><Error><Code>…
type ec2Fault struct {
	status        int
	code, message string
}

type ec2ErrorReply struct {
	XMLName   xml.Name `xml:"Response"`
	Code      string   `xml:"Errors>Error>Code"`
	Message   string   `xml:"Errors>Error>Message"`
	RequestID string   `xml:"RequestID"`
}

func writeEC2(w http.ResponseWriter, status int, v any) {
	data, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(data)
}

// ec2List returns the values of a flattened EC2 list parameter (Name.1,
// Name.2, …) in index order.
func ec2List(r *http.Request, name string) []string {
	type kv struct {
		i int
		v string
	}
	var items []kv
	for k, vs := range r.Form {
		rest, ok := strings.CutPrefix(k, name+".")
		if !ok || len(vs) == 0 {
			continue
		}
		if i, err := strconv.Atoi(rest); err == nil {
			items = append(items, kv{i, vs[0]})
		}
	}
	slices.SortFunc(items, func(a, b kv) int { return a.i - b.i })
	out := make([]string, 0, len(items))
	for _, it := range items {
		out = append(out, it.v)
	}
	return out
}

// ec2Filters returns Filter.N.Name → Filter.N.Value.M.
func ec2Filters(r *http.Request) map[string][]string {
	out := map[string][]string{}
	for i := 1; ; i++ {
		name := r.Form.Get(fmt.Sprintf("Filter.%d.Name", i))
		if name == "" {
			return out
		}
		out[name] = append(out[name], ec2List(r, fmt.Sprintf("Filter.%d.Value", i))...)
	}
}

// matchAny says whether v matches one of the patterns (EC2 filter
// wildcards * and ?); true when there are none.
func matchAny(v string, patterns []string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if ok, _ := path.Match(p, v); ok {
			return true
		}
	}
	return false
}

func (a *AWS) serveEC2(w http.ResponseWriter, r *http.Request, region string) {
	action := r.Form.Get("Action")
	f, reqID := a.admit(action)
	var (
		v     any
		fault *ec2Fault
	)
	switch {
	case f == faultThrottle:
		fault = &ec2Fault{http.StatusServiceUnavailable, "RequestLimitExceeded", "Request limit exceeded."}
	case f == faultFail:
		fault = &ec2Fault{http.StatusInternalServerError, "InternalError", "An internal error has occurred."}
	case action == AWSDescribeSpotPriceHistory:
		v, fault = a.describeSpotPriceHistory(r, region, reqID)
	case action == AWSDescribeAvailabilityZones:
		v, fault = a.describeAvailabilityZones(r, region, reqID)
	case action == AWSDescribeInstanceTypeOfferings:
		v, fault = a.describeInstanceTypeOfferings(r, region, reqID)
	case action == AWSGetSpotPlacementScores:
		v, fault = a.getSpotPlacementScores(r, reqID)
	default:
		fault = &ec2Fault{http.StatusBadRequest, "InvalidAction", fmt.Sprintf("The action %s is not valid for this web service.", action)}
	}
	if fault != nil {
		writeEC2(w, fault.status, ec2ErrorReply{Code: fault.code, Message: fault.message, RequestID: reqID})
		return
	}
	writeEC2(w, http.StatusOK, v)
}

// pageOf reads MaxResults and NextToken of an EC2 request.
func (a *AWS) pageOf(r *http.Request, api string, minResults, maxResults int) (offset, size int, fault *ec2Fault) {
	n := 0
	if s := r.Form.Get("MaxResults"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < minResults || n > maxResults {
			return 0, 0, &ec2Fault{http.StatusBadRequest, "InvalidParameterValue",
				fmt.Sprintf("Value (%s) for parameter maxResults is invalid. Expecting a value between %d and %d.", s, minResults, maxResults)}
		}
	}
	offset, ok := parsePageToken(api, r.Form.Get("NextToken"))
	if !ok {
		return 0, 0, &ec2Fault{http.StatusBadRequest, "InvalidParameterValue", "The token is invalid."}
	}
	return offset, a.pageSize(n, maxResults), nil
}

type ec2SpotPrice struct {
	AvailabilityZone   string `xml:"availabilityZone"`
	AvailabilityZoneID string `xml:"availabilityZoneId,omitempty"`
	InstanceType       string `xml:"instanceType"`
	ProductDescription string `xml:"productDescription"`
	SpotPrice          string `xml:"spotPrice"`
	Timestamp          string `xml:"timestamp"`
}

type ec2SpotPriceHistoryReply struct {
	XMLName   xml.Name       `xml:"DescribeSpotPriceHistoryResponse"`
	Xmlns     string         `xml:"xmlns,attr"`
	RequestID string         `xml:"requestId"`
	Items     []ec2SpotPrice `xml:"spotPriceHistorySet>item"`
	NextToken string         `xml:"nextToken,omitempty"`
}

// formatSpotPrice writes six decimals like EC2 ("0.154900"), more when
// the price needs them.
func formatSpotPrice(p float64) string {
	s := strconv.FormatFloat(p, 'f', 6, 64)
	if v, _ := strconv.ParseFloat(s, 64); v != p {
		s = strconv.FormatFloat(p, 'f', -1, 64)
	}
	return s
}

func hash32(s string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(s))
	return h.Sum32()
}

// describeSpotPriceHistory answers, for each spot offer of the region,
// the price effective at StartTime (now when absent) in "Linux/UNIX" and
// in "Windows" (the Linux price plus $0.046 per vCPU-hour), stamped with
// its last change: 1 to 89 minutes (a hash of zone and instance type)
// before StartTime.
func (a *AWS) describeSpotPriceHistory(r *http.Request, region, reqID string) (any, *ec2Fault) {
	offset, size, fault := a.pageOf(r, AWSDescribeSpotPriceHistory, 1, 1000)
	if fault != nil {
		return nil, fault
	}
	at := a.opts.Now().UTC()
	if s := r.Form.Get("StartTime"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return nil, &ec2Fault{http.StatusBadRequest, "InvalidParameterValue", "Invalid value for StartTime: " + s}
		}
		at = t.UTC()
	}
	types, descs := ec2List(r, "InstanceType"), ec2List(r, "ProductDescription")
	az, azID := r.Form.Get("AvailabilityZone"), r.Form.Get("AvailabilityZoneId")
	var items []ec2SpotPrice
	for _, e := range a.spot[region] {
		name := a.zoneName(region, e.zoneID)
		if len(types) > 0 && !slices.Contains(types, e.instanceType) || az != "" && az != name || azID != "" && azID != e.zoneID {
			continue
		}
		stamp := at.Truncate(time.Minute).Add(-time.Duration(1+hash32(e.zoneID+"/"+e.instanceType)%89) * time.Minute)
		for _, d := range []string{"Linux/UNIX", "Windows"} {
			if len(descs) > 0 && !slices.Contains(descs, d) {
				continue
			}
			p := e.price
			if d == "Windows" {
				p += 0.046 * float64(a.shapes[e.instanceType].VCPUs)
			}
			it := ec2SpotPrice{AvailabilityZone: name, InstanceType: e.instanceType, ProductDescription: d,
				SpotPrice: formatSpotPrice(p), Timestamp: stamp.Format("2006-01-02T15:04:05.000Z")}
			if a.opts.SpotPriceZoneIDs {
				it.AvailabilityZoneID = e.zoneID
			}
			items = append(items, it)
		}
	}
	items, next := page(AWSDescribeSpotPriceHistory, items, offset, size)
	return ec2SpotPriceHistoryReply{Xmlns: awsEC2NS, RequestID: reqID, Items: items, NextToken: next}, nil
}

type ec2AvailabilityZone struct {
	ZoneName           string `xml:"zoneName"`
	ZoneID             string `xml:"zoneId"`
	ZoneState          string `xml:"zoneState"`
	RegionName         string `xml:"regionName"`
	GroupName          string `xml:"groupName"`
	NetworkBorderGroup string `xml:"networkBorderGroup"`
	OptInStatus        string `xml:"optInStatus"`
	ZoneType           string `xml:"zoneType"`
	Messages           string `xml:"messageSet"`
}

type ec2AvailabilityZonesReply struct {
	XMLName   xml.Name              `xml:"DescribeAvailabilityZonesResponse"`
	Xmlns     string                `xml:"xmlns,attr"`
	RequestID string                `xml:"requestId"`
	Zones     []ec2AvailabilityZone `xml:"availabilityZoneInfo>item"`
}

// describeAvailabilityZones lists the region's zones (those of the
// catalog), by name; ZoneName.N and ZoneId.N narrow the list.
func (a *AWS) describeAvailabilityZones(r *http.Request, region, reqID string) (any, *ec2Fault) {
	names, ids := ec2List(r, "ZoneName"), ec2List(r, "ZoneId")
	out := ec2AvailabilityZonesReply{Xmlns: awsEC2NS, RequestID: reqID}
	for _, z := range a.zones[region] {
		if len(names) > 0 && !slices.Contains(names, z.name) || len(ids) > 0 && !slices.Contains(ids, z.id) {
			continue
		}
		out.Zones = append(out.Zones, ec2AvailabilityZone{ZoneName: z.name, ZoneID: z.id, ZoneState: "available", RegionName: region,
			GroupName: region, NetworkBorderGroup: region, OptInStatus: "opt-in-not-required", ZoneType: "availability-zone"})
	}
	return out, nil
}

type ec2InstanceTypeOffering struct {
	InstanceType string `xml:"instanceType"`
	LocationType string `xml:"locationType"`
	Location     string `xml:"location"`
}

type ec2InstanceTypeOfferingsReply struct {
	XMLName   xml.Name                  `xml:"DescribeInstanceTypeOfferingsResponse"`
	Xmlns     string                    `xml:"xmlns,attr"`
	RequestID string                    `xml:"requestId"`
	Offerings []ec2InstanceTypeOffering `xml:"instanceTypeOfferingSet>item"`
	NextToken string                    `xml:"nextToken,omitempty"`
}

// describeInstanceTypeOfferings lists where the region's instance types
// are offered, by LocationType (region, availability-zone or
// availability-zone-id); filters instance-type and location (with
// wildcards) narrow the list.
func (a *AWS) describeInstanceTypeOfferings(r *http.Request, region, reqID string) (any, *ec2Fault) {
	offset, size, fault := a.pageOf(r, AWSDescribeInstanceTypeOfferings, 5, 1000)
	if fault != nil {
		return nil, fault
	}
	lt := r.Form.Get("LocationType")
	if lt == "" {
		lt = "region"
	}
	if lt != "region" && lt != "availability-zone" && lt != "availability-zone-id" {
		return nil, &ec2Fault{http.StatusBadRequest, "InvalidParameterValue", "Invalid value for LocationType: " + lt}
	}
	filters := ec2Filters(r)
	var items []ec2InstanceTypeOffering
	seen := map[string]bool{}
	for _, o := range a.offered[region] {
		loc := region
		switch lt {
		case "availability-zone":
			loc = a.zoneName(region, o.zoneID)
		case "availability-zone-id":
			loc = o.zoneID
		}
		if seen[loc+"/"+o.instanceType] || !matchAny(o.instanceType, filters["instance-type"]) || !matchAny(loc, filters["location"]) {
			continue
		}
		seen[loc+"/"+o.instanceType] = true
		items = append(items, ec2InstanceTypeOffering{InstanceType: o.instanceType, LocationType: lt, Location: loc})
	}
	slices.SortFunc(items, func(x, y ec2InstanceTypeOffering) int {
		return strings.Compare(x.Location+"/"+x.InstanceType, y.Location+"/"+y.InstanceType)
	})
	items, next := page(AWSDescribeInstanceTypeOfferings, items, offset, size)
	return ec2InstanceTypeOfferingsReply{Xmlns: awsEC2NS, RequestID: reqID, Offerings: items, NextToken: next}, nil
}

// AWSDefaultSpotScore is the simulator's spot placement score of an
// instance type in a zone that AWSOptions.SpotScores does not set:
// 1 + FNV-1a("zoneID/instanceType") mod 10.
func AWSDefaultSpotScore(zoneID, instanceType string) int {
	return 1 + int(hash32(zoneID+"/"+instanceType)%10)
}

func (a *AWS) spotScore(zoneID, instanceType string) int {
	if s, ok := a.opts.SpotScores[zoneID+"/"+instanceType]; ok {
		return s
	}
	return AWSDefaultSpotScore(zoneID, instanceType)
}

type ec2SpotPlacementScore struct {
	Region             string `xml:"region"`
	AvailabilityZoneID string `xml:"availabilityZoneId,omitempty"`
	Score              int    `xml:"score"`
}

type ec2SpotPlacementScoresReply struct {
	XMLName   xml.Name                `xml:"GetSpotPlacementScoresResponse"`
	Xmlns     string                  `xml:"xmlns,attr"`
	RequestID string                  `xml:"requestId"`
	Scores    []ec2SpotPlacementScore `xml:"spotPlacementScoreSet>item"`
	NextToken string                  `xml:"nextToken,omitempty"`
}

// getSpotPlacementScores scores, in each of RegionName.N (at most 10;
// every region with spot offers when none), each zone (SingleAvailabilityZone) or the
// region where one of InstanceType.N has a spot offer in the catalog:
// the best score of those instance types there (a region's is its best
// zone's), highest first as EC2 orders them. Zones without a spot offer
// of the types are not scored. TargetCapacity is required but does not
// change the score.
func (a *AWS) getSpotPlacementScores(r *http.Request, reqID string) (any, *ec2Fault) {
	offset, size, fault := a.pageOf(r, AWSGetSpotPlacementScores, 10, 1000)
	if fault != nil {
		return nil, fault
	}
	if n, err := strconv.Atoi(r.Form.Get("TargetCapacity")); err != nil || n < 1 {
		return nil, &ec2Fault{http.StatusBadRequest, "MissingParameter", "The request must contain the parameter TargetCapacity"}
	}
	types := ec2List(r, "InstanceType")
	if len(types) == 0 {
		return nil, &ec2Fault{http.StatusBadRequest, "InvalidParameterValue", "Specify InstanceTypes or InstanceRequirementsWithMetadata."}
	}
	single := r.Form.Get("SingleAvailabilityZone") == "true"
	regions := ec2List(r, "RegionName")
	if len(regions) > 10 {
		// EC2 API reference, GetSpotPlacementScores RegionNames: "Maximum of 10 items".
		return nil, &ec2Fault{http.StatusBadRequest, "InvalidParameterValue",
			fmt.Sprintf("The parameter RegionNames has %d items; the maximum is 10.", len(regions))}
	}
	if len(regions) == 0 {
		for region := range a.spot {
			regions = append(regions, region)
		}
	}
	slices.Sort(regions)
	var scores []ec2SpotPlacementScore
	for _, region := range slices.Compact(regions) {
		best := 0
		for _, z := range a.zones[region] {
			s := 0
			for _, t := range types {
				if a.spotTypes[z.id][t] {
					s = max(s, a.spotScore(z.id, t))
				}
			}
			if s == 0 {
				continue
			}
			if single {
				scores = append(scores, ec2SpotPlacementScore{Region: region, AvailabilityZoneID: z.id, Score: s})
			}
			best = max(best, s)
		}
		if !single && best > 0 {
			scores = append(scores, ec2SpotPlacementScore{Region: region, Score: best})
		}
	}
	slices.SortStableFunc(scores, func(x, y ec2SpotPlacementScore) int { return y.Score - x.Score })
	scores, next := page(AWSGetSpotPlacementScores, scores, offset, size)
	return ec2SpotPlacementScoresReply{Xmlns: awsEC2NS, RequestID: reqID, Scores: scores, NextToken: next}, nil
}
