package pricefront

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// GCPComputeService is the Cloud Billing Catalog service of Compute Engine.
const GCPComputeService = "6F81-5844-456A"

// gcpFamily is how Cloud Billing splits one machine family's price: a core
// SKU, a RAM SKU and a GPU SKU, with realistic us-central1 on-demand core
// and RAM rates the generator starts from.
type gcpFamily struct {
	prefixes          []string
	core, ram, gpu    string
	coreRate, ramRate float64
}

// gcpFamilies are the families the simulated catalog prices (A2 and
// A2 Ultra share the A2 core and RAM SKUs).
var gcpFamilies = []gcpFamily{
	{[]string{"a3-highgpu-"}, "A3 Instance Core", "A3 Instance Ram", "Nvidia H100 80GB GPU", 0.029765, 0.002398},
	{[]string{"a3-megagpu-"}, "A3Plus Instance Core", "A3Plus Instance Ram", "Nvidia H100 80GB Mega GPU", 0.030322, 0.002449},
	{[]string{"a2-highgpu-", "a2-megagpu-"}, "A2 Instance Core", "A2 Instance Ram", "Nvidia Tesla A100 GPU", 0.031611, 0.004237},
	{[]string{"a2-ultragpu-"}, "A2 Instance Core", "A2 Instance Ram", "Nvidia Tesla A100 80GB GPU", 0.031611, 0.004237},
	{[]string{"g2-standard-"}, "G2 Instance Core", "G2 Instance Ram", "Nvidia L4 GPU", 0.024988, 0.002927},
}

func gcpFamilyOf(instanceType string) (gcpFamily, bool) {
	for _, f := range gcpFamilies {
		for _, p := range f.prefixes {
			if strings.HasPrefix(instanceType, p) {
				return f, true
			}
		}
	}
	return gcpFamily{}, false
}

// GCPSku is one Cloud Billing SKU, spelled as the API spells it.
type GCPSku struct {
	Name                string           `json:"name"`
	SkuID               string           `json:"skuId"`
	Description         string           `json:"description"`
	Category            GCPSkuCategory   `json:"category"`
	ServiceRegions      []string         `json:"serviceRegions"`
	PricingInfo         []GCPPricingInfo `json:"pricingInfo"`
	ServiceProviderName string           `json:"serviceProviderName"`
	GeoTaxonomy         GCPGeoTaxonomy   `json:"geoTaxonomy"`
}

// GCPSkuCategory is a SKU's category.
type GCPSkuCategory struct {
	ServiceDisplayName string `json:"serviceDisplayName"`
	ResourceFamily     string `json:"resourceFamily"`
	ResourceGroup      string `json:"resourceGroup"`
	UsageType          string `json:"usageType"`
}

// GCPPricingInfo is a SKU's price at a time.
type GCPPricingInfo struct {
	Summary                string               `json:"summary"`
	PricingExpression      GCPPricingExpression `json:"pricingExpression"`
	CurrencyConversionRate float64              `json:"currencyConversionRate"`
	EffectiveTime          string               `json:"effectiveTime"`
}

// GCPPricingExpression is a SKU's tiered price per usage unit.
type GCPPricingExpression struct {
	UsageUnit                string        `json:"usageUnit"`
	DisplayQuantity          float64       `json:"displayQuantity"`
	TieredRates              []GCPTierRate `json:"tieredRates"`
	UsageUnitDescription     string        `json:"usageUnitDescription"`
	BaseUnit                 string        `json:"baseUnit"`
	BaseUnitDescription      string        `json:"baseUnitDescription"`
	BaseUnitConversionFactor float64       `json:"baseUnitConversionFactor"`
}

// GCPTierRate is the unit price from a usage amount on.
type GCPTierRate struct {
	StartUsageAmount float64  `json:"startUsageAmount"`
	UnitPrice        GCPMoney `json:"unitPrice"`
}

// GCPMoney is google.type.Money: units as a decimal string, nanos.
type GCPMoney struct {
	CurrencyCode string `json:"currencyCode"`
	Units        string `json:"units"`
	Nanos        int64  `json:"nanos,omitempty"`
}

// GCPGeoTaxonomy says where a SKU applies.
type GCPGeoTaxonomy struct {
	Type    string   `json:"type"`
	Regions []string `json:"regions"`
}

// gcpUSDMoney splits a price into units and nanos.
func gcpUSDMoney(usd float64) GCPMoney {
	nanos := int64(math.Round(usd * 1e9))
	return GCPMoney{CurrencyCode: "USD", Units: strconv.FormatInt(nanos/1e9, 10), Nanos: nanos % 1e9}
}

