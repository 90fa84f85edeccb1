// Package sweep finds what gpufleet created on the clouds that no
// Terraform state holds — what a crashed apply or an interrupted
// acceptance test left behind — prices it from the catalog, and deletes
// it in dependency order. It works on cloud.Backend and
// cloud.NetworkBackend (their List methods), so it links no cloud SDK:
// gpufleet-live gives it the SDK backends, the tests the simulated ones.
package sweep

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// Target is one cloud's backends; Network may be nil.
type Target struct {
	Backend cloud.Backend
	Network cloud.NetworkBackend
	// Regions are passed to List (cloud.ListOptions.Regions).
	Regions []string
	// Alias maps a name gpufleet gives to the name the cloud lists it
	// under, where they differ (AKS agent pools); nil for none. What the
	// states hold is matched under both.
	Alias func(string) string
}

// Options say what to sweep.
type Options struct {
	// Targets by cloud name.
	Targets map[string]Target
	// Held is what the states hold (nil: nothing; every tagged resource
	// is a candidate).
	Held *Held
	// OlderThan keeps what is younger (and, when not zero, what has no
	// known creation time).
	OlderThan time.Duration
	// Now tells the time; time.Now when nil.
	Now func() time.Time
	// Catalog prices node pools (its on-demand prices); nil: unpriced.
	Catalog *planner.Catalog
	// PageSize is cloud.ListOptions.PageSize.
	PageSize int
}

// Item is one listed resource and what the sweep makes of it.
type Item struct {
	cloud.Resource
	// Age is how long ago it was created; -1 when unknown.
	Age time.Duration
	// PriceUSDHour is what it costs an hour (node pools: on-demand price
	// per node × nodes); Priced is false when the catalog has no price.
	PriceUSDHour float64
	Priced       bool
	// Keep says why it is not a candidate ("" for a candidate).
	Keep string
}

// Report is what Find found.
type Report struct {
	// Items are every listed resource, candidates and kept, in
	// cloud.SortResources order.
	Items []Item
	// Errors are the clouds whose listing failed.
	Errors []error
}

// Candidates are the items to delete, in deletion order (cloud.ResourceKind.DeleteRank, then cloud, region, cluster, name).
func (r Report) Candidates() []Item {
	var out []Item
	for _, it := range r.Items {
		if it.Keep == "" {
			out = append(out, it)
		}
	}
	slices.SortStableFunc(out, func(a, b Item) int { return a.Kind.DeleteRank() - b.Kind.DeleteRank() })
	return out
}

// Find lists every target and decides each resource.
func Find(ctx context.Context, o Options) Report {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	held := o.Held
	if held == nil {
		held = NewHeld()
	}
	for _, tg := range o.Targets {
		if tg.Alias != nil {
			held.Alias(tg.Alias)
		}
	}
	t := now()
	var rep Report
	var all []cloud.Resource
	for _, name := range slices.Sorted(maps.Keys(o.Targets)) {
		tg := o.Targets[name]
		lo := cloud.ListOptions{Regions: tg.Regions, PageSize: o.PageSize}
		if tg.Backend != nil {
			rs, err := tg.Backend.List(ctx, lo)
			if err != nil {
				rep.Errors = append(rep.Errors, fmt.Errorf("%s: listing clusters and node pools: %w", name, err))
			}
			all = append(all, rs...)
		}
		if tg.Network != nil {
			rs, err := tg.Network.ListNetworks(ctx, lo)
			if err != nil {
				rep.Errors = append(rep.Errors, fmt.Errorf("%s: listing networks: %w", name, err))
			}
			all = append(all, rs...)
		}
	}
	cloud.SortResources(all)
	prices := onDemandPrices(o.Catalog)
	heldPools := map[string]bool{} // cloud/region/cluster of pools a state holds
	for _, r := range all {
		if r.Kind == cloud.ResourceNodePool && held.Has(r.Name) {
			heldPools[r.Cloud+"/"+r.Region+"/"+r.Cluster] = true
		}
	}
	for _, r := range all {
		it := Item{Resource: r, Age: -1}
		if !r.Created.IsZero() {
			it.Age = max(t.Sub(r.Created), 0)
		}
		if r.Kind == cloud.ResourceNodePool {
			if p, ok := prices[priceKey(r.Cloud, r.Region, r.InstanceType)]; ok {
				it.PriceUSDHour, it.Priced = p*float64(r.Nodes), true
			}
		}
		switch {
		case held.Has(r.Name):
			it.Keep = "in state"
		case r.Kind == cloud.ResourceCluster && heldPools[r.Cloud+"/"+r.Region+"/"+r.Name]:
			it.Keep = "has a node pool in state"
		case o.OlderThan > 0 && it.Age < 0:
			it.Keep = "age unknown"
		case o.OlderThan > 0 && it.Age < o.OlderThan:
			it.Keep = "younger than " + o.OlderThan.String()
		}
		rep.Items = append(rep.Items, it)
	}
	return rep
}

func priceKey(cl, region, instanceType string) string { return cl + "/" + region + "/" + instanceType }

