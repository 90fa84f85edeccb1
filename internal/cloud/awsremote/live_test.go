package awsremote_test

import (
	"context"
	"net/http/httptest"
	"reflect"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/awsconfig"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/awsremote"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/awsremote/awsserve"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/pricefront"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/livecatalog"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/livecatalog/awslive"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

type cacheKeyer interface{ CacheKey() string }

func cacheKey(s interface{ Name() string }) string {
	if k, ok := s.(cacheKeyer); ok {
		return k.CacheKey()
	}
	return ""
}

// TestSourcesThroughHelper: the AWS live sources through the bridge
// answer what the same sources answer in process (prices, availability
// and quotas, reservations) from the simulated Price List, EC2 and
// Service Quotas, under the same names and cache keys, so that the
// provider's cache serves either.
func TestSourcesThroughHelper(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	var offers []planner.Offer
	for _, o := range planner.Embedded().Offers {
		if o.Cloud == "aws" && o.Region == euc1 {
			offers = append(offers, o)
		}
	}
	if len(offers) == 0 {
		t.Fatal("no AWS offers in eu-central-1 in the embedded catalog")
	}
	cat := &planner.Catalog{Offers: offers}
	srv := httptest.NewServer(pricefront.NewAWS(pricefront.AWSOptions{Catalog: cat,
		Adjust: func(o planner.Offer) float64 { return o.PriceUSDHour * 1.25 }}))
	t.Cleanup(srv.Close)
	// Reservations come from the simulated EC2 of a world, with one
	// reservation of 4 p4d.24xlarge in it.
	_, world := world(t)
	cfg := livecatalog.AWSSourcesConfig{Catalog: cat, Endpoints: livecatalog.AWSEndpoints{Pricing: srv.URL, EC2: srv.URL, ServiceQuotas: srv.URL},
		ReservationsEC2: world.Endpoints.EC2, Credentials: awsconfig.StaticCredentials{AccessKeyID: "AKIDTEST", SecretAccessKey: "SECRET"}}
	ec2c := ec2.NewFromConfig(aws.Config{Region: euc1, Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "SECRET", "")},
		func(o *ec2.Options) { o.BaseEndpoint = aws.String(world.Endpoints.EC2) })
	if _, err := ec2c.CreateCapacityReservation(context.Background(), &ec2.CreateCapacityReservationInput{InstanceType: aws.String("p4d.24xlarge"),
		InstancePlatform: ec2types.CapacityReservationInstancePlatformLinuxUnix, InstanceCount: aws.Int32(4), AvailabilityZoneId: aws.String("euc1-az1")}); err != nil {
		t.Fatal(err)
	}
	local := awslive.Sources(cfg)
	remote := awsremote.Sources(inProcess(t, awsserve.Implementation))(cfg)
	ctx := context.Background()
	var types []string
	for _, o := range offers {
		types = append(types, o.InstanceType)
	}

	if len(remote.Prices) != len(local.Prices) || len(remote.Availability) != len(local.Availability) || len(remote.Reservations) != len(local.Reservations) {
		t.Fatalf("remote sources %d/%d/%d, local %d/%d/%d", len(remote.Prices), len(remote.Availability), len(remote.Reservations),
			len(local.Prices), len(local.Availability), len(local.Reservations))
	}
	same := func(kind string, l, r interface{ Name() string }, lv, rv any, lerr, rerr error) {
		t.Helper()
		if l.Name() != r.Name() || cacheKey(l) != cacheKey(r) {
			t.Errorf("%s: remote %s (cache key %q), local %s (%q)", kind, r.Name(), cacheKey(r), l.Name(), cacheKey(l))
		}
		if (lerr == nil) != (rerr == nil) || (lerr != nil && lerr.Error() != rerr.Error()) {
			t.Errorf("%s %s: remote error %v, local %v", kind, l.Name(), rerr, lerr)
		}
		if !reflect.DeepEqual(lv, rv) {
			t.Errorf("%s %s: remote answer differs from the local one:\nremote %+v\nlocal  %+v", kind, l.Name(), rv, lv)
		}
	}
	for i, l := range local.Prices {
		lp, lerr := l.Prices(ctx)
		rp, rerr := remote.Prices[i].Prices(ctx)
		if lerr == nil && len(lp) == 0 {
			t.Errorf("%s: no prices", l.Name())
		}
		same("prices", l, remote.Prices[i], lp, rp, lerr, rerr)
	}
	for i, l := range local.Availability {
		la, lerr := l.Availability(ctx, types)
		ra, rerr := remote.Availability[i].Availability(ctx, types)
		same("availability", l, remote.Availability[i], la, ra, lerr, rerr)
	}
	for i, l := range local.Reservations {
		lc, lerr := l.Capacity(ctx)
		rc, rerr := remote.Reservations[i].Capacity(ctx)
		if !slices.ContainsFunc(lc, func(o planner.Offer) bool { return o.CapacityType == planner.Reserved && o.MaxNodes == 4 }) {
			t.Errorf("%s: %+v, %v; want the reservation of 4", l.Name(), lc, lerr)
		}
		same("reservations", l, remote.Reservations[i], lc, rc, lerr, rerr)
	}
}
