package nodecheck

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxa100"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxb200"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxh100"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxh200"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/gpus"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/nodecheck/nvmltest"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

var healthy = nvmltest.Healthy

func device(s *server.Server, i int) *server.Device { return s.Devices[i].(*server.Device) }

func mustProfile(t *testing.T, instanceType string) Profile {
	t.Helper()
	p, err := ProfileFor(planner.Embedded(), instanceType)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func find(r *Report, check string, gpu int) *Result {
	for i := range r.Results {
		if r.Results[i].Check == check && r.Results[i].GPU == gpu {
			return &r.Results[i]
		}
	}
	return nil
}

func TestWholeNodes(t *testing.T) {
	for _, tt := range []struct {
		name, instanceType string
		server             *server.Server
		fabric             bool
		nvlinks            int
	}{
		{"DGX H100 as p5.48xlarge", "p5.48xlarge", dgxh100.New(), true, 18},
		{"DGX H200 as p5en.48xlarge", "p5en.48xlarge", dgxh200.New(), true, 18},
		{"DGX B200 as p6-b200.48xlarge", "p6-b200.48xlarge", dgxb200.New(), true, 18},
		{"DGX A100 (40 GB) as p4d.24xlarge", "p4d.24xlarge", dgxa100.New(), false, 12},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := mustProfile(t, tt.instanceType)
			if p.GPUCount != 8 || p.FabricManager != tt.fabric || p.NVLinks != tt.nvlinks {
				t.Fatalf("profile %+v", p)
			}
			r, err := Run(healthy(tt.server), Options{Profile: p, MinDriverVersion: "550.0"})
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != Pass || len(r.Failures()) != 0 {
				t.Fatalf("status %s, failures %+v", r.Status, r.Failures())
			}
			perGPU := 13 // model, memory, ecc x2, remap, inforom, persistence, nvlink, pcie, clocks, temperature, mig, fabric
			if !tt.fabric {
				perGPU--
			}
			if want := 3 + 8*perGPU; len(r.Results) != want {
				t.Fatalf("%d results, want %d:\n%+v", len(r.Results), want, r.Results)
			}
			if r.DriverVersion == "" || !strings.HasPrefix(r.CUDADriverVersion, "12.") {
				t.Fatalf("driver %s cuda %s", r.DriverVersion, r.CUDADriverVersion)
			}
		})
	}
}

