package kubefront

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	applyappsv1 "k8s.io/client-go/applyconfigurations/apps/v1"
	applycorev1 "k8s.io/client-go/applyconfigurations/core/v1"
	applymetav1 "k8s.io/client-go/applyconfigurations/meta/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// TestDiscovery: the groups and resources clients need are served, and
// client-go's discovery and REST mapping work against them.
func TestDiscovery(t *testing.T) {
	w := newWorld(t, Options{})
	for _, cl := range []string{"aws", "gcp", "azure"} {
		t.Run(cl, func(t *testing.T) {
			dc, err := discovery.NewDiscoveryClientForConfig(w.config(cl))
			if err != nil {
				t.Fatal(err)
			}
			v, err := dc.ServerVersion()
			if err != nil || v.GitVersion != "v1.31.0" || v.Minor != "31" {
				t.Fatalf("version %+v %v", v, err)
			}
			_, lists, err := dc.ServerGroupsAndResources()
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for _, l := range lists {
				for _, r := range l.APIResources {
					got[l.GroupVersion+"/"+r.Name] = true
				}
			}
			for _, want := range []string{"v1/nodes", "v1/nodes/status", "v1/pods", "v1/pods/log", "v1/namespaces", "v1/serviceaccounts",
				"v1/resourcequotas", "v1/events", "events.k8s.io/v1/events", "apps/v1/daemonsets", "apps/v1/daemonsets/status",
				"rbac.authorization.k8s.io/v1/clusterroles", "rbac.authorization.k8s.io/v1/clusterrolebindings",
				"rbac.authorization.k8s.io/v1/roles", "rbac.authorization.k8s.io/v1/rolebindings"} {
				if !got[want] {
					t.Errorf("discovery lacks %s", want)
				}
			}
		})
	}
}

func TestHealthAndUnknownPaths(t *testing.T) {
	w := newWorld(t, Options{})
	cfg := w.config("aws")
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		path string
		code int
	}{
		{"/healthz", 200}, {"/readyz", 200}, {"/livez", 200}, {"/version", 200}, {"/api", 200}, {"/apis", 200},
		{"/apis/apps", 200}, {"/apis/batch/v1", 404}, {"/api/v1/secrets", 404}, {"/api/v1/namespaces/default/pods/x", 404},
	}
	for _, c := range cases {
		resp, err := hc.Get(cfg.Host + c.path)
		if err != nil {
			t.Fatal(err)
		}
		var st metav1.Status
		json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if resp.StatusCode != c.code || (c.code == 404 && (st.Kind != "Status" || st.Reason != metav1.StatusReasonNotFound)) {
			t.Errorf("%s: %d %+v", c.path, resp.StatusCode, st)
		}
	}
}

