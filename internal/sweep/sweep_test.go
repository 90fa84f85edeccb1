package sweep

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

func TestAddState(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		held       []string
		notHeld    []string
		err        string
	}{
		{name: "tfstate", data: `{"version": 4, "resources": [
			{"type": "gpufleet_pool", "instances": [{"attributes": {"pools": {"a": {"name": "gpufleet-00000000000a"}}, "id": "aws/eu-north-1/c1"}}]},
			{"type": "aws_eks_cluster", "instances": [{"attributes": {"name": "theirs"}}]}]}`,
			held: []string{"gpufleet-00000000000a", "c1", "aws/eu-north-1/c1", "a"}, notHeld: []string{"theirs"}},
		{name: "show -json, child module", data: `{"format_version": "1.0", "values": {"root_module": {"child_modules": [{"resources": [
			{"type": "gpufleet_network", "values": {"sites": [{"network_name": "gf-net-1"}]}}]}]}}}`,
			held: []string{"gf-net-1"}},
		{name: "show -json of an empty state", data: `{"format_version": "1.0"}`},
		{name: "old state", data: `{"version": 3}`, err: "state format version 3"},
		{name: "not a state", data: `{"hello": 1}`, err: "neither a .tfstate file"},
		{name: "not JSON", data: `resource "x" {}`, err: "JSON expected"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHeld()
			err := h.AddState("f", []byte(tc.data))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || h.States != 1 {
				t.Fatalf("%v, %d states", err, h.States)
			}
			for _, n := range tc.held {
				if !h.Has(n) {
					t.Errorf("%q not held", n)
				}
			}
			for _, n := range tc.notHeld {
				if h.Has(n) {
					t.Errorf("%q held", n)
				}
			}
		})
	}
}

// failing fails DeleteCluster of one cluster, as a cloud refusing it.
type failing struct {
	cloud.Backend
	cluster string
}

func (f failing) DeleteCluster(ctx context.Context, region, name string) error {
	if name == f.cluster {
		return &cloud.Error{Kind: cloud.KindFatal, Cloud: f.Cloud(), Op: "DeleteCluster", Code: "AccessDenied", Message: "not allowed"}
	}
	return f.Backend.DeleteCluster(ctx, region, name)
}

