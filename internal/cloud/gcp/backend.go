// Package gcp is the GKE backend: clusters and GPU node pools through
// cloud.google.com/go/container/apiv1, with operation polling. It is the
// only package that imports the GKE SDK.
package gcp

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	container "cloud.google.com/go/container/apiv1"
	"cloud.google.com/go/container/apiv1/containerpb"
	"golang.org/x/oauth2"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/lazyre"
)

// Config configures the backend.
type Config struct {
	Project string
	// Endpoint overrides the GKE API endpoint (host:port).
	Endpoint string
	// ComputeEndpoint overrides the Compute Engine REST endpoint that the
	// network methods use: the base URL, e.g. "http://127.0.0.1:PORT" (a
	// trailing "/compute/v1/" is tolerated). Empty means Google's.
	ComputeEndpoint string
	// Insecure talks plaintext gRPC without credentials: only for a local
	// simulator on loopback.
	Insecure bool
	// ClientOptions add to the defaults (Application Default Credentials,
	// workload identity federation included).
	ClientOptions []option.ClientOption
	// TokenSource gives the OAuth2 access tokens that KubeCredentials
	// returns for the clusters' Kubernetes APIs; nil: Application Default
	// Credentials with the cloud-platform scope. Unused when Insecure.
	TokenSource oauth2.TokenSource
	// NodeServiceAccount is the IAM service account (email) of the node
	// pools' VMs; empty: the project's Compute Engine default service
	// account, which GKE uses when none is given. Either needs
	// roles/container.defaultNodeServiceAccount on the project for the
	// nodes' logging and monitoring
	// (https://cloud.google.com/kubernetes-engine/docs/how-to/service-accounts#node-service-accounts).
	NodeServiceAccount string
	// AuthEndpoints override the token exchange of Terraform Cloud
	// dynamic credentials (DynamicTokenSource).
	AuthEndpoints AuthEndpoints
	// Poll and Timeout tune operation polling.
	Poll, Timeout time.Duration
	// Now tells the time of the gpufleet-created label; time.Now when
	// nil.
	Now func() time.Time
}

// Backend implements cloud.Backend on GKE.
type Backend struct {
	cfg    Config
	client *container.ClusterManagerClient
	// tokens is KubeCredentials' token source, found on first use.
	tokens lazyTokens
}

var _ cloud.Backend = (*Backend)(nil)

// New connects the GKE client.
func New(ctx context.Context, cfg Config) (*Backend, error) {
	if cfg.Project == "" {
		return nil, errors.New("gcp: a project is required (gcp { project = \"...\" } in the provider)")
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 10 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 45 * time.Minute
	}
	if !cfg.Insecure && cfg.TokenSource == nil {
		opts, ts, err := WithDynamicCredentials(ctx, os.Getenv, cfg.AuthEndpoints, cfg.ClientOptions)
		if err != nil {
			return nil, err
		}
		cfg.TokenSource, cfg.ClientOptions = ts, opts
	}
	opts := slices.Clone(cfg.ClientOptions)
	if cfg.Endpoint != "" {
		opts = append(opts, option.WithEndpoint(cfg.Endpoint))
	}
	if cfg.Insecure {
		opts = append(opts, option.WithoutAuthentication(),
			option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	}
	c, err := container.NewClusterManagerClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("gcp: connecting to GKE: %w", err)
	}
	return &Backend{cfg: cfg, client: c}, nil
}

// Cloud is "gcp".
func (b *Backend) Cloud() string { return "gcp" }

func (b *Backend) location(region string) string {
	return "projects/" + b.cfg.Project + "/locations/" + region
}

func (b *Backend) clusterPath(region, name string) string {
	return b.location(region) + "/clusters/" + name
}

func (b *Backend) poolPath(region, cluster, name string) string {
	return b.clusterPath(region, cluster) + "/nodePools/" + name
}

