// Package nodesignal tells Kubernetes what gpufleet-nodecheck found on a
// node: on success it removes the gpufleet.dev/unvalidated taint and labels
// the node healthy; on failure it keeps (or puts back) the taint, labels the
// node failed, records the reasons in an annotation and an event, and
// optionally cordons it.
package nodesignal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/gpuhealth"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/nodecheck"
)

// Node keys gpufleet owns (defined once in internal/gpuhealth).
const (
	TaintKey           = gpuhealth.TaintKey
	HealthLabel        = gpuhealth.HealthLabel
	ReasonsAnnotation  = gpuhealth.ReasonsAnnotation
	FailuresAnnotation = gpuhealth.FailuresAnnotation
	CordonAnnotation   = gpuhealth.CordonAnnotation
	CheckedAnnotation  = gpuhealth.CheckedAnnotation
)

// FailAction is what happens to a node that fails validation, beyond
// keeping the taint.
type FailAction string

// Fail actions.
const (
	FailTaint  FailAction = "taint"  // keep the NoSchedule taint only
	FailCordon FailAction = "cordon" // also mark the node unschedulable
)

// Signaler updates one node.
type Signaler struct {
	Client     kubernetes.Interface
	Node       string
	FailAction FailAction
	// Backoff retries API calls that fail with a server-side or transient
	// error (unavailable, timeouts, too many requests, conflicts).
	Backoff wait.Backoff
	// Now stamps events; time.Now when nil.
	Now func() time.Time
}

// DefaultBackoff retries for about half a minute.
var DefaultBackoff = wait.Backoff{Duration: 500 * time.Millisecond, Factor: 2, Jitter: 0.1, Steps: 6}

// Signal applies a report to the node.
func (s *Signaler) Signal(ctx context.Context, r *nodecheck.Report) error {
	pass := r.Status != nodecheck.Fail
	err := s.retry(ctx, func() error { return s.patchNode(ctx, pass, r) })
	if err != nil {
		return s.explain("update node "+s.Node, "get and patch on nodes", err)
	}
	if err := s.retry(ctx, func() error { return s.event(ctx, pass, r) }); err != nil {
		return s.explain("record an event on node "+s.Node, "create on events", err)
	}
	return nil
}

// explain turns API errors into what a person must change.
func (s *Signaler) explain(what, verbs string, err error) error {
	switch {
	case apierrors.IsForbidden(err):
		return fmt.Errorf("cannot %s: forbidden by RBAC; the service account of gpufleet-nodecheck needs %s (see the ClusterRole in the bootstrap manifest): %w", what, verbs, err)
	case apierrors.IsNotFound(err):
		return fmt.Errorf("cannot %s: node %q does not exist; pass the node's name with --node-name (the downward API's spec.nodeName): %w", what, s.Node, err)
	case apierrors.IsUnauthorized(err):
		return fmt.Errorf("cannot %s: the API server rejected the credentials: %w", what, err)
	}
	return fmt.Errorf("cannot %s: the API server did not answer successfully after retries: %w", what, err)
}

func retriable(err error) bool {
	return apierrors.IsServiceUnavailable(err) || apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) ||
		apierrors.IsTooManyRequests(err) || apierrors.IsInternalError(err) || apierrors.IsConflict(err) ||
		errors.Is(err, context.DeadlineExceeded) || isConnectionError(err)
}

func isConnectionError(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, "connection refused") || strings.Contains(msg, "connection reset") || strings.Contains(msg, "EOF")
}

func (s *Signaler) retry(ctx context.Context, f func() error) error {
	b := s.Backoff
	if b.Steps == 0 {
		b = DefaultBackoff
	}
	var last error
	err := wait.ExponentialBackoffWithContext(ctx, b, func(context.Context) (bool, error) {
		last = f()
		switch {
		case last == nil:
			return true, nil
		case retriable(last):
			return false, nil
		}
		return false, last
	})
	if wait.Interrupted(err) && last != nil {
		return last
	}
	return err
}

