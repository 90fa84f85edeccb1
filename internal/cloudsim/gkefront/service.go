package gkefront

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"strings"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/computefront"
)

// clusterMeta is what GKE reports about a cluster that the engine does not
// keep (a row of table "GKEClusterMeta", named region/cluster).
type clusterMeta struct {
	Project  string    `json:"project"`
	Location string    `json:"location"`
	Created  time.Time `json:"created"`
	Proto    string    `json:"proto"` // protojson of the requested Cluster
	// Network is the VPC network the cluster is in (see vpc.go); nil for
	// the default networking.
	Network *clusterNet `json:"network,omitempty"`
}

// poolMeta is what GKE reports about a node pool that the engine does not
// keep (a row of table "GKENodePoolMeta", named region/cluster/pool).
type poolMeta struct {
	Project  string    `json:"project"`
	Location string    `json:"location"`
	Version  string    `json:"version"`
	Created  time.Time `json:"created"`
	Proto    string    `json:"proto"` // protojson of the requested NodePool
}

func marshalProto(m proto.Message) string {
	b, err := protojson.Marshal(m)
	if err != nil {
		return ""
	}
	return string(b)
}

// clusterMetaFor reads a cluster's record and its requested message (empty
// when there is no record); an error is the engine's.
func (s *server) clusterMetaFor(region, name string) (clusterMeta, *containerpb.Cluster, error) {
	c := &containerpb.Cluster{}
	m, err := metaFor(s.rec.clusters, region+"/"+name, func(m clusterMeta) string { return m.Proto }, c)
	return m, c, err
}

// poolMetaFor reads a node pool's record and its requested message (empty
// when there is no record); an error is the engine's.
func (s *server) poolMetaFor(region, cluster, name string) (poolMeta, *containerpb.NodePool, error) {
	np := &containerpb.NodePool{}
	m, err := metaFor(s.rec.pools, region+"/"+cluster+"/"+name, func(m poolMeta) string { return m.Proto }, np)
	return m, np, err
}

// metaFor reads the record name of t (Get<Kind>; the zero record when
// there is none) and decodes its protojson, pb of it, into msg.
func metaFor[T any](t *cloudsim.Table[T], name string, pb func(T) string, msg proto.Message) (T, error) {
	m, ok, err := t.Find(name)
	if !ok || pb(m) == "" {
		return m, err
	}
	if err := protojson.Unmarshal([]byte(pb(m)), msg); err != nil {
		return m, fmt.Errorf("cloudsim: %s record of %s: %w", t.Kind(), name, err)
	}
	return m, nil
}

var clusterStatuses = map[cloud.Status]containerpb.Cluster_Status{
	cloud.StatusCreating: containerpb.Cluster_PROVISIONING, cloud.StatusActive: containerpb.Cluster_RUNNING,
	cloud.StatusUpdating: containerpb.Cluster_RECONCILING, cloud.StatusDeleting: containerpb.Cluster_STOPPING,
	cloud.StatusCreateFailed: containerpb.Cluster_ERROR, cloud.StatusDegraded: containerpb.Cluster_DEGRADED,
}

var poolStatuses = map[cloud.Status]containerpb.NodePool_Status{
	cloud.StatusCreating: containerpb.NodePool_PROVISIONING, cloud.StatusActive: containerpb.NodePool_RUNNING,
	cloud.StatusUpdating: containerpb.NodePool_RECONCILING, cloud.StatusDeleting: containerpb.NodePool_STOPPING,
	cloud.StatusCreateFailed: containerpb.NodePool_ERROR, cloud.StatusDegraded: containerpb.NodePool_RUNNING_WITH_ERROR,
}

