package awsfront

// EC2 networking: VPCs, subnets, security groups, route tables, virtual
// private gateways, customer gateways, site-to-site VPN connections and VPC
// peering connections, over the same EC2 query protocol as launch
// templates (ec2.go). Only what gpufleet's cross-cloud mesh needs is
// simulated, but that part behaves like EC2: AWS-shaped IDs, EC2 error
// codes and validations, states that change on the engine's clock, and the
// Filter.N.Name / Filter.N.Value.M filters (with * and ? wildcards).
//
// Engine objects (cloud "aws"). Every resource is one object holding its
// creation-time settings, which never change afterwards; what changes is
// kept in child objects that come and go, so that no change is a delete
// and re-create of the resource. Regional objects are named region/ID;
// VPC peering connections, which both regions see, global/ID.
//
//   - "Vpc" (vpc-…): cidr, main_rtb. CreateVpc also creates its main
//     route table, "RouteTable" (rtb-…, main "true"), deleted with it.
//   - "Subnet" (subnet-…), "SecurityGroup" (sg-…), "VpnGateway" (vgw-…),
//     "CustomerGateway" (cgw-…), "VpnConnection" (vpn-…; tunnel outside
//     addresses, inside CIDRs and keys), "VpcPeeringConnection" (pcx-…).
//   - Children, named after their parent's object name: "SecurityGroupRule"
//     (sgr-…, one per ingress protocol/port range/CIDR), "Route" (one per
//     destination of a route table), "RoutePropagation" (route table ×
//     virtual private gateway), "VpcAttachment" (a virtual private
//     gateway's attachment), "VpcPeeringConnectionAcceptance" (an accepted
//     peering), "Tag" (a tag set by CreateTags; tags given at creation are
//     attrs "tag:KEY" of the resource). Children go with their parent.
//
// IDs are the prefix and 17 random hex digits. Creation times are kept as
// attrs, and states are derived from them on the engine's clock
// (server.times): VPCs, subnets and customer gateways are available at
// once; a virtual private gateway is pending for times().Gateway, an
// attachment attaching for times().Attachment, a VPN connection
// pending for times().Connection; a peering connection is
// pending-acceptance until AcceptVpcPeeringConnection (in the accepter's
// region) makes it active, or expired after 7 days. Deleted resources
// vanish at once (a Describe by ID answers Invalid…ID.NotFound rather than
// state deleted); so do detached attachments.
//
// EC2 rules that are enforced: VPC CIDRs /16–/28 (InvalidVpc.Range),
// subnets inside their VPC, /16–/28 (InvalidSubnet.Range) and not
// overlapping (InvalidSubnet.Conflict); DeleteVpc with subnets, security
// groups, an attached virtual private gateway or a live peering is
// DependencyViolation; security group names unique per VPC
// (InvalidGroup.Duplicate), rules unique (InvalidPermission.Duplicate;
// revoking none of the given rules is InvalidPermission.NotFound, some of
// them reports the rest in unknownIpPermissionSet); routes unique per
// destination (RouteAlreadyExists), never inside the VPC's CIDR, to a
// gateway attached to the VPC (Gateway.NotAttached) or a peering of the
// VPC; AttachVpnGateway on a gateway that is not available, or attached,
// is IncorrectState, on a VPC that has a gateway
// VpnGatewayAttachmentLimitExceeded; DeleteVpnGateway while attached or
// with VPN connections, DeleteCustomerGateway with VPN connections, are
// IncorrectState; AcceptVpcPeeringConnection outside pending-acceptance is
// InvalidStateTransition, from the requester's region
// OperationNotPermitted; a peering of overlapping CIDRs is created failed.
// CreateVpnConnection takes up to two Options.TunnelOptions: each
// TunnelInsideCidr must be a /30 inside 169.254.0.0/16, none of AWS's
// reserved 169.254.0.0/30–169.254.5.0/30 and 169.254.169.252/30, unused by
// the gateway's other connections; each PreSharedKey 8–64 letters, digits,
// '.' and '_', not starting with '0' (InvalidParameterValue otherwise).
// Tunnels without options get a free inside CIDR and a random key. Each
// tunnel gets an outside address (cloudsim AllocatePublicIP) and is
// registered as a cloudsim TunnelEnd "vpn-…/1", "vpn-…/2": AWS's inside
// address is the /30's first, the customer's its second, local ASN the
// gateway's AmazonSideAsn, peer ASN and address the customer gateway's.
// vgwTelemetry reports UP when the connection is available and the engine
// sees a mirroring end (TunnelStatus), DOWN with its detail otherwise;
// DeleteVpnConnection unregisters the ends. ModifyVpnTunnelOptions changes
// one tunnel's inside CIDR and key (the same checks, the tunnel named by
// its outside address, which stays; the connection available, else
// IncorrectState), kept as a child "VpnTunnelModification" <connection>/<n>;
// the tunnel is DOWN for times().Connection while AWS replaces its
// endpoint ("Site-to-Site VPN tunnel options",
// https://docs.aws.amazon.com/vpn/latest/s2svpn/VPNTunnels.html: inside
// CIDRs unique across the connections of a virtual private gateway; one
// tunnel per request). Per region at most 5 VPCs
// (VpcLimitExceeded), 5 virtual private gateways (VpnGatewayLimitExceeded),
// 50 customer gateways and 50 VPN connections (…LimitExceeded); 60 rules
// per security group and 50 routes per route table. Not simulated: default
// security groups and network ACLs, IPv6, propagated (BGP) routes, the
// customer gateway configuration document, EC2's reuse of an identical
// customer gateway, cross-account peering. DescribeVpcs and
// DescribeVpcPeeringConnections page with MaxResults and NextToken
// (paging.go); the other Describes have no paging in the API.
//
// Engine operations, for SetRateLimit and Inject: creates are
// Create<Kind> (CreateVpc, CreateSubnet, CreateSecurityGroup,
// CreateVpnGateway, CreateCustomerGateway, CreateVpnConnection,
// CreateVpcPeeringConnection, CreateRoute, and CreateRouteTable after
// CreateVpc); deletes Delete<Kind>; every ID a request names is first a
// Get<Kind> (GetVpc, GetVpnGateway, …), and a DescribeX without IDs is one
// Get<Kind>. AuthorizeSecurityGroupIngress / RevokeSecurityGroupIngress ->
// GetSecurityGroup, then Create/DeleteSecurityGroupRule per rule;
// EnableVgwRoutePropagation -> CreateRoutePropagation; AttachVpnGateway /
// DetachVpnGateway -> Create/DeleteVpcAttachment;
// AcceptVpcPeeringConnection -> CreateVpcPeeringConnectionAcceptance;
// CreateTags -> CreateTag (and DeleteTag when a value changes);
// ModifyVpnTunnelOptions -> CreateVpnTunnelModification (and
// DeleteVpnTunnelModification when the tunnel was modified before). A child
// deleted with its parent (rules, routes, tags, the main route table) that
// fails to go is left behind: only an injected fault or rate limit on its
// own Delete<Kind> does that.

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// networkTimes are how long network objects take to settle, on the
// engine's clock.
type networkTimes struct {
	Gateway, Attachment, Connection time.Duration
}

// times are the engine's PoolCreate for gateways and connections and
// PoolUpdate for attachments, so that a scaled engine
// (GPUFLEET_SIM_TIME_SCALE) scales them too.
func (s *server) times() networkTimes {
	d := s.e.Durations()
	return networkTimes{Gateway: d.PoolCreate, Attachment: d.PoolUpdate, Connection: d.PoolCreate}
}

// peeringExpiry is how long a peering request waits for its acceptance.
const peeringExpiry = 7 * 24 * time.Hour

// Quotas per region (EC2's defaults).
const (
	maxVpcs             = 5
	maxVpnGateways      = 5
	maxCustomerGateways = 50
	maxVpnConnections   = 50
	maxRulesPerGroup    = 60
	maxRoutesPerTable   = 50
)

// netMu serializes the network actions, whose checks and changes span
// several engine calls.
var netMu sync.Mutex

// Engine kinds.
const (
	kindVpc        = "Vpc"
	kindSubnet     = "Subnet"
	kindGroup      = "SecurityGroup"
	kindRule       = "SecurityGroupRule"
	kindRouteTable = "RouteTable"
	kindRoute      = "Route"
	kindPropagate  = "RoutePropagation"
	kindVgw        = "VpnGateway"
	kindAttachment = "VpcAttachment"
	kindCgw        = "CustomerGateway"
	kindVpn        = "VpnConnection"
	kindPeering    = "VpcPeeringConnection"
	kindAccept     = "VpcPeeringConnectionAcceptance"
	kindTag        = "Tag"
	kindTunnelMod  = "VpnTunnelModification"
)

// resource describes a kind of EC2 resource that has an ID.
type resource struct {
	kind, prefix string
	// noun names it in NotFound messages ("The vpc ID 'vpc-1' does not exist").
	noun string
	// notFound and malformed are EC2's error codes for an unknown ID and
	// an ID of the wrong shape.
	notFound, malformed string
	// tagType is the TagSpecification ResourceType.
	tagType string
}

var (
	resVpc        = resource{kindVpc, "vpc", "vpc ID", "InvalidVpcID.NotFound", "InvalidVpcID.Malformed", "vpc"}
	resSubnet     = resource{kindSubnet, "subnet", "subnet ID", "InvalidSubnetID.NotFound", "InvalidSubnetID.Malformed", "subnet"}
	resGroup      = resource{kindGroup, "sg", "security group", "InvalidGroup.NotFound", "InvalidGroupId.Malformed", "security-group"}
	resRouteTable = resource{kindRouteTable, "rtb", "routeTable ID", "InvalidRouteTableID.NotFound", "InvalidRouteTableId.Malformed", "route-table"}
	resVgw        = resource{kindVgw, "vgw", "vpnGateway ID", "InvalidVpnGatewayID.NotFound", "InvalidVpnGatewayID.Malformed", "vpn-gateway"}
	resCgw        = resource{kindCgw, "cgw", "customerGateway ID", "InvalidCustomerGatewayID.NotFound", "InvalidCustomerGatewayId.Malformed", "customer-gateway"}
	resVpn        = resource{kindVpn, "vpn", "vpnConnection ID", "InvalidVpnConnectionID.NotFound", "InvalidVpnConnectionID.Malformed", "vpn-connection"}
	resPeering    = resource{kindPeering, "pcx", "vpcPeeringConnection ID", "InvalidVpcPeeringConnectionID.NotFound", "InvalidVpcPeeringConnectionId.Malformed", "vpc-peering-connection"}

	resourcesByPrefix = map[string]resource{}
)

type networkHandler func(s *server, r *http.Request, region, reqID string) (any, error)

// networkActions are the EC2 actions served here; serveEC2 routes to them.
var networkActions = map[string]networkHandler{
	"CreateVpc":                     (*server).createVpc,
	"DescribeVpcs":                  (*server).describeVpcs,
	"DeleteVpc":                     (*server).deleteVpc,
	"CreateSubnet":                  (*server).createSubnet,
	"DescribeSubnets":               (*server).describeSubnets,
	"DeleteSubnet":                  (*server).deleteSubnet,
	"CreateSecurityGroup":           (*server).createSecurityGroup,
	"DescribeSecurityGroups":        (*server).describeSecurityGroups,
	"AuthorizeSecurityGroupIngress": (*server).authorizeIngress,
	"RevokeSecurityGroupIngress":    (*server).revokeIngress,
	"DeleteSecurityGroup":           (*server).deleteSecurityGroup,
	"DescribeRouteTables":           (*server).describeRouteTables,
	"CreateRoute":                   (*server).createRoute,
	"DeleteRoute":                   (*server).deleteRoute,
	"EnableVgwRoutePropagation":     (*server).enableVgwRoutePropagation,
	"CreateVpnGateway":              (*server).createVpnGateway,
	"AttachVpnGateway":              (*server).attachVpnGateway,
	"DetachVpnGateway":              (*server).detachVpnGateway,
	"DescribeVpnGateways":           (*server).describeVpnGateways,
	"DeleteVpnGateway":              (*server).deleteVpnGateway,
	"CreateCustomerGateway":         (*server).createCustomerGateway,
	"DescribeCustomerGateways":      (*server).describeCustomerGateways,
	"DeleteCustomerGateway":         (*server).deleteCustomerGateway,
	"CreateVpnConnection":           (*server).createVpnConnection,
	"DescribeVpnConnections":        (*server).describeVpnConnections,
	"DeleteVpnConnection":           (*server).deleteVpnConnection,
	"ModifyVpnTunnelOptions":        (*server).modifyVpnTunnelOptions,
	"CreateVpcPeeringConnection":    (*server).createPeering,
	"AcceptVpcPeeringConnection":    (*server).acceptPeering,
	"DescribeVpcPeeringConnections": (*server).describePeerings,
	"DeleteVpcPeeringConnection":    (*server).deletePeering,
	"CreateTags":                    (*server).createTags,
}

func init() {
	for a := range networkActions {
		ec2Actions[a] = true
	}
	for _, r := range []resource{resVpc, resSubnet, resGroup, resRouteTable, resVgw, resCgw, resVpn, resPeering} {
		resourcesByPrefix[r.prefix] = r
	}
}

// serveNetwork runs a network action: DryRun requests stop at
// DryRunOperation, the others run one at a time.
func (s *server) serveNetwork(h networkHandler, r *http.Request, region, reqID string) (any, error) {
	if r.Form.Get("DryRun") == "true" {
		return nil, &ec2Err{412, "DryRunOperation", "Request would have succeeded, but DryRun flag is set."}
	}
	netMu.Lock()
	defer netMu.Unlock()
	return h(s, r, region, reqID)
}

// ---- XML replies ----

type xTag struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

type xCidrAssociation struct {
	AssociationID string `xml:"associationId"`
	CidrBlock     string `xml:"cidrBlock"`
	State         string `xml:"cidrBlockState>state"`
}

type xVpc struct {
	VpcID           string             `xml:"vpcId"`
	OwnerID         string             `xml:"ownerId"`
	State           string             `xml:"state"`
	CidrBlock       string             `xml:"cidrBlock"`
	Associations    []xCidrAssociation `xml:"cidrBlockAssociationSet>item"`
	DhcpOptionsID   string             `xml:"dhcpOptionsId"`
	InstanceTenancy string             `xml:"instanceTenancy"`
	IsDefault       bool               `xml:"isDefault"`
	Tags            []xTag             `xml:"tagSet>item"`
}

