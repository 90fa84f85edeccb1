package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// runCLI runs offers or plan (args[0]) as gpufleet does, without a Live
// function.
func runCLI(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	command := map[string]func([]string, io.Writer, io.Writer, Live) int{"offers": Offers, "plan": Plan}[args[0]]
	code := command(args[1:], &out, &errOut, nil)
	return code, out.String(), errOut.String()
}

func TestPlanJSON(t *testing.T) {
	code, out, stderr := runCLI("plan", "--gpus", "64", "--gpu-models", "H100,H200", "--gpus-per-node", "8",
		"--residency", "EU", "--min-clouds", "2", "--max-share", "0.6", "--format", "json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"allocations", "catalog_version", "rejected", "total_gpus", "total_hourly_usd"}; !slices.Equal(keys, want) {
		t.Fatalf("keys %v, want %v", keys, want)
	}
	var p placementOutput
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatal(err)
	}
	clouds := map[string]int{}
	sum := 0.0
	for _, a := range p.Allocations {
		if a.GPUsPerNode != 8 || a.Nodes <= 0 || a.CapacityType != "on_demand" {
			t.Fatalf("allocation %+v", a)
		}
		clouds[a.Cloud] += a.Nodes * a.GPUsPerNode
		sum += a.HourlyUSD
	}
	if len(clouds) < 2 || p.TotalGPUs < 64 {
		t.Fatalf("placement over %v with %d GPUs", clouds, p.TotalGPUs)
	}
	for c, g := range clouds {
		if float64(g) > 0.6*float64(p.TotalGPUs) {
			t.Fatalf("%s holds %d of %d GPUs", c, g, p.TotalGPUs)
		}
	}
	if d := sum - p.TotalHourlyUSD; d > 1e-6 || d < -1e-6 {
		t.Fatalf("allocations sum to %v, total %v", sum, p.TotalHourlyUSD)
	}
	if p.Rejected["gpu_model"] == 0 || p.Rejected["residency"] == 0 {
		t.Fatalf("rejected %v", p.Rejected)
	}
	// Same input, same bytes.
	_, again, _ := runCLI("plan", "--gpus", "64", "--gpu-models", "H100,H200", "--gpus-per-node", "8",
		"--residency", "EU", "--min-clouds", "2", "--max-share", "0.6", "--format", "json")
	if again != out {
		t.Fatal("second run printed different JSON")
	}
}

func TestPlanTable(t *testing.T) {
	code, out, stderr := runCLI("plan", "--gpus", "16", "--gpu-models", "H100", "--residency", "CH")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"Placement: 16 GPUs", "CLOUD  REGION", "switzerlandnorth", "Fallbacks", "Rejected offers"} {
		if !strings.Contains(out, want) {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestPlanExitStatuses(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"infeasible", []string{"plan", "--gpus", "64", "--gpu-models", "H100", "--residency", "CH", "--min-clouds", "2"}, ExitInfeasible, "nearest feasible requests: spread.min_clouds <= 1"},
		{"missing gpus", []string{"plan", "--gpu-models", "H100"}, ExitUsage, "flag -gpus is required"},
		{"bad flag", []string{"plan", "--gpus", "8", "--bogus"}, ExitUsage, "flag provided but not defined: -bogus"},
		{"bad number", []string{"plan", "--gpus", "many"}, ExitUsage, "invalid value \"many\" for flag -gpus"},
		{"bad format", []string{"plan", "--gpus", "8", "--format", "yaml"}, ExitUsage, "expected table or json"},
		{"unknown model", []string{"plan", "--gpus", "8", "--gpu-models", "H1OO"}, ExitUsage, "did you mean \"H100\""},
		{"bad share", []string{"plan", "--gpus", "8", "--max-share", "1.5"}, ExitUsage, "spread.max_share: must be in (0, 1]"},
		{"stray argument", []string{"plan", "--gpus", "8", "extra"}, ExitUsage, "unexpected argument \"extra\""},
		{"missing catalog", []string{"offers", "--catalog", "/nonexistent.csv"}, ExitUsage, "no such file"},
		{"bad reservation", []string{"plan", "--gpus", "8", "--reservation", "aws/eu-north-1/p5.48xlarge=2"}, ExitUsage,
			"expected cloud/region/zone/instance_type/id=count[@USD per hour]"},
		{"unknown reserved type", []string{"plan", "--gpus", "8", "--reservation", "aws/eu-north-1/eun1-az1/p5.48xlarg/cr-1=2"}, ExitUsage,
			`reservation[0].instance_type: aws instance type "p5.48xlarg" has no offer in the catalog`},
		{"bad start", []string{"plan", "--gpus", "8", "--start-after", "tuesday"}, ExitUsage, "start_after: \"tuesday\" is not an RFC 3339 time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.stderr) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, stderr, tt.code, tt.stderr)
			}
		})
	}
}

