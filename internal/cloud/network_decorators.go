package cloud

import (
	"context"
	"time"
)

// decoratedNetwork applies one wrapping to every NetworkBackend method
// (see decorated).
type decoratedNetwork struct {
	next NetworkBackend
	wrapping
}

// WithNetworkRetries wraps a network backend so that every call is retried
// on throttling and transient errors (every method is idempotent).
func WithNetworkRetries(b NetworkBackend, p RetryPolicy) NetworkBackend {
	return &decoratedNetwork{next: b, wrapping: retrying(p)}
}

// WithNetworkMetrics wraps a network backend so that every call is counted
// in m, as WithMetrics counts a Backend's ("aws.EnsureNetwork", ...). now
// defaults to time.Now.
func WithNetworkMetrics(b NetworkBackend, m *Metrics, now func() time.Time) NetworkBackend {
	return &decoratedNetwork{next: b, wrapping: metering(m, b.Cloud(), now)}
}

func (d *decoratedNetwork) Cloud() string { return d.next.Cloud() }

func (d *decoratedNetwork) EnsureNetwork(ctx context.Context, spec NetworkSpec) (Network, error) {
	return run(d, ctx, "EnsureNetwork", func(ctx context.Context) (Network, error) { return d.next.EnsureNetwork(ctx, spec) })
}

func (d *decoratedNetwork) GetNetwork(ctx context.Context, region, name string) (Network, error) {
	return run(d, ctx, "GetNetwork", func(ctx context.Context) (Network, error) { return d.next.GetNetwork(ctx, region, name) })
}

func (d *decoratedNetwork) DeleteNetwork(ctx context.Context, region, name string) error {
	_, err := run(d, ctx, "DeleteNetwork", unit(func(ctx context.Context) error { return d.next.DeleteNetwork(ctx, region, name) }))
	return err
}

func (d *decoratedNetwork) EnsureVPNGateway(ctx context.Context, spec GatewaySpec) (Gateway, error) {
	return run(d, ctx, "EnsureVPNGateway", func(ctx context.Context) (Gateway, error) { return d.next.EnsureVPNGateway(ctx, spec) })
}

func (d *decoratedNetwork) GetVPNGateway(ctx context.Context, region, name string) (Gateway, error) {
	return run(d, ctx, "GetVPNGateway", func(ctx context.Context) (Gateway, error) { return d.next.GetVPNGateway(ctx, region, name) })
}

func (d *decoratedNetwork) DeleteVPNGateway(ctx context.Context, region, name string) error {
	_, err := run(d, ctx, "DeleteVPNGateway", unit(func(ctx context.Context) error { return d.next.DeleteVPNGateway(ctx, region, name) }))
	return err
}

func (d *decoratedNetwork) EnsureVPNConnection(ctx context.Context, spec VPNConnectionSpec) (VPNConnection, error) {
	return run(d, ctx, "EnsureVPNConnection", func(ctx context.Context) (VPNConnection, error) { return d.next.EnsureVPNConnection(ctx, spec) })
}

func (d *decoratedNetwork) GetVPNConnection(ctx context.Context, region, name string) (VPNConnection, error) {
	return run(d, ctx, "GetVPNConnection", func(ctx context.Context) (VPNConnection, error) { return d.next.GetVPNConnection(ctx, region, name) })
}

func (d *decoratedNetwork) GetTunnelKeys(ctx context.Context, region, name string) ([]string, error) {
	return run(d, ctx, "GetTunnelKeys", func(ctx context.Context) ([]string, error) { return d.next.GetTunnelKeys(ctx, region, name) })
}

func (d *decoratedNetwork) DeleteVPNConnection(ctx context.Context, region, name string) error {
	_, err := run(d, ctx, "DeleteVPNConnection", unit(func(ctx context.Context) error { return d.next.DeleteVPNConnection(ctx, region, name) }))
	return err
}

func (d *decoratedNetwork) EnsurePeering(ctx context.Context, spec PeeringSpec) (Peering, error) {
	return run(d, ctx, "EnsurePeering", func(ctx context.Context) (Peering, error) { return d.next.EnsurePeering(ctx, spec) })
}

func (d *decoratedNetwork) GetPeering(ctx context.Context, spec PeeringSpec) (Peering, error) {
	return run(d, ctx, "GetPeering", func(ctx context.Context) (Peering, error) { return d.next.GetPeering(ctx, spec) })
}

func (d *decoratedNetwork) DeletePeering(ctx context.Context, spec PeeringSpec) error {
	_, err := run(d, ctx, "DeletePeering", unit(func(ctx context.Context) error { return d.next.DeletePeering(ctx, spec) }))
	return err
}

func (d *decoratedNetwork) ListNetworks(ctx context.Context, o ListOptions) ([]Resource, error) {
	return run(d, ctx, "ListNetworks", func(ctx context.Context) ([]Resource, error) { return d.next.ListNetworks(ctx, o) })
}
