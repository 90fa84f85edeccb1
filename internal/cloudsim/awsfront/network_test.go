package awsfront

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

func tagSpec(rt ec2types.ResourceType, kv ...string) []ec2types.TagSpecification {
	ts := ec2types.TagSpecification{ResourceType: rt}
	for i := 0; i+1 < len(kv); i += 2 {
		ts.Tags = append(ts.Tags, ec2types.Tag{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
	}
	return []ec2types.TagSpecification{ts}
}

func ec2Filter(name string, values ...string) ec2types.Filter {
	return ec2types.Filter{Name: aws.String(name), Values: values}
}

func inRegion(r string) func(*ec2.Options) { return func(o *ec2.Options) { o.Region = r } }

func tagValue(tags []ec2types.Tag, key string) string {
	for _, t := range tags {
		if aws.ToString(t.Key) == key {
			return aws.ToString(t.Value)
		}
	}
	return ""
}

// resources are the engine's network objects of a kind.
func (ev *env) resources(kind string) []cloudsim.Object {
	var out []cloudsim.Object
	for _, o := range ev.e.Inventory().Objects {
		if o.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}

func (ev *env) vpc(t *testing.T, cidr, name string, opts ...func(*ec2.Options)) string {
	t.Helper()
	out := must[*ec2.CreateVpcOutput](t)(ev.ec2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String(cidr),
		TagSpecifications: tagSpec(ec2types.ResourceTypeVpc, "Name", name)}, opts...))
	return aws.ToString(out.Vpc.VpcId)
}

func (ev *env) mainRouteTable(t *testing.T, vpcID string, opts ...func(*ec2.Options)) ec2types.RouteTable {
	t.Helper()
	out := must[*ec2.DescribeRouteTablesOutput](t)(ev.ec2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{
		Filters: []ec2types.Filter{ec2Filter("vpc-id", vpcID), ec2Filter("association.main", "true")}}, opts...))
	if len(out.RouteTables) != 1 {
		t.Fatalf("main route tables of %s: %+v", vpcID, out.RouteTables)
	}
	return out.RouteTables[0]
}

func TestVpcAndSubnets(t *testing.T) {
	ev := newEnv(t, envConfig{})
	out := must[*ec2.CreateVpcOutput](t)(ev.ec2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.20.0.0/16"),
		TagSpecifications: tagSpec(ec2types.ResourceTypeVpc, "Name", "site-a", "team", "ml")}))
	vpc := out.Vpc
	vpcID := aws.ToString(vpc.VpcId)
	if !idPattern.MatchString(vpcID) || !strings.HasPrefix(vpcID, "vpc-") || len(vpcID) != 21 || aws.ToString(vpc.CidrBlock) != "10.20.0.0/16" ||
		tagValue(vpc.Tags, "Name") != "site-a" || aws.ToString(vpc.OwnerId) != "123456789012" {
		t.Fatalf("create: %+v", vpc)
	}

	for name, in := range map[string]*ec2.DescribeVpcsInput{
		"id":       {VpcIds: []string{vpcID}},
		"tag":      {Filters: []ec2types.Filter{ec2Filter("tag:Name", "site-a")}},
		"wildcard": {Filters: []ec2types.Filter{ec2Filter("tag:Name", "site-*"), ec2Filter("cidr", "10.20.0.0/16", "10.99.0.0/16")}},
		"tag-key":  {Filters: []ec2types.Filter{ec2Filter("tag-key", "team")}},
	} {
		d := must[*ec2.DescribeVpcsOutput](t)(ev.ec2.DescribeVpcs(ctx, in))
		if len(d.Vpcs) != 1 || aws.ToString(d.Vpcs[0].VpcId) != vpcID || d.Vpcs[0].State != ec2types.VpcStateAvailable ||
			tagValue(d.Vpcs[0].Tags, "team") != "ml" {
			t.Errorf("describe by %s: %+v", name, d.Vpcs)
		}
	}
	for name, in := range map[string]*ec2.DescribeVpcsInput{
		"other name":   {Filters: []ec2types.Filter{ec2Filter("tag:Name", "site-b")}},
		"missing tag":  {Filters: []ec2types.Filter{ec2Filter("tag:Owner", "*")}},
		"both filters": {Filters: []ec2types.Filter{ec2Filter("tag:Name", "site-a"), ec2Filter("state", "pending")}},
	} {
		if d := must[*ec2.DescribeVpcsOutput](t)(ev.ec2.DescribeVpcs(ctx, in)); len(d.Vpcs) != 0 {
			t.Errorf("describe by %s: %+v", name, d.Vpcs)
		}
	}
	// VPCs are regional.
	if d := must[*ec2.DescribeVpcsOutput](t)(ev.ec2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{}, inRegion("us-east-1"))); len(d.Vpcs) != 0 {
		t.Fatalf("us-east-1 sees %+v", d.Vpcs)
	}

	rt := ev.mainRouteTable(t, vpcID)
	if !strings.HasPrefix(aws.ToString(rt.RouteTableId), "rtb-") || len(rt.Routes) != 1 || aws.ToString(rt.Routes[0].GatewayId) != "local" ||
		aws.ToString(rt.Routes[0].DestinationCidrBlock) != "10.20.0.0/16" || len(rt.Associations) != 1 || !aws.ToBool(rt.Associations[0].Main) {
		t.Fatalf("main route table: %+v", rt)
	}

	subnet := func(cidr, zone string) (*ec2.CreateSubnetOutput, error) {
		return ev.ec2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(vpcID), CidrBlock: aws.String(cidr), AvailabilityZoneId: aws.String(zone),
			TagSpecifications: tagSpec(ec2types.ResourceTypeSubnet, "Name", "site-a-"+zone)}, noRetryEC2)
	}
	s1 := must[*ec2.CreateSubnetOutput](t)(subnet("10.20.0.0/20", "euc1-az1")).Subnet
	if aws.ToString(s1.AvailabilityZoneId) != "euc1-az1" || aws.ToString(s1.AvailabilityZone) != "eu-central-1a" ||
		aws.ToInt32(s1.AvailableIpAddressCount) != 4091 || aws.ToString(s1.VpcId) != vpcID || !strings.HasPrefix(aws.ToString(s1.SubnetId), "subnet-") {
		t.Fatalf("subnet: %+v", s1)
	}
	must[*ec2.CreateSubnetOutput](t)(subnet("10.20.16.0/20", "euc1-az2"))
	for _, tc := range []struct{ cidr, code string }{
		{"10.20.8.0/24", "InvalidSubnet.Conflict"},
		{"10.21.0.0/24", "InvalidSubnet.Range"},
		{"10.20.32.0/29", "InvalidSubnet.Range"},
		{"10.20.32.5/24", "InvalidParameterValue"},
		{"banana", "InvalidParameterValue"},
	} {
		if _, err := subnet(tc.cidr, "euc1-az3"); apiCode(err) != tc.code {
			t.Errorf("subnet %s: %v, want %s", tc.cidr, err, tc.code)
		}
	}
	subs := must[*ec2.DescribeSubnetsOutput](t)(ev.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{
		Filters: []ec2types.Filter{ec2Filter("vpc-id", vpcID), ec2Filter("availability-zone-id", "euc1-az2")}}))
	if len(subs.Subnets) != 1 || aws.ToString(subs.Subnets[0].CidrBlock) != "10.20.16.0/20" || tagValue(subs.Subnets[0].Tags, "Name") != "site-a-euc1-az2" {
		t.Fatalf("describe subnets: %+v", subs.Subnets)
	}

	for _, tc := range []struct {
		name string
		call func() error
		code string
	}{
		{"vpc /8", func() error {
			_, err := ev.ec2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/8")}, noRetryEC2)
			return err
		}, "InvalidVpc.Range"},
		{"vpc /29", func() error {
			_, err := ev.ec2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/29")}, noRetryEC2)
			return err
		}, "InvalidVpc.Range"},
		{"wrong tag type", func() error {
			_, err := ev.ec2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.30.0.0/16"), TagSpecifications: tagSpec(ec2types.ResourceTypeSubnet, "Name", "x")}, noRetryEC2)
			return err
		}, "InvalidParameterValue"},
		{"unknown filter", func() error {
			_, err := ev.ec2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []ec2types.Filter{ec2Filter("colour", "blue")}}, noRetryEC2)
			return err
		}, "InvalidParameterValue"},
		{"malformed id", func() error {
			_, err := ev.ec2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{"vpc-nothex"}}, noRetryEC2)
			return err
		}, "InvalidVpcID.Malformed"},
		{"unknown id", func() error {
			_, err := ev.ec2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{"vpc-0123456789abcdef0"}}, noRetryEC2)
			return err
		}, "InvalidVpcID.NotFound"},
		{"subnet of unknown vpc", func() error {
			_, err := ev.ec2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String("vpc-0123456789abcdef0"), CidrBlock: aws.String("10.0.0.0/24")}, noRetryEC2)
			return err
		}, "InvalidVpcID.NotFound"},
		{"delete vpc with subnets", func() error {
			_, err := ev.ec2.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: aws.String(vpcID)}, noRetryEC2)
			return err
		}, "DependencyViolation"},
		{"dry run", func() error {
			_, err := ev.ec2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{DryRun: aws.Bool(true)}, noRetryEC2)
			return err
		}, "DryRunOperation"},
	} {
		if got := apiCode(tc.call()); got != tc.code {
			t.Errorf("%s: code %q, want %q", tc.name, got, tc.code)
		}
	}

	for _, s := range subs.Subnets {
		must[*ec2.DeleteSubnetOutput](t)(ev.ec2.DeleteSubnet(ctx, &ec2.DeleteSubnetInput{SubnetId: s.SubnetId}))
	}
	must[*ec2.DeleteSubnetOutput](t)(ev.ec2.DeleteSubnet(ctx, &ec2.DeleteSubnetInput{SubnetId: s1.SubnetId}))
	if _, err := ev.ec2.DeleteSubnet(ctx, &ec2.DeleteSubnetInput{SubnetId: s1.SubnetId}, noRetryEC2); apiCode(err) != "InvalidSubnetID.NotFound" {
		t.Fatalf("delete subnet twice: %v", err)
	}
	must[*ec2.DeleteVpcOutput](t)(ev.ec2.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: aws.String(vpcID)}))
	if _, err := ev.ec2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{RouteTableIds: []string{aws.ToString(rt.RouteTableId)}}, noRetryEC2); apiCode(err) != "InvalidRouteTableID.NotFound" {
		t.Fatalf("main route table after DeleteVpc: %v", err)
	}
	if inv := ev.leftovers(); !inv.Empty() {
		t.Fatalf("leftovers: %+v", inv)
	}
}

