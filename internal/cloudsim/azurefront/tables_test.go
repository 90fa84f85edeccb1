package azurefront

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// A world written before the typed tables (resource groups and operations
// as objects with attributes; cluster, agent pool, role assignment and
// capacity reservation group records as objects with attrs "rg" and
// "json") loads: the front end moves them into its tables, and the
// resources are the groups, the role assignment and the reservation group.
func TestLegacyTablesLoad(t *testing.T) {
	start := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	meta := func(kind, name string, v any) cloudsim.Object {
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return cloudsim.Object{Cloud: cloudName, Kind: kind, Name: name, Attrs: map[string]string{"rg": "rg", "json": string(data)}}
	}
	file := filepath.Join(t.TempDir(), "world.json")
	if err := cloudsim.WriteVersion1State(file,
		cloudsim.Object{Cloud: cloudName, Kind: "ResourceGroup", Name: "rg", Attrs: map[string]string{"name": "RG", "location": location, "tags": `{"team":"ml"}`}},
		cloudsim.Object{Cloud: cloudName, Kind: "AzureOperation", Name: "op-1", Attrs: map[string]string{"op": "CreateCluster", "rg": "rg",
			"resourceGroup": "RG", "cluster": "c1", "location": location, "start": start.Format(time.RFC3339Nano)}},
		meta("ClusterMeta", "rg/c1", clusterMeta{Name: "c1", ResourceGroup: "RG", Location: location}),
		meta("AgentPoolMeta", "rg/c1/gpu", poolMeta{Mode: "User", MaxPods: 30}),
		meta("RoleAssignment", "ra-1", roleAssignment{Name: "ra-1", Scope: "/subscriptions/s/resourceGroups/RG", PrincipalID: "p", RoleDefinitionID: "/providers/Microsoft.Authorization/roleDefinitions/x"}),
		meta("CapacityReservationGroup", "rg/crg", crgMeta{Name: "crg", ResourceGroup: "RG", Location: location}),
	); err != nil {
		t.Fatal(err)
	}
	e, err := cloudsim.New(cloudsim.Config{StateFile: file})
	if err != nil {
		t.Fatal(err)
	}
	s := New(e, Options{SubscriptionID: sub}).(*server)
	if g, ok, err := s.resourceGroup("RG"); err != nil || !ok || g.Name != "RG" || g.Tags["team"] != "ml" {
		t.Fatalf("migrated resource group: %+v %v %v", g, ok, err)
	}
	if op, err := s.loadOp("op-1"); err != nil || !op.Start.Equal(start) || op.Cluster != "c1" {
		t.Fatalf("migrated operation: %+v %v", op, err)
	}
	if m, err := s.clusterMetaFor("rg", "c1"); err != nil || m.Location != location {
		t.Fatalf("migrated cluster record: %+v %v", m, err)
	}
	if m, err := s.poolMetaFor("rg", "c1", "gpu"); err != nil || m.MaxPods != 30 {
		t.Fatalf("migrated agent pool record: %+v %v", m, err)
	}
	if ok, err := s.hasRole("p", "/subscriptions/s/resourceGroups/RG/x", []string{"x"}); err != nil || !ok {
		t.Fatalf("migrated role assignment: %v %v", ok, err)
	}
	if g, err := s.crg("rg", "crg"); err != nil || g.Location != location {
		t.Fatalf("migrated reservation group: %+v %v", g, err)
	}
	var res []string
	for _, o := range e.Inventory().Resources().Objects {
		if !o.Row {
			t.Fatalf("%s %s left an engine object", o.Kind, o.Name)
		}
		res = append(res, o.Kind+" "+o.Name)
	}
	if want := []string{"CapacityReservationGroup rg/crg", "ResourceGroup rg", "RoleAssignment ra-1"}; !slices.Equal(res, want) {
		t.Fatalf("resources after the migration: %v, want %v", res, want)
	}
}
