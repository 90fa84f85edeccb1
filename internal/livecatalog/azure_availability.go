package livecatalog

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"

	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// AzureAvailability asks Azure Resource Manager where the subscription can
// run GPU VM sizes, per region:
//
//   - Resource SKUs (Microsoft.Compute/skus, $filter=location eq '<region>',
//     following nextLink): a size listed for the region is offered there
//     region-wide (zone "", which is how the catalog's Azure offers are
//     placed) and in each zone of its locationInfo; its restrictions of type
//     Location (the region) and Zone (the zones listed) become Restrictions
//     with the API's reasonCode (NotAvailableForSubscription, QuotaId).
//   - Usages (Microsoft.Compute/locations/<region>/usages): each GPU family
//     quota (azureFamilies, e.g. standardNDSH100v5Family) becomes an
//     on-demand Quota over the family's sizes, and lowPriorityCores a spot
//     Quota over every size. Quotas count vCPUs; limit − currentValue is
//     converted to GPUs with the largest vCPUs-per-GPU ratio among the
//     catalog's sizes it covers, so the cap is never above what Azure
//     allows.
//
// A cold fetch makes, per region, one Resource SKUs call per page and one
// usages call per page. Throttling (429 with Retry-After) and server
// errors are retried by the SDK's retry policy (ClientOptions.Retry).
type AzureAvailability struct {
	SubscriptionID string
	// Regions covered (every Azure region of the catalog when empty).
	Regions []string
	// Catalog gives the sizes and their shapes (planner.Embedded when nil).
	Catalog *planner.Catalog
	// Endpoint overrides Azure Resource Manager with one base URL (a local
	// simulator); HTTPClient is its transport.
	Endpoint   string
	HTTPClient *http.Client
	// Credential replaces azidentity's default chain when set.
	Credential azcore.TokenCredential
	// ClientOptions for anything else (retry policy, cloud); zero for the
	// public cloud and the SDK's default retries.
	ClientOptions arm.ClientOptions
	// Parallel is how many regions are fetched at once (8 when zero).
	Parallel int
}

var _ AvailabilitySource = (*AzureAvailability)(nil)

// Cloud is "azure".
func (a *AzureAvailability) Cloud() string { return "azure" }

// Name names the source.
func (a *AzureAvailability) Name() string { return "azure-compute-availability" }

func (a *AzureAvailability) catalog() *planner.Catalog {
	if a.Catalog != nil {
		return a.Catalog
	}
	return planner.Embedded()
}

// azureAPIError names the Azure API call that failed and condenses the
// SDK's multi-line response error to its status and error code.
type azureAPIError struct {
	api, region string
	err         error
}

func (e *azureAPIError) Error() string {
	var re *azcore.ResponseError
	if errors.As(e.err, &re) {
		return fmt.Sprintf("azure compute %s %s: HTTP %d %s", e.api, e.region, re.StatusCode, re.ErrorCode)
	}
	return fmt.Sprintf("azure compute %s %s: %v", e.api, e.region, e.err)
}

func (e *azureAPIError) Unwrap() error { return e.err }

// clients builds the Resource SKUs and usages clients.
func (a *AzureAvailability) clients() (*armcompute.ResourceSKUsClient, *armcompute.UsageClient, error) {
	if a.SubscriptionID == "" {
		return nil, nil, errors.New("azure availability: a subscription is required")
	}
	opts, cred, err := azureClientOptions(a.ClientOptions, a.Endpoint, a.HTTPClient, a.Credential)
	if err != nil {
		return nil, nil, fmt.Errorf("azure availability: %w", err)
	}
	skus, err := armcompute.NewResourceSKUsClient(a.SubscriptionID, cred, &opts)
	if err != nil {
		return nil, nil, err
	}
	usages, err := armcompute.NewUsageClient(a.SubscriptionID, cred, &opts)
	if err != nil {
		return nil, nil, err
	}
	return skus, usages, nil
}

