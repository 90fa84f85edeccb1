package aws

import (
	"context"
	"maps"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/eks"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
)

// tagCreated records when gpufleet created an EC2 network object (RFC
// 3339, UTC): DescribeVpcs, DescribeVpnGateways, DescribeVpnConnections,
// DescribeCustomerGateways and DescribeVpcPeeringConnections report no
// creation time (EC2 API model), and sweeping by age needs one.
const tagCreated = "gpufleet:created"

// createdNow is the value of tagCreated for an object created now.
func (b *Backend) createdNow() string {
	return cloud.NowOf(b.cfg.Now).UTC().Format(time.RFC3339)
}

func (b *Backend) listRegions(o cloud.ListOptions) []string {
	if len(o.Regions) > 0 {
		return o.Regions
	}
	return []string{b.cfg.Region}
}

// eksPage is ListClusters' and ListNodegroups' maxResults (1-100 per the
// EKS API model; nil: EKS's default of 100).
func eksPage(o cloud.ListOptions) *int32 {
	if o.PageSize <= 0 {
		return nil
	}
	return awssdk.Int32(int32(min(o.PageSize, 100)))
}

// ec2Page is DescribeVpcs' and DescribeVpcPeeringConnections' MaxResults
// (5-1000 per the EC2 API model; nil: one page of everything).
func ec2Page(o cloud.ListOptions) *int32 {
	if o.PageSize <= 0 {
		return nil
	}
	return awssdk.Int32(int32(min(max(o.PageSize, 5), 1000)))
}

// List finds, per region, the EKS clusters (ListClusters, every page, then
// DescribeCluster: EKS filters no list by tag) tagged cloud.ManagedTag and
// their node groups with gpufleet's names (ListNodegroups, every page,
// then DescribeNodegroup).
func (b *Backend) List(ctx context.Context, o cloud.ListOptions) ([]cloud.Resource, error) {
	var out []cloud.Resource
	for _, region := range b.listRegions(o) {
		r := b.in(region)
		p := eks.NewListClustersPaginator(r.eks, &eks.ListClustersInput{MaxResults: eksPage(o)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, classify("ListClusters", err)
			}
			for _, name := range page.Clusters {
				c, err := b.describeCluster(ctx, region, name)
				if cloud.IsNotFound(err) {
					continue // deleted since the list
				}
				if err != nil {
					return nil, err
				}
				if c.Tags[cloud.ManagedTag] == "" {
					continue
				}
				out = append(out, cloud.Resource{Cloud: "aws", Region: region, Kind: cloud.ResourceCluster, Name: name,
					ID: awssdk.ToString(c.Arn), Created: awssdk.ToTime(c.CreatedAt), Tags: maps.Clone(c.Tags)})
				pools, err := b.listPools(ctx, region, name, o)
				if err != nil {
					return nil, err
				}
				out = append(out, pools...)
			}
		}
	}
	cloud.SortResources(out)
	return out, nil
}

