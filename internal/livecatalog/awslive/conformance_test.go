package awslive

import (
	"os"
	"testing"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/conformance"
)

// TestMain judges every request sent to cloudsim's front ends in these
// tests, and every response, by the clouds' published API models.
func TestMain(m *testing.M) { os.Exit(conformance.Main(m.Run)) }
