package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
)

// RunHelper runs the helper binary name (gpufleet-live, gpufleet-simkube)
// with args, for what (the command that needs it, as the user typed it):
// the one next to the running executable, else the one on PATH. Its stdout
// and stderr are the caller's, and its exit status is returned. Helpers
// keep what only some commands use (cloud SDKs, client-go) out of the
// gpufleet binary, whose every start would otherwise pay their package
// set-up.
func RunHelper(name, what string, args []string, stdout, stderr io.Writer) int {
	path := ""
	if exe, err := os.Executable(); err == nil {
		if p := filepath.Join(filepath.Dir(exe), name); isExecutable(p) {
			path = p
		}
	}
	if path == "" {
		p, err := exec.LookPath(name)
		if err != nil {
			fmt.Fprintf(stderr, "gpufleet: %s runs %s, which is neither next to gpufleet nor on PATH; build it with make build (bin/), or go install ./cmd/gpufleet/...\n", what, name)
			return ExitUsage
		}
		path = p
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

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}
