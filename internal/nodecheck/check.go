package nodecheck

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// Status is the outcome of one check.
type Status string

// Statuses, from best to worst. A node passes when no check fails.
const (
	Pass Status = "pass"
	Skip Status = "skip" // not applicable or not supported on this GPU
	Warn Status = "warn" // works, but a person should look
	Fail Status = "fail"
)

func (s Status) rank() int { return slices.Index([]Status{Pass, Skip, Warn, Fail}, s) }

// Result is one check on the node (GPU -1) or on one GPU.
type Result struct {
	Check  string `json:"check"`
	GPU    int    `json:"gpu"`
	Status Status `json:"status"`
	Reason string `json:"reason"`
}

// Report is the outcome of a validation run.
type Report struct {
	Profile           Profile  `json:"profile"`
	DriverVersion     string   `json:"driver_version"`
	CUDADriverVersion string   `json:"cuda_driver_version"`
	Status            Status   `json:"status"`
	Results           []Result `json:"results"`
}

// Failures returns the failed results.
func (r *Report) Failures() []Result {
	var out []Result
	for _, res := range r.Results {
		if res.Status == Fail {
			out = append(out, res)
		}
	}
	return out
}

func (r *Report) add(check string, gpu int, s Status, format string, args ...any) {
	r.Results = append(r.Results, Result{Check: check, GPU: gpu, Status: s, Reason: fmt.Sprintf(format, args...)})
	if s.rank() > r.Status.rank() {
		r.Status = s
	}
}

// ErrCannotRun is returned (wrapped) when NVML cannot be used at all: no
// driver, no library. The node is not judged.
var ErrCannotRun = errors.New("cannot run GPU checks")

// Options tune a validation run.
type Options struct {
	Profile Profile
	// MinDriverVersion is the oldest acceptable driver, e.g. "550.54".
	MinDriverVersion string
	// FabricTimeout is how long to wait for the fabric manager while the
	// fabric state is "in progress".
	FabricTimeout time.Duration
	// Sleep waits between fabric polls; time.Sleep when nil.
	Sleep func(time.Duration)
	// KernelLog returns kernel log lines (for XIDs logged before the run);
	// nil skips the kernel log.
	KernelLog func() ([]string, error)
	// Events are XID events received since the last run, keyed by GPU index.
	Events []XIDEvent
}

// Check names, in report order.
const (
	CheckDriver         = "driver_version"
	CheckGPUCount       = "gpu_count"
	CheckGPUHealth      = "gpu_health"
	CheckModel          = "model"
	CheckMemory         = "memory"
	CheckECCMode        = "ecc_mode"
	CheckECCErrors      = "ecc_uncorrected_volatile"
	CheckRowRemap       = "row_remapping"
	CheckInfoROM        = "inforom"
	CheckPersistence    = "persistence_mode"
	CheckFabric         = "fabric_manager"
	CheckNVLink         = "nvlink"
	CheckPCIe           = "pcie_link"
	CheckClocks         = "clock_slowdown"
	CheckTemperature    = "temperature"
	CheckMIG            = "mig_mode"
	CheckXID            = "xid"
	remapLimit          = 512 // uncorrectable row remaps at which DCGM fails an Ampere+ GPU
	retiredPagesLimit   = 63  // double-bit retired pages at which a pre-Ampere GPU is replaced
	temperatureHeadroom = 10  // degrees C below the slowdown threshold that count as "well below"
)

