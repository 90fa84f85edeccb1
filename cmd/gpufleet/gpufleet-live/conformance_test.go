package main

import (
	"os"
	"testing"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/conformance"
)

// TestMain judges every request sweep's backends send to the simulated
// clouds, and every response, by the clouds' API models.
func TestMain(m *testing.M) { os.Exit(conformance.Main(m.Run)) }
