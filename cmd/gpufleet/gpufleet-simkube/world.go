package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/simserve"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/helperbin"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/simworld"
)

// runWorld serves a simulated world for a provider process
// (simworld.Helper, helperbin.ServeRequest): it reads the simworld.Options
// as one JSON line on stdin, serves the world on free loopback ports, writes the
// simworld.World (or why there is none) as one JSON line on stdout and serves until stdin ends,
// that is until the provider closes it or exits. Interrupts are the
// provider's to handle (it stops its cloud calls gracefully, which needs
// the world served), so they are ignored.
func runWorld(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "gpufleet-simkube: world takes no arguments (its options are a JSON line on stdin), got %q\n", args)
		return exitUsage
	}
	signal.Ignore(os.Interrupt)
	var o simworld.Options
	var w *simserve.World
	var startErr error
	wait, err := helperbin.ServeRequest(stdin, stdout, &o, func() any {
		opts, warnings := simserve.ProviderOptions(o)
		if w, startErr = simserve.Start(context.Background(), opts); startErr != nil {
			return simworld.Reply(nil, startErr)
		}
		return simworld.Reply(w.ProviderWorld(o.TimeScale, warnings), nil)
	})
	if w != nil {
		defer w.Close()
	}
	switch {
	case err != nil:
		fmt.Fprintf(stderr, "gpufleet-simkube world: %v\n", err)
		return exitUsage
	case startErr != nil:
		fmt.Fprintf(stderr, "gpufleet-simkube world: %v\n", startErr)
		return exitUsage
	}
	wait() // until the provider closes stdin or exits
	return exitOK
}
