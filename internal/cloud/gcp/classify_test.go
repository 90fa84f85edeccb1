package gcp

import (
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
)

func TestClassifyStatus(t *testing.T) {
	for _, tt := range []struct {
		code codes.Code
		msg  string
		want cloud.Kind
	}{
		{codes.ResourceExhausted, "Current errors: [ZONE_RESOURCE_POOL_EXHAUSTED]: The zone 'projects/p/zones/europe-west4-b' does not have enough resources", cloud.KindCapacity},
		{codes.ResourceExhausted, "[GCE_STOCKOUT]: no spot capacity", cloud.KindCapacity},
		{codes.ResourceExhausted, "[QUOTA_EXCEEDED]: Quota 'NVIDIA_H100_GPUS' exceeded. Limit: 8.0 in region europe-west4.", cloud.KindQuota},
		{codes.ResourceExhausted, "Quota exceeded for quota metric 'Requests' and limit 'Requests per minute' RATE_LIMIT_EXCEEDED", cloud.KindThrottled},
		{codes.NotFound, "Not found: projects/p/locations/l/clusters/c.", cloud.KindNotFound},
		{codes.AlreadyExists, "Already exists: projects/p/locations/l/clusters/c.", cloud.KindConflict},
		{codes.FailedPrecondition, "Cluster is running incompatible operation", cloud.KindConflict},
		{codes.InvalidArgument, "bad machine type", cloud.KindInvalid},
		{codes.Unavailable, "try again", cloud.KindTransient},
		{codes.PermissionDenied, "no access", cloud.KindFatal},
		// Reservation errors (GCE CONDITION_NOT_MET), whatever the code.
		{codes.ResourceExhausted, "[CONDITION_NOT_MET]: Instance 'gke-x' creation failed: Specified reservation 'res-a' does not have available resources for the request.", cloud.KindCapacity},
		{codes.FailedPrecondition, "[CONDITION_NOT_MET]: No available resources in specified reservations 'res-a'", cloud.KindInvalid},
		{codes.FailedPrecondition, "Specified reservations [projects/p/zones/z/reservations/res-a] do not exist.", cloud.KindInvalid},
		{codes.FailedPrecondition, "Specified reservation 'res-a' does not exist.", cloud.KindInvalid},
	} {
		if got := cloud.KindOf(classifyStatus("Op", tt.code, tt.msg)); got != tt.want {
			t.Errorf("%s %q: %s, want %s", tt.code, tt.msg, got, tt.want)
		}
	}
}
