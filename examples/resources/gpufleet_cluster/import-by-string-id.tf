# The ID is cloud/region/name.
import {
  to = gpufleet_cluster.site["aws/eu-north-1"]
  id = "aws/eu-north-1/gpufleet-aws-eu-north-1"
}
