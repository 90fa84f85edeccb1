// Package cloud is the contract between the apply orchestration and the
// clouds: one Backend interface for Kubernetes clusters and GPU node pools,
// classified errors, and decorators (retries, metrics) that wrap any
// backend. Only the packages below it (aws, gcp, azure) import a cloud SDK.
package cloud

import (
	"context"
	"maps"
	"slices"
	"time"
)

// ClusterSpec is a Kubernetes control plane to create.
type ClusterSpec struct {
	// Name is unique per cloud and region; gpufleet derives it
	// deterministically so that a retried create finds its own cluster.
	Name              string
	Region            string
	KubernetesVersion string
	PublicEndpoint    bool
	PrivateEndpoint   bool
	Tags              map[string]string
	// Network places the cluster in a site network built by
	// NetworkBackend (gpufleet_network); nil keeps the cloud's default
	// networking.
	Network *ClusterNetwork
	// Identity is the resource ID of the user-assigned managed identity
	// the cluster runs as (Azure only: AKS capacity reservation groups
	// need one); "" lets the cloud give the cluster its own identity.
	Identity string
}

// ClusterNetwork is the site network a cluster and its node pools use.
type ClusterNetwork struct {
	// Name and ID of the VPC / VPC network / VNet (Network.Name, .ID).
	Name, ID string
	// SubnetIDs are the node subnets by zone (Network.Subnets); node pools
	// go in the subnet of their zone ("regional" for offers without one).
	SubnetIDs map[string]string
	// PodsCIDR and ServicesCIDR are the site's pod and service ranges.
	PodsCIDR, ServicesCIDR string
}

// Status is the lifecycle state of a cluster or node pool.
type Status string

// Statuses.
const (
	StatusCreating     Status = "creating"
	StatusActive       Status = "active"
	StatusUpdating     Status = "updating"
	StatusDeleting     Status = "deleting"
	StatusCreateFailed Status = "create_failed"
	StatusDegraded     Status = "degraded"
)

// Cluster is a control plane as the cloud reports it.
type Cluster struct {
	Name              string
	Region            string
	Status            Status
	KubernetesVersion string
	Endpoint          string
	// CACertificate is the cluster CA, base64-encoded PEM.
	CACertificate string
	// ServiceCIDR is the cluster's Kubernetes service range.
	ServiceCIDR string
	// ID is the cloud's identifier (ARN, self link, resource ID).
	ID string
	// Identity is the user-assigned identity the cluster runs as
	// (ClusterSpec.Identity; Azure only), "" for the cloud's own.
	Identity string
}

// Taint is a Kubernetes node taint.
type Taint struct {
	Key, Value, Effect string
}

// NodePoolSpec is a GPU node pool to create: nodes of one instance type,
// in one zone, with one capacity type.
type NodePoolSpec struct {
	Cluster      string
	Region       string
	Name         string
	InstanceType string
	// Zone is the zone (AWS zone ID or name, GCP zone); empty for clouds
	// without zones in the offer.
	Zone string
	// CapacityType is "on_demand", "spot", or a capacity kind that uses
	// Reservation: "reserved", "capacity_block", "flex_start", "calendar".
	CapacityType string
	Nodes        int
	// Reservation is the reserved or scheduled capacity the nodes come
	// from; nil for on-demand and spot (and for flex_start, which needs no
	// name).
	Reservation *Reservation
	Labels      map[string]string
	Taints      []Taint
	// GPUModel and GPUsPerNode describe the accelerators, for clouds that
	// attach them explicitly (GKE); informational elsewhere.
	GPUModel    string
	GPUsPerNode int
	// Compact asks for physically close nodes (a gang placement): GKE's
	// compact placement policy; informational elsewhere.
	Compact bool
	// UserData is the node bootstrap (EKS); other clouds ignore it.
	UserData string
	// IdempotencyToken makes a retried create return the first create's
	// pool instead of a second one.
	IdempotencyToken string
}

// Issue is a problem the cloud reports on a node pool (EKS health issues,
// GKE operation errors, Azure provisioning errors).
type Issue struct {
	Code    string
	Message string
}

// NodePool is a node pool as the cloud reports it.
type NodePool struct {
	Spec       NodePoolSpec
	Status     Status
	ReadyNodes int
	Issues     []Issue
	ID         string
}

// NodePoolUpdate changes a node pool in place; nil fields are unchanged.
type NodePoolUpdate struct {
	Nodes  *int
	Labels map[string]string
	Taints *[]Taint
}

