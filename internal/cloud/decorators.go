package cloud

import (
	"context"
	"maps"
	"sync"
	"time"
)

// call is one backend method call, for decorators that treat every method
// alike.
type call[T any] func(ctx context.Context) (T, error)

type none struct{}

func unit(f func(context.Context) error) call[none] {
	return func(ctx context.Context) (none, error) { return none{}, f(ctx) }
}

// wrapping is one treatment of every call of a backend (retries,
// metrics); op names the method. Both decorators, of Backend and of
// NetworkBackend, are a wrapping and the interface's methods, each one
// line through run.
type wrapping func(ctx context.Context, op string, f call[any]) (any, error)

func (w wrapping) do(ctx context.Context, op string, f call[any]) (any, error) { return w(ctx, op, f) }

// wrapper is a decorator: what run needs of it.
type wrapper interface {
	do(ctx context.Context, op string, f call[any]) (any, error)
}

// run calls f, method op of the decorated backend, through d's wrapping.
func run[T any](d wrapper, ctx context.Context, op string, f call[T]) (T, error) {
	v, err := d.do(ctx, op, func(ctx context.Context) (any, error) { return f(ctx) })
	out, _ := v.(T)
	return out, err
}

// decorated applies one wrapping to every Backend method.
type decorated struct {
	next Backend
	wrapping
}

func (d *decorated) Cloud() string { return d.next.Cloud() }

func (d *decorated) CreateCluster(ctx context.Context, spec ClusterSpec) (Cluster, error) {
	return run(d, ctx, "CreateCluster", func(ctx context.Context) (Cluster, error) { return d.next.CreateCluster(ctx, spec) })
}

func (d *decorated) GetCluster(ctx context.Context, region, name string) (Cluster, error) {
	return run(d, ctx, "GetCluster", func(ctx context.Context) (Cluster, error) { return d.next.GetCluster(ctx, region, name) })
}

func (d *decorated) DeleteCluster(ctx context.Context, region, name string) error {
	_, err := run(d, ctx, "DeleteCluster", unit(func(ctx context.Context) error { return d.next.DeleteCluster(ctx, region, name) }))
	return err
}

func (d *decorated) CreateNodePool(ctx context.Context, spec NodePoolSpec) (NodePool, error) {
	return run(d, ctx, "CreateNodePool", func(ctx context.Context) (NodePool, error) { return d.next.CreateNodePool(ctx, spec) })
}

func (d *decorated) GetNodePool(ctx context.Context, region, cluster, name string) (NodePool, error) {
	return run(d, ctx, "GetNodePool", func(ctx context.Context) (NodePool, error) { return d.next.GetNodePool(ctx, region, cluster, name) })
}

func (d *decorated) UpdateNodePool(ctx context.Context, region, cluster, name string, u NodePoolUpdate) (NodePool, error) {
	return run(d, ctx, "UpdateNodePool", func(ctx context.Context) (NodePool, error) {
		return d.next.UpdateNodePool(ctx, region, cluster, name, u)
	})
}

func (d *decorated) DeleteNodePool(ctx context.Context, region, cluster, name string) error {
	_, err := run(d, ctx, "DeleteNodePool", unit(func(ctx context.Context) error { return d.next.DeleteNodePool(ctx, region, cluster, name) }))
	return err
}

// RetryPolicy retries throttled and transient errors with exponential
// backoff: Base, 2·Base, 4·Base, ... capped at Max, for at most
// MaxAttempts calls in all.
type RetryPolicy struct {
	MaxAttempts int
	Base, Max   time.Duration
	// Sleep waits for d or until ctx is done; a context-aware time.Sleep
	// when nil.
	Sleep func(ctx context.Context, d time.Duration) error
	// OnRetry is told about each retry (for progress logs); may be nil.
	OnRetry func(op string, attempt int, err error, delay time.Duration)
	// ThrottleBudget is how long a throttled call goes on being retried
	// past MaxAttempts, from its first attempt: throttling is the cloud
	// asking to slow down, not a failure, so under a sustained storm (many
	// callers sharing a subscription's or account's read rate) the call
	// waits its turn, honouring Retry-After, instead of failing the apply.
	// DefaultThrottleBudget when zero.
	ThrottleBudget time.Duration
	// Now tells the time for ThrottleBudget; time.Now when nil.
	Now func() time.Time
}

