package mesh

// HoursPerMonth is the month used for estimates (365 × 24 / 12).
const HoursPerMonth = 730

// Gateway and tunnel list prices, USD per hour, in the EU and US regions,
// as published by the clouds (AWS Site-to-Site VPN pricing, Google Cloud
// VPN pricing, Azure VPN Gateway pricing; checked 2026-11). Data transfer
// is billed on top by every cloud and is not estimated.
var (
	// AWSVPNConnectionHourly is one AWS Site-to-Site VPN connection (two
	// tunnels); virtual private gateways themselves are free.
	AWSVPNConnectionHourly = 0.05
	// GCPTunnelHourly is one HA VPN tunnel; Cloud Router is free with it.
	GCPTunnelHourly = 0.05
	// AzureVpnGw2AZHourly is the VpnGw2AZ gateway gpufleet creates (site
	// to site tunnels up to 30 included); AzurePublicIPHourly is each of its
	// two Standard static public addresses.
	AzureVpnGw2AZHourly = 0.563
	AzurePublicIPHourly = 0.005
)

// HourlyCost estimates what the plan's gateways and tunnels cost per hour.
// Each AWS side of a link is one VPN connection per distinct peer address
// (GCP and Azure peers have two); each GCP side pays per tunnel; each Azure
// site pays for its gateway and public addresses once.
func (p Plan) HourlyCost() float64 {
	total := 0.0
	for _, s := range p.Sites {
		if s.Cloud == "azure" && s.NeedsGateway {
			total += AzureVpnGw2AZHourly + 2*AzurePublicIPHourly
		}
	}
	for _, l := range p.Links {
		if l.Kind != KindVPN {
			continue
		}
		for _, side := range []string{l.A, l.B} {
			c, _ := splitKey(side)
			switch c {
			case "aws":
				total += float64(len(l.Tunnels)) * AWSVPNConnectionHourly
			case "gcp":
				total += float64(len(l.Tunnels)) * GCPTunnelHourly
			}
		}
	}
	return total
}
