package gcp

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	compute "google.golang.org/api/compute/v1"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/lazyre"
)

// labelCreated is the resource label (on the node pool's VMs,
// nodeConfig.resourceLabels) holding when gpufleet created a node pool,
// in Unix seconds (label values allow only [a-z0-9_-]): GKE reports a
// cluster's createTime but no node pool's (container v1 NodePool).
const labelCreated = "gpufleet-created"

func (b *Backend) createdNow() string {
	return strconv.FormatInt(cloud.NowOf(b.cfg.Now).Unix(), 10)
}

// managedLabel is cloud.ManagedTag as sanitizeLabels writes it.
var managedLabel = func() string {
	for k := range sanitizeLabels(map[string]string{cloud.ManagedTag: ""}) {
		return k
	}
	return ""
}()

// List lists the project's clusters in every location (ListClusters with
// parent projects/P/locations/-, https://cloud.google.com/kubernetes-engine/docs/reference/rest/v1/projects.locations.clusters/list:
// "Specifying "-" matches all zones"; the API has no paging and no
// filter), keeps those labelled cloud.ManagedTag in o's regions, and
// their node pools (each cluster's nodePools) with gpufleet's names: one
// call for the whole project.
func (b *Backend) List(ctx context.Context, o cloud.ListOptions) ([]cloud.Resource, error) {
	resp, err := b.client.ListClusters(ctx, &containerpb.ListClustersRequest{Parent: b.location("-")})
	if err != nil {
		return nil, classify("ListClusters", err)
	}
	var out []cloud.Resource
	for _, c := range resp.GetClusters() {
		region := c.GetLocation()
		if c.GetResourceLabels()[managedLabel] == "" || !o.InRegion(region) {
			continue
		}
		created, _ := time.Parse(time.RFC3339, c.GetCreateTime())
		out = append(out, cloud.Resource{Cloud: "gcp", Region: region, Kind: cloud.ResourceCluster, Name: c.GetName(), ID: c.GetSelfLink(),
			Created: created, Tags: maps.Clone(c.GetResourceLabels())})
		for _, np := range c.GetNodePools() {
			if !cloud.IsPoolName(np.GetName()) {
				continue
			}
			p := poolOf(region, c.GetName(), np.GetName(), np)
			var pc time.Time
			if sec, err := strconv.ParseInt(np.GetConfig().GetResourceLabels()[labelCreated], 10, 64); err == nil {
				pc = time.Unix(sec, 0).UTC()
			}
			out = append(out, cloud.Resource{Cloud: "gcp", Region: region, Zone: p.Spec.Zone, Kind: cloud.ResourceNodePool,
				Name: np.GetName(), Cluster: c.GetName(), ID: p.ID, Created: pc, Tags: maps.Clone(np.GetConfig().GetResourceLabels()),
				InstanceType: p.Spec.InstanceType, CapacityType: p.Spec.CapacityType, Nodes: p.Spec.Nodes})
		}
	}
	cloud.SortResources(out)
	return out, nil
}

// regionOfLink is the region of a regional resource's URL
// (".../regions/R/subnetworks/N").
var regionOfLink = lazyre.New(`/regions/([^/]+)/`)

// withPageSize sets a Compute list's maxResults to o.PageSize (0-500 per
// the discovery document; unset: GCE's default of 500).
func withPageSize[C interface{ MaxResults(int64) C }](call C, o cloud.ListOptions) C {
	if o.PageSize <= 0 {
		return call
	}
	return call.MaxResults(int64(min(o.PageSize, 500)))
}