func TestChecks(t *testing.T) {
	h100 := func() *server.Server { return healthy(dgxh100.New()) }
	tests := []struct {
		name   string
		server func() *server.Server
		opts   func(*Options)
		check  string
		gpu    int
		want   Status
		reason string
	}{
		{"driver ok", h100, func(o *Options) { o.MinDriverVersion = "550.54" }, CheckDriver, -1, Pass, "550.54.15 >= 550.54"},
		{"driver too old", h100, func(o *Options) { o.MinDriverVersion = "560.28.03" }, CheckDriver, -1, Fail, "older than the minimum 560.28.03"},
		{"missing GPU", func() *server.Server { return healthy(dgxh100.NewWithGPUs(gpus.Multiple(7, gpus.H100_SXM5_80GB)...)) }, nil,
			CheckGPUCount, -1, Fail, "found 7 GPUs, p5.48xlarge has 8"},
		{"GPU lost", func() *server.Server {
			s := h100()
			s.DeviceGetHandleByIndexFunc = lostAt(s, 3, nvml.ERROR_GPU_IS_LOST)
			return s
		}, nil, CheckGPUHealth, 3, Fail, "GPU is lost"},
		{"reset required", func() *server.Server {
			s := h100()
			s.DeviceGetHandleByIndexFunc = lostAt(s, 5, nvml.ERROR_RESET_REQUIRED)
			return s
		}, nil, CheckGPUHealth, 5, Fail, "nvidia-smi -r -i 5"},
		{"wrong model", func() *server.Server { return healthy(dgxa100.New()) }, nil, CheckModel, 0, Fail, `"Mock NVIDIA A100-SXM4-40GB" is not a H100`},
		{"memory", func() *server.Server {
			s := h100()
			device(s, 2).MemoryInfo.Total = 40 << 30
			return s
		}, nil, CheckMemory, 2, Fail, "40.0 GiB, expected about 80 GiB"},
		{"ECC disabled", func() *server.Server {
			s := h100()
			device(s, 1).GetEccModeFunc = func() (nvml.EnableState, nvml.EnableState, nvml.Return) {
				return nvml.FEATURE_DISABLED, nvml.FEATURE_DISABLED, nvml.SUCCESS
			}
			return s
		}, nil, CheckECCMode, 1, Fail, "nvidia-smi -i 1 -e 1"},
		{"ECC to be disabled", func() *server.Server {
			s := h100()
			device(s, 1).GetEccModeFunc = func() (nvml.EnableState, nvml.EnableState, nvml.Return) {
				return nvml.FEATURE_ENABLED, nvml.FEATURE_DISABLED, nvml.SUCCESS
			}
			return s
		}, nil, CheckECCMode, 1, Warn, "disabled at the next reboot"},
		{"ECC error", func() *server.Server {
			s := h100()
			device(s, 6).GetTotalEccErrorsFunc = func(t nvml.MemoryErrorType, c nvml.EccCounterType) (uint64, nvml.Return) {
				if t == nvml.MEMORY_ERROR_TYPE_UNCORRECTED && c == nvml.VOLATILE_ECC {
					return 2, nvml.SUCCESS
				}
				return 0, nvml.SUCCESS
			}
			return s
		}, nil, CheckECCErrors, 6, Fail, "2 uncorrectable ECC errors"},
		{"remap pending", remap(0, true, false), nil, CheckRowRemap, 4, Fail, "row remapping pending"},
		{"remap failed", remap(3, false, true), nil, CheckRowRemap, 4, Fail, "needs an RMA"},
		{"remap limit", remap(512, false, false), nil, CheckRowRemap, 4, Fail, "512 rows remapped"},
		{"remap below limit", remap(511, false, false), nil, CheckRowRemap, 4, Pass, "511 uncorrectable"},
		{"page retirement pending (pre-Ampere)", retired(true, 0), nil, CheckRowRemap, 0, Fail, "page retirement pending"},
		{"retired pages limit (pre-Ampere)", retired(false, 63), nil, CheckRowRemap, 0, Fail, "63 pages retired"},
		{"retired pages ok (pre-Ampere)", retired(false, 62), nil, CheckRowRemap, 0, Pass, "62 pages retired"},
		{"InfoROM corrupted", func() *server.Server {
			s := h100()
			device(s, 0).ValidateInforomFunc = func() nvml.Return { return nvml.ERROR_CORRUPTED_INFOROM }
			return s
		}, nil, CheckInfoROM, 0, Fail, "corrupted"},
		{"persistence off", func() *server.Server {
			s := h100()
			device(s, 0).GetPersistenceModeFunc = func() (nvml.EnableState, nvml.Return) { return nvml.FEATURE_DISABLED, nvml.SUCCESS }
			return s
		}, nil, CheckPersistence, 0, Warn, "nvidia-persistenced"},
		{"fabric manager not started", fabric(nvml.GPU_FABRIC_STATE_NOT_STARTED, nvml.SUCCESS), nil, CheckFabric, 7, Fail, "systemctl enable --now nvidia-fabricmanager"},
		{"fabric error", fabric(nvml.GPU_FABRIC_STATE_COMPLETED, nvml.ERROR_UNKNOWN), nil, CheckFabric, 7, Fail, "finished with an error"},
		{"fabric training times out", fabric(nvml.GPU_FABRIC_STATE_IN_PROGRESS, nvml.SUCCESS),
			func(o *Options) { o.FabricTimeout = 10 * time.Second }, CheckFabric, 7, Fail, "still training after 10s"},
		{"fabric training completes while waiting", func() *server.Server {
			s := h100()
			polls := 0
			device(s, 7).GetGpuFabricInfoFunc = func() (nvml.GpuFabricInfo, nvml.Return) {
				polls++
				if polls < 3 {
					return nvml.GpuFabricInfo{State: nvml.GPU_FABRIC_STATE_IN_PROGRESS}, nvml.SUCCESS
				}
				return nvml.GpuFabricInfo{State: nvml.GPU_FABRIC_STATE_COMPLETED}, nvml.SUCCESS
			}
			return s
		}, func(o *Options) { o.FabricTimeout = time.Minute }, CheckFabric, 7, Pass, "fabric ready"},
		{"NVLink down", func() *server.Server {
			s := h100()
			device(s, 2).GetNvLinkStateFunc = func(l int) (nvml.EnableState, nvml.Return) {
				if l == 3 || l == 17 {
					return nvml.FEATURE_DISABLED, nvml.SUCCESS
				}
				return nvml.FEATURE_ENABLED, nvml.SUCCESS
			}
			return s
		}, nil, CheckNVLink, 2, Fail, "2 of 18 NVLink links down (links 3,17)"},
		{"PCIe downtrained in P0", pcie(nvml.PSTATE_0), nil, CheckPCIe, 3, Fail, "gen4 x8, capable of gen5 x16"},
		{"PCIe downtrained while idle", pcie(nvml.PSTATE_8), nil, CheckPCIe, 3, Skip, "only meaningful under load"},
		{"thermal slowdown", func() *server.Server {
			s := h100()
			device(s, 5).GetCurrentClocksEventReasonsFunc = func() (uint64, nvml.Return) {
				return nvml.ClocksThrottleReasonHwThermalSlowdown | nvml.ClocksEventReasonGpuIdle, nvml.SUCCESS
			}
			return s
		}, nil, CheckClocks, 5, Fail, "hardware thermal slowdown"},
		{"hot", temperature(80), nil, CheckTemperature, 1, Warn, "within 10 C"},
		{"too hot", temperature(88), nil, CheckTemperature, 1, Fail, "at or above the slowdown threshold"},
		{"MIG unexpected", func() *server.Server {
			s := h100()
			device(s, 0).MigMode = nvml.DEVICE_MIG_ENABLE
			return s
		}, nil, CheckMIG, 0, Fail, "MIG is enabled, expected disabled"},
		{"XID 79 in the kernel log", h100, func(o *Options) {
			o.KernelLog = func() ([]string, error) {
				return []string{"[  12.3] NVRM: Xid (PCI:0000:03:00): 79, pid='<unknown>', name=<unknown>, GPU has fallen off the bus."}, nil
			}
		}, CheckXID, 3, Fail, "XID 79 (kernel): pid='<unknown>', name=<unknown>, GPU has fallen off the bus. is fatal"},
		{"XID 48 from NVML", h100, func(o *Options) { o.Events = []XIDEvent{{GPU: 2, XID: 48, Source: "nvml"}} }, CheckXID, 2, Fail, "XID 48 (nvml) is fatal"},
		{"application XID ignored", h100, func(o *Options) {
			o.KernelLog = func() ([]string, error) { return []string{"NVRM: Xid (PCI:0000:01:00): 13, Graphics Exception"}, nil }
		}, CheckXID, -1, Pass, "no fatal or unclassified"},
		{"unknown XID", h100, func(o *Options) { o.Events = []XIDEvent{{GPU: 1, XID: 999, Source: "nvml"}} }, CheckXID, 1, Warn, "not classified"},
		{"kernel log unreadable", h100, func(o *Options) {
			o.KernelLog = func() ([]string, error) { return nil, errors.New("permission denied") }
		}, CheckXID, -1, Warn, "cannot read the kernel log"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{Profile: mustProfile(t, "p5.48xlarge"), Sleep: func(time.Duration) {}}
			if tt.opts != nil {
				tt.opts(&opts)
			}
			r, err := Run(tt.server(), opts)
			if err != nil {
				t.Fatal(err)
			}
			res := find(r, tt.check, tt.gpu)
			if res == nil {
				t.Fatalf("no %s result for GPU %d in %+v", tt.check, tt.gpu, r.Results)
			}
			if res.Status != tt.want || !strings.Contains(res.Reason, tt.reason) {
				t.Fatalf("%s GPU %d: %s %q, want %s containing %q", tt.check, tt.gpu, res.Status, res.Reason, tt.want, tt.reason)
			}
			if tt.want == Fail && r.Status != Fail {
				t.Fatalf("report status %s with a failed check", r.Status)
			}
		})
	}
}

