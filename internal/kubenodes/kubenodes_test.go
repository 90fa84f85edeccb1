package kubenodes

import (
	"context"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/fake"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/fleet"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/gpuhealth"
)

func node(name, pool string, ready bool, health string, tainted bool, ann map[string]string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{gpuhealth.PoolLabel: pool}, Annotations: ann},
		Spec: corev1.NodeSpec{ProviderID: "aws:///eu-north-1a/i-" + name}}
	if health != "" {
		n.Labels[gpuhealth.HealthLabel] = health
	}
	if tainted {
		n.Spec.Taints = []corev1.Taint{{Key: gpuhealth.TaintKey, Value: "true", Effect: corev1.TaintEffectNoSchedule}}
	}
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st}}
	return n
}

func TestPoolNodes(t *testing.T) {
	failed := gpuhealth.EncodeFailures([]gpuhealth.Failure{{GPU: 3, Check: "xid", Reason: "XID 79"}})
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c := fake.NewSimpleDynamicClient(scheme,
		node("a", "gpufleet-1", true, gpuhealth.Pass, false, nil),
		node("b", "gpufleet-1", true, gpuhealth.Fail, true, map[string]string{gpuhealth.FailuresAnnotation: failed}),
		node("c", "gpufleet-1", false, "", true, nil),
		node("d", "gpufleet-2", true, gpuhealth.Pass, false, nil), // another pool
		node("e", "gpufleet-1", true, gpuhealth.Pass, true, nil),  // passed, taint not yet removed
	)
	calls := 0
	r := &Reader{Client: func(context.Context, string, string) (dynamic.Interface, error) { calls++; return c, nil }}
	p := fleet.Pool{Name: "gpufleet-1", Cluster: "c1", Offer: fleet.Offer{Cloud: "aws", Region: "eu-north-1"}}
	for range 2 {
		got, err := r.PoolNodes(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		want := []fleet.Node{
			{Name: "a", ProviderID: "aws:///eu-north-1a/i-a", Ready: true, Health: gpuhealth.Pass},
			{Name: "b", ProviderID: "aws:///eu-north-1a/i-b", Ready: true, Health: gpuhealth.Fail, Tainted: true,
				Failures: []gpuhealth.Failure{{GPU: 3, Check: "xid", Reason: "XID 79"}}},
			{Name: "c", ProviderID: "aws:///eu-north-1a/i-c", Tainted: true},
			{Name: "e", ProviderID: "aws:///eu-north-1a/i-e", Ready: true, Health: gpuhealth.Pass, Tainted: true},
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("PoolNodes =\n%+v\nwant\n%+v", got, want)
		}
		validated := 0
		for _, n := range got {
			if n.Validated() {
				validated++
			}
		}
		if validated != 1 {
			t.Fatalf("%d validated, want only a", validated)
		}
	}
	if calls != 1 {
		t.Fatalf("client made %d times, want once per cluster", calls)
	}
}
