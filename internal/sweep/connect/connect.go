// Package connect builds the SDK backends that sweep lists and deletes
// with, on the clouds or on a simulated world; gpufleet-live (gpufleet
// sweep) and the provider's sweepers use it. It is kept out of package
// sweep so that gpufleet, which links no cloud SDK, can print sweep's
// tables.
package connect

import (
	"context"
	"fmt"
	"slices"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cli"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	awsbackend "github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/aws"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/awsconfig"
	azbackend "github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/azure"
	gcpbackend "github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/gcp"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/simserve"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/simworld"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/simworld/simbackends"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/sweep"
)

// SimTimeScaleEnv scales the simulated world's operation times, as the
// provider's simulate mode reads it (0.01: a 2 s cluster deletion takes
// 20 ms).
const SimTimeScaleEnv = simbackends.TimeScaleEnv

// Targets builds the SDK backends sweep lists and deletes with: on
// the simulated world of cfg.Simulate (served on loopback for the run),
// or on the clouds with the credentials the provider would use (each
// SDK's default chain, Terraform Cloud dynamic credentials), GCP with
// its project and Azure with its subscription. Backends are wrapped in
// retries, as the provider's are.
func Targets(ctx context.Context, cfg cli.SweepConfig) (map[string]sweep.Target, func(), []string, error) {
	var acfg awsconfig.Settings
	var gcfg gcpbackend.Config
	var zcfg azbackend.Config
	release := func() {}
	gcfg.Project, zcfg.SubscriptionID = cfg.GCPProject, cfg.AzureSubscription
	if cfg.Simulate != "" {
		// The world the provider's simulate = true would serve, and the
		// backends pointed at it as the provider's are (simbackends).
		w, err := simserve.Serve(ctx, simworld.Options{Dir: cfg.Simulate,
			Machines: simworld.Machines(cfg.Catalog), TimeScale: simbackends.TimeScale()})
		if err != nil {
			return nil, nil, nil, err
		}
		release = w.Close
		// The sweep sweeps the world's own subscription.
		zcfg.SubscriptionID = ""
		if err := simbackends.Configs(w, &acfg, &gcfg, &zcfg); err != nil {
			release()
			return nil, nil, nil, err
		}
	}
	regions := cfg.Regions
	awsRegions := slices.Clone(regions)
	if len(awsRegions) == 0 && cfg.Catalog != nil {
		for _, r := range cfg.Catalog.Regions() {
			if r.Cloud == "aws" {
				awsRegions = append(awsRegions, r.Name)
			}
		}
	}
	if len(awsRegions) > 0 {
		acfg.Region = awsRegions[0]
	}
	policy := cloud.DefaultRetryPolicy
	targets := map[string]sweep.Target{}
	var notes []string
	add := func(name string, be cloud.Backend, rs []string, alias func(string) string) {
		tg := sweep.Target{Backend: cloud.WithRetries(be, policy), Regions: rs, Alias: alias}
		if nb, ok := be.(cloud.NetworkBackend); ok {
			tg.Network = cloud.WithNetworkRetries(nb, policy)
		}
		targets[name] = tg
	}
	fail := func(err error) (map[string]sweep.Target, func(), []string, error) {
		release()
		return nil, nil, nil, err
	}
	for _, c := range cfg.Clouds {
		switch c {
		case "aws":
			b, err := awsbackend.New(ctx, awsbackend.ConfigOf(acfg))
			if err != nil {
				return fail(err)
			}
			add(c, b, awsRegions, nil)
		case "gcp":
			if gcfg.Project == "" {
				if cfg.Explicit {
					return fail(fmt.Errorf("--cloud gcp needs a project: --gcp-project or GOOGLE_CLOUD_PROJECT"))
				}
				notes = append(notes, "gcp not swept: no project (--gcp-project or GOOGLE_CLOUD_PROJECT)")
				continue
			}
			b, err := gcpbackend.New(ctx, gcfg)
			if err != nil {
				return fail(err)
			}
			add(c, b, regions, nil)
		case "azure":
			if zcfg.SubscriptionID == "" {
				if cfg.Explicit {
					return fail(fmt.Errorf("--cloud azure needs a subscription: --azure-subscription or ARM_SUBSCRIPTION_ID"))
				}
				notes = append(notes, "azure not swept: no subscription (--azure-subscription or ARM_SUBSCRIPTION_ID)")
				continue
			}
			b, err := azbackend.New(zcfg)
			if err != nil {
				return fail(err)
			}
			add(c, b, regions, azbackend.AgentPoolName)
		}
	}
	return targets, release, notes, nil
}
