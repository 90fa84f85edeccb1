package aws

import (
	"testing"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
)

func TestInstanceOf(t *testing.T) {
	tests := []struct {
		providerID, want string
	}{
		{"aws:///eu-central-1a/i-0123456789abcdef0", "i-0123456789abcdef0"},
		{"aws:///us-east-1b/i-01234567", "i-01234567"},
		{"aws:////i-0123456789abcdef0", "i-0123456789abcdef0"},
		{"aws:///eu-central-1a/", ""},
		{"gce://p/europe-west4-a/gke-c-p-1234abcd-x1y2", ""},
		{"aws:///eu-central-1a/i-0123456789abcdef0/extra", ""},
		{"", ""},
	}
	for _, tt := range tests {
		got, err := instanceOf(cloud.NodeRef{Name: "n", ProviderID: tt.providerID})
		if got != tt.want || (tt.want == "") != cloud.IsInvalid(err) {
			t.Errorf("%q: %q, %v; want %q", tt.providerID, got, err, tt.want)
		}
	}
}
