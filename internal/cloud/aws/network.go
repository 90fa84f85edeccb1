package aws

// Cross-cloud networking on AWS (cloud.NetworkBackend), with the EC2 API:
//
//   - A site's network is a VPC tagged Name = the network's name (found by
//     that tag, so a retried EnsureNetwork adopts what an earlier attempt
//     made), one subnet per zone (CreateSubnet with AvailabilityZoneId,
//     tagged Name = name-zone) and a security group "<name>-mesh" whose
//     ingress rules are exactly the mesh's ranges, all protocols.
//   - A VPN gateway is a virtual private gateway (AmazonSideAsn = the
//     gateway's ASN) attached to the site's VPC, propagating its routes
//     into the VPC's main route table. AWS assigns outside addresses per
//     VPN connection, so Gateway.PublicIPs stays empty.
//   - A VPN connection: an AWS VPN connection has one customer gateway (one
//     peer address) and two tunnels to it, each with an outside address of
//     its own. The spec's tunnels are grouped by peer address, in tunnel
//     order: one customer gateway (BgpAsn = PeerASN) and one VPN connection
//     per distinct address, whose TunnelOptions are that address's tunnels
//     (inside CIDR and key), at most two. A peer with two interfaces (GCP
//     HA VPN, Azure active-active) gets four tunnels, two per address: two
//     connections with both tunnels up, as Google's and Microsoft's AWS
//     guides build them (see mesh.TunnelsPerLink). A spec with one tunnel
//     per address (what gpufleet planned before) leaves each connection's
//     second tunnel to AWS's own inside CIDR and key (down). The
//     connections and customer gateways are tagged Name = the connection's
//     name, with "-0", "-1" when there are two, gpufleet:vpn-connection =
//     the name, and gpufleet:tunnels = "<spec tunnel index>=<inside CIDR>"
//     for each tunnel the connection carries, which is how Get puts the
//     tunnels back in spec order. AWS's inside address is always the first
//     of the /30 (.1) and the customer's the second (.2): a spec asking
//     otherwise is KindInvalid. Ensure replaces a connection whose peer
//     address, ASN, inside CIDRs or keys changed, and deletes those of
//     addresses no longer in the spec; a connection that carries some of
//     its group's tunnels as the spec has them gets the others on its
//     unused tunnels in place (ModifyVpnTunnelOptions, then the tag), so
//     its outside addresses, which the peer's side names, stay. A spec
//     tunnel without a key keeps the key AWS has for it (also across a
//     replacement); one that would need creating or modifying without a
//     key it has is cloud.KeyRequiredError, before anything is changed.
//   - A peering is a VPC peering connection from A's VPC to B's (PeerRegion
//     = B's region), tagged Name = the peering's name, accepted in B's
//     region, with a route to the other side's CIDR in each main route
//     table.
//
// Waits poll every cfg.Poll up to cfg.Timeout (a KindTransient error
// then).

import (
	"context"
	"fmt"
	"maps"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
)

var _ cloud.NetworkBackend = (*Backend)(nil)

// Tags gpufleet puts on network objects.
const (
	tagNetwork = "gpufleet:network"
	tagGateway = "gpufleet:gateway"
	tagVPN     = "gpufleet:vpn-connection"
	tagTunnels = "gpufleet:tunnels"
	tagPeer    = "gpufleet:peer"
	tagPeering = "gpufleet:peering"
)

func meshGroupName(network string) string { return network + "-mesh" }

func filter(name string, values ...string) ec2types.Filter {
	return ec2types.Filter{Name: awssdk.String(name), Values: values}
}

// tagSpecs tags a new resource: Name, gpufleet's own tags, the spec's.
func tagSpecs(rt ec2types.ResourceType, name string, spec map[string]string, own ...string) []ec2types.TagSpecification {
	tags := map[string]string{}
	for k, v := range spec {
		tags[k] = v
	}
	for i := 0; i+1 < len(own); i += 2 {
		tags[own[i]] = own[i+1]
	}
	tags["Name"] = name
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	ts := ec2types.TagSpecification{ResourceType: rt}
	for _, k := range keys {
		ts.Tags = append(ts.Tags, ec2types.Tag{Key: awssdk.String(k), Value: awssdk.String(tags[k])})
	}
	return []ec2types.TagSpecification{ts}
}

func tagOf(tags []ec2types.Tag, key string) string {
	for _, t := range tags {
		if awssdk.ToString(t.Key) == key {
			return awssdk.ToString(t.Value)
		}
	}
	return ""
}

// canonical is a CIDR in canonical form (or as given when it is not one).
func canonical(cidr string) string {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return cidr
	}
	return p.Masked().String()
}

// poll calls check every cfg.Poll until it reports done or fails, ctx
// ends, or cfg.Timeout passes (cloud.Wait: a KindTransient "Timeout"
// error naming what). A throttled check is not a failure: it backs off
// and checks again, so that EC2's request throttling does not spend the
// caller's retries.
func (b *Backend) poll(ctx context.Context, op, what string, check func() (bool, error)) error {
	_, err := cloud.Wait[struct{}]{Cloud: "aws", Op: op, What: what, Target: []string{"done"}, Poll: b.cfg.Poll, Timeout: b.cfg.Timeout,
		Refresh: func(context.Context) (struct{}, string, error) {
			done, err := check()
			if done {
				return struct{}{}, "done", err
			}
			return struct{}{}, "pending", err
		}}.Until(ctx)
	return err
}

// ---- networks ----

// findVpc is the first VPC tagged Name = name, or nil.
func (b *Backend) findVpc(ctx context.Context, r *regional, name string) (*ec2types.Vpc, error) {
	out, err := r.ec2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []ec2types.Filter{filter("tag:Name", name)}})
	if err != nil {
		return nil, classify("DescribeVpcs", err)
	}
	vpcs := out.Vpcs
	slices.SortFunc(vpcs, func(a, b ec2types.Vpc) int {
		return strings.Compare(awssdk.ToString(a.VpcId), awssdk.ToString(b.VpcId))
	})
	if len(vpcs) == 0 {
		return nil, nil
	}
	return &vpcs[0], nil
}

func (b *Backend) vpcOf(ctx context.Context, r *regional, op, region, name string) (*ec2types.Vpc, error) {
	vpc, err := b.findVpc(ctx, r, name)
	if err == nil && vpc == nil {
		err = cloud.NotFound("aws", op, "InvalidVpcID.NotFound", "network %s does not exist in %s", name, region)
	}
	return vpc, err
}