// clusterProto reports an engine cluster: the requested message with the
// engine's live fields on top. Endpoint and CA appear once RUNNING.
func (s *server) clusterProto(c cloudsim.Cluster, r ref) (*containerpb.Cluster, error) {
	m, out, err := s.clusterMetaFor(c.Region, c.Name)
	if err != nil {
		return nil, err
	}
	if m.Location != "" {
		r.Location = m.Location
	}
	if m.Project != "" {
		r.Project = m.Project
	}
	r.Cluster = c.Name
	st := s.e.ClusterStatus(c)
	out.Name = c.Name
	out.Location, out.Zone = r.Location, r.Location
	out.Status = clusterStatuses[st]
	out.SelfLink = apiBase + r.clusterName()
	out.Id = uuidHex(c.ID)
	out.InitialClusterVersion = c.Spec.KubernetesVersion
	out.CurrentMasterVersion = c.Spec.KubernetesVersion
	out.CurrentNodeVersion = c.Spec.KubernetesVersion
	out.ServicesIpv4Cidr = c.ServiceCIDR
	reportNetwork(out, m.Network)
	out.CreateTime = stamp(m.Created)
	if len(out.Locations) == 0 {
		if isZone(r.Location) {
			out.Locations = []string{r.Location}
		} else {
			out.Locations = []string{r.Location + "-a", r.Location + "-b", r.Location + "-c"}
		}
	}
	// The cluster's node pools, as GET and list of a cluster report them
	// (Cluster.nodePools, "The node pools associated with this cluster",
	// https://cloud.google.com/kubernetes-engine/docs/reference/rest/v1/projects.locations.clusters).
	out.NodePools = nil
	for _, p := range s.e.Inventory().Pools {
		if p.Cloud == cloudName && p.Spec.Region == c.Region && p.Spec.Cluster == c.Name {
			np, err := s.poolProto(p, r)
			if err != nil {
				return nil, err
			}
			out.NodePools = append(out.NodePools, np)
		}
	}
	if st == cloud.StatusActive {
		out.Endpoint = strings.TrimPrefix(c.Endpoint, "https://")
		if out.MasterAuth == nil {
			out.MasterAuth = &containerpb.MasterAuth{}
		}
		out.MasterAuth.ClusterCaCertificate = c.CACertificate
	} else {
		out.Endpoint = ""
		if out.MasterAuth != nil {
			out.MasterAuth.ClusterCaCertificate = ""
		}
	}
	return out, nil
}

var effects = map[containerpb.NodeTaint_Effect]string{
	containerpb.NodeTaint_NO_SCHEDULE: "NoSchedule", containerpb.NodeTaint_PREFER_NO_SCHEDULE: "PreferNoSchedule",
	containerpb.NodeTaint_NO_EXECUTE: "NoExecute",
}

func toTaints(in []*containerpb.NodeTaint) ([]cloud.Taint, error) {
	out := []cloud.Taint{}
	for _, t := range in {
		eff, ok := effects[t.GetEffect()]
		if !ok {
			return nil, invalid("Taint %q: effect must be one of NO_SCHEDULE, PREFER_NO_SCHEDULE, NO_EXECUTE.", t.GetKey())
		}
		if t.GetKey() == "" {
			return nil, invalid("Taint key must not be empty.")
		}
		out = append(out, cloud.Taint{Key: t.GetKey(), Value: t.GetValue(), Effect: eff})
	}
	return out, nil
}

func fromTaints(in []cloud.Taint) []*containerpb.NodeTaint {
	var out []*containerpb.NodeTaint
	for _, t := range in {
		eff := containerpb.NodeTaint_EFFECT_UNSPECIFIED
		for k, v := range effects {
			if v == t.Effect {
				eff = k
			}
		}
		out = append(out, &containerpb.NodeTaint{Key: t.Key, Value: t.Value, Effect: eff})
	}
	return out
}

