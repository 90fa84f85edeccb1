// Package fleet creates and deletes the node pools of a placement across
// sites and clouds: concurrently (bounded), with failover from an
// allocation to its fallbacks on capacity and quota errors, and without
// leaking anything: every pool that exists is either reported or deleted.
package fleet

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/gpuhealth"
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
	// GPUMemoryGiB (per GPU) and Interconnect ("pcie", "nvlink",
	// "nvswitch") complete the hardware the nodes are validated against;
	// may be zero/empty where the catalog does not say.
	GPUMemoryGiB float64
	Interconnect string
	// ReservationID, Start and End are the reservation, capacity block or
	// calendar reservation the offer's capacity comes from (see
	// cloud.Reservation); empty for on-demand, spot and flex-start.
	ReservationID string
	Start, End    time.Time
	// Purchase marks a capacity block offering not bought yet (the
	// catalog prices a bought block at 0 upfront, an offering at its
	// price): ReservationID is then the offering's ID, and the fleet buys
	// it (Spec.PurchaseCapacityBlocks) before creating the pool on the
	// reservation it becomes. UpfrontUSD is what buying it costs.
	Purchase   bool
	UpfrontUSD float64
	// MaxRun is the longest a node of the offer may run (flex-start:
	// the catalog's max_run_hours); its pool's capacity ends that long
	// after the create. Zero: no limit of its own.
	MaxRun time.Duration
}

// reservation is the capacity o's pool targets, created at now; nil for
// on-demand and spot.
func (o Offer) reservation(now time.Time) *cloud.Reservation {
	end := o.End
	if o.MaxRun > 0 && end.IsZero() {
		end = now.Add(o.MaxRun)
	}
	if o.ReservationID == "" && o.Start.IsZero() && end.IsZero() {
		return nil
	}
	return &cloud.Reservation{ID: o.ReservationID, Start: o.Start, End: end}
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
	// Validated is the number of nodes that passed GPU validation and
	// can take work (with Fleet.Validation).
	Validated int
	// Failures are the nodes that failed validation in this apply, here
	// or on an offer given up for them.
	Failures []NodeFailure
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
	Compact bool
	Labels  map[string]string
	Taints  []cloud.Taint
	// UserData is the node bootstrap per offer and cluster (EKS); may be
	// nil. An error fails the allocation: a node without its bootstrap
	// would stay tainted.
	UserData func(Offer, string) (string, error)
	// Validate makes creates and scale-outs wait for validated nodes
	// (with Fleet.Validation): the pools' nodes join tainted.
	Validate bool
	// PurchaseCapacityBlocks allows buying the capacity block offerings
	// (Offer.Purchase) that allocations are on, through the backend's
	// cloud.CapacityPurchaser. Without it such an offer is refused.
	PurchaseCapacityBlocks bool
}

// Purchase is a capacity block the fleet bought: it exists, and is paid
// for, whether or not its pool was then created.
type Purchase struct {
	Allocation string // the allocation's key
	Offer      string // the offer's key (the offering)
	Cloud      string
	Region     string
	Offering   string // the offering's ID
	UpfrontUSD float64
	// Reservation is the capacity reservation the block became.
	Reservation cloud.Reservation
}

// labelsFor is the node labels of a pool on offer o: the fleet's, the
// pool's name under gpuhealth.PoolLabel so that its nodes can be found on
// every cloud, and the hardware o was bought for (gpuhealth.HardwareLabels),
// which the validator checks the nodes against.
func (s Spec) labelsFor(pool string, o Offer) map[string]string {
	out := maps.Clone(s.Labels)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, gpuhealth.HardwareLabels(o.GPUModel, o.GPUsPerNode, o.GPUMemoryGiB, o.Interconnect))
	out[gpuhealth.PoolLabel] = pool
	return out
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
	// Validation, when set, makes creates and scale-outs wait for the
	// nodes' GPU validation (Spec.Validate).
	Validation *Validation
	// Log reports progress; may be nil.
	Log func(format string, args ...any)
	// Now is the clock that says how long a pool waits for its
	// reservation's start; nil: time.Now.
	Now func() time.Time

	mu        sync.Mutex
	blocked   map[string]string   // zone/instance/capacity → reason
	placed    map[string]Offer    // allocation key → offer in use
	purchases map[string]Purchase // offer key → block bought
}

func (f *Fleet) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

