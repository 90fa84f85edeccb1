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
// Engine state: every resource is an engine object whose kind is the
// resource's (VirtualNetwork, Subnet, VirtualNetworkPeering,
// NetworkSecurityGroup, PublicIPAddress, VirtualNetworkGateway,
// LocalNetworkGateway, Connection), named by its lower-cased key
// "rg/name" (children "rg/vnet/name"), with attrs rg (lower case) and
// location: these are what leak checks see. What Azure reports about a
// resource is kept in a bookkeeping object of kind "<Kind>Meta" with the
// same name (attrs rg and json). Network requests are serialised.
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
// operations are recorded in bookkeeping objects of kind
// "NetworkOperation" (attrs rg, kind, key, location, start), which go
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

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
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
	metaSuffix     = "Meta"
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

// netRecord is what the front end keeps about a network resource (object
// kind "<Kind>Meta").
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

// armRef is a parsed Microsoft.Network resource ID.
type armRef struct {
	RG    string
	Types []string // e.g. virtualNetworks, subnets
	Names []string
}

// parseRef parses /subscriptions/{s}/resourceGroups/{rg}/providers/
// Microsoft.Network/{type}/{name}[/{type}/{name}...].
func parseRef(id string) (armRef, bool) {
	p := strings.Split(strings.Trim(id, "/"), "/")
	if len(p) < 8 || len(p)%2 != 0 || !strings.EqualFold(p[0], "subscriptions") || !strings.EqualFold(p[2], "resourceGroups") ||
		!strings.EqualFold(p[4], "providers") || !strings.EqualFold(p[5], "Microsoft.Network") {
		return armRef{}, false
	}
	r := armRef{RG: p[3]}
	for i := 6; i < len(p); i += 2 {
		if p[i+1] == "" {
			return armRef{}, false
		}
		r.Types = append(r.Types, strings.ToLower(p[i]))
		r.Names = append(r.Names, p[i+1])
	}
	return r, true
}

// refTo returns the key of a reference to a resource of the given kind
// (and, for gateway IP configurations, the configuration name).
func refTo(id, kind string) (key, sub string, ok bool) {
	r, ok := parseRef(id)
	if !ok {
		return "", "", false
	}
	k := kindInfo(kind)
	switch {
	case k.child && len(r.Types) == 2 && r.Types[0] == "virtualnetworks" && r.Types[1] == strings.ToLower(k.seg):
		return netKey(r.RG, r.Names...), "", true
	case !k.child && len(r.Types) == 1 && r.Types[0] == strings.ToLower(k.seg):
		return netKey(r.RG, r.Names[0]), "", true
	case kind == kindGateway && len(r.Types) == 2 && r.Types[0] == "virtualnetworkgateways" && r.Types[1] == "ipconfigurations":
		return netKey(r.RG, r.Names[0]), r.Names[1], true
	}
	return "", "", false
}

// netWorld is every network record, read once per request.
type netWorld struct {
	sub  string                          // the request's subscription, for IDs
	recs map[string]map[string]netRecord // kind -> key -> record
}

func (s *server) netWorld(sub string) *netWorld {
	w := &netWorld{sub: sub, recs: map[string]map[string]netRecord{}}
	for _, o := range s.e.Inventory().Objects {
		if o.Cloud != cloudName || !strings.HasSuffix(o.Kind, metaSuffix) {
			continue
		}
		var r netRecord
		if json.Unmarshal([]byte(o.Attrs["json"]), &r) != nil || r.Kind+metaSuffix != o.Kind {
			continue
		}
		if w.recs[r.Kind] == nil {
			w.recs[r.Kind] = map[string]netRecord{}
		}
		w.recs[r.Kind][o.Name] = r
	}
	return w
}

func (w *netWorld) get(kind, key string) (netRecord, bool) {
	r, ok := w.recs[kind][key]
	return r, ok
}

// ref resolves a resource ID to a record of the given kind.
func (w *netWorld) ref(id, kind string) (netRecord, bool) {
	key, _, ok := refTo(id, kind)
	if !ok {
		return netRecord{}, false
	}
	return w.get(kind, key)
}

// all returns the records of a kind, sorted by key.
func (w *netWorld) all(kind string) []netRecord {
	keys := make([]string, 0, len(w.recs[kind]))
	for k := range w.recs[kind] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]netRecord, 0, len(keys))
	for _, k := range keys {
		out = append(out, w.recs[kind][k])
	}
	return out
}

