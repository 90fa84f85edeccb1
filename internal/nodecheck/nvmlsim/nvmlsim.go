// Package nvmlsim builds simulated GPU nodes for gpufleet-nodecheck's
// --simulate-gpus mode: a go-nvml mock server with the GPUs of one catalog
// model, healthy (nvmltest.Healthy) unless faults break given GPUs, so that
// the simulated clouds run the real checks of internal/nodecheck against
// their nodes.
//
// Every GPU model of the embedded catalog (planner.Embedded) has a spec
// here; go-nvml's DGX A100/H100/H200/B200 configurations are used where
// they exist, and the other models adapt them: name as NVML reports it,
// memory, architecture, NVLink links, fabric and MIG support.
package nvmlsim

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/gpus"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/nodecheck"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/nodecheck/nvmltest"
)

// Driver is the driver of every simulated node: new enough for every
// catalog GPU (Blackwell B300 needs the 580 branch) and for any
// --min-driver-version a pool plausibly sets.
const (
	DriverVersion     = "580.95.05"
	NVMLVersion       = "13.580.95.05"
	CUDADriverVersion = 13000
)

// Spec is what a simulated GPU of one model reports through NVML.
type Spec struct {
	// Config is go-nvml's mock configuration: name, architecture, brand,
	// memory, compute capability, PCI device ID and MIG profiles.
	Config gpus.Config
	// NVLinks is the number of NVLink links of the SXM form, 0 for PCIe
	// cards (NVML then answers NOT_SUPPORTED).
	NVLinks int
	// Fabric is true when the GPU reports an NVSwitch fabric state
	// (Hopper and later HGX boards).
	Fabric bool
	// MIG is true when the GPU supports MIG (NVML answers NOT_SUPPORTED
	// otherwise).
	MIG bool
	// RowRemapping is true on Ampere and later; older GPUs retire pages.
	RowRemapping bool
}

func card(name string, arch nvml.DeviceArchitecture, brand nvml.BrandType, memMiB uint64, major, minor int, pciID uint32) gpus.Config {
	return gpus.Config{Name: name, Architecture: arch, Brand: brand, MemoryMB: memMiB, CudaMajor: major, CudaMinor: minor, PciDeviceId: pciID}
}

func renamed(c gpus.Config, name string) gpus.Config {
	c.Name = name
	return c
}

