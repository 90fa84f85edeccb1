package provider

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/ephemeral"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/lazyre"
)

var (
	_ ephemeral.EphemeralResource              = &ClusterCredentialsEphemeral{}
	_ ephemeral.EphemeralResourceWithConfigure = &ClusterCredentialsEphemeral{}
)

// EphemeralResources lists the provider's ephemeral resources (Terraform
// 1.10+, OpenTofu 1.11+).
func (p *GPUFleetProvider) EphemeralResources(context.Context) []func() ephemeral.EphemeralResource {
	return []func() ephemeral.EphemeralResource{NewClusterCredentialsEphemeral}
}

// ClusterCredentialsEphemeral is ephemeral "gpufleet_cluster_credentials":
// the endpoint, CA and short-lived credentials of a gpufleet_cluster's
// Kubernetes API, obtained by the provider itself through the cloud's
// backend (cloud.KubeAccess) and never written to state or plan.
type ClusterCredentialsEphemeral struct {
	data *providerData
}

// NewClusterCredentialsEphemeral is the gpufleet_cluster_credentials
// constructor.
func NewClusterCredentialsEphemeral() ephemeral.EphemeralResource {
	return &ClusterCredentialsEphemeral{}
}

type clusterCredentialsModel struct {
	ClusterID            types.String `tfsdk:"cluster_id"`
	Endpoint             types.String `tfsdk:"endpoint"`
	ClusterCACertificate types.String `tfsdk:"cluster_ca_certificate"`
	Token                types.String `tfsdk:"token"`
	ClientCertificate    types.String `tfsdk:"client_certificate"`
	ClientKey            types.String `tfsdk:"client_key"`
	ExpiresAt            types.String `tfsdk:"expires_at"`
}

// clusterIDRe is a gpufleet_cluster ID: cloud/region/name.
var clusterIDRe = lazyre.New(`^(aws|gcp|azure)/[a-z0-9-]+/[a-zA-Z][a-zA-Z0-9-]*$`)

// parseClusterID splits a gpufleet_cluster ID, "cloud/region/name".
func parseClusterID(id string) (cl, region, name string, err error) {
	if !clusterIDRe().MatchString(id) {
		return "", "", "", fmt.Errorf("%q is not a gpufleet_cluster ID: want cloud/region/name, e.g. aws/eu-central-1/gpufleet-aws-eu-central-1", id)
	}
	parts := strings.Split(id, "/")
	return parts[0], parts[1], parts[2], nil
}

// Metadata names the ephemeral resource.
func (r *ClusterCredentialsEphemeral) Metadata(_ context.Context, req ephemeral.MetadataRequest, resp *ephemeral.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_cluster_credentials"
}

// Schema describes gpufleet_cluster_credentials.
func (r *ClusterCredentialsEphemeral) Schema(_ context.Context, _ ephemeral.SchemaRequest, resp *ephemeral.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "Short-lived credentials for a `gpufleet_cluster`'s Kubernetes API, for the `kubernetes` and `helm` providers: " +
			"the endpoint, the cluster CA and a token (EKS: a presigned STS token; GKE: an OAuth 2.0 access token; " +
			"AKS: a Microsoft Entra ID token, or the local admin's client certificate on clusters without Entra ID). " +
			"The provider obtains them with the identity it calls the cloud with; no `aws`, `gke-gcloud-auth-plugin` or `kubelogin` binary is needed. " +
			"Ephemeral: never stored in the plan or the state (Terraform 1.10+, OpenTofu 1.11+). " +
			"With `simulate = true`, the simulated cluster's API server endpoint, CA and token.",
		Attributes: map[string]schema.Attribute{
			"cluster_id": schema.StringAttribute{Required: true,
				Description: "The cluster: `gpufleet_cluster.<name>.id` (`cloud/region/name`).",
				Validators: []validator.String{regexMatches(clusterIDRe,
					"must be a gpufleet_cluster ID, cloud/region/name, e.g. aws/eu-central-1/gpufleet-aws-eu-central-1")}},
			"endpoint": schema.StringAttribute{Computed: true,
				Description: "API server URL: the `host` of the kubernetes and helm providers."},
			"cluster_ca_certificate": schema.StringAttribute{Computed: true,
				Description: "Cluster CA, PEM (not base64): the `cluster_ca_certificate` of the kubernetes and helm providers."},
			"token": schema.StringAttribute{Computed: true, Sensitive: true,
				Description: "Bearer token; null when the cluster authenticates with a client certificate instead."},
			"client_certificate": schema.StringAttribute{Computed: true,
				Description: "Client certificate, PEM; null when a token is used (only AKS clusters without Entra ID have one)."},
			"client_key": schema.StringAttribute{Computed: true, Sensitive: true,
				Description: "Key of `client_certificate`, PEM; null when a token is used."},
			"expires_at": schema.StringAttribute{Computed: true,
				Description: "When the token stops working (RFC 3339, UTC, a margin before the cloud's own expiry: about 14 minutes after opening on EKS, " +
					"up to an hour on GKE and AKS); null for credentials that do not expire. Terraform opens the resource again on every plan and apply."},
		},
	}
}

