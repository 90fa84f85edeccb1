package kubefront

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"sync"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// PodRunner runs the container of a pod the simulated kubelet starts. Run
// returns when the container exits, or when ctx ends (the pod was deleted
// or the server closes; the result is then ignored).
type PodRunner interface {
	Run(ctx context.Context, p PodRun) PodResult
}

// PodRunnerFunc adapts a function to PodRunner.
type PodRunnerFunc func(ctx context.Context, p PodRun) PodResult

// Run calls f.
func (f PodRunnerFunc) Run(ctx context.Context, p PodRun) PodResult { return f(ctx, p) }

// PodRun is one start of a pod's (first) container on a simulated node.
type PodRun struct {
	// Cloud, Region and Cluster name the cluster.
	Cloud, Region, Cluster    string
	Namespace, Pod, Container string
	// NodeName is the pod's spec.nodeName; Node is the engine's machine
	// behind it, with its GPU faults.
	NodeName string
	Node     cloudsim.Node
	// InstanceType, GPUModel and GPUs describe the node's pool.
	InstanceType, GPUModel string
	GPUs                   int
	Image                  string
	// Command and Args are the container's, with $(VAR) references to
	// its environment expanded.
	Command, Args []string
	// Env is the container's environment (values and the downward API
	// fields spec.nodeName, metadata.name, metadata.namespace, ...).
	Env map[string]string
	// Kubeconfig is a kubeconfig file for the pod's service account:
	// https://127.0.0.1:PORT, the cluster's TLS server name and CA, and a
	// token the server minted.
	Kubeconfig string
	// Restart is the container's restartCount for this start.
	Restart int
	// Log receives the container's output (kubectl logs).
	Log io.Writer
}

// ClusterKey is "cloud/region/cluster".
func (p PodRun) ClusterKey() string { return key3(p.Cloud, p.Region, p.Cluster) }

// EnvList is Env as sorted NAME=VALUE strings.
func (p PodRun) EnvList() []string {
	var out []string
	for k, v := range p.Env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// PodResult is how a container ended.
type PodResult struct {
	// ExitCode is the container's exit status.
	ExitCode int
	// Err is set when the container could not run at all; the pod then
	// fails with exit code 128 unless ExitCode says otherwise.
	Err error
}

// ExecRunner runs a local gpufleet-nodecheck binary as the container:
//
//	<Binary> <args...> --kubeconfig <file> --simulate-gpus <MODEL>:<COUNT>
//	    [--simulate-fault <kind>:<gpu>]... --kernel-log ""
//
// with the pod's environment (NODE_NAME from the downward API) and its
// output as the container log. The image is not used.
type ExecRunner struct {
	Binary string
}

// Args is the command line ExecRunner runs for p (without the binary).
func (r ExecRunner) Args(p PodRun) []string {
	args := append([]string(nil), p.Args...)
	args = append(args, "--kubeconfig", p.Kubeconfig)
	if p.GPUs > 0 {
		args = append(args, "--simulate-gpus", fmt.Sprintf("%s:%d", p.GPUModel, p.GPUs))
	}
	for _, f := range p.Node.GPUFaults {
		args = append(args, "--simulate-fault", fmt.Sprintf("%s:%d", f.Kind, f.GPU))
	}
	return append(args, "--kernel-log", "")
}

// Run runs the binary until it exits or ctx ends.
func (r ExecRunner) Run(ctx context.Context, p PodRun) PodResult {
	if r.Binary == "" {
		return PodResult{ExitCode: 128, Err: errors.New("kubefront: ExecRunner has no binary")}
	}
	cmd := exec.CommandContext(ctx, r.Binary, r.Args(p)...)
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(), "TMPDIR=" + os.TempDir()}
	cmd.Env = append(env, p.EnvList()...)
	cmd.Stdout, cmd.Stderr = p.Log, p.Log
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return PodResult{}
	case errors.As(err, &exit):
		return PodResult{ExitCode: exit.ExitCode()}
	}
	return PodResult{ExitCode: 128, Err: err}
}

// logBuffer is a container log, capped.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

const maxLog = 1 << 20

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buf.Len()+len(p) > maxLog {
		b := append([]byte(nil), l.buf.Bytes()[min(l.buf.Len(), len(p)+maxLog/4):]...)
		l.buf.Reset()
		l.buf.Write(b)
	}
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
