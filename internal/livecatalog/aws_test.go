package livecatalog

import (
	"context"
	"os/exec"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/awsconfig"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// TestCoreLinksNoAWSSDK: the provider process imports livecatalog and
// must not link the AWS SDK (its package set-up slows every Terraform
// start); the AWS sources live in awslive, behind SourcesConfig.AWS.
func TestCoreLinksNoAWSSDK(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	out, err := exec.Command(goBin, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "/internal/cloud/awsconfig\n") {
		t.Fatalf("go list -deps does not list internal/cloud/awsconfig, which livecatalog imports:\n%s", out)
	}
	aws := regexp.MustCompile(`(?m)^(github\.com/aws/.*|.*/internal/cloud/aws(/.*)?|.*/internal/livecatalog/awslive)$`)
	if m := aws.FindAllString(string(out), 5); len(m) > 0 {
		t.Fatalf("livecatalog links %v (and maybe more): AWS clients belong in awslive", m)
	}
}

// names are the sources' names, in order.
func names[S interface{ Name() string }](sources []S) []string {
	out := make([]string, len(sources))
	for i, s := range sources {
		out[i] = s.Name()
	}
	return out
}

// TestAWSSourcesHook: Sources and ReservationSources build the AWS
// sources with SourcesConfig.AWS, once a call, from the plain data of the
// configuration, and only when aws is enabled.
func TestAWSSourcesHook(t *testing.T) {
	cat := planner.Embedded()
	creds := awsconfig.StaticCredentials{AccessKeyID: "AKIDTEST", SecretAccessKey: "SECRET"}
	endpoints := AWSEndpoints{Pricing: "http://127.0.0.1:1", EC2: "http://127.0.0.1:2", ServiceQuotas: "http://127.0.0.1:3", STS: "http://127.0.0.1:4"}
	prices := func(c SourcesConfig) []string {
		p, a := Sources(c)
		return append(names(p), names(a)...)
	}
	reservations := func(c SourcesConfig) []string { return names(ReservationSources(c)) }
	for _, tc := range []struct {
		name      string
		sc        SourcesConfig
		build     func(SourcesConfig) []string
		want      []string
		wantCalls []AWSSourcesConfig
	}{
		{"prices and availability", SourcesConfig{Catalog: cat, Clouds: []string{"aws"}, AWSEndpoints: endpoints, AWSCredentials: creds},
			prices, []string{"hook-price", "hook-spot", "hook-availability"},
			[]AWSSourcesConfig{{Catalog: cat, Endpoints: endpoints, Credentials: creds}}},
		{"reservations on their own EC2", SourcesConfig{Catalog: cat, Clouds: []string{"aws"}, AWSEndpoints: endpoints,
			CapacityEndpoints: map[string]string{"aws": "http://127.0.0.1:5", "gcp": "http://127.0.0.1:6"}},
			reservations, []string{"hook-reservations"},
			[]AWSSourcesConfig{{Catalog: cat, Endpoints: endpoints, ReservationsEC2: "http://127.0.0.1:5"}}},
		{"aws not enabled", SourcesConfig{Catalog: cat, Clouds: []string{"gcp"}}, prices, []string{"gcp-cloud-billing"}, nil},
		{"aws not enabled, reservations", SourcesConfig{Catalog: cat, Clouds: []string{"azure"}}, reservations, []string{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls []AWSSourcesConfig
			tc.sc.AWS = func(c AWSSourcesConfig) AWSSourceSet {
				calls = append(calls, c)
				return AWSSourceSet{Prices: []PriceSource{noAWS("hook-price"), noAWS("hook-spot")},
					Availability: []AvailabilitySource{noAWS("hook-availability")}, Reservations: []ReservationSource{noAWS("hook-reservations")}}
			}
			if got := tc.build(tc.sc); !slices.Equal(got, tc.want) {
				t.Errorf("sources %q, want %q", got, tc.want)
			}
			if !reflect.DeepEqual(calls, tc.wantCalls) {
				t.Errorf("SourcesConfig.AWS called with %+v, want %+v", calls, tc.wantCalls)
			}
		})
	}
}

// TestAWSSourcesWithoutAWS: with aws enabled and no SourcesConfig.AWS
// (a binary that links no AWS client), every AWS source is there under
// its own name and fails, so that the plan goes on with the catalog's AWS
// data and a warning that says why.
func TestAWSSourcesWithoutAWS(t *testing.T) {
	base := planner.Embedded()
	live := Live(func(*planner.Catalog) (SourcesConfig, error) {
		return SourcesConfig{Clouds: []string{"aws"}}, nil
	}, nil)(context.Background(), base)
	for _, tc := range []struct {
		kind     string
		warnings []string
		want     []string
	}{
		{"prices", live.PriceWarnings, []string{"live prices from " + AWSPricingSource + " failed", "live prices from " + AWSSpotPricesSource + " failed"}},
		{"availability", live.AvailabilityWarnings, []string{"live availability from " + AWSAvailabilitySource + " failed"}},
		{"reservations", live.ReservationWarnings, []string{"live reservations from " + AWSReservationsSource + " failed"}},
	} {
		if len(tc.warnings) != len(tc.want) {
			t.Errorf("%s warnings %q, want %d", tc.kind, tc.warnings, len(tc.want))
			continue
		}
		for i, w := range tc.warnings {
			if !strings.HasPrefix(w, tc.want[i]) || !strings.Contains(w, "this binary cannot ask AWS") {
				t.Errorf("%s warning %q, want %q… saying this binary cannot ask AWS", tc.kind, w, tc.want[i])
			}
		}
	}
	if len(live.Provenance) != 0 || live.Catalog != base {
		t.Errorf("the catalog changed (%d live prices) though AWS could not be asked", len(live.Provenance))
	}
}

// TestAWSCacheKey: the key names the source and changes with every input
// that changes a source's answer; the STS endpoint (credentials only)
// and an empty Price List region (the default) do not.
func TestAWSCacheKey(t *testing.T) {
	e := AWSEndpoints{Pricing: "http://127.0.0.1:1", EC2: "http://127.0.0.1:1", ServiceQuotas: "http://127.0.0.1:1"}
	regions, types := []string{"eu-central-1"}, []string{"p5.48xlarge"}
	base := AWSCacheKey(AWSPricingSource, e, "", regions, types)
	if !regexp.MustCompile(`^aws-pricing-[0-9a-f]{12}$`).MatchString(base) {
		t.Fatalf("cache key %q, want aws-pricing- and 12 hex digits", base)
	}
	withSTS := e
	withSTS.STS = "http://127.0.0.1:9"
	if k := AWSCacheKey(AWSPricingSource, withSTS, DefaultAWSPricingRegion, regions, types); k != base {
		t.Errorf("STS or the default Price List region changed the key: %q, want %q", k, base)
	}
	for name, k := range map[string]string{
		"source":         AWSCacheKey(AWSSpotPricesSource, e, "", regions, types),
		"pricing":        AWSCacheKey(AWSPricingSource, AWSEndpoints{Pricing: "http://127.0.0.1:2", EC2: e.EC2, ServiceQuotas: e.ServiceQuotas}, "", regions, types),
		"ec2":            AWSCacheKey(AWSPricingSource, AWSEndpoints{Pricing: e.Pricing, EC2: "http://127.0.0.1:2", ServiceQuotas: e.ServiceQuotas}, "", regions, types),
		"service quotas": AWSCacheKey(AWSPricingSource, AWSEndpoints{Pricing: e.Pricing, EC2: e.EC2, ServiceQuotas: "http://127.0.0.1:2"}, "", regions, types),
		"pricing region": AWSCacheKey(AWSPricingSource, e, "eu-central-1", regions, types),
		"regions":        AWSCacheKey(AWSPricingSource, e, "", nil, types),
		"instance types": AWSCacheKey(AWSPricingSource, e, "", regions, nil),
	} {
		if k == base {
			t.Errorf("another %s gives the same key %q", name, k)
		}
	}
}