// Purchases are the capacity blocks bought by this fleet's applies, sorted
// by allocation then offer: each is paid for, so the caller must record it
// even when its pool failed (a retried apply buys nothing new: the
// purchase is idempotent by the pool's name and cluster).
func (f *Fleet) Purchases() []Purchase {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := slices.Collect(maps.Values(f.purchases))
	slices.SortFunc(out, func(a, b Purchase) int {
		return cmp.Or(strings.Compare(a.Allocation, b.Allocation), strings.Compare(a.Offer, b.Offer))
	})
	return out
}

func (f *Fleet) logf(format string, args ...any) {
	if f.Log != nil {
		f.Log(format, args...)
	}
}

func blockKey(o Offer) string {
	k := o.Cloud + "/" + o.Zone + "/" + o.InstanceType + "/" + o.CapacityType
	if o.ReservationID != "" {
		k += "/" + o.ReservationID // an exhausted reservation blocks only itself
	}
	return k
}

// Create creates a pool for every allocation: Apply of a plan that has
// only creates.
func (f *Fleet) Create(ctx context.Context, allocs []Allocation, spec Spec, failover bool) ([]Pool, error) {
	return f.Apply(ctx, Plan(allocs, nil), spec, failover)
}

// Apply carries out a plan. Deletes come first (concurrently); then the
// updates and creates run concurrently, at most Concurrency at once. A
// create tries the allocation's offer and, with failover, its fallbacks: a
// capacity or quota error, an offer its site cannot host (no subnet in its
// zone: cloud.IsOfferUnusable; no cluster in its region), or nodes that
// keep failing GPU validation, block
// that (zone, instance type, capacity type) for the rest of the run and
// move the allocation to its next fallback that has a cluster, is not
// blocked and keeps the spread (Accept). Pools that failed are deleted
// before moving on. With Validation, a create or a scale-out completes only
// when the new nodes are Ready and validated. Apply returns the pools that
// exist afterwards (also on error), sorted by allocation, and every
// allocation's error.
func (f *Fleet) Apply(ctx context.Context, changes []Change, spec Spec, failover bool) ([]Pool, error) {
	f.mu.Lock()
	if f.blocked == nil {
		f.blocked = map[string]string{}
	}
	f.placed = map[string]Offer{}
	for _, c := range changes {
		switch c.Action {
		case ActionCreate:
			f.placed[c.Allocation.Key] = c.Allocation.Offer
		case ActionUpdate:
			f.placed[c.Allocation.Key] = c.Pool.Offer
		}
	}
	f.mu.Unlock()
	var deletes, rest []Change
	for _, c := range changes {
		if c.Action == ActionDelete {
			deletes = append(deletes, c)
		} else {
			rest = append(rest, c)
		}
	}
	var out []Pool
	var errs []error
	var gone []Pool
	for _, c := range deletes {
		gone = append(gone, c.Pool)
	}
	if err := f.Delete(ctx, gone); err != nil {
		// They may still exist: keep them, so the state does not forget.
		out = append(out, gone...)
		errs = append(errs, err)
	}
	pools := make([]*Pool, len(rest))
	perr := make([]error, len(rest))
	f.each(ctx, len(rest), func(i int) {
		c := rest[i]
		if c.Action == ActionUpdate {
			pools[i], perr[i] = f.update(ctx, c, spec)
			return
		}
		pools[i], perr[i] = f.place(ctx, c.Allocation, spec, failover)
	}, func(i int, err error) { perr[i] = err })
	for i, p := range pools {
		if p != nil {
			out = append(out, *p)
		}
		errs = append(errs, perr[i])
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Allocation < out[j].Allocation })
	return out, errors.Join(errs...)
}

// each runs do(i) for i < n, at most Concurrency at once; when ctx ends
// before a slot frees, skipped(i, ctx.Err()) is called instead.
func (f *Fleet) each(ctx context.Context, n int, do func(int), skipped func(int, error)) {
	limit := f.Concurrency
	if limit <= 0 {
		limit = 4
	}
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				skipped(i, ctx.Err())
				return
			}
			defer func() { <-sem }()
			do(i)
		}()
	}
	wg.Wait()
}

