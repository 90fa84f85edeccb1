# A network per site of the placement and a VPN/peering mesh between them.
resource "gpufleet_network" "mesh" {
  name    = "train"
  sites   = gpufleet_placement.train.sites
  cidr    = "10.64.0.0/12"
  exclude = ["10.64.0.0/16"] # already used on-premises
}

output "connectivity" {
  value = gpufleet_network.mesh.connectivity
}

output "vpn_monthly_cost_usd" {
  value = gpufleet_network.mesh.monthly_cost_usd
}
