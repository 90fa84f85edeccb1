package cloudsim

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
)

func names(ns []Node) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.Name)
	}
	return out
}

func readyCount(e *Engine, ns []Node) int {
	c := 0
	for _, n := range ns {
		if n.Ready(e.Now()) {
			c++
		}
	}
	return c
}

// TestNodeNames: each cloud names its machines and provider IDs its own
// way, deterministically.
func TestNodeNames(t *testing.T) {
	cases := []struct {
		cloud, region, zone  string
		name, provider, inst *regexp.Regexp
	}{
		{"aws", "eu-central-1", "eu-central-1a",
			regexp.MustCompile(`^ip-10-\d+-\d+-\d+\.eu-central-1\.compute\.internal$`),
			regexp.MustCompile(`^aws:///eu-central-1a/i-[0-9a-f]{17}$`), regexp.MustCompile(`^i-[0-9a-f]{17}$`)},
		{"gcp", "europe-west4", "europe-west4-b",
			regexp.MustCompile(`^gke-c1-gpu-[0-9a-f]{8}-[0-9a-z]{4}$`),
			regexp.MustCompile(`^gce://gpufleet-sim/europe-west4-b/gke-c1-gpu-[0-9a-f]{8}-[0-9a-z]{4}$`), regexp.MustCompile(`^\d+$`)},
		{"azure", "westeurope", "",
			regexp.MustCompile(`^aks-gpu-\d{8}-vmss00000[01]$`),
			regexp.MustCompile(`^azure:///subscriptions/0{8}-0{4}-0{4}-0{4}-0{12}/resourceGroups/mc_c1_c1_westeurope/providers/Microsoft.Compute/virtualMachineScaleSets/aks-gpu-\d{8}-vmss/virtualMachines/[01]$`),
			regexp.MustCompile(`^[01]$`)},
	}
	for _, tc := range cases {
		t.Run(tc.cloud, func(t *testing.T) {
			run := func() []Node {
				e, clock := newEngine(t)
				if _, err := e.CreateCluster(tc.cloud, cloud.ClusterSpec{Name: "c1", Region: tc.region}); err != nil {
					t.Fatal(err)
				}
				spec := cloud.NodePoolSpec{Cluster: "c1", Region: tc.region, Name: "gpu", InstanceType: "x", Zone: tc.zone, Nodes: 2}
				if _, err := e.CreateNodePool(tc.cloud, spec, PoolOptions{GPUsPerNode: 8}); err != nil {
					t.Fatal(err)
				}
				clock.Advance(DefaultDurations.PoolCreate)
				ns, err := e.PoolNodes(tc.cloud, tc.region, "c1", "gpu")
				if err != nil {
					t.Fatal(err)
				}
				return ns
			}
			ns := run()
			if len(ns) != 2 || ns[0].Name == ns[1].Name || ns[0].InstanceID == ns[1].InstanceID {
				t.Fatalf("nodes %+v", ns)
			}
			for _, n := range ns {
				if !tc.name.MatchString(n.Name) || !tc.provider.MatchString(n.ProviderID) || !tc.inst.MatchString(n.InstanceID) {
					t.Errorf("node %+v", n)
				}
			}
			if again := run(); !slices.Equal(names(again), names(ns)) {
				t.Fatalf("not deterministic: %v then %v", names(ns), names(again))
			}
		})
	}
}

