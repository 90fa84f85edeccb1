package awsremote_test

import (
	"context"
	"testing"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	awsbackend "github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/aws"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/awsremote"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/awsremote/awsserve"
)

// BenchmarkHelperStart is what the first AWS call of a provider process
// costs on top of the call: starting gpufleet-aws, its greeting, the
// connection, and the first call (a DescribeCluster the simulator
// answers ResourceNotFound), then stopping it.
func BenchmarkHelperStart(b *testing.B) {
	_, s := world(b)
	ctx := context.Background()
	for b.Loop() {
		c := &awsremote.Client{Bin: helperBin}
		if _, err := awsremote.NewBackend(c, s).GetCluster(ctx, euc1, "none"); !cloud.IsNotFound(err) {
			b.Fatal(err)
		}
		c.Close()
	}
}

// BenchmarkCall compares one call (GetCluster answered ResourceNotFound
// by the simulated EKS) on the SDK backend in process and through the
// bridge to a serving helper.
func BenchmarkCall(b *testing.B) {
	_, s := world(b)
	ctx := context.Background()
	local, err := awsbackend.New(ctx, awsbackend.ConfigOf(s))
	if err != nil {
		b.Fatal(err)
	}
	c := &awsremote.Client{Bin: helperBin}
	b.Cleanup(c.Close)
	for _, bc := range []struct {
		name string
		b    cloud.Backend
	}{{"in-process", local}, {"helper", awsremote.NewBackend(c, s)}, {"socket-in-process", awsremote.NewBackend(inProcess(b, awsserve.Implementation), s)}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := bc.b.GetCluster(ctx, euc1, "none"); !cloud.IsNotFound(err) {
					b.Fatal(err)
				}
			}
		})
	}
}
