# The ID is the network's name; every region of the catalog on every enabled cloud is searched for its sites.
# Settings that differ from the defaults follow as ;attribute=value pairs, and sites= reads only those sites:
# id = "train;sites=aws/eu-central-1,gcp/europe-west4;cidr=10.64.0.0/12"
import {
  to = gpufleet_network.mesh
  id = "train"
}
