# A GPU fleet in one module: the cheapest placement that meets the request,
# a network per site with a VPN/peering mesh between them, one Kubernetes
# cluster per site and the GPU node pools.

resource "gpufleet_placement" "this" {
  gpus           = var.gpus
  gpu_models     = var.gpu_models
  gpus_per_node  = var.gpus_per_node
  residency      = length(var.residency) > 0 ? var.residency : null
  capacity_types = var.capacity_types
  spread         = var.spread
}

resource "gpufleet_network" "this" {
  name    = var.name
  sites   = gpufleet_placement.this.sites
  cidr    = var.network_cidr
  exclude = length(var.network_exclude) > 0 ? var.network_exclude : null
}

resource "gpufleet_cluster" "site" {
  for_each           = gpufleet_placement.this.sites
  site               = each.key
  kubernetes_version = var.kubernetes_version
  network            = gpufleet_network.this.networks[each.key]
}

resource "gpufleet_pool" "this" {
  placement   = gpufleet_placement.this.id
  allocations = gpufleet_placement.this.allocations
  fallbacks   = gpufleet_placement.this.fallbacks
  clusters    = { for k, c in gpufleet_cluster.site : k => c.id }
  labels      = merge({ "gpufleet.dev/fleet" = var.name }, var.labels)
}
