# The real-cloud smoke test: the smallest real fleet on one cloud, one
# on-demand NVIDIA T4 node (AWS g4dn.xlarge in us-east-1, GCP
# n1-highmem-8 with one T4 in us-central1, Azure Standard_NC4as_T4_v3 in
# eastus: offers.csv pins them, with the embedded catalog's figures, which
# gpufleet-nodecheck checks the node against), a network, a cluster and
# the pool, with the node validated by gpufleet-nodecheck before the apply
# completes. It costs real money (0.53 to 0.83 USD an hour for the node,
# plus the cluster's control plane; the single site has no VPN): run it with
# `make smoke CLOUD=aws|gcp|azure`, which destroys it on success and on
# failure (tools/smoke/smoke.sh).
terraform {
  required_providers {
    gpufleet = {
      source = "gpufleet/gpufleet"
    }
  }
}

variable "cloud" {
  description = "aws, gcp or azure."
  type        = string
  validation {
    condition     = contains(["aws", "gcp", "azure"], var.cloud)
    error_message = "cloud must be aws, gcp or azure."
  }
}

variable "gcp_project" {
  description = "GCP project (cloud = gcp)."
  type        = string
  default     = null
}

variable "azure_subscription_id" {
  description = "Azure subscription (cloud = azure)."
  type        = string
  default     = null
}

variable "name" {
  description = "Prefix of every cloud resource name, so that leftovers are easy to find."
  type        = string
  default     = "gpufleet-smoke"
}

locals {
  region = { aws = "us-east-1", gcp = "us-central1", azure = "eastus" }[var.cloud]
}

variable "simulate" {
  description = "Apply in the simulated clouds instead: the offline rehearsal of the script (make smoke CLOUD=... SIMULATE=1)."
  type        = bool
  default     = false
}

provider "gpufleet" {
  simulate = var.simulate
  catalog {
    file = "${path.module}/offers.csv"
  }
  dynamic "aws" {
    for_each = var.cloud == "aws" ? [1] : []
    content {
      regions = [local.region]
    }
  }
  dynamic "gcp" {
    for_each = var.cloud == "gcp" ? [1] : []
    content {
      project = var.gcp_project
      regions = [local.region]
    }
  }
  dynamic "azure" {
    for_each = var.cloud == "azure" ? [1] : []
    content {
      subscription_id = var.azure_subscription_id
      regions         = [local.region]
    }
  }
}

resource "gpufleet_placement" "smoke" {
  gpus           = 1
  gpu_models     = ["T4"]
  gpus_per_node  = 1
  clouds         = [var.cloud]
  capacity_types = ["on_demand"]
  residency      = ["${var.cloud}/${local.region}"]
}

resource "gpufleet_network" "smoke" {
  name  = var.name
  sites = gpufleet_placement.smoke.sites
  cidr  = "10.200.0.0/16"
}

resource "gpufleet_cluster" "site" {
  for_each        = gpufleet_placement.smoke.sites
  site            = each.key
  name            = "${var.name}-${var.cloud}"
  network         = gpufleet_network.smoke.networks[each.key]
  node_validation = { enabled = true }
}

resource "gpufleet_pool" "smoke" {
  placement           = gpufleet_placement.smoke.id
  allocations         = gpufleet_placement.smoke.allocations
  clusters            = { for k, c in gpufleet_cluster.site : k => c.id }
  failover            = false
  bootstrap           = { nvml_validation = true }
  wait_for_validation = true
  validation_timeout  = "30m"
  labels              = { "gpufleet.dev/fleet" = var.name }
}

output "instance_type" {
  value = one(gpufleet_placement.smoke.allocations).instance_type
}

output "total_gpus" {
  value = gpufleet_pool.smoke.total_gpus
}

output "validated_gpus" {
  description = "GPUs that passed NVML validation: the smoke test passes when it equals total_gpus."
  value       = gpufleet_pool.smoke.validated_gpus
}
