// Package awsserve is the gpufleet-aws helper: awsremote's protocol served
// on the AWS SDK, with the EKS backend of internal/cloud/aws and the live
// sources of internal/livecatalog/awslive. Only the helper (and tests)
// link it.
package awsserve

import (
	"context"
	"fmt"
	"io"

	awsbackend "github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/aws"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/awsconfig"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/awsremote"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/livecatalog/awslive"
)

// Implementation is what the helper serves: the SDK backend of each
// settings, and the SDK live sources.
var Implementation = awsremote.Implementation{
	Backend: func(ctx context.Context, s awsconfig.Settings) (awsremote.Full, error) {
		return awsbackend.New(ctx, awsbackend.ConfigOf(s))
	},
	Sources: awslive.Sources,
}

// Main is gpufleet-aws with args: "serve" serves the provider that
// started it (awsremote.Serve) until the provider stops it or exits.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) != 1 || args[0] != "serve" {
		fmt.Fprintln(stderr, "usage: "+awsremote.HelperName+" serve   (run by the gpufleet provider, which writes its greeting on stdin)")
		return 2
	}
	if err := awsremote.Serve(stdin, stdout, Implementation); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", awsremote.HelperName, err)
		return 1
	}
	return 0
}
