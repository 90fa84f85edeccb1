package pricefront

import (
	"strconv"
	"strings"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/awsregion"
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

// AWSLocation is the Price List location of a region (the region code
// itself for a region the table lacks).
func AWSLocation(region string) string {
	return awsregion.Location(region)
}
