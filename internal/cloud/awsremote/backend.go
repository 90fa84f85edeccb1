package awsremote

import (
	"context"
	"encoding/json"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/awsconfig"
)

// Full is everything the EKS backend does: what Backend forwards and what
// the helper must be given (internal/cloud/aws.Backend is one).
type Full interface {
	cloud.Backend
	cloud.NetworkBackend
	cloud.KubeAccess
	cloud.NodeReplacer
	cloud.NodePoolLister
	cloud.CapacityPurchaser
}

// Backend is the EKS backend with settings s, in the helper of its
// client: every method is one call to the helper, which holds one
// backend per settings.
type Backend struct {
	c      *Client
	target json.RawMessage
}

var _ Full = (*Backend)(nil)

// NewBackend is the EKS backend with settings s, served by c's helper.
// Nothing is started until the first call.
func NewBackend(c *Client, s awsconfig.Settings) *Backend {
	t, _ := json.Marshal(s) // plain data: cannot fail
	return &Backend{c: c, target: t}
}

// Arguments of the methods that take more than one.
type (
	regionName struct{ Region, Name string }
	poolName   struct{ Region, Cluster, Name string }
	poolUpdate struct {
		Region, Cluster, Name string
		Update                cloud.NodePoolUpdate
	}
	nodeOfPool struct {
		Region, Cluster, Pool string
		Node                  cloud.NodeRef
	}
	purchase struct{ Region, OfferingID, Token string }
)

// none is the result of methods that return only an error.
type none struct{}

func do[Out any](ctx context.Context, b *Backend, method string, args any) (Out, error) {
	var out Out
	err := b.c.call(ctx, method, b.target, args, &out)
	return out, err
}

func doErr(ctx context.Context, b *Backend, method string, args any) error {
	return b.c.call(ctx, method, b.target, args, nil)
}

// Cloud is "aws".
func (b *Backend) Cloud() string { return "aws" }

// CreateCluster is Full's CreateCluster, run in the helper.
func (b *Backend) CreateCluster(ctx context.Context, spec cloud.ClusterSpec) (cloud.Cluster, error) {
	return do[cloud.Cluster](ctx, b, "CreateCluster", spec)
}

// GetCluster is Full's GetCluster, run in the helper.
func (b *Backend) GetCluster(ctx context.Context, region, name string) (cloud.Cluster, error) {
	return do[cloud.Cluster](ctx, b, "GetCluster", regionName{region, name})
}

// DeleteCluster is Full's DeleteCluster, run in the helper.
func (b *Backend) DeleteCluster(ctx context.Context, region, name string) error {
	return doErr(ctx, b, "DeleteCluster", regionName{region, name})
}

// CreateNodePool is Full's CreateNodePool, run in the helper.
func (b *Backend) CreateNodePool(ctx context.Context, spec cloud.NodePoolSpec) (cloud.NodePool, error) {
	return do[cloud.NodePool](ctx, b, "CreateNodePool", spec)
}

// GetNodePool is Full's GetNodePool, run in the helper.
func (b *Backend) GetNodePool(ctx context.Context, region, cluster, name string) (cloud.NodePool, error) {
	return do[cloud.NodePool](ctx, b, "GetNodePool", poolName{region, cluster, name})
}

// UpdateNodePool is Full's UpdateNodePool, run in the helper.
func (b *Backend) UpdateNodePool(ctx context.Context, region, cluster, name string, u cloud.NodePoolUpdate) (cloud.NodePool, error) {
	return do[cloud.NodePool](ctx, b, "UpdateNodePool", poolUpdate{region, cluster, name, u})
}

// DeleteNodePool is Full's DeleteNodePool, run in the helper.
func (b *Backend) DeleteNodePool(ctx context.Context, region, cluster, name string) error {
	return doErr(ctx, b, "DeleteNodePool", poolName{region, cluster, name})
}

// List is Full's List, run in the helper.
func (b *Backend) List(ctx context.Context, o cloud.ListOptions) ([]cloud.Resource, error) {
	return do[[]cloud.Resource](ctx, b, "List", o)
}

// ListNodePools is Full's ListNodePools, run in the helper.
func (b *Backend) ListNodePools(ctx context.Context, region, cluster string) ([]string, error) {
	return do[[]string](ctx, b, "ListNodePools", regionName{region, cluster})
}

// KubeCredentials is Full's KubeCredentials, run in the helper.
func (b *Backend) KubeCredentials(ctx context.Context, region, cluster string) (cloud.KubeCredentials, error) {
	return do[cloud.KubeCredentials](ctx, b, "KubeCredentials", regionName{region, cluster})
}

// ReplaceNode is Full's ReplaceNode, run in the helper.
func (b *Backend) ReplaceNode(ctx context.Context, region, cluster, pool string, node cloud.NodeRef) error {
	return doErr(ctx, b, "ReplaceNode", nodeOfPool{region, cluster, pool, node})
}

