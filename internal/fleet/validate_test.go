package fleet

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/gpuhealth"
)

// replacing is the simulated backend with node replacement.
type replacing struct{ *cloudsim.DirectBackend }

func (r replacing) ReplaceNode(_ context.Context, region, cluster, pool string, node cloud.NodeRef) error {
	return r.Engine.ReplaceNode(r.CloudName, region, cluster, pool, node.Name)
}

// judge reads a pool's simulated machines as a validator would leave their
// Node objects: a booted machine passes unless it has a GPU fault. (The
// real validator against a real Kubernetes API is exercised end to end by
// the provider's acceptance tests.)
type judge struct {
	e     *cloudsim.Engine
	clock *cloudsim.FakeClock
	reads int
	// never leaves every node unjudged (no validator installed).
	never bool
}

func (j *judge) PoolNodes(_ context.Context, p Pool) ([]Node, error) {
	j.reads++
	ns, err := j.e.PoolNodes(p.Offer.Cloud, p.Offer.Region, p.Cluster, p.Name)
	if err != nil {
		return nil, err
	}
	var out []Node
	for _, n := range ns {
		if !n.Ready(j.clock.Now()) {
			out = append(out, Node{Name: n.Name, ProviderID: n.ProviderID, Tainted: true})
			continue
		}
		node := Node{Name: n.Name, ProviderID: n.ProviderID, Ready: true, Health: gpuhealth.Pass}
		for _, f := range n.GPUFaults {
			node.Health, node.Tainted = gpuhealth.Fail, true
			node.Failures = append(node.Failures, gpuhealth.Failure{GPU: f.GPU, Check: f.Kind, Reason: "injected " + f.Kind})
		}
		if j.never {
			node.Health, node.Tainted, node.Failures = "", true, nil
		}
		out = append(out, node)
	}
	return out, nil
}

func validatingWorld(t *testing.T) (*cloudsim.Engine, *Fleet, *judge) {
	t.Helper()
	e, f, clock := worldClock(t)
	b := f.Backends["aws"].(*cloudsim.DirectBackend)
	f.Backends["aws"] = replacing{b}
	j := &judge{e: e, clock: clock}
	f.Validation = &Validation{Nodes: j, Poll: 5 * time.Second, Timeout: 10 * time.Minute, Sleep: b.Sleep, Now: j.clock.Now}
	return e, f, j
}

var validating = Spec{Labels: spec.Labels, Taints: spec.Taints, Validate: true}

