package provider

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/mesh"
)

// TestAccModule_gpuFleet applies examples/modules/gpu-fleet the way a module
// author's user would: the provider binary is built into a filesystem
// mirror, `terraform init` installs it and the module from a relative path
// (no registry, no network), then apply on the three simulated clouds,
// outputs, destroy, and nothing left in the simulated world.
// (terraform-plugin-testing runs init before a step's configuration is
// written, so it cannot install modules.)
func TestAccModule_gpuFleet(t *testing.T) {
	tf := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if os.Getenv("TF_ACC") == "" || tf == "" {
		t.Skip("TF_ACC and TF_ACC_TERRAFORM_PATH are needed for acceptance tests")
	}
	w := newSimWorld(t)
	_, file, _, _ := runtime.Caller(0)
	repo, err := filepath.Abs(filepath.Join(filepath.Dir(file), "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dir := simDir(t)
	const version = "0.0.1"
	platform := runtime.GOOS + "_" + runtime.GOARCH
	mirror := filepath.Join(dir, "mirror")
	bin := filepath.Join(mirror, "registry.terraform.io", "gpufleet", "gpufleet", version, platform, "terraform-provider-gpufleet_v"+version)
	buildProvider(t, repo, bin)
	if out, err := exec.Command("cp", "-r", filepath.Join(repo, "examples", "modules"), filepath.Join(dir, "modules")).CombinedOutput(); err != nil {
		t.Fatalf("copying the module: %v\n%s", err, out)
	}
	root := filepath.Join(dir, "root")
	rc := filepath.Join(dir, "terraform.rc")
	write := func(path, content string) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(rc, fmt.Sprintf("provider_installation {\n  filesystem_mirror {\n    path    = %q\n    include = [\"registry.terraform.io/gpufleet/gpufleet\"]\n  }\n}\n", mirror))
	write(filepath.Join(root, "main.tf"), fmt.Sprintf(`
terraform {
  required_providers {
    gpufleet = { source = "gpufleet/gpufleet" }
  }
}

provider "gpufleet" {
  simulate     = true
  simulate_dir = %q
}

module "fleet" {
  source     = "../modules/gpu-fleet"
  name       = "acc"
  gpus       = 48
  gpu_models = ["H100", "H200"]
  residency  = ["EU"]
  spread     = { min_clouds = 3, max_share = 0.4 }
}

output "connectivity" { value = module.fleet.connectivity }
output "pools"        { value = module.fleet.pools }
output "vpn_cost"     { value = module.fleet.network_monthly_cost_usd }
output "endpoints"    { value = module.fleet.cluster_endpoints }
`, w.dir))
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(tf, args...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+rc, "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1", simTimeScaleEnv+"=0.01")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("terraform %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("init", "-input=false", "-no-color")
	destroyed := false
	defer func() {
		if !destroyed {
			run("destroy", "-auto-approve", "-input=false", "-no-color")
		}
	}()
	run("apply", "-auto-approve", "-input=false", "-no-color")
	var outputs map[string]struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal([]byte(run("output", "-json")), &outputs); err != nil {
		t.Fatal(err)
	}
	var conn map[string]map[string]string
	if err := json.Unmarshal(outputs["connectivity"].Value, &conn); err != nil {
		t.Fatal(err)
	}
	var endpoints map[string]string
	if err := json.Unmarshal(outputs["endpoints"].Value, &endpoints); err != nil {
		t.Fatal(err)
	}
	if len(conn) != 3 || len(endpoints) != 3 {
		t.Fatalf("want 3 sites meshed and 3 clusters, got connectivity %v, endpoints %v", conn, endpoints)
	}
	for a, row := range conn {
		for b, via := range row {
			ca, cb := a[:strings.Index(a, "/")], b[:strings.Index(b, "/")]
			if want := fmt.Sprintf("vpn (%d tunnels)", mesh.TunnelsPerLink(ca, cb)); ca != cb && via != want {
				t.Errorf("%s -> %s over %q, want %s", a, b, via, want)
			}
		}
	}
	var cost float64
	if err := json.Unmarshal(outputs["vpn_cost"].Value, &cost); err != nil || cost <= 0 {
		t.Errorf("vpn cost %s (%v)", outputs["vpn_cost"].Value, err)
	}
	if plan := run("plan", "-detailed-exitcode", "-input=false", "-no-color"); !strings.Contains(plan, "No changes") {
		t.Errorf("a second plan is not empty:\n%s", plan)
	}
	run("destroy", "-auto-approve", "-input=false", "-no-color")
	destroyed = true
	if err := w.noLeaks(t)(nil); err != nil {
		t.Fatal(err)
	}
}

// buildProvider builds the provider binary of repo at bin, as a user's
// Terraform runs it (CGO_ENABLED=0).
func buildProvider(t *testing.T, repo, bin string) {
	t.Helper()
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir, build.Env = repo, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the provider: %v\n%s", err, out)
	}
}
