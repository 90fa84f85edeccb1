package awsfront

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

func createClusterInput(name string) *eks.CreateClusterInput {
	return &eks.CreateClusterInput{
		Name: aws.String(name), Version: aws.String("1.32"), RoleArn: aws.String("arn:aws:iam::123456789012:role/eks"),
		ResourcesVpcConfig: &types.VpcConfigRequest{SubnetIds: []string{"subnet-a", "subnet-b"}},
		Tags:               map[string]string{"owner": "gpufleet"},
	}
}

// activeCluster creates a cluster and advances the fake clock past its
// creation.
func (ev *env) activeCluster(t *testing.T, name string) {
	t.Helper()
	must[*eks.CreateClusterOutput](t)(ev.eks.CreateCluster(ctx, createClusterInput(name)))
	ev.clock.Advance(testDurations.ClusterCreate)
}

func nodegroupInput(cluster, name string) *eks.CreateNodegroupInput {
	return &eks.CreateNodegroupInput{
		ClusterName: aws.String(cluster), NodegroupName: aws.String(name), NodeRole: aws.String("arn:aws:iam::123456789012:role/node"),
		Subnets:       []string{"euc1-az1"},
		InstanceTypes: []string{"p5.48xlarge"},
		CapacityType:  types.CapacityTypesOnDemand,
		ScalingConfig: &types.NodegroupScalingConfig{MinSize: aws.Int32(0), MaxSize: aws.Int32(4), DesiredSize: aws.Int32(2)},
		Labels:        map[string]string{"gpufleet.io/pool": name},
		Taints:        []types.Taint{{Key: aws.String("nvidia.com/gpu"), Value: aws.String("true"), Effect: types.TaintEffectNoSchedule}},
	}
}

func TestClusterLifecycle(t *testing.T) {
	ev := newEnv(t, envConfig{})
	out := must[*eks.CreateClusterOutput](t)(ev.eks.CreateCluster(ctx, createClusterInput("c1")))
	if c := out.Cluster; c.Status != types.ClusterStatusCreating || aws.ToString(c.Name) != "c1" || c.Endpoint != nil || c.CertificateAuthority != nil {
		t.Fatalf("create: %+v", c)
	}
	d := must[*eks.DescribeClusterOutput](t)(ev.eks.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String("c1")}))
	if d.Cluster.Status != types.ClusterStatusCreating {
		t.Fatalf("status %s, want CREATING", d.Cluster.Status)
	}
	ev.clock.Advance(testDurations.ClusterCreate)
	c := must[*eks.DescribeClusterOutput](t)(ev.eks.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String("c1")})).Cluster
	switch {
	case c.Status != types.ClusterStatusActive:
		t.Fatalf("status %s, want ACTIVE", c.Status)
	case aws.ToString(c.Endpoint) == "" || c.CertificateAuthority == nil || aws.ToString(c.CertificateAuthority.Data) == "":
		t.Fatalf("endpoint/CA missing: %+v", c)
	case aws.ToString(c.KubernetesNetworkConfig.ServiceIpv4Cidr) != "10.100.0.0/16":
		t.Fatalf("service CIDR %v", aws.ToString(c.KubernetesNetworkConfig.ServiceIpv4Cidr))
	case aws.ToString(c.Version) != "1.32":
		t.Fatalf("version %s", aws.ToString(c.Version))
	case aws.ToString(c.Arn) != "arn:aws:eks:eu-central-1:123456789012:cluster/c1":
		t.Fatalf("arn %s", aws.ToString(c.Arn))
	case aws.ToString(c.RoleArn) != "arn:aws:iam::123456789012:role/eks" || !slices.Equal(c.ResourcesVpcConfig.SubnetIds, []string{"subnet-a", "subnet-b"}):
		t.Fatalf("role/subnets %+v", c)
	case !c.ResourcesVpcConfig.EndpointPublicAccess || c.ResourcesVpcConfig.EndpointPrivateAccess:
		t.Fatalf("endpoint access %+v", c.ResourcesVpcConfig)
	case c.Tags["owner"] != "gpufleet" || c.CreatedAt == nil || !c.CreatedAt.Equal(epoch0):
		t.Fatalf("tags/createdAt %+v %v", c.Tags, c.CreatedAt)
	}
	// The engine saw the region from the SigV4 scope.
	if _, err := ev.e.GetCluster("aws", region, "c1"); err != nil {
		t.Fatal(err)
	}

	list := must[*eks.ListClustersOutput](t)(ev.eks.ListClusters(ctx, &eks.ListClustersInput{}))
	if !slices.Equal(list.Clusters, []string{"c1"}) {
		t.Fatalf("list %v", list.Clusters)
	}

	// A second create of the same name is ResourceInUseException (the SDK
	// makes up a fresh clientRequestToken); a retry with the first token is
	// idempotent.
	_, err := ev.eks.CreateCluster(ctx, createClusterInput("c1"), noRetryEKS)
	var inUse *types.ResourceInUseException
	if !errors.As(err, &inUse) {
		t.Fatalf("duplicate create: %v, want ResourceInUseException", err)
	}
	in := createClusterInput("c2")
	in.ClientRequestToken = aws.String("tok-1")
	must[*eks.CreateClusterOutput](t)(ev.eks.CreateCluster(ctx, in))
	again := must[*eks.CreateClusterOutput](t)(ev.eks.CreateCluster(ctx, in))
	if aws.ToString(again.Cluster.ClientRequestToken) != "tok-1" {
		t.Fatalf("retry token %v", again.Cluster.ClientRequestToken)
	}

	del := must[*eks.DeleteClusterOutput](t)(ev.eks.DeleteCluster(ctx, &eks.DeleteClusterInput{Name: aws.String("c1")}))
	if del.Cluster.Status != types.ClusterStatusDeleting {
		t.Fatalf("delete status %s", del.Cluster.Status)
	}
	must[*eks.DeleteClusterOutput](t)(ev.eks.DeleteCluster(ctx, &eks.DeleteClusterInput{Name: aws.String("c2")}))
	ev.clock.Advance(testDurations.ClusterDelete)
	_, err = ev.eks.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String("c1")}, noRetryEKS)
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) || aws.ToString(nf.ClusterName) != "c1" {
		t.Fatalf("after delete: %v, want ResourceNotFoundException for c1", err)
	}
	if inv := ev.leftovers(); !inv.Empty() {
		t.Fatalf("leftovers: %+v", inv)
	}
}