// poolProto reports an engine node pool: the requested message with the
// engine's live fields on top, and the last issue as StatusMessage and
// Conditions while the pool is ERROR or RUNNING_WITH_ERROR.
func (s *server) poolProto(p cloudsim.Pool, r ref) (*containerpb.NodePool, error) {
	m, out, err := s.poolMetaFor(p.Spec.Region, p.Spec.Cluster, p.Spec.Name)
	if err != nil {
		return nil, err
	}
	if m.Location != "" {
		r.Location = m.Location
	}
	if m.Project != "" {
		r.Project = m.Project
	}
	r.Cluster, r.Pool = p.Spec.Cluster, p.Spec.Name
	st, _ := s.e.PoolStatus(p)
	out.Name = p.Spec.Name
	if out.Config == nil {
		out.Config = &containerpb.NodeConfig{}
	}
	cfg := out.Config
	cfg.MachineType = p.Spec.InstanceType
	if p.Spec.CapacityType == "spot" {
		cfg.Spot = !cfg.Preemptible
	} else {
		cfg.Spot, cfg.Preemptible = false, false
	}
	cfg.Labels = maps.Clone(p.Spec.Labels)
	cfg.Taints = fromTaints(p.Spec.Taints)
	out.InitialNodeCount = int32(p.Spec.Nodes)
	if len(out.Locations) == 0 {
		out.Locations = []string{p.Spec.Zone}
	}
	out.SelfLink = apiBase + r.poolName()
	if m.Version != "" {
		out.Version = m.Version
	}
	out.InstanceGroupUrls = []string{computefront.APIRoot + "projects/" + r.Project + "/zones/" + p.Spec.Zone +
		"/instanceGroupManagers/" + computefront.InstanceGroupManagerName(p)}
	out.Status = poolStatuses[st]
	out.StatusMessage, out.Conditions = "", nil
	if p.Failed && len(p.Issues) > 0 && (st == cloud.StatusCreateFailed || st == cloud.StatusDegraded) {
		after := p.ReadyAt.Sub(m.Created)
		if m.Created.IsZero() {
			after = 0
		}
		if es, cond := operationError(p, out, r.Project, after); es != nil {
			out.StatusMessage = es.Message
			out.Conditions = []*containerpb.StatusCondition{cond}
		}
	}
	return out, nil
}

// ---- clusters ----

func (s *server) CreateCluster(ctx context.Context, req *containerpb.CreateClusterRequest) (*containerpb.Operation, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	r, err := parseName(req.GetParent(), req.GetProjectId(), req.GetZone(), "", "", 0)
	if err != nil {
		return nil, err
	}
	c := req.GetCluster()
	if c.GetName() == "" {
		return nil, invalid("Cluster.name must be specified.")
	}
	r.Cluster = c.GetName()
	if err := s.sweep(); err != nil {
		return nil, grpcError(err, "")
	}
	if _, ok := s.findCluster(r.region(), r.Cluster); ok {
		return nil, alreadyExists(r.clusterName())
	}
	version := c.GetInitialClusterVersion()
	if version == "" || version == "latest" || version == "-" {
		version = DefaultKubernetesVersion
	}
	spec := cloud.ClusterSpec{Name: r.Cluster, Region: r.region(), KubernetesVersion: version, PublicEndpoint: true, Tags: c.GetResourceLabels()}
	if pc := c.GetPrivateClusterConfig(); pc != nil {
		spec.PrivateEndpoint = pc.GetEnablePrivateNodes() || pc.GetEnablePrivateEndpoint()
		spec.PublicEndpoint = !pc.GetEnablePrivateEndpoint()
	}
	network, err := s.clusterNetwork(r, c)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, np := range c.GetNodePools() {
		machineType := np.GetConfig().GetMachineType()
		if machineType == "" {
			machineType = DefaultMachineType
		}
		switch {
		case np.GetName() == "":
			return nil, invalid("Cluster.node_pools[].name must be specified.")
		case seen[np.GetName()]:
			return nil, invalid("Cluster.node_pools has two node pools named %q.", np.GetName())
		}
		seen[np.GetName()] = true
		if err := checkNodeConfig(np.GetConfig(), machineType); err != nil {
			return nil, err
		}
	}
	if _, err := s.e.CreateCluster(cloudName, spec); err != nil {
		return nil, grpcError(err, r.clusterName())
	}
	stored := proto.Clone(c).(*containerpb.Cluster)
	stored.NodePools = nil
	if err := s.rec.clusters.Put(r.region()+"/"+r.Cluster, clusterMeta{Project: r.Project,
		Location: r.Location, Created: s.now(), Proto: marshalProto(stored), Network: network}); err != nil {
		return nil, grpcError(err, "")
	}
	// The request's node pools are created with the cluster.
	for _, np := range c.GetNodePools() {
		pr := r
		pr.Pool = np.GetName()
		if err := s.addPool(pr, version, np); err != nil {
			return nil, err
		}
	}
	return s.startOp(r, containerpb.Operation_CREATE_CLUSTER)
}

