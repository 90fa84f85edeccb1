package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// allocationJSON is one allocation in `gpufleet plan --format json`.
type allocationJSON struct {
	Cloud        string         `json:"cloud"`
	Region       string         `json:"region"`
	Zone         string         `json:"zone"`
	InstanceType string         `json:"instance_type"`
	GPUModel     string         `json:"gpu_model"`
	GPUsPerNode  int            `json:"gpus_per_node"`
	Nodes        int            `json:"nodes"`
	CapacityType string         `json:"capacity_type"`
	HourlyUSD    float64        `json:"hourly_usd"`
	Fallbacks    []fallbackJSON `json:"fallbacks"`
	// Reservations and scheduled capacity; omitted for on-demand and spot.
	ReservationID string  `json:"reservation_id,omitempty"`
	BlockUSD      float64 `json:"block_usd,omitempty"`
	StartTime     string  `json:"start_time,omitempty"`
}

type fallbackJSON struct {
	Cloud        string  `json:"cloud"`
	Region       string  `json:"region"`
	Zone         string  `json:"zone"`
	InstanceType string  `json:"instance_type"`
	CapacityType string  `json:"capacity_type"`
	Nodes        int     `json:"nodes"`
	HourlyUSD    float64 `json:"hourly_usd"`
}

type placementOutput struct {
	Allocations    []allocationJSON `json:"allocations"`
	TotalGPUs      int              `json:"total_gpus"`
	TotalHourlyUSD float64          `json:"total_hourly_usd"`
	CatalogVersion string           `json:"catalog_version"`
	Rejected       map[string]int   `json:"rejected"`
	// AbsentGPUModels are requested models the catalog does not sell.
	AbsentGPUModels []string `json:"absent_gpu_models,omitempty"`
	ReservedGPUs    int      `json:"reserved_gpus,omitempty"`
	TotalBlockUSD   float64  `json:"total_block_usd,omitempty"`
	StartTime       string   `json:"start_time,omitempty"`
}

func placementJSON(p *planner.Placement) placementOutput {
	out := placementOutput{
		Allocations: []allocationJSON{}, TotalGPUs: p.TotalGPUs, TotalHourlyUSD: p.TotalHourlyUSD,
		CatalogVersion: p.CatalogVersion, Rejected: map[string]int{}, AbsentGPUModels: p.AbsentGPUModels,
		ReservedGPUs: p.ReservedGPUs, TotalBlockUSD: p.TotalBlockUSD, StartTime: p.StartTime,
	}
	for _, a := range p.Allocations {
		aj := allocationJSON{
			Cloud: a.Offer.Cloud, Region: a.Offer.Region, Zone: a.Offer.Zone, InstanceType: a.Offer.InstanceType,
			GPUModel: a.Offer.GPUModel, GPUsPerNode: a.Offer.GPUCount, Nodes: a.Nodes,
			CapacityType: string(a.Offer.CapacityType), HourlyUSD: a.HourlyUSD, Fallbacks: []fallbackJSON{},
			ReservationID: a.Offer.ReservationID, BlockUSD: a.BlockUSD, StartTime: a.StartTime,
		}
		for _, f := range a.Fallbacks {
			aj.Fallbacks = append(aj.Fallbacks, fallbackJSON{Cloud: f.Offer.Cloud, Region: f.Offer.Region, Zone: f.Offer.Zone,
				InstanceType: f.Offer.InstanceType, CapacityType: string(f.Offer.CapacityType), Nodes: f.Nodes, HourlyUSD: f.HourlyUSD})
		}
		out.Allocations = append(out.Allocations, aj)
	}
	for r, n := range p.RejectedCounts() {
		out.Rejected[string(r)] = n
	}
	return out
}

type offerJSON struct {
	planner.Offer
	PricePerGPUHour float64 `json:"price_per_gpu_hour"`
	Country         string  `json:"country"`
	Jurisdiction    string  `json:"jurisdiction"`
	PriceSource     string  `json:"price_source"`
}

// priceSource says where an offer's price came from.
func priceSource(c *planner.Catalog, o planner.Offer, prov map[string]Provenance) string {
	if p, ok := prov[o.ID()]; ok {
		return p.Source + " at " + p.FetchAt.UTC().Format(time.RFC3339)
	}
	return "catalog " + c.Version
}

type offersOutput struct {
	CatalogVersion string      `json:"catalog_version"`
	Offers         []offerJSON `json:"offers"`
}

func offersJSON(c *planner.Catalog, offers []planner.Offer, prov map[string]Provenance) offersOutput {
	out := offersOutput{CatalogVersion: c.Version, Offers: []offerJSON{}}
	for _, o := range offers {
		r, _ := c.Region(o.Cloud, o.Region)
		out.Offers = append(out.Offers, offerJSON{Offer: o, PricePerGPUHour: o.PricePerGPUHour(), Country: r.Country, Jurisdiction: r.Jurisdiction,
			PriceSource: priceSource(c, o, prov)})
	}
	return out
}

