package kubeinstall

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
)

// discoveryServer serves the discovery documents of core/v1 and apps/v1
// as an API server does, answers /apis/rbac.authorization.k8s.io/v1 with
// 403 and anything else with a 404 Status, and counts the requests per
// path.
func discoveryServer(t *testing.T) (*rest.Config, func(path string) int) {
	t.Helper()
	docs := map[string]*metav1.APIResourceList{
		"/api/v1": {GroupVersion: "v1", APIResources: []metav1.APIResource{
			{Name: "namespaces", Kind: "Namespace"},
			{Name: "pods", Namespaced: true, Kind: "Pod"},
			{Name: "pods/log", Namespaced: true, Kind: "Pod"},
			{Name: "serviceaccounts", Namespaced: true, Kind: "ServiceAccount"},
		}},
		"/apis/apps/v1": {GroupVersion: "apps/v1", APIResources: []metav1.APIResource{
			{Name: "daemonsets/status", Namespaced: true, Kind: "DaemonSet"}, // a subresource listed first
			{Name: "daemonsets", Namespaced: true, Kind: "DaemonSet"},
		}},
	}
	var mu sync.Mutex
	hits := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Path]++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		status := &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusFailure}
		switch doc, ok := docs[r.URL.Path]; {
		case ok:
			doc.TypeMeta = metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}
			json.NewEncoder(w).Encode(doc)
			return
		case r.URL.Path == "/apis/rbac.authorization.k8s.io/v1":
			status.Reason, status.Code, status.Message = metav1.StatusReasonForbidden, http.StatusForbidden, "forbidden"
		default:
			status.Reason, status.Code, status.Message = metav1.StatusReasonNotFound, http.StatusNotFound, "the server could not find the requested resource"
		}
		w.WriteHeader(int(status.Code))
		json.NewEncoder(w).Encode(status)
	}))
	t.Cleanup(srv.Close)
	return &rest.Config{Host: srv.URL}, func(path string) int { mu.Lock(); defer mu.Unlock(); return hits[path] }
}

func TestMapperResourceFor(t *testing.T) {
	tests := []struct {
		apiVersion, kind string
		want             schema.GroupVersionResource
		namespaced       bool
		wantErr          func(error) bool
	}{
		{apiVersion: "v1", kind: "Namespace", want: schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}},
		{apiVersion: "v1", kind: "ServiceAccount", want: schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}, namespaced: true},
		{apiVersion: "v1", kind: "Pod", want: schema.GroupVersionResource{Version: "v1", Resource: "pods"}, namespaced: true},
		{apiVersion: "apps/v1", kind: "DaemonSet", want: schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "daemonsets"}, namespaced: true},
		{apiVersion: "apps/v1", kind: "Deployment", wantErr: meta.IsNoMatchError},    // group version served, kind not
		{apiVersion: "v1", kind: "daemonset", wantErr: meta.IsNoMatchError},          // kinds match exactly
		{apiVersion: "example.com/v1", kind: "Widget", wantErr: meta.IsNoMatchError}, // 404: not served
		{apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", wantErr: apierrors.IsForbidden},
	}
	cfg, hits := discoveryServer(t)
	m, err := newMapper(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second round is answered from what the first read
		for _, tc := range tests {
			gvk := schema.FromAPIVersionAndKind(tc.apiVersion, tc.kind)
			got, namespaced, err := m.resourceFor(context.Background(), gvk)
			switch {
			case tc.wantErr != nil:
				if err == nil || !tc.wantErr(err) {
					t.Errorf("resourceFor(%s) = %v, %v, %v: want an error of the other kind", gvk, got, namespaced, err)
				}
			case err != nil:
				t.Errorf("resourceFor(%s): %v", gvk, err)
			case got != tc.want || namespaced != tc.namespaced:
				t.Errorf("resourceFor(%s) = %v, namespaced %v; want %v, %v", gvk, got, namespaced, tc.want, tc.namespaced)
			}
		}
	}
	for path, want := range map[string]int{"/api/v1": 1, "/apis/apps/v1": 1,
		"/apis/example.com/v1": 2, "/apis/rbac.authorization.k8s.io/v1": 2} { // errors are asked again
		if got := hits(path); got != want {
			t.Errorf("GET %s %d times, want %d", path, got, want)
		}
	}
}

// TestMapperNoMatchMessage: a kind the cluster does not serve reads as
// client-go's restmapper put it.
func TestMapperNoMatchMessage(t *testing.T) {
	cfg, _ := discoveryServer(t)
	m, err := newMapper(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = m.resourceFor(context.Background(), schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"})
	if want := `no matches for kind "Deployment" in version "apps/v1"`; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want %q", err, want)
	}
}

// TestClientDiscoveryErrors: a kind the cluster does not serve and a
// discovery request the cluster refuses read differently, the refusal
// with what gpufleet's identity needs.
func TestClientDiscoveryErrors(t *testing.T) {
	cfg, _ := discoveryServer(t)
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ manifest, want string }{
		{"apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n",
			`the cluster does not serve example.com/v1 Widget: no matches for kind "Widget" in version "example.com/v1"`},
		{"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: r\n",
			"reading the cluster's API discovery for rbac.authorization.k8s.io/v1 ClusterRole: forbidden: gpufleet's identity needs cluster-admin rights"},
	}
	for _, tc := range tests {
		m, err := Parse(tc.manifest)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Observe(context.Background(), m)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Observe(%s) error %v, want %q", m.Refs()[0], err, tc.want)
		}
	}
}
