package aws

import (
	"context"
	"encoding/base64"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
)

var _ cloud.KubeAccess = (*Backend)(nil)

// clusterAccess is the accessConfig of every cluster gpufleet creates:
// authentication by EKS access entries and the aws-auth ConfigMap, and an
// access entry with cluster-admin for the identity that creates the
// cluster (the provider's), so that KubeCredentials' tokens are admitted.
// Managed node groups need nothing more: in the API modes EKS creates the
// access entry of a managed node group's node role itself
// (https://docs.aws.amazon.com/eks/latest/userguide/creating-access-entries.html,
// https://docs.aws.amazon.com/eks/latest/userguide/grant-k8s-access.html#set-cam).
// Member names and enum values are the EKS model's (CreateAccessConfigRequest,
// AuthenticationMode: API, API_AND_CONFIG_MAP, CONFIG_MAP).
func clusterAccess() *ekstypes.CreateAccessConfigRequest {
	return &ekstypes.CreateAccessConfigRequest{
		AuthenticationMode:                      ekstypes.AuthenticationModeApiAndConfigMap,
		BootstrapClusterCreatorAdminPermissions: awssdk.Bool(true),
	}
}

// EKS token format, as aws-iam-authenticator and `aws eks get-token` make
// it (https://github.com/kubernetes-sigs/aws-iam-authenticator#api-authorization-from-outside-a-cluster):
// a presigned STS GetCallerIdentity URL that signs the header
// x-k8s-aws-id = cluster name, with X-Amz-Expires 60, base64url without
// padding after "k8s-aws-v1.". The authenticator accepts a token for 15
// minutes after its X-Amz-Date whatever X-Amz-Expires says; `aws eks
// get-token` reports it expiring after 14.
const (
	eksTokenPrefix   = "k8s-aws-v1."
	eksClusterHeader = "x-k8s-aws-id"
	eksTokenLifetime = 15 * time.Minute
	eksTokenMargin   = time.Minute
)

// KubeCredentials returns the cluster's endpoint and CA (DescribeCluster)
// and an EKS bearer token for the backend's AWS identity. The token is
// presigned locally against the regional STS endpoint of the cluster's
// region (or Endpoints.STS): nothing is sent to STS. A cluster that is not
// ACTIVE has no endpoint yet (KindConflict).
func (b *Backend) KubeCredentials(ctx context.Context, region, cluster string) (cloud.KubeCredentials, error) {
	c, err := b.describeCluster(ctx, region, cluster)
	if err != nil {
		return cloud.KubeCredentials{}, err
	}
	endpoint := awssdk.ToString(c.Endpoint)
	var caB64 string
	if c.CertificateAuthority != nil {
		caB64 = awssdk.ToString(c.CertificateAuthority.Data)
	}
	if c.Status != ekstypes.ClusterStatusActive || endpoint == "" || caB64 == "" {
		return cloud.KubeCredentials{}, cloud.Conflict("aws", "KubeCredentials", string(c.Status), "cluster %s is %s and has no Kubernetes endpoint yet", cluster, c.Status)
	}
	ca, err := base64.StdEncoding.DecodeString(caB64)
	if err != nil {
		return cloud.KubeCredentials{}, cloud.Fatal("aws", "KubeCredentials", "InvalidCertificateAuthority", "cluster %s: certificateAuthority.data is not base64: %v", cluster, err)
	}
	token, expiry, err := b.eksToken(ctx, region, cluster)
	if err != nil {
		return cloud.KubeCredentials{}, err
	}
	if !strings.HasPrefix(endpoint, "https://") {
		endpoint = "https://" + endpoint
	}
	return cloud.KubeCredentials{Endpoint: endpoint, CAData: ca, BearerToken: token, Expiry: expiry}, nil
}

// eksToken presigns GetCallerIdentity for cluster and encodes it as an EKS
// token; the expiry is the authenticator's 15 minutes from now less a
// minute.
func (b *Backend) eksToken(ctx context.Context, region, cluster string) (string, time.Time, error) {
	now := time.Now()
	client := sts.NewFromConfig(b.sdk, func(o *sts.Options) {
		o.Region = region
		if b.cfg.Endpoints.STS != "" {
			o.BaseEndpoint = awssdk.String(b.cfg.Endpoints.STS)
		}
	})
	presigned, err := sts.NewPresignClient(client).PresignGetCallerIdentity(ctx, &sts.GetCallerIdentityInput{},
		sts.WithPresignClientFromClientOptions(sts.WithAPIOptions(func(stack *middleware.Stack) error {
			// Build runs before signing: the header is signed, and the
			// query parameter is part of the canonical request.
			return stack.Build.Add(middleware.BuildMiddlewareFunc("EKSTokenParameters", func(ctx context.Context, in middleware.BuildInput,
				next middleware.BuildHandler) (middleware.BuildOutput, middleware.Metadata, error) {
				if req, ok := in.Request.(*smithyhttp.Request); ok {
					req.Header.Set(eksClusterHeader, cluster)
					q := req.URL.Query()
					q.Set("X-Amz-Expires", "60")
					req.URL.RawQuery = q.Encode()
				}
				return next.HandleBuild(ctx, in)
			}), middleware.After)
		})))
	if err != nil {
		if ctx.Err() != nil {
			return "", time.Time{}, ctx.Err()
		}
		// Presigning fails only for want of credentials or an endpoint.
		return "", time.Time{}, cloud.Fatal("aws", "KubeCredentials", "PresignFailed", "presigning sts:GetCallerIdentity for the EKS token of cluster %s: %v", cluster, err).Caused(err)
	}
	return eksTokenPrefix + base64.RawURLEncoding.EncodeToString([]byte(presigned.URL)), now.Add(eksTokenLifetime - eksTokenMargin), nil
}
