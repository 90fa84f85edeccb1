package aws

import (
	"context"
	"errors"
	"slices"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/eks"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/lazyre"
)

var _ cloud.NodeReplacer = (*Backend)(nil)

// providerIDRE is an EKS node's spec.providerID: aws:///<zone>/<instance-id>
// (the zone may be empty on some nodes: aws:////i-…).
var providerIDRE = lazyre.New(`^aws:///([a-z0-9-]*)/(i-[0-9a-f]{8,17})$`)

// instanceOf returns the EC2 instance ID in a node's provider ID.
func instanceOf(node cloud.NodeRef) (string, error) {
	m := providerIDRE().FindStringSubmatch(node.ProviderID)
	if m == nil {
		return "", cloud.Invalid("aws", "ReplaceNode", "InvalidProviderID", "node %s: provider ID %q is not an EC2 instance (aws:///<zone>/i-…)", node.Name, node.ProviderID)
	}
	return m[2], nil
}

func (b *Backend) autoscaling(region string) *autoscaling.Client {
	return autoscaling.NewFromConfig(b.sdk, func(o *autoscaling.Options) {
		o.Region = region
		if b.cfg.Endpoints.AutoScaling != "" {
			o.BaseEndpoint = awssdk.String(b.cfg.Endpoints.AutoScaling)
		}
	})
}

// ReplaceNode terminates the node's EC2 instance through its Auto Scaling
// group with ShouldDecrementDesiredCapacity false, so that the group
// launches a replacement at once and the node group keeps its size.
//
// Why not ec2:TerminateInstances: an EKS managed node group is an Auto
// Scaling group, and terminating its instance behind the group's back
// leaves the group short until its health check notices; the Auto
// Scaling call names the group's own action, starts the replacement in
// the same activity, and refuses an instance that is not in a group
// ("TerminateInstanceInAutoScalingGroup: Terminates the specified
// instance and optionally adjusts the desired group size ... If you do
// not decrement, Amazon EC2 Auto Scaling launches instances to replace
// the ones that are terminated",
// https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_TerminateInstanceInAutoScalingGroup.html;
// managed node groups are Auto Scaling groups that EKS owns,
// https://docs.aws.amazon.com/eks/latest/userguide/managed-node-groups.html).
//
// The instance must belong to the pool: DescribeAutoScalingInstances
// names its group, which must be one of the node group's
// resources.autoScalingGroups (KindInvalid otherwise, so a stale or
// mistyped provider ID never terminates another pool's node). An
// instance in no group is KindNotFound; one already terminating is done.
func (b *Backend) ReplaceNode(ctx context.Context, region, cluster, pool string, node cloud.NodeRef) error {
	const op = "ReplaceNode"
	id, err := instanceOf(node)
	if err != nil {
		return err
	}
	out, err := b.in(region).eks.DescribeNodegroup(ctx, &eks.DescribeNodegroupInput{ClusterName: awssdk.String(cluster), NodegroupName: awssdk.String(pool)})
	if err != nil {
		return classify("DescribeNodegroup", err)
	}
	var groups []string
	if ng := out.Nodegroup; ng != nil && ng.Resources != nil {
		for _, g := range ng.Resources.AutoScalingGroups {
			groups = append(groups, awssdk.ToString(g.Name))
		}
	}
	as := b.autoscaling(region)
	found, err := as.DescribeAutoScalingInstances(ctx, &autoscaling.DescribeAutoScalingInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		return classify("DescribeAutoScalingInstances", err)
	}
	i := slices.IndexFunc(found.AutoScalingInstances, func(d astypes.AutoScalingInstanceDetails) bool { return awssdk.ToString(d.InstanceId) == id })
	if i < 0 {
		return cloud.NotFound("aws", op, "InstanceNotInAutoScalingGroup", "instance %s of node %s is in no Auto Scaling group (terminated, or replaced already)", id, node.Name)
	}
	inst := found.AutoScalingInstances[i]
	if g := awssdk.ToString(inst.AutoScalingGroupName); !slices.Contains(groups, g) {
		return cloud.Invalid("aws", op, "InstanceOfAnotherGroup", "instance %s of node %s is in Auto Scaling group %s, not in node group %s of cluster %s (%s)", id, node.Name, g, pool, cluster, strings.Join(groups, ", "))
	}
	if strings.HasPrefix(awssdk.ToString(inst.LifecycleState), "Terminat") {
		// A retried replacement: the group is replacing it already.
		return nil
	}
	_, err = as.TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
		InstanceId: awssdk.String(id), ShouldDecrementDesiredCapacity: awssdk.Bool(false)})
	if err != nil {
		cerr := classify("TerminateInstanceInAutoScalingGroup", err)
		// Auto Scaling answers an instance it no longer has with
		// ValidationError "Instance Id not found".
		var ce *cloud.Error
		if errors.As(cerr, &ce) && ce.Kind == cloud.KindInvalid && strings.Contains(strings.ToLower(ce.Message), "not found") {
			ce.Kind = cloud.KindNotFound
		}
		return cerr
	}
	return nil
}