// TestCRUD: typed create, get, list with label and field selectors,
// update with a stale resource version (409), patches of every kind,
// delete (404 afterwards), for several resources.
func TestCRUD(t *testing.T) {
	w := newWorld(t, Options{})
	c := w.client("gcp")
	ctx := context.Background()
	if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"a", "b", "c"} {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team", Labels: map[string]string{"tier": []string{"x", "y", "x"}[i]}},
			Data: map[string]string{"k": name}}
		if _, err := c.CoreV1().ConfigMaps("team").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := c.CoreV1().ConfigMaps("team").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a"}}, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		t.Fatalf("duplicate create: %v", err)
	}
	if _, err := c.CoreV1().ConfigMaps("nope").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a"}}, metav1.CreateOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("create in a missing namespace: %v", err)
	}
	lists := []struct {
		label, field string
		want         []string
	}{
		{"", "", []string{"a", "b", "c"}},
		{"tier=x", "", []string{"a", "c"}},
		{"tier!=x", "", []string{"b"}},
		{"tier in (x,y)", "metadata.name=b", []string{"b"}},
		{"", "metadata.name!=a", []string{"b", "c"}},
	}
	for _, l := range lists {
		got, err := c.CoreV1().ConfigMaps("team").List(ctx, metav1.ListOptions{LabelSelector: l.label, FieldSelector: l.field})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, cm := range got.Items {
			names = append(names, cm.Name)
		}
		if !slices.Equal(names, l.want) || got.ResourceVersion == "" {
			t.Errorf("list %q %q: %v (rv %q)", l.label, l.field, names, got.ResourceVersion)
		}
	}
	if _, err := c.CoreV1().ConfigMaps("team").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=x"}); !apierrors.IsBadRequest(err) {
		t.Fatalf("unsupported field selector: %v", err)
	}
	all, err := c.CoreV1().ServiceAccounts("").List(ctx, metav1.ListOptions{})
	if err != nil || len(all.Items) < 5 {
		t.Fatalf("default service accounts across namespaces: %d %v", len(all.Items), err)
	}

	a, _ := c.CoreV1().ConfigMaps("team").Get(ctx, "a", metav1.GetOptions{})
	stale := a.DeepCopy()
	a.Data["k"] = "a2"
	if _, err := c.CoreV1().ConfigMaps("team").Update(ctx, a, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	stale.Data["k"] = "lost"
	_, err = c.CoreV1().ConfigMaps("team").Update(ctx, stale, metav1.UpdateOptions{})
	var se *apierrors.StatusError
	if !apierrors.IsConflict(err) || !asStatus(err, &se) || se.ErrStatus.Reason != metav1.StatusReasonConflict {
		t.Fatalf("stale update: %v", err)
	}

	patches := []struct {
		pt    types.PatchType
		patch string
		want  string
	}{
		{types.MergePatchType, `{"data":{"k":"merge"}}`, "merge"},
		{types.StrategicMergePatchType, `{"data":{"k":"strategic"}}`, "strategic"},
		{types.JSONPatchType, `[{"op":"replace","path":"/data/k","value":"json"}]`, "json"},
	}
	for _, p := range patches {
		got, err := c.CoreV1().ConfigMaps("team").Patch(ctx, "b", p.pt, []byte(p.patch), metav1.PatchOptions{})
		if err != nil || got.Data["k"] != p.want {
			t.Fatalf("%s: %v %v", p.pt, got.Data, err)
		}
	}
	b, _ := c.CoreV1().ConfigMaps("team").Get(ctx, "b", metav1.GetOptions{})
	guarded := `{"metadata":{"resourceVersion":"1"},"data":{"k":"guarded"}}`
	if _, err := c.CoreV1().ConfigMaps("team").Patch(ctx, "b", types.MergePatchType, []byte(guarded), metav1.PatchOptions{}); !apierrors.IsConflict(err) {
		t.Fatalf("merge patch with a stale resourceVersion: %v", err)
	}
	guarded = `{"metadata":{"resourceVersion":"` + b.ResourceVersion + `"},"data":{"k":"guarded"}}`
	if _, err := c.CoreV1().ConfigMaps("team").Patch(ctx, "b", types.MergePatchType, []byte(guarded), metav1.PatchOptions{}); err != nil {
		t.Fatalf("merge patch with the current resourceVersion: %v", err)
	}
	if _, err := c.CoreV1().ConfigMaps("team").Patch(ctx, "zzz", types.MergePatchType, []byte(`{}`), metav1.PatchOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("patch of a missing object: %v", err)
	}

	if err := c.CoreV1().ConfigMaps("team").Delete(ctx, "c", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CoreV1().ConfigMaps("team").Get(ctx, "c", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("deleted object: %v", err)
	}
	if err := c.CoreV1().ConfigMaps("team").Delete(ctx, "c", metav1.DeleteOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("second delete: %v", err)
	}
	if err := c.CoreV1().Namespaces().Delete(ctx, "default", metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("deleting default: %v", err)
	}
	if err := c.CoreV1().Namespaces().Delete(ctx, "team", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CoreV1().ConfigMaps("team").Get(ctx, "a", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("object of a deleted namespace: %v", err)
	}
}

func asStatus(err error, target **apierrors.StatusError) bool {
	se, ok := err.(*apierrors.StatusError)
	*target = se
	return ok
}

// TestServerSideApply: SSA creates, a second apply by the same manager
// removes the fields it dropped, another manager conflicts unless forced,
// and the dynamic client applies too.
func TestServerSideApply(t *testing.T) {
	w := newWorld(t, Options{})
	c := w.client("aws")
	ctx := context.Background()
	ds := func(labels map[string]string, tolerations ...string) *applyappsv1.DaemonSetApplyConfiguration {
		tpl := applycorev1.PodTemplateSpec().WithLabels(map[string]string{"app": "x"}).
			WithSpec(applycorev1.PodSpec().WithContainers(applycorev1.Container().WithName("c").WithImage("img:1")))
		for _, k := range tolerations {
			tpl.Spec.WithTolerations(applycorev1.Toleration().WithKey(k).WithOperator(corev1.TolerationOpExists))
		}
		return applyappsv1.DaemonSet("x", "default").WithLabels(labels).
			WithSpec(applyappsv1.DaemonSetSpec().WithSelector(applymetav1.LabelSelector().WithMatchLabels(map[string]string{"app": "x"})).WithTemplate(tpl))
	}
	steps := []struct {
		name        string
		cfg         *applyappsv1.DaemonSetApplyConfiguration
		manager     string
		force       bool
		conflict    bool
		labels      map[string]string
		tolerations int
		generation  int64
	}{
		{"create", ds(map[string]string{"a": "1", "b": "2"}, "t1", "t2"), "gpufleet", false, false, map[string]string{"a": "1", "b": "2"}, 2, 1},
		{"drop fields", ds(map[string]string{"a": "1"}, "t1"), "gpufleet", false, false, map[string]string{"a": "1"}, 1, 2},
		{"same again", ds(map[string]string{"a": "1"}, "t1"), "gpufleet", false, false, map[string]string{"a": "1"}, 1, 2},
		{"other manager conflicts", ds(map[string]string{"a": "other"}), "intruder", false, true, nil, 0, 0},
		{"other manager forces", ds(map[string]string{"a": "other"}), "intruder", true, false, map[string]string{"a": "other"}, 1, 2},
	}
	for _, s := range steps {
		got, err := c.AppsV1().DaemonSets("default").Apply(ctx, s.cfg, metav1.ApplyOptions{FieldManager: s.manager, Force: s.force})
		if s.conflict {
			if !apierrors.IsConflict(err) {
				t.Fatalf("%s: %v", s.name, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if !mapsEqual(got.Labels, s.labels) || len(got.Spec.Template.Spec.Tolerations) != s.tolerations || got.Generation != s.generation {
			t.Fatalf("%s: labels %v tolerations %v generation %d", s.name, got.Labels, got.Spec.Template.Spec.Tolerations, got.Generation)
		}
		managers := map[string]bool{}
		for _, mf := range got.ManagedFields {
			managers[mf.Manager] = true
		}
		if !managers[s.manager] {
			t.Fatalf("%s: managed fields %v", s.name, got.ManagedFields)
		}
	}

	dyn, err := dynamic.NewForConfig(w.config("aws"))
	if err != nil {
		t.Fatal(err)
	}
	gvr := schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"}
	role := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
		"metadata": map[string]any{"name": "reader"}, "rules": []any{map[string]any{"apiGroups": []any{""}, "resources": []any{"nodes"}, "verbs": []any{"get"}}}}}
	if _, err := dyn.Resource(gvr).Apply(ctx, "reader", role, metav1.ApplyOptions{FieldManager: "dyn"}); err != nil {
		t.Fatal(err)
	}
	typed, err := c.RbacV1().ClusterRoles().Get(ctx, "reader", metav1.GetOptions{})
	if err != nil || len(typed.Rules) != 1 || typed.Rules[0].Verbs[0] != "get" {
		t.Fatalf("dynamic apply: %+v %v", typed, err)
	}
	l, err := dyn.Resource(gvr).List(ctx, metav1.ListOptions{})
	if err != nil || len(l.Items) != 1 {
		t.Fatalf("dynamic list: %v %v", l, err)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestWatch: events from a resource version, filtered by labels, and an
// informer that lists and watches.
func TestWatch(t *testing.T) {
	w := newWorld(t, Options{})
	c := w.client("azure")
	ctx := context.Background()
	l, err := c.CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wi, err := c.CoreV1().ConfigMaps("default").Watch(ctx, metav1.ListOptions{ResourceVersion: l.ResourceVersion, LabelSelector: "w=1"})
	if err != nil {
		t.Fatal(err)
	}
	defer wi.Stop()
	c.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "skip", Labels: map[string]string{"w": "0"}}}, metav1.CreateOptions{})
	c.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "m", Labels: map[string]string{"w": "1"}}}, metav1.CreateOptions{})
	c.CoreV1().ConfigMaps("default").Patch(ctx, "m", types.MergePatchType, []byte(`{"data":{"x":"y"}}`), metav1.PatchOptions{})
	c.CoreV1().ConfigMaps("default").Delete(ctx, "m", metav1.DeleteOptions{})
	want := []watch.EventType{watch.Added, watch.Modified, watch.Deleted}
	var last string
	for i, typ := range want {
		select {
		case ev := <-wi.ResultChan():
			cm, ok := ev.Object.(*corev1.ConfigMap)
			if ev.Type != typ || !ok || cm.Name != "m" || cm.ResourceVersion <= last && i > 0 && len(cm.ResourceVersion) == len(last) {
				t.Fatalf("event %d: %s %+v", i, ev.Type, ev.Object)
			}
			last = cm.ResourceVersion
		case <-time.After(5 * time.Second):
			t.Fatalf("no event %s", typ)
		}
	}
	// A watch from a resource version replays what happened since.
	replay, err := c.CoreV1().ConfigMaps("default").Watch(ctx, metav1.ListOptions{ResourceVersion: l.ResourceVersion, FieldSelector: "metadata.name=m"})
	if err != nil {
		t.Fatal(err)
	}
	var got []watch.EventType
	for range 3 {
		ev := <-replay.ResultChan()
		got = append(got, ev.Type)
	}
	replay.Stop()
	if !slices.Equal(got, want) {
		t.Fatalf("replay %v", got)
	}

	f := informers.NewSharedInformerFactory(c, 0)
	inf := f.Core().V1().ConfigMaps().Informer()
	stop := make(chan struct{})
	defer close(stop)
	f.Start(stop)
	if !cache.WaitForCacheSync(stop, inf.HasSynced) {
		t.Fatal("informer did not sync")
	}
	c.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "late"}}, metav1.CreateOptions{})
	eventually(t, "informer sees a new object", func() (bool, error) {
		_, ok, err := inf.GetStore().GetByKey("default/late")
		return ok, err
	})
}

// TestTables: kubectl's Table requests get server-side printed rows.
func TestTables(t *testing.T) {
	w := newWorld(t, Options{})
	w.pool("aws", "gpu", 2, unvalidated)
	cfg := w.config("aws")
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", cfg.Host+"/api/v1/nodes", nil)
	req.Header.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tbl metav1.Table
	if err := json.NewDecoder(resp.Body).Decode(&tbl); err != nil {
		t.Fatal(err)
	}
	if tbl.Kind != "Table" || len(tbl.Rows) != 2 || tbl.ColumnDefinitions[1].Name != "Status" || tbl.Rows[0].Cells[1] != "Ready" ||
		!strings.HasPrefix(tbl.Rows[0].Cells[0].(string), "ip-10-") || len(tbl.Rows[0].Object.Raw) == 0 {
		t.Fatalf("table %+v", tbl)
	}
}
