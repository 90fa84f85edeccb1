package fleet

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/gpuhealth"
)

// Node is a pool's node as its cluster's Kubernetes API shows it.
type Node struct {
	Name, ProviderID string
	// Ready is the node's Ready condition.
	Ready bool
	// Health is the validator's verdict: gpuhealth.Pass, gpuhealth.Fail,
	// or empty while it has not run.
	Health string
	// Tainted is true while the node has the unvalidated taint.
	Tainted bool
	// Failures are the failed checks the validator recorded.
	Failures []gpuhealth.Failure
	// CheckedAt is when the validator gave its verdict: a node that keeps
	// its name through a replacement is judged anew by a new time.
	CheckedAt string
}

// Validated reports whether the node can take work: Ready, passed, and
// no longer tainted.
func (n Node) Validated() bool { return n.Ready && n.Health == gpuhealth.Pass && !n.Tainted }

// NodeReader reads the nodes of a pool from its cluster's Kubernetes API
// (the nodes labelled gpuhealth.PoolLabel = the pool's name).
type NodeReader interface {
	PoolNodes(ctx context.Context, p Pool) ([]Node, error)
}

// Validation makes pool creation and scale-out wait until the new nodes
// are Ready and validated, replacing nodes that fail.
type Validation struct {
	Nodes NodeReader
	// Poll is how often the nodes are read (10 s when zero).
	Poll time.Duration
	// Timeout bounds the wait per pool (20 min when zero).
	Timeout time.Duration
	// MaxReplacements is how many failed nodes of one pool are replaced
	// before the pool's offer counts as bad hardware and the allocation
	// fails over (2 when zero; negative: none).
	MaxReplacements int
	// Sleep waits between reads (a timer honouring ctx when nil); tests
	// advance a fake clock with it.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock of the timeout (time.Now when nil).
	Now func() time.Time
}

// NodeFailure is a node that failed validation.
type NodeFailure struct {
	Node string
	gpuhealth.Failure
	// Replaced is true when the node was replaced because of it.
	Replaced bool
}

// ValidationError is a pool whose nodes did not all become validated.
type ValidationError struct {
	Pool string
	Site string
	// Exhausted is true when nodes kept failing after MaxReplacements
	// replacements: the offer's hardware counts as bad and the allocation
	// may fail over. Otherwise the wait timed out.
	Exhausted         bool
	Validated, Wanted int
	Waited            time.Duration
	// Pending describes the nodes that are not validated.
	Pending  []string
	Failures []NodeFailure
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	if e.Exhausted {
		fmt.Fprintf(&b, "node pool %s in %s: nodes keep failing GPU validation after %d replacements (%d/%d nodes validated)",
			e.Pool, e.Site, replacedCount(e.Failures), e.Validated, e.Wanted)
	} else {
		fmt.Fprintf(&b, "node pool %s in %s: %d/%d nodes validated after %s", e.Pool, e.Site, e.Validated, e.Wanted, e.Waited.Round(time.Second))
	}
	if len(e.Pending) > 0 {
		fmt.Fprintf(&b, "; not validated: %s", strings.Join(e.Pending, ", "))
	}
	if !e.Exhausted && len(e.Failures) == 0 {
		b.WriteString("; no node was judged: check that the gpufleet-nodecheck DaemonSet runs in the cluster " +
			"(gpufleet_cluster.node_validation.enabled) and that its image can be pulled, or raise the pool's validation_timeout")
	}
	return b.String()
}

func replacedCount(fs []NodeFailure) int {
	n := 0
	for _, f := range fs {
		if f.Replaced {
			n++
		}
	}
	return n
}

func (v *Validation) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Validation) sleep(ctx context.Context, d time.Duration) error {
	if v.Sleep != nil {
		return v.Sleep(ctx, d)
	}
	return cloud.Sleep(ctx, d)
}

