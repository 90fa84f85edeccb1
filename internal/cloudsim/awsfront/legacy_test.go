package awsfront

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// A world written before the typed tables (EKS records as "ClusterMeta"
// and "NodegroupMeta" objects, the JSON in attrs "json"; IAM roles and
// their attachments as objects with attributes) loads: the front end moves
// them into its tables, keeps a role's RoleId, and only the IAM resources
// are resources.
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
		cloudsim.Object{Cloud: cloudName, Kind: "Role", Name: "node", Attrs: map[string]string{"assume_role_policy": "{}", "path": "/",
			"created": "2026-11-01T00:00:00Z"}},
		cloudsim.Object{Cloud: cloudName, Kind: "RolePolicyAttachment", Name: "node|" + eksWorkerNodePolicy,
			Attrs: map[string]string{"role": "node", "policy_arn": eksWorkerNodePolicy}},
		obj(kindClusterMeta, region+"/c1", clusterMeta{Token: "tok", VpcID: "vpc-1"}),
		obj(kindNodegroupMeta, region+"/c1/ng1", nodegroupMeta{MinSize: 1, MaxSize: 4}),
	); err != nil {
		t.Fatal(err)
	}
	e, err := cloudsim.New(cloudsim.Config{StateFile: file})
	if err != nil {
		t.Fatal(err)
	}
	s := New(e, Options{}).(*server)
	if m, err := s.rec.clusters.Get(region + "/c1"); err != nil || m.Token != "tok" || m.VpcID != "vpc-1" {
		t.Fatalf("migrated cluster record: %+v %v", m, err)
	}
	if m, err := s.nodegroupMetaFor(region, "c1", "ng1"); err != nil || m == nil || m.MaxSize != 4 {
		t.Fatalf("migrated node group record: %+v %v", m, err)
	}
	r, err := s.getRole("node")
	if err != nil || r.ID != "AROA00000000000000001" || r.Created != "2026-11-01T00:00:00Z" || r.AssumeRolePolicy != "{}" {
		t.Fatalf("migrated role: %+v %v", r, err)
	}
	if att, err := s.attachments("node"); err != nil || !slices.Equal(att, []string{eksWorkerNodePolicy}) {
		t.Fatalf("migrated attachments: %v %v", att, err)
	}
	var res []string
	for _, o := range e.Inventory().Resources().Objects {
		if !o.Row {
			t.Fatalf("%s %s left an engine object", o.Kind, o.Name)
		}
		res = append(res, o.Kind+" "+o.Name)
	}
	if want := []string{"Role node", "RolePolicyAttachment node|" + eksWorkerNodePolicy}; !slices.Equal(res, want) {
		t.Fatalf("resources after the migration: %v, want %v", res, want)
	}
}