func TestVpcQuotaAndTags(t *testing.T) {
	ev := newEnv(t, envConfig{})
	var ids []string
	for i := range maxVpcs {
		ids = append(ids, ev.vpc(t, fmt.Sprintf("10.%d.0.0/16", i), fmt.Sprintf("v%d", i)))
	}
	_, err := ev.ec2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.99.0.0/16")}, noRetryEC2)
	if apiCode(err) != "VpcLimitExceeded" {
		t.Fatalf("sixth VPC: %v", err)
	}
	// Another region has its own quota.
	other := ev.vpc(t, "10.99.0.0/16", "other", inRegion("us-east-1"))

	must[*ec2.CreateTagsOutput](t)(ev.ec2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: ids[:2],
		Tags: []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String("renamed")}, {Key: aws.String("env"), Value: aws.String("prod")}}}))
	d := must[*ec2.DescribeVpcsOutput](t)(ev.ec2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []ec2types.Filter{ec2Filter("tag:Name", "renamed")}}))
	if len(d.Vpcs) != 2 || tagValue(d.Vpcs[0].Tags, "env") != "prod" {
		t.Fatalf("after CreateTags: %+v", d.Vpcs)
	}
	if d := must[*ec2.DescribeVpcsOutput](t)(ev.ec2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []ec2types.Filter{ec2Filter("tag:Name", "v0")}})); len(d.Vpcs) != 0 {
		t.Fatalf("old name still matches: %+v", d.Vpcs)
	}
	for _, tc := range []struct {
		in   *ec2.CreateTagsInput
		code string
	}{
		{&ec2.CreateTagsInput{Resources: []string{other}, Tags: []ec2types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}}, "InvalidVpcID.NotFound"},
		{&ec2.CreateTagsInput{Resources: []string{"i-0123456789abcdef0"}, Tags: []ec2types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}}, "InvalidID"},
		{&ec2.CreateTagsInput{Resources: ids[:1], Tags: []ec2types.Tag{{Key: aws.String("aws:x"), Value: aws.String("v")}}}, "InvalidParameterValue"},
	} {
		if _, err := ev.ec2.CreateTags(ctx, tc.in, noRetryEC2); apiCode(err) != tc.code {
			t.Errorf("CreateTags %v: %v, want %s", tc.in.Resources, err, tc.code)
		}
	}
	if n := len(ev.resources(kindTag)); n != 4 {
		t.Fatalf("%d Tag objects, want 4", n)
	}
	for _, id := range ids {
		must[*ec2.DeleteVpcOutput](t)(ev.ec2.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: aws.String(id)}))
	}
	must[*ec2.DeleteVpcOutput](t)(ev.ec2.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: aws.String(other)}, inRegion("us-east-1")))
	if inv := ev.leftovers(); !inv.Empty() {
		t.Fatalf("leftovers: %+v", inv)
	}
}

