package cloud

import (
	"cmp"
	"slices"
	"time"
)

// ManagedTag is the tag (AWS, Azure) or label (GCP, sanitised to
// "gpufleet_dev_managed-by") that marks a cluster gpufleet created; the
// provider sets it on every cluster (value "terraform"). Backend.List
// finds clusters by it, and their node pools by IsPoolName.
const ManagedTag = "gpufleet.dev/managed-by"

// ResourceKind is the kind of something List found.
type ResourceKind string

// Resource kinds, in the order Sweep deletes them (DeleteRank).
const (
	ResourceNodePool      ResourceKind = "node_pool"
	ResourceCluster       ResourceKind = "cluster"
	ResourceVPNConnection ResourceKind = "vpn_connection"
	ResourceVPNGateway    ResourceKind = "vpn_gateway"
	ResourcePeering       ResourceKind = "peering"
	ResourceNetwork       ResourceKind = "network"
)

// DeleteRank orders kinds for deletion: what depends on another goes
// first (node pools before their cluster, connections before their
// gateway, gateways and peerings before their network), as the Delete
// methods require (KindConflict otherwise).
func (k ResourceKind) DeleteRank() int {
	switch k {
	case ResourceNodePool:
		return 0
	case ResourceCluster:
		return 1
	case ResourceVPNConnection:
		return 2
	case ResourceVPNGateway:
		return 3
	case ResourcePeering:
		return 4
	case ResourceNetwork:
		return 5
	}
	return 6
}

// Resource is one thing gpufleet created, as List finds it.
type Resource struct {
	Cloud string
	// Region is the region the Delete methods take; Zone the node pool's
	// zone ("" where it has none).
	Region, Zone string
	Kind         ResourceKind
	// Name is what the Delete method of Kind takes (a node pool's name
	// as DeleteNodePool takes it, with its Cluster).
	Name    string
	Cluster string
	// ID is the cloud's identifier (ARN, self link, resource ID).
	ID string
	// Created is when the cloud says it was created (or, where the cloud
	// reports no time, the creation tag gpufleet sets); zero when unknown.
	Created time.Time
	// Tags are the cloud's tags or labels on it.
	Tags map[string]string
	// InstanceType, CapacityType and Nodes describe a node pool, for its
	// price per hour.
	InstanceType, CapacityType string
	Nodes                      int
	// Peering is the spec DeletePeering takes (kind peering).
	Peering *PeeringSpec
}

// ListOptions narrow a List.
type ListOptions struct {
	// Regions are the regions to look in on clouds whose APIs are
	// regional (AWS); clouds that list across regions (GKE's
	// locations/-, Azure's subscription) return what is in these regions
	// when set. Empty: AWS lists its configured default region, the others
	// every region.
	Regions []string
	// PageSize asks for pages of at most this many items where the API
	// takes a page size (0: the API's default); the lister follows every
	// next-page token either way.
	PageSize int
}

// InRegion reports whether region is one o asks for.
func (o ListOptions) InRegion(region string) bool {
	return len(o.Regions) == 0 || slices.Contains(o.Regions, region)
}

// SortResources sorts listed resources in a stable order: by cloud,
// deletion rank, region, cluster and name.
func SortResources(rs []Resource) {
	slices.SortStableFunc(rs, func(a, b Resource) int {
		return cmp.Or(cmp.Compare(a.Cloud, b.Cloud), cmp.Compare(a.Kind.DeleteRank(), b.Kind.DeleteRank()),
			cmp.Compare(a.Region, b.Region), cmp.Compare(a.Cluster, b.Cluster), cmp.Compare(a.Name, b.Name))
	})
}

// NowOf is now(), or time.Now() when now is nil (backends' Config.Now,
// which stamps the creation tags where a cloud reports no creation time).
func NowOf(now func() time.Time) time.Time {
	if now == nil {
		return time.Now()
	}
	return now()
}
