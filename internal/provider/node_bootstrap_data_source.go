package provider

import (
	"context"
	"errors"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/bootstrap"
)

var _ datasource.DataSource = &NodeBootstrapDataSource{}

// NodeBootstrapDataSource renders the GPU node bootstrap: EKS user data and
// the validator DaemonSet. gpufleet_pool uses the same rendering for the
// pools it creates; this data source serves node pools managed elsewhere.
type NodeBootstrapDataSource struct{}

// NewNodeBootstrapDataSource is the gpufleet_node_bootstrap constructor.
func NewNodeBootstrapDataSource() datasource.DataSource { return &NodeBootstrapDataSource{} }

type nodeBootstrapModel struct {
	NVMLValidation   types.Bool          `tfsdk:"nvml_validation"`
	MinDriverVersion types.String        `tfsdk:"min_driver_version"`
	NodecheckURL     types.String        `tfsdk:"nodecheck_url"`
	NodecheckSHA256  types.String        `tfsdk:"nodecheck_sha256"`
	FailAction       types.String        `tfsdk:"fail_action"`
	RecheckInterval  types.String        `tfsdk:"recheck_interval"`
	Image            types.String        `tfsdk:"image"`
	EKS              *eksBootstrapModel  `tfsdk:"eks"`
	DaemonSet        *daemonSetBootModel `tfsdk:"daemonset"`

	ID                types.String `tfsdk:"id"`
	Taint             types.String `tfsdk:"taint"`
	EKSUserData       types.String `tfsdk:"eks_user_data"`
	EKSUserDataBase64 types.String `tfsdk:"eks_user_data_base64"`
	DaemonSetManifest types.String `tfsdk:"daemonset_manifest"`
}

type eksBootstrapModel struct {
	ClusterName          types.String `tfsdk:"cluster_name"`
	APIServerEndpoint    types.String `tfsdk:"api_server_endpoint"`
	CertificateAuthority types.String `tfsdk:"certificate_authority"`
	ServiceCIDR          types.String `tfsdk:"service_cidr"`
	InstanceType         types.String `tfsdk:"instance_type"`
	Labels               types.Map    `tfsdk:"labels"`
	Taints               types.List   `tfsdk:"taints"`
}

type daemonSetBootModel struct {
	Namespace        types.String `tfsdk:"namespace"`
	GPUNodeLabel     types.String `tfsdk:"gpu_node_label"`
	RuntimeClassName types.String `tfsdk:"runtime_class_name"`
}

// Metadata names the data source.
func (d *NodeBootstrapDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_node_bootstrap"
}

func str(desc string, required bool, v ...validator.String) schema.StringAttribute {
	return schema.StringAttribute{Required: required, Optional: !required, Description: desc, Validators: v}
}

// Schema describes gpufleet_node_bootstrap.
func (d *NodeBootstrapDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "Renders the GPU node bootstrap: nodes join tainted `" + bootstrap.UnvalidatedTaint + "` and `gpufleet-nodecheck` " +
			"removes the taint only when NVML finds their GPUs healthy. Gives EKS (Amazon Linux 2023) user data and the validator " +
			"DaemonSet manifest (with least-privilege RBAC), which signals Kubernetes on every cloud.",
		Attributes: map[string]schema.Attribute{
			"nvml_validation": schema.BoolAttribute{Optional: true, Description: "Validate GPUs before nodes take work. Default true."},
			"min_driver_version": str("Oldest acceptable NVIDIA driver, e.g. `550.54`.", false,
				regexMatches(versionPattern, "must be digits and dots, e.g. 550.54.15")),
			"nodecheck_url":    str("HTTPS URL of the `gpufleet-nodecheck` Linux binary that EKS nodes download at boot.", false),
			"nodecheck_sha256": str("SHA-256 (hex) of that binary; the download is refused when it differs.", false),
			"fail_action": str("On failure, besides keeping the taint: `taint` (nothing more, default) or `cordon`.", false,
				stringvalidator.OneOf("taint", "cordon")),
			"recheck_interval": str("How often the DaemonSet re-validates, a Go duration of at least 30s. Default 5m.", false),
			"image":            str("Container image running `gpufleet-nodecheck`, for the DaemonSet.", false),
			"eks": schema.SingleNestedAttribute{
				Optional:    true,
				Description: "Render EKS user data for a node group of this cluster.",
				Attributes: map[string]schema.Attribute{
					"cluster_name":          str("EKS cluster name.", true),
					"api_server_endpoint":   str("The cluster's API server endpoint (https://...).", true),
					"certificate_authority": str("The cluster's certificate authority data, base64, as EKS returns it.", true),
					"service_cidr":          str("The cluster's Kubernetes service CIDR, e.g. 10.100.0.0/16.", true),
					"instance_type":         str("Instance type of the nodes; read from instance metadata when unset.", false),
					"labels":                schema.MapAttribute{ElementType: types.StringType, Optional: true, Description: "Node labels."},
					"taints":                schema.ListAttribute{ElementType: types.StringType, Optional: true, Description: "Extra taints, `key=value:Effect`."},
				},
			},
			"daemonset": schema.SingleNestedAttribute{
				Optional:    true,
				Description: "Render the validator DaemonSet, needed on every cloud (on EKS too: the kubelet may not change its node's taints).",
				Attributes: map[string]schema.Attribute{
					"namespace":          str("Namespace, default `gpufleet-system`.", false),
					"gpu_node_label":     str("Label key present on GPU nodes, e.g. `cloud.google.com/gke-accelerator`.", true),
					"runtime_class_name": str("Runtime class giving the pod NVML, e.g. `nvidia`.", false),
				},
			},
			"id":                   schema.StringAttribute{Computed: true, Description: "Fixed: `gpufleet-node-bootstrap`."},
			"taint":                schema.StringAttribute{Computed: true, Description: "The taint GPU nodes must register with."},
			"eks_user_data":        schema.StringAttribute{Computed: true, Description: "MIME multi-part AL2023 user data (NodeConfig + validator install)."},
			"eks_user_data_base64": schema.StringAttribute{Computed: true, Description: "`eks_user_data` base64-encoded, for launch templates."},
			"daemonset_manifest":   schema.StringAttribute{Computed: true, Description: "Multi-document YAML: Namespace, ServiceAccount, RBAC, DaemonSet."},
		},
	}
}

