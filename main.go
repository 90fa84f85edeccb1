// Command terraform-provider-gpufleet serves the gpufleet Terraform provider.
package main

import (
	"context"
	"flag"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

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

	err := providerserver.Serve(context.Background(), provider.New(version, simworld.Helper), providerserver.ServeOpts{
		Address: "registry.terraform.io/gpufleet/gpufleet",
		Debug:   debug,
	})
	if err != nil {
		log.Fatal(err.Error())
	}
}
