package cloud_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

func simBackend(t *testing.T) (*cloudsim.Engine, cloud.Backend) {
	t.Helper()
	clock := cloudsim.NewFakeClock(time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC))
	e, err := cloudsim.New(cloudsim.Config{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	return e, &cloudsim.DirectBackend{Engine: e, CloudName: "aws", Poll: time.Second,
		Sleep: func(ctx context.Context, d time.Duration) error { clock.Advance(d); return ctx.Err() }}
}

func transient(op string) *cloud.Error {
	return &cloud.Error{Kind: cloud.KindTransient, Cloud: "aws", Op: op, Code: "InternalFailure", Message: "500"}
}

var spec = cloud.ClusterSpec{Name: "c1", Region: "eu-central-1", KubernetesVersion: "1.31"}

func TestWithRetries(t *testing.T) {
	tests := []struct {
		name     string
		fault    cloudsim.Fault
		attempts int
		wantErr  func(error) bool
		retries  int
	}{
		{"throttled twice then ok", cloudsim.Fault{Cloud: "aws", Op: "CreateCluster", Times: 2,
			Err: &cloud.Error{Kind: cloud.KindThrottled, Cloud: "aws", Code: "ThrottlingException"}}, 5, func(err error) bool { return err == nil }, 2},
		{"5xx until attempts run out", cloudsim.Fault{Cloud: "aws", Op: "CreateCluster", Times: 10, Err: transient("CreateCluster")}, 3, cloud.IsTransient, 2},
		{"invalid request is not retried", cloudsim.Fault{Cloud: "aws", Op: "CreateCluster",
			Err: &cloud.Error{Kind: cloud.KindInvalid, Cloud: "aws", Code: "InvalidParameterException"}}, 5, cloud.IsInvalid, 0},
		// Throttling is no failure: it goes on past the attempts while the
		// budget (a minute here, 1+2+3+3+... seconds of backoff) lasts.
		{"throttled past the attempts, within the budget", cloudsim.Fault{Cloud: "aws", Op: "CreateCluster", Times: 6,
			Err: &cloud.Error{Kind: cloud.KindThrottled, Cloud: "aws", Code: "ThrottlingException"}}, 3, func(err error) bool { return err == nil }, 6},
		{"throttled past the budget", cloudsim.Fault{Cloud: "aws", Op: "CreateCluster", Times: 100,
			Err: &cloud.Error{Kind: cloud.KindThrottled, Cloud: "aws", Code: "ThrottlingException"}}, 3, cloud.IsThrottled, 21},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, b := simBackend(t)
			if err := e.Inject(tt.fault); err != nil {
				t.Fatal(err)
			}
			var delays []time.Duration
			now := time.Unix(0, 0)
			r := cloud.WithRetries(b, cloud.RetryPolicy{MaxAttempts: tt.attempts, Base: time.Second, Max: 3 * time.Second,
				ThrottleBudget: time.Minute, Now: func() time.Time { return now },
				Sleep:   func(_ context.Context, d time.Duration) error { now = now.Add(d); return nil },
				OnRetry: func(_ string, _ int, _ error, d time.Duration) { delays = append(delays, d) }})
			_, err := r.CreateCluster(context.Background(), spec)
			if !tt.wantErr(err) || len(delays) != tt.retries {
				t.Fatalf("err %v after %d retries (%v)", err, len(delays), delays)
			}
			if tt.retries == 2 && (delays[0] != time.Second || delays[1] != 2*time.Second) {
				t.Fatalf("backoff %v", delays)
			}
		})
	}
}

func TestWithRetriesHonoursCancellation(t *testing.T) {
	e, b := simBackend(t)
	if err := e.Inject(cloudsim.Fault{Cloud: "aws", Op: "GetCluster", Times: 5, Err: transient("GetCluster")}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := cloud.WithRetries(b, cloud.RetryPolicy{MaxAttempts: 5, Base: time.Hour})
	if _, err := r.GetCluster(ctx, "eu-central-1", "c1"); !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

func TestWithMetrics(t *testing.T) {
	e, b := simBackend(t)
	var m cloud.Metrics
	now := time.Unix(0, 0)
	mb := cloud.WithMetrics(b, &m, func() time.Time { now = now.Add(time.Second); return now })
	ctx := context.Background()
	if err := e.Inject(cloudsim.Fault{Cloud: "aws", Op: "CreateCluster", Err: transient("CreateCluster")}); err != nil {
		t.Fatal(err)
	}
	mb.CreateCluster(ctx, spec)
	mb.CreateCluster(ctx, spec)
	mb.GetCluster(ctx, "eu-central-1", "nope")
	s := m.Snapshot()
	if c := s["aws.CreateCluster"]; c.Calls != 2 || c.Errors["transient"] != 1 || c.Time != 2*time.Second {
		t.Fatalf("CreateCluster stats %+v", c)
	}
	if g := s["aws.GetCluster"]; g.Calls != 1 || g.Errors["not_found"] != 1 {
		t.Fatalf("GetCluster stats %+v", g)
	}
}

func TestErrorHelpers(t *testing.T) {
	err := error(&cloud.Error{Kind: cloud.KindCapacity, Cloud: "aws", Op: "CreateNodePool", Code: "InsufficientInstanceCapacity",
		Message: "no p5 capacity", Zone: "euc1-az1", InstanceType: "p5.48xlarge", CapacityType: "on_demand"})
	wrapped := errors.Join(errors.New("creating pool"), err)
	if !cloud.IsCapacity(wrapped) || !cloud.IsFailover(wrapped) || cloud.IsRetryable(wrapped) || cloud.IsQuota(wrapped) {
		t.Fatal("classification through wrapping")
	}
	if got := err.Error(); got != "aws CreateNodePool: InsufficientInstanceCapacity: no p5 capacity (euc1-az1 p5.48xlarge on_demand)" {
		t.Fatalf("message %q", got)
	}
	if cloud.KindOf(errors.New("plain")) != cloud.KindFatal || cloud.IgnoreNotFound(&cloud.Error{Kind: cloud.KindNotFound}) != nil {
		t.Fatal("KindOf / IgnoreNotFound")
	}
}