// EnsureNetwork creates or adopts the VPC, adds the subnets of new zones
// and sets the mesh security group's rules to spec.AllowedCIDRs.
func (b *Backend) EnsureNetwork(ctx context.Context, spec cloud.NetworkSpec) (cloud.Network, error) {
	r := b.in(spec.Region)
	vpc, err := b.findVpc(ctx, r, spec.Name)
	if err != nil {
		return cloud.Network{}, err
	}
	switch {
	case vpc != nil && canonical(awssdk.ToString(vpc.CidrBlock)) != canonical(spec.CIDR):
		return cloud.Network{}, cloud.Conflict("aws", "CreateVpc", "NetworkConflict",
			"network %s exists in %s as %s with CIDR %s, not %s", spec.Name, spec.Region, awssdk.ToString(vpc.VpcId), awssdk.ToString(vpc.CidrBlock), spec.CIDR)
	case vpc == nil:
		out, err := r.ec2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: awssdk.String(spec.CIDR),
			TagSpecifications: tagSpecs(ec2types.ResourceTypeVpc, spec.Name, spec.Tags, tagNetwork, spec.Name, tagCreated, b.createdNow())})
		if err != nil {
			return cloud.Network{}, classify("CreateVpc", err)
		}
		vpc = out.Vpc
	}
	vpcID := awssdk.ToString(vpc.VpcId)
	if vpc.State != ec2types.VpcStateAvailable {
		err := b.poll(ctx, "CreateVpc", "VPC "+vpcID+" available", func() (bool, error) {
			out, err := r.ec2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{vpcID}})
			if err != nil {
				return false, classify("DescribeVpcs", err)
			}
			return len(out.Vpcs) == 1 && out.Vpcs[0].State == ec2types.VpcStateAvailable, nil
		})
		if err != nil {
			return cloud.Network{}, err
		}
	}
	subnets, err := b.subnets(ctx, r, vpcID)
	if err != nil {
		return cloud.Network{}, err
	}
	for _, s := range spec.Subnets {
		i := slices.IndexFunc(subnets, func(x cloud.Subnet) bool { return x.Zone == s.Zone })
		if i >= 0 {
			if canonical(subnets[i].CIDR) != canonical(s.CIDR) {
				return cloud.Network{}, cloud.Conflict("aws", "CreateSubnet", "SubnetConflict",
					"network %s has subnet %s in %s with CIDR %s, not %s", spec.Name, subnets[i].ID, s.Zone, subnets[i].CIDR, s.CIDR)
			}
			continue
		}
		name := spec.Name + "-" + s.Zone
		out, err := r.ec2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: awssdk.String(vpcID), CidrBlock: awssdk.String(s.CIDR),
			AvailabilityZoneId: awssdk.String(s.Zone), TagSpecifications: tagSpecs(ec2types.ResourceTypeSubnet, name, spec.Tags, tagNetwork, spec.Name)})
		if err != nil {
			return cloud.Network{}, classify("CreateSubnet", err)
		}
		subnets = append(subnets, cloud.Subnet{Zone: s.Zone, CIDR: awssdk.ToString(out.Subnet.CidrBlock), ID: awssdk.ToString(out.Subnet.SubnetId)})
	}
	slices.SortFunc(subnets, func(a, b cloud.Subnet) int { return strings.Compare(a.Zone, b.Zone) })
	sgID, allowed, err := b.ensureMeshGroup(ctx, r, spec, vpcID)
	if err != nil {
		return cloud.Network{}, err
	}
	return cloud.Network{Name: spec.Name, Region: spec.Region, ID: vpcID, CIDR: awssdk.ToString(vpc.CidrBlock), Subnets: subnets,
		FirewallID: sgID, AllowedCIDRs: allowed}, nil
}

// subnets are a VPC's subnets (zone = availability zone ID).
func (b *Backend) subnets(ctx context.Context, r *regional, vpcID string) ([]cloud.Subnet, error) {
	out, err := r.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{filter("vpc-id", vpcID)}})
	if err != nil {
		return nil, classify("DescribeSubnets", err)
	}
	var subnets []cloud.Subnet
	for _, s := range out.Subnets {
		subnets = append(subnets, cloud.Subnet{Zone: awssdk.ToString(s.AvailabilityZoneId), CIDR: awssdk.ToString(s.CidrBlock), ID: awssdk.ToString(s.SubnetId)})
	}
	slices.SortFunc(subnets, func(a, b cloud.Subnet) int { return strings.Compare(a.Zone, b.Zone) })
	return subnets, nil
}

// meshGroup is the network's security group, or nil.
func (b *Backend) meshGroup(ctx context.Context, r *regional, vpcID, network string) (*ec2types.SecurityGroup, error) {
	out, err := r.ec2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{
		filter("vpc-id", vpcID), filter("group-name", meshGroupName(network))}})
	if err != nil {
		return nil, classify("DescribeSecurityGroups", err)
	}
	if len(out.SecurityGroups) == 0 {
		return nil, nil
	}
	return &out.SecurityGroups[0], nil
}

// allowedCIDRs are the ranges a group lets in on all protocols, sorted.
func allowedCIDRs(sg *ec2types.SecurityGroup) []string {
	var out []string
	for _, p := range sg.IpPermissions {
		if awssdk.ToString(p.IpProtocol) != "-1" {
			continue
		}
		for _, rg := range p.IpRanges {
			out = append(out, awssdk.ToString(rg.CidrIp))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// ensureMeshGroup creates the mesh security group when missing and makes
// its ingress rules exactly spec.AllowedCIDRs (all protocols): it
// authorizes the missing ranges first, then revokes every other rule.
func (b *Backend) ensureMeshGroup(ctx context.Context, r *regional, spec cloud.NetworkSpec, vpcID string) (string, []string, error) {
	sg, err := b.meshGroup(ctx, r, vpcID, spec.Name)
	if err != nil {
		return "", nil, err
	}
	if sg == nil {
		name := meshGroupName(spec.Name)
		out, err := r.ec2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: awssdk.String(name), VpcId: awssdk.String(vpcID),
			Description:       awssdk.String("gpufleet mesh: traffic from the sites of " + spec.Name + "'s mesh"),
			TagSpecifications: tagSpecs(ec2types.ResourceTypeSecurityGroup, name, spec.Tags, tagNetwork, spec.Name)})
		if err != nil {
			cerr := classify("CreateSecurityGroup", err)
			if !cloud.IsConflict(cerr) {
				return "", nil, cerr
			}
			// Created concurrently (InvalidGroup.Duplicate): adopt it.
			if sg, err = b.meshGroup(ctx, r, vpcID, spec.Name); err != nil || sg == nil {
				return "", nil, cmpErr(err, cerr)
			}
		} else {
			sg = &ec2types.SecurityGroup{GroupId: out.GroupId}
		}
	}
	sgID := awssdk.ToString(sg.GroupId)
	want := map[string]bool{}
	var wanted []string
	for _, c := range spec.AllowedCIDRs {
		if c = canonical(c); !want[c] {
			want[c] = true
			wanted = append(wanted, c)
		}
	}
	slices.Sort(wanted)
	have := map[string]bool{}
	var revoke []ec2types.IpPermission
	for _, p := range sg.IpPermissions {
		if awssdk.ToString(p.IpProtocol) != "-1" {
			revoke = append(revoke, p)
			continue
		}
		extra := p
		extra.IpRanges = nil
		for _, rg := range p.IpRanges {
			if c := awssdk.ToString(rg.CidrIp); want[c] {
				have[c] = true
			} else {
				extra.IpRanges = append(extra.IpRanges, ec2types.IpRange{CidrIp: rg.CidrIp})
			}
		}
		if len(extra.IpRanges)+len(extra.Ipv6Ranges)+len(extra.UserIdGroupPairs)+len(extra.PrefixListIds) > 0 {
			revoke = append(revoke, extra)
		}
	}
	add := ec2types.IpPermission{IpProtocol: awssdk.String("-1")}
	for _, c := range wanted {
		if !have[c] {
			add.IpRanges = append(add.IpRanges, ec2types.IpRange{CidrIp: awssdk.String(c), Description: awssdk.String("gpufleet mesh")})
		}
	}
	if len(add.IpRanges) > 0 {
		_, err := r.ec2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: awssdk.String(sgID),
			IpPermissions: []ec2types.IpPermission{add}})
		// InvalidPermission.Duplicate: a concurrent Ensure added some; the
		// next Ensure adds the rest.
		if cerr := classify("AuthorizeSecurityGroupIngress", err); err != nil && !cloud.IsConflict(cerr) {
			return "", nil, cerr
		}
	}
	if len(revoke) > 0 {
		_, err := r.ec2.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: awssdk.String(sgID), IpPermissions: revoke})
		if err := cloud.IgnoreNotFound(classify("RevokeSecurityGroupIngress", err)); err != nil {
			return "", nil, err
		}
	}
	return sgID, wanted, nil
}

// cmpErr is err, or fallback when err is nil.
func cmpErr(err, fallback error) error {
	if err != nil {
		return err
	}
	return fallback
}

// GetNetwork reports a network with its subnets and mesh security group.
func (b *Backend) GetNetwork(ctx context.Context, region, name string) (cloud.Network, error) {
	r := b.in(region)
	vpc, err := b.vpcOf(ctx, r, "DescribeVpcs", region, name)
	if err != nil {
		return cloud.Network{}, err
	}
	vpcID := awssdk.ToString(vpc.VpcId)
	n := cloud.Network{Name: name, Region: region, ID: vpcID, CIDR: awssdk.ToString(vpc.CidrBlock)}
	if n.Subnets, err = b.subnets(ctx, r, vpcID); err != nil {
		return cloud.Network{}, err
	}
	sg, err := b.meshGroup(ctx, r, vpcID, name)
	if err != nil {
		return cloud.Network{}, err
	}
	if sg != nil {
		n.FirewallID, n.AllowedCIDRs = awssdk.ToString(sg.GroupId), allowedCIDRs(sg)
	}
	return n, nil
}

