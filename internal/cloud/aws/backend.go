// Package aws is the EKS backend: clusters and GPU node groups through
// aws-sdk-go-v2 (eks, plus ec2 for launch templates and iam for the
// cluster and node roles). It is the only package that imports the AWS SDK.
package aws

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/awsconfig"
)

// Endpoints override the SDK's endpoint per service (awsconfig.Endpoints).
type Endpoints = awsconfig.Endpoints

// Config configures the backend.
type Config struct {
	// Region is the default region of the SDK configuration; every call
	// names its own region.
	Region    string
	Endpoints Endpoints
	// Credentials replace the SDK's default chain (environment, shared
	// config and profiles, web identity) when set.
	Credentials awssdk.CredentialsProvider
	// SubnetForZone maps a zone ID of the catalog (euc1-az1) to the subnet
	// the nodes go in, for clusters without a site network
	// (ClusterSpec.Network nil). Identity when nil (cloudsim accepts zone
	// IDs as subnets). Clusters in a site network ignore it: their node
	// groups go in the network's subnet of their zone (see CreateNodePool).
	SubnetForZone func(region, zone string) string
	// ZoneForSubnet inverts SubnetForZone; identity when nil. Subnet IDs
	// (subnet-…) are mapped to their zone by DescribeSubnets instead.
	ZoneForSubnet func(region, subnet string) string
	// ClusterSubnets are the subnets of the control plane per region, for
	// clusters without a site network.
	ClusterSubnets func(region string) []string
	// Poll and Timeout tune the SDK waiters.
	Poll, Timeout time.Duration
	// Now tells the time of the gpufleet:created tag; time.Now when nil.
	Now func() time.Time
}

// ConfigOf is the configuration of settings s: their region, endpoints
// and waiter pace, and their key pair when they name one.
func ConfigOf(s awsconfig.Settings) Config {
	c := Config{Region: s.Region, Endpoints: s.Endpoints, Poll: s.Poll, Timeout: s.Timeout}
	if s.Credentials.Set() {
		c.Credentials = credentials.NewStaticCredentialsProvider(s.Credentials.AccessKeyID, s.Credentials.SecretAccessKey, "")
	}
	return c
}

// Backend implements cloud.Backend on EKS.
type Backend struct {
	cfg     Config
	sdk     awssdk.Config
	mu      sync.Mutex
	regions map[string]*regional
	iam     *iam.Client
	// subnetZones caches the zone ID of each subnet ID ("region/subnet-…"
	// -> zone ID): a subnet never changes zone.
	subnetZones sync.Map
}

type regional struct {
	eks *eks.Client
	ec2 *ec2.Client
}

var _ cloud.Backend = (*Backend)(nil)

// New loads the SDK configuration: cfg.Credentials, else Terraform Cloud
// dynamic credentials when the run has them (DynamicCredentials), else the
// SDK's default chain. Retries are left to cloud.WithRetries: the SDK
// makes one attempt per call.
func New(ctx context.Context, cfg Config) (*Backend, error) {
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 15 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 45 * time.Minute
	}
	opts := []func(*config.LoadOptions) error{config.WithRegion(cfg.Region), config.WithRetryMaxAttempts(1)}
	if cfg.Credentials == nil {
		dyn, err := DynamicCredentials(os.Getenv, cfg.Endpoints.STS, cfg.Region)
		if err != nil {
			return nil, err
		}
		cfg.Credentials = dyn
	}
	if cfg.Credentials != nil {
		opts = append(opts, config.WithCredentialsProvider(cfg.Credentials))
	}
	sdk, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("aws: loading the SDK configuration: %w", err)
	}
	b := &Backend{cfg: cfg, sdk: sdk, regions: map[string]*regional{}}
	b.iam = iam.NewFromConfig(sdk, func(o *iam.Options) {
		if cfg.Endpoints.IAM != "" {
			o.BaseEndpoint = awssdk.String(cfg.Endpoints.IAM)
		}
	})
	return b, nil
}

func (b *Backend) in(region string) *regional {
	b.mu.Lock()
	defer b.mu.Unlock()
	r, ok := b.regions[region]
	if !ok {
		r = &regional{
			eks: eks.NewFromConfig(b.sdk, func(o *eks.Options) {
				o.Region = region
				if b.cfg.Endpoints.EKS != "" {
					o.BaseEndpoint = awssdk.String(b.cfg.Endpoints.EKS)
				}
			}),
			ec2: ec2.NewFromConfig(b.sdk, func(o *ec2.Options) {
				o.Region = region
				if b.cfg.Endpoints.EC2 != "" {
					o.BaseEndpoint = awssdk.String(b.cfg.Endpoints.EC2)
				}
			}),
		}
		b.regions[region] = r
	}
	return r
}

// Cloud is "aws".
func (b *Backend) Cloud() string { return "aws" }

// token derives an idempotency token from what identifies a request.
func token(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return "gpufleet-" + hex.EncodeToString(h[:12])
}

// IAM roles belong to their cluster: created with it, deleted after it, so
// that nothing outlives the clusters gpufleet manages.
func clusterRole(cluster string) string { return cluster + "-cluster" }
func nodeRole(cluster string) string    { return cluster + "-node" }