// Read renders the bootstrap.
func (d *NodeBootstrapDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m nodeBootstrapModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	s := bootstrap.Settings{
		NVMLValidation:   m.NVMLValidation.IsNull() || m.NVMLValidation.ValueBool(),
		MinDriverVersion: m.MinDriverVersion.ValueString(),
		NodecheckURL:     m.NodecheckURL.ValueString(),
		NodecheckSHA256:  m.NodecheckSHA256.ValueString(),
		FailAction:       m.FailAction.ValueString(),
		RecheckInterval:  m.RecheckInterval.ValueString(),
		Image:            m.Image.ValueString(),
	}
	m.ID = types.StringValue("gpufleet-node-bootstrap")
	m.Taint = types.StringValue(bootstrap.UnvalidatedTaint)
	m.EKSUserData, m.EKSUserDataBase64, m.DaemonSetManifest = types.StringNull(), types.StringNull(), types.StringNull()
	if err := s.Validate(); err != nil {
		addBootstrapErrors(&resp.Diagnostics, err)
		return
	}
	if e := m.EKS; e != nil {
		node := bootstrap.EKSNode{InstanceType: e.InstanceType.ValueString(), Taints: stringList(ctx, e.Taints, &resp.Diagnostics)}
		if !e.Labels.IsNull() && !e.Labels.IsUnknown() {
			resp.Diagnostics.Append(e.Labels.ElementsAs(ctx, &node.Labels, false)...)
		}
		cluster := bootstrap.EKSCluster{Name: e.ClusterName.ValueString(), APIServerEndpoint: e.APIServerEndpoint.ValueString(),
			CertificateAuthority: e.CertificateAuthority.ValueString(), ServiceCIDR: e.ServiceCIDR.ValueString()}
		ud, err := bootstrap.EKSUserData(cluster, node, s)
		if err != nil {
			addBootstrapErrors(&resp.Diagnostics, err)
		} else {
			b64, _ := bootstrap.EKSUserDataBase64(cluster, node, s)
			m.EKSUserData, m.EKSUserDataBase64 = types.StringValue(ud), types.StringValue(b64)
		}
	}
	if ds := m.DaemonSet; ds != nil {
		manifest, err := bootstrap.DaemonSetManifest(s, bootstrap.DaemonSetOptions{Namespace: ds.Namespace.ValueString(),
			GPUNodeLabel: ds.GPUNodeLabel.ValueString(), RuntimeClassName: ds.RuntimeClassName.ValueString()})
		if err != nil {
			addBootstrapErrors(&resp.Diagnostics, err)
		} else {
			m.DaemonSetManifest = types.StringValue(manifest)
		}
	}
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// bootstrapFieldPaths maps the bootstrap package's field names to this data
// source's attributes.
var bootstrapFieldPaths = map[string]path.Path{
	"cluster.name":                  path.Root("eks").AtName("cluster_name"),
	"cluster.api_server_endpoint":   path.Root("eks").AtName("api_server_endpoint"),
	"cluster.certificate_authority": path.Root("eks").AtName("certificate_authority"),
	"cluster.service_cidr":          path.Root("eks").AtName("service_cidr"),
	"node.instance_type":            path.Root("eks").AtName("instance_type"),
	"node.labels":                   path.Root("eks").AtName("labels"),
	"node.taints":                   path.Root("eks").AtName("taints"),
	"daemonset.namespace":           path.Root("daemonset").AtName("namespace"),
	"daemonset.gpu_node_label":      path.Root("daemonset").AtName("gpu_node_label"),
	"daemonset.runtime_class_name":  path.Root("daemonset").AtName("runtime_class_name"),
}

// addBootstrapErrors reports each field error on its attribute.
func addBootstrapErrors(diags *diag.Diagnostics, err error) {
	for _, e := range splitErrors(err) {
		var fe *bootstrap.FieldError
		if !errors.As(e, &fe) {
			diags.AddError("Invalid node bootstrap", e.Error())
			continue
		}
		p, ok := bootstrapFieldPaths[fe.Field]
		if !ok {
			p = path.Root(strings.ReplaceAll(fe.Field, ".", "_"))
		}
		diags.AddAttributeError(p, "Invalid node bootstrap", fe.Field+": "+fe.Msg)
	}
}

// splitErrors is the errors an errors.Join holds, or err alone.
func splitErrors(err error) []error {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		return joined.Unwrap()
	}
	return []error{err}
}
