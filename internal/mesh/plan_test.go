package mesh

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
)

var supernet = netip.MustParsePrefix("10.64.0.0/12")

// seeded is a deterministic key source for tests.
type seeded struct{ r *rand.ChaCha8 }

func (s seeded) Read(p []byte) (int, error) { return s.r.Read(p) }

func opts(seed byte) Options {
	return Options{Rand: seeded{rand.NewChaCha8([32]byte{seed})}}
}

func threeClouds() []Site {
	return []Site{
		{Key: "gcp/europe-west4", Zones: []string{"europe-west4-b", "europe-west4-a"}},
		{Key: "aws/eu-central-1", Zones: []string{"euc1-az2"}},
		{Key: "azure/westeurope", Zones: []string{"1"}},
		{Key: "aws/eu-north-1", Zones: []string{"eun1-az1"}},
	}
}

func TestBuildLinksEveryPair(t *testing.T) {
	p, err := Build("fleet", supernet, nil, threeClouds(), Plan{}, opts(1))
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, l := range p.Links {
		kinds = append(kinds, l.Key()+"="+l.Kind)
	}
	want := []string{
		"aws/eu-central-1|aws/eu-north-1=peering",
		"aws/eu-central-1|azure/westeurope=vpn",
		"aws/eu-central-1|gcp/europe-west4=vpn",
		"aws/eu-north-1|azure/westeurope=vpn",
		"aws/eu-north-1|gcp/europe-west4=vpn",
		"azure/westeurope|gcp/europe-west4=vpn",
	}
	if !slices.Equal(kinds, want) {
		t.Fatalf("links\n%v\nwant\n%v", kinds, want)
	}
	if p.Tunnels() != 10 {
		t.Fatalf("tunnels = %d, want 10", p.Tunnels())
	}
	for _, s := range p.Sites {
		if !s.NeedsGateway {
			t.Errorf("site %s has VPN links but no gateway", s.Key)
		}
	}
	peering, _ := p.Link("aws/eu-central-1|aws/eu-north-1")
	if peering.Name != "fleet-eu-central-1-eu-north-1" || peering.Tunnels != nil {
		t.Errorf("peering = %+v", peering)
	}
}

func TestBuildTunnelsAndKeys(t *testing.T) {
	p, err := Build("fleet", supernet, nil, threeClouds(), Plan{}, opts(2))
	if err != nil {
		t.Fatal(err)
	}
	seenCIDR := map[netip.Prefix]bool{}
	seenPSK := map[string]bool{}
	for _, l := range p.Links {
		for _, tn := range l.Tunnels {
			if seenCIDR[tn.InsideCIDR] || seenPSK[tn.PSK] {
				t.Fatalf("tunnel %+v reuses a range or key", tn)
			}
			seenCIDR[tn.InsideCIDR], seenPSK[tn.PSK] = true, true
			if tn.InsideCIDR.Bits() != 30 || !insideRanges[0].Contains(tn.InsideCIDR.Addr()) && !insideRanges[1].Contains(tn.InsideCIDR.Addr()) {
				t.Errorf("inside range %s is not a /30 in Azure's APIPA range", tn.InsideCIDR)
			}
			// A (AWS when it is in the link) takes .1, B .2.
			if tn.AInside != tn.InsideCIDR.Addr().Next() || tn.BInside != tn.AInside.Next() {
				t.Errorf("inside addresses %s/%s of %s", tn.AInside, tn.BInside, tn.InsideCIDR)
			}
			if len(tn.PSK) != 32 || tn.PSK[0] == '0' || strings.Trim(tn.PSK, pskAlphabet) != "" {
				t.Errorf("PSK %q is not 32 characters of %s starting with a letter", tn.PSK, pskAlphabet)
			}
		}
	}
	asns := map[int64]bool{}
	for _, s := range p.Sites {
		if asns[s.ASN] || slices.Contains(reservedASNs, s.ASN) || s.ASN < 64600 || s.ASN > 65000 {
			t.Errorf("site %s ASN %d is reused, reserved or out of range", s.Key, s.ASN)
		}
		asns[s.ASN] = true
	}
}

