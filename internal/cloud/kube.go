package cloud

import (
	"context"
	"strings"
	"time"
)

// KubeCredentials is what a client needs to call a cluster's Kubernetes
// API: the endpoint, the CA to trust, and either a bearer token or a client
// certificate.
type KubeCredentials struct {
	// Endpoint is the API server's https URL.
	Endpoint string
	// CAData is the cluster CA, PEM.
	CAData []byte
	// BearerToken authenticates with "Authorization: Bearer"; empty when
	// a client certificate is used instead.
	BearerToken string
	// ClientCertData and ClientKeyData are a PEM client certificate and
	// its key; empty when a bearer token is used.
	ClientCertData, ClientKeyData []byte
	// Expiry is when the credentials stop working (a token's lifetime less
	// a margin); zero when they do not expire.
	Expiry time.Time
}

// KubeAccess is implemented by backends that obtain credentials for a
// cluster's Kubernetes API themselves, with the identity the backend calls
// the cloud with: no external binary (aws eks get-token,
// gke-gcloud-auth-plugin, kubelogin) is involved.
type KubeAccess interface {
	// KubeCredentials returns credentials for a cluster's Kubernetes API.
	// A missing cluster is KindNotFound; a cluster that has no endpoint yet
	// (not active) is KindConflict. Credentials with an Expiry are fetched
	// again by calling KubeCredentials once they expire.
	KubeCredentials(ctx context.Context, region, cluster string) (KubeCredentials, error)
}

// NodeRef names a Kubernetes node: its name and its spec.providerID
// ("aws:///<zone>/<instance-id>", "gce://<project>/<zone>/<instance>",
// "azure:///subscriptions/.../virtualMachines/<id>").
type NodeRef struct {
	Name, ProviderID string
}

// NodeReplacer is implemented by backends that can replace one node of a
// pool: the node's instance is removed (or moved to other hardware) and
// the pool brings the node count back, so the pool keeps its size. It is
// for nodes whose GPUs fail validation.
type NodeReplacer interface {
	// ReplaceNode replaces the instance behind node in a pool and returns
	// once the cloud has accepted the replacement (waiting for its
	// operation where the cloud has one). The Kubernetes Node object is
	// not touched: cordoning and draining are the caller's. A ProviderID
	// that is not this cloud's, or an instance of another pool, is
	// KindInvalid; an instance that is not (or no longer) in the pool is
	// KindNotFound, which a retried replacement may treat as done.
	ReplaceNode(ctx context.Context, region, cluster, pool string, node NodeRef) error
}

// NodePoolLister is implemented by backends that can list the node pools
// gpufleet created in a cluster, so that pools no state records (a create
// interrupted before Terraform wrote its state) can be found and deleted
// before their cluster.
type NodePoolLister interface {
	// ListNodePools returns the names, as DeleteNodePool takes them, of
	// the node pools in a cluster that gpufleet created (fleet.PoolName
	// names, "gpufleet-" and 12 hex digits, or on AKS the agent pool
	// names derived from them); the cluster's own pools (AKS's system
	// pool) and pools of other tools are left out. A cluster that is gone
	// is KindNotFound.
	ListNodePools(ctx context.Context, region, cluster string) ([]string, error)
}

// kubeForward adds KubeAccess to a decorated backend whose inner backend
// has it.
type kubeForward struct{ d *decorated }

func (f kubeForward) KubeCredentials(ctx context.Context, region, cluster string) (KubeCredentials, error) {
	return run(f.d, ctx, "KubeCredentials", func(ctx context.Context) (KubeCredentials, error) {
		return f.d.next.(KubeAccess).KubeCredentials(ctx, region, cluster)
	})
}

// replaceForward adds NodeReplacer to a decorated backend whose inner
// backend has it.
type replaceForward struct{ d *decorated }

func (f replaceForward) ReplaceNode(ctx context.Context, region, cluster, pool string, node NodeRef) error {
	_, err := run(f.d, ctx, "ReplaceNode", unit(func(ctx context.Context) error {
		return f.d.next.(NodeReplacer).ReplaceNode(ctx, region, cluster, pool, node)
	}))
	return err
}

// listForward adds NodePoolLister to a decorated backend whose inner
// backend has it.
type listForward struct{ d *decorated }

func (f listForward) ListNodePools(ctx context.Context, region, cluster string) ([]string, error) {
	return run(f.d, ctx, "ListNodePools", func(ctx context.Context) ([]string, error) {
		return f.d.next.(NodePoolLister).ListNodePools(ctx, region, cluster)
	})
}

// The decorated backends, one per set of optional interfaces the inner
// backend implements (k: KubeAccess, r: NodeReplacer, l: NodePoolLister).
type (
	decoratedK struct {
		*decorated
		kubeForward
	}
	decoratedR struct {
		*decorated
		replaceForward
	}
	decoratedL struct {
		*decorated
		listForward
	}
	decoratedKR struct {
		*decorated
		kubeForward
		replaceForward
	}
	decoratedKL struct {
		*decorated
		kubeForward
		listForward
	}
	decoratedRL struct {
		*decorated
		replaceForward
		listForward
	}
	decoratedKRL struct {
		*decorated
		kubeForward
		replaceForward
		listForward
	}
)

// withOptional returns d as a Backend that also implements those of
// KubeAccess, NodeReplacer and NodePoolLister that the inner backend
// implements (and no others), so that a type assertion on a decorated
// backend answers what the backend can do.
func withOptional(d *decorated) Backend {
	_, kube := d.next.(KubeAccess)
	_, replace := d.next.(NodeReplacer)
	_, list := d.next.(NodePoolLister)
	k, r, l := kubeForward{d}, replaceForward{d}, listForward{d}
	switch {
	case kube && replace && list:
		return decoratedKRL{d, k, r, l}
	case kube && replace:
		return decoratedKR{d, k, r}
	case kube && list:
		return decoratedKL{d, k, l}
	case replace && list:
		return decoratedRL{d, r, l}
	case kube:
		return decoratedK{d, k}
	case replace:
		return decoratedR{d, r}
	case list:
		return decoratedL{d, l}
	}
	return d
}

// IsPoolName reports whether name has the form of the node pool names
// gpufleet gives (fleet.PoolName: "gpufleet-" and 12 lower-case hex
// digits).
func IsPoolName(name string) bool {
	h, ok := strings.CutPrefix(name, "gpufleet-")
	return ok && isHex(h, 12)
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