// DeleteNetwork deletes the subnets, the mesh security group and the VPC.
// A VPN gateway attached to it or a peering of it is KindConflict, found
// before anything is deleted.
func (b *Backend) DeleteNetwork(ctx context.Context, region, name string) error {
	r := b.in(region)
	vpc, err := b.findVpc(ctx, r, name)
	if err != nil || vpc == nil {
		return err
	}
	vpcID := awssdk.ToString(vpc.VpcId)
	gws, err := r.ec2.DescribeVpnGateways(ctx, &ec2.DescribeVpnGatewaysInput{Filters: []ec2types.Filter{
		filter("attachment.vpc-id", vpcID), filter("attachment.state", "attaching", "attached", "detaching")}})
	if err != nil {
		return classify("DescribeVpnGateways", err)
	}
	if len(gws.VpnGateways) > 0 {
		return cloud.Conflict("aws", "DeleteVpc", "DependencyViolation", "network %s has VPN gateway %s attached; delete it first",
			name, awssdk.ToString(gws.VpnGateways[0].VpnGatewayId))
	}
	for _, side := range []string{"requester-vpc-info.vpc-id", "accepter-vpc-info.vpc-id"} {
		out, err := r.ec2.DescribeVpcPeeringConnections(ctx, &ec2.DescribeVpcPeeringConnectionsInput{Filters: []ec2types.Filter{
			filter(side, vpcID), filter("status-code", blockingPeeringStates...)}})
		if err != nil {
			return classify("DescribeVpcPeeringConnections", err)
		}
		if len(out.VpcPeeringConnections) > 0 {
			return cloud.Conflict("aws", "DeleteVpc", "DependencyViolation", "network %s is peered (%s); delete the peering first",
				name, awssdk.ToString(out.VpcPeeringConnections[0].VpcPeeringConnectionId))
		}
	}
	subnets, err := b.subnets(ctx, r, vpcID)
	if err != nil {
		return err
	}
	for _, s := range subnets {
		_, err := r.ec2.DeleteSubnet(ctx, &ec2.DeleteSubnetInput{SubnetId: awssdk.String(s.ID)})
		if err := cloud.IgnoreNotFound(classify("DeleteSubnet", err)); err != nil {
			return err
		}
	}
	sg, err := b.meshGroup(ctx, r, vpcID, name)
	if err != nil {
		return err
	}
	if sg != nil {
		_, err := r.ec2.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: sg.GroupId})
		if err := cloud.IgnoreNotFound(classify("DeleteSecurityGroup", err)); err != nil {
			return err
		}
	}
	_, err = r.ec2.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: awssdk.String(vpcID)})
	return cloud.IgnoreNotFound(classify("DeleteVpc", err))
}

// ---- VPN gateways ----

var liveGatewayStates = []string{"pending", "available"}

// findGateway is the live virtual private gateway tagged Name = name, or
// nil.
func (b *Backend) findGateway(ctx context.Context, r *regional, name string) (*ec2types.VpnGateway, error) {
	out, err := r.ec2.DescribeVpnGateways(ctx, &ec2.DescribeVpnGatewaysInput{Filters: []ec2types.Filter{
		filter("tag:Name", name), filter("state", liveGatewayStates...)}})
	if err != nil {
		return nil, classify("DescribeVpnGateways", err)
	}
	gws := out.VpnGateways
	slices.SortFunc(gws, func(a, b ec2types.VpnGateway) int {
		return strings.Compare(awssdk.ToString(a.VpnGatewayId), awssdk.ToString(b.VpnGatewayId))
	})
	if len(gws) == 0 {
		return nil, nil
	}
	return &gws[0], nil
}

func (b *Backend) describeGateway(ctx context.Context, r *regional, id string) (*ec2types.VpnGateway, error) {
	out, err := r.ec2.DescribeVpnGateways(ctx, &ec2.DescribeVpnGatewaysInput{VpnGatewayIds: []string{id}})
	if err != nil {
		return nil, classify("DescribeVpnGateways", err)
	}
	if len(out.VpnGateways) == 0 {
		return nil, cloud.NotFound("aws", "DescribeVpnGateways", "InvalidVpnGatewayID.NotFound", "VPN gateway %s does not exist", id)
	}
	return &out.VpnGateways[0], nil
}

// liveAttachment is a gateway's attachment that is not (being) detached.
func liveAttachment(gw *ec2types.VpnGateway) *ec2types.VpcAttachment {
	for i, a := range gw.VpcAttachments {
		if a.State == ec2types.AttachmentStatusAttaching || a.State == ec2types.AttachmentStatusAttached {
			return &gw.VpcAttachments[i]
		}
	}
	return nil
}

func gatewayOf(gw *ec2types.VpnGateway, region, name string) cloud.Gateway {
	g := cloud.Gateway{Name: name, Region: region, ID: awssdk.ToString(gw.VpnGatewayId), ASN: awssdk.ToInt64(gw.AmazonSideAsn), Status: cloud.StatusCreating}
	switch att := liveAttachment(gw); {
	case gw.State == ec2types.VpnStateDeleting || gw.State == ec2types.VpnStateDeleted:
		g.Status = cloud.StatusDeleting
	case gw.State == ec2types.VpnStateAvailable && att != nil && att.State == ec2types.AttachmentStatusAttached:
		g.Status = cloud.StatusActive
	case gw.State == ec2types.VpnStateAvailable && att == nil:
		g.Status = cloud.StatusDegraded
	}
	return g
}

// EnsureVPNGateway creates or adopts the virtual private gateway, attaches
// it to the network's VPC once it is available, turns on route
// propagation into the VPC's main route table and waits for the
// attachment.
func (b *Backend) EnsureVPNGateway(ctx context.Context, spec cloud.GatewaySpec) (cloud.Gateway, error) {
	r := b.in(spec.Region)
	vpc, err := b.vpcOf(ctx, r, "CreateVpnGateway", spec.Region, spec.Network)
	if err != nil {
		return cloud.Gateway{}, err
	}
	vpcID := awssdk.ToString(vpc.VpcId)
	gw, err := b.findGateway(ctx, r, spec.Name)
	if err != nil {
		return cloud.Gateway{}, err
	}
	switch {
	case gw != nil && spec.ASN != 0 && awssdk.ToInt64(gw.AmazonSideAsn) != spec.ASN:
		return cloud.Gateway{}, cloud.Conflict("aws", "CreateVpnGateway", "GatewayConflict", "VPN gateway %s (%s) has ASN %d, not %d",
			spec.Name, awssdk.ToString(gw.VpnGatewayId), awssdk.ToInt64(gw.AmazonSideAsn), spec.ASN)
	case gw == nil:
		in := &ec2.CreateVpnGatewayInput{Type: ec2types.GatewayTypeIpsec1,
			TagSpecifications: tagSpecs(ec2types.ResourceTypeVpnGateway, spec.Name, spec.Tags, tagGateway, spec.Name, tagNetwork, spec.Network, tagCreated, b.createdNow())}
		if spec.ASN != 0 {
			in.AmazonSideAsn = awssdk.Int64(spec.ASN)
		}
		out, err := r.ec2.CreateVpnGateway(ctx, in)
		if err != nil {
			return cloud.Gateway{}, classify("CreateVpnGateway", err)
		}
		gw = out.VpnGateway
	}
	id := awssdk.ToString(gw.VpnGatewayId)
	if att := liveAttachment(gw); att != nil && awssdk.ToString(att.VpcId) != vpcID {
		return cloud.Gateway{}, cloud.Conflict("aws", "AttachVpnGateway", "GatewayConflict", "VPN gateway %s (%s) is attached to %s, not to network %s (%s)",
			spec.Name, id, awssdk.ToString(att.VpcId), spec.Network, vpcID)
	}
	wait := func(what string, done func(*ec2types.VpnGateway) bool) error {
		return b.poll(ctx, "CreateVpnGateway", what, func() (bool, error) {
			cur, err := b.describeGateway(ctx, r, id)
			if err != nil {
				return false, err
			}
			gw = cur
			return done(cur), nil
		})
	}
	if gw.State != ec2types.VpnStateAvailable {
		if err := wait("VPN gateway "+id+" available", func(g *ec2types.VpnGateway) bool { return g.State == ec2types.VpnStateAvailable }); err != nil {
			return cloud.Gateway{}, err
		}
	}
	if liveAttachment(gw) == nil {
		_, err := r.ec2.AttachVpnGateway(ctx, &ec2.AttachVpnGatewayInput{VpcId: awssdk.String(vpcID), VpnGatewayId: awssdk.String(id)})
		if err != nil {
			return cloud.Gateway{}, classify("AttachVpnGateway", err)
		}
	}
	rt, err := b.mainRouteTable(ctx, r, vpcID)
	if err != nil {
		return cloud.Gateway{}, err
	}
	if !slices.ContainsFunc(rt.PropagatingVgws, func(p ec2types.PropagatingVgw) bool { return awssdk.ToString(p.GatewayId) == id }) {
		_, err := r.ec2.EnableVgwRoutePropagation(ctx, &ec2.EnableVgwRoutePropagationInput{GatewayId: awssdk.String(id), RouteTableId: rt.RouteTableId})
		if err != nil {
			return cloud.Gateway{}, classify("EnableVgwRoutePropagation", err)
		}
	}
	err = wait("VPN gateway "+id+" attached to "+vpcID, func(g *ec2types.VpnGateway) bool {
		att := liveAttachment(g)
		return att != nil && att.State == ec2types.AttachmentStatusAttached
	})
	if err != nil {
		return cloud.Gateway{}, err
	}
	return gatewayOf(gw, spec.Region, spec.Name), nil
}

