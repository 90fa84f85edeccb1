package cloud_test

import (
	"context"
	"testing"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
)

// TestDecoratedList: List goes through the decorators (counted as
// "aws.List") and finds only clusters tagged cloud.ManagedTag, sorted.
func TestDecoratedList(t *testing.T) {
	_, b := simBackend(t)
	ctx := context.Background()
	for _, s := range []cloud.ClusterSpec{
		{Name: "b", Region: "eu-central-1", Tags: map[string]string{cloud.ManagedTag: "terraform"}},
		{Name: "a", Region: "eu-west-1", Tags: map[string]string{cloud.ManagedTag: "terraform"}},
		{Name: "theirs", Region: "eu-central-1"},
	} {
		if _, err := b.CreateCluster(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	var m cloud.Metrics
	d := cloud.WithMetrics(cloud.WithRetries(b, cloud.RetryPolicy{}), &m, nil)
	for _, tc := range []struct {
		o    cloud.ListOptions
		want []string
	}{
		{cloud.ListOptions{}, []string{"eu-central-1/b", "eu-west-1/a"}},
		{cloud.ListOptions{Regions: []string{"eu-west-1"}}, []string{"eu-west-1/a"}},
	} {
		rs, err := d.List(ctx, tc.o)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range rs {
			got = append(got, r.Region+"/"+r.Name)
		}
		if len(got) != len(tc.want) || got[0] != tc.want[0] || got[len(got)-1] != tc.want[len(tc.want)-1] {
			t.Fatalf("List(%+v) = %q, want %q", tc.o, got, tc.want)
		}
	}
	if s := m.Snapshot()["aws.List"]; s.Calls != 2 {
		t.Fatalf("metrics %+v, want 2 calls of aws.List", m.Snapshot())
	}
}
