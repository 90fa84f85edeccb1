package cloud

import (
	"context"
	"testing"
	"time"
)

// TestPollBackoff: a throttled poll waits the cloud's Retry-After when it
// is longer than the backoff, doubles the backoff up to Max, and any other
// outcome resets it and is not waited on.
func TestPollBackoff(t *testing.T) {
	ctx := context.Background()
	p := &PollBackoff{Base: time.Millisecond, Max: 4 * time.Millisecond}
	throttled := &Error{Kind: KindThrottled, Code: "429"}
	for i, want := range []time.Duration{time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond, 4 * time.Millisecond} {
		start := time.Now()
		again, err := p.Throttled(ctx, throttled)
		if !again || err != nil || time.Since(start) < want {
			t.Fatalf("poll %d: again %v err %v after %v, want a wait of %v", i, again, err, time.Since(start), want)
		}
	}
	start := time.Now()
	if again, err := p.Throttled(ctx, &Error{Kind: KindThrottled, RetryAfter: 30 * time.Millisecond}); !again || err != nil || time.Since(start) < 30*time.Millisecond {
		t.Fatalf("Retry-After not honoured: %v %v %v", again, err, time.Since(start))
	}
	if again, _ := p.Throttled(ctx, &Error{Kind: KindTransient}); again {
		t.Fatal("a transient error is the wait's to return")
	}
	if p.next != 0 {
		t.Fatal("backoff not reset")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := p.Throttled(cctx, throttled); err == nil {
		t.Fatal("a cancelled wait must return ctx's error")
	}
}
