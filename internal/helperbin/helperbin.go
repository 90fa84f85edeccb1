// Package helperbin finds gpufleet's helper binaries (gpufleet-live,
// gpufleet-simkube): the one next to the running executable, else the one
// on PATH. The gpufleet CLI (cli.RunHelper) and the provider's simulated
// world (simworld.FindHelper) find theirs this way.
package helperbin

import (
	"os"
	"os/exec"
	"path/filepath"
)

// Find is the executable name next to the running executable, else the
// one on PATH; ok is false when there is neither.
func Find(name string) (path string, ok bool) {
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, true
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, true
	}
	return "", false
}
