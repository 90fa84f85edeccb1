package provider

import (
	"encoding/base64"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

const bootstrapConfig = `
provider "gpufleet" {}

data "gpufleet_node_bootstrap" "gpu" {
  min_driver_version = "550.54"
  nodecheck_url      = "https://releases.example.com/gpufleet-nodecheck_0.1.0_linux_amd64"
  nodecheck_sha256   = "%s"
  fail_action        = "cordon"
  image              = "ghcr.io/gpufleet/nodecheck:0.1.0"
  eks = {
    cluster_name          = "train-eu-central-1"
    api_server_endpoint   = "https://ABC.gr7.eu-central-1.eks.amazonaws.com"
    certificate_authority = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJ0ZXN0Ci0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K"
    service_cidr          = "10.100.0.0/16"
    instance_type         = "p5.48xlarge"
    labels                = { "gpufleet.dev/site" = "aws-eu-central-1" }
  }
  daemonset = {
    gpu_node_label = "nvidia.com/gpu.present"
  }
}
`

func TestAccNodeBootstrapDataSource(t *testing.T) {
	sha := strings.Repeat("ab", 32)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: strings.Replace(bootstrapConfig, "%s", sha, 1),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.gpufleet_node_bootstrap.gpu", tfjsonpath.New("taint"), knownvalue.StringExact("gpufleet.dev/unvalidated=true:NoSchedule")),
					statecheck.ExpectKnownValue("data.gpufleet_node_bootstrap.gpu", tfjsonpath.New("eks_user_data"),
						knownvalue.StringRegexp(regexp.MustCompile(`(?s)application/node.eks.aws.*--register-with-taints=gpufleet.dev/unvalidated=true:NoSchedule.*`+sha))),
					statecheck.ExpectKnownValue("data.gpufleet_node_bootstrap.gpu", tfjsonpath.New("daemonset_manifest"),
						knownvalue.StringRegexp(regexp.MustCompile(`(?s)kind: DaemonSet.*--fail-action.*cordon`))),
				},
				Check: resource.TestCheckResourceAttrWith("data.gpufleet_node_bootstrap.gpu", "eks_user_data_base64", func(v string) error {
					raw, err := base64.StdEncoding.DecodeString(v)
					if err != nil || !strings.Contains(string(raw), "kind: NodeConfig") {
						t.Errorf("base64 user data does not decode to a NodeConfig: %v", err)
					}
					return nil
				}),
			},
			{
				Config:      strings.Replace(bootstrapConfig, "%s", "not-a-digest", 1),
				ExpectError: regexp.MustCompile(`(?s)Invalid node bootstrap.*nodecheck_sha256: must be 64 hex`),
			},
			{
				Config: strings.Replace(strings.Replace(bootstrapConfig, "%s", sha, 1), `labels                = { "gpufleet.dev/site" = "aws-eu-central-1" }`,
					`labels                = { "site" = "$(reboot)" }`, 1),
				ExpectError: regexp.MustCompile(`(?s)Invalid node bootstrap.*node.labels`),
			},
		},
	})
}
