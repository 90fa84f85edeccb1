package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/helperbin"
)

// RunHelper runs the helper binary name (gpufleet-live, gpufleet-simkube)
// with args, for what (the command that needs it, as the user typed it):
// the one next to the running executable, else the one on PATH. Its stdout
// and stderr are the caller's, and its exit status is returned. Helpers
// keep what only some commands use (cloud SDKs, client-go) out of the
// gpufleet binary, whose every start would otherwise pay their package
// set-up.
func RunHelper(name, what string, args []string, stdout, stderr io.Writer) int {
	path, ok := helperbin.Find(name)
	if !ok {
		fmt.Fprintf(stderr, "gpufleet: %s runs %s, which is neither next to gpufleet nor on PATH; build it with make build (bin/), or go install ./cmd/gpufleet/...\n", what, name)
		return ExitUsage
	}
	cmd := exec.Command(path, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr
	// SIGINT and SIGTERM go to the helper, which stops cleanly (sim serve
	// closes its listeners and pods); gpufleet waits for it instead of
	// leaving it running.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	err := cmd.Start()
	if err == nil {
		done := make(chan struct{})
		go func() {
			for {
				select {
				case sig := <-sigs:
					_ = cmd.Process.Signal(sig)
				case <-done:
					return
				}
			}
		}()
		err = cmd.Wait()
		close(done)
	}
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		fmt.Fprintf(stderr, "gpufleet: %v\n", err)
		return ExitUsage
	}
	return ExitOK
}

// ShortLivedGC sets the garbage collector up for a command that reads a
// catalog, plans once and exits: most of what it allocates (the catalog)
// stays live to the end, so collecting while it grows costs more than it
// frees (100,000 offers: 254 → 200 ms a plan, peak 71 → 84 MB; 1,000,000:
// 2.8 → 2.3 s, 643 → 780 MB). The collector then runs only past a soft
// limit of 1 GiB. GOGC or GOMEMLIMIT in the environment leave the Go
// runtime's settings as the user made them.
func ShortLivedGC() {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(1 << 30)
}
