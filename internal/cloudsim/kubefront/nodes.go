package kubefront

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	k8sresource "k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// Node labels the simulated clouds put on GPU nodes.
const (
	LabelGPUPresent = "nvidia.com/gpu.present"
	LabelEKSPool    = "eks.amazonaws.com/nodegroup"
	LabelEKSGPU     = "k8s.amazonaws.com/accelerator"
	LabelGKEPool    = "cloud.google.com/gke-nodepool"
	LabelGKEGPU     = "cloud.google.com/gke-accelerator"
	LabelAKSPool    = "kubernetes.azure.com/agentpool"
	LabelAKSGPU     = "kubernetes.azure.com/accelerator"
	// ResourceGPU is the extended resource of NVIDIA GPUs.
	ResourceGPU corev1.ResourceName = "nvidia.com/gpu"
)

// machine is an engine node with its pool.
type machine struct {
	pool cloudsim.Pool
	node cloudsim.Node
}

// machines returns the engine's machines of the cluster by node name.
func (st *store) machines() map[string]machine {
	out := map[string]machine{}
	for _, p := range st.srv.e.ClusterPools(st.cloud, st.region, st.name) {
		for _, n := range p.Nodes {
			out[n.Name] = machine{pool: p, node: n}
		}
	}
	return out
}

// reconcileNodes registers the machines that are ready as Nodes (labels,
// taints and capacity from the pool at registration; later changes
// through the API are kept) and deletes the Nodes whose machine is gone,
// as a cloud's node lifecycle controller does. It is called with st.mu
// held.
//
// A machine is its pool's and its own incarnation (bootID): a node pool
// deleted and created again under the same name gives its machines the
// same names and provider IDs on AKS (aks-<pool>-<digits>-vmss000000), but
// they are new VMs, so their Nodes are new Nodes (the old ones go with
// their pods, as the pod garbage collector deletes the pods of a deleted
// Node), never the old Node with its old verdict and finished pods.
func (st *store) reconcileNodes(ms map[string]machine) error {
	now := st.srv.e.Now()
	live := map[string]string{} // provider ID -> boot ID
	for _, m := range ms {
		live[m.node.ProviderID] = bootID(m)
	}
	var podsOn map[string][]*corev1.Pod // by node name, listed once at the first Node deleted
	for _, o := range st.list(resNodes, "", nil, nil) {
		n := o.(*corev1.Node)
		if boot, ok := live[n.Spec.ProviderID]; n.Spec.ProviderID == "" || ok && boot == n.Status.NodeInfo.BootID {
			continue
		}
		if err := st.commit(resNodes, n, watch.Deleted); err != nil {
			return err
		}
		if podsOn == nil {
			podsOn = map[string][]*corev1.Pod{}
			for _, po := range st.list(resPods, "", nil, nil) {
				pod := po.(*corev1.Pod)
				podsOn[pod.Spec.NodeName] = append(podsOn[pod.Spec.NodeName], pod)
			}
		}
		for _, pod := range podsOn[n.Name] {
			if err := st.deletePod(pod); err != nil {
				return err
			}
		}
	}
	for name, m := range ms {
		if !m.node.Ready(now) {
			continue
		}
		if cur := st.get(resNodes, "", name); cur != nil {
			continue
		}
		n := st.nodeObject(m)
		st.stamp(resNodes, n, m.node.ReadyAt)
		if err := st.commit(resNodes, n, watch.Added); err != nil {
			return err
		}
	}
	return nil
}

// hardware is what a node of a pool has: the pool's GPU model and count,
// else Options.Hardware, else guesses from the instance type.
func (st *store) hardware(p cloudsim.Pool) Hardware {
	var hw Hardware
	if st.srv.opts.Hardware != nil {
		hw = st.srv.opts.Hardware(p.Cloud, p.Spec.InstanceType)
	}
	if p.Spec.GPUModel != "" {
		hw.GPUModel = p.Spec.GPUModel
	}
	if p.GPUsPerNode > 0 {
		hw.GPUs = p.GPUsPerNode
	} else if hw.GPUs == 0 && p.Spec.GPUsPerNode > 0 {
		hw.GPUs = p.Spec.GPUsPerNode
	}
	if hw.GPUModel == "" && hw.GPUs > 0 {
		hw.GPUModel = guessGPUModel(p.Spec.InstanceType)
	}
	if hw.CPUs == 0 {
		hw.CPUs = max(8, 24*hw.GPUs)
	}
	if hw.MemoryGiB == 0 {
		hw.MemoryGiB = max(32, 256*hw.GPUs)
	}
	return hw
}

