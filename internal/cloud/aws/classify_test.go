package aws

import (
	"errors"
	"testing"

	"github.com/aws/smithy-go"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
)

func TestClassify(t *testing.T) {
	for code, want := range map[string]cloud.Kind{
		"ResourceNotFoundException":                        cloud.KindNotFound,
		"NoSuchEntity":                                     cloud.KindNotFound,
		"InvalidLaunchTemplateName.NotFoundException":      cloud.KindNotFound,
		"ResourceInUseException":                           cloud.KindConflict,
		"EntityAlreadyExists":                              cloud.KindConflict,
		"InvalidLaunchTemplateName.AlreadyExistsException": cloud.KindConflict,
		"InvalidParameterException":                        cloud.KindInvalid,
		"ThrottlingException":                              cloud.KindThrottled,
		"RequestLimitExceeded":                             cloud.KindThrottled,
		"ServiceUnavailableException":                      cloud.KindTransient,
		"ServerException":                                  cloud.KindTransient,
		"UnsupportedAvailabilityZoneException":             cloud.KindCapacity,
		"InstanceLimitExceeded":                            cloud.KindQuota,
		"AccessDeniedException":                            cloud.KindFatal,
		"ScalingActivityInProgress":                        cloud.KindConflict,
		"ResourceContention":                               cloud.KindTransient,
		"ValidationError":                                  cloud.KindInvalid,
	} {
		err := classify("Op", &smithy.GenericAPIError{Code: code, Message: "m"})
		if got := cloud.KindOf(err); got != want {
			t.Errorf("%s: %s, want %s", code, got, want)
		}
	}
	if classify("Op", nil) != nil || cloud.KindOf(classify("Op", errors.New("dial tcp: refused"))) != cloud.KindFatal {
		t.Fatal("nil or plain errors")
	}
}

func TestIssueError(t *testing.T) {
	pool := func(code, msg string) cloud.NodePool {
		return cloud.NodePool{Spec: cloud.NodePoolSpec{Name: "ng", Zone: "euc1-az1", InstanceType: "p5.48xlarge", CapacityType: "spot"},
			Status: cloud.StatusCreateFailed, Issues: []cloud.Issue{{Code: code, Message: msg}}}
	}
	for _, tt := range []struct {
		code, msg string
		want      cloud.Kind
	}{
		{"AsgInstanceLaunchFailures", "Could not launch On-Demand Instances. InsufficientInstanceCapacity - We currently do not have sufficient p5.48xlarge capacity", cloud.KindCapacity},
		{"AsgInstanceLaunchFailures", "Could not launch On-Demand Instances. VcpuLimitExceeded - You have requested more vCPU capacity", cloud.KindQuota},
		{"AsgInstanceLaunchFailures", "Could not launch Spot Instances. MaxSpotInstanceCountExceeded - Max spot instance count exceeded", cloud.KindQuota},
		{"NodeCreationFailure", "Instances failed to join the kubernetes cluster", cloud.KindFatal},
	} {
		err := issueError("CreateNodegroup", pool(tt.code, tt.msg))
		var ce *cloud.Error
		if !errors.As(err, &ce) || ce.Kind != tt.want || ce.Zone != "euc1-az1" || ce.InstanceType != "p5.48xlarge" || ce.CapacityType != "spot" {
			t.Errorf("%s: %+v", tt.msg, ce)
		}
	}
}
