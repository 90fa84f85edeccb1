// Package cloudsim simulates the parts of AWS, GCP and Azure that gpufleet
// uses, so that the real SDK clients can be exercised over loopback: one
// engine (clusters, node pools, the front ends' typed tables of their own
// resources such as launch templates and roles, asynchronous operations
// that take time, capacity per zone and SKU that runs out, quotas per
// region and GPU family, throttling, fault injection), with wire front
// ends per cloud on top.
//
// The engine is deterministic: time comes from a Clock, identifiers from a
// counter, and operations complete when the clock passes their deadline,
// observed lazily by the next call, so there are no background goroutines.
// With a state file it persists after every change, so separate processes
// (terraform plan, apply, destroy) see one world.
package cloudsim

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/simworld"
)

// Clock tells the engine the time.
type Clock interface{ Now() time.Time }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// FakeClock is a clock that moves only when told to.
type FakeClock struct {
	mu sync.Mutex
	t  time.Time
}

// NewFakeClock starts a fake clock at t.
func NewFakeClock(t time.Time) *FakeClock { return &FakeClock{t: t} }

// Now returns the fake time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the fake time forward.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Tick moves the clock forward by step every interval of real time, in
// the background, until stop is called (tests whose backends wait: a
// second per millisecond settles every simulated operation at once).
func (c *FakeClock) Tick(interval, step time.Duration) (stop func()) {
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				c.Advance(step)
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(done) })
		<-stopped
	}
}

// Durations are how long asynchronous operations take.
type Durations struct {
	ClusterCreate, ClusterDelete, PoolCreate, PoolUpdate, PoolDelete time.Duration
}

// DefaultDurations are short enough for demos and tests on a real clock.
var DefaultDurations = Durations{
	ClusterCreate: 3 * time.Second, ClusterDelete: 2 * time.Second,
	PoolCreate: 2 * time.Second, PoolUpdate: time.Second, PoolDelete: time.Second,
}

// Config configures an engine.
type Config struct {
	Clock     Clock     // real time when nil
	Durations Durations // DefaultDurations when zero
	// StateFile persists the world after every change; empty keeps it in
	// memory only.
	StateFile string
	// GCPProject and AzureSubscription appear in the provider IDs of
	// simulated nodes; "gpufleet-sim" and the zero UUID when empty (the
	// provider's simulate defaults).
	GCPProject, AzureSubscription string
}

// Engine is one simulated world holding all three clouds.
type Engine struct {
	mu        sync.Mutex
	clock     Clock
	durations Durations
	file      string
	st        *state
	// seen is the version of the state file that st reflects.
	seen *fileStamp
	// dirty is set when reaping changed the world (an operation finished,
	// machines booted) without a save; the unlock saves it.
	dirty bool
	// calls counts API calls per cloud/operation (not persisted), for
	// benchmarks.
	calls map[string]int
	// gcpProject and azureSubscription name simulated nodes.
	gcpProject, azureSubscription string
	// lockErr is why the world could not be taken or read back by the
	// current call (lock); saveErr why the last save at an unlock failed
	// (the world is then still dirty). Every call reports them (ready).
	lockErr, saveErr error
	// leftover is what reaping could not clean up (a deleted cluster's
	// Kubernetes log), reported once by the next call.
	leftover error
}

// state is the persisted world.
type state struct {
	Clusters map[string]*Cluster `json:"clusters"`
	Pools    map[string]*Pool    `json:"pools"`
	Objects  map[string]*Object  `json:"objects"`
	// Capacity: nodes obtainable per cloud/zone/instance_type/capacity_type
	// (absent: unlimited).
	Capacity map[string]int `json:"capacity"`
	// Quotas: GPUs allowed per cloud/region/family (absent: unlimited).
	Quotas map[string]int `json:"quotas"`
	// Tokens maps idempotency tokens to the pool they created.
	Tokens map[string]string `json:"tokens"`
	Seq    int64             `json:"seq"`
	// Faults and Limits are persisted too, so that a test can inject them
	// into the world a separate process (the provider) runs against.
	Faults []*Fault           `json:"faults,omitempty"`
	Limits map[string]*bucket `json:"limits,omitempty"`
	// PublicIPs counts the simulated public addresses handed out.
	PublicIPs int64 `json:"public_ips,omitempty"`
	// TunnelEnds are the VPN tunnel ends the front ends registered.
	TunnelEnds map[string]*TunnelEnd `json:"tunnel_ends,omitempty"`
	// GPUFaults are the GPU fault selectors with budget left.
	GPUFaults []*GPUFaultRule `json:"gpu_faults,omitempty"`
	// Kube is each cluster's Kubernetes side (CA, objects), by cluster key.
	Kube map[string]*KubeState `json:"kube,omitempty"`
	// Reservations is the ledger of reserved and scheduled capacity, by
	// cloud/ID (see Reservation).
	Reservations map[string]*Reservation `json:"reservations,omitempty"`
	// Tables are the front ends' typed tables, by cloud/kind (table.go).
	Tables map[string]*tableState `json:"tables,omitempty"`
	// Version is the state format (stateVersion); a file of a later one
	// is unreadable rather than half understood.
	Version int `json:"version,omitempty"`
}

