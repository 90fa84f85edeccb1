package gkefront

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

func invalid(format string, args ...any) error {
	return status.Errorf(codes.InvalidArgument, format, args...)
}

func notFoundStatus(resource string) error {
	return status.Errorf(codes.NotFound, "Not found: %s.", resource)
}

func alreadyExists(resource string) error {
	return status.Errorf(codes.AlreadyExists, "Already exists: %s.", resource)
}

// busy is GKE's answer to a call on an object with an operation running.
func busy(resource, detail string) error {
	return status.Errorf(codes.FailedPrecondition, "Cluster is running incompatible operation on %s: %s.", resource, detail)
}

// grpcError maps an engine error to the status GKE answers with. resource
// names the object for NotFound ("projects/p/locations/l/clusters/c").
//
//   - KindNotFound -> NotFound "Not found: <resource>."
//   - KindConflict -> FailedPrecondition "Cluster is running incompatible
//     operation on <resource>: <engine message>." (creates of an existing
//     name answer AlreadyExists before reaching the engine)
//   - KindInvalid -> InvalidArgument with the engine message
//   - KindThrottled -> ResourceExhausted "Quota exceeded for quota metric
//     'Requests' and limit 'Requests per minute' of service
//     'container.googleapis.com' ... RATE_LIMIT_EXCEEDED", with an
//     ErrorInfo detail (reason RATE_LIMIT_EXCEEDED)
//   - KindCapacity (injected) -> ResourceExhausted
//     "ZONE_RESOURCE_POOL_EXHAUSTED: <message>"
//   - KindQuota (injected) -> ResourceExhausted "QUOTA_EXCEEDED: <message>"
//   - KindTransient -> Unavailable (which the client retries)
//   - KindFatal and anything else -> Internal
//   - context errors -> Canceled / DeadlineExceeded
func grpcError(err error, resource string) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return status.FromContextError(err).Err()
	}
	var ce *cloud.Error
	if !errors.As(err, &ce) {
		return status.Error(codes.Internal, err.Error())
	}
	switch ce.Kind {
	case cloud.KindNotFound:
		if resource == "" {
			return status.Error(codes.NotFound, ce.Message)
		}
		return notFoundStatus(resource)
	case cloud.KindConflict:
		return busy(resource, ce.Message)
	case cloud.KindInvalid:
		return status.Error(codes.InvalidArgument, ce.Message)
	case cloud.KindThrottled:
		st := status.New(codes.ResourceExhausted, fmt.Sprintf(
			"Quota exceeded for quota metric 'Requests' and limit 'Requests per minute' of service 'container.googleapis.com' for consumer 'project_number:123456789012'. RATE_LIMIT_EXCEEDED (%s)", ce.Message))
		if d, err := st.WithDetails(&errdetails.ErrorInfo{Reason: "RATE_LIMIT_EXCEEDED", Domain: "googleapis.com",
			Metadata: map[string]string{"service": "container.googleapis.com", "quota_metric": "container.googleapis.com/requests",
				"quota_limit": "RequestsPerMinutePerProject", "consumer": "projects/123456789012"}}); err == nil {
			st = d
		}
		return st.Err()
	case cloud.KindCapacity:
		return status.Errorf(codes.ResourceExhausted, "ZONE_RESOURCE_POOL_EXHAUSTED: %s", ce.Message)
	case cloud.KindQuota:
		return status.Errorf(codes.ResourceExhausted, "QUOTA_EXCEEDED: %s", ce.Message)
	case cloud.KindTransient:
		return status.Errorf(codes.Unavailable, "The service is currently unavailable: %s", ce.Message)
	}
	return status.Errorf(codes.Internal, "Internal error encountered: %s", ce.Message)
}

// issueKind classifies an engine issue code (the engine's own and GCE's).
func issueKind(c string) cloud.Kind {
	switch c {
	case "InsufficientCapacity", "ZONE_RESOURCE_POOL_EXHAUSTED", "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS", "GCE_STOCKOUT":
		return cloud.KindCapacity
	case "QuotaExceeded", "QUOTA_EXCEEDED":
		return cloud.KindQuota
	}
	return cloud.KindFatal
}

var quotaLimitRE = regexp.MustCompile(`quota for \S+ GPUs in \S+ is (\d+)`)

// gpuQuotaMetric is the Compute Engine quota metric of a node pool's GPUs:
// from the accelerator type when there is one ("nvidia-h100-80gb" ->
// NVIDIA_H100_GPUS), else from the machine family (a3 -> H100, a2 ->
// A100, g2 -> L4, a4 -> B200); PREEMPTIBLE_ for spot.
func gpuQuotaMetric(p cloudsim.Pool, meta *containerpb.NodePool) string {
	m := ""
	if meta != nil && meta.GetConfig() != nil {
		for _, a := range meta.GetConfig().GetAccelerators() {
			if a.GetAcceleratorType() != "" {
				m = acceleratorMetric(a.GetAcceleratorType())
				break
			}
		}
	}
	if m == "" {
		switch strings.ToLower(p.Family) {
		case "a3":
			m = "NVIDIA_H100_GPUS"
		case "a2":
			m = "NVIDIA_A100_GPUS"
		case "g2":
			m = "NVIDIA_L4_GPUS"
		case "a4":
			m = "NVIDIA_B200_GPUS"
		default:
			m = strings.ToUpper(p.Family) + "_GPUS"
		}
	}
	if p.Spec.CapacityType == "spot" {
		m = "PREEMPTIBLE_" + m
	}
	return m
}

