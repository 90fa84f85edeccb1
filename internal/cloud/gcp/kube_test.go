package gcp

import (
	"context"
	"encoding/base64"
	"testing"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	"golang.org/x/oauth2"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// TestKubeCredentials checks GKE credentials: https://<endpoint>, the CA
// of masterAuth, and the bearer token: SimulatedToken for an Insecure
// backend, the configured token source's access token (with its expiry
// less a margin) otherwise; and the errors of a missing cluster and of one
// that is not running yet.
func TestKubeCredentials(t *testing.T) {
	w := newClusterWorld(t)
	ctx := context.Background()
	c := try(w.b.CreateCluster(ctx, cloud.ClusterSpec{Name: "train", Region: netRegion, KubernetesVersion: "1.33", PublicEndpoint: true})).must(t)
	raw := try(w.b.client.GetCluster(ctx, &containerpb.GetClusterRequest{Name: w.b.clusterPath(netRegion, "train")})).must(t)
	wantCA, err := base64.StdEncoding.DecodeString(raw.GetMasterAuth().GetClusterCaCertificate())
	if err != nil || len(wantCA) == 0 {
		t.Fatalf("masterAuth.clusterCaCertificate %q: %v", raw.GetMasterAuth().GetClusterCaCertificate(), err)
	}
	expiry := time.Now().Add(time.Hour).Round(time.Second)
	// A backend with Google credentials: the token source stands in for
	// Application Default Credentials, the client options for TLS.
	authed := try(New(ctx, Config{Project: netProject, Endpoint: w.b.cfg.Endpoint,
		ClientOptions: []option.ClientOption{option.WithoutAuthentication(), option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials()))},
		TokenSource:   oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "ya29.test-token", Expiry: expiry})})).must(t)

	tests := []struct {
		name   string
		b      *Backend
		token  string
		expiry time.Time
	}{
		{"simulated", w.b, SimulatedToken, time.Time{}},
		{"token source", authed, "ya29.test-token", expiry.Add(-tokenMargin)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kc := try(tt.b.KubeCredentials(ctx, netRegion, "train")).must(t)
			if kc.Endpoint != c.Endpoint || kc.Endpoint != "https://"+raw.GetEndpoint() || string(kc.CAData) != string(wantCA) {
				t.Fatalf("endpoint %q CA %q, want %q %q", kc.Endpoint, kc.CAData, c.Endpoint, wantCA)
			}
			if kc.BearerToken != tt.token || !kc.Expiry.Equal(tt.expiry) || kc.ClientCertData != nil {
				t.Fatalf("token %q expiring %v, want %q %v", kc.BearerToken, kc.Expiry, tt.token, tt.expiry)
			}
		})
	}

	_, err = w.b.KubeCredentials(ctx, netRegion, "missing")
	wantKind(t, err, cloud.KindNotFound)

	// A cluster still provisioning (the engine's clock stands still).
	young := newWorldWith(t, cloudsim.Config{Clock: cloudsim.NewFakeClock(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))}, 5*time.Millisecond)
	try(young.b.client.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: young.b.location(netRegion),
		Cluster: &containerpb.Cluster{Name: "young", InitialNodeCount: 1}})).must(t)
	_, err = young.b.KubeCredentials(ctx, netRegion, "young")
	wantKind(t, err, cloud.KindConflict)
}