// guessGPUModel knows the GPU of common instance types.
func guessGPUModel(instanceType string) string {
	t := strings.ToLower(instanceType)
	for _, g := range []struct{ prefix, model string }{
		{"p5en", "H200"}, {"p5e", "H200"}, {"p5", "H100"}, {"p4de", "A100-80GB"}, {"p4d", "A100"}, {"p6-b200", "B200"},
		{"g6e", "L40S"}, {"g6", "L4"}, {"g5", "A10G"}, {"g4dn", "T4"},
		{"a3-ultragpu", "H200"}, {"a3", "H100"}, {"a2-ultragpu", "A100-80GB"}, {"a2", "A100"}, {"g2", "L4"}, {"a4", "B200"},
		{"standard_nd96isr_h200", "H200"}, {"standard_nd96isr_h100", "H100"}, {"standard_nd96amsr_a100", "A100-80GB"},
		{"standard_nd96asr", "A100"}, {"standard_nc", "A100"},
	} {
		if strings.HasPrefix(t, g.prefix) {
			return g.model
		}
	}
	return "H100"
}

// gkeAccelerator is GKE's accelerator type name of a GPU model.
func gkeAccelerator(model string) string {
	m := strings.ToLower(model)
	if strings.HasPrefix(m, "nvidia-") {
		return m
	}
	switch m {
	case "h100":
		return "nvidia-h100-80gb"
	case "h100-mega":
		return "nvidia-h100-mega-80gb"
	case "h200":
		return "nvidia-h200-141gb"
	case "a100":
		return "nvidia-tesla-a100"
	case "a100-80gb":
		return "nvidia-a100-80gb"
	case "t4", "v100", "p100", "p4":
		return "nvidia-tesla-" + m
	}
	return "nvidia-" + m
}

