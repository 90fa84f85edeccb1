package azurefront

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// Public IP addresses, virtual network gateways, local network gateways
// and connections (see network.go for the mapping).

// pipProps is a public IP address as stored.
type pipProps struct {
	Address     string   `json:"address"`
	SKU         string   `json:"sku"`
	Tier        string   `json:"tier"`
	Allocation  string   `json:"allocation"`
	Version     string   `json:"version"`
	Zones       []string `json:"zones,omitempty"`
	IdleTimeout int      `json:"idleTimeout"`
}

func (s *server) putPIP(w *netWorld, r *netRecord, old netRecord, existed bool, body netBody) error {
	var b struct {
		PublicIPAllocationMethod string `json:"publicIPAllocationMethod"`
		PublicIPAddressVersion   string `json:"publicIPAddressVersion"`
		IdleTimeoutInMinutes     int    `json:"idleTimeoutInMinutes"`
	}
	if err := props(body.Properties, &b); err != nil {
		return err
	}
	p := &pipProps{SKU: "Standard", Tier: "Regional", Version: "IPv4", IdleTimeout: 4, Zones: body.Zones}
	var ok bool
	if body.SKU != nil && body.SKU.Name != "" {
		if p.SKU, ok = canonical(body.SKU.Name, "Basic", "Standard"); !ok {
			return newErr(400, "InvalidRequestFormat", "Cannot parse the request: public IP address SKU %q is not Basic or Standard.", body.SKU.Name)
		}
	}
	if body.SKU != nil && body.SKU.Tier != "" {
		if p.Tier, ok = canonical(body.SKU.Tier, "Regional", "Global"); !ok {
			return newErr(400, "InvalidRequestFormat", "Cannot parse the request: public IP address SKU tier %q is not Regional or Global.", body.SKU.Tier)
		}
	}
	p.Allocation = "Static"
	if p.SKU == "Basic" {
		p.Allocation = "Dynamic"
	}
	if b.PublicIPAllocationMethod != "" {
		if p.Allocation, ok = canonical(b.PublicIPAllocationMethod, "Static", "Dynamic"); !ok {
			return newErr(400, "InvalidRequestFormat", "Cannot parse the request: publicIPAllocationMethod %q is not Static or Dynamic.", b.PublicIPAllocationMethod)
		}
	}
	if p.SKU == "Standard" && p.Allocation != "Static" {
		return newErr(400, "StandardSkuPublicIPAddressesMustBeStatic",
			"Standard sku publicIp %s must have AllocationMethod set to Static.", r.id(w.sub))
	}
	if b.PublicIPAddressVersion != "" && !strings.EqualFold(b.PublicIPAddressVersion, "IPv4") {
		return newErr(400, "InvalidRequestFormat", "Cannot parse the request: cloudsim hands out IPv4 public addresses only, not %s.", b.PublicIPAddressVersion)
	}
	if b.IdleTimeoutInMinutes > 0 {
		p.IdleTimeout = b.IdleTimeoutInMinutes
	}
	if existed {
		p.Address = old.PIP.Address
	}
	r.PIP = p
	return nil
}

// pipUser returns the gateway IP configuration using a public IP address.
func pipUser(w *netWorld, sub string, pip netRecord) string {
	for _, g := range w.all(kindGateway) {
		for _, c := range g.Gateway.IPConfigs {
			if k, _, ok := refTo(c.PublicIP, kindPIP); ok && k == pip.key() {
				return g.id(sub) + "/ipConfigurations/" + c.Name
			}
		}
	}
	return ""
}

func pipDeletable(w *netWorld, r netRecord) error {
	if user := pipUser(w, w.sub, r); user != "" {
		return newErr(409, "PublicIPAddressCannotBeDeleted",
			"Public IP address %s can not be deleted since it is still allocated to resource %s. In order to delete the public IP, disassociate/detach the Public IP address from the resource.",
			r.Name, user)
	}
	return nil
}