// mainRouteTable is a VPC's main route table.
func (b *Backend) mainRouteTable(ctx context.Context, r *regional, vpcID string) (*ec2types.RouteTable, error) {
	out, err := r.ec2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{Filters: []ec2types.Filter{
		filter("vpc-id", vpcID), filter("association.main", "true")}})
	if err != nil {
		return nil, classify("DescribeRouteTables", err)
	}
	if len(out.RouteTables) == 0 {
		return nil, cloud.NotFound("aws", "DescribeRouteTables", "InvalidRouteTableID.NotFound", "VPC %s has no main route table", vpcID)
	}
	return &out.RouteTables[0], nil
}

// GetVPNGateway reports a gateway: active once available and attached,
// degraded when available but not attached.
func (b *Backend) GetVPNGateway(ctx context.Context, region, name string) (cloud.Gateway, error) {
	gw, err := b.findGateway(ctx, b.in(region), name)
	if err != nil {
		return cloud.Gateway{}, err
	}
	if gw == nil {
		return cloud.Gateway{}, cloud.NotFound("aws", "DescribeVpnGateways", "InvalidVpnGatewayID.NotFound", "VPN gateway %s does not exist in %s", name, region)
	}
	return gatewayOf(gw, region, name), nil
}

// DeleteVPNGateway detaches the gateway, waits until it is detached and
// deletes it. VPN connections still using it are KindConflict.
func (b *Backend) DeleteVPNGateway(ctx context.Context, region, name string) error {
	r := b.in(region)
	gw, err := b.findGateway(ctx, r, name)
	if err != nil || gw == nil {
		return err
	}
	id := awssdk.ToString(gw.VpnGatewayId)
	conns, err := r.ec2.DescribeVpnConnections(ctx, &ec2.DescribeVpnConnectionsInput{Filters: []ec2types.Filter{
		filter("vpn-gateway-id", id), filter("state", "pending", "available", "deleting")}})
	if err != nil {
		return classify("DescribeVpnConnections", err)
	}
	if len(conns.VpnConnections) > 0 {
		return cloud.Conflict("aws", "DeleteVpnGateway", "IncorrectState", "VPN gateway %s (%s) has VPN connection %s; delete the connections first",
			name, id, awssdk.ToString(conns.VpnConnections[0].VpnConnectionId))
	}
	for _, att := range gw.VpcAttachments {
		if att.State != ec2types.AttachmentStatusAttaching && att.State != ec2types.AttachmentStatusAttached {
			continue
		}
		_, err := r.ec2.DetachVpnGateway(ctx, &ec2.DetachVpnGatewayInput{VpcId: att.VpcId, VpnGatewayId: awssdk.String(id)})
		if err := cloud.IgnoreNotFound(classify("DetachVpnGateway", err)); err != nil {
			return err
		}
	}
	err = b.poll(ctx, "DetachVpnGateway", "VPN gateway "+id+" detached", func() (bool, error) {
		cur, err := b.describeGateway(ctx, r, id)
		if err != nil {
			return cloud.IsNotFound(err), cloud.IgnoreNotFound(err)
		}
		return !slices.ContainsFunc(cur.VpcAttachments, func(a ec2types.VpcAttachment) bool { return a.State != ec2types.AttachmentStatusDetached }), nil
	})
	if err != nil {
		return err
	}
	_, err = r.ec2.DeleteVpnGateway(ctx, &ec2.DeleteVpnGatewayInput{VpnGatewayId: awssdk.String(id)})
	if err := cloud.IgnoreNotFound(classify("DeleteVpnGateway", err)); err != nil {
		return err
	}
	return b.poll(ctx, "DeleteVpnGateway", "VPN gateway "+id+" deleted", func() (bool, error) {
		cur, err := b.describeGateway(ctx, r, id)
		if err != nil {
			return cloud.IsNotFound(err), cloud.IgnoreNotFound(err)
		}
		return cur.State == ec2types.VpnStateDeleted, nil
	})
}

// ---- VPN connections ----

// peerGroup is the spec's tunnels to one peer address: one customer
// gateway and one VPN connection.
type peerGroup struct {
	name    string
	peerIP  string
	tunnels []int // indices into spec.Tunnels
}

func peerGroups(spec cloud.VPNConnectionSpec) []peerGroup {
	var groups []peerGroup
	for i, t := range spec.Tunnels {
		j := slices.IndexFunc(groups, func(g peerGroup) bool { return g.peerIP == t.PeerIP })
		if j < 0 {
			groups = append(groups, peerGroup{peerIP: t.PeerIP})
			j = len(groups) - 1
		}
		groups[j].tunnels = append(groups[j].tunnels, i)
	}
	for i := range groups {
		groups[i].name = spec.Name
		if len(groups) > 1 {
			groups[i].name = fmt.Sprintf("%s-%d", spec.Name, i)
		}
	}
	return groups
}

// tunnelsTag is the gpufleet:tunnels tag of a group's connection.
func tunnelsTag(spec cloud.VPNConnectionSpec, g peerGroup) string {
	var parts []string
	for _, i := range g.tunnels {
		parts = append(parts, fmt.Sprintf("%d=%s", i, canonical(spec.Tunnels[i].InsideCIDR)))
	}
	return strings.Join(parts, " ")
}

// parseTunnelsTag reads gpufleet:tunnels: spec tunnel index -> inside CIDR.
func parseTunnelsTag(v string) map[int]string {
	out := map[int]string{}
	for _, f := range strings.Fields(v) {
		i, cidr, ok := strings.Cut(f, "=")
		if n, err := strconv.Atoi(i); ok && err == nil {
			out[n] = cidr
		}
	}
	return out
}

