# cloud/region/name
terraform import 'gpufleet_cluster.site["aws/eu-north-1"]' aws/eu-north-1/gpufleet-aws-eu-north-1
