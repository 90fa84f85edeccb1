package bootstrap

import (
	"errors"
)

// DefaultNamespace is the namespace of the DaemonSet when
// DaemonSetOptions.Namespace is empty.
const DefaultNamespace = "gpufleet-system"

// DaemonSetOptions are the cluster-specific options of DaemonSetManifest.
type DaemonSetOptions struct {
	// Namespace of the namespaced objects. Empty means DefaultNamespace.
	Namespace string
	// GPUNodeLabel is the label key that marks GPU nodes, such as
	// "cloud.google.com/gke-accelerator" (GKE) or
	// "kubernetes.azure.com/accelerator" (AKS). The DaemonSet runs on the
	// nodes that have it (node affinity, operator Exists). Required.
	GPUNodeLabel string
	// RuntimeClassName optionally sets the pods' runtime class, such as
	// "nvidia", where the NVIDIA container runtime is not the default.
	RuntimeClassName string
}

type daemonSetData struct {
	Namespace        string
	GPUNodeLabel     string
	RuntimeClassName string
	Image            string
	Args             []string
	UnvalidatedKey   string
}

// DaemonSetManifest renders a multi-document YAML manifest (documents
// separated by "\n---\n") that runs gpufleet-nodecheck on the GPU nodes of
// clusters whose nodes cannot take user data, such as GKE and AKS:
//
//   - Namespace o.Namespace;
//   - ResourceQuota admitting system-node-critical pods in that namespace
//     (GKE admits them only in namespaces with such a quota);
//   - ServiceAccount, ClusterRole and ClusterRoleBinding gpufleet-nodecheck:
//     get and patch on nodes, create and patch on events, nothing else;
//   - DaemonSet gpufleet-nodecheck running s.Image with --kubernetes and
//     --node-name taken from spec.nodeName, on the nodes labelled
//     o.GPUNodeLabel, tolerating UnvalidatedTaint and nvidia.com/gpu, with
//     priority class system-node-critical, NVIDIA_VISIBLE_DEVICES=all,
//     NVIDIA_DRIVER_CAPABILITIES=utility and the host's /dev/kmsg mounted
//     read-only.
//
// It requires s.NVMLValidation, s.Image and o.GPUNodeLabel. The node pools
// must register their nodes with UnvalidatedTaint themselves.
// The error joins one *FieldError per problem.
func DaemonSetManifest(s Settings, o DaemonSetOptions) (string, error) {
	var errs []error
	if err := s.Validate(); err != nil {
		errs = append(errs, err)
	}
	if !s.NVMLValidation {
		errs = append(errs, fieldErr("nvml_validation", "must be true to render the gpufleet-nodecheck DaemonSet"))
	}
	if s.Image == "" {
		errs = append(errs, fieldErr("image", "required for the gpufleet-nodecheck DaemonSet"))
	}
	ns := o.Namespace
	if ns == "" {
		ns = DefaultNamespace
	}
	if err := checkDNS1123Label(ns); err != nil {
		errs = append(errs, fieldErr("daemonset.namespace", "%s", err))
	}
	if o.GPUNodeLabel == "" {
		errs = append(errs, fieldErr("daemonset.gpu_node_label", "required"))
	} else if err := checkQualifiedName(o.GPUNodeLabel); err != nil {
		errs = append(errs, fieldErr("daemonset.gpu_node_label", "%s", err))
	}
	if o.RuntimeClassName != "" {
		if err := checkDNS1123Subdomain(o.RuntimeClassName); err != nil {
			errs = append(errs, fieldErr("daemonset.runtime_class_name", "%s", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	return render("daemonset.yaml.tmpl", daemonSetData{
		Namespace:        ns,
		GPUNodeLabel:     o.GPUNodeLabel,
		RuntimeClassName: o.RuntimeClassName,
		Image:            s.Image,
		Args:             s.checkArgs(),
		UnvalidatedKey:   unvalidatedTaintKey,
	})
}