func TestClusterWaiters(t *testing.T) {
	ev := newEnv(t, envConfig{realClock: true, durations: fastDurations})
	must[*eks.CreateClusterOutput](t)(ev.eks.CreateCluster(ctx, createClusterInput("w1")))
	fast := func(o *eks.ClusterActiveWaiterOptions) {
		o.MinDelay, o.MaxDelay = 10*time.Millisecond, 20*time.Millisecond
	}
	out, err := eks.NewClusterActiveWaiter(ev.eks, fast).WaitForOutput(ctx, &eks.DescribeClusterInput{Name: aws.String("w1")}, 5*time.Second)
	if err != nil || out.Cluster.Status != types.ClusterStatusActive {
		t.Fatalf("active waiter: %v %+v", err, out)
	}
	must[*eks.DeleteClusterOutput](t)(ev.eks.DeleteCluster(ctx, &eks.DeleteClusterInput{Name: aws.String("w1")}))
	err = eks.NewClusterDeletedWaiter(ev.eks, func(o *eks.ClusterDeletedWaiterOptions) {
		o.MinDelay, o.MaxDelay = 10*time.Millisecond, 20*time.Millisecond
	}).Wait(ctx, &eks.DescribeClusterInput{Name: aws.String("w1")}, 5*time.Second)
	if err != nil {
		t.Fatalf("deleted waiter: %v", err)
	}
}

// TestClusterActiveWaiterFakeClock drives the waiter while a goroutine
// advances the fake clock.
func TestClusterActiveWaiterFakeClock(t *testing.T) {
	ev := newEnv(t, envConfig{})
	must[*eks.CreateClusterOutput](t)(ev.eks.CreateCluster(ctx, createClusterInput("w2")))
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
				ev.clock.Advance(time.Minute)
			}
		}
	}()
	err := eks.NewClusterActiveWaiter(ev.eks, func(o *eks.ClusterActiveWaiterOptions) {
		o.MinDelay, o.MaxDelay = 10*time.Millisecond, 20*time.Millisecond
	}).Wait(ctx, &eks.DescribeClusterInput{Name: aws.String("w2")}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
}

