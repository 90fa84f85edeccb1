// Command gpufleet-nodecheck validates the GPUs of the node it runs on
// through NVML and, in --kubernetes mode, removes the node's
// gpufleet.dev/unvalidated taint only when they are healthy.
//
//	gpufleet-nodecheck --instance-type p5.48xlarge [--format json]
//	gpufleet-nodecheck --kubernetes --node-name $NODE_NAME --interval 5m
//	gpufleet-nodecheck --instance-type p5.48xlarge --simulate-gpus H100:8 --simulate-fault xid79:3
//
// In --kubernetes mode without --instance-type the profile comes from the
// node's node.kubernetes.io/instance-type label. --simulate-gpus replaces
// NVML (and the kernel log) with a simulated node for the simulated clouds.
//
// Exit status: 0 pass (warnings included), 1 fail, 2 could not run.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// version is set at build time with -ldflags "-X main.version=1.2.3".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, defaultDeps()))
}

func defaultDeps() deps {
	return deps{
		nvml:      func() nvml.Interface { return nvml.New() },
		kube:      inClusterClient,
		inPod:     func(kubeconfig string) bool { return kubeconfig == "" && os.Getenv("KUBERNETES_SERVICE_HOST") != "" },
		labelWait: defaultLabelWait,
	}
}
