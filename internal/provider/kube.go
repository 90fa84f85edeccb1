package provider

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/kubenodes"
)

// simNodecheckEnv names the gpufleet-nodecheck binary that simulated GPU
// nodes run as the validator DaemonSet's container (simulate = true).
const simNodecheckEnv = "GPUFLEET_SIM_NODECHECK"

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
	if b.kube != nil {
		cfg.Dial = b.kube.DialContext
		cfg.ContentType = "application/json" // the simulated API servers speak JSON only
	}
	return cfg, nil
}

// nodeReader reads pool nodes from the clusters' Kubernetes APIs.
func (b *backends) nodeReader() *kubenodes.Reader {
	return &kubenodes.Reader{Client: func(ctx context.Context, site, cluster string) (kubernetes.Interface, error) {
		cl, region, _ := strings.Cut(site, "/")
		cfg, err := b.restConfig(ctx, cl, region, cluster)
		if err != nil {
			return nil, err
		}
		return kubernetes.NewForConfig(cfg)
	}}
}

// simNodecheck finds the validator binary simulated nodes run:
// $GPUFLEET_SIM_NODECHECK, gpufleet-nodecheck on PATH, or beside the
// provider's executable. Empty when there is none: the simulated
// DaemonSet's pods then fail as a real one's would with an image that
// cannot be pulled, and nodes stay tainted.
func simNodecheck() string {
	if p := os.Getenv(simNodecheckEnv); p != "" {
		return p
	}
	if p, err := exec.LookPath("gpufleet-nodecheck"); err == nil {
		return p
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "gpufleet-nodecheck")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return ""
}

var errNoValidatorBinary = errors.New("no gpufleet-nodecheck binary for the simulated nodes: build it (make build) and set " + simNodecheckEnv + " to its path, put it on PATH, or beside the provider")

// validationPoll is how often a pool's nodes are read while it waits for
// their validation.
func (b *backends) validationPoll() time.Duration {
	if b.simulate {
		return scaled(time.Second)
	}
	return 10 * time.Second
}
