variable "name" {
  description = "Name of the fleet: prefixes network resource names and labels the nodes (1-20 lower-case letters, digits or hyphens)."
  type        = string
}

variable "gpus" {
  description = "How many GPUs the fleet needs."
  type        = number
}

variable "gpu_models" {
  description = "Acceptable GPU models, e.g. [\"H100\", \"H200\"]."
  type        = list(string)
}

variable "gpus_per_node" {
  description = "GPUs per node (8 for training nodes); null accepts any node size."
  type        = number
  default     = 8
}

variable "residency" {
  description = "Jurisdictions or countries the data must stay in, e.g. [\"EU\"]; empty means anywhere."
  type        = list(string)
  default     = []
}

variable "spread" {
  description = "Spread over clouds: at least min_clouds clouds, at most max_share of the GPUs on any one; null to put everything on the cheapest cloud."
  type = object({
    min_clouds = optional(number)
    max_share  = optional(number)
  })
  default = null
}

variable "capacity_types" {
  description = "on_demand, spot, or both."
  type        = list(string)
  default     = ["on_demand"]
}

variable "network_cidr" {
  description = "Supernet the sites' networks come from (a /16 per site)."
  type        = string
  default     = "10.64.0.0/12"
}

variable "network_exclude" {
  description = "Ranges already used elsewhere (on-premises, other VPCs) that the fleet must not take."
  type        = list(string)
  default     = []
}

variable "kubernetes_version" {
  description = "Kubernetes version of every cluster."
  type        = string
  default     = "1.31"
}

variable "labels" {
  description = "Extra Kubernetes labels on every GPU node."
  type        = map(string)
  default     = {}
}

variable "gpu_validation" {
  description = "Validate every GPU node through NVML before it takes work: the clusters install gpufleet-nodecheck, nodes join tainted, and the pools wait until their nodes pass (failed nodes are replaced). false: no validator, no taint."
  type        = bool
  default     = true
}

variable "validation_timeout" {
  description = "How long one node pool may take to have all its nodes validated (Go duration)."
  type        = string
  default     = "20m"
}

variable "store_kubeconfig" {
  description = "Keep a kubeconfig per cluster in the state (the kubeconfigs output; authentication through the clouds' credential plugins). Default false: on Terraform 1.10+ / OpenTofu 1.11+ use the credentials submodule (./credentials), whose short-lived tokens are never stored; set true on older CLIs."
  type        = bool
  default     = false
}
