package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/objectdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/bootstrap"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/gpuhealth"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/kubeinstall"
)

// Validator states in gpufleet_cluster.validator.
const (
	validatorInstalled = "installed"
	validatorDisabled  = "disabled"
)

// nodeValidationModel is gpufleet_cluster.node_validation.
type nodeValidationModel struct {
	Enabled          types.Bool   `tfsdk:"enabled"`
	Image            types.String `tfsdk:"image"`
	RecheckInterval  types.String `tfsdk:"recheck_interval"`
	FailAction       types.String `tfsdk:"fail_action"`
	MinDriverVersion types.String `tfsdk:"min_driver_version"`
	Namespace        types.String `tfsdk:"namespace"`
	RuntimeClassName types.String `tfsdk:"runtime_class_name"`
}

var nodeValidationAttrTypes = map[string]attr.Type{
	"enabled": types.BoolType, "image": types.StringType, "recheck_interval": types.StringType, "fail_action": types.StringType,
	"min_driver_version": types.StringType, "namespace": types.StringType, "runtime_class_name": types.StringType,
}

// nodeValidationSchema is the node_validation attribute; its default
// image is the validator release of the provider's version.
func nodeValidationSchema(version string) schema.SingleNestedAttribute {
	image := bootstrap.DefaultImage(version)
	return schema.SingleNestedAttribute{Optional: true, Computed: true, Default: objectdefault.StaticValue(defaultNodeValidation(version)),
		Description: "GPU node validation: once the control plane is ready, gpufleet installs the `gpufleet-nodecheck` validator " +
			"(Namespace, ServiceAccount, least-privilege RBAC, DaemonSet on the nodes labelled `" + gpuhealth.PoolLabel + "`) by server-side apply, " +
			"with credentials it obtains itself (an EKS token, a Google access token, AKS credentials). GPU nodes join tainted `" + gpuhealth.Taint +
			"` and take work only once it passes them. Changes update the DaemonSet in place; a DaemonSet deleted out of band is drift and is re-applied.",
		Attributes: map[string]schema.Attribute{
			"enabled": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(true),
				Description: "Install the validator. With false nothing is installed (and an installed validator is removed): set `bootstrap.nvml_validation = false` on the pools too, or their nodes stay tainted."},
			"image": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(image),
				Description: "Validator image. Default `" + image + "`, the release of this provider version."},
			"recheck_interval": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(bootstrap.DefaultRecheckInterval),
				Description: "How often the validator checks the GPUs again (Go duration, at least 30s). Default " + bootstrap.DefaultRecheckInterval + "."},
			"fail_action": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(bootstrap.DefaultFailAction),
				Validators:  []validator.String{stringvalidator.OneOf("taint", "cordon")},
				Description: "On failure, besides keeping the taint: `taint` (nothing more) or `cordon`. Default `taint`."},
			"min_driver_version": schema.StringAttribute{Optional: true, Description: "Oldest acceptable NVIDIA driver, e.g. `550.54`."},
			"namespace": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(bootstrap.DefaultNamespace),
				Description: "Namespace of the validator. Default `" + bootstrap.DefaultNamespace + "`."},
			"runtime_class_name": schema.StringAttribute{Optional: true,
				Description: "Runtime class of the validator pods where the NVIDIA container runtime is not the default (e.g. `nvidia`)."},
		},
	}
}

// defaultNodeValidation is node_validation when it is not configured.
func defaultNodeValidation(version string) types.Object {
	return types.ObjectValueMust(nodeValidationAttrTypes, map[string]attr.Value{
		"enabled": types.BoolValue(true), "image": types.StringValue(bootstrap.DefaultImage(version)),
		"recheck_interval": types.StringValue(bootstrap.DefaultRecheckInterval), "fail_action": types.StringValue(bootstrap.DefaultFailAction),
		"min_driver_version": types.StringNull(), "namespace": types.StringValue(bootstrap.DefaultNamespace), "runtime_class_name": types.StringNull(),
	})
}

// validationSettings reads node_validation; nil when it is unknown.
func validationSettings(ctx context.Context, v types.Object, diags *diag.Diagnostics) *nodeValidationModel {
	if v.IsNull() || v.IsUnknown() {
		return nil
	}
	var m nodeValidationModel
	diags.Append(v.As(ctx, &m, basetypes.ObjectAsOptions{})...)
	return &m
}

func (m *nodeValidationModel) enabled() bool { return m.Enabled.IsNull() || m.Enabled.ValueBool() }

