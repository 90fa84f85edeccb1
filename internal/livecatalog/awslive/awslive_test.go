package awslive

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/pricefront"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/livecatalog"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

var awsTestNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// awsTestRegions are the regions most tests ask about.
var awsTestRegions = []string{"eu-central-1", "us-east-1", "us-west-2"}

// awsTestEnv keeps the SDK away from this machine's AWS configuration and
// from the instance metadata service: nothing leaves 127.0.0.1.
func awsTestEnv(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_PROFILE", "")
}

// awsTestConfig points every service at srv with static credentials and
// short retry backoffs (the SDK's own HTTP client: Go never proxies
// loopback addresses).
func awsTestConfig(srv *httptest.Server, regions []string) Config {
	return Config{
		Regions:     regions,
		Endpoints:   livecatalog.AWSEndpoints{Pricing: srv.URL, EC2: srv.URL, ServiceQuotas: srv.URL},
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "SECRET", ""),
		Now:         func() time.Time { return awsTestNow },
		MaxBackoff:  5 * time.Millisecond,
	}
}

// newAWSSim starts the simulated AWS (prices adjusted by awsAdjust unless
// opts says otherwise) and a config asking it about regions.
func newAWSSim(t *testing.T, opts pricefront.AWSOptions, regions ...string) (*pricefront.AWS, Config) {
	t.Helper()
	awsTestEnv(t)
	if opts.Adjust == nil {
		opts.Adjust = awsAdjust
	}
	sim := pricefront.NewAWS(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return sim, awsTestConfig(srv, regions)
}

// awsAdjust makes the simulator's prices differ from the catalog's, so
// that a test can tell which one was used: on-demand +25%, spot −50%.
func awsAdjust(o planner.Offer) float64 {
	f := 1.25
	if o.CapacityType == planner.Spot {
		f = 0.5
	}
	return math.Round(o.PriceUSDHour*f*1e6) / 1e6
}

// awsExpected are the adjusted prices of the catalog's AWS offers in
// regions: on-demand by region/type (lowest over zones, as the Price List
// has one price per region), spot by region/zone/type.
func awsExpected(regions []string) (onDemand, spot map[string]float64) {
	onDemand, spot = map[string]float64{}, map[string]float64{}
	for _, o := range planner.Embedded().Offers {
		if o.Cloud != "aws" || !slices.Contains(regions, o.Region) {
			continue
		}
		p := awsAdjust(o)
		if o.CapacityType == planner.Spot {
			spot[o.Region+"/"+o.Zone+"/"+o.InstanceType] = p
			continue
		}
		k := o.Region + "/" + o.InstanceType
		if cur, ok := onDemand[k]; !ok || p < cur {
			onDemand[k] = p
		}
	}
	return onDemand, spot
}

// awsCountRegions counts, per instance type, the catalog regions with an
// offer of capacity type ct (what one GetProducts query returns).
func awsCountRegions(ct planner.CapacityType) map[string]int {
	seen, n := map[string]bool{}, map[string]int{}
	for _, o := range planner.Embedded().Offers {
		if o.Cloud == "aws" && o.CapacityType == ct && !seen[o.Region+"/"+o.InstanceType] {
			seen[o.Region+"/"+o.InstanceType] = true
			n[o.InstanceType]++
		}
	}
	return n
}

func ceilDiv(a, b int) int { return max(1, (a+b-1)/b) }

func TestAWSPricingFollowsPagesAtSimulatorPrices(t *testing.T) {
	sim, cfg := newAWSSim(t, pricefront.AWSOptions{PageSize: 2}, awsTestRegions...)
	src := &Pricing{Config: cfg}
	prices, err := src.Prices(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want, _ := awsExpected(awsTestRegions)
	if len(prices) != len(want) {
		t.Fatalf("%d prices, want %d", len(prices), len(want))
	}
	for i, p := range prices {
		if p.Cloud != "aws" || p.CapacityType != planner.OnDemand || want[p.Region+"/"+p.InstanceType] != p.USDPerHour {
			t.Fatalf("price %+v, want %v", p, want[p.Region+"/"+p.InstanceType])
		}
		if i > 0 && prices[i-1].Region+"/"+prices[i-1].InstanceType >= p.Region+"/"+p.InstanceType {
			t.Fatalf("prices not sorted at %d", i)
		}
	}
	// One query per instance type; each answers one product per catalog
	// region (the filters drop the Windows, Dedicated, SQL and capacity
	// reservation products), two per page.
	regions, pages := awsCountRegions(planner.OnDemand), 0
	for _, typ := range cfg.view(nil).types {
		pages += ceilDiv(regions[typ], 2)
	}
	if got := sim.Requests(pricefront.AWSGetProducts); got != int64(pages) || src.Calls() != int64(pages) {
		t.Fatalf("%d GetProducts requests, %d calls counted, want %d pages", got, src.Calls(), pages)
	}
}

func TestAWSSpotPricesPerZoneAndRegion(t *testing.T) {
	sim, cfg := newAWSSim(t, pricefront.AWSOptions{PageSize: 2}, awsTestRegions...)
	src := &SpotPrices{Config: cfg}
	zp, err := src.ZonePrices(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_, want := awsExpected(awsTestRegions)
	if len(zp) != len(want) {
		t.Fatalf("%d zone prices, want %d", len(zp), len(want))
	}
	lowest := map[string]float64{}
	for _, p := range zp {
		k := p.Region + "/" + p.Zone + "/" + p.InstanceType
		if want[k] != p.USDPerHour || p.Since.IsZero() || !p.Since.Before(awsTestNow) {
			t.Fatalf("zone price %+v, want %v", p, want[k])
		}
		if l, ok := lowest[p.Region+"/"+p.InstanceType]; !ok || p.USDPerHour < l {
			lowest[p.Region+"/"+p.InstanceType] = p.USDPerHour
		}
	}
	// Every spot entry of a region (Linux/UNIX only), two per page, and
	// one DescribeAvailabilityZones per region for the names.
	pages := 0
	for _, r := range awsTestRegions {
		n := 0
		for k := range want {
			if strings.HasPrefix(k, r+"/") {
				n++
			}
		}
		pages += ceilDiv(n, 2)
	}
	if got := sim.Requests(pricefront.AWSDescribeSpotPriceHistory); got != int64(pages) {
		t.Fatalf("%d DescribeSpotPriceHistory requests, want %d", got, pages)
	}
	if got := sim.Requests(pricefront.AWSDescribeAvailabilityZones); got != int64(len(awsTestRegions)) {
		t.Fatalf("%d DescribeAvailabilityZones requests, want %d", got, len(awsTestRegions))
	}

	prices, err := src.Prices(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(prices) != len(zp) {
		t.Fatalf("%d zone prices from Prices, want %d", len(prices), len(zp))
	}
	for i, p := range prices {
		if p.CapacityType != planner.Spot || p.Zone != zp[i].Zone || p.USDPerHour != zp[i].USDPerHour {
			t.Fatalf("price %+v, want the zone price %+v", p, zp[i])
		}
	}
	if len(lowest) == 0 {
		t.Fatal("no regions")
	}
}

// TestAWSSpotZoneNames proves spot prices land in the zone whose ID the
// account maps the zone name to, whether the reply carries zone IDs or
// only names.
func TestAWSSpotZoneNames(t *testing.T) {
	// Unlike the simulator's default, az1 is "c" and az3 is "a".
	swapped := map[string]string{"euc1-az1": "eu-central-1c", "euc1-az3": "eu-central-1a"}
	tests := []struct {
		name       string
		opts       pricefront.AWSOptions
		zoneLookup int64
	}{
		{"names mapped with DescribeAvailabilityZones", pricefront.AWSOptions{ZoneNames: swapped}, 1},
		{"zone IDs in the reply", pricefront.AWSOptions{ZoneNames: swapped, SpotPriceZoneIDs: true}, 0},
		{"default names", pricefront.AWSOptions{}, 1},
	}
	_, want := awsExpected([]string{"eu-central-1"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, cfg := newAWSSim(t, tt.opts, "eu-central-1")
			zp, err := (&SpotPrices{Config: cfg}).ZonePrices(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			zones := map[string]bool{}
			for _, p := range zp {
				zones[p.Zone] = true
				if k := p.Region + "/" + p.Zone + "/" + p.InstanceType; want[k] != p.USDPerHour {
					t.Fatalf("%s: %v, want %v", k, p.USDPerHour, want[k])
				}
			}
			if len(zp) != len(want) || !zones["euc1-az1"] || !zones["euc1-az3"] {
				t.Fatalf("%d zone prices in zones %v, want %d", len(zp), zones, len(want))
			}
			if got := sim.Requests(pricefront.AWSDescribeAvailabilityZones); got != tt.zoneLookup {
				t.Fatalf("%d DescribeAvailabilityZones requests, want %d", got, tt.zoneLookup)
			}
		})
	}
}

func TestAWSLatestSpotPrices(t *testing.T) {
	at := func(m int) *time.Time { v := awsTestNow.Add(time.Duration(m) * time.Minute); return &v }
	item := func(az, id, desc, price string, ts *time.Time) ec2types.SpotPrice {
		sp := ec2types.SpotPrice{AvailabilityZone: aws.String(az), InstanceType: "g5.xlarge",
			ProductDescription: ec2types.RIProductDescription(desc), SpotPrice: aws.String(price), Timestamp: ts}
		if id != "" {
			sp.AvailabilityZoneId = aws.String(id)
		}
		return sp
	}
	ids := map[string]string{"eu-central-1a": "euc1-az2", "eu-central-1b": "euc1-az1"}
	tests := []struct {
		name    string
		items   []ec2types.SpotPrice
		want    map[string]float64
		wantErr string
	}{
		{"latest change wins", []ec2types.SpotPrice{
			item("eu-central-1a", "", "Linux/UNIX", "0.40", at(-90)),
			item("eu-central-1a", "", "Linux/UNIX", "0.35", at(-10)),
			item("eu-central-1a", "", "Linux/UNIX", "0.50", at(-30)),
		}, map[string]float64{"euc1-az2": 0.35}, ""},
		{"names mapped, zone IDs kept, Windows skipped", []ec2types.SpotPrice{
			item("eu-central-1b", "", "Linux/UNIX", "0.31", at(-5)),
			item("eu-central-1a", "euc1-az3", "Linux/UNIX", "0.33", at(-5)),
			item("eu-central-1b", "", "Windows", "0.60", at(-1)),
		}, map[string]float64{"euc1-az1": 0.31, "euc1-az3": 0.33}, ""},
		{"unknown zone name", []ec2types.SpotPrice{item("eu-central-1z", "", "Linux/UNIX", "0.3", at(-1))}, nil,
			`zone "eu-central-1z" is not among the region's availability zones`},
		{"bad price", []ec2types.SpotPrice{item("eu-central-1a", "", "Linux/UNIX", "n/a", at(-1))}, nil, `spot price "n/a"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := awsLatestSpotPrices("eu-central-1", tt.items, ids)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || len(got) != len(tt.want) {
				t.Fatalf("got %+v, %v", got, err)
			}
			for _, p := range got {
				if tt.want[p.Zone] != p.USDPerHour {
					t.Fatalf("%s: %v, want %v", p.Zone, p.USDPerHour, tt.want[p.Zone])
				}
			}
		})
	}
}

// TestAWSSourcesSurviveThrottling throttles the first three requests of
// every API; the SDK's retryer waits and retries, and the answers are
// those of an unthrottled run.
func TestAWSSourcesSurviveThrottling(t *testing.T) {
	apis := []string{pricefront.AWSGetProducts, pricefront.AWSDescribeSpotPriceHistory, pricefront.AWSDescribeAvailabilityZones,
		pricefront.AWSDescribeInstanceTypeOfferings, pricefront.AWSGetServiceQuota, pricefront.AWSGetSpotPlacementScores}
	throttle := map[string]int64{}
	for _, a := range apis {
		throttle[a] = 3
	}
	regions := []string{"eu-central-1", "eu-west-1"}
	calm, calmCfg := newAWSSim(t, pricefront.AWSOptions{}, regions...)
	stormy, stormyCfg := newAWSSim(t, pricefront.AWSOptions{ThrottleFirst: throttle}, regions...)
	stormyCfg.Concurrency = 2
	ctx := context.Background()
	for _, run := range []struct {
		name string
		do   func(cfg Config) (any, int64, error)
	}{
		{"pricing", func(cfg Config) (any, int64, error) {
			s := &Pricing{Config: cfg}
			p, err := s.Prices(ctx)
			return p, s.Calls(), err
		}},
		{"spot", func(cfg Config) (any, int64, error) {
			s := &SpotPrices{Config: cfg}
			p, err := s.ZonePrices(ctx)
			return p, s.Calls(), err
		}},
		{"availability", func(cfg Config) (any, int64, error) {
			s := &Availability{Config: cfg}
			a, err := s.Availability(ctx, nil)
			return a, s.Calls(), err
		}},
	} {
		want, _, err := run.do(calmCfg)
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := run.do(stormyCfg)
		if err != nil {
			t.Fatalf("%s under throttling: %v", run.name, err)
		}
		if !equalJSON(t, got, want) {
			t.Fatalf("%s: throttled answer differs", run.name)
		}
	}
	for _, a := range apis {
		if d := stormy.Requests(a) - calm.Requests(a); d != 3 {
			t.Fatalf("%s: %d more requests under throttling, want the 3 throttled ones", a, d)
		}
	}

	// Throttling that does not stop ends in an error naming the API,
	// after MaxAttempts tries.
	endless, cfg := newAWSSim(t, pricefront.AWSOptions{ThrottleFirst: map[string]int64{pricefront.AWSGetProducts: 1 << 30}}, "eu-central-1")
	cfg.InstanceTypes, cfg.MaxAttempts = []string{"g5.xlarge"}, 3
	_, err := (&Pricing{Config: cfg}).Prices(ctx)
	if err == nil || !strings.Contains(err.Error(), "aws-pricing: GetProducts instanceType=g5.xlarge") || !strings.Contains(err.Error(), "ThrottlingException") {
		t.Fatalf("endless throttling: %v", err)
	}
	if n := endless.Requests(pricefront.AWSGetProducts); n != 3 {
		t.Fatalf("%d attempts, want MaxAttempts 3", n)
	}
}

// TestAWSFailingAPI makes one API answer 500 every time: the source that
// needs it fails with an error naming the source, the API and AWS's error
// code.
func TestAWSFailingAPI(t *testing.T) {
	tests := []struct {
		api, want string
		fetch     func(Config) error
	}{
		{pricefront.AWSGetProducts, "aws-pricing: GetProducts instanceType=", func(c Config) error {
			_, err := (&Pricing{Config: c}).Prices(context.Background())
			return err
		}},
		{pricefront.AWSDescribeSpotPriceHistory, "aws-spot-prices: DescribeSpotPriceHistory in eu-central-1", func(c Config) error {
			_, err := (&SpotPrices{Config: c}).Prices(context.Background())
			return err
		}},
		{pricefront.AWSDescribeAvailabilityZones, "aws-spot-prices: DescribeAvailabilityZones in eu-central-1", func(c Config) error {
			_, err := (&SpotPrices{Config: c}).Prices(context.Background())
			return err
		}},
		{pricefront.AWSDescribeInstanceTypeOfferings, "aws-availability: DescribeInstanceTypeOfferings in eu-central-1", func(c Config) error {
			_, err := (&Availability{Config: c}).Availability(context.Background(), nil)
			return err
		}},
		{pricefront.AWSGetServiceQuota, "aws-availability: GetServiceQuota L-", func(c Config) error {
			_, err := (&Availability{Config: c}).Availability(context.Background(), nil)
			return err
		}},
		{pricefront.AWSGetSpotPlacementScores, "aws-availability: GetSpotPlacementScores g4dn.12xlarge", func(c Config) error {
			_, err := (&Availability{Config: c}).Availability(context.Background(), nil)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.api, func(t *testing.T) {
			_, cfg := newAWSSim(t, pricefront.AWSOptions{Fail: map[string]bool{tt.api: true}}, "eu-central-1")
			cfg.MaxAttempts, cfg.Concurrency = 2, 1
			err := tt.fetch(cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "StatusCode: 500") {
				t.Fatalf("error %v, want one naming %q and the 500", err, tt.want)
			}
		})
	}
}

// TestAWSRefresh merges live on-demand and spot prices into the embedded
// catalog, and falls back to the catalog's on-demand prices with a
// warning when the Price List fails while spot prices still apply.
func TestAWSRefresh(t *testing.T) {
	sim, cfg := newAWSSim(t, pricefront.AWSOptions{}, awsTestRegions...)
	base := planner.Embedded()
	pricing, spot := &Pricing{Config: cfg}, &SpotPrices{Config: cfg}
	clock := func() time.Time { return awsTestNow }
	res := livecatalog.Refresh(context.Background(), base, []livecatalog.PriceSource{pricing, spot}, nil, clock)
	if len(res.Warnings) != 0 {
		t.Fatal(res.Warnings)
	}
	onDemand, zoneSpot := awsExpected(awsTestRegions)
	checked := 0
	for _, o := range res.Catalog.Offers {
		if o.Cloud != "aws" || !slices.Contains(awsTestRegions, o.Region) {
			continue
		}
		want, source := onDemand[o.Region+"/"+o.InstanceType], "aws-pricing"
		if o.CapacityType == planner.Spot {
			want, source = zoneSpot[o.Region+"/"+o.Zone+"/"+o.InstanceType], "aws-spot-prices" // each zone its own price
		}
		if o.PriceUSDHour != want || res.Provenance[o.ID()].Source != source {
			t.Fatalf("%s: %v from %q, want %v from %s", o.ID(), o.PriceUSDHour, res.Provenance[o.ID()].Source, want, source)
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no AWS offer checked")
	}

	sim.SetFail(pricefront.AWSGetProducts, true)
	cfg.MaxAttempts = 2
	res = livecatalog.Refresh(context.Background(), base, []livecatalog.PriceSource{&Pricing{Config: cfg}, &SpotPrices{Config: cfg}}, nil, clock)
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "live prices from aws-pricing failed, using the catalog's aws prices: aws-pricing: GetProducts") {
		t.Fatalf("warnings %v", res.Warnings)
	}
	for _, o := range res.Catalog.Offers {
		if o.Cloud != "aws" || !slices.Contains(awsTestRegions, o.Region) {
			continue
		}
		src := res.Provenance[o.ID()].Source
		if o.CapacityType == planner.OnDemand && src != "" || o.CapacityType == planner.Spot && src != "aws-spot-prices" {
			t.Fatalf("%s priced by %q after the Price List failed", o.ID(), src)
		}
	}
}

func TestAWSCacheKeys(t *testing.T) {
	a := &Pricing{Config: Config{Endpoints: livecatalog.AWSEndpoints{Pricing: "http://127.0.0.1:1"}}}
	b := &Pricing{Config: Config{Endpoints: livecatalog.AWSEndpoints{Pricing: "http://127.0.0.1:2"}}}
	c := &Pricing{Config: Config{Endpoints: livecatalog.AWSEndpoints{Pricing: "http://127.0.0.1:1"}, Regions: []string{"eu-central-1"}}}
	if a.CacheKey() == b.CacheKey() || a.CacheKey() == c.CacheKey() || !strings.HasPrefix(a.CacheKey(), "aws-pricing-") {
		t.Fatalf("cache keys %q %q %q", a.CacheKey(), b.CacheKey(), c.CacheKey())
	}
	for _, s := range []livecatalog.PriceSource{&Pricing{}, &SpotPrices{}} {
		if s.Cloud() != "aws" {
			t.Fatalf("%s: cloud %q", s.Name(), s.Cloud())
		}
	}
	if (&SpotPrices{}).CacheKey() == (&Pricing{}).CacheKey() {
		t.Fatal("two sources share a cache entry")
	}
}

func TestAWSForEach(t *testing.T) {
	var running, peak atomic.Int64
	err := awsForEach(context.Background(), 40, 3, func(ctx context.Context, i int) error {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(time.Millisecond)
		running.Add(-1)
		return nil
	})
	if err != nil || peak.Load() > 3 || peak.Load() < 2 {
		t.Fatalf("err %v, peak concurrency %d, want ≤ 3", err, peak.Load())
	}
	// The lowest index that failed for its own reason is reported, not a
	// job canceled because of it.
	boom := func(i int) error { return errors.New("job " + string(rune('0'+i)) + " failed") }
	for range 20 {
		err = awsForEach(context.Background(), 8, 8, func(ctx context.Context, i int) error {
			switch i {
			case 3, 5:
				return boom(i)
			case 1:
				<-ctx.Done()
				return ctx.Err()
			}
			return nil
		})
		if err == nil || err.Error() != "job 3 failed" {
			t.Fatalf("error %v, want job 3's", err)
		}
	}
}

// equalJSON compares two values by their JSON encoding.
func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(ja) == string(jb)
}
