// Command gpufleet is the command line over the planner:
//
//	gpufleet offers [filters] [--format table|json]
//	gpufleet plan --gpus N [request flags] [--format table|json]
//
// Exit status: 0 success, 1 bad flags or input, 2 infeasible request.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