// The roles' managed policies. The cluster role: AmazonEKSClusterPolicy
// (https://docs.aws.amazon.com/eks/latest/userguide/cluster-iam-role.html).
// The node role: AmazonEKSWorkerNodePolicy and an ECR read policy, which
// EKS checks when it creates a managed node group, and AmazonEKS_CNI_Policy
// for the VPC CNI, which runs with the node's role unless given an IRSA
// role of its own (https://docs.aws.amazon.com/eks/latest/userguide/create-node-role.html).
// The ECR policy stays AmazonEC2ContainerRegistryReadOnly (a superset of
// the newer AmazonEC2ContainerRegistryPullOnly the docs now suggest): it
// is the one EKS's node group check names in its error. No access entry is created for the node role: EKS
// creates a managed node group's itself in the API authentication modes
// (https://docs.aws.amazon.com/eks/latest/userguide/creating-access-entries.html).
var (
	clusterPolicies = []string{"arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"}
	nodePolicies    = []string{
		"arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
		"arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
		"arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
	}
)

// CreateCluster creates the cluster's IAM roles (control plane and nodes)
// and the control plane, and waits until it is active.
//
// With spec.Network the control plane's subnets are the network's subnets
// (sorted by zone). The network's ServicesCIDR is not used: EKS refuses a
// service range that overlaps the VPC's CIDR, and the site block (which
// holds it) is the VPC's CIDR; EKS then picks its default range, outside
// the VPC (172.20.0.0/16 for a VPC in 10.0.0.0/8, else 10.100.0.0/16).
// EKS wants the subnets in at least two availability zones: a site network
// with a single zone is passed as it is (cloudsim accepts it), and a real
// EKS answers InvalidParameterException, which says so.
func (b *Backend) CreateCluster(ctx context.Context, spec cloud.ClusterSpec) (cloud.Cluster, error) {
	var subnets []string
	var netCfg *ekstypes.KubernetesNetworkConfigRequest
	tokenParts := []string{"cluster", spec.Region, spec.Name, spec.KubernetesVersion}
	if n := spec.Network; n != nil {
		subnets = networkSubnets(n)
		if len(subnets) == 0 {
			return cloud.Cluster{}, cloud.Invalid("aws", "CreateCluster", "NoSubnets", "network %s of cluster %s has no subnets: give the site at least one zone in gpufleet_network", n.Name, spec.Name)
		}
		// Another network is another request, not a retry of this one.
		tokenParts = append(tokenParts, strings.Join(subnets, ","))
	}
	roleARN, err := b.ensureRole(ctx, clusterRole(spec.Name), "eks.amazonaws.com", clusterPolicies...)
	if err != nil {
		return cloud.Cluster{}, err
	}
	if _, err := b.ensureRole(ctx, nodeRole(spec.Name), "ec2.amazonaws.com", nodePolicies...); err != nil {
		return cloud.Cluster{}, err
	}
	if spec.Network == nil && b.cfg.ClusterSubnets != nil {
		subnets = b.cfg.ClusterSubnets(spec.Region)
	}
	r := b.in(spec.Region)
	_, err = r.eks.CreateCluster(ctx, &eks.CreateClusterInput{
		Name: awssdk.String(spec.Name), RoleArn: awssdk.String(roleARN), Version: nonEmpty(spec.KubernetesVersion),
		AccessConfig: clusterAccess(),
		ResourcesVpcConfig: &ekstypes.VpcConfigRequest{SubnetIds: subnets,
			EndpointPublicAccess: awssdk.Bool(spec.PublicEndpoint), EndpointPrivateAccess: awssdk.Bool(spec.PrivateEndpoint)},
		KubernetesNetworkConfig: netCfg,
		ClientRequestToken:      awssdk.String(token(tokenParts...)),
		Tags:                    spec.Tags,
	})
	if err != nil {
		cerr := classify("CreateCluster", err)
		if !cloud.IsConflict(cerr) {
			return cloud.Cluster{}, cerr
		}
		// It exists: the same cluster from a retried apply, or another one.
		existing, gerr := b.describeCluster(ctx, spec.Region, spec.Name)
		if gerr != nil {
			return cloud.Cluster{}, gerr
		}
		c := clusterOf(spec.Region, spec.Name, existing)
		if c.Status == cloud.StatusDeleting || (spec.KubernetesVersion != "" && c.KubernetesVersion != spec.KubernetesVersion) {
			return cloud.Cluster{}, cerr
		}
		if msg := networkMismatch(spec, existing); msg != "" {
			return cloud.Cluster{}, cloud.Conflict("aws", "CreateCluster", "ResourceInUseException", "%s", msg).Caused(cerr)
		}
	}
	w := clusterWait(b, "DescribeCluster", spec.Name)
	waiter := eks.NewClusterActiveWaiter(r.eks, func(o *eks.ClusterActiveWaiterOptions) { w.options(&o.MinDelay, &o.MaxDelay, &o.Retryable) })
	if err := waiter.Wait(ctx, &eks.DescribeClusterInput{Name: awssdk.String(spec.Name)}, b.cfg.Timeout); err != nil {
		if cerr := w.end(ctx, err); ctx.Err() != nil || cloud.IsRetryable(cerr) {
			// A throttled or failed poll or a timeout, not a failed
			// cluster: the caller's retries call CreateCluster again,
			// which finds and waits for it.
			return cloud.Cluster{}, cerr
		}
		c, gerr := b.GetCluster(ctx, spec.Region, spec.Name)
		if gerr != nil {
			return cloud.Cluster{}, gerr
		}
		return c, cloud.Fatal("aws", "CreateCluster", string(c.Status), "cluster %s did not become active: %v", spec.Name, err)
	}
	return b.GetCluster(ctx, spec.Region, spec.Name)
}