// CreateCluster creates a regional cluster (its default pool holds the
// system workloads) and waits until it runs.
//
// With spec.Network the cluster is VPC-native in the site network: its
// subnetwork is the one that carries the site's secondary ranges "pods"
// and "services" (the network backend puts them on one subnetwork: the
// first zone's unless zones were added before it), found by listing the
// network's subnetworks; pods and services take these ranges. Node pools
// in the other zones of the region need nothing more: GKE subnetworks are
// regional. A cluster of that name in another network or subnetwork is a
// KindConflict error.
func (b *Backend) CreateCluster(ctx context.Context, spec cloud.ClusterSpec) (cloud.Cluster, error) {
	cl := &containerpb.Cluster{
		Name: spec.Name, InitialClusterVersion: spec.KubernetesVersion, InitialNodeCount: 1,
		ResourceLabels: sanitizeLabels(spec.Tags),
	}
	if spec.Network != nil {
		if err := b.placeInNetwork(ctx, spec, cl); err != nil {
			return cloud.Cluster{}, err
		}
	}
	op, err := b.client.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: b.location(spec.Region), Cluster: cl})
	if err != nil {
		cerr := classify("CreateCluster", err)
		if !cloud.IsConflict(cerr) {
			return cloud.Cluster{}, cerr
		}
		existing, gerr := b.GetCluster(ctx, spec.Region, spec.Name)
		if gerr != nil {
			return cloud.Cluster{}, gerr
		}
		if existing.Status == cloud.StatusDeleting {
			return cloud.Cluster{}, cerr
		}
		if spec.Network != nil {
			raw, gerr := b.client.GetCluster(ctx, &containerpb.GetClusterRequest{Name: b.clusterPath(spec.Region, spec.Name)})
			if gerr != nil {
				return cloud.Cluster{}, classify("GetCluster", gerr)
			}
			if lastSegment(raw.GetNetwork()) != cl.GetNetwork() || lastSegment(raw.GetSubnetwork()) != cl.GetSubnetwork() {
				return cloud.Cluster{}, cloud.Conflict("gcp", "CreateCluster", "ALREADY_EXISTS", "cluster %s exists in network %q subnetwork %q, not in %q subnetwork %q: delete it or give this cluster another name", spec.Name, raw.GetNetwork(), raw.GetSubnetwork(), cl.GetNetwork(), cl.GetSubnetwork())
			}
		}
		return b.waitCluster(ctx, spec.Region, spec.Name)
	}
	if err := b.wait(ctx, spec.Region, op, "CreateCluster"); err != nil {
		return cloud.Cluster{}, err
	}
	return b.waitCluster(ctx, spec.Region, spec.Name)
}

// placeInNetwork sets the cluster's network, subnetwork and IP allocation
// policy from spec.Network.
func (b *Backend) placeInNetwork(ctx context.Context, spec cloud.ClusterSpec, cl *containerpb.Cluster) error {
	const op = "CreateCluster"
	n := spec.Network
	network := n.Name
	if network == "" {
		network = lastSegment(n.ID)
	}
	zones := slices.Sorted(maps.Keys(n.SubnetIDs))
	if network == "" || len(zones) == 0 {
		return invalidSpec(op, "network %q of cluster %s has no name or no subnetworks: pass the site's entry of gpufleet_network.networks", network, spec.Name)
	}
	c, err := b.compute(ctx)
	if err != nil {
		return err
	}
	ref := n.ID
	if ref == "" {
		ref = "projects/" + b.cfg.Project + "/global/networks/" + network
	}
	subs, err := b.listSubnets(ctx, c, spec.Region, ref)
	if err != nil {
		return err
	}
	carrier := ""
	for _, z := range zones {
		name := lastSegment(n.SubnetIDs[z])
		if s, ok := subs[name]; ok && secondaryRange(s, "pods") != "" && secondaryRange(s, "services") != "" {
			carrier = name
			break
		}
	}
	policy := &containerpb.IPAllocationPolicy{UseIpAliases: true}
	switch {
	case carrier != "":
		policy.ClusterSecondaryRangeName, policy.ServicesSecondaryRangeName = "pods", "services"
	case n.PodsCIDR != "" || n.ServicesCIDR != "":
		return invalidSpec(op, "no subnetwork of network %s in %s has the secondary ranges \"pods\" and \"services\" (%s, %s): apply gpufleet_network again to restore them",
			network, spec.Region, n.PodsCIDR, n.ServicesCIDR)
	default:
		// No site ranges: GKE allocates the pod and service ranges.
		carrier = lastSegment(n.SubnetIDs[zones[0]])
	}
	cl.Network, cl.Subnetwork, cl.IpAllocationPolicy = network, carrier, policy
	return nil
}

