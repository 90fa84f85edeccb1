package cloud

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Kind classifies a cloud error by what the caller should do about it.
type Kind int

// Error kinds.
const (
	// KindFatal: nothing automatic helps; report it.
	KindFatal Kind = iota
	// KindCapacity: the zone has no capacity for this instance type and
	// capacity type right now; fail over to another offer.
	KindCapacity
	// KindQuota: the account's quota for the region and GPU family is
	// exhausted; fail over to another region or cloud, or raise the quota.
	KindQuota
	// KindThrottled: the API rate limit was hit; retry with backoff.
	KindThrottled
	// KindTransient: a server-side error or timeout; retry with backoff.
	KindTransient
	// KindNotFound: the object does not exist (deleted out of band: drift).
	KindNotFound
	// KindInvalid: the request is wrong; fix the configuration.
	KindInvalid
	// KindConflict: the object exists with another configuration, or is in
	// a state that does not allow the operation.
	KindConflict
)

var kindNames = map[Kind]string{
	KindFatal: "fatal", KindCapacity: "capacity", KindQuota: "quota", KindThrottled: "throttled",
	KindTransient: "transient", KindNotFound: "not_found", KindInvalid: "invalid", KindConflict: "conflict",
}

func (k Kind) String() string { return kindNames[k] }

