package mesh

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
)

// RemoveError is Apply failing while deleting what the new plan no longer
// has: nothing new was built yet, and part of what was to go may remain.
type RemoveError struct{ Err error }

func (e *RemoveError) Error() string { return e.Err.Error() }
func (e *RemoveError) Unwrap() error { return e.Err }

// Backends are the network backends by cloud name.
type Backends map[string]cloud.NetworkBackend

func (b Backends) of(site string) (cloud.NetworkBackend, error) {
	c, _ := splitKey(site)
	nb, ok := b[c]
	if !ok || nb == nil {
		return nil, fmt.Errorf("site %s: the %s cloud is not configured in the provider", site, c)
	}
	return nb, nil
}

// SiteState is what exists of a site.
type SiteState struct {
	Network *cloud.Network
	Gateway *cloud.Gateway
}

// LinkState is what exists of a link: a VPN link's connection on each
// side, or a peering.
type LinkState struct {
	A, B    *cloud.VPNConnection
	Peering *cloud.Peering
}

// Complete reports whether planned link pl exists on both sides with all
// its tunnels.
func (l LinkState) Complete(pl Link) bool {
	if pl.Kind == KindPeering {
		return l.Peering != nil && l.Peering.Active
	}
	return l.A != nil && l.B != nil && len(l.A.Tunnels) == len(pl.Tunnels) && len(l.B.Tunnels) == len(pl.Tunnels)
}

// Established reports whether every tunnel of planned link pl is up on
// both sides.
func (l LinkState) Established(pl Link) bool {
	if !l.Complete(pl) {
		return false
	}
	if pl.Kind == KindPeering {
		return true
	}
	for _, c := range []*cloud.VPNConnection{l.A, l.B} {
		for _, t := range c.Tunnels {
			if !t.Up {
				return false
			}
		}
	}
	return true
}

// State is what exists of a mesh, by site and link key.
type State struct {
	Sites map[string]SiteState
	Links map[string]LinkState
}

func newState() State {
	return State{Sites: map[string]SiteState{}, Links: map[string]LinkState{}}
}

// recorder collects results from concurrent steps.
type recorder struct {
	mu   sync.Mutex
	st   State
	errs []error
}

func (r *recorder) site(key string, f func(*SiteState)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.st.Sites[key]
	f(&s)
	r.st.Sites[key] = s
}

func (r *recorder) link(key string, f func(*LinkState)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.st.Links[key]
	f(&l)
	r.st.Links[key] = l
}

func (r *recorder) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, err)
}

func (r *recorder) err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	slices.SortFunc(r.errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(r.errs...)
}

// parallel runs f for every item concurrently and waits.
func parallel[T any](items []T, f func(T)) {
	var wg sync.WaitGroup
	for _, it := range items {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(it)
		}()
	}
	wg.Wait()
}

func tags(p Plan, site string) map[string]string {
	return map[string]string{"gpufleet-mesh": p.Name, "gpufleet-site": site}
}