// Run validates the node. It returns an error wrapping ErrCannotRun when
// NVML cannot start; every other problem is a result in the report.
func Run(lib nvml.Interface, opts Options) (*Report, error) {
	if ret := lib.Init(); ret != nvml.SUCCESS {
		return nil, fmt.Errorf("%w: NVML did not start: %s (is the NVIDIA driver installed and loaded?)", ErrCannotRun, errorString(ret))
	}
	defer lib.Shutdown()
	r := &Report{Profile: opts.Profile, Status: Pass}

	driver, ret := lib.SystemGetDriverVersion()
	if ret != nvml.SUCCESS {
		return nil, fmt.Errorf("%w: cannot read the driver version: %s", ErrCannotRun, errorString(ret))
	}
	r.DriverVersion = driver
	if cuda, ret := lib.SystemGetCudaDriverVersion(); ret == nvml.SUCCESS {
		r.CUDADriverVersion = fmt.Sprintf("%d.%d", cuda/1000, cuda%1000/10)
	}
	checkDriver(r, driver, opts.MinDriverVersion)

	count, ret := lib.DeviceGetCount()
	if ret != nvml.SUCCESS {
		return nil, fmt.Errorf("%w: cannot count GPUs: %s", ErrCannotRun, errorString(ret))
	}
	if count == opts.Profile.GPUCount {
		r.add(CheckGPUCount, -1, Pass, "%d GPUs, as %s has", count, profileName(opts.Profile))
	} else {
		r.add(CheckGPUCount, -1, Fail, "found %d GPUs, %s has %d: a GPU missing from NVML has usually fallen off the bus "+
			"(look for XID 79 in the kernel log); replace the node", count, profileName(opts.Profile), opts.Profile.GPUCount)
	}

	busIDs := map[string]int{}
	for i := range count {
		dev, ret := lib.DeviceGetHandleByIndex(i)
		if !gpuUsable(r, i, ret) {
			continue
		}
		if pci, ret := dev.GetPciInfo(); ret == nvml.SUCCESS {
			busIDs[normalizeBusID(busIDString(pci))] = i
		}
		checkDevice(r, dev, i, opts)
	}
	checkXIDs(r, opts, busIDs)
	return r, nil
}

func profileName(p Profile) string {
	if p.InstanceType != "" {
		return p.InstanceType
	}
	return "the profile"
}

// gpuUsable records a lost or reset-requiring GPU.
func gpuUsable(r *Report, i int, ret nvml.Return) bool {
	switch ret {
	case nvml.SUCCESS:
		return true
	case nvml.ERROR_GPU_IS_LOST:
		r.add(CheckGPUHealth, i, Fail, "GPU is lost (fallen off the bus): drain the node and replace it")
	case nvml.ERROR_RESET_REQUIRED:
		r.add(CheckGPUHealth, i, Fail, "GPU needs a reset: run `nvidia-smi -r -i %d` with no processes on it, or reboot the node", i)
	default:
		r.add(CheckGPUHealth, i, Fail, "cannot open the GPU through NVML: %s", errorString(ret))
	}
	return false
}

func checkDriver(r *Report, driver, minimum string) {
	if minimum == "" {
		r.add(CheckDriver, -1, Pass, "driver %s (CUDA %s)", driver, r.CUDADriverVersion)
		return
	}
	if compareVersions(driver, minimum) < 0 {
		r.add(CheckDriver, -1, Fail, "driver %s is older than the minimum %s: update the node image or the GPU driver", driver, minimum)
		return
	}
	r.add(CheckDriver, -1, Pass, "driver %s >= %s (CUDA %s)", driver, minimum, r.CUDADriverVersion)
}

