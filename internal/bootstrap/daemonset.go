package bootstrap

import (
	"errors"
	"path"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/lazyre"
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
	// DriverHostPath is, on clusters without the NVIDIA container runtime,
	// the host directory with the driver's libraries and tools (lib64/,
	// bin/), such as GKEDriverHostPath. It is mounted read-only at
	// /usr/local/nvidia with LD_LIBRARY_PATH=/usr/local/nvidia/lib64, and
	// the container runs privileged: without the NVIDIA runtime (or a GPU
	// request, which the validator must not make) only a privileged
	// container can open the host's /dev/nvidia* devices. Empty on EKS and
	// AKS, whose GPU nodes run the NVIDIA container runtime by default.
	DriverHostPath string
}

// GKEDriverHostPath is where GKE's driver installer puts the NVIDIA
// driver's libraries and tools on GPU nodes; GKE's device plugin mounts it
// at /usr/local/nvidia in containers that request GPUs.
const GKEDriverHostPath = "/home/kubernetes/bin/nvidia"

// driverMountPath is where DriverHostPath is mounted in the container.
const driverMountPath = "/usr/local/nvidia"

var hostPathRe = lazyre.New(`^(/[A-Za-z0-9._-]+)+$`)

type daemonSetData struct {
	Namespace        string
	GPUNodeLabel     string
	RuntimeClassName string
	DriverHostPath   string
	DriverMountPath  string
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
//     read-only; with o.DriverHostPath also the driver's directory (GKE).
//
// The container runs until the pod is deleted: it re-checks every
// s.RecheckInterval and at once on an XID error.
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
	if o.DriverHostPath != "" && (len(o.DriverHostPath) > 1024 || !hostPathRe().MatchString(o.DriverHostPath) || path.Clean(o.DriverHostPath) != o.DriverHostPath) {
		errs = append(errs, fieldErr("daemonset.driver_host_path", "must be a clean absolute path such as %s (letters, digits, '.', '_', '-'), got %q", GKEDriverHostPath, o.DriverHostPath))
	}
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	return render("daemonset.yaml.tmpl", daemonSetData{
		Namespace:        ns,
		GPUNodeLabel:     o.GPUNodeLabel,
		RuntimeClassName: o.RuntimeClassName,
		DriverHostPath:   o.DriverHostPath,
		DriverMountPath:  driverMountPath,
		Image:            s.Image,
		Args:             s.checkArgs(),
		UnvalidatedKey:   unvalidatedTaintKey,
	})
}
