// Command catalogbuild writes the planner's embedded catalog
// (planner/data/*.csv) from the reference tables in ../shared/data and the
// corrections and additions under tools/catalogbuild/sources.
//
//	go run ./tools/catalogbuild -shared ../shared/data -out planner/data
//
// Every rule that changes or drops a reference row is in this file, with its
// reason; the output records each cloud's price date and source. The output
// is committed; rerun this only to refresh the snapshot.
package main

import (
	"encoding/csv"
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

var header = []string{"cloud", "instance_type", "gpu_model", "gpu_count", "gpu_memory_gib", "vcpus", "memory_gib",
	"region", "zone", "price_usd_hour", "spot_price_usd_hour"}

// row is one offers line; prices as text so that they are written back exactly.
type row struct {
	cloud, instanceType, gpuModel, gpuCount, gpuMemory, vcpus, memory, region, zone, price, spot string
}

func (r row) fields() []string {
	return []string{r.cloud, r.instanceType, r.gpuModel, r.gpuCount, r.gpuMemory, r.vcpus, r.memory, r.region, r.zone, r.price, r.spot}
}

func num(s string) float64 {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return math.NaN()
	}
	return v
}

func fmtPrice(v float64) string { return strconv.FormatFloat(math.Round(v*1e5)/1e5, 'f', -1, 64) }

func readRows(path string) []row {
	f, err := os.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		log.Fatalf("%s: %v", path, err)
	}
	if strings.Join(recs[0], ",") != strings.Join(header, ",") {
		log.Fatalf("%s: unexpected header %v", path, recs[0])
	}
	var out []row
	for _, r := range recs[1:] {
		out = append(out, row{r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10]})
	}
	return out
}

// stats counts what each rule did, for the file's comments and the log.
var stats = map[string]int{}

// common applies the rules shared by all clouds; ok is false to drop a row.
func common(r row) (row, bool) {
	if num(r.gpuCount) != math.Trunc(num(r.gpuCount)) {
		stats["dropped: fractional GPU count (AWS g6f)"]++
		return r, false
	}
	if r.price == "" {
		stats["dropped: no on-demand price (AWS p5e, Capacity Blocks only)"]++
		return r, false
	}
	if r.spot != "" && num(r.spot) >= num(r.price) {
		// The reference catalog copies the on-demand price when it has no
		// spot price; a spot price at or above on-demand is not an offer.
		stats["spot removed: equal to or above on-demand (no real spot price)"]++
		r.spot = ""
	}
	return r, true
}

// GCP's reference prices mix in Dynamic Workload Scheduler (flex-start) SKUs
// for some regions (see sources/gcp_prices_SOURCES.md): about 4.20 USD per
// H100-hour instead of 9.80-12.74 on demand. Rows at that level are replaced
// where a dated on-demand price is known and dropped otherwise.
const (
	gcpH100DWS      = 4.200761 // USD per GPU-hour, DWS "Defined Duration" SKU
	gcpH100Americas = 9.79655  // USD per GPU-hour, on-demand, us-central1/us-west1 (billing catalog 2025-03 .. 2026-07)
)

// gcpA3HighGPU8g are whole-VM on-demand prices of a3-highgpu-8g from the
// Cyclenerd Google Cloud pricing data (2025-03-06) for regions whose
// reference row was at the DWS level.
var gcpA3HighGPU8g = map[string]string{
	"asia-northeast1":      "126.64",
	"asia-southeast1":      "114.28",
	"australia-southeast1": "110.68",
}

