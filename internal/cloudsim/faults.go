package cloudsim

import (
	"fmt"
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
func (e *Engine) Inject(f Fault) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if f.Times <= 0 {
		f.Times = 1
	}
	e.faults = append(e.faults, &f)
}

// ClearFaults removes every fault not yet consumed.
func (e *Engine) ClearFaults() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = nil
}

// takeFault consumes the first matching fault: synchronous ones (Err) when
// midway is false, Midway ones when true.
func (e *Engine) takeFault(cl, op string, t Target, midway bool) *Fault {
	for i, f := range e.faults {
		if f.Cloud != cl || f.Op != op || !f.Target.matches(t) || (f.Midway != nil) != midway {
			continue
		}
		f.Times--
		if f.Times <= 0 {
			e.faults = append(e.faults[:i], e.faults[i+1:]...)
		}
		return f
	}
	return nil
}

// bucket is a token bucket on the engine's clock.
type bucket struct {
	perSecond float64
	burst     float64
	tokens    float64
	last      time.Time
}

// SetRateLimit limits an operation to perSecond calls with bursts of
// burst; perSecond <= 0 removes the limit. Calls over the limit fail with
// a KindThrottled error.
func (e *Engine) SetRateLimit(cl, op string, perSecond float64, burst int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	k := cl + "/" + op
	if perSecond <= 0 {
		delete(e.limits, k)
		return
	}
	e.limits[k] = &bucket{perSecond: perSecond, burst: float64(burst), tokens: float64(burst), last: e.clock.Now()}
}

func (e *Engine) throttled(cl, op string) error {
	b, ok := e.limits[cl+"/"+op]
	if !ok {
		return nil
	}
	now := e.clock.Now()
	b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.perSecond)
	b.last = now
	if b.tokens < 1 {
		return &cloud.Error{Kind: cloud.KindThrottled, Cloud: cl, Op: op, Code: "ThrottlingException",
			Message: fmt.Sprintf("rate exceeded (%g requests per second)", b.perSecond)}
	}
	b.tokens--
	return nil
}