// children returns the subnets or peerings of a virtual network.
func (w *netWorld) children(kind string, vnet netRecord) []netRecord {
	var out []netRecord
	for _, r := range w.all(kind) {
		if netKey(r.RG, r.VNet) == vnet.key() {
			out = append(out, r)
		}
	}
	return out
}

// saveNet stores a record (and keeps the world snapshot current).
func (s *server) saveNet(w *netWorld, r netRecord) {
	s.putMeta(r.Kind+metaSuffix, r.key(), strings.ToLower(r.RG), r)
	if w.recs[r.Kind] == nil {
		w.recs[r.Kind] = map[string]netRecord{}
	}
	w.recs[r.Kind][r.key()] = r
}

// createNet creates (or finds) the engine object of a resource: the call
// that faults and rate limits apply to (Create<Kind>).
func (s *server) createNet(r netRecord) error {
	attrs := map[string]string{"rg": strings.ToLower(r.RG), "location": r.Location}
	_, err := s.e.PutObject(cloudName, r.Kind, r.key(), attrs)
	return err
}

// dropNet removes a resource with its record and operation records.
func (s *server) dropNet(w *netWorld, r netRecord) error {
	if err := s.e.DeleteObject(cloudName, r.Kind, r.key()); err != nil && !cloud.IsNotFound(err) {
		return err
	}
	_ = s.e.DeleteObject(cloudName, r.Kind+metaSuffix, r.key())
	delete(w.recs[r.Kind], r.key())
	for _, o := range s.e.Inventory().Objects {
		if o.Cloud == cloudName && o.Kind == kindNetOp && o.Attrs["kind"] == r.Kind && o.Attrs["key"] == r.key() {
			_ = s.e.DeleteObject(cloudName, o.Kind, o.Name)
		}
	}
	return nil
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

// isNetworkPath reports a Microsoft.Network path (see serveNetwork).
func isNetworkPath(q *req) bool {
	return (q.seg(2, "providers") && q.seg(3, "Microsoft.Network")) ||
		(q.seg(2, "resourcegroups") && q.seg(4, "providers") && q.seg(5, "Microsoft.Network"))
}

// serveNetwork dispatches Microsoft.Network requests. They are
// serialised: a record is replaced by a delete and a put, which a
// concurrent read must not see half done.
func (s *server) serveNetwork(q *req) (reply, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, m, segs := len(q.segs), q.r.Method, q.segs
	if q.seg(2, "providers") {
		switch {
		case n == 8 && q.seg(4, "locations") && m == http.MethodGet && (q.seg(6, "operations") || q.seg(6, "operationResults")):
			return s.netOperation(q, segs[5], segs[7], q.seg(6, "operationResults"))
		case n == 5 && m == http.MethodGet:
			if k, ok := kindBySeg(segs[4], false); ok {
				return s.listNet(q, k, "", "")
			}
		}
		return reply{}, newErr(404, "NotFound", "cloudsim: no route for %s %s", m, q.r.URL.Path)
	}
	rg := segs[3]
	if _, _, ok := s.resourceGroup(rg); !ok {
		return reply{}, rgNotFound(rg)
	}
	switch {
	case n == 7 && m == http.MethodGet:
		if k, ok := kindBySeg(segs[6], false); ok {
			return s.listNet(q, k, rg, "")
		}
	case n == 8:
		if k, ok := kindBySeg(segs[6], false); ok {
			return s.serveNetResource(q, k, rg, "", segs[7])
		}
	case n == 9 && q.seg(6, "virtualNetworks") && m == http.MethodGet:
		if k, ok := kindBySeg(segs[8], true); ok {
			return s.listNet(q, k, rg, segs[7])
		}
	case n == 9 && q.seg(6, "connections") && q.seg(8, "sharedkey") && m == http.MethodGet:
		return s.sharedKey(q, rg, segs[7])
	case n == 10 && q.seg(6, "virtualNetworks"):
		if k, ok := kindBySeg(segs[8], true); ok {
			return s.serveNetResource(q, k, rg, segs[7], segs[9])
		}
	}
	return reply{}, newErr(404, "NotFound", "cloudsim: no route for %s %s", m, q.r.URL.Path)
}

// serveNetResource answers PUT, GET and DELETE of one resource.
func (s *server) serveNetResource(q *req, k netKind, rg, vnet, name string) (reply, error) {
	key := netKey(rg, name)
	if vnet != "" {
		key = netKey(rg, vnet, name)
	}
	switch q.r.Method {
	case http.MethodGet:
		if _, err := s.e.GetObject(cloudName, k.kind, key); err != nil {
			if cloud.IsNotFound(err) {
				return reply{}, netNotFound(k.kind, rg, name)
			}
			return reply{}, err
		}
		w := s.netWorld(q.sub)
		r, ok := w.get(k.kind, key)
		if !ok {
			return reply{}, netNotFound(k.kind, rg, name)
		}
		return reply{status: http.StatusOK, body: s.renderNet(q, w, r)}, nil
	case http.MethodPut:
		return s.putNet(q, k, rg, vnet, name)
	case http.MethodDelete:
		w := s.netWorld(q.sub)
		r, ok := w.get(k.kind, key)
		if !ok {
			return reply{status: http.StatusNoContent}, nil
		}
		if err := s.deleteNet(w, r); err != nil {
			return reply{}, err
		}
		id := netDeleteOpID(r)
		return reply{status: http.StatusAccepted, header: netAsyncHeaders(q, r.Location, id, true)}, nil
	}
	return reply{}, newErr(405, "MethodNotAllowed", "cloudsim: method %s is not supported on %s", q.r.Method, k.typ)
}

// putNet parses a PUT, validates it against the world, stores the
// resource and starts its operation.
func (s *server) putNet(q *req, k netKind, rg, vnet, name string) (reply, error) {
	rgName, _, _ := s.resourceGroup(rg)
	w := s.netWorld(q.sub)
	r := netRecord{Kind: k.kind, RG: rgName, VNet: vnet, Name: name}
	var parent netRecord
	if k.child {
		p, ok := w.get(kindVNet, netKey(rg, vnet))
		if !ok {
			return reply{}, netNotFound(kindVNet, rg, vnet)
		}
		parent = p
		r.RG, r.VNet, r.Location = p.RG, p.Name, p.Location
	}
	old, existed := w.get(k.kind, r.key())
	if existed {
		r.Name, r.GUID = old.Name, old.GUID
	} else {
		r.GUID = newID()
	}
	var body netBody
	if err := decode(q.r, &body); err != nil {
		return reply{}, err
	}
	if !k.child {
		if body.Location == "" {
			return reply{}, newErr(400, "LocationRequired", "The location property is required for this definition.")
		}
		r.Location = normLocation(body.Location)
		if existed && old.Location != r.Location {
			return reply{}, newErr(409, "InvalidResourceLocation",
				"The resource '%s' already exists in location '%s' in resource group '%s'. A resource with the same name cannot be created in location '%s'. Please select a new resource name.",
				name, old.Location, rgName, r.Location)
		}
		r.Tags = body.Tags
	}
	if existed && k.kind == kindGateway && s.now().Before(old.ReadyAt) {
		return reply{}, newErr(409, "AnotherOperationInProgress",
			"Another operation on this or dependent resource is in progress: virtual network gateway %s is still being updated; retry when its provisioningState is Succeeded.", old.Name)
	}
	var after func() error
	var err error
	switch k.kind {
	case kindVNet:
		after, err = s.putVNet(q, w, &r, old, existed, body.Properties)
	case kindSubnet:
		err = s.putSubnet(w, &r, parent, old, existed, body.Properties)
	case kindPeering:
		err = s.putPeering(w, &r, parent, body.Properties)
	case kindNSG:
		err = s.putNSG(w, &r, body.Properties)
	case kindPIP:
		err = s.putPIP(w, &r, old, existed, body)
	case kindGateway:
		err = s.putGateway(w, &r, body.Properties)
	case kindLNG:
		err = s.putLNG(w, &r, body.Properties)
	case kindConnection:
		err = s.putConnection(w, &r, body.Properties)
	}
	if err != nil {
		return reply{}, err
	}
	if err := s.createNet(r); err != nil {
		return reply{}, err
	}
	if r.PIP != nil && r.PIP.Address == "" {
		r.PIP.Address = s.e.AllocatePublicIP()
	}
	r.ReadyAt = s.now().Add(s.netDuration(k.kind))
	s.saveNet(w, r)
	if after != nil {
		if err := after(); err != nil {
			return reply{}, err
		}
	}
	s.refreshTunnels(w)
	id := newID()
	if _, err := s.e.PutObject(cloudName, kindNetOp, id, map[string]string{
		"rg": strings.ToLower(r.RG), "kind": r.Kind, "key": r.key(), "location": r.Location, "start": s.now().Format(time.RFC3339Nano),
	}); err != nil {
		return reply{}, err
	}
	status := http.StatusCreated
	if existed {
		status = http.StatusOK
	}
	return reply{status: status, body: s.renderNet(q, w, r), header: netAsyncHeaders(q, r.Location, id, false)}, nil
}

// deleteNet deletes a resource after the in-use checks.
func (s *server) deleteNet(w *netWorld, r netRecord) error {
	var err error
	switch r.Kind {
	case kindVNet:
		err = s.vnetDeletable(w, r)
	case kindSubnet:
		err = s.subnetDeletable(w, r)
	case kindNSG:
		err = nsgDeletable(w, r)
	case kindPIP:
		err = pipDeletable(w, r)
	case kindGateway:
		err = gatewayDeletable(w, r)
	case kindLNG:
		err = lngDeletable(w, r)
	}
	if err != nil {
		return err
	}
	if err := s.dropNet(w, r); err != nil {
		return err
	}
	switch r.Kind {
	case kindVNet:
		for _, kind := range []string{kindSubnet, kindPeering} {
			for _, c := range w.children(kind, r) {
				if kind == kindPeering {
					s.disconnectRemote(w, c)
				}
				_ = s.dropNet(w, c)
			}
		}
	case kindPeering:
		s.disconnectRemote(w, r)
	case kindConnection:
		s.e.UnregisterTunnelEnd(cloudName, tunnelID(r))
	}
	return nil
}

// netBody is a PUT body; properties are read per kind.
type netBody struct {
	Location string            `json:"location"`
	Tags     map[string]string `json:"tags"`
	SKU      *struct {
		Name string `json:"name"`
		Tier string `json:"tier"`
	} `json:"sku"`
	Zones      []string        `json:"zones"`
	Properties json.RawMessage `json:"properties"`
}

// props decodes a PUT body's properties.
func props(raw json.RawMessage, v any) error {
	if len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return newErr(400, "InvalidRequestFormat", "Cannot parse the request: %v", err)
	}
	return nil
}

