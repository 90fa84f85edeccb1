package kubefront

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/bootstrap"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/nodesignal"
)

// applyManifest server-side-applies a multi-document manifest the way the
// provider does: discovery, a REST mapper, the dynamic client.
func (w *world) applyManifest(cl, manifest string, skipKinds ...string) {
	w.t.Helper()
	cfg := w.config(cl)
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		w.t.Fatal(err)
	}
	groups, err := restmapper.GetAPIGroupResources(dc)
	if err != nil {
		w.t.Fatal(err)
	}
	mapper := restmapper.NewDiscoveryRESTMapper(groups)
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		w.t.Fatal(err)
	}
	for _, doc := range strings.Split(manifest, "\n---\n") {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			w.t.Fatal(err)
		}
		if len(u.Object) == 0 || contains(skipKinds, u.GetKind()) {
			continue
		}
		gvk := u.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			w.t.Fatalf("mapping %s: %v", gvk, err)
		}
		var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
		if u.GetNamespace() != "" {
			ri = dyn.Resource(m.Resource).Namespace(u.GetNamespace())
		}
		if _, err := ri.Apply(context.Background(), u.GetName(), u, metav1.ApplyOptions{FieldManager: "gpufleet", Force: true}); err != nil {
			w.t.Fatalf("apply %s %s: %v", gvk.Kind, u.GetName(), err)
		}
	}
}