// update changes a pool in place (node count, labels, taints) and, when it
// grows, waits for the new nodes' validation. The pool is returned also on
// error: it still exists.
func (f *Fleet) update(ctx context.Context, c Change, spec Spec) (*Pool, error) {
	p := c.Pool
	b, ok := f.Backends[p.Offer.Cloud]
	if !ok {
		return &p, fmt.Errorf("node pool %s: no backend for %s", p.Name, p.Offer.Cloud)
	}
	nodes := c.Nodes
	taints := spec.Taints
	f.logf("updating node pool %s in %s: %d nodes", p.Name, p.Offer.Site(), nodes)
	np, err := b.UpdateNodePool(ctx, p.Offer.Region, p.Cluster, p.Name, cloud.NodePoolUpdate{Nodes: &nodes, Labels: spec.labelsFor(p.Name, p.Offer), Taints: &taints})
	if err != nil {
		return &p, fmt.Errorf("updating node pool %s: %w", p.Name, err)
	}
	p.Status, p.ReadyNodes = np.Status, np.ReadyNodes
	if p.Offer.Key == c.Allocation.Key {
		p.Offer.HourlyUSD = c.Allocation.HourlyUSD
	} else if p.Offer.Nodes > 0 {
		// A failed-over pool keeps its own offer's price per node.
		p.Offer.HourlyUSD = p.Offer.HourlyUSD / float64(p.Offer.Nodes) * float64(nodes)
	}
	grows := c.Grows()
	p.Offer.Nodes = nodes
	if grows && f.Validation != nil && spec.Validate {
		if err := f.Validation.wait(ctx, b, &p, f.logf); err != nil {
			return &p, fmt.Errorf("allocation %s: %w", c.Allocation.Key, err)
		}
	}
	return &p, nil
}

// place tries the allocation's offer, then its fallbacks.
func (f *Fleet) place(ctx context.Context, a Allocation, spec Spec, failover bool) (*Pool, error) {
	candidates := []Offer{a.Offer}
	if failover {
		candidates = append(candidates, a.Fallbacks...)
	}
	var tried []string
	var lastErr error
	var failures []NodeFailure // of pools given up for bad hardware, carried to the next
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
		if o.Purchase {
			bought, err := f.purchase(ctx, b, a, o, clusterName, spec)
			if err != nil {
				lastErr = err
				tried = append(tried, o.Key+": "+err.Error())
				if ctx.Err() != nil || !failover {
					break
				}
				continue
			}
			o = bought
		}
		if o.CapacityType != "flex_start" && o.Start.After(f.now()) {
			f.logf("allocation %s: %s %s starts at %s (in %s): waiting", a.Key, KindWords(o.CapacityType), o.ReservationID,
				o.Start.UTC().Format(time.RFC3339), o.Start.Sub(f.now()).Round(time.Minute))
		}
		ps := cloud.NodePoolSpec{Cluster: clusterName, Region: o.Region, Name: PoolName(o.Key), InstanceType: o.InstanceType,
			Zone: o.Zone, CapacityType: o.CapacityType, Reservation: o.reservation(f.now()), Nodes: o.Nodes, Labels: spec.labelsFor(PoolName(o.Key), o), Taints: spec.Taints,
			GPUModel: o.GPUModel, GPUsPerNode: o.GPUsPerNode, Compact: spec.Compact,
			IdempotencyToken: PoolName(o.Key) + "-" + clusterName}
		if spec.UserData != nil {
			ud, err := spec.UserData(o, clusterName)
			if err != nil {
				// Without its bootstrap a node would stay tainted forever.
				return nil, fmt.Errorf("allocation %s: node bootstrap for %s in %s: %w", a.Key, o.InstanceType, o.Site(), err)
			}
			ps.UserData = ud
		}
		f.logf("creating %d x %s in %s (%s) for %s", o.Nodes, o.InstanceType, o.Zone, o.CapacityType, a.Key)
		np, err := b.CreateNodePool(ctx, ps)
		if err == nil {
			f.logf("node pool %s ready in %s: %d nodes", ps.Name, o.Site(), np.ReadyNodes)
			p := &Pool{Allocation: a.Key, Offer: o, Cluster: clusterName, Name: ps.Name, Status: np.Status, ReadyNodes: np.ReadyNodes,
				Tried: tried, Failures: failures}
			if f.Validation == nil || !spec.Validate {
				return p, nil
			}
			if err = f.Validation.wait(ctx, b, p, f.logf); err == nil {
				return p, nil
			}
			if ctx.Err() != nil || !isBadHardware(err) {
				// Timed out or cancelled: the pool exists and may still
				// validate; keep it for the state to record.
				return p, fmt.Errorf("allocation %s: %w", a.Key, err)
			}
			failures = p.Failures
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
		if !failover || !(cloud.IsFailover(err) || isBadHardware(err) || cloud.IsOfferUnusable(err)) {
			return nil, fmt.Errorf("allocation %s: %w", a.Key, err)
		}
		f.mu.Lock()
		f.blocked[blockKey(o)] = err.Error()
		f.mu.Unlock()
		tried = append(tried, o.Key+": "+err.Error())
		if isBadHardware(err) {
			f.logf("%s: nodes keep failing GPU validation: trying the next fallback", o.Key)
		} else if cloud.IsOfferUnusable(err) {
			f.logf("%s cannot be hosted by its site (%s): trying the next fallback", o.Key, err)
		} else {
			f.logf("%s failed (%s): trying the next fallback", o.Key, cloud.KindOf(err))
		}
	}
	if lastErr == nil {
		lastErr = errors.New("no usable offer")
	}
	return nil, fmt.Errorf("allocation %s: no offer could be placed (tried: %v): %w", a.Key, tried, lastErr)
}

