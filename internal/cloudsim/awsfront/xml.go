package awsfront

import (
	"encoding/xml"
)

// The XML replies of the network actions.

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

func xTags(tags map[string]string) []xTag {
	var out []xTag
	for _, k := range sortedKeys(tags) {
		out = append(out, xTag{k, tags[k]})
	}
	return out
}
