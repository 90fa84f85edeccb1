package provider

import (
	"strings"
	"testing"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/fleet"
)

// TestCapacityNotes: the plan's diagnostics per allocation follow the
// support matrix (AWS: reserved, capacity_block; GCP: reserved, calendar,
// flex_start; Azure: reserved): a kind its cloud's pools cannot target is
// an error naming the kind, the cloud and what is accepted; a capacity
// block to buy without purchase_capacity_blocks is an error saying what
// it costs and how to allow it; a block or calendar reservation that
// starts later is a warning that the apply waits.
func TestCapacityNotes(t *testing.T) {
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	later := now.Add(26*time.Hour + 30*time.Minute)
	for _, tt := range []struct {
		name     string
		cloud    string
		capacity string
		purchase bool // a block offering not bought yet
		allow    bool
		start    time.Time
		want     []string // "E:" or "W:" + a substring of the detail, in order
	}{
		{"aws on demand", "aws", "on_demand", false, false, time.Time{}, nil},
		{"azure spot", "azure", "spot", false, false, time.Time{}, nil},
		{"aws reserved", "aws", "reserved", false, false, time.Time{}, nil},
		{"gcp reserved", "gcp", "reserved", false, false, time.Time{}, nil},
		{"azure reserved", "azure", "reserved", false, false, time.Time{}, nil},
		{"gcp flex start", "gcp", "flex_start", false, false, time.Time{}, nil},
		{"gcp calendar now", "gcp", "calendar", false, false, now.Add(-time.Hour), nil},
		{"aws block bought, active", "aws", "capacity_block", false, false, now, nil},
		{"aws flex start", "aws", "flex_start", false, false, time.Time{},
			[]string{"E:uses flex_start capacity, which aws node pools cannot target; aws node pools take capacity_block, on_demand, reserved, spot. Leave flex_start out of the placement's capacity_types"}},
		{"aws calendar", "aws", "calendar", false, false, later, []string{"E:which aws node pools cannot target"}},
		{"gcp capacity block", "gcp", "capacity_block", true, false, later,
			[]string{"E:which gcp node pools cannot target; gcp node pools take calendar, flex_start, on_demand, reserved, spot"}},
		{"azure capacity block", "azure", "capacity_block", false, false, time.Time{}, []string{"E:azure node pools take on_demand, reserved, spot"}},
		{"azure calendar", "azure", "calendar", false, false, time.Time{}, []string{"E:uses calendar capacity, which azure node pools cannot target"}},
		{"azure flex start", "azure", "flex_start", false, false, time.Time{}, []string{"E:uses flex_start capacity"}},
		{"aws block to buy, not allowed", "aws", "capacity_block", true, false, later, []string{
			"E:is capacity block offering cbo-1 (2 x p5.48xlarge from 2026-12-04T11:30:00Z to 2026-12-05T11:30:00Z), which is not bought yet: applying buys it for $1512.00 upfront, which cannot be undone. Set purchase_capacity_blocks = true",
			"W:the apply will wait until 2026-12-04T11:30:00Z (26h30m0s from now) for allocation"}},
		{"aws block to buy, allowed", "aws", "capacity_block", true, true, later, []string{"W:the apply will wait until 2026-12-04T11:30:00Z"}},
		{"gcp calendar later", "gcp", "calendar", false, false, later, []string{"W:its nodes cannot launch before its calendar reservation starts"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := fleet.Offer{Key: tt.cloud + "/r/z/p5.48xlarge/" + tt.capacity, Cloud: tt.cloud, InstanceType: "p5.48xlarge", CapacityType: tt.capacity,
				Nodes: 2, Start: tt.start, Purchase: tt.purchase}
			if tt.purchase {
				o.ReservationID, o.UpfrontUSD = "cbo-1", 1512
			}
			if !tt.start.IsZero() {
				o.End = tt.start.Add(24 * time.Hour)
			}
			notes := capacityNotes(o, tt.allow, now)
			if len(notes) != len(tt.want) {
				t.Fatalf("notes %+v, want %d", notes, len(tt.want))
			}
			for i, w := range tt.want {
				n := notes[i]
				if n.err != (w[0] == 'E') || !strings.Contains(n.detail, w[2:]) || !strings.Contains(n.detail, o.Key) {
					t.Errorf("note %d = %+v, want %s (naming %s)", i, n, w, o.Key)
				}
			}
		})
	}
}
