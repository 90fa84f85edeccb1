package cloudsim

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
)

// Node is one simulated machine of a node pool: what the cloud's instance
// API reports and what registers as a Kubernetes Node.
type Node struct {
	// Name is the Kubernetes node name the cloud gives the machine (AWS
	// "ip-10-0-0-7.<region>.compute.internal", GKE
	// "gke-<cluster>-<pool>-<8 hex>-<4 chars>", AKS
	// "aks-<pool>-<8 digits>-vmss<6 base36>").
	Name string
	// ProviderID is the node's spec.providerID ("aws:///<zone>/<id>",
	// "gce://<project>/<zone>/<name>", "azure:///subscriptions/...").
	ProviderID string
	// InstanceID is the cloud's machine identifier (EC2 instance ID, GCE
	// instance ID, VMSS instance ID).
	InstanceID string
	Zone       string
	// Index numbers the pool's machines in launch order (never reused).
	Index     int
	CreatedAt time.Time
	// ReadyAt is when the machine has booted and its kubelet registers.
	ReadyAt time.Time
	// InternalIP is the node's private address.
	InternalIP string
	// GPUFaults are the hardware faults the machine's GPUs have for its
	// whole life (see InjectGPUFault).
	GPUFaults []GPUFault
}

// Ready reports whether the node has booted by t.
func (n Node) Ready(t time.Time) bool { return !t.Before(n.ReadyAt) }

// GPU fault kinds, as gpufleet-nodecheck --simulate-fault names them.
const (
	GPUFaultXID79            = "xid79"             // GPU fell off the bus (XID 79)
	GPUFaultECCUncorrectable = "ecc_uncorrectable" // uncorrectable (double-bit) ECC errors
	GPUFaultMissingGPU       = "missing_gpu"       // the GPU is not enumerated at all
	GPUFaultNVLinkDown       = "nvlink_down"       // an NVLink link is inactive
	GPUFaultFabricManager    = "fabric_manager"    // the NVSwitch fabric did not train
)

// GPUFaultKinds lists the GPU fault kinds.
var GPUFaultKinds = []string{GPUFaultXID79, GPUFaultECCUncorrectable, GPUFaultMissingGPU, GPUFaultNVLinkDown, GPUFaultFabricManager}

// GPUFault is a hardware fault of one GPU of a node.
type GPUFault struct {
	Kind string
	GPU  int
}

// GPUFaultSelector chooses the nodes a GPU fault is injected into. Empty
// fields match any node; Nodes is how many nodes get the fault (0: every
// matching node, existing ones and all that come up later, replacements
// included).
type GPUFaultSelector struct {
	Cloud, Region, Cluster, Pool, InstanceType string
	Nodes                                      int
}

func (s GPUFaultSelector) matches(p *Pool) bool {
	return (s.Cloud == "" || s.Cloud == p.Cloud) && (s.Region == "" || s.Region == p.Spec.Region) &&
		(s.Cluster == "" || s.Cluster == p.Spec.Cluster) && (s.Pool == "" || s.Pool == p.Spec.Name) &&
		(s.InstanceType == "" || s.InstanceType == p.Spec.InstanceType)
}

// GPUFaultRule is an injected GPU fault with the nodes it still has to
// reach; persisted with the state.
type GPUFaultRule struct {
	Selector GPUFaultSelector
	Fault    GPUFault
	// Left is how many more nodes get the fault; unused when Every.
	Left  int
	Every bool
}

// InjectGPUFault gives the fault f to the nodes sel chooses: first to the
// existing matching nodes (lowest Index first, then by pool), then to
// nodes as they are launched, until sel.Nodes nodes have it (sel.Nodes 0:
// every matching node, now and later). A node keeps its faults for its
// life; only a replacement launched while the selector has budget left
// gets faults again.
func (e *Engine) InjectGPUFault(sel GPUFaultSelector, f GPUFault) error {
	defer e.lock()()
	if err := e.ready(); err != nil {
		return err
	}
	e.reap()
	r := &GPUFaultRule{Selector: sel, Fault: f, Left: sel.Nodes, Every: sel.Nodes <= 0}
	type cand struct {
		pool string
		i    int
		idx  int
	}
	var cands []cand
	for _, k := range sortedKeys(e.st.Pools) {
		p := e.st.Pools[k]
		if !sel.matches(p) {
			continue
		}
		for i, n := range p.Nodes {
			cands = append(cands, cand{k, i, n.Index})
		}
	}
	slices.SortStableFunc(cands, func(a, b cand) int {
		if a.idx != b.idx {
			return a.idx - b.idx
		}
		return strings.Compare(a.pool, b.pool)
	})
	for _, c := range cands {
		if !r.Every && r.Left <= 0 {
			break
		}
		p := e.st.Pools[c.pool]
		nodes := slices.Clone(p.Nodes)
		nodes[c.i].GPUFaults = append(slices.Clone(nodes[c.i].GPUFaults), f)
		p.Nodes = nodes
		r.Left--
	}
	if r.Every || r.Left > 0 {
		e.st.GPUFaults = append(e.st.GPUFaults, r)
	}
	return e.save()
}

