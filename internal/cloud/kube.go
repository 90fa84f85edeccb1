package cloud

import (
	"context"
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

type decoratedKube struct {
	*decorated
	kubeForward
}

type decoratedReplace struct {
	*decorated
	replaceForward
}

type decoratedKubeReplace struct {
	*decorated
	kubeForward
	replaceForward
}

// withOptional returns d as a Backend that also implements those of
// KubeAccess and NodeReplacer that the inner backend implements (and no
// others), so that a type assertion on a decorated backend answers what
// the backend can do.
func withOptional(d *decorated) Backend {
	_, kube := d.next.(KubeAccess)
	_, replace := d.next.(NodeReplacer)
	switch {
	case kube && replace:
		return decoratedKubeReplace{d, kubeForward{d}, replaceForward{d}}
	case kube:
		return decoratedKube{d, kubeForward{d}}
	case replace:
		return decoratedReplace{d, replaceForward{d}}
	}
	return d
}
