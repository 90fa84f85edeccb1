package awsfront

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
)

// TestAccessConfig creates clusters with and without accessConfig: EKS's
// defaults (CONFIG_MAP, creator admin) are filled, the given values are
// reported back by CreateCluster and DescribeCluster, and an
// authenticationMode outside the model's enum is InvalidParameterException.
func TestAccessConfig(t *testing.T) {
	tests := []struct {
		name      string
		in        *types.CreateAccessConfigRequest
		mode      types.AuthenticationMode
		bootstrap bool
		code      string // error code; "" when created
	}{
		{"defaults", nil, types.AuthenticationModeConfigMap, true, ""},
		{"empty", &types.CreateAccessConfigRequest{}, types.AuthenticationModeConfigMap, true, ""},
		{"api and config map", &types.CreateAccessConfigRequest{AuthenticationMode: types.AuthenticationModeApiAndConfigMap,
			BootstrapClusterCreatorAdminPermissions: aws.Bool(true)}, types.AuthenticationModeApiAndConfigMap, true, ""},
		{"api without creator", &types.CreateAccessConfigRequest{AuthenticationMode: types.AuthenticationModeApi,
			BootstrapClusterCreatorAdminPermissions: aws.Bool(false)}, types.AuthenticationModeApi, false, ""},
		{"unknown mode", &types.CreateAccessConfigRequest{AuthenticationMode: "IAM"}, "", false, "InvalidParameterException"},
		{"lower case mode", &types.CreateAccessConfigRequest{AuthenticationMode: "api"}, "", false, "InvalidParameterException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := newEnv(t, envConfig{})
			in := createClusterInput("c1")
			in.AccessConfig = tt.in
			out, err := ev.eks.CreateCluster(ctx, in, noRetryEKS)
			if tt.code != "" {
				if apiCode(err) != tt.code {
					t.Fatalf("create: %v, want %s", err, tt.code)
				}
				if _, ok := ev.e.LookupCluster(cloudName, region, "c1"); ok {
					t.Fatal("a refused cluster exists")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ev.clock.Advance(testDurations.ClusterCreate)
			d := must[*eks.DescribeClusterOutput](t)(ev.eks.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String("c1")}))
			for what, c := range map[string]*types.Cluster{"create": out.Cluster, "describe": d.Cluster} {
				ac := c.AccessConfig
				if ac == nil || ac.AuthenticationMode != tt.mode || aws.ToBool(ac.BootstrapClusterCreatorAdminPermissions) != tt.bootstrap {
					t.Fatalf("%s: accessConfig %+v, want %s bootstrap %v", what, ac, tt.mode, tt.bootstrap)
				}
			}
		})
	}
}