// Apply makes the clouds match plan: what prev had and plan has not is
// deleted first (links, then gateways, then networks); then every site's
// network is ensured, then the gateways, then the links — each step
// concurrently across sites and links, since gateways take minutes (Azure:
// tens of minutes). Every step is idempotent, so an interrupted or failed
// apply is resumed by applying again. The returned state holds what exists
// even when err is not nil.
func Apply(ctx context.Context, b Backends, plan, prev Plan) (State, error) {
	rec := &recorder{st: newState()}
	if err := remove(ctx, b, plan, prev); err != nil {
		return rec.st, &RemoveError{Err: err}
	}
	allowed := plan.AllowedCIDRs()
	parallel(plan.Sites, func(s PlannedSite) {
		nb, err := b.of(s.Key)
		if err != nil {
			rec.fail(err)
			return
		}
		spec := cloud.NetworkSpec{Name: s.NetworkName, Region: s.Region, CIDR: s.Addresses.Block.String(),
			PodsCIDR: s.Addresses.Pods.String(), ServicesCIDR: s.Addresses.Services.String(),
			GatewayCIDR: s.Addresses.Gateway.String(), AllowedCIDRs: allowed, Tags: tags(plan, s.Key)}
		for _, z := range slices.Sorted(maps.Keys(s.Addresses.Subnets)) {
			spec.Subnets = append(spec.Subnets, cloud.SubnetSpec{Zone: z, CIDR: s.Addresses.Subnets[z]})
		}
		n, err := nb.EnsureNetwork(ctx, spec)
		if err != nil {
			rec.fail(fmt.Errorf("site %s: network %s: %w", s.Key, s.NetworkName, err))
			return
		}
		rec.site(s.Key, func(st *SiteState) { st.Network = &n })
	})
	if err := rec.err(); err != nil {
		return rec.st, err
	}
	parallel(plan.Sites, func(s PlannedSite) {
		if !s.NeedsGateway {
			return
		}
		nb, _ := b.of(s.Key)
		g, err := nb.EnsureVPNGateway(ctx, cloud.GatewaySpec{Name: s.GatewayName, Region: s.Region, Network: s.NetworkName, ASN: s.ASN, Tags: tags(plan, s.Key)})
		if err != nil {
			rec.fail(fmt.Errorf("site %s: VPN gateway %s: %w", s.Key, s.GatewayName, err))
			return
		}
		rec.site(s.Key, func(st *SiteState) { st.Gateway = &g })
	})
	if err := rec.err(); err != nil {
		return rec.st, err
	}
	parallel(plan.Links, func(l Link) {
		if err := applyLink(ctx, b, plan, l, rec); err != nil {
			rec.fail(fmt.Errorf("link %s ↔ %s: %w", l.A, l.B, err))
		}
	})
	return rec.st, rec.err()
}

func peeringSpec(p Plan, l Link) cloud.PeeringSpec {
	a, _ := p.Site(l.A)
	bs, _ := p.Site(l.B)
	return cloud.PeeringSpec{Name: l.Name,
		A:    cloud.PeeringSide{Region: a.Region, Network: a.NetworkName, CIDR: a.Addresses.Block.String()},
		B:    cloud.PeeringSide{Region: bs.Region, Network: bs.NetworkName, CIDR: bs.Addresses.Block.String()},
		Tags: tags(p, l.Key())}
}

// connectionSpec is side's half of a VPN link, towards peerIPs: the peer
// gateway's interfaces (tunnel i goes to interface Interface(i)) or, from
// a two-interface gateway to AWS, the AWS outside address of each tunnel.
func connectionSpec(p Plan, l Link, side string, peerIPs []string) cloud.VPNConnectionSpec {
	local, _ := p.Site(side)
	peerKey := l.B
	if side == l.B {
		peerKey = l.A
	}
	peer, _ := p.Site(peerKey)
	spec := cloud.VPNConnectionSpec{Name: l.ConnectionName(p.Name, side), Region: local.Region,
		Network: local.NetworkName, Gateway: local.GatewayName, Peer: peerKey, PeerASN: peer.ASN,
		PeerCIDRs: []string{peer.Addresses.Block.String()}, Tags: tags(p, local.Key)}
	for i, t := range l.Tunnels {
		ts := cloud.TunnelSpec{InsideCIDR: t.InsideCIDR.String(), LocalInsideIP: t.AInside.String(), PeerInsideIP: t.BInside.String(),
			PSK: t.PSK, Interface: Interface(i)}
		if side == l.B {
			ts.LocalInsideIP, ts.PeerInsideIP = ts.PeerInsideIP, ts.LocalInsideIP
		}
		switch {
		case len(peerIPs) >= len(l.Tunnels):
			ts.PeerIP = peerIPs[i]
		case len(peerIPs) > 0:
			ts.PeerIP = peerIPs[Interface(i)%len(peerIPs)]
		}
		spec.Tunnels = append(spec.Tunnels, ts)
	}
	return spec
}

