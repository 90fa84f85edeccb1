package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/nodecheck"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/nodesignal"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// Exit statuses.
const (
	exitPass      = 0
	exitFail      = 1
	exitCannotRun = 2
)

// deps are what the command talks to, replaceable in tests.
type deps struct {
	nvml func() nvml.Interface
	kube func(kubeconfig string) (kubernetes.Interface, error)
}

func inClusterClient(kubeconfig string) (kubernetes.Interface, error) {
	var cfg *rest.Config
	var err error
	if kubeconfig != "" {
		cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
	} else {
		cfg, err = rest.InClusterConfig()
	}
	if err != nil {
		return nil, err
	}
	cfg.UserAgent = "gpufleet-nodecheck"
	return kubernetes.NewForConfig(cfg)
}

type flags struct {
	instanceType, gpuModel, fabric, minDriver, kernelLog, format, nodeName, kubeconfig, failAction string
	gpus, nvlinks                                                                                  int
	memoryGiB                                                                                      float64
	mig, kube                                                                                      bool
	fabricTimeout, interval                                                                        time.Duration
}

func parseFlags(args []string, stderr io.Writer) (*flags, error) {
	fs := flag.NewFlagSet("gpufleet-nodecheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := &flags{}
	fs.StringVar(&f.instanceType, "instance-type", "", "instance type whose hardware profile the node must match (from the gpufleet catalog)")
	fs.IntVar(&f.gpus, "gpus", 0, "expected GPU count (overrides the profile)")
	fs.StringVar(&f.gpuModel, "gpu-model", "", "expected GPU model, e.g. H100 (overrides the profile)")
	fs.Float64Var(&f.memoryGiB, "gpu-memory-gib", 0, "expected memory per GPU in GiB (overrides the profile)")
	fs.IntVar(&f.nvlinks, "nvlinks", -1, "NVLink links that must be active per GPU (overrides the profile)")
	fs.StringVar(&f.fabric, "fabric-manager", "auto", "whether the fabric manager must have trained the NVSwitch fabric: auto (from the profile), true or false")
	fs.BoolVar(&f.mig, "mig", false, "the GPUs must be in MIG mode")
	fs.StringVar(&f.minDriver, "min-driver-version", "", "oldest acceptable NVIDIA driver, e.g. 550.54")
	fs.DurationVar(&f.fabricTimeout, "fabric-timeout", 2*time.Minute, "how long to wait while the fabric is still training")
	fs.StringVar(&f.kernelLog, "kernel-log", "/dev/kmsg", "kernel log to read past XID errors from; empty to skip")
	fs.StringVar(&f.format, "format", "table", "output format: table or json")
	fs.BoolVar(&f.kube, "kubernetes", false, "signal the result on this node: remove the gpufleet.dev/unvalidated taint on pass, keep it and label/annotate on fail")
	fs.StringVar(&f.nodeName, "node-name", os.Getenv("NODE_NAME"), "name of this node (default $NODE_NAME)")
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file; default: the in-cluster service account")
	fs.StringVar(&f.failAction, "fail-action", "taint", "on failure, besides keeping the taint: taint (nothing more) or cordon")
	fs.DurationVar(&f.interval, "interval", 0, "with --kubernetes, re-check this often (and at once on an XID error); 0 checks once")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch {
	case f.format != "table" && f.format != "json":
		return nil, fmt.Errorf("--format must be table or json, got %q", f.format)
	case f.failAction != string(nodesignal.FailTaint) && f.failAction != string(nodesignal.FailCordon):
		return nil, fmt.Errorf("--fail-action must be taint or cordon, got %q", f.failAction)
	case f.fabric != "auto" && f.fabric != "true" && f.fabric != "false":
		return nil, fmt.Errorf("--fabric-manager must be auto, true or false, got %q", f.fabric)
	case f.kube && f.nodeName == "":
		return nil, errors.New("--kubernetes needs --node-name (or $NODE_NAME from the downward API's spec.nodeName)")
	case f.interval < 0 || (f.interval > 0 && f.interval < 30*time.Second):
		return nil, fmt.Errorf("--interval must be 0 or at least 30s, got %s", f.interval)
	}
	return f, nil
}

// profile builds the expected hardware from the catalog and the overrides.
func (f *flags) profile() (nodecheck.Profile, error) {
	var p nodecheck.Profile
	if f.instanceType != "" {
		var err error
		if p, err = nodecheck.ProfileFor(planner.Embedded(), f.instanceType); err != nil {
			return p, err
		}
	}
	if f.gpus > 0 {
		p.GPUCount = f.gpus
	}
	if f.gpuModel != "" {
		p.GPUModel = f.gpuModel
	}
	if f.memoryGiB > 0 {
		p.MemoryGiB = f.memoryGiB
	}
	if f.nvlinks >= 0 {
		p.NVLinks = f.nvlinks
	}
	if f.fabric != "auto" {
		p.FabricManager = f.fabric == "true"
	}
	p.MIG = f.mig
	if err := p.Validate(); err != nil {
		return p, fmt.Errorf("incomplete hardware profile: %v; pass --instance-type or --gpus, --gpu-model and --gpu-memory-gib", err)
	}
	return p, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, d deps) int {
	f, err := parseFlags(args, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stderr, "gpufleet-nodecheck: %v\n", err)
		}
		return exitCannotRun
	}
	p, err := f.profile()
	if err != nil {
		fmt.Fprintf(stderr, "gpufleet-nodecheck: %v\n", err)
		return exitCannotRun
	}
	opts := nodecheck.Options{Profile: p, MinDriverVersion: f.minDriver, FabricTimeout: f.fabricTimeout}
	if f.kernelLog != "" {
		path := f.kernelLog
		opts.KernelLog = func() ([]string, error) { return nodecheck.ReadKernelLog(path) }
	}
	lib := d.nvml()
	if !f.kube {
		r, err := nodecheck.Run(lib, opts)
		if err != nil {
			fmt.Fprintf(stderr, "gpufleet-nodecheck: %v\n", err)
			return exitCannotRun
		}
		write(stdout, f.format, f.nodeName, r)
		return exitCode(r)
	}
	client, err := d.kube(f.kubeconfig)
	if err != nil {
		fmt.Fprintf(stderr, "gpufleet-nodecheck: cannot reach the Kubernetes API: %v\n", err)
		return exitCannotRun
	}
	s := &nodesignal.Signaler{Client: client, Node: f.nodeName, FailAction: nodesignal.FailAction(f.failAction)}
	return watch(ctx, lib, opts, s, f, stdout, stderr)
}