// manifest renders the validator's objects; field errors point at
// node_validation's attributes.
func (m *nodeValidationModel) manifest(cl string, diags *diag.Diagnostics) *kubeinstall.Manifest {
	s := bootstrap.Settings{NVMLValidation: true, MinDriverVersion: m.MinDriverVersion.ValueString(), RecheckInterval: m.RecheckInterval.ValueString(),
		FailAction: m.FailAction.ValueString(), Image: m.Image.ValueString()}
	o := bootstrap.DaemonSetOptions{Namespace: m.Namespace.ValueString(), GPUNodeLabel: gpuhealth.PoolLabel,
		RuntimeClassName: m.RuntimeClassName.ValueString()}
	if cl == "gcp" {
		// GKE installs the driver on the host and has no NVIDIA container
		// runtime: the validator mounts the driver's libraries.
		o.DriverHostPath = bootstrap.GKEDriverHostPath
	}
	text, err := bootstrap.DaemonSetManifest(s, o)
	if err != nil {
		addValidationErrors(diags, err)
		return nil
	}
	man, err := kubeinstall.Parse(text)
	if err != nil {
		diags.AddError("Cannot read the validator manifest", err.Error())
		return nil
	}
	return man
}

// addValidationErrors reports bootstrap field errors on node_validation.
func addValidationErrors(diags *diag.Diagnostics, err error) {
	for _, e := range splitErrors(err) {
		msg := e.Error()
		field, _, _ := strings.Cut(msg, ":")
		field = strings.TrimPrefix(field, "daemonset.")
		p := path.Root("node_validation")
		if _, ok := nodeValidationAttrTypes[field]; ok {
			p = p.AtName(field)
		}
		diags.AddAttributeError(p, "Invalid node validation setting", msg)
	}
}

// installValidator applies (enabled) or removes (disabled) the validator
// in the cluster, and returns the validator state for the state.
func (r *ClusterResource) installValidator(ctx context.Context, m *clusterModel, prior *nodeValidationModel, diags *diag.Diagnostics) string {
	nv := validationSettings(ctx, m.NodeValidation, diags)
	if nv == nil || diags.HasError() {
		return ""
	}
	c, err := r.kubeClient(ctx, m)
	if !nv.enabled() {
		if prior == nil || !prior.enabled() {
			return validatorDisabled
		}
		man := prior.manifest(m.Cloud.ValueString(), diags)
		if man == nil {
			return validatorDisabled
		}
		if err == nil {
			err = c.Delete(ctx, man)
		}
		if err != nil {
			diags.AddWarning("Validator not removed", fmt.Sprintf("node_validation is disabled, but removing the validator from cluster %s failed: %v. The next apply tries again.", m.ID.ValueString(), err))
			return "removal failed"
		}
		return validatorDisabled
	}
	man := nv.manifest(m.Cloud.ValueString(), diags)
	if man == nil {
		return ""
	}
	if err == nil {
		err = c.Apply(ctx, man)
	}
	if err != nil {
		// The cluster exists: keep it (not tainted), and let the next plan
		// show the validator as missing so the next apply installs it.
		diags.AddWarning("Validator not installed",
			fmt.Sprintf("Installing gpufleet-nodecheck in cluster %s failed: %v\n\nGPU nodes of this cluster stay tainted until it runs; gpufleet_pool reports them as not validated. The next apply tries again.", m.ID.ValueString(), err))
		return "install failed"
	}
	return validatorInstalled
}

// observeValidator reads what exists of the validator: "installed", or
// what is missing or changed.
func (r *ClusterResource) observeValidator(ctx context.Context, m *clusterModel, diags *diag.Diagnostics) string {
	nv := validationSettings(ctx, m.NodeValidation, diags)
	if nv == nil {
		return m.Validator.ValueString()
	}
	if !nv.enabled() {
		return validatorDisabled
	}
	man := nv.manifest(m.Cloud.ValueString(), diags)
	if man == nil {
		return m.Validator.ValueString()
	}
	c, err := r.kubeClient(ctx, m)
	var st kubeinstall.Status
	if err == nil {
		st, err = c.Observe(ctx, man)
	}
	if err != nil {
		diags.AddWarning("Cannot read the validator", fmt.Sprintf("Reading gpufleet-nodecheck in cluster %s failed: %v; keeping the last known state.", m.ID.ValueString(), err))
		return m.Validator.ValueString()
	}
	if !st.Current() {
		return "drifted: " + st.String()
	}
	return validatorInstalled
}

func (r *ClusterResource) kubeClient(ctx context.Context, m *clusterModel) (*kubeinstall.Client, error) {
	cfg, err := r.data.backends.restConfig(ctx, m.Cloud.ValueString(), m.Region.ValueString(), m.Name.ValueString())
	if err != nil {
		return nil, err
	}
	return kubeinstall.New(cfg)
}
