output "sites" {
  description = "Per site (cloud/region): GPUs, nodes, zones and hourly price."
  value       = gpufleet_placement.this.sites
}

output "summary" {
  description = "The placement in words: allocations, cost, and why the other clouds lost."
  value       = gpufleet_placement.this.summary
}

output "hourly_cost_usd" {
  description = "GPU nodes per hour, USD."
  value       = gpufleet_pool.this.hourly_cost_usd
}

output "network_monthly_cost_usd" {
  description = "Estimated monthly list price of the VPN gateways and tunnels."
  value       = gpufleet_network.this.monthly_cost_usd
}

output "connectivity" {
  description = "Which site reaches which, over what."
  value       = gpufleet_network.this.connectivity
}

output "networks" {
  description = "Per site: network and subnet IDs and ranges."
  value       = gpufleet_network.this.networks
}

output "cluster_endpoints" {
  description = "API server URL per site."
  value       = { for k, c in gpufleet_cluster.site : k => c.endpoint }
}

output "kubeconfigs" {
  description = "A kubeconfig per site."
  value       = { for k, c in gpufleet_cluster.site : k => c.kubeconfig }
  sensitive   = true
}

output "pools" {
  description = "The GPU node pools: nodes, instance type, zone, status."
  value       = gpufleet_pool.this.pools
}