// stateVersion is the format this engine writes: 2 added the typed
// tables (state of version 1, without the field, loads: NewTable moves
// the objects the tables replace).
const stateVersion = 2

// Cluster is a simulated control plane.
type Cluster struct {
	Cloud, Region, Name string
	Spec                cloud.ClusterSpec
	ID                  string
	// CreatedAt is when CreateCluster made it (zero in state files
	// written before it was recorded).
	CreatedAt     time.Time `json:",omitzero"`
	ReadyAt       time.Time
	DeleteAt      *time.Time
	Endpoint      string
	CACertificate string
	ServiceCIDR   string
}

// Pool is a simulated node pool.
type Pool struct {
	Cloud       string
	Spec        cloud.NodePoolSpec
	ID          string
	Family      string
	GPUsPerNode int
	// CreatedAt is when CreateNodePool made it (zero in state files
	// written before it was recorded).
	CreatedAt time.Time `json:",omitzero"`
	ReadyAt   time.Time
	DeleteAt  *time.Time
	// Reserved is the number of nodes holding capacity and quota.
	Reserved int
	// Pending is the issue the running operation ends with, if any.
	Pending *PendingIssue
	// Issues are what the cloud reports once the operation ended.
	Issues []cloud.Issue
	Failed bool
	// Updating is true while an update (not the create) is in progress.
	Updating bool
	// Nodes are the pool's machines; they follow Reserved once the
	// pool's operation is done (see PoolNodes).
	Nodes []Node `json:",omitempty"`
	// NextNode is the Index of the next machine launched.
	NextNode int `json:",omitempty"`
}

// PendingIssue is how an operation will fail when it completes.
type PendingIssue struct {
	Kind  cloud.Kind
	Issue cloud.Issue
}

// Object is an auxiliary cloud object as the inventory lists it: a row of
// a front end's table (Row, Value) or an untyped object (Attrs).
type Object struct {
	Cloud, Kind, Name string
	ID                string
	Attrs             map[string]string
	// Row marks a table's row as the inventory lists it (no Attrs; the
	// table holds its value).
	Row bool `json:",omitempty"`
	// Value is a row's value as its table keeps it (JSON), for people and
	// tests that look at what a front end stored.
	Value json.RawMessage `json:",omitempty"`
	// bookkeeping is a row's table's option.
	bookkeeping bool
}