// networkSubnets are a network's subnet IDs sorted by zone.
func networkSubnets(n *cloud.ClusterNetwork) []string {
	var out []string
	for _, z := range slices.Sorted(maps.Keys(n.SubnetIDs)) {
		if id := n.SubnetIDs[z]; id != "" {
			out = append(out, id)
		}
	}
	return out
}

// networkMismatch says how an existing cluster is not in spec.Network
// ("" when it is, or when spec has no network): its subnets must be
// subnets of the network (a network that gained zones since still
// matches) and its service range the network's.
func networkMismatch(spec cloud.ClusterSpec, c *ekstypes.Cluster) string {
	n := spec.Network
	if n == nil {
		return ""
	}
	var have []string
	if c.ResourcesVpcConfig != nil {
		have = c.ResourcesVpcConfig.SubnetIds
	}
	want := networkSubnets(n)
	for _, s := range have {
		if !slices.Contains(want, s) {
			return fmt.Sprintf("cluster %s exists in other subnets (%s), not in network %s (%s): delete it or give this cluster another name",
				spec.Name, strings.Join(have, ", "), n.Name, strings.Join(want, ", "))
		}
	}
	if len(have) == 0 {
		return fmt.Sprintf("cluster %s exists without subnets, not in network %s: delete it or give this cluster another name", spec.Name, n.Name)
	}
	return ""
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return awssdk.String(s)
}

// GetCluster describes a cluster.
func (b *Backend) GetCluster(ctx context.Context, region, name string) (cloud.Cluster, error) {
	c, err := b.describeCluster(ctx, region, name)
	if err != nil {
		return cloud.Cluster{}, err
	}
	return clusterOf(region, name, c), nil
}

// describeCluster is DescribeCluster's cluster, classified errors.
func (b *Backend) describeCluster(ctx context.Context, region, name string) (*ekstypes.Cluster, error) {
	out, err := b.in(region).eks.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: awssdk.String(name)})
	if err != nil {
		return nil, classify("DescribeCluster", err)
	}
	if out.Cluster == nil {
		return nil, cloud.Transient("aws", "DescribeCluster", "EmptyResponse", "DescribeCluster answered no cluster for %s", name)
	}
	return out.Cluster, nil
}

func clusterOf(region, name string, c *ekstypes.Cluster) cloud.Cluster {
	res := cloud.Cluster{Name: name, Region: region, Status: clusterStatus(c.Status), KubernetesVersion: awssdk.ToString(c.Version),
		Endpoint: awssdk.ToString(c.Endpoint), ID: awssdk.ToString(c.Arn)}
	if c.CertificateAuthority != nil {
		res.CACertificate = awssdk.ToString(c.CertificateAuthority.Data)
	}
	if c.KubernetesNetworkConfig != nil {
		res.ServiceCIDR = awssdk.ToString(c.KubernetesNetworkConfig.ServiceIpv4Cidr)
	}
	return res
}

func clusterStatus(s ekstypes.ClusterStatus) cloud.Status {
	switch s {
	case ekstypes.ClusterStatusActive:
		return cloud.StatusActive
	case ekstypes.ClusterStatusDeleting:
		return cloud.StatusDeleting
	case ekstypes.ClusterStatusFailed:
		return cloud.StatusCreateFailed
	case ekstypes.ClusterStatusUpdating:
		return cloud.StatusUpdating
	}
	return cloud.StatusCreating
}

// DeleteCluster deletes the control plane, waits until it is gone, then
// deletes its IAM roles.
func (b *Backend) DeleteCluster(ctx context.Context, region, name string) error {
	r := b.in(region)
	gone := false
	if _, err := r.eks.DeleteCluster(ctx, &eks.DeleteClusterInput{Name: awssdk.String(name)}); err != nil {
		cerr := classify("DeleteCluster", err)
		switch {
		case cloud.IsNotFound(cerr):
			gone = true
		case !cloud.IsConflict(cerr) || !b.deleting(ctx, region, name):
			return cerr
		}
	}
	if !gone {
		w := clusterWait(b, "DeleteCluster", name)
		waiter := eks.NewClusterDeletedWaiter(r.eks, func(o *eks.ClusterDeletedWaiterOptions) { w.options(&o.MinDelay, &o.MaxDelay, &o.Retryable) })
		if err := waiter.Wait(ctx, &eks.DescribeClusterInput{Name: awssdk.String(name)}, b.cfg.Timeout); err != nil {
			return w.end(ctx, err)
		}
	}
	if err := b.deleteRole(ctx, nodeRole(name), nodePolicies); err != nil {
		return err
	}
	return b.deleteRole(ctx, clusterRole(name), clusterPolicies)
}

// deleteRole detaches the policies and deletes the role; a role already
// gone is fine.
func (b *Backend) deleteRole(ctx context.Context, name string, policies []string) error {
	for _, p := range policies {
		_, err := b.iam.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: awssdk.String(name), PolicyArn: awssdk.String(p)})
		if err := cloud.IgnoreNotFound(classify("DetachRolePolicy", err)); err != nil {
			return err
		}
	}
	_, err := b.iam.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: awssdk.String(name)})
	return cloud.IgnoreNotFound(classify("DeleteRole", err))
}

// deleting reports a cluster already being deleted (a retried delete).
func (b *Backend) deleting(ctx context.Context, region, name string) bool {
	c, err := b.GetCluster(ctx, region, name)
	return err == nil && c.Status == cloud.StatusDeleting
}

func (b *Backend) subnet(region, zone string) string {
	if b.cfg.SubnetForZone != nil {
		return b.cfg.SubnetForZone(region, zone)
	}
	return zone
}

