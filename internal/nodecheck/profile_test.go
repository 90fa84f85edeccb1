package nodecheck

import (
	"strings"
	"testing"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/gpuhealth"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// TestProfileFromLabels: the hardware labels a pool sets are read back as
// the profile the embedded catalog gives for the same offer, and a label
// that is wrong is named.
func TestProfileFromLabels(t *testing.T) {
	tests := []struct {
		name    string
		labels  map[string]string
		ok      bool
		want    Profile
		wantErr string
	}{
		{"no model label: not a pool's node", map[string]string{"node.kubernetes.io/instance-type": "p5.48xlarge"}, false, Profile{}, ""},
		{"H100 NVSwitch", gpuhealth.HardwareLabels("H100", 8, 80, "nvswitch"), true,
			Profile{GPUCount: 8, GPUModel: "H100", MemoryGiB: 80, NVLinks: 18, FabricManager: true}, ""},
		{"A100 NVLink", gpuhealth.HardwareLabels("A100", 8, 40, "nvlink"), true,
			Profile{GPUCount: 8, GPUModel: "A100", MemoryGiB: 40, NVLinks: 12}, ""},
		{"memory from the GPU table, PCIe without interconnect", gpuhealth.HardwareLabels("L40S", 4, 0, ""), true,
			Profile{GPUCount: 4, GPUModel: "L40S", MemoryGiB: 48}, ""},
		{"a model only the catalog knows, with its memory", gpuhealth.HardwareLabels("MI300X", 8, 192, "pcie"), true,
			Profile{GPUCount: 8, GPUModel: "MI300X", MemoryGiB: 192}, ""},
		{"a model nobody knows, no memory", gpuhealth.HardwareLabels("X1", 8, 0, ""), true, Profile{}, `label gpufleet.dev/gpu-model="X1" is not a GPU model gpufleet knows`},
		{"no count", map[string]string{gpuhealth.GPUModelLabel: "H100"}, true, Profile{}, `label gpufleet.dev/gpu-count="": want the GPU count per node`},
		{"zero count", map[string]string{gpuhealth.GPUModelLabel: "H100", gpuhealth.GPUCountLabel: "0"}, true, Profile{}, "want the GPU count per node"},
		{"bad memory", map[string]string{gpuhealth.GPUModelLabel: "H100", gpuhealth.GPUCountLabel: "8", gpuhealth.GPUMemoryLabel: "lots"}, true, Profile{}, `label gpufleet.dev/gpu-memory-gib="lots"`},
		{"bad interconnect", map[string]string{gpuhealth.GPUModelLabel: "H100", gpuhealth.GPUCountLabel: "8", gpuhealth.GPUInterconnectLabel: "infiniband"}, true, Profile{}, `label gpufleet.dev/gpu-interconnect="infiniband": want one of [pcie nvlink nvswitch]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := ProfileFromLabels(tt.labels)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// TestLabelsAgreeWithCatalog: for every offer of the embedded catalog, the
// labels a pool sets give the profile ProfileFor derives from the instance
// type, so labelled nodes are judged exactly as before.
func TestLabelsAgreeWithCatalog(t *testing.T) {
	seen := map[string]bool{}
	for _, o := range planner.Embedded().Offers {
		if seen[o.InstanceType] {
			continue
		}
		seen[o.InstanceType] = true
		want, err := ProfileFor(planner.Embedded(), o.InstanceType)
		if err != nil {
			t.Fatal(err)
		}
		labels := gpuhealth.HardwareLabels(o.GPUModel, o.GPUCount, o.GPUMemoryGiB, string(o.Interconnect))
		labels["node.kubernetes.io/instance-type"] = o.InstanceType
		got, ok, err := ProfileFromLabels(labels)
		if !ok || err != nil || got != want {
			t.Errorf("%s: labels %v give %+v (%v, %v), the catalog %+v", o.InstanceType, labels, got, ok, err, want)
		}
	}
}
