package bootstrap

import "testing"

func TestDefaultImage(t *testing.T) {
	tests := []struct{ version, want string }{
		{"0.1.0", "ghcr.io/gpufleet/gpufleet-nodecheck:0.1.0"},
		{"v1.2.3", "ghcr.io/gpufleet/gpufleet-nodecheck:1.2.3"},
		{"1.0.0-rc.1", "ghcr.io/gpufleet/gpufleet-nodecheck:1.0.0-rc.1"},
		{"dev", "ghcr.io/gpufleet/gpufleet-nodecheck:latest"},
		{"", "ghcr.io/gpufleet/gpufleet-nodecheck:latest"},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			got := DefaultImage(tt.version)
			if got != tt.want {
				t.Fatalf("DefaultImage(%q) = %q, want %q", tt.version, got, tt.want)
			}
			// The reference must pass the Image validation of Settings.
			if err := (Settings{Image: got}).Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
