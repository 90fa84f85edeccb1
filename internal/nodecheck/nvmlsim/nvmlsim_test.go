package nvmlsim

import (
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/nodecheck"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// catalogProfiles returns the profile of every instance type in the
// embedded catalog, sorted by instance type.
func catalogProfiles(t *testing.T) []nodecheck.Profile {
	t.Helper()
	c := planner.Embedded()
	seen := map[string]bool{}
	var out []nodecheck.Profile
	for _, o := range c.Offers {
		if seen[o.InstanceType] {
			continue
		}
		seen[o.InstanceType] = true
		p, err := nodecheck.ProfileFor(c, o.InstanceType)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].InstanceType < out[j].InstanceType })
	if len(out) < 50 {
		t.Fatalf("only %d instance types in the catalog", len(out))
	}
	return out
}

func runNode(t *testing.T, n Node, p nodecheck.Profile) *nodecheck.Report {
	t.Helper()
	s, err := n.Server()
	if err != nil {
		t.Fatal(err)
	}
	r, err := nodecheck.Run(s, nodecheck.Options{
		Profile: p, MinDriverVersion: "550.54", Sleep: func(time.Duration) {},
		KernelLog: func() ([]string, error) { return n.KernelLog(), nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func failedChecks(r *nodecheck.Report) []string {
	var out []string
	for _, f := range r.Failures() {
		if !slices.Contains(out, f.Check) {
			out = append(out, f.Check)
		}
	}
	sort.Strings(out)
	return out
}

// TestHealthyCatalogNodesPass runs the real checks on a healthy simulated
// node of every catalog instance type, against its own profile.
func TestHealthyCatalogNodesPass(t *testing.T) {
	models := map[string]bool{}
	for _, p := range catalogProfiles(t) {
		models[p.GPUModel] = true
		t.Run(p.InstanceType, func(t *testing.T) {
			r := runNode(t, Node{Model: p.GPUModel, Count: p.GPUCount}, p)
			for _, res := range r.Results {
				if res.Status == nodecheck.Fail || res.Status == nodecheck.Warn {
					t.Errorf("%s gpu %d: %s: %s", res.Check, res.GPU, res.Status, res.Reason)
				}
			}
			if r.Status != nodecheck.Pass && r.Status != nodecheck.Skip {
				t.Fatalf("status %s", r.Status)
			}
			if p.NVLinks > 0 && !hasResult(r, nodecheck.CheckNVLink, nodecheck.Pass) {
				t.Error("NVLink was not checked")
			}
			if p.FabricManager && !hasResult(r, nodecheck.CheckFabric, nodecheck.Pass) {
				t.Error("the fabric was not checked")
			}
		})
	}
	for m := range specs {
		if !models[m] {
			t.Errorf("spec for %s, which no catalog instance type has", m)
		}
	}
}

func hasResult(r *nodecheck.Report, check string, s nodecheck.Status) bool {
	return slices.ContainsFunc(r.Results, func(res nodecheck.Result) bool { return res.Check == check && res.Status == s })
}

// TestFaultsPerCatalogInstanceType breaks the last GPU of a node of every
// instance type with every fault its profile can observe: the node fails
// exactly the fault's checks.
func TestFaultsPerCatalogInstanceType(t *testing.T) {
	tested := map[FaultKind]int{}
	for _, p := range catalogProfiles(t) {
		for _, kind := range FaultKinds {
			n := Node{Model: p.GPUModel, Count: p.GPUCount, Faults: []Fault{{Kind: kind, GPU: p.GPUCount - 1}}}
			if n.Observable(p) != nil {
				continue
			}
			tested[kind]++
			t.Run(p.InstanceType+"/"+string(kind), func(t *testing.T) {
				r := runNode(t, n, p)
				want := slices.Sorted(slices.Values(kind.Checks()))
				if got := failedChecks(r); r.Status != nodecheck.Fail || !slices.Equal(got, want) {
					t.Fatalf("status %s, failed checks %v, want %v", r.Status, got, want)
				}
			})
		}
	}
	for _, kind := range FaultKinds {
		if tested[kind] == 0 {
			t.Errorf("fault %s observable on no catalog instance type", kind)
		}
	}
}

// TestFaultReasons checks each fault's reason and GPU on a typical node.
func TestFaultReasons(t *testing.T) {
	c := planner.Embedded()
	tests := []struct {
		instanceType string
		fault        Fault
		check        string
		gpu          int
		reason       string
	}{
		{"p5.48xlarge", Fault{FaultXID79, 3}, nodecheck.CheckGPUHealth, 3, "GPU is lost (fallen off the bus)"},
		{"p5.48xlarge", Fault{FaultXID79, 3}, nodecheck.CheckXID, -1, "XID 79 (kernel): pid='<unknown>', name=<unknown>, GPU has fallen off the bus. is fatal"},
		{"g6.xlarge", Fault{FaultECCUncorrectable, 0}, nodecheck.CheckECCErrors, 0, "2 uncorrectable ECC errors since the driver loaded"},
		{"p4de.24xlarge", Fault{FaultMissingGPU, 5}, nodecheck.CheckGPUCount, -1, "found 7 GPUs, p4de.24xlarge has 8"},
		{"p6-b200.48xlarge", Fault{FaultNVLinkDown, 2}, nodecheck.CheckNVLink, 2, "1 of 18 NVLink links down (links 17)"},
		{"p3.16xlarge", Fault{FaultNVLinkDown, 7}, nodecheck.CheckNVLink, 7, "1 of 6 NVLink links down (links 5)"},
		{"a3-ultragpu-8g", Fault{FaultFabricManager, 1}, nodecheck.CheckFabric, 1, "fabric manager has not started"},
	}
	for _, tt := range tests {
		t.Run(tt.instanceType+"/"+tt.fault.String()+"/"+tt.check, func(t *testing.T) {
			p, err := nodecheck.ProfileFor(c, tt.instanceType)
			if err != nil {
				t.Fatal(err)
			}
			r := runNode(t, Node{Model: p.GPUModel, Count: p.GPUCount, Faults: []Fault{tt.fault}}, p)
			for _, f := range r.Failures() {
				if f.Check == tt.check && f.GPU == tt.gpu && strings.Contains(f.Reason, tt.reason) {
					return
				}
			}
			t.Fatalf("no %s failure on gpu %d with %q in %+v", tt.check, tt.gpu, tt.reason, r.Failures())
		})
	}
}

// TestMissingGPURenumbers checks that the GPUs after a missing one move
// down, with their PCI bus IDs kept.
func TestMissingGPURenumbers(t *testing.T) {
	s, err := Node{Model: "H100", Count: 4, Faults: []Fault{{FaultMissingGPU, 1}}}.Server()
	if err != nil {
		t.Fatal(err)
	}
	n, _ := s.DeviceGetCount()
	var got []string
	for i := range n {
		d, ret := s.DeviceGetHandleByIndex(i)
		if ret != nvml.SUCCESS {
			t.Fatal(ret)
		}
		idx, _ := d.GetIndex()
		pci, _ := d.GetPciInfo()
		got = append(got, strings.TrimRight(string(int8sToBytes(pci.BusId[:])), "\x00")+"@"+string(rune('0'+idx)))
	}
	want := []string{"0000:00:00.0@0", "0000:02:00.0@1", "0000:03:00.0@2"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func int8sToBytes(in []int8) []byte {
	out := make([]byte, len(in))
	for i, c := range in {
		out[i] = byte(c)
	}
	return out
}

// TestXID79Event checks that a watcher receives the XID 79 event once.
func TestXID79Event(t *testing.T) {
	s, err := Node{Model: "H200", Count: 8, Faults: []Fault{{FaultXID79, 6}}}.Server()
	if err != nil {
		t.Fatal(err)
	}
	if ret := s.Init(); ret != nvml.SUCCESS {
		t.Fatal(ret)
	}
	w, err := nodecheck.WatchXIDs(s)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if ev := w.Wait(10); len(ev) != 1 || ev[0].XID != 79 || ev[0].Source != "nvml" {
		t.Fatalf("events %+v", ev)
	}
	if ev := w.Wait(1); len(ev) != 0 {
		t.Fatalf("second wait: %+v", ev)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		in, err string
		fault   Fault
	}{
		{in: "xid79:0", fault: Fault{FaultXID79, 0}},
		{in: "ecc_uncorrectable:7", fault: Fault{FaultECCUncorrectable, 7}},
		{in: "missing_gpu:3", fault: Fault{FaultMissingGPU, 3}},
		{in: "nvlink_down:1", fault: Fault{FaultNVLinkDown, 1}},
		{in: "fabric_manager:2", fault: Fault{FaultFabricManager, 2}},
		{in: "xid79", err: "must have the form KIND:GPU"},
		{in: "xid48:0", err: `unknown kind "xid48" (kinds: xid79, ecc_uncorrectable, missing_gpu, nvlink_down, fabric_manager)`},
		{in: "xid79:-1", err: "GPU must be an index"},
		{in: "xid79:a", err: "GPU must be an index"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			f, err := ParseFault(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || f != tt.fault || f.String() != tt.in {
				t.Fatalf("got %+v, %v", f, err)
			}
		})
	}
	gpuTests := []struct {
		in, model, err string
		count          int
	}{
		{in: "H100:8", model: "H100", count: 8},
		{in: "A100-80GB:8", model: "A100-80GB", count: 8},
		{in: "L4:1", model: "L4", count: 1},
		{in: "H100", err: "MODEL:COUNT"},
		{in: "H101:8", err: `unknown GPU model "H101"`},
		{in: "H100:0", err: "from 1 to 64"},
		{in: "H100:x", err: "from 1 to 64"},
	}
	for _, tt := range gpuTests {
		t.Run("gpus/"+tt.in, func(t *testing.T) {
			m, c, err := ParseGPUs(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || m != tt.model || c != tt.count {
				t.Fatalf("got %s %d %v", m, c, err)
			}
		})
	}
}

func TestValidateAndObservable(t *testing.T) {
	p5, err := nodecheck.ProfileFor(planner.Embedded(), "p5.48xlarge")
	if err != nil {
		t.Fatal(err)
	}
	g6, err := nodecheck.ProfileFor(planner.Embedded(), "g6.xlarge")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		node    Node
		profile nodecheck.Profile
		err     string
	}{
		{"several faults", Node{"H100", 8, []Fault{{FaultXID79, 0}, {FaultNVLinkDown, 1}, {FaultMissingGPU, 7}}}, p5, ""},
		{"index out of range", Node{"H100", 8, []Fault{{FaultXID79, 8}}}, p5, "the node has GPUs 0 to 7"},
		{"twice", Node{"H100", 8, []Fault{{FaultXID79, 1}, {FaultXID79, 1}}}, p5, "given twice"},
		{"fault on a missing GPU", Node{"H100", 8, []Fault{{FaultMissingGPU, 1}, {FaultECCUncorrectable, 1}}}, p5, "GPU 1 is also missing"},
		{"unknown model", Node{"X1", 1, nil}, g6, `unknown GPU model "X1"`},
		{"nvlink on PCIe", Node{"L4", 1, []Fault{{FaultNVLinkDown, 0}}}, g6, "the profile of g6.xlarge expects no NVLink links"},
		{"fabric without NVSwitch", Node{"L4", 1, []Fault{{FaultFabricManager, 0}}}, g6, "has no NVSwitch fabric manager"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.node.Validate()
			if err == nil {
				err = tt.node.Observable(tt.profile)
			}
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Fatalf("error %v, want %q", err, tt.err)
			}
		})
	}
}