// ClearGPUFaults forgets the GPU fault selectors that still have budget;
// nodes keep the faults they have.
func (e *Engine) ClearGPUFaults() error {
	defer e.lock()()
	if err := e.ready(); err != nil {
		return err
	}
	e.st.GPUFaults = nil
	return e.save()
}

// gpuFaultsFor takes the faults the selectors give a node being launched
// in p.
func (e *Engine) gpuFaultsFor(p *Pool) []GPUFault {
	var out []GPUFault
	kept := e.st.GPUFaults[:0]
	for _, r := range e.st.GPUFaults {
		if r.Selector.matches(p) && (r.Every || r.Left > 0) {
			out = append(out, r.Fault)
			r.Left--
		}
		if r.Every || r.Left > 0 {
			kept = append(kept, r)
		}
	}
	clear(e.st.GPUFaults[len(kept):])
	e.st.GPUFaults = kept
	return out
}

// PoolNodes returns the machines of a node pool, booting ones included
// (see Node.Ready), in Index order; KindNotFound for an unknown pool.
func (e *Engine) PoolNodes(cl, region, cluster, pool string) ([]Node, error) {
	defer e.lock()()
	e.reap()
	p, ok := e.st.Pools[poolKey(cl, region, cluster, pool)]
	if !ok {
		return nil, notFound(cl, "PoolNodes", "node pool "+pool)
	}
	return cloneNodes(p.Nodes), nil
}

// ClusterPools returns the node pools of a cluster with their machines,
// sorted by name, without rate limits or faults (for the simulated
// Kubernetes API, which registers the machines as Nodes).
func (e *Engine) ClusterPools(cl, region, cluster string) []Pool {
	defer e.lock()()
	e.reap()
	var out []Pool
	for _, k := range sortedKeys(e.st.Pools) {
		p := e.st.Pools[k]
		if p.Cloud == cl && p.Spec.Region == region && p.Spec.Cluster == cluster {
			c := *p
			c.Nodes = cloneNodes(p.Nodes)
			out = append(out, c)
		}
	}
	return out
}

func cloneNodes(ns []Node) []Node {
	out := slices.Clone(ns)
	for i := range out {
		out[i].GPUFaults = slices.Clone(out[i].GPUFaults)
	}
	return out
}

// ReplaceNode terminates one machine of a pool and launches a fresh one
// (new name and instance ID) that becomes ready after Durations.PoolCreate,
// as an autoscaling group, managed instance group or scale set replaces an
// instance: the pool keeps its size. KindNotFound for an unknown pool or a
// node that is not (or no longer) in it.
func (e *Engine) ReplaceNode(cl, region, cluster, pool, nodeName string) error {
	defer e.lock()()
	p, ok := e.st.Pools[poolKey(cl, region, cluster, pool)]
	target := Target{Region: region}
	if ok {
		target = Target{Region: region, Zone: p.Spec.Zone, InstanceType: p.Spec.InstanceType}
	}
	if err := e.begin(cl, "ReplaceNode", target); err != nil {
		return err
	}
	if p, ok = e.st.Pools[poolKey(cl, region, cluster, pool)]; !ok {
		return notFound(cl, "ReplaceNode", "node pool "+pool)
	}
	i := slices.IndexFunc(p.Nodes, func(n Node) bool { return n.Name == nodeName })
	if i < 0 || p.DeleteAt != nil {
		return nodeNotFound(cl, "ReplaceNode", pool, nodeName)
	}
	now := e.clock.Now()
	nodes := slices.Delete(slices.Clone(p.Nodes), i, i+1)
	p.Nodes = append(nodes, e.newNode(p, now, now.Add(e.durations.PoolCreate)))
	return e.save()
}

