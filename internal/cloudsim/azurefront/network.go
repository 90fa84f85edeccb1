package azurefront

// Microsoft.Network: virtual networks with their subnets and peerings,
// network security groups, public IP addresses, virtual network (VPN)
// gateways, local network gateways and connections, enough for the
// armnetwork/v9 clients (VirtualNetworksClient, SubnetsClient,
// VirtualNetworkPeeringsClient, SecurityGroupsClient,
// PublicIPAddressesClient, VirtualNetworkGatewaysClient,
// LocalNetworkGatewaysClient, VirtualNetworkGatewayConnectionsClient) and
// their LRO pollers.
//
// Paths (under /subscriptions/{sub}; fixed segments match
// case-insensitively):
//
//	resourceGroups/{rg}/providers/Microsoft.Network/{type}                   GET (list)
//	resourceGroups/{rg}/providers/Microsoft.Network/{type}/{name}            PUT GET DELETE
//	  {type}: virtualNetworks, networkSecurityGroups, publicIPAddresses,
//	  virtualNetworkGateways, localNetworkGateways, connections
//	.../virtualNetworks/{vnet}/{subnets|virtualNetworkPeerings}              GET (list)
//	.../virtualNetworks/{vnet}/{subnets|virtualNetworkPeerings}/{name}       PUT GET DELETE
//	.../connections/{name}/sharedkey                                         GET
//	providers/Microsoft.Network/{type}                                       GET (list, whole subscription)
//	providers/Microsoft.Network/locations/{loc}/operations/{id}              GET (Azure-AsyncOperation)
//	providers/Microsoft.Network/locations/{loc}/operationResults/{id}        GET (Location)
//
// Engine state: every resource is a row of the typed table (cloudsim
// Table) of its kind (VirtualNetwork, Subnet, VirtualNetworkPeering,
// NetworkSecurityGroup, PublicIPAddress, VirtualNetworkGateway,
// LocalNetworkGateway, Connection), its model a netRecord named by its
// lower-cased key "rg/name" (children "rg/vnet/name"): these are what leak
// checks see. Network requests are serialised. (Worlds of the version
// before the tables, with an object per resource and a "<Kind>Meta" object
// per record, are moved into the tables when the front end starts.)
//
// Long-running operations: a PUT answers 201 (new) or 200 with
// provisioningState "Updating" and an Azure-AsyncOperation header
// (.../providers/Microsoft.Network/locations/{loc}/operations/{id}); the
// resource turns "Succeeded" once the engine clock has passed
// Options.Network.Resource after the PUT (Options.Network.Gateway for
// virtual network gateways, which take 30-45 minutes on Azure; both
// NetworkDurationsFor the engine's durations when Options.Network is
// zero). A PUT
// that changes nothing goes through Updating too, as on Azure. PUT
// operations are recorded in the bookkeeping table "NetworkOperation"
// (netOp: rg, kind, key, location, start), whose rows go
// when their resource is deleted or with their resource group. A DELETE
// removes the resource at once and answers 202 with Azure-AsyncOperation
// and Location headers whose operation has succeeded (no record); a
// DELETE of a missing resource is 204.
//
// What maps to what:
//
//   - Virtual networks: addressSpace.addressPrefixes (valid CIDRs); the
//     subnets given inline replace the network's subnets (an absent list
//     removes them all, as on Azure); virtualNetworkPeerings are reported.
//   - Subnets: addressPrefix must be a CIDR in canonical form (400
//     InvalidCIDRNotation), inside the address space (400
//     NetcfgInvalidSubnet) and overlap no other subnet (400
//     NetcfgSubnetRangesOverlap); networkSecurityGroup must exist (400
//     InvalidResourceReference). ipConfigurations lists the gateway IP
//     configurations in the subnet. Deleting a subnet in use (or a virtual
//     network with such a subnet, or dropping it from the inline list) is
//     409 InUseSubnetCannotBeDeleted; changing its prefix is 409
//     InUseSubnetCannotBeUpdated.
//   - Network security groups: securityRules (priority 100-4096, else 400
//     SecurityRuleInvalidPriority; one priority per direction, else 400
//     SecurityRuleConflict; access, direction and protocol among Azure's
//     values, else 400 SecurityRuleParameterContainsUnsupportedValue;
//     address prefixes CIDRs, addresses, "*" or service tags, else 400
//     SecurityRuleInvalidAddressPrefix); Azure's six defaultSecurityRules
//     and the associated subnets are reported. Deleting a group still
//     associated is 409 InUseNetworkSecurityGroupCannotBeDeleted.
//   - Public IP addresses: the address comes from engine.AllocatePublicIP
//     on creation and is kept; Standard SKU requires Static allocation (400
//     StandardSkuPublicIPAddressesMustBeStatic). ipConfiguration names the
//     gateway IP configuration using it; deleting it then is 409
//     PublicIPAddressCannotBeDeleted.
//   - Virtual network gateways: gatewayType Vpn or ExpressRoute, vpnType
//     RouteBased or PolicyBased, sku.name one of Azure's gateway SKUs (400
//     InvalidGatewaySku); each ipConfiguration names the subnet called
//     GatewaySubnet of an existing virtual network in the gateway's
//     location (400 InvalidGatewaySubnet) and an existing public IP address
//     no other gateway uses (400 InvalidResourceReference,
//     PublicIPAddressInUse); activeActive needs exactly two
//     ipConfigurations (400 ActiveActiveGatewayRequiresTwoIpConfigurations);
//     bgpSettings.asn is 1-4294967295 without Azure's reserved ASNs (400
//     InvalidAsn); bgpSettings.bgpPeeringAddresses[].customBgpIpAddresses
//     lie in 169.254.21.0-169.254.22.255 and name one of the gateway's IP
//     configurations (400 InvalidCustomBgpIpAddress). The default BGP
//     address of IP configuration i is GatewaySubnet's address 4+i;
//     tunnelIpAddresses are the public IP addresses. Deleting a gateway
//     that connections use is 409 InUseVirtualNetworkGatewayCannotBeDeleted;
//     a PUT while the gateway is still Updating is 409
//     AnotherOperationInProgress.
//   - Local network gateways: gatewayIpAddress (an IPv4 address, 400
//     InvalidRequestFormat otherwise), localNetworkAddressSpace, bgpSettings
//     asn and bgpPeeringAddress. Deleting one that a connection uses is 409
//     InUseLocalNetworkGatewayCannotBeDeleted.
//   - Connections: connectionType IPsec only, connectionProtocol IKEv2 or
//     IKEv1, a non-empty sharedKey (400 SharedKeyRequired; GET does not
//     return it, .../sharedkey does), virtualNetworkGateway1 and
//     localNetworkGateway2 existing (400 InvalidResourceReference),
//     enableBgp needs BGP on both gateways (400 BgpNotEnabled);
//     gatewayCustomBgpIpAddresses name IP configurations of the gateway and
//     addresses listed in its customBgpIpAddresses (400
//     InvalidCustomBgpIpAddress). A connection registers one engine tunnel
//     end (cloud "azure", ID "connection/<key>"): LocalIP = the public IP
//     of the IP configuration of its first custom BGP address (IP
//     configuration 0 without one), PeerIP = the local network gateway's
//     gatewayIpAddress, LocalInsideIP = the custom BGP address (or the
//     default BGP address), PeerInsideIP = the local network gateway's
//     bgpPeeringAddress, LocalASN/PeerASN = the gateways' ASNs, PSK =
//     sharedKey; gateway and local network gateway PUTs re-register the
//     ends that use them, and DELETE unregisters. connectionStatus:
//     "Connected" when engine.TunnelStatus is up, "NotConnected" when a
//     peer end answers but does not match (key, ASN, inside addresses),
//     "Connecting" otherwise (provisioning, or no peer yet).
//   - Virtual network peerings: remoteVirtualNetwork must exist (400
//     InvalidResourceReference) and not overlap the local address space
//     (400 VnetAddressSpacesOverlap). peeringState is "Initiated" until the
//     remote network has a peering back, then "Connected" on both sides;
//     when one side is deleted (alone or with its network) the other turns
//     "Disconnected" for good and must be deleted and created again.
//
// Resource group deletion is refused (409 ResourceGroupDeletionBlocked)
// while network resources remain in the group, as for managed clusters;
// the group's network bookkeeping goes with it.
//
// Engine operations, for SetRateLimit and Inject: PUT of a resource ->
// Create<Kind> (also for updates), GET -> Get<Kind>, DELETE ->
// Delete<Kind> (e.g. CreateVirtualNetworkGateway, GetSubnet,
// DeleteConnection); inline subnets of a virtual network PUT ->
// CreateSubnet / DeleteSubnet each; operation status ->
// GetNetworkOperation; a PUT also records CreateNetworkOperation. Lists,
// .../sharedkey and the checks made on the side read the inventory and
// are neither throttled nor faulted. Errors are ARM errors as for the rest
// of the front end; the codes above keep their status when a fault
// carries them (e.g. a *cloud.Error with Code PublicIPCountLimitReached
// is 400 PublicIPCountLimitReached).
//
// Files: network.go (this description, kinds, records), network_store.go
// (engine objects, references), network_serve.go (requests, operations),
// network_vnet.go (virtual networks, subnets, peerings), network_nsg.go
// (security groups), network_vpn.go (public IPs, gateways, local network gateways,
// connections, tunnel ends).

