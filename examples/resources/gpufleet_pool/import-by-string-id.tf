# Adopt node pools created elsewhere: cloud/region/cluster/pool, several separated by commas.
import {
  to = gpufleet_pool.train
  id = "aws/eu-north-1/gpufleet-aws-eu-north-1/gpufleet-74dbc4bc799d"
}