func lostAt(s *server.Server, index int, ret nvml.Return) func(int) (nvml.Device, nvml.Return) {
	return func(i int) (nvml.Device, nvml.Return) {
		if i == index {
			return nil, ret
		}
		return s.Devices[i], nvml.SUCCESS
	}
}

func remap(unc int, pending, failed bool) func() *server.Server {
	return func() *server.Server {
		s := healthy(dgxh100.New())
		device(s, 4).GetRemappedRowsFunc = func() (int, int, bool, bool, nvml.Return) { return 0, unc, pending, failed, nvml.SUCCESS }
		return s
	}
}

func retired(pending bool, pages int) func() *server.Server {
	return func() *server.Server {
		s := healthy(dgxh100.New())
		d := device(s, 0)
		d.GetRemappedRowsFunc = func() (int, int, bool, bool, nvml.Return) { return 0, 0, false, false, nvml.ERROR_NOT_SUPPORTED }
		d.GetRetiredPagesPendingStatusFunc = func() (nvml.EnableState, nvml.Return) {
			if pending {
				return nvml.FEATURE_ENABLED, nvml.SUCCESS
			}
			return nvml.FEATURE_DISABLED, nvml.SUCCESS
		}
		d.GetRetiredPagesFunc = func(nvml.PageRetirementCause) ([]uint64, nvml.Return) { return make([]uint64, pages), nvml.SUCCESS }
		return s
	}
}

