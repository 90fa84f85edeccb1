// Package cli is the offers and plan commands of gpufleet, shared by the
// gpufleet binary and gpufleet-live. It links no cloud SDK: --live prices
// come from a Live function, which only gpufleet-live has (its SDK clients
// and their package set-up would otherwise cost every gpufleet plan half
// its start-up); without one, --live runs gpufleet-live with the same
// arguments.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/catalogbuild"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// Exit statuses.
const (
	ExitOK         = 0
	ExitUsage      = 1
	ExitInfeasible = 2
)

// LiveHelper is the binary that runs offers and plan with --live when the
// running one has no Live function (cmd/gpufleet/gpufleet-live).
const LiveHelper = "gpufleet-live"

// LiveConfig is what --live reads the clouds with.
type LiveConfig struct {
	// Clouds are the --clouds filter (empty: all three).
	Clouds []string
	// Endpoints are the --live-endpoint API base URLs by cloud.
	Endpoints map[string]string
	// GCPProject and AzureSubscription are --gcp-project and
	// --azure-subscription (quotas and SKU restrictions are read only
	// with them).
	GCPProject, AzureSubscription string
}

// Provenance says where a live price came from and when it was fetched.
type Provenance = catalogbuild.Provenance

// Live is the live step of the catalog pipeline for cfg: it refreshes a
// catalog's prices and availability from the clouds' APIs (the provenance
// of every price a source set, a warning for each source that failed and
// fell back to the catalog).
type Live func(cfg LiveConfig) catalogbuild.LiveFunc

// listFlag is a comma-separated list flag that may also be repeated.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}

// filterFlags are the offer filters shared by offers and plan.
type filterFlags struct {
	gpuModels, residency, denyResidency, clouds, capacityTypes listFlag
	minGPUMemory, maxPrice                                     float64
	gpusPerNode, minGPUsPerNode                                int
	interconnect, catalog, format                              string
	discounts, overrides, liveEndpoints                        listFlag
	live                                                       bool
	minSpotScore                                               int
	gcpProject, azureSubscription                              string
	startAfter                                                 string
	durationHours                                              int
	reservations                                               listFlag
	// provenance is filled by loadCatalog when --live priced offers.
	provenance map[string]Provenance
	warnings   []string
}

func (f *filterFlags) register(fs *flag.FlagSet) {
	fs.Var(&f.gpuModels, "gpu-models", "allowed GPU models, comma-separated (e.g. H100,H200)")
	fs.Float64Var(&f.minGPUMemory, "min-gpu-memory-gib", 0, "minimum memory per GPU in GiB")
	fs.IntVar(&f.gpusPerNode, "gpus-per-node", 0, "exact GPUs per node")
	fs.IntVar(&f.minGPUsPerNode, "min-gpus-per-node", 0, "minimum GPUs per node")
	fs.StringVar(&f.interconnect, "interconnect", "", "minimum GPU interconnect: pcie, nvlink or nvswitch")
	fs.Var(&f.residency, "residency", "allowed jurisdictions (EU, US, UK, CH, ...), ISO countries or cloud/region")
	fs.Var(&f.denyResidency, "deny-residency", "excluded jurisdictions, countries or cloud/region")
	fs.Var(&f.clouds, "clouds", "allowed clouds: aws,gcp,azure")
	fs.Var(&f.capacityTypes, "capacity-types", "allowed capacity types: on_demand,spot,reserved,capacity_block,flex_start,calendar "+
		"(plan default: on_demand, and reserved where the catalog has reservations; offers default: all)")
	fs.StringVar(&f.startAfter, "start-after", "", "earliest start, RFC 3339 (e.g. 2026-12-08T09:00:00Z): capacity blocks and calendar reservations must start at or after it")
	fs.IntVar(&f.durationHours, "duration-hours", 0, "hours the capacity is wanted: blocks and calendar reservations must last, flex-start must run, at least this long")
	fs.Var(&f.reservations, "reservation", "declare reserved capacity: cloud/region/zone/instance_type/id=count[@USD per hour] "+
		"(zone empty for a cloud without zones), e.g. aws/eu-central-1/euc1-az1/p5.48xlarge/cr-0123=2 (repeatable)")
	fs.Float64Var(&f.maxPrice, "max-price-per-gpu-hour", 0, "maximum USD per GPU-hour (0: no cap)")
	fs.StringVar(&f.catalog, "catalog", "", "catalog CSV file replacing the embedded catalog")
	fs.BoolVar(&f.live, "live", false, "refresh prices and availability from the clouds' APIs first (AWS Price List, spot history, "+
		"offerings, Service Quotas, spot scores; GCP Cloud Billing and, with --gcp-project, Compute quotas; Azure Retail Prices and, "+
		"with --azure-subscription, Resource SKUs and usages); a source that fails falls back to the catalog with a warning")
	fs.Var(&f.liveEndpoints, "live-endpoint", "API base URL per cloud for --live, e.g. azure=https://prices.azure.com (aws: Price List, EC2 and Service Quotas; gcp: Cloud Billing and Compute)")
	fs.StringVar(&f.gcpProject, "gcp-project", "", "GCP project whose GPU quotas --live reads")
	fs.StringVar(&f.azureSubscription, "azure-subscription", "", "Azure subscription whose quotas and SKU restrictions --live reads")
	fs.IntVar(&f.minSpotScore, "min-spot-score", 0, "reject spot offers whose spot placement score (1-10, from --live) is below this")
	fs.Var(&f.discounts, "discount", "discount per cloud in percent, e.g. aws=12 (repeatable)")
	fs.Var(&f.overrides, "price", "negotiated node price: cloud/instance_type[/region[/capacity_type]]=USD per hour, e.g. azure/Standard_ND96isr_H100_v5=88")
	fs.StringVar(&f.format, "format", "table", "output format: table or json")
}

