package nodecheck

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// XIDEvent is one XID error reported by the driver.
type XIDEvent struct {
	// GPU is the GPU index, or -1 when unknown.
	GPU int `json:"gpu"`
	// BusID is the PCI bus ID from the kernel log, when known.
	BusID  string `json:"bus_id,omitempty"`
	XID    int    `json:"xid"`
	Source string `json:"source"` // "nvml" or "kernel"
	Detail string `json:"detail,omitempty"`
}

// XIDClass is how an XID is judged.
type XIDClass string

// XID classes.
const (
	// XIDIgnored are application errors (bad memory access, illegal
	// instruction, preemption, ...): the GPU is fine.
	XIDIgnored XIDClass = "ignored"
	// XIDFatal need a GPU reset or replacement before work may run.
	XIDFatal XIDClass = "fatal"
	// XIDUnknown are the rest: reported as a warning.
	XIDUnknown XIDClass = "unknown"
)

// ignoredXIDs are application-caused (NVIDIA XID catalog): 13 graphics
// engine exception, 31 GPU memory page fault, 43 GPU stopped processing
// (user app), 45 preemptive cleanup, 68 NVDEC video exception, 109 context
// switch timeout (app).
var ignoredXIDs = []int{13, 31, 43, 45, 68, 109}

// fatalXIDs need a reset or replacement: 48 double-bit ECC, 63 ECC page
// retirement / row remapping event, 64 page retirement / row remap failure,
// 74 NVLink error, 79 fallen off the bus, 92 high single-bit ECC rate,
// 94 contained ECC error, 95 uncontained ECC error, 119 and 120 GSP errors,
// 140 unrecovered ECC error.
var fatalXIDs = []int{48, 63, 64, 74, 79, 92, 94, 95, 119, 120, 140}

// ClassifyXID returns the class of an XID.
func ClassifyXID(xid int) XIDClass {
	switch {
	case slices.Contains(fatalXIDs, xid):
		return XIDFatal
	case slices.Contains(ignoredXIDs, xid):
		return XIDIgnored
	}
	return XIDUnknown
}

// kernelXID matches "NVRM: Xid (PCI:0000:3b:00): 79, pid=..., GPU has fallen off the bus."
var kernelXID = regexp.MustCompile(`NVRM: Xid \(PCI:([0-9a-fA-F:.]+)\): (\d+)(?:, (.*))?`)

// ParseKernelXIDs extracts XID events from kernel log lines (dmesg or
// /dev/kmsg records).
func ParseKernelXIDs(lines []string) []XIDEvent {
	var out []XIDEvent
	for _, line := range lines {
		m := kernelXID.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		xid, _ := strconv.Atoi(m[2])
		out = append(out, XIDEvent{GPU: -1, BusID: normalizeBusID(m[1]), XID: xid, Source: "kernel", Detail: strings.TrimSpace(m[3])})
	}
	return out
}

// normalizeBusID reduces a PCI bus ID to domain:bus:device in lower case
// ("0000:3B:00.0" and "0000:3b:00" are the same GPU).
func normalizeBusID(id string) string {
	id = strings.ToLower(strings.TrimSpace(id))
	if i := strings.LastIndex(id, "."); i > 0 {
		id = id[:i]
	}
	parts := strings.Split(id, ":")
	if len(parts) == 3 && len(parts[0]) == 8 {
		parts[0] = parts[0][4:] // NVML uses an 8-digit domain
	}
	return strings.Join(parts, ":")
}

func busIDString(pci nvml.PciInfo) string {
	for _, field := range [][]int8{pci.BusId[:], pci.BusIdLegacy[:]} {
		b := make([]byte, 0, len(field))
		for _, c := range field {
			if c == 0 {
				break
			}
			b = append(b, byte(c))
		}
		if len(b) > 0 {
			return string(b)
		}
	}
	return fmt.Sprintf("%04x:%02x:%02x", pci.Domain, pci.Bus, pci.Device)
}

// checkXIDs judges the XIDs from the kernel log and from NVML events.
func checkXIDs(r *Report, opts Options, busIDs map[string]int) {
	events := append([]XIDEvent(nil), opts.Events...)
	if opts.KernelLog != nil {
		lines, err := opts.KernelLog()
		if err != nil {
			r.add(CheckXID, -1, Warn, "cannot read the kernel log for past XIDs: %v", err)
		}
		for _, e := range ParseKernelXIDs(lines) {
			if i, ok := busIDs[e.BusID]; ok {
				e.GPU = i
			}
			events = append(events, e)
		}
	}
	bad := false
	for _, e := range events {
		where := fmt.Sprintf("XID %d (%s)", e.XID, e.Source)
		if e.Detail != "" {
			where += ": " + e.Detail
		}
		switch ClassifyXID(e.XID) {
		case XIDFatal:
			r.add(CheckXID, e.GPU, Fail, "%s is fatal: drain the node and reset or replace the GPU", where)
			bad = true
		case XIDUnknown:
			r.add(CheckXID, e.GPU, Warn, "%s is not classified: look it up in NVIDIA's XID catalog", where)
			bad = true
		case XIDIgnored:
			// application errors: the GPU is fine
		}
	}
	if !bad {
		r.add(CheckXID, -1, Pass, "no fatal or unclassified XID errors")
	}
}

// XIDWatcher receives XID events from NVML while the validator runs.
type XIDWatcher struct {
	set     nvml.EventSet
	devices map[string]int // UUID -> index
}

// WatchXIDs registers for XID events on every GPU. NVML must be
// initialized; close the watcher before nvml.Shutdown.
func WatchXIDs(lib nvml.Interface) (*XIDWatcher, error) {
	set, ret := lib.EventSetCreate()
	if ret != nvml.SUCCESS {
		return nil, fmt.Errorf("creating an NVML event set: %s", errorString(ret))
	}
	w := &XIDWatcher{set: set, devices: map[string]int{}}
	count, ret := lib.DeviceGetCount()
	if ret != nvml.SUCCESS {
		set.Free()
		return nil, fmt.Errorf("counting GPUs: %s", errorString(ret))
	}
	for i := range count {
		dev, ret := lib.DeviceGetHandleByIndex(i)
		if ret != nvml.SUCCESS {
			continue
		}
		if uuid, ret := dev.GetUUID(); ret == nvml.SUCCESS {
			w.devices[uuid] = i
		}
		if ret := dev.RegisterEvents(nvml.EventTypeXidCriticalError, set); ret != nvml.SUCCESS && ret != nvml.ERROR_NOT_SUPPORTED {
			set.Free()
			return nil, fmt.Errorf("registering XID events on GPU %d: %s", i, errorString(ret))
		}
	}
	return w, nil
}

// Wait returns the XID events that arrive within timeoutMS milliseconds
// (the first wait blocks up to the timeout, later ones only drain).
func (w *XIDWatcher) Wait(timeoutMS uint32) []XIDEvent {
	var out []XIDEvent
	for {
		data, ret := w.set.Wait(timeoutMS)
		if ret != nvml.SUCCESS {
			return out
		}
		gpu := -1
		if data.Device != nil {
			if uuid, ret := data.Device.GetUUID(); ret == nvml.SUCCESS {
				if i, ok := w.devices[uuid]; ok {
					gpu = i
				}
			}
		}
		out = append(out, XIDEvent{GPU: gpu, XID: int(data.EventData), Source: "nvml"})
		timeoutMS = 0
	}
}

// Close frees the event set.
func (w *XIDWatcher) Close() { w.set.Free() }