// compareVersions compares dotted numeric versions ("550.54.15").
func compareVersions(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := range max(len(pa), len(pb)) {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// supported runs a check only when NVML supports the query on this GPU.
func supported(r *Report, check string, gpu int, ret nvml.Return) bool {
	switch ret {
	case nvml.SUCCESS:
		return true
	case nvml.ERROR_NOT_SUPPORTED:
		r.add(check, gpu, Skip, "not supported on this GPU")
	case nvml.ERROR_GPU_IS_LOST:
		r.add(check, gpu, Fail, "GPU was lost during the check: drain the node and replace it")
	default:
		r.add(check, gpu, Warn, "NVML query failed: %s", errorString(ret))
	}
	return false
}

func checkDevice(r *Report, dev nvml.Device, i int, opts Options) {
	p := opts.Profile
	name, ret := dev.GetName()
	if supported(r, CheckModel, i, ret) {
		if modelMatches(name, p.GPUModel) {
			r.add(CheckModel, i, Pass, "%s", name)
		} else {
			r.add(CheckModel, i, Fail, "%q is not a %s, which %s has: wrong instance type or a mislabelled node", name, p.GPUModel, profileName(p))
		}
	}
	mem, ret := dev.GetMemoryInfo()
	if supported(r, CheckMemory, i, ret) {
		gib := float64(mem.Total) / (1 << 30)
		if gib >= 0.9*p.MemoryGiB && gib <= 1.15*p.MemoryGiB {
			r.add(CheckMemory, i, Pass, "%.1f GiB", gib)
		} else {
			r.add(CheckMemory, i, Fail, "%.1f GiB, expected about %g GiB", gib, p.MemoryGiB)
		}
	}
	checkECC(r, dev, i)
	checkRemap(r, dev, i)
	if ret := dev.ValidateInforom(); ret == nvml.SUCCESS {
		r.add(CheckInfoROM, i, Pass, "valid")
	} else if ret == nvml.ERROR_CORRUPTED_INFOROM {
		r.add(CheckInfoROM, i, Fail, "InfoROM is corrupted: the GPU needs an RMA")
	} else {
		supported(r, CheckInfoROM, i, ret)
	}
	pm, ret := dev.GetPersistenceMode()
	if supported(r, CheckPersistence, i, ret) {
		if pm == nvml.FEATURE_ENABLED {
			r.add(CheckPersistence, i, Pass, "enabled")
		} else {
			r.add(CheckPersistence, i, Warn, "disabled: enable nvidia-persistenced so the driver stays loaded between jobs")
		}
	}
	if p.FabricManager {
		checkFabric(r, dev, i, opts)
	}
	if p.NVLinks > 0 {
		checkNVLink(r, dev, i, p.NVLinks)
	}
	checkPCIe(r, dev, i)
	checkClocks(r, dev, i)
	checkTemperature(r, dev, i)
	checkMIG(r, dev, i, p.MIG)
}

func checkECC(r *Report, dev nvml.Device, i int) {
	current, pending, ret := dev.GetEccMode()
	if !supported(r, CheckECCMode, i, ret) {
		return
	}
	switch {
	case current != nvml.FEATURE_ENABLED:
		r.add(CheckECCMode, i, Fail, "ECC is disabled: enable it with `nvidia-smi -i %d -e 1` and reboot", i)
	case pending != nvml.FEATURE_ENABLED:
		r.add(CheckECCMode, i, Warn, "ECC is enabled but will be disabled at the next reboot")
	default:
		r.add(CheckECCMode, i, Pass, "enabled")
	}
	n, ret := dev.GetTotalEccErrors(nvml.MEMORY_ERROR_TYPE_UNCORRECTED, nvml.VOLATILE_ECC)
	if !supported(r, CheckECCErrors, i, ret) {
		return
	}
	if n > 0 {
		r.add(CheckECCErrors, i, Fail, "%d uncorrectable ECC errors since the driver loaded: data on this GPU may be corrupt; drain and reset the GPU", n)
	} else {
		r.add(CheckECCErrors, i, Pass, "0")
	}
}

// checkRemap applies row remapping (Ampere and later) or page retirement
// (earlier GPUs), with DCGM's thresholds.
func checkRemap(r *Report, dev nvml.Device, i int) {
	corr, unc, pending, failed, ret := dev.GetRemappedRows()
	if ret == nvml.ERROR_NOT_SUPPORTED {
		checkRetiredPages(r, dev, i)
		return
	}
	if !supported(r, CheckRowRemap, i, ret) {
		return
	}
	switch {
	case failed:
		r.add(CheckRowRemap, i, Fail, "a row remapping failed: the GPU has run out of spare rows and needs an RMA")
	case pending:
		r.add(CheckRowRemap, i, Fail, "row remapping pending: reset the GPU (or reboot) to apply it before running work")
	case unc >= remapLimit:
		r.add(CheckRowRemap, i, Fail, "%d rows remapped for uncorrectable errors (limit %d): the GPU needs an RMA", unc, remapLimit)
	default:
		r.add(CheckRowRemap, i, Pass, "%d correctable and %d uncorrectable remaps", corr, unc)
	}
}

func checkRetiredPages(r *Report, dev nvml.Device, i int) {
	pendingState, ret := dev.GetRetiredPagesPendingStatus()
	if !supported(r, CheckRowRemap, i, ret) {
		return
	}
	if pendingState == nvml.FEATURE_ENABLED {
		r.add(CheckRowRemap, i, Fail, "page retirement pending: reset the GPU (or reboot) to retire the pages")
		return
	}
	pages, ret := dev.GetRetiredPages(nvml.PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR)
	if !supported(r, CheckRowRemap, i, ret) {
		return
	}
	if len(pages) >= retiredPagesLimit {
		r.add(CheckRowRemap, i, Fail, "%d pages retired for double-bit errors (limit %d): the GPU needs an RMA", len(pages), retiredPagesLimit)
		return
	}
	r.add(CheckRowRemap, i, Pass, "%d pages retired for double-bit errors", len(pages))
}

func checkFabric(r *Report, dev nvml.Device, i int, opts Options) {
	sleep := opts.Sleep
	if sleep == nil {
		sleep = time.Sleep
	}
	const poll = 2 * time.Second
	var waited time.Duration
	for {
		info, ret := dev.GetGpuFabricInfo()
		if !supported(r, CheckFabric, i, ret) {
			return
		}
		switch info.State {
		case nvml.GPU_FABRIC_STATE_COMPLETED:
			if st := nvml.Return(info.Status); st != nvml.SUCCESS {
				r.add(CheckFabric, i, Fail, "fabric training finished with an error: %s; check `journalctl -u nvidia-fabricmanager`", errorString(st))
			} else {
				r.add(CheckFabric, i, Pass, "fabric ready")
			}
			return
		case nvml.GPU_FABRIC_STATE_NOT_STARTED:
			r.add(CheckFabric, i, Fail, "fabric manager has not started: run `systemctl enable --now nvidia-fabricmanager` (same version as the driver)")
			return
		case nvml.GPU_FABRIC_STATE_IN_PROGRESS:
			if waited >= opts.FabricTimeout {
				r.add(CheckFabric, i, Fail, "fabric still training after %s: check `journalctl -u nvidia-fabricmanager`", opts.FabricTimeout)
				return
			}
			sleep(poll)
			waited += poll
		default:
			r.add(CheckFabric, i, Skip, "the GPU reports no fabric (state %d)", info.State)
			return
		}
	}
}

func checkNVLink(r *Report, dev nvml.Device, i, links int) {
	var down []string
	for l := range links {
		state, ret := dev.GetNvLinkState(l)
		if ret == nvml.ERROR_NOT_SUPPORTED && l == 0 {
			r.add(CheckNVLink, i, Fail, "NVLink not supported, but %d links are expected: wrong instance type or NVLink disabled", links)
			return
		}
		if ret != nvml.SUCCESS || state != nvml.FEATURE_ENABLED {
			down = append(down, strconv.Itoa(l))
		}
	}
	if len(down) > 0 {
		r.add(CheckNVLink, i, Fail, "%d of %d NVLink links down (links %s): collective bandwidth is degraded; reset the GPU or replace the node",
			len(down), links, strings.Join(down, ","))
		return
	}
	r.add(CheckNVLink, i, Pass, "%d links active", links)
}

// checkPCIe compares the link with its maximum, only in P0: idle GPUs
// train the link down to save power.
func checkPCIe(r *Report, dev nvml.Device, i int) {
	ps, ret := dev.GetPerformanceState()
	if !supported(r, CheckPCIe, i, ret) {
		return
	}
	if ps != nvml.PSTATE_0 {
		r.add(CheckPCIe, i, Skip, "GPU in P%d: the link speed is only meaningful under load (P0)", ps)
		return
	}
	gen, ret1 := dev.GetCurrPcieLinkGeneration()
	width, ret2 := dev.GetCurrPcieLinkWidth()
	maxGen, ret3 := dev.GetMaxPcieLinkGeneration()
	maxWidth, ret4 := dev.GetMaxPcieLinkWidth()
	for _, ret := range []nvml.Return{ret1, ret2, ret3, ret4} {
		if !supportedQuiet(ret) {
			supported(r, CheckPCIe, i, ret)
			return
		}
	}
	if gen < maxGen || width < maxWidth {
		r.add(CheckPCIe, i, Fail, "PCIe link at gen%d x%d, capable of gen%d x%d: reseat the GPU or check the riser; host-device bandwidth is reduced",
			gen, width, maxGen, maxWidth)
		return
	}
	r.add(CheckPCIe, i, Pass, "gen%d x%d", gen, width)
}

func supportedQuiet(ret nvml.Return) bool { return ret == nvml.SUCCESS }

// hwSlowdowns are the hardware clock-event reasons DCGM treats as faults.
var hwSlowdowns = []struct {
	bit  uint64
	name string
}{
	{nvml.ClocksThrottleReasonHwSlowdown, "hardware slowdown"},
	{nvml.ClocksThrottleReasonHwThermalSlowdown, "hardware thermal slowdown"},
	{nvml.ClocksThrottleReasonHwPowerBrakeSlowdown, "hardware power brake"},
}

func checkClocks(r *Report, dev nvml.Device, i int) {
	reasons, ret := dev.GetCurrentClocksEventReasons()
	if !supported(r, CheckClocks, i, ret) {
		return
	}
	var active []string
	for _, s := range hwSlowdowns {
		if reasons&s.bit != 0 {
			active = append(active, s.name)
		}
	}
	if len(active) > 0 {
		r.add(CheckClocks, i, Fail, "clocks held down by %s: check cooling, power supplies and `nvidia-smi -q -d PERFORMANCE`", strings.Join(active, ", "))
		return
	}
	r.add(CheckClocks, i, Pass, "no hardware slowdown")
}

func checkTemperature(r *Report, dev nvml.Device, i int) {
	t, ret := dev.GetTemperature(nvml.TEMPERATURE_GPU)
	if !supported(r, CheckTemperature, i, ret) {
		return
	}
	limit, ret := dev.GetTemperatureThreshold(nvml.TEMPERATURE_THRESHOLD_SLOWDOWN)
	if !supported(r, CheckTemperature, i, ret) {
		return
	}
	switch {
	case t >= limit:
		r.add(CheckTemperature, i, Fail, "%d C, at or above the slowdown threshold %d C: check cooling", t, limit)
	case t+temperatureHeadroom > limit:
		r.add(CheckTemperature, i, Warn, "%d C, within %d C of the slowdown threshold %d C", t, temperatureHeadroom, limit)
	default:
		r.add(CheckTemperature, i, Pass, "%d C (slowdown at %d C)", t, limit)
	}
}

func checkMIG(r *Report, dev nvml.Device, i int, want bool) {
	current, _, ret := dev.GetMigMode()
	if ret == nvml.ERROR_NOT_SUPPORTED {
		if want {
			r.add(CheckMIG, i, Fail, "MIG is expected but this GPU does not support it")
		} else {
			r.add(CheckMIG, i, Skip, "MIG not supported")
		}
		return
	}
	if !supported(r, CheckMIG, i, ret) {
		return
	}
	enabled := current == nvml.DEVICE_MIG_ENABLE
	switch {
	case enabled == want:
		r.add(CheckMIG, i, Pass, "MIG %s, as expected", onOff(enabled))
	default:
		r.add(CheckMIG, i, Fail, "MIG is %s, expected %s: run `nvidia-smi -i %d -mig %d` and reset the GPU", onOff(enabled), onOff(want), i, boolInt(want))
	}
}

func onOff(b bool) string {
	if b {
		return "enabled"
	}
	return "disabled"
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// errorString names an NVML return code (the library's text once loaded,
// the code's name before).
func errorString(ret nvml.Return) string { return ret.Error() }