// checkPoolZone refuses a node pool in a zone that the cluster's site
// network has no subnetwork for (KindInvalid). The network is read from
// the cluster (GetCluster), its subnetworks from Compute Engine; clusters
// in the default network accept any zone of the region, as before.
func (b *Backend) checkPoolZone(ctx context.Context, spec cloud.NodePoolSpec) error {
	const op = "CreateNodePool"
	if spec.Zone == "" {
		return nil
	}
	cl, err := b.client.GetCluster(ctx, &containerpb.GetClusterRequest{Name: b.clusterPath(spec.Region, spec.Cluster)})
	if err != nil {
		return classify("GetCluster", err)
	}
	network := lastSegment(cl.GetNetwork())
	if network == "" || network == "default" {
		return nil
	}
	c, err := b.compute(ctx)
	if err != nil {
		return err
	}
	n, err := read(ctx, c.svc.Networks.Get(b.cfg.Project, network).Context(ctx).Do)
	if err != nil {
		return classifyCompute("GetNetwork", err)
	}
	subs, err := b.listSubnets(ctx, c, spec.Region, n.SelfLink)
	if err != nil {
		return err
	}
	var zones []string
	for _, s := range subs {
		zone := descValue(zoneDescRE(), s.Description)
		if zone == "" {
			zone = spec.Region + "-" + strings.TrimPrefix(s.Name, network+"-")
		}
		if zone == spec.Zone {
			return nil
		}
		zones = append(zones, zone)
	}
	slices.Sort(zones)
	return cloud.Invalid("gcp", op, "INVALID_ARGUMENT", "network %s of cluster %s has no subnetwork for zone %q (its zones: %s): add %s to the site's zones in gpufleet_network, or place the pool in one of its zones", network, spec.Cluster, spec.Zone, strings.Join(zones, ", "), spec.Zone).ForOffer(spec)
}

// waitCluster polls until the cluster runs.
func (b *Backend) waitCluster(ctx context.Context, region, name string) (cloud.Cluster, error) {
	return poll(b, "CreateCluster", "cluster "+name, []string{string(cloud.StatusActive)}, func(ctx context.Context) (cloud.Cluster, string, error) {
		c, err := b.GetCluster(ctx, region, name)
		if err == nil && c.Status == cloud.StatusCreateFailed {
			err = cloud.Fatal("gcp", "CreateCluster", "ERROR", "cluster %s is in ERROR", name)
		}
		return c, string(c.Status), err
	}).Until(ctx)
}

// wait polls an operation until it is done; its error becomes a classified
// error (the client does not poll for us).
func (b *Backend) wait(ctx context.Context, region string, op *containerpb.Operation, what string) error {
	return b.waitWithin(ctx, region, op, what, b.cfg.Timeout)
}

// waitWithin is wait for up to timeout.
func (b *Backend) waitWithin(ctx context.Context, region string, op *containerpb.Operation, what string, timeout time.Duration) error {
	name := op.GetName()
	if !strings.Contains(name, "/") {
		name = b.location(region) + "/operations/" + name
	}
	first := true
	w := poll(b, what, "operation "+name, []string{containerpb.Operation_DONE.String()}, func(ctx context.Context) (*containerpb.Operation, string, error) {
		if !first {
			next, err := b.client.GetOperation(ctx, &containerpb.GetOperationRequest{Name: name})
			if err != nil {
				return op, "", classify(what, err)
			}
			op = next
		}
		first = false
		return op, op.GetStatus().String(), nil
	})
	w.Timeout = timeout
	op, err := w.Until(ctx)
	if err != nil {
		return err
	}
	if e := op.GetError(); e != nil && e.GetCode() != 0 {
		return classifyStatus(what, codes.Code(e.GetCode()), e.GetMessage())
	}
	return nil
}

// poll is a wait of this backend: reads every Config.Poll up to
// Config.Timeout, throttled reads ridden out (GKE's limits are per
// minute).
func poll[T any](b *Backend, op, what string, target []string, refresh func(context.Context) (T, string, error)) cloud.Wait[T] {
	return cloud.Wait[T]{Cloud: "gcp", Op: op, What: what, Target: target, Refresh: refresh, Poll: b.cfg.Poll, Timeout: b.cfg.Timeout}
}