// isSubnetID tells an EC2 subnet ID from the zone IDs that cloudsim
// accepts as subnets.
func isSubnetID(s string) bool { return strings.HasPrefix(s, "subnet-") }

// poolSubnet is the subnet of a node group in spec.Zone. A cluster in a
// site network (its control plane subnets are subnet IDs) has its node
// groups in the subnet of their zone in the cluster's VPC: found with
// DescribeSubnets by VPC and availability zone ID, so that zones added to
// the network after the cluster work too. A zone without a subnet is a
// KindInvalid error. Other clusters use Config.SubnetForZone.
func (b *Backend) poolSubnet(ctx context.Context, r *regional, spec cloud.NodePoolSpec) (string, error) {
	c, err := b.describeCluster(ctx, spec.Region, spec.Cluster)
	if err != nil {
		return "", err
	}
	var own []string
	vpc := ""
	if v := c.ResourcesVpcConfig; v != nil {
		own = slices.DeleteFunc(slices.Clone(v.SubnetIds), func(s string) bool { return !isSubnetID(s) })
		vpc = awssdk.ToString(v.VpcId)
	}
	if len(own) == 0 {
		return b.subnet(spec.Region, spec.Zone), nil
	}
	invalid := func(format string, args ...any) error {
		return cloud.Invalid("aws", "CreateNodegroup", "NoSubnetInZone", format, args...).ForOffer(spec)
	}
	if vpc == "" {
		out, err := r.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: own})
		if err != nil {
			return "", classify("DescribeSubnets", err)
		}
		for _, s := range out.Subnets {
			vpc = awssdk.ToString(s.VpcId)
			break
		}
		if vpc == "" {
			return "", invalid("the subnets of cluster %s (%s) are gone: recreate the cluster in its site network", spec.Cluster, strings.Join(own, ", "))
		}
	}
	out, err := r.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{
		{Name: awssdk.String("vpc-id"), Values: []string{vpc}}}})
	if err != nil {
		return "", classify("DescribeSubnets", err)
	}
	var inZone, zones []string
	for _, s := range out.Subnets {
		id, zone := awssdk.ToString(s.SubnetId), awssdk.ToString(s.AvailabilityZoneId)
		b.subnetZones.Store(spec.Region+"/"+id, zone)
		if zone == spec.Zone {
			inZone = append(inZone, id)
		}
		zones = append(zones, zone)
	}
	if len(inZone) == 0 {
		slices.Sort(zones)
		return "", invalid("the network (%s) of cluster %s has no subnet in zone %q (its zones: %s): add %s to the site's zones in gpufleet_network, or place the pool in one of its zones",
			vpc, spec.Cluster, spec.Zone, strings.Join(slices.Compact(zones), ", "), spec.Zone)
	}
	// The cluster's own subnet of the zone first, else the lowest ID.
	slices.Sort(inZone)
	for _, id := range inZone {
		if slices.Contains(own, id) {
			return id, nil
		}
	}
	return inZone[0], nil
}

func launchTemplateName(cluster, pool string) string { return "gpufleet-" + cluster + "-" + pool }

// CreateNodePool ensures the cluster's node role, creates a launch template carrying
// the bootstrap user data, and the node group; it waits until the group is
// active. A group that fails to launch is returned with a classified error
// (capacity, quota) and left for the caller to delete.
func (b *Backend) CreateNodePool(ctx context.Context, spec cloud.NodePoolSpec) (cloud.NodePool, error) {
	r := b.in(spec.Region)
	subnet, err := b.poolSubnet(ctx, r, spec)
	if err != nil {
		return cloud.NodePool{}, err
	}
	roleARN, err := b.ensureRole(ctx, nodeRole(spec.Cluster), "ec2.amazonaws.com", nodePolicies...)
	if err != nil {
		return cloud.NodePool{}, err
	}
	capacity, err := nodegroupCapacity(spec)
	if err != nil {
		return cloud.NodePool{}, err
	}
	data := launchDataOf(spec)
	var lt *ekstypes.LaunchTemplateSpecification
	if !data.empty() {
		name := launchTemplateName(spec.Cluster, spec.Name)
		if err := b.ensureLaunchTemplate(ctx, r, name, data); err != nil {
			return cloud.NodePool{}, err
		}
		lt = &ekstypes.LaunchTemplateSpecification{Name: awssdk.String(name), Version: awssdk.String("1")}
	}
	// The instance type is in the launch template when it targets a
	// reservation; EKS refuses it in both places.
	var instanceTypes []string
	if data.InstanceType == "" {
		instanceTypes = []string{spec.InstanceType}
	}
	timeout, err := b.createTimeout(ctx, r, spec)
	if err != nil {
		return cloud.NodePool{}, err
	}
	nodes := int32(spec.Nodes)
	tok := spec.IdempotencyToken
	if tok == "" {
		tok = token("nodegroup", spec.Region, spec.Cluster, spec.Name, spec.InstanceType, spec.Zone, spec.CapacityType, reservationID(spec))
	}
	_, err = r.eks.CreateNodegroup(ctx, &eks.CreateNodegroupInput{
		ClusterName: awssdk.String(spec.Cluster), NodegroupName: awssdk.String(spec.Name), NodeRole: awssdk.String(roleARN),
		Subnets: []string{subnet}, InstanceTypes: instanceTypes,
		AmiType: ekstypes.AMITypesAl2023X8664Nvidia, CapacityType: capacity,
		ScalingConfig: &ekstypes.NodegroupScalingConfig{MinSize: awssdk.Int32(0), DesiredSize: awssdk.Int32(nodes), MaxSize: awssdk.Int32(max(nodes, 1))},
		Labels:        maps.Clone(spec.Labels), Taints: toEKSTaints(spec.Taints), LaunchTemplate: lt, Tags: nodegroupTags(spec),
		ClientRequestToken: awssdk.String(tok),
	})
	if err != nil {
		cerr := classify("CreateNodegroup", err)
		if !cloud.IsConflict(cerr) {
			return cloud.NodePool{}, cerr
		}
		existing, gerr := b.GetNodePool(ctx, spec.Region, spec.Cluster, spec.Name)
		if gerr != nil {
			return cloud.NodePool{}, gerr
		}
		if !existing.Spec.Equal(spec) || existing.Status == cloud.StatusDeleting {
			return existing, cerr
		}
	}
	return b.waitNodegroup(ctx, spec.Region, spec.Cluster, spec.Name, "CreateNodegroup", timeout)
}

