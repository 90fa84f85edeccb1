package main

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cli"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// runSim lists what exists in a simulated world (the provider's
// simulate = true state directory).
func runSim(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "nodes", "kubectl", "serve":
			return runSimKube(args, stdout, stderr)
		}
	}
	if len(args) == 0 || args[0] != "list" {
		fmt.Fprintln(stderr, "usage: gpufleet sim list [--dir .gpufleet-sim] [--all]\n"+
			"       gpufleet sim nodes [--dir .gpufleet-sim] [--cluster cloud/region/name]\n"+
			"       gpufleet sim kubectl [--dir .gpufleet-sim] --cluster cloud/region/name -- KUBECTL ARGS...\n"+
			"       gpufleet sim serve [--dir .gpufleet-sim] [--aws-port 4570 ... --kube-port 4575]")
		return exitUsage
	}
	fs := flag.NewFlagSet("gpufleet sim list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", ".gpufleet-sim", "the provider's simulate_dir")
	all := fs.Bool("all", false, "list every other resource (networks, gateways, roles, ...) instead of counting them per cloud and kind")
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
	if *all {
		for _, o := range inv.Objects {
			fmt.Fprintf(tw, "%s\t%s\t-\t%s\t%s\t-\n", o.Kind, o.Cloud, o.Name, o.ID)
		}
	}
	tw.Flush()
	if !*all && len(inv.Objects) > 0 {
		fmt.Fprintln(stdout, "\nOther resources (--all lists them):")
		counts := map[string]int{}
		var keys []string
		for _, o := range inv.Objects {
			k := o.Cloud + "\t" + o.Kind
			if counts[k] == 0 {
				keys = append(keys, k)
			}
			counts[k]++
		}
		tw = tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "CLOUD\tKIND\tCOUNT")
		for _, k := range keys { // the inventory is sorted by cloud and kind
			fmt.Fprintf(tw, "%s\t%d\n", k, counts[k])
		}
		tw.Flush()
	}
	if inv.Empty() {
		fmt.Fprintln(stdout, "(nothing exists in the simulated clouds)")
	}
	return exitOK
}

// simKubeHelper is the binary that serves sim nodes, sim kubectl and sim
// serve (cmd/gpufleet/gpufleet-simkube): client-go, the simulated clouds
// and the simulated Kubernetes
// API server are linked there, not here, so that their package set-up does
// not slow down every gpufleet plan.
const simKubeHelper = "gpufleet-simkube"

// runSimKube runs gpufleet-simkube with args (nodes or kubectl, then
// theirs): the one next to this executable, else the one on PATH. Its exit
// status is gpufleet's.
func runSimKube(args []string, stdout, stderr io.Writer) int {
	return cli.RunHelper(simKubeHelper, "sim "+args[0], args, stdout, stderr)
}
