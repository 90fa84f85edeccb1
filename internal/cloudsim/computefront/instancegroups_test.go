package computefront

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// TestInstanceGroups lists and recreates the instances of a GKE node
// pool's managed instance group through the real REST client: the
// instances are the pool's machines, a recreate replaces one in the
// engine (same size) and its zonal operation is DONE after the operation
// time; unknown groups, non-members and empty requests get GCE's errors.
func TestInstanceGroups(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	const zone = "europe-west4-b"
	if _, err := w.e.CreateCluster(cloudName, cloud.ClusterSpec{Name: "c1", Region: region}); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(time.Hour)
	for _, name := range []string{"train", "infer"} {
		if _, err := w.e.CreateNodePool(cloudName, cloud.NodePoolSpec{Cluster: "c1", Region: region, Name: name, InstanceType: "a3-highgpu-8g",
			Zone: zone, CapacityType: "on_demand", Nodes: 2}, cloudsim.PoolOptions{Family: "a3", GPUsPerNode: 8}); err != nil {
			t.Fatal(err)
		}
	}
	w.clock.Advance(time.Hour)
	pool, _ := w.e.LookupPool(cloudName, region, "c1", "train")
	other, _ := w.e.LookupPool(cloudName, region, "c1", "infer")
	group := InstanceGroupManagerName(pool)
	if !strings.HasPrefix(group, "gke-c1-train-") || !strings.HasSuffix(group, "-grp") {
		t.Fatalf("group name %s", group)
	}
	igms, err := compute.NewInstanceGroupManagersRESTClient(ctx, option.WithEndpoint(w.url), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	list := func(name string) ([]*computepb.ManagedInstance, error) {
		it := igms.ListManagedInstances(ctx, &computepb.ListManagedInstancesInstanceGroupManagersRequest{Project: project, Zone: zone, InstanceGroupManager: name})
		var out []*computepb.ManagedInstance
		for {
			mi, err := it.Next()
			if err == iterator.Done {
				return out, nil
			}
			if err != nil {
				return nil, err
			}
			out = append(out, mi)
		}
	}
	before, err := list(group)
	if err != nil {
		t.Fatal(err)
	}
	nodes, _ := w.e.PoolNodes(cloudName, region, "c1", "train")
	if len(before) != 2 || before[0].GetName() != nodes[0].Name || !strings.HasPrefix(nodes[0].Name, strings.TrimSuffix(group, "-grp")+"-") ||
		before[0].GetInstance() != APIRoot+"projects/"+project+"/zones/"+zone+"/instances/"+nodes[0].Name ||
		before[0].GetInstanceStatus() != "RUNNING" || before[0].GetCurrentAction() != "NONE" {
		t.Fatalf("managed instances %v, nodes %+v", before, nodes)
	}

	op, err := igms.RecreateInstances(ctx, &computepb.RecreateInstancesInstanceGroupManagerRequest{Project: project, Zone: zone, InstanceGroupManager: group,
		InstanceGroupManagersRecreateInstancesRequestResource: &computepb.InstanceGroupManagersRecreateInstancesRequest{
			Instances: []string{"zones/" + zone + "/instances/" + nodes[0].Name}}})
	if err != nil {
		t.Fatal(err)
	}
	if p := op.Proto(); p.GetOperationType() != "recreateInstances" || !strings.HasSuffix(p.GetZone(), "/zones/"+zone) ||
		!strings.HasSuffix(p.GetTargetLink(), "/instanceGroupManagers/"+group) || op.Done() {
		t.Fatalf("operation %v", p)
	}
	after, err := list(group)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != 2 || after[0].GetName() != nodes[1].Name || after[1].GetName() == nodes[0].Name ||
		after[1].GetCurrentAction() != "CREATING" || after[1].GetInstanceStatus() != "PROVISIONING" {
		t.Fatalf("after recreating %s: %v", nodes[0].Name, after)
	}

	w.clock.Advance(opTime)
	if err := op.Poll(ctx); err != nil || !op.Done() {
		t.Fatalf("operation after %v: done %v, %v", opTime, op.Done(), err)
	}
	tests := []struct {
		name, group string
		instances   []string
		code        int
	}{
		{"unknown group", "gke-c1-train-00000000-grp", []string{"zones/" + zone + "/instances/" + nodes[1].Name}, http.StatusNotFound},
		{"replaced already", group, []string{"zones/" + zone + "/instances/" + nodes[0].Name}, http.StatusNotFound},
		{"another group's instance", group, []string{"zones/" + zone + "/instances/" + other.Nodes[0].Name}, http.StatusNotFound},
		{"another zone", group, []string{"zones/europe-west4-a/instances/" + nodes[1].Name}, http.StatusNotFound},
		{"not an instance", group, []string{nodes[1].Name}, http.StatusBadRequest},
		{"no instances", group, nil, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := igms.RecreateInstances(ctx, &computepb.RecreateInstancesInstanceGroupManagerRequest{Project: project, Zone: zone, InstanceGroupManager: tt.group,
				InstanceGroupManagersRecreateInstancesRequestResource: &computepb.InstanceGroupManagersRecreateInstancesRequest{Instances: tt.instances}})
			reason := "notFound"
			if tt.code == http.StatusBadRequest {
				reason = "invalid"
			}
			apiErr(t, err, tt.code, reason)
		})
	}
	_, err = list("gke-c1-train-00000000-grp")
	apiErr(t, err, http.StatusNotFound, "notFound")
	if now, _ := w.e.PoolNodes(cloudName, region, "c1", "train"); len(now) != 2 || now[0].Name != nodes[1].Name {
		t.Fatalf("refused recreates changed the group: %+v", now)
	}
}
