package livecatalog

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"path"
	"slices"
	"strings"
	"sync"

	"google.golang.org/api/compute/v1"
	"google.golang.org/api/option"

	gcpbackend "github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/gcp"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// GCPAvailability asks the Compute Engine API where GPUs are offered and
// how many this project may run:
//
//   - acceleratorTypes.aggregatedList: the zones where each accelerator
//     type exists. An instance type is offered in the zones of the
//     accelerator it carries (gcpAccelerators), within Regions.
//   - regions.get per region: the regional GPU quotas (NVIDIA_H100_GPUS,
//     PREEMPTIBLE_NVIDIA_H100_GPUS, NVIDIA_A100_80GB_GPUS, ...), limit −
//     usage, each covering the catalog's instance types that carry that
//     accelerator; PREEMPTIBLE_ quotas cover spot, the others on-demand.
//   - projects.get: GPUS_ALL_REGIONS, every instance type in every region.
//
// A cold fetch makes 1 + (aggregated list pages − 1) + len(Regions) + 1
// calls.
type GCPAvailability struct {
	// Project is the project whose quotas are read (required).
	Project string
	// Regions covered (every GCP region of the catalog when empty).
	Regions []string
	// Catalog gives the instance types, their GPU models and zones
	// (planner.Embedded when nil).
	Catalog *planner.Catalog
	// Endpoint overrides https://compute.googleapis.com/compute/v1/ (a
	// simulator: its base URL followed by /compute/v1/).
	Endpoint string
	// ClientOptions for the Compute Engine client (credentials, HTTP
	// client); Application Default Credentials when empty.
	ClientOptions []option.ClientOption
	// AuthEndpoints override the token endpoints of Terraform Cloud
	// dynamic credentials (used when ClientOptions is empty).
	AuthEndpoints gcpbackend.AuthEndpoints
	// PageSize is maxResults of the aggregated list (500 when zero).
	PageSize int64
	// Retry bounds the retries of each request.
	Retry GCPRetry
	// Parallel is how many regions.get calls run at once (8 when zero).
	Parallel int
}

var _ AvailabilitySource = (*GCPAvailability)(nil)

// Cloud is "gcp".
func (g *GCPAvailability) Cloud() string { return "gcp" }

// Name names the source.
func (g *GCPAvailability) Name() string { return "gcp-compute-availability" }

func (g *GCPAvailability) catalog() *planner.Catalog {
	if g.Catalog != nil {
		return g.Catalog
	}
	return planner.Embedded()
}

// gcpType is an instance type of the catalog with what availability needs
// to know about it.
type gcpType struct {
	name  string
	accel gcpAccelerator
	known bool
	zones map[string][]string // region → the catalog's zones
}

// Availability fetches offered zones and quotas. instanceTypes narrows the
// catalog's GCP instance types (all of them when empty); types the catalog
// does not have are ignored (their GPU model is unknown).
func (g *GCPAvailability) Availability(ctx context.Context, instanceTypes []string) (Availability, error) {
	if g.Project == "" {
		return Availability{}, errors.New("gcp availability: a project is required")
	}
	types, regions := g.scope(instanceTypes)
	opts, err := gcpOptions(ctx, g.Endpoint, g.AuthEndpoints, g.ClientOptions)
	if err != nil {
		return Availability{}, fmt.Errorf("compute credentials: %w", err)
	}
	svc, err := compute.NewService(ctx, opts...)
	if err != nil {
		return Availability{}, fmt.Errorf("compute client: %w", err)
	}
	zones, err := g.acceleratorZones(ctx, svc, regions)
	if err != nil {
		return Availability{}, err
	}
	av := Availability{Regions: regions, Offered: gcpOffered(types, regions, zones)}
	regional, err := g.regionQuotas(ctx, svc, regions)
	if err != nil {
		return Availability{}, err
	}
	for i, r := range regions {
		av.Quotas = append(av.Quotas, gcpRegionQuotas(r, regional[i], types)...)
	}
	proj, err := gcpDo(ctx, g.Retry, "compute projects.get "+g.Project, func() (*compute.Project, error) {
		return svc.Projects.Get(g.Project).Context(ctx).Do()
	})
	if err != nil {
		return Availability{}, err
	}
	for _, q := range proj.Quotas {
		if q != nil && q.Metric == "GPUS_ALL_REGIONS" {
			av.Quotas = append(av.Quotas, Quota{Name: q.Metric, Cloud: "gcp", MaxGPUs: gcpQuotaLeft(q.Limit, q.Usage)})
		}
	}
	gcpSortQuotas(av.Quotas)
	return av, nil
}

// scope returns the instance types asked about and the regions covered.
func (g *GCPAvailability) scope(instanceTypes []string) ([]*gcpType, []string) {
	want := map[string]bool{}
	for _, t := range instanceTypes {
		want[t] = true
	}
	byName := map[string]*gcpType{}
	regionSet := map[string]bool{}
	for _, o := range g.catalog().Offers {
		if o.Cloud != "gcp" {
			continue
		}
		regionSet[o.Region] = true
		if len(want) > 0 && !want[o.InstanceType] {
			continue
		}
		t := byName[o.InstanceType]
		if t == nil {
			t = &gcpType{name: o.InstanceType, zones: map[string][]string{}}
			t.accel, t.known = gcpAcceleratorOf(o.InstanceType, o.GPUModel)
			byName[o.InstanceType] = t
		}
		if !slices.Contains(t.zones[o.Region], o.Zone) {
			t.zones[o.Region] = append(t.zones[o.Region], o.Zone)
		}
	}
	regions := slices.Clone(g.Regions)
	if len(regions) == 0 {
		regions = gcpSortedSet(regionSet)
	}
	slices.Sort(regions)
	regions = slices.Compact(regions)
	types := make([]*gcpType, 0, len(byName))
	for _, n := range gcpSortedSet(gcpKeySet(byName)) {
		types = append(types, byName[n])
	}
	return types, regions
}

