package cloud_test

import (
	"context"
	"testing"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
)

// access is a backend's KubeAccess and NodeReplacer, failing with a
// transient error the first failures calls.
type access struct {
	failures int
	calls    []string
}

func (a *access) fail(op string) error {
	a.calls = append(a.calls, op)
	if a.failures > 0 {
		a.failures--
		return transient(op)
	}
	return nil
}

func (a *access) KubeCredentials(_ context.Context, region, cluster string) (cloud.KubeCredentials, error) {
	if err := a.fail("KubeCredentials"); err != nil {
		return cloud.KubeCredentials{}, err
	}
	return cloud.KubeCredentials{Endpoint: "https://" + cluster + "." + region, BearerToken: "t"}, nil
}

func (a *access) ReplaceNode(_ context.Context, _, _, _ string, node cloud.NodeRef) error {
	return a.fail("ReplaceNode " + node.Name)
}

// listAccess is a backend's NodePoolLister, failing as a does.
type listAccess struct{ a *access }

func (l listAccess) ListNodePools(_ context.Context, _, cluster string) ([]string, error) {
	if err := l.a.fail("ListNodePools " + cluster); err != nil {
		return nil, err
	}
	return []string{"gpufleet-0123456789ab"}, nil
}

type listOnly struct {
	cloud.Backend
	listAccess
}

type allOptional struct {
	cloud.Backend
	*access
	listAccess
}

type kubeBackend struct {
	cloud.Backend
	*access
}

// Only KubeCredentials is promoted: ReplaceNode is shadowed by a field.
type kubeOnly struct {
	cloud.Backend
	*access
	ReplaceNode struct{}
}

type replaceOnly struct {
	cloud.Backend
	*access
	KubeCredentials struct{}
}

// TestDecoratorsForwardOptional checks that the decorators implement
// KubeAccess, NodeReplacer and NodePoolLister exactly when the backend does, forward the
// calls with retries, and count them.
func TestDecoratorsForwardOptional(t *testing.T) {
	_, sim := simBackend(t)
	tests := []struct {
		name                string
		backend             func(*access) cloud.Backend
		kube, replace, list bool
	}{
		{"neither", func(*access) cloud.Backend { return sim }, false, false, false},
		{"kube only", func(a *access) cloud.Backend { return kubeOnly{Backend: sim, access: a} }, true, false, false},
		{"replace only", func(a *access) cloud.Backend { return replaceOnly{Backend: sim, access: a} }, false, true, false},
		{"list only", func(a *access) cloud.Backend { return listOnly{sim, listAccess{a}} }, false, false, true},
		{"kube and replace", func(a *access) cloud.Backend { return kubeBackend{sim, a} }, true, true, false},
		{"all three", func(a *access) cloud.Backend { return allOptional{sim, a, listAccess{a}} }, true, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &access{failures: 2}
			var m cloud.Metrics
			b := cloud.WithMetrics(cloud.WithRetries(tt.backend(a), cloud.RetryPolicy{MaxAttempts: 3, Base: time.Millisecond,
				Sleep: func(context.Context, time.Duration) error { return nil }}), &m, nil)
			ka, kube := b.(cloud.KubeAccess)
			nr, replace := b.(cloud.NodeReplacer)
			nl, list := b.(cloud.NodePoolLister)
			if kube != tt.kube || replace != tt.replace || list != tt.list {
				t.Fatalf("KubeAccess %v NodeReplacer %v NodePoolLister %v, want %v %v %v", kube, replace, list, tt.kube, tt.replace, tt.list)
			}
			if b.Cloud() != "aws" {
				t.Fatalf("cloud %q", b.Cloud())
			}
			ctx := context.Background()
			if kube {
				c, err := ka.KubeCredentials(ctx, "eu-central-1", "c1")
				if err != nil || c.Endpoint != "https://c1.eu-central-1" {
					t.Fatalf("credentials %+v, %v", c, err)
				}
				if s := m.Snapshot()["aws.KubeCredentials"]; s.Calls != 1 {
					t.Fatalf("metrics %+v", s)
				}
			}
			if replace {
				a.failures = 2
				if err := nr.ReplaceNode(ctx, "eu-central-1", "c1", "p", cloud.NodeRef{Name: "n1"}); err != nil {
					t.Fatal(err)
				}
				if s := m.Snapshot()["aws.ReplaceNode"]; s.Calls != 1 {
					t.Fatalf("metrics %+v", s)
				}
			}
			if list {
				a.failures = 2
				if names, err := nl.ListNodePools(ctx, "eu-central-1", "c1"); err != nil || len(names) != 1 {
					t.Fatalf("list %v %v", names, err)
				}
				if s := m.Snapshot()["aws.ListNodePools"]; s.Calls != 1 {
					t.Fatalf("metrics %+v", s)
				}
			}
			// Each forwarded call was retried twice before it succeeded.
			if want := 3 * (btoi(kube) + btoi(replace) + btoi(list)); len(a.calls) != want {
				t.Fatalf("calls %v, want %d", a.calls, want)
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