// ListNetworks lists, with Compute list filters on the descriptions
// EnsureNetwork and EnsureVPNGateway write (the "eq" operator takes an
// RE2 expression, https://cloud.google.com/compute/docs/reference/rest/v1/networks/list),
// every page: the site networks (global; the region is their
// subnetworks'), their peerings (one item per peering name, with both
// networks), and per region (o's, else the networks') the HA VPN gateways
// and the VPN connections, found by their tunnels ("<name>-<i>",
// description "gpufleet peer=...").
func (b *Backend) ListNetworks(ctx context.Context, o cloud.ListOptions) ([]cloud.Resource, error) {
	c, err := b.compute(ctx)
	if err != nil {
		return nil, err
	}
	var out []cloud.Resource
	regions := slices.Clone(o.Regions)
	peerings := map[string]*cloud.Resource{}
	nets := withPageSize(c.svc.Networks.List(b.cfg.Project), o).Filter(`description eq "gpufleet site network.*"`).Context(ctx)
	err = pages(func(token string) ([]*compute.Network, string, error) {
		l, err := read(ctx, pageAfter(nets, token).Do)
		if err != nil {
			return nil, "", err
		}
		return l.Items, l.NextPageToken, nil
	}, func(n *compute.Network) bool {
		region := ""
		for _, s := range n.Subnetworks {
			if m := regionOfLink().FindStringSubmatch(s); m != nil {
				region = m[1]
				break
			}
		}
		if !o.InRegion(region) {
			return true
		}
		if region != "" && !slices.Contains(regions, region) {
			regions = append(regions, region)
		}
		created, _ := time.Parse(time.RFC3339, n.CreationTimestamp)
		out = append(out, cloud.Resource{Cloud: "gcp", Region: region, Kind: cloud.ResourceNetwork, Name: n.Name,
			ID: n.SelfLink, Created: created})
		for _, p := range n.Peerings {
			side := cloud.PeeringSide{Region: region, Network: n.Name}
			if r := peerings[p.Name]; r != nil {
				r.Peering.B = side
				continue
			}
			r := &cloud.Resource{Cloud: "gcp", Region: region, Kind: cloud.ResourcePeering, Name: p.Name, Created: created,
				Peering: &cloud.PeeringSpec{Name: p.Name, A: side}}
			peerings[p.Name] = r
		}
		return true
	})
	if err != nil {
		return nil, classifyCompute("ListNetworks", err)
	}
	for _, name := range slices.Sorted(maps.Keys(peerings)) {
		out = append(out, *peerings[name])
	}
	slices.Sort(regions)
	for _, region := range regions {
		gws := withPageSize(c.svc.VpnGateways.List(b.cfg.Project, region), o).Filter(`description eq "gpufleet VPN gateway.*"`).Context(ctx)
		err := pages(func(token string) ([]*compute.VpnGateway, string, error) {
			l, err := read(ctx, pageAfter(gws, token).Do)
			if err != nil {
				return nil, "", err
			}
			return l.Items, l.NextPageToken, nil
		}, func(g *compute.VpnGateway) bool {
			created, _ := time.Parse(time.RFC3339, g.CreationTimestamp)
			out = append(out, cloud.Resource{Cloud: "gcp", Region: region, Kind: cloud.ResourceVPNGateway, Name: g.Name,
				ID: g.SelfLink, Created: created, Tags: maps.Clone(g.Labels)})
			return true
		})
		if err != nil {
			return nil, classifyCompute("ListVpnGateways", err)
		}
		seen := map[string]bool{}
		tunnels := withPageSize(c.svc.VpnTunnels.List(b.cfg.Project, region), o).Filter(`description eq "gpufleet peer=.*"`).Context(ctx)
		err = pages(func(token string) ([]*compute.VpnTunnel, string, error) {
			l, err := read(ctx, pageAfter(tunnels, token).Do)
			if err != nil {
				return nil, "", err
			}
			return l.Items, l.NextPageToken, nil
		}, func(t *compute.VpnTunnel) bool {
			name := t.Name
			if i := strings.LastIndex(name, "-"); i > 0 {
				name = name[:i]
			}
			if seen[name] {
				return true
			}
			seen[name] = true
			created, _ := time.Parse(time.RFC3339, t.CreationTimestamp)
			out = append(out, cloud.Resource{Cloud: "gcp", Region: region, Kind: cloud.ResourceVPNConnection, Name: name,
				ID: t.SelfLink, Created: created, Tags: maps.Clone(t.Labels)})
			return true
		})
		if err != nil {
			return nil, classifyCompute("ListVpnTunnels", err)
		}
	}
	cloud.SortResources(out)
	return out, nil
}
