package mesh

import (
	"bytes"
	"math"
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
	// Four tunnels on each of the four AWS links, two between Azure and GCP.
	if p.Tunnels() != 18 {
		t.Fatalf("tunnels = %d, want 18", p.Tunnels())
	}
	for _, l := range p.Links {
		want := map[string]int{KindPeering: 0, KindVPN: 4}[l.Kind]
		if l.Key() == "azure/westeurope|gcp/europe-west4" {
			want = 2
		}
		if len(l.Tunnels) != want {
			t.Errorf("link %s has %d tunnels, want %d", l.Key(), len(l.Tunnels), want)
		}
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

// TestBuildAddsTunnelsToTwoTunnelLinks: a plan made when every VPN link
// had two tunnels (the state of a gpufleet_network applied then) is fed
// back in: its AWS links keep both tunnels exactly (ranges, addresses,
// keys, order) and get two new ones, with ranges no other tunnel uses;
// the GCP ↔ Azure link and the sites are untouched.
func TestBuildAddsTunnelsToTwoTunnelLinks(t *testing.T) {
	current, err := Build("fleet", supernet, nil, threeClouds(), Plan{}, opts(6))
	if err != nil {
		t.Fatal(err)
	}
	old := current
	old.Links = nil
	for _, l := range current.Links {
		if len(l.Tunnels) > 2 {
			l.Tunnels = slices.Clone(l.Tunnels[:2])
		}
		old.Links = append(old.Links, l)
	}
	next, err := Build("fleet", supernet, nil, threeClouds(), old, opts(7))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(next.Sites, old.Sites) {
		t.Fatalf("sites changed:\n%+v\n%+v", old.Sites, next.Sites)
	}
	seen := map[netip.Prefix]string{}
	for _, ol := range old.Links {
		nl, _ := next.Link(ol.Key())
		want := TunnelsPerLink(splitCloud(ol.A), splitCloud(ol.B))
		if ol.Kind == KindPeering {
			want = 0
		}
		if len(nl.Tunnels) != want {
			t.Fatalf("link %s: %d tunnels, want %d", ol.Key(), len(nl.Tunnels), want)
		}
		if ol.Kind == KindVPN && !reflect.DeepEqual(nl.Tunnels[:2], ol.Tunnels) {
			t.Errorf("link %s: the first two tunnels changed:\n%+v\n%+v", ol.Key(), ol.Tunnels, nl.Tunnels[:2])
		}
		for i, tn := range nl.Tunnels {
			if other, dup := seen[tn.InsideCIDR]; dup {
				t.Errorf("link %s tunnel %d reuses %s of %s", ol.Key(), i, tn.InsideCIDR, other)
			}
			seen[tn.InsideCIDR] = ol.Key()
			if tn.PSK == "" || tn.AInside != tn.InsideCIDR.Addr().Next() {
				t.Errorf("link %s tunnel %d: %+v", ol.Key(), i, tn)
			}
		}
	}
	// Fed back again, the upgraded plan is stable.
	again, err := Build("fleet", supernet, nil, threeClouds(), next, opts(8))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again, next) {
		t.Fatal("replanning the upgraded plan changed it")
	}
}

func splitCloud(key string) string { c, _ := splitKey(key); return c }

// TestTunnelInterfaces: tunnels alternate between the two interfaces, and
// each side's spec sends tunnel i to the peer's interface i%2 (or, towards
// AWS, to the AWS outside address of tunnel i).
func TestTunnelInterfaces(t *testing.T) {
	p, err := Build("fleet", supernet, nil, threeClouds(), Plan{}, opts(9))
	if err != nil {
		t.Fatal(err)
	}
	l, _ := p.Link("aws/eu-central-1|gcp/europe-west4")
	gcpIPs := []string{"198.18.0.1", "198.18.0.2"}
	awsIPs := []string{"198.18.1.1", "198.18.1.2", "198.18.1.3", "198.18.1.4"}
	a := connectionSpec(p, l, l.A, gcpIPs)
	b := connectionSpec(p, l, l.B, awsIPs)
	for i := range l.Tunnels {
		if a.Tunnels[i].PeerIP != gcpIPs[i%2] || b.Tunnels[i].PeerIP != awsIPs[i] || b.Tunnels[i].Interface != i%2 {
			t.Errorf("tunnel %d: AWS side to %s, GCP side to %s on interface %d", i, a.Tunnels[i].PeerIP, b.Tunnels[i].PeerIP, b.Tunnels[i].Interface)
		}
	}
}

// TestHourlyCost: AWS bills per VPN connection (two per link, whatever
// the tunnel count), GCP per tunnel, Azure per gateway with ten
// connections included.
func TestHourlyCost(t *testing.T) {
	tests := []struct {
		name  string
		sites []Site
		want  float64
	}{
		{"aws-gcp", []Site{{Key: "aws/eu-central-1"}, {Key: "gcp/europe-west4"}}, 2*AWSVPNConnectionHourly + 4*GCPTunnelHourly},
		{"aws-azure", []Site{{Key: "aws/eu-central-1"}, {Key: "azure/westeurope"}}, 2*AWSVPNConnectionHourly + AzureVpnGw2AZHourly + 2*AzurePublicIPHourly},
		{"gcp-azure", []Site{{Key: "gcp/europe-west4"}, {Key: "azure/westeurope"}}, 2*GCPTunnelHourly + AzureVpnGw2AZHourly + 2*AzurePublicIPHourly},
		{"peering only", []Site{{Key: "aws/eu-central-1"}, {Key: "aws/eu-north-1"}}, 0},
		// Six AWS links (two connections each); each GCP site has 4 + 4 + 2 tunnels; Azure has
		// 4 + 4 (AWS) + 2 + 2 (GCP) = 12 connections, two beyond the ten included.
		{"azure beyond ten", []Site{{Key: "aws/eu-central-1"}, {Key: "aws/eu-north-1"}, {Key: "gcp/europe-west4"}, {Key: "gcp/europe-west1"}, {Key: "azure/westeurope"}},
			6*2*AWSVPNConnectionHourly + 2*(4+4+2)*GCPTunnelHourly + AzureVpnGw2AZHourly + 2*AzurePublicIPHourly + 2*AzureTunnelHourly},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := range tt.sites {
				tt.sites[i].Zones = []string{"z"}
			}
			p, err := Build("fleet", supernet, nil, tt.sites, Plan{}, opts(10))
			if err != nil {
				t.Fatal(err)
			}
			if got := p.HourlyCost(); math.Abs(got-tt.want) > 1e-9 {
				t.Fatalf("hourly cost %.4f, want %.4f", got, tt.want)
			}
		})
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
		{"azure gateway full", "fleet", "10.0.0.0/8", azureWithEightAWSPeers(), "needs 32 site-to-site connections"},
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

// azureWithEightAWSPeers needs 8 × 4 connections on the Azure gateway.
func azureWithEightAWSPeers() []Site {
	sites := []Site{{Key: "azure/westeurope", Zones: []string{"1"}}}
	for _, r := range []string{"eu-central-1", "eu-west-1", "eu-west-2", "eu-west-3", "eu-north-1", "eu-south-1", "us-east-1", "us-west-2"} {
		sites = append(sites, Site{Key: "aws/" + r, Zones: []string{"z"}})
	}
	return sites
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
