package awslive

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/livecatalog"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// awsSampleDocs reads testdata/aws_pricelist_p5.48xlarge.json: Price
// List documents shaped like the real ones (p5.48xlarge in us-east-1 with
// on-demand and three reserved terms; in eu-central-1 without
// regionCode, as older lists have it; a Windows product; a zero-priced
// capacity reservation line), each compacted to the string GetProducts
// returns.
func awsSampleDocs(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("testdata/aws_pricelist_p5.48xlarge.json")
	if err != nil {
		t.Fatal(err)
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	docs := make([]string, len(raw))
	for i, r := range raw {
		var b bytes.Buffer
		if err := json.Compact(&b, r); err != nil {
			t.Fatal(err)
		}
		docs[i] = b.String()
	}
	return docs
}

// editDoc decodes a document, lets edit change it and encodes it again.
func editDoc(t *testing.T, doc string, edit func(d map[string]any)) string {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		t.Fatal(err)
	}
	edit(d)
	out, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// obj walks a decoded document along keys.
func obj(d map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		d = d[k].(map[string]any)
	}
	return d
}

func TestParseAWSPriceDocument(t *testing.T) {
	docs := awsSampleDocs(t)
	const term, dim = "QZ2Q9CZ7W3P6R8XN.JRTCKXETXF", "QZ2Q9CZ7W3P6R8XN.JRTCKXETXF.6YS6EN2CT7"
	addDim := func(key, unit, begin, usd string) func(map[string]any) {
		return func(d map[string]any) {
			obj(d, "terms", "OnDemand", term, "priceDimensions")[key] = map[string]any{
				"unit": unit, "beginRange": begin, "endRange": "Inf", "pricePerUnit": map[string]any{"USD": usd}}
		}
	}
	tests := []struct {
		name string
		doc  string
		ok   bool
		want awsListPrice
	}{
		{"on-demand hourly dimension, reserved terms ignored", docs[0], true, awsListPrice{"us-east-1", "p5.48xlarge", 98.32}},
		{"location when there is no regionCode", docs[1], true, awsListPrice{"eu-central-1", "p5.48xlarge", 115.5}},
		{"Windows product skipped", docs[2], false, awsListPrice{}},
		{"zero-priced capacity reservation skipped", docs[3], false, awsListPrice{}},
		{"upfront quantity dimension ignored", editDoc(t, docs[0], addDim(term+".2TG2D8R56U", "Quantity", "", "1.0")), true,
			awsListPrice{"us-east-1", "p5.48xlarge", 98.32}},
		{"first tier wins over a cheaper later tier", editDoc(t, docs[0], addDim(term+".TIER2", "Hrs", "744", "50.0")), true,
			awsListPrice{"us-east-1", "p5.48xlarge", 98.32}},
		{"lowest of two first-tier hourly dimensions", editDoc(t, docs[0], addDim(term+".ALT", "Hrs", "0", "97.5")), true,
			awsListPrice{"us-east-1", "p5.48xlarge", 97.5}},
		{"no USD price", editDoc(t, docs[0], func(d map[string]any) {
			obj(d, "terms", "OnDemand", term, "priceDimensions", dim)["pricePerUnit"] = map[string]any{"CNY": "700.0"}
		}), false, awsListPrice{}},
		{"unknown location without regionCode", editDoc(t, docs[1], func(d map[string]any) {
			obj(d, "product", "attributes")["location"] = "Mars (Olympus Mons)"
		}), false, awsListPrice{}},
		{"dedicated tenancy skipped", editDoc(t, docs[0], func(d map[string]any) {
			obj(d, "product", "attributes")["tenancy"] = "Dedicated"
		}), false, awsListPrice{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := parseAWSPriceDocument(tt.doc)
			if err != nil || ok != tt.ok || got != tt.want {
				t.Fatalf("got %+v ok=%v err=%v, want %+v ok=%v", got, ok, err, tt.want, tt.ok)
			}
		})
	}
	if _, _, err := parseAWSPriceDocument(`{"product":`); err == nil || !strings.Contains(err.Error(), "price list document") {
		t.Fatalf("malformed document: %v", err)
	}
}

// TestAWSPricingRealShapedReply serves the sample documents as a real
// GetProducts reply (documents as strings) to the SDK client.
func TestAWSPricingRealShapedReply(t *testing.T) {
	awsTestEnv(t)
	docs := awsSampleDocs(t)
	var (
		mu      sync.Mutex
		targets []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		targets = append(targets, r.Header.Get("X-Amz-Target"))
		mu.Unlock()
		var in struct {
			ServiceCode string
			Filters     []struct{ Type, Field, Value string }
		}
		_ = json.Unmarshal(body, &in)
		out := map[string]any{"FormatVersion": "aws_v1", "PriceList": []string{}}
		for _, f := range in.Filters {
			if f.Type == "TERM_MATCH" && f.Field == "instanceType" && f.Value == "p5.48xlarge" && in.ServiceCode == "AmazonEC2" {
				out["PriceList"] = docs
			}
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_ = json.NewEncoder(w).Encode(out)
	}))
	defer srv.Close()
	src := &Pricing{Config: awsTestConfig(srv, nil)}
	src.Config.InstanceTypes = []string{"p5.48xlarge"}
	prices, err := src.Prices(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []livecatalog.Price{
		{Cloud: "aws", Region: "eu-central-1", InstanceType: "p5.48xlarge", CapacityType: planner.OnDemand, USDPerHour: 115.5},
		{Cloud: "aws", Region: "us-east-1", InstanceType: "p5.48xlarge", CapacityType: planner.OnDemand, USDPerHour: 98.32},
	}
	if len(prices) != len(want) || prices[0] != want[0] || prices[1] != want[1] {
		t.Fatalf("prices %+v, want %+v", prices, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(targets) != 1 || targets[0] != "AWSPriceListService.GetProducts" || src.Calls() != 1 {
		t.Fatalf("targets %v, calls %d", targets, src.Calls())
	}
}
