// Package awsregion names AWS regions as the Price List does: its
// "location" attribute ("EU (Frankfurt)", not the console's
// "Europe (Frankfurt)"). The live price source reads it and the simulated
// Price List writes it, from this one table.
package awsregion

// locations are the Price List locations by region code.
var locations = map[string]string{
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

// regions invert locations.
var regions = func() map[string]string {
	m := make(map[string]string, len(locations))
	for r, l := range locations {
		m[l] = r
	}
	return m
}()

// Location is the Price List location of a region (the region code itself
// for a region the table lacks).
func Location(region string) string {
	if l, ok := locations[region]; ok {
		return l
	}
	return region
}

// OfLocation is the region of a Price List location, or "" when unknown.
func OfLocation(location string) string { return regions[location] }
