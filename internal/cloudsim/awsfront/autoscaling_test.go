package awsfront

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/eks"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// TestAutoScaling drives the Auto Scaling group of a node group with the
// SDK: its instances are the pool's machines, a terminate without
// decrement replaces one, and malformed or unknown requests get Auto
// Scaling's errors.
func TestAutoScaling(t *testing.T) {
	ev := newEnv(t, envConfig{})
	as := autoscaling.NewFromConfig(ev.cfg, func(o *autoscaling.Options) { o.RetryMaxAttempts = 1 })
	ev.activeCluster(t, "c1")
	ng := must[*eks.CreateNodegroupOutput](t)(ev.eks.CreateNodegroup(ctx, nodegroupInput("c1", "gpu"))).Nodegroup
	ev.clock.Advance(testDurations.PoolCreate)
	group := aws.ToString(ng.Resources.AutoScalingGroups[0].Name)
	nodes := must[[]cloudsim.Node](t)(ev.e.PoolNodes(cloudName, region, "c1", "gpu"))
	if len(nodes) != 2 {
		t.Fatalf("nodes %+v", nodes)
	}

	all := must[*autoscaling.DescribeAutoScalingInstancesOutput](t)(as.DescribeAutoScalingInstances(ctx, &autoscaling.DescribeAutoScalingInstancesInput{}))
	one := must[*autoscaling.DescribeAutoScalingInstancesOutput](t)(as.DescribeAutoScalingInstances(ctx,
		&autoscaling.DescribeAutoScalingInstancesInput{InstanceIds: []string{nodes[1].InstanceID, "i-00000000000000000"}}))
	if len(all.AutoScalingInstances) != 2 || len(one.AutoScalingInstances) != 1 {
		t.Fatalf("instances %d, by ID %d", len(all.AutoScalingInstances), len(one.AutoScalingInstances))
	}
	if i := one.AutoScalingInstances[0]; aws.ToString(i.InstanceId) != nodes[1].InstanceID || aws.ToString(i.AutoScalingGroupName) != group ||
		aws.ToString(i.LifecycleState) != "InService" || aws.ToString(i.HealthStatus) != "HEALTHY" {
		t.Fatalf("instance %+v, want %s in %s", i, nodes[1].InstanceID, group)
	}

	out := must[*autoscaling.TerminateInstanceInAutoScalingGroupOutput](t)(as.TerminateInstanceInAutoScalingGroup(ctx,
		&autoscaling.TerminateInstanceInAutoScalingGroupInput{InstanceId: aws.String(nodes[0].InstanceID), ShouldDecrementDesiredCapacity: aws.Bool(false)}))
	if a := out.Activity; aws.ToString(a.AutoScalingGroupName) != group || a.StatusCode != "InProgress" {
		t.Fatalf("activity %+v", a)
	}
	after := must[[]cloudsim.Node](t)(ev.e.PoolNodes(cloudName, region, "c1", "gpu"))
	if len(after) != 2 || after[0].InstanceID != nodes[1].InstanceID || after[1].InstanceID == nodes[0].InstanceID || after[1].Ready(ev.clock.Now()) {
		t.Fatalf("after terminating %s: %+v", nodes[0].InstanceID, after)
	}
	fresh := must[*autoscaling.DescribeAutoScalingInstancesOutput](t)(as.DescribeAutoScalingInstances(ctx,
		&autoscaling.DescribeAutoScalingInstancesInput{InstanceIds: []string{after[1].InstanceID}}))
	if s := aws.ToString(fresh.AutoScalingInstances[0].LifecycleState); s != "Pending" {
		t.Fatalf("replacement is %s, want Pending until it boots", s)
	}

	tests := []struct {
		name     string
		id       *string
		decr     *bool
		code     string
		contains string
	}{
		{"replaced already", aws.String(nodes[0].InstanceID), aws.Bool(false), "ValidationError", "Instance Id not found"},
		{"decrement", aws.String(nodes[1].InstanceID), aws.Bool(true), "ValidationError", "ShouldDecrementDesiredCapacity"},
		{"long instance ID", aws.String("i-000000000000000000000"), aws.Bool(false), "ValidationError", "length"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := as.TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{InstanceId: tt.id, ShouldDecrementDesiredCapacity: tt.decr})
			if apiCode(err) != tt.code || !strings.Contains(err.Error(), tt.contains) {
				t.Fatalf("%v, want %s mentioning %q", err, tt.code, tt.contains)
			}
		})
	}
	if n := must[[]cloudsim.Node](t)(ev.e.PoolNodes(cloudName, region, "c1", "gpu")); n[0].InstanceID != nodes[1].InstanceID {
		t.Fatal("a refused terminate replaced a node")
	}
}
