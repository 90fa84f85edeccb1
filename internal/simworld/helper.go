package simworld

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/helperbin"
)

// HelperName is the binary that serves simulated worlds for the provider
// binary (gpufleet-simkube world).
const HelperName = "gpufleet-simkube"

// ErrNoHelper says why a provider binary cannot simulate.
var ErrNoHelper = errors.New("simulate = true needs " + HelperName + " next to the provider binary or on PATH; build it with make build (bin/), or go install ./cmd/gpufleet/...")

// helperStartTimeout bounds how long the helper may take to serve.
const helperStartTimeout = 2 * time.Minute

// FindHelper is the gpufleet-simkube next to the running executable, else
// the one on PATH; ErrNoHelper when there is neither.
func FindHelper() (string, error) {
	if p, ok := helperbin.Find(HelperName); ok {
		return p, nil
	}
	return "", ErrNoHelper
}

// Helper is the provider binary's Starter: it serves the world in a
// gpufleet-simkube world process of its own, which reads opts as one JSON
// line on its stdin, answers the World as one JSON line on its stdout,
// and serves until its stdin ends, which is when the provider closes it
// or exits however it does (helperProcAttr). Worlds are started once per directory and process: a provider
// configured again on the same world shares the helper.
func Helper(ctx context.Context, opts Options) (*World, error) {
	helpers.Lock()
	defer helpers.Unlock()
	if w := helpers.byDir[opts.Dir]; w != nil {
		if opts.Prices != nil && w.Endpoints.Prices.AWS == "" {
			return nil, fmt.Errorf("simulated clouds: the world of %s is already served without price APIs in this process", opts.Dir)
		}
		return w, nil
	}
	bin, err := FindHelper()
	if err != nil {
		return nil, err
	}
	w, err := startHelper(ctx, bin, opts)
	if err != nil {
		return nil, err
	}
	helpers.byDir[opts.Dir] = w
	return w, nil
}

var helpers = struct {
	sync.Mutex
	byDir map[string]*World
}{byDir: map[string]*World{}}

// startHelper runs bin world with opts and reads its World.
func startHelper(ctx context.Context, bin string, opts Options) (*World, error) {
	cmd := exec.Command(bin, "world")
	cmd.Stderr = os.Stderr // the provider's log, as Terraform collects it
	cmd.SysProcAttr = helperProcAttr()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("simulated clouds: starting %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	stop := func() {
		stdin.Close()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	line := make(chan []byte, 1)
	go func() {
		b, _ := bufio.NewReader(stdout).ReadBytes('\n')
		line <- b
		_, _ = io.Copy(io.Discard, stdout) // nothing else is written; never block the helper
		exited <- cmd.Wait()
	}()
	req, err := json.Marshal(opts)
	if err != nil {
		stop()
		return nil, err
	}
	if _, err := stdin.Write(append(req, '\n')); err != nil {
		stop()
		return nil, fmt.Errorf("simulated clouds: %s: %w", bin, err)
	}
	timeout := time.NewTimer(helperStartTimeout)
	defer timeout.Stop()
	var b []byte
	select {
	case b = <-line:
	case <-ctx.Done():
		stop()
		return nil, ctx.Err()
	case <-timeout.C:
		stop()
		return nil, fmt.Errorf("simulated clouds: %s did not serve within %s", bin, helperStartTimeout)
	}
	w, err := readReply(b)
	if err != nil {
		stop()
		var se *StateError
		if errors.As(err, &se) {
			return nil, se
		}
		return nil, fmt.Errorf("simulated clouds (%s world): %w", bin, err)
	}
	var once sync.Once
	w.OnClose(func() { once.Do(stop) })
	w.pid = cmd.Process.Pid
	return w, nil
}