func TestBuildDeterministic(t *testing.T) {
	a, err := Build("fleet", supernet, nil, threeClouds(), Plan{}, opts(3))
	if err != nil {
		t.Fatal(err)
	}
	shuffled := threeClouds()
	slices.Reverse(shuffled)
	b, err := Build("fleet", supernet, nil, shuffled, Plan{}, opts(3))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("site order changed the plan:\n%+v\n%+v", a, b)
	}
}

// TestBuildStable adds and removes sites at random and checks that what
// remains never changes: addresses, ASNs, inside ranges and keys.
func TestBuildStable(t *testing.T) {
	pool := []Site{
		{Key: "aws/eu-central-1", Zones: []string{"euc1-az1"}}, {Key: "aws/eu-west-1", Zones: []string{"euw1-az1"}},
		{Key: "gcp/europe-west4", Zones: []string{"europe-west4-a"}}, {Key: "gcp/europe-west1", Zones: []string{"europe-west1-b"}},
		{Key: "azure/westeurope", Zones: []string{"1"}}, {Key: "azure/swedencentral", Zones: []string{"2"}},
		{Key: "aws/us-east-1", Zones: []string{"use1-az4"}}, {Key: "gcp/us-central1", Zones: []string{"us-central1-a"}},
	}
	r := rand.New(rand.NewPCG(7, 7))
	for seq := range 40 {
		var prev Plan
		present := map[string]bool{}
		for step := range 12 {
			s := pool[r.IntN(len(pool))]
			present[s.Key] = !present[s.Key]
			var sites []Site
			for _, p := range pool {
				if present[p.Key] {
					sites = append(sites, p)
				}
			}
			next, err := Build("fleet", supernet, nil, sites, prev, opts(byte(seq)))
			if err != nil {
				t.Fatalf("seq %d step %d: %v", seq, step, err)
			}
			for _, ps := range prev.Sites {
				ns, ok := next.Site(ps.Key)
				if ok && (ns.ASN != ps.ASN || ns.Addresses.Block != ps.Addresses.Block || !reflect.DeepEqual(ns.Addresses.Subnets, ps.Addresses.Subnets)) {
					t.Fatalf("seq %d step %d: site %s moved: %+v -> %+v", seq, step, ps.Key, ps, ns)
				}
			}
			for _, pl := range prev.Links {
				nl, ok := next.Link(pl.Key())
				if ok && !reflect.DeepEqual(nl.Tunnels, pl.Tunnels) {
					t.Fatalf("seq %d step %d: link %s changed tunnels", seq, step, pl.Key())
				}
			}
			prev = next
		}
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name, mesh string
		super      string
		sites      []Site
		want       string
	}{
		{"bad name", "Fleet_1", "10.64.0.0/12", threeClouds(), "lower-case letters"},
		{"name too long", "a-very-long-mesh-name-x", "10.64.0.0/12", threeClouds(), "1 to 20"},
		{"not cloud/region", "fleet", "10.64.0.0/12", []Site{{Key: "eu-central-1"}}, "must be cloud/region"},
		{"supernet too small", "fleet", "10.64.0.0/15", threeClouds(), "a /14 would fit them all"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Build(tt.mesh, netip.MustParsePrefix(tt.super), nil, tt.sites, Plan{}, opts(4))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestConnectionNames(t *testing.T) {
	p, err := Build("fleet", supernet, nil, threeClouds(), Plan{}, opts(5))
	if err != nil {
		t.Fatal(err)
	}
	l, _ := p.Link("aws/eu-central-1|gcp/europe-west4")
	if got := l.ConnectionName("fleet", l.A); got != "fleet-gcp-europe-west4" {
		t.Errorf("A side name %q", got)
	}
	if got := l.ConnectionName("fleet", l.B); got != "fleet-aws-eu-central-1" {
		t.Errorf("B side name %q", got)
	}
	spec := connectionSpec(p, l, l.B, []string{"198.18.0.1", "198.18.0.2"})
	if spec.Tunnels[0].LocalInsideIP != l.Tunnels[0].BInside.String() || spec.Tunnels[1].PeerIP != "198.18.0.2" || spec.PeerASN == 0 {
		t.Errorf("B side spec %+v", spec)
	}
}

func TestNewPSKFailsWithoutRandomness(t *testing.T) {
	if _, err := newPSK(bytes.NewReader(nil)); err == nil {
		t.Fatal("no error from an empty reader")
	}
}
