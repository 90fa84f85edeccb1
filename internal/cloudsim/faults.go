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
	defer e.lock()()
	if f.Times <= 0 {
		f.Times = 1
	}
	e.st.Faults = append(e.st.Faults, &f)
	_ = e.save()
}

// ClearFaults removes every fault not yet consumed.
func (e *Engine) ClearFaults() {
	defer e.lock()()
	e.st.Faults = nil
	_ = e.save()
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
		_ = e.save()
		return f
	}
	return nil
}

// bucket is a token bucket on the engine's clock.
type bucket struct {
	PerSecond float64   `json:"per_second"`
	Burst     float64   `json:"burst"`
	Tokens    float64   `json:"tokens"`
	Last      time.Time `json:"last"`
}

// SetRateLimit limits an operation to perSecond calls with bursts of
// burst; perSecond <= 0 removes the limit. Calls over the limit fail with
// a KindThrottled error.
func (e *Engine) SetRateLimit(cl, op string, perSecond float64, burst int) {
	defer e.lock()()
	k := cl + "/" + op
	if perSecond <= 0 {
		delete(e.st.Limits, k)
	} else {
		e.st.Limits[k] = &bucket{PerSecond: perSecond, Burst: float64(burst), Tokens: float64(burst), Last: e.clock.Now()}
	}
	_ = e.save()
}

func (e *Engine) throttled(cl, op string) error {
	b, ok := e.st.Limits[cl+"/"+op]
	if !ok {
		return nil
	}
	now := e.clock.Now()
	b.Tokens = min(b.Burst, b.Tokens+now.Sub(b.Last).Seconds()*b.PerSecond)
	b.Last = now
	if b.Tokens < 1 {
		return &cloud.Error{Kind: cloud.KindThrottled, Cloud: cl, Op: op, Code: "ThrottlingException",
			Message: fmt.Sprintf("rate exceeded (%g requests per second)", b.PerSecond)}
	}
	b.Tokens--
	return nil
}
