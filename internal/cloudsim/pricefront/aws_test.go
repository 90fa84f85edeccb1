package pricefront

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

func TestAWSZoneName(t *testing.T) {
	tests := []struct{ region, id, want string }{
		{"eu-central-1", "euc1-az1", "eu-central-1a"},
		{"eu-central-1", "euc1-az3", "eu-central-1c"},
		{"us-east-1", "use1-az6", "us-east-1f"},
		{"us-east-1", "use1-atl2-az1", "us-east-1-atl-2a"},
		{"us-west-2", "usw2-lax1-az2", "us-west-2-lax-1b"},
		{"us-west-2", "not-a-zone", "not-a-zone"},
		{"us-west-2", "usw2-az0", "usw2-az0"},
	}
	for _, tt := range tests {
		if got := AWSZoneName(tt.region, tt.id); got != tt.want {
			t.Errorf("AWSZoneName(%q, %q) = %q, want %q", tt.region, tt.id, got, tt.want)
		}
	}
}

// TestAWSZoneNamesUnique checks the default mapping over the embedded
// catalog: within a region no two zone IDs share a name, so names map
// back to IDs.
func TestAWSZoneNamesUnique(t *testing.T) {
	a := NewAWS(AWSOptions{})
	for region, zones := range a.zones {
		seen := map[string]string{}
		for _, z := range zones {
			if other, ok := seen[z.name]; ok {
				t.Fatalf("%s: %s and %s are both %s", region, other, z.id, z.name)
			}
			seen[z.name] = z.id
		}
	}
	if len(a.zones) == 0 {
		t.Fatal("no zones")
	}
}

// post sends a JSON 1.1 request (target) or an EC2 query (form) signed
// for region, the way the SDK shapes them.
func post(t *testing.T, srv *httptest.Server, region, target string, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDTEST/20261125/"+region+"/svc/aws4_request, SignedHeaders=host, Signature=0")
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	} else {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(data)
}

