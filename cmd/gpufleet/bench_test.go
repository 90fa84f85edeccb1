package main

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// Benchmarks of issue 14: the whole plan command (read the catalog file,
// plan, print) on catalogs of 50 to 1,000,000 offers. The process-level
// figures (start-up included, against cbc on the same MILP) come from
// docs/benchmarks/plan-process.sh, which writes its catalogs with
// TestWriteBenchCatalogs.

// benchModels are the GPU models of the synthetic catalogs: the spread
// case's three and a cheap model it must not pick.
var benchModels = []struct {
	name     string
	memGiB   float64
	baseUSD  float64
	nodeGPUs []int
}{
	{"H100", 80, 9, []int{8}},
	{"H200", 141, 11, []int{8}},
	{"A100-80GB", 80, 4, []int{1, 2, 4, 8}},
	{"L4", 24, 0.8, []int{1, 2, 4, 8}},
}

// writeSyntheticCatalog writes a catalog file of n offers (rows with a spot
// price count twice) over the embedded regions, three zones per region;
// every row has a max_nodes of 1 to 40 (a tenth of them unlimited). The
// content depends only on n.
func writeSyntheticCatalog(w io.Writer, n int) error {
	rng := rand.New(rand.NewPCG(uint64(n), 14))
	regions := planner.EmbeddedRegions()
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# date: synthetic-%d\n", n)
	for i, c := range append(planner.CatalogColumns, planner.MaxNodesColumn) {
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString(c)
	}
	bw.WriteByte('\n')
	for i, offers := 0, 0; offers < n; i++ {
		r := regions[rng.IntN(len(regions))]
		m := benchModels[rng.IntN(len(benchModels))]
		size := m.nodeGPUs[rng.IntN(len(m.nodeGPUs))]
		zone := ""
		if r.Cloud != "azure" {
			zone = fmt.Sprintf("%s-%c", r.Name, 'a'+rng.IntN(3))
		}
		price := float64(size) * m.baseUSD * (0.7 + 0.6*rng.Float64())
		spot := ""
		offers++
		if offers < n && rng.IntN(2) == 0 {
			spot = strconv.FormatFloat(price*(0.3+0.3*rng.Float64()), 'f', 4, 64)
			offers++
		}
		maxNodes := ""
		if rng.IntN(10) != 0 {
			maxNodes = strconv.Itoa(1 + rng.IntN(40))
		}
		fmt.Fprintf(bw, "%s,syn-%s-%dg-%d,%s,%d,%g,%d,%d,%s,%s,%.4f,%s,%s\n", r.Cloud, m.name, size, i, m.name, size,
			m.memGiB, 12*size, 120*size, r.Name, zone, price, spot, maxNodes)
	}
	return bw.Flush()
}

// syntheticCatalogFile writes the n-offer synthetic catalog into dir.
func syntheticCatalogFile(tb testing.TB, dir string, n int) string {
	path := filepath.Join(dir, fmt.Sprintf("synthetic-%d.csv", n))
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	if err := writeSyntheticCatalog(f, n); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return path
}

// embeddedSampleFile writes every 50th row of the embedded catalog (50
// rows, 95 offers with their spot prices) into dir: the small catalog of
// the process benchmark.
func embeddedSampleFile(tb testing.TB, dir string) string {
	c := planner.Embedded()
	path := filepath.Join(dir, "embedded-sample-50.csv")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	bw := bufio.NewWriter(f)
	fmt.Fprintln(bw, "cloud,instance_type,gpu_model,gpu_count,gpu_memory_gib,vcpus,memory_gib,region,zone,price_usd_hour,spot_price_usd_hour")
	rows := 0
	for i := range c.Offers {
		o := &c.Offers[i]
		if o.CapacityType != planner.OnDemand || i%50 != 0 || rows == 50 {
			continue
		}
		spot := ""
		if s, ok := spotPriceOf(c, o); ok {
			spot = strconv.FormatFloat(s, 'f', -1, 64)
		}
		fmt.Fprintf(bw, "%s,%s,%s,%d,%g,%d,%g,%s,%s,%s,%s\n", o.Cloud, o.InstanceType, o.GPUModel, o.GPUCount, o.GPUMemoryGiB,
			o.VCPUs, o.MemoryGiB, o.Region, o.Zone, strconv.FormatFloat(o.PriceUSDHour, 'f', -1, 64), spot)
		rows++
	}
	if err := bw.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return path
}

// spotPriceOf finds the spot offer of an on-demand offer's site and type.
func spotPriceOf(c *planner.Catalog, od *planner.Offer) (float64, bool) {
	for i := range c.Offers {
		o := &c.Offers[i]
		if o.CapacityType == planner.Spot && o.Cloud == od.Cloud && o.Region == od.Region && o.Zone == od.Zone && o.InstanceType == od.InstanceType {
			return o.PriceUSDHour, true
		}
	}
	return 0, false
}

// spreadArgs is the scale case of issue 14: H100/H200/A100-80GB, at most
// half the GPUs on one cloud, at least two clouds, on-demand and spot.
func spreadArgs(catalog string, gpus int) []string {
	return []string{"plan", "--catalog", catalog, "--gpus", strconv.Itoa(gpus), "--gpu-models", "H100,H200,A100-80GB",
		"--capacity-types", "on_demand,spot", "--max-share", "0.5", "--min-clouds", "2", "--format", "json"}
}

// BenchmarkPlanCommand runs the plan command in process, end to end from
// the catalog file to the printed placement.
func BenchmarkPlanCommand(b *testing.B) {
	dir := b.TempDir()
	cases := []struct {
		name string
		args []string
	}{
		{"offers=95/embedded-sample/gpus=64", []string{"plan", "--catalog", embeddedSampleFile(b, dir), "--gpus", "64"}},
		{"offers=100000/max_nodes/spread/gpus=4096", spreadArgs(syntheticCatalogFile(b, dir, 100_000), 4096)},
	}
	if !testing.Short() {
		cases = append(cases, struct {
			name string
			args []string
		}{"offers=1000000/max_nodes/spread/gpus=4096", spreadArgs(syntheticCatalogFile(b, dir, 1_000_000), 4096)})
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if code := run(tc.args, io.Discard, io.Discard); code != exitOK {
					b.Fatalf("gpufleet %v: exit %d", tc.args, code)
				}
			}
		})
	}
}

// TestWriteBenchCatalogs checks the benchmark catalogs and, when
// GPUFLEET_BENCH_DIR is set, leaves them there for
// docs/benchmarks/plan-process.sh.
func TestWriteBenchCatalogs(t *testing.T) {
	dir := os.Getenv("GPUFLEET_BENCH_DIR")
	sizes := []int{50, 100_000, 1_000_000}
	if dir == "" {
		dir, sizes = t.TempDir(), []int{50, 5_000}
	}
	sample, err := planner.LoadCatalogFile(embeddedSampleFile(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	if len(sample.Offers) < 50 || len(sample.Offers) > 100 {
		t.Errorf("embedded sample has %d offers, want 50 rows with their spot offers", len(sample.Offers))
	}
	for _, n := range sizes {
		c, err := planner.LoadCatalogFile(syntheticCatalogFile(t, dir, n))
		if err != nil {
			t.Fatalf("synthetic %d: %v", n, err)
		}
		if len(c.Offers) != n {
			t.Errorf("synthetic %d: %d offers", n, len(c.Offers))
		}
		if got := len(c.GPUModels()); got != len(benchModels) {
			t.Errorf("synthetic %d: %d GPU models, want %d", n, got, len(benchModels))
		}
	}
}