// PurchaseCapacityBlock is Full's PurchaseCapacityBlock, run in the helper.
func (b *Backend) PurchaseCapacityBlock(ctx context.Context, region, offeringID, token string) (cloud.Reservation, error) {
	return do[cloud.Reservation](ctx, b, "PurchaseCapacityBlock", purchase{region, offeringID, token})
}

// EnsureNetwork is Full's EnsureNetwork, run in the helper.
func (b *Backend) EnsureNetwork(ctx context.Context, spec cloud.NetworkSpec) (cloud.Network, error) {
	return do[cloud.Network](ctx, b, "EnsureNetwork", spec)
}

// GetNetwork is Full's GetNetwork, run in the helper.
func (b *Backend) GetNetwork(ctx context.Context, region, name string) (cloud.Network, error) {
	return do[cloud.Network](ctx, b, "GetNetwork", regionName{region, name})
}

// DeleteNetwork is Full's DeleteNetwork, run in the helper.
func (b *Backend) DeleteNetwork(ctx context.Context, region, name string) error {
	return doErr(ctx, b, "DeleteNetwork", regionName{region, name})
}

// EnsureVPNGateway is Full's EnsureVPNGateway, run in the helper.
func (b *Backend) EnsureVPNGateway(ctx context.Context, spec cloud.GatewaySpec) (cloud.Gateway, error) {
	return do[cloud.Gateway](ctx, b, "EnsureVPNGateway", spec)
}

// GetVPNGateway is Full's GetVPNGateway, run in the helper.
func (b *Backend) GetVPNGateway(ctx context.Context, region, name string) (cloud.Gateway, error) {
	return do[cloud.Gateway](ctx, b, "GetVPNGateway", regionName{region, name})
}

// DeleteVPNGateway is Full's DeleteVPNGateway, run in the helper.
func (b *Backend) DeleteVPNGateway(ctx context.Context, region, name string) error {
	return doErr(ctx, b, "DeleteVPNGateway", regionName{region, name})
}

// EnsureVPNConnection is Full's EnsureVPNConnection, run in the helper.
func (b *Backend) EnsureVPNConnection(ctx context.Context, spec cloud.VPNConnectionSpec) (cloud.VPNConnection, error) {
	return do[cloud.VPNConnection](ctx, b, "EnsureVPNConnection", spec)
}

// GetVPNConnection is Full's GetVPNConnection, run in the helper.
func (b *Backend) GetVPNConnection(ctx context.Context, region, name string) (cloud.VPNConnection, error) {
	return do[cloud.VPNConnection](ctx, b, "GetVPNConnection", regionName{region, name})
}

// GetTunnelKeys is Full's GetTunnelKeys, run in the helper.
func (b *Backend) GetTunnelKeys(ctx context.Context, region, name string) ([]string, error) {
	return do[[]string](ctx, b, "GetTunnelKeys", regionName{region, name})
}

// DeleteVPNConnection is Full's DeleteVPNConnection, run in the helper.
func (b *Backend) DeleteVPNConnection(ctx context.Context, region, name string) error {
	return doErr(ctx, b, "DeleteVPNConnection", regionName{region, name})
}

// EnsurePeering is Full's EnsurePeering, run in the helper.
func (b *Backend) EnsurePeering(ctx context.Context, spec cloud.PeeringSpec) (cloud.Peering, error) {
	return do[cloud.Peering](ctx, b, "EnsurePeering", spec)
}

// GetPeering is Full's GetPeering, run in the helper.
func (b *Backend) GetPeering(ctx context.Context, spec cloud.PeeringSpec) (cloud.Peering, error) {
	return do[cloud.Peering](ctx, b, "GetPeering", spec)
}

// DeletePeering is Full's DeletePeering, run in the helper.
func (b *Backend) DeletePeering(ctx context.Context, spec cloud.PeeringSpec) error {
	return doErr(ctx, b, "DeletePeering", spec)
}

// ListNetworks is Full's ListNetworks, run in the helper.
func (b *Backend) ListNetworks(ctx context.Context, o cloud.ListOptions) ([]cloud.Resource, error) {
	return do[[]cloud.Resource](ctx, b, "ListNetworks", o)
}

// backendMethod is the helper's side of a Backend method: the arguments
// decoded, the method called on the backend of the call's settings.
type backendMethod func(ctx context.Context, b Full, args json.RawMessage) (any, error)

func serve[In, Out any](f func(ctx context.Context, b Full, in In) (Out, error)) backendMethod {
	return func(ctx context.Context, b Full, args json.RawMessage) (any, error) {
		var in In
		if err := json.Unmarshal(args, &in); err != nil {
			return nil, err
		}
		return f(ctx, b, in)
	}
}

func serveErr[In any](f func(ctx context.Context, b Full, in In) error) backendMethod {
	return serve(func(ctx context.Context, b Full, in In) (none, error) { return none{}, f(ctx, b, in) })
}