// rideOutThrottling makes an EKS waiter ride out throttled polls: the SDK
// makes one attempt per call (New), and a waiter ends on any error its
// acceptors do not match, so without this one throttled Describe would end
// the wait and the caller's retries would repeat the whole create or
// delete, an attempt spent per throttled poll. A throttled poll waits
// instead (cloud.PollBackoff: the Retry-After, or backoff from the poll
// interval) and the waiter polls again; anything else goes to next, the
// waiter's own acceptors.
func rideOutThrottling[In, Out any](op string, poll time.Duration, next func(context.Context, In, Out, error) (bool, error)) func(context.Context, In, Out, error) (bool, error) {
	backoff := &cloud.PollBackoff{Base: poll, Max: time.Minute}
	return func(ctx context.Context, in In, out Out, err error) (bool, error) {
		if throttled, werr := backoff.Throttled(ctx, classify(op, err)); throttled || werr != nil {
			return werr == nil, werr
		}
		return next(ctx, in, out, err)
	}
}

// eksWait sets up the EKS waiters in one place and tells their ends
// apart: they poll every cfg.Poll, a throttled poll is ridden out
// (rideOutThrottling) and, once cfg.Timeout has passed, the wait ends
// with cloud.TimeoutError naming what was waited for and the last status
// it read. The SDK's waiters stay the tool (their acceptors know EKS's
// states); only their configuration and errors are ours.
type eksWait[In, Out any] struct {
	b *Backend
	// op classifies the waiter's errors, describe its polls' (for
	// throttling); what names the object.
	op, describe, what string
	status             func(Out) string
	last               string
	// failed is the error the acceptors ended the wait with, told apart
	// from the waiter's own "exceeded max wait time".
	failed error
	// timeout is the wait's limit when not cfg.Timeout (a create that
	// waits for its reservation's start).
	timeout time.Duration
}

func clusterWait(b *Backend, op, name string) *eksWait[*eks.DescribeClusterInput, *eks.DescribeClusterOutput] {
	return &eksWait[*eks.DescribeClusterInput, *eks.DescribeClusterOutput]{b: b, op: op, describe: "DescribeCluster", what: "cluster " + name,
		status: func(out *eks.DescribeClusterOutput) string { return string(out.Cluster.Status) }}
}

func nodegroupWait(b *Backend, op, name string) *eksWait[*eks.DescribeNodegroupInput, *eks.DescribeNodegroupOutput] {
	return &eksWait[*eks.DescribeNodegroupInput, *eks.DescribeNodegroupOutput]{b: b, op: op, describe: "DescribeNodegroup", what: "node group " + name,
		status: func(out *eks.DescribeNodegroupOutput) string { return string(out.Nodegroup.Status) }}
}

// options configures a waiter's delays and wraps its acceptors.
func (w *eksWait[In, Out]) options(minDelay, maxDelay *time.Duration, retryable *func(context.Context, In, Out, error) (bool, error)) {
	*minDelay, *maxDelay = w.b.cfg.Poll, w.b.cfg.Poll
	next := rideOutThrottling(w.describe, w.b.cfg.Poll, *retryable)
	w.last = "unknown"
	*retryable = func(ctx context.Context, in In, out Out, err error) (bool, error) {
		if err == nil {
			w.last = w.status(out)
		}
		again, rerr := next(ctx, in, out, err)
		w.failed = rerr
		return again, rerr
	}
}

// end is the error a waiter's Wait ended with: ctx's own, the timeout, or
// the acceptors' error classified.
func (w *eksWait[In, Out]) end(ctx context.Context, err error) error {
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case err != w.failed:
		return cloud.TimeoutError("aws", w.op, w.what, w.last, cmp.Or(w.timeout, w.b.cfg.Timeout))
	}
	return classify(w.op, err)
}