func applyLink(ctx context.Context, b Backends, p Plan, l Link, rec *recorder) error {
	nbA, err := b.of(l.A)
	if err != nil {
		return err
	}
	nbB, err := b.of(l.B)
	if err != nil {
		return err
	}
	if l.Kind == KindPeering {
		pr, err := nbA.EnsurePeering(ctx, peeringSpec(p, l))
		if err != nil {
			return err
		}
		rec.link(l.Key(), func(ls *LinkState) { ls.Peering = &pr })
		return nil
	}
	rec.mu.Lock()
	ga, gb := rec.st.Sites[l.A].Gateway, rec.st.Sites[l.B].Gateway
	rec.mu.Unlock()
	if ga == nil || gb == nil {
		return errors.New("a gateway is missing")
	}
	keyed, err := keyLink(ctx, nbA, nbB, p, l, false)
	if err != nil {
		return err
	}
	err = connectLink(ctx, nbA, nbB, p, keyed, ga, gb, rec)
	if cloud.IsKeyRequired(err) {
		// A tunnel had to be replaced and its key is only in the cloud
		// that could not give it back: key the whole link anew.
		if keyed, err = keyLink(ctx, nbA, nbB, p, l, true); err != nil {
			return err
		}
		err = connectLink(ctx, nbA, nbB, p, keyed, ga, gb, rec)
	}
	return err
}

// connectLink ensures both sides of VPN link l, whose tunnels carry the
// keys keyLink gave them.
func connectLink(ctx context.Context, nbA, nbB cloud.NetworkBackend, p Plan, l Link, ga, gb *cloud.Gateway, rec *recorder) error {
	connect := func(nb cloud.NetworkBackend, side string, peerIPs []string) (cloud.VPNConnection, error) {
		c, err := nb.EnsureVPNConnection(ctx, connectionSpec(p, l, side, peerIPs))
		if err != nil {
			return c, fmt.Errorf("%s side: %w", side, err)
		}
		rec.link(l.Key(), func(ls *LinkState) {
			if side == l.A {
				ls.A = &c
			} else {
				ls.B = &c
			}
		})
		return c, nil
	}
	switch {
	case len(ga.PublicIPs) >= 2 && len(gb.PublicIPs) >= 2:
		var errA, errB error
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); _, errA = connect(nbA, l.A, gb.PublicIPs) }()
		go func() { defer wg.Done(); _, errB = connect(nbB, l.B, ga.PublicIPs) }()
		wg.Wait()
		return errors.Join(errA, errB)
	case len(gb.PublicIPs) >= 2: // A assigns its addresses per connection (AWS): A first
		ca, err := connect(nbA, l.A, gb.PublicIPs)
		if err != nil {
			return err
		}
		_, err = connect(nbB, l.B, ca.LocalIPs)
		return err
	case len(ga.PublicIPs) >= 2:
		cb, err := connect(nbB, l.B, ga.PublicIPs)
		if err != nil {
			return err
		}
		_, err = connect(nbA, l.A, cb.LocalIPs)
		return err
	}
	return errors.New("neither gateway has public addresses: two clouds that assign addresses per connection cannot be linked by VPN")
}

// remove deletes what prev has and plan has not.
func remove(ctx context.Context, b Backends, plan, prev Plan) error {
	rec := &recorder{st: newState()}
	var gone []Link
	for _, l := range prev.Links {
		if nl, ok := plan.Link(l.Key()); !ok || nl.Kind != l.Kind {
			gone = append(gone, l)
		}
	}
	parallel(gone, func(l Link) {
		if err := deleteLink(ctx, b, prev, l); err != nil {
			rec.fail(fmt.Errorf("deleting link %s ↔ %s: %w", l.A, l.B, err))
		}
	})
	if err := rec.err(); err != nil {
		return err
	}
	parallel(prev.Sites, func(s PlannedSite) {
		ns, still := plan.Site(s.Key)
		if !s.NeedsGateway || (still && ns.NeedsGateway) {
			return
		}
		nb, err := b.of(s.Key)
		if err == nil {
			err = nb.DeleteVPNGateway(ctx, s.Region, s.GatewayName)
		}
		if err != nil {
			rec.fail(fmt.Errorf("site %s: deleting VPN gateway %s: %w", s.Key, s.GatewayName, err))
		}
	})
	if err := rec.err(); err != nil {
		return err
	}
	parallel(prev.Sites, func(s PlannedSite) {
		if _, still := plan.Site(s.Key); still {
			return
		}
		nb, err := b.of(s.Key)
		if err == nil {
			err = nb.DeleteNetwork(ctx, s.Region, s.NetworkName)
		}
		if err != nil {
			rec.fail(fmt.Errorf("site %s: deleting network %s: %w", s.Key, s.NetworkName, err))
		}
	})
	return rec.err()
}

