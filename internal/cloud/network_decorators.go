package cloud

import "context"

// decoratedNetwork applies one wrapping to every NetworkBackend method.
type decoratedNetwork struct {
	next NetworkBackend
	wrap func(ctx context.Context, op string, f call[any]) (any, error)
}

func runNet[T any](d *decoratedNetwork, ctx context.Context, op string, f call[T]) (T, error) {
	v, err := d.wrap(ctx, op, func(ctx context.Context) (any, error) { return f(ctx) })
	out, _ := v.(T)
	return out, err
}

// WithNetworkRetries wraps a network backend so that every call is retried
// on throttling and transient errors (every method is idempotent).
func WithNetworkRetries(b NetworkBackend, p RetryPolicy) NetworkBackend {
	return &decoratedNetwork{next: b, wrap: retrying(p)}
}

func (d *decoratedNetwork) Cloud() string { return d.next.Cloud() }

func (d *decoratedNetwork) EnsureNetwork(ctx context.Context, spec NetworkSpec) (Network, error) {
	return runNet(d, ctx, "EnsureNetwork", func(ctx context.Context) (Network, error) { return d.next.EnsureNetwork(ctx, spec) })
}

func (d *decoratedNetwork) GetNetwork(ctx context.Context, region, name string) (Network, error) {
	return runNet(d, ctx, "GetNetwork", func(ctx context.Context) (Network, error) { return d.next.GetNetwork(ctx, region, name) })
}

func (d *decoratedNetwork) DeleteNetwork(ctx context.Context, region, name string) error {
	_, err := runNet(d, ctx, "DeleteNetwork", unit(func(ctx context.Context) error { return d.next.DeleteNetwork(ctx, region, name) }))
	return err
}

func (d *decoratedNetwork) EnsureVPNGateway(ctx context.Context, spec GatewaySpec) (Gateway, error) {
	return runNet(d, ctx, "EnsureVPNGateway", func(ctx context.Context) (Gateway, error) { return d.next.EnsureVPNGateway(ctx, spec) })
}

func (d *decoratedNetwork) GetVPNGateway(ctx context.Context, region, name string) (Gateway, error) {
	return runNet(d, ctx, "GetVPNGateway", func(ctx context.Context) (Gateway, error) { return d.next.GetVPNGateway(ctx, region, name) })
}

func (d *decoratedNetwork) DeleteVPNGateway(ctx context.Context, region, name string) error {
	_, err := runNet(d, ctx, "DeleteVPNGateway", unit(func(ctx context.Context) error { return d.next.DeleteVPNGateway(ctx, region, name) }))
	return err
}

func (d *decoratedNetwork) EnsureVPNConnection(ctx context.Context, spec VPNConnectionSpec) (VPNConnection, error) {
	return runNet(d, ctx, "EnsureVPNConnection", func(ctx context.Context) (VPNConnection, error) { return d.next.EnsureVPNConnection(ctx, spec) })
}

func (d *decoratedNetwork) GetVPNConnection(ctx context.Context, region, name string) (VPNConnection, error) {
	return runNet(d, ctx, "GetVPNConnection", func(ctx context.Context) (VPNConnection, error) { return d.next.GetVPNConnection(ctx, region, name) })
}

func (d *decoratedNetwork) GetTunnelKeys(ctx context.Context, region, name string) ([]string, error) {
	return runNet(d, ctx, "GetTunnelKeys", func(ctx context.Context) ([]string, error) { return d.next.GetTunnelKeys(ctx, region, name) })
}

func (d *decoratedNetwork) DeleteVPNConnection(ctx context.Context, region, name string) error {
	_, err := runNet(d, ctx, "DeleteVPNConnection", unit(func(ctx context.Context) error { return d.next.DeleteVPNConnection(ctx, region, name) }))
	return err
}

func (d *decoratedNetwork) EnsurePeering(ctx context.Context, spec PeeringSpec) (Peering, error) {
	return runNet(d, ctx, "EnsurePeering", func(ctx context.Context) (Peering, error) { return d.next.EnsurePeering(ctx, spec) })
}

func (d *decoratedNetwork) GetPeering(ctx context.Context, spec PeeringSpec) (Peering, error) {
	return runNet(d, ctx, "GetPeering", func(ctx context.Context) (Peering, error) { return d.next.GetPeering(ctx, spec) })
}

func (d *decoratedNetwork) DeletePeering(ctx context.Context, spec PeeringSpec) error {
	_, err := runNet(d, ctx, "DeletePeering", unit(func(ctx context.Context) error { return d.next.DeletePeering(ctx, spec) }))
	return err
}

func (d *decoratedNetwork) ListNetworks(ctx context.Context, o ListOptions) ([]Resource, error) {
	return runNet(d, ctx, "ListNetworks", func(ctx context.Context) ([]Resource, error) { return d.next.ListNetworks(ctx, o) })
}