// Error is a classified cloud error. Code and Message are the cloud's own
// ("InsufficientInstanceCapacity", "ZONE_RESOURCE_POOL_EXHAUSTED", ...), so
// that users see what the cloud said.
type Error struct {
	Kind    Kind
	Cloud   string
	Op      string
	Code    string
	Message string
	// Offer names what ran out, for capacity and quota errors.
	Zone, InstanceType, CapacityType string
	// RetryAfter is how long the cloud asked to wait (a throttling
	// response's Retry-After); zero when it did not say.
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string {
	where := ""
	if e.Zone != "" || e.InstanceType != "" {
		where = fmt.Sprintf(" (%s %s %s)", e.Zone, e.InstanceType, e.CapacityType)
	}
	msg := fmt.Sprintf("%s %s: %s: %s%s", e.Cloud, e.Op, e.Code, e.Message, where)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// NewError is a classified error of kind k from cloud cl's operation op,
// with the cloud's code and a formatted message. The kind constructors
// below (Capacity, NotFound, ...) are this with the kind fixed; backends
// build every classified error through them.
func NewError(k Kind, cl, op, code, format string, args ...any) *Error {
	return &Error{Kind: k, Cloud: cl, Op: op, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Fatal is a KindFatal error (see NewError).
func Fatal(cl, op, code, format string, args ...any) *Error {
	return NewError(KindFatal, cl, op, code, format, args...)
}

// Capacity is a KindCapacity error (see NewError).
func Capacity(cl, op, code, format string, args ...any) *Error {
	return NewError(KindCapacity, cl, op, code, format, args...)
}

// Quota is a KindQuota error (see NewError).
func Quota(cl, op, code, format string, args ...any) *Error {
	return NewError(KindQuota, cl, op, code, format, args...)
}

// Throttled is a KindThrottled error (see NewError).
func Throttled(cl, op, code, format string, args ...any) *Error {
	return NewError(KindThrottled, cl, op, code, format, args...)
}

// Transient is a KindTransient error (see NewError).
func Transient(cl, op, code, format string, args ...any) *Error {
	return NewError(KindTransient, cl, op, code, format, args...)
}

// NotFound is a KindNotFound error (see NewError).
func NotFound(cl, op, code, format string, args ...any) *Error {
	return NewError(KindNotFound, cl, op, code, format, args...)
}

// Invalid is a KindInvalid error (see NewError).
func Invalid(cl, op, code, format string, args ...any) *Error {
	return NewError(KindInvalid, cl, op, code, format, args...)
}

// Conflict is a KindConflict error (see NewError).
func Conflict(cl, op, code, format string, args ...any) *Error {
	return NewError(KindConflict, cl, op, code, format, args...)
}

// Caused records the error e classifies (Unwrap returns it) and returns e.
func (e *Error) Caused(err error) *Error {
	e.Err = err
	return e
}

// ForOffer names the zone, instance type and capacity type of spec (what
// ran out, or which offer is unusable) and returns e.
func (e *Error) ForOffer(spec NodePoolSpec) *Error {
	e.Zone, e.InstanceType, e.CapacityType = spec.Zone, spec.InstanceType, spec.CapacityType
	return e
}

// KindOf returns the kind of a classified error; KindFatal for any other
// non-nil error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindFatal
}

func is(err error, k Kind) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == k
}

// IsCapacity reports a capacity error.
func IsCapacity(err error) bool { return is(err, KindCapacity) }

// IsQuota reports a quota error.
func IsQuota(err error) bool { return is(err, KindQuota) }

// IsThrottled reports a rate-limit error.
func IsThrottled(err error) bool { return is(err, KindThrottled) }

// IsTransient reports a server-side or timeout error.
func IsTransient(err error) bool { return is(err, KindTransient) }

// IsNotFound reports a missing object.
func IsNotFound(err error) bool { return is(err, KindNotFound) }

// IsInvalid reports an invalid request.
func IsInvalid(err error) bool { return is(err, KindInvalid) }

// IsConflict reports a conflicting object or state.
func IsConflict(err error) bool { return is(err, KindConflict) }

// IsRetryable reports errors that a retry with backoff may cure.
func IsRetryable(err error) bool { return IsThrottled(err) || IsTransient(err) }

// IsFailover reports errors that another offer (zone, region, cloud) may
// avoid.
func IsFailover(err error) bool { return IsCapacity(err) || IsQuota(err) }

// IsOfferUnusable reports an error that rules out one offer but not the
// allocation's others: a KindInvalid error naming the offer's zone (its
// zone has no subnet in the site's network: AWS NoSubnetInZone, Azure
// SubnetNotFound, GKE's INVALID_ARGUMENT for a zone without a
// subnetwork). Failover moves on to the next fallback.
func IsOfferUnusable(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == KindInvalid && e.Zone != ""
}

// IgnoreNotFound returns nil for a not-found error and err otherwise.
func IgnoreNotFound(err error) error {
	if IsNotFound(err) {
		return nil
	}
	return err
}

// Settled returns err and true when it needs no classification by a
// backend: nil, already a *Error, or the context's own error.
func Settled(err error) (error, bool) {
	if err == nil {
		return nil, true
	}
	var ce *Error
	if errors.As(err, &ce) {
		return ce, true
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err, true
	}
	return err, false
}

// WithOffer names the zone, instance type and capacity type of a node pool
// in a classified error (capacity and quota errors say what ran out).
func WithOffer(err error, spec NodePoolSpec) error {
	var ce *Error
	if errors.As(err, &ce) {
		ce.Zone, ce.InstanceType, ce.CapacityType = spec.Zone, spec.InstanceType, spec.CapacityType
	}
	return err
}

// RetryAfterOf is the wait a classified error asks for (zero when none).
func RetryAfterOf(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// PollBackoff is how a wait loop rides out throttling of its polls: a
// throttled poll is not the operation's failure (returning it would make
// the caller's retries repeat the whole call, spending an attempt per
// throttled poll), so the loop waits (the cloud's Retry-After, or
// exponential backoff from the poll interval, capped at Max) and polls
// again. The zero value backs off from a second up to a minute.
type PollBackoff struct {
	Base, Max time.Duration
	// Sleep waits; cloud.Sleep when nil (a test's clock otherwise).
	Sleep func(ctx context.Context, d time.Duration) error
	next  time.Duration
}

// Throttled reports whether err is a throttled poll and, if so, waits
// before the next one; it returns ctx's error when ctx ends while waiting.
// Any other outcome (nil included) resets the backoff.
func (p *PollBackoff) Throttled(ctx context.Context, err error) (bool, error) {
	if !IsThrottled(err) {
		p.next = 0
		return false, nil
	}
	if p.Base <= 0 {
		p.Base = time.Second
	}
	if p.Max <= 0 {
		p.Max = time.Minute
	}
	if p.next == 0 {
		p.next = p.Base
	}
	d := max(p.next, RetryAfterOf(err))
	p.next = min(2*p.next, p.Max)
	if p.Sleep != nil {
		return true, p.Sleep(ctx, d)
	}
	return true, Sleep(ctx, d)
}