// TestPlanSpreadAboveRequest is issue 19's catalog: with at most half of
// the GPUs on one cloud, 16 GPUs (aws 8 + gcp 8) cost less than any
// placement of 7 or 8, and plan finds them whatever the request's count.
func TestPlanSpreadAboveRequest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "issue19.csv")
	data := "cloud,instance_type,gpu_model,gpu_count,gpu_memory_gib,vcpus,memory_gib,region,zone,price_usd_hour,spot_price_usd_hour,max_nodes\n" +
		"aws,p8,H100,8,80,96,1024,eu-central-1,euc1-az1,8,,\n" +
		"gcp,g1,H100,1,80,12,128,europe-west4,europe-west4-a,3,,\n" +
		"gcp,g8,H100,8,80,96,1024,europe-west4,europe-west4-a,23.20,,3\n" +
		"azure,z4,H100,4,80,48,512,westeurope,,20,,\n" +
		"azure,z1,H100,1,80,12,128,westeurope,,5.20,,5\n"
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, gpus := range []string{"7", "8", "16"} {
		code, out, stderr := runCLI("plan", "--catalog", path, "--gpus", gpus, "--min-clouds", "2", "--max-share", "0.5", "--format", "json")
		if code != ExitOK {
			t.Fatalf("--gpus %s: exit %d: %s", gpus, code, stderr)
		}
		var p placementOutput
		if err := json.Unmarshal([]byte(out), &p); err != nil {
			t.Fatal(err)
		}
		if p.TotalHourlyUSD != 31.20 || p.TotalGPUs != 16 {
			t.Fatalf("--gpus %s: %.2f USD for %d GPUs, want 31.20 for 16 (aws 8 + gcp 8)", gpus, p.TotalHourlyUSD, p.TotalGPUs)
		}
	}
}

func TestOffersWithCatalogFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rates.csv")
	data := "cloud,instance_type,gpu_model,gpu_count,gpu_memory_gib,vcpus,memory_gib,region,zone,price_usd_hour,spot_price_usd_hour,max_nodes\n" +
		"aws,p5.48xlarge,H100,8,80,192,2048,eu-central-1,euc1-az1,40,16,3\n" +
		"gcp,a3-highgpu-8g,H100,8,80,208,1872,europe-west4,europe-west4-b,72,,\n"
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runCLI("offers", "--catalog", path, "--format", "json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var o offersOutput
	if err := json.Unmarshal([]byte(out), &o); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range o.Offers {
		got = append(got, x.ID())
	}
	want := []string{"aws/eu-central-1/euc1-az1/p5.48xlarge/spot", "aws/eu-central-1/euc1-az1/p5.48xlarge/on_demand", "gcp/europe-west4/europe-west4-b/a3-highgpu-8g/on_demand"}
	if !slices.Equal(got, want) {
		t.Fatalf("offers %v, want %v (cheapest per GPU-hour first)", got, want)
	}
	// The catalog file replaces the embedded catalog for plan too: 5 nodes
	// are needed and aws has only 3 on-demand.
	code, out, stderr = runCLI("plan", "--catalog", path, "--gpus", "40", "--format", "json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var p placementOutput
	json.Unmarshal([]byte(out), &p)
	if len(p.Allocations) != 2 || p.Allocations[0].Nodes != 3 || p.Allocations[1].Nodes != 2 {
		t.Fatalf("allocations %+v", p.Allocations)
	}
	// Malformed catalog: file, line and column.
	bad := filepath.Join(t.TempDir(), "bad.csv")
	os.WriteFile(bad, []byte(strings.Replace(data, ",40,16,3", ",forty,16,3", 1)), 0o644)
	code, _, stderr = runCLI("plan", "--catalog", bad, "--gpus", "8")
	if code != ExitUsage || !strings.Contains(stderr, bad+":2:") || !strings.Contains(stderr, "column price_usd_hour") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

func TestOffersTable(t *testing.T) {
	code, out, _ := runCLI("offers", "--gpu-models", "H200", "--limit", "3")
	if code != ExitOK || !strings.Contains(out, "USD/GPU-H") || !strings.Contains(out, "3 of ") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

func TestDiscountsAndPrices(t *testing.T) {
	code, out, stderr := runCLI("offers", "--gpu-models", "H100", "--residency", "EU", "--capacity-types", "on_demand",
		"--price", "azure/Standard_ND96isr_H100_v5/swedencentral=8", "--discount", "aws=10", "--format", "json", "--limit", "1")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var o offersOutput
	if err := json.Unmarshal([]byte(out), &o); err != nil {
		t.Fatal(err)
	}
	// 8 USD per node-hour is 1 USD per GPU-hour: the negotiated Azure price wins.
	if len(o.Offers) != 1 || o.Offers[0].ID() != "azure/swedencentral//Standard_ND96isr_H100_v5/on_demand" || o.Offers[0].PricePerGPUHour != 1 {
		t.Fatalf("offers %+v", o.Offers)
	}
	for _, bad := range [][]string{{"--discount", "aws"}, {"--price", "azure=3"}, {"--price", "azure/nope=3"}, {"--discount", "aws=150"}} {
		if code, _, stderr := runCLI(append([]string{"offers"}, bad...)...); code != ExitUsage || stderr == "" {
			t.Errorf("%v: exit %d", bad, code)
		}
	}
}

// TestPlanModelsAbsentFromCatalog: a catalog file without L40S rows plans
// --gpu-models A10G,L4,L40S on the other two and says L40S was not offered;
// an unknown name is still a usage error with suggestions.
func TestPlanModelsAbsentFromCatalog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no-l40s.csv")
	rows := "cloud,instance_type,gpu_model,gpu_count,gpu_memory_gib,vcpus,memory_gib,region,zone,price_usd_hour,spot_price_usd_hour\n" +
		"aws,g5.xlarge,A10G,1,22.35,4,16,us-east-1,use1-az1,1.006,\n" +
		"aws,g6.xlarge,L4,1,22.35,4,16,us-east-1,use1-az1,0.805,\n"
	if err := os.WriteFile(path, []byte(rows), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"table", []string{"--gpu-models", "A10G,L4,L40S"}, ExitOK, `(?s)g6\.xlarge.*L40S is a known GPU model with no offers in this catalog, so not offered`, `^$`},
		{"json", []string{"--gpu-models", "A10G,L4,L40S", "--format", "json"}, ExitOK, `"absent_gpu_models": \[\s+"L40S"\s+\]`, `^$`},
		{"only absent", []string{"--gpu-models", "L40S"}, ExitInfeasible, `^$`, `L40S is a known GPU model with no offers in this catalog.*binding constraint: gpu_models`},
		{"unknown", []string{"--gpu-models", "L4,L40X"}, ExitUsage, `^$`, `unknown GPU model "L40X".*did you mean "L40S"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, stderr := runCLI(append([]string{"plan", "--catalog", path, "--gpus", "4"}, tt.args...)...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d: %s", code, tt.code, stderr)
			}
			if !regexp.MustCompile(tt.stdout).MatchString(out) {
				t.Errorf("stdout does not match %q:\n%s", tt.stdout, out)
			}
			if !regexp.MustCompile(tt.stderr).MatchString(stderr) {
				t.Errorf("stderr does not match %q:\n%s", tt.stderr, stderr)
			}
		})
	}
}

// TestPlanReservationFlags is the reservations guide's example: the
// declared reservation is used first and reported.
func TestPlanReservationFlags(t *testing.T) {
	code, out, stderr := runCLI("plan", "--gpus", "48", "--gpu-models", "H100", "--gpus-per-node", "8", "--residency", "EU",
		"--min-clouds", "2", "--max-share", "0.6", "--reservation", "aws/eu-north-1/eun1-az1/p5.48xlarge/cr-0123456789abcdef0=2",
		"--format", "json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var p placementOutput
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatal(err)
	}
	var reserved []allocationJSON
	for _, a := range p.Allocations {
		if a.CapacityType == "reserved" {
			reserved = append(reserved, a)
		}
	}
	if p.ReservedGPUs != 16 || len(reserved) != 1 || reserved[0].ReservationID != "cr-0123456789abcdef0" || reserved[0].Nodes != 2 || reserved[0].HourlyUSD != 0 {
		t.Fatalf("reserved GPUs %d, reserved allocations %+v", p.ReservedGPUs, reserved)
	}
	code, out, _ = runCLI("plan", "--gpus", "48", "--gpu-models", "H100", "--gpus-per-node", "8", "--residency", "EU",
		"--min-clouds", "2", "--max-share", "0.6", "--reservation", "aws/eu-north-1/eun1-az1/p5.48xlarge/cr-0123456789abcdef0=2")
	if code != ExitOK || !strings.Contains(out, "reserved:cr-0123456789abcdef0") || !strings.Contains(out, "16 of 48 GPUs on reserved capacity") {
		t.Fatalf("exit %d, table:\n%s", code, out)
	}
}