// backendMethods are the helper's methods of Backend, by name.
var backendMethods = map[string]backendMethod{
	"CreateCluster": serve(func(ctx context.Context, b Full, s cloud.ClusterSpec) (cloud.Cluster, error) {
		return b.CreateCluster(ctx, s)
	}),
	"GetCluster": serve(func(ctx context.Context, b Full, a regionName) (cloud.Cluster, error) {
		return b.GetCluster(ctx, a.Region, a.Name)
	}),
	"DeleteCluster": serveErr(func(ctx context.Context, b Full, a regionName) error { return b.DeleteCluster(ctx, a.Region, a.Name) }),
	"CreateNodePool": serve(func(ctx context.Context, b Full, s cloud.NodePoolSpec) (cloud.NodePool, error) {
		return b.CreateNodePool(ctx, s)
	}),
	"GetNodePool": serve(func(ctx context.Context, b Full, a poolName) (cloud.NodePool, error) {
		return b.GetNodePool(ctx, a.Region, a.Cluster, a.Name)
	}),
	"UpdateNodePool": serve(func(ctx context.Context, b Full, a poolUpdate) (cloud.NodePool, error) {
		return b.UpdateNodePool(ctx, a.Region, a.Cluster, a.Name, a.Update)
	}),
	"DeleteNodePool": serveErr(func(ctx context.Context, b Full, a poolName) error {
		return b.DeleteNodePool(ctx, a.Region, a.Cluster, a.Name)
	}),
	"List": serve(func(ctx context.Context, b Full, o cloud.ListOptions) ([]cloud.Resource, error) {
		return b.List(ctx, o)
	}),
	"ListNodePools": serve(func(ctx context.Context, b Full, a regionName) ([]string, error) {
		return b.ListNodePools(ctx, a.Region, a.Name)
	}),
	"KubeCredentials": serve(func(ctx context.Context, b Full, a regionName) (cloud.KubeCredentials, error) {
		return b.KubeCredentials(ctx, a.Region, a.Name)
	}),
	"ReplaceNode": serveErr(func(ctx context.Context, b Full, a nodeOfPool) error {
		return b.ReplaceNode(ctx, a.Region, a.Cluster, a.Pool, a.Node)
	}),
	"PurchaseCapacityBlock": serve(func(ctx context.Context, b Full, a purchase) (cloud.Reservation, error) {
		return b.PurchaseCapacityBlock(ctx, a.Region, a.OfferingID, a.Token)
	}),
	"EnsureNetwork": serve(func(ctx context.Context, b Full, s cloud.NetworkSpec) (cloud.Network, error) {
		return b.EnsureNetwork(ctx, s)
	}),
	"GetNetwork": serve(func(ctx context.Context, b Full, a regionName) (cloud.Network, error) {
		return b.GetNetwork(ctx, a.Region, a.Name)
	}),
	"DeleteNetwork": serveErr(func(ctx context.Context, b Full, a regionName) error { return b.DeleteNetwork(ctx, a.Region, a.Name) }),
	"EnsureVPNGateway": serve(func(ctx context.Context, b Full, s cloud.GatewaySpec) (cloud.Gateway, error) {
		return b.EnsureVPNGateway(ctx, s)
	}),
	"GetVPNGateway": serve(func(ctx context.Context, b Full, a regionName) (cloud.Gateway, error) {
		return b.GetVPNGateway(ctx, a.Region, a.Name)
	}),
	"DeleteVPNGateway": serveErr(func(ctx context.Context, b Full, a regionName) error {
		return b.DeleteVPNGateway(ctx, a.Region, a.Name)
	}),
	"EnsureVPNConnection": serve(func(ctx context.Context, b Full, s cloud.VPNConnectionSpec) (cloud.VPNConnection, error) {
		return b.EnsureVPNConnection(ctx, s)
	}),
	"GetVPNConnection": serve(func(ctx context.Context, b Full, a regionName) (cloud.VPNConnection, error) {
		return b.GetVPNConnection(ctx, a.Region, a.Name)
	}),
	"GetTunnelKeys": serve(func(ctx context.Context, b Full, a regionName) ([]string, error) {
		return b.GetTunnelKeys(ctx, a.Region, a.Name)
	}),
	"DeleteVPNConnection": serveErr(func(ctx context.Context, b Full, a regionName) error {
		return b.DeleteVPNConnection(ctx, a.Region, a.Name)
	}),
	"EnsurePeering": serve(func(ctx context.Context, b Full, s cloud.PeeringSpec) (cloud.Peering, error) {
		return b.EnsurePeering(ctx, s)
	}),
	"GetPeering": serve(func(ctx context.Context, b Full, s cloud.PeeringSpec) (cloud.Peering, error) {
		return b.GetPeering(ctx, s)
	}),
	"DeletePeering": serveErr(func(ctx context.Context, b Full, s cloud.PeeringSpec) error { return b.DeletePeering(ctx, s) }),
	"ListNetworks": serve(func(ctx context.Context, b Full, o cloud.ListOptions) ([]cloud.Resource, error) {
		return b.ListNetworks(ctx, o)
	}),
}
