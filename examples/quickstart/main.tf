# gpufleet quickstart: 64 H100/H200 GPUs in the EU on all three clouds, at
# most 40% on any one, planned, then created offline in the simulated clouds (the real AWS,
# GKE and AKS SDK clients talk to a local simulator). Run it with `make demo`
# from the repository root.
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
    min_clouds = 3
    max_share  = 0.4
  }
}

# One Kubernetes control plane per site of the placement.
resource "gpufleet_cluster" "site" {
  for_each = gpufleet_placement.train.sites
  site     = each.key
}

# The GPU node pools, tainted until their GPUs are validated.
resource "gpufleet_pool" "train" {
  placement   = gpufleet_placement.train.id
  allocations = gpufleet_placement.train.allocations
  fallbacks   = gpufleet_placement.train.fallbacks
  clusters    = { for k, c in gpufleet_cluster.site : k => c.id }
  labels      = { "gpufleet.dev/fleet" = "quickstart" }
}

output "placement" {
  description = "The chosen allocations, the hourly cost and why the other clouds lost."
  value       = gpufleet_placement.train.summary
}

output "clusters" {
  value = { for k, c in gpufleet_cluster.site : k => c.endpoint }
}

output "pools" {
  value = { for k, p in gpufleet_pool.train.pools : k => "${p.nodes} x ${p.instance_type} in ${p.zone}: ${p.status}, ${p.ready_nodes} ready" }
}

output "hourly_cost_usd" {
  value = gpufleet_pool.train.hourly_cost_usd
}