// jsonCode is the error code of an awsJson1_1 reply.
func jsonCode(t *testing.T, body string) string {
	t.Helper()
	var e struct {
		Type string `json:"__type"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return e.Type
}

func ec2Code(t *testing.T, body string) string {
	t.Helper()
	var e ec2ErrorReply
	if err := xml.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return e.Code
}

func TestAWSFaults(t *testing.T) {
	calls := []struct {
		api, target, body string
		throttle          int
		throttleCode      string
		failCode          string
	}{
		{AWSGetProducts, "AWSPriceListService.GetProducts", `{"ServiceCode":"AmazonEC2"}`, 400, "ThrottlingException", "InternalFailure"},
		{AWSGetServiceQuota, "ServiceQuotasV20190624.GetServiceQuota", `{"ServiceCode":"ec2","QuotaCode":"L-417A185B"}`, 400, "TooManyRequestsException", "InternalFailure"},
		{AWSDescribeSpotPriceHistory, "", "Action=DescribeSpotPriceHistory&Version=2016-11-15", 503, "RequestLimitExceeded", "InternalError"},
		{AWSDescribeInstanceTypeOfferings, "", "Action=DescribeInstanceTypeOfferings&Version=2016-11-15", 503, "RequestLimitExceeded", "InternalError"},
	}
	for _, c := range calls {
		t.Run(c.api, func(t *testing.T) {
			a := NewAWS(AWSOptions{ThrottleFirst: map[string]int64{c.api: 2}})
			srv := httptest.NewServer(a)
			defer srv.Close()
			code := func(body string) string {
				if c.target != "" {
					return jsonCode(t, body)
				}
				return ec2Code(t, body)
			}
			for range 2 {
				if st, _, body := post(t, srv, "eu-central-1", c.target, c.body); st != c.throttle || code(body) != c.throttleCode {
					t.Fatalf("throttled: %d %s", st, body)
				}
			}
			if st, _, body := post(t, srv, "eu-central-1", c.target, c.body); st != http.StatusOK {
				t.Fatalf("after the throttling: %d %s", st, body)
			}
			a.SetFail(c.api, true)
			if st, _, body := post(t, srv, "eu-central-1", c.target, c.body); st != http.StatusInternalServerError || code(body) != c.failCode {
				t.Fatalf("failing: %d %s", st, body)
			}
			if a.Requests(c.api) != 4 || a.TotalRequests() != 4 {
				t.Fatalf("counted %v", a.RequestCounts())
			}
		})
	}
}

func TestAWSServiceQuotas(t *testing.T) {
	a := NewAWS(AWSOptions{QuotaVCPUs: map[string]float64{"L-417A185B": 384, "us-west-2/L-417A185B": 1152}})
	srv := httptest.NewServer(a)
	defer srv.Close()
	get := func(region, code string) (int, string) {
		st, _, body := post(t, srv, region, "ServiceQuotasV20190624.GetServiceQuota", `{"ServiceCode":"ec2","QuotaCode":"`+code+`"}`)
		return st, body
	}
	for _, tt := range []struct {
		region, code string
		want         float64
	}{
		{"eu-central-1", "L-417A185B", 384},
		{"us-west-2", "L-417A185B", 1152},
		{"us-west-2", "L-DB2E81BA", AWSDefaultQuotaVCPUs},
	} {
		st, body := get(tt.region, tt.code)
		var out struct{ Quota awsQuota }
		if err := json.Unmarshal([]byte(body), &out); err != nil || st != 200 || out.Quota.Value != tt.want ||
			out.Quota.QuotaName != AWSQuotaNames[tt.code] || !strings.Contains(out.Quota.QuotaArn, ":"+tt.region+":") {
			t.Fatalf("%s %s: %d %s", tt.region, tt.code, st, body)
		}
	}
	if st, body := get("eu-central-1", "L-1216C47A"); st != 400 || jsonCode(t, body) != "NoSuchResourceException" {
		t.Fatalf("unknown quota: %d %s", st, body)
	}
	st, _, body := post(t, srv, "eu-central-1", "ServiceQuotasV20190624.ListServiceQuotas", `{"ServiceCode":"ec2"}`)
	var list struct{ Quotas []awsQuota }
	if err := json.Unmarshal([]byte(body), &list); err != nil || st != 200 || len(list.Quotas) != len(AWSQuotaNames) {
		t.Fatalf("list: %d %s", st, body)
	}
}

// TestAWSGetProductsPages pages a filtered query two products at a time
// and checks the documents are JSON strings with the filtered
// attributes.
func TestAWSGetProductsPages(t *testing.T) {
	a := NewAWS(AWSOptions{PageSize: 2, Adjust: func(o planner.Offer) float64 { return 7 }})
	srv := httptest.NewServer(a)
	defer srv.Close()
	const filters = `"Filters":[{"Type":"TERM_MATCH","Field":"instanceType","Value":"p5.48xlarge"},` +
		`{"Type":"TERM_MATCH","Field":"operatingSystem","Value":"Linux"},{"Type":"TERM_MATCH","Field":"tenancy","Value":"Shared"},` +
		`{"Type":"TERM_MATCH","Field":"preInstalledSw","Value":"NA"},{"Type":"TERM_MATCH","Field":"capacitystatus","Value":"Used"}]`
	token, regions := "", map[string]bool{}
	for page := 0; ; page++ {
		body := `{"ServiceCode":"AmazonEC2",` + filters
		if token != "" {
			body += `,"NextToken":"` + token + `"`
		}
		st, _, reply := post(t, srv, "us-east-1", "AWSPriceListService.GetProducts", body+"}")
		var out struct {
			NextToken *string
			PriceList []string
		}
		if err := json.Unmarshal([]byte(reply), &out); err != nil || st != 200 || len(out.PriceList) > 2 {
			t.Fatalf("page %d: %d %s", page, st, reply)
		}
		for _, doc := range out.PriceList {
			var d struct {
				Product struct{ Attributes map[string]string }
				Terms   struct {
					OnDemand map[string]struct {
						PriceDimensions map[string]struct {
							Unit         string
							PricePerUnit map[string]string
						}
					}
				}
			}
			if err := json.Unmarshal([]byte(doc), &d); err != nil {
				t.Fatal(err)
			}
			at := d.Product.Attributes
			if at["instanceType"] != "p5.48xlarge" || at["operatingSystem"] != "Linux" || at["capacitystatus"] != "Used" || at["tenancy"] != "Shared" {
				t.Fatalf("filtered product %v", at)
			}
			regions[at["regionCode"]] = true
			for _, term := range d.Terms.OnDemand {
				for _, dim := range term.PriceDimensions {
					if dim.Unit != "Hrs" || dim.PricePerUnit["USD"] != "7.0000000000" {
						t.Fatalf("dimension %+v", dim)
					}
				}
			}
		}
		if out.NextToken == nil {
			break
		}
		token = *out.NextToken
	}
	if !regions["us-east-1"] || !regions["us-west-2"] {
		t.Fatalf("regions %v", regions)
	}
	if st, _, reply := post(t, srv, "us-east-1", "AWSPriceListService.GetProducts", `{"ServiceCode":"AmazonEC2","NextToken":"bogus"}`); st != 400 ||
		jsonCode(t, reply) != "InvalidNextTokenException" {
		t.Fatalf("bad token: %d %s", st, reply)
	}
}

// TestAWSEC2Replies checks the zone name ↔ ID consistency of the EC2
// replies: spot prices name zones DescribeAvailabilityZones lists, and
// offerings by zone ID leave out Unoffered.
func TestAWSEC2Replies(t *testing.T) {
	a := NewAWS(AWSOptions{Unoffered: []string{"euc1-az1/g5.xlarge"}, ZoneNames: map[string]string{"euc1-az1": "eu-central-1b", "euc1-az2": "eu-central-1a"}})
	srv := httptest.NewServer(a)
	defer srv.Close()
	form := func(v url.Values) string { v.Set("Version", "2016-11-15"); return v.Encode() }

	_, _, body := post(t, srv, "eu-central-1", "", form(url.Values{"Action": {"DescribeAvailabilityZones"}}))
	var zones ec2AvailabilityZonesReply
	if err := xml.Unmarshal([]byte(body), &zones); err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, z := range zones.Zones {
		ids[z.ZoneName] = z.ZoneID
	}
	if ids["eu-central-1b"] != "euc1-az1" || ids["eu-central-1a"] != "euc1-az2" || ids["eu-central-1c"] != "euc1-az3" {
		t.Fatalf("zones %v", ids)
	}

	_, _, body = post(t, srv, "eu-central-1", "", form(url.Values{"Action": {"DescribeSpotPriceHistory"},
		"InstanceType.1": {"g5.xlarge"}, "ProductDescription.1": {"Linux/UNIX"}, "StartTime": {"2026-11-25T12:00:00Z"}}))
	var spot ec2SpotPriceHistoryReply
	if err := xml.Unmarshal([]byte(body), &spot); err != nil || len(spot.Items) == 0 {
		t.Fatalf("%v: %s", err, body)
	}
	for _, it := range spot.Items {
		if ids[it.AvailabilityZone] == "" || it.ProductDescription != "Linux/UNIX" || it.InstanceType != "g5.xlarge" ||
			it.Timestamp >= "2026-11-25T12:00:00.000Z" || it.Timestamp < "2026-11-25T10:30:00.000Z" {
			t.Fatalf("spot item %+v", it)
		}
	}

	_, _, body = post(t, srv, "eu-central-1", "", form(url.Values{"Action": {"DescribeInstanceTypeOfferings"},
		"LocationType": {"availability-zone-id"}, "Filter.1.Name": {"instance-type"}, "Filter.1.Value.1": {"g5.*"}}))
	var offs ec2InstanceTypeOfferingsReply
	if err := xml.Unmarshal([]byte(body), &offs); err != nil || len(offs.Offerings) == 0 {
		t.Fatalf("%v: %s", err, body)
	}
	for _, o := range offs.Offerings {
		if o.Location == "euc1-az1" && o.InstanceType == "g5.xlarge" || !strings.HasPrefix(o.InstanceType, "g5.") || o.LocationType != "availability-zone-id" {
			t.Fatalf("offering %+v", o)
		}
	}

	_, _, body = post(t, srv, "us-east-1", "", form(url.Values{"Action": {"GetSpotPlacementScores"}, "InstanceType.1": {"g5.xlarge"},
		"TargetCapacity": {"1"}, "TargetCapacityUnitType": {"units"}, "SingleAvailabilityZone": {"true"}, "RegionName.1": {"eu-central-1"}}))
	var scores ec2SpotPlacementScoresReply
	if err := xml.Unmarshal([]byte(body), &scores); err != nil || len(scores.Scores) == 0 {
		t.Fatalf("%v: %s", err, body)
	}
	for i, s := range scores.Scores {
		if s.Region != "eu-central-1" || s.Score != AWSDefaultSpotScore(s.AvailabilityZoneID, "g5.xlarge") || i > 0 && s.Score > scores.Scores[i-1].Score {
			t.Fatalf("scores %+v", scores.Scores)
		}
	}
	if st, _, body := post(t, srv, "us-east-1", "", form(url.Values{"Action": {"GetSpotPlacementScores"}, "InstanceType.1": {"g5.xlarge"}})); st != 400 ||
		ec2Code(t, body) != "MissingParameter" {
		t.Fatalf("no target capacity: %d %s", st, body)
	}
	many := url.Values{"Action": {"GetSpotPlacementScores"}, "InstanceType.1": {"g5.xlarge"}, "TargetCapacity": {"1"}}
	for i := 1; i <= 11; i++ {
		many.Set(fmt.Sprintf("RegionName.%d", i), fmt.Sprintf("r%d", i))
	}
	if st, _, body := post(t, srv, "us-east-1", "", form(many)); st != 400 || ec2Code(t, body) != "InvalidParameterValue" {
		t.Fatalf("11 regions: %d %s", st, body)
	}
}