func (f *filterFlags) request() planner.Request {
	r := planner.Request{
		GPUModels: f.gpuModels, MinGPUMemoryGiB: f.minGPUMemory, GPUsPerNode: f.gpusPerNode,
		MinGPUsPerNode: f.minGPUsPerNode, Interconnect: planner.Interconnect(f.interconnect),
		Residency: f.residency, DenyResidency: f.denyResidency, Clouds: f.clouds, MaxPricePerGPUHour: f.maxPrice,
		MinSpotScore: f.minSpotScore, StartAfter: f.startAfter, DurationHours: f.durationHours,
	}
	for _, ct := range f.capacityTypes {
		r.CapacityTypes = append(r.CapacityTypes, planner.CapacityType(ct))
	}
	return r
}

func (f *filterFlags) loadCatalog(live Live) (*planner.Catalog, error) {
	adj, err := f.adjustments()
	if err != nil {
		return nil, err
	}
	spec := catalogbuild.Spec{File: f.catalog, Adjustments: adj}
	if f.live {
		cfg := LiveConfig{Clouds: f.clouds, Endpoints: map[string]string{}, GCPProject: f.gcpProject, AzureSubscription: f.azureSubscription}
		for _, e := range f.liveEndpoints {
			cl, u, ok := strings.Cut(e, "=")
			if !ok {
				return nil, fmt.Errorf("--live-endpoint %q: expected cloud=URL", e)
			}
			cfg.Endpoints[cl] = u
		}
		spec.Live = live(cfg)
	}
	res, err := catalogbuild.Build(context.Background(), spec)
	if err != nil {
		return nil, err
	}
	if res.Live != nil {
		f.provenance, f.warnings = res.Live.Provenance, res.Live.Warnings()
	}
	return res.Catalog, nil
}

// adjustments parses --discount and --price.
func (f *filterFlags) adjustments() (planner.Adjustments, error) {
	adj := planner.Adjustments{DiscountPercent: map[string]float64{}}
	for _, d := range f.discounts {
		cl, v, ok := strings.Cut(d, "=")
		pct, err := strconv.ParseFloat(v, 64)
		if !ok || err != nil {
			return adj, fmt.Errorf("--discount %q: expected cloud=percent, e.g. aws=12", d)
		}
		adj.DiscountPercent[cl] = pct
	}
	for _, o := range f.overrides {
		key, v, ok := strings.Cut(o, "=")
		price, err := strconv.ParseFloat(v, 64)
		parts := strings.Split(key, "/")
		if !ok || err != nil || len(parts) < 2 || len(parts) > 4 {
			return adj, fmt.Errorf("--price %q: expected cloud/instance_type[/region[/capacity_type]]=USD per hour", o)
		}
		po := planner.PriceOverride{Cloud: parts[0], InstanceType: parts[1], PriceUSDHour: price}
		if len(parts) > 2 {
			po.Region = parts[2]
		}
		if len(parts) > 3 {
			po.CapacityType = planner.CapacityType(parts[3])
		}
		adj.Overrides = append(adj.Overrides, po)
	}
	for _, r := range f.reservations {
		key, v, ok := strings.Cut(r, "=")
		count, price, hasPrice := strings.Cut(v, "@")
		parts := strings.Split(key, "/")
		n, err := strconv.Atoi(count)
		var usd float64
		if hasPrice && err == nil {
			usd, err = strconv.ParseFloat(price, 64)
		}
		if !ok || err != nil || len(parts) != 5 {
			return adj, fmt.Errorf("--reservation %q: expected cloud/region/zone/instance_type/id=count[@USD per hour], e.g. aws/eu-central-1/euc1-az1/p5.48xlarge/cr-0123=2", r)
		}
		adj.Reservations = append(adj.Reservations, planner.Reservation{Cloud: parts[0], Region: parts[1], Zone: parts[2],
			InstanceType: parts[3], ID: parts[4], Count: n, EffectiveHourlyPrice: usd})
	}
	return adj, nil
}