// KindWords names a reserved or scheduled capacity type in messages:
// "capacity block", "calendar reservation", else "reservation".
func KindWords(capacityType string) string {
	switch capacityType {
	case "capacity_block":
		return "capacity block"
	case "calendar":
		return "calendar reservation"
	}
	return "reservation"
}

// purchase buys the capacity block offering o is (once per offer and
// cluster: the token is the pool's name and cluster, so a retried apply
// gets the same block back) and returns o on the reservation it became.
func (f *Fleet) purchase(ctx context.Context, b cloud.Backend, a Allocation, o Offer, clusterName string, spec Spec) (Offer, error) {
	if !spec.PurchaseCapacityBlocks {
		return o, fmt.Errorf("allocation %s: capacity block offering %s costs %s upfront and is not bought yet; set purchase_capacity_blocks = true to buy it (it cannot be undone)",
			a.Key, o.ReservationID, usd(o.UpfrontUSD))
	}
	p, ok := b.(cloud.CapacityPurchaser)
	if !ok {
		return o, fmt.Errorf("allocation %s: the %s backend cannot buy capacity blocks (offering %s)", a.Key, o.Cloud, o.ReservationID)
	}
	token := PoolName(o.Key) + "-" + clusterName
	f.logf("allocation %s: buying capacity block offering %s in %s for %s", a.Key, o.ReservationID, o.Region, usd(o.UpfrontUSD))
	r, err := p.PurchaseCapacityBlock(ctx, o.Region, o.ReservationID, token)
	if err != nil {
		return o, fmt.Errorf("allocation %s: buying capacity block offering %s: %w", a.Key, o.ReservationID, err)
	}
	f.mu.Lock()
	if f.purchases == nil {
		f.purchases = map[string]Purchase{}
	}
	f.purchases[o.Key+"\x00"+clusterName] = Purchase{Allocation: a.Key, Offer: o.Key, Cloud: o.Cloud, Region: o.Region,
		Offering: o.ReservationID, UpfrontUSD: o.UpfrontUSD, Reservation: r}
	f.mu.Unlock()
	f.logf("allocation %s: capacity block %s bought (offering %s), %s to %s", a.Key, r.ID, o.ReservationID,
		r.Start.UTC().Format(time.RFC3339), r.End.UTC().Format(time.RFC3339))
	o.Purchase, o.ReservationID = false, r.ID
	if !r.Start.IsZero() {
		o.Start = r.Start
	}
	if !r.End.IsZero() {
		o.End = r.End
	}
	return o, nil
}

// usd writes a dollar amount.
func usd(v float64) string { return fmt.Sprintf("$%.2f", v) }

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
	errs := make([]error, len(pools))
	f.each(ctx, len(pools), func(i int) {
		p := pools[i]
		b, ok := f.Backends[p.Offer.Cloud]
		if !ok {
			errs[i] = fmt.Errorf("no backend for %s", p.Offer.Cloud)
			return
		}
		f.logf("deleting node pool %s in %s", p.Name, p.Offer.Site())
		if err := b.DeleteNodePool(ctx, p.Offer.Region, p.Cluster, p.Name); err != nil {
			errs[i] = fmt.Errorf("deleting node pool %s: %w", p.Name, err)
		}
	}, func(i int, err error) { errs[i] = fmt.Errorf("deleting node pool %s: %w", pools[i].Name, err) })
	return errors.Join(errs...)
}
