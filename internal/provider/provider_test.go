package provider

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/awsremote"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/conformance"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/simserve"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
)

// testAccProtoV6ProviderFactories serves the provider in-process to the
// real Terraform CLI that terraform-plugin-testing drives, with its
// simulated worlds served in this process too (simserve.InProcess), where
// the tests reach their engines.
var testAccProtoV6ProviderFactories = map[string]func() (tfprotov6.ProviderServer, error){
	"gpufleet": providerserver.NewProtocol6WithError(New("test", simserve.InProcess)()),
}

const catalogHeader = "cloud,instance_type,gpu_model,gpu_count,gpu_memory_gib,vcpus,memory_gib,region,zone,price_usd_hour,spot_price_usd_hour,max_nodes"

// baseCatalogRows is a small EU/US catalog with known prices, so that the
// tests do not depend on the embedded snapshot.
var baseCatalogRows = []string{
	"aws,p5.48xlarge,H100,8,80,192,2048,eu-central-1,euc1-az1,60,20,4",
	"aws,p5.48xlarge,H100,8,80,192,2048,eu-north-1,eun1-az1,58,,2",
	"aws,p5.48xlarge,H100,8,80,192,2048,us-east-1,use1-az1,40,,",
	"gcp,a3-highgpu-8g,H100,8,80,208,1872,europe-west4,europe-west4-b,96,30,",
	"azure,Standard_ND96isr_H100_v5,H100,8,80,96,1900,westeurope,,110,,",
	"aws,p4d.24xlarge,A100,8,40,96,1152,eu-central-1,euc1-az1,30,,",
}

// writeCatalog writes a catalog file into a test directory.
func writeCatalog(t *testing.T, name string, rows []string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	data := "# date: 2026-11-01\n# source: test prices\n" + catalogHeader + "\n" + strings.Join(rows, "\n") + "\n"
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// providerConfig is a provider block with the catalog file and extra lines.
func providerConfig(catalogFile string, extra ...string) string {
	return fmt.Sprintf(`
provider "gpufleet" {
  simulate = true
  catalog {
    file = %q
  }
%s
}
`, catalogFile, strings.Join(extra, "\n"))
}

// TestMain keeps the tests on loopback: should any test reach the real
// AWS credential chain, it must not query the instance metadata service.
// It builds the real validator, gpufleet-nodecheck (cgo, NVML), which the
// simulated GPU nodes run as the DaemonSet's container, and the AWS
// helper, gpufleet-aws.
func TestMain(m *testing.M) {
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	dir, err := os.MkdirTemp("", "gpufleet-provider-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	// One go build for both (the go command builds them at once): the
	// validator, and gpufleet-aws, in which the provider's AWS backend and
	// AWS live sources run as in production, started by the first AWS call.
	build := exec.Command("go", "build", "-o", dir+string(filepath.Separator), "../../cmd/gpufleet-nodecheck", "../../cmd/gpufleet/gpufleet-aws")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building gpufleet-nodecheck (the simulated GPU nodes' validator) and gpufleet-aws:", err)
		os.Exit(2)
	}
	os.Setenv(simserve.NodecheckEnv, filepath.Join(dir, "gpufleet-nodecheck"))

	awsremote.Shared.Bin = filepath.Join(dir, awsremote.HelperName)
	// Every request the backends and live sources send to cloudsim, and
	// every response, is judged by the clouds' API models. With -sweep
	// the sweepers run instead of the tests (sweep_test.go).
	resource.TestMain(runFunc(func() int {
		code := conformance.Main(m.Run)
		awsremote.Shared.Close()
		os.RemoveAll(dir)
		return code
	}))
}

// runFunc is a Run method, for resource.TestMain.
type runFunc func() int

func (f runFunc) Run() int { return f() }

// simDir is a simulated world's directory for one test. Its Kubernetes
// server (the provider's, which reconciles in the background for the life
// of the process) is closed before the directory is removed, so that no
// state lock file appears in it while t.TempDir's cleanup removes it.
func simDir(t *testing.T) string {
	dir := t.TempDir()
	t.Cleanup(func() { simserve.CloseInProcess(dir) }) // runs before TempDir's removal (cleanups run last-in first-out)
	return dir
}