// onDemandPrices is the lowest on-demand node price per cloud, region and
// instance type (zones of a region may differ; the lowest is a floor).
func onDemandPrices(c *planner.Catalog) map[string]float64 {
	out := map[string]float64{}
	if c == nil {
		return out
	}
	for _, o := range c.Offers {
		if o.CapacityType != planner.OnDemand {
			continue
		}
		k := priceKey(o.Cloud, o.Region, o.InstanceType)
		if p, ok := out[k]; !ok || o.PriceUSDHour < p {
			out[k] = o.PriceUSDHour
		}
	}
	return out
}

// FormatAge writes an age as hours and minutes ("2h05m", "7m", "<1m";
// "?" when unknown).
func FormatAge(d time.Duration) string {
	switch {
	case d < 0:
		return "?"
	case d < time.Minute:
		return "<1m"
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	}
	return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
}

// Print writes the report as a table: every candidate with its age and
// price per hour and the total, then what is kept and why.
func Print(w io.Writer, rep Report) {
	cands := rep.Candidates()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CLOUD\tREGION\tKIND\tNAME\tAGE\t$/HOUR")
	total := 0.0
	for _, it := range cands {
		price := "-"
		if it.Kind == cloud.ResourceNodePool {
			price = "?"
			if it.Priced {
				price = fmt.Sprintf("%.2f", it.PriceUSDHour)
				total += it.PriceUSDHour
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", it.Cloud, it.Region, it.Kind, displayName(it), FormatAge(it.Age), price)
	}
	fmt.Fprintf(tw, "total\t\t\t%d resources\t\t%.2f\n", len(cands), total)
	tw.Flush()
	var kept []Item
	for _, it := range rep.Items {
		if it.Keep != "" {
			kept = append(kept, it)
		}
	}
	if len(kept) > 0 {
		fmt.Fprintln(w, "\nKept:")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "CLOUD\tREGION\tKIND\tNAME\tAGE\tWHY")
		for _, it := range kept {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", it.Cloud, it.Region, it.Kind, displayName(it), FormatAge(it.Age), it.Keep)
		}
		tw.Flush()
	}
	for _, err := range rep.Errors {
		fmt.Fprintf(w, "error: %v\n", err)
	}
}

// displayName is a node pool's cluster/name, a pool's "nodes × type", or
// the name.
func displayName(it Item) string {
	if it.Kind == cloud.ResourceNodePool {
		return fmt.Sprintf("%s/%s (%d × %s)", it.Cluster, it.Name, it.Nodes, it.InstanceType)
	}
	return it.Name
}

// Delete deletes the candidates one at a time in deletion order — node
// pools, clusters, VPN connections, gateways, peerings, networks — each
// Delete waiting until its resource is gone, and reports each to w as it
// ends. It returns the failures joined; a failed item does not stop the
// others, but what depends on it fails in turn (its Delete refuses with a
// conflict) and is reported so.
func Delete(ctx context.Context, w io.Writer, o Options, rep Report) error {
	var errs []error
	for _, it := range rep.Candidates() {
		tg := o.Targets[it.Cloud]
		start := time.Now()
		err := deleteOne(ctx, tg, it)
		took := time.Since(start).Round(time.Millisecond)
		if err != nil {
			fmt.Fprintf(w, "FAILED  %s %s %s %s: %v\n", it.Cloud, it.Region, it.Kind, displayName(it), err)
			errs = append(errs, fmt.Errorf("%s %s %s %s: %w", it.Cloud, it.Region, it.Kind, it.Name, err))
			continue
		}
		fmt.Fprintf(w, "deleted %s %s %s %s (%s)\n", it.Cloud, it.Region, it.Kind, displayName(it), took)
	}
	return errors.Join(errs...)
}

func deleteOne(ctx context.Context, tg Target, it Item) error {
	switch it.Kind {
	case cloud.ResourceNodePool:
		return tg.Backend.DeleteNodePool(ctx, it.Region, it.Cluster, it.Name)
	case cloud.ResourceCluster:
		return tg.Backend.DeleteCluster(ctx, it.Region, it.Name)
	}
	if tg.Network == nil {
		return fmt.Errorf("no network backend for %s", it.Cloud)
	}
	switch it.Kind {
	case cloud.ResourceVPNConnection:
		return tg.Network.DeleteVPNConnection(ctx, it.Region, it.Name)
	case cloud.ResourceVPNGateway:
		return tg.Network.DeleteVPNGateway(ctx, it.Region, it.Name)
	case cloud.ResourcePeering:
		if it.Peering == nil {
			return fmt.Errorf("peering %s: the listing gave no sides", it.Name)
		}
		return tg.Network.DeletePeering(ctx, *it.Peering)
	case cloud.ResourceNetwork:
		return tg.Network.DeleteNetwork(ctx, it.Region, it.Name)
	}
	return fmt.Errorf("unknown kind %q", it.Kind)
}

// Summary is one line on what the states cover, for the top of the
// output.
func Summary(h *Held) string {
	if h == nil || h.States == 0 {
		return "No --state given: everything gpufleet tagged is a candidate, including what a live Terraform state still manages."
	}
	if h.States == 1 {
		return "Excluding what 1 state holds."
	}
	return fmt.Sprintf("Excluding what %d states hold.", h.States)
}