// GetCluster reads a cluster.
func (b *Backend) GetCluster(ctx context.Context, region, name string) (cloud.Cluster, error) {
	c, err := b.client.GetCluster(ctx, &containerpb.GetClusterRequest{Name: b.clusterPath(region, name)})
	if err != nil {
		return cloud.Cluster{}, classify("GetCluster", err)
	}
	out := cloud.Cluster{Name: name, Region: region, KubernetesVersion: c.GetCurrentMasterVersion(), ServiceCIDR: c.GetServicesIpv4Cidr(),
		ID: c.GetSelfLink(), CACertificate: c.GetMasterAuth().GetClusterCaCertificate()}
	if ep := c.GetEndpoint(); ep != "" {
		out.Endpoint = "https://" + strings.TrimPrefix(ep, "https://")
	}
	switch c.GetStatus() {
	case containerpb.Cluster_RUNNING, containerpb.Cluster_RECONCILING:
		out.Status = cloud.StatusActive
	case containerpb.Cluster_STOPPING:
		out.Status = cloud.StatusDeleting
	case containerpb.Cluster_ERROR, containerpb.Cluster_DEGRADED:
		out.Status = cloud.StatusCreateFailed
	default:
		out.Status = cloud.StatusCreating
	}
	return out, nil
}

// DeleteCluster deletes a cluster and waits until it is gone. A refusal
// (FAILED_PRECONDITION: the cluster has node pools, or runs another
// operation) is returned at once as a KindConflict error; only a cluster
// that is already being deleted is waited for.
func (b *Backend) DeleteCluster(ctx context.Context, region, name string) error {
	op, err := b.client.DeleteCluster(ctx, &containerpb.DeleteClusterRequest{Name: b.clusterPath(region, name)})
	if err != nil {
		cerr := classify("DeleteCluster", err)
		if cloud.IsNotFound(cerr) {
			return nil
		}
		if !cloud.IsConflict(cerr) {
			return cerr
		}
		c, gerr := b.GetCluster(ctx, region, name)
		if cloud.IsNotFound(gerr) {
			return nil
		}
		if gerr != nil || c.Status != cloud.StatusDeleting {
			return cerr
		}
	} else if err := b.wait(ctx, region, op, "DeleteCluster"); err != nil {
		return cloud.IgnoreNotFound(err)
	}
	return b.waitGone(ctx, "DeleteCluster", "cluster "+name, func() error { _, err := b.GetCluster(ctx, region, name); return err })
}

// waitGone waits until get, the read of what is being deleted by op, is
// KindNotFound.
func (b *Backend) waitGone(ctx context.Context, op, what string, get func() error) error {
	_, err := poll(b, op, what, []string{"gone"}, func(ctx context.Context) (struct{}, string, error) {
		if err := get(); cloud.IsNotFound(err) {
			return struct{}{}, "gone", nil
		} else if err != nil {
			return struct{}{}, "", err
		}
		return struct{}{}, string(cloud.StatusDeleting), nil
	}).Until(ctx)
	return err
}

// acceleratorTypes maps catalog GPU models to GKE accelerator types.
var acceleratorTypes = map[string]string{
	"H100": "nvidia-h100-80gb", "H200": "nvidia-h200-141gb", "B200": "nvidia-b200", "A100": "nvidia-tesla-a100",
	"A100-80GB": "nvidia-a100-80gb", "L4": "nvidia-l4", "T4": "nvidia-tesla-t4", "V100": "nvidia-tesla-v100",
	"P100": "nvidia-tesla-p100", "P4": "nvidia-tesla-p4",
}

// NodeServiceAccountPattern matches what GKE takes as a node service
// account: "default" or a service account's email
// (https://cloud.google.com/kubernetes-engine/docs/reference/rest/v1/NodeConfig).
var NodeServiceAccountPattern = lazyre.New(`^(default|[a-z0-9][-a-z0-9._]*@[a-z0-9][-a-z0-9.]*\.gserviceaccount\.com)$`)

// nodeScopes are the nodes' OAuth scopes: cloud-platform only, as Google
// recommends with a least-privilege service account, so that IAM alone
// decides what the nodes may do; the legacy default scopes
// (devstorage.read_only, logging.write, monitoring, ...) would cap an IAM
// role granted later
// (https://cloud.google.com/kubernetes-engine/docs/how-to/access-scopes).
var nodeScopes = []string{cloudPlatformScope}

