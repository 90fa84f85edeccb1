# Short-lived Kubernetes API credentials for the fleet's clusters, obtained
# by the gpufleet provider (EKS token, Google access token, Entra ID token)
# and never written to the plan or the state.

variable "cluster_ids" {
  description = "gpufleet_cluster ID per site: the gpu-fleet module's cluster_ids output."
  type        = map(string)
}

ephemeral "gpufleet_cluster_credentials" "site" {
  for_each   = var.cluster_ids
  cluster_id = each.value
}

output "clusters" {
  description = "Per site: host, cluster_ca_certificate (PEM), token (or client_certificate and client_key on AKS without Entra ID) and expires_at, the arguments of the kubernetes and helm providers. Ephemeral: usable in provider blocks, provisioners and other ephemeral contexts only."
  value = { for k, c in ephemeral.gpufleet_cluster_credentials.site : k => {
    host                   = c.endpoint
    cluster_ca_certificate = c.cluster_ca_certificate
    token                  = c.token
    client_certificate     = c.client_certificate
    client_key             = c.client_key
    expires_at             = c.expires_at
  } }
  ephemeral = true
  sensitive = true
}