func listBody(items []any) map[string]any {
	if items == nil {
		items = []any{}
	}
	return map[string]any{"value": items}
}

// listNet lists a kind in a resource group (or the subscription), or the
// children of a virtual network.
func (s *server) listNet(q *req, k netKind, rg, vnet string) (reply, error) {
	w := s.netWorld(q.sub)
	var items []any
	for _, r := range w.all(k.kind) {
		switch {
		case rg != "" && !strings.EqualFold(r.RG, rg):
			continue
		case vnet != "" && !strings.EqualFold(r.VNet, vnet):
			continue
		}
		items = append(items, s.renderNet(q, w, r))
	}
	if vnet != "" {
		if _, ok := w.get(kindVNet, netKey(rg, vnet)); !ok {
			return reply{}, netNotFound(kindVNet, rg, vnet)
		}
	}
	return reply{status: http.StatusOK, body: listBody(items)}, nil
}

// renderNet is a resource as ARM reports it.
func (s *server) renderNet(q *req, w *netWorld, r netRecord) map[string]any {
	var p map[string]any
	switch r.Kind {
	case kindVNet:
		p = s.vnetProps(q, w, r)
	case kindSubnet:
		p = s.subnetJSONProps(q, w, r)
	case kindPeering:
		p = s.peeringJSONProps(q, w, r)
	case kindNSG:
		p = s.nsgJSONProps(q, w, r)
	case kindPIP:
		p = s.pipJSONProps(q, w, r)
	case kindGateway:
		p = s.gatewayJSONProps(q, w, r)
	case kindLNG:
		p = s.lngJSONProps(r)
	case kindConnection:
		p = s.connJSONProps(q, w, r)
	}
	if p == nil {
		p = map[string]any{}
	}
	p["provisioningState"] = r.state(s.now())
	p["resourceGuid"] = r.GUID
	out := map[string]any{
		"id": r.id(q.sub), "name": r.Name, "type": kindInfo(r.Kind).typ, "etag": r.etag(), "properties": p,
	}
	if !kindInfo(r.Kind).child {
		out["location"] = r.Location
		tags := r.Tags
		if tags == nil {
			tags = map[string]string{}
		}
		out["tags"] = tags
	}
	if r.PIP != nil {
		out["sku"] = map[string]string{"name": r.PIP.SKU, "tier": r.PIP.Tier}
		if len(r.PIP.Zones) > 0 {
			out["zones"] = r.PIP.Zones
		}
	}
	return out
}

