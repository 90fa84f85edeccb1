package computefront

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// A world written before the typed tables (each resource an engine object
// of its kind with its protojson in attrs "json", operations
// "ComputeOperation" objects) loads: the front end moves them into its
// tables, and the resources are what the inventory lists.
func TestLegacyStateLoads(t *testing.T) {
	n := &computepb.Network{Name: proto.String("mesh"), Id: proto.Uint64(7), SelfLink: proto.String("projects/p/global/networks/mesh"),
		AutoCreateSubnetworks: proto.Bool(false)}
	data, err := protojson.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	op, err := json.Marshal(opRecord{Name: "operation-1", Project: "p", Type: "insert", Target: "projects/p/global/networks/mesh", Start: start, End: start})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "world.json")
	if err := cloudsim.WriteVersion1State(file,
		cloudsim.Object{Cloud: "gcp", Kind: "Network", Name: "p/mesh", Attrs: map[string]string{"json": string(data)}},
		cloudsim.Object{Cloud: "gcp", Kind: "ComputeOperation", Name: "p/operation-1", Attrs: map[string]string{"json": string(op)}},
	); err != nil {
		t.Fatal(err)
	}
	e, err := cloudsim.New(cloudsim.Config{StateFile: file})
	if err != nil {
		t.Fatal(err)
	}
	s := New(e, Options{}).(*server)
	sn, err := s.snapshot()
	if err != nil {
		t.Fatal(err)
	}
	m, ok := sn.load(kindNetwork, "p/mesh")
	if !ok || !proto.Equal(m, n) {
		t.Fatalf("migrated network: %v %v", m, ok)
	}
	if rec, err := s.ops.Get("p/operation-1"); err != nil || rec.Target != "projects/p/global/networks/mesh" {
		t.Fatalf("migrated operation: %+v %v", rec, err)
	}
	var res []string
	for _, o := range e.Inventory().Resources().Objects {
		res = append(res, o.Kind+" "+o.Name)
	}
	if !slices.Equal(res, []string{"Network p/mesh"}) {
		t.Fatalf("resources after the migration: %v", res)
	}
}