// Availability fetches offered zones, restrictions and quotas for every
// region. instanceTypes narrows the catalog's Azure sizes (all of them
// when empty).
func (a *AzureAvailability) Availability(ctx context.Context, instanceTypes []string) (Availability, error) {
	skus, usages, err := a.clients()
	if err != nil {
		return Availability{}, err
	}
	shapes := azureShapes(a.catalog())
	sizes, regions := a.scope(instanceTypes)
	per := make([]Availability, len(regions))
	errs := make([]error, len(regions))
	sem := make(chan struct{}, cmp.Or(a.Parallel, 8))
	var wg sync.WaitGroup
	for i, region := range regions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			per[i], errs[i] = azureRegion(ctx, skus, usages, region, sizes, shapes)
		}()
	}
	wg.Wait()
	av := Availability{Regions: regions}
	for i := range regions {
		if errs[i] != nil {
			return Availability{}, errs[i] // the first region's, in order: deterministic
		}
		av.Offered = append(av.Offered, per[i].Offered...)
		av.Restrictions = append(av.Restrictions, per[i].Restrictions...)
		av.Quotas = append(av.Quotas, per[i].Quotas...)
	}
	slices.SortFunc(av.Offered, func(x, y ZoneOffering) int {
		return cmp.Or(strings.Compare(x.Region, y.Region), strings.Compare(x.Zone, y.Zone), strings.Compare(x.InstanceType, y.InstanceType))
	})
	av.Offered = slices.Compact(av.Offered)
	slices.SortFunc(av.Restrictions, func(x, y Restriction) int {
		return cmp.Or(strings.Compare(x.Region, y.Region), strings.Compare(x.Zone, y.Zone), strings.Compare(x.InstanceType, y.InstanceType),
			strings.Compare(x.Reason, y.Reason))
	})
	av.Restrictions = slices.Compact(av.Restrictions)
	gcpSortQuotas(av.Quotas)
	return av, nil
}

// scope returns the sizes asked about and the regions covered, sorted.
func (a *AzureAvailability) scope(instanceTypes []string) (map[string]bool, []string) {
	sizes := map[string]bool{}
	regionSet := map[string]bool{}
	for _, o := range a.catalog().Offers {
		if o.Cloud != "azure" {
			continue
		}
		regionSet[o.Region] = true
		if len(instanceTypes) == 0 || slices.Contains(instanceTypes, o.InstanceType) {
			sizes[o.InstanceType] = true
		}
	}
	regions := slices.Clone(a.Regions)
	if len(regions) == 0 {
		regions = gcpSortedSet(regionSet)
	}
	slices.Sort(regions)
	return sizes, slices.Compact(regions)
}

// azureRegion reads one region's Resource SKUs and usages.
func azureRegion(ctx context.Context, skus *armcompute.ResourceSKUsClient, usages *armcompute.UsageClient, region string,
	sizes map[string]bool, shapes map[string]azureShape) (Availability, error) {
	var av Availability
	pager := skus.NewListPager(&armcompute.ResourceSKUsClientListOptions{Filter: to.Ptr("location eq '" + region + "'")})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return av, &azureAPIError{"resourceSkus.list", region, err}
		}
		for _, s := range page.Value {
			offered, restricted := azureSKUFacts(region, s, sizes)
			av.Offered = append(av.Offered, offered...)
			av.Restrictions = append(av.Restrictions, restricted...)
		}
	}
	up := usages.NewListPager(region, nil)
	for up.More() {
		page, err := up.NextPage(ctx)
		if err != nil {
			return av, &azureAPIError{"usage.list", region, err}
		}
		for _, u := range page.Value {
			if q, ok := azureUsageQuota(region, u, sizes, shapes); ok {
				av.Quotas = append(av.Quotas, q)
			}
		}
	}
	return av, nil
}