// checkTunnels validates a spec against what AWS does: two or four
// tunnels, at most two to one peer address (an AWS VPN connection has two
// tunnels), each a /30 whose first address is AWS's side and second the
// peer's.
func checkTunnels(spec cloud.VPNConnectionSpec) error {
	if len(spec.Tunnels) != 2 && len(spec.Tunnels) != 4 {
		return cloud.Invalid("aws", "CreateVpnConnection", "InvalidTunnels", "VPN connection %s has %d tunnels, not two or four", spec.Name, len(spec.Tunnels))
	}
	for _, g := range peerGroups(spec) {
		if len(g.tunnels) > 2 {
			return cloud.Invalid("aws", "CreateVpnConnection", "InvalidTunnels",
				"VPN connection %s has %d tunnels to %s; an AWS VPN connection (one per peer address) has two", spec.Name, len(g.tunnels), g.peerIP)
		}
	}
	for i, t := range spec.Tunnels {
		p, err := netip.ParsePrefix(t.InsideCIDR)
		if err != nil || !p.Addr().Is4() || p.Bits() != 30 {
			return cloud.Invalid("aws", "CreateVpnConnection", "InvalidTunnelInsideCidr", "tunnel %d of %s: inside CIDR %q is not an IPv4 /30", i, spec.Name, t.InsideCIDR)
		}
		awsSide := p.Masked().Addr().Next()
		if t.LocalInsideIP != awsSide.String() || t.PeerInsideIP != awsSide.Next().String() {
			return cloud.Invalid("aws", "CreateVpnConnection", "InvalidTunnelInsideIp",
				"tunnel %d of %s: AWS takes the first address of %s (%s) and gives the peer the second (%s); the spec asks for %s (AWS side) and %s (peer)",
				i, spec.Name, p.Masked(), awsSide, awsSide.Next(), t.LocalInsideIP, t.PeerInsideIP)
		}
		if t.PeerIP == "" {
			return cloud.Invalid("aws", "CreateVpnConnection", "InvalidTunnelPeer", "tunnel %d of %s has no peer address", i, spec.Name)
		}
	}
	return nil
}

var liveVPNStates = []string{"pending", "available", "deleting"}

// vpnObjects are the VPN connections and customer gateways of a connection
// spec (tag gpufleet:vpn-connection), not deleted.
func (b *Backend) vpnObjects(ctx context.Context, r *regional, name string) ([]ec2types.VpnConnection, []ec2types.CustomerGateway, error) {
	conns, err := r.ec2.DescribeVpnConnections(ctx, &ec2.DescribeVpnConnectionsInput{Filters: []ec2types.Filter{
		filter("tag:"+tagVPN, name), filter("state", liveVPNStates...)}})
	if err != nil {
		return nil, nil, classify("DescribeVpnConnections", err)
	}
	cgws, err := r.ec2.DescribeCustomerGateways(ctx, &ec2.DescribeCustomerGatewaysInput{Filters: []ec2types.Filter{
		filter("tag:"+tagVPN, name), filter("state", liveVPNStates...)}})
	if err != nil {
		return nil, nil, classify("DescribeCustomerGateways", err)
	}
	out := conns.VpnConnections
	slices.SortFunc(out, func(a, b ec2types.VpnConnection) int {
		return strings.Compare(tagOf(a.Tags, "Name")+awssdk.ToString(a.VpnConnectionId), tagOf(b.Tags, "Name")+awssdk.ToString(b.VpnConnectionId))
	})
	return out, cgws.CustomerGateways, nil
}

func cgwASN(c ec2types.CustomerGateway) int64 {
	v := awssdk.ToString(c.BgpAsn)
	if v == "" {
		v = awssdk.ToString(c.BgpAsnExtended)
	}
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}

// matchesGroup reports whether a connection carries a group's tunnels to
// the right customer gateway and virtual private gateway.
func matchesGroup(c ec2types.VpnConnection, cgw *ec2types.CustomerGateway, gwID string, spec cloud.VPNConnectionSpec, g peerGroup) bool {
	if cgw == nil || awssdk.ToString(c.VpnGatewayId) != gwID || awssdk.ToString(cgw.IpAddress) != g.peerIP || cgwASN(*cgw) != spec.PeerASN ||
		c.Options == nil || tagOf(c.Tags, tagTunnels) != tunnelsTag(spec, g) {
		return false
	}
	for _, i := range g.tunnels {
		t := spec.Tunnels[i]
		if !slices.ContainsFunc(c.Options.TunnelOptions, func(o ec2types.TunnelOption) bool {
			return canonical(awssdk.ToString(o.TunnelInsideCidr)) == canonical(t.InsideCIDR) && (t.PSK == "" || awssdk.ToString(o.PreSharedKey) == t.PSK)
		}) {
			return false
		}
	}
	return true
}

// EnsureVPNConnection creates (or replaces, when they changed) a customer
// gateway and a VPN connection per peer address, deletes those of
// addresses gone from the spec, and waits until the connections are
// available.
func (b *Backend) EnsureVPNConnection(ctx context.Context, spec cloud.VPNConnectionSpec) (cloud.VPNConnection, error) {
	if err := checkTunnels(spec); err != nil {
		return cloud.VPNConnection{}, err
	}
	r := b.in(spec.Region)
	gw, err := b.findGateway(ctx, r, spec.Gateway)
	if err != nil {
		return cloud.VPNConnection{}, err
	}
	if gw == nil {
		return cloud.VPNConnection{}, cloud.NotFound("aws", "CreateVpnConnection", "InvalidVpnGatewayID.NotFound",
			"VPN gateway %s does not exist in %s", spec.Gateway, spec.Region)
	}
	gwID := awssdk.ToString(gw.VpnGatewayId)
	conns, cgws, err := b.vpnObjects(ctx, r, spec.Name)
	if err != nil {
		return cloud.VPNConnection{}, err
	}
	cgwByID := map[string]*ec2types.CustomerGateway{}
	for i := range cgws {
		cgwByID[awssdk.ToString(cgws[i].CustomerGatewayId)] = &cgws[i]
	}
	groups := peerGroups(spec)
	// A connection is kept when it is the first of its group's name that
	// carries the group's tunnels as the spec has them; the others are
	// replaced or, when their group is gone, deleted.
	kept := map[string]string{} // group name -> connection ID
	keepCgw := map[string]bool{}
	var stale []ec2types.VpnConnection
	for _, c := range conns {
		name, cgwID := tagOf(c.Tags, "Name"), awssdk.ToString(c.CustomerGatewayId)
		i := slices.IndexFunc(groups, func(g peerGroup) bool { return g.name == name })
		if c.State != ec2types.VpnStateDeleting && i >= 0 && kept[name] == "" && matchesGroup(c, cgwByID[cgwID], gwID, spec, groups[i]) {
			kept[name] = awssdk.ToString(c.VpnConnectionId)
			keepCgw[cgwID] = true
			continue
		}
		if c.State == ec2types.VpnStateAvailable && i >= 0 && kept[name] == "" {
			free, ok := missingTunnels(c, cgwByID[cgwID], gwID, spec, groups[i])
			if ok {
				if err := b.addTunnels(ctx, r, c, spec, groups[i], free); err != nil {
					return cloud.VPNConnection{}, err
				}
				kept[name] = awssdk.ToString(c.VpnConnectionId)
				keepCgw[cgwID] = true
				continue
			}
		}
		stale = append(stale, c)
	}
	// A tunnel given without a key keeps the one it has: AWS returns it
	// (DescribeVpnConnections TunnelOptions.PreSharedKey), so a connection
	// replaced for another reason (a new peer address) carries it over.
	keys := map[string]string{} // inside CIDR -> key
	for _, c := range conns {
		if c.Options == nil || c.State == ec2types.VpnStateDeleting {
			continue
		}
		for _, o := range c.Options.TunnelOptions {
			if k := awssdk.ToString(o.PreSharedKey); k != "" {
				keys[canonical(awssdk.ToString(o.TunnelInsideCidr))] = k
			}
		}
	}
	for _, g := range groups {
		for _, i := range g.tunnels {
			if kept[g.name] == "" && spec.Tunnels[i].PSK == "" && keys[canonical(spec.Tunnels[i].InsideCIDR)] == "" {
				return cloud.VPNConnection{}, cloud.KeyRequiredError("aws", "CreateVpnConnection", spec.Name, i)
			}
		}
	}
	// The stale connections go first: their customer gateways cannot be
	// deleted before, nor their inside CIDRs reused.
	if err := b.deleteConnections(ctx, r, stale); err != nil {
		return cloud.VPNConnection{}, err
	}
	reuse := map[string]string{} // group name -> customer gateway ID
	for _, c := range cgws {
		id := awssdk.ToString(c.CustomerGatewayId)
		if keepCgw[id] {
			continue
		}
		if i := slices.IndexFunc(groups, func(g peerGroup) bool { return kept[g.name] == "" && reuse[g.name] == "" && reusableCgw(c, g, spec) }); i >= 0 {
			reuse[groups[i].name] = id
			continue
		}
		_, err := r.ec2.DeleteCustomerGateway(ctx, &ec2.DeleteCustomerGatewayInput{CustomerGatewayId: c.CustomerGatewayId})
		if err := cloud.IgnoreNotFound(classify("DeleteCustomerGateway", err)); err != nil {
			return cloud.VPNConnection{}, err
		}
	}
	for _, g := range groups {
		if kept[g.name] != "" {
			continue
		}
		cgwID := reuse[g.name]
		if cgwID == "" {
			in := &ec2.CreateCustomerGatewayInput{Type: ec2types.GatewayTypeIpsec1, IpAddress: awssdk.String(g.peerIP),
				TagSpecifications: tagSpecs(ec2types.ResourceTypeCustomerGateway, g.name, spec.Tags, tagVPN, spec.Name, tagPeer, spec.Peer, tagCreated, b.createdNow())}
			if spec.PeerASN > math.MaxInt32 {
				in.BgpAsnExtended = awssdk.Int64(spec.PeerASN)
			} else {
				in.BgpAsn = awssdk.Int32(int32(spec.PeerASN))
			}
			out, err := r.ec2.CreateCustomerGateway(ctx, in)
			if err != nil {
				return cloud.VPNConnection{}, classify("CreateCustomerGateway", err)
			}
			cgwID = awssdk.ToString(out.CustomerGateway.CustomerGatewayId)
		}
		opts := &ec2types.VpnConnectionOptionsSpecification{StaticRoutesOnly: awssdk.Bool(false)}
		for _, i := range g.tunnels {
			t := spec.Tunnels[i]
			psk := t.PSK
			if psk == "" {
				psk = keys[canonical(t.InsideCIDR)]
			}
			opts.TunnelOptions = append(opts.TunnelOptions, ec2types.VpnTunnelOptionsSpecification{
				TunnelInsideCidr: awssdk.String(canonical(t.InsideCIDR)), PreSharedKey: awssdk.String(psk)})
		}
		_, err := r.ec2.CreateVpnConnection(ctx, &ec2.CreateVpnConnectionInput{Type: awssdk.String(string(ec2types.GatewayTypeIpsec1)),
			CustomerGatewayId: awssdk.String(cgwID), VpnGatewayId: awssdk.String(gwID), Options: opts,
			TagSpecifications: tagSpecs(ec2types.ResourceTypeVpnConnection, g.name, spec.Tags, tagVPN, spec.Name, tagTunnels, tunnelsTag(spec, g), tagPeer, spec.Peer, tagCreated, b.createdNow())})
		if err != nil {
			return cloud.VPNConnection{}, classify("CreateVpnConnection", err)
		}
	}
	var res cloud.VPNConnection
	err = b.poll(ctx, "CreateVpnConnection", "VPN connection "+spec.Name+" available", func() (bool, error) {
		var err error
		res, err = b.GetVPNConnection(ctx, spec.Region, spec.Name)
		if err != nil {
			return false, err
		}
		return res.Status == cloud.StatusActive, nil
	})
	return res, err
}

