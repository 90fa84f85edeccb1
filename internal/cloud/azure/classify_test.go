package azure

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
)

func TestClassify(t *testing.T) {
	for _, tt := range []struct {
		status int
		code   string
		want   cloud.Kind
	}{
		{200, "ZonalAllocationFailed", cloud.KindCapacity},
		{200, "AllocationFailed", cloud.KindCapacity},
		{400, "SkuNotAvailable", cloud.KindCapacity},
		{200, "QuotaExceeded", cloud.KindQuota},
		{429, "SubscriptionRequestsThrottled", cloud.KindThrottled},
		{404, "ResourceNotFound", cloud.KindNotFound},
		{404, "NotFound", cloud.KindNotFound},
		{409, "OperationNotAllowed", cloud.KindConflict},
		{400, "InvalidParameter", cloud.KindInvalid},
		{503, "ServiceUnavailable", cloud.KindTransient},
		{403, "AuthorizationFailed", cloud.KindFatal},
	} {
		err := &azcore.ResponseError{StatusCode: tt.status, ErrorCode: tt.code, RawResponse: &http.Response{StatusCode: tt.status,
			Request: httptest.NewRequest(http.MethodGet, "https://management.azure.com/subscriptions/s", nil)}}
		if got := cloud.KindOf(classify("Op", err)); got != tt.want {
			t.Errorf("%d %s: %s, want %s", tt.status, tt.code, got, tt.want)
		}
	}
	if agentPoolName("gpufleet-74dbc4bc799d") != agentPoolName("gpufleet-74dbc4bc799d") || len(agentPoolName("x")) != 12 {
		t.Fatal("agent pool names must be stable and 12 characters")
	}
}
