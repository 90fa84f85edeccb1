package provider

import (
	"context"
	"slices"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/catalogbuild"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/livecatalog"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/livecatalog/awslive"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/simworld/simbackends"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// liveSourcesConfig says where the live sources are. In simulate mode
// every cloud's price and availability APIs are served by the simulated
// world from the catalog (so the whole path runs offline); otherwise a
// cloud is asked only when its block is configured or live_endpoints
// names it, so that no configuration reaches a cloud it did not mention.
func liveSourcesConfig(ctx context.Context, base *planner.Catalog, cfg *providerModel, clouds []string, b *backends, diags *diag.Diagnostics) (livecatalog.SourcesConfig, error) {
	m := cfg.Catalog
	endpoints := map[string]string{}
	if !m.LiveEndpoints.IsNull() && !m.LiveEndpoints.IsUnknown() {
		diags.Append(m.LiveEndpoints.ElementsAs(ctx, &endpoints, false)...)
	}
	sc := livecatalog.SourcesConfig{Catalog: base}
	if b.simulate && len(endpoints) == 0 {
		w, err := b.simulated(ctx, base, true)
		if err != nil {
			return sc, err
		}
		sc.AWS = awslive.Sources
		return sc, simbackends.LiveSources(w, clouds, &sc)
	}
	for _, cl := range cloudNames {
		configured := endpoints[cl] != "" || (cl == "aws" && cfg.AWS != nil) || (cl == "gcp" && cfg.GCP != nil) || (cl == "azure" && cfg.Azure != nil)
		if configured && (len(clouds) == 0 || slices.Contains(clouds, cl)) {
			sc.Clouds = append(sc.Clouds, cl)
		}
	}
	if len(sc.Clouds) == 0 {
		sc.Clouds = []string{"none"}
	}
	sc.UseEndpoints(endpoints)
	if cfg.GCP != nil {
		sc.GCPProject = cfg.GCP.Project.ValueString()
	}
	if cfg.Azure != nil {
		sc.AzureSubscriptionID = cfg.Azure.SubscriptionID.ValueString()
	}
	sc.AWS = awslive.Sources
	return sc, nil
}

// liveStep is the catalog's live step: it reprices the base from the live
// price sources of the enabled clouds, then applies their availability
// (zones, restrictions, quotas as planner limits, spot scores); failures
// become warnings on diags and keep the catalog's prices and availability.
func liveStep(ctx context.Context, cfg *providerModel, clouds []string, b *backends, diags *diag.Diagnostics) catalogbuild.LiveFunc {
	m := cfg.Catalog
	ttl := livecatalog.DefaultTTL
	if d, err := time.ParseDuration(m.LiveCacheTTL.ValueString()); err == nil && d > 0 {
		ttl = d
	}
	dir := m.LiveCacheDir.ValueString()
	if dir == "" {
		dir = ".gpufleet-cache"
	}
	step := livecatalog.Live(func(base *planner.Catalog) (livecatalog.SourcesConfig, error) {
		return liveSourcesConfig(ctx, base, cfg, clouds, b, diags)
	}, &livecatalog.Cache{Dir: dir, TTL: ttl})
	return func(ctx context.Context, base *planner.Catalog) catalogbuild.Live {
		live := step(ctx, base)
		at := path.Root("catalog").AtName("live")
		if live.SourceErr != nil {
			diags.AddAttributeWarning(at, "Live data unavailable", live.SourceErr.Error())
			return live
		}
		for _, w := range live.PriceWarnings {
			diags.AddAttributeWarning(at, "Live prices unavailable", w)
		}
		for _, w := range live.AvailabilityWarnings {
			diags.AddAttributeWarning(at, "Live availability unavailable", w)
		}
		for _, w := range live.ReservationWarnings {
			diags.AddAttributeWarning(at, "Live reservations unavailable", w)
		}
		tflog.Info(ctx, "live catalog", map[string]any{"priced_offers": len(live.Provenance), "availability": live.Facts,
			"limits": len(live.Catalog.Limits), "warnings": len(live.PriceWarnings) + len(live.AvailabilityWarnings) + len(live.ReservationWarnings)})
		return live
	}
}
