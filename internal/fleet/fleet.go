// Package fleet creates and deletes the node pools of a placement across
// sites and clouds: concurrently (bounded), with failover from an
// allocation to its fallbacks on capacity and quota errors, and without
// leaking anything: every pool that exists is either reported or deleted.
package fleet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
)

// Offer is where an allocation's nodes go.
type Offer struct {
	Key          string // planner offer ID: cloud/region/zone/instance_type/capacity_type
	Cloud        string
	Region       string
	Zone         string
	InstanceType string
	CapacityType string
	GPUModel     string
	Nodes        int
	GPUsPerNode  int
	HourlyUSD    float64
}

// Site is the cloud/region key of an offer.
func (o Offer) Site() string { return o.Cloud + "/" + o.Region }

// Allocation is one allocation of a placement and its fallbacks, cheapest
// first.
type Allocation struct {
	Offer
	Fallbacks []Offer
}

// Pool is a node pool that exists (or was being created) for an
// allocation.
type Pool struct {
	Allocation string // the allocation's key
	Offer      Offer  // where it actually is (a fallback after failover)
	Cluster    string
	Name       string
	Status     cloud.Status
	ReadyNodes int
	// Tried lists the offers that failed before this one, with why.
	Tried []string
}

// PoolName is the deterministic node pool name of an offer in a cluster:
// the same allocation always gets the same name, so retried creates find
// their pool.
func PoolName(offerKey string) string {
	h := sha256.Sum256([]byte(offerKey))
	return "gpufleet-" + hex.EncodeToString(h[:6])
}

// Spec is what every pool of a fleet shares.
type Spec struct {
	// Compact places each pool's nodes close together (gang placements).
	Compact  bool
	Labels   map[string]string
	Taints   []cloud.Taint
	UserData func(Offer, string) string // per offer and cluster; may be nil
}

// Fleet creates pools for allocations.
type Fleet struct {
	Backends map[string]cloud.Backend
	// Clusters maps a site (cloud/region) to its cluster name.
	Clusters map[string]string
	// Concurrency bounds the pools created at once (4 when zero).
	Concurrency int
	// Accept decides whether a fallback may replace an allocation given the
	// offers placed so far (spread rules); nil accepts every fallback.
	Accept func(placed []Offer, candidate Offer, replacing Offer) bool
	// Log reports progress; may be nil.
	Log func(format string, args ...any)

	mu      sync.Mutex
	blocked map[string]string // zone/instance/capacity → reason
	placed  map[string]Offer  // allocation key → offer in use
}

func (f *Fleet) logf(format string, args ...any) {
	if f.Log != nil {
		f.Log(format, args...)
	}
}

func blockKey(o Offer) string {
	return o.Cloud + "/" + o.Zone + "/" + o.InstanceType + "/" + o.CapacityType
}

// Create creates a pool for every allocation, concurrently. With failover,
// a capacity or quota error blocks that (zone, instance type, capacity
// type) for the rest of the run and moves the allocation to its next
// fallback that has a cluster, is not blocked and is accepted. Pools that
// failed are deleted before moving on. It returns the pools that exist
// (also on error) and the errors of allocations that could not be placed.
func (f *Fleet) Create(ctx context.Context, allocs []Allocation, spec Spec, failover bool) ([]Pool, error) {
	f.mu.Lock()
	if f.blocked == nil {
		f.blocked = map[string]string{}
	}
	f.placed = map[string]Offer{}
	for _, a := range allocs {
		f.placed[a.Key] = a.Offer
	}
	f.mu.Unlock()
	n := f.Concurrency
	if n <= 0 {
		n = 4
	}
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	pools := make([]*Pool, len(allocs))
	errs := make([]error, len(allocs))
	for i, a := range allocs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			}
			defer func() { <-sem }()
			pools[i], errs[i] = f.place(ctx, a, spec, failover)
		}()
	}
	wg.Wait()
	var out []Pool
	for _, p := range pools {
		if p != nil {
			out = append(out, *p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Allocation < out[j].Allocation })
	return out, errors.Join(errs...)
}