func (s *server) GetCluster(ctx context.Context, req *containerpb.GetClusterRequest) (*containerpb.Cluster, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	r, err := parseName(req.GetName(), req.GetProjectId(), req.GetZone(), req.GetClusterId(), "", 1)
	if err != nil {
		return nil, err
	}
	c, err := s.e.GetCluster(cloudName, r.region(), r.Cluster)
	if err != nil {
		if cloud.IsNotFound(err) {
			if serr := s.sweep(); serr != nil {
				return nil, grpcError(serr, "")
			}
		}
		return nil, grpcError(err, r.clusterName())
	}
	out, err := s.clusterProto(c, r)
	return out, grpcError(err, "")
}

func (s *server) DeleteCluster(ctx context.Context, req *containerpb.DeleteClusterRequest) (*containerpb.Operation, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	r, err := parseName(req.GetName(), req.GetProjectId(), req.GetZone(), req.GetClusterId(), "", 1)
	if err != nil {
		return nil, err
	}
	if _, err := s.e.DeleteCluster(cloudName, r.region(), r.Cluster); err != nil {
		if cloud.IsConflict(err) {
			var ce *cloud.Error
			errors.As(err, &ce)
			return nil, status.Errorf(codes.FailedPrecondition, "Cluster %s can't be deleted: %s (the simulator does not delete node pools with their cluster).", r.clusterName(), ce.Message)
		}
		return nil, grpcError(err, r.clusterName())
	}
	return s.startOp(r, containerpb.Operation_DELETE_CLUSTER)
}

func (s *server) ListClusters(ctx context.Context, req *containerpb.ListClustersRequest) (*containerpb.ListClustersResponse, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	r, err := parseName(req.GetParent(), req.GetProjectId(), req.GetZone(), "", "", 0)
	if err != nil {
		return nil, err
	}
	out := &containerpb.ListClustersResponse{}
	for _, c := range s.e.Inventory().Clusters {
		if c.Cloud == cloudName && (r.Location == "-" || c.Region == r.region()) {
			pc, err := s.clusterProto(c, r)
			if err != nil {
				return nil, grpcError(err, "")
			}
			out.Clusters = append(out.Clusters, pc)
		}
	}
	return out, nil
}

// ---- node pools ----

func (s *server) CreateNodePool(ctx context.Context, req *containerpb.CreateNodePoolRequest) (*containerpb.Operation, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	r, err := parseName(req.GetParent(), req.GetProjectId(), req.GetZone(), req.GetClusterId(), "", 1)
	if err != nil {
		return nil, err
	}
	np := req.GetNodePool()
	if np.GetName() == "" {
		return nil, invalid("NodePool.name must be specified.")
	}
	r.Pool = np.GetName()
	c, ok := s.findCluster(r.region(), r.Cluster)
	if !ok {
		return nil, notFoundStatus(r.clusterName())
	}
	if st := s.e.ClusterStatus(c); st != cloud.StatusActive {
		return nil, busy(r.clusterName(), fmt.Sprintf("cluster %s is %s", r.Cluster, clusterStatuses[st]))
	}
	if err := s.sweep(); err != nil {
		return nil, grpcError(err, "")
	}
	if _, ok := s.findPool(r.region(), r.Cluster, r.Pool); ok {
		return nil, alreadyExists(r.poolName())
	}
	if err := s.addPool(r, c.Spec.KubernetesVersion, np); err != nil {
		return nil, err
	}
	return s.startOp(r, containerpb.Operation_CREATE_NODE_POOL)
}

