// Package smoke holds the real-cloud smoke test's script (smoke.sh, run
// by `make smoke CLOUD=...`) and the test of what it does here, without
// an account: fail fast, before building or creating anything, naming the
// missing credentials.
package smoke

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// run starts smoke.sh with only env (and a PATH without terraform, go or
// az), in a HOME of its own.
func run(t *testing.T, home string, env map[string]string, args ...string) (string, int, time.Duration) {
	t.Helper()
	cmd := exec.Command("bash", append([]string{"smoke.sh"}, args...)...)
	cmd.Env = []string{"HOME=" + home, "PATH=/usr/bin:/bin"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	start := time.Now()
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code, time.Since(start)
}

func TestNoCredentialsFailsFast(t *testing.T) {
	tests := []struct {
		cloud string
		env   map[string]string
		want  []string
	}{
		{"aws", nil, []string{"aws: no credentials", "AWS_ACCESS_KEY_ID", "AWS_PROFILE"}},
		{"aws", map[string]string{"AWS_ACCESS_KEY_ID": "AKID"}, []string{"aws: no credentials"}},
		{"gcp", nil, []string{"gcp: no Application Default Credentials", "gcloud auth application-default login", "GOOGLE_CLOUD_PROJECT is not set"}},
		{"gcp", map[string]string{"GOOGLE_APPLICATION_CREDENTIALS": "/nonexistent.json", "GOOGLE_CLOUD_PROJECT": "p"},
			[]string{"GOOGLE_APPLICATION_CREDENTIALS=/nonexistent.json is not a readable"}},
		{"azure", nil, []string{"azure: no credentials", "az login", "AZURE_CLIENT_SECRET", "AZURE_SUBSCRIPTION_ID is not set"}},
		{"azure", map[string]string{"AZURE_CLIENT_ID": "c", "AZURE_TENANT_ID": "t"}, []string{"azure: no credentials"}},
	}
	for _, tt := range tests {
		t.Run(tt.cloud, func(t *testing.T) {
			home := t.TempDir()
			out, code, took := run(t, home, tt.env, tt.cloud)
			if code != 2 {
				t.Errorf("exit %d, want 2:\n%s", code, out)
			}
			if took > 5*time.Second {
				t.Errorf("took %v: the check must fail fast", took)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if !strings.Contains(out, "nothing was built or created") {
				t.Errorf("output does not say nothing was created:\n%s", out)
			}
			if entries, _ := os.ReadDir(home); len(entries) != 0 {
				t.Errorf("the failed check wrote %v", entries)
			}
		})
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"oci"}} {
		out, code, _ := run(t, t.TempDir(), nil, args...)
		if code != 2 || !strings.Contains(out, "usage: make smoke CLOUD=aws|gcp|azure") {
			t.Errorf("%v: exit %d, %q", args, code, out)
		}
	}
}

// TestCredentialsFound: with a credential in place the check passes
// (SMOKE_CHECK_ONLY stops before anything is built).
func TestCredentialsFound(t *testing.T) {
	home := t.TempDir()
	adc := filepath.Join(home, "adc.json")
	if err := os.WriteFile(adc, []byte(`{"type":"authorized_user"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(home, ".aws"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".aws", "config"), []byte("[profile ml]\nregion = us-east-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		cloud string
		env   map[string]string
	}{
		{"aws", map[string]string{"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s"}},
		{"aws", map[string]string{"AWS_PROFILE": "ml"}},
		{"gcp", map[string]string{"GOOGLE_APPLICATION_CREDENTIALS": adc, "GOOGLE_CLOUD_PROJECT": "p"}},
		{"azure", map[string]string{"AZURE_CLIENT_ID": "c", "AZURE_TENANT_ID": "t", "AZURE_CLIENT_SECRET": "s", "AZURE_SUBSCRIPTION_ID": "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.cloud, func(t *testing.T) {
			tt.env["SMOKE_CHECK_ONLY"] = "1"
			out, code, _ := run(t, home, tt.env, tt.cloud)
			if code != 0 || !strings.Contains(out, "credentials found") {
				t.Errorf("exit %d:\n%s", code, out)
			}
		})
	}
}

// TestSimulatedRehearsal runs the whole smoke test, script and
// configuration, on each simulated cloud (SMOKE_SIMULATE=1): the provider
// built from this tree applies examples/smoke, the node is validated by
// the real gpufleet-nodecheck on simulated GPUs, and everything is
// destroyed. It needs the Terraform CLI (TF_ACC_TERRAFORM_PATH, as `make
// test` sets it) and builds the provider, so it runs with TF_ACC only.
func TestSimulatedRehearsal(t *testing.T) {
	tf := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if os.Getenv("TF_ACC") == "" || tf == "" || testing.Short() {
		t.Skip("set TF_ACC=1 and TF_ACC_TERRAFORM_PATH (make test does)")
	}
	for _, cloud := range []string{"aws", "gcp", "azure"} {
		t.Run(cloud, func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command("bash", "smoke.sh", cloud)
			cmd.Env = append(os.Environ(), "SMOKE_SIMULATE=1", "SMOKE_DIR="+dir, "TERRAFORM="+tf)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%v:\n%s", err, out)
			}
			for _, want := range []string{"1 of 1 GPUs validated", cloud + " PASSED", "Destroy complete! Resources: 4 destroyed."} {
				if !strings.Contains(string(out), want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}