// syncNodes makes a pool's machines follow its reserved node count once
// its operation is done: launched ready at the operation's end, the newest
// removed first on scale-in. A pool being deleted keeps its machines
// until it is gone.
func (e *Engine) syncNodes(p *Pool, now time.Time) bool {
	if p.DeleteAt != nil || now.Before(p.ReadyAt) || len(p.Nodes) == p.Reserved {
		return false
	}
	nodes := slices.Clone(p.Nodes)
	for len(nodes) < p.Reserved {
		nodes = append(nodes, e.newNode(p, p.ReadyAt, p.ReadyAt))
	}
	if len(nodes) > p.Reserved {
		slices.SortStableFunc(nodes, func(a, b Node) int { return a.Index - b.Index })
		nodes = nodes[:p.Reserved]
	}
	p.Nodes = nodes
	return true
}

// newNode names a machine launched in p the way its cloud would, from the
// engine's counter, and gives it the GPU faults due.
func (e *Engine) newNode(p *Pool, created, ready time.Time) Node {
	e.st.Seq++
	seq := e.st.Seq
	idx := p.NextNode
	p.NextNode++
	h := sha256.Sum256([]byte(fmt.Sprintf("%s/%d", p.ID, seq)))
	ip := fmt.Sprintf("10.%d.%d.%d", (seq>>16)&0xff, (seq>>8)&0xff, seq&0xff)
	n := Node{Zone: p.Spec.Zone, Index: idx, CreatedAt: created, ReadyAt: ready, InternalIP: ip}
	switch p.Cloud {
	case "gcp":
		g := sha1Hex(p.ID)[:8]
		n.Name = fmt.Sprintf("gke-%s-%s-%s-%s", truncate(p.Spec.Cluster, 14), truncate(p.Spec.Name, 14), g, base36(h[:], 4))
		n.InstanceID = strconv.FormatUint(binary.BigEndian.Uint64(h[:8])>>1, 10)
		n.ProviderID = fmt.Sprintf("gce://%s/%s/%s", e.gcpProject, p.Spec.Zone, n.Name)
	case "azure":
		ph := sha256.Sum256([]byte(p.Cloud + "/" + p.Spec.Region + "/" + p.Spec.Cluster))
		digits := fmt.Sprintf("%08d", binary.BigEndian.Uint32(ph[:4])%100000000)
		vmss := fmt.Sprintf("aks-%s-%s-vmss", p.Spec.Name, digits)
		n.Name = vmss + fmt.Sprintf("%06s", strconv.FormatInt(int64(idx), 36))
		n.InstanceID = strconv.Itoa(idx)
		n.ProviderID = fmt.Sprintf("azure:///subscriptions/%s/resourceGroups/mc_%s_%s_%s/providers/Microsoft.Compute/virtualMachineScaleSets/%s/virtualMachines/%d",
			e.azureSubscription, p.Spec.Cluster, p.Spec.Cluster, p.Spec.Region, vmss, idx)
	default:
		n.Name = "ip-" + strings.ReplaceAll(ip, ".", "-") + "." + p.Spec.Region + ".compute.internal"
		n.InstanceID = "i-" + hex.EncodeToString(h[:9])[:17]
		n.ProviderID = fmt.Sprintf("aws:///%s/%s", p.Spec.Zone, n.InstanceID)
	}
	n.GPUFaults = e.gpuFaultsFor(p)
	return n
}

// sha1Hex is the hex digest GKE-like names derive from (the gkefront
// instance group name uses the same).
func sha1Hex(seed string) string {
	h := sha1.Sum([]byte(seed))
	return hex.EncodeToString(h[:16])
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// base36 renders the first bytes of h as n lower-case base-36 characters.
func base36(h []byte, n int) string {
	v := binary.BigEndian.Uint64(h[:8])
	s := strconv.FormatUint(v, 36)
	for len(s) < n {
		s = "0" + s
	}
	return s[len(s)-n:]
}

// nodeNotFound is the error of a node lookup by name.
func nodeNotFound(cl, op, pool, node string) error {
	return cloud.NotFound(cl, op, "NotFound", "node %s of node pool %s not found", node, pool)
}