// New creates an engine, loading cfg.StateFile when it exists.
func New(cfg Config) (*Engine, error) {
	e := &Engine{clock: cfg.Clock, durations: cfg.Durations, file: cfg.StateFile,
		gcpProject: cfg.GCPProject, azureSubscription: cfg.AzureSubscription}
	if e.gcpProject == "" {
		e.gcpProject = "gpufleet-sim"
	}
	if e.azureSubscription == "" {
		e.azureSubscription = "00000000-0000-0000-0000-000000000000"
	}
	if e.clock == nil {
		e.clock = realClock{}
	}
	if e.durations == (Durations{}) {
		e.durations = DefaultDurations
	}
	e.st = newState()
	if e.file != "" {
		if err := os.MkdirAll(filepath.Dir(e.file), 0o755); err != nil {
			return nil, unreadable(e.file, err)
		}
		f, err := lockFile(e.file + ".lock")
		if err != nil {
			return nil, unreadable(e.file+".lock", err)
		}
		defer unlockFile(f)
		if err := e.reload(); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// StateError is a simulated world whose state cannot be read (a corrupt
// or foreign state file); it is simworld's, which the provider knows
// without linking the simulator.
type StateError = simworld.StateError

// unreadable is the error of a state file that cannot be read.
func unreadable(path string, err error) error {
	return &StateError{Path: path, Err: err}
}

// fileStamp identifies one version of the state file: every save renames a
// new file into place.
type fileStamp struct {
	size  int64
	mtime time.Time
	ino   uint64
}

func stampOf(fi os.FileInfo) fileStamp {
	return fileStamp{size: fi.Size(), mtime: fi.ModTime(), ino: inode(fi)}
}

// reload reads the state file when it changed since this engine last read
// or wrote it (another process wrote it). Called with the world locked.
func (e *Engine) reload() error {
	fi, err := os.Stat(e.file)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return unreadable(e.file, err)
	}
	if e.seen != nil && *e.seen == stampOf(fi) {
		return nil
	}
	data, err := os.ReadFile(e.file)
	if err != nil {
		return unreadable(e.file, err)
	}
	st := &state{}
	if err := json.Unmarshal(data, st); err != nil {
		return unreadable(e.file, err)
	}
	if st.Version > stateVersion {
		return unreadable(e.file, fmt.Errorf("state version %d is newer than this simulator's %d", st.Version, stateVersion))
	}
	st.fill()
	e.st = st
	s := stampOf(fi)
	e.seen = &s
	return nil
}

// lock takes the world: the engine's mutex and, with a state file, an
// exclusive lock on <state>.lock shared with every other process (and
// engine) on the same world; it reloads the state another one changed, so
// that each change is a read-modify-write of the file and none is lost.
// It returns the unlock. A lock that cannot be taken or a state file that
// became unreadable is the call's error (ready): the engine does not
// answer from a world it may no longer hold.
func (e *Engine) lock() func() {
	e.mu.Lock()
	e.lockErr = nil
	if e.file == "" {
		return e.mu.Unlock
	}
	f, err := lockFile(e.file + ".lock")
	if err != nil {
		e.lockErr = unreadable(e.file+".lock", err)
		return e.mu.Unlock
	}
	e.lockErr = e.reload()
	return func() {
		if e.dirty {
			// What time finished (machines booted, operations done) is
			// part of the world: another process must see the same
			// machines, not launch others. A failure is the next call's
			// error, and the world stays dirty for it to save.
			e.saveErr = e.save()
		}
		unlockFile(f)
		e.mu.Unlock()
	}
}

// ready is the error a call answers before doing anything: the world
// could not be taken or read (lock), or the last save failed. Called with
// the world locked.
func (e *Engine) ready() error {
	if e.lockErr != nil {
		return e.lockErr
	}
	if err := e.leftover; err != nil {
		e.leftover = nil
		return err
	}
	if e.saveErr != nil {
		return e.save() // clears saveErr when it works now
	}
	return nil
}

func newState() *state {
	s := &state{}
	s.fill()
	return s
}

func (s *state) fill() {
	if s.Clusters == nil {
		s.Clusters = map[string]*Cluster{}
	}
	if s.Pools == nil {
		s.Pools = map[string]*Pool{}
	}
	if s.Objects == nil {
		s.Objects = map[string]*Object{}
	}
	if s.Capacity == nil {
		s.Capacity = map[string]int{}
	}
	if s.Quotas == nil {
		s.Quotas = map[string]int{}
	}
	if s.Tokens == nil {
		s.Tokens = map[string]string{}
	}
	if s.Limits == nil {
		s.Limits = map[string]*bucket{}
	}
	if s.TunnelEnds == nil {
		s.TunnelEnds = map[string]*TunnelEnd{}
	}
	if s.Kube == nil {
		s.Kube = map[string]*KubeState{}
	}
	if s.Reservations == nil {
		s.Reservations = map[string]*Reservation{}
	}
	if s.Tables == nil {
		s.Tables = map[string]*tableState{}
	}
}

// save persists the state (atomically: temp file and rename). A failure
// leaves the world dirty, so that a later save tries again.
func (e *Engine) save() (err error) {
	e.dirty = false
	if e.file == "" {
		return nil
	}
	defer func() {
		if err != nil {
			e.dirty = true
			err = unreadable(e.file, fmt.Errorf("saving: %w", err))
		} else {
			e.saveErr = nil
		}
	}()
	e.st.Version = stateVersion
	data, err := json.MarshalIndent(e.st, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(e.file), 0o755); err != nil {
		return err
	}
	tmp := e.file + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, e.file); err != nil {
		return err
	}
	if fi, err := os.Stat(e.file); err == nil {
		s := stampOf(fi)
		e.seen = &s
	}
	return nil
}

func (e *Engine) nextID(prefix string) string {
	e.st.Seq++
	return fmt.Sprintf("%s-%06d", prefix, e.st.Seq)
}

