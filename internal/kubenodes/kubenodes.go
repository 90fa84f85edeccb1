// Package kubenodes reads the nodes of gpufleet node pools from their
// clusters' Kubernetes APIs (client-go's dynamic client), for the fleet's
// validation wait: which nodes are Ready, which passed GPU validation, and
// why the others failed, as gpufleet-nodecheck records it on the node.
package kubenodes

import (
	"context"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/fleet"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/gpuhealth"
)

// ClientFunc returns a client for the cluster of a site (cloud/region).
//
// The client is dynamic, not client-go's typed clientset: the clientset
// links k8s.io/client-go/kubernetes/scheme, which registers every built-in
// API group at each start of the provider (about a tenth of the
// instructions to its schema; TestNoClientsetScheme in the repository
// root), to read one list of nodes.
type ClientFunc func(ctx context.Context, site, cluster string) (dynamic.Interface, error)

// nodes is the core API's Node resource.
var nodes = schema.GroupVersionResource{Version: "v1", Resource: "nodes"}

// Reader is a fleet.NodeReader over the clusters' Kubernetes APIs. Clients
// are made once per cluster and reused.
type Reader struct {
	Client ClientFunc

	mu      sync.Mutex
	clients map[string]dynamic.Interface
}

var _ fleet.NodeReader = (*Reader)(nil)

func (r *Reader) client(ctx context.Context, site, cluster string) (dynamic.Interface, error) {
	k := site + "/" + cluster
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.clients[k]; ok {
		return c, nil
	}
	c, err := r.Client(ctx, site, cluster)
	if err != nil {
		return nil, err
	}
	if r.clients == nil {
		r.clients = map[string]dynamic.Interface{}
	}
	r.clients[k] = c
	return c, nil
}

// Forget drops the cached client of a cluster (its credentials expired or
// were refused), so the next read makes a new one.
func (r *Reader) Forget(site, cluster string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.clients, site+"/"+cluster)
}

// PoolNodes lists the nodes labelled with the pool's name: one list call
// per read, whatever the pool's size.
func (r *Reader) PoolNodes(ctx context.Context, p fleet.Pool) ([]fleet.Node, error) {
	site := p.Offer.Site()
	c, err := r.client(ctx, site, p.Cluster)
	if err != nil {
		return nil, fmt.Errorf("Kubernetes API of cluster %s in %s: %w", p.Cluster, site, err)
	}
	sel := labels.SelectorFromSet(labels.Set{gpuhealth.PoolLabel: p.Name}).String()
	list, err := c.Resource(nodes).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		r.Forget(site, p.Cluster)
		return nil, fmt.Errorf("listing the nodes of pool %s in cluster %s (%s): %w", p.Name, p.Cluster, site, err)
	}
	out := make([]fleet.Node, 0, len(list.Items))
	for i := range list.Items {
		var n corev1.Node
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(list.Items[i].Object, &n); err != nil {
			return nil, fmt.Errorf("node %s of pool %s in cluster %s (%s): %w", list.Items[i].GetName(), p.Name, p.Cluster, site, err)
		}
		out = append(out, FromNode(&n))
	}
	return out, nil
}

// FromNode reads what validation needs from a Node object.
func FromNode(n *corev1.Node) fleet.Node {
	out := fleet.Node{Name: n.Name, ProviderID: n.Spec.ProviderID, Health: n.Labels[gpuhealth.HealthLabel],
		CheckedAt: n.Annotations[gpuhealth.CheckedAnnotation]}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			out.Ready = c.Status == corev1.ConditionTrue
		}
	}
	for _, t := range n.Spec.Taints {
		if t.Key == gpuhealth.TaintKey {
			out.Tainted = true
		}
	}
	if out.Health == gpuhealth.Fail {
		out.Failures = gpuhealth.DecodeFailures(n.Annotations)
	}
	return out
}