func TestNodegroupLifecycle(t *testing.T) {
	ev := newEnv(t, envConfig{})
	ev.activeCluster(t, "c1")
	lt := must[*ec2.CreateLaunchTemplateOutput](t)(ev.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String("gpufleet-c1-ng1"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{UserData: aws.String("IyEvYmluL2Jhc2g=")},
	}))
	in := nodegroupInput("c1", "ng1")
	in.LaunchTemplate = &types.LaunchTemplateSpecification{Name: aws.String("gpufleet-c1-ng1")}
	in.ClientRequestToken = aws.String("ng-token")
	ng := must[*eks.CreateNodegroupOutput](t)(ev.eks.CreateNodegroup(ctx, in)).Nodegroup
	if ng.Status != types.NodegroupStatusCreating {
		t.Fatalf("create status %s", ng.Status)
	}
	// A retry with the same token returns the node group; another token
	// is ResourceInUseException.
	must[*eks.CreateNodegroupOutput](t)(ev.eks.CreateNodegroup(ctx, in))
	in2 := nodegroupInput("c1", "ng1")
	_, err := ev.eks.CreateNodegroup(ctx, in2, noRetryEKS)
	var inUse *types.ResourceInUseException
	if !errors.As(err, &inUse) {
		t.Fatalf("duplicate nodegroup: %v", err)
	}

	p, err := ev.e.GetNodePool("aws", region, "c1", "ng1")
	if err != nil {
		t.Fatal(err)
	}
	if p.Spec.Zone != "euc1-az1" || p.Spec.Nodes != 2 || p.Spec.CapacityType != "on_demand" || p.Spec.InstanceType != "p5.48xlarge" ||
		p.Spec.UserData != "IyEvYmluL2Jhc2g=" || p.Spec.IdempotencyToken != "ng-token" || p.Family != "p" || p.GPUsPerNode != 1 ||
		!slices.Equal(p.Spec.Taints, []cloud.Taint{{Key: "nvidia.com/gpu", Value: "true", Effect: "NoSchedule"}}) {
		t.Fatalf("engine pool %+v", p)
	}

	ev.clock.Advance(testDurations.PoolCreate)
	describe := func() *types.Nodegroup {
		t.Helper()
		return must[*eks.DescribeNodegroupOutput](t)(ev.eks.DescribeNodegroup(ctx, &eks.DescribeNodegroupInput{
			ClusterName: aws.String("c1"), NodegroupName: aws.String("ng1")})).Nodegroup
	}
	ng = describe()
	switch {
	case ng.Status != types.NodegroupStatusActive:
		t.Fatalf("status %s", ng.Status)
	case aws.ToInt32(ng.ScalingConfig.DesiredSize) != 2 || aws.ToInt32(ng.ScalingConfig.MinSize) != 0 || aws.ToInt32(ng.ScalingConfig.MaxSize) != 4:
		t.Fatalf("scaling %+v", ng.ScalingConfig)
	case ng.CapacityType != types.CapacityTypesOnDemand || !slices.Equal(ng.InstanceTypes, []string{"p5.48xlarge"}) || !slices.Equal(ng.Subnets, []string{"euc1-az1"}):
		t.Fatalf("capacity/instance/subnets %+v", ng)
	case ng.Labels["gpufleet.io/pool"] != "ng1" || len(ng.Taints) != 1 || ng.Taints[0].Effect != types.TaintEffectNoSchedule:
		t.Fatalf("labels/taints %+v %+v", ng.Labels, ng.Taints)
	case ng.LaunchTemplate == nil || aws.ToString(ng.LaunchTemplate.Name) != "gpufleet-c1-ng1" ||
		aws.ToString(ng.LaunchTemplate.Id) != aws.ToString(lt.LaunchTemplate.LaunchTemplateId) || aws.ToString(ng.LaunchTemplate.Version) != "1":
		t.Fatalf("launch template %+v", ng.LaunchTemplate)
	case ng.Health == nil || len(ng.Health.Issues) != 0:
		t.Fatalf("health %+v", ng.Health)
	case aws.ToString(ng.Version) != "1.32" || !ng.CreatedAt.Equal(epoch0.Add(testDurations.ClusterCreate)):
		t.Fatalf("version/createdAt %v %v", aws.ToString(ng.Version), ng.CreatedAt)
	case !strings.HasPrefix(aws.ToString(ng.NodegroupArn), "arn:aws:eks:eu-central-1:123456789012:nodegroup/c1/ng1/"):
		t.Fatalf("arn %s", aws.ToString(ng.NodegroupArn))
	}
	list := must[*eks.ListNodegroupsOutput](t)(ev.eks.ListNodegroups(ctx, &eks.ListNodegroupsInput{ClusterName: aws.String("c1")}))
	if !slices.Equal(list.Nodegroups, []string{"ng1"}) {
		t.Fatalf("list %v", list.Nodegroups)
	}

	up := must[*eks.UpdateNodegroupConfigOutput](t)(ev.eks.UpdateNodegroupConfig(ctx, &eks.UpdateNodegroupConfigInput{
		ClusterName: aws.String("c1"), NodegroupName: aws.String("ng1"),
		ScalingConfig: &types.NodegroupScalingConfig{DesiredSize: aws.Int32(4), MaxSize: aws.Int32(8)},
		Labels:        &types.UpdateLabelsPayload{AddOrUpdateLabels: map[string]string{"tier": "gold"}, RemoveLabels: []string{"gpufleet.io/pool"}},
		Taints: &types.UpdateTaintsPayload{
			AddOrUpdateTaints: []types.Taint{{Key: aws.String("dedicated"), Value: aws.String("ml"), Effect: types.TaintEffectNoExecute}},
			RemoveTaints:      []types.Taint{{Key: aws.String("nvidia.com/gpu"), Effect: types.TaintEffectNoSchedule}},
		},
	})).Update
	if up.Status != types.UpdateStatusInProgress || up.Type != types.UpdateTypeConfigUpdate || aws.ToString(up.Id) == "" {
		t.Fatalf("update %+v", up)
	}
	var params []string
	for _, p := range up.Params {
		params = append(params, string(p.Type)+"="+aws.ToString(p.Value))
	}
	for _, want := range []string{"DesiredSize=4", "MaxSize=8", `LabelsToAdd={"tier":"gold"}`, `LabelsToRemove=["gpufleet.io/pool"]`} {
		if !slices.Contains(params, want) {
			t.Errorf("update params %v lack %s", params, want)
		}
	}
	if ng := describe(); ng.Status != types.NodegroupStatusUpdating {
		t.Fatalf("status after update %s", ng.Status)
	}
	// A second update while one is running is ResourceInUseException.
	_, err = ev.eks.UpdateNodegroupConfig(ctx, &eks.UpdateNodegroupConfigInput{ClusterName: aws.String("c1"), NodegroupName: aws.String("ng1"),
		ScalingConfig: &types.NodegroupScalingConfig{DesiredSize: aws.Int32(3)}}, noRetryEKS)
	if !errors.As(err, &inUse) {
		t.Fatalf("concurrent update: %v", err)
	}
	du := must[*eks.DescribeUpdateOutput](t)(ev.eks.DescribeUpdate(ctx, &eks.DescribeUpdateInput{Name: aws.String("c1"), UpdateId: up.Id, NodegroupName: aws.String("ng1")}))
	if du.Update.Status != types.UpdateStatusInProgress {
		t.Fatalf("describe update %s", du.Update.Status)
	}
	ev.clock.Advance(testDurations.PoolUpdate)
	ng = describe()
	switch {
	case ng.Status != types.NodegroupStatusActive:
		t.Fatalf("status %s", ng.Status)
	case aws.ToInt32(ng.ScalingConfig.DesiredSize) != 4 || aws.ToInt32(ng.ScalingConfig.MaxSize) != 8 || aws.ToInt32(ng.ScalingConfig.MinSize) != 0:
		t.Fatalf("scaling %+v", ng.ScalingConfig)
	case len(ng.Labels) != 1 || ng.Labels["tier"] != "gold":
		t.Fatalf("labels %v", ng.Labels)
	case len(ng.Taints) != 1 || aws.ToString(ng.Taints[0].Key) != "dedicated" || ng.Taints[0].Effect != types.TaintEffectNoExecute:
		t.Fatalf("taints %+v", ng.Taints)
	case !ng.ModifiedAt.After(*ng.CreatedAt):
		t.Fatalf("modifiedAt %v createdAt %v", ng.ModifiedAt, ng.CreatedAt)
	}
	du = must[*eks.DescribeUpdateOutput](t)(ev.eks.DescribeUpdate(ctx, &eks.DescribeUpdateInput{Name: aws.String("c1"), UpdateId: up.Id, NodegroupName: aws.String("ng1")}))
	if du.Update.Status != types.UpdateStatusSuccessful {
		t.Fatalf("describe update %s", du.Update.Status)
	}

	// Deleting the cluster first is refused.
	_, err = ev.eks.DeleteCluster(ctx, &eks.DeleteClusterInput{Name: aws.String("c1")}, noRetryEKS)
	if !errors.As(err, &inUse) {
		t.Fatalf("delete cluster with nodegroups: %v", err)
	}
	dn := must[*eks.DeleteNodegroupOutput](t)(ev.eks.DeleteNodegroup(ctx, &eks.DeleteNodegroupInput{ClusterName: aws.String("c1"), NodegroupName: aws.String("ng1")}))
	if dn.Nodegroup.Status != types.NodegroupStatusDeleting {
		t.Fatalf("delete status %s", dn.Nodegroup.Status)
	}
	if ng := describe(); ng.Status != types.NodegroupStatusDeleting || ng.LaunchTemplate == nil {
		t.Fatalf("deleting: %s %+v", ng.Status, ng.LaunchTemplate)
	}
	ev.clock.Advance(testDurations.PoolDelete)
	_, err = ev.eks.DescribeNodegroup(ctx, &eks.DescribeNodegroupInput{ClusterName: aws.String("c1"), NodegroupName: aws.String("ng1")}, noRetryEKS)
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) || aws.ToString(nf.NodegroupName) != "ng1" {
		t.Fatalf("after delete: %v", err)
	}
	must[*ec2.DeleteLaunchTemplateOutput](t)(ev.ec2.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateName: aws.String("gpufleet-c1-ng1")}))
	must[*eks.DeleteClusterOutput](t)(ev.eks.DeleteCluster(ctx, &eks.DeleteClusterInput{Name: aws.String("c1")}))
	ev.clock.Advance(testDurations.ClusterDelete)
	if inv := ev.leftovers(); !inv.Empty() {
		t.Fatalf("leftovers: %+v", inv)
	}
}