import (
	"strings"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// NetworkDurations are how long Microsoft.Network PUTs take on the engine
// clock.
type NetworkDurations struct {
	// Resource: virtual networks, subnets, peerings, security groups,
	// public IP addresses, local network gateways, connections.
	Resource time.Duration
	// Gateway: virtual network gateways (30-45 minutes on Azure).
	Gateway time.Duration
}

// NetworkDurationsFor derives the Microsoft.Network times from the
// engine's, keeping Azure's proportions: half a pool update for most
// resources, twice a cluster creation for gateways (with
// cloudsim.DefaultDurations: 500 ms and 6 s). A scaled engine
// (GPUFLEET_SIM_TIME_SCALE) scales them too.
func NetworkDurationsFor(d cloudsim.Durations) NetworkDurations {
	return NetworkDurations{Resource: d.PoolUpdate / 2, Gateway: 2 * d.ClusterCreate}
}

// Engine object kinds of Microsoft.Network resources.
const (
	kindVNet       = "VirtualNetwork"
	kindSubnet     = "Subnet"
	kindPeering    = "VirtualNetworkPeering"
	kindNSG        = "NetworkSecurityGroup"
	kindPIP        = "PublicIPAddress"
	kindGateway    = "VirtualNetworkGateway"
	kindLNG        = "LocalNetworkGateway"
	kindConnection = "Connection"
	kindNetOp      = "NetworkOperation"
)

// netKind describes one resource type.
type netKind struct {
	kind string
	seg  string // URL segment
	typ  string // ARM type
	// child: under virtualNetworks/{vnet}.
	child bool
}

var netKinds = []netKind{
	{kindVNet, "virtualNetworks", "Microsoft.Network/virtualNetworks", false},
	{kindSubnet, "subnets", "Microsoft.Network/virtualNetworks/subnets", true},
	{kindPeering, "virtualNetworkPeerings", "Microsoft.Network/virtualNetworks/virtualNetworkPeerings", true},
	{kindNSG, "networkSecurityGroups", "Microsoft.Network/networkSecurityGroups", false},
	{kindPIP, "publicIPAddresses", "Microsoft.Network/publicIPAddresses", false},
	{kindGateway, "virtualNetworkGateways", "Microsoft.Network/virtualNetworkGateways", false},
	{kindLNG, "localNetworkGateways", "Microsoft.Network/localNetworkGateways", false},
	{kindConnection, "connections", "Microsoft.Network/connections", false},
}

func kindBySeg(seg string, child bool) (netKind, bool) {
	for _, k := range netKinds {
		if strings.EqualFold(k.seg, seg) && k.child == child {
			return k, true
		}
	}
	return netKind{}, false
}

func kindInfo(kind string) netKind {
	for _, k := range netKinds {
		if k.kind == kind {
			return k
		}
	}
	return netKind{kind: kind}
}

// netStatus is the HTTP status of the Microsoft.Network error codes (added
// to armStatus, so that faults carrying them keep them).
var netStatus = map[string]int{
	"InvalidCIDRNotation": 400, "NetcfgInvalidSubnet": 400, "NetcfgSubnetRangesOverlap": 400,
	"InvalidResourceReference": 400, "InvalidRequestFormat": 400, "SecurityRuleInvalidPriority": 400,
	"SecurityRuleConflict": 400, "SecurityRuleParameterContainsUnsupportedValue": 400, "SecurityRuleInvalidAddressPrefix": 400,
	"StandardSkuPublicIPAddressesMustBeStatic": 400, "InvalidGatewaySku": 400, "InvalidGatewaySubnet": 400,
	"PublicIPAddressInUse": 400, "ActiveActiveGatewayRequiresTwoIpConfigurations": 400, "InvalidAsn": 400,
	"InvalidCustomBgpIpAddress": 400, "SharedKeyRequired": 400, "BgpNotEnabled": 400, "VnetAddressSpacesOverlap": 400,
	"PublicIPCountLimitReached": 400, "SecurityRuleInvalidPortRange": 400,
	"InUseSubnetCannotBeDeleted": 409, "InUseSubnetCannotBeUpdated": 409, "InUseNetworkSecurityGroupCannotBeDeleted": 409,
	"PublicIPAddressCannotBeDeleted": 409, "InUseVirtualNetworkGatewayCannotBeDeleted": 409,
	"InUseLocalNetworkGatewayCannotBeDeleted": 409, "InvalidResourceLocation": 409, "AnotherOperationInProgress": 409,
}

func init() {
	for code, st := range netStatus {
		armStatus[code] = st
	}
}

// netRecord is the model of a network resource: what the front end keeps
// about it, a row of its kind's table.
type netRecord struct {
	Kind     string            `json:"kind"`
	RG       string            `json:"rg"`             // as created
	VNet     string            `json:"vnet,omitempty"` // parent of subnets and peerings
	Name     string            `json:"name"`
	Location string            `json:"location"`
	Tags     map[string]string `json:"tags,omitempty"`
	GUID     string            `json:"guid"`
	ReadyAt  time.Time         `json:"readyAt"`

	AddressPrefixes []string     `json:"addressPrefixes,omitempty"` // virtual network
	Subnet          *subnetProps `json:"subnet,omitempty"`
	NSG             *nsgProps    `json:"nsg,omitempty"`
	PIP             *pipProps    `json:"pip,omitempty"`
	Gateway         *gwProps     `json:"gateway,omitempty"`
	LNG             *lngProps    `json:"lng,omitempty"`
	Conn            *connProps   `json:"conn,omitempty"`
	Peering         *peerProps   `json:"peering,omitempty"`
}

// netKey is the engine object name of a resource: its resource group and
// names, lower case.
func netKey(rg string, names ...string) string {
	return strings.ToLower(rg + "/" + strings.Join(names, "/"))
}

func (r netRecord) key() string {
	if r.VNet != "" {
		return netKey(r.RG, r.VNet, r.Name)
	}
	return netKey(r.RG, r.Name)
}

// id is the resource's ARM ID.
func (r netRecord) id(sub string) string {
	k := kindInfo(r.Kind)
	base := "/subscriptions/" + sub + "/resourceGroups/" + r.RG + "/providers/Microsoft.Network/"
	if k.child {
		return base + "virtualNetworks/" + r.VNet + "/" + k.seg + "/" + r.Name
	}
	return base + k.seg + "/" + r.Name
}

func (r netRecord) state(now time.Time) string {
	if now.Before(r.ReadyAt) {
		return "Updating"
	}
	return "Succeeded"
}

func (r netRecord) etag() string {
	return `W/"` + r.GUID[:24] + r.ReadyAt.UTC().Format("150405.000000") + `"`
}

func (s *server) netDuration(kind string) time.Duration {
	d := s.opts.Network
	if d == (NetworkDurations{}) {
		d = NetworkDurationsFor(s.e.Durations())
	}
	if kind == kindGateway {
		return d.Gateway
	}
	return d.Resource
}

func netNotFound(kind, rg, name string) error {
	return newErr(404, "ResourceNotFound",
		"The Resource '%s/%s' under resource group '%s' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix", kindInfo(kind).typ, name, rg)
}