// nodeObject is the Node a machine's kubelet registers.
func (st *store) nodeObject(m machine) *corev1.Node {
	p, n := m.pool, m.node
	hw := st.hardware(p)
	labels := map[string]string{}
	for k, v := range p.Spec.Labels {
		labels[k] = v
	}
	labels["kubernetes.io/hostname"] = n.Name
	labels["kubernetes.io/os"] = "linux"
	labels["kubernetes.io/arch"] = "amd64"
	labels["node.kubernetes.io/instance-type"] = p.Spec.InstanceType
	labels["topology.kubernetes.io/region"] = p.Spec.Region
	if n.Zone != "" {
		labels["topology.kubernetes.io/zone"] = n.Zone
	}
	spot := strings.EqualFold(p.Spec.CapacityType, "spot")
	osImage, kernel := "Amazon Linux 2023.6.20250203", "6.1.127-135.201.amzn2023.x86_64"
	switch st.cloud {
	case "gcp":
		labels[LabelGKEPool] = p.Spec.Name
		if hw.GPUs > 0 {
			labels[LabelGKEGPU] = gkeAccelerator(hw.GPUModel)
			labels["cloud.google.com/gke-gpu"] = "true"
		}
		if spot {
			labels["cloud.google.com/gke-spot"] = "true"
			labels["cloud.google.com/gke-provisioning"] = "spot"
		} else {
			labels["cloud.google.com/gke-provisioning"] = "standard"
		}
		osImage, kernel = "Container-Optimized OS from Google", "6.6.56+"
	case "azure":
		labels[LabelAKSPool] = p.Spec.Name
		labels["agentpool"] = p.Spec.Name
		labels["kubernetes.azure.com/role"] = "agent"
		if hw.GPUs > 0 {
			labels[LabelAKSGPU] = "nvidia"
		}
		if spot {
			labels["kubernetes.azure.com/scalesetpriority"] = "spot"
		}
		osImage, kernel = "Ubuntu 22.04.5 LTS", "5.15.0-1079-azure"
	default:
		labels[LabelEKSPool] = p.Spec.Name
		labels["eks.amazonaws.com/capacityType"] = map[bool]string{true: "SPOT", false: "ON_DEMAND"}[spot]
		if hw.GPUs > 0 {
			labels[LabelEKSGPU] = "nvidia-" + strings.ToLower(hw.GPUModel)
		}
	}
	if hw.GPUs > 0 {
		labels[LabelGPUPresent] = "true"
		labels["nvidia.com/gpu.count"] = fmt.Sprint(hw.GPUs)
		labels["nvidia.com/gpu.product"] = "NVIDIA-" + hw.GPUModel
	}
	var taints []corev1.Taint
	for _, t := range p.Spec.Taints {
		taints = append(taints, corev1.Taint{Key: t.Key, Value: t.Value, Effect: taintEffect(t)})
	}
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:              *k8sresource.NewQuantity(int64(hw.CPUs), k8sresource.DecimalSI),
		corev1.ResourceMemory:           *k8sresource.NewQuantity(int64(hw.MemoryGiB)<<30, k8sresource.BinarySI),
		corev1.ResourcePods:             *k8sresource.NewQuantity(110, k8sresource.DecimalSI),
		corev1.ResourceEphemeralStorage: *k8sresource.NewQuantity(500<<30, k8sresource.BinarySI),
	}
	if hw.GPUs > 0 {
		capacity[ResourceGPU] = *k8sresource.NewQuantity(int64(hw.GPUs), k8sresource.DecimalSI)
	}
	allocatable := capacity.DeepCopy()
	allocatable[corev1.ResourceCPU] = *k8sresource.NewMilliQuantity(int64(hw.CPUs)*1000-int64(hw.CPUs)*20, k8sresource.DecimalSI)
	allocatable[corev1.ResourceMemory] = k8sresource.MustParse(fmt.Sprintf("%dMi", int64(hw.MemoryGiB)*1024*95/100))
	t := metav1.NewTime(n.ReadyAt.UTC().Truncate(time.Second))
	cond := func(typ corev1.NodeConditionType, s corev1.ConditionStatus, reason, msg string) corev1.NodeCondition {
		return corev1.NodeCondition{Type: typ, Status: s, Reason: reason, Message: msg, LastHeartbeatTime: t, LastTransitionTime: t}
	}
	uuid := bootID(m)
	addrs := []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: n.InternalIP}, {Type: corev1.NodeHostName, Address: n.Name}}
	if st.cloud == "aws" {
		addrs = append(addrs, corev1.NodeAddress{Type: corev1.NodeInternalDNS, Address: n.Name})
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: n.Name, Labels: labels, Annotations: map[string]string{
			"node.alpha.kubernetes.io/ttl":                           "0",
			"volumes.kubernetes.io/controller-managed-attach-detach": "true",
		}},
		Spec: corev1.NodeSpec{ProviderID: n.ProviderID, Taints: taints},
		Status: corev1.NodeStatus{
			Capacity: capacity, Allocatable: allocatable,
			Conditions: []corev1.NodeCondition{
				cond(corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
				cond(corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
				cond(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
				cond(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady", "kubelet is posting ready status"),
			},
			Addresses:       addrs,
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: 10250}},
			NodeInfo: corev1.NodeSystemInfo{
				MachineID: uuid, SystemUUID: uuid[:8] + "-" + uuid[8:12] + "-" + uuid[12:16] + "-" + uuid[16:20] + "-" + uuid[20:], BootID: uuid,
				KernelVersion: kernel, OSImage: osImage, ContainerRuntimeVersion: "containerd://1.7.27",
				KubeletVersion: "v" + st.fullVersion(), KubeProxyVersion: "v" + st.fullVersion(), OperatingSystem: "linux", Architecture: "amd64",
			},
		},
	}
}

// fullVersion is the cluster's version with a patch level ("1.31.0").
func (st *store) fullVersion() string {
	if strings.Count(st.version, ".") == 1 {
		return st.version + ".0"
	}
	return st.version
}

// taintEffect accepts Kubernetes and GKE spellings (NoSchedule,
// NO_SCHEDULE).
func taintEffect(t cloud.Taint) corev1.TaintEffect {
	switch strings.ToUpper(strings.ReplaceAll(t.Effect, "_", "")) {
	case "NOEXECUTE":
		return corev1.TaintEffectNoExecute
	case "PREFERNOSCHEDULE":
		return corev1.TaintEffectPreferNoSchedule
	}
	return corev1.TaintEffectNoSchedule
}

// bootID identifies a machine's incarnation: its pool (a new ID for every
// creation) and its provider ID. It is the Node's machine ID, system UUID
// and boot ID (32 hex digits).
func bootID(m machine) string {
	h := sha256.Sum256([]byte(m.pool.ID + "/" + m.node.ProviderID))
	return hex.EncodeToString(h[:16])
}
