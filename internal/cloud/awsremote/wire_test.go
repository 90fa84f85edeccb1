package awsremote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/livecatalog"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// TestErrorsCross: what the helper's backend returns comes back with the
// same text, the same classification (errors.As finds the *cloud.Error
// with its kind, code, offer and Retry-After; IsCapacity and friends
// agree) and the same context error, wrapped or not.
func TestErrorsCross(t *testing.T) {
	capacity := cloud.Capacity("aws", "CreateNodegroup", "InsufficientInstanceCapacity", "no p5 in %s", "euc1-az1")
	capacity.Zone, capacity.InstanceType, capacity.CapacityType = "euc1-az1", "p5.48xlarge", "on_demand"
	throttled := cloud.Throttled("aws", "DescribeCluster", "ThrottlingException", "rate exceeded")
	throttled.RetryAfter = 3 * time.Second
	for _, tc := range []struct {
		name string
		err  error
		kind cloud.Kind
		ctx  error
	}{
		{"capacity", capacity, cloud.KindCapacity, nil},
		{"throttled", throttled, cloud.KindThrottled, nil},
		{"wrapped classified", fmt.Errorf("creating pool p: %w", cloud.NotFound("aws", "DescribeNodegroup", "ResourceNotFoundException", "no such node group")), cloud.KindNotFound, nil},
		{"classified with cause", cloud.Transient("aws", "CreateCluster", "RequestError", "send failed").Caused(errors.New("dial tcp: refused")), cloud.KindTransient, nil},
		{"classified with context cause", cloud.Transient("aws", "CreateCluster", "RequestCanceled", "cancelled").Caused(context.Canceled), cloud.KindTransient, context.Canceled},
		{"plain", errors.New("aws: loading the SDK configuration: no region"), cloud.KindFatal, nil},
		{"canceled", context.Canceled, cloud.KindFatal, context.Canceled},
		{"wrapped deadline", fmt.Errorf("waiting for node group: %w", context.DeadlineExceeded), cloud.KindFatal, context.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := encodeError(tc.err).decode()
			if got.Error() != tc.err.Error() {
				t.Errorf("text %q, want %q", got, tc.err)
			}
			if k := cloud.KindOf(got); k != tc.kind {
				t.Errorf("kind %v, want %v", k, tc.kind)
			}
			if tc.ctx != nil && !errors.Is(got, tc.ctx) {
				t.Errorf("%v is not %v", got, tc.ctx)
			}
			var want, ce *cloud.Error
			if errors.As(tc.err, &want) {
				if !errors.As(got, &ce) {
					t.Fatalf("no *cloud.Error in %v", got)
				}
				if ce.Cloud != want.Cloud || ce.Op != want.Op || ce.Code != want.Code || ce.Message != want.Message ||
					ce.Zone != want.Zone || ce.InstanceType != want.InstanceType || ce.CapacityType != want.CapacityType || ce.RetryAfter != want.RetryAfter {
					t.Errorf("classified %+v, want %+v", ce, want)
				}
				if cloud.RetryAfterOf(got) != cloud.RetryAfterOf(tc.err) || cloud.IsFailover(got) != cloud.IsFailover(tc.err) || cloud.IsRetryable(got) != cloud.IsRetryable(tc.err) {
					t.Errorf("decisions differ: %v vs %v", got, tc.err)
				}
			}
		})
	}
}

// TestLiveTarget: a source configuration crosses with the catalog's AWS
// offers only; the embedded catalog (nil) crosses as a flag, and a
// catalog without AWS offers stays a catalog without them (the helper
// must not ask about the embedded catalog's instead).
func TestLiveTarget(t *testing.T) {
	aws := planner.Offer{Cloud: "aws", Region: "eu-central-1", InstanceType: "p4d.24xlarge", CapacityType: planner.OnDemand}
	gcp := planner.Offer{Cloud: "gcp", Region: "europe-west4", InstanceType: "a3-highgpu-8g", CapacityType: planner.OnDemand}
	for _, tc := range []struct {
		name    string
		catalog *planner.Catalog
		want    []planner.Offer // nil: the embedded catalog
	}{
		{"embedded", nil, nil},
		{"mixed", &planner.Catalog{Offers: []planner.Offer{aws, gcp}}, []planner.Offer{aws}},
		{"no AWS", &planner.Catalog{Offers: []planner.Offer{gcp}}, []planner.Offer{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set := Sources(&Client{})(livecatalog.AWSSourcesConfig{Catalog: tc.catalog})
			raw, err := set.Prices[0].(keyed).target()
			if err != nil {
				t.Fatal(err)
			}
			var lt liveTarget
			if err := json.Unmarshal(raw, &lt); err != nil {
				t.Fatal(err)
			}
			got := lt.config().Catalog
			switch {
			case tc.want == nil && got != nil:
				t.Fatalf("catalog %+v, want the embedded one (nil)", got)
			case tc.want != nil && (got == nil || !reflect.DeepEqual(append([]planner.Offer{}, got.Offers...), tc.want)):
				t.Fatalf("catalog %+v, want offers %+v", got, tc.want)
			}
		})
	}
}