// netAsyncHeaders are the polling headers of a network operation.
func netAsyncHeaders(q *req, loc, id string, withLocation bool) map[string]string {
	base := q.base + "/subscriptions/" + q.sub + "/providers/Microsoft.Network/locations/" + loc
	h := map[string]string{"Azure-AsyncOperation": base + "/operations/" + id + "?api-version=" + q.apiVersion}
	if withLocation {
		h["Location"] = base + "/operationResults/" + id + "?api-version=" + q.apiVersion
	}
	return h
}

const netDeletePrefix = "netdel."

// netDeleteOpID is the ID of a finished delete: it carries its target.
func netDeleteOpID(r netRecord) string {
	return netDeletePrefix + base64.RawURLEncoding.EncodeToString([]byte(r.Kind+"|"+r.key()))
}

// netOperation answers the Azure-AsyncOperation URL (status document) and,
// with asResult, the Location URL (202 while running, 204 when done).
func (s *server) netOperation(q *req, loc, id string, asResult bool) (reply, error) {
	status, start := "Succeeded", s.now()
	var opErr *opError
	if rest, ok := strings.CutPrefix(id, netDeletePrefix); ok {
		if _, err := base64.RawURLEncoding.DecodeString(rest); err != nil {
			return reply{}, opNotFound(id)
		}
	} else {
		o, err := s.e.GetObject(cloudName, kindNetOp, id)
		if err != nil {
			if cloud.IsNotFound(err) {
				return reply{}, opNotFound(id)
			}
			return reply{}, err
		}
		start, _ = time.Parse(time.RFC3339Nano, o.Attrs["start"])
		r, ok := s.netWorld(q.sub).get(o.Attrs["kind"], o.Attrs["key"])
		switch {
		case !ok:
			status, opErr = "Canceled", &opError{Code: "Canceled", Message: "The resource was deleted while the operation was in progress."}
		case s.now().Before(r.ReadyAt):
			status = "InProgress"
		}
	}
	if asResult {
		switch status {
		case "InProgress":
			return reply{status: http.StatusAccepted, header: map[string]string{"Location": q.base + q.r.URL.RequestURI()}}, nil
		case "Succeeded":
			return reply{status: http.StatusNoContent}, nil
		}
		return reply{}, newErr(400, opErr.Code, "%s", opErr.Message)
	}
	body := map[string]any{
		"id":        "/subscriptions/" + q.sub + "/providers/Microsoft.Network/locations/" + loc + "/operations/" + id,
		"name":      id,
		"status":    status,
		"startTime": start.UTC().Format(time.RFC3339Nano),
	}
	if status != "InProgress" {
		body["endTime"] = s.now().Format(time.RFC3339Nano)
	}
	if opErr != nil {
		body["error"] = opErr
	}
	return reply{status: http.StatusOK, body: body}, nil
}

