package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

func runCLI(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestCommands: offers and plan are internal/cli's (tested there), the
// rest is gpufleet's own dispatch.
func TestCommands(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"no command", nil, exitUsage, `^$`, `Usage:`},
		{"unknown command", []string{"apply"}, exitUsage, `^$`, `unknown command "apply"`},
		{"help", []string{"help"}, exitOK, `gpufleet plan --gpus N`, `^$`},
		{"plan", []string{"plan", "--gpus", "8", "--gpu-models", "H100", "--residency", "CH"}, exitOK, `Placement: 8 GPUs`, `^$`},
		{"offers", []string{"offers", "--gpu-models", "H200", "--limit", "1"}, exitOK, `1 of \d+ matching offers shown`, `^$`},
		{"sim without a subcommand", []string{"sim"}, exitUsage, `^$`, `usage: gpufleet sim list`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, stderr := runCLI(tt.args...)
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

// TestLiveHelper: offers --live and plan --live run gpufleet-live from
// PATH (none is next to the test binary) with the command and all its
// arguments, and its exit status is gpufleet's; without it they say how to
// build it. Flags are checked first, so a bad flag needs no helper.
func TestLiveHelper(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PATH", dir)
	code, _, stderr := runCLI("plan", "--live", "--gpus", "8")
	if code != exitUsage || !strings.Contains(stderr, "plan --live runs gpufleet-live") || !strings.Contains(stderr, "make build") {
		t.Fatalf("without the helper: exit %d, stderr %q", code, stderr)
	}
	if code, _, stderr = runCLI("plan", "--live", "--gpus", "0"); code != exitUsage || !strings.Contains(stderr, "flag -gpus is required") {
		t.Fatalf("bad flags: exit %d, stderr %q", code, stderr)
	}
	script := "#!/bin/sh\necho \"live $*\"\nexit 2\n"
	if err := os.WriteFile(filepath.Join(dir, "gpufleet-live"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"plan", "--live", "--clouds", "aws", "--gpus", "8"},
		{"offers", "--gpu-models", "H100", "--live"},
	} {
		code, out, stderr := runCLI(args...)
		if want := "live " + strings.Join(args, " ") + "\n"; code != 2 || out != want {
			t.Fatalf("%v: exit %d, stdout %q, stderr %q; want exit 2 and %q", args, code, out, stderr, want)
		}
	}
}

// TestNoCloudSDKs: gpufleet links no cloud SDK, gRPC or Kubernetes client
// (what --live and sim nodes/kubectl need is in their helpers), so that
// their package set-up is not paid by every plan.
func TestNoCloudSDKs(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	out, err := exec.Command(goBin, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	heavy := regexp.MustCompile(`(?m)^(github\.com/aws/|github\.com/Azure/|cloud\.google\.com/|google\.golang\.org/(api|grpc)|k8s\.io/|.*/internal/(livecatalog|cloudsim/kubefront))`)
	if m := heavy.FindAllString(string(out), 5); len(m) > 0 {
		t.Fatalf("gpufleet links %v (and maybe more): move what needs them into a helper binary", m)
	}
}

// TestSimList: clusters and pools are listed one per line, other resources
// counted per cloud and kind unless --all.
func TestSimList(t *testing.T) {
	dir := t.TempDir()
	e, err := cloudsim.New(cloudsim.Config{StateFile: filepath.Join(dir, "state.json")})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"eu-north-1/vpc-1", "eu-north-1/vpc-2"} {
		if _, err := e.PutObject("aws", "Vpc", name, map[string]string{"cidr": "10.64.0.0/16"}); err != nil {
			t.Fatal(err)
		}
	}
	code, out, _ := runCLI("sim", "list", "--dir", dir)
	if code != exitOK || !regexp.MustCompile(`aws\s+Vpc\s+2`).MatchString(out) || strings.Contains(out, "vpc-1") {
		t.Fatalf("summary: exit %d\n%s", code, out)
	}
	code, out, _ = runCLI("sim", "list", "--dir", dir, "--all")
	if code != exitOK || !strings.Contains(out, "eu-north-1/vpc-1") || !strings.Contains(out, "eu-north-1/vpc-2") {
		t.Fatalf("--all: exit %d\n%s", code, out)
	}
}

// TestSimKubeHelper: sim nodes and sim kubectl run gpufleet-simkube from
// PATH (none is next to the test binary) with their arguments, and its exit
// status is gpufleet's; without it they say how to build it.
func TestSimKubeHelper(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PATH", dir)
	code, _, stderr := runCLI("sim", "nodes", "--dir", dir)
	if code != exitUsage || !strings.Contains(stderr, "gpufleet-simkube") || !strings.Contains(stderr, "make build") {
		t.Fatalf("without the helper: exit %d, stderr %q", code, stderr)
	}
	script := "#!/bin/sh\necho \"simkube $*\"\nexit 3\n"
	if err := os.WriteFile(filepath.Join(dir, "gpufleet-simkube"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runCLI("sim", "kubectl", "--dir", dir, "--", "get", "nodes")
	if code != 3 || out != "simkube kubectl --dir "+dir+" -- get nodes\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, stderr)
	}
}
