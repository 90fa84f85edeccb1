package cloud

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestWait: the one waiting loop, on a fake clock. Each case reads the
// statuses in turn (an error where one is given).
func TestWait(t *testing.T) {
	throttled := Throttled("aws", "DescribeCluster", "ThrottlingException", "rate exceeded")
	throttled.RetryAfter = 15 * time.Second
	refused := Invalid("aws", "DescribeCluster", "ValidationException", "no")
	tests := []struct {
		name     string
		pending  []string
		statuses []string
		errs     map[int]error // by read
		want     func(error) bool
		message  string // the error's, when not empty
		reads    int
		waited   time.Duration
	}{
		{"target at once", nil, []string{"active"}, nil, func(err error) bool { return err == nil }, "", 1, 0},
		{"pending, then the target", []string{"creating"}, []string{"creating", "creating", "active"}, nil,
			func(err error) bool { return err == nil }, "", 3, 20 * time.Second},
		{"a status neither pending nor target", []string{"creating"}, []string{"creating", "failed"}, nil,
			func(err error) bool { return KindOf(err) == KindFatal }, "aws CreateCluster: UnexpectedState: cluster c1 is failed, expected one of [creating] on the way to [active]", 2, 10 * time.Second},
		{"timeout names what, the last status and how long", nil, []string{"creating", "creating", "updating", "updating"}, nil,
			IsTimeout, "aws CreateCluster: Timeout: cluster c1: still updating after 30s", 4, 30 * time.Second},
		{"a throttled read is ridden out, honouring Retry-After", nil, []string{"creating", "", "active"},
			map[int]error{1: throttled}, func(err error) bool { return err == nil }, "", 3, 10*time.Second + 15*time.Second},
		{"throttling past the timeout ends the wait", nil, []string{"creating", "", ""},
			map[int]error{1: throttled, 2: throttled}, IsThrottled, "", 3, 10*time.Second + 15*time.Second + 20*time.Second},
		{"another error ends the wait as it is", nil, []string{"creating", ""}, map[int]error{1: refused},
			func(err error) bool { return errors.Is(err, refused) }, "", 2, 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Unix(0, 0)
			reads := 0
			_, err := Wait[int]{Cloud: "aws", Op: "CreateCluster", What: "cluster c1", Pending: tt.pending, Target: []string{"active"},
				Poll: 10 * time.Second, Timeout: 30 * time.Second, Now: func() time.Time { return now },
				Sleep: func(_ context.Context, d time.Duration) error { now = now.Add(d); return nil },
				Refresh: func(context.Context) (int, string, error) {
					i := reads
					reads++
					return i, tt.statuses[i], tt.errs[i]
				}}.Until(context.Background())
			if !tt.want(err) || (tt.message != "" && err.Error() != tt.message) {
				t.Fatalf("error %v (kind %s)", err, KindOf(err))
			}
			if reads != tt.reads || now.Sub(time.Unix(0, 0)) != tt.waited {
				t.Fatalf("%d reads over %v, want %d over %v", reads, now.Sub(time.Unix(0, 0)), tt.reads, tt.waited)
			}
		})
	}
}

// TestWaitCancelled: a wait whose context ends returns the context's
// error.
func TestWaitCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	_, err := Wait[int]{Target: []string{"active"}, Poll: time.Hour, Refresh: func(context.Context) (int, string, error) {
		cancel()
		return 0, "creating", nil
	}}.Until(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}