func TestSecurityGroups(t *testing.T) {
	ev := newEnv(t, envConfig{})
	vpcID := ev.vpc(t, "10.20.0.0/16", "site-a")
	create := func(name string) (*ec2.CreateSecurityGroupOutput, error) {
		return ev.ec2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String(name), Description: aws.String("mesh"),
			VpcId: aws.String(vpcID), TagSpecifications: tagSpec(ec2types.ResourceTypeSecurityGroup, "Name", name)}, noRetryEC2)
	}
	sg := must[*ec2.CreateSecurityGroupOutput](t)(create("site-a-mesh"))
	sgID := aws.ToString(sg.GroupId)
	if !strings.HasPrefix(sgID, "sg-") || tagValue(sg.Tags, "Name") != "site-a-mesh" || !strings.HasSuffix(aws.ToString(sg.SecurityGroupArn), ":security-group/"+sgID) {
		t.Fatalf("create: %+v", sg)
	}
	if _, err := create("site-a-mesh"); apiCode(err) != "InvalidGroup.Duplicate" {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := create("sg-1"); apiCode(err) != "InvalidParameterValue" {
		t.Fatalf("sg- name: %v", err)
	}

	all := func(cidrs ...string) []ec2types.IpPermission {
		p := ec2types.IpPermission{IpProtocol: aws.String("-1")}
		for _, c := range cidrs {
			p.IpRanges = append(p.IpRanges, ec2types.IpRange{CidrIp: aws.String(c), Description: aws.String("mesh")})
		}
		return []ec2types.IpPermission{p}
	}
	auth := must[*ec2.AuthorizeSecurityGroupIngressOutput](t)(ev.ec2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{
		GroupId: aws.String(sgID), IpPermissions: append(all("10.20.0.0/16", "10.30.0.0/16"),
			ec2types.IpPermission{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}})}))
	if !aws.ToBool(auth.Return) || len(auth.SecurityGroupRules) != 3 || !strings.HasPrefix(aws.ToString(auth.SecurityGroupRules[0].SecurityGroupRuleId), "sgr-") {
		t.Fatalf("authorize: %+v", auth)
	}
	_, err := ev.ec2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(sgID),
		IpPermissions: all("10.40.0.0/16", "10.30.0.0/16")}, noRetryEC2)
	if apiCode(err) != "InvalidPermission.Duplicate" {
		t.Fatalf("duplicate rule: %v", err)
	}
	for in, code := range map[*ec2.AuthorizeSecurityGroupIngressInput]string{
		{GroupId: aws.String(sgID), IpPermissions: all("10.50.0.1/16")}:                                                                               "InvalidParameterValue",
		{GroupId: aws.String(sgID), IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("gre?"), IpRanges: all("1.0.0.0/8")[0].IpRanges}}}: "InvalidParameterValue",
		{GroupId: aws.String(sgID), IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("tcp"), IpRanges: all("1.0.0.0/8")[0].IpRanges}}}:  "InvalidParameterValue",
		{GroupId: aws.String("sg-0123456789abcdef0"), IpPermissions: all("10.50.0.0/16")}:                                                             "InvalidGroup.NotFound",
	} {
		if _, err := ev.ec2.AuthorizeSecurityGroupIngress(ctx, in, noRetryEC2); apiCode(err) != code {
			t.Errorf("authorize %+v: %v, want %s", in.IpPermissions, err, code)
		}
	}

	describe := func(filters ...ec2types.Filter) []ec2types.SecurityGroup {
		return must[*ec2.DescribeSecurityGroupsOutput](t)(ev.ec2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: filters})).SecurityGroups
	}
	groups := describe(ec2Filter("vpc-id", vpcID), ec2Filter("group-name", "site-a-mesh"))
	if len(groups) != 1 || aws.ToString(groups[0].GroupId) != sgID || len(groups[0].IpPermissions) != 2 || len(groups[0].IpPermissionsEgress) != 1 {
		t.Fatalf("describe: %+v", groups)
	}
	perm := groups[0].IpPermissions[0] // "-1" sorts before "tcp"
	var cidrs []string
	for _, r := range perm.IpRanges {
		cidrs = append(cidrs, aws.ToString(r.CidrIp))
	}
	if aws.ToString(perm.IpProtocol) != "-1" || perm.FromPort != nil || !slices.Equal(cidrs, []string{"10.20.0.0/16", "10.30.0.0/16"}) ||
		aws.ToInt32(groups[0].IpPermissions[1].FromPort) != 22 {
		t.Fatalf("permissions: %+v", groups[0].IpPermissions)
	}
	if g := describe(ec2Filter("ip-permission.cidr", "10.30.0.0/16")); len(g) != 1 {
		t.Fatalf("by rule cidr: %+v", g)
	}

	rev := must[*ec2.RevokeSecurityGroupIngressOutput](t)(ev.ec2.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{
		GroupId: aws.String(sgID), IpPermissions: all("10.30.0.0/16", "10.99.0.0/16")}))
	if !aws.ToBool(rev.Return) || len(rev.UnknownIpPermissions) != 1 || aws.ToString(rev.UnknownIpPermissions[0].IpRanges[0].CidrIp) != "10.99.0.0/16" {
		t.Fatalf("revoke: %+v", rev)
	}
	if _, err := ev.ec2.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(sgID), IpPermissions: all("10.99.0.0/16")}, noRetryEC2); apiCode(err) != "InvalidPermission.NotFound" {
		t.Fatalf("revoke unknown: %v", err)
	}
	if n := len(ev.resources(kindRule)); n != 2 {
		t.Fatalf("%d rules left, want 2", n)
	}
	if _, err := ev.ec2.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: aws.String(vpcID)}, noRetryEC2); apiCode(err) != "DependencyViolation" {
		t.Fatalf("delete VPC with a group: %v", err)
	}
	del := must[*ec2.DeleteSecurityGroupOutput](t)(ev.ec2.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(sgID)}))
	if aws.ToString(del.GroupId) != sgID {
		t.Fatalf("delete: %+v", del)
	}
	must[*ec2.DeleteVpcOutput](t)(ev.ec2.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: aws.String(vpcID)}))
	if inv := ev.leftovers(); !inv.Empty() {
		t.Fatalf("leftovers: %+v", inv)
	}
}

// vpnSetup is a VPC with an available, attached gateway and a customer
// gateway.
type vpnSetup struct {
	vpc, rtb, vgw, cgw string
}

