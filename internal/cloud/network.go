package cloud

import (
	"context"
	"errors"
	"fmt"
)

// NetworkSpec is one site's network: a VPC (AWS), a VPC network with one
// subnetwork per zone (GCP) or a VNet with subnets (Azure), and the
// firewall (security group, firewall rules, NSG) that lets the mesh's
// ranges in and nothing else.
type NetworkSpec struct {
	// Name is unique per cloud and region, derived deterministically by
	// gpufleet so that a retried create finds its own network.
	Name   string
	Region string
	// CIDR is the site's block: the VPC/VNet address space.
	CIDR string
	// Subnets are the node subnets, one per zone, sorted by zone.
	Subnets []SubnetSpec
	// PodsCIDR and ServicesCIDR lie inside CIDR. GCP attaches them to every
	// subnetwork as the secondary ranges "pods" and "services"; AWS (VPC
	// CNI) and Azure (routable pod network) take pod addresses from the
	// VPC/VNet and use them as they are.
	PodsCIDR, ServicesCIDR string
	// GatewayCIDR is the range reserved for the VPN gateway: Azure's
	// GatewaySubnet (a /27 or larger); unused elsewhere.
	GatewayCIDR string
	// AllowedCIDRs are let in by the firewall (all protocols): the blocks
	// of every site of the mesh. Everything else inbound is denied.
	// EnsureNetwork reconciles the rules to exactly this list.
	AllowedCIDRs []string
	Tags         map[string]string
}

// SubnetSpec is one zone's node subnet.
type SubnetSpec struct {
	// Zone as the catalog names it: an AWS zone ID (euc1-az1), a GCP zone
	// (europe-west4-a) or an Azure zone number ("1").
	Zone string
	CIDR string
}

// Network is a site's network as the cloud reports it.
type Network struct {
	Name, Region string
	// ID is the cloud's identifier (vpc-…, a self link, a resource ID).
	ID      string
	CIDR    string
	Subnets []Subnet
	// FirewallID identifies the security group / firewall rule / NSG.
	FirewallID   string
	AllowedCIDRs []string
	// GatewaySubnetID is Azure's GatewaySubnet; empty elsewhere.
	GatewaySubnetID string
}

// Subnet is one zone's node subnet as the cloud reports it.
type Subnet struct {
	Zone, CIDR, ID string
}

// GatewaySpec is a site's VPN gateway: an AWS virtual private gateway
// attached to the VPC with route propagation, a GCP HA VPN gateway with a
// Cloud Router, an Azure route-based, active-active VPN gateway in the
// GatewaySubnet with BGP enabled.
type GatewaySpec struct {
	Name, Region string
	// Network names the site's network (NetworkSpec.Name).
	Network string
	// ASN is the gateway's BGP autonomous system number (private range).
	ASN  int64
	Tags map[string]string
}

// Gateway is a VPN gateway as the cloud reports it.
type Gateway struct {
	Name, Region, ID string
	ASN              int64
	// PublicIPs are the gateway's outside addresses, one per interface
	// (GCP HA VPN: 2; Azure active-active: 2). Empty where addresses are
	// assigned per connection (AWS: see VPNConnection.LocalIPs).
	PublicIPs []string
	Status    Status
}

// TunnelSpec is one IPsec tunnel with its BGP session.
type TunnelSpec struct {
	// InsideCIDR is the tunnel's link-local /30 (inside 169.254.21.0/24 –
	// 169.254.22.0/24, which all three clouds accept); LocalInsideIP and
	// PeerInsideIP are its two usable addresses (the BGP peers).
	InsideCIDR    string
	LocalInsideIP string
	PeerInsideIP  string
	// PeerIP is the peer's outside address for this tunnel.
	PeerIP string
	// PSK is the IKE pre-shared key (sensitive). Empty means "keep the key
	// the tunnel has": gpufleet keeps keys only in the clouds, never in
	// Terraform state, so a tunnel that exists is reconciled without one.
	// A tunnel that has to be created, or replaced for another reason,
	// and whose key the cloud cannot give back, fails with
	// KeyRequiredError (the caller then keys the link anew on both sides).
	PSK string
	// Interface is the local gateway interface the tunnel uses, 0 or 1:
	// the GCP HA VPN gateway interface, the Azure active-active gateway's
	// IP configuration. AWS has none (it groups tunnels by PeerIP).
	Interface int
}

// CodeKeyRequired is the Error.Code of an Ensure that must create or
// replace a tunnel given without a pre-shared key.
const CodeKeyRequired = "PreSharedKeyRequired"

// KeyRequiredError says that tunnel i of connection name needs a key.
func KeyRequiredError(cloudName, op, name string, i int) error {
	return &Error{Kind: KindInvalid, Cloud: cloudName, Op: op, Code: CodeKeyRequired,
		Message: fmt.Sprintf("tunnel %d of connection %s has to be created or replaced and has no pre-shared key (the cloud does not return existing keys)", i, name)}
}

// IsKeyRequired reports a KeyRequiredError.
func IsKeyRequired(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == CodeKeyRequired
}

// VPNConnectionSpec connects a site's gateway to one peer site on another
// cloud: two or four tunnels, IKEv2, BGP. On AWS: a customer gateway per
// peer address and a VPN connection to it carrying that address's tunnels
// (two each when there are four tunnels to two addresses). On GCP: an
// external VPN gateway with the peer's addresses (two, or the four of two
// AWS VPN connections), a VPN tunnel per tunnel on HA VPN interface
// TunnelSpec.Interface, and a Cloud Router interface and BGP peer per
// tunnel. On Azure: a local network gateway per tunnel (peer address and
// BGP settings) and a connection per tunnel from IP configuration
// TunnelSpec.Interface using a custom APIPA BGP address.
type VPNConnectionSpec struct {
	Name, Region string
	// Network and Gateway name the local site's network and gateway.
	Network, Gateway string
	// Peer names the peer site (cloud/region), for tags and descriptions.
	Peer    string
	PeerASN int64
	// PeerCIDRs are the peer site's ranges (static fallbacks where a cloud
	// needs them; BGP advertises them otherwise).
	PeerCIDRs []string
	// Tunnels are two (GCP ↔ Azure) or four (AWS ↔ GCP or Azure), as
	// mesh.TunnelsPerLink plans them.
	Tunnels []TunnelSpec
	Tags    map[string]string
}