// DefaultThrottleBudget bounds the retries of a throttled call.
const DefaultThrottleBudget = 15 * time.Minute

// DefaultRetryPolicy suits cloud control planes: 8 attempts over about a
// minute.
var DefaultRetryPolicy = RetryPolicy{MaxAttempts: 8, Base: 500 * time.Millisecond, Max: 20 * time.Second}

// Sleep waits for d or until ctx is done, returning ctx's error then.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// WithRetries wraps a backend so that every call is retried on throttling
// and transient errors. The result implements KubeAccess, NodeReplacer and
// NodePoolLister when b does.
func WithRetries(b Backend, p RetryPolicy) Backend {
	return withOptional(&decorated{next: b, wrapping: retrying(p)})
}

// retrying is the retry loop of WithRetries and WithNetworkRetries.
func retrying(p RetryPolicy) wrapping {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = DefaultRetryPolicy.MaxAttempts
	}
	if p.Base <= 0 {
		p.Base = DefaultRetryPolicy.Base
	}
	if p.Max <= 0 {
		p.Max = DefaultRetryPolicy.Max
	}
	if p.Sleep == nil {
		p.Sleep = Sleep
	}
	if p.ThrottleBudget <= 0 {
		p.ThrottleBudget = DefaultThrottleBudget
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	return func(ctx context.Context, op string, f call[any]) (any, error) {
		delay := p.Base
		start := p.Now()
		for attempt := 1; ; attempt++ {
			v, err := f(ctx)
			if err == nil || !IsRetryable(err) {
				return v, err
			}
			if attempt >= p.MaxAttempts && (!IsThrottled(err) || p.Now().Sub(start) >= p.ThrottleBudget) {
				return v, err
			}
			wait := max(delay, RetryAfterOf(err)) // the cloud's Retry-After when longer
			if p.OnRetry != nil {
				p.OnRetry(op, attempt, err, wait)
			}
			if serr := p.Sleep(ctx, wait); serr != nil {
				return v, serr
			}
			delay = min(2*delay, p.Max)
		}
	}
}

// OpStats are the counters of one backend method.
type OpStats struct {
	Calls  int
	Errors map[string]int // by Kind name
	Time   time.Duration
}

// Metrics collects per-method call counts, errors by kind and time spent.
type Metrics struct {
	mu  sync.Mutex
	ops map[string]*OpStats
}

// Snapshot copies the counters, keyed "cloud.Method".
func (m *Metrics) Snapshot() map[string]OpStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]OpStats, len(m.ops))
	for k, v := range m.ops {
		s := *v
		s.Errors = maps.Clone(v.Errors)
		out[k] = s
	}
	return out
}

// WithMetrics wraps a backend so that every call is counted in m. now
// defaults to time.Now. The result implements KubeAccess, NodeReplacer and
// NodePoolLister when b does.
func WithMetrics(b Backend, m *Metrics, now func() time.Time) Backend {
	return withOptional(&decorated{next: b, wrapping: metering(m, b.Cloud(), now)})
}

// metering is the counting of WithMetrics and WithNetworkMetrics: calls,
// errors by kind and time, keyed "cloud.Method".
func metering(m *Metrics, cl string, now func() time.Time) wrapping {
	if now == nil {
		now = time.Now
	}
	return func(ctx context.Context, op string, f call[any]) (any, error) {
		start := now()
		v, err := f(ctx)
		elapsed := now().Sub(start)
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.ops == nil {
			m.ops = map[string]*OpStats{}
		}
		key := cl + "." + op
		s := m.ops[key]
		if s == nil {
			s = &OpStats{Errors: map[string]int{}}
			m.ops[key] = s
		}
		s.Calls++
		s.Time += elapsed
		if err != nil {
			s.Errors[KindOf(err).String()]++
		}
		return v, err
	}
}

func (d *decorated) List(ctx context.Context, o ListOptions) ([]Resource, error) {
	return run(d, ctx, "List", func(ctx context.Context) ([]Resource, error) { return d.next.List(ctx, o) })
}