// waitNodegroup waits for ACTIVE, stopping early on CREATE_FAILED and
// DEGRADED, whose health issues become the error.
func (b *Backend) waitNodegroup(ctx context.Context, region, cluster, name, op string, timeout time.Duration) (cloud.NodePool, error) {
	r := b.in(region)
	w := nodegroupWait(b, op, name)
	w.timeout = timeout
	waiter := eks.NewNodegroupActiveWaiter(r.eks, func(o *eks.NodegroupActiveWaiterOptions) {
		o.Retryable = func(_ context.Context, _ *eks.DescribeNodegroupInput, out *eks.DescribeNodegroupOutput, err error) (bool, error) {
			if err != nil {
				return false, err
			}
			switch out.Nodegroup.Status {
			case ekstypes.NodegroupStatusActive, ekstypes.NodegroupStatusCreateFailed, ekstypes.NodegroupStatusDegraded:
				return false, nil
			}
			return true, nil
		}
		w.options(&o.MinDelay, &o.MaxDelay, &o.Retryable)
	})
	if err := waiter.Wait(ctx, &eks.DescribeNodegroupInput{ClusterName: awssdk.String(cluster), NodegroupName: awssdk.String(name)}, timeout); err != nil {
		return cloud.NodePool{}, w.end(ctx, err)
	}
	p, err := b.GetNodePool(ctx, region, cluster, name)
	if err != nil {
		return p, err
	}
	if p.Status == cloud.StatusCreateFailed || p.Status == cloud.StatusDegraded {
		return p, issueError(op, p)
	}
	return p, nil
}

// issueError classifies the health issues of a failed or degraded node
// group. EKS reports launch failures as AsgInstanceLaunchFailures with the
// EC2 error in the message.
func issueError(op string, p cloud.NodePool) error {
	e := cloud.Fatal("aws", op, "NodegroupFailed", "node group %s failed", p.Spec.Name).ForOffer(p.Spec)
	for _, is := range p.Issues {
		text := is.Code + " " + is.Message
		switch {
		case strings.Contains(text, "InsufficientInstanceCapacity"), strings.Contains(text, "UnsupportedAvailabilityZone"),
			strings.Contains(text, "InsufficientCapacity"), strings.Contains(text, "ReservationCapacityExceeded"):
			e.Kind = cloud.KindCapacity
		case strings.Contains(text, "VcpuLimitExceeded"), strings.Contains(text, "InstanceLimitExceeded"),
			strings.Contains(text, "MaxSpotInstanceCountExceeded"), strings.Contains(text, "QuotaExceeded"):
			e.Kind = cloud.KindQuota
		}
		e.Code, e.Message = is.Code, is.Message
		if id := reservationID(p.Spec); id != "" && strings.Contains(text, "Reservation") && !strings.Contains(e.Message, id) {
			e.Message += " (capacity reservation " + id + ")"
		}
		if e.Kind != cloud.KindFatal {
			break
		}
	}
	return e
}

// GetNodePool describes a node group.
func (b *Backend) GetNodePool(ctx context.Context, region, cluster, name string) (cloud.NodePool, error) {
	out, err := b.in(region).eks.DescribeNodegroup(ctx, &eks.DescribeNodegroupInput{ClusterName: awssdk.String(cluster), NodegroupName: awssdk.String(name)})
	if err != nil {
		return cloud.NodePool{}, classify("DescribeNodegroup", err)
	}
	return b.nodePoolOf(ctx, region, cluster, name, out.Nodegroup)
}

// nodePoolOf is a described node group as a node pool.
func (b *Backend) nodePoolOf(ctx context.Context, region, cluster, name string, ng *ekstypes.Nodegroup) (cloud.NodePool, error) {
	spec := cloud.NodePoolSpec{Cluster: cluster, Region: region, Name: name, Labels: ng.Labels, Taints: fromEKSTaints(ng.Taints),
		CapacityType: "on_demand"}
	if ng.CapacityType == ekstypes.CapacityTypesSpot {
		spec.CapacityType = "spot"
	}
	if len(ng.InstanceTypes) > 0 {
		spec.InstanceType = ng.InstanceTypes[0]
	}
	if err := b.readCapacity(ctx, region, ng, &spec); err != nil {
		return cloud.NodePool{}, err
	}
	if len(ng.Subnets) > 0 {
		zone, err := b.zoneOf(ctx, region, ng.Subnets[0])
		if err != nil {
			return cloud.NodePool{}, err
		}
		spec.Zone = zone
	}
	if ng.ScalingConfig != nil {
		spec.Nodes = int(awssdk.ToInt32(ng.ScalingConfig.DesiredSize))
	}
	if spec.Labels == nil {
		spec.Labels = map[string]string{}
	}
	p := cloud.NodePool{Spec: spec, Status: nodegroupStatus(ng.Status), ID: awssdk.ToString(ng.NodegroupArn)}
	if p.Status == cloud.StatusActive || p.Status == cloud.StatusDegraded || p.Status == cloud.StatusUpdating {
		p.ReadyNodes = spec.Nodes
	}
	if ng.Health != nil {
		for _, is := range ng.Health.Issues {
			p.Issues = append(p.Issues, cloud.Issue{Code: string(is.Code), Message: awssdk.ToString(is.Message)})
		}
	}
	return p, nil
}

var _ cloud.NodePoolLister = (*Backend)(nil)

// ListNodePools lists a cluster's node groups (ListNodegroups, every page)
// and returns those with gpufleet's names.
func (b *Backend) ListNodePools(ctx context.Context, region, cluster string) ([]string, error) {
	var out []string
	p := eks.NewListNodegroupsPaginator(b.in(region).eks, &eks.ListNodegroupsInput{ClusterName: awssdk.String(cluster)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, classify("ListNodegroups", err)
		}
		for _, n := range page.Nodegroups {
			if cloud.IsPoolName(n) {
				out = append(out, n)
			}
		}
	}
	return out, nil
}

