package pricefront

import (
	"strconv"
	"strings"
)

// AWSZoneName is the simulator's default zone name for a zone ID: the
// region and the letter of the ID's "azN" suffix, a for az1, b for az2
// (euc1-az1 ↔ eu-central-1a, use1-az4 ↔ us-east-1d); a Local Zone keeps
// its location group as AWS spells it (use1-atl2-az1 ↔ us-east-1-atl-2a).
// Real AWS maps zone names to zone IDs differently per account, which is
// why gpufleet's catalog keeps zone IDs and a client must ask
// DescribeAvailabilityZones; AWSOptions.ZoneNames overrides this mapping
// to prove it does. An ID of another shape keeps its ID as its name.
func AWSZoneName(region, zoneID string) string {
	parts := strings.Split(zoneID, "-")
	last := parts[len(parts)-1]
	n, err := strconv.Atoi(strings.TrimPrefix(last, "az"))
	if len(parts) < 2 || len(parts) > 3 || !strings.HasPrefix(last, "az") || err != nil || n < 1 || n > 26 {
		return zoneID
	}
	letter := string(rune('a' + n - 1))
	if len(parts) == 2 {
		return region + letter
	}
	group := parts[1] // "atl2": city letters, then a number
	i := strings.IndexFunc(group, func(r rune) bool { return r >= '0' && r <= '9' })
	if i <= 0 {
		return zoneID
	}
	return region + "-" + group[:i] + "-" + group[i:] + letter
}

func (a *AWS) zoneName(region, zoneID string) string {
	if n, ok := a.opts.ZoneNames[zoneID]; ok {
		return n
	}
	return AWSZoneName(region, zoneID)
}

// awsLocations are the Price List "location" attribute of each region,
// spelled as the Price List spells them ("EU (Frankfurt)", not the
// console's "Europe (Frankfurt)").
var awsLocations = map[string]string{
	"us-east-1": "US East (N. Virginia)", "us-east-2": "US East (Ohio)",
	"us-west-1": "US West (N. California)", "us-west-2": "US West (Oregon)",
	"us-gov-east-1": "AWS GovCloud (US-East)", "us-gov-west-1": "AWS GovCloud (US-West)",
	"ca-central-1": "Canada (Central)", "ca-west-1": "Canada West (Calgary)",
	"mx-central-1": "Mexico (Central)", "sa-east-1": "South America (Sao Paulo)",
	"eu-west-1": "EU (Ireland)", "eu-west-2": "EU (London)", "eu-west-3": "EU (Paris)",
	"eu-central-1": "EU (Frankfurt)", "eu-central-2": "EU (Zurich)", "eu-north-1": "EU (Stockholm)",
	"eu-south-1": "EU (Milan)", "eu-south-2": "EU (Spain)",
	"il-central-1": "Israel (Tel Aviv)", "me-south-1": "Middle East (Bahrain)", "me-central-1": "Middle East (UAE)",
	"af-south-1": "Africa (Cape Town)",
	"ap-east-1":  "Asia Pacific (Hong Kong)", "ap-east-2": "Asia Pacific (Taipei)",
	"ap-south-1": "Asia Pacific (Mumbai)", "ap-south-2": "Asia Pacific (Hyderabad)",
	"ap-northeast-1": "Asia Pacific (Tokyo)", "ap-northeast-2": "Asia Pacific (Seoul)", "ap-northeast-3": "Asia Pacific (Osaka)",
	"ap-southeast-1": "Asia Pacific (Singapore)", "ap-southeast-2": "Asia Pacific (Sydney)",
	"ap-southeast-3": "Asia Pacific (Jakarta)", "ap-southeast-4": "Asia Pacific (Melbourne)",
	"ap-southeast-5": "Asia Pacific (Malaysia)", "ap-southeast-7": "Asia Pacific (Thailand)",
	"cn-north-1": "China (Beijing)", "cn-northwest-1": "China (Ningxia)",
}

// AWSLocation is the Price List location of a region (the region code
// itself for a region the table lacks).
func AWSLocation(region string) string {
	if l, ok := awsLocations[region]; ok {
		return l
	}
	return region
}
