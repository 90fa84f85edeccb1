// Package awsfront puts the AWS wire protocols in front of a cloudsim
// engine, so that the real aws-sdk-go-v2 clients for EKS (REST-JSON), EC2
// (ec2 query, XML replies), IAM and EC2 Auto Scaling (awsQuery, XML
// replies; Auto Scaling is described in autoscaling.go) can be pointed at
// it over loopback (httptest) with a base endpoint. All three services share
// one URL; a request is routed by the service in its SigV4 credential scope
// (…/20261125/eu-central-1/eks/aws4_request), falling back to the Action and
// Version form parameters (EC2 2016-11-15, IAM 2010-05-08) and to the REST
// path (/clusters…). Signatures are not verified. The region of EKS and EC2
// calls is the credential scope's region; IAM is global.
//
// Engine state maps to AWS as follows (cloud name "aws"):
//
//   - EKS clusters are engine clusters; node groups are engine node pools
//     (nodegroup name = pool name, first element of subnets = pool zone,
//     or that subnet's availability zone ID when it is an EC2 subnet, see
//     "EC2 subnets" in eks.go,
//     scalingConfig.desiredSize = node count, capacityType ON_DEMAND/SPOT/
//     CAPACITY_BLOCK = "on_demand"/"spot"/"capacity_block" ("reserved" for
//     ON_DEMAND from a launch template that targets a capacity
//     reservation, whose ID is the pool's reservation: reservations.go),
//     instanceTypes[0] or the launch template's instance
//     type = instance type, clientRequestToken = idempotency token). What the
//     engine does not model (min/max size, all subnets, launch template, node
//     role, tags, timestamps) is kept in the engine's tables
//     "ClusterMeta" and "NodegroupMeta" (rows region/cluster[/nodegroup],
//     eks_records.go), removed when the cluster or node group is deleted.
//   - EC2 launch templates are rows of the engine's table "LaunchTemplate"
//     named region/LaunchTemplateName (ID, region, name, client token,
//     created, instance type, user data, and the capacity reservation
//     target, preference and market type when given; launch_template.go);
//     their ID is "lt-" and 17 hex digits.
//   - IAM roles are rows of the engine's table "Role" named by RoleName
//     (RoleId, path, trust policy, description, created); each attached
//     managed policy is a row of table "RolePolicyAttachment" named
//     RoleName|PolicyArn (iam.go).
//   - EC2 capacity reservations and Capacity Blocks are the engine's
//     reservation ledger (reservations.go).
//   - EC2 networking (VPCs, subnets, security groups, route tables, VPN
//     gateways, customer gateways, VPN connections, VPC peering
//     connections, CreateTags) is described in network.go.
//
// As on AWS, a create of an existing name fails (EKS ResourceInUseException
// 409, EC2 InvalidLaunchTemplateName.AlreadyExistsException, IAM
// EntityAlreadyExists 409) unless an EKS/EC2 retry carries the first
// create's clientRequestToken/ClientToken; the SDK makes up a fresh token
// per call, so a backend must Describe and compare after a conflict. A
// cluster's endpoint and certificateAuthority appear once it is ACTIVE
// (the CA is the engine cluster's); CreateCluster's accessConfig is
// checked (authenticationMode one of API, API_AND_CONFIG_MAP, CONFIG_MAP,
// else InvalidParameterException; EKS's defaults CONFIG_MAP and
// bootstrapClusterCreatorAdminPermissions true) and reported back;
// CreateNodegroup on a cluster that is not ACTIVE is
// InvalidRequestException.
//
// Engine operations, for SetRateLimit and Inject: DescribeCluster ->
// GetCluster, CreateCluster, DeleteCluster; CreateNodegroup ->
// CreateNodePool, DescribeNodegroup and DescribeUpdate -> GetNodePool,
// UpdateNodegroupConfig -> UpdateNodePool, DeleteNodegroup ->
// DeleteNodePool; CreateLaunchTemplate, DescribeLaunchTemplates and
// DescribeLaunchTemplateVersions with names or IDs -> GetLaunchTemplate
// (per template), DeleteLaunchTemplate; CreateRole, GetRole (also first in
// AttachRolePolicy, DetachRolePolicy, ListAttachedRolePolicies),
// DeleteRole, AttachRolePolicy -> CreateRolePolicyAttachment,
// DetachRolePolicy -> DeleteRolePolicyAttachment. ListClusters and
// ListNodegroups read the inventory, unfiltered DescribeLaunchTemplates
// the table, and are never throttled. Engine errors (*cloud.Error, from injected
// faults and rate limits too) are answered the way each service reports
// them; see eksErrorCode, ec2Error and iamError.
package awsfront

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/conformance"
)

// cloudName is the engine's name for AWS.
const cloudName = "aws"