func (ev *env) vpnSetup(t *testing.T) vpnSetup {
	t.Helper()
	var v vpnSetup
	v.vpc = ev.vpc(t, "10.20.0.0/16", "site-a")
	v.rtb = aws.ToString(ev.mainRouteTable(t, v.vpc).RouteTableId)
	gw := must[*ec2.CreateVpnGatewayOutput](t)(ev.ec2.CreateVpnGateway(ctx, &ec2.CreateVpnGatewayInput{Type: ec2types.GatewayTypeIpsec1,
		AmazonSideAsn: aws.Int64(64620), TagSpecifications: tagSpec(ec2types.ResourceTypeVpnGateway, "Name", "site-a")})).VpnGateway
	v.vgw = aws.ToString(gw.VpnGatewayId)
	if !strings.HasPrefix(v.vgw, "vgw-") || gw.State != ec2types.VpnStatePending || aws.ToInt64(gw.AmazonSideAsn) != 64620 || gw.Type != ec2types.GatewayTypeIpsec1 {
		t.Fatalf("create gateway: %+v", gw)
	}
	_, err := ev.ec2.AttachVpnGateway(ctx, &ec2.AttachVpnGatewayInput{VpcId: aws.String(v.vpc), VpnGatewayId: aws.String(v.vgw)}, noRetryEC2)
	if apiCode(err) != "IncorrectState" {
		t.Fatalf("attach while pending: %v", err)
	}
	ev.clock.Advance(testDurations.PoolCreate)
	att := must[*ec2.AttachVpnGatewayOutput](t)(ev.ec2.AttachVpnGateway(ctx, &ec2.AttachVpnGatewayInput{VpcId: aws.String(v.vpc), VpnGatewayId: aws.String(v.vgw)}))
	if aws.ToString(att.VpcAttachment.VpcId) != v.vpc || att.VpcAttachment.State != ec2types.AttachmentStatusAttaching {
		t.Fatalf("attach: %+v", att.VpcAttachment)
	}
	must[*ec2.EnableVgwRoutePropagationOutput](t)(ev.ec2.EnableVgwRoutePropagation(ctx, &ec2.EnableVgwRoutePropagationInput{
		GatewayId: aws.String(v.vgw), RouteTableId: aws.String(v.rtb)}))
	ev.clock.Advance(testDurations.PoolUpdate)
	gws := must[*ec2.DescribeVpnGatewaysOutput](t)(ev.ec2.DescribeVpnGateways(ctx, &ec2.DescribeVpnGatewaysInput{
		Filters: []ec2types.Filter{ec2Filter("attachment.vpc-id", v.vpc), ec2Filter("attachment.state", "attached")}})).VpnGateways
	if len(gws) != 1 || gws[0].State != ec2types.VpnStateAvailable || len(gws[0].VpcAttachments) != 1 {
		t.Fatalf("describe gateway: %+v", gws)
	}
	rt := ev.mainRouteTable(t, v.vpc)
	if len(rt.PropagatingVgws) != 1 || aws.ToString(rt.PropagatingVgws[0].GatewayId) != v.vgw {
		t.Fatalf("propagation: %+v", rt.PropagatingVgws)
	}
	cgw := must[*ec2.CreateCustomerGatewayOutput](t)(ev.ec2.CreateCustomerGateway(ctx, &ec2.CreateCustomerGatewayInput{Type: ec2types.GatewayTypeIpsec1,
		BgpAsn: aws.Int32(65010), IpAddress: aws.String("203.0.113.10"), TagSpecifications: tagSpec(ec2types.ResourceTypeCustomerGateway, "Name", "peer")})).CustomerGateway
	v.cgw = aws.ToString(cgw.CustomerGatewayId)
	if !strings.HasPrefix(v.cgw, "cgw-") || aws.ToString(cgw.BgpAsn) != "65010" || aws.ToString(cgw.IpAddress) != "203.0.113.10" || aws.ToString(cgw.State) != "available" {
		t.Fatalf("customer gateway: %+v", cgw)
	}
	return v
}

func tunnels(opts ...[2]string) *ec2types.VpnConnectionOptionsSpecification {
	o := &ec2types.VpnConnectionOptionsSpecification{StaticRoutesOnly: aws.Bool(false)}
	for _, t := range opts {
		o.TunnelOptions = append(o.TunnelOptions, ec2types.VpnTunnelOptionsSpecification{TunnelInsideCidr: aws.String(t[0]), PreSharedKey: aws.String(t[1])})
	}
	return o
}