func TestNodegroupWaiters(t *testing.T) {
	ev := newEnv(t, envConfig{realClock: true, durations: fastDurations})
	must[*eks.CreateClusterOutput](t)(ev.eks.CreateCluster(ctx, createClusterInput("c1")))
	if err := eks.NewClusterActiveWaiter(ev.eks, func(o *eks.ClusterActiveWaiterOptions) {
		o.MinDelay, o.MaxDelay = 10*time.Millisecond, 20*time.Millisecond
	}).Wait(ctx, &eks.DescribeClusterInput{Name: aws.String("c1")}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	must[*eks.CreateNodegroupOutput](t)(ev.eks.CreateNodegroup(ctx, nodegroupInput("c1", "ng1")))
	in := &eks.DescribeNodegroupInput{ClusterName: aws.String("c1"), NodegroupName: aws.String("ng1")}
	if err := eks.NewNodegroupActiveWaiter(ev.eks, func(o *eks.NodegroupActiveWaiterOptions) {
		o.MinDelay, o.MaxDelay = 10*time.Millisecond, 20*time.Millisecond
	}).Wait(ctx, in, 5*time.Second); err != nil {
		t.Fatalf("active waiter: %v", err)
	}
	must[*eks.DeleteNodegroupOutput](t)(ev.eks.DeleteNodegroup(ctx, &eks.DeleteNodegroupInput{ClusterName: aws.String("c1"), NodegroupName: aws.String("ng1")}))
	if err := eks.NewNodegroupDeletedWaiter(ev.eks, func(o *eks.NodegroupDeletedWaiterOptions) {
		o.MinDelay, o.MaxDelay = 10*time.Millisecond, 20*time.Millisecond
	}).Wait(ctx, in, 5*time.Second); err != nil {
		t.Fatalf("deleted waiter: %v", err)
	}
}

func TestNodegroupLaunchFailures(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(e *cloudsim.Engine)
		capacity types.CapacityTypes
		want     []string
	}{
		{
			name: "on-demand capacity",
			setup: func(e *cloudsim.Engine) {
				if err := e.SetCapacity("aws", "euc1-az1", "p5.48xlarge", "on_demand", 1); err != nil {
					t.Fatal(err)
				}
			},
			capacity: types.CapacityTypesOnDemand,
			want: []string{"Could not launch On-Demand Instances. InsufficientInstanceCapacity - We currently do not have sufficient p5.48xlarge capacity in the Availability Zone you requested (euc1-az1).",
				"Launching EC2 instance failed."},
		},
		{
			name: "spot capacity",
			setup: func(e *cloudsim.Engine) {
				if err := e.SetCapacity("aws", "euc1-az1", "p5.48xlarge", "spot", 0); err != nil {
					t.Fatal(err)
				}
			},
			capacity: types.CapacityTypesSpot,
			want:     []string{"Could not launch Spot Instances. InsufficientInstanceCapacity - There is no Spot capacity available"},
		},
		{
			name: "quota",
			setup: func(e *cloudsim.Engine) {
				if err := e.SetQuota("aws", region, "p", 1); err != nil {
					t.Fatal(err)
				}
			},
			capacity: types.CapacityTypesOnDemand,
			want: []string{"Could not launch On-Demand Instances. VcpuLimitExceeded - You have requested more vCPU capacity than your current vCPU limit",
				"http://aws.amazon.com/contact-us/ec2-request"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := newEnv(t, envConfig{})
			ev.activeCluster(t, "c1")
			tt.setup(ev.e)
			in := nodegroupInput("c1", "ng1")
			in.CapacityType = tt.capacity
			must[*eks.CreateNodegroupOutput](t)(ev.eks.CreateNodegroup(ctx, in))
			ev.clock.Advance(testDurations.PoolCreate)
			ng := must[*eks.DescribeNodegroupOutput](t)(ev.eks.DescribeNodegroup(ctx, &eks.DescribeNodegroupInput{
				ClusterName: aws.String("c1"), NodegroupName: aws.String("ng1")})).Nodegroup
			if ng.Status != types.NodegroupStatusCreateFailed {
				t.Fatalf("status %s, want CREATE_FAILED", ng.Status)
			}
			if len(ng.Health.Issues) != 1 {
				t.Fatalf("issues %+v", ng.Health.Issues)
			}
			is := ng.Health.Issues[0]
			if is.Code != types.NodegroupIssueCodeAsgInstanceLaunchFailures || len(is.ResourceIds) != 1 || !strings.HasPrefix(is.ResourceIds[0], "eks-ng1-") {
				t.Fatalf("issue %+v", is)
			}
			for _, w := range tt.want {
				if !strings.Contains(aws.ToString(is.Message), w) {
					t.Errorf("message %q lacks %q", aws.ToString(is.Message), w)
				}
			}
			// The active waiter gives up on CREATE_FAILED.
			err := eks.NewNodegroupActiveWaiter(ev.eks, func(o *eks.NodegroupActiveWaiterOptions) {
				o.MinDelay, o.MaxDelay = time.Millisecond, 2*time.Millisecond
			}).Wait(ctx, &eks.DescribeNodegroupInput{ClusterName: aws.String("c1"), NodegroupName: aws.String("ng1")}, time.Second)
			if err == nil || !strings.Contains(err.Error(), "Failure") {
				t.Fatalf("waiter: %v", err)
			}
		})
	}
}

