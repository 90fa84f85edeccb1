# gpufleet quickstart: 64 H100/H200 GPUs in the EU on all three clouds, at
# most 40% on any one, planned, then created offline in the simulated clouds
# (the real AWS, GCP and Azure SDK clients talk to a local simulator): a
# network per site with a VPN mesh between the clouds, one Kubernetes
# cluster per site and the GPU node pools. Run it with `make demo` from the
# repository root.
terraform {
  required_providers {
    gpufleet = {
      source = "gpufleet/gpufleet"
    }
  }
}

provider "gpufleet" {
  simulate = true # simulated clouds: no credentials, no network traffic
}

module "fleet" {
  source = "../modules/gpu-fleet"

  name       = "quickstart"
  gpus       = 64
  gpu_models = ["H100", "H200"]
  residency  = ["EU"]
  spread = {
    min_clouds = 3
    max_share  = 0.4
  }
}

output "placement" {
  description = "The chosen allocations, the hourly cost and why the other clouds lost."
  value       = module.fleet.summary
}

output "connectivity" {
  description = "Which site reaches which, over what."
  value       = module.fleet.connectivity
}

output "clusters" {
  value = module.fleet.cluster_endpoints
}

output "pools" {
  value = { for k, p in module.fleet.pools : k => "${p.nodes} x ${p.instance_type} in ${p.zone}: ${p.status}, ${p.ready_nodes} ready, ${p.validated_nodes * p.gpus_per_node}/${p.nodes * p.gpus_per_node} GPUs validated" }
}

output "validated_gpus" {
  description = "GPUs that passed NVML validation and can take work."
  value       = module.fleet.validated_gpus
}

output "hourly_cost_usd" {
  value = module.fleet.hourly_cost_usd
}

output "network_monthly_cost_usd" {
  value = module.fleet.network_monthly_cost_usd
}