// splitMachineType splits a catalog instance type into the Compute Engine
// machine type and the GPUs attached to it: N1 machine types take their
// GPUs as accelerators, which the catalog writes after a plus
// ("n1-highmem-8+1xT4" -> "n1-highmem-8", 1); a machine type with
// built-in GPUs (a3-highgpu-8g) is returned as it is, 0. GKE refuses the
// catalog form as a machine type
// (https://cloud.google.com/compute/docs/gpus#n1-gpus).
func splitMachineType(instanceType string) (string, int) {
	machine, attached, ok := strings.Cut(instanceType, "+")
	if !ok {
		return instanceType, 0
	}
	n, _, _ := strings.Cut(attached, "x")
	count, _ := strconv.Atoi(n)
	return machine, count
}

// instanceType is the catalog form of a pool's machine type: an N1 machine
// type with its accelerators ("n1-highmem-8" with one nvidia-tesla-t4 ->
// "n1-highmem-8+1xT4"), any other machine type as it is.
func instanceType(cfg *containerpb.NodeConfig) string {
	machine := cfg.GetMachineType()
	for _, a := range cfg.GetAccelerators() {
		if a.GetAcceleratorCount() > 0 {
			return CatalogInstanceType(machine, a.GetAcceleratorType(), int(a.GetAcceleratorCount()))
		}
	}
	return machine
}

// CatalogInstanceType is the catalog's name of a machine type with count
// accelerators of acceleratorType attached (a node pool's accelerators, a
// reservation's guestAccelerators): an N1 machine type with a GPU model
// the catalog knows is written with it ("n1-highmem-8", "nvidia-tesla-t4",
// 1 -> "n1-highmem-8+1xT4"); any other machine type is its own name (its
// GPUs are built in).
func CatalogInstanceType(machine, acceleratorType string, count int) string {
	if !strings.HasPrefix(machine, "n1-") || count <= 0 {
		return machine
	}
	for _, model := range slices.Sorted(maps.Keys(acceleratorTypes)) {
		if acceleratorTypes[model] == acceleratorType {
			return fmt.Sprintf("%s+%dx%s", machine, count, model)
		}
	}
	return machine
}

// CreateNodePool creates a node pool in one zone with the GPUs attached
// and the driver installed explicitly (unset means no driver), and waits.
// A cluster in a site network takes pools only in the network's zones
// (see checkPoolZone).
func (b *Backend) CreateNodePool(ctx context.Context, spec cloud.NodePoolSpec) (cloud.NodePool, error) {
	if err := b.checkPoolZone(ctx, spec); err != nil {
		return cloud.NodePool{}, err
	}
	timed, err := b.checkReservation(ctx, spec)
	if err != nil {
		return cloud.NodePool{}, err
	}
	machine, _ := splitMachineType(spec.InstanceType)
	cfg := &containerpb.NodeConfig{MachineType: machine,
		Labels: maps.Clone(spec.Labels), Taints: toTaints(spec.Taints),
		ServiceAccount: b.cfg.NodeServiceAccount, OauthScopes: slices.Clone(nodeScopes),
		ResourceLabels: map[string]string{labelCreated: b.createdNow()}}
	if t, ok := acceleratorTypes[spec.GPUModel]; ok && spec.GPUsPerNode > 0 {
		latest := containerpb.GPUDriverInstallationConfig_LATEST
		cfg.Accelerators = []*containerpb.AcceleratorConfig{{AcceleratorType: t, AcceleratorCount: int64(spec.GPUsPerNode),
			GpuDriverInstallationConfig: &containerpb.GPUDriverInstallationConfig{GpuDriverVersion: &latest}}}
	}
	pool := &containerpb.NodePool{Name: spec.Name, InitialNodeCount: int32(spec.Nodes), Config: cfg}
	if spec.Compact {
		pool.PlacementPolicy = &containerpb.NodePool_PlacementPolicy{Type: containerpb.NodePool_PlacementPolicy_COMPACT}
	}
	if spec.Zone != "" {
		pool.Locations = []string{spec.Zone}
	}
	now := cloud.NowOf(b.cfg.Now)
	if err := withCapacity(timed, pool, now); err != nil {
		return cloud.NodePool{}, err
	}
	// A pool on a reservation that starts later waits for the start too.
	timeout := timed.CreateTimeout(b.cfg.Timeout, now)
	op, err := b.client.CreateNodePool(ctx, &containerpb.CreateNodePoolRequest{Parent: b.clusterPath(spec.Region, spec.Cluster), NodePool: pool})
	if err != nil {
		cerr := classify("CreateNodePool", err)
		if !cloud.IsConflict(cerr) {
			return cloud.NodePool{}, cloud.WithOffer(cerr, spec)
		}
		existing, gerr := b.GetNodePool(ctx, spec.Region, spec.Cluster, spec.Name)
		if gerr != nil {
			return cloud.NodePool{}, gerr
		}
		if !existing.Spec.Equal(spec) {
			return existing, cerr
		}
		return b.waitPoolWithin(ctx, spec, "CreateNodePool", timeout)
	}
	if err := b.waitWithin(ctx, spec.Region, op, "CreateNodePool", timeout); err != nil {
		p, _ := b.GetNodePool(ctx, spec.Region, spec.Cluster, spec.Name)
		return p, cloud.WithOffer(err, spec)
	}
	return b.waitPoolWithin(ctx, spec, "CreateNodePool", timeout)
}

