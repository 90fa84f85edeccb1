package cloudsim

import (
	"slices"
	"strings"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
)

// Target narrows a fault to calls about one region, zone or instance type;
// empty fields match anything.
type Target struct {
	Region, Zone, InstanceType string
}

func (t Target) matches(call Target) bool {
	return (t.Region == "" || t.Region == call.Region) && (t.Zone == "" || t.Zone == call.Zone) &&
		(t.InstanceType == "" || t.InstanceType == call.InstanceType)
}

// Fault makes the next Times calls of an operation fail: either at once
// with Err, or (Midway, for CreateNodePool) after being accepted, when the
// operation completes.
type Fault struct {
	Cloud  string
	Op     string // engine operation: "CreateCluster", "CreateNodePool", "GetNodePool", "CreateLaunchTemplate", ...
	Target Target
	Times  int
	Err    *cloud.Error
	Midway *PendingIssue
}

// Inject adds a fault; faults are consumed in the order injected.
func (e *Engine) Inject(f Fault) error {
	defer e.lock()()
	if err := e.ready(); err != nil {
		return err
	}
	if f.Times <= 0 {
		f.Times = 1
	}
	e.st.Faults = append(e.st.Faults, &f)
	return e.save()
}

// ClearFaults removes every fault not yet consumed.
func (e *Engine) ClearFaults() error {
	defer e.lock()()
	if err := e.ready(); err != nil {
		return err
	}
	e.st.Faults = nil
	return e.save()
}

// takeFault consumes the first matching fault: synchronous ones (Err) when
// midway is false, Midway ones when true.
func (e *Engine) takeFault(cl, op string, t Target, midway bool) *Fault {
	for i, f := range e.st.Faults {
		if f.Cloud != cl || f.Op != op || !f.Target.matches(t) || (f.Midway != nil) != midway {
			continue
		}
		f.Times--
		if f.Times <= 0 {
			e.st.Faults = append(e.st.Faults[:i], e.st.Faults[i+1:]...)
		}
		e.dirty = true // saved by the call or its unlock
		return f
	}
	return nil
}

// bucket is a token bucket on the engine's clock: an operation's own, or
// one that every operation in Ops shares (SetSharedRateLimit).
type bucket struct {
	PerSecond float64   `json:"per_second"`
	Burst     float64   `json:"burst"`
	Tokens    float64   `json:"tokens"`
	Last      time.Time `json:"last"`
	// Ops are the operations that draw on a shared bucket; an entry
	// ending in "*" names every operation it is the prefix of.
	Ops []string `json:"ops,omitempty"`
	// Throttled counts the calls it refused.
	Throttled int `json:"throttled,omitempty"`
}

func (b *bucket) covers(op string) bool {
	for _, o := range b.Ops {
		if prefix, ok := strings.CutSuffix(o, "*"); ok && strings.HasPrefix(op, prefix) || o == op {
			return true
		}
	}
	return false
}

// SetRateLimit limits an operation to perSecond calls with bursts of
// burst; perSecond <= 0 removes the limit. Calls over the limit fail with
// a KindThrottled error.
func (e *Engine) SetRateLimit(cl, op string, perSecond float64, burst int) error {
	return e.setLimit(cl+"/"+op, nil, perSecond, burst)
}

// SetSharedRateLimit limits the operations ops of a cloud together, as a
// cloud's quota on a class of requests does (Azure Resource Manager's
// subscription reads, Compute Engine's read requests): one bucket of
// perSecond calls with bursts of burst, named name, that each of them draws
// on (an op ending in "*" stands for every operation it is the prefix of,
// e.g. "Get*"). An operation may also have its own limit: a call then needs
// a token of each. perSecond <= 0 removes it.
func (e *Engine) SetSharedRateLimit(cl, name string, ops []string, perSecond float64, burst int) error {
	return e.setLimit(cl+"/shared:"+name, slices.Clone(ops), perSecond, burst)
}

func (e *Engine) setLimit(k string, ops []string, perSecond float64, burst int) error {
	defer e.lock()()
	if err := e.ready(); err != nil {
		return err
	}
	if perSecond <= 0 {
		delete(e.st.Limits, k)
	} else {
		e.st.Limits[k] = &bucket{PerSecond: perSecond, Burst: float64(burst), Tokens: float64(burst), Last: e.clock.Now(), Ops: ops}
	}
	return e.save()
}

// ThrottledCalls counts, per rate limit (cloud/op, or cloud/shared:name),
// the calls it refused since it was set.
func (e *Engine) ThrottledCalls() map[string]int {
	defer e.lock()()
	out := map[string]int{}
	for k, b := range e.st.Limits {
		out[k] = b.Throttled
	}
	return out
}

// throttled takes a token from every bucket the call draws on (its
// operation's and the shared ones that cover it), or from none when one of
// them is empty: that refusal is a KindThrottled error.
func (e *Engine) throttled(cl, op string) error {
	var drawn []*bucket
	if b, ok := e.st.Limits[cl+"/"+op]; ok {
		drawn = append(drawn, b)
	}
	for _, k := range sortedKeys(e.st.Limits) {
		if b := e.st.Limits[k]; len(b.Ops) > 0 && strings.HasPrefix(k, cl+"/shared:") && b.covers(op) {
			drawn = append(drawn, b)
		}
	}
	now := e.clock.Now()
	for _, b := range drawn {
		b.Tokens = min(b.Burst, b.Tokens+now.Sub(b.Last).Seconds()*b.PerSecond)
		b.Last = now
		if b.Tokens < 1 {
			b.Throttled++
			e.dirty = true // the count is part of the world
			return cloud.Throttled(cl, op, "ThrottlingException", "rate exceeded (%g requests per second)", b.PerSecond)
		}
	}
	for _, b := range drawn {
		b.Tokens--
	}
	return nil
}
