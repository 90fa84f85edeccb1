// Package helperbin finds gpufleet's helper binaries (gpufleet-live,
// gpufleet-simkube, gpufleet-aws) and runs them (Start): the one next to
// the running executable, else the one on PATH. The gpufleet CLI
// (cli.RunHelper), the provider's simulated world (simworld.FindHelper)
// and its AWS backend (awsremote.Client) find theirs this way.
package helperbin

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

// Find is the executable name next to the running executable, else the
// one on PATH; ok is false when there is neither. On Windows the name is
// looked for with ".exe" (how go build and the release archives name
// the helpers there).
func Find(name string) (path string, ok bool) {
	name = executableName(runtime.GOOS, name)
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && executable(runtime.GOOS, fi.Mode()) {
			return p, true
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, true
	}
	return "", false
}

// executableName is the file name of the executable name on goos.
func executableName(goos, name string) string {
	if goos == "windows" && filepath.Ext(name) == "" {
		return name + ".exe"
	}
	return name
}

// executable reports whether a regular file of mode m can be run on goos:
// Windows has no execute bits (the name says it, executableName).
func executable(goos string, m os.FileMode) bool {
	return goos == "windows" || m&0o111 != 0
}
