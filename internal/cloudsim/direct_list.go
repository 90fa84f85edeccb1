package cloudsim

import (
	"context"
	"maps"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
)

// List returns the engine's clusters of this cloud tagged cloud.ManagedTag
// in o's regions and their node pools with gpufleet's names (see
// cloud.Backend).
func (b *DirectBackend) List(_ context.Context, o cloud.ListOptions) ([]cloud.Resource, error) {
	inv := b.Engine.Inventory()
	managed := map[string]bool{}
	var out []cloud.Resource
	for _, c := range inv.Clusters {
		if c.Cloud != b.CloudName || !o.InRegion(c.Region) || c.Spec.Tags[cloud.ManagedTag] == "" {
			continue
		}
		managed[c.Region+"/"+c.Name] = true
		out = append(out, cloud.Resource{Cloud: c.Cloud, Region: c.Region, Kind: cloud.ResourceCluster, Name: c.Name, ID: c.ID,
			Created: c.CreatedAt, Tags: maps.Clone(c.Spec.Tags)})
	}
	for _, p := range inv.Pools {
		if p.Cloud != b.CloudName || !managed[p.Spec.Region+"/"+p.Spec.Cluster] || !cloud.IsPoolName(p.Spec.Name) {
			continue
		}
		out = append(out, cloud.Resource{Cloud: p.Cloud, Region: p.Spec.Region, Zone: p.Spec.Zone, Kind: cloud.ResourceNodePool,
			Name: p.Spec.Name, Cluster: p.Spec.Cluster, ID: p.ID, Created: p.CreatedAt, Tags: maps.Clone(p.Spec.Labels),
			InstanceType: p.Spec.InstanceType, CapacityType: p.Spec.CapacityType, Nodes: p.Spec.Nodes})
	}
	cloud.SortResources(out)
	return out, nil
}