// place tries the allocation's offer, then its fallbacks.
func (f *Fleet) place(ctx context.Context, a Allocation, spec Spec, failover bool) (*Pool, error) {
	candidates := []Offer{a.Offer}
	if failover {
		candidates = append(candidates, a.Fallbacks...)
	}
	var tried []string
	var lastErr error
	for i, o := range candidates {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if i > 0 && !f.admit(a, o, &tried) {
			continue
		}
		b, ok := f.Backends[o.Cloud]
		if !ok {
			tried = append(tried, o.Key+": no backend for "+o.Cloud)
			continue
		}
		clusterName, ok := f.Clusters[o.Site()]
		if !ok {
			tried = append(tried, o.Key+": no cluster in "+o.Site())
			continue
		}
		ps := cloud.NodePoolSpec{Cluster: clusterName, Region: o.Region, Name: PoolName(o.Key), InstanceType: o.InstanceType,
			Zone: o.Zone, CapacityType: o.CapacityType, Nodes: o.Nodes, Labels: spec.Labels, Taints: spec.Taints,
			GPUModel: o.GPUModel, GPUsPerNode: o.GPUsPerNode, Compact: spec.Compact,
			IdempotencyToken: PoolName(o.Key) + "-" + clusterName}
		if spec.UserData != nil {
			ps.UserData = spec.UserData(o, clusterName)
		}
		f.logf("creating %d x %s in %s (%s) for %s", o.Nodes, o.InstanceType, o.Zone, o.CapacityType, a.Key)
		np, err := b.CreateNodePool(ctx, ps)
		if err == nil {
			f.logf("node pool %s ready in %s: %d nodes", ps.Name, o.Site(), np.ReadyNodes)
			return &Pool{Allocation: a.Key, Offer: o, Cluster: clusterName, Name: ps.Name, Status: np.Status, ReadyNodes: np.ReadyNodes, Tried: tried}, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			// Cancelled while waiting: the pool keeps being created in the
			// cloud, so report it for the state to record.
			return &Pool{Allocation: a.Key, Offer: o, Cluster: clusterName, Name: ps.Name, Status: cloud.StatusCreating, Tried: tried}, ctx.Err()
		}
		// The pool may exist in a failed state: delete it so that nothing
		// is left that the state does not know about.
		if derr := b.DeleteNodePool(ctx, o.Region, clusterName, ps.Name); derr != nil {
			return &Pool{Allocation: a.Key, Offer: o, Cluster: clusterName, Name: ps.Name, Status: cloud.StatusCreateFailed, Tried: tried},
				fmt.Errorf("allocation %s: %w; and deleting the failed node pool %s failed: %v", a.Key, err, ps.Name, derr)
		}
		if !failover || !cloud.IsFailover(err) {
			return nil, fmt.Errorf("allocation %s: %w", a.Key, err)
		}
		f.mu.Lock()
		f.blocked[blockKey(o)] = err.Error()
		f.mu.Unlock()
		tried = append(tried, o.Key+": "+err.Error())
		f.logf("%s failed (%s): trying the next fallback", o.Key, cloud.KindOf(err))
	}
	if lastErr == nil {
		lastErr = errors.New("no usable offer")
	}
	return nil, fmt.Errorf("allocation %s: no offer could be placed (tried: %v): %w", a.Key, tried, lastErr)
}

// admit checks a fallback against blocked offers and the spread rules, and
// records it as the allocation's offer when accepted.
func (f *Fleet) admit(a Allocation, o Offer, tried *[]string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if why, ok := f.blocked[blockKey(o)]; ok {
		*tried = append(*tried, o.Key+": blocked earlier in this apply ("+why+")")
		return false
	}
	if f.Accept != nil {
		var placed []Offer
		for k, p := range f.placed {
			if k != a.Key {
				placed = append(placed, p)
			}
		}
		sort.Slice(placed, func(i, j int) bool { return placed[i].Key < placed[j].Key })
		if !f.Accept(placed, o, f.placed[a.Key]) {
			*tried = append(*tried, o.Key+": would break the placement's spread")
			return false
		}
	}
	f.placed[a.Key] = o
	return true
}

// Delete deletes pools concurrently; pools already gone are fine.
func (f *Fleet) Delete(ctx context.Context, pools []Pool) error {
	n := f.Concurrency
	if n <= 0 {
		n = 4
	}
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	errs := make([]error, len(pools))
	for i, p := range pools {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			b, ok := f.Backends[p.Offer.Cloud]
			if !ok {
				errs[i] = fmt.Errorf("no backend for %s", p.Offer.Cloud)
				return
			}
			f.logf("deleting node pool %s in %s", p.Name, p.Offer.Site())
			if err := b.DeleteNodePool(ctx, p.Offer.Region, p.Cluster, p.Name); err != nil {
				errs[i] = fmt.Errorf("deleting node pool %s: %w", p.Name, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