// wait waits until p has p.Offer.Nodes validated nodes, replacing the
// nodes that fail (at most MaxReplacements) through the backend. It
// records the validated count and the failures on p.
func (v *Validation) wait(ctx context.Context, b cloud.Backend, p *Pool, logf func(string, ...any)) error {
	poll, timeout, budget := v.Poll, v.Timeout, v.MaxReplacements
	if poll <= 0 {
		poll = 10 * time.Second
	}
	if timeout <= 0 {
		timeout = 20 * time.Minute
	}
	if budget == 0 {
		budget = 2
	}
	start := v.now()
	replacer, canReplace := b.(cloud.NodeReplacer)
	handled := map[string]bool{} // verdicts (node and time) already acted on
	var lastErr error
	for {
		nodes, err := v.Nodes.PoolNodes(ctx, *p)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			lastErr = err // the API server may be starting; keep trying until the timeout
		} else {
			lastErr = nil
			validated := 0
			sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
			for _, n := range nodes {
				switch {
				case n.Validated():
					validated++
				case n.Health == gpuhealth.Fail && !handled[n.Name+"@"+n.CheckedAt]:
					handled[n.Name+"@"+n.CheckedAt] = true
					fs := n.Failures
					if len(fs) == 0 {
						fs = []gpuhealth.Failure{{GPU: -1, Check: "validation", Reason: "failed"}}
					}
					replace := canReplace && budget > 0 && replacedCount(p.Failures) < budget
					for _, f := range fs {
						p.Failures = append(p.Failures, NodeFailure{Node: n.Name, Failure: f, Replaced: replace})
					}
					if !replace {
						return &ValidationError{Pool: p.Name, Site: p.Offer.Site(), Exhausted: true, Validated: validated,
							Wanted: p.Offer.Nodes, Pending: describe(nodes), Failures: p.Failures}
					}
					logf("node %s of pool %s failed GPU validation (%s): replacing it", n.Name, p.Name, gpuhealth.Reasons(fs))
					if err := replacer.ReplaceNode(ctx, p.Offer.Region, p.Cluster, p.Name, cloud.NodeRef{Name: n.Name, ProviderID: n.ProviderID}); err != nil && !cloud.IsNotFound(err) {
						return fmt.Errorf("node pool %s: replacing node %s, which failed GPU validation: %w", p.Name, n.Name, err)
					}
				}
			}
			p.Validated = validated
			if validated >= p.Offer.Nodes {
				logf("node pool %s in %s: %d/%d nodes validated", p.Name, p.Offer.Site(), validated, p.Offer.Nodes)
				return nil
			}
		}
		if waited := v.now().Sub(start); waited >= timeout {
			e := &ValidationError{Pool: p.Name, Site: p.Offer.Site(), Validated: p.Validated, Wanted: p.Offer.Nodes, Waited: waited, Failures: p.Failures}
			if nodes, err := v.Nodes.PoolNodes(ctx, *p); err == nil {
				e.Pending = describe(nodes)
			}
			if lastErr != nil {
				return fmt.Errorf("%w; the last read of the nodes failed: %v", e, lastErr)
			}
			return e
		}
		if err := v.sleep(ctx, poll); err != nil {
			return err
		}
	}
}

// describe says why each node is not validated yet.
func describe(nodes []Node) []string {
	var out []string
	for _, n := range nodes {
		switch {
		case n.Validated():
		case !n.Ready:
			out = append(out, n.Name+" (not Ready)")
		case n.Health == gpuhealth.Fail:
			out = append(out, n.Name+" (failed: "+gpuhealth.Reasons(n.Failures)+")")
		case n.Health == "":
			out = append(out, n.Name+" (not checked yet)")
		case n.Tainted:
			out = append(out, n.Name+" (passed, still tainted)")
		}
	}
	return out
}

// isBadHardware reports whether err is a pool whose nodes kept failing
// validation: the allocation fails over as on a capacity error.
func isBadHardware(err error) bool {
	var ve *ValidationError
	return errors.As(err, &ve) && ve.Exhausted
}
