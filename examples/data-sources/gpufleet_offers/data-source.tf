# The ten cheapest H100/H200 offers in the EU, on demand.
data "gpufleet_offers" "eu" {
  gpu_models     = ["H100", "H200"]
  residency      = ["EU"]
  capacity_types = ["on_demand"]
  limit          = 10
}

output "cheapest_eu_h100" {
  value = [for o in data.gpufleet_offers.eu.offers : "${o.id}: ${o.price_per_gpu_hour} USD/GPU-h"]
}
