package cloudsim

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
)

type testMeta struct {
	Token string `json:"token"`
	N     int    `json:"n"`
}

// A record table reads the metadata objects of the version before the
// tables (the record's JSON in attrs "json"), keeps its rows out of the
// resources, and answers the engine's faults.
func TestRecordTable(t *testing.T) {
	old, err := json.Marshal(testMeta{"t1", 1})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "world.json")
	if err := WriteVersion1State(file, Object{Cloud: "aws", Kind: "TestMeta", Name: "a", Attrs: map[string]string{"json": string(old)}}); err != nil {
		t.Fatal(err)
	}
	e, err := New(Config{StateFile: file})
	if err != nil {
		t.Fatal(err)
	}
	tb := NewRecordTable[testMeta](e, "aws", "TestMeta")
	if got, err := tb.Get("a"); err != nil || got != (testMeta{"t1", 1}) {
		t.Fatalf("migrated record: %+v %v", got, err)
	}
	if inv := e.Inventory(); len(inv.Objects) != 1 || !inv.Objects[0].Row || len(inv.Resources().Objects) != 0 {
		t.Fatalf("inventory: %+v", inv)
	}
	if err := tb.Remove("b"); err != nil {
		t.Fatalf("Remove of nothing: %v", err)
	}
	boom := &cloud.Error{Kind: cloud.KindFatal, Message: "disk full"}
	if err := e.Inject(Fault{Cloud: "aws", Op: "DeleteTestMeta", Err: boom}); err != nil {
		t.Fatal(err)
	}
	if err := tb.Remove("a"); err == nil {
		t.Fatal("Remove with DeleteTestMeta failing: no error")
	}
	if err := tb.Remove("a"); err != nil {
		t.Fatal(err)
	}
	if _, err := tb.Get("a"); !cloud.IsNotFound(err) {
		t.Fatalf("removed record: %v", err)
	}
}

// A metadata object that does not read makes the table's calls fail.
func TestRecordTableUnreadable(t *testing.T) {
	file := filepath.Join(t.TempDir(), "world.json")
	if err := WriteVersion1State(file, Object{Cloud: "aws", Kind: "TestMeta", Name: "a", Attrs: map[string]string{"json": "{"}}); err != nil {
		t.Fatal(err)
	}
	e, err := New(Config{StateFile: file})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewRecordTable[testMeta](e, "aws", "TestMeta").All(); err == nil {
		t.Fatal("unreadable metadata object: no error")
	}
}