func TestVpnConnection(t *testing.T) {
	ev := newEnv(t, envConfig{})
	v := ev.vpnSetup(t)
	create := func(o *ec2types.VpnConnectionOptionsSpecification) (*ec2.CreateVpnConnectionOutput, error) {
		return ev.ec2.CreateVpnConnection(ctx, &ec2.CreateVpnConnectionInput{Type: aws.String("ipsec.1"), CustomerGatewayId: aws.String(v.cgw),
			VpnGatewayId: aws.String(v.vgw), Options: o, TagSpecifications: tagSpec(ec2types.ResourceTypeVpnConnection, "Name", "to-peer")}, noRetryEC2)
	}
	for name, o := range map[string]*ec2types.VpnConnectionOptionsSpecification{
		"reserved cidr":     tunnels([2]string{"169.254.3.0/30", "key.one_1"}),
		"reserved 169.252":  tunnels([2]string{"169.254.169.252/30", "key.one_1"}),
		"not /30":           tunnels([2]string{"169.254.21.0/29", "key.one_1"}),
		"not link-local":    tunnels([2]string{"10.0.0.0/30", "key.one_1"}),
		"not aligned":       tunnels([2]string{"169.254.21.1/30", "key.one_1"}),
		"same cidr twice":   tunnels([2]string{"169.254.21.0/30", "key.one_1"}, [2]string{"169.254.21.0/30", "key.two_2"}),
		"psk starts with 0": tunnels([2]string{"169.254.21.0/30", "0keyone11"}),
		"psk too short":     tunnels([2]string{"169.254.21.0/30", "short"}),
		"psk bad character": tunnels([2]string{"169.254.21.0/30", "key-one-1"}),
		"three tunnels":     tunnels([2]string{"169.254.21.0/30", "key.one_1"}, [2]string{"169.254.21.4/30", "key.two_2"}, [2]string{"169.254.21.8/30", "key.three"}),
	} {
		if _, err := create(o); apiCode(err) != "InvalidParameterValue" {
			t.Errorf("%s: %v, want InvalidParameterValue", name, err)
		}
	}

	out := must[*ec2.CreateVpnConnectionOutput](t)(create(tunnels([2]string{"169.254.21.0/30", "key.one_1"}, [2]string{"169.254.21.4/30", "key.two_2"})))
	conn := out.VpnConnection
	id := aws.ToString(conn.VpnConnectionId)
	if !strings.HasPrefix(id, "vpn-") || conn.State != ec2types.VpnStatePending || aws.ToString(conn.CustomerGatewayId) != v.cgw ||
		aws.ToString(conn.VpnGatewayId) != v.vgw || len(conn.Options.TunnelOptions) != 2 || len(conn.VgwTelemetry) != 2 {
		t.Fatalf("create: %+v", conn)
	}
	var outside []string
	for i, opt := range conn.Options.TunnelOptions {
		ip := netip.MustParseAddr(aws.ToString(opt.OutsideIpAddress))
		if !netip.MustParsePrefix("198.18.0.0/15").Contains(ip) || aws.ToString(opt.OutsideIpAddress) != aws.ToString(conn.VgwTelemetry[i].OutsideIpAddress) {
			t.Fatalf("outside address %v", opt)
		}
		outside = append(outside, ip.String())
		if conn.VgwTelemetry[i].Status != ec2types.TelemetryStatusDown {
			t.Fatalf("pending connection telemetry %+v", conn.VgwTelemetry[i])
		}
	}
	if outside[0] == outside[1] || aws.ToString(conn.Options.TunnelOptions[1].TunnelInsideCidr) != "169.254.21.4/30" ||
		aws.ToString(conn.Options.TunnelOptions[1].PreSharedKey) != "key.two_2" {
		t.Fatalf("tunnel options %+v", conn.Options.TunnelOptions)
	}
	// The same inside CIDR on the same gateway is taken.
	if _, err := create(tunnels([2]string{"169.254.21.4/30", "key.one_1"})); apiCode(err) != "InvalidParameterValue" {
		t.Fatalf("inside CIDR reuse: %v", err)
	}

	ev.clock.Advance(testDurations.PoolCreate)
	describe := func() ec2types.VpnConnection {
		d := must[*ec2.DescribeVpnConnectionsOutput](t)(ev.ec2.DescribeVpnConnections(ctx, &ec2.DescribeVpnConnectionsInput{
			Filters: []ec2types.Filter{ec2Filter("tag:Name", "to-peer"), ec2Filter("state", "pending", "available")}}))
		if len(d.VpnConnections) != 1 {
			t.Fatalf("describe: %+v", d.VpnConnections)
		}
		return d.VpnConnections[0]
	}
	c := describe()
	if c.State != ec2types.VpnStateAvailable || c.VgwTelemetry[0].Status != ec2types.TelemetryStatusDown ||
		!strings.Contains(aws.ToString(c.VgwTelemetry[0].StatusMessage), "203.0.113.10") {
		t.Fatalf("available without a peer: %+v", c.VgwTelemetry)
	}
	// The peer mirrors tunnel 1 (and gets tunnel 2's key wrong).
	if err := ev.e.RegisterTunnelEnd(cloudsim.TunnelEnd{Cloud: "gcp", ID: "peer/0", LocalIP: "203.0.113.10", PeerIP: outside[0],
		LocalInsideIP: "169.254.21.2", PeerInsideIP: "169.254.21.1", PSK: "key.one_1", LocalASN: 65010, PeerASN: 64620}); err != nil {
		t.Fatal(err)
	}
	if err := ev.e.RegisterTunnelEnd(cloudsim.TunnelEnd{Cloud: "gcp", ID: "peer/1", LocalIP: "203.0.113.10", PeerIP: outside[1],
		LocalInsideIP: "169.254.21.6", PeerInsideIP: "169.254.21.5", PSK: "wrong.key", LocalASN: 65010, PeerASN: 64620}); err != nil {
		t.Fatal(err)
	}
	c = describe()
	if c.VgwTelemetry[0].Status != ec2types.TelemetryStatusUp || c.VgwTelemetry[1].Status != ec2types.TelemetryStatusDown ||
		!strings.Contains(aws.ToString(c.VgwTelemetry[1].StatusMessage), "pre-shared key") || c.VgwTelemetry[0].LastStatusChange == nil {
		t.Fatalf("telemetry with a peer: %+v", c.VgwTelemetry)
	}

	for _, tc := range []struct {
		name string
		call func() error
		code string
	}{
		{"delete attached gateway", func() error {
			_, err := ev.ec2.DeleteVpnGateway(ctx, &ec2.DeleteVpnGatewayInput{VpnGatewayId: aws.String(v.vgw)}, noRetryEC2)
			return err
		}, "IncorrectState"},
		{"delete customer gateway in use", func() error {
			_, err := ev.ec2.DeleteCustomerGateway(ctx, &ec2.DeleteCustomerGatewayInput{CustomerGatewayId: aws.String(v.cgw)}, noRetryEC2)
			return err
		}, "IncorrectState"},
		{"delete VPC with gateway", func() error {
			_, err := ev.ec2.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: aws.String(v.vpc)}, noRetryEC2)
			return err
		}, "DependencyViolation"},
		{"attach twice", func() error {
			_, err := ev.ec2.AttachVpnGateway(ctx, &ec2.AttachVpnGatewayInput{VpcId: aws.String(v.vpc), VpnGatewayId: aws.String(v.vgw)}, noRetryEC2)
			return err
		}, "IncorrectState"},
	} {
		if got := apiCode(tc.call()); got != tc.code {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.code)
		}
	}

	must[*ec2.DeleteVpnConnectionOutput](t)(ev.ec2.DeleteVpnConnection(ctx, &ec2.DeleteVpnConnectionInput{VpnConnectionId: aws.String(id)}))
	if up, detail := ev.e.TunnelStatus("aws", id+"/1"); up || detail != "tunnel not found" {
		t.Fatalf("tunnel end after delete: %v %s", up, detail)
	}
	if _, err := ev.ec2.DescribeVpnConnections(ctx, &ec2.DescribeVpnConnectionsInput{VpnConnectionIds: []string{id}}, noRetryEC2); apiCode(err) != "InvalidVpnConnectionID.NotFound" {
		t.Fatalf("describe deleted: %v", err)
	}
	// Still attached: the gateway cannot go yet.
	if _, err := ev.ec2.DeleteVpnGateway(ctx, &ec2.DeleteVpnGatewayInput{VpnGatewayId: aws.String(v.vgw)}, noRetryEC2); apiCode(err) != "IncorrectState" {
		t.Fatalf("delete attached gateway: %v", err)
	}
	must[*ec2.DetachVpnGatewayOutput](t)(ev.ec2.DetachVpnGateway(ctx, &ec2.DetachVpnGatewayInput{VpcId: aws.String(v.vpc), VpnGatewayId: aws.String(v.vgw)}))
	if rt := ev.mainRouteTable(t, v.vpc); len(rt.PropagatingVgws) != 0 {
		t.Fatalf("propagation after detach: %+v", rt.PropagatingVgws)
	}
	if _, err := ev.ec2.DetachVpnGateway(ctx, &ec2.DetachVpnGatewayInput{VpcId: aws.String(v.vpc), VpnGatewayId: aws.String(v.vgw)}, noRetryEC2); apiCode(err) != "InvalidVpnGatewayAttachment.NotFound" {
		t.Fatalf("detach twice: %v", err)
	}
	must[*ec2.DeleteVpnGatewayOutput](t)(ev.ec2.DeleteVpnGateway(ctx, &ec2.DeleteVpnGatewayInput{VpnGatewayId: aws.String(v.vgw)}))
	must[*ec2.DeleteCustomerGatewayOutput](t)(ev.ec2.DeleteCustomerGateway(ctx, &ec2.DeleteCustomerGatewayInput{CustomerGatewayId: aws.String(v.cgw)}))
	must[*ec2.DeleteVpcOutput](t)(ev.ec2.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: aws.String(v.vpc)}))
	if inv := ev.leftovers(); !inv.Empty() {
		t.Fatalf("leftovers: %+v", inv)
	}
}

// TestVpnConnectionDefaults: a tunnel without options gets a free inside
// CIDR and a key of its own.
func TestVpnConnectionDefaults(t *testing.T) {
	ev := newEnv(t, envConfig{})
	v := ev.vpnSetup(t)
	conn := must[*ec2.CreateVpnConnectionOutput](t)(ev.ec2.CreateVpnConnection(ctx, &ec2.CreateVpnConnectionInput{Type: aws.String("ipsec.1"),
		CustomerGatewayId: aws.String(v.cgw), VpnGatewayId: aws.String(v.vgw), Options: tunnels([2]string{"169.254.21.0/30", "key.one_1"})})).VpnConnection
	second := conn.Options.TunnelOptions[1]
	if _, err := checkTunnelCIDR(aws.ToString(second.TunnelInsideCidr)); err != nil || aws.ToString(second.TunnelInsideCidr) == "169.254.21.0/30" {
		t.Fatalf("generated inside CIDR %q: %v", aws.ToString(second.TunnelInsideCidr), err)
	}
	if err := checkPSK(aws.ToString(second.PreSharedKey)); err != nil {
		t.Fatalf("generated key %q: %v", aws.ToString(second.PreSharedKey), err)
	}
	if _, err := ev.ec2.CreateVpnConnection(ctx, &ec2.CreateVpnConnectionInput{Type: aws.String("ipsec.1"), CustomerGatewayId: aws.String("cgw-0123456789abcdef0"),
		VpnGatewayId: aws.String(v.vgw)}, noRetryEC2); apiCode(err) != "InvalidCustomerGatewayID.NotFound" {
		t.Fatalf("unknown customer gateway: %v", err)
	}
}

