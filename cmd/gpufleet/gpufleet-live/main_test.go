package main

import (
	"bytes"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cli"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/pricefront"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

const (
	exitOK         = cli.ExitOK
	exitInfeasible = cli.ExitInfeasible
)

func runCLI(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestOffersLive(t *testing.T) {
	item := pricefront.AzureItem{CurrencyCode: "USD", RetailPrice: 50, ArmRegionName: "swedencentral", SkuName: "ND96isr H100 v5",
		ProductName: "Virtual Machines NDisrH100v5 Series", UnitOfMeasure: "1 Hour", Type: "Consumption", ArmSkuName: "Standard_ND96isr_H100_v5"}
	srv := httptest.NewServer(&pricefront.AzureRetail{Items: []pricefront.AzureItem{item}})
	defer srv.Close()
	code, out, stderr := runCLI("offers", "--live", "--live-endpoint", "azure="+srv.URL, "--clouds", "azure", "--residency", "SE",
		"--gpu-models", "H100", "--capacity-types", "on_demand")
	if code != exitOK || !strings.Contains(out, "PRICE SOURCE") || !strings.Contains(out, "azure-retail-prices at") || !strings.Contains(out, "6.2500") {
		t.Fatalf("exit %d, stderr %q:\n%s", code, stderr, out)
	}
	down := httptest.NewServer(&pricefront.AzureRetail{ThrottleFirst: 1 << 30})
	defer down.Close()
	code, out, stderr = runCLI("offers", "--live", "--live-endpoint", "azure="+down.URL, "--clouds", "azure", "--residency", "SE", "--gpu-models", "H100")
	if code != exitOK || !strings.Contains(stderr, "warning: live prices from azure-retail-prices failed") || !strings.Contains(out, "catalog 20") {
		t.Fatalf("exit %d, stderr %q:\n%s", code, stderr, out)
	}
}

// TestPlanLiveAWSQuotaAndPrices: --live reprices from the AWS Price List
// and caps the plan with the account's Service Quotas (a simulated AWS on
// loopback): the quota in eu-north-1 allows one p5 node (192 vCPUs = 8
// GPUs), so 8 GPUs fit at the live price and 16 are infeasible, naming the
// quota.
func TestPlanLiveAWSQuotaAndPrices(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "SIMULATED")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "SIMULATED")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("TMPDIR", t.TempDir()) // a cold price cache
	aws := pricefront.NewAWS(pricefront.AWSOptions{Catalog: planner.Embedded(),
		Adjust: func(o planner.Offer) float64 {
			if o.InstanceType == "p5.48xlarge" && o.Region == "eu-north-1" && o.CapacityType == planner.OnDemand {
				return 40
			}
			return o.PriceUSDHour
		},
		QuotaVCPUs: map[string]float64{"eu-north-1/L-417A185B": 192}})
	srv := httptest.NewServer(aws)
	defer srv.Close()
	args := []string{"plan", "--live", "--live-endpoint", "aws=" + srv.URL, "--clouds", "aws", "--residency", "SE",
		"--gpu-models", "H100", "--gpus-per-node", "8", "--capacity-types", "on_demand"}
	code, out, stderr := runCLI(append(args, "--gpus", "8")...)
	if code != exitOK || !strings.Contains(out, "40.00 USD/hour") {
		t.Fatalf("8 GPUs: exit %d, stderr %q:\n%s", code, stderr, out)
	}
	code, out, stderr = runCLI(append(args, "--gpus", "16")...)
	if code != exitInfeasible || !strings.Contains(out+stderr, "L-417A185B") {
		t.Fatalf("16 GPUs: exit %d, stderr %q:\n%s", code, stderr, out)
	}
}
