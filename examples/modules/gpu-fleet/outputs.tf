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

output "cluster_ids" {
  description = "gpufleet_cluster ID per site, the input of the credentials submodule (./credentials). Known once the cluster has an endpoint (unknown in the plan that creates it), so that the submodule opens credentials only for clusters that exist."
  value       = { for k, c in gpufleet_cluster.site : k => c.endpoint == null ? null : c.id }
}

output "kubeconfigs" {
  description = "A kubeconfig per site when store_kubeconfig is true; null values otherwise."
  value       = { for k, c in gpufleet_cluster.site : k => c.kubeconfig }
  sensitive   = true
}

output "pools" {
  description = "The GPU node pools: nodes, instance type, zone, status."
  value       = gpufleet_pool.this.pools
}

output "validated_gpus" {
  description = "GPUs on nodes that passed NVML validation and can take work, of all the fleet's GPUs."
  value       = "${gpufleet_pool.this.validated_gpus}/${gpufleet_pool.this.total_gpus} GPUs validated"
}

output "validation" {
  description = "Per node pool: validated nodes, and the nodes that failed validation during the last apply (replaced or failed over)."
  value = {
    pools    = { for k, p in gpufleet_pool.this.pools : k => "${p.validated_nodes}/${p.nodes} nodes (${p.validated_nodes * p.gpus_per_node}/${p.nodes * p.gpus_per_node} GPUs) validated" }
    failures = gpufleet_pool.this.validation_failures
  }
}