// specs are keyed by the catalog's GPU model. Names and memory sizes are
// those nvidia-smi reports on the cloud instances (memory in MiB).
var specs = map[string]Spec{
	"A100":      {Config: renamed(gpus.A100_SXM4_40GB, "NVIDIA A100-SXM4-40GB"), NVLinks: 12, MIG: true, RowRemapping: true},
	"A100-80GB": {Config: gpus.A100_SXM4_80GB, NVLinks: 12, MIG: true, RowRemapping: true},
	"H100":      {Config: gpus.H100_SXM5_80GB, NVLinks: 18, Fabric: true, MIG: true, RowRemapping: true},
	"H100-NVL":  {Config: card("NVIDIA H100 NVL", nvml.DEVICE_ARCH_HOPPER, nvml.BRAND_NVIDIA, 95830, 9, 0, 0x232110DE), MIG: true, RowRemapping: true},
	"H200":      {Config: gpus.H200_SXM5_141GB, NVLinks: 18, Fabric: true, MIG: true, RowRemapping: true},
	"B200":      {Config: gpus.B200_SXM5_180GB, NVLinks: 18, Fabric: true, MIG: true, RowRemapping: true},
	"B300":      {Config: card("NVIDIA B300 SXM6 AC", nvml.DEVICE_ARCH_BLACKWELL, nvml.BRAND_NVIDIA, 275040, 10, 3, 0x318210DE), NVLinks: 18, Fabric: true, MIG: true, RowRemapping: true},
	"A10":       {Config: card("NVIDIA A10", nvml.DEVICE_ARCH_AMPERE, nvml.BRAND_NVIDIA, 23028, 8, 6, 0x223610DE), RowRemapping: true},
	"A10G":      {Config: card("NVIDIA A10G", nvml.DEVICE_ARCH_AMPERE, nvml.BRAND_NVIDIA, 23028, 8, 6, 0x223710DE), RowRemapping: true},
	"L4":        {Config: card("NVIDIA L4", nvml.DEVICE_ARCH_ADA, nvml.BRAND_NVIDIA, 23034, 8, 9, 0x27B810DE), RowRemapping: true},
	"L40S":      {Config: card("NVIDIA L40S", nvml.DEVICE_ARCH_ADA, nvml.BRAND_NVIDIA, 46068, 8, 9, 0x26B910DE), RowRemapping: true},
	"T4":        {Config: card("Tesla T4", nvml.DEVICE_ARCH_TURING, nvml.BRAND_TESLA, 15360, 7, 5, 0x1EB810DE)},
	"T4g":       {Config: card("NVIDIA T4G", nvml.DEVICE_ARCH_TURING, nvml.BRAND_NVIDIA, 15360, 7, 5, 0x1EB410DE)},
	"V100":      {Config: card("Tesla V100-SXM2-16GB", nvml.DEVICE_ARCH_VOLTA, nvml.BRAND_TESLA, 16384, 7, 0, 0x1DB110DE), NVLinks: 6},
	"V100-32GB": {Config: card("Tesla V100-SXM2-32GB", nvml.DEVICE_ARCH_VOLTA, nvml.BRAND_TESLA, 32768, 7, 0, 0x1DB510DE), NVLinks: 6},
	"P100":      {Config: card("Tesla P100-PCIE-16GB", nvml.DEVICE_ARCH_PASCAL, nvml.BRAND_TESLA, 16384, 6, 0, 0x15F810DE)},
	"P4":        {Config: card("Tesla P4", nvml.DEVICE_ARCH_PASCAL, nvml.BRAND_TESLA, 7680, 6, 1, 0x1BB310DE)},
	"M60":       {Config: card("Tesla M60", nvml.DEVICE_ARCH_MAXWELL, nvml.BRAND_TESLA, 8192, 5, 2, 0x13F210DE)},
}