// missingTunnels reports whether connection c carries some of group g's
// tunnels as the spec has them (and nothing else of gpufleet's), to the
// right gateways, with an unused tunnel for each one it lacks: then it
// returns, per missing spec tunnel index, the outside address of the
// tunnel to give it.
func missingTunnels(c ec2types.VpnConnection, cgw *ec2types.CustomerGateway, gwID string, spec cloud.VPNConnectionSpec, g peerGroup) (map[int]string, bool) {
	if cgw == nil || awssdk.ToString(c.VpnGatewayId) != gwID || awssdk.ToString(cgw.IpAddress) != g.peerIP || cgwASN(*cgw) != spec.PeerASN || c.Options == nil {
		return nil, false
	}
	carried := parseTunnelsTag(tagOf(c.Tags, tagTunnels))
	used := map[string]bool{}
	for i, cidr := range carried {
		if !slices.Contains(g.tunnels, i) || canonical(spec.Tunnels[i].InsideCIDR) != cidr {
			return nil, false
		}
		if !slices.ContainsFunc(c.Options.TunnelOptions, func(o ec2types.TunnelOption) bool {
			return canonical(awssdk.ToString(o.TunnelInsideCidr)) == cidr && (spec.Tunnels[i].PSK == "" || awssdk.ToString(o.PreSharedKey) == spec.Tunnels[i].PSK)
		}) {
			return nil, false
		}
		used[cidr] = true
	}
	if len(carried) == 0 {
		return nil, false
	}
	out := map[int]string{}
	for _, i := range g.tunnels {
		if _, ok := carried[i]; ok {
			continue
		}
		want := canonical(spec.Tunnels[i].InsideCIDR)
		// An unused tunnel, or one an interrupted Ensure already gave
		// this tunnel's options.
		j := slices.IndexFunc(c.Options.TunnelOptions, func(o ec2types.TunnelOption) bool {
			have := canonical(awssdk.ToString(o.TunnelInsideCidr))
			return !used[have] && (have == want || !slices.ContainsFunc(g.tunnels, func(k int) bool { return canonical(spec.Tunnels[k].InsideCIDR) == have }))
		})
		if j < 0 {
			return nil, false
		}
		o := c.Options.TunnelOptions[j]
		used[canonical(awssdk.ToString(o.TunnelInsideCidr))] = true
		out[i] = awssdk.ToString(o.OutsideIpAddress)
		if canonical(awssdk.ToString(o.TunnelInsideCidr)) == want && (spec.Tunnels[i].PSK == "" || awssdk.ToString(o.PreSharedKey) == spec.Tunnels[i].PSK) {
			out[i] = "" // already set (without a key: keeping the one it has)
		}
	}
	return out, true
}

// addTunnels gives a connection's unused tunnels (by outside address) the
// spec's tunnels in place, then records them in its gpufleet:tunnels tag.
func (b *Backend) addTunnels(ctx context.Context, r *regional, c ec2types.VpnConnection, spec cloud.VPNConnectionSpec, g peerGroup, free map[int]string) error {
	// A tunnel sent without a key is never modified: the key AWS would
	// keep on it is not the peer's (an unused tunnel has AWS's own).
	for _, i := range slices.Sorted(maps.Keys(free)) {
		if free[i] != "" && spec.Tunnels[i].PSK == "" {
			return cloud.KeyRequiredError("aws", "ModifyVpnTunnelOptions", spec.Name, i)
		}
	}
	for _, i := range slices.Sorted(maps.Keys(free)) {
		if free[i] == "" {
			continue
		}
		t := spec.Tunnels[i]
		_, err := r.ec2.ModifyVpnTunnelOptions(ctx, &ec2.ModifyVpnTunnelOptionsInput{VpnConnectionId: c.VpnConnectionId,
			VpnTunnelOutsideIpAddress: awssdk.String(free[i]),
			TunnelOptions:             &ec2types.ModifyVpnTunnelOptionsSpecification{TunnelInsideCidr: awssdk.String(canonical(t.InsideCIDR)), PreSharedKey: awssdk.String(t.PSK)}})
		if err != nil {
			return classify("ModifyVpnTunnelOptions", err)
		}
	}
	_, err := r.ec2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{awssdk.ToString(c.VpnConnectionId)},
		Tags: []ec2types.Tag{{Key: awssdk.String(tagTunnels), Value: awssdk.String(tunnelsTag(spec, g))}}})
	return classify("CreateTags", err)
}

// reusableCgw reports a customer gateway that fits a group.
func reusableCgw(c ec2types.CustomerGateway, g peerGroup, spec cloud.VPNConnectionSpec) bool {
	return tagOf(c.Tags, "Name") == g.name && awssdk.ToString(c.IpAddress) == g.peerIP && cgwASN(c) == spec.PeerASN &&
		awssdk.ToString(c.State) != "deleting" && awssdk.ToString(c.State) != "deleted"
}

