package awsfront

import (
	"fmt"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// Typed reads of what the simulated EC2 networking holds, for the checks of
// tests and tools (leaks, tunnels, keys) that look into a world without
// going through the API: the same tables the front end serves, read
// without rate limits or faults.

// VPNConnections are the VPN connections of the simulated EC2 in e, every
// region's, in row-name order, each with its tunnels as they stand now
// (ModifyVpnTunnelOptions applied).
func VPNConnections(e *cloudsim.Engine) ([]VPNConnection, error) {
	s := &server{e: e, net: newNetTables(e)}
	w, err := s.world()
	if err != nil {
		return nil, err
	}
	out := make([]VPNConnection, 0, len(w.vpns))
	for _, o := range w.vpns {
		v := o.Value
		v.Tunnels = w.tunnelsOf(o)
		out = append(out, v)
	}
	return out, nil
}

// TunnelKeys are every pre-shared key the simulated EC2 in e holds, sorted:
// the VPN tunnels' keys as created and as ModifyVpnTunnelOptions set them
// since (for the checks that no key leaks out of the cloud).
func TunnelKeys(e *cloudsim.Engine) ([]string, error) {
	s := &server{e: e, net: newNetTables(e)}
	w, err := s.world()
	if err != nil {
		return nil, err
	}
	keys := map[string]bool{}
	for _, c := range w.vpns.values() {
		for _, t := range c.Tunnels {
			keys[t.PSK] = true
		}
	}
	for _, m := range w.tunnelMods.values() {
		keys[m.PSK] = true
	}
	delete(keys, "")
	return sortedKeys(keys), nil
}

// TunnelEnd is the engine's TunnelEnd ID of tunnel n (1 or 2) of the
// connection, for cloudsim's TunnelStatus.
func (v VPNConnection) TunnelEnd(n int) string { return tunnelEndID(v.ID, n) }

func tunnelEndID(vpnID string, i int) string { return fmt.Sprintf("%s/%d", vpnID, i) }
