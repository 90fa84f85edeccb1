// Command terraform-provider-gpufleet serves the gpufleet Terraform provider.
package main

import (
	"context"
	"flag"
	"log"

	// First: its init turns the garbage collector off for the start.
	gcstart "github.com/gpufleet/terraform-provider-gpufleet/internal/startup"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6/tf6server"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/provider"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/simworld"
)

// version is set by goreleaser at release time.
var version = "dev"

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "run the provider with support for debuggers like delve")
	flag.Parse()

	// simulate = true serves its world in the gpufleet-simkube helper
	// process, so that the provider links no simulator: their package
	// set-up would cost every start (issue 14).
	serve := providerserver.NewProtocol6(provider.New(version, simworld.Helper)())
	var opts []tf6server.ServeOpt
	if debug {
		opts = append(opts, tf6server.WithManagedDebug())
	}
	err := tf6server.Serve("registry.terraform.io/gpufleet/gpufleet", func() tfprotov6.ProviderServer {
		return started(serve())
	}, opts...)
	if err != nil {
		log.Fatal(err.Error())
	}
}

// fullServer is what the framework's server implements: tf6server finds
// list resources, actions and state stores by type assertion, so a wrapper
// must implement them all to hide none.
type fullServer interface {
	tfprotov6.ProviderServer
	tfprotov6.ProviderServerWithListResource
	tfprotov6.ProviderServerWithActions
	tfprotov6.ProviderServerWithStateStores
}

// startedServer turns the garbage collector back on (gcstart.Done) once
// the start is over: when Terraform has the schema or configures the
// provider, whichever comes first.
type startedServer struct{ fullServer }

// started wraps s in a startedServer; a server that lacks one of
// fullServer's interfaces is served as it is (gcstart's timer then turns
// the collector back on).
func started(s tfprotov6.ProviderServer) tfprotov6.ProviderServer {
	if f, ok := s.(fullServer); ok {
		return startedServer{f}
	}
	return s
}

func (s startedServer) GetProviderSchema(ctx context.Context, req *tfprotov6.GetProviderSchemaRequest) (*tfprotov6.GetProviderSchemaResponse, error) {
	defer gcstart.Done()
	return s.fullServer.GetProviderSchema(ctx, req)
}

func (s startedServer) ConfigureProvider(ctx context.Context, req *tfprotov6.ConfigureProviderRequest) (*tfprotov6.ConfigureProviderResponse, error) {
	gcstart.Done()
	return s.fullServer.ConfigureProvider(ctx, req)
}
