package provider

import (
	"strings"
	"testing"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/fleet"
)

// TestUntargetedCapacity: the plan warns, per allocation, that reserved
// and scheduled capacity is applied as an on-demand node pool (issue 16's
// apply side is not built); on-demand and spot get no warning.
func TestUntargetedCapacity(t *testing.T) {
	for _, tt := range []struct {
		capacity string
		want     string // in the detail; "" for no warning
	}{
		{"on_demand", ""},
		{"spot", ""},
		{"reserved", "does not yet make node pools target a reservation"},
		{"capacity_block", "uses capacity_block capacity, which gpufleet_pool cannot request yet"},
		{"flex_start", "Leave flex_start out of the placement's capacity_types"},
		{"calendar", "creates an on-demand a3-highgpu-8g node pool"},
	} {
		t.Run(tt.capacity, func(t *testing.T) {
			o := fleet.Offer{Key: "gcp/europe-west4/europe-west4-a/a3-highgpu-8g/" + tt.capacity, InstanceType: "a3-highgpu-8g", CapacityType: tt.capacity}
			summary, detail, ok := untargetedCapacity(o)
			if ok != (tt.want != "") || !strings.Contains(detail, tt.want) {
				t.Fatalf("untargetedCapacity(%s) = %q, %q, %v; want a warning containing %q", tt.capacity, summary, detail, ok, tt.want)
			}
			if ok && !strings.Contains(detail, o.Key) {
				t.Fatalf("the warning does not name the allocation: %q", detail)
			}
		})
	}
}