func acceleratorMetric(t string) string {
	known := map[string]string{
		"nvidia-h100-80gb": "NVIDIA_H100_GPUS", "nvidia-h100-mega-80gb": "NVIDIA_H100_MEGA_GPUS",
		"nvidia-h200-141gb": "NVIDIA_H200_GPUS", "nvidia-b200": "NVIDIA_B200_GPUS",
		"nvidia-tesla-a100": "NVIDIA_A100_GPUS", "nvidia-a100-80gb": "NVIDIA_A100_80GB_GPUS",
		"nvidia-l4": "NVIDIA_L4_GPUS", "nvidia-tesla-t4": "NVIDIA_T4_GPUS", "nvidia-tesla-v100": "NVIDIA_V100_GPUS",
	}
	if m, ok := known[t]; ok {
		return m
	}
	t = strings.TrimPrefix(strings.TrimPrefix(t, "nvidia-"), "tesla-")
	return "NVIDIA_" + strings.ToUpper(strings.ReplaceAll(t, "-", "_")) + "_GPUS"
}

func instanceName(p cloudsim.Pool) string {
	h := uuidHex(p.ID)
	return fmt.Sprintf("gke-%s-%s-%s-%s", trunc(p.Spec.Cluster, 14), trunc(p.Spec.Name, 14), h[:8], h[8:12])
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// operationError is how a failed node pool operation reports the engine's
// last issue: (code, GCE error name, message), and the node pool
// condition.
//
//   - capacity, on-demand: ResourceExhausted, "Google Compute Engine: Not
//     all instances running in IGM after 3m0s. Expected 2, running 0,
//     transitioning 2. Current errors: [ZONE_RESOURCE_POOL_EXHAUSTED]:
//     Instance 'gke-…' creation failed: The zone
//     'projects/p/zones/europe-west4-a' does not have enough resources
//     available to fulfill the request. '(resource type:compute)'.";
//     condition GCE_STOCKOUT
//   - capacity, spot: the same with [GCE_STOCKOUT]
//   - quota: ResourceExhausted, "… Current errors: [QUOTA_EXCEEDED]:
//     Instance 'gke-…' creation failed: Quota 'NVIDIA_H100_GPUS' exceeded.
//     Limit: 8.0 in region europe-west4."; condition GCE_QUOTA_EXCEEDED
//   - anything else (injected faults): Internal, "… Current errors:
//     [<issue code>]: <issue message>"; condition UNKNOWN
func operationError(p cloudsim.Pool, meta *containerpb.NodePool, project string, after time.Duration) (*spb.Status, *containerpb.StatusCondition) {
	if len(p.Issues) == 0 {
		return nil, nil
	}
	is := p.Issues[len(p.Issues)-1]
	if project == "" {
		project = "p"
	}
	after = after.Round(time.Second)
	if after <= 0 {
		after = time.Second
	}
	prefix := fmt.Sprintf("Google Compute Engine: Not all instances running in IGM after %s. Expected %d, running 0, transitioning %d. Current errors: ",
		after, p.Spec.Nodes, p.Spec.Nodes)
	inst := instanceName(p)
	if c, msg, cond, ok := reservationFailure(p, prefix, inst); ok { // reservations.go
		return &spb.Status{Code: int32(c), Message: msg}, cond
	}
	var c codes.Code
	var msg string
	cond := &containerpb.StatusCondition{Code: containerpb.StatusCondition_UNKNOWN, CanonicalCode: code.Code_UNKNOWN}
	switch issueKind(is.Code) {
	case cloud.KindCapacity:
		name := "ZONE_RESOURCE_POOL_EXHAUSTED"
		if p.Spec.CapacityType == "spot" {
			name = "GCE_STOCKOUT"
		}
		c = codes.ResourceExhausted
		msg = fmt.Sprintf("%s[%s]: Instance '%s' creation failed: The zone 'projects/%s/zones/%s' does not have enough resources available to fulfill the request. '(resource type:compute)'.",
			prefix, name, inst, project, p.Spec.Zone)
		cond.Code, cond.CanonicalCode = containerpb.StatusCondition_GCE_STOCKOUT, code.Code_RESOURCE_EXHAUSTED
	case cloud.KindQuota:
		limit := "0"
		if m := quotaLimitRE.FindStringSubmatch(is.Message); m != nil {
			limit = m[1]
		}
		if n, err := strconv.Atoi(limit); err == nil {
			limit = fmt.Sprintf("%d.0", n)
		}
		c = codes.ResourceExhausted
		msg = fmt.Sprintf("%s[QUOTA_EXCEEDED]: Instance '%s' creation failed: Quota '%s' exceeded. Limit: %s in region %s.",
			prefix, inst, gpuQuotaMetric(p, meta), limit, p.Spec.Region)
		cond.Code, cond.CanonicalCode = containerpb.StatusCondition_GCE_QUOTA_EXCEEDED, code.Code_RESOURCE_EXHAUSTED
	default:
		c = codes.Internal
		msg = fmt.Sprintf("%s[%s]: %s", prefix, is.Code, is.Message)
	}
	cond.Message = msg
	return &spb.Status{Code: int32(c), Message: msg}, cond
}

// uuidHex derives 32 stable hex digits from a seed.
func uuidHex(seed string) string {
	h := sha1.Sum([]byte(seed))
	return hex.EncodeToString(h[:16])
}
