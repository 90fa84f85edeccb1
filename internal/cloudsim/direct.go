package cloudsim

import (
	"context"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
)

// DirectBackend is a cloud.Backend that calls the engine without a wire
// protocol: the reference for what every cloud's backend must do, and the
// backend for orchestration tests. Its waits poll the engine; with a
// FakeClock, Sleep should advance the clock.
type DirectBackend struct {
	Engine    *Engine
	CloudName string
	// Options describe an instance type (quota family, GPUs per node).
	Options func(instanceType string) PoolOptions
	// Poll is the wait between status reads; 100ms when zero.
	Poll time.Duration
	// Sleep waits; a context-aware sleep when nil.
	Sleep func(ctx context.Context, d time.Duration) error
	// Timeout bounds each wait on the engine's clock;
	// cloud.DefaultWaitTimeout when zero.
	Timeout time.Duration
}

var _ cloud.Backend = (*DirectBackend)(nil)

// Cloud names the simulated cloud.
func (b *DirectBackend) Cloud() string { return b.CloudName }

// waitFor is a wait of this backend (cloud.Wait): a read every Poll
// (100ms when zero) up to Timeout, on the engine's clock, with Sleep.
func waitFor[T any](ctx context.Context, b *DirectBackend, op, what string, target string, refresh func(context.Context) (T, string, error)) (T, error) {
	return waitWithin(ctx, b, b.Timeout, op, what, target, refresh)
}

// waitWithin is waitFor with its own timeout.
func waitWithin[T any](ctx context.Context, b *DirectBackend, timeout time.Duration, op, what string, target string, refresh func(context.Context) (T, string, error)) (T, error) {
	poll := b.Poll
	if poll == 0 {
		poll = 100 * time.Millisecond
	}
	return cloud.Wait[T]{Cloud: b.CloudName, Op: op, What: what, Target: []string{target}, Refresh: refresh,
		Poll: poll, Timeout: timeout, Now: b.Engine.Now, Sleep: b.Sleep}.Until(ctx)
}

// statusGone is the status of an object that a read no longer finds.
const statusGone = "gone"

// untilGone maps a read that finds nothing to the status gone.
func untilGone(err error) (struct{}, string, error) {
	if cloud.IsNotFound(err) {
		return struct{}{}, statusGone, nil
	}
	return struct{}{}, string(cloud.StatusDeleting), err
}

func (b *DirectBackend) cluster(c Cluster) cloud.Cluster {
	return cloud.Cluster{Name: c.Name, Region: c.Region, Status: b.Engine.ClusterStatus(c), KubernetesVersion: c.Spec.KubernetesVersion,
		Endpoint: c.Endpoint, CACertificate: c.CACertificate, ServiceCIDR: c.ServiceCIDR, ID: c.ID}
}

func (b *DirectBackend) pool(p Pool) cloud.NodePool {
	status, ready := b.Engine.PoolStatus(p)
	return cloud.NodePool{Spec: p.Spec, Status: status, ReadyNodes: ready, Issues: append([]cloud.Issue(nil), p.Issues...), ID: p.ID}
}

// CreateCluster creates and waits (see cloud.Backend).
func (b *DirectBackend) CreateCluster(ctx context.Context, spec cloud.ClusterSpec) (cloud.Cluster, error) {
	if _, err := b.Engine.CreateCluster(b.CloudName, spec); err != nil {
		return cloud.Cluster{}, err
	}
	return waitFor(ctx, b, "CreateCluster", "cluster "+spec.Name, string(cloud.StatusActive), func(ctx context.Context) (cloud.Cluster, string, error) {
		c, err := b.GetCluster(ctx, spec.Region, spec.Name)
		return c, string(c.Status), err
	})
}

// GetCluster reads a cluster.
func (b *DirectBackend) GetCluster(_ context.Context, region, name string) (cloud.Cluster, error) {
	c, err := b.Engine.GetCluster(b.CloudName, region, name)
	if err != nil {
		return cloud.Cluster{}, err
	}
	return b.cluster(c), nil
}

