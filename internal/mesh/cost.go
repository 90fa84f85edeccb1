package mesh

// HoursPerMonth is the month used for estimates (365 × 24 / 12).
const HoursPerMonth = 730

// Gateway and tunnel list prices, USD per hour, in the EU and US regions,
// as published by the clouds (checked 2026-11): AWS Site-to-Site VPN
// pricing (https://aws.amazon.com/vpn/pricing/: per VPN connection-hour,
// whatever its two tunnels do), Google Cloud VPN pricing
// (https://cloud.google.com/network-connectivity/docs/vpn/pricing: per
// tunnel-hour), Azure VPN Gateway pricing
// (https://azure.microsoft.com/pricing/details/vpn-gateway/: per gateway-
// hour with the first 10 site-to-site tunnels included, each further one
// per hour, at most 30 on VpnGw2AZ). Data transfer is billed on top by
// every cloud and is not estimated.
var (
	// AWSVPNConnectionHourly is one AWS Site-to-Site VPN connection (two
	// tunnels); virtual private gateways themselves are free.
	AWSVPNConnectionHourly = 0.05
	// GCPTunnelHourly is one HA VPN tunnel; Cloud Router is free with it.
	GCPTunnelHourly = 0.05
	// AzureVpnGw2AZHourly is the VpnGw2AZ gateway gpufleet creates, with
	// AzureIncludedTunnels site-to-site tunnels (connections) included;
	// AzureTunnelHourly is each further one; AzurePublicIPHourly is each
	// of the gateway's two Standard static public addresses.
	AzureVpnGw2AZHourly  = 0.563
	AzureTunnelHourly    = 0.015
	AzurePublicIPHourly  = 0.005
	AzureIncludedTunnels = 10
)

// AzureMaxConnections is the most site-to-site connections a VpnGw2AZ
// gateway takes (https://learn.microsoft.com/azure/vpn-gateway/about-gateway-skus).
const AzureMaxConnections = 30

// HourlyCost estimates what the plan's gateways and tunnels cost per hour.
// Each AWS side of a link is one VPN connection per peer interface (GCP
// and Azure peers have two: two connections, whether a link has two
// tunnels or four); each GCP side pays per tunnel; each Azure site pays
// for its gateway and public addresses once, and for the connections (one
// per tunnel) beyond the included ten.
func (p Plan) HourlyCost() float64 {
	total := 0.0
	azureConns := map[string]int{}
	for _, l := range p.Links {
		if l.Kind != KindVPN {
			continue
		}
		for _, side := range []string{l.A, l.B} {
			c, _ := splitKey(side)
			switch c {
			case "aws":
				total += float64(min(len(l.Tunnels), 2)) * AWSVPNConnectionHourly
			case "gcp":
				total += float64(len(l.Tunnels)) * GCPTunnelHourly
			case "azure":
				azureConns[side] += len(l.Tunnels)
			}
		}
	}
	for _, s := range p.Sites {
		if s.Cloud == "azure" && s.NeedsGateway {
			total += AzureVpnGw2AZHourly + 2*AzurePublicIPHourly + float64(max(0, azureConns[s.Key]-AzureIncludedTunnels))*AzureTunnelHourly
		}
	}
	return total
}
