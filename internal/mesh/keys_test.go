package mesh_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/mesh"
)

// keyless is p as Terraform state gives it back: pre-shared keys live only
// in the clouds.
func keyless(p mesh.Plan) mesh.Plan {
	out := p
	out.Links = slices.Clone(p.Links)
	for i := range out.Links {
		out.Links[i].Tunnels = slices.Clone(out.Links[i].Tunnels)
		for j := range out.Links[i].Tunnels {
			out.Links[i].Tunnels[j].PSK = ""
		}
	}
	return out
}

func objectIDs(w *world) []string {
	var ids []string
	for _, o := range w.resources() {
		ids = append(ids, o.Cloud+" "+o.Kind+" "+o.Name+" "+o.ID)
	}
	slices.Sort(ids)
	return ids
}

// TestApplyWithoutKeys: a plan without pre-shared keys (what the provider
// rebuilds from state) applied over an established mesh changes nothing,
// and one whose link lost a side out of band is rebuilt with new keys on
// both sides: every tunnel comes up again.
func TestApplyWithoutKeys(t *testing.T) {
	for _, tc := range []struct {
		name string
		// lose deletes one side of a link out of band (nil: nothing).
		lose func(ctx context.Context, w *world, p mesh.Plan) error
		same bool // the world's objects stay exactly as they were
	}{
		{name: "established mesh is left alone", same: true},
		{name: "GCP side of the AWS link deleted", lose: deleteSide("aws/eu-central-1|gcp/europe-west4", "gcp/europe-west4")},
		{name: "AWS side of the AWS link to Azure deleted", lose: deleteSide("aws/eu-central-1|azure/westeurope", "aws/eu-central-1")},
		{name: "Azure side of the GCP link deleted", lose: deleteSide("azure/westeurope|gcp/europe-west4", "azure/westeurope")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			ctx := context.Background()
			p := plan(t, mesh.Plan{}, central, west4, weu)
			if _, err := mesh.Apply(ctx, w.backends, p, mesh.Plan{}); err != nil {
				t.Fatal(err)
			}
			waitUp(t, w, p)
			if tc.lose != nil {
				if err := tc.lose(ctx, w, p); err != nil {
					t.Fatal(err)
				}
			}
			before := objectIDs(w)
			state := keyless(p)
			rebuilt := plan(t, state, central, west4, weu)
			if _, err := mesh.Apply(ctx, w.backends, rebuilt, state); err != nil {
				t.Fatal(err)
			}
			waitUp(t, w, rebuilt)
			if after := objectIDs(w); tc.same && !slices.Equal(before, after) {
				t.Errorf("applying without keys changed the world:\nbefore %q\nafter  %q", before, after)
			}
		})
	}
}

func deleteSide(link, side string) func(ctx context.Context, w *world, p mesh.Plan) error {
	return func(ctx context.Context, w *world, p mesh.Plan) error {
		l, _ := p.Link(link)
		s, _ := p.Site(side)
		return w.backends[s.Cloud].DeleteVPNConnection(ctx, s.Region, l.ConnectionName(p.Name, side))
	}
}

func waitUp(t *testing.T, w *world, p mesh.Plan) {
	t.Helper()
	obs, err := mesh.WaitEstablished(context.Background(), w.backends, p, 5*time.Millisecond, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range p.Links {
		if ls := obs.Links[l.Key()]; !ls.Established(l) {
			t.Errorf("link %s not established: A %s, B %s", l.Key(), tunnelsUp(ls.A), tunnelsUp(ls.B))
		}
	}
}

// TestApplyUpgradesKeylessTwoTunnelLinks: a two-tunnel mesh applied again
// from a keyless state (a gpufleet_network state of version 1 written
// before AWS links had four tunnels) gets the two new tunnels of each AWS
// link with fresh keys on both sides, and all four come up; tunnels 0 and
// 1 keep their keys: the AWS VPN connections stay (same IDs and outside
// addresses: their second tunnels get the new keys in place) and so do the
// Azure connections.
func TestApplyUpgradesKeylessTwoTunnelLinks(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	current := plan(t, mesh.Plan{}, central, west4, weu)
	old := current
	old.Links = nil
	for _, l := range current.Links {
		l.Tunnels = l.Tunnels[:min(len(l.Tunnels), 2)]
		old.Links = append(old.Links, l)
	}
	if _, err := mesh.Apply(ctx, w.backends, old, mesh.Plan{}); err != nil {
		t.Fatal(err)
	}
	before, err := mesh.WaitEstablished(ctx, w.backends, old, 5*time.Millisecond, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	azureConns := map[string]string{}
	for _, o := range w.resources() {
		if o.Cloud == "azure" && o.Kind == "Connection" {
			azureConns[o.Name] = o.ID
		}
	}
	state := keyless(old)
	next := plan(t, state, central, west4, weu)
	for _, l := range next.Links {
		for i, tn := range l.Tunnels {
			if i < 2 && tn.PSK != "" || i >= 2 && tn.PSK == "" {
				t.Fatalf("link %s tunnel %d planned with key %q: want none for the two it has, one for each new one", l.Key(), i, tn.PSK)
			}
		}
	}
	if _, err := mesh.Apply(ctx, w.backends, next, state); err != nil {
		t.Fatal(err)
	}
	waitUp(t, w, next)
	after, err := mesh.WaitEstablished(ctx, w.backends, next, 5*time.Millisecond, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range next.Links {
		ls := after.Links[l.Key()]
		if cloudOf(l.A) != "aws" {
			continue
		}
		if n := len(ls.A.Tunnels); n != 4 {
			t.Errorf("link %s: %d AWS tunnels, want 4", l.Key(), n)
		}
		was := before.Links[l.Key()].A
		if ls.A.ID != was.ID || !slices.Equal(ls.A.LocalIPs[:2], was.LocalIPs) {
			t.Errorf("link %s: AWS connections %s %v, were %s %v (replaced: tunnels 0 and 1 lost their keys)", l.Key(), ls.A.ID, ls.A.LocalIPs, was.ID, was.LocalIPs)
		}
	}
	if down := downAWSTunnels(t, w); len(down) > 0 {
		t.Fatalf("AWS tunnels down after the upgrade: %v", down)
	}
	for _, o := range w.resources() {
		if id, had := azureConns[o.Name]; had && o.Kind == "Connection" && o.ID != id {
			t.Errorf("Azure connection %s was replaced", o.Name)
		}
	}
}
