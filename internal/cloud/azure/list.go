package azure

import (
	"context"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
)

// tagCreated is the agent pool tag holding when gpufleet created the pool
// (RFC 3339, UTC): AKS reports no creation time for agent pools (the
// AgentPool model has no systemData).
const tagCreated = "gpufleet-created"

func (b *Backend) createdNow() string {
	return cloud.NowOf(b.cfg.Now).UTC().Format(time.RFC3339)
}

func tagsOf(m map[string]*string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = str(v)
	}
	return out
}

// List lists the subscription's managed clusters (ManagedClusters List,
// every nextLink page,
// https://learn.microsoft.com/en-us/rest/api/aks/managed-clusters/list;
// the API takes no filter), keeps those tagged cloud.ManagedTag in o's
// regions, and lists their user agent pools with the names agentPoolName
// derives (AgentPools List, every page, then Get), which DeleteNodePool
// takes as they are. A cluster's creation time is its
// systemData.createdAt; an agent pool's its gpufleet-created tag.
func (b *Backend) List(ctx context.Context, o cloud.ListOptions) ([]cloud.Resource, error) {
	var out []cloud.Resource
	p := b.clusters.NewListPager(nil)
	for p.More() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, classify("ListClusters", err)
		}
		for _, c := range page.Value {
			if c == nil || c.Tags[armTagName(cloud.ManagedTag)] == nil || !o.InRegion(str(c.Location)) {
				continue
			}
			r := cloud.Resource{Cloud: "azure", Region: str(c.Location), Kind: cloud.ResourceCluster, Name: str(c.Name), ID: str(c.ID),
				Tags: tagsOf(c.Tags)}
			if c.SystemData != nil && c.SystemData.CreatedAt != nil {
				r.Created = c.SystemData.CreatedAt.UTC()
			}
			out = append(out, r)
			pools, err := b.listPools(ctx, r.Region, r.Name)
			if err != nil {
				return nil, err
			}
			out = append(out, pools...)
		}
	}
	cloud.SortResources(out)
	return out, nil
}

func (b *Backend) listPools(ctx context.Context, region, cluster string) ([]cloud.Resource, error) {
	var out []cloud.Resource
	names, err := b.ListNodePools(ctx, region, cluster)
	if cloud.IsNotFound(err) {
		return nil, nil // gone since the list
	}
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		np, _, tags, err := b.getPool(ctx, region, cluster, name)
		if cloud.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		created, _ := time.Parse(time.RFC3339, str(tags[tagCreated]))
		out = append(out, cloud.Resource{Cloud: "azure", Region: region, Zone: np.Spec.Zone, Kind: cloud.ResourceNodePool, Name: name,
			Cluster: cluster, ID: np.ID, Created: created, Tags: tagsOf(tags), InstanceType: np.Spec.InstanceType, CapacityType: np.Spec.CapacityType,
			Nodes: np.Spec.Nodes})
	}
	return out, nil
}

// ListNetworks lists the subscription's virtual networks (ListAll, every
// page) and keeps gpufleet's: a VNet in the resource group EnsureNetwork
// names after it (resourceGroup), in o's regions. In each such group it
// lists the VPN gateways and the connections (one item per
// VPNConnectionSpec name, the connections being "<name>-<i>"), and the
// VNet's peerings give the peerings (paired by name across networks).
// The network API reports no creation times.
func (b *Backend) ListNetworks(ctx context.Context, o cloud.ListOptions) ([]cloud.Resource, error) {
	const op = "ListNetworks"
	n, err := b.network(op)
	if err != nil {
		return nil, err
	}
	var out []cloud.Resource
	peerings := map[string]*cloud.Resource{}
	vp := n.vnets.NewListAllPager(nil)
	for vp.More() {
		page, err := vp.NextPage(ctx)
		if err != nil {
			return nil, classify("ListVirtualNetworks", err)
		}
		for _, v := range page.Value {
			if v == nil {
				continue
			}
			id, err := arm.ParseResourceID(str(v.ID))
			name, region := str(v.Name), str(v.Location)
			if err != nil || !strings.EqualFold(id.ResourceGroupName, resourceGroup(name)) || !o.InRegion(region) {
				continue
			}
			out = append(out, cloud.Resource{Cloud: "azure", Region: region, Kind: cloud.ResourceNetwork, Name: name, ID: str(v.ID), Tags: tagsOf(v.Tags)})
			if v.Properties != nil {
				for _, p := range v.Properties.VirtualNetworkPeerings {
					pn := str(p.Name)
					side := cloud.PeeringSide{Region: region, Network: name}
					if r := peerings[pn]; r != nil {
						r.Peering.B = side
						continue
					}
					peerings[pn] = &cloud.Resource{Cloud: "azure", Region: region, Kind: cloud.ResourcePeering, Name: pn, ID: str(p.ID),
						Peering: &cloud.PeeringSpec{Name: pn, A: side}}
				}
			}
			rg := resourceGroup(name)
			gp := n.gateways.NewListPager(rg, nil)
			for gp.More() {
				gpage, err := gp.NextPage(ctx)
				if err != nil {
					return nil, classify("ListVirtualNetworkGateways", err)
				}
				for _, g := range gpage.Value {
					out = append(out, cloud.Resource{Cloud: "azure", Region: str(g.Location), Kind: cloud.ResourceVPNGateway, Name: str(g.Name),
						ID: str(g.ID), Tags: tagsOf(g.Tags)})
				}
			}
			seen := map[string]bool{}
			cp := n.conns.NewListPager(rg, nil)
			for cp.More() {
				cpage, err := cp.NextPage(ctx)
				if err != nil {
					return nil, classify("ListVirtualNetworkGatewayConnections", err)
				}
				for _, c := range cpage.Value {
					cn := str(c.Name)
					if i := strings.LastIndex(cn, "-"); i > 0 {
						cn = cn[:i]
					}
					if !seen[cn] {
						seen[cn] = true
						out = append(out, cloud.Resource{Cloud: "azure", Region: str(c.Location), Kind: cloud.ResourceVPNConnection, Name: cn,
							ID: str(c.ID), Tags: tagsOf(c.Tags)})
					}
				}
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(peerings)) {
		out = append(out, *peerings[name])
	}
	cloud.SortResources(out)
	return out, nil
}

// AgentPoolName is the AKS agent pool name of a gpufleet pool name, as
// List reports it (for matching what Terraform states hold).
func AgentPoolName(name string) string {
	if !cloud.IsPoolName(name) {
		return ""
	}
	return agentPoolName(name)
}