// Configure receives the provider's backends.
func (r *ClusterCredentialsEphemeral) Configure(_ context.Context, req ephemeral.ConfigureRequest, resp *ephemeral.ConfigureResponse) {
	r.data = providerDataFrom(req.ProviderData, &resp.Diagnostics)
}

// Open obtains the credentials through the cluster's cloud backend.
func (r *ClusterCredentialsEphemeral) Open(ctx context.Context, req ephemeral.OpenRequest, resp *ephemeral.OpenResponse) {
	var m clusterCredentialsModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if r.data == nil {
		resp.Diagnostics.AddError("Provider not configured", "the gpufleet provider has no configuration")
		return
	}
	at := path.Root("cluster_id")
	cl, region, name, err := parseClusterID(m.ClusterID.ValueString())
	if err != nil {
		resp.Diagnostics.AddAttributeError(at, "Invalid cluster ID", err.Error())
		return
	}
	be, err := r.data.backends.get(ctx, cl)
	if err != nil {
		addBackendError(&resp.Diagnostics, at, "No backend for the cluster's cloud", err)
		return
	}
	ka, ok := be.(cloud.KubeAccess)
	if !ok {
		resp.Diagnostics.AddAttributeError(at, "No Kubernetes credentials", fmt.Sprintf("the %s backend cannot obtain Kubernetes credentials", cl))
		return
	}
	creds, err := ka.KubeCredentials(ctx, region, name)
	switch {
	case cloud.IsNotFound(err):
		resp.Diagnostics.AddAttributeError(at, "Cluster not found",
			fmt.Sprintf("There is no cluster %s in %s/%s: %v. Pass the ID of a gpufleet_cluster that exists: a reference to "+
				"gpufleet_cluster.<name>.id makes Terraform open the credentials after the cluster is created. An ID that reaches this "+
				"resource through a module variable hides that dependency: pass a value that is unknown until the cluster exists "+
				"(the gpu-fleet module's cluster_ids output is), or add depends_on.", name, cl, region, err))
		return
	case err != nil:
		resp.Diagnostics.AddAttributeError(at, "Cannot obtain the cluster's Kubernetes credentials",
			fmt.Sprintf("Kubernetes credentials for cluster %s in %s/%s: %v", name, cl, region, err))
		return
	}
	m.Endpoint = types.StringValue(creds.Endpoint)
	m.ClusterCACertificate = types.StringValue(string(creds.CAData))
	m.Token = nullIfEmpty(creds.BearerToken)
	m.ClientCertificate = nullIfEmpty(string(creds.ClientCertData))
	m.ClientKey = nullIfEmpty(string(creds.ClientKeyData))
	m.ExpiresAt = types.StringNull()
	if !creds.Expiry.IsZero() {
		m.ExpiresAt = types.StringValue(creds.Expiry.UTC().Format(time.RFC3339))
	}
	resp.Diagnostics.Append(resp.Result.Set(ctx, &m)...)
}

func nullIfEmpty(s string) types.String {
	if s == "" {
		return types.StringNull()
	}
	return types.StringValue(s)
}