// deleteConnections deletes VPN connections and waits until they are gone.
func (b *Backend) deleteConnections(ctx context.Context, r *regional, conns []ec2types.VpnConnection) error {
	if len(conns) == 0 {
		return nil
	}
	var ids []string
	for _, c := range conns {
		id := awssdk.ToString(c.VpnConnectionId)
		ids = append(ids, id)
		if c.State == ec2types.VpnStateDeleting {
			continue
		}
		_, err := r.ec2.DeleteVpnConnection(ctx, &ec2.DeleteVpnConnectionInput{VpnConnectionId: awssdk.String(id)})
		if err := cloud.IgnoreNotFound(classify("DeleteVpnConnection", err)); err != nil {
			return err
		}
	}
	return b.poll(ctx, "DeleteVpnConnection", "VPN connections "+strings.Join(ids, ", ")+" deleted", func() (bool, error) {
		out, err := r.ec2.DescribeVpnConnections(ctx, &ec2.DescribeVpnConnectionsInput{Filters: []ec2types.Filter{
			filter("vpn-connection-id", ids...), filter("state", liveVPNStates...)}})
		if err != nil {
			return false, classify("DescribeVpnConnections", err)
		}
		return len(out.VpnConnections) == 0, nil
	})
}

// GetVPNConnection reports the connections of a spec with their tunnels in
// spec order: active when every connection is available and both tunnels
// are there, degraded when some are missing (deleted out of band).
// GetTunnelKeys reads each tunnel's key back from its VPN connection's
// TunnelOptions (DescribeVpnConnections returns PreSharedKey).
func (b *Backend) GetTunnelKeys(ctx context.Context, region, name string) ([]string, error) {
	conns, cgws, err := b.vpnObjects(ctx, b.in(region), name)
	if err != nil {
		return nil, err
	}
	if len(conns) == 0 && len(cgws) == 0 {
		return nil, cloud.NotFound("aws", "DescribeVpnConnections", "InvalidVpnConnectionID.NotFound",
			"VPN connection %s does not exist in %s", name, region)
	}
	var keys []string
	for _, c := range conns {
		if c.State == ec2types.VpnStateDeleting || c.State == ec2types.VpnStateDeleted || c.Options == nil {
			continue
		}
		for i, cidr := range parseTunnelsTag(tagOf(c.Tags, tagTunnels)) {
			for _, o := range c.Options.TunnelOptions {
				if canonical(awssdk.ToString(o.TunnelInsideCidr)) == cidr {
					for len(keys) <= i {
						keys = append(keys, "")
					}
					keys[i] = awssdk.ToString(o.PreSharedKey)
				}
			}
		}
	}
	return keys, nil
}

func (b *Backend) GetVPNConnection(ctx context.Context, region, name string) (cloud.VPNConnection, error) {
	r := b.in(region)
	conns, cgws, err := b.vpnObjects(ctx, r, name)
	if err != nil {
		return cloud.VPNConnection{}, err
	}
	if len(conns) == 0 && len(cgws) == 0 {
		return cloud.VPNConnection{}, cloud.NotFound("aws", "DescribeVpnConnections", "InvalidVpnConnectionID.NotFound",
			"VPN connection %s does not exist in %s", name, region)
	}
	peerIP := map[string]string{}
	for _, c := range cgws {
		peerIP[awssdk.ToString(c.CustomerGatewayId)] = awssdk.ToString(c.IpAddress)
	}
	type tunnel struct {
		index int
		local string
		st    cloud.TunnelStatus
	}
	var tunnels []tunnel
	var ids []string
	res := cloud.VPNConnection{Name: name, Region: region, Status: cloud.StatusActive}
	for _, c := range conns {
		id := awssdk.ToString(c.VpnConnectionId)
		ids = append(ids, id)
		switch c.State {
		case ec2types.VpnStatePending:
			if res.Status == cloud.StatusActive {
				res.Status = cloud.StatusCreating
			}
		case ec2types.VpnStateDeleting:
			res.Status = cloud.StatusDeleting
		}
		for i, cidr := range parseTunnelsTag(tagOf(c.Tags, tagTunnels)) {
			// AWS names a tunnel by its connection and outside address.
			t := tunnel{index: i, st: cloud.TunnelStatus{PeerIP: peerIP[awssdk.ToString(c.CustomerGatewayId)]}}
			if c.Options != nil {
				for _, o := range c.Options.TunnelOptions {
					if canonical(awssdk.ToString(o.TunnelInsideCidr)) == cidr {
						t.local = awssdk.ToString(o.OutsideIpAddress)
						t.st.InsideCIDR = cidr
					}
				}
			}
			t.st.ID = id + "/" + t.local
			for _, tel := range c.VgwTelemetry {
				if t.local != "" && awssdk.ToString(tel.OutsideIpAddress) == t.local {
					t.st.Up = tel.Status == ec2types.TelemetryStatusUp
				}
			}
			tunnels = append(tunnels, t)
		}
	}
	slices.SortFunc(tunnels, func(a, b tunnel) int { return a.index - b.index })
	for _, t := range tunnels {
		res.LocalIPs = append(res.LocalIPs, t.local)
		res.Tunnels = append(res.Tunnels, t.st)
	}
	res.ID = strings.Join(ids, ",")
	if len(tunnels) < 2 && res.Status != cloud.StatusDeleting {
		res.Status = cloud.StatusDegraded
	}
	return res, nil
}

// DeleteVPNConnection deletes the VPN connections, waits until they are
// gone, then deletes the customer gateways.
func (b *Backend) DeleteVPNConnection(ctx context.Context, region, name string) error {
	r := b.in(region)
	conns, cgws, err := b.vpnObjects(ctx, r, name)
	if err != nil {
		return err
	}
	if err := b.deleteConnections(ctx, r, conns); err != nil {
		return err
	}
	for _, c := range cgws {
		_, err := r.ec2.DeleteCustomerGateway(ctx, &ec2.DeleteCustomerGatewayInput{CustomerGatewayId: c.CustomerGatewayId})
		if err := cloud.IgnoreNotFound(classify("DeleteCustomerGateway", err)); err != nil {
			return err
		}
	}
	return nil
}

// ---- peerings ----

// livePeeringStates are those of a peering that exists (failed ones too:
// Ensure reports them rather than asking again).
var livePeeringStates = []string{"initiating-request", "pending-acceptance", "provisioning", "active", "failed"}

// blockingPeeringStates are those of a peering that holds its VPCs.
var blockingPeeringStates = []string{"initiating-request", "pending-acceptance", "provisioning", "active"}

// findPeering is the live peering tagged Name = name seen from region, or
// nil.
func (b *Backend) findPeering(ctx context.Context, r *regional, name string) (*ec2types.VpcPeeringConnection, error) {
	out, err := r.ec2.DescribeVpcPeeringConnections(ctx, &ec2.DescribeVpcPeeringConnectionsInput{Filters: []ec2types.Filter{
		filter("tag:Name", name), filter("status-code", livePeeringStates...)}})
	if err != nil {
		return nil, classify("DescribeVpcPeeringConnections", err)
	}
	ps := out.VpcPeeringConnections
	slices.SortFunc(ps, func(a, b ec2types.VpcPeeringConnection) int {
		return strings.Compare(awssdk.ToString(a.VpcPeeringConnectionId), awssdk.ToString(b.VpcPeeringConnectionId))
	})
	if len(ps) == 0 {
		return nil, nil
	}
	return &ps[0], nil
}

func peeringCode(p *ec2types.VpcPeeringConnection) ec2types.VpcPeeringConnectionStateReasonCode {
	if p.Status == nil {
		return ""
	}
	return p.Status.Code
}