type xSubnet struct {
	SubnetID           string `xml:"subnetId"`
	SubnetArn          string `xml:"subnetArn"`
	VpcID              string `xml:"vpcId"`
	OwnerID            string `xml:"ownerId"`
	State              string `xml:"state"`
	CidrBlock          string `xml:"cidrBlock"`
	AvailabilityZone   string `xml:"availabilityZone"`
	AvailabilityZoneID string `xml:"availabilityZoneId"`
	AvailableAddresses int    `xml:"availableIpAddressCount"`
	DefaultForAz       bool   `xml:"defaultForAz"`
	MapPublicIP        bool   `xml:"mapPublicIpOnLaunch"`
	Tags               []xTag `xml:"tagSet>item"`
}

type xIPRange struct {
	CidrIP      string `xml:"cidrIp"`
	Description string `xml:"description,omitempty"`
}

type xIPPermission struct {
	IPProtocol string     `xml:"ipProtocol"`
	FromPort   *int       `xml:"fromPort,omitempty"`
	ToPort     *int       `xml:"toPort,omitempty"`
	IPRanges   []xIPRange `xml:"ipRanges>item"`
}

type xSecurityGroup struct {
	OwnerID          string          `xml:"ownerId"`
	GroupID          string          `xml:"groupId"`
	GroupName        string          `xml:"groupName"`
	GroupDescription string          `xml:"groupDescription"`
	VpcID            string          `xml:"vpcId"`
	SecurityGroupArn string          `xml:"securityGroupArn"`
	Ingress          []xIPPermission `xml:"ipPermissions>item"`
	Egress           []xIPPermission `xml:"ipPermissionsEgress>item"`
	Tags             []xTag          `xml:"tagSet>item"`
}

type xSecurityGroupRule struct {
	RuleID      string `xml:"securityGroupRuleId"`
	GroupID     string `xml:"groupId"`
	OwnerID     string `xml:"groupOwnerId"`
	IsEgress    bool   `xml:"isEgress"`
	IPProtocol  string `xml:"ipProtocol"`
	FromPort    int    `xml:"fromPort"`
	ToPort      int    `xml:"toPort"`
	CidrIPv4    string `xml:"cidrIpv4"`
	Description string `xml:"description,omitempty"`
}

type xRoute struct {
	DestinationCidrBlock string `xml:"destinationCidrBlock"`
	GatewayID            string `xml:"gatewayId,omitempty"`
	PeeringID            string `xml:"vpcPeeringConnectionId,omitempty"`
	State                string `xml:"state"`
	Origin               string `xml:"origin"`
}

type xRouteTableAssociation struct {
	Main          bool   `xml:"main"`
	AssociationID string `xml:"routeTableAssociationId"`
	RouteTableID  string `xml:"routeTableId"`
	State         string `xml:"associationState>state"`
}

type xPropagatingVgw struct {
	GatewayID string `xml:"gatewayId"`
}

type xRouteTable struct {
	RouteTableID string                   `xml:"routeTableId"`
	VpcID        string                   `xml:"vpcId"`
	OwnerID      string                   `xml:"ownerId"`
	Routes       []xRoute                 `xml:"routeSet>item"`
	Associations []xRouteTableAssociation `xml:"associationSet>item"`
	Propagating  []xPropagatingVgw        `xml:"propagatingVgwSet>item"`
	Tags         []xTag                   `xml:"tagSet>item"`
}

type xVpcAttachment struct {
	VpcID string `xml:"vpcId"`
	State string `xml:"state"`
}

type xVpnGateway struct {
	VpnGatewayID  string           `xml:"vpnGatewayId"`
	State         string           `xml:"state"`
	Type          string           `xml:"type"`
	AmazonSideAsn int64            `xml:"amazonSideAsn"`
	Attachments   []xVpcAttachment `xml:"attachments>item"`
	Tags          []xTag           `xml:"tagSet>item"`
}

type xCustomerGateway struct {
	CustomerGatewayID string `xml:"customerGatewayId"`
	State             string `xml:"state"`
	Type              string `xml:"type"`
	IPAddress         string `xml:"ipAddress"`
	BgpAsn            string `xml:"bgpAsn,omitempty"`
	BgpAsnExtended    string `xml:"bgpAsnExtended,omitempty"`
	DeviceName        string `xml:"deviceName,omitempty"`
	Tags              []xTag `xml:"tagSet>item"`
}

type xTunnelOption struct {
	OutsideIPAddress string `xml:"outsideIpAddress"`
	TunnelInsideCidr string `xml:"tunnelInsideCidr"`
	PreSharedKey     string `xml:"preSharedKey"`
}

type xTelemetry struct {
	OutsideIPAddress   string `xml:"outsideIpAddress"`
	Status             string `xml:"status"`
	StatusMessage      string `xml:"statusMessage"`
	LastStatusChange   string `xml:"lastStatusChange"`
	AcceptedRouteCount int    `xml:"acceptedRouteCount"`
}

type xVpnConnection struct {
	VpnConnectionID   string `xml:"vpnConnectionId"`
	State             string `xml:"state"`
	Type              string `xml:"type"`
	Category          string `xml:"category"`
	CustomerGatewayID string `xml:"customerGatewayId"`
	VpnGatewayID      string `xml:"vpnGatewayId"`
	Options           struct {
		StaticRoutesOnly      bool            `xml:"staticRoutesOnly"`
		TunnelInsideIPVersion string          `xml:"tunnelInsideIpVersion"`
		Tunnels               []xTunnelOption `xml:"tunnelOptionSet>item"`
	} `xml:"options"`
	Telemetry []xTelemetry `xml:"vgwTelemetry>item"`
	Tags      []xTag       `xml:"tagSet>item"`
}

type xPeeringVpc struct {
	VpcID     string `xml:"vpcId"`
	CidrBlock string `xml:"cidrBlock"`
	CidrSet   []struct {
		CidrBlock string `xml:"cidrBlock"`
	} `xml:"cidrBlockSet>item"`
	OwnerID string `xml:"ownerId"`
	Region  string `xml:"region"`
}

type xPeering struct {
	ID        string      `xml:"vpcPeeringConnectionId"`
	Requester xPeeringVpc `xml:"requesterVpcInfo"`
	Accepter  xPeeringVpc `xml:"accepterVpcInfo"`
	Status    struct {
		Code    string `xml:"code"`
		Message string `xml:"message"`
	} `xml:"status"`
	ExpirationTime string `xml:"expirationTime,omitempty"`
	Tags           []xTag `xml:"tagSet>item"`
}

// netResponse is every network reply: <ActionResponse> with the fields
// the action fills (empty ones are left out). The sets are pointers
// (filled with addItem): encoding/xml writes the parent element of an
// empty "a>item" slice, and an element that is not a member of the
// action's output breaks the EC2 model (internal/cloudsim/conformance).
type netResponse struct {
	XMLName   xml.Name
	Xmlns     string `xml:"xmlns,attr"`
	RequestID string `xml:"requestId"`
	Return    *bool  `xml:"return,omitempty"`
	// NextToken continues a paginated Describe (describePage).
	NextToken string `xml:"nextToken,omitempty"`

	Vpc                *xVpc                 `xml:"vpc,omitempty"`
	Vpcs               *[]xVpc               `xml:"vpcSet>item"`
	Subnet             *xSubnet              `xml:"subnet,omitempty"`
	Subnets            *[]xSubnet            `xml:"subnetSet>item"`
	GroupID            string                `xml:"groupId,omitempty"`
	SecurityGroupArn   string                `xml:"securityGroupArn,omitempty"`
	TagSet             *[]xTag               `xml:"tagSet>item"`
	SecurityGroups     *[]xSecurityGroup     `xml:"securityGroupInfo>item"`
	SecurityGroupRules *[]xSecurityGroupRule `xml:"securityGroupRuleSet>item"`
	UnknownPermissions *[]xIPPermission      `xml:"unknownIpPermissionSet>item"`
	RouteTables        *[]xRouteTable        `xml:"routeTableSet>item"`
	VpnGateway         *xVpnGateway          `xml:"vpnGateway,omitempty"`
	VpnGateways        *[]xVpnGateway        `xml:"vpnGatewaySet>item"`
	Attachment         *xVpcAttachment       `xml:"attachment,omitempty"`
	CustomerGateway    *xCustomerGateway     `xml:"customerGateway,omitempty"`
	CustomerGateways   *[]xCustomerGateway   `xml:"customerGatewaySet>item"`
	VpnConnection      *xVpnConnection       `xml:"vpnConnection,omitempty"`
	VpnConnections     *[]xVpnConnection     `xml:"vpnConnectionSet>item"`
	Peering            *xPeering             `xml:"vpcPeeringConnection,omitempty"`
	Peerings           *[]xPeering           `xml:"vpcPeeringConnectionSet>item"`
}

// addItem appends x to the set *p, making it when p is nil.
func addItem[T any](p *[]T, x T) *[]T {
	if p == nil {
		p = &[]T{}
	}
	*p = append(*p, x)
	return p
}

// setOf is a set element for items, present even when it is empty.
func setOf[T any](items []T) *[]T { return &items }

func reply(action, reqID string) *netResponse {
	return &netResponse{XMLName: xml.Name{Local: action + "Response"}, Xmlns: ec2NS, RequestID: reqID}
}

func replyTrue(action, reqID string) *netResponse {
	out := reply(action, reqID)
	t := true
	out.Return = &t
	return out
}

// ---- errors ----

func missing(param string) error {
	return &ec2Err{400, "MissingParameter", fmt.Sprintf("The request must contain the parameter %s", param)}
}

func invalidValue(format string, args ...any) error {
	return &ec2Err{400, "InvalidParameterValue", fmt.Sprintf(format, args...)}
}

func incorrectState(format string, args ...any) error {
	return &ec2Err{400, "IncorrectState", fmt.Sprintf(format, args...)}
}

func (k resource) missingID(id string) error {
	return &ec2Err{400, k.notFound, fmt.Sprintf("The %s '%s' does not exist", k.noun, id)}
}

// engineErr answers an engine error about resource k (NotFound: its
// notFound code).
func engineErr(err error, k resource) error {
	return ec2Error(err, k.notFound, "IncorrectState")
}

// ---- the world as one request sees it ----

// world is a snapshot of the network objects, read without going through
// rate limits and faults (the request has already been through them).
type world struct {
	byKey  map[string]cloudsim.Object // kind "|" name
	byKind map[string][]cloudsim.Object
	tags   map[string]map[string]string // parent object name -> CreateTags tags
	ids    map[string]bool
}

func (s *server) world() *world {
	w := &world{byKey: map[string]cloudsim.Object{}, byKind: map[string][]cloudsim.Object{}, tags: map[string]map[string]string{}, ids: map[string]bool{}}
	for _, o := range s.e.Inventory().Objects {
		if o.Cloud != cloudName {
			continue
		}
		w.byKey[o.Kind+"|"+o.Name] = o
		w.byKind[o.Kind] = append(w.byKind[o.Kind], o)
		if id := o.Attrs["id"]; id != "" {
			w.ids[id] = true
		}
		if o.Kind == kindTag {
			p := o.Attrs["resource"]
			if w.tags[p] == nil {
				w.tags[p] = map[string]string{}
			}
			w.tags[p][o.Attrs["key"]] = o.Attrs["value"]
		}
	}
	return w
}

func (w *world) get(kind, name string) (cloudsim.Object, bool) {
	o, ok := w.byKey[kind+"|"+name]
	return o, ok
}

// children are the objects of kind whose attr names parent.
func (w *world) children(kind, attr, parent string) []cloudsim.Object {
	var out []cloudsim.Object
	for _, o := range w.byKind[kind] {
		if o.Attrs[attr] == parent {
			out = append(out, o)
		}
	}
	return out
}

// inRegion are the resources of kind a region sees.
func (w *world) inRegion(kind, region string) []cloudsim.Object {
	var out []cloudsim.Object
	for _, o := range w.byKind[kind] {
		if visibleIn(o, region) {
			out = append(out, o)
		}
	}
	return out
}

func visibleIn(o cloudsim.Object, region string) bool {
	if o.Kind == kindPeering {
		return o.Attrs["requester_region"] == region || o.Attrs["accepter_region"] == region
	}
	return o.Attrs["region"] == region
}

// tagsOf are a resource's tags: those of its creation, overlaid by
// CreateTags.
func (w *world) tagsOf(o cloudsim.Object) map[string]string {
	tags := map[string]string{}
	for k, v := range o.Attrs {
		if key, ok := strings.CutPrefix(k, "tag:"); ok {
			tags[key] = v
		}
	}
	for k, v := range w.tags[o.Name] {
		tags[k] = v
	}
	return tags
}