func clusterKey(cl, region, name string) string { return cl + "/" + region + "/" + name }

func poolKey(cl, region, cluster, name string) string {
	return cl + "/" + region + "/" + cluster + "/" + name
}

func capacityKey(cl, zone, instanceType, capacityType string) string {
	return cl + "/" + zone + "/" + instanceType + "/" + capacityType
}

func quotaKey(cl, region, family string) string { return cl + "/" + region + "/" + family }

func objectKey(cl, kind, name string) string { return cl + "/" + kind + "/" + name }

// SetCapacity sets the nodes obtainable for a zone, instance type and
// capacity type; negative removes the limit.
func (e *Engine) SetCapacity(cl, zone, instanceType, capacityType string, nodes int) error {
	defer e.lock()()
	if err := e.ready(); err != nil {
		return err
	}
	k := capacityKey(cl, zone, instanceType, capacityType)
	if nodes < 0 {
		delete(e.st.Capacity, k)
	} else {
		e.st.Capacity[k] = nodes
	}
	return e.save()
}

// SetQuota sets the GPUs allowed in a region for a GPU family (e.g. "p"
// for AWS P instances); negative removes the limit.
func (e *Engine) SetQuota(cl, region, family string, gpus int) error {
	defer e.lock()()
	if err := e.ready(); err != nil {
		return err
	}
	k := quotaKey(cl, region, family)
	if gpus < 0 {
		delete(e.st.Quotas, k)
	} else {
		e.st.Quotas[k] = gpus
	}
	return e.save()
}

// reap finishes operations whose time has come: deletions are removed
// (releasing capacity), failures become visible, machines follow the
// pools' sizes. Pools are visited in key order, so that the machines'
// names (from the counter) do not depend on map order.
func (e *Engine) reap() {
	now := e.clock.Now()
	for _, k := range sortedKeys(e.st.Pools) {
		p := e.st.Pools[k]
		if p.DeleteAt != nil && !now.Before(*p.DeleteAt) {
			e.release(p)
			delete(e.st.Pools, k)
			e.dirty = true
			continue
		}
		if p.Pending != nil && !now.Before(p.ReadyAt) {
			p.Issues = append(p.Issues, p.Pending.Issue)
			p.Failed = true
			p.Pending = nil
			e.dirty = true
		}
		if e.expireReservations(p, now) {
			e.dirty = true
		}
		if e.syncNodes(p, now) {
			e.dirty = true
		}
	}
	for k, c := range e.st.Clusters {
		if c.DeleteAt != nil && !now.Before(*c.DeleteAt) {
			e.dirty = true
			delete(e.st.Clusters, k)
			delete(e.st.Kube, k)
			if e.file != "" {
				// Its Kubernetes objects go with it; a log that stays is
				// the next call's error (no later cluster reuses the ID).
				if err := os.Remove(e.kubeLogPath(c.ID)); err != nil && !errors.Is(err, os.ErrNotExist) {
					e.leftover = unreadable(e.kubeLogPath(c.ID), err)
				}
			}
		}
	}
}

func (e *Engine) release(p *Pool) {
	if p.Reserved == 0 {
		return
	}
	if k := capacityKey(p.Cloud, p.Spec.Zone, p.Spec.InstanceType, p.Spec.CapacityType); hasKey(e.st.Capacity, k) {
		e.st.Capacity[k] += p.Reserved
	}
	p.Reserved = 0
}

func hasKey[V any](m map[string]V, k string) bool {
	_, ok := m[k]
	return ok
}

// begin runs the checks every call shares: rate limits and injected
// faults. It is called with e.mu held.
func (e *Engine) begin(cl, op string, match Target) error {
	if e.calls == nil {
		e.calls = map[string]int{}
	}
	e.calls[cl+"/"+op]++
	if err := e.ready(); err != nil {
		return err
	}
	e.reap()
	if err := e.throttled(cl, op); err != nil {
		return err
	}
	if f := e.takeFault(cl, op, match, false); f != nil {
		return f.Err
	}
	return nil
}

func notFound(cl, op, what string) error {
	return cloud.NotFound(cl, op, "NotFound", "%s not found", what)
}