func gcp(r row) (row, bool) {
	perGPU := num(r.price) / num(r.gpuCount)
	n := num(r.gpuCount)
	switch {
	case strings.HasPrefix(r.instanceType, "a3-highgpu-") || strings.HasPrefix(r.instanceType, "a3-edgegpu-"):
		if perGPU >= 7 {
			return r, true
		}
		if r.region == "us-central1" || r.region == "us-west1" {
			host := num(r.price) - gcpH100DWS*n
			r.price = fmtPrice(host + gcpH100Americas*n)
			stats["gcp H100: DWS price replaced by on-demand (us-central1, us-west1)"]++
			return r, true
		}
		if p, ok := gcpA3HighGPU8g[r.region]; ok && r.instanceType == "a3-highgpu-8g" {
			r.price = p
			stats["gcp H100: DWS price replaced by Cyclenerd whole-VM on-demand"]++
			return r, true
		}
		stats["gcp H100: dropped, DWS price and no verified on-demand price"]++
		return r, false
	case strings.HasPrefix(r.instanceType, "a3-megagpu-"):
		// A3 Mega carries the same H100 80GB SXM GPU; the reference calls it
		// H100-MEGA. The difference is the network (GPUDirect-TCPXO), which
		// the fabric column of instance_types.csv records.
		r.gpuModel = "H100"
		if perGPU < 8 {
			stats["gcp H100 (A3 Mega): dropped, DWS price"]++
			return r, false
		}
	case strings.HasPrefix(r.instanceType, "a3-ultragpu-"):
		if perGPU < 8 {
			stats["gcp H200: dropped, DWS price"]++
			return r, false
		}
	case strings.HasPrefix(r.instanceType, "a4-highgpu-"):
		// The reference has no host price for A4 and a GPU price at DWS
		// levels; the on-demand price in the Americas is 16.11 USD per
		// GPU-hour including host (billing list, 2026-07).
		if strings.HasPrefix(r.region, "us-") {
			r.price = fmtPrice(16.11 * n)
			stats["gcp B200: on-demand price set from the Americas list price"]++
			return r, true
		}
		stats["gcp B200: dropped outside the Americas, no verified on-demand price"]++
		return r, false
	case strings.HasPrefix(r.instanceType, "a2-ultragpu-"):
		if perGPU < 4.0 {
			stats["gcp A100-80GB: dropped, DWS price"]++
			return r, false
		}
	case strings.HasPrefix(r.instanceType, "a2-"):
		if perGPU < 3.2 {
			stats["gcp A100: dropped, DWS price"]++
			return r, false
		}
	}
	return r, true
}

// instanceKind gives the interconnect class and RDMA fabric of an instance
// type, from the clouds' instance documentation.
func instanceKind(cloud, it string, gpus int) (string, string) {
	switch cloud {
	case "aws":
		switch {
		case it == "p5.4xlarge":
			return "pcie", ""
		case strings.HasPrefix(it, "p5") || strings.HasPrefix(it, "p4d") || strings.HasPrefix(it, "p6-"):
			return "nvswitch", "efa"
		case it == "p3dn.24xlarge":
			return "nvlink", "efa"
		case strings.HasPrefix(it, "p3.") && gpus > 1:
			return "nvlink", ""
		}
	case "gcp":
		switch {
		case strings.HasPrefix(it, "a3-megagpu-"):
			return "nvswitch", "gpudirect-tcpxo"
		case strings.HasPrefix(it, "a3-ultragpu-"), strings.HasPrefix(it, "a4-"):
			return "nvswitch", "rdma-roce"
		case strings.HasPrefix(it, "a3-") && gpus == 8:
			return "nvswitch", "gpudirect-tcpx"
		case strings.HasPrefix(it, "a2-") && gpus >= 8:
			return "nvswitch", ""
		case (strings.HasPrefix(it, "a2-") || strings.HasPrefix(it, "a3-")) && gpus > 1:
			return "nvlink", ""
		}
	case "azure":
		switch {
		case strings.HasPrefix(it, "Standard_ND96"):
			return "nvswitch", "infiniband"
		case it == "Standard_ND40rs_v2":
			return "nvlink", "infiniband"
		case it == "Standard_NC24rs_v3":
			return "pcie", "infiniband"
		case it == "Standard_NC80adis_H100_v5":
			return "nvlink", ""
		}
	}
	return "pcie", ""
}

