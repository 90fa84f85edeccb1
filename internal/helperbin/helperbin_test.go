package helperbin

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFind(t *testing.T) {
	dir := t.TempDir()
	for name, mode := range map[string]os.FileMode{"gpufleet-test-exec": 0o755, "gpufleet-test-plain": 0o644} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", dir)
	for _, tc := range []struct {
		name, want string
		ok         bool
	}{
		{"gpufleet-test-exec", filepath.Join(dir, "gpufleet-test-exec"), true},
		{"gpufleet-test-plain", "", false}, // not executable: neither next to the test binary nor usable on PATH
		{"gpufleet-test-missing", "", false},
	} {
		got, ok := Find(tc.name)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Find(%q) = %q, %v; want %q, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}