func fabric(state uint8, status nvml.Return) func() *server.Server {
	return func() *server.Server {
		s := healthy(dgxh100.New())
		device(s, 7).GetGpuFabricInfoFunc = func() (nvml.GpuFabricInfo, nvml.Return) {
			return nvml.GpuFabricInfo{State: state, Status: uint32(status)}, nvml.SUCCESS
		}
		return s
	}
}

func pcie(ps nvml.Pstates) func() *server.Server {
	return func() *server.Server {
		s := healthy(dgxh100.New())
		d := device(s, 3)
		d.GetPerformanceStateFunc = func() (nvml.Pstates, nvml.Return) { return ps, nvml.SUCCESS }
		d.GetCurrPcieLinkGenerationFunc = func() (int, nvml.Return) { return 4, nvml.SUCCESS }
		d.GetCurrPcieLinkWidthFunc = func() (int, nvml.Return) { return 8, nvml.SUCCESS }
		return s
	}
}

func temperature(c uint32) func() *server.Server {
	return func() *server.Server {
		s := healthy(dgxh100.New())
		device(s, 1).GetTemperatureFunc = func(nvml.TemperatureSensors) (uint32, nvml.Return) { return c, nvml.SUCCESS }
		return s
	}
}

func TestCannotRun(t *testing.T) {
	s := dgxh100.New()
	s.InitFunc = func() nvml.Return { return nvml.ERROR_LIBRARY_NOT_FOUND }
	_, err := Run(s, Options{Profile: mustProfile(t, "p5.48xlarge")})
	if !errors.Is(err, ErrCannotRun) || !strings.Contains(err.Error(), "ERROR_LIBRARY_NOT_FOUND") {
		t.Fatalf("error %v", err)
	}
}

