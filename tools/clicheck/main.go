// Command clicheck drives the real cloud CLIs (aws, az, gcloud, kubectl)
// against gpufleet sim serve and checks their answers: the common read
// and write operations of EC2/EKS/IAM, AKS/VNet and GKE/Compute, and
// kubectl get nodes on a simulated cluster. A CLI that is not installed is
// skipped with a message. It prints the operations passing per cloud and,
// for each failure, the command and why; it exits 1 when any operation
// fails.
//
// Nothing leaves the machine: every endpoint override points at the
// simulated clouds (the environment gpufleet sim serve writes), the CLIs
// get a temporary HOME and configuration directories, telemetry is off,
// and HTTP(S)_PROXY names a closed loopback port, so that a request the
// overrides miss fails here instead of reaching a real cloud.
//
//	go run ./tools/clicheck -gpufleet bin/gpufleet
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	bin := flag.String("gpufleet", "bin/gpufleet", "the gpufleet binary (gpufleet-simkube beside it)")
	keep := flag.Bool("keep", false, "keep the temporary world and CLI configuration")
	flag.Parse()
	os.Exit(run(*bin, *keep, os.Stdout))
}

// step is one CLI operation and the check of its answer.
type step struct {
	cloud, name string
	args        []string
	// check judges the decoded JSON answer (nil: the exit status only,
	// for commands that print nothing).
	check func(v any) error
	// retry runs the command again until check passes or this long.
	retry time.Duration
}

type result struct {
	step
	err    error
	output string
}

func run(bin string, keep bool, out io.Writer) int {
	tmp, err := os.MkdirTemp("", "gpufleet-clicheck-")
	if err != nil {
		fmt.Fprintln(out, err)
		return 2
	}
	if !keep {
		defer os.RemoveAll(tmp)
	} else {
		fmt.Fprintf(out, "world and configuration kept in %s\n", tmp)
	}
	dir := filepath.Join(tmp, "world")
	serve := exec.Command(bin, "sim", "serve", "--dir", dir, "--aws-port", "0", "--gke-port", "0", "--gke-rest-port", "0",
		"--compute-port", "0", "--azure-port", "0", "--kube-port", "0")
	var serveOut bytes.Buffer
	serve.Stdout, serve.Stderr = &serveOut, &serveOut
	if err := serve.Start(); err != nil {
		fmt.Fprintf(out, "clicheck: %v (build it with make build)\n", err)
		return 2
	}
	defer func() {
		_ = serve.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- serve.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				fmt.Fprintf(out, "clicheck: gpufleet sim serve did not stop cleanly: %v\n%s", err, serveOut.String())
			}
		case <-time.After(10 * time.Second):
			_ = serve.Process.Kill()
			fmt.Fprintln(out, "clicheck: gpufleet sim serve did not stop within 10s of SIGTERM")
		}
	}()
	envFile := filepath.Join(dir, "serve", "env.sh")
	env, err := waitEnv(envFile, 30*time.Second)
	if err != nil {
		fmt.Fprintf(out, "clicheck: %v\n%s", err, serveOut.String())
		return 2
	}
	home := filepath.Join(tmp, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		fmt.Fprintln(out, err)
		return 2
	}
	env = append(env, "HOME="+home, "PATH="+os.Getenv("PATH"), "LANG=C.UTF-8",
		// A request that no override covers fails on this closed port.
		"HTTPS_PROXY=http://127.0.0.1:9", "HTTP_PROXY=http://127.0.0.1:9", "https_proxy=http://127.0.0.1:9", "http_proxy=http://127.0.0.1:9",
		"NO_PROXY=127.0.0.1,localhost,::1", "no_proxy=127.0.0.1,localhost,::1",
		"AWS_CONFIG_FILE="+filepath.Join(home, "aws-config"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "aws-credentials"),
		"AWS_PAGER=", "PYTHONWARNINGS=ignore")
	if pyenv := os.Getenv("PYENV_ROOT"); pyenv != "" {
		env = append(env, "PYENV_ROOT="+pyenv)
	}
	r := &runner{env: env, out: out}
	var results []result
	for _, cl := range clouds {
		if _, err := exec.LookPath(cl.cli); err != nil {
			fmt.Fprintf(out, "SKIP %s: %s is not installed (%s)\n", cl.name, cl.cli, cl.install)
			continue
		}
		for _, s := range cl.steps(r) {
			results = append(results, r.do(s))
		}
	}
	return report(out, results)
}