// CreateCluster starts creating a cluster. An existing cluster of the same
// name is returned when its spec matches (a retried create), and is a
// KindConflict error otherwise.
func (e *Engine) CreateCluster(cl string, spec cloud.ClusterSpec) (Cluster, error) {
	defer e.lock()()
	if err := e.begin(cl, "CreateCluster", Target{Region: spec.Region}); err != nil {
		return Cluster{}, err
	}
	k := clusterKey(cl, spec.Region, spec.Name)
	if c, ok := e.st.Clusters[k]; ok {
		if c.DeleteAt == nil && c.Spec.KubernetesVersion == spec.KubernetesVersion {
			return *c, nil
		}
		return Cluster{}, cloud.Conflict(cl, "CreateCluster", "ResourceInUseException", "cluster %s already exists with another configuration or is being deleted", spec.Name)
	}
	now := e.clock.Now()
	c := &Cluster{
		Cloud: cl, Region: spec.Region, Name: spec.Name, Spec: spec, ID: e.nextID(cl + "-cluster"),
		CreatedAt: now, ReadyAt: now.Add(e.durations.ClusterCreate),
		Endpoint:    fmt.Sprintf("https://%s.%s.%s.cloudsim.invalid", spec.Name, spec.Region, cl),
		ServiceCIDR: "10.100.0.0/16",
	}
	ks, err := e.newKubeState(c)
	if err != nil {
		return Cluster{}, err
	}
	c.CACertificate = base64.StdEncoding.EncodeToString([]byte(ks.CACert))
	e.st.Kube[k] = ks
	e.st.Clusters[k] = c
	return *c, e.save()
}

// ClusterStatus is the state of a cluster now.
func (e *Engine) ClusterStatus(c Cluster) cloud.Status {
	now := e.clock.Now()
	switch {
	case c.DeleteAt != nil:
		return cloud.StatusDeleting
	case now.Before(c.ReadyAt):
		return cloud.StatusCreating
	}
	return cloud.StatusActive
}

// GetCluster returns a cluster, or KindNotFound.
func (e *Engine) GetCluster(cl, region, name string) (Cluster, error) {
	defer e.lock()()
	if err := e.begin(cl, "GetCluster", Target{Region: region}); err != nil {
		return Cluster{}, err
	}
	c, ok := e.st.Clusters[clusterKey(cl, region, name)]
	if !ok {
		return Cluster{}, notFound(cl, "GetCluster", "cluster "+name)
	}
	return *c, nil
}

// DeleteCluster starts deleting a cluster; its node pools must be gone.
func (e *Engine) DeleteCluster(cl, region, name string) (Cluster, error) {
	defer e.lock()()
	if err := e.begin(cl, "DeleteCluster", Target{Region: region}); err != nil {
		return Cluster{}, err
	}
	c, ok := e.st.Clusters[clusterKey(cl, region, name)]
	if !ok {
		return Cluster{}, notFound(cl, "DeleteCluster", "cluster "+name)
	}
	for _, p := range e.st.Pools {
		if p.Cloud == cl && p.Spec.Region == region && p.Spec.Cluster == name {
			return Cluster{}, cloud.Conflict(cl, "DeleteCluster", "ResourceInUseException", "cluster %s has node pool %s; delete the node pools first", name, p.Spec.Name)
		}
	}
	if c.DeleteAt == nil {
		t := e.clock.Now().Add(e.durations.ClusterDelete)
		c.DeleteAt = &t
	}
	return *c, e.save()
}

// PoolOptions describe the instance type of a pool for capacity and quota.
type PoolOptions struct {
	// Family is the quota family of the instance type (e.g. AWS "p").
	Family      string
	GPUsPerNode int
}

