// Command gpufleet-nodecheck validates the GPUs of the node it runs on
// through NVML and, in --kubernetes mode, removes the node's
// gpufleet.dev/unvalidated taint only when they are healthy.
//
//	gpufleet-nodecheck --instance-type p5.48xlarge [--format json]
//	gpufleet-nodecheck --kubernetes --node-name $NODE_NAME --instance-type p5.48xlarge --interval 5m
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

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, defaultDeps()))
}

func defaultDeps() deps {
	return deps{nvml: func() nvml.Interface { return nvml.New() }, kube: inClusterClient}
}