// Models returns the simulated GPU models, sorted.
func Models() []string {
	out := make([]string, 0, len(specs))
	for m := range specs {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}

// SpecFor returns the spec of a catalog GPU model.
func SpecFor(model string) (Spec, bool) {
	s, ok := specs[model]
	return s, ok
}

// FaultKind is one way a simulated GPU breaks.
type FaultKind string

// Fault kinds, each observed by one or more real checks of nodecheck.
const (
	// FaultXID79: the GPU fell off the bus. Its handle answers
	// ERROR_GPU_IS_LOST (check gpu_health), the kernel log holds the
	// driver's XID 79 message (check xid) and an XID 79 NVML event is
	// delivered to a watcher.
	FaultXID79 FaultKind = "xid79"
	// FaultECCUncorrectable: volatile uncorrectable ECC errors since the
	// driver loaded (check ecc_uncorrected_volatile).
	FaultECCUncorrectable FaultKind = "ecc_uncorrectable"
	// FaultMissingGPU: NVML sees one GPU fewer (check gpu_count); the
	// remaining GPUs are renumbered as NVML does.
	FaultMissingGPU FaultKind = "missing_gpu"
	// FaultNVLinkDown: one NVLink link of the GPU is inactive (check nvlink).
	FaultNVLinkDown FaultKind = "nvlink_down"
	// FaultFabricManager: the fabric manager has not trained the GPU's
	// fabric (check fabric_manager).
	FaultFabricManager FaultKind = "fabric_manager"
)

// FaultKinds are the kinds --simulate-fault accepts, in documentation order.
var FaultKinds = []FaultKind{FaultXID79, FaultECCUncorrectable, FaultMissingGPU, FaultNVLinkDown, FaultFabricManager}

// Checks returns the nodecheck checks that fail on a node with this fault.
func (k FaultKind) Checks() []string {
	switch k {
	case FaultXID79:
		return []string{nodecheck.CheckGPUHealth, nodecheck.CheckXID}
	case FaultECCUncorrectable:
		return []string{nodecheck.CheckECCErrors}
	case FaultMissingGPU:
		return []string{nodecheck.CheckGPUCount}
	case FaultNVLinkDown:
		return []string{nodecheck.CheckNVLink}
	case FaultFabricManager:
		return []string{nodecheck.CheckFabric}
	}
	return nil
}

// Fault breaks one GPU, by its index before any GPU goes missing.
type Fault struct {
	Kind FaultKind
	GPU  int
}

// String returns the flag form, "kind:gpu".
func (f Fault) String() string { return fmt.Sprintf("%s:%d", f.Kind, f.GPU) }

// ParseFault parses "kind:gpu", such as "xid79:3".
func ParseFault(s string) (Fault, error) {
	kind, gpu, ok := strings.Cut(s, ":")
	if !ok {
		return Fault{}, fmt.Errorf("fault %q must have the form KIND:GPU, such as xid79:0 (kinds: %s)", s, kindList())
	}
	if !slices.Contains(FaultKinds, FaultKind(kind)) {
		return Fault{}, fmt.Errorf("fault %q: unknown kind %q (kinds: %s)", s, kind, kindList())
	}
	n, err := strconv.Atoi(gpu)
	if err != nil || n < 0 {
		return Fault{}, fmt.Errorf("fault %q: GPU must be an index 0, 1, ..., got %q", s, gpu)
	}
	return Fault{Kind: FaultKind(kind), GPU: n}, nil
}

func kindList() string {
	names := make([]string, len(FaultKinds))
	for i, k := range FaultKinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

// Node is a simulated GPU node.
type Node struct {
	Model  string
	Count  int
	Faults []Fault
}

// ParseGPUs parses "MODEL:COUNT", such as "H100:8".
func ParseGPUs(s string) (model string, count int, err error) {
	model, c, ok := strings.Cut(s, ":")
	if !ok {
		return "", 0, fmt.Errorf("--simulate-gpus %q must have the form MODEL:COUNT, such as H100:8", s)
	}
	if _, known := specs[model]; !known {
		return "", 0, fmt.Errorf("--simulate-gpus %q: unknown GPU model %q (models: %s)", s, model, strings.Join(Models(), ", "))
	}
	count, err = strconv.Atoi(c)
	if err != nil || count < 1 || count > 64 {
		return "", 0, fmt.Errorf("--simulate-gpus %q: COUNT must be a number of GPUs from 1 to 64, got %q", s, c)
	}
	return model, count, nil
}

// Validate checks the faults against the node: indexes in range, at most
// one fault of a kind per GPU, and a GPU that goes missing has no other
// fault.
func (n Node) Validate() error {
	if _, ok := specs[n.Model]; !ok {
		return fmt.Errorf("unknown GPU model %q (models: %s)", n.Model, strings.Join(Models(), ", "))
	}
	if n.Count < 1 {
		return fmt.Errorf("GPU count must be positive, got %d", n.Count)
	}
	seen := map[Fault]bool{}
	missing := map[int]bool{}
	for _, f := range n.Faults {
		if f.GPU >= n.Count {
			return fmt.Errorf("fault %s: the node has GPUs 0 to %d", f, n.Count-1)
		}
		if seen[f] {
			return fmt.Errorf("fault %s given twice", f)
		}
		seen[f] = true
		if f.Kind == FaultMissingGPU {
			missing[f.GPU] = true
		}
	}
	for _, f := range n.Faults {
		if f.Kind != FaultMissingGPU && missing[f.GPU] {
			return fmt.Errorf("fault %s: GPU %d is also missing (missing_gpu:%d), so nothing can observe the fault", f, f.GPU, f.GPU)
		}
	}
	return nil
}

// Observable reports why a fault would not be seen by the checks of a
// profile: NVLink faults need a profile that expects NVLink links, fabric
// faults one that expects a fabric manager. nil means it is observed.
func (n Node) Observable(p nodecheck.Profile) error {
	for _, f := range n.Faults {
		switch {
		case f.Kind == FaultNVLinkDown && p.NVLinks == 0:
			return fmt.Errorf("fault %s cannot be observed: the profile of %s expects no NVLink links", f, profileName(p))
		case f.Kind == FaultFabricManager && !p.FabricManager:
			return fmt.Errorf("fault %s cannot be observed: the profile of %s has no NVSwitch fabric manager", f, profileName(p))
		}
	}
	return nil
}

func profileName(p nodecheck.Profile) string {
	if p.InstanceType != "" {
		return p.InstanceType
	}
	return fmt.Sprintf("%d x %s", p.GPUCount, p.GPUModel)
}

// Server builds the node's NVML mock: every query nodecheck makes answers
// as on a healthy GPU of the model, except where a fault says otherwise.
// XID events are delivered through EventSetCreate/RegisterEvents.
func (n Node) Server() (*server.Server, error) {
	if err := n.Validate(); err != nil {
		return nil, err
	}
	spec := specs[n.Model]
	s := server.NewServerWithGPUs(DriverVersion, NVMLVersion, CUDADriverVersion, gpus.Multiple(n.Count, spec.Config)...)
	nvmltest.Healthy(s)
	for _, d := range s.Devices {
		adaptDevice(d.(*server.Device), spec)
	}
	events := &eventQueue{}
	broken := map[int]bool{}
	for _, f := range n.Faults {
		dev := s.Devices[f.GPU].(*server.Device)
		switch f.Kind {
		case FaultXID79:
			broken[f.GPU] = true
			events.add(nvml.EventData{Device: dev, EventType: nvml.EventTypeXidCriticalError, EventData: 79})
		case FaultECCUncorrectable:
			dev.GetTotalEccErrorsFunc = func(t nvml.MemoryErrorType, c nvml.EccCounterType) (uint64, nvml.Return) {
				if t == nvml.MEMORY_ERROR_TYPE_UNCORRECTED && c == nvml.VOLATILE_ECC {
					return 2, nvml.SUCCESS
				}
				return 0, nvml.SUCCESS
			}
		case FaultNVLinkDown:
			down, healthy := spec.NVLinks-1, dev.GetNvLinkStateFunc
			dev.GetNvLinkStateFunc = func(link int) (nvml.EnableState, nvml.Return) {
				if link == down {
					return nvml.FEATURE_DISABLED, nvml.SUCCESS
				}
				return healthy(link)
			}
		case FaultFabricManager:
			dev.GetGpuFabricInfoFunc = func() (nvml.GpuFabricInfo, nvml.Return) {
				return nvml.GpuFabricInfo{State: nvml.GPU_FABRIC_STATE_NOT_STARTED, Status: uint32(nvml.ERROR_NOT_READY)}, nvml.SUCCESS
			}
		}
	}
	orig := s.Devices
	lost := map[nvml.Device]bool{}
	for i := range broken {
		lost[orig[i]] = true
	}
	var visible []nvml.Device
	for i, d := range orig {
		if !slices.Contains(n.Faults, Fault{Kind: FaultMissingGPU, GPU: i}) {
			visible = append(visible, d)
		}
	}
	for i, d := range visible {
		dev := d.(*server.Device)
		dev.Index, dev.Minor = i, i
	}
	s.Devices = visible
	s.DeviceGetHandleByIndexFunc = func(index int) (nvml.Device, nvml.Return) {
		if index < 0 || index >= len(s.Devices) {
			return nil, nvml.ERROR_INVALID_ARGUMENT
		}
		if lost[s.Devices[index]] {
			return nil, nvml.ERROR_GPU_IS_LOST
		}
		return s.Devices[index], nvml.SUCCESS
	}
	s.EventSetCreateFunc = func() (nvml.EventSet, nvml.Return) { return events.set(), nvml.SUCCESS }
	for _, d := range s.Devices {
		d.(*server.Device).RegisterEventsFunc = func(uint64, nvml.EventSet) nvml.Return { return nvml.SUCCESS }
	}
	return s, nil
}

// KernelLog returns the kernel messages the faults leave: the driver's
// "NVRM: Xid" line for each GPU that fell off the bus, with its PCI bus ID.
func (n Node) KernelLog() []string {
	var lines []string
	for _, f := range n.Faults {
		if f.Kind == FaultXID79 {
			lines = append(lines, fmt.Sprintf("[  412.803117] NVRM: Xid (PCI:0000:%02x:00): 79, pid='<unknown>', name=<unknown>, GPU has fallen off the bus.", f.GPU))
		}
	}
	return lines
}

// adaptDevice makes a device answer as the model does where go-nvml's DGX
// defaults (or nvmltest.Healthy) do not fit it.
func adaptDevice(dev *server.Device, spec Spec) {
	links := spec.NVLinks
	dev.GetNvLinkStateFunc = func(link int) (nvml.EnableState, nvml.Return) {
		switch {
		case links == 0:
			return 0, nvml.ERROR_NOT_SUPPORTED
		case link < 0 || link >= links:
			return 0, nvml.ERROR_INVALID_ARGUMENT
		}
		return nvml.FEATURE_ENABLED, nvml.SUCCESS
	}
	if !spec.Fabric {
		dev.GetGpuFabricInfoFunc = func() (nvml.GpuFabricInfo, nvml.Return) { return nvml.GpuFabricInfo{}, nvml.ERROR_NOT_SUPPORTED }
	}
	if !spec.MIG {
		dev.GetMigModeFunc = func() (int, int, nvml.Return) { return 0, 0, nvml.ERROR_NOT_SUPPORTED }
	}
	if !spec.RowRemapping {
		dev.GetRemappedRowsFunc = func() (int, int, bool, bool, nvml.Return) { return 0, 0, false, false, nvml.ERROR_NOT_SUPPORTED }
		dev.GetRetiredPagesPendingStatusFunc = func() (nvml.EnableState, nvml.Return) { return nvml.FEATURE_DISABLED, nvml.SUCCESS }
		dev.GetRetiredPagesFunc = func(nvml.PageRetirementCause) ([]uint64, nvml.Return) { return nil, nvml.SUCCESS }
	}
}

// eventQueue delivers the simulated XID events once, to the event sets
// created on the server.
type eventQueue struct {
	mu      sync.Mutex
	pending []nvml.EventData
}

func (q *eventQueue) add(e nvml.EventData) { q.pending = append(q.pending, e) }

func (q *eventQueue) next() (nvml.EventData, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.pending) == 0 {
		return nvml.EventData{}, false
	}
	e := q.pending[0]
	q.pending = q.pending[1:]
	return e, true
}

// maxWait bounds how long a simulated Wait blocks, so that a simulated
// validator stops promptly (its callers wait again until their deadline).
const maxWait = 250 * time.Millisecond

// set returns an event set whose Wait returns the pending events one at a
// time and otherwise blocks for the timeout (at most maxWait) and answers
// ERROR_TIMEOUT, as NVML's does.
func (q *eventQueue) set() nvml.EventSet {
	return &mock.EventSet{
		WaitFunc: func(timeoutMS uint32) (nvml.EventData, nvml.Return) {
			if e, ok := q.next(); ok {
				return e, nvml.SUCCESS
			}
			time.Sleep(min(time.Duration(timeoutMS)*time.Millisecond, maxWait))
			return nvml.EventData{}, nvml.ERROR_TIMEOUT
		},
		FreeFunc: func() nvml.Return { return nvml.SUCCESS },
	}
}
