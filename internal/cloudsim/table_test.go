package cloudsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
)

// vnet is a model row of the tests.
type vnet struct {
	CIDR string            `json:"cidr"`
	Tags map[string]string `json:"tags,omitempty"`
}

func TestTableRows(t *testing.T) {
	e, _ := newEngine(t)
	tb := NewTable[vnet](e, "azure", "VirtualNetwork", TableOptions{})
	for _, n := range []string{"rg/b", "rg/a", "rg/c"} {
		if err := tb.Put(n, vnet{CIDR: "10.0.0.0/16"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tb.Put("rg/a", vnet{CIDR: "10.1.0.0/16", Tags: map[string]string{"k": "v"}}); err != nil {
		t.Fatal(err)
	}
	got, err := tb.Get("rg/a")
	if err != nil || got.CIDR != "10.1.0.0/16" || got.Tags["k"] != "v" {
		t.Fatalf("get: %+v %v", got, err)
	}
	if _, err := tb.Get("rg/x"); !cloud.IsNotFound(err) {
		t.Fatalf("get of none: %v", err)
	}
	if err := tb.Delete("rg/c"); err != nil {
		t.Fatal(err)
	}
	if err := tb.Delete("rg/c"); !cloud.IsNotFound(err) {
		t.Fatalf("second delete: %v", err)
	}
	rows, err := tb.All()
	var names []string
	for _, r := range rows {
		names = append(names, r.Name)
	}
	if err != nil || !slices.Equal(names, []string{"rg/a", "rg/b"}) {
		t.Fatalf("all: %v %v", names, err)
	}
	if _, ok, err := tb.Lookup("rg/b"); !ok || err != nil {
		t.Fatalf("lookup: %v %v", ok, err)
	}
	// Other clouds' and kinds' tables are separate.
	if _, ok, _ := NewTable[vnet](e, "azure", "Subnet", TableOptions{}).Lookup("rg/b"); ok {
		t.Fatal("a row seen in another kind's table")
	}
}

func TestTableFaultsAndLimits(t *testing.T) {
	e, _ := newEngine(t)
	tb := NewTable[vnet](e, "azure", "VirtualNetwork", TableOptions{})
	for _, tt := range []struct {
		op   string
		call func() error
	}{
		{"CreateVirtualNetwork", func() error { return tb.Put("rg/a", vnet{CIDR: "10.0.0.0/16"}) }},
		{"GetVirtualNetwork", func() error { _, err := tb.Get("rg/a"); return err }},
		{"DeleteVirtualNetwork", func() error { return tb.Delete("rg/a") }},
	} {
		if err := e.Inject(Fault{Cloud: "azure", Op: tt.op, Err: &cloud.Error{Kind: cloud.KindTransient, Code: "Boom", Message: "x"}}); err != nil {
			t.Fatal(err)
		}
		if err := tt.call(); !cloud.IsTransient(err) {
			t.Fatalf("%s with a fault: %v", tt.op, err)
		}
		if err := tt.call(); err != nil {
			t.Fatalf("%s after the fault: %v", tt.op, err)
		}
	}
	if err := e.SetRateLimit("azure", "GetVirtualNetwork", 0.001, 1); err != nil {
		t.Fatal(err)
	}
	_, _ = tb.Get("rg/a")
	if _, err := tb.Get("rg/a"); !cloud.IsThrottled(err) {
		t.Fatalf("throttled get: %v", err)
	}
	// Lookups and listings are not billed calls.
	if _, _, err := tb.Lookup("rg/a"); err != nil {
		t.Fatal(err)
	}
}

func TestTablePersistsAndInventories(t *testing.T) {
	file := filepath.Join(t.TempDir(), "world.json")
	e, err := New(Config{StateFile: file})
	if err != nil {
		t.Fatal(err)
	}
	res := NewTable[vnet](e, "azure", "VirtualNetwork", TableOptions{})
	ops := NewTable[vnet](e, "azure", "NetOp", TableOptions{Bookkeeping: true})
	if err := res.Put("rg/v", vnet{CIDR: "10.0.0.0/16"}); err != nil {
		t.Fatal(err)
	}
	if err := ops.Put("op-1", vnet{}); err != nil {
		t.Fatal(err)
	}
	other, err := New(Config{StateFile: file})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := NewTable[vnet](other, "azure", "VirtualNetwork", TableOptions{}).Get("rg/v"); err != nil || v.CIDR != "10.0.0.0/16" {
		t.Fatalf("row in another engine: %+v %v", v, err)
	}
	inv := other.Inventory()
	if len(inv.Objects) != 2 || inv.Empty() {
		t.Fatalf("inventory: %+v", inv)
	}
	if r := inv.Resources().Objects; len(r) != 1 || r[0].Kind != "VirtualNetwork" || r[0].Name != "rg/v" || !r[0].Row {
		t.Fatalf("resources: %+v", r)
	}
	// A row deleted by kind and name, as a person in a console would.
	if err := other.DeleteObject("azure", "VirtualNetwork", "rg/v"); err != nil {
		t.Fatal(err)
	}
	if _, err := res.Get("rg/v"); !cloud.IsNotFound(err) {
		t.Fatalf("row deleted out of band: %v", err)
	}
}

// A world of the version before tables (network records in engine objects,
// the JSON in Attrs["json"]) loads: opening the table moves the objects it
// claims into it. One that does not read makes the state unreadable
// instead of losing the object.
func TestTableMigratesLegacyObjects(t *testing.T) {
	legacy := func(o Object) (any, bool, error) {
		switch o.Kind {
		case "VirtualNetwork":
			return nil, true, nil
		case "VirtualNetworkMeta":
			var v vnet
			if err := json.Unmarshal([]byte(o.Attrs["json"]), &v); err != nil {
				return nil, true, err
			}
			return &v, true, nil
		}
		return nil, false, nil
	}
	write := func(t *testing.T, record string) string {
		file := filepath.Join(t.TempDir(), "world.json")
		if err := WriteVersion1State(file,
			Object{Cloud: "azure", Kind: "VirtualNetwork", Name: "rg/v", Attrs: map[string]string{"rg": "rg"}},
			Object{Cloud: "azure", Kind: "VirtualNetworkMeta", Name: "rg/v", Attrs: map[string]string{"json": record}},
			Object{Cloud: "aws", Kind: "LaunchTemplate", Name: "lt", Attrs: map[string]string{}}); err != nil {
			t.Fatal(err)
		}
		return file
	}
	t.Run("loads", func(t *testing.T) {
		file := write(t, `{"cidr":"10.0.0.0/16"}`)
		e, err := New(Config{StateFile: file})
		if err != nil {
			t.Fatal(err)
		}
		tb := NewTable[vnet](e, "azure", "VirtualNetwork", TableOptions{Legacy: legacy})
		if v, err := tb.Get("rg/v"); err != nil || v.CIDR != "10.0.0.0/16" {
			t.Fatalf("migrated row: %+v %v", v, err)
		}
		var kinds []string
		for _, o := range e.Inventory().Objects {
			kinds = append(kinds, o.Cloud+"/"+o.Kind+"/"+o.Name)
		}
		if !slices.Equal(kinds, []string{"aws/LaunchTemplate/lt", "azure/VirtualNetwork/rg/v"}) {
			t.Fatalf("inventory after the migration: %v", kinds)
		}
		data, err := os.ReadFile(file)
		if err != nil || !strings.Contains(string(data), `"version": 2`) {
			t.Fatalf("migrated state not saved with its version: %v", err)
		}
	})
	t.Run("unreadable record", func(t *testing.T) {
		file := write(t, `{"cidr":`)
		e, err := New(Config{StateFile: file})
		if err != nil {
			t.Fatal(err)
		}
		_, err = NewTable[vnet](e, "azure", "VirtualNetwork", TableOptions{Legacy: legacy}).Get("rg/v")
		var se *StateError
		if !errors.As(err, &se) || se.Path != file || !strings.Contains(err.Error(), "VirtualNetworkMeta object rg/v of an earlier simulator version") ||
			!strings.HasSuffix(err.Error(), "; restore it or remove the directory") {
			t.Fatalf("unreadable legacy record: %v", err)
		}
		if inv := e.Inventory(); len(inv.Objects) != 3 {
			t.Fatalf("objects lost: %+v", inv.Objects)
		}
	})
	t.Run("newer version", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "world.json")
		if err := os.WriteFile(file, []byte(`{"version": 99}`), 0o644); err != nil {
			t.Fatal(err)
		}
		var se *StateError
		if _, err := New(Config{StateFile: file}); !errors.As(err, &se) || !strings.Contains(err.Error(), "state version 99 is newer") {
			t.Fatalf("newer state: %v", err)
		}
	})
}

// The engine's own writes answer their errors: a world whose file became
// unreadable is every call's error (not an answer from the state last
// read), and a save that fails is the caller's error, tried again by the
// next call.
func TestEngineReportsStateErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "world.json")
	e, err := New(Config{StateFile: file})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.SetQuota("aws", "eu-central-1", "p", 8); err != nil {
		t.Fatal(err)
	}
	// A save that cannot write its temporary file.
	if err := os.Mkdir(file+".tmp", 0o755); err != nil {
		t.Fatal(err)
	}
	var se *StateError
	for name, call := range map[string]func() error{
		"SetQuota":       func() error { return e.SetQuota("aws", "eu-central-1", "p", 16) },
		"SetCapacity":    func() error { return e.SetCapacity("aws", "eu-central-1a", "p5.48xlarge", "on_demand", 2) },
		"Inject":         func() error { return e.Inject(Fault{Cloud: "aws", Op: "GetCluster"}) },
		"SetRateLimit":   func() error { return e.SetRateLimit("aws", "GetCluster", 1, 1) },
		"RegisterTunnel": func() error { return e.RegisterTunnelEnd(TunnelEnd{Cloud: "aws", ID: "vpn-1/1"}) },
		"AllocatePublicIP": func() error {
			_, err := e.AllocatePublicIP()
			return err
		},
	} {
		if err := call(); !errors.As(err, &se) || !strings.Contains(err.Error(), "saving") {
			t.Errorf("%s with a failing save: %v", name, err)
		}
	}
	if err := os.Remove(file + ".tmp"); err != nil {
		t.Fatal(err)
	}
	if err := e.SetQuota("aws", "eu-central-1", "p", 16); err != nil {
		t.Fatalf("after the save works again: %v", err)
	}
	// A file another process corrupted.
	if err := os.WriteFile(file, []byte("{ not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := e.GetCluster("aws", "eu-central-1", "c1"); !errors.As(err, &se) || se.Path != file {
		t.Fatalf("call on a corrupted world: %v", err)
	}
	if err := e.Inject(Fault{Cloud: "aws", Op: "GetCluster"}); !errors.As(err, &se) {
		t.Fatalf("inject into a corrupted world: %v", err)
	}
}