// DeleteCluster deletes and waits until gone.
func (b *DirectBackend) DeleteCluster(ctx context.Context, region, name string) error {
	if _, err := b.Engine.DeleteCluster(b.CloudName, region, name); err != nil {
		return cloud.IgnoreNotFound(err)
	}
	_, err := waitFor(ctx, b, "DeleteCluster", "cluster "+name, statusGone, func(context.Context) (struct{}, string, error) {
		_, err := b.Engine.GetCluster(b.CloudName, region, name)
		return untilGone(err)
	})
	return err
}

// CreateNodePool creates and waits; a pool that fails is returned with a
// capacity or quota error (see cloud.Backend).
func (b *DirectBackend) CreateNodePool(ctx context.Context, spec cloud.NodePoolSpec) (cloud.NodePool, error) {
	var o PoolOptions
	if b.Options != nil {
		o = b.Options(spec.InstanceType)
	}
	if _, err := b.Engine.CreateNodePool(b.CloudName, spec, o); err != nil {
		return cloud.NodePool{}, err
	}
	timed := spec
	if r := spec.Reservation; r != nil && r.Start.IsZero() {
		// The cloud knows when its reservation starts, where the plan did
		// not say (a declared reservation).
		if res, err := b.Engine.GetReservation(b.CloudName, r.ID); err == nil {
			timed.Reservation = &cloud.Reservation{ID: r.ID, Start: res.Start, End: res.End}
		}
	}
	return b.waitPool(ctx, timed.CreateTimeout(b.Timeout, b.Engine.Now()), spec.Region, spec.Cluster, spec.Name, "CreateNodePool")
}

func (b *DirectBackend) waitPool(ctx context.Context, timeout time.Duration, region, cluster, name, op string) (cloud.NodePool, error) {
	return waitWithin(ctx, b, timeout, op, "node pool "+name, string(cloud.StatusActive), func(context.Context) (cloud.NodePool, string, error) {
		p, err := b.Engine.GetNodePool(b.CloudName, region, cluster, name)
		if err != nil {
			return cloud.NodePool{}, "", err
		}
		np := b.pool(p)
		if np.Status == cloud.StatusCreateFailed || np.Status == cloud.StatusDegraded {
			return np, string(np.Status), poolError(b.CloudName, op, p)
		}
		return np, string(np.Status), nil
	})
}

// poolError classifies the issue a failed pool reports.
func poolError(cl, op string, p Pool) error {
	kind, _ := PendingKind(p)
	last := p.Issues[len(p.Issues)-1]
	return cloud.NewError(kind, cl, op, last.Code, "%s", last.Message).ForOffer(p.Spec)
}

// GetNodePool reads a node pool.
func (b *DirectBackend) GetNodePool(_ context.Context, region, cluster, name string) (cloud.NodePool, error) {
	p, err := b.Engine.GetNodePool(b.CloudName, region, cluster, name)
	if err != nil {
		return cloud.NodePool{}, err
	}
	return b.pool(p), nil
}

// UpdateNodePool updates in place and waits.
func (b *DirectBackend) UpdateNodePool(ctx context.Context, region, cluster, name string, u cloud.NodePoolUpdate) (cloud.NodePool, error) {
	if _, err := b.Engine.UpdateNodePool(b.CloudName, region, cluster, name, u); err != nil {
		return cloud.NodePool{}, err
	}
	return b.waitPool(ctx, b.Timeout, region, cluster, name, "UpdateNodePool")
}

// DeleteNodePool deletes and waits until gone.
func (b *DirectBackend) DeleteNodePool(ctx context.Context, region, cluster, name string) error {
	if _, err := b.Engine.DeleteNodePool(b.CloudName, region, cluster, name); err != nil {
		return cloud.IgnoreNotFound(err)
	}
	_, err := waitFor(ctx, b, "DeleteNodePool", "node pool "+name, statusGone, func(context.Context) (struct{}, string, error) {
		_, err := b.Engine.GetNodePool(b.CloudName, region, cluster, name)
		return untilGone(err)
	})
	return err
}