// Options configure the front end.
type Options struct {
	// InstanceOptions describes an instance type for quota and capacity
	// (family, GPUs per node); nil: family = the leading letters of the
	// instance type (p5.48xlarge -> "p"), 1 GPU per node.
	InstanceOptions func(instanceType string) cloudsim.PoolOptions
	// AccountID appears in ARNs; default "123456789012".
	AccountID string
	// Clock stamps createdAt/modifiedAt/CreateDate (the engine keeps no
	// creation times); real time when nil. Pass the engine's clock.
	Clock cloudsim.Clock
	// CapacityBlockPrices are the instance types sold as Capacity Blocks
	// for ML and their upfront price per instance-hour in USD
	// (DescribeCapacityBlockOfferings, reservations.go); none when empty.
	CapacityBlockPrices map[string]float64
}

// DefaultKubernetesVersion is the cluster version when CreateCluster names
// none.
const DefaultKubernetesVersion = "1.33"

type server struct {
	e    *cloudsim.Engine
	opts Options
	// net are the tables of the EC2 networking (store.go).
	net *netTables
	// rec are the front end's own records of EKS resources (eks_records.go).
	rec eksRecords
	// iam are the IAM roles and their policy attachments (iam.go).
	iam iamTables
	// lts are the EC2 launch templates (launch_template.go).
	lts *cloudsim.Table[LaunchTemplate]

	mu  sync.Mutex
	seq int64
	// updates are the node group updates started here (not persisted).
	updates map[string]nodegroupUpdate
	// gone keeps the metadata of node groups being deleted, whose
	// NodegroupMeta row is already removed.
	gone map[string]nodegroupMeta
	// test started this front end (conformance.Caller).
	test string
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// New returns a handler for EKS (REST-JSON), EC2 (query/XML) and IAM
// (query/XML) on one base URL.
func New(e *cloudsim.Engine, opts Options) http.Handler {
	if opts.AccountID == "" {
		opts.AccountID = "123456789012"
	}
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	if opts.InstanceOptions == nil {
		opts.InstanceOptions = DefaultInstanceOptions
	}
	return &server{e: e, opts: opts, net: newNetTables(e), rec: openEKSRecords(e), iam: openIAM(e), lts: openLaunchTemplates(e), updates: map[string]nodegroupUpdate{}, gone: map[string]nodegroupMeta{},
		test: conformance.Caller()}
}

// DefaultInstanceOptions is the family (leading letters of the instance
// type) and one GPU per node.
func DefaultInstanceOptions(instanceType string) cloudsim.PoolOptions {
	i := strings.IndexFunc(instanceType, func(r rune) bool { return !unicode.IsLetter(r) })
	if i < 0 {
		i = len(instanceType)
	}
	return cloudsim.PoolOptions{Family: instanceType[:i], GPUsPerNode: 1}
}

func (s *server) now() time.Time { return s.opts.Clock.Now().UTC() }

// requestID returns a fresh request ID shaped like AWS's (a UUID).
func (s *server) requestID() string {
	s.mu.Lock()
	s.seq++
	n := s.seq
	s.mu.Unlock()
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", n, n)
}

// uuidFor derives a stable UUID-shaped string from a seed.
func uuidFor(seed string) string {
	h := sha1.Sum([]byte(seed))
	x := hex.EncodeToString(h[:16])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// scope returns the region and service of a SigV4-signed request.
func scope(r *http.Request) (region, service string) {
	cred := ""
	if a := r.Header.Get("Authorization"); a != "" {
		if i := strings.Index(a, "Credential="); i >= 0 {
			cred = a[i+len("Credential="):]
			if j := strings.IndexAny(cred, ", "); j >= 0 {
				cred = cred[:j]
			}
		}
	} else {
		cred = r.URL.Query().Get("X-Amz-Credential")
	}
	parts := strings.Split(cred, "/")
	if len(parts) >= 5 {
		return parts[2], parts[3]
	}
	return "", ""
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Requests and responses are judged by the AWS API models in tests.
	if x := conformance.Begin(conformance.AWS, s.test, w, r); x != nil {
		defer x.End()
		w = x
	}
	region, service := scope(r)
	if region == "" {
		region = "us-east-1"
	}
	switch {
	case service == "eks", service == "" && strings.HasPrefix(r.URL.Path, "/clusters"):
		s.serveEKS(w, r, region)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	switch {
	case service == "ec2", service == "" && r.Form.Get("Version") == "2016-11-15":
		s.serveEC2(w, r, region)
	case service == "iam", service == "" && r.Form.Get("Version") == "2010-05-08":
		s.serveIAM(w, r)
	case service == "autoscaling", service == "" && r.Form.Get("Version") == "2011-01-01":
		s.serveAutoScaling(w, r, region)
	case service == "sts", service == "" && r.Form.Get("Version") == "2011-06-15":
		s.serveSTS(w, r)
	case ec2Actions[r.Form.Get("Action")]:
		s.serveEC2(w, r, region)
	case iamActions[r.Form.Get("Action")]:
		s.serveIAM(w, r)
	case autoscalingActions[r.Form.Get("Action")]:
		s.serveAutoScaling(w, r, region)
	case strings.HasPrefix(r.URL.Path, "/clusters"):
		s.serveEKS(w, r, region)
	default:
		http.Error(w, "awsfront: unknown service", http.StatusNotFound)
	}
}