// TestNodesFollowPool: machines appear when the create is done, follow
// updates (the newest leave first) and go with the pool.
func TestNodesFollowPool(t *testing.T) {
	e, clock := newEngine(t)
	if _, err := e.CreateCluster("aws", clusterSpec); err != nil {
		t.Fatal(err)
	}
	if _, err := e.CreateNodePool("aws", poolSpec("p", "euc1-az1", 2), PoolOptions{Family: "p", GPUsPerNode: 8}); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name  string
		do    func()
		nodes []int // Index of each node
	}{
		{"creating", func() {}, nil},
		{"created", func() { clock.Advance(DefaultDurations.PoolCreate) }, []int{0, 1}},
		{"scaling out", func() {
			n := 4
			if _, err := e.UpdateNodePool("aws", "eu-central-1", "c1", "p", cloud.NodePoolUpdate{Nodes: &n}); err != nil {
				t.Fatal(err)
			}
		}, []int{0, 1}},
		{"scaled out", func() { clock.Advance(DefaultDurations.PoolUpdate) }, []int{0, 1, 2, 3}},
		{"scaled in", func() {
			n := 1
			if _, err := e.UpdateNodePool("aws", "eu-central-1", "c1", "p", cloud.NodePoolUpdate{Nodes: &n}); err != nil {
				t.Fatal(err)
			}
			clock.Advance(DefaultDurations.PoolUpdate)
		}, []int{0}},
		{"deleting", func() {
			if _, err := e.DeleteNodePool("aws", "eu-central-1", "c1", "p"); err != nil {
				t.Fatal(err)
			}
		}, []int{0}},
	}
	for _, s := range steps {
		s.do()
		ns, err := e.PoolNodes("aws", "eu-central-1", "c1", "p")
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		var idx []int
		for _, n := range ns {
			idx = append(idx, n.Index)
		}
		if !slices.Equal(idx, s.nodes) || readyCount(e, ns) != len(s.nodes) {
			t.Fatalf("%s: nodes %v, want %v", s.name, idx, s.nodes)
		}
	}
	clock.Advance(DefaultDurations.PoolDelete)
	if _, err := e.PoolNodes("aws", "eu-central-1", "c1", "p"); !cloud.IsNotFound(err) {
		t.Fatalf("deleted pool: %v", err)
	}
}

