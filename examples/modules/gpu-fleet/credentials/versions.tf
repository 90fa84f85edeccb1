terraform {
  # Ephemeral resources and ephemeral module outputs: Terraform 1.10+,
  # OpenTofu 1.11+. The parent module stays usable on Terraform 1.5.
  required_version = ">= 1.10.0"
  required_providers {
    gpufleet = {
      source = "gpufleet/gpufleet"
    }
  }
}