func (b *Backend) waitPool(ctx context.Context, spec cloud.NodePoolSpec, op string) (cloud.NodePool, error) {
	return b.waitPoolWithin(ctx, spec, op, b.cfg.Timeout)
}

// waitPoolWithin polls a pool until it is active, for up to timeout.
func (b *Backend) waitPoolWithin(ctx context.Context, spec cloud.NodePoolSpec, op string, timeout time.Duration) (cloud.NodePool, error) {
	w := poll(b, op, "node pool "+spec.Name, []string{string(cloud.StatusActive)}, func(ctx context.Context) (cloud.NodePool, string, error) {
		p, err := b.GetNodePool(ctx, spec.Region, spec.Cluster, spec.Name)
		if err == nil && (p.Status == cloud.StatusCreateFailed || p.Status == cloud.StatusDegraded) {
			msg := "node pool " + spec.Name + " is in error"
			if len(p.Issues) > 0 {
				msg = p.Issues[0].Message
			}
			err = cloud.WithOffer(classifyStatus(op, codes.ResourceExhausted, msg), spec)
		}
		return p, string(p.Status), err
	})
	w.Timeout = timeout
	return w.Until(ctx)
}

var _ cloud.NodePoolLister = (*Backend)(nil)

// ListNodePools lists a cluster's node pools and returns those with
// gpufleet's names.
func (b *Backend) ListNodePools(ctx context.Context, region, cluster string) ([]string, error) {
	resp, err := b.client.ListNodePools(ctx, &containerpb.ListNodePoolsRequest{Parent: b.clusterPath(region, cluster)})
	if err != nil {
		return nil, classify("ListNodePools", err)
	}
	var out []string
	for _, np := range resp.GetNodePools() {
		if cloud.IsPoolName(np.GetName()) {
			out = append(out, np.GetName())
		}
	}
	return out, nil
}

// GetNodePool reads a node pool.
func (b *Backend) GetNodePool(ctx context.Context, region, cluster, name string) (cloud.NodePool, error) {
	np, err := b.client.GetNodePool(ctx, &containerpb.GetNodePoolRequest{Name: b.poolPath(region, cluster, name)})
	if err != nil {
		return cloud.NodePool{}, classify("GetNodePool", err)
	}
	return poolOf(region, cluster, name, np), nil
}

