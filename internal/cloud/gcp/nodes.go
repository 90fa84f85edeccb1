package gcp

import (
	"context"
	"strings"

	"cloud.google.com/go/container/apiv1/containerpb"
	compute "google.golang.org/api/compute/v1"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/lazyre"
)

var _ cloud.NodeReplacer = (*Backend)(nil)

// gceProviderIDRE is a GKE node's spec.providerID:
// gce://<project>/<zone>/<instance name>.
var gceProviderIDRE = lazyre.New(`^gce://([^/]+)/([a-z0-9-]+)/([a-z]([-a-z0-9]*[a-z0-9])?)$`)

// igmURLRE is a node pool's instanceGroupUrls element.
var igmURLRE = lazyre.New(`projects/([^/]+)/zones/([^/]+)/instanceGroupManagers/([^/]+)$`)

// ReplaceNode recreates the node's VM through its node pool's managed
// instance group (instanceGroupManagers.recreateInstances), which deletes
// the VM and creates it again from the group's template, keeping the
// group's target size (deleteInstances would shrink it; instances.delete
// goes behind the group's back and leaves it to notice)
// (https://cloud.google.com/compute/docs/reference/rest/v1/instanceGroupManagers/recreateInstances,
// https://cloud.google.com/kubernetes-engine/docs/concepts/node-pools: a
// node pool's nodes are a managed instance group per zone). GCE recreates
// the VM on fresh hardware with the same name, so the Kubernetes Node
// comes back under its old name.
//
// The group is the pool's instanceGroupUrls entry of the node's zone; an
// instance whose name is not the group's (GKE names instances
// <group name less "-grp">-<suffix>) belongs to another pool (KindInvalid);
// listManagedInstances must list it (KindNotFound otherwise). An instance
// the group is already recreating or deleting is done. ReplaceNode waits
// for the operation, which is DONE once the VM is flagged for recreation.
func (b *Backend) ReplaceNode(ctx context.Context, region, cluster, pool string, node cloud.NodeRef) error {
	const op = "ReplaceNode"
	m := gceProviderIDRE().FindStringSubmatch(node.ProviderID)
	if m == nil {
		return cloud.Invalid("gcp", op, "InvalidProviderID", "node %s: provider ID %q is not a Compute Engine instance (gce://<project>/<zone>/<instance>)", node.Name, node.ProviderID)
	}
	zone, instance := m[2], m[3]
	np, err := b.client.GetNodePool(ctx, &containerpb.GetNodePoolRequest{Name: b.poolPath(region, cluster, pool)})
	if err != nil {
		return classify("GetNodePool", err)
	}
	var project, group string
	for _, u := range np.GetInstanceGroupUrls() {
		if g := igmURLRE().FindStringSubmatch(u); g != nil && g[2] == zone {
			project, group = g[1], g[3]
		}
	}
	if group == "" {
		return cloud.Invalid("gcp", op, "NoInstanceGroupInZone", "node %s is in zone %s, where node pool %s of cluster %s has no instance group (%s)", node.Name, zone, pool, cluster, strings.Join(np.GetInstanceGroupUrls(), ", "))
	}
	if !strings.HasPrefix(instance, strings.TrimSuffix(group, "-grp")+"-") {
		return cloud.Invalid("gcp", op, "InstanceOfAnotherGroup", "instance %s of node %s is not in node pool %s's instance group %s", instance, node.Name, pool, group)
	}
	c, err := b.compute(ctx)
	if err != nil {
		return err
	}
	// listManagedInstances is a POST: not retried, as a read is.
	list := c.svc.InstanceGroupManagers.ListManagedInstances(project, zone, group).Context(ctx)
	found, err := firstOf(func(token string) ([]*compute.ManagedInstance, string, error) {
		l, err := pageAfter(list, token).Do()
		if err != nil {
			return nil, "", err
		}
		return l.ManagedInstances, l.NextPageToken, nil
	}, func(mi *compute.ManagedInstance) bool {
		return mi.Name == instance || lastSegment(mi.Instance) == instance
	})
	if err != nil {
		return classifyCompute("ListManagedInstances", err)
	}
	if found == nil {
		return cloud.NotFound("gcp", op, "notFound", "instance %s of node %s is not in instance group %s (deleted, or replaced already)", instance, node.Name, group)
	}
	switch found.CurrentAction {
	case "RECREATING", "DELETING":
		return nil
	}
	return b.call(ctx, "RecreateInstances", func() (*compute.Operation, error) {
		return c.svc.InstanceGroupManagers.RecreateInstances(project, zone, group, &compute.InstanceGroupManagersRecreateInstancesRequest{
			Instances: []string{"zones/" + zone + "/instances/" + instance}}).Context(ctx).Do()
	})
}