// TestFindAndDelete decides every listed resource (in state, a cluster
// whose pool a state holds, younger than --older-than, unknown age,
// candidate), prices pools from the catalog's on-demand prices, and
// deletes the candidates pools first; a failed delete is reported and
// returned, and the others go on.
func TestFindAndDelete(t *testing.T) {
	clock := cloudsim.NewFakeClock(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	e, err := cloudsim.New(cloudsim.Config{Clock: clock, Durations: cloudsim.Durations{ClusterCreate: time.Second, ClusterDelete: time.Second,
		PoolCreate: time.Second, PoolDelete: time.Second, PoolUpdate: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	direct := &cloudsim.DirectBackend{Engine: e, CloudName: "aws", Sleep: func(ctx context.Context, d time.Duration) error {
		clock.Advance(d)
		return ctx.Err()
	}}
	ctx := context.Background()
	managed := map[string]string{cloud.ManagedTag: "terraform"}
	mk := func(cluster, pool string, nodes int) {
		t.Helper()
		if _, err := direct.CreateCluster(ctx, cloud.ClusterSpec{Name: cluster, Region: "eu-north-1", Tags: managed}); err != nil {
			t.Fatal(err)
		}
		if pool != "" {
			if _, err := direct.CreateNodePool(ctx, cloud.NodePoolSpec{Cluster: cluster, Region: "eu-north-1", Name: pool, InstanceType: "p5.48xlarge",
				Zone: "eun1-az1", CapacityType: "on_demand", Nodes: nodes}); err != nil {
				t.Fatal(err)
			}
		}
	}
	mk("old", "gpufleet-00000000000a", 2)
	mk("kept", "gpufleet-00000000000b", 1)
	mk("denied", "", 0)
	clock.Advance(3 * time.Hour)
	mk("young", "gpufleet-00000000000c", 1)

	held := NewHeld()
	if err := held.AddState("s", []byte(`{"version": 4, "resources": [{"type": "gpufleet_pool", "instances": [{"attributes": {"name": "gpufleet-00000000000b"}}]}]}`)); err != nil {
		t.Fatal(err)
	}
	o := Options{Targets: map[string]Target{"aws": {Backend: failing{direct, "denied"}}}, Held: held, OlderThan: 2 * time.Hour,
		Now: clock.Now, Catalog: planner.Embedded()}
	rep := Find(ctx, o)
	var got []string
	for _, it := range rep.Items {
		got = append(got, string(it.Kind)+" "+it.Name+": "+it.Keep)
	}
	want := []string{
		"node_pool gpufleet-00000000000b: in state", "node_pool gpufleet-00000000000a: ", "node_pool gpufleet-00000000000c: younger than 2h0m0s",
		"cluster denied: ", "cluster kept: has a node pool in state", "cluster old: ", "cluster young: younger than 2h0m0s",
	}
	if !slices.Equal(got, want) || len(rep.Errors) > 0 {
		t.Fatalf("Find:\n%q\nwant\n%q (errors %v)", got, want, rep.Errors)
	}
	if it := rep.Items[1]; !it.Priced || it.PriceUSDHour != 2*58.8928 || it.Age < 3*time.Hour {
		t.Fatalf("pool %+v: want 2 × 58.8928 $/h and 3h old", it)
	}
	var table bytes.Buffer
	Print(&table, rep)
	for _, w := range []string{"old/gpufleet-00000000000a (2 × p5.48xlarge)  3h00m  117.79", "total", "3 resources", "younger than 2h0m0s"} {
		if !strings.Contains(table.String(), w) {
			t.Errorf("table lacks %q:\n%s", w, table.String())
		}
	}

	var log bytes.Buffer
	err = Delete(ctx, &log, o, rep)
	var ce *cloud.Error
	if !errors.As(err, &ce) || ce.Code != "AccessDenied" || !strings.Contains(err.Error(), "cluster denied") {
		t.Fatalf("Delete: %v, want the denied cluster's error", err)
	}
	lines := strings.Split(strings.TrimSpace(log.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "deleted aws eu-north-1 node_pool old/gpufleet-00000000000a") ||
		!strings.HasPrefix(lines[1], "FAILED  aws eu-north-1 cluster denied") || !strings.HasPrefix(lines[2], "deleted aws eu-north-1 cluster old") {
		t.Fatalf("Delete log:\n%s", log.String())
	}
	left, _ := direct.List(ctx, cloud.ListOptions{})
	var names []string
	for _, r := range left {
		names = append(names, r.Name)
	}
	if want := []string{"gpufleet-00000000000b", "gpufleet-00000000000c", "denied", "kept", "young"}; !slices.Equal(names, want) {
		t.Fatalf("left %q, want %q", names, want)
	}
}

func TestFormatAge(t *testing.T) {
	for d, want := range map[time.Duration]string{-1: "?", 30 * time.Second: "<1m", 7 * time.Minute: "7m", 2*time.Hour + 5*time.Minute: "2h05m", 50 * time.Hour: "50h00m"} {
		if got := FormatAge(d); got != want {
			t.Errorf("FormatAge(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestSummary(t *testing.T) {
	two := NewHeld()
	two.States = 2
	for _, tc := range []struct {
		h    *Held
		want string
	}{{nil, "No --state given"}, {NewHeld(), "No --state given"}, {&Held{States: 1}, "what 1 state holds."}, {two, "what 2 states hold."}} {
		if got := Summary(tc.h); !strings.Contains(got, tc.want) {
			t.Errorf("Summary(%v) = %q, want %q", tc.h, got, tc.want)
		}
	}
}
