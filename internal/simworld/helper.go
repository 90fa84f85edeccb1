package simworld

import (
	"context"
	"errors"
	"fmt"
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
// or exits however it does (helperbin.Process). Worlds are started once per directory and process: a provider
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
	p, b, err := helperbin.Start(ctx, bin, []string{"world"}, opts, helperStartTimeout)
	if err != nil {
		if errors.Is(err, ctx.Err()) {
			return nil, err
		}
		return nil, fmt.Errorf("simulated clouds: %w", err)
	}
	w, err := readReply(b)
	if err != nil {
		p.Stop()
		var se *StateError
		if errors.As(err, &se) {
			return nil, se
		}
		return nil, fmt.Errorf("simulated clouds (%s world): %w", bin, err)
	}
	w.OnClose(p.Stop)
	w.pid = p.Pid()
	return w, nil
}
