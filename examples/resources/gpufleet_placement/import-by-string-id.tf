# The ID is the request: attribute=value pairs joined by ';', lists comma-separated.
import {
  to = gpufleet_placement.train
  id = "gpus=64;gpu_models=H100,H200;gpus_per_node=8;residency=EU;spread.min_clouds=2;spread.max_share=0.6"
}
