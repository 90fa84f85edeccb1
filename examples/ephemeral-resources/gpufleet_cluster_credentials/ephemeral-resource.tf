# Terraform 1.10+ / OpenTofu 1.11+: the kubernetes and helm providers get a
# short-lived token from gpufleet itself, and nothing of it is stored.
resource "gpufleet_cluster" "train" {
  site             = "aws/eu-central-1"
  store_kubeconfig = false
}

ephemeral "gpufleet_cluster_credentials" "train" {
  cluster_id = gpufleet_cluster.train.id
}

provider "kubernetes" {
  host                   = ephemeral.gpufleet_cluster_credentials.train.endpoint
  cluster_ca_certificate = ephemeral.gpufleet_cluster_credentials.train.cluster_ca_certificate
  token                  = ephemeral.gpufleet_cluster_credentials.train.token
  # Set only on AKS clusters without Microsoft Entra ID (null elsewhere).
  client_certificate = ephemeral.gpufleet_cluster_credentials.train.client_certificate
  client_key         = ephemeral.gpufleet_cluster_credentials.train.client_key
}