func (s *server) pipJSONProps(q *req, w *netWorld, r netRecord) map[string]any {
	p := map[string]any{
		"ipAddress": r.PIP.Address, "publicIPAllocationMethod": r.PIP.Allocation,
		"publicIPAddressVersion": r.PIP.Version, "idleTimeoutInMinutes": r.PIP.IdleTimeout, "ipTags": []any{},
	}
	if user := pipUser(w, q.sub, r); user != "" {
		p["ipConfiguration"] = subResource(user)
	}
	return p
}

// gwIPConfig is a gateway IP configuration: subnet and public IP IDs.
type gwIPConfig struct {
	Name     string `json:"name"`
	Subnet   string `json:"subnet"`
	PublicIP string `json:"publicIP"`
}

// gwProps is a virtual network gateway as stored.
type gwProps struct {
	GatewayType  string       `json:"gatewayType"`
	VPNType      string       `json:"vpnType"`
	SKU          string       `json:"sku"`
	Generation   string       `json:"generation"`
	ActiveActive bool         `json:"activeActive"`
	EnableBgp    bool         `json:"enableBgp"`
	ASN          int64        `json:"asn"`
	PeerWeight   int          `json:"peerWeight"`
	IPConfigs    []gwIPConfig `json:"ipConfigs"`
	// Custom are the custom (APIPA) BGP addresses per IP configuration
	// name, lower case.
	Custom map[string][]string `json:"custom,omitempty"`
}

// gatewaySKUs are Azure's virtual network gateway SKUs.
var gatewaySKUs = []string{"Basic", "Standard", "HighPerformance", "UltraPerformance", "VpnGw1", "VpnGw2", "VpnGw3", "VpnGw4", "VpnGw5",
	"VpnGw1AZ", "VpnGw2AZ", "VpnGw3AZ", "VpnGw4AZ", "VpnGw5AZ", "ErGw1AZ", "ErGw2AZ", "ErGw3AZ", "ErGwScale"}

// reservedASNs cannot be used by gateways; 65515 is Azure's own default
// and cannot be used by local network gateways.
var reservedASNs = []int64{8074, 8075, 12076, 23456, 65517, 65518, 65519, 65520}

func checkASN(asn int64, local bool) error {
	if asn < 1 || asn > 4294967295 || slices.Contains(reservedASNs, asn) || (!local && asn == 65515) {
		return newErr(400, "InvalidAsn", "ASN %d is not valid: use 1-4294967295 without the ASNs Azure reserves (8074, 8075, 12076, 23456, 65515 for peers, 65517-65520).", asn)
	}
	return nil
}

// apipa is the range Azure accepts for custom BGP addresses.
var apipaLo, apipaHi = netip.MustParseAddr("169.254.21.0"), netip.MustParseAddr("169.254.22.255")

func checkAPIPA(ip string) error {
	a, err := netip.ParseAddr(ip)
	if err != nil || a.Less(apipaLo) || apipaHi.Less(a) {
		return newErr(400, "InvalidCustomBgpIpAddress",
			"The custom BGP IP address %s is not valid: Azure APIPA BGP addresses must lie in 169.254.21.0 - 169.254.22.255.", ip)
	}
	return nil
}