// TestTableInsert: Insert creates a row only when there is none of its
// name; of many concurrent inserts of one name exactly one succeeds and
// the others are conflicts, and the row is the winner's.
func TestTableInsert(t *testing.T) {
	e, _ := newEngine(t)
	tb := NewTable[vnet](e, "azure", "VirtualNetwork", TableOptions{})
	if err := tb.Insert("rg/a", vnet{CIDR: "10.0.0.0/16"}); err != nil {
		t.Fatal(err)
	}
	if err := tb.Insert("rg/a", vnet{CIDR: "10.9.0.0/16"}); !cloud.IsConflict(err) {
		t.Fatalf("second insert: %v, want a conflict", err)
	}
	if got, err := tb.Get("rg/a"); err != nil || got.CIDR != "10.0.0.0/16" {
		t.Fatalf("row after a refused insert: %+v %v", got, err)
	}
	const racers = 8
	errs := make(chan error, racers)
	for i := range racers {
		go func() { errs <- tb.Insert("rg/race", vnet{CIDR: fmt.Sprintf("10.%d.0.0/16", i)}) }()
	}
	won := 0
	for range racers {
		switch err := <-errs; {
		case err == nil:
			won++
		case !cloud.IsConflict(err):
			t.Fatalf("concurrent insert: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d of %d concurrent inserts succeeded, want 1", won, racers)
	}
	if err := e.Inject(Fault{Cloud: "azure", Op: "CreateVirtualNetwork", Err: cloud.Throttled("azure", "CreateVirtualNetwork", "TooManyRequests", "slow down")}); err != nil {
		t.Fatal(err)
	}
	if err := tb.Insert("rg/b", vnet{}); !cloud.IsThrottled(err) {
		t.Fatalf("insert with an injected fault: %v", err)
	}
}