// TestModifyVpnTunnelOptions: the second tunnel of a connection created
// with options for one gets gpufleet's inside CIDR and key in place (its
// outside address stays), is down while AWS replaces it, and comes up
// once a peer mirrors it; what EC2 refuses is refused.
func TestModifyVpnTunnelOptions(t *testing.T) {
	ev := newEnv(t, envConfig{})
	v := ev.vpnSetup(t)
	conn := must[*ec2.CreateVpnConnectionOutput](t)(ev.ec2.CreateVpnConnection(ctx, &ec2.CreateVpnConnectionInput{Type: aws.String("ipsec.1"),
		CustomerGatewayId: aws.String(v.cgw), VpnGatewayId: aws.String(v.vgw), Options: tunnels([2]string{"169.254.21.0/30", "key.one_1"})})).VpnConnection
	id := conn.VpnConnectionId
	second := aws.ToString(conn.Options.TunnelOptions[1].OutsideIpAddress)
	modify := func(outside, cidr, psk string) (*ec2.ModifyVpnTunnelOptionsOutput, error) {
		o := &ec2types.ModifyVpnTunnelOptionsSpecification{}
		if cidr != "" {
			o.TunnelInsideCidr = aws.String(cidr)
		}
		if psk != "" {
			o.PreSharedKey = aws.String(psk)
		}
		return ev.ec2.ModifyVpnTunnelOptions(ctx, &ec2.ModifyVpnTunnelOptionsInput{VpnConnectionId: id, VpnTunnelOutsideIpAddress: aws.String(outside), TunnelOptions: o}, noRetryEC2)
	}
	if _, err := modify(second, "169.254.21.4/30", "key.two_2"); apiCode(err) != "IncorrectState" {
		t.Fatalf("modify while pending: %v, want IncorrectState", err)
	}
	ev.clock.Advance(testDurations.PoolCreate)
	for _, tc := range []struct {
		name, outside, cidr, psk, code string
	}{
		{"unknown outside address", "198.51.100.7", "169.254.21.4/30", "key.two_2", "InvalidParameterValue"},
		{"reserved cidr", second, "169.254.5.0/30", "key.two_2", "InvalidParameterValue"},
		{"not /30", second, "169.254.21.4/29", "key.two_2", "InvalidParameterValue"},
		{"cidr of the other tunnel", second, "169.254.21.0/30", "key.two_2", "InvalidParameterValue"},
		{"psk starts with 0", second, "169.254.21.4/30", "0keytwo22", "InvalidParameterValue"},
	} {
		if _, err := modify(tc.outside, tc.cidr, tc.psk); apiCode(err) != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
	}
	out := must[*ec2.ModifyVpnTunnelOptionsOutput](t)(modify(second, "169.254.21.4/30", "key.two_2")).VpnConnection
	opt, tel := out.Options.TunnelOptions[1], out.VgwTelemetry[1]
	if aws.ToString(opt.OutsideIpAddress) != second || aws.ToString(opt.TunnelInsideCidr) != "169.254.21.4/30" || aws.ToString(opt.PreSharedKey) != "key.two_2" ||
		tel.Status != ec2types.TelemetryStatusDown || !strings.Contains(aws.ToString(tel.StatusMessage), "modifying") {
		t.Fatalf("modified tunnel %+v, telemetry %+v", opt, tel)
	}
	if _, err := modify(second, "169.254.21.8/30", "key.two_2"); apiCode(err) != "IncorrectState" {
		t.Fatalf("modify while modifying: %v, want IncorrectState", err)
	}
	if err := ev.e.RegisterTunnelEnd(cloudsim.TunnelEnd{Cloud: "gcp", ID: "peer/1", LocalIP: "203.0.113.10", PeerIP: second,
		LocalInsideIP: "169.254.21.6", PeerInsideIP: "169.254.21.5", PSK: "key.two_2", LocalASN: 65010, PeerASN: 64620}); err != nil {
		t.Fatal(err)
	}
	ev.clock.Advance(testDurations.PoolCreate)
	d := must[*ec2.DescribeVpnConnectionsOutput](t)(ev.ec2.DescribeVpnConnections(ctx, &ec2.DescribeVpnConnectionsInput{VpnConnectionIds: []string{aws.ToString(id)}}))
	if tel := d.VpnConnections[0].VgwTelemetry[1]; tel.Status != ec2types.TelemetryStatusUp {
		t.Fatalf("modified tunnel with a mirroring peer: %+v", tel)
	}
	// A new connection of the gateway cannot take the modified tunnel's range.
	if _, err := ev.ec2.CreateVpnConnection(ctx, &ec2.CreateVpnConnectionInput{Type: aws.String("ipsec.1"), CustomerGatewayId: aws.String(v.cgw),
		VpnGatewayId: aws.String(v.vgw), Options: tunnels([2]string{"169.254.21.4/30", "key.three"})}, noRetryEC2); apiCode(err) != "InvalidParameterValue" {
		t.Fatalf("reusing a modified tunnel's range: %v", err)
	}
	must[*ec2.DeleteVpnConnectionOutput](t)(ev.ec2.DeleteVpnConnection(ctx, &ec2.DeleteVpnConnectionInput{VpnConnectionId: id}))
	if left := ev.resources("VpnTunnelModification"); len(left) != 0 {
		t.Fatalf("modifications left after the connection: %+v", left)
	}
}

