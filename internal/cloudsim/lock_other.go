//go:build !unix

package cloudsim

import "os"

// lockFile opens path without a cross-process lock: on systems without
// flock, one process at a time may use a simulated world.
func lockFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
}

func unlockFile(f *os.File) { _ = f.Close() }
