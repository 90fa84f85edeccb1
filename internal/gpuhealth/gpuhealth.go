// Package gpuhealth holds the one definition of what gpufleet writes on a
// GPU node about its validation — the taint nodes join with, the health
// label, the annotations with the failures, the pool label — and the
// encoding of the failures, so that the validator that writes them
// (internal/nodesignal), the node bootstrap that registers the taint
// (internal/bootstrap), the pools that create tainted nodes and the
// waiter that reads the outcome (internal/fleet, internal/kubenodes) agree.
package gpuhealth

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// The taint GPU nodes join with until their GPUs pass validation.
const (
	TaintKey    = "gpufleet.dev/unvalidated"
	TaintValue  = "true"
	TaintEffect = "NoSchedule"
	// Taint is the taint in the key=value:effect form of kubelet flags
	// and EKS NodeConfig.
	Taint = TaintKey + "=" + TaintValue + ":" + TaintEffect
)

// Node labels and annotations.
const (
	// HealthLabel is "pass" or "fail" once the validator has run.
	HealthLabel = "gpufleet.dev/gpu-health"
	// ReasonsAnnotation is the failures for people ("gpu 3 xid: ...; ...").
	ReasonsAnnotation = "gpufleet.dev/gpu-health-reasons"
	// FailuresAnnotation is the failures as JSON ([]Failure), for tools.
	FailuresAnnotation = "gpufleet.dev/gpu-health-failures"
	// CheckedAnnotation is when the validator last judged the node
	// (RFC 3339): a node that keeps its name through a replacement (GCE
	// recreate, Azure redeploy) shows a new verdict by a new time.
	CheckedAnnotation = "gpufleet.dev/gpu-health-checked-at"
	// CordonAnnotation marks a node the validator cordoned itself.
	CordonAnnotation = "gpufleet.dev/cordoned"
	// PoolLabel names the gpufleet node pool (fleet.PoolName) a node
	// belongs to, on every cloud.
	PoolLabel = "gpufleet.dev/pool"
)

// The hardware a pool's nodes were bought for, as node labels set by the
// pool: the validator checks a node against them, so that an instance type
// of a user's catalog (which the validator's embedded catalog may not
// know) is judged by what the plan paid for. Values are Kubernetes label
// values: "H100", "8", "80", "nvswitch".
const (
	GPUModelLabel        = "gpufleet.dev/gpu-model"
	GPUCountLabel        = "gpufleet.dev/gpu-count"
	GPUMemoryLabel       = "gpufleet.dev/gpu-memory-gib"
	GPUInterconnectLabel = "gpufleet.dev/gpu-interconnect"
)

// HardwareLabels are the hardware labels of a pool's nodes: count GPUs of
// a model, memoryGiB each (omitted when 0), linked by interconnect
// ("pcie", "nvlink", "nvswitch"; omitted when ""). None without a model.
func HardwareLabels(model string, count int, memoryGiB float64, interconnect string) map[string]string {
	if model == "" || count <= 0 {
		return nil
	}
	out := map[string]string{GPUModelLabel: model, GPUCountLabel: strconv.Itoa(count)}
	if memoryGiB > 0 {
		out[GPUMemoryLabel] = strconv.FormatFloat(memoryGiB, 'f', -1, 64)
	}
	if interconnect != "" {
		out[GPUInterconnectLabel] = interconnect
	}
	return out
}

// Health label values.
const (
	Pass = "pass"
	Fail = "fail"
)

// Failure is one failed check on a node.
type Failure struct {
	// GPU is the GPU index, or -1 for a check of the whole node.
	GPU    int    `json:"gpu"`
	Check  string `json:"check"`
	Reason string `json:"reason"`
}

// String is the failure as the reasons annotation writes it.
func (f Failure) String() string {
	where := "node"
	if f.GPU >= 0 {
		where = fmt.Sprintf("gpu %d", f.GPU)
	}
	return where + " " + f.Check + ": " + f.Reason
}

// MaxAnnotationLength bounds what the validator writes per annotation.
const MaxAnnotationLength = 4096

// Reasons joins failures for the reasons annotation, truncated to
// MaxAnnotationLength.
func Reasons(fs []Failure) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = f.String()
	}
	return truncate(strings.Join(parts, "; "))
}

// EncodeFailures is the failures annotation's value: JSON, dropping
// failures from the end until it fits MaxAnnotationLength.
func EncodeFailures(fs []Failure) string {
	for n := len(fs); n >= 0; n-- {
		b, _ := json.Marshal(fs[:n])
		if len(b) <= MaxAnnotationLength {
			return string(b)
		}
	}
	return "[]"
}

// DecodeFailures reads a node's failures from its annotations: the JSON
// annotation when present, else the reasons annotation as one failure of
// the whole node.
func DecodeFailures(annotations map[string]string) []Failure {
	if v, ok := annotations[FailuresAnnotation]; ok {
		var fs []Failure
		if err := json.Unmarshal([]byte(v), &fs); err == nil {
			return fs
		}
	}
	if v := annotations[ReasonsAnnotation]; v != "" {
		return []Failure{{GPU: -1, Check: "validation", Reason: v}}
	}
	return nil
}

func truncate(s string) string {
	if len(s) > MaxAnnotationLength {
		return s[:MaxAnnotationLength-3] + "..."
	}
	return s
}
