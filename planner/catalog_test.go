package planner

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const csvHeader = "cloud,instance_type,gpu_model,gpu_count,gpu_memory_gib,vcpus,memory_gib,region,zone,price_usd_hour,spot_price_usd_hour"

func TestParseCatalogRows(t *testing.T) {
	data := "# date: 2026-10-01\n# source: negotiated rates\n" + csvHeader + ",max_nodes\n" +
		"aws,p5.48xlarge,H100,8,80,192,2048,eu-central-1,euc1-az1,50.5,20.25,4\n" +
		"gcp,a3-highgpu-8g,H100,8,80,208,1872,europe-west4,europe-west4-b,90,,\n" +
		"azure,Standard_ND96isr_H100_v5,H100,8,80,96,1900,westeurope,,110,,0\n"
	c, err := ParseCatalog("rates.csv", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Offers) != 4 {
		t.Fatalf("%d offers, want 4 (aws on-demand and spot, gcp, azure)", len(c.Offers))
	}
	byID := map[string]Offer{}
	for _, o := range c.Offers {
		byID[o.ID()] = o
	}
	spot, ok := byID["aws/eu-central-1/euc1-az1/p5.48xlarge/spot"]
	if !ok || spot.PriceUSDHour != 20.25 || spot.MaxNodes != 4 {
		t.Fatalf("spot offer %+v", spot)
	}
	od := byID["aws/eu-central-1/euc1-az1/p5.48xlarge/on_demand"]
	if od.MaxNodes != 4 || od.Interconnect != NVSwitch || od.Fabric != "efa" {
		t.Fatalf("on-demand offer %+v (interconnect from the embedded instance table)", od)
	}
	if g := byID["gcp/europe-west4/europe-west4-b/a3-highgpu-8g/on_demand"]; g.MaxNodes != Unlimited {
		t.Fatalf("empty max_nodes should be unlimited, got %d", g.MaxNodes)
	}
	if a := byID["azure/westeurope//Standard_ND96isr_H100_v5/on_demand"]; a.MaxNodes != 0 {
		t.Fatalf("max_nodes 0 should stay 0, got %d", a.MaxNodes)
	}
	if !strings.HasPrefix(c.Version, "2026-10-01+sha256:") || len(c.Sources) != 1 || c.Sources[0] != "negotiated rates" {
		t.Fatalf("version %q sources %q", c.Version, c.Sources)
	}
}