func TestEKSErrors(t *testing.T) {
	tests := []struct {
		name     string
		fault    *cloudsim.Fault
		call     func(ev *env) error
		wantCode string
		wantType func(error) bool
	}{
		{
			name: "missing cluster",
			call: func(ev *env) error {
				_, err := ev.eks.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String("nope")}, noRetryEKS)
				return err
			},
			wantCode: "ResourceNotFoundException", wantType: isA[*types.ResourceNotFoundException],
		},
		{
			name: "missing nodegroup",
			call: func(ev *env) error {
				_, err := ev.eks.DescribeNodegroup(ctx, &eks.DescribeNodegroupInput{ClusterName: aws.String("c1"), NodegroupName: aws.String("nope")}, noRetryEKS)
				return err
			},
			wantCode: "ResourceNotFoundException", wantType: isA[*types.ResourceNotFoundException],
		},
		{
			name: "nodegroup on missing cluster",
			call: func(ev *env) error {
				_, err := ev.eks.CreateNodegroup(ctx, nodegroupInput("nope", "ng1"), noRetryEKS)
				return err
			},
			wantCode: "ResourceNotFoundException", wantType: isA[*types.ResourceNotFoundException],
		},
		{
			name: "bad taint effect",
			call: func(ev *env) error {
				in := nodegroupInput("c1", "ng1")
				in.Taints = []types.Taint{{Key: aws.String("k"), Effect: "SOMETIMES"}}
				_, err := ev.eks.CreateNodegroup(ctx, in, noRetryEKS)
				return err
			},
			wantCode: "InvalidParameterException", wantType: isA[*types.InvalidParameterException],
		},
		{
			name: "desired above max",
			call: func(ev *env) error {
				in := nodegroupInput("c1", "ng1")
				in.ScalingConfig.DesiredSize = aws.Int32(9)
				_, err := ev.eks.CreateNodegroup(ctx, in, noRetryEKS)
				return err
			},
			wantCode: "InvalidParameterException", wantType: isA[*types.InvalidParameterException],
		},
		{
			name: "missing launch template",
			call: func(ev *env) error {
				in := nodegroupInput("c1", "ng1")
				in.LaunchTemplate = &types.LaunchTemplateSpecification{Name: aws.String("nope")}
				_, err := ev.eks.CreateNodegroup(ctx, in, noRetryEKS)
				return err
			},
			wantCode: "InvalidParameterException", wantType: isA[*types.InvalidParameterException],
		},
		{
			name:  "transient fault",
			fault: &cloudsim.Fault{Cloud: "aws", Op: "GetCluster", Err: &cloud.Error{Kind: cloud.KindTransient, Message: "try later"}},
			call: func(ev *env) error {
				_, err := ev.eks.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String("c1")}, noRetryEKS)
				return err
			},
			wantCode: "ServiceUnavailableException", wantType: isA[*types.ServiceUnavailableException],
		},
		{
			name:  "server exception fault",
			fault: &cloudsim.Fault{Cloud: "aws", Op: "GetCluster", Err: &cloud.Error{Kind: cloud.KindTransient, Code: "ServerException", Message: "boom"}},
			call: func(ev *env) error {
				_, err := ev.eks.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String("c1")}, noRetryEKS)
				return err
			},
			wantCode: "ServerException", wantType: isA[*types.ServerException],
		},
		{
			name:  "fatal fault",
			fault: &cloudsim.Fault{Cloud: "aws", Op: "CreateNodePool", Err: &cloud.Error{Kind: cloud.KindFatal, Message: "no"}},
			call: func(ev *env) error {
				_, err := ev.eks.CreateNodegroup(ctx, nodegroupInput("c1", "ng1"), noRetryEKS)
				return err
			},
			wantCode: "ServerException", wantType: isA[*types.ServerException],
		},
		{
			name:  "invalid fault",
			fault: &cloudsim.Fault{Cloud: "aws", Op: "CreateCluster", Err: &cloud.Error{Kind: cloud.KindInvalid, Message: "bad version"}},
			call: func(ev *env) error {
				_, err := ev.eks.CreateCluster(ctx, createClusterInput("c9"), noRetryEKS)
				return err
			},
			wantCode: "InvalidParameterException", wantType: isA[*types.InvalidParameterException],
		},
		{
			name:  "quota fault",
			fault: &cloudsim.Fault{Cloud: "aws", Op: "CreateCluster", Err: &cloud.Error{Kind: cloud.KindQuota, Message: "too many clusters"}},
			call: func(ev *env) error {
				_, err := ev.eks.CreateCluster(ctx, createClusterInput("c9"), noRetryEKS)
				return err
			},
			wantCode: "ResourceLimitExceededException", wantType: isA[*types.ResourceLimitExceededException],
		},
		{
			// The front end's own record (ClusterMeta) that cannot be kept
			// is the request's failure, not a success that forgets its
			// clientRequestToken.
			name:  "cluster record not persisted",
			fault: &cloudsim.Fault{Cloud: "aws", Op: "CreateClusterMeta", Err: &cloud.Error{Kind: cloud.KindFatal, Message: "disk full"}},
			call: func(ev *env) error {
				_, err := ev.eks.CreateCluster(ctx, createClusterInput("c9"), noRetryEKS)
				return err
			},
			wantCode: "ServerException", wantType: isA[*types.ServerException],
		},
		{
			name:  "nodegroup record not persisted",
			fault: &cloudsim.Fault{Cloud: "aws", Op: "CreateNodegroupMeta", Err: &cloud.Error{Kind: cloud.KindFatal, Message: "disk full"}},
			call: func(ev *env) error {
				_, err := ev.eks.CreateNodegroup(ctx, nodegroupInput("c1", "ng1"), noRetryEKS)
				return err
			},
			wantCode: "ServerException", wantType: isA[*types.ServerException],
		},
		{
			name:  "cluster record not deleted",
			fault: &cloudsim.Fault{Cloud: "aws", Op: "DeleteClusterMeta", Err: &cloud.Error{Kind: cloud.KindFatal, Message: "disk full"}},
			call: func(ev *env) error {
				_, err := ev.eks.DeleteCluster(ctx, &eks.DeleteClusterInput{Name: aws.String("c1")}, noRetryEKS)
				return err
			},
			wantCode: "ServerException", wantType: isA[*types.ServerException],
		},
		{
			name: "nodegroup on creating cluster",
			call: func(ev *env) error {
				if _, err := ev.eks.CreateCluster(ctx, createClusterInput("c2")); err != nil {
					return err
				}
				_, err := ev.eks.CreateNodegroup(ctx, nodegroupInput("c2", "ng1"), noRetryEKS)
				return err
			},
			wantCode: "InvalidRequestException", wantType: isA[*types.InvalidRequestException],
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := newEnv(t, envConfig{})
			ev.activeCluster(t, "c1")
			if tt.fault != nil {
				if err := ev.e.Inject(*tt.fault); err != nil {
					t.Fatal(err)
				}
			}
			err := tt.call(ev)
			if got := apiCode(err); got != tt.wantCode {
				t.Fatalf("error %v: code %q, want %q", err, got, tt.wantCode)
			}
			if !tt.wantType(err) {
				t.Fatalf("error %T %v is not the modeled %s type", err, err, tt.wantCode)
			}
		})
	}
}