// azureSKUFacts reads one Resource SKU: the zones where a size of sizes is
// offered in region ("" for the region itself) and its restrictions there.
// Other resource types and sizes are ignored.
func azureSKUFacts(region string, s *armcompute.ResourceSKU, sizes map[string]bool) ([]ZoneOffering, []Restriction) {
	if s == nil || s.Name == nil || s.ResourceType == nil || !strings.EqualFold(*s.ResourceType, "virtualMachines") || !sizes[*s.Name] {
		return nil, nil
	}
	size := *s.Name
	var offered []ZoneOffering
	located := false
	for _, li := range s.LocationInfo {
		if li == nil || li.Location == nil || !strings.EqualFold(*li.Location, region) {
			continue
		}
		located = true
		for _, z := range li.Zones {
			if z != nil && *z != "" {
				offered = append(offered, ZoneOffering{Cloud: "azure", Region: region, Zone: *z, InstanceType: size})
			}
		}
	}
	if len(s.LocationInfo) == 0 {
		located = slices.ContainsFunc(s.Locations, func(l *string) bool { return l != nil && strings.EqualFold(*l, region) })
	}
	if !located {
		return nil, nil
	}
	offered = append(offered, ZoneOffering{Cloud: "azure", Region: region, InstanceType: size})
	var restricted []Restriction
	for _, r := range s.Restrictions {
		if r == nil || r.Type == nil {
			continue
		}
		reason := "Restricted"
		if r.ReasonCode != nil {
			reason = string(*r.ReasonCode)
		}
		var locs, zones []*string
		locs = append(locs, r.Values...)
		if r.RestrictionInfo != nil {
			locs = append(locs, r.RestrictionInfo.Locations...)
			zones = r.RestrictionInfo.Zones
		}
		if !slices.ContainsFunc(locs, func(l *string) bool { return l != nil && strings.EqualFold(*l, region) }) {
			continue
		}
		switch *r.Type {
		case armcompute.ResourceSKURestrictionsTypeLocation:
			restricted = append(restricted, Restriction{Cloud: "azure", Region: region, InstanceType: size, Reason: reason})
		case armcompute.ResourceSKURestrictionsTypeZone:
			for _, z := range zones {
				if z != nil && *z != "" {
					restricted = append(restricted, Restriction{Cloud: "azure", Region: region, Zone: *z, InstanceType: size, Reason: reason})
				}
			}
		}
	}
	return offered, restricted
}

// azureUsageQuota converts a usage entry: a GPU family quota (on-demand,
// the family's sizes in scope) or lowPriorityCores (spot, every size).
// Other usages, and families no size in scope belongs to, are dropped.
func azureUsageQuota(region string, u *armcompute.Usage, sizes map[string]bool, shapes map[string]azureShape) (Quota, bool) {
	if u == nil || u.Name == nil || u.Name.Value == nil || u.Limit == nil {
		return Quota{}, false
	}
	free := *u.Limit
	if u.CurrentValue != nil {
		free -= int64(*u.CurrentValue)
	}
	name := *u.Name.Value
	q := Quota{Name: name, Cloud: "azure", Region: region}
	var covered []string
	if strings.EqualFold(name, azureLowPriority) {
		q.CapacityType = string(planner.Spot)
		covered = gcpSortedSet(gcpKeySet(shapes)) // every size of the catalog
	} else {
		f, ok := azureFamilyByName(name)
		if !ok {
			return Quota{}, false
		}
		q.CapacityType = string(planner.OnDemand)
		for _, s := range f.Sizes {
			if _, known := shapes[s]; known {
				covered = append(covered, s) // the ratio uses every catalog size of the family
				if sizes[s] {
					q.InstanceTypes = append(q.InstanceTypes, s)
				}
			}
		}
		if len(q.InstanceTypes) == 0 {
			return Quota{}, false
		}
		slices.Sort(q.InstanceTypes)
	}
	gpus, ok := azureQuotaGPUs(free, covered, shapes)
	if !ok {
		return Quota{}, false
	}
	q.MaxGPUs = gpus
	return q, true
}
