// Command gpufleet is the command line over the planner:
//
//	gpufleet offers [filters] [--format table|json]
//	gpufleet plan --gpus N [request flags] [--format table|json]
//	gpufleet sim list|nodes|kubectl
//	gpufleet sweep [--cloud ...] [--older-than D] [--state FILE] [--delete]
//
// Exit status: 0 success, 1 bad flags or input, 2 infeasible request.
//
// gpufleet links no cloud SDK and no Kubernetes client, so that a plan
// pays only for the planner: --live runs gpufleet-live and sim nodes/kubectl
// run gpufleet-simkube, the helpers built next to it.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cli"
)

// Exit statuses.
const (
	exitOK         = cli.ExitOK
	exitUsage      = cli.ExitUsage
	exitInfeasible = cli.ExitInfeasible
)

const usage = `gpufleet plans GPU capacity across AWS, GCP and Azure.

Usage:
  gpufleet offers [flags]        list offers, cheapest per GPU-hour first
  gpufleet plan --gpus N [flags] choose the cheapest placement for N GPUs
  gpufleet sim list [--dir DIR]  list what exists in the simulated clouds (simulate = true)
  gpufleet sweep [flags]         find (and with --delete delete) what gpufleet created that no state holds

Run "gpufleet <command> -h" for the flags of a command.
`

func main() {
	cli.ShortLivedGC()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "offers":
		// No Live function here: --live runs gpufleet-live.
		return cli.Offers(args[1:], stdout, stderr, nil)
	case "plan":
		return cli.Plan(args[1:], stdout, stderr, nil)
	case "sim":
		return runSim(args[1:], stdout, stderr)
	case "sweep":
		// Runs gpufleet-live, which has the SDK clients.
		return cli.Sweep(args[1:], stdout, stderr, nil)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "gpufleet: unknown command %q\n\n%s", args[0], usage)
	return exitUsage
}