func TestPeeringAndRoutes(t *testing.T) {
	ev := newEnv(t, envConfig{})
	const east = "us-east-1"
	a := ev.vpc(t, "10.20.0.0/16", "site-a")
	b := ev.vpc(t, "10.30.0.0/16", "site-b", inRegion(east))
	overlapping := ev.vpc(t, "10.20.0.0/20", "site-c", inRegion(east))

	failed := must[*ec2.CreateVpcPeeringConnectionOutput](t)(ev.ec2.CreateVpcPeeringConnection(ctx, &ec2.CreateVpcPeeringConnectionInput{
		VpcId: aws.String(a), PeerVpcId: aws.String(overlapping), PeerRegion: aws.String(east)})).VpcPeeringConnection
	if failed.Status.Code != ec2types.VpcPeeringConnectionStateReasonCodeFailed || !strings.Contains(aws.ToString(failed.Status.Message), "Overlapping") {
		t.Fatalf("overlapping peering: %+v", failed.Status)
	}
	must[*ec2.DeleteVpcPeeringConnectionOutput](t)(ev.ec2.DeleteVpcPeeringConnection(ctx, &ec2.DeleteVpcPeeringConnectionInput{VpcPeeringConnectionId: failed.VpcPeeringConnectionId}))

	pcx := must[*ec2.CreateVpcPeeringConnectionOutput](t)(ev.ec2.CreateVpcPeeringConnection(ctx, &ec2.CreateVpcPeeringConnectionInput{
		VpcId: aws.String(a), PeerVpcId: aws.String(b), PeerRegion: aws.String(east),
		TagSpecifications: tagSpec(ec2types.ResourceTypeVpcPeeringConnection, "Name", "a-b")})).VpcPeeringConnection
	id := aws.ToString(pcx.VpcPeeringConnectionId)
	if !strings.HasPrefix(id, "pcx-") || pcx.Status.Code != ec2types.VpcPeeringConnectionStateReasonCodeInitiatingRequest ||
		aws.ToString(pcx.RequesterVpcInfo.Region) != region || aws.ToString(pcx.AccepterVpcInfo.Region) != east ||
		aws.ToString(pcx.AccepterVpcInfo.CidrBlock) != "10.30.0.0/16" {
		t.Fatalf("create: %+v", pcx)
	}
	if _, err := ev.ec2.CreateVpcPeeringConnection(ctx, &ec2.CreateVpcPeeringConnectionInput{VpcId: aws.String(a), PeerVpcId: aws.String(b),
		PeerRegion: aws.String(east)}, noRetryEC2); apiCode(err) != "VpcPeeringConnectionAlreadyExists" {
		t.Fatalf("second peering: %v", err)
	}
	// Both regions see it; only the accepter's accepts it.
	for _, r := range []string{region, east} {
		d := must[*ec2.DescribeVpcPeeringConnectionsOutput](t)(ev.ec2.DescribeVpcPeeringConnections(ctx, &ec2.DescribeVpcPeeringConnectionsInput{
			Filters: []ec2types.Filter{ec2Filter("tag:Name", "a-b"), ec2Filter("status-code", "pending-acceptance")}}, inRegion(r)))
		if len(d.VpcPeeringConnections) != 1 || d.VpcPeeringConnections[0].ExpirationTime == nil {
			t.Fatalf("%s: %+v", r, d.VpcPeeringConnections)
		}
	}
	if d := must[*ec2.DescribeVpcPeeringConnectionsOutput](t)(ev.ec2.DescribeVpcPeeringConnections(ctx, &ec2.DescribeVpcPeeringConnectionsInput{}, inRegion("ap-south-1"))); len(d.VpcPeeringConnections) != 0 {
		t.Fatalf("a third region sees %+v", d.VpcPeeringConnections)
	}
	if _, err := ev.ec2.AcceptVpcPeeringConnection(ctx, &ec2.AcceptVpcPeeringConnectionInput{VpcPeeringConnectionId: aws.String(id)}, noRetryEC2); apiCode(err) != "OperationNotPermitted" {
		t.Fatalf("accept from the requester: %v", err)
	}

	rtA, rtB := ev.mainRouteTable(t, a), ev.mainRouteTable(t, b, inRegion(east))
	route := func(rt ec2types.RouteTable, dest string, opts ...func(*ec2.Options)) error {
		_, err := ev.ec2.CreateRoute(ctx, &ec2.CreateRouteInput{RouteTableId: rt.RouteTableId, DestinationCidrBlock: aws.String(dest),
			VpcPeeringConnectionId: aws.String(id)}, append(opts, noRetryEC2)...)
		return err
	}
	if err := route(rtA, "10.30.0.0/16"); err != nil {
		t.Fatal(err)
	}
	if st := ev.mainRouteTable(t, a).Routes[1].State; st != ec2types.RouteStateBlackhole {
		t.Fatalf("route to a pending peering: %s", st)
	}
	acc := must[*ec2.AcceptVpcPeeringConnectionOutput](t)(ev.ec2.AcceptVpcPeeringConnection(ctx, &ec2.AcceptVpcPeeringConnectionInput{
		VpcPeeringConnectionId: aws.String(id)}, inRegion(east))).VpcPeeringConnection
	if acc.Status.Code != ec2types.VpcPeeringConnectionStateReasonCodeActive {
		t.Fatalf("accept: %+v", acc.Status)
	}
	if _, err := ev.ec2.AcceptVpcPeeringConnection(ctx, &ec2.AcceptVpcPeeringConnectionInput{VpcPeeringConnectionId: aws.String(id)}, inRegion(east), noRetryEC2); apiCode(err) != "InvalidStateTransition" {
		t.Fatalf("accept twice: %v", err)
	}
	if err := route(rtB, "10.20.0.0/16", inRegion(east)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		rt   ec2types.RouteTable
		dest string
		code string
		opts []func(*ec2.Options)
	}{
		{rtA, "10.30.0.0/16", "RouteAlreadyExists", nil},
		{rtA, "10.20.4.0/24", "InvalidParameterValue", nil},
		{rtB, "10.40.0.0/16", "InvalidRouteTableID.NotFound", nil},
	} {
		if err := route(tc.rt, tc.dest, tc.opts...); apiCode(err) != tc.code {
			t.Errorf("route %s: %v, want %s", tc.dest, err, tc.code)
		}
	}
	got := ev.mainRouteTable(t, a)
	if len(got.Routes) != 2 || aws.ToString(got.Routes[1].VpcPeeringConnectionId) != id || got.Routes[1].State != ec2types.RouteStateActive ||
		got.Routes[1].Origin != ec2types.RouteOriginCreateRoute {
		t.Fatalf("routes: %+v", got.Routes)
	}
	byRoute := must[*ec2.DescribeRouteTablesOutput](t)(ev.ec2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{
		Filters: []ec2types.Filter{ec2Filter("route.vpc-peering-connection-id", id)}}))
	if len(byRoute.RouteTables) != 1 || aws.ToString(byRoute.RouteTables[0].VpcId) != a {
		t.Fatalf("by route: %+v", byRoute.RouteTables)
	}

	if _, err := ev.ec2.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: aws.String(b)}, inRegion(east), noRetryEC2); apiCode(err) != "DependencyViolation" {
		t.Fatalf("delete a peered VPC: %v", err)
	}
	must[*ec2.DeleteVpcPeeringConnectionOutput](t)(ev.ec2.DeleteVpcPeeringConnection(ctx, &ec2.DeleteVpcPeeringConnectionInput{VpcPeeringConnectionId: aws.String(id)}, inRegion(east)))
	if st := ev.mainRouteTable(t, a).Routes[1].State; st != ec2types.RouteStateBlackhole {
		t.Fatalf("route to a deleted peering: %s", st)
	}
	must[*ec2.DeleteRouteOutput](t)(ev.ec2.DeleteRoute(ctx, &ec2.DeleteRouteInput{RouteTableId: rtA.RouteTableId, DestinationCidrBlock: aws.String("10.30.0.0/16")}))
	if _, err := ev.ec2.DeleteRoute(ctx, &ec2.DeleteRouteInput{RouteTableId: rtA.RouteTableId, DestinationCidrBlock: aws.String("10.30.0.0/16")}, noRetryEC2); apiCode(err) != "InvalidRoute.NotFound" {
		t.Fatalf("delete route twice: %v", err)
	}
	// rtB keeps its route: it goes with the VPC.
	must[*ec2.DeleteVpcOutput](t)(ev.ec2.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: aws.String(a)}))
	must[*ec2.DeleteVpcOutput](t)(ev.ec2.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: aws.String(b)}, inRegion(east)))
	must[*ec2.DeleteVpcOutput](t)(ev.ec2.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: aws.String(overlapping)}, inRegion(east)))
	if inv := ev.leftovers(); !inv.Empty() {
		t.Fatalf("leftovers: %+v", inv)
	}
}

