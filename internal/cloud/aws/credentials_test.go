package aws

import (
	"context"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/tfctest"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/awsfront"
)

// testJWT is a workload identity token shaped like Terraform Cloud's (the
// signature is not checked by the simulated STS).
func testJWT(sub string) string { return tfctest.Token("aws.workload.identity", sub) }

// TestDynamicCredentials sets the variables a Terraform Cloud run with
// AWS dynamic credentials has and checks that the backend's SDK
// configuration gets temporary credentials from STS
// AssumeRoleWithWebIdentity (cloudsim's, over loopback).
func TestDynamicCredentials(t *testing.T) {
	e, err := cloudsim.New(cloudsim.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(awsfront.New(e, awsfront.Options{}))
	t.Cleanup(srv.Close)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(testJWT("organization:acme:project:ml:workspace:fleet:run_phase:apply")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	role := "arn:aws:iam::123456789012:role/tfc-fleet"
	for _, tc := range []struct {
		name string
		env  map[string]string
		// wantKey prefixes the access key; "" expects the SDK's own chain
		// (static keys from the environment here).
		wantKey, wantErr string
	}{
		{name: "token in the environment", env: map[string]string{EnvTFCProviderAuth: "true", EnvTFCRunRoleARN: role, cloud.EnvTFCToken: testJWT("organization:acme:project:ml:workspace:fleet:run_phase:plan")}, wantKey: "ASIA"},
		{name: "token in a file", env: map[string]string{EnvTFCProviderAuth: "true", EnvTFCRunRoleARN: role, cloud.EnvTFCTokenPath: tokenFile}, wantKey: "ASIA"},
		{name: "no dynamic credentials: the default chain", env: map[string]string{EnvTFCRunRoleARN: role, cloud.EnvTFCToken: testJWT("organization:acme:project:ml:workspace:fleet:run_phase:plan")}, wantKey: "AKIDSTATIC"},
		{name: "no role", env: map[string]string{EnvTFCProviderAuth: "true", cloud.EnvTFCToken: testJWT("organization:acme:project:ml:workspace:fleet:run_phase:plan")}, wantErr: EnvTFCRunRoleARN},
		{name: "no token", env: map[string]string{EnvTFCProviderAuth: "true", EnvTFCRunRoleARN: role}, wantErr: cloud.EnvTFCTokenPath},
		{name: "token that is no JWT", env: map[string]string{EnvTFCProviderAuth: "true", EnvTFCRunRoleARN: role, cloud.EnvTFCToken: "not-a-jwt"}, wantErr: "InvalidIdentityToken"},
		// Phase-specific roles: the token's phase picks one, RUN is the fallback.
		{name: "plan role in a plan", env: map[string]string{EnvTFCProviderAuth: "true", EnvTFCRunRoleARN: role, EnvTFCPlanRoleARN: "tfc-fleet-plan", cloud.EnvTFCToken: testJWT("organization:acme:project:ml:workspace:fleet:run_phase:plan")}, wantErr: "ValidationError"},
		{name: "apply role not used in a plan", env: map[string]string{EnvTFCProviderAuth: "true", EnvTFCRunRoleARN: role, EnvTFCApplyRoleARN: "tfc-fleet-apply", cloud.EnvTFCToken: testJWT("organization:acme:project:ml:workspace:fleet:run_phase:plan")}, wantKey: "ASIA"},
		{name: "apply role in an apply, token in a file", env: map[string]string{EnvTFCProviderAuth: "true", EnvTFCRunRoleARN: role, EnvTFCApplyRoleARN: "tfc-fleet-apply", cloud.EnvTFCTokenPath: tokenFile}, wantErr: "ValidationError"},
		{name: "plan and apply roles without a run role", env: map[string]string{EnvTFCProviderAuth: "true", EnvTFCPlanRoleARN: role, EnvTFCApplyRoleARN: role, cloud.EnvTFCToken: testJWT("organization:acme:project:ml:workspace:fleet:run_phase:plan")}, wantKey: "ASIA"},
		{name: "role that is no role ARN", env: map[string]string{EnvTFCProviderAuth: "true", EnvTFCRunRoleARN: "tfc-fleet", cloud.EnvTFCToken: testJWT("organization:acme:project:ml:workspace:fleet:run_phase:plan")}, wantErr: "ValidationError"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{EnvTFCProviderAuth, EnvTFCRunRoleARN, EnvTFCPlanRoleARN, EnvTFCApplyRoleARN, cloud.EnvTFCToken, cloud.EnvTFCTokenPath, "AWS_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"} {
				t.Setenv(k, "")
			}
			t.Setenv("AWS_ACCESS_KEY_ID", "AKIDSTATIC")
			t.Setenv("AWS_SECRET_ACCESS_KEY", "static")
			t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			ctx := context.Background()
			b, err := New(ctx, Config{Region: "eu-central-1", Endpoints: Endpoints{STS: srv.URL}})
			if err == nil {
				creds, rerr := b.sdk.Credentials.Retrieve(ctx)
				err = rerr
				if err == nil && !strings.HasPrefix(creds.AccessKeyID, tc.wantKey) {
					t.Errorf("access key %q, want %s…", creds.AccessKeyID, tc.wantKey)
				}
				if err == nil && tc.wantKey == "ASIA" && (creds.SessionToken == "" || !creds.CanExpire) {
					t.Errorf("credentials %+v are not temporary", creds)
				}
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one naming %s", err, tc.wantErr)
			}
		})
	}
}
