package gkefront

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// A world written before the typed tables (cluster and node pool metadata
// and operations as engine objects, the JSON in attrs "json") loads: the
// front end moves them into its tables, and none is a resource.
func TestLegacyRecordsLoad(t *testing.T) {
	obj := func(kind, name string, v any) cloudsim.Object {
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return cloudsim.Object{Cloud: cloudName, Kind: kind, Name: name, Attrs: map[string]string{"json": string(data)}}
	}
	file := filepath.Join(t.TempDir(), "world.json")
	if err := cloudsim.WriteVersion1State(file,
		obj(kindClusterMeta, "europe-west4/c1", clusterMeta{Project: "p", Location: "europe-west4", Proto: `{"name":"c1","locations":["europe-west4-b"]}`}),
		obj(kindPoolMeta, "europe-west4/c1/gpu", poolMeta{Project: "p", Version: "1.33"}),
		obj(kindOperation, "operation-1", opRecord{Name: "operation-1", Type: "CREATE_CLUSTER", Region: "europe-west4", Cluster: "c1", Done: true}),
	); err != nil {
		t.Fatal(err)
	}
	e, err := cloudsim.New(cloudsim.Config{StateFile: file})
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(e, Options{})
	if m, c, err := s.clusterMetaFor("europe-west4", "c1"); err != nil || m.Project != "p" || c.GetLocations()[0] != "europe-west4-b" {
		t.Fatalf("migrated cluster record: %+v %v %v", m, c, err)
	}
	if m, _, err := s.poolMetaFor("europe-west4", "c1", "gpu"); err != nil || m.Version != "1.33" {
		t.Fatalf("migrated node pool record: %+v %v", m, err)
	}
	if op, err := s.rec.ops.Get("operation-1"); err != nil || !op.Done || op.Cluster != "c1" {
		t.Fatalf("migrated operation: %+v %v", op, err)
	}
	inv := e.Inventory()
	if len(inv.Objects) != 3 || len(inv.Resources().Objects) != 0 {
		t.Fatalf("inventory after the migration: %+v", inv.Objects)
	}
	for _, o := range inv.Objects {
		if !o.Row {
			t.Fatalf("%s %s left an engine object", o.Kind, o.Name)
		}
	}
}
