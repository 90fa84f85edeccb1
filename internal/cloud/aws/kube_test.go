package aws

import (
	"context"
	"encoding/base64"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/awsfront"
)

// kubeEnv is the simulated EKS on a fake clock that moves only when told
// to, and the URL it is served on.
type kubeEnv struct {
	e     *cloudsim.Engine
	clock *cloudsim.FakeClock
	url   string
}

func newKubeEnv(t *testing.T) *kubeEnv {
	t.Helper()
	clock := cloudsim.NewFakeClock(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	e, err := cloudsim.New(cloudsim.Config{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(awsfront.New(e, awsfront.Options{Clock: clock}))
	t.Cleanup(srv.Close)
	return &kubeEnv{e: e, clock: clock, url: srv.URL}
}

// backend talks to the simulator; sts is Endpoints.STS.
func (ke *kubeEnv) backend(t *testing.T, sts string) *Backend {
	t.Helper()
	b, err := New(context.Background(), Config{Region: euc1,
		Endpoints:   Endpoints{EKS: ke.url, EC2: ke.url, IAM: ke.url, STS: sts, AutoScaling: ke.url},
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "SECRET", ""), Poll: time.Millisecond, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decodeEKSToken returns the presigned URL inside an EKS token.
func decodeEKSToken(t *testing.T, tok string) *url.URL {
	t.Helper()
	raw, ok := strings.CutPrefix(tok, "k8s-aws-v1.")
	if !ok {
		t.Fatalf("token %q lacks the k8s-aws-v1. prefix", tok)
	}
	if strings.ContainsAny(raw, "=+/") {
		t.Fatalf("token %q is not unpadded base64url", tok)
	}
	data, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(string(data))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestKubeCredentials checks the EKS token (a presigned GetCallerIdentity
// that signs x-k8s-aws-id, for the regional STS endpoint or the
// override), the endpoint and CA from DescribeCluster, and the errors.
func TestKubeCredentials(t *testing.T) {
	ke := newKubeEnv(t)
	ctx := context.Background()
	b := ke.backend(t, "")
	// CreateCluster waits for ACTIVE: move the clock in the background.
	stop := ke.clock.Tick(time.Millisecond, time.Second)
	c, err := b.CreateCluster(ctx, cloud.ClusterSpec{Name: "train", Region: euc1, KubernetesVersion: "1.33", PublicEndpoint: true})
	stop()
	if err != nil {
		t.Fatal(err)
	}
	// The cluster admits the provider's identity and the node roles.
	raw, err := b.in(euc1).eks.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: awssdk.String("train")})
	if err != nil {
		t.Fatal(err)
	}
	if ac := raw.Cluster.AccessConfig; ac == nil || ac.AuthenticationMode != ekstypes.AuthenticationModeApiAndConfigMap ||
		!awssdk.ToBool(ac.BootstrapClusterCreatorAdminPermissions) {
		t.Fatalf("accessConfig %+v, want API_AND_CONFIG_MAP with the creator as admin", ac)
	}
	wantCA, err := base64.StdEncoding.DecodeString(c.CACertificate)
	if err != nil || len(wantCA) == 0 {
		t.Fatalf("cluster CA %q: %v", c.CACertificate, err)
	}

	tests := []struct {
		name, sts, host string
	}{
		{"regional STS endpoint", "", "sts.eu-central-1.amazonaws.com"},
		{"endpoint override", "http://127.0.0.1:4566", "127.0.0.1:4566"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := time.Now()
			kc, err := ke.backend(t, tt.sts).KubeCredentials(ctx, euc1, "train")
			if err != nil {
				t.Fatal(err)
			}
			if kc.Endpoint != c.Endpoint || !strings.HasPrefix(kc.Endpoint, "https://") || string(kc.CAData) != string(wantCA) {
				t.Fatalf("endpoint %q CA %q, want %q %q", kc.Endpoint, kc.CAData, c.Endpoint, wantCA)
			}
			if kc.ClientCertData != nil || kc.ClientKeyData != nil {
				t.Fatal("an EKS token comes without a client certificate")
			}
			if life := kc.Expiry.Sub(before); life < 13*time.Minute || life > 14*time.Minute+time.Second {
				t.Fatalf("expiry in %v, want 14 minutes", life)
			}
			u := decodeEKSToken(t, kc.BearerToken)
			q := u.Query()
			signed := strings.Split(q.Get("X-Amz-SignedHeaders"), ";")
			scope := strings.Split(q.Get("X-Amz-Credential"), "/")
			switch {
			case u.Host != tt.host || u.Path != "/":
				t.Fatalf("presigned URL %s, want host %s", u, tt.host)
			case q.Get("Action") != "GetCallerIdentity" || q.Get("Version") != "2011-06-15":
				t.Fatalf("action %q version %q", q.Get("Action"), q.Get("Version"))
			case q.Get("X-Amz-Expires") != "60" || q.Get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" || q.Get("X-Amz-Signature") == "":
				t.Fatalf("presign parameters %v", q)
			case !slices.Contains(signed, "x-k8s-aws-id") || !slices.Contains(signed, "host"):
				t.Fatalf("signed headers %v, want host and x-k8s-aws-id", signed)
			case len(scope) != 5 || scope[0] != "AKIDTEST" || scope[2] != euc1 || scope[3] != "sts":
				t.Fatalf("credential scope %v", scope)
			case q.Get("x-k8s-aws-id") != "":
				t.Fatal("the cluster name must be a signed header, not a query parameter")
			}
		})
	}

	// Errors: a missing cluster, and one that has no endpoint yet.
	role, err := b.ensureRole(ctx, "young-cluster", "eks.amazonaws.com", clusterPolicies...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.in(euc1).eks.CreateCluster(ctx, &eks.CreateClusterInput{Name: awssdk.String("young"),
		RoleArn: awssdk.String(role), ResourcesVpcConfig: &ekstypes.VpcConfigRequest{}}); err != nil {
		t.Fatal(err)
	}
	for _, e := range []struct {
		cluster string
		kind    cloud.Kind
	}{{"missing", cloud.KindNotFound}, {"young", cloud.KindConflict}} {
		_, err := b.KubeCredentials(ctx, euc1, e.cluster)
		if cloud.KindOf(err) != e.kind {
			t.Fatalf("%s: %v, want %s", e.cluster, err, e.kind)
		}
	}
}