// zoneOf is the zone of a node group's subnet: a subnet ID's availability
// zone ID (DescribeSubnets, cached), else Config.ZoneForSubnet.
func (b *Backend) zoneOf(ctx context.Context, region, subnet string) (string, error) {
	if !isSubnetID(subnet) {
		if b.cfg.ZoneForSubnet == nil {
			return subnet, nil
		}
		return b.cfg.ZoneForSubnet(region, subnet), nil
	}
	if z, ok := b.subnetZones.Load(region + "/" + subnet); ok {
		return z.(string), nil
	}
	out, err := b.in(region).ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{subnet}})
	if err != nil {
		cerr := classify("DescribeSubnets", err)
		if cloud.IsNotFound(cerr) {
			// The subnet is gone, not the node group: report the subnet
			// rather than a NotFound that reads as "no such pool".
			return subnet, nil
		}
		return "", cerr
	}
	for _, s := range out.Subnets {
		if awssdk.ToString(s.SubnetId) == subnet {
			zone := awssdk.ToString(s.AvailabilityZoneId)
			b.subnetZones.Store(region+"/"+subnet, zone)
			return zone, nil
		}
	}
	return subnet, nil
}

func nodegroupStatus(s ekstypes.NodegroupStatus) cloud.Status {
	switch s {
	case ekstypes.NodegroupStatusActive:
		return cloud.StatusActive
	case ekstypes.NodegroupStatusUpdating:
		return cloud.StatusUpdating
	case ekstypes.NodegroupStatusDeleting, ekstypes.NodegroupStatusDeleteFailed:
		return cloud.StatusDeleting
	case ekstypes.NodegroupStatusCreateFailed:
		return cloud.StatusCreateFailed
	case ekstypes.NodegroupStatusDegraded:
		return cloud.StatusDegraded
	}
	return cloud.StatusCreating
}

// UpdateNodePool scales and relabels/retaints in place and waits.
func (b *Backend) UpdateNodePool(ctx context.Context, region, cluster, name string, u cloud.NodePoolUpdate) (cloud.NodePool, error) {
	cur, err := b.GetNodePool(ctx, region, cluster, name)
	if err != nil {
		return cur, err
	}
	// The token is derived from the desired state: a retried update is the
	// same request, a different update a new one.
	in := &eks.UpdateNodegroupConfigInput{ClusterName: awssdk.String(cluster), NodegroupName: awssdk.String(name),
		ClientRequestToken: awssdk.String(token("update", region, cluster, name, derefInt(u.Nodes), fmt.Sprint(u.Labels), fmt.Sprint(u.Taints)))}
	changed := false
	if u.Nodes != nil && *u.Nodes != cur.Spec.Nodes {
		n := int32(*u.Nodes)
		in.ScalingConfig = &ekstypes.NodegroupScalingConfig{MinSize: awssdk.Int32(0), DesiredSize: awssdk.Int32(n), MaxSize: awssdk.Int32(max(n, 1))}
		changed = true
	}
	if u.Labels != nil && !maps.Equal(u.Labels, cur.Spec.Labels) {
		lp := &ekstypes.UpdateLabelsPayload{AddOrUpdateLabels: map[string]string{}}
		for k, v := range u.Labels {
			if cur.Spec.Labels[k] != v {
				lp.AddOrUpdateLabels[k] = v
			}
		}
		for k := range cur.Spec.Labels {
			if _, keep := u.Labels[k]; !keep {
				lp.RemoveLabels = append(lp.RemoveLabels, k)
			}
		}
		slices.Sort(lp.RemoveLabels)
		in.Labels = lp
		changed = true
	}
	if u.Taints != nil && !slices.Equal(*u.Taints, cur.Spec.Taints) {
		tp := &ekstypes.UpdateTaintsPayload{AddOrUpdateTaints: toEKSTaints(*u.Taints)}
		for _, t := range cur.Spec.Taints {
			if !slices.ContainsFunc(*u.Taints, func(n cloud.Taint) bool { return n.Key == t.Key && n.Effect == t.Effect }) {
				tp.RemoveTaints = append(tp.RemoveTaints, toEKSTaints([]cloud.Taint{t})...)
			}
		}
		in.Taints = tp
		changed = true
	}
	if !changed {
		return cur, nil
	}
	if _, err := b.in(region).eks.UpdateNodegroupConfig(ctx, in); err != nil {
		return cur, classify("UpdateNodegroupConfig", err)
	}
	return b.waitNodegroup(ctx, region, cluster, name, "UpdateNodegroupConfig", b.cfg.Timeout)
}

// DeleteNodePool deletes the node group, waits until it is gone, then
// deletes its launch template.
func (b *Backend) DeleteNodePool(ctx context.Context, region, cluster, name string) error {
	r := b.in(region)
	_, err := r.eks.DeleteNodegroup(ctx, &eks.DeleteNodegroupInput{ClusterName: awssdk.String(cluster), NodegroupName: awssdk.String(name)})
	wait := err == nil
	if err != nil {
		cerr := classify("DeleteNodegroup", err)
		switch {
		case cloud.IsNotFound(cerr):
		case !cloud.IsConflict(cerr):
			return cerr
		default:
			// ResourceInUseException: only a node group that is already
			// being deleted is waited for; any other refusal is returned
			// at once.
			p, gerr := b.GetNodePool(ctx, region, cluster, name)
			if gerr != nil && !cloud.IsNotFound(gerr) || gerr == nil && p.Status != cloud.StatusDeleting {
				return cerr
			}
			wait = gerr == nil
		}
	}
	if wait {
		w := nodegroupWait(b, "DeleteNodegroup", name)
		waiter := eks.NewNodegroupDeletedWaiter(r.eks, func(o *eks.NodegroupDeletedWaiterOptions) { w.options(&o.MinDelay, &o.MaxDelay, &o.Retryable) })
		if werr := waiter.Wait(ctx, &eks.DescribeNodegroupInput{ClusterName: awssdk.String(cluster), NodegroupName: awssdk.String(name)}, b.cfg.Timeout); werr != nil {
			return w.end(ctx, werr)
		}
	}
	_, err = r.ec2.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateName: awssdk.String(launchTemplateName(cluster, name))})
	return cloud.IgnoreNotFound(classify("DeleteLaunchTemplate", err))
}