// watch checks, signals, and with an interval keeps re-checking; an XID
// event cuts the wait short, and fatal XIDs stay in every later check (the
// GPU needs a reset, which restarts the node and this process).
func watch(ctx context.Context, lib nvml.Interface, opts nodecheck.Options, s *nodesignal.Signaler, f *flags, stdout, stderr io.Writer) int {
	if ret := lib.Init(); ret != nvml.SUCCESS {
		fmt.Fprintf(stderr, "gpufleet-nodecheck: %v: NVML did not start: %s\n", nodecheck.ErrCannotRun, ret.Error())
		return exitCannotRun
	}
	defer lib.Shutdown()
	var watcher *nodecheck.XIDWatcher
	if f.interval > 0 {
		w, err := nodecheck.WatchXIDs(lib)
		if err != nil {
			fmt.Fprintf(stderr, "gpufleet-nodecheck: XID events unavailable, re-checking on the interval only: %v\n", err)
		} else {
			watcher = w
			defer w.Close()
		}
	}
	var sticky, fresh []nodecheck.XIDEvent
	for {
		opts.Events = append(append([]nodecheck.XIDEvent(nil), sticky...), fresh...)
		for _, e := range fresh {
			if nodecheck.ClassifyXID(e.XID) == nodecheck.XIDFatal {
				sticky = append(sticky, e)
			}
		}
		r, err := nodecheck.Run(lib, opts)
		if err != nil {
			fmt.Fprintf(stderr, "gpufleet-nodecheck: %v\n", err)
			return exitCannotRun
		}
		write(stdout, f.format, f.nodeName, r)
		if err := s.Signal(ctx, r); err != nil {
			fmt.Fprintf(stderr, "gpufleet-nodecheck: %v\n", err)
			if f.interval == 0 {
				return exitCannotRun
			}
		}
		if f.interval == 0 {
			return exitCode(r)
		}
		fresh = waitForEvents(ctx, watcher, f.interval)
		if ctx.Err() != nil {
			return exitCode(r)
		}
	}
}

// waitForEvents waits for the interval, returning early with any XID events.
func waitForEvents(ctx context.Context, w *nodecheck.XIDWatcher, interval time.Duration) []nodecheck.XIDEvent {
	deadline := time.Now().Add(interval)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		step := min(time.Until(deadline), 5*time.Second)
		if w == nil {
			select {
			case <-ctx.Done():
			case <-time.After(step):
			}
			continue
		}
		if events := w.Wait(uint32(step / time.Millisecond)); len(events) > 0 {
			return events
		}
	}
	return nil
}

func exitCode(r *nodecheck.Report) int {
	if r.Status == nodecheck.Fail {
		return exitFail
	}
	return exitPass
}

type jsonReport struct {
	Node string `json:"node,omitempty"`
	*nodecheck.Report
}

func write(w io.Writer, format, node string, r *nodecheck.Report) {
	if format == "json" {
		enc := json.NewEncoder(w)
		_ = enc.Encode(jsonReport{Node: node, Report: r})
		return
	}
	p := r.Profile
	fmt.Fprintf(w, "Node %s: %s — %d x %s (%g GiB), driver %s, CUDA %s\n\n", orDash(node), strings.ToUpper(string(r.Status)),
		p.GPUCount, p.GPUModel, p.MemoryGiB, r.DriverVersion, r.CUDADriverVersion)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tGPU\tSTATUS\tREASON")
	for _, res := range r.Results {
		gpu := "-"
		if res.GPU >= 0 {
			gpu = fmt.Sprint(res.GPU)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", res.Check, gpu, res.Status, res.Reason)
	}
	tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
