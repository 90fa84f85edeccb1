package gcp

import (
	"context"
	"encoding/base64"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
)

var _ cloud.KubeAccess = (*Backend)(nil)

// cloudPlatformScope is the OAuth2 scope of a GKE Kubernetes API token:
// GKE accepts the access token of a Google identity with the
// cloud-platform scope as a Kubernetes bearer token, which is what
// gke-gcloud-auth-plugin returns
// (https://cloud.google.com/kubernetes-engine/docs/how-to/api-server-authentication).
const cloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform"

// SimulatedToken is the bearer token KubeCredentials returns for an
// Insecure backend (a local simulator, which has no Google identity to
// sign tokens with and accepts any bearer token).
const SimulatedToken = "SIMULATED"

// tokenMargin is how long before a token's expiry KubeCredentials reports
// it expired, so that a request signed with it does not race the expiry.
const tokenMargin = time.Minute

// lazyTokens finds the token source once.
type lazyTokens struct {
	once sync.Once
	ts   oauth2.TokenSource
	err  error
}

// tokenSource is Config.TokenSource, else Application Default Credentials
// for the cloud-platform scope (cached and refreshed by oauth2).
func (b *Backend) tokenSource(ctx context.Context) (oauth2.TokenSource, error) {
	b.tokens.once.Do(func() {
		if b.cfg.TokenSource != nil {
			b.tokens.ts = oauth2.ReuseTokenSource(nil, b.cfg.TokenSource)
			return
		}
		// The source outlives the call that finds it.
		b.tokens.ts, b.tokens.err = google.DefaultTokenSource(context.WithoutCancel(ctx), cloudPlatformScope)
	})
	return b.tokens.ts, b.tokens.err
}

// KubeCredentials returns the cluster's endpoint (https://<endpoint>) and
// CA (masterAuth.clusterCaCertificate) from GetCluster, and an OAuth2
// access token of the backend's Google identity; SimulatedToken when the
// backend is Insecure. A cluster that is not RUNNING (or RECONCILING) has
// no endpoint yet: KindConflict.
func (b *Backend) KubeCredentials(ctx context.Context, region, cluster string) (cloud.KubeCredentials, error) {
	const op = "KubeCredentials"
	c, err := b.client.GetCluster(ctx, &containerpb.GetClusterRequest{Name: b.clusterPath(region, cluster)})
	if err != nil {
		return cloud.KubeCredentials{}, classify("GetCluster", err)
	}
	st := c.GetStatus()
	ep, caB64 := c.GetEndpoint(), c.GetMasterAuth().GetClusterCaCertificate()
	if (st != containerpb.Cluster_RUNNING && st != containerpb.Cluster_RECONCILING) || ep == "" || caB64 == "" {
		return cloud.KubeCredentials{}, cloud.Conflict("gcp", op, st.String(), "cluster %s is %s and has no Kubernetes endpoint yet", cluster, st)
	}
	ca, err := base64.StdEncoding.DecodeString(caB64)
	if err != nil {
		return cloud.KubeCredentials{}, cloud.Fatal("gcp", op, "InvalidCertificateAuthority", "cluster %s: masterAuth.clusterCaCertificate is not base64: %v", cluster, err)
	}
	out := cloud.KubeCredentials{Endpoint: "https://" + strings.TrimPrefix(ep, "https://"), CAData: ca}
	if b.cfg.Insecure {
		out.BearerToken = SimulatedToken
		return out, nil
	}
	ts, err := b.tokenSource(ctx)
	if err != nil {
		return cloud.KubeCredentials{}, cloud.Fatal("gcp", op, "NoCredentials", "finding Google credentials for the Kubernetes API (Application Default Credentials): %v", err).Caused(err)
	}
	tok, err := ts.Token()
	if err != nil {
		if ctx.Err() != nil {
			return cloud.KubeCredentials{}, ctx.Err()
		}
		return cloud.KubeCredentials{}, cloud.Transient("gcp", op, "TokenRefreshFailed", "getting a Google access token for the Kubernetes API: %v", err).Caused(err)
	}
	out.BearerToken = tok.AccessToken
	if !tok.Expiry.IsZero() {
		out.Expiry = tok.Expiry.Add(-tokenMargin)
	}
	return out, nil
}