// ensureRole creates an IAM role trusted by service with the policies, or
// reuses it.
func (b *Backend) ensureRole(ctx context.Context, name, service string, policies ...string) (string, error) {
	trust := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"%s"},"Action":"sts:AssumeRole"}]}`, service)
	var arn string
	out, err := b.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: awssdk.String(name)})
	switch cerr := classify("GetRole", err); {
	case err == nil:
		arn = awssdk.ToString(out.Role.Arn)
	case cloud.IsNotFound(cerr):
		created, err := b.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: awssdk.String(name), AssumeRolePolicyDocument: awssdk.String(trust),
			Description: awssdk.String("gpufleet: " + service)})
		if err != nil {
			if cerr := classify("CreateRole", err); !cloud.IsConflict(cerr) {
				return "", cerr
			}
			again, err := b.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: awssdk.String(name)})
			if err != nil {
				return "", classify("GetRole", err)
			}
			arn = awssdk.ToString(again.Role.Arn)
		} else {
			arn = awssdk.ToString(created.Role.Arn)
		}
	default:
		return "", cerr
	}
	for _, p := range policies {
		if _, err := b.iam.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: awssdk.String(name), PolicyArn: awssdk.String(p)}); err != nil {
			return "", classify("AttachRolePolicy", err)
		}
	}
	return arn, nil
}

func toEKSTaints(ts []cloud.Taint) []ekstypes.Taint {
	var out []ekstypes.Taint
	for _, t := range ts {
		out = append(out, ekstypes.Taint{Key: awssdk.String(t.Key), Value: awssdk.String(t.Value), Effect: eksEffect(t.Effect)})
	}
	return out
}

func fromEKSTaints(ts []ekstypes.Taint) []cloud.Taint {
	var out []cloud.Taint
	for _, t := range ts {
		out = append(out, cloud.Taint{Key: awssdk.ToString(t.Key), Value: awssdk.ToString(t.Value), Effect: k8sEffect(t.Effect)})
	}
	return out
}

func eksEffect(e string) ekstypes.TaintEffect {
	switch e {
	case "NoExecute":
		return ekstypes.TaintEffectNoExecute
	case "PreferNoSchedule":
		return ekstypes.TaintEffectPreferNoSchedule
	}
	return ekstypes.TaintEffectNoSchedule
}

func k8sEffect(e ekstypes.TaintEffect) string {
	switch e {
	case ekstypes.TaintEffectNoExecute:
		return "NoExecute"
	case ekstypes.TaintEffectPreferNoSchedule:
		return "PreferNoSchedule"
	}
	return "NoSchedule"
}

// classify maps SDK errors to cloud errors by the API's error code.
func classify(op string, err error) error {
	if err, done := cloud.Settled(err); done {
		return err
	}
	e := cloud.Fatal("aws", op, "Error", "%s", err.Error()).Caused(err)
	var api smithy.APIError
	if !errors.As(err, &api) {
		return e
	}
	e.Code, e.Message = api.ErrorCode(), api.ErrorMessage()
	switch code := api.ErrorCode(); {
	case code == "ResourceNotFoundException" || code == "NoSuchEntity" || strings.HasSuffix(code, ".NotFound") ||
		strings.HasSuffix(code, "NotFoundException"):
		e.Kind = cloud.KindNotFound
	case code == "ResourceInUseException" || code == "EntityAlreadyExists" || strings.HasSuffix(code, "AlreadyExistsException") ||
		code == "DeleteConflict" || code == "DependencyViolation" || code == "IncorrectState" || code == "InvalidStateTransition" ||
		code == "ScalingActivityInProgress" ||
		code == "RouteAlreadyExists" || code == "VpcPeeringConnectionAlreadyExists" || code == "VpnGatewayAttachmentLimitExceeded" ||
		strings.HasSuffix(code, ".Duplicate") || strings.HasSuffix(code, ".Conflict") || strings.HasSuffix(code, ".NotAttached"):
		e.Kind = cloud.KindConflict
	case code == "InvalidParameterException" || code == "InvalidRequestException" || code == "ValidationError" ||
		strings.HasPrefix(code, "InvalidParameter") || code == "MissingParameter" || strings.HasSuffix(code, ".Malformed") ||
		strings.HasSuffix(code, ".Range"):
		e.Kind = cloud.KindInvalid
	case code == "ThrottlingException" || code == "Throttling" || code == "TooManyRequestsException" ||
		code == "RequestLimitExceeded" || code == "RequestThrottled":
		e.Kind = cloud.KindThrottled
	case code == "ServerException" || code == "ServiceUnavailableException" || code == "ServiceUnavailable" ||
		code == "InternalFailure" || code == "InternalError" || code == "Unavailable" || code == "ResourceContention":
		e.Kind = cloud.KindTransient
	case code == "UnsupportedAvailabilityZoneException" || code == "InsufficientInstanceCapacity":
		e.Kind = cloud.KindCapacity
	case strings.HasSuffix(code, "LimitExceeded") || code == "ResourceLimitExceededException":
		e.Kind = cloud.KindQuota
	}
	return e
}

func derefInt(p *int) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprint(*p)
}
