package nodesignal

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/gpuhealth"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/nodecheck"
)

var fastBackoff = wait.Backoff{Duration: time.Millisecond, Factor: 1, Steps: 4}

func newNode(taints ...corev1.Taint) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "ip-10-0-1-5.ec2.internal", ResourceVersion: "7", Labels: map[string]string{"team": "ml"}},
		Spec:       corev1.NodeSpec{Taints: taints},
	}
}

var (
	unvalidated = corev1.Taint{Key: TaintKey, Value: "true", Effect: corev1.TaintEffectNoSchedule}
	gpuTaint    = corev1.Taint{Key: "nvidia.com/gpu", Value: "present", Effect: corev1.TaintEffectNoSchedule}
)

var (
	passed = &nodecheck.Report{Status: nodecheck.Pass, DriverVersion: "550.54.15", Profile: nodecheck.Profile{GPUCount: 8}}
	failed = &nodecheck.Report{Status: nodecheck.Fail, Results: []nodecheck.Result{
		{Check: "xid", GPU: 3, Status: nodecheck.Fail, Reason: "XID 79 (nvml) is fatal"},
		{Check: "gpu_count", GPU: -1, Status: nodecheck.Fail, Reason: "found 7 GPUs"},
	}}
)

func getNode(t *testing.T, c *fake.Clientset) *corev1.Node {
	t.Helper()
	n, err := c.CoreV1().Nodes().Get(context.Background(), "ip-10-0-1-5.ec2.internal", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func events(t *testing.T, c *fake.Clientset) []corev1.Event {
	t.Helper()
	l, err := c.CoreV1().Events(metav1.NamespaceDefault).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return l.Items
}

func hasTaint(n *corev1.Node, key string) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == key {
			return true
		}
	}
	return false
}

func TestPassRemovesTaint(t *testing.T) {
	c := fake.NewClientset(newNode(unvalidated, gpuTaint))
	s := &Signaler{Client: c, Node: "ip-10-0-1-5.ec2.internal", FailAction: FailTaint, Backoff: fastBackoff}
	if err := s.Signal(context.Background(), passed); err != nil {
		t.Fatal(err)
	}
	n := getNode(t, c)
	if hasTaint(n, TaintKey) || !hasTaint(n, "nvidia.com/gpu") {
		t.Fatalf("taints %+v", n.Spec.Taints)
	}
	if n.Labels[HealthLabel] != "pass" || n.Labels["team"] != "ml" {
		t.Fatalf("labels %v", n.Labels)
	}
	if _, err := time.Parse(time.RFC3339Nano, n.Annotations[CheckedAnnotation]); err != nil {
		t.Fatalf("%s = %q: %v", CheckedAnnotation, n.Annotations[CheckedAnnotation], err)
	}
	ev := events(t, c)
	if len(ev) != 1 || ev[0].Reason != "GPUValidationPassed" || ev[0].Type != corev1.EventTypeNormal || ev[0].InvolvedObject.Name != n.Name {
		t.Fatalf("events %+v", ev)
	}
}

