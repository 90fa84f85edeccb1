# The network's name, optionally followed by ;attribute=value pairs: sites, cidr, exclude, asn_min, asn_max.
terraform import gpufleet_network.mesh train
terraform import gpufleet_network.mesh 'train;sites=aws/eu-central-1,gcp/europe-west4;cidr=10.64.0.0/12'
