package cloud

import (
	"context"
	"errors"
	"slices"
	"time"
)

// Wait polls an asynchronous operation until the object reaches one of
// its Target statuses: the one waiting loop of every backend (cluster and
// node pool creates and deletes, cloud operations, gateways). Refresh
// reads the object once and names its status; a status in neither Pending
// nor Target ends the wait with a KindFatal "UnexpectedState" error (any
// status that is not a target is pending when Pending is empty). An error
// from Refresh ends the wait and is returned as Refresh gave it, except a
// throttled read (as Classify tells it), which is not the operation's
// failure: the wait backs off (PollBackoff, honouring Retry-After) and
// reads again, so that rate limits do not spend the caller's retries.
// When Timeout passes before a target, the wait ends with TimeoutError
// naming What, the last status and how long it waited.
//
// Now and Sleep are the clock, injected so that tests do not wait on wall
// time.
type Wait[T any] struct {
	// Cloud and Op name the cloud and the operation in the timeout error;
	// What is what is waited for ("cluster c1", "operation op-123").
	Cloud, Op, What string
	Pending, Target []string
	Refresh         func(ctx context.Context) (T, string, error)
	// Classify tells Refresh's errors apart for the throttling check; the
	// error itself as given when nil (a backend's classified errors).
	Classify func(error) error
	// Poll is the wait between reads; a second when zero. Timeout bounds
	// the whole wait; 45 minutes when zero.
	Poll, Timeout time.Duration
	// Now tells the time; time.Now when nil. Sleep waits for d or until
	// ctx ends (cloud.Sleep when nil).
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// DefaultWaitTimeout bounds a wait whose Timeout is zero: the longest a
// managed cluster or GPU node pool takes to come up or go away.
const DefaultWaitTimeout = 45 * time.Minute

// Until runs the wait: the last value Refresh read and nil once a target
// status is reached, else the wait's error (ctx's own when ctx ends).
func (w Wait[T]) Until(ctx context.Context) (T, error) {
	poll, timeout := w.Poll, w.Timeout
	if poll <= 0 {
		poll = time.Second
	}
	if timeout <= 0 {
		timeout = DefaultWaitTimeout
	}
	now, sleep, classify := w.Now, w.Sleep, w.Classify
	if now == nil {
		now = time.Now
	}
	if sleep == nil {
		sleep = Sleep
	}
	if classify == nil {
		classify = func(err error) error { return err }
	}
	backoff := &PollBackoff{Base: poll, Max: time.Minute, Sleep: sleep}
	start := now()
	status := "unknown"
	for {
		v, st, err := w.Refresh(ctx)
		if err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return v, err
			}
			if throttled, serr := backoff.Throttled(ctx, classify(err)); serr != nil {
				return v, serr
			} else if throttled && now().Sub(start) < timeout {
				continue
			}
			return v, err
		}
		backoff.Throttled(ctx, nil) // a read went through: the next throttling backs off afresh
		status = st
		if slices.Contains(w.Target, st) {
			return v, nil
		}
		if len(w.Pending) > 0 && !slices.Contains(w.Pending, st) {
			return v, Fatal(w.Cloud, w.Op, "UnexpectedState", "%s is %s, expected one of %v on the way to %v", w.What, st, w.Pending, w.Target)
		}
		if elapsed := now().Sub(start); elapsed >= timeout {
			return v, TimeoutError(w.Cloud, w.Op, w.What, status, timeout)
		}
		if err := sleep(ctx, poll); err != nil {
			return v, err
		}
	}
}

// TimeoutError is the error of a wait that ran out of time: KindTransient
// (the operation may yet finish; a retry finds it and waits again) with
// code "Timeout", naming what was waited for, its last status and how long
// the wait lasted.
func TimeoutError(cl, op, what, status string, after time.Duration) *Error {
	return Transient(cl, op, "Timeout", "%s: still %s after %s", what, status, after)
}

// IsTimeout reports the error of a wait that ran out of time.
func IsTimeout(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == KindTransient && e.Code == "Timeout"
}

// CreateTimeout is how long a create of s may wait to become active, given
// timeout (DefaultWaitTimeout when zero): a pool on a capacity block or
// calendar reservation that starts later waits for the start too, and its
// timeout counts from then — such a pool waits, it does not fail.
func (s NodePoolSpec) CreateTimeout(timeout time.Duration, now time.Time) time.Duration {
	if timeout == 0 {
		timeout = DefaultWaitTimeout
	}
	if s.Reservation != nil && s.Reservation.Start.After(now) {
		timeout += s.Reservation.Start.Sub(now)
	}
	return timeout
}
