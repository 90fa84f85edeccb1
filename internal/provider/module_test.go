package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/awsremote"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/kubefront"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/mesh"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/simworld"
)

// TestAccModule_gpuFleet applies examples/modules/gpu-fleet the way a module
// author's user would: the provider binary is built into a filesystem
// mirror, `terraform init` installs it and the module from a relative path
// (no registry, no network), then apply on the three simulated clouds,
// outputs, destroy, and nothing left in the simulated world.
// (terraform-plugin-testing runs init before a step's configuration is
// written, so it cannot install modules.)
func TestAccModule_gpuFleet(t *testing.T) {
	tf := moduleCLI(t)
	w := newSimWorld(t)
	run := moduleRoot(t, tf, fmt.Sprintf(`
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

// moduleCLI is the CLI of the acceptance tests; the test is skipped
// without one.
func moduleCLI(t *testing.T) string {
	tf := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if os.Getenv("TF_ACC") == "" || tf == "" {
		t.Skip("TF_ACC and TF_ACC_TERRAFORM_PATH are needed for acceptance tests")
	}
	return tf
}

// cliVersion is the version of a Terraform or OpenTofu CLI, and whether it
// is OpenTofu.
func cliVersion(t *testing.T, tf string) (v string, tofu bool) {
	out, err := exec.Command(tf, "version", "-json").Output()
	if err != nil {
		t.Fatalf("%s version -json: %v", tf, err)
	}
	var ver struct {
		Terraform string `json:"terraform_version"`
	}
	if err := json.Unmarshal(out, &ver); err != nil {
		t.Fatalf("%s version -json: %v: %s", tf, err, out)
	}
	return ver.Terraform, strings.Contains(filepath.Base(tf), "tofu") || bytes.Contains(out, []byte("opentofu"))
}

// moduleRoot builds the provider binary into a filesystem mirror, copies
// examples/modules beside a root module made of mainTF, and returns a
// function that runs the CLI there (init installs the provider from the
// mirror and the modules from their relative paths: no registry, no
// network). The mirror's host is the CLI's default registry:
// registry.opentofu.org for OpenTofu.
func moduleRoot(t *testing.T, tf, mainTF string) func(args ...string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	repo, err := filepath.Abs(filepath.Join(filepath.Dir(file), "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	host := "registry.terraform.io"
	if _, tofu := cliVersion(t, tf); tofu {
		host = "registry.opentofu.org"
	}
	dir := simDir(t)
	const version = "0.0.1"
	platform := runtime.GOOS + "_" + runtime.GOARCH
	mirror := filepath.Join(dir, "mirror")
	bin := filepath.Join(mirror, host, "gpufleet", "gpufleet", version, platform, "terraform-provider-gpufleet_v"+version)
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
	write(rc, fmt.Sprintf("provider_installation {\n  filesystem_mirror {\n    path    = %q\n    include = [\"%s/gpufleet/gpufleet\"]\n  }\n}\n", mirror, host))
	write(filepath.Join(root, "main.tf"), mainTF)
	return func(args ...string) string {
		t.Helper()
		cmd := exec.Command(tf, args...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+rc, "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1", simTimeScaleEnv+"=0.01")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", filepath.Base(tf), strings.Join(args, " "), err, out)
		}
		return string(out)
	}
}

// atLeast reports whether version v ("1.10.3") is at least major.minor.
func atLeast(v string, major, minor int) bool {
	var a, b int
	if _, err := fmt.Sscanf(v, "%d.%d", &a, &b); err != nil {
		return false
	}
	return a > major || (a == major && b >= minor)
}

// TestAccModule_credentials uses the gpu-fleet module's credentials
// submodule the way a user's kubectl step would: a local-exec provisioner
// (where ephemeral values may go) receives each cluster's host, CA and
// token and writes them to a file; the test then lists each cluster's
// nodes with them. The state holds no kubeconfig and no token. Terraform
// 1.10+ and OpenTofu 1.11+ (ephemeral module outputs).
func TestAccModule_credentials(t *testing.T) {
	tf := moduleCLI(t)
	if v, tofu := cliVersion(t, tf); (!tofu && !atLeast(v, 1, 10)) || (tofu && !atLeast(v, 1, 11)) {
		t.Skipf("%s %s has no ephemeral module outputs (Terraform 1.10+, OpenTofu 1.11+)", filepath.Base(tf), v)
	}
	w := newSimWorld(t)
	out := t.TempDir()
	run := moduleRoot(t, tf, fmt.Sprintf(`
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
  source         = "../modules/gpu-fleet"
  name           = "acc"
  gpus           = 16
  gpu_models     = ["H100"]
  residency      = ["EU"]
  spread         = { min_clouds = 2 }
  gpu_validation = false
}

module "access" {
  source      = "../modules/gpu-fleet/credentials"
  cluster_ids = module.fleet.cluster_ids
}

resource "terraform_data" "kubectl" {
  for_each = module.fleet.cluster_ids
  provisioner "local-exec" {
    command = "printf '%%s' \"$CREDS\" > \"$OUT/${replace(each.key, "/", "_")}.json\""
    environment = {
      OUT   = %q
      CREDS = jsonencode(merge(module.access.clusters[each.key], { cluster_id = each.value }))
    }
  }
}

output "cluster_ids" { value = module.fleet.cluster_ids }
output "kubeconfigs" {
  value     = module.fleet.kubeconfigs
  sensitive = true
}
`, w.dir, out))
	run("init", "-input=false", "-no-color")
	destroyed := false
	defer func() {
		if !destroyed {
			run("destroy", "-auto-approve", "-input=false", "-no-color")
		}
	}()
	run("apply", "-auto-approve", "-input=false", "-no-color")
	var outputs struct {
		ClusterIDs struct {
			Value map[string]string `json:"value"`
		} `json:"cluster_ids"`
		Kubeconfigs struct {
			Value map[string]*string `json:"value"`
		} `json:"kubeconfigs"`
	}
	if err := json.Unmarshal([]byte(run("output", "-json")), &outputs); err != nil {
		t.Fatal(err)
	}
	if len(outputs.ClusterIDs.Value) < 2 {
		t.Fatalf("want clusters on two clouds, got %v", outputs.ClusterIDs.Value)
	}
	srv := kubefront.New(w.engine(t), kubefront.Options{})
	if _, err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var secrets []string
	for site, id := range outputs.ClusterIDs.Value {
		if kc := outputs.Kubeconfigs.Value[site]; kc != nil {
			t.Errorf("%s: the module stores a kubeconfig: %q", site, *kc)
		}
		b, err := os.ReadFile(filepath.Join(out, strings.ReplaceAll(site, "/", "_")+".json"))
		if err != nil {
			t.Fatalf("%s: the provisioner wrote no credentials: %v", site, err)
		}
		var c struct {
			echoedCredentials
			Host string `json:"host"`
		}
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatalf("%s: %v", site, err)
		}
		c.Endpoint = c.Host
		if c.ClusterID != id {
			t.Errorf("%s: credentials of %s, want %s", site, c.ClusterID, id)
		}
		secret, err := kubeAccessWorks(srv, site, c.echoedCredentials)
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, secret)
	}
	state := run("show", "-json", "-no-color")
	for _, s := range append([]string{"k8s-aws-v1.", "PRIVATE KEY", `"mode":"ephemeral"`}, secrets...) {
		if i := strings.Index(state, s); i >= 0 {
			t.Errorf("the state holds %.20s...: %s", s, state[max(0, i-200):min(len(state), i+200)])
		}
	}
	run("destroy", "-auto-approve", "-input=false", "-no-color")
	destroyed = true
	if err := w.noLeaks(t)(nil); err != nil {
		t.Fatal(err)
	}
}

// buildProvider builds the provider binary of repo at bin, as a user's
// Terraform runs it (CGO_ENABLED=0), with the gpufleet-simkube helper
// that serves its simulate = true and the gpufleet-aws helper that runs
// its AWS backend beside it, as a release ships them.
func buildProvider(t *testing.T, repo, bin string) {
	t.Helper()
	for _, b := range [][2]string{{".", bin}, {"./cmd/gpufleet/gpufleet-simkube", filepath.Join(filepath.Dir(bin), simworld.HelperName)},
		{"./cmd/gpufleet/gpufleet-aws", filepath.Join(filepath.Dir(bin), awsremote.HelperName)}} {
		pkg := b[0]
		build := exec.Command("go", "build", "-o", b[1], pkg)
		build.Dir, build.Env = repo, append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("building %s: %v\n%s", pkg, err, out)
		}
	}
}
