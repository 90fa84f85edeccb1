# GPU node pools for every allocation of the placement, in the cluster of
# its site. Nodes join tainted gpufleet.dev/unvalidated=true:NoSchedule until
# gpufleet-nodecheck has validated their GPUs.
resource "gpufleet_pool" "train" {
  placement   = gpufleet_placement.train.id
  allocations = gpufleet_placement.train.allocations
  fallbacks   = gpufleet_placement.train.fallbacks
  clusters    = { for k, c in gpufleet_cluster.site : k => c.id }

  labels = { "gpufleet.dev/fleet" = "train" }

  bootstrap = {
    nvml_validation    = true
    min_driver_version = "550.54"
    nodecheck_url      = "https://github.com/gpufleet/terraform-provider-gpufleet/releases/download/v0.1.0/gpufleet-nodecheck_0.1.0_linux_amd64"
    nodecheck_sha256   = "0000000000000000000000000000000000000000000000000000000000000000"
  }

  # On a capacity or quota error, move an allocation to its next fallback.
  failover = true
}

output "pools" {
  value = { for k, p in gpufleet_pool.train.pools : k => "${p.nodes} x ${p.instance_type} in ${p.zone} (${p.status})" }
}
