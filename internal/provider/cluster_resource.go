package provider

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/boolplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/objectplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/lazyre"
)

var (
	_ resource.Resource                = &ClusterResource{}
	_ resource.ResourceWithConfigure   = &ClusterResource{}
	_ resource.ResourceWithImportState = &ClusterResource{}
	_ resource.ResourceWithModifyPlan  = &ClusterResource{}
)

// ClusterResource is gpufleet_cluster: one Kubernetes control plane at one
// site (EKS, GKE or AKS).
type ClusterResource struct {
	data *providerData
	// version is the provider's, for the default validator image.
	version string
}

// NewClusterResource is the gpufleet_cluster constructor.
func NewClusterResource() resource.Resource { return &ClusterResource{} }

// clusterResourceAt is the gpufleet_cluster constructor of a provider
// version.
func clusterResourceAt(version string) func() resource.Resource {
	return func() resource.Resource { return &ClusterResource{version: version} }
}

type clusterModel struct {
	Site                  types.String `tfsdk:"site"`
	Name                  types.String `tfsdk:"name"`
	KubernetesVersion     types.String `tfsdk:"kubernetes_version"`
	EndpointPublicAccess  types.Bool   `tfsdk:"endpoint_public_access"`
	EndpointPrivateAccess types.Bool   `tfsdk:"endpoint_private_access"`
	Network               types.Object `tfsdk:"network"`
	Azure                 types.Object `tfsdk:"azure"`
	ID                    types.String `tfsdk:"id"`
	Cloud                 types.String `tfsdk:"cloud"`
	Region                types.String `tfsdk:"region"`
	Endpoint              types.String `tfsdk:"endpoint"`
	CACertificate         types.String `tfsdk:"ca_certificate"`
	ServiceCIDR           types.String `tfsdk:"service_cidr"`
	Kubeconfig            types.String `tfsdk:"kubeconfig"`
	StoreKubeconfig       types.Bool   `tfsdk:"store_kubeconfig"`
	CloudID               types.String `tfsdk:"cloud_id"`
	NodeValidation        types.Object `tfsdk:"node_validation"`
	Validator             types.String `tfsdk:"validator"`
}

// DefaultKubernetesVersion is used when kubernetes_version is not set.
const DefaultKubernetesVersion = "1.31"

var siteRe = lazyre.New(`^(aws|gcp|azure)/[a-z0-9-]+$`)

// Metadata names the resource.
func (r *ClusterResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_cluster"
}

