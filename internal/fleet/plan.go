package fleet

import (
	"sort"
)

// Action is what Apply does about one allocation or pool.
type Action string

// Actions.
const (
	// ActionCreate creates a pool for an allocation that has none (with
	// failover to its fallbacks).
	ActionCreate Action = "create"
	// ActionUpdate changes an existing pool in place: node count, labels
	// and taints.
	ActionUpdate Action = "update"
	// ActionDelete deletes a pool whose allocation is gone.
	ActionDelete Action = "delete"
)

// Change is one step of a plan.
type Change struct {
	Action Action
	// Allocation is the allocation to create or update a pool for.
	Allocation Allocation
	// Pool is the existing pool to update or delete.
	Pool Pool
	// Nodes is the node count an updated pool gets: the allocation's, or
	// for a pool that failed over to another node size, enough of its own
	// nodes for the allocation's GPUs.
	Nodes int
}

// Grows reports whether the change adds nodes (a create, or an update to
// more nodes than the pool has): those are the nodes validation waits for.
func (c Change) Grows() bool {
	return c.Action == ActionCreate || (c.Action == ActionUpdate && c.Nodes > c.Pool.Offer.Nodes)
}

// Plan compares the allocations wanted with the pools that exist and says
// what to do: delete the pools whose allocation is gone, update the pools
// that remain, create pools for the allocations that have none. It is pure
// and deterministic: deletes, then updates, then creates, each in the order
// of allocation keys.
func Plan(desired []Allocation, existing []Pool) []Change {
	have := map[string]Pool{}
	for _, p := range existing {
		have[p.Allocation] = p
	}
	wanted := map[string]bool{}
	var deletes, updates, creates []Change
	for _, a := range desired {
		wanted[a.Key] = true
		p, ok := have[a.Key]
		if !ok {
			creates = append(creates, Change{Action: ActionCreate, Allocation: a, Nodes: a.Nodes})
			continue
		}
		updates = append(updates, Change{Action: ActionUpdate, Allocation: a, Pool: p, Nodes: nodesFor(a, p)})
	}
	for _, p := range existing {
		if !wanted[p.Allocation] {
			deletes = append(deletes, Change{Action: ActionDelete, Pool: p})
		}
	}
	for _, cs := range [][]Change{deletes, updates, creates} {
		sort.SliceStable(cs, func(i, j int) bool { return cs[i].key() < cs[j].key() })
	}
	return append(append(deletes, updates...), creates...)
}

func (c Change) key() string {
	if c.Action == ActionDelete {
		return c.Pool.Allocation
	}
	return c.Allocation.Key
}

// nodesFor is the node count of an existing pool for an allocation: a pool
// on a fallback with another node size holds the allocation's GPUs in its
// own nodes, rounded up.
func nodesFor(a Allocation, p Pool) int {
	if p.Offer.Key != a.Key && p.Offer.GPUsPerNode > 0 && a.GPUsPerNode > 0 {
		return (a.Nodes*a.GPUsPerNode + p.Offer.GPUsPerNode - 1) / p.Offer.GPUsPerNode
	}
	return a.Nodes
}
