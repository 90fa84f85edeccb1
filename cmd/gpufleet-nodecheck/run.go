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
	"github.com/gpufleet/terraform-provider-gpufleet/internal/nodecheck/nvmlsim"
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
	// inPod reports whether the process runs in a Kubernetes pod (with the
	// in-cluster service account), where exiting restarts the container.
	inPod func(kubeconfig string) bool
	// labelWait is how long to wait for the node's instance-type label.
	labelWait time.Duration
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
	mig, kube, version                                                                             bool
	fabricTimeout, interval                                                                        time.Duration
	// sim is the simulated node of --simulate-gpus; nil uses real NVML.
	sim *nvmlsim.Node
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
	fs.DurationVar(&f.interval, "interval", 0, "with --kubernetes, re-check this often (and at once on an XID error); 0 checks once, then exits (or, in a pod, waits to be stopped)")
	fs.BoolVar(&f.version, "version", false, "print the version and exit")
	var simGPUs string
	var faults []nvmlsim.Fault
	fs.StringVar(&simGPUs, "simulate-gpus", "", "simulated clouds only: replace NVML and the kernel log with a healthy simulated node of COUNT GPUs of MODEL, e.g. H100:8 (models: "+strings.Join(nvmlsim.Models(), ", ")+")")
	fs.Func("simulate-fault", "with --simulate-gpus, break GPU INDEX with KIND (xid79, ecc_uncorrectable, missing_gpu, nvlink_down, fabric_manager), e.g. xid79:3; repeatable", func(v string) error {
		fault, err := nvmlsim.ParseFault(v)
		faults = append(faults, fault)
		return err
	})
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if f.version {
		return f, nil
	}
	if simGPUs != "" {
		model, count, err := nvmlsim.ParseGPUs(simGPUs)
		if err != nil {
			return nil, err
		}
		f.sim = &nvmlsim.Node{Model: model, Count: count, Faults: faults}
		if err := f.sim.Validate(); err != nil {
			return nil, fmt.Errorf("--simulate-fault: %v", err)
		}
	} else if len(faults) > 0 {
		return nil, errors.New("--simulate-fault needs --simulate-gpus")
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

// profileFromNode reports whether the profile comes from the node's
// instance-type label: in --kubernetes mode when no flag names the
// instance type or the GPUs.
func (f *flags) profileFromNode() bool {
	return f.kube && f.instanceType == "" && f.gpus == 0 && f.gpuModel == "" && f.memoryGiB == 0
}

// profile builds the expected hardware from the catalog and the overrides.
func (f *flags) profile() (nodecheck.Profile, error) {
	return f.profileOf(f.instanceType)
}

// profileOf builds the profile of an instance type (none when empty) with
// the overrides applied.
func (f *flags) profileOf(instanceType string) (nodecheck.Profile, error) {
	var p nodecheck.Profile
	if instanceType != "" {
		var err error
		if p, err = nodecheck.ProfileFor(planner.Embedded(), instanceType); err != nil {
			return p, err
		}
	}
	return f.withOverrides(p)
}

// withOverrides is p with the flags' overrides applied.
func (f *flags) withOverrides(p nodecheck.Profile) (nodecheck.Profile, error) {
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
	if f.version {
		fmt.Fprintf(stdout, "gpufleet-nodecheck %s\n", version)
		return exitPass
	}
	opts := nodecheck.Options{MinDriverVersion: f.minDriver, FabricTimeout: f.fabricTimeout}
	var lib nvml.Interface
	if f.sim != nil {
		// A simulated node has no host to read a kernel log from: its
		// kernel log holds what the simulated faults logged.
		sim, err := f.sim.Server()
		if err != nil {
			fmt.Fprintf(stderr, "gpufleet-nodecheck: --simulate-gpus: %v\n", err)
			return exitCannotRun
		}
		lib = sim
		node := *f.sim
		opts.KernelLog = func() ([]string, error) { return node.KernelLog(), nil }
	} else {
		lib = d.nvml()
		if f.kernelLog != "" {
			path := f.kernelLog
			opts.KernelLog = func() ([]string, error) { return nodecheck.ReadKernelLog(path) }
		}
	}
	if !f.kube {
		p, err := f.checkedProfile(f.instanceType)
		if err != nil {
			fmt.Fprintf(stderr, "gpufleet-nodecheck: %v\n", err)
			return exitCannotRun
		}
		opts.Profile = p
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
	v := &validator{
		lib: lib, opts: opts, f: f, d: d, client: client, stdout: stdout, stderr: stderr,
		signaler: &nodesignal.Signaler{Client: client, Node: f.nodeName, FailAction: nodesignal.FailAction(f.failAction)},
	}
	return v.watch(ctx)
}

// checkedProfile is profileOf, refusing simulated faults that the
// profile's checks cannot observe.
func (f *flags) checkedProfile(instanceType string) (nodecheck.Profile, error) {
	p, err := f.profileOf(instanceType)
	if err == nil && f.sim != nil {
		err = f.sim.Observable(p)
	}
	return p, err
}

// Checks of the validator itself, signalled on the node like GPU checks
// when the GPUs cannot be judged.
const (
	// checkProfile fails when the node's hardware profile is unknown: no
	// instance-type label, or an instance type the catalog lacks.
	checkProfile = "profile"
	// checkNVML fails when NVML cannot be used: no driver, no library.
	checkNVML = "nvml"
)

// validator checks one Kubernetes node and signals the result on it.
type validator struct {
	lib      nvml.Interface
	opts     nodecheck.Options
	f        *flags
	d        deps
	client   kubernetes.Interface
	signaler *nodesignal.Signaler
	stdout   io.Writer
	stderr   io.Writer

	profile *nodecheck.Profile
	nvmlUp  bool
	watcher *nodecheck.XIDWatcher
	// sticky are the fatal XIDs received so far: they stay in every later
	// check (the GPU needs a reset, which restarts the node and this process).
	sticky []nodecheck.XIDEvent
}

// watch checks, signals, and with an interval keeps re-checking; an XID
// event cuts the wait short. Without an interval it returns the check's
// exit status, except in a pod, where it waits to be stopped after a
// completed check (a DaemonSet restarts containers that exit, even with
// status 0). A check that cannot run (unknown profile, no NVML) is
// signalled on the node as a failure; with an interval it is retried.
func (v *validator) watch(ctx context.Context) int {
	defer func() {
		if v.watcher != nil {
			v.watcher.Close()
		}
		if v.nvmlUp {
			v.lib.Shutdown()
		}
	}()
	var fresh []nodecheck.XIDEvent
	for {
		code, done := v.checkOnce(ctx, fresh)
		if done {
			return code
		}
		if v.f.interval == 0 {
			if code != exitCannotRun && v.d.inPod(v.f.kubeconfig) {
				fmt.Fprintf(v.stderr, "gpufleet-nodecheck: checked once (--interval 0); waiting to be stopped, since a DaemonSet restarts containers that exit\n")
				<-ctx.Done()
			}
			return code
		}
		fresh = waitForEvents(ctx, v.watcher, v.f.interval)
		if ctx.Err() != nil {
			return code
		}
	}
}

// checkOnce runs one check with the XID events received since the last,
// and signals it. done is true when the command must stop at once.
func (v *validator) checkOnce(ctx context.Context, fresh []nodecheck.XIDEvent) (code int, done bool) {
	if v.profile == nil {
		p, err := v.resolveProfile(ctx)
		if errors.Is(err, errNotSignalled) {
			fmt.Fprintf(v.stderr, "gpufleet-nodecheck: %v\n", err)
			return exitCannotRun, true
		}
		if err != nil {
			return v.cannotRun(ctx, nodecheck.Profile{}, checkProfile, err), false
		}
		v.profile = &p
		v.opts.Profile = p
	}
	if !v.nvmlUp {
		if ret := v.lib.Init(); ret != nvml.SUCCESS {
			err := fmt.Errorf("%w: NVML did not start: %s (is the NVIDIA driver installed, and does the pod get NVML from the NVIDIA container runtime or a driver mount?)", nodecheck.ErrCannotRun, ret.Error())
			return v.cannotRun(ctx, *v.profile, checkNVML, err), false
		}
		v.nvmlUp = true
		if v.f.interval > 0 {
			w, err := nodecheck.WatchXIDs(v.lib)
			if err != nil {
				fmt.Fprintf(v.stderr, "gpufleet-nodecheck: XID events unavailable, re-checking on the interval only: %v\n", err)
			} else {
				v.watcher = w
			}
		}
	}
	v.opts.Events = append(append([]nodecheck.XIDEvent(nil), v.sticky...), fresh...)
	for _, e := range fresh {
		if nodecheck.ClassifyXID(e.XID) == nodecheck.XIDFatal {
			v.sticky = append(v.sticky, e)
		}
	}
	r, err := nodecheck.Run(v.lib, v.opts)
	if err != nil {
		return v.cannotRun(ctx, *v.profile, checkNVML, err), false
	}
	write(v.stdout, v.f.format, v.f.nodeName, r)
	if err := v.signaler.Signal(ctx, r); err != nil {
		fmt.Fprintf(v.stderr, "gpufleet-nodecheck: %v\n", err)
		if v.f.interval == 0 {
			return exitCannotRun, true
		}
	}
	return exitCode(r), false
}

// cannotRun signals a check of the validator itself as failed, so that
// the node shows why it stays tainted, and returns exitCannotRun.
func (v *validator) cannotRun(ctx context.Context, p nodecheck.Profile, check string, err error) int {
	fmt.Fprintf(v.stderr, "gpufleet-nodecheck: %v\n", err)
	r := &nodecheck.Report{Profile: p, Status: nodecheck.Fail, Results: []nodecheck.Result{
		{Check: check, GPU: -1, Status: nodecheck.Fail, Reason: err.Error()},
	}}
	write(v.stdout, v.f.format, v.f.nodeName, r)
	if err := v.signaler.Signal(ctx, r); err != nil {
		fmt.Fprintf(v.stderr, "gpufleet-nodecheck: %v\n", err)
	}
	return exitCannotRun
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