// poolOf is a GKE node pool as a cloud.NodePool.
func poolOf(region, cluster, name string, np *containerpb.NodePool) cloud.NodePool {
	spec := cloud.NodePoolSpec{Cluster: cluster, Region: region, Name: name, InstanceType: instanceType(np.GetConfig()),
		Nodes: int(np.GetInitialNodeCount()), Labels: np.GetConfig().GetLabels(), Taints: fromTaints(np.GetConfig().GetTaints())}
	spec.CapacityType, spec.Reservation = capacityOf(np.GetConfig())
	if locs := np.GetLocations(); len(locs) > 0 {
		spec.Zone = locs[0]
	}
	if spec.Labels == nil {
		spec.Labels = map[string]string{}
	}
	p := cloud.NodePool{Spec: spec, ID: np.GetSelfLink()}
	switch np.GetStatus() {
	case containerpb.NodePool_RUNNING:
		p.Status, p.ReadyNodes = cloud.StatusActive, spec.Nodes
	case containerpb.NodePool_RUNNING_WITH_ERROR:
		p.Status, p.ReadyNodes = cloud.StatusDegraded, spec.Nodes
	case containerpb.NodePool_RECONCILING:
		p.Status, p.ReadyNodes = cloud.StatusUpdating, spec.Nodes
	case containerpb.NodePool_STOPPING:
		p.Status = cloud.StatusDeleting
	case containerpb.NodePool_ERROR:
		p.Status = cloud.StatusCreateFailed
	default:
		p.Status = cloud.StatusCreating
	}
	if msg := np.GetStatusMessage(); msg != "" {
		p.Issues = append(p.Issues, cloud.Issue{Code: np.GetStatus().String(), Message: msg})
	}
	return p
}

// UpdateNodePool resizes and relabels/retaints, waiting for each operation.
func (b *Backend) UpdateNodePool(ctx context.Context, region, cluster, name string, u cloud.NodePoolUpdate) (cloud.NodePool, error) {
	cur, err := b.GetNodePool(ctx, region, cluster, name)
	if err != nil {
		return cur, err
	}
	if u.Nodes != nil && *u.Nodes != cur.Spec.Nodes {
		op, err := b.client.SetNodePoolSize(ctx, &containerpb.SetNodePoolSizeRequest{Name: b.poolPath(region, cluster, name), NodeCount: int32(*u.Nodes)})
		if err != nil {
			return cur, classify("SetNodePoolSize", err)
		}
		if err := b.wait(ctx, region, op, "SetNodePoolSize"); err != nil {
			return cur, cloud.WithOffer(err, cur.Spec)
		}
	}
	labelsChanged := u.Labels != nil && !maps.Equal(u.Labels, cur.Spec.Labels)
	taintsChanged := u.Taints != nil && !slices.Equal(*u.Taints, cur.Spec.Taints)
	if labelsChanged || taintsChanged {
		req := &containerpb.UpdateNodePoolRequest{Name: b.poolPath(region, cluster, name), NodeVersion: "-", ImageType: "-"}
		if labelsChanged {
			req.Labels = &containerpb.NodeLabels{Labels: maps.Clone(u.Labels)}
		}
		if taintsChanged {
			req.Taints = &containerpb.NodeTaints{Taints: toTaints(*u.Taints)}
		}
		op, err := b.client.UpdateNodePool(ctx, req)
		if err != nil {
			return cur, classify("UpdateNodePool", err)
		}
		if err := b.wait(ctx, region, op, "UpdateNodePool"); err != nil {
			return cur, err
		}
	}
	return b.waitPool(ctx, cloud.NodePoolSpec{Region: region, Cluster: cluster, Name: name, Zone: cur.Spec.Zone,
		InstanceType: cur.Spec.InstanceType, CapacityType: cur.Spec.CapacityType}, "UpdateNodePool")
}

// DeleteNodePool deletes a node pool and waits until it is gone. A
// refusal (FAILED_PRECONDITION: another operation runs on the pool or its
// cluster) is returned at once as a KindConflict error; only a pool that
// is already being deleted is waited for.
func (b *Backend) DeleteNodePool(ctx context.Context, region, cluster, name string) error {
	op, err := b.client.DeleteNodePool(ctx, &containerpb.DeleteNodePoolRequest{Name: b.poolPath(region, cluster, name)})
	if err != nil {
		cerr := classify("DeleteNodePool", err)
		if cloud.IsNotFound(cerr) {
			return nil
		}
		if !cloud.IsConflict(cerr) {
			return cerr
		}
		p, gerr := b.GetNodePool(ctx, region, cluster, name)
		if cloud.IsNotFound(gerr) {
			return nil
		}
		if gerr != nil || p.Status != cloud.StatusDeleting {
			return cerr
		}
	} else if err := b.wait(ctx, region, op, "DeleteNodePool"); err != nil {
		return cloud.IgnoreNotFound(err)
	}
	return b.waitGone(ctx, "DeleteNodePool", "node pool "+name, func() error { _, err := b.GetNodePool(ctx, region, cluster, name); return err })
}