func main() {
	shared := flag.String("shared", "../shared/data", "reference data folder")
	out := flag.String("out", "planner/data", "output folder")
	date := flag.String("date", "", "catalog date (YYYY-MM-DD), required")
	flag.Parse()
	if *date == "" {
		log.Fatal("-date is required")
	}
	here := "tools/catalogbuild/sources"

	var rows []row
	for _, src := range []struct {
		path string
		rule func(row) (row, bool)
	}{
		{filepath.Join(*shared, "offers/aws.csv"), nil},
		{filepath.Join(*shared, "offers/gcp.csv"), gcp},
		{filepath.Join(*shared, "offers/azure.csv"), nil},
		{filepath.Join(here, "azure_nonus.csv"), nil},
	} {
		for _, r := range readRows(src.path) {
			r, ok := common(r)
			if ok && src.rule != nil {
				r, ok = src.rule(r)
			}
			if ok {
				rows = append(rows, r)
			}
		}
	}
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i].fields(), rows[j].fields()
		for _, k := range []int{0, 7, 8, 1} {
			if a[k] != b[k] {
				return a[k] < b[k]
			}
		}
		return false
	})

	writeOffers(filepath.Join(*out, "offers.csv"), *date, rows)
	writeRegions(filepath.Join(*shared, "regions.csv"), filepath.Join(*out, "regions.csv"))
	writeKinds(filepath.Join(*out, "instance_types.csv"), rows)
	keys := make([]string, 0, len(stats))
	for k := range stats {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		log.Printf("%5d  %s", stats[k], k)
	}
	log.Printf("%d offer rows written", len(rows))
}

func writeOffers(path, date string, rows []row) {
	f, err := os.Create(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintf(f, `# gpufleet embedded GPU offer catalog. Generated by tools/catalogbuild; do not edit by hand.
# date: %s
# source: aws: SkyPilot catalog v8 aws/vms.csv @ skypilot-org/skypilot-catalog 00148f2a (2025 snapshot), list prices, Linux; spot prices are point-in-time per zone
# source: gcp: SkyPilot catalog v8 gcp/vms.csv @ skypilot-org/skypilot-catalog 006059e0 (2025 snapshot); H100/H200/A100/B200 rows priced at Dynamic Workload Scheduler levels corrected from the Cloud Billing catalog (2025-03-06 Cyclenerd data, 2026-07 list) or dropped
# source: azure (US regions): SkyPilot catalog v8 azure/vms.csv (fork coopslarhette/skypilot-catalog 20291d7e, 2025 snapshot)
# source: azure (other regions): Azure Retail Prices API via Azure/karpenter-provider-azure zz_generated.pricing.go @ 0499866a, priced 2023-12-18, Linux pay-as-you-go, no spot
# Prices are USD per node-hour, list prices without discounts. Check them before quoting; pass a catalog file to plan with your own prices.
`, date)
	w := csv.NewWriter(f)
	w.Write(header)
	for _, r := range rows {
		w.Write(r.fields())
	}
	w.Flush()
	if err := w.Error(); err != nil {
		log.Fatal(err)
	}
}

func writeRegions(in, out string) {
	f, err := os.Open(in)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		log.Fatal(err)
	}
	o, err := os.Create(out)
	if err != nil {
		log.Fatal(err)
	}
	defer o.Close()
	fmt.Fprintln(o, "# Region -> country (ISO 3166-1 alpha-2) -> jurisdiction. EU and EEA countries are jurisdiction EU.")
	fmt.Fprintln(o, "# Generated by tools/catalogbuild from the reference table (location names not verified against each cloud's page).")
	w := csv.NewWriter(o)
	w.Write([]string{"cloud", "region", "location", "country", "jurisdiction", "continent"})
	for _, r := range recs[1:] {
		if r[4] == "EU/EEA" {
			r[4] = "EU"
		}
		w.Write(r)
	}
	w.Flush()
}

func writeKinds(path string, rows []row) {
	seen := map[string]bool{}
	var lines [][]string
	for _, r := range rows {
		k := r.cloud + "/" + r.instanceType
		if seen[k] {
			continue
		}
		seen[k] = true
		gpus, _ := strconv.Atoi(r.gpuCount)
		ic, fabric := instanceKind(r.cloud, r.instanceType, gpus)
		lines = append(lines, []string{r.cloud, r.instanceType, ic, fabric})
	}
	sort.Slice(lines, func(i, j int) bool { return lines[i][0]+"/"+lines[i][1] < lines[j][0]+"/"+lines[j][1] })
	f, err := os.Create(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintln(f, "# Interconnect class (pcie < nvlink < nvswitch) and node-to-node RDMA fabric per instance type.")
	fmt.Fprintln(f, "# Generated by tools/catalogbuild from the clouds' instance documentation.")
	w := csv.NewWriter(f)
	w.Write([]string{"cloud", "instance_type", "interconnect", "fabric"})
	w.WriteAll(lines)
}