func TestParseCatalogErrors(t *testing.T) {
	row := "aws,p5.48xlarge,H100,8,80,192,2048,eu-central-1,euc1-az1,50.5,20.25"
	tests := []struct {
		name string
		data string
		want string
	}{
		{"empty", "", "bad.csv:1:1: file is empty"},
		{"header order", "cloud,gpu_model,instance_type\n", "bad.csv:1:7: header field 2 is \"gpu_model\", expected column \"instance_type\""},
		{"extra column", csvHeader + ",max_nodes,notes\n", "bad.csv:1:130: header field 13 is \"notes\""},
		{"short header", "cloud,instance_type\n", "bad.csv:1:1: header field 3 is \"\", expected column \"gpu_model\""},
		{"field count", csvHeader + "\naws,p5\n", "bad.csv:2:1: has 2 fields, the header has 11"},
		{"gpu_count", csvHeader + "\naws,p5,H100,eight,80,192,2048,eu-central-1,a,1,\n", "bad.csv:2:13: column gpu_count: \"eight\" is not a positive whole number"},
		{"fractional", csvHeader + "\naws,g6f,L4,0.25,24,8,32,eu-central-1,a,1,\n", "bad.csv:2:12: column gpu_count: \"0.25\""},
		{"price", csvHeader + "\naws,p5,H100,8,80,192,2048,eu-central-1,a,-3,\n", "bad.csv:2:42: column price_usd_hour: \"-3\" is not a positive price"},
		{"price zero", csvHeader + "\naws,p5,H100,8,80,192,2048,eu-central-1,a,0,\n", "column price_usd_hour: is 0"},
		{"price empty", csvHeader + "\naws,p5,H100,8,80,192,2048,eu-central-1,a,,5\n", "bad.csv:2:42: column price_usd_hour: is empty"},
		{"spot", csvHeader + "\naws,p5,H100,8,80,192,2048,eu-central-1,a,5,cheap\n", "bad.csv:2:44: column spot_price_usd_hour: \"cheap\""},
		{"region", csvHeader + "\naws,p5,H100,8,80,192,2048,eu-centrl-1,a,5,\n", "bad.csv:2:27: column region: region \"eu-centrl-1\" is not a known aws region"},
		{"cloud", csvHeader + "\noracle,p5,H100,8,80,192,2048,eu-central-1,a,5,\n", "column region: region \"eu-central-1\" is not a known oracle region (known: none; clouds are aws, gcp and azure)"},
		{"max_nodes", csvHeader + ",max_nodes\n" + row + ",-1\n", "bad.csv:2:69: column max_nodes: \"-1\" is not empty (unlimited) or a non-negative whole number"},
		{"empty model", csvHeader + "\naws,p5,,8,80,192,2048,eu-central-1,a,5,\n", "bad.csv:2:8: column gpu_model: is empty"},
		{"duplicate", csvHeader + "\n" + row + "\n" + row + "\n", "bad.csv:3:1: offer aws/eu-central-1/euc1-az1/p5.48xlarge/on_demand is already defined on line 2"},
		{"quote", csvHeader + "\naws,\"p5,H100\n", "bad.csv:2:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseCatalog("bad.csv", []byte(tt.data))
			var ce *CSVError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v, want *CSVError", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestLoadCatalogFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mine.csv")
	if err := os.WriteFile(path, []byte(csvHeader+"\naws,p5.48xlarge,H100,8,80,192,2048,eu-central-1,euc1-az1,40,\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := LoadCatalogFile(path)
	if err != nil || len(c.Offers) != 1 {
		t.Fatalf("%v, %v", c, err)
	}
	if _, err := LoadCatalogFile(filepath.Join(t.TempDir(), "missing.csv")); err == nil {
		t.Fatal("missing file loaded")
	}
}

// TestEmbeddedCatalogCoverage pins what users rely on: a dated catalog with
// sources, H100s in the EU on every cloud, regions outside the US on every
// cloud, zones where the cloud has them, spot offers, and every offer in
// the region table.
func TestEmbeddedCatalogCoverage(t *testing.T) {
	c := Embedded()
	if !strings.HasPrefix(c.Version, "20") || len(c.Sources) < 3 {
		t.Fatalf("version %q, sources %q", c.Version, c.Sources)
	}
	euH100 := map[string]bool{}
	jurisdictions := map[string]map[string]bool{}
	spot := map[string]bool{}
	for _, o := range c.Offers {
		r, ok := c.Region(o.Cloud, o.Region)
		if !ok {
			t.Fatalf("%s: region not in table", o.ID())
		}
		if jurisdictions[o.Cloud] == nil {
			jurisdictions[o.Cloud] = map[string]bool{}
		}
		jurisdictions[o.Cloud][r.Jurisdiction] = true
		if o.GPUModel == "H100" && r.Jurisdiction == "EU" && o.CapacityType == OnDemand {
			euH100[o.Cloud] = true
		}
		if o.CapacityType == Spot {
			spot[o.Cloud] = true
		}
		if (o.Cloud == "aws" || o.Cloud == "gcp") && o.Zone == "" {
			t.Fatalf("%s: no zone", o.ID())
		}
		if o.PricePerGPUHour() > 60 || o.PricePerGPUHour() < 0.05 {
			t.Fatalf("%s: implausible price %.4f per GPU-hour", o.ID(), o.PricePerGPUHour())
		}
	}
	for _, cloud := range []string{"aws", "gcp", "azure"} {
		if !euH100[cloud] {
			t.Errorf("no on-demand H100 in the EU on %s", cloud)
		}
		for _, j := range []string{"EU", "UK", "JP", "US"} {
			if !jurisdictions[cloud][j] {
				t.Errorf("%s has no offer in %s", cloud, j)
			}
		}
	}
	if !jurisdictions["azure"]["CH"] || !jurisdictions["gcp"]["CH"] {
		t.Errorf("no offers in Switzerland")
	}
	if !spot["aws"] || !spot["gcp"] || !spot["azure"] {
		t.Errorf("spot offers on %v, want all three clouds", spot)
	}
}
