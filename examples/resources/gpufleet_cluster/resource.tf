# One EKS control plane per site of the placement.
resource "gpufleet_cluster" "site" {
  for_each           = gpufleet_placement.train.sites
  site               = each.key
  kubernetes_version = "1.31"
}

output "kubeconfigs" {
  value     = { for k, c in gpufleet_cluster.site : k => c.kubeconfig }
  sensitive = true
}
