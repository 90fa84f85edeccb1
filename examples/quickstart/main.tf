# gpufleet quickstart: plan 64 H100/H200 GPUs in the EU over at least two
# clouds, offline. Run it with `make demo` from the repository root.
terraform {
  required_providers {
    gpufleet = {
      source = "gpufleet/gpufleet"
    }
  }
}

provider "gpufleet" {
  simulate = true # simulated clouds: no credentials, no network
}

resource "gpufleet_placement" "train" {
  gpus          = 64
  gpu_models    = ["H100", "H200"]
  gpus_per_node = 8
  residency     = ["EU"]
  spread = {
    min_clouds = 2
    max_share  = 0.6
  }
}

output "placement" {
  description = "The chosen allocations, the hourly cost and why the other clouds lost."
  value       = gpufleet_placement.train.summary
}

output "hourly_cost_usd" {
  value = gpufleet_placement.train.hourly_cost_usd
}

output "sites" {
  description = "GPUs per cloud/region: what the cluster and pool resources will create."
  value       = { for k, s in gpufleet_placement.train.sites : k => "${s.nodes} nodes, ${s.gpus} GPUs" }
}