// Schema describes gpufleet_cluster.
func (r *ClusterResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	known := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	resp.Schema = schema.Schema{
		Description: "A Kubernetes control plane at one site of a placement: EKS on AWS, GKE on GCP, AKS on Azure. Delete waits until the cluster is gone; a cluster deleted out of band is planned for re-creation.",
		Attributes: map[string]schema.Attribute{
			"site": schema.StringAttribute{Required: true, PlanModifiers: replace,
				Description: "The site, `cloud/region`: a key of `gpufleet_placement.sites` (use `each.key` with `for_each`).",
				Validators:  []validator.String{regexMatches(siteRe, "must be cloud/region, e.g. aws/eu-central-1")}},
			"name": schema.StringAttribute{Optional: true, Computed: true, PlanModifiers: append(replace, stringplanmodifier.UseStateForUnknown()),
				Description: "Cluster name. Default: `gpufleet-` and the site, e.g. `gpufleet-aws-eu-central-1`.",
				Validators: []validator.String{stringvalidator.LengthBetween(1, 40),
					regexMatches(lazyre.New(`^[a-zA-Z][a-zA-Z0-9-]*$`), "must start with a letter and hold only letters, digits and hyphens")}},
			"kubernetes_version": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(DefaultKubernetesVersion),
				PlanModifiers: replace, Description: "Kubernetes version. Default " + DefaultKubernetesVersion + ". Changing it replaces the cluster (in-place upgrades come later).",
				Validators: []validator.String{regexMatches(lazyre.New(`^1\.[0-9]+$`), "must be like 1.31")}},
			"endpoint_public_access": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(true),
				PlanModifiers: []planmodifier.Bool{boolplanmodifier.RequiresReplace()}, Description: "Expose the API server publicly. Default true."},
			"endpoint_private_access": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(true),
				PlanModifiers: []planmodifier.Bool{boolplanmodifier.RequiresReplace()}, Description: "Expose the API server inside the VPC. Default true."},
			"network": schema.SingleNestedAttribute{Optional: true, Attributes: clusterNetworkAttributes(),
				PlanModifiers: []planmodifier.Object{objectplanmodifier.RequiresReplaceIf(networkMoved,
					"Moving a cluster to another network (or changing its pod or service range) replaces it.",
					"Moving a cluster to another network (or changing its pod or service range) replaces it.")},
				Description: "The site's network: `gpufleet_network.<name>.networks[each.key]`. The control plane and the node pools go in its subnets " +
					"(each pool in the subnet of its zone), with its pod and service ranges. Unset: the cloud's default networking. " +
					"Changing the network ID or ranges replaces the cluster; new subnets and gateways do not."},
			"azure":          clusterAzureSchema(),
			"id":             schema.StringAttribute{Computed: true, PlanModifiers: known, Description: "`cloud/region/name`; also the import ID."},
			"cloud":          schema.StringAttribute{Computed: true, PlanModifiers: known, Description: "Cloud of the site."},
			"region":         schema.StringAttribute{Computed: true, PlanModifiers: known, Description: "Region of the site."},
			"endpoint":       schema.StringAttribute{Computed: true, PlanModifiers: known, Description: "API server URL."},
			"ca_certificate": schema.StringAttribute{Computed: true, PlanModifiers: known, Description: "Cluster CA, base64-encoded PEM."},
			"service_cidr":   schema.StringAttribute{Computed: true, PlanModifiers: known, Description: "Kubernetes service CIDR."},
			"kubeconfig": schema.StringAttribute{Computed: true, Sensitive: true, PlanModifiers: known,
				Description: "A kubeconfig for the cluster that authenticates through the cloud's credential plugin (`aws eks get-token`, " +
					"`gke-gcloud-auth-plugin`, `kubelogin`): it holds the endpoint and CA, no token. Null when `store_kubeconfig` is false."},
			"store_kubeconfig": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(true),
				Description: "Keep `kubeconfig` in the state. Default true (as before this attribute existed). " +
					"Set false on Terraform 1.10+ / OpenTofu 1.11+ and configure the kubernetes and helm providers from the ephemeral " +
					"`gpufleet_cluster_credentials` instead, whose short-lived token is never stored and needs no credential plugin binary " +
					"(`endpoint` and `ca_certificate` stay in the state). " +
					"Changed in place."},
			"cloud_id":        schema.StringAttribute{Computed: true, PlanModifiers: known, Description: "The cloud's identifier (ARN)."},
			"node_validation": nodeValidationSchema(r.version),
			"validator": schema.StringAttribute{Computed: true,
				Description: "The validator in the cluster: `installed`, `disabled`, or what is wrong (`install failed`, `drifted: DaemonSet ... is missing`), which the next apply repairs."},
		},
	}
}

// Configure receives the provider's backends.
func (r *ClusterResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = providerDataFrom(req.ProviderData, &resp.Diagnostics)
}

// defaultClusterName derives a name from the site.
func defaultClusterName(site string) string {
	return "gpufleet-" + strings.ReplaceAll(site, "/", "-")
}