// addPool creates node pool np (named r.Pool) of cluster r.Cluster, whose
// Kubernetes version is clusterVersion: for CreateNodePool, and for the
// node pools a CreateCluster request carries (which GKE creates with the
// cluster: gcloud's default-pool;
// https://cloud.google.com/kubernetes-engine/docs/reference/rest/v1/projects.locations.clusters#Cluster.FIELDS.node_pools).
func (s *server) addPool(r ref, clusterVersion string, np *containerpb.NodePool) error {
	if np.GetInitialNodeCount() < 0 {
		return invalid("NodePool.initial_node_count must be non-negative.")
	}
	cfg := np.GetConfig()
	machineType := cfg.GetMachineType()
	if machineType == "" {
		machineType = DefaultMachineType
	}
	if err := checkNodeConfig(cfg, machineType); err != nil {
		return err
	}
	taints, err := toTaints(cfg.GetTaints())
	if err != nil {
		return err
	}
	zone := ""
	cm, cp, err := s.clusterMetaFor(r.region(), r.Cluster)
	if err != nil {
		return grpcError(err, "")
	}
	switch {
	case len(np.GetLocations()) > 0:
		zone = np.GetLocations()[0]
	case len(cp.GetLocations()) > 0:
		zone = cp.GetLocations()[0]
	case isZone(cm.Location):
		zone = cm.Location
	case isZone(r.Location):
		zone = r.Location
	default:
		zone = r.region() + "-a"
	}
	if RegionOf(zone) != r.region() {
		return invalid("Node location %q is not in the cluster's region %q.", zone, r.region())
	}
	ct := "on_demand"
	if cfg.GetSpot() || cfg.GetPreemptible() {
		ct = "spot"
	}
	spec := cloud.NodePoolSpec{
		Cluster: r.Cluster, Region: r.region(), Name: r.Pool, InstanceType: machineType, Zone: zone, CapacityType: ct,
		Nodes: int(np.GetInitialNodeCount()), Labels: maps.Clone(cfg.GetLabels()), Taints: taints,
	}
	version := np.GetVersion()
	if version == "" {
		version = clusterVersion
	}
	if err := s.poolCapacity(cfg, version, &spec); err != nil { // reservations.go
		return err
	}
	opts := s.opts.InstanceOptions(machineType)
	// N1 VMs get their GPUs, count and model, from the accelerators,
	// whatever the options say (https://cloud.google.com/compute/docs/gpus#n1-gpus):
	// "nvidia-tesla-t4" is a T4.
	n1 := strings.HasPrefix(machineType, "n1-")
	if (s.defaultOptions || n1) && !gpuSuffix(machineType) {
		for _, a := range cfg.GetAccelerators() {
			if a.GetAcceleratorCount() > 0 {
				opts.GPUsPerNode = int(a.GetAcceleratorCount())
				if n1 {
					spec.GPUModel = strings.ToUpper(strings.TrimPrefix(strings.TrimPrefix(a.GetAcceleratorType(), "nvidia-"), "tesla-"))
					spec.GPUsPerNode = opts.GPUsPerNode
				}
				break
			}
		}
	}
	if _, err := s.e.CreateNodePool(cloudName, spec, opts); err != nil {
		return grpcError(err, r.poolName())
	}
	stored := proto.Clone(np).(*containerpb.NodePool)
	if len(stored.Locations) == 0 {
		stored.Locations = []string{zone}
	}
	if stored.Config == nil {
		stored.Config = &containerpb.NodeConfig{}
	}
	stored.Config.MachineType = machineType
	return grpcError(s.rec.pools.Put(r.region()+"/"+r.Cluster+"/"+r.Pool,
		poolMeta{Project: r.Project, Location: r.Location, Version: version, Created: s.now(), Proto: marshalProto(stored)}), "")
}