func TestFailKeepsTaintThenRecovers(t *testing.T) {
	c := fake.NewClientset(newNode(gpuTaint))
	s := &Signaler{Client: c, Node: "ip-10-0-1-5.ec2.internal", FailAction: FailCordon, Backoff: fastBackoff}
	ctx := context.Background()
	// A validated node gets a fatal XID: it is tainted again and cordoned.
	if err := s.Signal(ctx, failed); err != nil {
		t.Fatal(err)
	}
	n := getNode(t, c)
	if !hasTaint(n, TaintKey) || !hasTaint(n, "nvidia.com/gpu") || !n.Spec.Unschedulable {
		t.Fatalf("node spec %+v", n.Spec)
	}
	if n.Labels[HealthLabel] != "fail" || !strings.Contains(n.Annotations[ReasonsAnnotation], "gpu 3 xid: XID 79 (nvml) is fatal; node gpu_count: found 7 GPUs") {
		t.Fatalf("labels %v annotations %v", n.Labels, n.Annotations)
	}
	if fs := gpuhealth.DecodeFailures(n.Annotations); len(fs) != 2 || fs[0].GPU != 3 || fs[0].Check != "xid" || fs[1].GPU != -1 || fs[1].Check != "gpu_count" {
		t.Fatalf("failures annotation %q decodes to %+v", n.Annotations[FailuresAnnotation], fs)
	}
	ev := events(t, c)
	if len(ev) != 1 || ev[0].Type != corev1.EventTypeWarning || !strings.Contains(ev[0].Message, "XID 79") {
		t.Fatalf("events %+v", ev)
	}
	// After repair the node passes: taint, cordon and reasons go away.
	if err := s.Signal(ctx, passed); err != nil {
		t.Fatal(err)
	}
	n = getNode(t, c)
	if hasTaint(n, TaintKey) || n.Spec.Unschedulable || n.Annotations[ReasonsAnnotation] != "" || n.Annotations[FailuresAnnotation] != "" || n.Annotations[CordonAnnotation] != "" {
		t.Fatalf("node after recovery %+v %v", n.Spec, n.Annotations)
	}
}

func TestFailDoesNotUncordonWhatOthersCordoned(t *testing.T) {
	node := newNode()
	node.Spec.Unschedulable = true // cordoned by an operator
	c := fake.NewClientset(node)
	s := &Signaler{Client: c, Node: node.Name, FailAction: FailCordon, Backoff: fastBackoff}
	if err := s.Signal(context.Background(), failed); err != nil {
		t.Fatal(err)
	}
	if err := s.Signal(context.Background(), passed); err != nil {
		t.Fatal(err)
	}
	if n := getNode(t, c); !n.Spec.Unschedulable {
		t.Fatal("a node cordoned by someone else was uncordoned")
	}
}

func TestAPIErrors(t *testing.T) {
	nodes := schema.GroupResource{Resource: "nodes"}
	tests := []struct {
		name     string
		reactor  func(calls *int) k8stesting.ReactionFunc
		verb     string
		resource string
		wantErr  string
	}{
		{"RBAC denied on nodes", func(*int) k8stesting.ReactionFunc {
			return func(k8stesting.Action) (bool, runtime.Object, error) {
				return true, nil, apierrors.NewForbidden(nodes, "ip-10-0-1-5.ec2.internal", nil)
			}
		}, "patch", "nodes", "forbidden by RBAC; the service account of gpufleet-nodecheck needs get and patch on nodes"},
		{"RBAC denied on events", func(*int) k8stesting.ReactionFunc {
			return func(k8stesting.Action) (bool, runtime.Object, error) {
				return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "events"}, "", nil)
			}
		}, "create", "events", "needs create on events"},
		{"API unavailable then back", func(calls *int) k8stesting.ReactionFunc {
			return func(k8stesting.Action) (bool, runtime.Object, error) {
				*calls++
				if *calls <= 2 {
					return true, nil, apierrors.NewServiceUnavailable("etcd leader election")
				}
				return false, nil, nil
			}
		}, "get", "nodes", ""},
		{"API unavailable", func(*int) k8stesting.ReactionFunc {
			return func(k8stesting.Action) (bool, runtime.Object, error) {
				return true, nil, apierrors.NewServiceUnavailable("down")
			}
		}, "get", "nodes", "did not answer successfully after retries"},
		{"node missing", func(*int) k8stesting.ReactionFunc {
			return func(k8stesting.Action) (bool, runtime.Object, error) {
				return true, nil, apierrors.NewNotFound(nodes, "ip-10-0-1-5.ec2.internal")
			}
		}, "get", "nodes", "pass the node's name with --node-name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fake.NewClientset(newNode(unvalidated))
			calls := 0
			c.PrependReactor(tt.verb, tt.resource, tt.reactor(&calls))
			s := &Signaler{Client: c, Node: "ip-10-0-1-5.ec2.internal", Backoff: fastBackoff}
			err := s.Signal(context.Background(), passed)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if hasTaint(getNode(t, c), TaintKey) {
					t.Fatal("taint still there after the API came back")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want %q", err, tt.wantErr)
			}
		})
	}
}