// acceleratorZones lists every page of the aggregated list: accelerator
// type → zones, within regions.
func (g *GCPAvailability) acceleratorZones(ctx context.Context, svc *compute.Service, regions []string) (map[string][]string, error) {
	out := map[string][]string{}
	token := ""
	for page := 1; ; page++ {
		if page > 1000 {
			return nil, errors.New("compute acceleratorTypes.aggregatedList: more than 1000 pages")
		}
		call := svc.AcceleratorTypes.AggregatedList(g.Project).MaxResults(cmp.Or(g.PageSize, 500)).Context(ctx)
		if token != "" {
			call = call.PageToken(token)
		}
		list, err := gcpDo(ctx, g.Retry, fmt.Sprintf("compute acceleratorTypes.aggregatedList page %d", page), func() (*compute.AcceleratorTypeAggregatedList, error) {
			return call.Do()
		})
		if err != nil {
			return nil, err
		}
		for scope, l := range list.Items {
			for _, at := range l.AcceleratorTypes {
				if at == nil {
					continue
				}
				zone := path.Base(at.Zone)
				if at.Zone == "" {
					zone = strings.TrimPrefix(scope, "zones/")
				}
				if slices.Contains(regions, gcpZoneRegion(zone)) && !slices.Contains(out[at.Name], zone) {
					out[at.Name] = append(out[at.Name], zone)
				}
			}
		}
		if token = list.NextPageToken; token == "" {
			return out, nil
		}
	}
}

// gcpZoneRegion is the region of a zone: europe-west4-a → europe-west4.
func gcpZoneRegion(zone string) string {
	if i := strings.LastIndexByte(zone, '-'); i > 0 {
		return zone[:i]
	}
	return zone
}

// gcpOffered lists, for each instance type, the zones of its accelerator.
// An instance type whose accelerator the table does not know keeps the
// catalog's zones: the source has no fact about it, and an empty list
// would remove it.
func gcpOffered(types []*gcpType, regions []string, accelZones map[string][]string) []ZoneOffering {
	var out []ZoneOffering
	for _, t := range types {
		if !t.known {
			for _, r := range regions {
				for _, z := range t.zones[r] {
					out = append(out, ZoneOffering{Cloud: "gcp", Region: r, Zone: z, InstanceType: t.name})
				}
			}
			continue
		}
		for _, z := range accelZones[t.accel.Type] {
			out = append(out, ZoneOffering{Cloud: "gcp", Region: gcpZoneRegion(z), Zone: z, InstanceType: t.name})
		}
	}
	slices.SortFunc(out, func(a, b ZoneOffering) int {
		return cmp.Or(strings.Compare(a.Region, b.Region), strings.Compare(a.Zone, b.Zone), strings.Compare(a.InstanceType, b.InstanceType))
	})
	return slices.Compact(out)
}

// regionQuotas calls regions.get for every region, Parallel at a time;
// the result is in the order of regions.
func (g *GCPAvailability) regionQuotas(ctx context.Context, svc *compute.Service, regions []string) ([][]*compute.Quota, error) {
	out := make([][]*compute.Quota, len(regions))
	errs := make([]error, len(regions))
	sem := make(chan struct{}, cmp.Or(g.Parallel, 8))
	var wg sync.WaitGroup
	for i, r := range regions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			reg, err := gcpDo(ctx, g.Retry, "compute regions.get "+r, func() (*compute.Region, error) {
				return svc.Regions.Get(g.Project, r).Context(ctx).Do()
			})
			if err != nil {
				errs[i] = err
				return
			}
			out[i] = reg.Quotas
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err // the first region's, in order: deterministic
		}
	}
	return out, nil
}

// gcpRegionQuotas converts a region's GPU quota metrics to Quotas over the
// instance types that carry each accelerator. A metric no instance type of
// the catalog uses is dropped (an empty InstanceTypes would mean every
// instance type).
func gcpRegionQuotas(region string, quotas []*compute.Quota, types []*gcpType) []Quota {
	var out []Quota
	for _, q := range quotas {
		if q == nil {
			continue
		}
		a, spot, ok := gcpQuotaMetric(q.Metric)
		if !ok {
			continue
		}
		var its []string
		for _, t := range types {
			if t.known && t.accel.Type == a.Type {
				its = append(its, t.name)
			}
		}
		if len(its) == 0 {
			continue
		}
		ct := string(planner.OnDemand)
		if spot {
			ct = string(planner.Spot)
		}
		out = append(out, Quota{Name: q.Metric, Cloud: "gcp", Region: region, InstanceTypes: its, CapacityType: ct,
			MaxGPUs: gcpQuotaLeft(q.Limit, q.Usage)})
	}
	return out
}

// gcpQuotaLeft is limit − usage, whole, never negative.
func gcpQuotaLeft(limit, usage float64) int {
	left := math.Floor(limit - usage)
	if !(left > 0) {
		return 0
	}
	return int(min(left, math.MaxInt32))
}

func gcpSortQuotas(qs []Quota) {
	slices.SortFunc(qs, func(a, b Quota) int {
		return cmp.Or(strings.Compare(a.Cloud, b.Cloud), strings.Compare(a.Region, b.Region), strings.Compare(a.Name, b.Name),
			strings.Compare(a.CapacityType, b.CapacityType))
	})
}

func gcpSortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func gcpKeySet[V any](m map[string]V) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}