// parse parses flags; on error it prints the error and the usage to stderr.
func parse(fs *flag.FlagSet, args []string, f *filterFlags, stderr io.Writer) bool {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return false
	}
	if f.format != "table" && f.format != "json" {
		fmt.Fprintf(stderr, "invalid value %q for flag -format: expected table or json\n", f.format)
		fs.Usage()
		return false
	}
	return true
}

// openCatalog loads the catalog the flags name and prints its warnings; false
// after printing why it cannot be loaded.
func (f *filterFlags) openCatalog(live Live, stderr io.Writer) (*planner.Catalog, bool) {
	cat, err := f.loadCatalog(live)
	if err != nil {
		fmt.Fprintf(stderr, "gpufleet: %v\n", err)
		return nil, false
	}
	for _, w := range f.warnings {
		fmt.Fprintf(stderr, "gpufleet: warning: %s\n", w)
	}
	return cat, true
}

// Offers runs gpufleet offers with args (the command's flags). live
// refreshes prices for --live; nil runs LiveHelper instead.
func Offers(args []string, stdout, stderr io.Writer, live Live) int {
	fs := flag.NewFlagSet("gpufleet offers", flag.ContinueOnError)
	var f filterFlags
	f.register(fs)
	limit := fs.Int("limit", 0, "show at most this many offers (0: all)")
	if !parse(fs, args, &f, stderr) {
		return ExitUsage
	}
	if f.live && live == nil {
		return RunHelper(LiveHelper, "offers --live", append([]string{"offers"}, args...), stdout, stderr)
	}
	cat, ok := f.openCatalog(live, stderr)
	if !ok {
		return ExitUsage
	}
	offers, err := planner.Offers(cat, f.request())
	if err != nil {
		fmt.Fprintf(stderr, "gpufleet: %v\n", err)
		return ExitUsage
	}
	total := len(offers)
	if *limit > 0 && len(offers) > *limit {
		offers = offers[:*limit]
	}
	if f.format == "json" {
		return writeJSON(stdout, stderr, offersJSON(cat, offers, f.provenance))
	}
	writeOffersTable(stdout, cat, offers, total, f.provenance)
	return ExitOK
}

// Plan runs gpufleet plan with args (the command's flags). live refreshes
// prices for --live; nil runs LiveHelper instead.
func Plan(args []string, stdout, stderr io.Writer, live Live) int {
	fs := flag.NewFlagSet("gpufleet plan", flag.ContinueOnError)
	var f filterFlags
	f.register(fs)
	gpus := fs.Int("gpus", 0, "GPUs wanted (required)")
	maxShare := fs.Float64("max-share", 0, "largest fraction of the GPUs on any one cloud, in (0,1]")
	minClouds := fs.Int("min-clouds", 0, "least number of clouds with nodes")
	gang := fs.Bool("gang", false, "all nodes in one zone (one region where the cloud has no zones)")
	explain := fs.Bool("explain", false, "table format: list every rejected offer with its reason")
	if !parse(fs, args, &f, stderr) {
		return ExitUsage
	}
	if *gpus <= 0 {
		fmt.Fprintln(stderr, "flag -gpus is required and must be at least 1")
		fs.Usage()
		return ExitUsage
	}
	if f.live && live == nil {
		return RunHelper(LiveHelper, "plan --live", append([]string{"plan"}, args...), stdout, stderr)
	}
	cat, ok := f.openCatalog(live, stderr)
	if !ok {
		return ExitUsage
	}
	req := f.request()
	req.GPUs = *gpus
	req.Spread = planner.Spread{MinClouds: *minClouds, MaxShare: *maxShare}
	req.Gang = *gang
	p, err := planner.Plan(cat, req)
	var infeasible *planner.InfeasibleError
	switch {
	case errors.As(err, &infeasible):
		fmt.Fprintf(stderr, "gpufleet: %v\n", err)
		return ExitInfeasible
	case err != nil:
		fmt.Fprintf(stderr, "gpufleet: %v\n", err)
		return ExitUsage
	}
	if f.format == "json" {
		return writeJSON(stdout, stderr, placementJSON(p))
	}
	writePlanTable(stdout, p, *explain)
	return ExitOK
}

func writeJSON(stdout, stderr io.Writer, v any) int {
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(stderr, "gpufleet: %v\n", err)
		return ExitUsage
	}
	return ExitOK
}
