# Plan with the embedded catalog on every cloud (no credentials needed):
provider "gpufleet" {}

# Or enable clouds explicitly, with your own prices and endpoints:
provider "gpufleet" {
  alias = "custom"

  aws {
    regions = ["eu-central-1", "eu-north-1"]
  }
  gcp {
    project = "acme-ml"
  }
  azure {
    subscription_id = "00000000-0000-0000-0000-000000000000"
  }

  catalog {
    discount_percent = { aws = 12 }
    price_overrides = [
      { cloud = "azure", instance_type = "Standard_ND96isr_H100_v5", price_usd_hour = 88.0 },
    ]
  }
}