func (s *server) putGateway(w *netWorld, r *netRecord, raw json.RawMessage) error {
	var b struct {
		GatewayType          string `json:"gatewayType"`
		VPNType              string `json:"vpnType"`
		VPNGatewayGeneration string `json:"vpnGatewayGeneration"`
		SKU                  *struct {
			Name string `json:"name"`
		} `json:"sku"`
		ActiveActive bool `json:"activeActive"`
		EnableBgp    bool `json:"enableBgp"`
		BgpSettings  *struct {
			ASN                 int64 `json:"asn"`
			PeerWeight          int   `json:"peerWeight"`
			BgpPeeringAddresses []struct {
				IPConfigurationID    string   `json:"ipconfigurationId"`
				CustomBgpIPAddresses []string `json:"customBgpIpAddresses"`
			} `json:"bgpPeeringAddresses"`
		} `json:"bgpSettings"`
		IPConfigurations []struct {
			Name       string `json:"name"`
			Properties struct {
				Subnet *struct {
					ID string `json:"id"`
				} `json:"subnet"`
				PublicIPAddress *struct {
					ID string `json:"id"`
				} `json:"publicIPAddress"`
			} `json:"properties"`
		} `json:"ipConfigurations"`
	}
	if err := props(raw, &b); err != nil {
		return err
	}
	g := &gwProps{Generation: "Generation2", ActiveActive: b.ActiveActive, EnableBgp: b.EnableBgp, ASN: 65515, Custom: map[string][]string{}}
	var ok bool
	if g.GatewayType, ok = canonical(b.GatewayType, "Vpn", "ExpressRoute", "LocalGateway"); !ok {
		return newErr(400, "InvalidRequestFormat", "Cannot parse the request: gatewayType %q is not Vpn, ExpressRoute or LocalGateway.", b.GatewayType)
	}
	if g.GatewayType == "Vpn" {
		if g.VPNType, ok = canonical(b.VPNType, "RouteBased", "PolicyBased"); !ok {
			return newErr(400, "InvalidRequestFormat", "Cannot parse the request: vpnType %q is not RouteBased or PolicyBased.", b.VPNType)
		}
	}
	if b.VPNGatewayGeneration != "" {
		if g.Generation, ok = canonical(b.VPNGatewayGeneration, "Generation1", "Generation2", "None"); !ok {
			return newErr(400, "InvalidRequestFormat", "Cannot parse the request: vpnGatewayGeneration %q is not Generation1 or Generation2.", b.VPNGatewayGeneration)
		}
	}
	skuName := ""
	if b.SKU != nil {
		skuName = b.SKU.Name
	}
	if g.SKU, ok = canonical(skuName, gatewaySKUs...); !ok {
		return newErr(400, "InvalidGatewaySku", "The gateway SKU '%s' is not valid for gateway %s. Valid SKUs: %s.", skuName, r.Name, strings.Join(gatewaySKUs, ", "))
	}
	if n := len(b.IPConfigurations); n == 0 || n > 2 || b.ActiveActive != (n == 2) {
		return newErr(400, "ActiveActiveGatewayRequiresTwoIpConfigurations",
			"Virtual network gateway %s has %d ipConfigurations: an active-active gateway needs exactly two, any other gateway exactly one.", r.Name, n)
	}
	var vnetKey string
	for _, c := range b.IPConfigurations {
		cfg := gwIPConfig{Name: c.Name}
		if c.Name == "" || slices.ContainsFunc(g.IPConfigs, func(o gwIPConfig) bool { return strings.EqualFold(o.Name, c.Name) }) {
			return newErr(400, "InvalidRequestFormat", "Cannot parse the request: gateway ipConfiguration names must be present and unique (%q).", c.Name)
		}
		if c.Properties.Subnet != nil {
			cfg.Subnet = c.Properties.Subnet.ID
		}
		sn, ok := w.ref(cfg.Subnet, kindSubnet)
		if !ok || !strings.EqualFold(sn.Name, "GatewaySubnet") || sn.Location != r.Location || (vnetKey != "" && netKey(sn.RG, sn.VNet) != vnetKey) {
			return newErr(400, "InvalidGatewaySubnet",
				"ipConfiguration %s of virtual network gateway %s must reference the subnet named GatewaySubnet of an existing virtual network in %s (all ipConfigurations the same one); %q does not.",
				c.Name, r.Name, r.Location, cfg.Subnet)
		}
		vnetKey = netKey(sn.RG, sn.VNet)
		for _, other := range w.all(kindGateway) {
			if other.key() == r.key() {
				continue
			}
			for _, oc := range other.Gateway.IPConfigs {
				if k, _, _ := refTo(oc.Subnet, kindSubnet); k == sn.key() {
					return newErr(400, "InvalidGatewaySubnet", "Subnet GatewaySubnet of virtual network %s already holds virtual network gateway %s.", sn.VNet, other.Name)
				}
			}
		}
		if c.Properties.PublicIPAddress != nil {
			cfg.PublicIP = c.Properties.PublicIPAddress.ID
		}
		pip, ok := w.ref(cfg.PublicIP, kindPIP)
		if !ok || pip.Location != r.Location {
			return newErr(400, "InvalidResourceReference",
				"Resource %s referenced by resource %s was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.",
				cfg.PublicIP, r.id(w.sub))
		}
		user := pipUser(w, w.sub, pip)
		if (user != "" && !strings.HasPrefix(strings.ToLower(user), strings.ToLower(r.id(w.sub))+"/")) ||
			slices.ContainsFunc(g.IPConfigs, func(o gwIPConfig) bool { k, _, _ := refTo(o.PublicIP, kindPIP); return k == pip.key() }) {
			return newErr(400, "PublicIPAddressInUse", "Public IP address %s is already used by %s.", pip.Name, firstNonEmpty(user, "another ipConfiguration of this gateway"))
		}
		g.IPConfigs = append(g.IPConfigs, cfg)
	}
	if bs := b.BgpSettings; bs != nil {
		if bs.ASN != 0 {
			g.ASN = bs.ASN
		}
		g.PeerWeight = bs.PeerWeight
		for _, pa := range bs.BgpPeeringAddresses {
			key, cfg, ok := refTo(pa.IPConfigurationID, kindGateway)
			if !ok || key != r.key() || !slices.ContainsFunc(g.IPConfigs, func(c gwIPConfig) bool { return strings.EqualFold(c.Name, cfg) }) {
				return newErr(400, "InvalidCustomBgpIpAddress", "bgpPeeringAddresses names %q, which is not an ipConfiguration of virtual network gateway %s.", pa.IPConfigurationID, r.Name)
			}
			for _, ip := range pa.CustomBgpIPAddresses {
				if err := checkAPIPA(ip); err != nil {
					return err
				}
			}
			g.Custom[strings.ToLower(cfg)] = append(g.Custom[strings.ToLower(cfg)], pa.CustomBgpIPAddresses...)
		}
	}
	if g.EnableBgp {
		if err := checkASN(g.ASN, true); err != nil {
			return err
		}
	}
	// Custom addresses that connections use must stay.
	for _, c := range w.all(kindConnection) {
		if k, _, _ := refTo(c.Conn.Gateway1, kindGateway); k != r.key() {
			continue
		}
		for _, cb := range c.Conn.Custom {
			_, cfg, _ := refTo(cb.IPConfigID, kindGateway)
			if !slices.Contains(g.Custom[strings.ToLower(cfg)], cb.IP) {
				return newErr(400, "InvalidCustomBgpIpAddress",
					"Custom BGP IP address %s of ipConfiguration %s is used by connection %s and cannot be removed.", cb.IP, cfg, c.Name)
			}
		}
	}
	r.Gateway = g
	return nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// gatewayIP returns the public address and the default BGP address of a
// gateway's IP configuration i.
func gatewayIP(w *netWorld, g netRecord, i int) (public, bgp string) {
	c := g.Gateway.IPConfigs[i]
	if pip, ok := w.ref(c.PublicIP, kindPIP); ok {
		public = pip.PIP.Address
	}
	if sn, ok := w.ref(c.Subnet, kindSubnet); ok {
		if p, err := netip.ParsePrefix(sn.Subnet.AddressPrefix); err == nil {
			a := p.Addr()
			for range 4 + i {
				a = a.Next()
			}
			bgp = a.String()
		}
	}
	return public, bgp
}

// connectionsOf returns the connections using a gateway or local network
// gateway.
func connectionsOf(w *netWorld, kind string, r netRecord) []string {
	var out []string
	for _, c := range w.all(kindConnection) {
		ref := c.Conn.Gateway1
		if kind == kindLNG {
			ref = c.Conn.LNG2
		}
		if k, _, _ := refTo(ref, kind); k == r.key() {
			out = append(out, c.Name)
		}
	}
	return out
}

func gatewayDeletable(w *netWorld, r netRecord) error {
	if conns := connectionsOf(w, kindGateway, r); len(conns) > 0 {
		return newErr(409, "InUseVirtualNetworkGatewayCannotBeDeleted",
			"Virtual network gateway %s cannot be deleted because connections use it (%s); delete the connections first.", r.Name, strings.Join(conns, ", "))
	}
	return nil
}

func lngDeletable(w *netWorld, r netRecord) error {
	if conns := connectionsOf(w, kindLNG, r); len(conns) > 0 {
		return newErr(409, "InUseLocalNetworkGatewayCannotBeDeleted",
			"Local network gateway %s cannot be deleted because connections use it (%s); delete the connections first.", r.Name, strings.Join(conns, ", "))
	}
	return nil
}

func (s *server) gatewayJSONProps(q *req, w *netWorld, r netRecord) map[string]any {
	g := r.Gateway
	state := r.state(s.now())
	cfgs := []any{}
	peering := []any{}
	var defaults []string
	for i, c := range g.IPConfigs {
		id := r.id(q.sub) + "/ipConfigurations/" + c.Name
		cfgs = append(cfgs, map[string]any{"id": id, "name": c.Name, "etag": r.etag(), "properties": map[string]any{
			"privateIPAllocationMethod": "Dynamic", "subnet": subResource(c.Subnet), "publicIPAddress": subResource(c.PublicIP), "provisioningState": state,
		}})
		public, bgp := gatewayIP(w, r, i)
		defaults = append(defaults, bgp)
		custom := g.Custom[strings.ToLower(c.Name)]
		if custom == nil {
			custom = []string{}
		}
		peering = append(peering, map[string]any{
			"ipconfigurationId": id, "defaultBgpIpAddresses": []string{bgp}, "customBgpIpAddresses": custom, "tunnelIpAddresses": []string{public},
		})
	}
	p := map[string]any{
		"gatewayType": g.GatewayType, "sku": map[string]any{"name": g.SKU, "tier": g.SKU, "capacity": 2},
		"activeActive": g.ActiveActive, "enableBgp": g.EnableBgp, "vpnGatewayGeneration": g.Generation,
		"enablePrivateIpAddress": false, "ipConfigurations": cfgs,
		"bgpSettings": map[string]any{"asn": g.ASN, "peerWeight": g.PeerWeight, "bgpPeeringAddress": strings.Join(defaults, ","), "bgpPeeringAddresses": peering},
	}
	if g.VPNType != "" {
		p["vpnType"] = g.VPNType
	}
	return p
}

// lngProps is a local network gateway as stored.
type lngProps struct {
	GatewayIP         string   `json:"gatewayIP,omitempty"`
	FQDN              string   `json:"fqdn,omitempty"`
	Prefixes          []string `json:"prefixes,omitempty"`
	Bgp               bool     `json:"bgp"`
	ASN               int64    `json:"asn,omitempty"`
	BgpPeeringAddress string   `json:"bgpPeeringAddress,omitempty"`
	PeerWeight        int      `json:"peerWeight,omitempty"`
}

func (s *server) putLNG(w *netWorld, r *netRecord, raw json.RawMessage) error {
	var b struct {
		GatewayIPAddress         string `json:"gatewayIpAddress"`
		FQDN                     string `json:"fqdn"`
		LocalNetworkAddressSpace *struct {
			AddressPrefixes []string `json:"addressPrefixes"`
		} `json:"localNetworkAddressSpace"`
		BgpSettings *struct {
			ASN               int64  `json:"asn"`
			BgpPeeringAddress string `json:"bgpPeeringAddress"`
			PeerWeight        int    `json:"peerWeight"`
		} `json:"bgpSettings"`
	}
	if err := props(raw, &b); err != nil {
		return err
	}
	l := &lngProps{GatewayIP: b.GatewayIPAddress, FQDN: b.FQDN}
	if l.GatewayIP == "" && l.FQDN == "" {
		return newErr(400, "InvalidRequestFormat", "Cannot parse the request: local network gateway %s needs a gatewayIpAddress or an fqdn.", r.Name)
	}
	if a, err := netip.ParseAddr(l.GatewayIP); l.GatewayIP != "" && (err != nil || !a.Is4()) {
		return newErr(400, "InvalidRequestFormat", "Cannot parse the request: gatewayIpAddress %q of local network gateway %s is not an IPv4 address.", l.GatewayIP, r.Name)
	}
	if sp := b.LocalNetworkAddressSpace; sp != nil {
		for _, a := range sp.AddressPrefixes {
			p, err := parseCIDR(a, r.id(w.sub))
			if err != nil {
				return err
			}
			l.Prefixes = append(l.Prefixes, p.String())
		}
	}
	if bs := b.BgpSettings; bs != nil {
		if err := checkASN(bs.ASN, false); err != nil {
			return err
		}
		if _, err := netip.ParseAddr(bs.BgpPeeringAddress); err != nil {
			return newErr(400, "InvalidRequestFormat", "Cannot parse the request: bgpPeeringAddress %q of local network gateway %s is not an IP address.", bs.BgpPeeringAddress, r.Name)
		}
		l.Bgp, l.ASN, l.BgpPeeringAddress, l.PeerWeight = true, bs.ASN, bs.BgpPeeringAddress, bs.PeerWeight
	}
	r.LNG = l
	return nil
}

func (s *server) lngJSONProps(r netRecord) map[string]any {
	l := r.LNG
	prefixes := l.Prefixes
	if prefixes == nil {
		prefixes = []string{}
	}
	p := map[string]any{"localNetworkAddressSpace": map[string]any{"addressPrefixes": prefixes}}
	if l.GatewayIP != "" {
		p["gatewayIpAddress"] = l.GatewayIP
	}
	if l.FQDN != "" {
		p["fqdn"] = l.FQDN
	}
	if l.Bgp {
		p["bgpSettings"] = map[string]any{"asn": l.ASN, "bgpPeeringAddress": l.BgpPeeringAddress, "peerWeight": l.PeerWeight}
	}
	return p
}

// customBgp is one custom BGP address of a connection.
type customBgp struct {
	IPConfigID string `json:"ipConfigurationId"`
	IP         string `json:"customBgpIpAddress"`
}

// connProps is a connection as stored.
type connProps struct {
	Type           string      `json:"type"`
	Protocol       string      `json:"protocol"`
	SharedKey      string      `json:"sharedKey"`
	EnableBgp      bool        `json:"enableBgp"`
	Gateway1       string      `json:"gateway1"`
	LNG2           string      `json:"lng2"`
	Custom         []customBgp `json:"custom,omitempty"`
	RoutingWeight  int         `json:"routingWeight"`
	DPDTimeout     int         `json:"dpdTimeout"`
	PolicySelector bool        `json:"policySelector,omitempty"`
}

func (s *server) putConnection(w *netWorld, r *netRecord, raw json.RawMessage) error {
	var b struct {
		ConnectionType                 string `json:"connectionType"`
		ConnectionProtocol             string `json:"connectionProtocol"`
		SharedKey                      string `json:"sharedKey"`
		EnableBgp                      bool   `json:"enableBgp"`
		RoutingWeight                  int    `json:"routingWeight"`
		DpdTimeoutSeconds              int    `json:"dpdTimeoutSeconds"`
		UsePolicyBasedTrafficSelectors bool   `json:"usePolicyBasedTrafficSelectors"`
		VirtualNetworkGateway1         *struct {
			ID string `json:"id"`
		} `json:"virtualNetworkGateway1"`
		LocalNetworkGateway2 *struct {
			ID string `json:"id"`
		} `json:"localNetworkGateway2"`
		GatewayCustomBgpIPAddresses []customBgp `json:"gatewayCustomBgpIpAddresses"`
	}
	if err := props(raw, &b); err != nil {
		return err
	}
	c := &connProps{Protocol: "IKEv2", SharedKey: b.SharedKey, EnableBgp: b.EnableBgp, RoutingWeight: b.RoutingWeight,
		DPDTimeout: b.DpdTimeoutSeconds, PolicySelector: b.UsePolicyBasedTrafficSelectors, Custom: b.GatewayCustomBgpIPAddresses}
	if c.DPDTimeout == 0 {
		c.DPDTimeout = 45
	}
	var ok bool
	if c.Type, ok = canonical(b.ConnectionType, "IPsec"); !ok {
		return newErr(400, "InvalidRequestFormat", "Cannot parse the request: connectionType %q is not supported; cloudsim has IPsec connections only.", b.ConnectionType)
	}
	if b.ConnectionProtocol != "" {
		if c.Protocol, ok = canonical(b.ConnectionProtocol, "IKEv2", "IKEv1"); !ok {
			return newErr(400, "InvalidRequestFormat", "Cannot parse the request: connectionProtocol %q is not IKEv2 or IKEv1.", b.ConnectionProtocol)
		}
	}
	if c.SharedKey == "" {
		return newErr(400, "SharedKeyRequired", "Connection %s of type IPsec needs a sharedKey.", r.Name)
	}
	if b.VirtualNetworkGateway1 != nil {
		c.Gateway1 = b.VirtualNetworkGateway1.ID
	}
	if b.LocalNetworkGateway2 != nil {
		c.LNG2 = b.LocalNetworkGateway2.ID
	}
	gw, ok := w.ref(c.Gateway1, kindGateway)
	lng, ok2 := w.ref(c.LNG2, kindLNG)
	for _, ref := range []struct {
		ok bool
		id string
	}{{ok && gw.Location == r.Location, c.Gateway1}, {ok2 && lng.Location == r.Location, c.LNG2}} {
		if !ref.ok {
			return newErr(400, "InvalidResourceReference",
				"Resource %q referenced by resource %s was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.", ref.id, r.id(w.sub))
		}
	}
	if old, existed := w.get(kindConnection, r.key()); existed {
		if k, _, _ := refTo(old.Conn.Gateway1, kindGateway); k != gw.key() {
			return newErr(400, "PropertyChangeNotAllowed", "Changing property 'virtualNetworkGateway1' is not allowed.")
		}
	}
	if c.EnableBgp && (!gw.Gateway.EnableBgp || !lng.LNG.Bgp) {
		return newErr(400, "BgpNotEnabled", "Connection %s enables BGP, but virtual network gateway %s or local network gateway %s has no BGP settings.", r.Name, gw.Name, lng.Name)
	}
	seen := map[string]bool{}
	for _, cb := range c.Custom {
		key, cfg, ok := refTo(cb.IPConfigID, kindGateway)
		if !ok || key != gw.key() || seen[strings.ToLower(cfg)] ||
			!slices.ContainsFunc(gw.Gateway.IPConfigs, func(x gwIPConfig) bool { return strings.EqualFold(x.Name, cfg) }) {
			return newErr(400, "InvalidCustomBgpIpAddress", "gatewayCustomBgpIpAddresses names %q, which is not an ipConfiguration of virtual network gateway %s (or names it twice).", cb.IPConfigID, gw.Name)
		}
		seen[strings.ToLower(cfg)] = true
		if err := checkAPIPA(cb.IP); err != nil {
			return err
		}
		if !slices.Contains(gw.Gateway.Custom[strings.ToLower(cfg)], cb.IP) {
			return newErr(400, "InvalidCustomBgpIpAddress",
				"The custom BGP IP address %s is not among the customBgpIpAddresses of ipConfiguration %s of virtual network gateway %s; add it to the gateway's bgpSettings.bgpPeeringAddresses first.",
				cb.IP, cfg, gw.Name)
		}
	}
	r.Conn = c
	return nil
}

func tunnelID(r netRecord) string { return "connection/" + r.key() }

// tunnelEnd is the engine tunnel end of a connection.
func tunnelEnd(w *netWorld, c netRecord) (cloudsim.TunnelEnd, bool) {
	gw, ok := w.ref(c.Conn.Gateway1, kindGateway)
	lng, ok2 := w.ref(c.Conn.LNG2, kindLNG)
	if !ok || !ok2 {
		return cloudsim.TunnelEnd{}, false
	}
	i, inside := 0, ""
	if len(c.Conn.Custom) > 0 {
		_, cfg, _ := refTo(c.Conn.Custom[0].IPConfigID, kindGateway)
		i = max(0, slices.IndexFunc(gw.Gateway.IPConfigs, func(x gwIPConfig) bool { return strings.EqualFold(x.Name, cfg) }))
		inside = c.Conn.Custom[0].IP
	}
	public, bgp := gatewayIP(w, gw, i)
	if inside == "" {
		inside = bgp
	}
	return cloudsim.TunnelEnd{
		Cloud: cloudName, ID: tunnelID(c), LocalIP: public, PeerIP: lng.LNG.GatewayIP,
		LocalInsideIP: inside, PeerInsideIP: lng.LNG.BgpPeeringAddress, PSK: c.Conn.SharedKey,
		LocalASN: gw.Gateway.ASN, PeerASN: lng.LNG.ASN,
	}, true
}

// refreshTunnels registers the tunnel end of every connection (after a
// change to a connection or a gateway it uses).
func (s *server) refreshTunnels(w *netWorld) error {
	for _, c := range w.all(kindConnection) {
		if end, ok := tunnelEnd(w, c); ok {
			if err := s.e.RegisterTunnelEnd(end); err != nil {
				return err
			}
		}
	}
	return nil
}

// connStatus is a connection's connectionStatus and the engine's detail.
func (s *server) connStatus(w *netWorld, c netRecord) (string, string) {
	up, detail := s.e.TunnelStatus(cloudName, tunnelID(c))
	gw, _ := w.ref(c.Conn.Gateway1, kindGateway)
	switch {
	case s.now().Before(c.ReadyAt) || s.now().Before(gw.ReadyAt):
		return "Connecting", "provisioning"
	case up:
		return "Connected", detail
	case strings.HasPrefix(detail, "waiting for the peer") || detail == "tunnel not found":
		return "Connecting", detail
	}
	return "NotConnected", detail
}

func (s *server) connJSONProps(q *req, w *netWorld, r netRecord) map[string]any {
	c := r.Conn
	status, _ := s.connStatus(w, r)
	custom := c.Custom
	if custom == nil {
		custom = []customBgp{}
	}
	tunnel := map[string]any{"tunnel": r.Name, "connectionStatus": status, "ingressBytesTransferred": 0, "egressBytesTransferred": 0}
	if end, ok := tunnelEnd(w, r); ok {
		tunnel["tunnel"] = end.LocalIP + "_" + end.PeerIP
	}
	if status == "Connected" {
		tunnel["lastConnectionEstablishedUtcTime"] = r.ReadyAt.UTC().Format("1/2/2006 3:04:05 PM")
	}
	return map[string]any{
		"connectionType": c.Type, "connectionProtocol": c.Protocol, "enableBgp": c.EnableBgp, "routingWeight": c.RoutingWeight,
		"dpdTimeoutSeconds": c.DPDTimeout, "connectionMode": "Default", "useLocalAzureIpAddress": false,
		"usePolicyBasedTrafficSelectors": c.PolicySelector, "ipsecPolicies": []any{},
		"virtualNetworkGateway1": subResource(c.Gateway1), "localNetworkGateway2": subResource(c.LNG2),
		"gatewayCustomBgpIpAddresses": custom, "connectionStatus": status, "tunnelConnectionStatus": []any{tunnel},
		"ingressBytesTransferred": 0, "egressBytesTransferred": 0,
	}
}

// sharedKey answers GET .../connections/{name}/sharedkey.
func (s *server) sharedKey(q *req, rg, name string) (reply, error) {
	w, err := s.netWorld(q.sub)
	if err != nil {
		return reply{}, err
	}
	c, ok := w.get(kindConnection, netKey(rg, name))
	if !ok {
		return reply{}, netNotFound(kindConnection, rg, name)
	}
	return reply{status: http.StatusOK, body: map[string]any{"id": c.id(q.sub) + "/sharedkey", "value": c.Conn.SharedKey}}, nil
}