func toTaints(ts []cloud.Taint) []*containerpb.NodeTaint {
	var out []*containerpb.NodeTaint
	for _, t := range ts {
		e := containerpb.NodeTaint_NO_SCHEDULE
		switch t.Effect {
		case "NoExecute":
			e = containerpb.NodeTaint_NO_EXECUTE
		case "PreferNoSchedule":
			e = containerpb.NodeTaint_PREFER_NO_SCHEDULE
		}
		out = append(out, &containerpb.NodeTaint{Key: t.Key, Value: t.Value, Effect: e})
	}
	return out
}

func fromTaints(ts []*containerpb.NodeTaint) []cloud.Taint {
	var out []cloud.Taint
	for _, t := range ts {
		e := "NoSchedule"
		switch t.GetEffect() {
		case containerpb.NodeTaint_NO_EXECUTE:
			e = "NoExecute"
		case containerpb.NodeTaint_PREFER_NO_SCHEDULE:
			e = "PreferNoSchedule"
		}
		out = append(out, cloud.Taint{Key: t.GetKey(), Value: t.GetValue(), Effect: e})
	}
	return out
}

// sanitizeLabels turns tags into GCP resource labels (lower case, [a-z0-9_-]).
func sanitizeLabels(tags map[string]string) map[string]string {
	clean := func(s string) string {
		s = strings.ToLower(s)
		return strings.Map(func(r rune) rune {
			if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '-' || r == '_' {
				return r
			}
			return '_'
		}, s)
	}
	out := map[string]string{}
	for k, v := range tags {
		out[clean(k)] = clean(v)
	}
	return out
}

func classify(op string, err error) error {
	if err, done := cloud.Settled(err); done {
		return err
	}
	s, ok := status.FromError(err)
	if !ok {
		return cloud.Fatal("gcp", op, "Error", "%s", err.Error()).Caused(err)
	}
	return classifyStatus(op, s.Code(), s.Message())
}

// classifyStatus maps a gRPC status (from a call or an operation's error)
// to a cloud error. RESOURCE_EXHAUSTED covers rate limits, quotas and
// stockouts alike; the message tells them apart.
func classifyStatus(op string, code codes.Code, msg string) error {
	if e, ok := classifyReservation(op, msg); ok {
		return e
	}
	e := cloud.Fatal("gcp", op, code.String(), "%s", msg)
	upper := strings.ToUpper(msg)
	switch {
	case strings.Contains(upper, "ZONE_RESOURCE_POOL_EXHAUSTED") || strings.Contains(upper, "GCE_STOCKOUT") ||
		strings.Contains(upper, "STOCKOUT") || strings.Contains(upper, "DOES NOT HAVE ENOUGH RESOURCES"):
		e.Kind, e.Code = cloud.KindCapacity, firstToken(upper, "ZONE_RESOURCE_POOL_EXHAUSTED", "GCE_STOCKOUT", "STOCKOUT")
	case strings.Contains(upper, "RATE_LIMIT") || strings.Contains(upper, "'REQUESTS'"):
		e.Kind = cloud.KindThrottled
	case strings.Contains(upper, "QUOTA_EXCEEDED") || strings.Contains(upper, "QUOTA"):
		e.Kind, e.Code = cloud.KindQuota, "QUOTA_EXCEEDED"
	case code == codes.NotFound:
		e.Kind = cloud.KindNotFound
	case code == codes.AlreadyExists || code == codes.FailedPrecondition || code == codes.Aborted:
		e.Kind = cloud.KindConflict
	case code == codes.InvalidArgument || code == codes.OutOfRange:
		e.Kind = cloud.KindInvalid
	case code == codes.ResourceExhausted:
		e.Kind = cloud.KindThrottled
	case code == codes.Unavailable || code == codes.DeadlineExceeded || code == codes.Internal:
		e.Kind = cloud.KindTransient
	}
	return e
}

func firstToken(s string, tokens ...string) string {
	for _, t := range tokens {
		if strings.Contains(s, t) {
			return t
		}
	}
	return "ZONE_RESOURCE_POOL_EXHAUSTED"
}
