terraform {
  required_providers {
    # The address the state records, on Terraform and OpenTofu alike
    # (tofu would read "hashicorp/gpufleet" as registry.opentofu.org/...).
    gpufleet = { source = "registry.terraform.io/hashicorp/gpufleet" }
  }
}
provider "gpufleet" {
  simulate     = true
  simulate_dir = "SIM_DIR"
}
resource "gpufleet_network" "mesh" {
  name = "fleet"
  sites = {
    "aws/eu-central-1" = { cloud = "aws", region = "eu-central-1", zones = ["euc1-az1", "euc1-az2"] }
    "gcp/europe-west4" = { cloud = "gcp", region = "europe-west4", zones = ["europe-west4-a"] }
    "azure/westeurope" = { cloud = "azure", region = "westeurope", zones = ["1"] }
  }
}
