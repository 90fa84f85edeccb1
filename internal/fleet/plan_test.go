package fleet

import (
	"reflect"
	"testing"
)

func TestPlan(t *testing.T) {
	a := Allocation{Offer: Offer{Key: "aws/r/z1/p5/on_demand", Nodes: 2, GPUsPerNode: 8}}
	b := Allocation{Offer: Offer{Key: "gcp/r/z1/a3/on_demand", Nodes: 3, GPUsPerNode: 8}}
	c := Allocation{Offer: Offer{Key: "azure/r/1/nd/on_demand", Nodes: 1, GPUsPerNode: 8}}
	poolA := Pool{Allocation: a.Key, Offer: a.Offer, Name: "pa"}
	// b failed over to a 4-GPU type: 3 x 8 GPUs need 6 of its nodes.
	poolB := Pool{Allocation: b.Key, Offer: Offer{Key: "gcp/r/z2/a2/on_demand", Nodes: 6, GPUsPerNode: 4}, Name: "pb"}
	gone := Pool{Allocation: "aws/r/z9/p4/on_demand", Offer: Offer{Key: "aws/r/z9/p4/on_demand", Nodes: 1}, Name: "old"}
	bigger := a
	bigger.Nodes = 4
	tests := []struct {
		name     string
		desired  []Allocation
		existing []Pool
		want     []Change
	}{
		{"nothing", nil, nil, nil},
		{"all new, in key order", []Allocation{c, a}, nil, []Change{
			{Action: ActionCreate, Allocation: a, Nodes: 2}, {Action: ActionCreate, Allocation: c, Nodes: 1}}},
		{"delete, update, create", []Allocation{c, b, a}, []Pool{gone, poolB, poolA}, []Change{
			{Action: ActionDelete, Pool: gone},
			{Action: ActionUpdate, Allocation: a, Pool: poolA, Nodes: 2},
			{Action: ActionUpdate, Allocation: b, Pool: poolB, Nodes: 6},
			{Action: ActionCreate, Allocation: c, Nodes: 1}}},
		{"scale out", []Allocation{bigger}, []Pool{poolA}, []Change{{Action: ActionUpdate, Allocation: bigger, Pool: poolA, Nodes: 4}}},
		{"everything goes", nil, []Pool{poolA, gone}, []Change{{Action: ActionDelete, Pool: poolA}, {Action: ActionDelete, Pool: gone}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Plan(tc.desired, tc.existing)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Plan =\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

func TestChangeGrows(t *testing.T) {
	p := Pool{Offer: Offer{Nodes: 2}}
	tests := []struct {
		c    Change
		want bool
	}{
		{Change{Action: ActionCreate, Nodes: 1}, true},
		{Change{Action: ActionUpdate, Pool: p, Nodes: 3}, true},
		{Change{Action: ActionUpdate, Pool: p, Nodes: 2}, false},
		{Change{Action: ActionUpdate, Pool: p, Nodes: 1}, false},
		{Change{Action: ActionDelete, Pool: p}, false},
	}
	for _, tc := range tests {
		if got := tc.c.Grows(); got != tc.want {
			t.Errorf("%+v.Grows() = %v, want %v", tc.c, got, tc.want)
		}
	}
}