// networkGroupDeletion is called with s.mu held before a resource group
// is deleted: it refuses while network resources remain in the group
// (409 ResourceGroupDeletionBlocked), and otherwise removes the group's
// network bookkeeping.
func (s *server) networkGroupDeletion(key, name string) error {
	var left []string
	var books []cloudsim.Object
	for _, o := range s.e.Inventory().Objects {
		if o.Cloud != cloudName || o.Attrs["rg"] != key {
			continue
		}
		switch {
		case o.Kind == kindNetOp || (strings.HasSuffix(o.Kind, metaSuffix) && isNetKind(strings.TrimSuffix(o.Kind, metaSuffix))):
			books = append(books, o)
		case isNetKind(o.Kind):
			left = append(left, kindInfo(o.Kind).seg+"/"+o.Name[len(key)+1:])
		}
	}
	if len(left) > 0 {
		slices.Sort(left)
		return newErr(409, "ResourceGroupDeletionBlocked",
			"Deletion of resource group '%s' was refused: it still contains network resources (%s); cloudsim deletes a resource group only once its network resources are deleted.",
			name, strings.Join(left, ", "))
	}
	for _, o := range books {
		_ = s.e.DeleteObject(cloudName, o.Kind, o.Name)
	}
	return nil
}

func isNetKind(kind string) bool {
	for _, k := range netKinds {
		if k.kind == kind {
			return true
		}
	}
	return false
}

// toMap turns a struct into JSON's map form.
func toMap(v any) map[string]any {
	data, _ := json.Marshal(v)
	m := map[string]any{}
	_ = json.Unmarshal(data, &m)
	return m
}

func subResource(id string) map[string]string { return map[string]string{"id": id} }