func TestEKSThrottling(t *testing.T) {
	ev := newEnv(t, envConfig{})
	ev.activeCluster(t, "c1")
	if err := ev.e.SetRateLimit("aws", "GetCluster", 0.001, 1); err != nil {
		t.Fatal(err)
	}
	in := &eks.DescribeClusterInput{Name: aws.String("c1")}
	must[*eks.DescribeClusterOutput](t)(ev.eks.DescribeCluster(ctx, in))
	before := ev.count("eks GET /clusters/c1")
	_, err := ev.eks.DescribeCluster(ctx, in)
	var th *types.ThrottlingException
	if !errors.As(err, &th) || apiCode(err) != "ThrottlingException" {
		t.Fatalf("throttled call: %v", err)
	}
	if n := ev.count("eks GET /clusters/c1") - before; n != 3 {
		t.Fatalf("%d requests, want 3 (the SDK retries throttling)", n)
	}
	// With time the bucket refills and the call succeeds again.
	ev.clock.Advance(time.Hour)
	must[*eks.DescribeClusterOutput](t)(ev.eks.DescribeCluster(ctx, in))
}

// TestNodegroupMetaPersists: a second engine and front end on the same
// state file still report the launch template and scaling bounds.
func TestNodegroupMetaPersists(t *testing.T) {
	file := filepath.Join(t.TempDir(), "world.json")
	ev := newEnv(t, envConfig{stateFile: file})
	ev.activeCluster(t, "c1")
	must[*ec2.CreateLaunchTemplateOutput](t)(ev.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String("lt1"), LaunchTemplateData: &ec2types.RequestLaunchTemplateData{UserData: aws.String("dXNlcmRhdGE=")},
	}))
	in := nodegroupInput("c1", "ng1")
	in.LaunchTemplate = &types.LaunchTemplateSpecification{Name: aws.String("lt1"), Version: aws.String("$Latest")}
	must[*eks.CreateNodegroupOutput](t)(ev.eks.CreateNodegroup(ctx, in))

	ev2 := newEnv(t, envConfig{stateFile: file})
	ev2.clock.Advance(testDurations.ClusterCreate + testDurations.PoolCreate)
	ng := must[*eks.DescribeNodegroupOutput](t)(ev2.eks.DescribeNodegroup(ctx, &eks.DescribeNodegroupInput{
		ClusterName: aws.String("c1"), NodegroupName: aws.String("ng1")})).Nodegroup
	if ng.Status != types.NodegroupStatusActive || ng.LaunchTemplate == nil || aws.ToString(ng.LaunchTemplate.Name) != "lt1" ||
		aws.ToInt32(ng.ScalingConfig.MaxSize) != 4 || aws.ToString(ng.NodeRole) != "arn:aws:iam::123456789012:role/node" {
		t.Fatalf("after restart: %+v", ng)
	}
}