// listPools describes a cluster's node groups with gpufleet's names.
func (b *Backend) listPools(ctx context.Context, region, cluster string, o cloud.ListOptions) ([]cloud.Resource, error) {
	var out []cloud.Resource
	r := b.in(region)
	p := eks.NewListNodegroupsPaginator(r.eks, &eks.ListNodegroupsInput{ClusterName: awssdk.String(cluster), MaxResults: eksPage(o)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if cloud.IsNotFound(classify("ListNodegroups", err)) {
			return out, nil // the cluster went meanwhile
		}
		if err != nil {
			return nil, classify("ListNodegroups", err)
		}
		for _, name := range page.Nodegroups {
			if !cloud.IsPoolName(name) {
				continue
			}
			d, err := r.eks.DescribeNodegroup(ctx, &eks.DescribeNodegroupInput{ClusterName: awssdk.String(cluster), NodegroupName: awssdk.String(name)})
			if err != nil {
				if cerr := classify("DescribeNodegroup", err); !cloud.IsNotFound(cerr) {
					return nil, cerr
				}
				continue
			}
			np, err := b.nodePoolOf(ctx, region, cluster, name, d.Nodegroup)
			if err != nil {
				return nil, err
			}
			out = append(out, cloud.Resource{Cloud: "aws", Region: region, Zone: np.Spec.Zone, Kind: cloud.ResourceNodePool,
				Name: name, Cluster: cluster, ID: np.ID, Created: awssdk.ToTime(d.Nodegroup.CreatedAt), Tags: maps.Clone(d.Nodegroup.Tags),
				InstanceType: np.Spec.InstanceType, CapacityType: np.Spec.CapacityType, Nodes: np.Spec.Nodes})
		}
	}
	return out, nil
}

// ListNetworks finds, per region, the VPCs (DescribeVpcs, tag-key
// gpufleet:network, every page), virtual private gateways
// (DescribeVpnGateways, tag-key gpufleet:gateway, live states), VPN
// connections and their customer gateways (tag-key
// gpufleet:vpn-connection, live states; one item per connection name,
// whichever of its objects remain) and peerings (DescribeVpcPeeringConnections,
// tag-key gpufleet:peering, live states, every page; a cross-region
// peering once, in its requester's region). The filters are EC2's
// (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeVpcs.html:
// "tag-key - The key of a tag assigned to the resource").
func (b *Backend) ListNetworks(ctx context.Context, o cloud.ListOptions) ([]cloud.Resource, error) {
	var out []cloud.Resource
	seenPeering := map[string]bool{}
	for _, region := range b.listRegions(o) {
		r := b.in(region)
		item := func(kind cloud.ResourceKind, name, id string, tags []ec2types.Tag) cloud.Resource {
			m := map[string]string{}
			for _, t := range tags {
				m[awssdk.ToString(t.Key)] = awssdk.ToString(t.Value)
			}
			created, _ := time.Parse(time.RFC3339, m[tagCreated])
			return cloud.Resource{Cloud: "aws", Region: region, Kind: kind, Name: name, ID: id, Created: created, Tags: m}
		}
		vp := ec2.NewDescribeVpcsPaginator(r.ec2, &ec2.DescribeVpcsInput{Filters: []ec2types.Filter{filter("tag-key", tagNetwork)}, MaxResults: ec2Page(o)})
		for vp.HasMorePages() {
			page, err := vp.NextPage(ctx)
			if err != nil {
				return nil, classify("DescribeVpcs", err)
			}
			for _, v := range page.Vpcs {
				out = append(out, item(cloud.ResourceNetwork, tagOf(v.Tags, tagNetwork), awssdk.ToString(v.VpcId), v.Tags))
			}
		}
		gws, err := r.ec2.DescribeVpnGateways(ctx, &ec2.DescribeVpnGatewaysInput{Filters: []ec2types.Filter{
			filter("tag-key", tagGateway), filter("state", liveGatewayStates...)}})
		if err != nil {
			return nil, classify("DescribeVpnGateways", err)
		}
		for _, g := range gws.VpnGateways {
			out = append(out, item(cloud.ResourceVPNGateway, tagOf(g.Tags, tagGateway), awssdk.ToString(g.VpnGatewayId), g.Tags))
		}
		conns, err := r.ec2.DescribeVpnConnections(ctx, &ec2.DescribeVpnConnectionsInput{Filters: []ec2types.Filter{
			filter("tag-key", tagVPN), filter("state", liveVPNStates...)}})
		if err != nil {
			return nil, classify("DescribeVpnConnections", err)
		}
		seenVPN := map[string]bool{}
		for _, c := range conns.VpnConnections {
			if name := tagOf(c.Tags, tagVPN); !seenVPN[name] {
				seenVPN[name] = true
				out = append(out, item(cloud.ResourceVPNConnection, name, awssdk.ToString(c.VpnConnectionId), c.Tags))
			}
		}
		cgws, err := r.ec2.DescribeCustomerGateways(ctx, &ec2.DescribeCustomerGatewaysInput{Filters: []ec2types.Filter{
			filter("tag-key", tagVPN), filter("state", "pending", "available")}})
		if err != nil {
			return nil, classify("DescribeCustomerGateways", err)
		}
		for _, c := range cgws.CustomerGateways {
			if name := tagOf(c.Tags, tagVPN); !seenVPN[name] {
				seenVPN[name] = true
				out = append(out, item(cloud.ResourceVPNConnection, name, awssdk.ToString(c.CustomerGatewayId), c.Tags))
			}
		}
		pp := ec2.NewDescribeVpcPeeringConnectionsPaginator(r.ec2, &ec2.DescribeVpcPeeringConnectionsInput{Filters: []ec2types.Filter{
			filter("tag-key", tagPeering), filter("status-code", livePeeringStates...)}, MaxResults: ec2Page(o)})
		for pp.HasMorePages() {
			page, err := pp.NextPage(ctx)
			if err != nil {
				return nil, classify("DescribeVpcPeeringConnections", err)
			}
			for _, p := range page.VpcPeeringConnections {
				id := awssdk.ToString(p.VpcPeeringConnectionId)
				if seenPeering[id] {
					continue
				}
				seenPeering[id] = true
				it := item(cloud.ResourcePeering, tagOf(p.Tags, tagPeering), id, p.Tags)
				if p.RequesterVpcInfo != nil && awssdk.ToString(p.RequesterVpcInfo.Region) != "" {
					it.Region = awssdk.ToString(p.RequesterVpcInfo.Region)
				}
				// DeletePeering finds it by name from side A's region.
				it.Peering = &cloud.PeeringSpec{Name: it.Name, A: cloud.PeeringSide{Region: it.Region}}
				if p.AccepterVpcInfo != nil {
					it.Peering.B.Region = awssdk.ToString(p.AccepterVpcInfo.Region)
				}
				out = append(out, it)
			}
		}
	}
	cloud.SortResources(out)
	return out, nil
}
