package main

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// runSim lists what exists in a simulated world (the provider's
// simulate = true state directory).
func runSim(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "list" {
		fmt.Fprintln(stderr, "usage: gpufleet sim list [--dir .gpufleet-sim]")
		return exitUsage
	}
	fs := flag.NewFlagSet("gpufleet sim list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", ".gpufleet-sim", "the provider's simulate_dir")
	if err := fs.Parse(args[1:]); err != nil {
		return exitUsage
	}
	e, err := cloudsim.New(cloudsim.Config{StateFile: filepath.Join(*dir, "state.json")})
	if err != nil {
		fmt.Fprintf(stderr, "gpufleet: %v\n", err)
		return exitUsage
	}
	inv := e.Inventory().Resources()
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tCLOUD\tREGION\tNAME\tDETAIL\tSTATUS")
	for _, c := range inv.Clusters {
		fmt.Fprintf(tw, "cluster\t%s\t%s\t%s\tkubernetes %s\t%s\n", c.Cloud, c.Region, c.Name, c.Spec.KubernetesVersion, e.ClusterStatus(c))
	}
	for _, p := range inv.Pools {
		status, ready := e.PoolStatus(p)
		zone := p.Spec.Zone
		if zone == "" {
			zone = "the region"
		}
		fmt.Fprintf(tw, "node pool\t%s\t%s\t%s\t%d x %s in %s (%s), cluster %s\t%s, %d ready\n", p.Cloud, p.Spec.Region, p.Spec.Name,
			p.Spec.Nodes, p.Spec.InstanceType, zone, p.Spec.CapacityType, p.Spec.Cluster, status, ready)
	}
	for _, o := range inv.Objects {
		fmt.Fprintf(tw, "%s\t%s\t-\t%s\t%s\t-\n", o.Kind, o.Cloud, o.Name, o.ID)
	}
	tw.Flush()
	if inv.Empty() {
		fmt.Fprintln(stdout, "(nothing exists in the simulated clouds)")
	}
	return exitOK
}