func nodecheckManifest(t *testing.T, gpuLabel string) string {
	t.Helper()
	m, err := bootstrap.DaemonSetManifest(bootstrap.Settings{NVMLValidation: true, Image: "ghcr.io/gpufleet/nodecheck:v1.0.0"},
		bootstrap.DaemonSetOptions{GPUNodeLabel: gpuLabel})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func pods(t *testing.T, c kubernetes.Interface, selector string) []corev1.Pod {
	t.Helper()
	l, err := c.CoreV1().Pods("").List(context.Background(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	return l.Items
}

// TestDaemonSetValidation is the GPU validation loop: the bootstrap
// DaemonSet is applied, the kubelet runs a pod on each GPU node whose
// taints it tolerates, the pod signals through nodesignal with its
// service account, healthy nodes lose the taint and the faulty one keeps
// it with the reasons.
func TestDaemonSetValidation(t *testing.T) {
	runner := &signalRunner{}
	w := newWorld(t, Options{Runner: runner})
	w.pool("aws", "gpu", 3, unvalidated)
	w.pool("aws", "infra", 1, cloud.Taint{Key: "dedicated", Value: "infra", Effect: "NoSchedule"})
	if err := w.e.InjectGPUFault(cloudsim.GPUFaultSelector{Pool: "gpu", Nodes: 1}, cloudsim.GPUFault{Kind: cloudsim.GPUFaultXID79, GPU: 3}); err != nil {
		t.Fatal(err)
	}
	c := w.client("aws")
	ctx := context.Background()
	w.applyManifest("aws", nodecheckManifest(t, LabelEKSGPU))

	machines, _ := w.e.PoolNodes("aws", clusterOf["aws"].region, "c1", "gpu")
	faulty := machines[0].Name
	eventually(t, "three pods finished", func() (bool, error) {
		done := 0
		for _, p := range pods(t, c, "app.kubernetes.io/name=gpufleet-nodecheck") {
			if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
				done++
			}
		}
		return done == 3, nil
	})
	ps := pods(t, c, "app.kubernetes.io/name=gpufleet-nodecheck")
	if len(ps) != 3 {
		t.Fatalf("pods %d", len(ps))
	}
	for _, p := range ps {
		wantPhase, wantExit := corev1.PodSucceeded, int32(0)
		if p.Spec.NodeName == faulty {
			wantPhase, wantExit = corev1.PodFailed, 1
		}
		cs := p.Status.ContainerStatuses
		if p.Status.Phase != wantPhase || len(cs) != 1 || cs[0].State.Terminated == nil || cs[0].State.Terminated.ExitCode != wantExit ||
			!strings.HasPrefix(p.Name, "gpufleet-nodecheck-") || len(p.Name) != len("gpufleet-nodecheck-")+5 ||
			len(p.OwnerReferences) != 1 || p.OwnerReferences[0].Kind != "DaemonSet" || p.Spec.NodeName == "" {
			t.Errorf("pod %s on %s: %s %+v", p.Name, p.Spec.NodeName, p.Status.Phase, cs)
		}
	}
	for _, m := range machines {
		n, err := c.CoreV1().Nodes().Get(ctx, m.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if m.Name == faulty {
			if !hasTaint(n, nodesignal.TaintKey) || n.Labels[nodesignal.HealthLabel] != "fail" || !strings.Contains(n.Annotations[nodesignal.ReasonsAnnotation], "xid79") {
				t.Errorf("faulty node %s: %v %v %v", m.Name, n.Spec.Taints, n.Labels, n.Annotations)
			}
		} else if hasTaint(n, nodesignal.TaintKey) || n.Labels[nodesignal.HealthLabel] != "pass" {
			t.Errorf("healthy node %s: %v %v", m.Name, n.Spec.Taints, n.Labels)
		}
	}
	ev, err := c.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + faulty + ",reason=GPUValidationFailed"})
	if err != nil || len(ev.Items) != 1 {
		t.Fatalf("events %v %v", ev, err)
	}
	eventually(t, "DaemonSet status", func() (bool, error) {
		ds, err := c.AppsV1().DaemonSets(bootstrap.DefaultNamespace).Get(ctx, "gpufleet-nodecheck", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		s := ds.Status
		return s.DesiredNumberScheduled == 3 && s.CurrentNumberScheduled == 3 && s.UpdatedNumberScheduled == 3 && s.NumberReady == 2 &&
			s.ObservedGeneration == ds.Generation, fmt.Errorf("status %+v", s)
	})
	if l, _ := c.CoreV1().Pods(bootstrap.DefaultNamespace).GetLogs(ps[0].Name, &corev1.PodLogOptions{}).DoRaw(ctx); !strings.Contains(string(l), "node ") {
		t.Errorf("log %q", l)
	}

	// A deleted pod is recreated and runs again.
	runs := runner.count()
	if err := c.CoreV1().Pods(bootstrap.DefaultNamespace).Delete(ctx, ps[0].Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the pod is recreated", func() (bool, error) {
		for _, p := range pods(t, c, "app.kubernetes.io/name=gpufleet-nodecheck") {
			if p.Spec.NodeName == ps[0].Spec.NodeName && p.Name != ps[0].Name && p.Status.Phase != corev1.PodPending {
				return runner.count() > runs, nil
			}
		}
		return false, nil
	})

	// A new template replaces the pods on every node.
	patch := `{"spec":{"template":{"metadata":{"annotations":{"gpufleet.dev/rev":"2"}}}}}`
	ds, err := c.AppsV1().DaemonSets(bootstrap.DefaultNamespace).Patch(ctx, "gpufleet-nodecheck", types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
	if err != nil || ds.Generation != 2 {
		t.Fatalf("template change: %v %v", ds, err)
	}
	eventually(t, "pods of generation 2", func() (bool, error) {
		ps := pods(t, c, "app.kubernetes.io/name=gpufleet-nodecheck")
		for _, p := range ps {
			if p.Labels["pod-template-generation"] != "2" || p.Annotations["gpufleet.dev/rev"] != "2" {
				return false, nil
			}
		}
		return len(ps) == 3, nil
	})

	// A node that is replaced gets a pod once it registers.
	if err := w.e.ReplaceNode("aws", clusterOf["aws"].region, "c1", "gpu", faulty); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(cloudsim.DefaultDurations.PoolCreate)
	fresh, _ := w.e.PoolNodes("aws", clusterOf["aws"].region, "c1", "gpu")
	eventually(t, "the replacement is validated", func() (bool, error) {
		n, err := c.CoreV1().Nodes().Get(ctx, fresh[2].Name, metav1.GetOptions{})
		return err == nil && n.Labels[nodesignal.HealthLabel] == "pass" && !hasTaint(n, nodesignal.TaintKey), err
	})
	if _, err := c.CoreV1().Nodes().Get(ctx, faulty, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("terminated node: %v", err)
	}

	// Deleting the DaemonSet deletes its pods.
	if err := c.AppsV1().DaemonSets(bootstrap.DefaultNamespace).Delete(ctx, "gpufleet-nodecheck", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "pods gone", func() (bool, error) {
		return len(pods(t, c, "app.kubernetes.io/name=gpufleet-nodecheck")) == 0, nil
	})
}

// TestBrokenInstall: without the ClusterRoleBinding the pods' service
// account may not patch nodes, the pods fail after their restarts and the
// nodes keep the taint; without the service account no pod is created.
func TestBrokenInstall(t *testing.T) {
	cases := []struct {
		name     string
		skip     []string
		wantPods bool
	}{
		{"no ClusterRoleBinding", []string{"ClusterRoleBinding"}, true},
		{"no ServiceAccount", []string{"ServiceAccount"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, Options{Runner: &signalRunner{}, MaxRestarts: 1})
			w.pool("gcp", "gpu", 1, unvalidated)
			c := w.client("gcp")
			ctx := context.Background()
			w.applyManifest("gcp", nodecheckManifest(t, LabelGKEGPU), tc.skip...)
			if !tc.wantPods {
				eventually(t, "FailedCreate event", func() (bool, error) {
					ev, err := c.CoreV1().Events(bootstrap.DefaultNamespace).List(ctx, metav1.ListOptions{FieldSelector: "reason=FailedCreate"})
					return err == nil && len(ev.Items) == 1 && strings.Contains(ev.Items[0].Message, "serviceaccount"), err
				})
				if p := pods(t, c, ""); len(p) != 0 {
					t.Fatalf("pods without a service account: %v", p)
				}
				return
			}
			eventually(t, "the pod fails", func() (bool, error) {
				ps := pods(t, c, "app.kubernetes.io/name=gpufleet-nodecheck")
				return len(ps) == 1 && ps[0].Status.Phase == corev1.PodFailed, nil
			})
			p := pods(t, c, "app.kubernetes.io/name=gpufleet-nodecheck")[0]
			if cs := p.Status.ContainerStatuses[0]; cs.RestartCount != 1 || cs.State.Terminated.ExitCode != 2 {
				t.Fatalf("container %+v", cs)
			}
			log, _ := c.CoreV1().Pods(bootstrap.DefaultNamespace).GetLogs(p.Name, &corev1.PodLogOptions{}).DoRaw(ctx)
			if !strings.Contains(string(log), "forbidden") {
				t.Fatalf("log %q", log)
			}
			n, _ := c.CoreV1().Nodes().Get(ctx, p.Spec.NodeName, metav1.GetOptions{})
			if !hasTaint(n, nodesignal.TaintKey) {
				t.Fatalf("node untainted without RBAC: %v", n.Spec.Taints)
			}
		})
	}
}

// TestPlacement: node selectors, required node affinity operators and
// taints against tolerations decide where daemon pods run and stay.
func TestPlacement(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: map[string]string{"gpu": "h100", "gen": "5"}}}
	aff := func(reqs ...corev1.NodeSelectorRequirement) *corev1.Affinity {
		return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: reqs}}}}}
	}
	req := func(key string, op corev1.NodeSelectorOperator, vals ...string) corev1.NodeSelectorRequirement {
		return corev1.NodeSelectorRequirement{Key: key, Operator: op, Values: vals}
	}
	noSched := corev1.Taint{Key: "k", Value: "v", Effect: corev1.TaintEffectNoSchedule}
	noExec := corev1.Taint{Key: "k", Value: "v", Effect: corev1.TaintEffectNoExecute}
	cases := []struct {
		name      string
		spec      corev1.PodSpec
		taints    []corev1.Taint
		run, stay bool
	}{
		{"nothing", corev1.PodSpec{}, nil, true, true},
		{"selector match", corev1.PodSpec{NodeSelector: map[string]string{"gpu": "h100"}}, nil, true, true},
		{"selector mismatch", corev1.PodSpec{NodeSelector: map[string]string{"gpu": "a100"}}, nil, false, false},
		{"exists", corev1.PodSpec{Affinity: aff(req("gpu", corev1.NodeSelectorOpExists))}, nil, true, true},
		{"exists missing", corev1.PodSpec{Affinity: aff(req("tpu", corev1.NodeSelectorOpExists))}, nil, false, false},
		{"in", corev1.PodSpec{Affinity: aff(req("gpu", corev1.NodeSelectorOpIn, "a100", "h100"))}, nil, true, true},
		{"not in", corev1.PodSpec{Affinity: aff(req("gpu", corev1.NodeSelectorOpNotIn, "h100"))}, nil, false, false},
		{"gt", corev1.PodSpec{Affinity: aff(req("gen", corev1.NodeSelectorOpGt, "4"))}, nil, true, true},
		{"does not exist and lt", corev1.PodSpec{Affinity: aff(req("tpu", corev1.NodeSelectorOpDoesNotExist), req("gen", corev1.NodeSelectorOpLt, "5"))}, nil, false, false},
		{"untolerated NoSchedule", corev1.PodSpec{}, []corev1.Taint{noSched}, false, true},
		{"tolerated by key", corev1.PodSpec{Tolerations: []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists}}}, []corev1.Taint{noSched, noExec}, true, true},
		{"tolerated by value", corev1.PodSpec{Tolerations: []corev1.Toleration{{Key: "k", Value: "v"}}}, []corev1.Taint{noSched}, true, true},
		{"wrong value", corev1.PodSpec{Tolerations: []corev1.Toleration{{Key: "k", Value: "w"}}}, []corev1.Taint{noSched}, false, true},
		{"wrong effect", corev1.PodSpec{Tolerations: []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}}, []corev1.Taint{noExec}, false, false},
		{"tolerate everything", corev1.PodSpec{Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}}}, []corev1.Taint{noSched, noExec}, true, true},
		{"PreferNoSchedule ignored", corev1.PodSpec{}, []corev1.Taint{{Key: "k", Effect: corev1.TaintEffectPreferNoSchedule}}, true, true},
		{"cordoned", corev1.PodSpec{}, []corev1.Taint{{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}}, true, true},
	}
	for _, tc := range cases {
		n := node.DeepCopy()
		n.Spec.Taints = tc.taints
		if run, stay := placement(&tc.spec, n); run != tc.run || stay != tc.stay {
			t.Errorf("%s: run %v stay %v, want %v %v", tc.name, run, stay, tc.run, tc.stay)
		}
	}
}

func TestExpand(t *testing.T) {
	env := map[string]string{"NODE_NAME": "n1", "X": "x"}
	cases := map[string]string{
		"$(NODE_NAME)": "n1", "--node=$(NODE_NAME)/$(X)": "--node=n1/x", "$$(NODE_NAME)": "$(NODE_NAME)",
		"$(MISSING)": "$(MISSING)", "$": "$", "a$b": "a$b", "$(unterminated": "$(unterminated",
	}
	for in, want := range cases {
		if got := expand(in, env); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}
