package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/simserve"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/simworld"
)

// runWorld serves a simulated world for a provider process
// (simworld.Helper): it reads the simworld.Options as one JSON line on
// stdin, serves the world on free loopback ports, writes the
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
	in := bufio.NewReader(stdin)
	line, err := in.ReadBytes('\n')
	if err != nil {
		fmt.Fprintf(stderr, "gpufleet-simkube world: reading the options: %v\n", err)
		return exitUsage
	}
	var o simworld.Options
	if err := json.Unmarshal(line, &o); err != nil {
		fmt.Fprintf(stderr, "gpufleet-simkube world: options: %v\n", err)
		return exitUsage
	}
	opts, warnings := simserve.ProviderOptions(o)
	w, err := simserve.Start(context.Background(), opts)
	if err != nil {
		fmt.Fprintf(stderr, "gpufleet-simkube world: %v\n", err)
		_ = simworld.WriteReply(stdout, nil, err)
		return exitUsage
	}
	defer w.Close()
	if err := simworld.WriteReply(stdout, w.ProviderWorld(o.TimeScale, warnings), nil); err != nil {
		return exitUsage
	}
	_, _ = io.Copy(io.Discard, in) // until the provider closes stdin or exits
	return exitOK
}