// subnet creates an EC2 subnet in a zone and returns its ID.
func (ev *env) subnet(t *testing.T, vpcID, cidr, zone string) string {
	t.Helper()
	out := must[*ec2.CreateSubnetOutput](t)(ev.ec2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(vpcID), CidrBlock: aws.String(cidr),
		AvailabilityZoneId: aws.String(zone)}))
	return aws.ToString(out.Subnet.SubnetId)
}

// TestClusterInSubnets: a cluster in EC2 subnets reports their VPC and its
// service range; its node groups run in their subnet's zone; subnets EC2
// does not know, or outside the cluster's VPC, and service ranges EKS
// refuses are InvalidParameterException.
func TestClusterInSubnets(t *testing.T) {
	ev := newEnv(t, envConfig{})
	vpcA, vpcB := ev.vpc(t, "10.20.0.0/16", "site-a"), ev.vpc(t, "10.21.0.0/16", "site-b")
	a1, a2 := ev.subnet(t, vpcA, "10.20.0.0/20", "euc1-az1"), ev.subnet(t, vpcA, "10.20.16.0/20", "euc1-az2")
	b1 := ev.subnet(t, vpcB, "10.21.0.0/20", "euc1-az1")
	missing := "subnet-0123456789abcdef0"

	in := createClusterInput("c1")
	in.ResourcesVpcConfig.SubnetIds = []string{a1}
	in.KubernetesNetworkConfig = &types.KubernetesNetworkConfigRequest{ServiceIpv4Cidr: aws.String("10.20.64.0/20")}
	if _, err := ev.eks.CreateCluster(ctx, in); !strings.Contains(fmt.Sprint(err), "overlaps with the CIDR block 10.20.0.0/16") {
		t.Fatalf("a service range inside the VPC: %v, want InvalidParameterException", err)
	}
	in.KubernetesNetworkConfig.ServiceIpv4Cidr = aws.String("172.20.0.0/16")
	must[*eks.CreateClusterOutput](t)(ev.eks.CreateCluster(ctx, in))
	ev.clock.Advance(testDurations.ClusterCreate)
	c := must[*eks.DescribeClusterOutput](t)(ev.eks.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String("c1")})).Cluster
	if aws.ToString(c.ResourcesVpcConfig.VpcId) != vpcA || !slices.Equal(c.ResourcesVpcConfig.SubnetIds, []string{a1}) ||
		aws.ToString(c.KubernetesNetworkConfig.ServiceIpv4Cidr) != "172.20.0.0/16" {
		t.Fatalf("cluster network: vpc %s subnets %v service %s", aws.ToString(c.ResourcesVpcConfig.VpcId), c.ResourcesVpcConfig.SubnetIds,
			aws.ToString(c.KubernetesNetworkConfig.ServiceIpv4Cidr))
	}
	if ec, _ := ev.e.GetCluster("aws", region, "c1"); ec.Spec.Name != "c1" {
		t.Fatalf("engine cluster %+v", ec)
	}

	for _, tt := range []struct {
		name    string
		subnets []string
		service string
		msg     string
	}{
		{"unknown subnet", []string{a1, missing}, "", "The subnet ID '" + missing + "' does not exist"},
		{"two VPCs", []string{a1, b1}, "", "different VPCs"},
		{"service range not private", []string{a1}, "100.64.0.0/16", "must be within 10.0.0.0/8"},
		{"service range too large", []string{a1}, "10.0.0.0/8", "between /12 and /24"},
		{"service range too small", []string{a1}, "10.20.64.0/25", "between /12 and /24"},
		{"service range host bits", []string{a1}, "10.20.64.1/20", "not a network address"},
		{"service range malformed", []string{a1}, "10.20.64.0", "not a valid IPv4 CIDR"},
	} {
		t.Run("cluster "+tt.name, func(t *testing.T) {
			in := createClusterInput("c-bad")
			in.ResourcesVpcConfig.SubnetIds = tt.subnets
			if tt.service != "" {
				in.KubernetesNetworkConfig = &types.KubernetesNetworkConfigRequest{ServiceIpv4Cidr: aws.String(tt.service)}
			}
			_, err := ev.eks.CreateCluster(ctx, in, noRetryEKS)
			var ip *types.InvalidParameterException
			if !errors.As(err, &ip) || !strings.Contains(aws.ToString(ip.Message), tt.msg) {
				t.Fatalf("create: %v, want InvalidParameterException %q", err, tt.msg)
			}
			if _, ok := ev.e.LookupCluster("aws", region, "c-bad"); ok {
				t.Fatal("the refused cluster exists")
			}
		})
	}

	for _, tt := range []struct {
		name    string
		subnets []string
		zone    string // engine pool zone; "" for an error
		msg     string
	}{
		{"subnet of the cluster", []string{a1}, "euc1-az1", ""},
		{"other subnet of the VPC", []string{a2}, "euc1-az2", ""},
		{"zone ID as before", []string{"euc1-az3"}, "euc1-az3", ""},
		{"unknown subnet", []string{missing}, "", "does not exist"},
		{"subnet of another VPC", []string{b1}, "", "not in the VPC " + vpcA},
	} {
		t.Run("nodegroup "+tt.name, func(t *testing.T) {
			name := "ng-" + strings.ReplaceAll(tt.name, " ", "-")
			in := nodegroupInput("c1", name)
			in.Subnets = tt.subnets
			out, err := ev.eks.CreateNodegroup(ctx, in, noRetryEKS)
			if tt.zone == "" {
				var ip *types.InvalidParameterException
				if !errors.As(err, &ip) || !strings.Contains(aws.ToString(ip.Message), tt.msg) {
					t.Fatalf("create: %v, want InvalidParameterException %q", err, tt.msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(out.Nodegroup.Subnets, tt.subnets) {
				t.Fatalf("create answers subnets %v", out.Nodegroup.Subnets)
			}
			p, ok := ev.e.LookupPool("aws", region, "c1", name)
			if !ok || p.Spec.Zone != tt.zone {
				t.Fatalf("engine pool %+v, want zone %s", p.Spec, tt.zone)
			}
			d := must[*eks.DescribeNodegroupOutput](t)(ev.eks.DescribeNodegroup(ctx, &eks.DescribeNodegroupInput{ClusterName: aws.String("c1"), NodegroupName: aws.String(name)}))
			if !slices.Equal(d.Nodegroup.Subnets, tt.subnets) {
				t.Fatalf("describe answers subnets %v", d.Nodegroup.Subnets)
			}
		})
	}

	// Capacity is counted in the subnet's zone.
	if err := ev.e.SetCapacity("aws", "euc1-az2", "p5.48xlarge", "on_demand", 0); err != nil {
		t.Fatal(err)
	}
	in2 := nodegroupInput("c1", "ng-full")
	in2.Subnets = []string{a2}
	must[*eks.CreateNodegroupOutput](t)(ev.eks.CreateNodegroup(ctx, in2))
	ev.clock.Advance(testDurations.PoolCreate)
	d := must[*eks.DescribeNodegroupOutput](t)(ev.eks.DescribeNodegroup(ctx, &eks.DescribeNodegroupInput{ClusterName: aws.String("c1"), NodegroupName: aws.String("ng-full")}))
	if d.Nodegroup.Status != types.NodegroupStatusCreateFailed || len(d.Nodegroup.Health.Issues) == 0 ||
		!strings.Contains(aws.ToString(d.Nodegroup.Health.Issues[0].Message), "(euc1-az2)") {
		t.Fatalf("node group in a full zone: %s %+v", d.Nodegroup.Status, d.Nodegroup.Health)
	}
}

// TestEKSRoleRules: EKS takes a cluster role that exists and trusts
// eks.amazonaws.com, and a node role that trusts ec2.amazonaws.com with
// AmazonEKSWorkerNodePolicy and an ECR read policy attached; anything
// else is InvalidParameterException naming what is wrong.
func TestEKSRoleRules(t *testing.T) {
	trust := func(service string) string {
		return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":["` + service + `"]},"Action":["sts:AssumeRole"]}]}`
	}
	const acct = "arn:aws:iam::123456789012:role/"
	tests := []struct {
		name, role, service string
		policies            []string
		nodeRole            bool // the role is the node group's, else the cluster's
		want                string
	}{
		{"cluster role missing", "", "", nil, false, "could not be assumed because it does not exist or the trusted entity is not right"},
		{"cluster role trusting EC2", "c-ec2", "ec2.amazonaws.com", nil, false, "could not be assumed"},
		{"cluster role", "c-ok", "eks.amazonaws.com", []string{"arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"}, false, ""},
		{"node role missing", "", "", nil, true, "could not be assumed"},
		{"node role trusting EKS", "n-eks", "eks.amazonaws.com", []string{eksWorkerNodePolicy, ecrReadOnlyPolicy}, true,
			"Following required service principals [ec2.amazonaws.com] were not found"},
		{"node role without the ECR policy", "n-noecr", "ec2.amazonaws.com", []string{eksWorkerNodePolicy}, true,
			"The provided role doesn't have the Amazon EKS Managed Policies associated with it"},
		{"node role without the worker policy", "n-nowk", "ec2.amazonaws.com", []string{ecrReadOnlyPolicy}, true, "Managed Policies"},
		{"node role with ECR pull-only", "n-pull", "ec2.amazonaws.com", []string{eksWorkerNodePolicy, ecrPullOnlyPolicy}, true, ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := newEnv(t, envConfig{})
			arn := acct + "missing"
			if tt.role != "" {
				arn = acct + "team/" + tt.role
				must[*iam.CreateRoleOutput](t)(ev.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(tt.role), Path: aws.String("/team/"),
					AssumeRolePolicyDocument: aws.String(trust(tt.service))}))
				for _, p := range tt.policies {
					must[*iam.AttachRolePolicyOutput](t)(ev.iam.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(tt.role), PolicyArn: aws.String(p)}))
				}
			}
			var err error
			if tt.nodeRole {
				ev.activeCluster(t, "c1")
				in := nodegroupInput("c1", fmt.Sprintf("ng%d", i))
				in.NodeRole = aws.String(arn)
				_, err = ev.eks.CreateNodegroup(ctx, in, noRetryEKS)
			} else {
				in := createClusterInput("c1")
				in.RoleArn = aws.String(arn)
				_, err = ev.eks.CreateCluster(ctx, in, noRetryEKS)
			}
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ip *types.InvalidParameterException
			if !errors.As(err, &ip) || !strings.Contains(aws.ToString(ip.Message), tt.want) {
				t.Fatalf("%v, want InvalidParameterException %q", err, tt.want)
			}
		})
	}
}