// EnsurePeering requests the peering from A's VPC to B's, accepts it in
// B's region, waits until it is active and adds the route to the other
// side's CIDR in each main route table.
func (b *Backend) EnsurePeering(ctx context.Context, spec cloud.PeeringSpec) (cloud.Peering, error) {
	ra, rb := b.in(spec.A.Region), b.in(spec.B.Region)
	va, err := b.vpcOf(ctx, ra, "CreateVpcPeeringConnection", spec.A.Region, spec.A.Network)
	if err != nil {
		return cloud.Peering{}, err
	}
	vb, err := b.vpcOf(ctx, rb, "CreateVpcPeeringConnection", spec.B.Region, spec.B.Network)
	if err != nil {
		return cloud.Peering{}, err
	}
	aID, bID := awssdk.ToString(va.VpcId), awssdk.ToString(vb.VpcId)
	p, err := b.findPeering(ctx, ra, spec.Name)
	if err != nil {
		return cloud.Peering{}, err
	}
	if p != nil && (awssdk.ToString(p.RequesterVpcInfo.VpcId) != aID || awssdk.ToString(p.AccepterVpcInfo.VpcId) != bID) {
		return cloud.Peering{}, cloud.Conflict("aws", "CreateVpcPeeringConnection", "PeeringConflict", "peering %s (%s) connects %s and %s, not %s and %s",
			spec.Name, awssdk.ToString(p.VpcPeeringConnectionId), awssdk.ToString(p.RequesterVpcInfo.VpcId), awssdk.ToString(p.AccepterVpcInfo.VpcId), aID, bID)
	}
	if p == nil {
		out, err := ra.ec2.CreateVpcPeeringConnection(ctx, &ec2.CreateVpcPeeringConnectionInput{VpcId: awssdk.String(aID), PeerVpcId: awssdk.String(bID),
			PeerRegion: awssdk.String(spec.B.Region), TagSpecifications: tagSpecs(ec2types.ResourceTypeVpcPeeringConnection, spec.Name, spec.Tags, tagPeering, spec.Name, tagCreated, b.createdNow())})
		if err != nil {
			return cloud.Peering{}, classify("CreateVpcPeeringConnection", err)
		}
		p = out.VpcPeeringConnection
	}
	id := awssdk.ToString(p.VpcPeeringConnectionId)
	err = b.poll(ctx, "CreateVpcPeeringConnection", "peering "+id+" active", func() (bool, error) {
		switch code := peeringCode(p); code {
		case ec2types.VpcPeeringConnectionStateReasonCodeActive:
			return true, nil
		case ec2types.VpcPeeringConnectionStateReasonCodeFailed, ec2types.VpcPeeringConnectionStateReasonCodeRejected,
			ec2types.VpcPeeringConnectionStateReasonCodeExpired, ec2types.VpcPeeringConnectionStateReasonCodeDeleted:
			return false, cloud.Invalid("aws", "CreateVpcPeeringConnection", "VpcPeeringConnection."+string(code), "peering %s (%s) is %s: %s",
				spec.Name, id, code, awssdk.ToString(p.Status.Message))
		case ec2types.VpcPeeringConnectionStateReasonCodePendingAcceptance:
			_, err := rb.ec2.AcceptVpcPeeringConnection(ctx, &ec2.AcceptVpcPeeringConnectionInput{VpcPeeringConnectionId: awssdk.String(id)})
			if cerr := classify("AcceptVpcPeeringConnection", err); err != nil && !cloud.IsConflict(cerr) {
				return false, cerr
			}
		}
		out, err := ra.ec2.DescribeVpcPeeringConnections(ctx, &ec2.DescribeVpcPeeringConnectionsInput{VpcPeeringConnectionIds: []string{id}})
		if err != nil {
			return false, classify("DescribeVpcPeeringConnections", err)
		}
		if len(out.VpcPeeringConnections) == 0 {
			return false, cloud.NotFound("aws", "DescribeVpcPeeringConnections", "InvalidVpcPeeringConnectionID.NotFound", "peering %s (%s) is gone", spec.Name, id)
		}
		p = &out.VpcPeeringConnections[0]
		return peeringCode(p) == ec2types.VpcPeeringConnectionStateReasonCodeActive, nil
	})
	if err != nil {
		return cloud.Peering{}, err
	}
	for _, side := range []struct {
		r          *regional
		vpc, other string
	}{{ra, aID, sideCIDR(spec.B, vb)}, {rb, bID, sideCIDR(spec.A, va)}} {
		if err := b.ensurePeeringRoute(ctx, side.r, side.vpc, side.other, id); err != nil {
			return cloud.Peering{}, err
		}
	}
	return cloud.Peering{Name: spec.Name, ID: id, Active: true}, nil
}

// sideCIDR is a side's CIDR: the spec's, or its VPC's.
func sideCIDR(s cloud.PeeringSide, vpc *ec2types.Vpc) string {
	if s.CIDR != "" {
		return canonical(s.CIDR)
	}
	return awssdk.ToString(vpc.CidrBlock)
}

// ensurePeeringRoute routes dest through a peering in a VPC's main route
// table. A blackhole route to dest (its peering gone) is replaced; a live
// one to another target is KindConflict.
func (b *Backend) ensurePeeringRoute(ctx context.Context, r *regional, vpcID, dest, pcx string) error {
	rt, err := b.mainRouteTable(ctx, r, vpcID)
	if err != nil {
		return err
	}
	for _, route := range rt.Routes {
		if canonical(awssdk.ToString(route.DestinationCidrBlock)) != dest {
			continue
		}
		if awssdk.ToString(route.VpcPeeringConnectionId) == pcx {
			return nil
		}
		if route.State != ec2types.RouteStateBlackhole {
			return cloud.Conflict("aws", "CreateRoute", "RouteAlreadyExists", "route table %s routes %s elsewhere (%s%s)",
				awssdk.ToString(rt.RouteTableId), dest, awssdk.ToString(route.GatewayId), awssdk.ToString(route.VpcPeeringConnectionId))
		}
		_, err := r.ec2.DeleteRoute(ctx, &ec2.DeleteRouteInput{RouteTableId: rt.RouteTableId, DestinationCidrBlock: awssdk.String(dest)})
		if err := cloud.IgnoreNotFound(classify("DeleteRoute", err)); err != nil {
			return err
		}
	}
	_, err = r.ec2.CreateRoute(ctx, &ec2.CreateRouteInput{RouteTableId: rt.RouteTableId, DestinationCidrBlock: awssdk.String(dest),
		VpcPeeringConnectionId: awssdk.String(pcx)})
	return classify("CreateRoute", err)
}

// GetPeering reports a peering: active when its status is.
func (b *Backend) GetPeering(ctx context.Context, spec cloud.PeeringSpec) (cloud.Peering, error) {
	p, err := b.findPeering(ctx, b.in(spec.A.Region), spec.Name)
	if err != nil {
		return cloud.Peering{}, err
	}
	if p == nil {
		return cloud.Peering{}, cloud.NotFound("aws", "DescribeVpcPeeringConnections", "InvalidVpcPeeringConnectionID.NotFound",
			"peering %s does not exist in %s", spec.Name, spec.A.Region)
	}
	return cloud.Peering{Name: spec.Name, ID: awssdk.ToString(p.VpcPeeringConnectionId), Active: peeringCode(p) == ec2types.VpcPeeringConnectionStateReasonCodeActive}, nil
}

// DeletePeering removes the routes through the peering from both sides'
// main route tables, then the peering.
func (b *Backend) DeletePeering(ctx context.Context, spec cloud.PeeringSpec) error {
	ra := b.in(spec.A.Region)
	p, err := b.findPeering(ctx, ra, spec.Name)
	if err != nil || p == nil {
		return err
	}
	id := awssdk.ToString(p.VpcPeeringConnectionId)
	for _, side := range []*ec2types.VpcPeeringConnectionVpcInfo{p.RequesterVpcInfo, p.AccepterVpcInfo} {
		if side == nil || side.VpcId == nil {
			continue
		}
		region := awssdk.ToString(side.Region)
		if region == "" {
			region = spec.A.Region
		}
		r := b.in(region)
		rt, err := b.mainRouteTable(ctx, r, awssdk.ToString(side.VpcId))
		if cloud.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		for _, route := range rt.Routes {
			if awssdk.ToString(route.VpcPeeringConnectionId) != id {
				continue
			}
			_, err := r.ec2.DeleteRoute(ctx, &ec2.DeleteRouteInput{RouteTableId: rt.RouteTableId, DestinationCidrBlock: route.DestinationCidrBlock})
			if err := cloud.IgnoreNotFound(classify("DeleteRoute", err)); err != nil {
				return err
			}
		}
	}
	_, err = ra.ec2.DeleteVpcPeeringConnection(ctx, &ec2.DeleteVpcPeeringConnectionInput{VpcPeeringConnectionId: awssdk.String(id)})
	return cloud.IgnoreNotFound(classify("DeleteVpcPeeringConnection", err))
}