// Backend creates and deletes clusters and GPU node pools on one cloud.
//
// Every method is safe to retry: creates are idempotent (by name and
// idempotency token), deletes of what is already gone succeed. Methods that
// wait honour ctx: when it is cancelled they return ctx's error and leave
// the operation running in the cloud, which a later Get observes.
// Errors are *Error (see Kind), or ctx's error.
type Backend interface {
	// Cloud names the cloud: "aws", "gcp" or "azure".
	Cloud() string

	// CreateCluster creates a cluster and waits until it is active. If a
	// cluster of that name exists with the same spec, it waits for it and
	// returns it; with another spec it returns a KindConflict error.
	CreateCluster(ctx context.Context, spec ClusterSpec) (Cluster, error)
	// GetCluster returns a cluster in any state, or KindNotFound.
	GetCluster(ctx context.Context, region, name string) (Cluster, error)
	// DeleteCluster deletes a cluster and waits until it is gone. A cluster
	// that is already gone is not an error. Node pools must be deleted
	// first (KindConflict otherwise).
	DeleteCluster(ctx context.Context, region, name string) error

	// CreateNodePool creates a node pool and waits until it is active. When
	// the pool fails (capacity, quota, launch errors) it returns the pool
	// as it exists, in StatusCreateFailed with its issues, together with a
	// KindCapacity or KindQuota error naming the zone, instance type and
	// capacity type: the caller decides whether to delete it or keep it.
	// A pool of that name with another spec is a KindConflict error.
	CreateNodePool(ctx context.Context, spec NodePoolSpec) (NodePool, error)
	// GetNodePool returns a node pool in any state, or KindNotFound (also
	// when the cluster is gone).
	GetNodePool(ctx context.Context, region, cluster, name string) (NodePool, error)
	// UpdateNodePool changes node count, labels or taints in place and
	// waits until the pool is active again.
	UpdateNodePool(ctx context.Context, region, cluster, name string, u NodePoolUpdate) (NodePool, error)
	// DeleteNodePool deletes a node pool and waits until it is gone. A pool
	// that is already gone is not an error.
	DeleteNodePool(ctx context.Context, region, cluster, name string) error

	// List returns the clusters gpufleet created (tagged ManagedTag) in
	// the regions o names, in any state but gone, and the node pools in
	// them with gpufleet's names (IsPoolName; AKS's derived agent pool
	// names), following every page. Clusters and pools of other tools are
	// left out.
	List(ctx context.Context, o ListOptions) ([]Resource, error)
}

// Equal reports whether two specs ask for the same pool (the idempotency
// token and user data aside, which do not change what exists).
func (s NodePoolSpec) Equal(o NodePoolSpec) bool {
	return s.Cluster == o.Cluster && s.Region == o.Region && s.Name == o.Name && s.InstanceType == o.InstanceType &&
		s.Zone == o.Zone && s.CapacityType == o.CapacityType && s.Nodes == o.Nodes &&
		s.Reservation.id() == o.Reservation.id() &&
		maps.Equal(s.Labels, o.Labels) && slices.Equal(s.Taints, o.Taints)
}

// Reservation is reserved or scheduled capacity a node pool targets.
type Reservation struct {
	// ID is the cloud's name for it: an AWS capacity reservation ID
	// ("cr-…"; a purchased capacity block is one too), a GCP reservation
	// name (calendar-mode reservations are reservations too), an Azure
	// capacity reservation group's resource ID.
	ID string
	// Start is when a capacity block or calendar reservation begins; zero
	// for capacity usable now. Nodes cannot launch before it.
	Start time.Time
	// End is when it ends (capacity blocks, calendar reservations, the
	// maximum run time of flex-start nodes); zero when open-ended.
	End time.Time
}

func (r *Reservation) id() string {
	if r == nil {
		return ""
	}
	return r.ID
}

// CapacityPurchaser is implemented by backends that can buy capacity
// blocks (AWS Capacity Blocks for ML). The fleet calls it at apply, only
// when the user allowed purchases, before creating the pool that uses the
// block.
type CapacityPurchaser interface {
	// PurchaseCapacityBlock buys the capacity block offering offeringID in
	// region and returns the capacity reservation it becomes. It is
	// idempotent by token: a purchase already made with the same token (a
	// retried apply) returns that reservation instead of buying a second
	// block.
	PurchaseCapacityBlock(ctx context.Context, region, offeringID, token string) (Reservation, error)
}
