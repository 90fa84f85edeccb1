// Command terraform-provider-gpufleet serves the gpufleet Terraform provider.
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"strings"

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
	if err := quietSDKLogs(os.Environ(), os.Setenv); err != nil {
		log.Fatal(err.Error())
	}
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

// startedServer turns the garbage collector back on (gcstart.Done) when
// Terraform configures the provider, the first call that does work with
// the heap the start built. Not when it has the schema: collection turned
// on then runs while the answer is marshalled and sent (issue 14: half of
// a start's instructions to the schema, and 3 ms of its wall time), and
// many starts end right after the schema (Terraform asks each provider
// process for it first, and some for nothing else). gcstart's timer and
// memory limit bound a start that is never configured.
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

func (s startedServer) ConfigureProvider(ctx context.Context, req *tfprotov6.ConfigureProviderRequest) (*tfprotov6.ConfigureProviderResponse, error) {
	gcstart.Done()
	return s.fullServer.ConfigureProvider(ctx, req)
}

// sdkLogLevels are the environment variables that set the levels of the
// loggers terraform-plugin-go and the framework write to stderr (and of
// the provider's own tflog logger), which default to TRACE.
var sdkLogLevels = []string{"TF_LOG_SDK", "TF_LOG_SDK_PROTO", "TF_LOG_SDK_FRAMEWORK", "TF_LOG_PROVIDER"}

// quietSDKLogs turns the SDK's loggers off when Terraform discards what
// they write: the provider inherits Terraform's environment, and
// Terraform (and OpenTofu) keep a provider's log lines only when TF_LOG or
// TF_LOG_PROVIDER sets a level; otherwise every call formatted JSON trace
// lines that nobody reads (a fifth of GetProviderSchema's time, issue 14).
// Any TF_LOG* variable with a value leaves every level as the user set it.
func quietSDKLogs(environ []string, setenv func(key, value string) error) error {
	for _, kv := range environ {
		if k, v, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "TF_LOG") && v != "" {
			return nil
		}
	}
	for _, k := range sdkLogLevels {
		if err := setenv(k, "OFF"); err != nil {
			return err
		}
	}
	return nil
}
