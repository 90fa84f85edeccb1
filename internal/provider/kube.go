package provider

import (
	"context"
	"fmt"
	"strings"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/kubenodes"
)

// restConfig is a client configuration for a cluster's Kubernetes API with
// credentials the provider obtains itself through the cloud's backend (an
// EKS token, a Google access token, AKS credentials). In simulate mode the
// same credentials reach the simulated API server.
func (b *backends) restConfig(ctx context.Context, cl, region, cluster string) (*rest.Config, error) {
	be, err := b.get(ctx, cl)
	if err != nil {
		return nil, err
	}
	ka, ok := be.(cloud.KubeAccess)
	if !ok {
		return nil, fmt.Errorf("the %s backend cannot obtain Kubernetes credentials", cl)
	}
	creds, err := ka.KubeCredentials(ctx, region, cluster)
	if err != nil {
		return nil, fmt.Errorf("Kubernetes credentials for cluster %s in %s/%s: %w", cluster, cl, region, err)
	}
	cfg := &rest.Config{Host: creds.Endpoint, BearerToken: creds.BearerToken, UserAgent: "terraform-provider-gpufleet",
		TLSClientConfig: rest.TLSClientConfig{CAData: creds.CAData, CertData: creds.ClientCertData, KeyData: creds.ClientKeyData},
		QPS:             20, Burst: 40}
	if b.world != nil {
		cfg.Dial = b.world.DialKube
		cfg.ContentType = "application/json" // the simulated API servers speak JSON only
	}
	return cfg, nil
}

// nodeReader reads pool nodes from the clusters' Kubernetes APIs.
func (b *backends) nodeReader() *kubenodes.Reader {
	return &kubenodes.Reader{Client: func(ctx context.Context, site, cluster string) (dynamic.Interface, error) {
		cl, region, _ := strings.Cut(site, "/")
		cfg, err := b.restConfig(ctx, cl, region, cluster)
		if err != nil {
			return nil, err
		}
		return dynamic.NewForConfig(cfg)
	}}
}

// validationPoll is how often a pool's nodes are read while it waits for
// their validation.
func (b *backends) validationPoll() time.Duration {
	if b.simulate {
		return scaled(time.Second)
	}
	return 10 * time.Second
}
