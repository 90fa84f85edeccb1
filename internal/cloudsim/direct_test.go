package cloudsim_test

import (
	"testing"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/contract"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// TestDirectBackendContract runs the backend contract suite against the
// DirectBackend, the reference the SDK backends are held to, on an engine
// whose operations take milliseconds. It lists no pools (see
// contract.Harness.NotLister).
func TestDirectBackendContract(t *testing.T) {
	contract.Run(t, contract.Harness{
		World: func(t *testing.T) (cloud.Backend, *cloudsim.Engine) {
			e, err := cloudsim.New(cloudsim.Config{Durations: cloudsim.Durations{ClusterCreate: 30 * time.Millisecond, ClusterDelete: 20 * time.Millisecond,
				PoolCreate: 30 * time.Millisecond, PoolUpdate: 20 * time.Millisecond, PoolDelete: 20 * time.Millisecond}})
			if err != nil {
				t.Fatal(err)
			}
			return &cloudsim.DirectBackend{Engine: e, CloudName: "aws", Poll: 5 * time.Millisecond}, e
		},
		Cluster: func(name string) cloud.ClusterSpec {
			return cloud.ClusterSpec{Name: name, Region: "eu-central-1", KubernetesVersion: "1.33"}
		},
		Pool: func(cluster, name string) cloud.NodePoolSpec {
			return cloud.NodePoolSpec{Cluster: cluster, Region: "eu-central-1", Name: name, InstanceType: "p5.48xlarge", Zone: "euc1-az3",
				CapacityType: "on_demand", Nodes: 1, Labels: map[string]string{"gpufleet.io/pool": name}}
		},
		NotLister: true,
	})
}
