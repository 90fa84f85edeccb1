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

// TestExecutableName: on Windows a helper is name.exe and needs no
// execute bit; elsewhere it is name with one.
func TestExecutableName(t *testing.T) {
	for _, tc := range []struct {
		goos, name, want string
		mode             os.FileMode
		runs             bool
	}{
		{"linux", "gpufleet-aws", "gpufleet-aws", 0o755, true},
		{"linux", "gpufleet-aws", "gpufleet-aws", 0o644, false},
		{"darwin", "gpufleet-simkube", "gpufleet-simkube", 0o700, true},
		{"windows", "gpufleet-aws", "gpufleet-aws.exe", 0o666, true},
		{"windows", "gpufleet-aws.exe", "gpufleet-aws.exe", 0o444, true},
	} {
		if got := executableName(tc.goos, tc.name); got != tc.want {
			t.Errorf("executableName(%s, %s) = %s, want %s", tc.goos, tc.name, got, tc.want)
		}
		if got := executable(tc.goos, tc.mode); got != tc.runs {
			t.Errorf("executable(%s, %v) = %v, want %v", tc.goos, tc.mode, got, tc.runs)
		}
	}
}
