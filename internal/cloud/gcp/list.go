package gcp

import (
	"context"
	"errors"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/proto"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
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
var regionOfLink = regexp.MustCompile(`/regions/([^/]+)/`)

// computePage is a Compute list's maxResults (0-500 per the discovery
// document; nil: GCE's default of 500).
func computePage(o cloud.ListOptions) *uint32 {
	if o.PageSize <= 0 {
		return nil
	}
	return proto.Uint32(uint32(min(o.PageSize, 500)))
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
	it := c.networks.List(ctx, &computepb.ListNetworksRequest{Project: b.cfg.Project, MaxResults: computePage(o),
		Filter: proto.String(`description eq "gpufleet site network.*"`)})
	for {
		n, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, classifyCompute("ListNetworks", err)
		}
		region := ""
		for _, s := range n.GetSubnetworks() {
			if m := regionOfLink.FindStringSubmatch(s); m != nil {
				region = m[1]
				break
			}
		}
		if !o.InRegion(region) {
			continue
		}
		if region != "" && !slices.Contains(regions, region) {
			regions = append(regions, region)
		}
		created, _ := time.Parse(time.RFC3339, n.GetCreationTimestamp())
		out = append(out, cloud.Resource{Cloud: "gcp", Region: region, Kind: cloud.ResourceNetwork, Name: n.GetName(),
			ID: n.GetSelfLink(), Created: created})
		for _, p := range n.GetPeerings() {
			side := cloud.PeeringSide{Region: region, Network: n.GetName()}
			if r := peerings[p.GetName()]; r != nil {
				r.Peering.B = side
				continue
			}
			r := &cloud.Resource{Cloud: "gcp", Region: region, Kind: cloud.ResourcePeering, Name: p.GetName(), Created: created,
				Peering: &cloud.PeeringSpec{Name: p.GetName(), A: side}}
			peerings[p.GetName()] = r
		}
	}
	for _, name := range slices.Sorted(maps.Keys(peerings)) {
		out = append(out, *peerings[name])
	}
	slices.Sort(regions)
	for _, region := range regions {
		gws := c.vpnGateways.List(ctx, &computepb.ListVpnGatewaysRequest{Project: b.cfg.Project, Region: region, MaxResults: computePage(o),
			Filter: proto.String(`description eq "gpufleet VPN gateway.*"`)})
		for {
			g, err := gws.Next()
			if errors.Is(err, iterator.Done) {
				break
			}
			if err != nil {
				return nil, classifyCompute("ListVpnGateways", err)
			}
			created, _ := time.Parse(time.RFC3339, g.GetCreationTimestamp())
			out = append(out, cloud.Resource{Cloud: "gcp", Region: region, Kind: cloud.ResourceVPNGateway, Name: g.GetName(),
				ID: g.GetSelfLink(), Created: created, Tags: maps.Clone(g.GetLabels())})
		}
		seen := map[string]bool{}
		tunnels := c.vpnTunnels.List(ctx, &computepb.ListVpnTunnelsRequest{Project: b.cfg.Project, Region: region, MaxResults: computePage(o),
			Filter: proto.String(`description eq "gpufleet peer=.*"`)})
		for {
			t, err := tunnels.Next()
			if errors.Is(err, iterator.Done) {
				break
			}
			if err != nil {
				return nil, classifyCompute("ListVpnTunnels", err)
			}
			name := t.GetName()
			if i := strings.LastIndex(name, "-"); i > 0 {
				name = name[:i]
			}
			if seen[name] {
				continue
			}
			seen[name] = true
			created, _ := time.Parse(time.RFC3339, t.GetCreationTimestamp())
			out = append(out, cloud.Resource{Cloud: "gcp", Region: region, Kind: cloud.ResourceVPNConnection, Name: name,
				ID: t.GetSelfLink(), Created: created, Tags: maps.Clone(t.GetLabels())})
		}
	}
	cloud.SortResources(out)
	return out, nil
}