// Node configuration rules of GKE's NodeConfig
// (https://cloud.google.com/kubernetes-engine/docs/reference/rest/v1/NodeConfig):
// machineType is a Compute Engine machine type name (lower-case letters,
// digits and hyphens: https://cloud.google.com/compute/docs/machine-resource),
// so a catalog name with attached GPUs ("n1-highmem-8+1xT4") is refused;
// oauthScopes are scope URLs; serviceAccount is "default" or a service
// account's email.
var (
	machineTypeName = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
	scopeURL        = regexp.MustCompile(`^https://www\.googleapis\.com/auth/[a-z][-a-z0-9._/]*$`)
	serviceAccount  = regexp.MustCompile(`^(default|[a-z0-9][-a-z0-9._]*@[a-z0-9][-a-z0-9.]*\.gserviceaccount\.com)$`)
)

func checkNodeConfig(cfg *containerpb.NodeConfig, machineType string) error {
	if !machineTypeName.MatchString(machineType) {
		return invalid("Invalid value for field 'resource.config.machineType': %q. Machine type with name %q does not exist.", machineType, machineType)
	}
	for _, sc := range cfg.GetOauthScopes() {
		if !scopeURL.MatchString(sc) {
			return invalid("Invalid value for field 'resource.config.oauthScopes': %q is not an OAuth scope URL (https://www.googleapis.com/auth/...).", sc)
		}
	}
	if sa := cfg.GetServiceAccount(); sa != "" && !serviceAccount.MatchString(sa) {
		return invalid("Invalid value for field 'resource.config.serviceAccount': %q is not a service account email or \"default\".", sa)
	}
	return nil
}