// patchNode sends a JSON merge patch guarded by the node's resourceVersion,
// so that a concurrent change (another controller's taint) is never lost:
// a conflict is retried from a fresh read.
func (s *Signaler) patchNode(ctx context.Context, pass bool, r *nodecheck.Report) error {
	node, err := s.Client.CoreV1().Nodes().Get(ctx, s.Node, metav1.GetOptions{})
	if err != nil {
		return err
	}
	taints := slices.DeleteFunc(slices.Clone(node.Spec.Taints), func(t corev1.Taint) bool { return t.Key == TaintKey })
	labels := map[string]any{}
	annotations := map[string]any{}
	spec := map[string]any{}
	if pass {
		labels[HealthLabel] = gpuhealth.Pass
		annotations[ReasonsAnnotation] = nil
		annotations[FailuresAnnotation] = nil
		if node.Annotations[CordonAnnotation] == "true" {
			spec["unschedulable"] = false
			annotations[CordonAnnotation] = nil
		}
	} else {
		taints = append(taints, corev1.Taint{Key: TaintKey, Value: gpuhealth.TaintValue, Effect: corev1.TaintEffectNoSchedule})
		labels[HealthLabel] = gpuhealth.Fail
		annotations[ReasonsAnnotation] = reasons(r)
		annotations[FailuresAnnotation] = gpuhealth.EncodeFailures(failures(r))
		if s.FailAction == FailCordon && !node.Spec.Unschedulable {
			spec["unschedulable"] = true
			annotations[CordonAnnotation] = "true"
		}
	}
	spec["taints"] = taints
	annotations[CheckedAnnotation] = s.now().UTC().Format(time.RFC3339Nano)
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"resourceVersion": node.ResourceVersion, "labels": labels, "annotations": annotations},
		"spec":     spec,
	})
	if err != nil {
		return err
	}
	_, err = s.Client.CoreV1().Nodes().Patch(ctx, s.Node, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "gpufleet-nodecheck"})
	return err
}

// failures are the report's failed checks in gpuhealth's form.
func failures(r *nodecheck.Report) []gpuhealth.Failure {
	var out []gpuhealth.Failure
	for _, f := range r.Failures() {
		out = append(out, gpuhealth.Failure{GPU: f.GPU, Check: f.Check, Reason: f.Reason})
	}
	return out
}

// reasons summarizes the failures for the annotation and the event.
func reasons(r *nodecheck.Report) string { return gpuhealth.Reasons(failures(r)) }

func (s *Signaler) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Signaler) event(ctx context.Context, pass bool, r *nodecheck.Report) error {
	stamp := s.now()
	t := metav1.NewTime(stamp)
	ev := &corev1.Event{
		// Named like the kubelet names its events: object name and a
		// time-based suffix.
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s.gpufleet.%x", s.Node, stamp.UnixNano()), Namespace: metav1.NamespaceDefault},
		InvolvedObject: corev1.ObjectReference{
			Kind: "Node", Name: s.Node, UID: types.UID(s.Node), APIVersion: "v1",
		},
		Source:         corev1.EventSource{Component: "gpufleet-nodecheck", Host: s.Node},
		FirstTimestamp: t, LastTimestamp: t, Count: 1,
	}
	if pass {
		ev.Type, ev.Reason = corev1.EventTypeNormal, "GPUValidationPassed"
		ev.Message = fmt.Sprintf("%d GPUs passed NVML validation (driver %s); taint %s removed", r.Profile.GPUCount, r.DriverVersion, TaintKey)
	} else {
		ev.Type, ev.Reason = corev1.EventTypeWarning, "GPUValidationFailed"
		ev.Message = reasons(r)
	}
	_, err := s.Client.CoreV1().Events(metav1.NamespaceDefault).Create(ctx, ev, metav1.CreateOptions{})
	return err
}
