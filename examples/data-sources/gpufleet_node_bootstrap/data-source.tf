# GPU nodes join tainted gpufleet.dev/unvalidated=true:NoSchedule; the
# gpufleet-nodecheck DaemonSet removes the taint once NVML finds the GPUs
# healthy. EKS nodes also run the validator once at boot from user data.
data "gpufleet_node_bootstrap" "gpu" {
  min_driver_version = "550.54"
  nodecheck_url      = "https://github.com/gpufleet/terraform-provider-gpufleet/releases/download/v0.1.0/gpufleet-nodecheck_0.1.0_linux_amd64"
  nodecheck_sha256   = "0000000000000000000000000000000000000000000000000000000000000000"
  image              = "ghcr.io/gpufleet/nodecheck:0.1.0"

  eks = {
    cluster_name          = aws_eks_cluster.train.name
    api_server_endpoint   = aws_eks_cluster.train.endpoint
    certificate_authority = aws_eks_cluster.train.certificate_authority[0].data
    service_cidr          = aws_eks_cluster.train.kubernetes_network_config[0].service_ipv4_cidr
    instance_type         = "p5.48xlarge"
  }

  daemonset = {
    gpu_node_label = "nvidia.com/gpu.present"
  }
}

resource "aws_launch_template" "gpu" {
  name_prefix = "train-gpu-"
  user_data   = data.gpufleet_node_bootstrap.gpu.eks_user_data_base64
}