// gcpPlace is the geography SKU descriptions name.
func gcpPlace(region string) string {
	switch {
	case strings.HasPrefix(region, "us-"), strings.HasPrefix(region, "northamerica-"), strings.HasPrefix(region, "southamerica-"):
		return "Americas"
	case strings.HasPrefix(region, "europe-"), strings.HasPrefix(region, "me-"), strings.HasPrefix(region, "africa-"):
		return "EMEA"
	}
	return "APAC"
}

// gcpSkuRate is one generated unit price.
type gcpSkuRate struct {
	name, region string
	spot         bool
	kind         string // "CPU", "RAM", "GPU"
	usd          float64
}

// description is the SKU description Google writes for a rate.
func (s gcpSkuRate) description() string {
	place := " running in " + gcpPlace(s.region)
	switch {
	case !s.spot:
		return s.name + place
	case s.kind == "GPU":
		return s.name + " attached to Spot Preemptible VMs" + place
	}
	return "Spot Preemptible " + s.name + place
}

// Skus returns the simulated Compute Engine SKUs (after Adjust), sorted by
// description and regions: what the API pages through.
func (g *GCP) Skus() []GCPSku {
	var rates []gcpSkuRate
	for _, r := range g.rates() {
		if g.Adjust != nil {
			r.usd = g.Adjust(r.description(), r.region, r.usd)
		}
		rates = append(rates, r)
	}
	// One SKU per description, usage type and price, listing every region
	// with that price, as the real catalog does.
	type skuKey struct {
		desc, usage, kind string
		nanos             int64
	}
	regions := map[skuKey][]string{}
	for _, r := range rates {
		usage := "OnDemand"
		if r.spot {
			usage = "Preemptible"
		}
		k := skuKey{r.description(), usage, r.kind, int64(math.Round(r.usd * 1e9))}
		regions[k] = append(regions[k], r.region)
	}
	var out []GCPSku
	for k, rs := range regions {
		slices.Sort(rs)
		out = append(out, newGCPSku(k.desc, k.kind, k.usage, rs, float64(k.nanos)/1e9))
	}
	out = append(out, gcpNoiseSkus()...)
	slices.SortFunc(out, func(a, b GCPSku) int {
		return cmp.Or(strings.Compare(a.Description, b.Description), strings.Compare(a.Category.UsageType, b.Category.UsageType),
			slices.Compare(a.ServiceRegions, b.ServiceRegions))
	})
	return out
}

// rates generates the unit prices once per catalog.
func (g *GCP) rates() []gcpSkuRate {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ratesOf != g.Catalog || g.ratesCache == nil {
		g.ratesOf, g.ratesCache = g.Catalog, gcpRates(g.Catalog)
	}
	return g.ratesCache
}

func newGCPSku(desc, group, usage string, regions []string, usd float64) GCPSku {
	h := sha256.Sum256([]byte(desc + "|" + usage + "|" + strings.Join(regions, ",")))
	x := strings.ToUpper(hex.EncodeToString(h[:6]))
	id := x[:4] + "-" + x[4:8] + "-" + x[8:12]
	expr := GCPPricingExpression{UsageUnit: "h", DisplayQuantity: 1, UsageUnitDescription: "hour", BaseUnit: "s",
		BaseUnitDescription: "second", BaseUnitConversionFactor: 3600,
		TieredRates: []GCPTierRate{{StartUsageAmount: 0, UnitPrice: gcpUSDMoney(usd)}}}
	if group == "RAM" {
		expr.UsageUnit, expr.UsageUnitDescription, expr.BaseUnit, expr.BaseUnitDescription, expr.BaseUnitConversionFactor =
			"GiBy.h", "gibibyte hour", "By.s", "byte second", 3865470566400
	}
	geo := GCPGeoTaxonomy{Type: "REGIONAL", Regions: regions}
	if len(regions) > 1 {
		geo.Type = "MULTI_REGIONAL"
	}
	return GCPSku{
		Name: "services/" + GCPComputeService + "/skus/" + id, SkuID: id, Description: desc,
		Category:       GCPSkuCategory{ServiceDisplayName: "Compute Engine", ResourceFamily: "Compute", ResourceGroup: group, UsageType: usage},
		ServiceRegions: regions,
		PricingInfo: []GCPPricingInfo{{PricingExpression: expr, CurrencyConversionRate: 1,
			EffectiveTime: "2026-11-25T08:17:07.453Z"}},
		ServiceProviderName: "Google", GeoTaxonomy: geo,
	}
}

