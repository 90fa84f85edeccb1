// Command gpufleet-simkube serves a simulated world's Kubernetes APIs for
// gpufleet sim nodes and gpufleet sim kubectl, and the whole simulated
// world for gpufleet sim serve, which run it, and for the provider's
// simulate = true (gpufleet-simkube world, internal/simworld). It is a binary
// of its own so that gpufleet does not link client-go and the simulated
// API server: their package set-up (the Kubernetes API scheme) cost every
// gpufleet plan about two thirds of its instructions.
package main

import (
	"fmt"
	"io"
	"os"
)

const (
	exitOK    = 0
	exitUsage = 1
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run takes the arguments of gpufleet sim: nodes or kubectl, then theirs.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "nodes":
			return runSimNodes(args[1:], stdout, stderr)
		case "kubectl":
			return runSimKubectl(args[1:], stdout, stderr)
		case "serve":
			return runSimServe(args[1:], stdout, stderr)
		case "world":
			return runWorld(args[1:], os.Stdin, stdout, stderr)
		}
	}
	fmt.Fprintln(stderr, "usage: gpufleet sim nodes [--dir .gpufleet-sim] [--cluster cloud/region/name]\n"+
		"       gpufleet sim kubectl [--dir .gpufleet-sim] --cluster cloud/region/name -- KUBECTL ARGS...\n"+
		"       gpufleet sim serve [--dir .gpufleet-sim] [--aws-port 4570 ... --kube-port 4575]\n"+
		"       gpufleet-simkube world (the provider's simulate = true: options as a JSON line on stdin)")
	return exitUsage
}
