# Terraform 1.8+ / OpenTofu 1.7+.
terraform {
  required_providers {
    gpufleet = { source = "gpufleet/gpufleet" }
  }
}

resource "gpufleet_placement" "train" {
  gpus       = 64
  gpu_models = ["H100", "H200"]
  residency  = ["EU", "UK"]
}

locals {
  # Per site: where it is, e.g. { "aws/eu-central-1" = { country = "DE", jurisdiction = "EU", location = "Europe (Frankfurt)", ... } }
  residency = { for site, _ in gpufleet_placement.train.sites : site => provider::gpufleet::residency_of(site) }
}

# What the placement chose, in the words a data-protection review asks for.
output "countries_by_site" {
  value = { for site, r in local.residency : site => "${r.location}, ${r.country} (${r.jurisdiction})" }
}

# Sites that come from elsewhere (another team's list, a variable) checked
# against the same region table the placement's residency rules use.
variable "extra_sites" {
  type    = list(string)
  default = ["gcp/europe-west4"]
}

check "extra_sites_in_the_eu" {
  assert {
    condition     = alltrue([for s in var.extra_sites : provider::gpufleet::residency_of(s).jurisdiction == "EU"])
    error_message = "Every extra site must be in the EU."
  }
}
