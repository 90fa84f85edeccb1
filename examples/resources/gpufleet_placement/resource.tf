# 64 H100 or H200 GPUs in the EU, 8 per node, on at least two clouds with at
# most 60% on any one, as cheap as possible.
resource "gpufleet_placement" "train" {
  gpus          = 64
  gpu_models    = ["H100", "H200"]
  gpus_per_node = 8
  residency     = ["EU"]
  spread = {
    min_clouds = 2
    max_share  = 0.6
  }
  # Fallbacks only where the sites' network and clusters are (a network
  # built from sites, a cluster per site): failover within each site.
  fallbacks_in_sites = true
  # Change to move to a cheaper placement when the plan warns about one.
  keepers = { generation = "1" }
}

# One entry per cloud/region, known at plan time.
resource "terraform_data" "site" {
  for_each = gpufleet_placement.train.sites
  input    = each.value
}

output "placement" {
  value = gpufleet_placement.train.summary
}