func gpuSuffix(machineType string) bool {
	i := strings.LastIndex(machineType, "-")
	if i < 0 || !strings.HasSuffix(machineType, "g") || len(machineType) < i+3 {
		return false
	}
	for _, r := range machineType[i+1 : len(machineType)-1] {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// poolNotFound answers for a pool that the engine does not have: the
// cluster's name when the cluster is gone too.
func (s *server) poolNotFound(r ref) error {
	if err := s.sweep(); err != nil {
		return grpcError(err, "")
	}
	if _, ok := s.findCluster(r.region(), r.Cluster); !ok {
		return notFoundStatus(r.clusterName())
	}
	return notFoundStatus(r.poolName())
}

func (s *server) GetNodePool(ctx context.Context, req *containerpb.GetNodePoolRequest) (*containerpb.NodePool, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	r, err := parseName(req.GetName(), req.GetProjectId(), req.GetZone(), req.GetClusterId(), req.GetNodePoolId(), 2)
	if err != nil {
		return nil, err
	}
	if err := s.endFlexStart(r.region(), r.Cluster); err != nil { // reservations.go
		return nil, grpcError(err, r.poolName())
	}
	p, err := s.e.GetNodePool(cloudName, r.region(), r.Cluster, r.Pool)
	if err != nil {
		if cloud.IsNotFound(err) {
			return nil, s.poolNotFound(r)
		}
		return nil, grpcError(err, r.poolName())
	}
	out, err := s.poolProto(p, r)
	return out, grpcError(err, "")
}

func (s *server) ListNodePools(ctx context.Context, req *containerpb.ListNodePoolsRequest) (*containerpb.ListNodePoolsResponse, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	r, err := parseName(req.GetParent(), req.GetProjectId(), req.GetZone(), req.GetClusterId(), "", 1)
	if err != nil {
		return nil, err
	}
	if _, ok := s.findCluster(r.region(), r.Cluster); !ok {
		return nil, notFoundStatus(r.clusterName())
	}
	if err := s.endFlexStart(r.region(), r.Cluster); err != nil { // reservations.go
		return nil, grpcError(err, r.clusterName())
	}
	out := &containerpb.ListNodePoolsResponse{}
	for _, p := range s.e.Inventory().Pools {
		if p.Cloud == cloudName && p.Spec.Region == r.region() && p.Spec.Cluster == r.Cluster {
			np, err := s.poolProto(p, r)
			if err != nil {
				return nil, grpcError(err, "")
			}
			out.NodePools = append(out.NodePools, np)
		}
	}
	return out, nil
}

// update applies an engine update and starts its operation.
func (s *server) update(r ref, u cloud.NodePoolUpdate, t containerpb.Operation_Type) (*containerpb.Operation, error) {
	if _, err := s.e.UpdateNodePool(cloudName, r.region(), r.Cluster, r.Pool, u); err != nil {
		if cloud.IsNotFound(err) {
			return nil, s.poolNotFound(r)
		}
		return nil, grpcError(err, r.poolName())
	}
	return s.startOp(r, t)
}

func (s *server) SetNodePoolSize(ctx context.Context, req *containerpb.SetNodePoolSizeRequest) (*containerpb.Operation, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	r, err := parseName(req.GetName(), req.GetProjectId(), req.GetZone(), req.GetClusterId(), req.GetNodePoolId(), 2)
	if err != nil {
		return nil, err
	}
	if req.GetNodeCount() < 0 {
		return nil, invalid("node_count must be non-negative.")
	}
	n := int(req.GetNodeCount())
	return s.update(r, cloud.NodePoolUpdate{Nodes: &n}, containerpb.Operation_SET_NODE_POOL_SIZE)
}

// UpdateNodePool replaces labels (NodeLabels) and taints (NodeTaints); a
// different machine type is InvalidArgument (not modeled); other fields
// are accepted and ignored.
func (s *server) UpdateNodePool(ctx context.Context, req *containerpb.UpdateNodePoolRequest) (*containerpb.Operation, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	r, err := parseName(req.GetName(), req.GetProjectId(), req.GetZone(), req.GetClusterId(), req.GetNodePoolId(), 2)
	if err != nil {
		return nil, err
	}
	var u cloud.NodePoolUpdate
	if l := req.GetLabels(); l != nil {
		u.Labels = maps.Clone(l.GetLabels())
		if u.Labels == nil {
			u.Labels = map[string]string{}
		}
	}
	if t := req.GetTaints(); t != nil {
		taints, err := toTaints(t.GetTaints())
		if err != nil {
			return nil, err
		}
		u.Taints = &taints
	}
	if mt := req.GetMachineType(); mt != "" {
		if p, ok := s.findPool(r.region(), r.Cluster, r.Pool); ok && p.Spec.InstanceType != mt {
			return nil, invalid("Changing the machine type of node pool %s from %s to %s is not supported by the simulator.", r.Pool, p.Spec.InstanceType, mt)
		}
	}
	return s.update(r, u, containerpb.Operation_UPGRADE_NODES)
}

func (s *server) DeleteNodePool(ctx context.Context, req *containerpb.DeleteNodePoolRequest) (*containerpb.Operation, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	r, err := parseName(req.GetName(), req.GetProjectId(), req.GetZone(), req.GetClusterId(), req.GetNodePoolId(), 2)
	if err != nil {
		return nil, err
	}
	if _, err := s.e.DeleteNodePool(cloudName, r.region(), r.Cluster, r.Pool); err != nil {
		if cloud.IsNotFound(err) {
			return nil, s.poolNotFound(r)
		}
		return nil, grpcError(err, r.poolName())
	}
	return s.startOp(r, containerpb.Operation_DELETE_NODE_POOL)
}