// capacityLabel is an offer's capacity type, with its reservation or
// block ID where it has one ("reserved:cr-0123").
func capacityLabel(o *planner.Offer) string {
	if o.ReservationID != "" {
		return string(o.CapacityType) + ":" + o.ReservationID
	}
	return string(o.CapacityType)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func maxNodes(n int) string {
	if n == planner.Unlimited {
		return "-"
	}
	return fmt.Sprint(n)
}

func writeOffersTable(w io.Writer, c *planner.Catalog, offers []planner.Offer, total int, prov map[string]Provenance) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	header := "CLOUD\tREGION\tZONE\tJURIS.\tINSTANCE TYPE\tGPU\tGPUS\tMEM GIB\tINTERCONNECT\tCAPACITY\tUSD/GPU-H\tUSD/H\tMAX NODES"
	if prov != nil {
		header += "\tPRICE SOURCE"
	}
	fmt.Fprintln(tw, header)
	for _, o := range offers {
		r, _ := c.Region(o.Cloud, o.Region)
		ic := string(o.Interconnect)
		if o.Fabric != "" {
			ic += "+" + o.Fabric
		}
		line := fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s\t%d\t%g\t%s\t%s\t%.4f\t%.4f\t%s", o.Cloud, o.Region, orDash(o.Zone),
			r.Jurisdiction, o.InstanceType, o.GPUModel, o.GPUCount, o.GPUMemoryGiB, ic, capacityLabel(&o),
			o.PricePerGPUHour(), o.PriceUSDHour, maxNodes(o.MaxNodes))
		if prov != nil {
			line += "\t" + priceSource(c, o, prov)
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()
	fmt.Fprintf(w, "\n%d of %d matching offers shown; catalog %s\n", len(offers), total, c.Version)
}

func writePlanTable(w io.Writer, p *planner.Placement, explain bool) {
	fmt.Fprintf(w, "Placement: %d GPUs on %d nodes, %.2f USD/hour (catalog %s)\n\n", p.TotalGPUs, p.TotalNodes, p.TotalHourlyUSD, p.CatalogVersion)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CLOUD\tREGION\tZONE\tINSTANCE TYPE\tGPU\tGPUS/NODE\tNODES\tCAPACITY\tUSD/GPU-H\tUSD/H")
	for _, a := range p.Allocations {
		o := a.Offer
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%.4f\t%.2f\n", o.Cloud, o.Region, orDash(o.Zone), o.InstanceType,
			o.GPUModel, o.GPUCount, a.Nodes, capacityLabel(&o), o.PricePerGPUHour(), a.HourlyUSD)
	}
	tw.Flush()
	var notes []string
	for i := range p.Allocations {
		if n := planner.KindNote(&p.Allocations[i]); n != "" {
			notes = append(notes, fmt.Sprintf("  %s:%s", p.Allocations[i].Offer.ID(), n))
		}
	}
	if note := planner.CapacityNote(p); note != "" {
		fmt.Fprintf(w, "\n%s\n%s\n", note, strings.Join(notes, "\n"))
	}

	byCloud := p.GPUsByCloud()
	var shares []string
	for _, c := range p.Clouds() {
		shares = append(shares, fmt.Sprintf("%s %d GPUs (%.1f%%)", c, byCloud[c], 100*float64(byCloud[c])/float64(p.TotalGPUs)))
	}
	fmt.Fprintf(w, "\nPer cloud: %s\n", strings.Join(shares, ", "))

	fmt.Fprintln(w, "\nFallbacks (replace one allocation whole, keeping every constraint):")
	for _, a := range p.Allocations {
		fmt.Fprintf(w, "  %s:\n", a.Offer.ID())
		if len(a.Fallbacks) == 0 {
			fmt.Fprintln(w, "    none")
		}
		for i, f := range a.Fallbacks {
			fmt.Fprintf(w, "    %d. %s  %d nodes  %.2f USD/h\n", i+1, f.Offer.ID(), f.Nodes, f.HourlyUSD)
		}
	}

	counts := p.RejectedCounts()
	var parts []string
	for _, r := range planner.Reasons {
		if counts[r] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", r, counts[r]))
		}
	}
	fmt.Fprintf(w, "\nRejected offers (%d): %s\n", len(p.Rejected), strings.Join(parts, ", "))
	if note := p.AbsentGPUModelsNote(); note != "" {
		fmt.Fprintf(w, "  %s\n", note)
	}
	if explain {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "OFFER\tREASON\tDETAIL")
		for _, r := range p.Rejected {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", r.OfferID, r.Reason, r.Detail)
		}
		tw.Flush()
	} else {
		// The offers that lost for a reason other than a filter are the
		// interesting ones: show them.
		var shown int
		for _, r := range p.Rejected {
			if (r.Reason == planner.ReasonSpread || r.Reason == planner.ReasonGang || r.Reason == planner.ReasonMoreExpensive) && shown < 5 {
				fmt.Fprintf(w, "  %s: %s (%s)\n", r.OfferID, r.Reason, r.Detail)
				shown++
			}
		}
		fmt.Fprintln(w, "  (--explain lists every rejected offer)")
	}
}