func xTags(tags map[string]string) []xTag {
	var out []xTag
	for _, k := range sortedKeys(tags) {
		out = append(out, xTag{k, tags[k]})
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// objectName is the engine name of a resource.
func objectName(k resource, region, id string) string {
	if k.kind == kindPeering {
		return "global/" + id
	}
	return region + "/" + id
}

var idPattern = regexp.MustCompile(`^[a-z]+-([0-9a-f]{8}|[0-9a-f]{17})$`)

// newID makes an unused ID: the prefix and 17 random hex digits.
func newID(prefix string, w *world) string {
	for {
		var b [9]byte
		_, _ = rand.Read(b[:])
		id := prefix + "-" + hex.EncodeToString(b[:])[:17]
		if !w.ids[id] {
			w.ids[id] = true
			return id
		}
	}
}

// lookup finds a resource by ID through the engine (Get<Kind>).
func (s *server) lookup(k resource, region, id string) (cloudsim.Object, error) {
	if !strings.HasPrefix(id, k.prefix+"-") || !idPattern.MatchString(id) {
		return cloudsim.Object{}, &ec2Err{400, k.malformed, fmt.Sprintf("Invalid id: \"%s\"", id)}
	}
	o, err := s.e.GetObject(cloudName, k.kind, objectName(k, region, id))
	if err != nil {
		if cloud.IsNotFound(err) {
			return o, k.missingID(id)
		}
		return o, engineErr(err, k)
	}
	if !visibleIn(o, region) {
		return o, k.missingID(id)
	}
	return o, nil
}

// gate puts a listing through the engine's rate limits and faults
// (Get<Kind> of nothing).
func (s *server) gate(k resource) error {
	if _, err := s.e.GetObject(cloudName, k.kind, "\x00list"); err != nil && !cloud.IsNotFound(err) {
		return engineErr(err, k)
	}
	return nil
}

// selectResources are the resources a DescribeX names (IDs in the
// parameter idParam.N), or all the region sees, after the filters.
func (s *server) selectResources(r *http.Request, region string, k resource, idParam string, fields func(cloudsim.Object, *world) map[string][]string, known []string) ([]cloudsim.Object, *world, error) {
	filters, err := parseFilters(r, known)
	if err != nil {
		return nil, nil, err
	}
	ids := formList(r, idParam)
	var objs []cloudsim.Object
	if len(ids) == 0 {
		if err := s.gate(k); err != nil {
			return nil, nil, err
		}
	}
	for _, id := range ids {
		if _, err := s.lookup(k, region, id); err != nil {
			return nil, nil, err
		}
	}
	w := s.world()
	if len(ids) == 0 {
		objs = w.inRegion(k.kind, region)
	} else {
		seen := map[string]bool{}
		for _, id := range ids {
			if o, ok := w.get(k.kind, objectName(k, region, id)); ok && !seen[id] {
				seen[id] = true
				objs = append(objs, o)
			}
		}
	}
	var out []cloudsim.Object
	for _, o := range objs {
		if matches(filters, fields(o, w), w.tagsOf(o)) {
			out = append(out, o)
		}
	}
	return out, w, nil
}

// ---- filters ----

type filter struct {
	name   string
	values []*regexp.Regexp
}

// parseFilters reads Filter.N.Name / Filter.N.Value.M; a name outside
// known (and not tag:KEY, tag-key, tag-value) is InvalidParameterValue.
func parseFilters(r *http.Request, known []string) ([]filter, error) {
	var out []filter
	for _, n := range indices(r, "Filter") {
		name := r.Form.Get(fmt.Sprintf("Filter.%d.Name", n))
		if name == "" {
			return nil, missing(fmt.Sprintf("Filter.%d.Name", n))
		}
		if !slices.Contains(known, name) && !strings.HasPrefix(name, "tag:") && name != "tag-key" && name != "tag-value" {
			return nil, invalidValue("The filter '%s' is invalid", name)
		}
		f := filter{name: name}
		for _, v := range formList(r, fmt.Sprintf("Filter.%d.Value", n)) {
			f.values = append(f.values, glob(v))
		}
		out = append(out, f)
	}
	return out, nil
}

// glob compiles an EC2 filter value: * is any string, ? any character.
func glob(v string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for _, c := range v {
		switch c {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

// matches reports whether a resource passes every filter (a filter passes
// when one of its values matches one of the resource's).
func matches(filters []filter, fields map[string][]string, tags map[string]string) bool {
	for _, f := range filters {
		var have []string
		switch {
		case strings.HasPrefix(f.name, "tag:"):
			if v, ok := tags[strings.TrimPrefix(f.name, "tag:")]; ok {
				have = []string{v}
			}
		case f.name == "tag-key":
			have = sortedKeys(tags)
		case f.name == "tag-value":
			for _, k := range sortedKeys(tags) {
				have = append(have, tags[k])
			}
		default:
			have = fields[f.name]
		}
		ok := false
		for _, re := range f.values {
			if slices.ContainsFunc(have, re.MatchString) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// ---- form helpers ----

// indices are the N of the parameters prefix.N[.…], sorted.
func indices(r *http.Request, prefix string) []int {
	seen := map[int]bool{}
	for k := range r.Form {
		rest, ok := strings.CutPrefix(k, prefix+".")
		if !ok {
			continue
		}
		if i := strings.IndexByte(rest, '.'); i >= 0 {
			rest = rest[:i]
		}
		if n, err := strconv.Atoi(rest); err == nil {
			seen[n] = true
		}
	}
	out := make([]int, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// parseTags reads TagSpecification.N (ResourceType must be resourceType)
// with its Tag.M.Key / Value.
func parseTags(r *http.Request, resourceType string) (map[string]string, error) {
	tags := map[string]string{}
	for _, n := range indices(r, "TagSpecification") {
		p := fmt.Sprintf("TagSpecification.%d.", n)
		if rt := r.Form.Get(p + "ResourceType"); rt != resourceType {
			return nil, invalidValue("'%s' is not a valid taggable resource type for this operation.", rt)
		}
		for _, m := range indices(r, p+"Tag") {
			tags[r.Form.Get(fmt.Sprintf("%sTag.%d.Key", p, m))] = r.Form.Get(fmt.Sprintf("%sTag.%d.Value", p, m))
		}
	}
	return tags, checkTags(tags)
}

func checkTags(tags map[string]string) error {
	if len(tags) > 50 {
		return &ec2Err{400, "TagLimitExceeded", "The maximum number of Tags for a resource has been reached."}
	}
	for k, v := range tags {
		switch {
		case k == "" || len(k) > 128:
			return invalidValue("Tag keys must be 1 to 128 characters: '%s'", k)
		case strings.HasPrefix(strings.ToLower(k), "aws:"):
			return invalidValue("Tag keys starting with 'aws:' are reserved for internal use")
		case len(v) > 256:
			return invalidValue("Tag values may be at most 256 characters (tag '%s')", k)
		}
	}
	return nil
}

func withTags(attrs, tags map[string]string) map[string]string {
	for k, v := range tags {
		attrs["tag:"+k] = v
	}
	return attrs
}

// ---- time and addresses ----

func (s *server) stamp() string { return s.now().Format(time.RFC3339Nano) }

// since is how long ago an RFC 3339 attr was stamped.
func (s *server) since(stamp string) time.Duration {
	t, err := time.Parse(time.RFC3339Nano, stamp)
	if err != nil {
		return math.MaxInt64
	}
	return s.now().Sub(t)
}

func ec2Time(stamp string) string {
	t, err := time.Parse(time.RFC3339Nano, stamp)
	if err != nil {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

func later(stamp string, d time.Duration) string {
	t, err := time.Parse(time.RFC3339Nano, stamp)
	if err != nil {
		return stamp
	}
	return t.Add(d).Format(time.RFC3339Nano)
}

// parseCIDR reads an IPv4 CIDR in canonical form.
func parseCIDR(v, param string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(v)
	if err != nil || !p.Addr().Is4() || p.Masked() != p {
		return netip.Prefix{}, invalidValue("Value (%s) for parameter %s is invalid. This is not a valid CIDR block.", v, param)
	}
	return p, nil
}

// inside reports whether p lies within outer.
func inside(p, outer netip.Prefix) bool { return p.Bits() >= outer.Bits() && outer.Contains(p.Addr()) }

func (s *server) arn(region, typ, id string) string {
	return fmt.Sprintf("arn:aws:ec2:%s:%s:%s/%s", region, s.opts.AccountID, typ, id)
}

// deleteChildren deletes a deleted resource's children; failures leave
// them behind (see the doc comment).
func (s *server) deleteChildren(w *world, parent string, kinds map[string]string) {
	for kind, attr := range kinds {
		for _, c := range w.children(kind, attr, parent) {
			_ = s.e.DeleteObject(cloudName, kind, c.Name)
		}
	}
	for _, t := range w.children(kindTag, "resource", parent) {
		_ = s.e.DeleteObject(cloudName, kindTag, t.Name)
	}
}

func (s *server) vpcOf(w *world, region, vpcID string) (netip.Prefix, bool) {
	o, ok := w.get(kindVpc, objectName(resVpc, region, vpcID))
	if !ok {
		return netip.Prefix{}, false
	}
	p, err := netip.ParsePrefix(o.Attrs["cidr"])
	return p, err == nil
}

// ---- VPCs ----

var vpcFilters = []string{"vpc-id", "cidr", "cidr-block-association.cidr-block", "state", "is-default", "owner-id", "dhcp-options-id"}

func (s *server) vpcFields(o cloudsim.Object, _ *world) map[string][]string {
	return map[string][]string{"vpc-id": {o.Attrs["id"]}, "cidr": {o.Attrs["cidr"]}, "cidr-block-association.cidr-block": {o.Attrs["cidr"]},
		"state": {"available"}, "is-default": {"false"}, "owner-id": {s.opts.AccountID}, "dhcp-options-id": {"default"}}
}

func (s *server) vpcXML(o cloudsim.Object, w *world) xVpc {
	return xVpc{VpcID: o.Attrs["id"], OwnerID: s.opts.AccountID, State: "available", CidrBlock: o.Attrs["cidr"],
		Associations:  []xCidrAssociation{{AssociationID: o.Attrs["cidr_association"], CidrBlock: o.Attrs["cidr"], State: "associated"}},
		DhcpOptionsID: "default", InstanceTenancy: "default", Tags: xTags(w.tagsOf(o))}
}

// createVpc creates a VPC (CidrBlock, /16–/28) with its main route table.
func (s *server) createVpc(r *http.Request, region, reqID string) (any, error) {
	v := r.Form.Get("CidrBlock")
	if v == "" {
		return nil, missing("cidrBlock")
	}
	p, err := parseCIDR(v, "cidrBlock")
	if err != nil {
		return nil, err
	}
	if p.Bits() < 16 || p.Bits() > 28 {
		return nil, &ec2Err{400, "InvalidVpc.Range", fmt.Sprintf("The CIDR '%s' is invalid.", v)}
	}
	tags, err := parseTags(r, resVpc.tagType)
	if err != nil {
		return nil, err
	}
	w := s.world()
	if len(w.inRegion(kindVpc, region)) >= maxVpcs {
		return nil, &ec2Err{400, "VpcLimitExceeded", "The maximum number of VPCs has been reached."}
	}
	id, rtb := newID("vpc", w), newID("rtb", w)
	attrs := withTags(map[string]string{"id": id, "region": region, "cidr": p.String(), "main_rtb": rtb,
		"cidr_association": newID("vpc-cidr-assoc", w), "created": s.stamp()}, tags)
	o, err := s.e.PutObject(cloudName, kindVpc, objectName(resVpc, region, id), attrs)
	if err != nil {
		return nil, engineErr(err, resVpc)
	}
	_, err = s.e.PutObject(cloudName, kindRouteTable, objectName(resRouteTable, region, rtb), map[string]string{
		"id": rtb, "region": region, "vpc": id, "main": "true", "association": newID("rtbassoc", w), "created": s.stamp()})
	if err != nil {
		_ = s.e.DeleteObject(cloudName, kindVpc, o.Name)
		return nil, engineErr(err, resRouteTable)
	}
	out := reply("CreateVpc", reqID)
	x := s.vpcXML(o, w)
	x.State = "pending"
	out.Vpc = &x
	return out, nil
}

func (s *server) describeVpcs(r *http.Request, region, reqID string) (any, error) {
	objs, w, err := s.selectResources(r, region, resVpc, "VpcId", s.vpcFields, vpcFilters)
	if err != nil {
		return nil, err
	}
	objs, next, err := describePage(r, objs)
	if err != nil {
		return nil, err
	}
	out := reply("DescribeVpcs", reqID)
	out.NextToken = next
	out.Vpcs = setOf([]xVpc{}) // an empty <...Set/> when nothing matches, as EC2 answers
	for _, o := range objs {
		out.Vpcs = addItem(out.Vpcs, s.vpcXML(o, w))
	}
	return out, nil
}

// livePeering reports a peering that is neither failed nor expired.
func (s *server) livePeering(w *world, o cloudsim.Object) bool {
	st, _ := s.peeringStatus(w, o)
	return st == "pending-acceptance" || st == "active"
}

// deleteVpc deletes a VPC and its main route table; subnets, security
// groups, an attached gateway or a live peering are DependencyViolation.
func (s *server) deleteVpc(r *http.Request, region, reqID string) (any, error) {
	id := r.Form.Get("VpcId")
	if id == "" {
		return nil, missing("vpcId")
	}
	o, err := s.lookup(resVpc, region, id)
	if err != nil {
		return nil, err
	}
	w := s.world()
	dependent := len(w.children(kindSubnet, "vpc", id)) > 0 || len(w.children(kindGroup, "vpc", id)) > 0 ||
		len(w.children(kindAttachment, "vpc", id)) > 0
	for _, p := range w.byKind[kindPeering] {
		if (p.Attrs["requester_vpc"] == id || p.Attrs["accepter_vpc"] == id) && s.livePeering(w, p) {
			dependent = true
		}
	}
	if dependent {
		return nil, &ec2Err{400, "DependencyViolation", fmt.Sprintf("The vpc '%s' has dependencies and cannot be deleted.", id)}
	}
	if err := s.e.DeleteObject(cloudName, kindVpc, o.Name); err != nil {
		return nil, engineErr(err, resVpc)
	}
	s.deleteChildren(w, o.Name, nil)
	for _, rt := range w.children(kindRouteTable, "vpc", id) {
		if err := s.e.DeleteObject(cloudName, kindRouteTable, rt.Name); err == nil {
			s.deleteChildren(w, rt.Name, map[string]string{kindRoute: "table", kindPropagate: "table"})
		}
	}
	return replyTrue("DeleteVpc", reqID), nil
}

// ---- subnets ----

var subnetFilters = []string{"vpc-id", "subnet-id", "cidr-block", "cidr", "cidrBlock", "availability-zone", "availabilityZone",
	"availability-zone-id", "availabilityZoneId", "state", "default-for-az", "defaultForAz", "owner-id", "subnet-arn"}

func (s *server) subnetFields(o cloudsim.Object, _ *world) map[string][]string {
	a := o.Attrs
	return map[string][]string{"vpc-id": {a["vpc"]}, "subnet-id": {a["id"]}, "cidr-block": {a["cidr"]}, "cidr": {a["cidr"]}, "cidrBlock": {a["cidr"]},
		"availability-zone": {a["zone"]}, "availabilityZone": {a["zone"]}, "availability-zone-id": {a["zone_id"]}, "availabilityZoneId": {a["zone_id"]},
		"state": {"available"}, "default-for-az": {"false"}, "defaultForAz": {"false"}, "owner-id": {s.opts.AccountID},
		"subnet-arn": {s.arn(a["region"], "subnet", a["id"])}}
}

func (s *server) subnetXML(o cloudsim.Object, w *world) xSubnet {
	a := o.Attrs
	p, _ := netip.ParsePrefix(a["cidr"])
	return xSubnet{SubnetID: a["id"], SubnetArn: s.arn(a["region"], "subnet", a["id"]), VpcID: a["vpc"], OwnerID: s.opts.AccountID,
		State: "available", CidrBlock: a["cidr"], AvailabilityZone: a["zone"], AvailabilityZoneID: a["zone_id"],
		AvailableAddresses: 1<<(32-p.Bits()) - 5, Tags: xTags(w.tagsOf(o))}
}

var zoneIDPattern = regexp.MustCompile(`^[a-z]+[0-9]+-az([0-9]+)$`)

// zoneNames completes a zone ID (euc1-az1) with a zone name (eu-central-1a)
// and the other way round: zone N is letter N (AWS maps them per account;
// cloudsim's account maps them in order).
func zoneNames(region, zone, zoneID string) (string, string) {
	short := region
	if parts := strings.Split(region, "-"); len(parts) == 3 && parts[1] != "" {
		short = parts[0] + parts[1][:1] + parts[2]
	}
	switch {
	case zoneID != "" && zone == "":
		if m := zoneIDPattern.FindStringSubmatch(zoneID); m != nil {
			if n, _ := strconv.Atoi(m[1]); n >= 1 && n <= 26 {
				zone = region + string(rune('a'+n-1))
			}
		}
	case zone != "" && zoneID == "":
		if rest, ok := strings.CutPrefix(zone, region); ok && len(rest) == 1 && rest[0] >= 'a' && rest[0] <= 'z' {
			zoneID = fmt.Sprintf("%s-az%d", short, rest[0]-'a'+1)
		}
	case zone == "" && zoneID == "":
		zone, zoneID = region+"a", short+"-az1"
	}
	return zone, zoneID
}

// createSubnet creates a subnet of a VPC: its CIDR inside the VPC's, /16–/28,
// overlapping no other subnet of the VPC.
func (s *server) createSubnet(r *http.Request, region, reqID string) (any, error) {
	vpcID, v := r.Form.Get("VpcId"), r.Form.Get("CidrBlock")
	if vpcID == "" {
		return nil, missing("vpcId")
	}
	if v == "" {
		return nil, missing("cidrBlock")
	}
	p, err := parseCIDR(v, "cidrBlock")
	if err != nil {
		return nil, err
	}
	tags, err := parseTags(r, resSubnet.tagType)
	if err != nil {
		return nil, err
	}
	if _, err := s.lookup(resVpc, region, vpcID); err != nil {
		return nil, err
	}
	w := s.world()
	vpcCIDR, _ := s.vpcOf(w, region, vpcID)
	if p.Bits() < 16 || p.Bits() > 28 || !inside(p, vpcCIDR) {
		return nil, &ec2Err{400, "InvalidSubnet.Range", fmt.Sprintf("The CIDR '%s' is invalid.", v)}
	}
	for _, o := range w.children(kindSubnet, "vpc", vpcID) {
		if q, err := netip.ParsePrefix(o.Attrs["cidr"]); err == nil && q.Overlaps(p) {
			return nil, &ec2Err{400, "InvalidSubnet.Conflict", fmt.Sprintf("The CIDR '%s' conflicts with another subnet", v)}
		}
	}
	zone, zoneID := zoneNames(region, r.Form.Get("AvailabilityZone"), r.Form.Get("AvailabilityZoneId"))
	id := newID("subnet", w)
	o, err := s.e.PutObject(cloudName, kindSubnet, objectName(resSubnet, region, id), withTags(map[string]string{
		"id": id, "region": region, "vpc": vpcID, "cidr": p.String(), "zone": zone, "zone_id": zoneID, "created": s.stamp()}, tags))
	if err != nil {
		return nil, engineErr(err, resSubnet)
	}
	out := reply("CreateSubnet", reqID)
	x := s.subnetXML(o, w)
	out.Subnet = &x
	return out, nil
}

func (s *server) describeSubnets(r *http.Request, region, reqID string) (any, error) {
	objs, w, err := s.selectResources(r, region, resSubnet, "SubnetId", s.subnetFields, subnetFilters)
	if err != nil {
		return nil, err
	}
	out := reply("DescribeSubnets", reqID)
	out.Subnets = setOf([]xSubnet{}) // an empty <...Set/> when nothing matches, as EC2 answers
	for _, o := range objs {
		out.Subnets = addItem(out.Subnets, s.subnetXML(o, w))
	}
	return out, nil
}

func (s *server) deleteSubnet(r *http.Request, region, reqID string) (any, error) {
	id := r.Form.Get("SubnetId")
	if id == "" {
		return nil, missing("subnetId")
	}
	o, err := s.lookup(resSubnet, region, id)
	if err != nil {
		return nil, err
	}
	w := s.world()
	if err := s.e.DeleteObject(cloudName, kindSubnet, o.Name); err != nil {
		return nil, engineErr(err, resSubnet)
	}
	s.deleteChildren(w, o.Name, nil)
	return replyTrue("DeleteSubnet", reqID), nil
}

// ---- security groups ----

var groupFilters = []string{"group-id", "group-name", "vpc-id", "description", "owner-id", "ip-permission.cidr", "ip-permission.protocol",
	"ip-permission.from-port", "ip-permission.to-port"}

func (s *server) groupFields(o cloudsim.Object, w *world) map[string][]string {
	f := map[string][]string{"group-id": {o.Attrs["id"]}, "group-name": {o.Attrs["name"]}, "vpc-id": {o.Attrs["vpc"]},
		"description": {o.Attrs["description"]}, "owner-id": {s.opts.AccountID}}
	for _, rule := range w.children(kindRule, "group", o.Name) {
		f["ip-permission.cidr"] = append(f["ip-permission.cidr"], rule.Attrs["cidr"])
		f["ip-permission.protocol"] = append(f["ip-permission.protocol"], rule.Attrs["protocol"])
		f["ip-permission.from-port"] = append(f["ip-permission.from-port"], rule.Attrs["from"])
		f["ip-permission.to-port"] = append(f["ip-permission.to-port"], rule.Attrs["to"])
	}
	return f
}

// permission is one ingress rule: a protocol, a port range and a source.
type permission struct {
	protocol, from, to, cidr, description string
}

func (p permission) key() string { return p.protocol + "|" + p.from + "|" + p.to + "|" + p.cidr }

func ruleOf(o cloudsim.Object) permission {
	a := o.Attrs
	return permission{a["protocol"], a["from"], a["to"], a["cidr"], a["description"]}
}

func portPtr(v string) *int {
	if v == "" {
		return nil
	}
	n, _ := strconv.Atoi(v)
	return &n
}

// xPermissions groups rules by protocol and ports, as EC2 reports them.
func xPermissions(rules []permission) []xIPPermission {
	slices.SortFunc(rules, func(a, b permission) int { return strings.Compare(a.key(), b.key()) })
	var out []xIPPermission
	for _, p := range rules {
		if n := len(out); n > 0 && out[n-1].IPProtocol == p.protocol && eqPort(out[n-1].FromPort, p.from) && eqPort(out[n-1].ToPort, p.to) {
			out[n-1].IPRanges = append(out[n-1].IPRanges, xIPRange{p.cidr, p.description})
			continue
		}
		out = append(out, xIPPermission{IPProtocol: p.protocol, FromPort: portPtr(p.from), ToPort: portPtr(p.to), IPRanges: []xIPRange{{p.cidr, p.description}}})
	}
	return out
}

func eqPort(a *int, b string) bool {
	if a == nil {
		return b == ""
	}
	return strconv.Itoa(*a) == b
}

func (s *server) groupXML(o cloudsim.Object, w *world) xSecurityGroup {
	a := o.Attrs
	var rules []permission
	for _, rule := range w.children(kindRule, "group", o.Name) {
		rules = append(rules, ruleOf(rule))
	}
	return xSecurityGroup{OwnerID: s.opts.AccountID, GroupID: a["id"], GroupName: a["name"], GroupDescription: a["description"], VpcID: a["vpc"],
		SecurityGroupArn: s.arn(a["region"], "security-group", a["id"]), Ingress: xPermissions(rules),
		Egress: []xIPPermission{{IPProtocol: "-1", IPRanges: []xIPRange{{CidrIP: "0.0.0.0/0"}}}}, Tags: xTags(w.tagsOf(o))}
}

func (s *server) createSecurityGroup(r *http.Request, region, reqID string) (any, error) {
	name, desc, vpcID := r.Form.Get("GroupName"), r.Form.Get("GroupDescription"), r.Form.Get("VpcId")
	switch {
	case name == "":
		return nil, missing("groupName")
	case desc == "":
		return nil, missing("groupDescription")
	case vpcID == "":
		return nil, &ec2Err{400, "VPCIdNotSpecified", "No default VPC for this user"}
	case len(name) > 255 || len(desc) > 255:
		return nil, invalidValue("Group names and descriptions may be at most 255 characters")
	case strings.HasPrefix(name, "sg-"):
		return nil, invalidValue("Group names may not be in the format sg-*.")
	}
	tags, err := parseTags(r, resGroup.tagType)
	if err != nil {
		return nil, err
	}
	if _, err := s.lookup(resVpc, region, vpcID); err != nil {
		return nil, err
	}
	w := s.world()
	for _, g := range w.children(kindGroup, "vpc", vpcID) {
		if g.Attrs["name"] == name {
			return nil, &ec2Err{400, "InvalidGroup.Duplicate", fmt.Sprintf("The security group '%s' already exists for VPC '%s'", name, vpcID)}
		}
	}
	id := newID("sg", w)
	o, err := s.e.PutObject(cloudName, kindGroup, objectName(resGroup, region, id), withTags(map[string]string{
		"id": id, "region": region, "vpc": vpcID, "name": name, "description": desc, "created": s.stamp()}, tags))
	if err != nil {
		return nil, engineErr(err, resGroup)
	}
	out := reply("CreateSecurityGroup", reqID)
	out.GroupID, out.SecurityGroupArn, out.TagSet = id, s.arn(region, "security-group", id), setOf(xTags(w.tagsOf(o)))
	return out, nil
}

// groupParam finds the group a request names by GroupId (or GroupName).
func (s *server) groupParam(r *http.Request, region string) (cloudsim.Object, error) {
	if id := r.Form.Get("GroupId"); id != "" {
		return s.lookup(resGroup, region, id)
	}
	name := r.Form.Get("GroupName")
	if name == "" {
		return cloudsim.Object{}, missing("groupId")
	}
	if err := s.gate(resGroup); err != nil {
		return cloudsim.Object{}, err
	}
	for _, g := range s.world().inRegion(kindGroup, region) {
		if g.Attrs["name"] == name {
			return g, nil
		}
	}
	return cloudsim.Object{}, &ec2Err{400, "InvalidGroup.NotFound", fmt.Sprintf("The security group '%s' does not exist", name)}
}

func (s *server) describeSecurityGroups(r *http.Request, region, reqID string) (any, error) {
	objs, w, err := s.selectResources(r, region, resGroup, "GroupId", s.groupFields, groupFilters)
	if err != nil {
		return nil, err
	}
	if names := formList(r, "GroupName"); len(names) > 0 {
		var named []cloudsim.Object
		for _, n := range names {
			i := slices.IndexFunc(objs, func(o cloudsim.Object) bool { return o.Attrs["name"] == n })
			if i < 0 {
				return nil, &ec2Err{400, "InvalidGroup.NotFound", fmt.Sprintf("The security group '%s' does not exist", n)}
			}
			named = append(named, objs[i])
		}
		objs = named
	}
	out := reply("DescribeSecurityGroups", reqID)
	out.SecurityGroups = setOf([]xSecurityGroup{}) // an empty <...Set/> when nothing matches, as EC2 answers
	for _, o := range objs {
		out.SecurityGroups = addItem(out.SecurityGroups, s.groupXML(o, w))
	}
	return out, nil
}

var protocols = map[string]string{"-1": "-1", "all": "-1", "tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp", "icmp": "icmp", "1": "icmp"}

// parsePermissions reads IpPermissions.N (IpProtocol, FromPort, ToPort,
// IpRanges.M.CidrIp / Description), or the single rule of the top-level
// IpProtocol, FromPort, ToPort, CidrIp.
func parsePermissions(r *http.Request) ([]permission, error) {
	type raw struct{ prefix, rangesPrefix string }
	var raws []raw
	for _, n := range indices(r, "IpPermissions") {
		p := fmt.Sprintf("IpPermissions.%d.", n)
		raws = append(raws, raw{p, p + "IpRanges"})
	}
	if len(raws) == 0 && r.Form.Get("IpProtocol") != "" {
		raws = append(raws, raw{"", ""})
	}
	if len(raws) == 0 {
		return nil, missing("ipPermissions")
	}
	var out []permission
	for _, rp := range raws {
		v := r.Form.Get(rp.prefix + "IpProtocol")
		proto, ok := protocols[strings.ToLower(v)]
		if !ok {
			if n, err := strconv.Atoi(v); err == nil && n >= 0 && n <= 255 {
				proto, ok = v, true
			}
		}
		if !ok {
			return nil, invalidValue("Invalid value '%s' for IP protocol. Unknown protocol.", v)
		}
		from, to := r.Form.Get(rp.prefix+"FromPort"), r.Form.Get(rp.prefix+"ToPort")
		switch proto {
		case "tcp", "udp", "icmp":
			lo, hi := 0, 65535
			if proto == "icmp" {
				lo, hi = -1, 255
			}
			f, ferr := strconv.Atoi(from)
			t, terr := strconv.Atoi(to)
			if ferr != nil || terr != nil {
				return nil, invalidValue("Invalid value for portRange. Must specify both from and to ports with TCP/UDP/ICMP.")
			}
			if f < lo || t > hi || (proto != "icmp" && f > t) {
				return nil, invalidValue("Invalid value for portRange: %d-%d", f, t)
			}
			from, to = strconv.Itoa(f), strconv.Itoa(t)
		default:
			from, to = "", ""
		}
		var ranges [][2]string
		if rp.rangesPrefix == "" {
			ranges = append(ranges, [2]string{r.Form.Get("CidrIp"), ""})
		} else {
			for _, m := range indices(r, rp.rangesPrefix) {
				ranges = append(ranges, [2]string{r.Form.Get(fmt.Sprintf("%s.%d.CidrIp", rp.rangesPrefix, m)),
					r.Form.Get(fmt.Sprintf("%s.%d.Description", rp.rangesPrefix, m))})
			}
			if len(indices(r, rp.prefix+"Groups"))+len(indices(r, rp.prefix+"Ipv6Ranges"))+len(indices(r, rp.prefix+"PrefixListIds")) > 0 {
				return nil, invalidValue("awsfront simulates IPv4 CIDR sources (IpRanges) only")
			}
		}
		if len(ranges) == 0 {
			return nil, missing(rp.prefix + "IpRanges")
		}
		for _, cr := range ranges {
			c, err := netip.ParsePrefix(cr[0])
			if err != nil || !c.Addr().Is4() || c.Masked() != c {
				return nil, invalidValue("CIDR block %s is malformed", cr[0])
			}
			out = append(out, permission{proto, from, to, c.String(), cr[1]})
		}
	}
	return out, nil
}

func (s *server) ruleXML(o cloudsim.Object, g cloudsim.Object) xSecurityGroupRule {
	p := ruleOf(o)
	x := xSecurityGroupRule{RuleID: o.Attrs["id"], GroupID: g.Attrs["id"], OwnerID: s.opts.AccountID, IPProtocol: p.protocol,
		FromPort: -1, ToPort: -1, CidrIPv4: p.cidr, Description: p.description}
	if f := portPtr(p.from); f != nil {
		x.FromPort = *f
	}
	if t := portPtr(p.to); t != nil {
		x.ToPort = *t
	}
	return x
}

// authorizeIngress adds rules; when one exists already nothing is added
// (InvalidPermission.Duplicate).
func (s *server) authorizeIngress(r *http.Request, region, reqID string) (any, error) {
	g, err := s.groupParam(r, region)
	if err != nil {
		return nil, err
	}
	perms, err := parsePermissions(r)
	if err != nil {
		return nil, err
	}
	w := s.world()
	have := map[string]bool{}
	for _, rule := range w.children(kindRule, "group", g.Name) {
		have[ruleOf(rule).key()] = true
	}
	for _, p := range perms {
		if have[p.key()] {
			return nil, &ec2Err{400, "InvalidPermission.Duplicate",
				fmt.Sprintf("the specified rule \"peer: %s, %s, ALLOW\" already exists", p.cidr, strings.ToUpper(strings.ReplaceAll(p.protocol, "-1", "all")))}
		}
		have[p.key()] = true
	}
	if len(have) > maxRulesPerGroup {
		return nil, &ec2Err{400, "RulesPerSecurityGroupLimitExceeded", "The maximum number of rules per security group has been reached."}
	}
	out := replyTrue("AuthorizeSecurityGroupIngress", reqID)
	var added []string
	for _, p := range perms {
		id := newID("sgr", w)
		o, err := s.e.PutObject(cloudName, kindRule, g.Name+"/ingress/"+p.key(), map[string]string{
			"id": id, "group": g.Name, "protocol": p.protocol, "from": p.from, "to": p.to, "cidr": p.cidr, "description": p.description})
		if err != nil {
			for _, name := range added {
				_ = s.e.DeleteObject(cloudName, kindRule, name)
			}
			return nil, engineErr(err, resGroup)
		}
		added = append(added, o.Name)
		out.SecurityGroupRules = addItem(out.SecurityGroupRules, s.ruleXML(o, g))
	}
	return out, nil
}

// revokeIngress removes the rules that exist (by permission or
// SecurityGroupRuleId.N); the others are reported unknown, and when none
// exists it is InvalidPermission.NotFound.
func (s *server) revokeIngress(r *http.Request, region, reqID string) (any, error) {
	g, err := s.groupParam(r, region)
	if err != nil {
		return nil, err
	}
	ruleIDs := formList(r, "SecurityGroupRuleId")
	var perms []permission
	if len(ruleIDs) == 0 {
		if perms, err = parsePermissions(r); err != nil {
			return nil, err
		}
	}
	w := s.world()
	byKey, byID := map[string]cloudsim.Object{}, map[string]cloudsim.Object{}
	for _, rule := range w.children(kindRule, "group", g.Name) {
		byKey[ruleOf(rule).key()] = rule
		byID[rule.Attrs["id"]] = rule
	}
	var found []cloudsim.Object
	var unknown []permission
	for _, p := range perms {
		if o, ok := byKey[p.key()]; ok {
			found = append(found, o)
		} else {
			unknown = append(unknown, p)
		}
	}
	for _, id := range ruleIDs {
		o, ok := byID[id]
		if !ok {
			return nil, &ec2Err{400, "InvalidSecurityGroupRuleId.NotFound", fmt.Sprintf("The security group rule ID '%s' does not exist", id)}
		}
		found = append(found, o)
	}
	if len(found) == 0 {
		return nil, &ec2Err{400, "InvalidPermission.NotFound", "The specified rule does not exist in this security group."}
	}
	for _, o := range found {
		if err := s.e.DeleteObject(cloudName, kindRule, o.Name); err != nil && !cloud.IsNotFound(err) {
			return nil, engineErr(err, resGroup)
		}
	}
	out := replyTrue("RevokeSecurityGroupIngress", reqID)
	out.UnknownPermissions = setOf(xPermissions(unknown))
	return out, nil
}

func (s *server) deleteSecurityGroup(r *http.Request, region, reqID string) (any, error) {
	g, err := s.groupParam(r, region)
	if err != nil {
		return nil, err
	}
	w := s.world()
	if err := s.e.DeleteObject(cloudName, kindGroup, g.Name); err != nil {
		return nil, engineErr(err, resGroup)
	}
	s.deleteChildren(w, g.Name, map[string]string{kindRule: "group"})
	out := replyTrue("DeleteSecurityGroup", reqID)
	out.GroupID = g.Attrs["id"]
	return out, nil
}

// ---- route tables ----

var routeTableFilters = []string{"route-table-id", "vpc-id", "association.main", "association.route-table-association-id",
	"association.route-table-id", "route.destination-cidr-block", "route.gateway-id", "route.vpc-peering-connection-id",
	"route.state", "route.origin", "owner-id"}

func (s *server) routeTableFields(o cloudsim.Object, w *world) map[string][]string {
	a := o.Attrs
	f := map[string][]string{"route-table-id": {a["id"]}, "vpc-id": {a["vpc"]}, "association.main": {a["main"]},
		"association.route-table-association-id": {a["association"]}, "association.route-table-id": {a["id"]}, "owner-id": {s.opts.AccountID}}
	for _, rt := range s.routes(o, w) {
		f["route.destination-cidr-block"] = append(f["route.destination-cidr-block"], rt.DestinationCidrBlock)
		f["route.gateway-id"] = append(f["route.gateway-id"], rt.GatewayID)
		f["route.vpc-peering-connection-id"] = append(f["route.vpc-peering-connection-id"], rt.PeeringID)
		f["route.state"] = append(f["route.state"], rt.State)
		f["route.origin"] = append(f["route.origin"], rt.Origin)
	}
	return f
}

// routes are a route table's routes: the VPC's local route, then those
// CreateRoute added, by destination. A route whose target is gone, not
// attached or not active is a blackhole.
func (s *server) routes(o cloudsim.Object, w *world) []xRoute {
	region, vpcID := o.Attrs["region"], o.Attrs["vpc"]
	cidr, _ := s.vpcOf(w, region, vpcID)
	out := []xRoute{{DestinationCidrBlock: cidr.String(), GatewayID: "local", State: "active", Origin: "CreateRouteTable"}}
	added := w.children(kindRoute, "table", o.Name)
	slices.SortFunc(added, func(a, b cloudsim.Object) int { return strings.Compare(a.Attrs["dest"], b.Attrs["dest"]) })
	for _, rt := range added {
		x := xRoute{DestinationCidrBlock: rt.Attrs["dest"], GatewayID: rt.Attrs["gateway"], PeeringID: rt.Attrs["peering"], State: "blackhole", Origin: "CreateRoute"}
		switch {
		case x.GatewayID != "":
			if att, ok := w.get(kindAttachment, objectName(resVgw, region, x.GatewayID)); ok && att.Attrs["vpc"] == vpcID {
				x.State = "active"
			}
		case x.PeeringID != "":
			if p, ok := w.get(kindPeering, objectName(resPeering, region, x.PeeringID)); ok {
				if st, _ := s.peeringStatus(w, p); st == "active" {
					x.State = "active"
				}
			}
		}
		out = append(out, x)
	}
	return out
}

func (s *server) routeTableXML(o cloudsim.Object, w *world) xRouteTable {
	a := o.Attrs
	x := xRouteTable{RouteTableID: a["id"], VpcID: a["vpc"], OwnerID: s.opts.AccountID, Routes: s.routes(o, w), Tags: xTags(w.tagsOf(o))}
	if a["main"] == "true" {
		x.Associations = []xRouteTableAssociation{{Main: true, AssociationID: a["association"], RouteTableID: a["id"], State: "associated"}}
	}
	for _, p := range w.children(kindPropagate, "table", o.Name) {
		x.Propagating = append(x.Propagating, xPropagatingVgw{p.Attrs["gateway"]})
	}
	slices.SortFunc(x.Propagating, func(a, b xPropagatingVgw) int { return strings.Compare(a.GatewayID, b.GatewayID) })
	return x
}

func (s *server) describeRouteTables(r *http.Request, region, reqID string) (any, error) {
	objs, w, err := s.selectResources(r, region, resRouteTable, "RouteTableId", s.routeTableFields, routeTableFilters)
	if err != nil {
		return nil, err
	}
	out := reply("DescribeRouteTables", reqID)
	out.RouteTables = setOf([]xRouteTable{}) // an empty <...Set/> when nothing matches, as EC2 answers
	for _, o := range objs {
		out.RouteTables = addItem(out.RouteTables, s.routeTableXML(o, w))
	}
	return out, nil
}

// attachedTo reports whether a virtual private gateway is attached (or
// attaching) to a VPC.
func attachedTo(w *world, region, vgwID, vpcID string) bool {
	att, ok := w.get(kindAttachment, objectName(resVgw, region, vgwID))
	return ok && att.Attrs["vpc"] == vpcID
}

// createRoute adds a route to a virtual private gateway attached to the
// table's VPC (GatewayId) or to a peering of the VPC
// (VpcPeeringConnectionId).
func (s *server) createRoute(r *http.Request, region, reqID string) (any, error) {
	tableID, dest := r.Form.Get("RouteTableId"), r.Form.Get("DestinationCidrBlock")
	gw, pcx := r.Form.Get("GatewayId"), r.Form.Get("VpcPeeringConnectionId")
	switch {
	case tableID == "":
		return nil, missing("routeTableId")
	case dest == "":
		return nil, missing("destinationCidrBlock")
	case (gw == "") == (pcx == ""):
		return nil, &ec2Err{400, "InvalidParameterCombination", "The request must name exactly one target: gatewayId or vpcPeeringConnectionId (awsfront simulates these two)"}
	}
	for _, other := range []string{"NatGatewayId", "InstanceId", "NetworkInterfaceId", "TransitGatewayId", "LocalGatewayId", "CarrierGatewayId",
		"EgressOnlyInternetGatewayId", "VpcEndpointId", "CoreNetworkArn", "DestinationIpv6CidrBlock", "DestinationPrefixListId"} {
		if r.Form.Get(other) != "" {
			return nil, invalidValue("awsfront does not simulate %s", other)
		}
	}
	p, err := parseCIDR(dest, "destinationCidrBlock")
	if err != nil {
		return nil, err
	}
	rt, err := s.lookup(resRouteTable, region, tableID)
	if err != nil {
		return nil, err
	}
	if gw != "" {
		if !strings.HasPrefix(gw, "vgw-") {
			return nil, &ec2Err{400, "InvalidGatewayID.NotFound", fmt.Sprintf("The gateway ID '%s' does not exist", gw)}
		}
		if _, err := s.lookup(resVgw, region, gw); err != nil {
			return nil, err
		}
	} else if _, err := s.lookup(resPeering, region, pcx); err != nil {
		return nil, err
	}
	w := s.world()
	vpcID := rt.Attrs["vpc"]
	vpcCIDR, _ := s.vpcOf(w, region, vpcID)
	if inside(p, vpcCIDR) {
		return nil, invalidValue("The destination CIDR block %s is equal to or more specific than one of this VPC's CIDR blocks. This route can target only an interface or an instance.", dest)
	}
	if gw != "" && !attachedTo(w, region, gw, vpcID) {
		return nil, &ec2Err{400, "Gateway.NotAttached", fmt.Sprintf("resource %s is not attached to network %s", gw, vpcID)}
	}
	if pcx != "" {
		o, _ := w.get(kindPeering, objectName(resPeering, region, pcx))
		if o.Attrs["requester_vpc"] != vpcID && o.Attrs["accepter_vpc"] != vpcID {
			return nil, invalidValue("route table %s and network %s belong to different networks", tableID, pcx)
		}
	}
	existing := w.children(kindRoute, "table", rt.Name)
	for _, o := range existing {
		if o.Attrs["dest"] == p.String() {
			return nil, &ec2Err{400, "RouteAlreadyExists", fmt.Sprintf("The route identified by %s already exists.", dest)}
		}
	}
	if len(existing) >= maxRoutesPerTable {
		return nil, &ec2Err{400, "RouteLimitExceeded", "The maximum number of routes has been reached."}
	}
	if _, err := s.e.PutObject(cloudName, kindRoute, rt.Name+"/"+p.String(), map[string]string{
		"table": rt.Name, "dest": p.String(), "gateway": gw, "peering": pcx}); err != nil {
		return nil, engineErr(err, resRouteTable)
	}
	return replyTrue("CreateRoute", reqID), nil
}

func (s *server) deleteRoute(r *http.Request, region, reqID string) (any, error) {
	tableID, dest := r.Form.Get("RouteTableId"), r.Form.Get("DestinationCidrBlock")
	if tableID == "" {
		return nil, missing("routeTableId")
	}
	if dest == "" {
		return nil, missing("destinationCidrBlock")
	}
	p, err := parseCIDR(dest, "destinationCidrBlock")
	if err != nil {
		return nil, err
	}
	rt, err := s.lookup(resRouteTable, region, tableID)
	if err != nil {
		return nil, err
	}
	if err := s.e.DeleteObject(cloudName, kindRoute, rt.Name+"/"+p.String()); err != nil {
		if cloud.IsNotFound(err) {
			return nil, &ec2Err{400, "InvalidRoute.NotFound", fmt.Sprintf("no route with destination-cidr-block %s in route table %s", dest, tableID)}
		}
		return nil, engineErr(err, resRouteTable)
	}
	return replyTrue("DeleteRoute", reqID), nil
}

// enableVgwRoutePropagation lets a route table learn the routes of a
// virtual private gateway attached to its VPC.
func (s *server) enableVgwRoutePropagation(r *http.Request, region, reqID string) (any, error) {
	tableID, gw := r.Form.Get("RouteTableId"), r.Form.Get("GatewayId")
	if tableID == "" {
		return nil, missing("routeTableId")
	}
	if gw == "" {
		return nil, missing("gatewayId")
	}
	rt, err := s.lookup(resRouteTable, region, tableID)
	if err != nil {
		return nil, err
	}
	if _, err := s.lookup(resVgw, region, gw); err != nil {
		return nil, err
	}
	if !attachedTo(s.world(), region, gw, rt.Attrs["vpc"]) {
		return nil, &ec2Err{400, "Gateway.NotAttached", fmt.Sprintf("resource %s is not attached to network %s", gw, rt.Attrs["vpc"])}
	}
	if _, err := s.e.PutObject(cloudName, kindPropagate, rt.Name+"/"+gw, map[string]string{"table": rt.Name, "gateway": gw}); err != nil {
		return nil, engineErr(err, resRouteTable)
	}
	return replyTrue("EnableVgwRoutePropagation", reqID), nil
}

// ---- virtual private gateways ----

var vgwFilters = []string{"vpn-gateway-id", "state", "type", "attachment.state", "attachment.vpc-id", "amazon-side-asn", "availability-zone"}

func (s *server) vgwState(o cloudsim.Object) string {
	if s.since(o.Attrs["created"]) < s.times().Gateway {
		return "pending"
	}
	return "available"
}

// attachment is a virtual private gateway's attachment, if any.
func (s *server) attachment(o cloudsim.Object, w *world) (xVpcAttachment, bool) {
	att, ok := w.get(kindAttachment, o.Name)
	if !ok {
		return xVpcAttachment{}, false
	}
	st := "attached"
	if s.since(att.Attrs["created"]) < s.times().Attachment {
		st = "attaching"
	}
	return xVpcAttachment{VpcID: att.Attrs["vpc"], State: st}, true
}

func (s *server) vgwFields(o cloudsim.Object, w *world) map[string][]string {
	f := map[string][]string{"vpn-gateway-id": {o.Attrs["id"]}, "state": {s.vgwState(o)}, "type": {o.Attrs["type"]},
		"amazon-side-asn": {o.Attrs["asn"]}, "availability-zone": {o.Attrs["zone"]}}
	if att, ok := s.attachment(o, w); ok {
		f["attachment.state"], f["attachment.vpc-id"] = []string{att.State}, []string{att.VpcID}
	}
	return f
}

func (s *server) vgwXML(o cloudsim.Object, w *world) xVpnGateway {
	asn, _ := strconv.ParseInt(o.Attrs["asn"], 10, 64)
	x := xVpnGateway{VpnGatewayID: o.Attrs["id"], State: s.vgwState(o), Type: o.Attrs["type"], AmazonSideAsn: asn, Tags: xTags(w.tagsOf(o))}
	if att, ok := s.attachment(o, w); ok {
		x.Attachments = []xVpcAttachment{att}
	}
	return x
}

// privateASN reports a private ASN: 64512–65534 or 4200000000–4294967294.
func privateASN(n int64) bool {
	return (n >= 64512 && n <= 65534) || (n >= 4200000000 && n <= 4294967294)
}

func (s *server) createVpnGateway(r *http.Request, region, reqID string) (any, error) {
	typ := r.Form.Get("Type")
	if typ == "" {
		return nil, missing("type")
	}
	if typ != "ipsec.1" {
		return nil, invalidValue("Value (%s) for parameter type is invalid. Valid values: ipsec.1", typ)
	}
	asn := int64(64512)
	if v := r.Form.Get("AmazonSideAsn"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || !privateASN(n) {
			return nil, invalidValue("Value (%s) for parameter amazonSideAsn is invalid. It must be a private ASN: 64512-65534 or 4200000000-4294967294.", v)
		}
		asn = n
	}
	tags, err := parseTags(r, resVgw.tagType)
	if err != nil {
		return nil, err
	}
	w := s.world()
	if len(w.inRegion(kindVgw, region)) >= maxVpnGateways {
		return nil, &ec2Err{400, "VpnGatewayLimitExceeded", "The maximum number of virtual private gateways has been reached."}
	}
	id := newID("vgw", w)
	o, err := s.e.PutObject(cloudName, kindVgw, objectName(resVgw, region, id), withTags(map[string]string{
		"id": id, "region": region, "type": typ, "asn": strconv.FormatInt(asn, 10), "zone": r.Form.Get("AvailabilityZone"), "created": s.stamp()}, tags))
	if err != nil {
		return nil, engineErr(err, resVgw)
	}
	out := reply("CreateVpnGateway", reqID)
	x := s.vgwXML(o, w)
	out.VpnGateway = &x
	return out, nil
}

func (s *server) describeVpnGateways(r *http.Request, region, reqID string) (any, error) {
	objs, w, err := s.selectResources(r, region, resVgw, "VpnGatewayId", s.vgwFields, vgwFilters)
	if err != nil {
		return nil, err
	}
	out := reply("DescribeVpnGateways", reqID)
	out.VpnGateways = setOf([]xVpnGateway{}) // an empty <...Set/> when nothing matches, as EC2 answers
	for _, o := range objs {
		out.VpnGateways = addItem(out.VpnGateways, s.vgwXML(o, w))
	}
	return out, nil
}

// attachVpnGateway attaches an available gateway to a VPC (one gateway per
// VPC, one VPC per gateway); it is attaching for times().Attachment.
func (s *server) attachVpnGateway(r *http.Request, region, reqID string) (any, error) {
	gwID, vpcID := r.Form.Get("VpnGatewayId"), r.Form.Get("VpcId")
	if gwID == "" {
		return nil, missing("vpnGatewayId")
	}
	if vpcID == "" {
		return nil, missing("vpcId")
	}
	gw, err := s.lookup(resVgw, region, gwID)
	if err != nil {
		return nil, err
	}
	if _, err := s.lookup(resVpc, region, vpcID); err != nil {
		return nil, err
	}
	w := s.world()
	if st := s.vgwState(gw); st != "available" {
		return nil, incorrectState("The vpn gateway '%s' is in state %s; it must be available to be attached", gwID, st)
	}
	if att, ok := s.attachment(gw, w); ok {
		return nil, incorrectState("The vpn gateway '%s' is already attached to %s", gwID, att.VpcID)
	}
	if others := w.children(kindAttachment, "vpc", vpcID); len(others) > 0 {
		return nil, &ec2Err{400, "VpnGatewayAttachmentLimitExceeded",
			fmt.Sprintf("The VPC '%s' already has a virtual private gateway attached (%s)", vpcID, others[0].Attrs["gateway_id"])}
	}
	if _, err := s.e.PutObject(cloudName, kindAttachment, gw.Name, map[string]string{
		"gateway": gw.Name, "gateway_id": gwID, "vpc": vpcID, "created": s.stamp()}); err != nil {
		return nil, engineErr(err, resVgw)
	}
	out := reply("AttachVpnGateway", reqID)
	out.Attachment = &xVpcAttachment{VpcID: vpcID, State: "attaching"}
	return out, nil
}

// detachVpnGateway detaches a gateway at once; the route tables of the VPC
// stop propagating its routes, and routes to it become blackholes.
func (s *server) detachVpnGateway(r *http.Request, region, reqID string) (any, error) {
	gwID, vpcID := r.Form.Get("VpnGatewayId"), r.Form.Get("VpcId")
	if gwID == "" {
		return nil, missing("vpnGatewayId")
	}
	if vpcID == "" {
		return nil, missing("vpcId")
	}
	gw, err := s.lookup(resVgw, region, gwID)
	if err != nil {
		return nil, err
	}
	w := s.world()
	if !attachedTo(w, region, gwID, vpcID) {
		return nil, &ec2Err{400, "InvalidVpnGatewayAttachment.NotFound",
			fmt.Sprintf("The attachment with vpn gateway ID '%s' and vpc ID '%s' does not exist", gwID, vpcID)}
	}
	if err := s.e.DeleteObject(cloudName, kindAttachment, gw.Name); err != nil {
		return nil, engineErr(err, resVgw)
	}
	for _, rt := range w.children(kindRouteTable, "vpc", vpcID) {
		_ = s.e.DeleteObject(cloudName, kindPropagate, rt.Name+"/"+gwID)
	}
	return replyTrue("DetachVpnGateway", reqID), nil
}

func (s *server) deleteVpnGateway(r *http.Request, region, reqID string) (any, error) {
	gwID := r.Form.Get("VpnGatewayId")
	if gwID == "" {
		return nil, missing("vpnGatewayId")
	}
	gw, err := s.lookup(resVgw, region, gwID)
	if err != nil {
		return nil, err
	}
	w := s.world()
	if att, ok := s.attachment(gw, w); ok {
		return nil, incorrectState("The vpn gateway '%s' is attached to %s; detach it first", gwID, att.VpcID)
	}
	if conns := w.children(kindVpn, "vgw", gwID); len(conns) > 0 {
		return nil, incorrectState("The vpn gateway '%s' has VPN connections (%s); delete them first", gwID, conns[0].Attrs["id"])
	}
	if err := s.e.DeleteObject(cloudName, kindVgw, gw.Name); err != nil {
		return nil, engineErr(err, resVgw)
	}
	s.deleteChildren(w, gw.Name, nil)
	return replyTrue("DeleteVpnGateway", reqID), nil
}

// ---- customer gateways ----

var cgwFilters = []string{"customer-gateway-id", "ip-address", "bgp-asn", "state", "type", "device-name"}

func (s *server) cgwFields(o cloudsim.Object, _ *world) map[string][]string {
	a := o.Attrs
	return map[string][]string{"customer-gateway-id": {a["id"]}, "ip-address": {a["ip"]}, "bgp-asn": {a["asn"]}, "state": {"available"},
		"type": {a["type"]}, "device-name": {a["device"]}}
}

func (s *server) cgwXML(o cloudsim.Object, w *world) xCustomerGateway {
	a := o.Attrs
	x := xCustomerGateway{CustomerGatewayID: a["id"], State: "available", Type: a["type"], IPAddress: a["ip"], DeviceName: a["device"],
		Tags: xTags(w.tagsOf(o))}
	if n, _ := strconv.ParseInt(a["asn"], 10, 64); n <= math.MaxInt32 {
		x.BgpAsn = a["asn"]
	} else {
		x.BgpAsnExtended = a["asn"]
	}
	return x
}

// createCustomerGateway records a peer device: IpAddress (or PublicIp)
// and BgpAsn (or BgpAsnExtended; 65000 when neither is given).
func (s *server) createCustomerGateway(r *http.Request, region, reqID string) (any, error) {
	typ := r.Form.Get("Type")
	if typ == "" {
		return nil, missing("type")
	}
	if typ != "ipsec.1" {
		return nil, invalidValue("Value (%s) for parameter type is invalid. Valid values: ipsec.1", typ)
	}
	ip := r.Form.Get("IpAddress")
	if ip == "" {
		ip = r.Form.Get("PublicIp")
	}
	if ip == "" {
		return nil, missing("ipAddress")
	}
	if a, err := netip.ParseAddr(ip); err != nil || !a.Is4() {
		return nil, invalidValue("Value (%s) for parameter ipAddress is invalid. Invalid format.", ip)
	}
	asn := int64(65000)
	if v := r.Form.Get("BgpAsn"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 || n > math.MaxInt32 {
			return nil, invalidValue("Value (%s) for parameter bgpAsn is invalid.", v)
		}
		asn = n
	}
	if v := r.Form.Get("BgpAsnExtended"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= math.MaxInt32 || n > 4294967294 {
			return nil, invalidValue("Value (%s) for parameter bgpAsnExtended is invalid.", v)
		}
		asn = n
	}
	tags, err := parseTags(r, resCgw.tagType)
	if err != nil {
		return nil, err
	}
	w := s.world()
	if len(w.inRegion(kindCgw, region)) >= maxCustomerGateways {
		return nil, &ec2Err{400, "CustomerGatewayLimitExceeded", "The maximum number of customer gateways has been reached."}
	}
	id := newID("cgw", w)
	o, err := s.e.PutObject(cloudName, kindCgw, objectName(resCgw, region, id), withTags(map[string]string{
		"id": id, "region": region, "type": typ, "ip": ip, "asn": strconv.FormatInt(asn, 10), "device": r.Form.Get("DeviceName"),
		"created": s.stamp()}, tags))
	if err != nil {
		return nil, engineErr(err, resCgw)
	}
	out := reply("CreateCustomerGateway", reqID)
	x := s.cgwXML(o, w)
	out.CustomerGateway = &x
	return out, nil
}

func (s *server) describeCustomerGateways(r *http.Request, region, reqID string) (any, error) {
	objs, w, err := s.selectResources(r, region, resCgw, "CustomerGatewayId", s.cgwFields, cgwFilters)
	if err != nil {
		return nil, err
	}
	out := reply("DescribeCustomerGateways", reqID)
	out.CustomerGateways = setOf([]xCustomerGateway{}) // an empty <...Set/> when nothing matches, as EC2 answers
	for _, o := range objs {
		out.CustomerGateways = addItem(out.CustomerGateways, s.cgwXML(o, w))
	}
	return out, nil
}

func (s *server) deleteCustomerGateway(r *http.Request, region, reqID string) (any, error) {
	id := r.Form.Get("CustomerGatewayId")
	if id == "" {
		return nil, missing("customerGatewayId")
	}
	o, err := s.lookup(resCgw, region, id)
	if err != nil {
		return nil, err
	}
	w := s.world()
	if conns := w.children(kindVpn, "cgw", id); len(conns) > 0 {
		return nil, incorrectState("The customer gateway '%s' is in use by %s", id, conns[0].Attrs["id"])
	}
	if err := s.e.DeleteObject(cloudName, kindCgw, o.Name); err != nil {
		return nil, engineErr(err, resCgw)
	}
	s.deleteChildren(w, o.Name, nil)
	return replyTrue("DeleteCustomerGateway", reqID), nil
}

// ---- VPN connections ----

var vpnFilters = []string{"vpn-connection-id", "state", "customer-gateway-id", "vpn-gateway-id", "type", "option.static-routes-only", "category"}

var (
	linkLocal      = netip.MustParsePrefix("169.254.0.0/16")
	reservedTunnel = []netip.Prefix{
		netip.MustParsePrefix("169.254.0.0/30"), netip.MustParsePrefix("169.254.1.0/30"), netip.MustParsePrefix("169.254.2.0/30"),
		netip.MustParsePrefix("169.254.3.0/30"), netip.MustParsePrefix("169.254.4.0/30"), netip.MustParsePrefix("169.254.5.0/30"),
		netip.MustParsePrefix("169.254.169.252/30"),
	}
	pskPattern = regexp.MustCompile(`^[A-Za-z1-9._][A-Za-z0-9._]{7,63}$`)
)

// checkTunnelCIDR validates a TunnelInsideCidr.
func checkTunnelCIDR(v string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(v)
	if err != nil || !p.Addr().Is4() || p.Bits() != 30 || p.Masked() != p || !inside(p, linkLocal) {
		return netip.Prefix{}, invalidValue("The tunnel inside CIDR %s is invalid: it must be a /30 CIDR block in the 169.254.0.0/16 range.", v)
	}
	if slices.Contains(reservedTunnel, p) {
		return netip.Prefix{}, invalidValue("The tunnel inside CIDR %s is reserved and cannot be used.", v)
	}
	return p, nil
}

func checkPSK(v string) error {
	if !pskPattern.MatchString(v) {
		return invalidValue("Invalid PreSharedKey: it must be 8 to 64 characters of letters, digits, periods (.) and underscores (_), and cannot start with zero (0).")
	}
	return nil
}

// randomPSK is a key as AWS would choose one.
func randomPSK() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_."
	var b [32]byte
	_, _ = rand.Read(b[:])
	out := make([]byte, len(b))
	for i, c := range b {
		out[i] = alphabet[int(c)%len(alphabet)]
	}
	if out[0] == '0' || out[0] == '.' || out[0] == '_' {
		out[0] = 'k'
	}
	return string(out)
}

// freeTunnelCIDR is the first /30 of 169.254.10.0/23 not in use.
func freeTunnelCIDR(used map[netip.Prefix]bool) netip.Prefix {
	a := netip.MustParseAddr("169.254.10.0")
	for range 128 {
		p := netip.PrefixFrom(a, 30)
		if !used[p] {
			return p
		}
		for range 4 {
			a = a.Next()
		}
	}
	return netip.PrefixFrom(a, 30)
}

// insideIPs are the AWS and customer sides of a tunnel's /30.
func insideIPs(cidr string) (aws, customer string) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return "", ""
	}
	first := p.Addr().Next()
	return first.String(), first.Next().String()
}

func (s *server) vpnState(o cloudsim.Object) string {
	if s.since(o.Attrs["created"]) < s.times().Connection {
		return "pending"
	}
	return "available"
}

func tunnelEndID(vpnID string, i int) string { return fmt.Sprintf("%s/%d", vpnID, i) }

// vpnTunnel is one of a connection's two tunnels as it stands: created
// with the connection, or changed since by ModifyVpnTunnelOptions
// (modified is then the change's time).
type vpnTunnel struct {
	outsideIP, cidr, psk, modified string
}

func tunnelModName(vpn string, i int) string { return fmt.Sprintf("%s/%d", vpn, i) }

// vpnTunnels are a connection's tunnels 1 and 2 (indices 0 and 1).
func vpnTunnels(w *world, o cloudsim.Object) [2]vpnTunnel {
	var out [2]vpnTunnel
	for i := range out {
		p := fmt.Sprintf("tunnel%d_", i+1)
		out[i] = vpnTunnel{outsideIP: o.Attrs[p+"outside_ip"], cidr: o.Attrs[p+"cidr"], psk: o.Attrs[p+"psk"]}
		if m, ok := w.get(kindTunnelMod, tunnelModName(o.Name, i+1)); ok {
			out[i].cidr, out[i].psk, out[i].modified = m.Attrs["cidr"], m.Attrs["psk"], m.Attrs["modified"]
		}
	}
	return out
}

func (s *server) vpnFields(o cloudsim.Object, _ *world) map[string][]string {
	a := o.Attrs
	return map[string][]string{"vpn-connection-id": {a["id"]}, "state": {s.vpnState(o)}, "customer-gateway-id": {a["cgw"]},
		"vpn-gateway-id": {a["vgw"]}, "type": {a["type"]}, "option.static-routes-only": {a["static_routes_only"]}, "category": {"VPN"}}
}

// vpnXML reports a connection with its tunnels: UP once it is available
// and the engine sees a mirroring end.
func (s *server) vpnXML(o cloudsim.Object, w *world) xVpnConnection {
	a := o.Attrs
	x := xVpnConnection{VpnConnectionID: a["id"], State: s.vpnState(o), Type: a["type"], Category: "VPN", CustomerGatewayID: a["cgw"],
		VpnGatewayID: a["vgw"], Tags: xTags(w.tagsOf(o))}
	x.Options.StaticRoutesOnly = a["static_routes_only"] == "true"
	x.Options.TunnelInsideIPVersion = "ipv4"
	for n, tn := range vpnTunnels(w, o) {
		i := n + 1
		x.Options.Tunnels = append(x.Options.Tunnels, xTunnelOption{OutsideIPAddress: tn.outsideIP, TunnelInsideCidr: tn.cidr, PreSharedKey: tn.psk})
		ready := later(a["created"], s.times().Connection)
		if tn.modified != "" {
			ready = later(tn.modified, s.times().Connection)
		}
		t := xTelemetry{OutsideIPAddress: tn.outsideIP, Status: "DOWN", LastStatusChange: ec2Time(ready)}
		switch {
		case x.State == "available" && tn.modified != "" && s.since(tn.modified) < s.times().Connection:
			t.StatusMessage, t.LastStatusChange = "modifying the tunnel's options", ec2Time(tn.modified)
		case x.State == "available":
			up, detail := s.e.TunnelStatus(cloudName, tunnelEndID(a["id"], i))
			t.StatusMessage = detail
			if up {
				t.Status = "UP"
			}
		default:
			t.StatusMessage, t.LastStatusChange = "", ec2Time(a["created"])
		}
		x.Telemetry = append(x.Telemetry, t)
	}
	return x
}

// createVpnConnection connects a virtual private gateway to a customer
// gateway with two tunnels (see the doc comment for the checks).
func (s *server) createVpnConnection(r *http.Request, region, reqID string) (any, error) {
	typ, cgwID, vgwID := r.Form.Get("Type"), r.Form.Get("CustomerGatewayId"), r.Form.Get("VpnGatewayId")
	switch {
	case typ == "":
		return nil, missing("type")
	case typ != "ipsec.1":
		return nil, invalidValue("Value (%s) for parameter type is invalid. Valid values: ipsec.1", typ)
	case cgwID == "":
		return nil, missing("customerGatewayId")
	case r.Form.Get("TransitGatewayId") != "":
		return nil, invalidValue("awsfront simulates VPN connections to virtual private gateways only")
	case vgwID == "":
		return nil, missing("vpnGatewayId")
	}
	static := "false"
	if v := r.Form.Get("Options.StaticRoutesOnly"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, invalidValue("Value (%s) for parameter staticRoutesOnly is invalid.", v)
		}
		static = strconv.FormatBool(b)
	}
	opts := indices(r, "Options.TunnelOptions")
	if len(opts) > 2 {
		return nil, invalidValue("A VPN connection has two tunnels; %d tunnel options were given.", len(opts))
	}
	type tunnel struct{ cidr, psk string }
	var tunnels []tunnel
	mine := map[netip.Prefix]bool{}
	for _, n := range opts {
		p := fmt.Sprintf("Options.TunnelOptions.%d.", n)
		t := tunnel{r.Form.Get(p + "TunnelInsideCidr"), r.Form.Get(p + "PreSharedKey")}
		if t.cidr != "" {
			c, err := checkTunnelCIDR(t.cidr)
			if err != nil {
				return nil, err
			}
			if mine[c] {
				return nil, invalidValue("The tunnel inside CIDR %s is given for both tunnels.", t.cidr)
			}
			mine[c] = true
		}
		if t.psk != "" {
			if err := checkPSK(t.psk); err != nil {
				return nil, err
			}
		}
		tunnels = append(tunnels, t)
	}
	tags, err := parseTags(r, resVpn.tagType)
	if err != nil {
		return nil, err
	}
	cgw, err := s.lookup(resCgw, region, cgwID)
	if err != nil {
		return nil, err
	}
	vgw, err := s.lookup(resVgw, region, vgwID)
	if err != nil {
		return nil, err
	}
	if st := s.vgwState(vgw); st != "available" {
		return nil, incorrectState("The vpn gateway '%s' is in state %s; it must be available", vgwID, st)
	}
	w := s.world()
	if len(w.inRegion(kindVpn, region)) >= maxVpnConnections {
		return nil, &ec2Err{400, "VpnConnectionLimitExceeded", "The maximum number of VPN connections has been reached."}
	}
	used := usedTunnelCIDRs(w, vgwID, "")
	for c := range mine {
		if used[c] {
			return nil, invalidValue("The tunnel inside CIDR %s is already used by another VPN connection of %s.", c, vgwID)
		}
	}
	for len(tunnels) < 2 {
		tunnels = append(tunnels, tunnel{})
	}
	for i := range tunnels {
		if tunnels[i].cidr == "" {
			c := freeTunnelCIDR(func() map[netip.Prefix]bool {
				all := maps.Clone(used)
				maps.Copy(all, mine)
				return all
			}())
			mine[c] = true
			tunnels[i].cidr = c.String()
		}
		if tunnels[i].psk == "" {
			tunnels[i].psk = randomPSK()
		}
	}
	id := newID("vpn", w)
	attrs := withTags(map[string]string{"id": id, "region": region, "type": typ, "cgw": cgwID, "vgw": vgwID, "static_routes_only": static,
		"created": s.stamp()}, tags)
	for i, t := range tunnels {
		p := fmt.Sprintf("tunnel%d_", i+1)
		attrs[p+"cidr"], attrs[p+"psk"], attrs[p+"outside_ip"] = t.cidr, t.psk, s.e.AllocatePublicIP()
	}
	o, err := s.e.PutObject(cloudName, kindVpn, objectName(resVpn, region, id), attrs)
	if err != nil {
		return nil, engineErr(err, resVpn)
	}
	for i, t := range tunnels {
		s.registerTunnel(o, i+1, attrs[fmt.Sprintf("tunnel%d_outside_ip", i+1)], t.cidr, t.psk, vgw, cgw)
	}
	out := reply("CreateVpnConnection", reqID)
	x := s.vpnXML(o, w)
	out.VpnConnection = &x
	return out, nil
}

// usedTunnelCIDRs are the inside CIDRs of the tunnels of a virtual private
// gateway's connections, but for tunnel skip ("<vpn name>/<n>").
func usedTunnelCIDRs(w *world, vgwID, skip string) map[netip.Prefix]bool {
	used := map[netip.Prefix]bool{}
	for _, c := range w.children(kindVpn, "vgw", vgwID) {
		for n, tn := range vpnTunnels(w, c) {
			if tunnelModName(c.Name, n+1) == skip {
				continue
			}
			if p, err := netip.ParsePrefix(tn.cidr); err == nil {
				used[p] = true
			}
		}
	}
	return used
}

// modifyVpnTunnelOptions sets the inside CIDR and key of the tunnel of a
// connection with the given outside address (see the doc comment).
func (s *server) modifyVpnTunnelOptions(r *http.Request, region, reqID string) (any, error) {
	id, outside := r.Form.Get("VpnConnectionId"), r.Form.Get("VpnTunnelOutsideIpAddress")
	switch {
	case id == "":
		return nil, missing("vpnConnectionId")
	case outside == "":
		return nil, missing("vpnTunnelOutsideIpAddress")
	case len(indices(r, "TunnelOptions")) > 0:
		return nil, invalidValue("TunnelOptions is one tunnel's options, not a list.")
	}
	var known []string
	for k := range r.Form {
		if strings.HasPrefix(k, "TunnelOptions.") {
			known = append(known, k)
		}
	}
	if len(known) == 0 {
		return nil, missing("tunnelOptions")
	}
	for _, k := range known {
		if k != "TunnelOptions.TunnelInsideCidr" && k != "TunnelOptions.PreSharedKey" {
			return nil, invalidValue("awsfront simulates changing TunnelInsideCidr and PreSharedKey only, not %s.", strings.TrimPrefix(k, "TunnelOptions."))
		}
	}
	o, err := s.lookup(resVpn, region, id)
	if err != nil {
		return nil, err
	}
	if st := s.vpnState(o); st != "available" {
		return nil, incorrectState("The VPN connection %s is in state %s; its tunnel options can be modified once it is available.", id, st)
	}
	w := s.world()
	tunnels := vpnTunnels(w, o)
	n := slices.IndexFunc(tunnels[:], func(t vpnTunnel) bool { return t.outsideIP == outside })
	if n < 0 {
		return nil, invalidValue("The VPN tunnel outside IP address %s does not belong to VPN connection %s.", outside, id)
	}
	tn := tunnels[n]
	if tn.modified != "" && s.since(tn.modified) < s.times().Connection {
		return nil, incorrectState("The tunnel %s of VPN connection %s is still being modified.", outside, id)
	}
	cidr, psk := tn.cidr, tn.psk
	if v := r.Form.Get("TunnelOptions.TunnelInsideCidr"); v != "" {
		c, err := checkTunnelCIDR(v)
		if err != nil {
			return nil, err
		}
		if usedTunnelCIDRs(w, o.Attrs["vgw"], tunnelModName(o.Name, n+1))[c] {
			return nil, invalidValue("The tunnel inside CIDR %s is already used by a VPN connection of %s.", v, o.Attrs["vgw"])
		}
		cidr = c.String()
	}
	if v := r.Form.Get("TunnelOptions.PreSharedKey"); v != "" {
		if err := checkPSK(v); err != nil {
			return nil, err
		}
		psk = v
	}
	name := tunnelModName(o.Name, n+1)
	if _, ok := w.get(kindTunnelMod, name); ok {
		if err := s.e.DeleteObject(cloudName, kindTunnelMod, name); err != nil && !cloud.IsNotFound(err) {
			return nil, engineErr(err, resVpn)
		}
	}
	if _, err := s.e.PutObject(cloudName, kindTunnelMod, name, map[string]string{"connection": o.Name, "cidr": cidr, "psk": psk, "modified": s.stamp()}); err != nil {
		return nil, engineErr(err, resVpn)
	}
	cgw, _ := w.get(kindCgw, objectName(resCgw, region, o.Attrs["cgw"]))
	vgw, _ := w.get(kindVgw, objectName(resVgw, region, o.Attrs["vgw"]))
	s.registerTunnel(o, n+1, outside, cidr, psk, vgw, cgw)
	w = s.world()
	out := reply("ModifyVpnTunnelOptions", reqID)
	x := s.vpnXML(o, w)
	out.VpnConnection = &x
	return out, nil
}

// registerTunnel registers tunnel n of a connection with the engine.
func (s *server) registerTunnel(o cloudsim.Object, n int, outside, cidr, psk string, vgw, cgw cloudsim.Object) {
	localASN, _ := strconv.ParseInt(vgw.Attrs["asn"], 10, 64)
	peerASN, _ := strconv.ParseInt(cgw.Attrs["asn"], 10, 64)
	awsSide, customer := insideIPs(cidr)
	s.e.RegisterTunnelEnd(cloudsim.TunnelEnd{Cloud: cloudName, ID: tunnelEndID(o.Attrs["id"], n), LocalIP: outside, PeerIP: cgw.Attrs["ip"],
		LocalInsideIP: awsSide, PeerInsideIP: customer, PSK: psk, LocalASN: localASN, PeerASN: peerASN})
}

func (s *server) describeVpnConnections(r *http.Request, region, reqID string) (any, error) {
	objs, w, err := s.selectResources(r, region, resVpn, "VpnConnectionId", s.vpnFields, vpnFilters)
	if err != nil {
		return nil, err
	}
	out := reply("DescribeVpnConnections", reqID)
	out.VpnConnections = setOf([]xVpnConnection{}) // an empty <...Set/> when nothing matches, as EC2 answers
	for _, o := range objs {
		out.VpnConnections = addItem(out.VpnConnections, s.vpnXML(o, w))
	}
	return out, nil
}

func (s *server) deleteVpnConnection(r *http.Request, region, reqID string) (any, error) {
	id := r.Form.Get("VpnConnectionId")
	if id == "" {
		return nil, missing("vpnConnectionId")
	}
	o, err := s.lookup(resVpn, region, id)
	if err != nil {
		return nil, err
	}
	w := s.world()
	if err := s.e.DeleteObject(cloudName, kindVpn, o.Name); err != nil {
		return nil, engineErr(err, resVpn)
	}
	for i := 1; i <= 2; i++ {
		s.e.UnregisterTunnelEnd(cloudName, tunnelEndID(id, i))
	}
	s.deleteChildren(w, o.Name, map[string]string{kindTunnelMod: "connection"})
	return replyTrue("DeleteVpnConnection", reqID), nil
}

// ---- VPC peering connections ----

var peeringFilters = []string{"vpc-peering-connection-id", "status-code", "status-message", "expiration-time",
	"requester-vpc-info.vpc-id", "requester-vpc-info.cidr-block", "requester-vpc-info.owner-id",
	"accepter-vpc-info.vpc-id", "accepter-vpc-info.cidr-block", "accepter-vpc-info.owner-id"}

// peeringStatus is a peering's status code and message.
func (s *server) peeringStatus(w *world, o cloudsim.Object) (string, string) {
	switch _, accepted := w.get(kindAccept, o.Name); {
	case o.Attrs["failed"] != "":
		return "failed", o.Attrs["failed"]
	case accepted:
		return "active", "Active"
	case s.since(o.Attrs["created"]) >= peeringExpiry:
		return "expired", "Expired"
	}
	return "pending-acceptance", "Pending Acceptance by " + s.opts.AccountID
}

func (s *server) peeringFields(o cloudsim.Object, w *world) map[string][]string {
	a := o.Attrs
	code, msg := s.peeringStatus(w, o)
	return map[string][]string{"vpc-peering-connection-id": {a["id"]}, "status-code": {code}, "status-message": {msg},
		"expiration-time":           {ec2Time(later(a["created"], peeringExpiry))},
		"requester-vpc-info.vpc-id": {a["requester_vpc"]}, "requester-vpc-info.cidr-block": {a["requester_cidr"]}, "requester-vpc-info.owner-id": {s.opts.AccountID},
		"accepter-vpc-info.vpc-id": {a["accepter_vpc"]}, "accepter-vpc-info.cidr-block": {a["accepter_cidr"]}, "accepter-vpc-info.owner-id": {s.opts.AccountID}}
}

func (s *server) peeringXML(o cloudsim.Object, w *world) xPeering {
	a := o.Attrs
	side := func(p string) xPeeringVpc {
		v := xPeeringVpc{VpcID: a[p+"_vpc"], CidrBlock: a[p+"_cidr"], OwnerID: s.opts.AccountID, Region: a[p+"_region"]}
		v.CidrSet = append(v.CidrSet, struct {
			CidrBlock string `xml:"cidrBlock"`
		}{a[p+"_cidr"]})
		return v
	}
	x := xPeering{ID: a["id"], Requester: side("requester"), Accepter: side("accepter"), Tags: xTags(w.tagsOf(o))}
	x.Status.Code, x.Status.Message = s.peeringStatus(w, o)
	if x.Status.Code == "pending-acceptance" {
		x.ExpirationTime = ec2Time(later(a["created"], peeringExpiry))
	}
	return x
}

// createPeering requests a peering of VpcId (this region) with PeerVpcId
// (PeerRegion, this one by default). Overlapping CIDRs make it failed.
func (s *server) createPeering(r *http.Request, region, reqID string) (any, error) {
	vpcID, peerID := r.Form.Get("VpcId"), r.Form.Get("PeerVpcId")
	peerRegion := r.Form.Get("PeerRegion")
	if peerRegion == "" {
		peerRegion = region
	}
	switch {
	case vpcID == "":
		return nil, missing("vpcId")
	case peerID == "":
		return nil, missing("peerVpcId")
	case r.Form.Get("PeerOwnerId") != "" && r.Form.Get("PeerOwnerId") != s.opts.AccountID:
		return nil, invalidValue("awsfront simulates one account (%s); peering with %s is not simulated", s.opts.AccountID, r.Form.Get("PeerOwnerId"))
	case vpcID == peerID:
		return nil, invalidValue("A VPC cannot be peered with itself (%s)", vpcID)
	}
	tags, err := parseTags(r, resPeering.tagType)
	if err != nil {
		return nil, err
	}
	if _, err := s.lookup(resVpc, region, vpcID); err != nil {
		return nil, err
	}
	if _, err := s.lookup(resVpc, peerRegion, peerID); err != nil {
		return nil, err
	}
	w := s.world()
	for _, p := range w.byKind[kindPeering] {
		a := p.Attrs
		if ((a["requester_vpc"] == vpcID && a["accepter_vpc"] == peerID) || (a["requester_vpc"] == peerID && a["accepter_vpc"] == vpcID)) && s.livePeering(w, p) {
			return nil, &ec2Err{400, "VpcPeeringConnectionAlreadyExists",
				fmt.Sprintf("A VPC peering connection between %s and %s already exists: %s", vpcID, peerID, a["id"])}
		}
	}
	mine, _ := s.vpcOf(w, region, vpcID)
	theirs, _ := s.vpcOf(w, peerRegion, peerID)
	failed := ""
	if mine.Overlaps(theirs) {
		failed = fmt.Sprintf("Overlapping CIDR range: %s overlaps %s", mine, theirs)
	}
	id := newID("pcx", w)
	o, err := s.e.PutObject(cloudName, kindPeering, objectName(resPeering, region, id), withTags(map[string]string{
		"id": id, "requester_region": region, "requester_vpc": vpcID, "requester_cidr": mine.String(),
		"accepter_region": peerRegion, "accepter_vpc": peerID, "accepter_cidr": theirs.String(), "failed": failed, "created": s.stamp()}, tags))
	if err != nil {
		return nil, engineErr(err, resPeering)
	}
	out := reply("CreateVpcPeeringConnection", reqID)
	x := s.peeringXML(o, w)
	if failed == "" {
		x.Status.Code, x.Status.Message = "initiating-request", "Initiating Request to "+s.opts.AccountID
	}
	out.Peering = &x
	return out, nil
}

// acceptPeering accepts a pending peering from the accepter's region.
func (s *server) acceptPeering(r *http.Request, region, reqID string) (any, error) {
	id := r.Form.Get("VpcPeeringConnectionId")
	if id == "" {
		return nil, missing("vpcPeeringConnectionId")
	}
	o, err := s.lookup(resPeering, region, id)
	if err != nil {
		return nil, err
	}
	if o.Attrs["accepter_region"] != region {
		return nil, &ec2Err{400, "OperationNotPermitted",
			fmt.Sprintf("User %s cannot accept peering %s in %s: it is accepted in %s", s.opts.AccountID, id, region, o.Attrs["accepter_region"])}
	}
	w := s.world()
	if st, _ := s.peeringStatus(w, o); st != "pending-acceptance" {
		return nil, &ec2Err{400, "InvalidStateTransition", fmt.Sprintf("Invalid state transition for %s, attempted to transition from %s to active", id, st)}
	}
	if _, err := s.e.PutObject(cloudName, kindAccept, o.Name, map[string]string{"peering": o.Name, "accepted": s.stamp()}); err != nil {
		return nil, engineErr(err, resPeering)
	}
	out := reply("AcceptVpcPeeringConnection", reqID)
	x := s.peeringXML(o, s.world())
	out.Peering = &x
	return out, nil
}

func (s *server) describePeerings(r *http.Request, region, reqID string) (any, error) {
	objs, w, err := s.selectResources(r, region, resPeering, "VpcPeeringConnectionId", s.peeringFields, peeringFilters)
	if err != nil {
		return nil, err
	}
	objs, next, err := describePage(r, objs)
	if err != nil {
		return nil, err
	}
	out := reply("DescribeVpcPeeringConnections", reqID)
	out.NextToken = next
	out.Peerings = setOf([]xPeering{}) // an empty <...Set/> when nothing matches, as EC2 answers
	for _, o := range objs {
		out.Peerings = addItem(out.Peerings, s.peeringXML(o, w))
	}
	return out, nil
}

// deletePeering deletes a peering from either side; routes to it become
// blackholes.
func (s *server) deletePeering(r *http.Request, region, reqID string) (any, error) {
	id := r.Form.Get("VpcPeeringConnectionId")
	if id == "" {
		return nil, missing("vpcPeeringConnectionId")
	}
	o, err := s.lookup(resPeering, region, id)
	if err != nil {
		return nil, err
	}
	w := s.world()
	if err := s.e.DeleteObject(cloudName, kindPeering, o.Name); err != nil {
		return nil, engineErr(err, resPeering)
	}
	s.deleteChildren(w, o.Name, map[string]string{kindAccept: "peering"})
	return replyTrue("DeleteVpcPeeringConnection", reqID), nil
}

// ---- tags ----

// createTags sets Tag.N.Key/Value on the resources ResourceId.N (any of
// the kinds above).
func (s *server) createTags(r *http.Request, region, reqID string) (any, error) {
	ids := formList(r, "ResourceId")
	if len(ids) == 0 {
		return nil, missing("resourceIdSet")
	}
	tags := map[string]string{}
	for _, n := range indices(r, "Tag") {
		tags[r.Form.Get(fmt.Sprintf("Tag.%d.Key", n))] = r.Form.Get(fmt.Sprintf("Tag.%d.Value", n))
	}
	if len(tags) == 0 {
		return nil, missing("tagSet")
	}
	if err := checkTags(tags); err != nil {
		return nil, err
	}
	var objs []cloudsim.Object
	for _, id := range ids {
		prefix, _, _ := strings.Cut(id, "-")
		k, ok := resourcesByPrefix[prefix]
		if !ok {
			return nil, &ec2Err{400, "InvalidID", fmt.Sprintf("The ID '%s' is not valid", id)}
		}
		o, err := s.lookup(k, region, id)
		if err != nil {
			return nil, err
		}
		objs = append(objs, o)
	}
	w := s.world()
	for _, o := range objs {
		have := w.tagsOf(o)
		if n := len(have); n+len(tags) > 50 {
			merged := maps.Clone(have)
			maps.Copy(merged, tags)
			if len(merged) > 50 {
				return nil, &ec2Err{400, "TagLimitExceeded", fmt.Sprintf("The maximum number of Tags for %s has been reached.", o.Attrs["id"])}
			}
		}
		for _, k := range sortedKeys(tags) {
			v, had := have[k]
			if had && v == tags[k] {
				continue
			}
			name := o.Name + "/" + k
			if _, ok := w.get(kindTag, name); ok {
				if err := s.e.DeleteObject(cloudName, kindTag, name); err != nil && !cloud.IsNotFound(err) {
					return nil, ec2Error(err, "InvalidID", "IncorrectState")
				}
			}
			if _, err := s.e.PutObject(cloudName, kindTag, name, map[string]string{"resource": o.Name, "key": k, "value": tags[k]}); err != nil {
				return nil, ec2Error(err, "InvalidID", "IncorrectState")
			}
		}
	}
	return replyTrue("CreateTags", reqID), nil
}