// ModifyPlan fills the default name and refuses clouds without a backend.
func (r *ClusterResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	var plan clusterModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() || plan.Site.IsUnknown() {
		return
	}
	site := plan.Site.ValueString()
	cl, region, _ := strings.Cut(site, "/")
	if r.data != nil && !r.data.backends.supports(cl) {
		resp.Diagnostics.AddAttributeError(path.Root("site"), "Cloud not enabled",
			fmt.Sprintf("%s is not enabled in the provider configuration: add a %s {} block (or use simulate = true).", cl, cl))
		return
	}
	if plan.Name.IsUnknown() {
		plan.Name = types.StringValue(defaultClusterName(site))
	}
	if !plan.Azure.IsNull() && cl != "azure" {
		resp.Diagnostics.AddAttributeError(path.Root("azure"), "Azure settings on a non-Azure site",
			fmt.Sprintf("azure {} applies to AKS clusters only; site %s is on %s: remove it.", site, cl))
		return
	}
	plan.Cloud, plan.Region = types.StringValue(cl), types.StringValue(region)
	plan.ID = types.StringValue(site + "/" + plan.Name.ValueString())
	switch {
	case plan.StoreKubeconfig.IsUnknown():
		plan.Kubeconfig = types.StringUnknown()
	case !plan.StoreKubeconfig.ValueBool():
		plan.Kubeconfig = types.StringNull()
	case plan.Kubeconfig.IsNull():
		// Turned on again: the update renders it.
		plan.Kubeconfig = types.StringUnknown()
	}
	// The validator's state is known once applied; a state that is not
	// what the configuration wants (drift, a failed install, changed
	// settings) plans an update that applies it again.
	plan.Validator = types.StringUnknown()
	if nv := validationSettings(ctx, plan.NodeValidation, &resp.Diagnostics); nv != nil {
		want := validatorDisabled
		if nv.enabled() {
			// Settings are checked at plan time, on the attribute at fault.
			if nv.manifest(cl, &resp.Diagnostics) == nil {
				return
			}
			want = validatorInstalled
		}
		if !req.State.Raw.IsNull() {
			var state clusterModel
			resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
			if state.Validator.ValueString() == want && state.NodeValidation.Equal(plan.NodeValidation) {
				plan.Validator = state.Validator
			}
		}
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

func (r *ClusterResource) backend(ctx context.Context, m *clusterModel, diags *diag.Diagnostics) cloud.Backend {
	if r.data == nil {
		diags.AddError("Provider not configured", "the gpufleet provider has no configuration")
		return nil
	}
	b, err := r.data.backends.get(ctx, m.Cloud.ValueString())
	if err != nil {
		addBackendError(diags, path.Root("site"), "No backend for the site's cloud", err)
		return nil
	}
	return b
}

// Create creates the control plane and waits until it is active. A cluster
// that fails to become active is deleted, so nothing is left unknown.
func (r *ClusterResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m clusterModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	b := r.backend(ctx, &m, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	spec := cloud.ClusterSpec{Name: m.Name.ValueString(), Region: m.Region.ValueString(), KubernetesVersion: m.KubernetesVersion.ValueString(),
		PublicEndpoint: m.EndpointPublicAccess.ValueBool(), PrivateEndpoint: m.EndpointPrivateAccess.ValueBool(),
		Tags: map[string]string{cloud.ManagedTag: "terraform", "gpufleet.dev/site": m.Site.ValueString()}}
	spec.Network = clusterNetwork(ctx, m.Network, &resp.Diagnostics)
	spec.Identity = clusterIdentity(ctx, m.Azure, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	tflog.Info(ctx, "creating cluster", map[string]any{"site": m.Site.ValueString(), "name": spec.Name})
	c, err := b.CreateCluster(ctx, spec)
	if err != nil {
		if ctx.Err() != nil {
			// Interrupted: the cluster keeps being created; record it so that
			// the next apply (or destroy) continues from it.
			resp.Diagnostics.AddWarning("Cluster creation interrupted", "The cluster is recorded in the state and will be read again by the next plan.")
			setClusterComputed(&m, cloud.Cluster{Name: spec.Name, Region: spec.Region})
			resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
			return
		}
		if derr := b.DeleteCluster(context.WithoutCancel(ctx), spec.Region, spec.Name); derr != nil {
			resp.Diagnostics.AddError("Cluster creation failed, and cleaning up failed too",
				fmt.Sprintf("%v\n\nDeleting the half-created cluster %s failed: %v. Delete it in the cloud console.", err, spec.Name, derr))
			return
		}
		resp.Diagnostics.AddAttributeError(path.Root("site"), "Cluster creation failed", err.Error())
		return
	}
	setClusterComputed(&m, c)
	m.Validator = types.StringValue(r.installValidator(ctx, &m, nil, &resp.Diagnostics))
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func setClusterComputed(m *clusterModel, c cloud.Cluster) {
	m.Endpoint, m.CACertificate = types.StringValue(c.Endpoint), types.StringValue(c.CACertificate)
	m.ServiceCIDR, m.CloudID = types.StringValue(c.ServiceCIDR), types.StringValue(c.ID)
	if m.StoreKubeconfig.IsNull() {
		// State written before store_kubeconfig existed kept the kubeconfig.
		m.StoreKubeconfig = types.BoolValue(true)
	}
	m.Kubeconfig = types.StringNull()
	if m.StoreKubeconfig.ValueBool() {
		m.Kubeconfig = types.StringValue(kubeconfig(m.Cloud.ValueString(), c))
	}
}

// execAuth is each cloud's kubectl credential plugin invocation.
func execAuth(cl string, c cloud.Cluster) (string, string) {
	switch cl {
	case "gcp":
		return "gke-gcloud-auth-plugin", "[]"
	case "azure":
		// 6dae42f8-... is the AKS AAD server application ID.
		return "kubelogin", `["get-token", "--login", "azurecli", "--server-id", "6dae42f8-4368-4678-94ff-3960e28e3630"]`
	}
	return "aws", fmt.Sprintf(`["eks", "get-token", "--cluster-name", "%s", "--region", "%s"]`, c.Name, c.Region)
}

// kubeconfig renders a kubeconfig that authenticates through the cloud's
// credential plugin.
func kubeconfig(cl string, c cloud.Cluster) string {
	if c.Endpoint == "" {
		return ""
	}
	h := sha256.Sum256([]byte(c.Endpoint))
	user := "gpufleet-" + hex.EncodeToString(h[:4])
	cmd, args := execAuth(cl, c)
	return fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: %[1]s
  cluster:
    server: %[2]s
    certificate-authority-data: %[3]s
contexts:
- name: %[1]s
  context:
    cluster: %[1]s
    user: %[4]s
current-context: %[1]s
users:
- name: %[4]s
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: %[5]s
      args: %[6]s
`, c.Name, c.Endpoint, c.CACertificate, user, cmd, args)
}

// Read refreshes the cluster; one deleted out of band leaves the state.
func (r *ClusterResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m clusterModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	b := r.backend(ctx, &m, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	c, err := b.GetCluster(ctx, m.Region.ValueString(), m.Name.ValueString())
	if cloud.IsNotFound(err) {
		tflog.Warn(ctx, "cluster deleted outside Terraform; it will be created again", map[string]any{"id": m.ID.ValueString()})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read the cluster", err.Error())
		return
	}
	if c.KubernetesVersion != "" {
		m.KubernetesVersion = types.StringValue(c.KubernetesVersion)
	}
	setClusterComputed(&m, c)
	m.Azure = observedAzure(ctx, m.Azure, c.Identity, &resp.Diagnostics)
	if c.Status == cloud.StatusActive {
		m.Validator = types.StringValue(r.observeValidator(ctx, &m, &resp.Diagnostics))
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// Update changes the validator in place (settings, enabled, drift
// repair); every other attribute replaces the cluster.
func (r *ClusterResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var m, prior clusterModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &prior)...)
	if resp.Diagnostics.HasError() {
		return
	}
	// store_kubeconfig may have changed: the kubeconfig follows it.
	setClusterComputed(&m, cloud.Cluster{Name: m.Name.ValueString(), Region: m.Region.ValueString(),
		Endpoint: m.Endpoint.ValueString(), CACertificate: m.CACertificate.ValueString(),
		ServiceCIDR: m.ServiceCIDR.ValueString(), ID: m.CloudID.ValueString()})
	m.Validator = types.StringValue(r.installValidator(ctx, &m, validationSettings(ctx, prior.NodeValidation, &resp.Diagnostics), &resp.Diagnostics))
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// Delete deletes the cluster and waits until it is gone.
func (r *ClusterResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var m clusterModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	b := r.backend(ctx, &m, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	if !deleteUntrackedPools(ctx, b, m.Region.ValueString(), m.Name.ValueString(), &resp.Diagnostics) {
		return
	}
	tflog.Info(ctx, "deleting cluster", map[string]any{"id": m.ID.ValueString()})
	if err := b.DeleteCluster(ctx, m.Region.ValueString(), m.Name.ValueString()); err != nil {
		resp.Diagnostics.AddError("Cannot delete the cluster", err.Error())
	}
}

// deleteUntrackedPools deletes the gpufleet node pools still in a cluster
// that is being destroyed. Terraform destroys the gpufleet_pool resources
// first, so these are pools no state records: a pool apply killed (kill
// -9, a lost machine) after the cloud accepted a create and before
// Terraform wrote the state. Without this the cluster delete is refused
// ("cluster has node pools") and destroy never converges. The pools are
// found by their deterministic names (fleet.PoolName, through
// cloud.NodePoolLister) and deleted concurrently, with a warning naming
// them; other pools are left to the cloud's refusal. It reports whether
// the cluster delete may go on.
func deleteUntrackedPools(ctx context.Context, b cloud.Backend, region, cluster string, diags *diag.Diagnostics) bool {
	l, ok := b.(cloud.NodePoolLister)
	if !ok {
		return true
	}
	names, err := l.ListNodePools(ctx, region, cluster)
	if cloud.IsNotFound(err) {
		return true
	}
	if err != nil {
		diags.AddError("Cannot list the cluster's node pools", fmt.Sprintf(
			"before deleting cluster %s: %v; the next destroy tries again", cluster, err))
		return false
	}
	if len(names) == 0 {
		return true
	}
	diags.AddWarning("Deleting node pools no state records", fmt.Sprintf(
		"Cluster %s still has gpufleet node pools that no Terraform state records (a pool apply was interrupted before it "+
			"recorded them): %s. They are deleted before the cluster.", cluster, strings.Join(names, ", ")))
	tflog.Warn(ctx, "deleting untracked node pools", map[string]any{"cluster": cluster, "pools": names})
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = b.DeleteNodePool(ctx, region, cluster, name)
		}()
	}
	wg.Wait()
	failed := false
	for i, err := range errs {
		if err != nil {
			diags.AddError("Cannot delete a node pool no state records", fmt.Sprintf(
				"node pool %s of cluster %s: %v; the next destroy tries again", names[i], cluster, err))
			failed = true
		}
	}
	return !failed
}

// ImportState reads "cloud/region/name".
func (r *ClusterResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	cl, region, name, err := parseClusterID(req.ID)
	if err != nil {
		resp.Diagnostics.AddError("Invalid import ID", err.Error())
		return
	}
	m := clusterModel{
		Site: types.StringValue(cl + "/" + region), Name: types.StringValue(name), ID: types.StringValue(req.ID),
		Cloud: types.StringValue(cl), Region: types.StringValue(region), StoreKubeconfig: types.BoolValue(true),
		KubernetesVersion: types.StringValue(DefaultKubernetesVersion), EndpointPublicAccess: types.BoolValue(true),
		EndpointPrivateAccess: types.BoolValue(true), Network: types.ObjectNull(siteNetworkAttrTypes), Azure: types.ObjectNull(clusterAzureAttrTypes),
		Endpoint: types.StringNull(), CACertificate: types.StringNull(), ServiceCIDR: types.StringNull(), Kubeconfig: types.StringNull(), CloudID: types.StringNull(),
		NodeValidation: defaultNodeValidation(r.version), Validator: types.StringNull(),
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