// gcpNoiseSkus are real-shaped SKUs a GPU price source must ignore: other
// machine families, commitments, DWS and reservation rates, an unmapped
// GPU, local SSD, and tiered network egress.
func gcpNoiseSkus() []GCPSku {
	uc := []string{"us-central1"}
	egress := newGCPSku("Network Internet Egress from Americas to Americas", "InterregionEgress", "OnDemand", uc, 0.12)
	egress.PricingInfo[0].PricingExpression.UsageUnit = "GiBy"
	egress.PricingInfo[0].PricingExpression.TieredRates = []GCPTierRate{
		{StartUsageAmount: 0, UnitPrice: gcpUSDMoney(0)}, {StartUsageAmount: 1024, UnitPrice: gcpUSDMoney(0.12)}}
	return []GCPSku{
		newGCPSku("N1 Predefined Instance Core running in Americas", "N1Standard", "OnDemand", uc, 0.031611),
		newGCPSku("Commitment v1: A3 Cpu in Americas for 1 Year", "CPU", "Commit1Yr", uc, 0.018748),
		newGCPSku("DWS Defined Duration A3 Core running in Americas", "CPU", "OnDemand", uc, 0.014883),
		newGCPSku("Reserved Nvidia H100 80GB Mega GPU in Americas", "GPU", "OnDemand", uc, 6.1),
		newGCPSku("Nvidia Tesla T4 GPU running in Americas", "GPU", "OnDemand", uc, 0.35),
		newGCPSku("SSD backed Local Storage running in Americas", "LocalSSD", "OnDemand", uc, 0.000109589),
		egress,
	}
}

func (g *GCP) serveSkus(w http.ResponseWriter, r *http.Request, service string) {
	if service != GCPComputeService {
		gcpError(w, http.StatusNotFound, "Service "+service+" not found.", "global", "notFound", "NOT_FOUND")
		return
	}
	skus := g.Skus()
	q := r.URL.Query()
	start, end, next, ok := g.pageBounds(q.Get("pageToken"), q.Get("pageSize"), 5000, len(skus))
	if !ok {
		gcpError(w, http.StatusBadRequest, "Invalid page token.", "global", "badRequest", "INVALID_ARGUMENT")
		return
	}
	gcpWriteJSON(w, struct {
		Skus          []GCPSku `json:"skus"`
		NextPageToken string   `json:"nextPageToken"`
	}{Skus: skus[start:end], NextPageToken: next})
}

// gcpMember is one instance type of a group with its shape and price.
type gcpMember struct {
	gpus, vcpus, memGiB, usd float64
	gpu                      string
}

// gcpRates generates the unit prices of every family's core, RAM and GPU
// SKUs, per region and capacity type, from the catalog's prices.
//
// The instance types sharing a core SKU in a region and capacity type form
// a group; its core rate c, RAM rate r and one rate g per GPU SKU solve
//
//	GPUs·g + vCPUs·c + GiB·r = catalog price
//
// for every member, as closely as the data allow. Where the members' shapes
// do not pin c and r down (A3 High shapes are all proportional; G2 memory
// is always 4 GiB per vCPU), the solution stays nearest the family's
// realistic rates (scaled by the group's spot discount for spot) and the
// GPU rate takes the rest: a regularized least-squares fit in which moving
// c and r costs much more than moving g.
func gcpRates(cat *planner.Catalog) []gcpSkuRate {
	if cat == nil {
		return nil
	}
	type groupKey struct {
		region string
		spot   bool
		core   string
	}
	type site struct {
		region, instanceType string
		ct                   planner.CapacityType
	}
	groups := map[groupKey][]gcpMember{}
	fams := map[groupKey]gcpFamily{}
	onDemand := map[[2]string]float64{}
	seen := map[site]bool{}
	for _, o := range cat.Offers {
		f, ok := gcpFamilyOf(o.InstanceType)
		s := site{o.Region, o.InstanceType, o.CapacityType}
		if o.Cloud != "gcp" || !ok || seen[s] {
			continue
		}
		seen[s] = true
		k := groupKey{o.Region, o.CapacityType == planner.Spot, f.core}
		groups[k] = append(groups[k], gcpMember{float64(o.GPUCount), float64(o.VCPUs), o.MemoryGiB, o.PriceUSDHour, f.gpu})
		fams[k] = f
		if o.CapacityType == planner.OnDemand {
			onDemand[[2]string{o.Region, o.InstanceType}] = o.PriceUSDHour / float64(o.GPUCount)
		}
	}
	var out []gcpSkuRate
	for k, members := range groups {
		f := fams[k]
		scale := 1.0
		if k.spot {
			scale = gcpSpotScale(cat, k.region, f, onDemand)
		}
		c, r, g := solveGCPGroup(members, f.coreRate*scale, f.ramRate*scale)
		out = append(out, gcpSkuRate{f.core, k.region, k.spot, "CPU", c}, gcpSkuRate{f.ram, k.region, k.spot, "RAM", r})
		for name, usd := range g {
			out = append(out, gcpSkuRate{name, k.region, k.spot, "GPU", usd})
		}
	}
	slices.SortFunc(out, func(a, b gcpSkuRate) int {
		return cmp.Or(strings.Compare(a.region, b.region), strings.Compare(a.name, b.name), gcpCmpBool(a.spot, b.spot))
	})
	return out
}

func gcpCmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

// gcpSpotScale is the group's mean spot / on-demand price ratio (0.4 where
// no on-demand price is known).
func gcpSpotScale(cat *planner.Catalog, region string, f gcpFamily, onDemand map[[2]string]float64) float64 {
	sum, n := 0.0, 0
	for _, o := range cat.Offers {
		if o.Cloud != "gcp" || o.Region != region || o.CapacityType != planner.Spot {
			continue
		}
		if of, ok := gcpFamilyOf(o.InstanceType); !ok || of.core != f.core {
			continue
		}
		if od, ok := onDemand[[2]string{region, o.InstanceType}]; ok && od > 0 {
			sum += o.PriceUSDHour / float64(o.GPUCount) / od
			n++
		}
	}
	if n == 0 || !(sum > 0) {
		return 0.4
	}
	return min(1, sum/float64(n))
}

// solveGCPGroup fits the core rate, the RAM rate and a rate per GPU SKU to
// the members' prices (see gcpRates). The unknowns are relative deviations
// u from the prior x0 (x = x0·(1+u)) and each equation is divided by its
// price, so the fit is scale-free; it minimizes |Bu − b|² + μ Σ w·u² with
// w = 1 for core and RAM and 1e-4 for GPUs. If a rate comes out
// non-positive (prices not linear in the shapes), the core and RAM priors
// are halved and the fit redone.
func solveGCPGroup(members []gcpMember, core0, ram0 float64) (core, ram float64, gpu map[string]float64) {
	var gpus []string
	for _, m := range members {
		if !slices.Contains(gpus, m.gpu) {
			gpus = append(gpus, m.gpu)
		}
	}
	slices.Sort(gpus)
	n := 2 + len(gpus)
	for attempt := 0; ; attempt++ {
		x0 := make([]float64, n)
		x0[0], x0[1] = core0, ram0
		for j, name := range gpus {
			sum, cnt := 0.0, 0
			for _, m := range members {
				if m.gpu == name {
					sum += max((m.usd-m.vcpus*core0-m.memGiB*ram0)/m.gpus, 0.25*m.usd/m.gpus)
					cnt++
				}
			}
			x0[2+j] = sum / float64(cnt)
		}
		mtx := make([][]float64, n)
		for i := range mtx {
			mtx[i] = make([]float64, n+1)
		}
		for _, m := range members {
			a := make([]float64, n)
			a[0], a[1] = m.vcpus, m.memGiB
			a[2+slices.Index(gpus, m.gpu)] = m.gpus
			row := make([]float64, n)
			fit := 0.0
			for j := range a {
				row[j] = a[j] * x0[j] / m.usd
				fit += a[j] * x0[j]
			}
			rhs := (m.usd - fit) / m.usd
			for i := range n {
				for j := range n {
					mtx[i][j] += row[i] * row[j]
				}
				mtx[i][n] += row[i] * rhs
			}
		}
		const mu = 1e-9
		for j := range n {
			w := 1.0
			if j >= 2 {
				w = 1e-4
			}
			mtx[j][j] += mu * w
		}
		u := gcpGaussSolve(mtx)
		x := make([]float64, n)
		ok := u != nil
		for j := range n {
			if u == nil {
				x[j] = x0[j]
				continue
			}
			x[j] = x0[j] * (1 + u[j])
			ok = ok && x[j] > 0
		}
		if ok || attempt == 20 {
			gpu = map[string]float64{}
			for j, name := range gpus {
				gpu[name] = x[2+j]
			}
			return x[0], x[1], gpu
		}
		core0, ram0 = core0/2, ram0/2
	}
}

// gcpGaussSolve solves an n×(n+1) augmented system by Gaussian elimination
// with partial pivoting; nil when singular.
func gcpGaussSolve(m [][]float64) []float64 {
	n := len(m)
	for col := range n {
		p := col
		for r := col + 1; r < n; r++ {
			if math.Abs(m[r][col]) > math.Abs(m[p][col]) {
				p = r
			}
		}
		if m[p][col] == 0 {
			return nil
		}
		m[col], m[p] = m[p], m[col]
		for r := col + 1; r < n; r++ {
			f := m[r][col] / m[col][col]
			for c := col; c <= n; c++ {
				m[r][c] -= f * m[col][c]
			}
		}
	}
	x := make([]float64, n)
	for r := n - 1; r >= 0; r-- {
		s := m[r][n]
		for c := r + 1; c < n; c++ {
			s -= m[r][c] * x[c]
		}
		x[r] = s / m[r][r]
	}
	return x
}