// TestReplaceNode: the group launches a fresh machine for the terminated
// one; unknown pools and nodes are KindNotFound.
func TestReplaceNode(t *testing.T) {
	e, clock := newEngine(t)
	if _, err := e.CreateCluster("aws", clusterSpec); err != nil {
		t.Fatal(err)
	}
	if _, err := e.CreateNodePool("aws", poolSpec("p", "euc1-az1", 2), PoolOptions{Family: "p", GPUsPerNode: 8}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(DefaultDurations.PoolCreate)
	before, _ := e.PoolNodes("aws", "eu-central-1", "c1", "p")
	if err := e.ReplaceNode("aws", "eu-central-1", "c1", "p", before[0].Name); err != nil {
		t.Fatal(err)
	}
	after, _ := e.PoolNodes("aws", "eu-central-1", "c1", "p")
	if len(after) != 2 || after[0].Name != before[1].Name || after[1].Index != 2 || after[1].Name == before[0].Name ||
		after[1].InstanceID == before[0].InstanceID || after[1].Ready(e.Now()) {
		t.Fatalf("after replace: %+v", after)
	}
	clock.Advance(DefaultDurations.PoolCreate)
	if after, _ = e.PoolNodes("aws", "eu-central-1", "c1", "p"); readyCount(e, after) != 2 {
		t.Fatalf("replacement not ready: %+v", after)
	}
	errs := []struct{ pool, node string }{{"p", before[0].Name}, {"p", "ip-10-9-9-9.eu-central-1.compute.internal"}, {"nope", before[1].Name}}
	for _, c := range errs {
		if err := e.ReplaceNode("aws", "eu-central-1", "c1", c.pool, c.node); !cloud.IsNotFound(err) {
			t.Errorf("replace %s/%s: %v", c.pool, c.node, err)
		}
	}
}

func faultyIndexes(ns []Node) []int {
	var out []int
	for _, n := range ns {
		if len(n.GPUFaults) > 0 {
			out = append(out, n.Index)
		}
	}
	return out
}

// TestGPUFaultSelectors: a counted selector takes existing nodes (lowest
// Index first), then replacements, until its budget is spent; "every"
// (Nodes 0) takes every matching node forever; other pools are spared.
func TestGPUFaultSelectors(t *testing.T) {
	cases := []struct {
		name        string
		sel         GPUFaultSelector
		existing    []int // faulty nodes right after injection
		afterTwo    []int // after replacing node 0 and then node 1
		otherFaulty bool
	}{
		{"one node", GPUFaultSelector{Pool: "p", Nodes: 1}, []int{0}, nil, false},
		{"three nodes", GPUFaultSelector{Cloud: "aws", Cluster: "c1", Pool: "p", Nodes: 3}, []int{0, 1}, []int{2}, false},
		{"every node", GPUFaultSelector{Pool: "p"}, []int{0, 1}, []int{2, 3}, false},
		{"every p5", GPUFaultSelector{InstanceType: "p5.48xlarge"}, []int{0, 1}, []int{2, 3}, true},
		{"other region", GPUFaultSelector{Region: "us-east-1"}, nil, nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, clock := newEngine(t)
			if _, err := e.CreateCluster("aws", clusterSpec); err != nil {
				t.Fatal(err)
			}
			if _, err := e.CreateNodePool("aws", poolSpec("p", "euc1-az1", 2), PoolOptions{Family: "p", GPUsPerNode: 8}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.CreateNodePool("aws", poolSpec("other", "euc1-az2", 1), PoolOptions{Family: "p", GPUsPerNode: 8}); err != nil {
				t.Fatal(err)
			}
			clock.Advance(DefaultDurations.PoolCreate)
			if err := e.InjectGPUFault(tc.sel, GPUFault{Kind: GPUFaultXID79, GPU: 3}); err != nil {
				t.Fatal(err)
			}
			ns, _ := e.PoolNodes("aws", "eu-central-1", "c1", "p")
			if got := faultyIndexes(ns); !slices.Equal(got, tc.existing) {
				t.Fatalf("faulty after injection %v, want %v", got, tc.existing)
			}
			for range 2 {
				ns, _ = e.PoolNodes("aws", "eu-central-1", "c1", "p")
				if err := e.ReplaceNode("aws", "eu-central-1", "c1", "p", ns[0].Name); err != nil {
					t.Fatal(err)
				}
			}
			ns, _ = e.PoolNodes("aws", "eu-central-1", "c1", "p")
			if got := faultyIndexes(ns); !slices.Equal(got, tc.afterTwo) {
				t.Fatalf("faulty after replacements %v, want %v", got, tc.afterTwo)
			}
			for _, n := range ns {
				if len(n.GPUFaults) > 0 && n.GPUFaults[0] != (GPUFault{Kind: GPUFaultXID79, GPU: 3}) {
					t.Fatalf("fault %+v", n.GPUFaults)
				}
			}
			other, _ := e.PoolNodes("aws", "eu-central-1", "c1", "other")
			if (len(faultyIndexes(other)) > 0) != tc.otherFaulty {
				t.Fatalf("other pool faulty: %+v", other)
			}
		})
	}
}

// TestKubeStatePersists: nodes, GPU fault selectors, the cluster CA and
// Kubernetes documents survive in the state file; they go with the
// cluster.
func TestKubeStatePersists(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state.json")
	clock := NewFakeClock(t0)
	a, err := New(Config{Clock: clock, StateFile: file})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := a.CreateCluster("aws", clusterSpec)
	if _, err := a.CreateNodePool("aws", poolSpec("p", "euc1-az1", 1), PoolOptions{Family: "p", GPUsPerNode: 8}); err != nil {
		t.Fatal(err)
	}
	if err := a.InjectGPUFault(GPUFaultSelector{Pool: "p", Nodes: 2}, GPUFault{Kind: GPUFaultECCUncorrectable}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(DefaultDurations.PoolCreate)
	nodesA, _ := a.PoolNodes("aws", "eu-central-1", "c1", "p")
	if err := a.PutKubeObjects("aws", "eu-central-1", "c1", 7, map[string][]byte{"v1/nodes//n1": []byte(`{"a":1}`)}); err != nil {
		t.Fatal(err)
	}
	tokA, caA, err := a.KubeAdmin("aws", "eu-central-1", "c1")
	if err != nil || tokA != "cloudsim-"+c.ID {
		t.Fatalf("token %q %v", tokA, err)
	}
	der, _ := base64.StdEncoding.DecodeString(c.CACertificate)
	if string(der) != string(caA) {
		t.Fatal("CACertificate is not the CA KubeAdmin returns")
	}
	blk, _ := pem.Decode(caA)
	ca, err := x509.ParseCertificate(blk.Bytes)
	if err != nil || !ca.IsCA {
		t.Fatalf("CA %v", err)
	}

	b, err := New(Config{Clock: clock, StateFile: file})
	if err != nil {
		t.Fatal(err)
	}
	nodesB, _ := b.PoolNodes("aws", "eu-central-1", "c1", "p")
	if !slices.Equal(names(nodesA), names(nodesB)) || len(nodesB[0].GPUFaults) != 1 {
		t.Fatalf("nodes %+v then %+v", nodesA, nodesB)
	}
	// The selector had budget for one more node: the replacement gets it.
	if err := b.ReplaceNode("aws", "eu-central-1", "c1", "p", nodesB[0].Name); err != nil {
		t.Fatal(err)
	}
	nodesB, _ = b.PoolNodes("aws", "eu-central-1", "c1", "p")
	if len(nodesB[0].GPUFaults) != 1 {
		t.Fatalf("replacement %+v", nodesB)
	}
	tokB, caB, _ := b.KubeAdmin("aws", "eu-central-1", "c1")
	cert, key, err := b.KubeCA("aws", "eu-central-1", "c1")
	if tokB != tokA || string(caB) != string(caA) || err != nil || !cert.Equal(ca) || key == nil {
		t.Fatal("the CA or token changed")
	}
	id, rv, docs, err := b.KubeObjects("aws", "eu-central-1", "c1")
	if err != nil || id != c.ID || rv != 7 || string(docs["v1/nodes//n1"]) != `{"a":1}` {
		t.Fatalf("objects %s %d %v %v", id, rv, docs, err)
	}
	if err := b.PutKubeObjects("aws", "eu-central-1", "c1", 8, map[string][]byte{"v1/nodes//n1": nil}); err != nil {
		t.Fatal(err)
	}
	if _, _, docs, _ = b.KubeObjects("aws", "eu-central-1", "c1"); len(docs) != 0 {
		t.Fatalf("deleted document: %v", docs)
	}

	if _, err := b.DeleteNodePool("aws", "eu-central-1", "c1", "p"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(DefaultDurations.PoolDelete)
	if _, err := b.DeleteCluster("aws", "eu-central-1", "c1"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(DefaultDurations.ClusterDelete)
	if _, _, _, err := b.KubeObjects("aws", "eu-central-1", "c1"); !cloud.IsNotFound(err) {
		t.Fatalf("objects of a deleted cluster: %v", err)
	}
	if len(b.st.Kube) != 0 {
		t.Fatalf("kube state left: %v", b.st.Kube)
	}
}

// The Kubernetes log: deletes win over earlier puts, a partial last line
// (a write cut short) is ignored, a long log is compacted to what it
// holds, and the log goes with its cluster.
func TestKubeLog(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "state.json")
	clock := NewFakeClock(t0)
	e, err := New(Config{Clock: clock, StateFile: file})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := e.CreateCluster("aws", clusterSpec)
	put := func(rv int64, docs map[string][]byte) {
		t.Helper()
		if err := e.PutKubeObjects("aws", "eu-central-1", "c1", rv, docs); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 600 {
		put(int64(i+1), map[string][]byte{"v1/nodes//n": []byte(fmt.Sprintf(`{"i":%d}`, i))})
	}
	put(601, map[string][]byte{"v1/pods/ns/p": []byte(`{"p":1}`), "v1/nodes//gone": []byte(`{}`)})
	put(602, map[string][]byte{"v1/nodes//gone": nil})
	log := filepath.Join(dir, "kube", c.ID+".jsonl")
	f, _ := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"k":"v1/nodes//half","d":{"x"`)
	f.Close()

	other, err := New(Config{Clock: clock, StateFile: file})
	if err != nil {
		t.Fatal(err)
	}
	_, rv, docs, err := other.KubeObjects("aws", "eu-central-1", "c1")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"v1/nodes//n": `{"i":599}`, "v1/pods/ns/p": `{"p":1}`}
	if rv != 602 || len(docs) != len(want) {
		t.Fatalf("rv %d, docs %v", rv, docs)
	}
	for k, v := range want {
		if string(docs[k]) != v {
			t.Errorf("%s = %s, want %s", k, docs[k], v)
		}
	}
	data, _ := os.ReadFile(log)
	if n := strings.Count(string(data), "\n"); n != 2 {
		t.Errorf("log has %d lines after compaction, want 2", n)
	}
	if _, err := other.DeleteCluster("aws", "eu-central-1", "c1"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(DefaultDurations.ClusterDelete)
	other.Inventory()
	if _, err := os.Stat(log); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the log outlived its cluster: %v", err)
	}
}