// VPNConnection is a VPN connection as the cloud reports it.
type VPNConnection struct {
	Name, Region, ID string
	// LocalIPs are this side's outside address per tunnel, in tunnel order
	// (AWS assigns them per connection; elsewhere the gateway's).
	LocalIPs []string
	// Tunnels report each tunnel's state, in tunnel order.
	Tunnels []TunnelStatus
	Status  Status
}

// TunnelStatus is one tunnel as the cloud reports it.
type TunnelStatus struct {
	ID     string
	PeerIP string
	// InsideCIDR is the tunnel's link-local /30 as the cloud records it
	// (AWS tunnel options, the GCP Cloud Router interface's range, the
	// network of Azure's custom APIPA BGP address), canonical; "" when
	// the cloud does not report it. Import rebuilds the mesh from it.
	InsideCIDR string
	// Up reports an established tunnel with its BGP session.
	Up bool
}

// PeeringSpec peers two networks of the same cloud (VPC peering with
// routes on AWS, network peering on GCP, VNet peering both ways on Azure).
// The backend creates both sides.
type PeeringSpec struct {
	Name string
	A, B PeeringSide
	Tags map[string]string
}

// PeeringSide is one network of a peering.
type PeeringSide struct {
	Region, Network, CIDR string
}

// Peering is a peering as the cloud reports it.
type Peering struct {
	Name, ID string
	// Active reports both sides connected.
	Active bool
}

// NetworkBackend creates sites' networks, VPN gateways, VPN connections
// and peerings on one cloud. The contract is Backend's: every method is
// safe to retry (Ensure finds what a previous attempt created and
// reconciles it to the spec), deletes of what is gone succeed, waits honour
// ctx, errors are *Error or ctx's error.
type NetworkBackend interface {
	// Cloud names the cloud: "aws", "gcp" or "azure".
	Cloud() string

	// EnsureNetwork creates or reconciles a network, its subnets and its
	// firewall, and waits until they are ready. A network of that name
	// with another CIDR is a KindConflict error; subnets of new zones are
	// added, and the firewall's allowed ranges are set to the spec's.
	EnsureNetwork(ctx context.Context, spec NetworkSpec) (Network, error)
	// GetNetwork returns a network, or KindNotFound.
	GetNetwork(ctx context.Context, region, name string) (Network, error)
	// DeleteNetwork deletes a network with its subnets and firewall and
	// waits until it is gone. Gateways and peerings must go first
	// (KindConflict otherwise).
	DeleteNetwork(ctx context.Context, region, name string) error

	// EnsureVPNGateway creates or finds a VPN gateway and waits until it
	// is available (tens of minutes on Azure).
	EnsureVPNGateway(ctx context.Context, spec GatewaySpec) (Gateway, error)
	// GetVPNGateway returns a gateway, or KindNotFound.
	GetVPNGateway(ctx context.Context, region, name string) (Gateway, error)
	// DeleteVPNGateway deletes a gateway and waits until it is gone.
	// Connections must go first (KindConflict otherwise).
	DeleteVPNGateway(ctx context.Context, region, name string) error

	// EnsureVPNConnection creates or reconciles a connection to a peer
	// and waits until the cloud has accepted it (tunnels may still be
	// coming up).
	EnsureVPNConnection(ctx context.Context, spec VPNConnectionSpec) (VPNConnection, error)
	// GetVPNConnection returns a connection, or KindNotFound; a
	// connection with a tunnel missing (deleted out of band) is reported
	// with fewer tunnels.
	GetVPNConnection(ctx context.Context, region, name string) (VPNConnection, error)
	// GetTunnelKeys returns the pre-shared key of each tunnel of a
	// connection, in spec order ("" for a tunnel it lacks), where the cloud
	// gives keys back (AWS, Azure); nil, nil where it never does (GCP);
	// KindNotFound when the connection does not exist. mesh.Apply reads
	// them to send the keys of a link's existing tunnels to a side that
	// has to recreate its tunnels (GCP's external gateway changing), so
	// that keys never need to be kept outside the clouds.
	GetTunnelKeys(ctx context.Context, region, name string) ([]string, error)
	// DeleteVPNConnection deletes a connection with its peer objects
	// (customer / external / local network gateways, router peers).
	DeleteVPNConnection(ctx context.Context, region, name string) error

	// EnsurePeering creates or finds both sides of a peering and the
	// routes it needs.
	EnsurePeering(ctx context.Context, spec PeeringSpec) (Peering, error)
	// GetPeering returns a peering, or KindNotFound; a peering with one
	// side gone is reported inactive.
	GetPeering(ctx context.Context, spec PeeringSpec) (Peering, error)
	// DeletePeering deletes both sides of a peering.
	DeletePeering(ctx context.Context, spec PeeringSpec) error

	// ListNetworks returns the networks, VPN gateways, VPN connections
	// and peerings gpufleet created (found by the tags, labels or
	// descriptions the Ensure methods set) in the regions o names, each
	// named as its Delete method takes it, following every page. (It is
	// not List: one type implements both Backend and NetworkBackend.)
	ListNetworks(ctx context.Context, o ListOptions) ([]Resource, error)
}
