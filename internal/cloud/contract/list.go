package contract

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
)

// Listed renders what List and ListNetworks found as "kind region name"
// lines ("kind region cluster/name NxTYPE" for node pools), in their
// order, for comparing with what a test created.
func Listed(rs []cloud.Resource) []string {
	var out []string
	for _, r := range rs {
		s := fmt.Sprintf("%s %s %s", r.Kind, r.Region, r.Name)
		if r.Kind == cloud.ResourceNodePool {
			s = fmt.Sprintf("%s %s %s/%s %dx%s", r.Kind, r.Region, r.Cluster, r.Name, r.Nodes, r.InstanceType)
		}
		out = append(out, s)
	}
	return out
}

// ListedDelete checks that what List and ListNetworks find (with o) is
// what the Delete methods take: it deletes all of it in deletion order
// (cloud.ResourceKind.DeleteRank) and lists again, expecting nothing.
// beforeCluster, when not nil, runs before each cluster's deletion (to
// delete pools that are not gpufleet's and so were not listed).
func ListedDelete(t *testing.T, b cloud.Backend, nb cloud.NetworkBackend, o cloud.ListOptions, beforeCluster func(r cloud.Resource) error) {
	t.Helper()
	ctx := context.Background()
	list := func() []cloud.Resource {
		t.Helper()
		rs, err := b.List(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		ns, err := nb.ListNetworks(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		return append(rs, ns...)
	}
	all := list()
	slices.SortStableFunc(all, func(a, b cloud.Resource) int { return a.Kind.DeleteRank() - b.Kind.DeleteRank() })
	for _, r := range all {
		var err error
		switch r.Kind {
		case cloud.ResourceNodePool:
			err = b.DeleteNodePool(ctx, r.Region, r.Cluster, r.Name)
		case cloud.ResourceCluster:
			if beforeCluster != nil {
				err = beforeCluster(r)
			}
			if err == nil {
				err = b.DeleteCluster(ctx, r.Region, r.Name)
			}
		case cloud.ResourceVPNConnection:
			err = nb.DeleteVPNConnection(ctx, r.Region, r.Name)
		case cloud.ResourceVPNGateway:
			err = nb.DeleteVPNGateway(ctx, r.Region, r.Name)
		case cloud.ResourcePeering:
			err = nb.DeletePeering(ctx, *r.Peering)
		case cloud.ResourceNetwork:
			err = nb.DeleteNetwork(ctx, r.Region, r.Name)
		}
		if err != nil {
			t.Fatalf("deleting listed %s %s: %v", r.Kind, r.Name, err)
		}
	}
	if left := list(); len(left) != 0 {
		t.Fatalf("after deleting what was listed: %q", Listed(left))
	}
}
