// Package provider is the Terraform glue of gpufleet: schema, validation
// and state; the work happens in planner and the packages below it.
package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
)

var _ provider.Provider = &GPUFleetProvider{}

// GPUFleetProvider is the gpufleet Terraform provider.
type GPUFleetProvider struct {
	version string
}

// New returns a constructor for the provider at the given version.
func New(version string) func() provider.Provider {
	return func() provider.Provider { return &GPUFleetProvider{version: version} }
}

// Metadata names the provider.
func (p *GPUFleetProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "gpufleet"
	resp.Version = p.version
}

// Schema describes the provider configuration.
func (p *GPUFleetProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "Plans and provisions GPU fleets across AWS, GCP and Azure.",
	}
}

// Configure prepares the provider; nothing to configure yet.
func (p *GPUFleetProvider) Configure(context.Context, provider.ConfigureRequest, *provider.ConfigureResponse) {
}

// Resources lists the provider's resources.
func (p *GPUFleetProvider) Resources(context.Context) []func() resource.Resource { return nil }

// DataSources lists the provider's data sources.
func (p *GPUFleetProvider) DataSources(context.Context) []func() datasource.DataSource { return nil }
