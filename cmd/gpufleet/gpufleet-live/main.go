// Command gpufleet-live runs gpufleet offers and gpufleet plan with --live,
// and gpufleet sweep, which run it: it links the AWS, GCP and Azure SDK
// clients that read prices, availability and quotas and list and delete
// what gpufleet created, so that gpufleet itself does not (their package
// set-up was half of a small plan's start-up).
//
//	gpufleet-live offers|plan [flags, --live among them]
//	gpufleet-live sweep [flags]
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/catalogbuild"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cli"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/livecatalog"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/livecatalog/awslive"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/sweep/connect"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

func main() {
	cli.ShortLivedGC()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run takes gpufleet's arguments: offers or plan, then theirs.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "offers":
			return cli.Offers(args[1:], stdout, stderr, refresh)
		case "plan":
			return cli.Plan(args[1:], stdout, stderr, refresh)
		case "sweep":
			return cli.Sweep(args[1:], stdout, stderr, connect.Targets)
		}
	}
	fmt.Fprintln(stderr, "usage: gpufleet offers --live [flags]\n       gpufleet plan --live --gpus N [flags]\n       gpufleet sweep [flags]")
	return cli.ExitUsage
}

// refresh is --live: prices, then availability and quotas, from the
// sources cfg enables, through the price cache in the temporary directory.
func refresh(cfg cli.LiveConfig) catalogbuild.LiveFunc {
	cache := &livecatalog.Cache{Dir: filepath.Join(os.TempDir(), "gpufleet-prices")}
	return livecatalog.Live(func(*planner.Catalog) (livecatalog.SourcesConfig, error) {
		sc := livecatalog.SourcesConfig{Clouds: cfg.Clouds, GCPProject: cfg.GCPProject, AzureSubscriptionID: cfg.AzureSubscription, AWS: awslive.Sources}
		sc.UseEndpoints(cfg.Endpoints)
		return sc, nil
	}, cache)
}