func deleteLink(ctx context.Context, b Backends, p Plan, l Link) error {
	nbA, err := b.of(l.A)
	if err != nil {
		return err
	}
	if l.Kind == KindPeering {
		return nbA.DeletePeering(ctx, peeringSpec(p, l))
	}
	nbB, err := b.of(l.B)
	if err != nil {
		return err
	}
	a, _ := p.Site(l.A)
	bs, _ := p.Site(l.B)
	var errA, errB error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); errA = nbA.DeleteVPNConnection(ctx, a.Region, l.ConnectionName(p.Name, l.A)) }()
	go func() { defer wg.Done(); errB = nbB.DeleteVPNConnection(ctx, bs.Region, l.ConnectionName(p.Name, l.B)) }()
	wg.Wait()
	return errors.Join(errA, errB)
}

// Destroy deletes everything of plan.
func Destroy(ctx context.Context, b Backends, plan Plan) error {
	return remove(ctx, b, Plan{Name: plan.Name}, plan)
}

// Observe reads what exists of plan. Missing objects are absent from the
// state (not an error); other errors are returned.
func Observe(ctx context.Context, b Backends, plan Plan) (State, error) {
	rec := &recorder{st: newState()}
	parallel(plan.Sites, func(s PlannedSite) {
		nb, err := b.of(s.Key)
		if err != nil {
			rec.fail(err)
			return
		}
		n, err := nb.GetNetwork(ctx, s.Region, s.NetworkName)
		switch {
		case cloud.IsNotFound(err):
		case err != nil:
			rec.fail(fmt.Errorf("site %s: reading network: %w", s.Key, err))
		default:
			rec.site(s.Key, func(st *SiteState) { st.Network = &n })
		}
		if !s.NeedsGateway {
			return
		}
		g, err := nb.GetVPNGateway(ctx, s.Region, s.GatewayName)
		switch {
		case cloud.IsNotFound(err):
		case err != nil:
			rec.fail(fmt.Errorf("site %s: reading VPN gateway: %w", s.Key, err))
		default:
			rec.site(s.Key, func(st *SiteState) { st.Gateway = &g })
		}
	})
	parallel(plan.Links, func(l Link) {
		if l.Kind == KindPeering {
			nb, err := b.of(l.A)
			if err != nil {
				rec.fail(err)
				return
			}
			pr, err := nb.GetPeering(ctx, peeringSpec(plan, l))
			switch {
			case cloud.IsNotFound(err):
			case err != nil:
				rec.fail(fmt.Errorf("link %s ↔ %s: reading peering: %w", l.A, l.B, err))
			default:
				rec.link(l.Key(), func(ls *LinkState) { ls.Peering = &pr })
			}
			return
		}
		for _, side := range []string{l.A, l.B} {
			nb, err := b.of(side)
			if err != nil {
				rec.fail(err)
				return
			}
			s, _ := plan.Site(side)
			c, err := nb.GetVPNConnection(ctx, s.Region, l.ConnectionName(plan.Name, side))
			switch {
			case cloud.IsNotFound(err):
			case err != nil:
				rec.fail(fmt.Errorf("link %s ↔ %s: reading the %s side: %w", l.A, l.B, side, err))
			default:
				rec.link(l.Key(), func(ls *LinkState) {
					if side == l.A {
						ls.A = &c
					} else {
						ls.B = &c
					}
				})
			}
		}
	})
	return rec.st, rec.err()
}

// WaitEstablished observes the mesh every poll until every link is
// established or timeout passes (tunnels come up once both sides are
// configured: a minute or two on the real clouds). It returns the last
// observation; links not yet up are reported by the caller, not as an
// error.
func WaitEstablished(ctx context.Context, b Backends, plan Plan, poll, timeout time.Duration) (State, error) {
	deadline := time.Now().Add(timeout)
	for {
		st, err := Observe(ctx, b, plan)
		if err != nil {
			return st, err
		}
		pending := false
		for _, l := range plan.Links {
			if !st.Links[l.Key()].Established(l) {
				pending = true
			}
		}
		if !pending || time.Now().After(deadline) {
			return st, nil
		}
		if err := cloud.Sleep(ctx, poll); err != nil {
			return st, err
		}
	}
}