func TestProfiles(t *testing.T) {
	for it, want := range map[string]Profile{
		"p5.48xlarge":              {InstanceType: "p5.48xlarge", GPUCount: 8, GPUModel: "H100", MemoryGiB: 80, NVLinks: 18, FabricManager: true},
		"a3-highgpu-8g":            {InstanceType: "a3-highgpu-8g", GPUCount: 8, GPUModel: "H100", MemoryGiB: 80, NVLinks: 18, FabricManager: true},
		"Standard_ND96isr_H100_v5": {InstanceType: "Standard_ND96isr_H100_v5", GPUCount: 8, GPUModel: "H100", MemoryGiB: 80, NVLinks: 18, FabricManager: true},
		"p4d.24xlarge":             {InstanceType: "p4d.24xlarge", GPUCount: 8, GPUModel: "A100", MemoryGiB: 40, NVLinks: 12},
		"g6.xlarge":                {InstanceType: "g6.xlarge", GPUCount: 1, GPUModel: "L4", MemoryGiB: 22.35},
	} {
		if got := mustProfile(t, it); got != want {
			t.Errorf("%s: %+v, want %+v", it, got, want)
		}
	}
	if _, err := ProfileFor(planner.Embedded(), "p5.48xlarg"); err == nil || !strings.Contains(err.Error(), "did you mean p5.48xlarge") {
		t.Fatalf("error %v", err)
	}
}

func TestModelMatches(t *testing.T) {
	for _, tt := range []struct {
		name, model string
		want        bool
	}{
		{"NVIDIA H100 80GB HBM3", "H100", true},
		{"NVIDIA H100 NVL", "H100", false},
		{"NVIDIA H100 NVL", "H100-NVL", true},
		{"NVIDIA A100-SXM4-80GB", "A100-80GB", true},
		{"NVIDIA A100-SXM4-40GB", "A100", true},
		{"NVIDIA A10G", "A10", false},
		{"NVIDIA A10G", "A10G", true},
		{"Tesla T4", "T4", true},
		{"NVIDIA H200 141GB HBM3e", "H100", false},
	} {
		if got := modelMatches(tt.name, tt.model); got != tt.want {
			t.Errorf("modelMatches(%q, %q) = %v", tt.name, tt.model, got)
		}
	}
}

func TestXIDWatcher(t *testing.T) {
	s := healthy(dgxh100.New())
	events := []nvml.EventData{{Device: s.Devices[4], EventType: nvml.EventTypeXidCriticalError, EventData: 79}}
	set := &mock.EventSet{
		WaitFunc: func(uint32) (nvml.EventData, nvml.Return) {
			if len(events) == 0 {
				return nvml.EventData{}, nvml.ERROR_TIMEOUT
			}
			e := events[0]
			events = events[1:]
			return e, nvml.SUCCESS
		},
		FreeFunc: func() nvml.Return { return nvml.SUCCESS },
	}
	registered := 0
	s.EventSetCreateFunc = func() (nvml.EventSet, nvml.Return) { return set, nvml.SUCCESS }
	for _, d := range s.Devices {
		d.(*server.Device).RegisterEventsFunc = func(types uint64, _ nvml.EventSet) nvml.Return {
			if types&nvml.EventTypeXidCriticalError != 0 {
				registered++
			}
			return nvml.SUCCESS
		}
	}
	w, err := WatchXIDs(s)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	got := w.Wait(10)
	if registered != 8 || len(got) != 1 || got[0].GPU != 4 || got[0].XID != 79 {
		t.Fatalf("registered %d, events %+v", registered, got)
	}
	if ClassifyXID(79) != XIDFatal || ClassifyXID(31) != XIDIgnored || ClassifyXID(1) != XIDUnknown {
		t.Fatal("classification")
	}
}