func TestValidationWaitsForEveryNode(t *testing.T) {
	_, f, j := validatingWorld(t)
	got, err := f.Create(context.Background(), []Allocation{{Offer: offer("eu-central-1", "euc1-az1", 3)}}, validating, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Validated != 3 || len(got[0].Failures) != 0 {
		t.Fatalf("pools %+v", got)
	}
	if j.reads == 0 {
		t.Fatal("validation never read the nodes")
	}
}

func TestBadGPUIsReplacedAndPoolConverges(t *testing.T) {
	e, f, _ := validatingWorld(t)
	if err := e.InjectGPUFault(cloudsim.GPUFaultSelector{Cloud: "aws", Nodes: 1}, cloudsim.GPUFault{Kind: "xid79", GPU: 3}); err != nil {
		t.Fatal(err)
	}
	got, err := f.Create(context.Background(), []Allocation{{Offer: offer("eu-central-1", "euc1-az1", 2)}}, validating, true)
	if err != nil {
		t.Fatal(err)
	}
	p := got[0]
	if p.Validated != 2 || len(p.Failures) != 1 || !p.Failures[0].Replaced || p.Failures[0].GPU != 3 || p.Failures[0].Check != "xid79" {
		t.Fatalf("pool %+v", p)
	}
	ns, _ := e.PoolNodes("aws", "eu-central-1", p.Cluster, p.Name)
	if len(ns) != 2 || ns[0].Name == p.Failures[0].Node || ns[1].Name == p.Failures[0].Node {
		t.Fatalf("the failed node %s was not replaced: %+v", p.Failures[0].Node, ns)
	}
}

func TestBadGPUOnEveryReplacementFailsOver(t *testing.T) {
	e, f, _ := validatingWorld(t)
	// Every p5 node in euc1-az1 has a bad GPU; the fallback zone is fine.
	if err := e.InjectGPUFault(cloudsim.GPUFaultSelector{Cloud: "aws", Region: "eu-central-1", Cluster: "c-eu-central-1", Pool: PoolName(offer("eu-central-1", "euc1-az1", 1).Key)},
		cloudsim.GPUFault{Kind: "ecc_uncorrectable", GPU: 0}); err != nil {
		t.Fatal(err)
	}
	a := Allocation{Offer: offer("eu-central-1", "euc1-az1", 1), Fallbacks: []Offer{offer("eu-central-1", "euc1-az2", 1)}}
	got, err := f.Create(context.Background(), []Allocation{a}, validating, true)
	if err != nil {
		t.Fatal(err)
	}
	p := got[0]
	if p.Offer.Zone != "euc1-az2" || p.Validated != 1 {
		t.Fatalf("pool %+v", p)
	}
	// Two replacements, then the third failure gave the offer up.
	if len(p.Failures) != 3 || !p.Failures[0].Replaced || !p.Failures[1].Replaced || p.Failures[2].Replaced {
		t.Fatalf("failures %+v", p.Failures)
	}
	if len(p.Tried) != 1 || !strings.Contains(p.Tried[0], "GPU validation") {
		t.Fatalf("tried %v", p.Tried)
	}
	if n := pools(e); n != 1 {
		t.Fatalf("%d pools exist, want the fallback's only", n)
	}
}

func TestBadGPUEverywhereFailsWithoutLeaking(t *testing.T) {
	e, f, _ := validatingWorld(t)
	if err := e.InjectGPUFault(cloudsim.GPUFaultSelector{Cloud: "aws"}, cloudsim.GPUFault{Kind: "missing_gpu", GPU: 7}); err != nil {
		t.Fatal(err)
	}
	a := Allocation{Offer: offer("eu-central-1", "euc1-az1", 1), Fallbacks: []Offer{offer("eu-central-1", "euc1-az2", 1)}}
	got, err := f.Create(context.Background(), []Allocation{a}, validating, true)
	var ve *ValidationError
	if !errors.As(err, &ve) || !ve.Exhausted || len(got) != 0 {
		t.Fatalf("pools %+v, err %v", got, err)
	}
	if !strings.Contains(err.Error(), "keep failing GPU validation") || !strings.Contains(err.Error(), "missing_gpu") {
		t.Fatalf("error %q does not say which check failed", err)
	}
	if n := pools(e); n != 0 {
		t.Fatalf("%d pools leaked", n)
	}
}

func TestValidationTimeoutKeepsThePool(t *testing.T) {
	e, f, j := validatingWorld(t)
	j.never = true
	got, err := f.Create(context.Background(), []Allocation{{Offer: offer("eu-central-1", "euc1-az1", 2)}}, validating, true)
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Exhausted || len(got) != 1 || got[0].Validated != 0 {
		t.Fatalf("pools %+v, err %v", got, err)
	}
	for _, want := range []string{"0/2 nodes validated after 10m", "not checked yet", "DaemonSet"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if n := pools(e); n != 1 {
		t.Fatalf("%d pools, want the timed-out pool kept (it exists and the state records it)", n)
	}
}

func TestScaleOutWaitsForTheNewNodes(t *testing.T) {
	e, f, _ := validatingWorld(t)
	a := Allocation{Offer: offer("eu-central-1", "euc1-az1", 1)}
	got, err := f.Create(context.Background(), []Allocation{a}, validating, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.InjectGPUFault(cloudsim.GPUFaultSelector{Cloud: "aws", Nodes: 1}, cloudsim.GPUFault{Kind: "nvlink_down", GPU: 1}); err != nil {
		t.Fatal(err)
	}
	a.Nodes = 3
	got, err = f.Apply(context.Background(), Plan([]Allocation{a}, got), validating, true)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Validated != 3 || got[0].Offer.Nodes != 3 || len(got[0].Failures) != 1 {
		t.Fatalf("pool %+v", got[0])
	}
}

func TestUserDataErrorFailsTheAllocation(t *testing.T) {
	e, f := world(t)
	s := spec
	s.UserData = func(Offer, string) (string, error) { return "", errors.New("cluster endpoint unknown") }
	_, err := f.Create(context.Background(), []Allocation{{Offer: offer("eu-central-1", "euc1-az1", 1)}}, s, true)
	if err == nil || !strings.Contains(err.Error(), "node bootstrap") || !strings.Contains(err.Error(), "cluster endpoint unknown") {
		t.Fatalf("err %v", err)
	}
	if n := pools(e); n != 0 {
		t.Fatalf("%d pools created without their bootstrap", n)
	}
}

// scripted returns one list of nodes per read, then the last forever.
type scripted struct{ reads [][]Node }

func (s *scripted) PoolNodes(context.Context, Pool) ([]Node, error) {
	r := s.reads[0]
	if len(s.reads) > 1 {
		s.reads = s.reads[1:]
	}
	return r, nil
}

// countingReplacer records replacements.
type countingReplacer struct {
	cloud.Backend
	replaced []string
}

func (c *countingReplacer) ReplaceNode(_ context.Context, _, _, _ string, n cloud.NodeRef) error {
	c.replaced = append(c.replaced, n.Name)
	return nil
}

// A node that keeps its name through a replacement (GCE recreate, Azure
// redeploy) is judged again by its new verdict's time, not skipped.
func TestReplacedNodeKeepsItsName(t *testing.T) {
	fail := func(at string) Node {
		return Node{Name: "vmss000000", Ready: true, Health: gpuhealth.Fail, Tainted: true, CheckedAt: at,
			Failures: []gpuhealth.Failure{{GPU: 1, Check: "nvlink", Reason: "link 2 inactive"}}}
	}
	pass := Node{Name: "vmss000000", Ready: true, Health: gpuhealth.Pass, CheckedAt: "t3"}
	tests := []struct {
		name      string
		reads     [][]Node
		budget    int
		replaced  int
		exhausted bool
	}{
		{"fails, is redeployed, passes", [][]Node{{fail("t1")}, {fail("t1")}, {pass}}, 2, 1, false},
		{"fails again after each redeploy", [][]Node{{fail("t1")}, {fail("t2")}, {fail("t3")}}, 2, 2, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &countingReplacer{}
			v := &Validation{Nodes: &scripted{reads: tc.reads}, MaxReplacements: tc.budget, Timeout: time.Hour,
				Sleep: func(context.Context, time.Duration) error { return nil }}
			p := &Pool{Name: "p", Offer: Offer{Cloud: "azure", Region: "westeurope", Nodes: 1}}
			err := v.wait(context.Background(), r, p, func(string, ...any) {})
			if len(r.replaced) != tc.replaced {
				t.Fatalf("replaced %v, want %d", r.replaced, tc.replaced)
			}
			if got := isBadHardware(err); got != tc.exhausted {
				t.Fatalf("err %v, exhausted %v, want %v", err, got, tc.exhausted)
			}
		})
	}
}
