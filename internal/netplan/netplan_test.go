package netplan

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
)

var super = netip.MustParsePrefix("10.64.0.0/12")

func TestAllocate(t *testing.T) {
	p, err := Allocate(super, []netip.Prefix{netip.MustParsePrefix("10.64.0.0/16")}, []Site{
		{Key: "gcp/europe-west4", Zones: []string{"europe-west4-b", "europe-west4-a"}},
		{Key: "aws/eu-north-1", Zones: []string{"eun1-az1"}},
	}, nil, DefaultSizes)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(p.Sites)
	want := `[{"site":"aws/eu-north-1","block":"10.65.0.0/16","subnets":{"eun1-az1":"10.65.0.0/20"},"pods":"10.65.128.0/17","services":"10.65.64.0/20","gateway":"10.65.127.224/27"},` +
		`{"site":"gcp/europe-west4","block":"10.66.0.0/16","subnets":{"europe-west4-a":"10.66.0.0/20","europe-west4-b":"10.66.16.0/20"},"pods":"10.66.128.0/17","services":"10.66.64.0/20","gateway":"10.66.127.224/27"}]`
	if string(got) != want {
		t.Fatalf("plan\n%s\nwant\n%s", got, want)
	}
}

func TestAllocateErrors(t *testing.T) {
	many := make([]Site, 17)
	for i := range many {
		many[i] = Site{Key: fmt.Sprintf("aws/r%02d", i)}
	}
	for _, tt := range []struct {
		name     string
		supernet string
		exclude  []string
		sites    []Site
		want     string
	}{
		{"too small", "10.64.0.0/12", nil, many, "17 sites need 17 more /16 blocks (65,536 addresses each) but the supernet 10.64.0.0/12 has 16 free after existing sites and exclusions; a /11 would fit them all"},
		{"supernet smaller than a site", "10.64.0.0/20", nil, many[:1], "must be an IPv4 prefix of /16 or larger"},
		{"overlapping excludes", "10.64.0.0/12", []string{"10.64.0.0/16", "10.64.1.0/24"}, many[:1], "exclude ranges 10.64.0.0/16 and 10.64.1.0/24 overlap"},
		{"duplicate site", "10.64.0.0/12", nil, []Site{{Key: "a"}, {Key: "a"}}, "site a is listed twice"},
		{"too many zones", "10.64.0.0/12", nil, []Site{{Key: "a", Zones: []string{"1", "2", "3", "4", "5"}}}, "site a needs 5 zone subnets; a /16 block holds 4 /20 subnets"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var ex []netip.Prefix
			for _, e := range tt.exclude {
				ex = append(ex, netip.MustParsePrefix(e))
			}
			_, err := Allocate(netip.MustParsePrefix(tt.supernet), ex, tt.sites, nil, DefaultSizes)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}

// TestStableUnderAddsAndRemoves: random sequences of adds and removes never
// overlap, never touch an excluded range and never move an existing site
// or zone.
func TestStableUnderAddsAndRemoves(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	exclude := []netip.Prefix{netip.MustParsePrefix("10.70.0.0/15"), netip.MustParsePrefix("10.64.128.0/20")}
	names := []string{"aws/eu-central-1", "aws/eu-north-1", "gcp/europe-west4", "gcp/europe-west1", "azure/westeurope",
		"azure/swedencentral", "aws/us-east-1", "gcp/us-central1", "azure/eastus", "aws/ap-northeast-1"}
	for run := range 200 {
		var prev Plan
		current := map[string][]string{}
		for step := range 12 {
			name := names[rng.IntN(len(names))]
			if _, ok := current[name]; ok && rng.IntN(3) == 0 {
				delete(current, name)
			} else {
				zones := current[name]
				if len(zones) < 4 {
					zones = append(slices.Clone(zones), fmt.Sprintf("z%d", rng.IntN(6)))
				}
				current[name] = zones
			}
			var sites []Site
			for k, z := range current {
				sites = append(sites, Site{Key: k, Zones: z})
			}
			rng.Shuffle(len(sites), func(i, j int) { sites[i], sites[j] = sites[j], sites[i] })
			p, err := Allocate(super, exclude, sites, prev.Sites, DefaultSizes)
			if err != nil {
				t.Fatalf("run %d step %d: %v", run, step, err)
			}
			all := append(p.Prefixes(), exclude...)
			for i, a := range all {
				for _, b := range all[:i] {
					if a.Overlaps(b) {
						t.Fatalf("run %d step %d: %s overlaps %s", run, step, a, b)
					}
				}
			}
			for _, old := range prev.Sites {
				for _, now := range p.Sites {
					if now.Site != old.Site {
						continue
					}
					if now.Block != old.Block || now.Pods != old.Pods || now.Services != old.Services {
						t.Fatalf("run %d step %d: site %s moved from %s to %s", run, step, now.Site, old.Block, now.Block)
					}
					for z, sub := range old.Subnets {
						if got, ok := now.Subnets[z]; ok && got != sub {
							t.Fatalf("run %d step %d: zone %s of %s moved from %s to %s", run, step, z, now.Site, sub, got)
						}
					}
				}
			}
			again, _ := Allocate(super, exclude, sites, prev.Sites, DefaultSizes)
			if !reflect.DeepEqual(again, p) {
				t.Fatalf("run %d step %d: not deterministic", run, step)
			}
			prev = p
		}
	}
}

func TestRestore(t *testing.T) {
	sites := []Site{{Key: "aws/eu-central-1", Zones: []string{"euc1-az1", "euc1-az2"}}, {Key: "gcp/europe-west4", Zones: []string{"europe-west4-a"}}}
	p, err := Allocate(netip.MustParsePrefix("10.64.0.0/12"), nil, sites, nil, DefaultSizes)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range p.Sites {
		got, err := Restore(want.Site, want.Block, want.Subnets, DefaultSizes)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Restore(%s) = %+v, want the allocation %+v", want.Site, got, want)
		}
	}
	for _, tt := range []struct {
		name    string
		block   string
		subnets map[string]string
		err     string
	}{
		{"block of another size", "10.64.0.0/17", nil, "not a /16 block"},
		{"unmasked block", "10.64.1.0/16", nil, "not a /16 block"},
		{"subnet outside the node range", "10.64.0.0/16", map[string]string{"a": "10.64.128.0/20"}, "not a /20 in the node range 10.64.0.0/18"},
		{"subnet of another size", "10.64.0.0/16", map[string]string{"a": "10.64.0.0/24"}, "not a /20"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Restore("s", netip.MustParsePrefix(tt.block), tt.subnets, DefaultSizes)
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("error %v, want one containing %q", err, tt.err)
			}
		})
	}
}
