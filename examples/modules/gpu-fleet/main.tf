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
  # The network and the clusters below are built from sites: offer only
  # fallbacks they can host.
  fallbacks_in_sites = true
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
  node_validation    = { enabled = var.gpu_validation }
  # Cluster access comes from the credentials submodule (ephemeral, never
  # stored) unless the caller asks for kubeconfigs in the state.
  store_kubeconfig = var.store_kubeconfig
}

resource "gpufleet_pool" "this" {
  placement   = gpufleet_placement.this.id
  allocations = gpufleet_placement.this.allocations
  fallbacks   = gpufleet_placement.this.fallbacks
  clusters    = { for k, c in gpufleet_cluster.site : k => c.id }
  labels      = merge({ "gpufleet.dev/fleet" = var.name }, var.labels)
  # Nodes join tainted until the validator the clusters run passes them;
  # the apply completes when every GPU node can take work.
  bootstrap           = { nvml_validation = var.gpu_validation }
  wait_for_validation = var.gpu_validation
  validation_timeout  = var.validation_timeout
}
