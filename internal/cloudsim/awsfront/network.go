package awsfront

// EC2 networking: VPCs, subnets, security groups, route tables, virtual
// private gateways, customer gateways, site-to-site VPN connections and VPC
// peering connections, over the same EC2 query protocol as launch
// templates (ec2.go). Only what gpufleet's cross-cloud mesh needs is
// simulated, but that part behaves like EC2: AWS-shaped IDs, EC2 error
// codes and validations, states that change on the engine's clock, and the
// Filter.N.Name / Filter.N.Value.M filters (with * and ? wildcards).
//
// This file holds the action table, kinds, quotas and shared errors; each
// resource kind has its own file (vpc.go, subnet.go, security_group.go,
// routes.go, vpn_gateway.go, customer_gateway.go, vpn_connection.go,
// peering.go), sharing world.go (lookups), filters.go, tags.go and xml.go.
//
// Tables (cloud "aws", store.go), one per kind, each row a model value
// (model.go). Every resource is one row holding its creation-time
// settings, which never change afterwards; what changes is kept in child
// rows that come and go, so that no change is a delete and re-create of
// the resource. Regional rows are named region/ID; VPC peering
// connections, which both regions see, global/ID.
//
//   - "Vpc" (vpc-…). CreateVpc also creates its main route table,
//     "RouteTable" (rtb-…, main), deleted with it.
//   - "Subnet" (subnet-…), "SecurityGroup" (sg-…), "VpnGateway" (vgw-…),
//     "CustomerGateway" (cgw-…), "VpnConnection" (vpn-…; tunnel outside
//     addresses, inside CIDRs and keys), "VpcPeeringConnection" (pcx-…).
//   - Children, named after their parent's row: "SecurityGroupRule"
//     (sgr-…, one per ingress protocol/port range/CIDR), "Route" (one per
//     destination of a route table), "RoutePropagation" (route table ×
//     virtual private gateway), "VpcAttachment" (a virtual private
//     gateway's attachment), "VpcPeeringConnectionAcceptance" (an accepted
//     peering), "Tag" (a tag set by CreateTags; tags given at creation are
//     the resource's own). Children go with their parent.
//
// A world written before the tables kept each row as an engine object of
// the same kind and name with flat attrs; opening the tables moves them in
// (legacy.go).
//
// IDs are the prefix and 17 random hex digits. Creation times are kept
// in the rows, and states are derived from them on the engine's clock
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
// own Delete<Kind> does that, and the request then answers InternalError
// (500) naming what stayed.

import (
	"fmt"
	"net/http"
	"net/netip"
	"sync"
	"time"
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
)

type networkHandler func(s *server, r *http.Request, region, reqID string) (any, error)

// worldHandler serves a network action over w, the world as the request
// finds it (a handler that reports its own change reads it again).
type worldHandler func(s *server, r *http.Request, region, reqID string, w *world) (any, error)

// overWorld reads the world for h.
func overWorld(h worldHandler) networkHandler {
	return func(s *server, r *http.Request, region, reqID string) (any, error) {
		w, err := s.world()
		if err != nil {
			return nil, err
		}
		return h(s, r, region, reqID, w)
	}
}

// networkActions are the EC2 actions served here; serveEC2 routes to them.
var networkActions = map[string]networkHandler{
	"CreateVpc":                     overWorld((*server).createVpc),
	"DescribeVpcs":                  overWorld(describeVpcs),
	"DeleteVpc":                     overWorld(deleteVpc),
	"CreateSubnet":                  overWorld((*server).createSubnet),
	"DescribeSubnets":               overWorld(describeSubnets),
	"DeleteSubnet":                  overWorld(deleteSubnet),
	"CreateSecurityGroup":           overWorld((*server).createSecurityGroup),
	"DescribeSecurityGroups":        overWorld(describeSecurityGroups),
	"AuthorizeSecurityGroupIngress": overWorld((*server).authorizeIngress),
	"RevokeSecurityGroupIngress":    overWorld((*server).revokeIngress),
	"DeleteSecurityGroup":           overWorld(deleteSecurityGroup),
	"DescribeRouteTables":           overWorld(describeRouteTables),
	"CreateRoute":                   overWorld((*server).createRoute),
	"DeleteRoute":                   overWorld((*server).deleteRoute),
	"EnableVgwRoutePropagation":     overWorld((*server).enableVgwRoutePropagation),
	"CreateVpnGateway":              overWorld((*server).createVpnGateway),
	"AttachVpnGateway":              overWorld((*server).attachVpnGateway),
	"DetachVpnGateway":              overWorld((*server).detachVpnGateway),
	"DescribeVpnGateways":           overWorld(describeVpnGateways),
	"DeleteVpnGateway":              overWorld(deleteVpnGateway),
	"CreateCustomerGateway":         overWorld((*server).createCustomerGateway),
	"DescribeCustomerGateways":      overWorld(describeCustomerGateways),
	"DeleteCustomerGateway":         overWorld(deleteCustomerGateway),
	"CreateVpnConnection":           overWorld((*server).createVpnConnection),
	"DescribeVpnConnections":        overWorld(describeVpnConnections),
	"DeleteVpnConnection":           overWorld(deleteVpnConnection),
	"ModifyVpnTunnelOptions":        overWorld((*server).modifyVpnTunnelOptions),
	"CreateVpcPeeringConnection":    overWorld((*server).createPeering),
	"AcceptVpcPeeringConnection":    overWorld((*server).acceptPeering),
	"DescribeVpcPeeringConnections": overWorld(describePeerings),
	"DeleteVpcPeeringConnection":    overWorld(deletePeering),
	"CreateTags":                    overWorld((*server).createTags),
}

func init() {
	for a := range networkActions {
		ec2Actions[a] = true
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

// Errors.

func missing(param string) error {
	return &ec2Err{400, "MissingParameter", fmt.Sprintf("The request must contain the parameter %s", param)}
}

// required reads required parameters, given as pairs of the parameter and
// its name in EC2's MissingParameter message; the first one missing is
// MissingParameter.
func required(r *http.Request, pairs ...string) ([]string, error) {
	out := make([]string, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		v := r.Form.Get(pairs[i])
		if v == "" {
			return nil, missing(pairs[i+1])
		}
		out = append(out, v)
	}
	return out, nil
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

// Time and addresses.

// since is how long ago t was.
func (s *server) since(t time.Time) time.Duration { return s.now().Sub(t) }

// ec2Time is a time as EC2 writes it.
func ec2Time(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

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

// internalErr is EC2's InternalError (HTTP 500, "An internal error has
// occurred", https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html),
// which the SDKs retry: the answer when the engine cannot finish what a
// request began (remove a deleted resource's children, undo a create
// that failed half-way), so that nothing is left behind unreported.
func internalErr(what string, err error) error {
	return &ec2Err{500, "InternalError", what + ": " + err.Error()}
}

// vpcCIDR is the CIDR block of a VPC of the region (invalid when there is
// none).
func (w *world) vpcCIDR(region, vpcID string) netip.Prefix {
	v, _ := w.vpcs.get(vpcs.name(region, vpcID))
	return v.prefix()
}