// CreateNodePool starts creating a node pool. Quota and capacity are
// decided now; when they are short the pool is still created (as real
// clouds accept the request) and fails when the operation completes, with
// an issue naming what ran out. A retry with the same idempotency token
// returns the first pool.
func (e *Engine) CreateNodePool(cl string, spec cloud.NodePoolSpec, o PoolOptions) (Pool, error) {
	defer e.lock()()
	target := Target{Region: spec.Region, Zone: spec.Zone, InstanceType: spec.InstanceType}
	if err := e.begin(cl, "CreateNodePool", target); err != nil {
		return Pool{}, err
	}
	if _, ok := e.st.Clusters[clusterKey(cl, spec.Region, spec.Cluster)]; !ok {
		return Pool{}, notFound(cl, "CreateNodePool", "cluster "+spec.Cluster)
	}
	k := poolKey(cl, spec.Region, spec.Cluster, spec.Name)
	if spec.IdempotencyToken != "" {
		if pk, ok := e.st.Tokens[cl+"/"+spec.IdempotencyToken]; ok {
			if p, ok := e.st.Pools[pk]; ok && p.Spec.Equal(spec) {
				return *p, nil
			}
		}
	}
	if p, ok := e.st.Pools[k]; ok {
		if p.Spec.Equal(spec) && p.DeleteAt == nil {
			return *p, nil
		}
		return Pool{}, cloud.Conflict(cl, "CreateNodePool", "ResourceInUseException", "node pool %s already exists with another configuration or is being deleted", spec.Name)
	}
	now := e.clock.Now()
	p := &Pool{Cloud: cl, Spec: spec, ID: e.nextID(cl + "-pool"), Family: o.Family, GPUsPerNode: o.GPUsPerNode, CreatedAt: now}
	if spec.Reservation != nil {
		r := *spec.Reservation
		p.Spec.Reservation = &r
	}
	p.ReadyAt = e.createReadyAt(p, now)
	p.Spec.Labels = maps.Clone(spec.Labels)
	p.Spec.Taints = slices.Clone(spec.Taints)
	if f := e.takeFault(cl, "CreateNodePool", target, true); f != nil {
		p.Pending = f.Midway
	} else if issue := e.reserve(p, spec.Nodes); issue != nil {
		p.Pending = issue
	}
	e.st.Pools[k] = p
	if spec.IdempotencyToken != "" {
		e.st.Tokens[cl+"/"+spec.IdempotencyToken] = k
	}
	return *p, e.save()
}

// reserve takes quota and capacity for n more nodes of p, or says why not.
func (e *Engine) reserve(p *Pool, n int) *PendingIssue {
	if n <= 0 {
		return nil
	}
	if issue := e.reserveFrom(p, n); issue != nil {
		return issue
	}
	qk := quotaKey(p.Cloud, p.Spec.Region, p.Family)
	if quota, ok := e.st.Quotas[qk]; ok {
		used := 0
		for _, other := range e.st.Pools {
			if other.Cloud == p.Cloud && other.Spec.Region == p.Spec.Region && other.Family == p.Family {
				used += other.Reserved * other.GPUsPerNode
			}
		}
		used += p.Reserved * p.GPUsPerNode
		if used+n*p.GPUsPerNode > quota {
			return &PendingIssue{Kind: cloud.KindQuota, Issue: cloud.Issue{Code: "QuotaExceeded",
				Message: fmt.Sprintf("quota for %s GPUs in %s is %d; %d in use, %d more requested", p.Family, p.Spec.Region, quota, used, n*p.GPUsPerNode)}}
		}
	}
	ck := capacityKey(p.Cloud, p.Spec.Zone, p.Spec.InstanceType, p.Spec.CapacityType)
	if avail, ok := e.st.Capacity[ck]; ok {
		if avail < n {
			return &PendingIssue{Kind: cloud.KindCapacity, Issue: cloud.Issue{Code: "InsufficientCapacity",
				Message: fmt.Sprintf("%d %s %s nodes available in %s, %d requested", avail, p.Spec.CapacityType, p.Spec.InstanceType, p.Spec.Zone, n)}}
		}
		e.st.Capacity[ck] = avail - n
	}
	p.Reserved += n
	return nil
}

// PoolStatus is the state of a node pool now, and its ready nodes.
func (e *Engine) PoolStatus(p Pool) (cloud.Status, int) {
	now := e.clock.Now()
	switch {
	case p.DeleteAt != nil:
		return cloud.StatusDeleting, p.Reserved
	case now.Before(p.ReadyAt) || p.Pending != nil:
		// p is a copy read a moment ago: an operation whose time came
		// since then, but whose pending failure the engine has not yet
		// recorded (reap), is still running as far as p tells — it must
		// not look done and healthy (a failed create read as Active under
		// load, when the read and this call straddle ReadyAt).
		if p.Updating {
			return cloud.StatusUpdating, p.Reserved
		}
		return cloud.StatusCreating, 0
	case p.Failed && p.Reserved == 0:
		return cloud.StatusCreateFailed, 0
	case p.Failed:
		return cloud.StatusDegraded, p.Reserved
	}
	return cloud.StatusActive, p.Reserved
}

// PendingKind returns the kind of the failure a pool ended with, if any.
func PendingKind(p Pool) (cloud.Kind, bool) {
	if len(p.Issues) == 0 {
		return 0, false
	}
	switch p.Issues[len(p.Issues)-1].Code {
	case "QuotaExceeded":
		return cloud.KindQuota, true
	case "InsufficientCapacity", IssueReservationExhausted, IssueReservationExpired:
		return cloud.KindCapacity, true
	}
	return cloud.KindFatal, true
}

