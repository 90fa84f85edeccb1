package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/sweep"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// SweepConfig is what sweep connects to the clouds with.
type SweepConfig struct {
	// Clouds are the --cloud list (aws, gcp, azure); Explicit says the
	// user named them (a cloud then missing its project or subscription
	// is an error, not a note).
	Clouds   []string
	Explicit bool
	// Regions are --regions: the regions AWS is listed in (every AWS
	// region of the catalog when empty) and the regions kept elsewhere.
	Regions []string
	// Simulate is --simulate: the simulated world's directory ("" for
	// the real clouds).
	Simulate string
	// GCPProject and AzureSubscription are --gcp-project and
	// --azure-subscription (else GOOGLE_CLOUD_PROJECT and
	// ARM_SUBSCRIPTION_ID, as the provider's blocks read them).
	GCPProject, AzureSubscription string
	Catalog                       *planner.Catalog
}

// SweepConnect builds each cloud's backends (gpufleet-live has the SDK
// clients): the targets, a function that releases them, and notes on
// clouds left out.
type SweepConnect func(ctx context.Context, cfg SweepConfig) (map[string]sweep.Target, func(), []string, error)

// Sweep is gpufleet sweep: it lists what gpufleet created on the clouds,
// leaves out what the --state files hold, prints a table of the rest
// with its price per hour, and with --delete deletes it in dependency
// order. Without connect (the gpufleet binary) it runs gpufleet-live.
func Sweep(args []string, stdout, stderr io.Writer, connect SweepConnect) int {
	if connect == nil {
		return RunHelper(LiveHelper, "sweep", append([]string{"sweep"}, args...), stdout, stderr)
	}
	fs := flag.NewFlagSet("gpufleet sweep", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var clouds, regions, states listFlag
	fs.Var(&clouds, "cloud", "clouds to sweep, comma-separated: aws,gcp,azure (default all three)")
	fs.Var(&regions, "regions", "regions to look in, comma-separated (default: every region of the catalog on AWS, every region elsewhere)")
	fs.Var(&states, "state", "a Terraform state whose gpufleet resources are kept: a .tfstate file or terraform show -json output (repeatable)")
	olderThan := fs.Duration("older-than", 0, "keep what is younger than this (and what reports no creation time), e.g. 2h; use it while applies may be running")
	dryRun := fs.Bool("dry-run", true, "only print what would be deleted (the default)")
	del := fs.Bool("delete", false, "delete what is printed, node pools first, networks last")
	simulate := fs.String("simulate", "", "sweep the simulated world in this directory (the provider's simulate_dir) instead of the clouds")
	gcpProject := fs.String("gcp-project", os.Getenv("GOOGLE_CLOUD_PROJECT"), "GCP project (default $GOOGLE_CLOUD_PROJECT)")
	azureSub := fs.String("azure-subscription", os.Getenv("ARM_SUBSCRIPTION_ID"), "Azure subscription (default $ARM_SUBSCRIPTION_ID)")
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	dryRunSet := false
	fs.Visit(func(f *flag.Flag) { dryRunSet = dryRunSet || f.Name == "dry-run" })
	if *del && dryRunSet && *dryRun {
		fmt.Fprintln(stderr, "gpufleet sweep: --delete and --dry-run contradict each other: give one")
		return ExitUsage
	}
	if !*del && dryRunSet && !*dryRun {
		fmt.Fprintln(stderr, "gpufleet sweep: --dry-run=false deletes nothing by itself: give --delete to delete")
		return ExitUsage
	}
	if *olderThan < 0 {
		fmt.Fprintf(stderr, "gpufleet sweep: --older-than %s: want a duration of zero or more (e.g. 2h)\n", *olderThan)
		return ExitUsage
	}
	explicit := len(clouds) > 0
	if !explicit {
		clouds = listFlag{"aws", "gcp", "azure"}
	}
	for _, c := range clouds {
		if !slices.Contains([]string{"aws", "gcp", "azure"}, c) {
			fmt.Fprintf(stderr, "gpufleet sweep: --cloud %s: want aws, gcp or azure\n", c)
			return ExitUsage
		}
	}
	held := sweep.NewHeld()
	for _, f := range states {
		data, err := os.ReadFile(f)
		if err == nil {
			err = held.AddState(f, data)
		}
		if err != nil {
			fmt.Fprintf(stderr, "gpufleet sweep: --state %v\n", err)
			return ExitUsage
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cat := planner.Embedded()
	targets, release, notes, err := connect(ctx, SweepConfig{Clouds: clouds, Explicit: explicit, Regions: regions, Simulate: *simulate,
		GCPProject: *gcpProject, AzureSubscription: *azureSub, Catalog: cat})
	if err != nil {
		fmt.Fprintf(stderr, "gpufleet sweep: %v\n", err)
		return ExitUsage
	}
	defer release()
	for _, n := range notes {
		fmt.Fprintf(stderr, "note: %s\n", n)
	}
	opts := sweep.Options{Targets: targets, Held: held, OlderThan: *olderThan, Catalog: cat}
	fmt.Fprintln(stdout, sweep.Summary(held))
	rep := sweep.Find(ctx, opts)
	sweep.Print(stdout, rep)
	if len(rep.Errors) > 0 {
		return ExitUsage
	}
	if !*del {
		if n := len(rep.Candidates()); n > 0 {
			fmt.Fprintf(stdout, "\nDry run: nothing deleted. Run again with --delete to delete these %d resources.\n", n)
		}
		return ExitOK
	}
	fmt.Fprintln(stdout)
	start := time.Now()
	if err := sweep.Delete(ctx, stdout, opts, rep); err != nil {
		fmt.Fprintf(stderr, "gpufleet sweep: some deletions failed (%s):\n%v\n", time.Since(start).Round(time.Second), err)
		return ExitUsage
	}
	return ExitOK
}