func TestPeeringExpires(t *testing.T) {
	ev := newEnv(t, envConfig{})
	a, b := ev.vpc(t, "10.20.0.0/16", "a"), ev.vpc(t, "10.30.0.0/16", "b")
	pcx := must[*ec2.CreateVpcPeeringConnectionOutput](t)(ev.ec2.CreateVpcPeeringConnection(ctx, &ec2.CreateVpcPeeringConnectionInput{
		VpcId: aws.String(a), PeerVpcId: aws.String(b)})).VpcPeeringConnection
	ev.clock.Advance(peeringExpiry)
	_, err := ev.ec2.AcceptVpcPeeringConnection(ctx, &ec2.AcceptVpcPeeringConnectionInput{VpcPeeringConnectionId: pcx.VpcPeeringConnectionId}, noRetryEC2)
	if apiCode(err) != "InvalidStateTransition" {
		t.Fatalf("accept expired: %v", err)
	}
	// An expired request does not hold the VPCs.
	must[*ec2.DeleteVpcOutput](t)(ev.ec2.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: aws.String(a)}))
}

func TestNetworkFaultsAndThrottling(t *testing.T) {
	ev := newEnv(t, envConfig{})
	if err := ev.e.Inject(cloudsim.Fault{Cloud: "aws", Op: "CreateVpnGateway", Err: &cloud.Error{Kind: cloud.KindQuota, Code: "VpnGatewayLimitExceeded", Message: "no more"}}); err != nil {
		t.Fatal(err)
	}
	in := &ec2.CreateVpnGatewayInput{Type: ec2types.GatewayTypeIpsec1}
	if _, err := ev.ec2.CreateVpnGateway(ctx, in, noRetryEC2); apiCode(err) != "VpnGatewayLimitExceeded" {
		t.Fatalf("injected coded fault: %v", err)
	}
	if err := ev.e.Inject(cloudsim.Fault{Cloud: "aws", Op: "CreateVpnGateway", Err: &cloud.Error{Kind: cloud.KindTransient, Message: "blip"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ev.ec2.CreateVpnGateway(ctx, in, noRetryEC2); apiCode(err) != "Unavailable" {
		t.Fatalf("injected transient fault: %v", err)
	}
	if n := len(ev.resources(kindVgw)); n != 0 {
		t.Fatalf("%d gateways after faults", n)
	}
	// The SDK retries a 503 Unavailable.
	if err := ev.e.Inject(cloudsim.Fault{Cloud: "aws", Op: "CreateVpnGateway", Err: &cloud.Error{Kind: cloud.KindTransient, Message: "blip"}}); err != nil {
		t.Fatal(err)
	}
	must[*ec2.CreateVpnGatewayOutput](t)(ev.ec2.CreateVpnGateway(ctx, in))

	for range maxVpnGateways - 1 {
		must[*ec2.CreateVpnGatewayOutput](t)(ev.ec2.CreateVpnGateway(ctx, in))
	}
	if _, err := ev.ec2.CreateVpnGateway(ctx, in, noRetryEC2); apiCode(err) != "VpnGatewayLimitExceeded" {
		t.Fatalf("sixth gateway: %v", err)
	}

	ev.vpc(t, "10.20.0.0/16", "a")
	if err := ev.e.SetRateLimit("aws", "GetVpc", 0.001, 0); err != nil {
		t.Fatal(err)
	}
	before := ev.count("ec2 DescribeVpcs")
	if _, err := ev.ec2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{}); apiCode(err) != "RequestLimitExceeded" {
		t.Fatalf("throttled: %v", err)
	}
	if n := ev.count("ec2 DescribeVpcs") - before; n != 3 {
		t.Fatalf("%d requests, want 3 (the SDK retries RequestLimitExceeded)", n)
	}
	if err := ev.e.SetRateLimit("aws", "GetVpc", 0, 0); err != nil {
		t.Fatal(err)
	}
	if calls := ev.e.Calls()["aws/CreateVpc"]; calls != 1 {
		t.Fatalf("engine saw %d CreateVpc calls", calls)
	}
}

// TestUnfinishedWorkIsReported: what a request cannot finish in the engine
// (a deleted resource's child that stays, a half-done create that cannot
// be undone) answers InternalError rather than success.
func TestUnfinishedWorkIsReported(t *testing.T) {
	boom := func(op string) cloudsim.Fault {
		return cloudsim.Fault{Cloud: "aws", Op: op, Err: &cloud.Error{Kind: cloud.KindFatal, Cloud: "aws", Op: op, Message: "disk full"}}
	}
	tests := []struct {
		name   string
		faults []string
		call   func(ev *env, vpcID, subnetID string) error
		// kind is what the failure left behind.
		kind string
	}{
		{"subnet tag stays", []string{"DeleteTag"}, func(ev *env, _, subnetID string) error {
			_, err := ev.ec2.DeleteSubnet(ctx, &ec2.DeleteSubnetInput{SubnetId: aws.String(subnetID)}, noRetryEC2)
			return err
		}, kindTag},
		{"main route table stays", []string{"DeleteRouteTable"}, func(ev *env, vpcID, subnetID string) error {
			if _, err := ev.ec2.DeleteSubnet(ctx, &ec2.DeleteSubnetInput{SubnetId: aws.String(subnetID)}); err != nil {
				return err
			}
			_, err := ev.ec2.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: aws.String(vpcID)}, noRetryEC2)
			return err
		}, kindRouteTable},
		{"vpc not undone", []string{"CreateRouteTable", "DeleteVpc"}, func(ev *env, _, _ string) error {
			_, err := ev.ec2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.30.0.0/16")}, noRetryEC2)
			return err
		}, kindVpc},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := newEnv(t, envConfig{})
			vpc := must[*ec2.CreateVpcOutput](t)(ev.ec2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.20.0.0/16")}))
			sn := must[*ec2.CreateSubnetOutput](t)(ev.ec2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId,
				CidrBlock: aws.String("10.20.1.0/24"), AvailabilityZone: aws.String("eu-central-1a")}))
			must[*ec2.CreateTagsOutput](t)(ev.ec2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{aws.ToString(sn.Subnet.SubnetId)},
				Tags: []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String("a")}}}))
			before := 0
			for _, o := range ev.leftovers().Objects {
				if o.Kind == tt.kind {
					before++
				}
			}
			for _, op := range tt.faults {
				if err := ev.e.Inject(boom(op)); err != nil {
					t.Fatal(err)
				}
			}
			if err := tt.call(ev, aws.ToString(vpc.Vpc.VpcId), aws.ToString(sn.Subnet.SubnetId)); apiCode(err) != "InternalError" {
				t.Fatalf("error %v, want InternalError", err)
			}
			after := 0
			for _, o := range ev.leftovers().Objects {
				if o.Kind == tt.kind {
					after++
				}
			}
			if want := before; tt.kind == kindVpc {
				if after != want+1 {
					t.Fatalf("%d %s objects after, want %d", after, tt.kind, want+1)
				}
			} else if after != want {
				t.Fatalf("%d %s objects after, want %d (left behind)", after, tt.kind, want)
			}
		})
	}
}
