package awsregion

import "testing"

func TestLocationRoundTrip(t *testing.T) {
	tests := []struct{ region, location string }{
		{"eu-central-1", "EU (Frankfurt)"},
		{"us-east-1", "US East (N. Virginia)"},
		{"sa-east-1", "South America (Sao Paulo)"},
	}
	for _, tt := range tests {
		if got := Location(tt.region); got != tt.location {
			t.Errorf("Location(%q) = %q, want %q", tt.region, got, tt.location)
		}
		if got := OfLocation(tt.location); got != tt.region {
			t.Errorf("OfLocation(%q) = %q, want %q", tt.location, got, tt.region)
		}
	}
	if Location("xx-nowhere-1") != "xx-nowhere-1" || OfLocation("Nowhere") != "" {
		t.Error("unknown regions and locations")
	}
	if len(regions) != len(locations) {
		t.Errorf("%d locations map to %d regions: two regions share a location", len(locations), len(regions))
	}
}
