package aws

import (
	"context"
	"slices"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/contract"
)

// TestList creates gpufleet's clusters, node groups and network objects
// and some that are not gpufleet's (an untagged cluster, a node group
// without a gpufleet name, a VPC tagged only Name) in two regions, and
// lists them by region and page size: only gpufleet's are listed, every
// page is followed, and each item carries its creation time and, for node
// groups, instance type and node count.
func TestList(t *testing.T) {
	ev := newNetEnv(t)
	ctx := context.Background()
	managed := map[string]string{cloud.ManagedTag: "terraform"}
	for _, c := range []cloud.ClusterSpec{
		{Name: "c1", Region: euc1, KubernetesVersion: "1.33", Tags: managed},
		{Name: "c2", Region: euc1, KubernetesVersion: "1.33", Tags: managed},
		{Name: "c3", Region: use1, KubernetesVersion: "1.33", Tags: managed},
		{Name: "other", Region: euc1, KubernetesVersion: "1.33", Tags: map[string]string{"team": "ml"}},
	} {
		mustOK[cloud.Cluster](t)(ev.b.CreateCluster(ctx, c))
	}
	pool := gpuPool("c1", "gpufleet-0123456789ab", "euc1-az1")
	pool.Nodes = 2
	mustOK[cloud.NodePool](t)(ev.b.CreateNodePool(ctx, pool))
	mustOK[cloud.NodePool](t)(ev.b.CreateNodePool(ctx, gpuPool("c1", "system", "euc1-az1")))
	mustOK[cloud.NodePool](t)(ev.b.CreateNodePool(ctx, gpuPool("other", "gpufleet-ba9876543210", "euc1-az1")))
	mustOK[cloud.Network](t)(ev.b.EnsureNetwork(ctx, siteSpec("site-a", euc1, "10.20.0.0/16", "euc1-az1")))
	mustOK[cloud.Network](t)(ev.b.EnsureNetwork(ctx, siteSpec("site-b", use1, "10.30.0.0/16", "use1-az1")))
	mustOK[cloud.Gateway](t)(ev.b.EnsureVPNGateway(ctx, cloud.GatewaySpec{Name: "site-a-vgw", Region: euc1, Network: "site-a", ASN: 64512}))
	// Two peer addresses: two AWS VPN connections and customer gateways,
	// one listed connection.
	mustOK[cloud.VPNConnection](t)(ev.b.EnsureVPNConnection(ctx, vpnSpec("conn-a", "203.0.113.10", "203.0.113.11")))
	mustOK[cloud.Peering](t)(ev.b.EnsurePeering(ctx, cloud.PeeringSpec{Name: "a-b",
		A: cloud.PeeringSide{Region: euc1, Network: "site-a", CIDR: "10.20.0.0/16"}, B: cloud.PeeringSide{Region: use1, Network: "site-b", CIDR: "10.30.0.0/16"}}))
	// Not gpufleet's: a VPC without the gpufleet:network tag.
	if _, err := ev.b.in(euc1).ec2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: awssdk.String("10.99.0.0/16"),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeVpc, Tags: []ec2types.Tag{{Key: awssdk.String("Name"), Value: awssdk.String("theirs")}}}}}); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name          string
		o             cloud.ListOptions
		pools, clusts []string
		networks      []string
	}{
		{name: "default region, pages of one", o: cloud.ListOptions{PageSize: 1},
			pools:    []string{"node_pool eu-central-1 c1/gpufleet-0123456789ab 2xp5.48xlarge", "cluster eu-central-1 c1", "cluster eu-central-1 c2"},
			networks: []string{"vpn_connection eu-central-1 conn-a", "vpn_gateway eu-central-1 site-a-vgw", "peering eu-central-1 a-b", "network eu-central-1 site-a"}},
		{name: "two regions", o: cloud.ListOptions{Regions: []string{euc1, use1}},
			pools:    []string{"node_pool eu-central-1 c1/gpufleet-0123456789ab 2xp5.48xlarge", "cluster eu-central-1 c1", "cluster eu-central-1 c2", "cluster us-east-1 c3"},
			networks: []string{"vpn_connection eu-central-1 conn-a", "vpn_gateway eu-central-1 site-a-vgw", "peering eu-central-1 a-b", "network eu-central-1 site-a", "network us-east-1 site-b"}},
		{name: "other region", o: cloud.ListOptions{Regions: []string{use1}, PageSize: 2},
			// The peering is listed from its accepter's region too, under
			// its requester's region (where DeletePeering finds it).
			pools: []string{"cluster us-east-1 c3"}, networks: []string{"peering eu-central-1 a-b", "network us-east-1 site-b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := mustOK[[]cloud.Resource](t)(ev.b.List(ctx, tc.o))
			if got := contract.Listed(rs); !slices.Equal(got, tc.pools) {
				t.Fatalf("List:\n%q\nwant\n%q", got, tc.pools)
			}
			for _, r := range rs {
				if r.Cloud != "aws" || r.Created.IsZero() || r.ID == "" {
					t.Fatalf("%+v: want cloud aws, a creation time and an ID", r)
				}
			}
			ns := mustOK[[]cloud.Resource](t)(ev.b.ListNetworks(ctx, tc.o))
			if got := contract.Listed(ns); !slices.Equal(got, tc.networks) {
				t.Fatalf("ListNetworks:\n%q\nwant\n%q", got, tc.networks)
			}
			for _, r := range ns {
				if r.Created.IsZero() || r.Tags[tagCreated] == "" {
					t.Fatalf("%+v: want the gpufleet:created tag's time", r)
				}
				if r.Kind == cloud.ResourcePeering && (r.Peering == nil || r.Peering.A.Region != euc1 || r.Peering.B.Region != use1) {
					t.Fatalf("peering %+v: want sides eu-central-1 and us-east-1", r.Peering)
				}
			}
		})
	}

	// What List found is what the Delete methods take.
	contract.ListedDelete(t, ev.b, ev.b, cloud.ListOptions{Regions: []string{euc1, use1}}, func(r cloud.Resource) error {
		return ev.b.DeleteNodePool(ctx, r.Region, r.Name, "system")
	})
}