// GetNodePool returns a node pool, or KindNotFound.
func (e *Engine) GetNodePool(cl, region, cluster, name string) (Pool, error) {
	defer e.lock()()
	if err := e.begin(cl, "GetNodePool", Target{Region: region}); err != nil {
		return Pool{}, err
	}
	p, ok := e.st.Pools[poolKey(cl, region, cluster, name)]
	if !ok {
		return Pool{}, notFound(cl, "GetNodePool", "node pool "+name)
	}
	return *p, nil
}

// UpdateNodePool starts an in-place update: node count (with quota and
// capacity checks for growth; a shortfall degrades the pool with an issue),
// labels and taints.
func (e *Engine) UpdateNodePool(cl, region, cluster, name string, u cloud.NodePoolUpdate) (Pool, error) {
	defer e.lock()()
	if err := e.begin(cl, "UpdateNodePool", Target{Region: region}); err != nil {
		return Pool{}, err
	}
	p, ok := e.st.Pools[poolKey(cl, region, cluster, name)]
	if !ok {
		return Pool{}, notFound(cl, "UpdateNodePool", "node pool "+name)
	}
	now := e.clock.Now()
	if p.DeleteAt != nil || now.Before(p.ReadyAt) {
		return Pool{}, cloud.Conflict(cl, "UpdateNodePool", "ResourceInUseException", "node pool %s is busy (another operation is in progress)", name)
	}
	if p.Failed && p.Reserved == 0 {
		return Pool{}, cloud.Conflict(cl, "UpdateNodePool", "InvalidRequestException", "node pool %s failed to create; delete it", name)
	}
	if u.Labels != nil {
		p.Spec.Labels = maps.Clone(u.Labels)
	}
	if u.Taints != nil {
		p.Spec.Taints = slices.Clone(*u.Taints)
	}
	p.Issues, p.Failed, p.Updating = nil, false, true
	if u.Nodes != nil {
		n := *u.Nodes
		switch {
		case n > p.Reserved:
			if issue := e.reserve(p, n-p.Reserved); issue != nil {
				p.Pending = issue
			}
		case n < p.Reserved:
			drop := p.Reserved - n
			if k := capacityKey(p.Cloud, p.Spec.Zone, p.Spec.InstanceType, p.Spec.CapacityType); hasKey(e.st.Capacity, k) {
				e.st.Capacity[k] += drop
			}
			p.Reserved = n
		}
		p.Spec.Nodes = n
	}
	p.ReadyAt = now.Add(e.durations.PoolUpdate)
	return *p, e.save()
}

// DeleteNodePool starts deleting a node pool.
func (e *Engine) DeleteNodePool(cl, region, cluster, name string) (Pool, error) {
	defer e.lock()()
	if err := e.begin(cl, "DeleteNodePool", Target{Region: region}); err != nil {
		return Pool{}, err
	}
	p, ok := e.st.Pools[poolKey(cl, region, cluster, name)]
	if !ok {
		return Pool{}, notFound(cl, "DeleteNodePool", "node pool "+name)
	}
	if p.DeleteAt == nil {
		t := e.clock.Now().Add(e.durations.PoolDelete)
		p.DeleteAt = &t
		p.Pending = nil
	}
	return *p, e.save()
}

// PutObject creates an auxiliary object, or returns the existing one when
// its attributes match (KindConflict otherwise).
func (e *Engine) PutObject(cl, kind, name string, attrs map[string]string) (Object, error) {
	defer e.lock()()
	if err := e.begin(cl, "Create"+kind, Target{}); err != nil {
		return Object{}, err
	}
	k := objectKey(cl, kind, name)
	if o, ok := e.st.Objects[k]; ok {
		if maps.Equal(o.Attrs, attrs) {
			return *o, nil
		}
		return Object{}, cloud.Conflict(cl, "Create"+kind, "AlreadyExists", "%s %s already exists", kind, name)
	}
	o := &Object{Cloud: cl, Kind: kind, Name: name, ID: e.nextID(cl + "-" + kind), Attrs: maps.Clone(attrs)}
	e.st.Objects[k] = o
	return *o, e.save()
}

// GetObject returns an auxiliary object, or KindNotFound.
func (e *Engine) GetObject(cl, kind, name string) (Object, error) {
	defer e.lock()()
	if err := e.begin(cl, "Get"+kind, Target{}); err != nil {
		return Object{}, err
	}
	o, ok := e.st.Objects[objectKey(cl, kind, name)]
	if !ok {
		return Object{}, notFound(cl, "Get"+kind, kind+" "+name)
	}
	return *o, nil
}

