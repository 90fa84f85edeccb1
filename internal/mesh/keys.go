package mesh

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
)

// Pre-shared keys live only in the clouds. A plan rebuilt from Terraform
// state has no keys (Tunnel.PSK empty); Build gives new tunnels fresh
// ones. Before a VPN link is ensured, keyLink looks at what exists of it:
//
//   - a tunnel that exists on both sides keeps its key: it is sent with
//     the key read back from a side whose cloud returns keys
//     (NetworkBackend.GetTunnelKeys: AWS, Azure), so that the other side
//     can recreate its tunnel with it when it must (GCP rebuilds every
//     tunnel of a link when its external gateway changes, as when a
//     two-tunnel AWS link gets its other two), or without one when neither
//     side returns it, which every backend reads as "keep the tunnel's
//     key";
//   - a tunnel that exists on neither side gets a fresh key (unless Build
//     gave it one);
//   - any other tunnel (new, or missing on a side: deleted out of band)
//     gets a fresh key, on both sides: the backends replace the side that
//     remains with the new key, since its own key is not known (rotation
//     is replacement).
//
// A backend that has to replace a tunnel given without a key for another
// reason, and cannot read the key back (GCP), answers
// cloud.KeyRequiredError; Apply then keys the link anew (keyLink with
// all) and ensures it again.

// keyLink returns l with the keys this apply sends; all gives every tunnel
// a fresh key.
func keyLink(ctx context.Context, nbA, nbB cloud.NetworkBackend, p Plan, l Link, all bool) (Link, error) {
	out := l
	out.Tunnels = slices.Clone(l.Tunnels)
	have := [2]int{}
	if !all {
		for i, side := range []struct {
			nb  cloud.NetworkBackend
			key string
		}{{nbA, l.A}, {nbB, l.B}} {
			s, _ := p.Site(side.key)
			c, err := side.nb.GetVPNConnection(ctx, s.Region, l.ConnectionName(p.Name, side.key))
			switch {
			case cloud.IsNotFound(err):
			case err != nil:
				return l, fmt.Errorf("reading the %s side: %w", side.key, err)
			default:
				have[i] = len(c.Tunnels)
			}
		}
	}
	both := min(have[0], have[1])
	var kept []string // the keys of the tunnels both sides have, read back from one
	if !all && both > 0 {
		for _, side := range []struct {
			nb  cloud.NetworkBackend
			key string
		}{{nbA, l.A}, {nbB, l.B}} {
			s, _ := p.Site(side.key)
			keys, err := side.nb.GetTunnelKeys(ctx, s.Region, l.ConnectionName(p.Name, side.key))
			if err != nil {
				return l, fmt.Errorf("reading the %s side's keys: %w", side.key, err)
			}
			if keys != nil {
				kept = keys
				break
			}
		}
	}
	for i, t := range out.Tunnels {
		if t.PSK != "" && !all {
			continue
		}
		if !all && i < both {
			if i < len(kept) {
				out.Tunnels[i].PSK = kept[i]
			}
			continue // exists on both sides: keeps its key
		}
		psk, err := newPSK(rand.Reader)
		if err != nil {
			return l, err
		}
		out.Tunnels[i].PSK = psk
	}
	return out, nil
}
