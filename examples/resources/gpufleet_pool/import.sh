# Adopt node pools created elsewhere: cloud/region/cluster/pool, several separated by commas.
# The next plan reconciles them with the configuration in place (labels, taints, node counts).
terraform import gpufleet_pool.train aws/eu-north-1/gpufleet-aws-eu-north-1/gpufleet-74dbc4bc799d