// DeleteObject removes an auxiliary object; KindNotFound when absent.
func (e *Engine) DeleteObject(cl, kind, name string) error {
	defer e.lock()()
	if err := e.begin(cl, "Delete"+kind, Target{}); err != nil {
		return err
	}
	k := objectKey(cl, kind, name)
	if _, ok := e.st.Objects[k]; !ok {
		// A table's row, as the inventory lists it, goes the same way
		// (what a person deleting it in a console does).
		if ts := e.st.Tables[tableKey(cl, kind)]; ts != nil && hasKey(ts.Rows, name) {
			delete(ts.Rows, name)
			return e.save()
		}
		return notFound(cl, "Delete"+kind, kind+" "+name)
	}
	delete(e.st.Objects, k)
	return e.save()
}

// Inventory lists everything that exists, sorted, for leak checks and for
// people.
type Inventory struct {
	Clusters []Cluster
	Pools    []Pool
	Objects  []Object
}

// Empty reports whether nothing exists.
func (i Inventory) Empty() bool { return len(i.Clusters)+len(i.Pools)+len(i.Objects) == 0 }

// Inventory returns what exists now (operations whose time has come are
// finished first).
func (e *Engine) Inventory() Inventory {
	defer e.lock()()
	e.reap()
	var inv Inventory
	for _, k := range sortedKeys(e.st.Clusters) {
		inv.Clusters = append(inv.Clusters, *e.st.Clusters[k])
	}
	for _, k := range sortedKeys(e.st.Pools) {
		inv.Pools = append(inv.Pools, *e.st.Pools[k])
	}
	for _, k := range sortedKeys(e.st.Objects) {
		inv.Objects = append(inv.Objects, *e.st.Objects[k])
	}
	inv.Objects = append(inv.Objects, e.st.tableObjects()...)
	slices.SortFunc(inv.Objects, func(a, b Object) int {
		return strings.Compare(objectKey(a.Cloud, a.Kind, a.Name), objectKey(b.Cloud, b.Kind, b.Name))
	})
	return inv
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Calls returns the API calls served so far per cloud/operation.
func (e *Engine) Calls() map[string]int {
	defer e.lock()()
	return maps.Clone(e.calls)
}

// Bookkeeping reports a table's row that a front end keeps for itself
// (request metadata, operation records), which is not a cloud resource
// anyone pays for: its table's declared option (TableOptions.Bookkeeping).
// An engine object outside the tables is a resource.
func (o Object) Bookkeeping() bool { return o.Row && o.bookkeeping }

// Resources is the inventory without bookkeeping objects: what a leak
// check looks at.
func (i Inventory) Resources() Inventory {
	out := Inventory{Clusters: i.Clusters, Pools: i.Pools}
	for _, o := range i.Objects {
		if !o.Bookkeeping() {
			out.Objects = append(out.Objects, o)
		}
	}
	return out
}

// LookupCluster finds a cluster without rate limits or faults: for the
// checks a front end makes before an operation, which the real APIs do not
// bill as calls.
func (e *Engine) LookupCluster(cl, region, name string) (Cluster, bool) {
	defer e.lock()()
	e.reap()
	c, ok := e.st.Clusters[clusterKey(cl, region, name)]
	if !ok {
		return Cluster{}, false
	}
	return *c, true
}

// LookupPool finds a node pool without rate limits or faults.
func (e *Engine) LookupPool(cl, region, cluster, name string) (Pool, bool) {
	defer e.lock()()
	e.reap()
	p, ok := e.st.Pools[poolKey(cl, region, cluster, name)]
	if !ok {
		return Pool{}, false
	}
	return *p, true
}

// Durations are how long the engine's operations take; front ends derive
// the times of what they model themselves (network gateways, operations)
// from them, so that a scaled engine scales everything.
func (e *Engine) Durations() Durations { return e.durations }

// LookupObject finds an auxiliary object without rate limits or faults
// (the checks a front end makes, which the real APIs do not bill).
func (e *Engine) LookupObject(cl, kind, name string) (Object, bool) {
	defer e.lock()()
	o, ok := e.st.Objects[objectKey(cl, kind, name)]
	if !ok {
		return Object{}, false
	}
	c := *o
	c.Attrs = maps.Clone(o.Attrs)
	return c, true
}