// waitEnv reads the environment gpufleet sim serve writes once it
// listens: the export lines of env.sh.
func waitEnv(path string, timeout time.Duration) ([]string, error) {
	deadline := time.Now().Add(timeout)
	for {
		data, err := os.ReadFile(path)
		if err == nil && bytes.Contains(data, []byte("KUBECONFIG=")) {
			var env []string
			sc := bufio.NewScanner(bytes.NewReader(data))
			for sc.Scan() {
				line, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "export ")
				if !ok {
					continue
				}
				env = append(env, strings.Fields(line)...)
			}
			return env, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("gpufleet sim serve wrote no %s within %s", path, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// runner runs the steps with the CLIs' environment.
type runner struct {
	env []string
	out io.Writer
}

// vars are values that later steps use (IDs the clouds chose), filled in
// by checks; arguments and expected values name them as {NAME}.
var vars = map[string]string{}

// expand replaces {NAME} by the value of variable NAME.
func expand(s string) string {
	for k, v := range vars {
		s = strings.ReplaceAll(s, "{"+k+"}", v)
	}
	return s
}

func (r *runner) do(s step) result {
	deadline := time.Now().Add(s.retry)
	for {
		res := r.once(s)
		if res.err == nil || time.Now().After(deadline) {
			status := "PASS"
			if res.err != nil {
				status = "FAIL"
			}
			fmt.Fprintf(r.out, "%s %-6s %s\n", status, s.cloud, s.name)
			return res
		}
		time.Sleep(time.Second)
	}
}

func (r *runner) once(s step) result {
	// Arguments may name variables as {NAME}, resolved now.
	args := make([]string, len(s.args))
	for i, a := range s.args {
		args[i] = expand(a)
	}
	s.args = args
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = r.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{step: s, output: strings.TrimSpace(stderr.String() + "\n" + stdout.String())}
	if err != nil {
		res.err = fmt.Errorf("%v", err)
		return res
	}
	if s.check == nil {
		return res
	}
	var v any
	if err := json.Unmarshal(stdout.Bytes(), &v); err != nil {
		res.err = fmt.Errorf("the answer is not JSON: %v", err)
		return res
	}
	res.err = s.check(v)
	return res
}

func report(out io.Writer, results []result) int {
	type tally struct{ pass, tried int }
	per := map[string]*tally{}
	var order []string
	failed := 0
	for _, r := range results {
		if per[r.cloud] == nil {
			per[r.cloud] = &tally{}
			order = append(order, r.cloud)
		}
		per[r.cloud].tried++
		if r.err == nil {
			per[r.cloud].pass++
		} else {
			failed++
		}
	}
	fmt.Fprintln(out, "\n| CLI | operations passing / tried |\n|---|---|")
	for _, c := range order {
		fmt.Fprintf(out, "| %s | %d / %d |\n", c, per[c].pass, per[c].tried)
	}
	for _, r := range results {
		if r.err != nil {
			outp := r.output
			if len(outp) > 1500 {
				outp = outp[len(outp)-1500:]
			}
			fmt.Fprintf(out, "\nFAIL %s %s: %s\n  $ %s\n%s\n", r.cloud, r.name, r.err, strings.Join(r.args, " "), indent(outp))
		}
	}
	if failed > 0 {
		return 1
	}
	return 0
}

func indent(s string) string {
	if s == "" {
		return ""
	}
	return "  | " + strings.ReplaceAll(s, "\n", "\n  | ")
}
