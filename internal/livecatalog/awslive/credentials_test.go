package awslive

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	awsbackend "github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/aws"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/tfctest"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/awsfront"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/pricefront"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/livecatalog"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// TestDynamicCredentials sets the variables a Terraform Cloud run with
// AWS dynamic credentials has (static keys in the environment too) and
// checks that the Price List API is signed with the role's temporary keys
// from STS, as the EKS backend gets them (cloudsim's STS, over loopback).
func TestDynamicCredentials(t *testing.T) {
	e, err := cloudsim.New(cloudsim.Config{})
	if err != nil {
		t.Fatal(err)
	}
	cat := planner.Embedded()
	awsTestEnv(t)
	for _, k := range []string{cloud.EnvTFCTokenPath,
		awsbackend.EnvTFCRunRoleARN, awsbackend.EnvTFCPlanRoleARN} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDSTATIC")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "static")
	t.Setenv(awsbackend.EnvTFCProviderAuth, "true")
	t.Setenv(awsbackend.EnvTFCApplyRoleARN, "arn:aws:iam::123456789012:role/tfc-fleet-apply")
	t.Setenv(cloud.EnvTFCToken, tfctest.Claims(`{"iss":"https://app.terraform.io","aud":"aws.workload.identity","sub":"organization:acme:project:ml:workspace:fleet:run_phase:apply","terraform_run_phase":"apply","exp":4102444800}`))
	sts := httptest.NewServer(awsfront.New(e, awsfront.Options{}))
	t.Cleanup(sts.Close)
	sim := pricefront.NewAWS(pricefront.AWSOptions{Catalog: cat})
	var auth atomic.Value // the Authorization header of the last request
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth.Store(r.Header.Get("Authorization"))
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(api.Close)
	src := &Pricing{Config: Config{Catalog: cat, Regions: []string{"eu-north-1"}, MaxBackoff: 5 * time.Millisecond,
		Endpoints: livecatalog.AWSEndpoints{Pricing: api.URL, EC2: api.URL, ServiceQuotas: api.URL, STS: sts.URL}}}
	if _, err := src.Prices(context.Background()); err != nil {
		t.Fatal(err)
	}
	if a, _ := auth.Load().(string); !strings.Contains(a, "Credential=ASIA") || !strings.Contains(a, "x-amz-security-token") {
		t.Errorf("the Price List API was signed with %q, want the role's temporary credentials (ASIA…, a session token)", a)
	}
}
