package azurefront

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// A world written before the typed tables (an object per resource, its
// record in a "<Kind>Meta" object, operations as "NetworkOperation"
// objects) loads: the front end moves them into its tables, and the
// resources are what the inventory lists.
func TestNetworkLegacyStateLoads(t *testing.T) {
	start := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	rec := netRecord{Kind: kindVNet, RG: "RG", Name: "v", Location: location, GUID: "g-1", ReadyAt: start, AddressPrefixes: []string{"10.0.0.0/16"}}
	data, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "world.json")
	if err := cloudsim.WriteVersion1State(file,
		cloudsim.Object{Cloud: "azure", Kind: "VirtualNetwork", Name: "rg/v", Attrs: map[string]string{"rg": "rg", "location": location}},
		cloudsim.Object{Cloud: "azure", Kind: "VirtualNetworkMeta", Name: "rg/v", Attrs: map[string]string{"rg": "rg", "json": string(data)}},
		cloudsim.Object{Cloud: "azure", Kind: "NetworkOperation", Name: "op-1",
			Attrs: map[string]string{"rg": "rg", "kind": kindVNet, "key": "rg/v", "location": location, "start": start.Format(time.RFC3339Nano)}},
	); err != nil {
		t.Fatal(err)
	}
	e, err := cloudsim.New(cloudsim.Config{StateFile: file})
	if err != nil {
		t.Fatal(err)
	}
	s := New(e, Options{SubscriptionID: sub}).(*server)
	w, err := s.netWorld(sub)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := w.get(kindVNet, "rg/v"); !ok || got.GUID != "g-1" || !slices.Equal(got.AddressPrefixes, rec.AddressPrefixes) {
		t.Fatalf("migrated record: %+v %v", got, ok)
	}
	if op, err := s.net.ops.Get("op-1"); err != nil || !op.Start.Equal(start) || op.Key != "rg/v" {
		t.Fatalf("migrated operation: %+v %v", op, err)
	}
	var res []string
	for _, o := range e.Inventory().Resources().Objects {
		res = append(res, o.Kind+" "+o.Name)
	}
	if !slices.Equal(res, []string{"VirtualNetwork rg/v"}) {
		t.Fatalf("resources after the migration: %v", res)
	}
}
