package cloudsim

import (
	"fmt"
	"maps"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
)

// Reservation is reserved or scheduled capacity in a simulated cloud, one
// ledger for every front end: an AWS capacity reservation or purchased
// Capacity Block, a GCP (calendar-mode) reservation, one capacity
// reservation of an Azure capacity reservation group. Count instances of
// InstanceType, in Zone (anywhere in Region when Zone is empty), usable
// from Start (zero: now) until End (zero: open-ended). A node pool whose
// cloud.NodePoolSpec.Reservation names ID takes one slot per node while
// it exists: the cloud's own accounting (AWS AvailableInstanceCount, GCP
// inUseCount, Azure virtualMachinesAllocated).
type Reservation struct {
	Cloud string
	// ID is the name a pool's spec uses for it (cloud.Reservation.ID).
	ID           string
	Region       string
	Zone         string
	InstanceType string
	// Kind is the capacity kind: "reserved", "capacity_block" or
	// "calendar".
	Kind  string
	Count int
	Start time.Time `json:",omitzero"`
	End   time.Time `json:",omitzero"`
	// CreatedAt is when it was put in the ledger.
	CreatedAt time.Time
	// Attrs are the front end's own fields (tags, wire-format details).
	Attrs map[string]string `json:",omitempty"`

	// Used is the slots held by node pools (computed on every read).
	Used int `json:"-"`
}

// Free is the number of instances the reservation can still launch.
func (r Reservation) Free() int { return max(r.Count-r.Used, 0) }

// State is the reservation's lifecycle at t, in EC2's words (AWS
// capacity-blocks-using.html, "Capacity Block states"): "scheduled" before
// its start, "active" while usable, "expired" from its end.
func (r Reservation) State(t time.Time) string {
	switch {
	case !r.Start.IsZero() && t.Before(r.Start):
		return "scheduled"
	case !r.End.IsZero() && !t.Before(r.End):
		return "expired"
	}
	return "active"
}

// Reservation issue codes, cloud-neutral; each front end words them as
// its cloud does. PendingKind maps them to error kinds.
const (
	// IssueReservationExhausted: not enough free slots (KindCapacity).
	IssueReservationExhausted = "ReservationCapacityExceeded"
	// IssueReservationExpired: the reservation ended (KindCapacity).
	IssueReservationExpired = "ReservationExpired"
	// IssueReservationInvalid: no such reservation, or it does not match
	// the pool's instance type or zone (KindFatal).
	IssueReservationInvalid = "ReservationMismatch"
)

func reservationKey(cl, id string) string { return cl + "/" + id }

// PutReservation adds a reservation to the ledger or changes an existing
// one's count, end and attributes (a count below the slots in use is a
// KindConflict error, as the clouds refuse to shrink a reservation under
// its running instances).
func (e *Engine) PutReservation(r Reservation) (Reservation, error) {
	defer e.lock()()
	if err := e.begin(r.Cloud, "PutReservation", Target{Region: r.Region, Zone: r.Zone, InstanceType: r.InstanceType}); err != nil {
		return Reservation{}, err
	}
	if r.ID == "" || r.InstanceType == "" || r.Count < 0 {
		return Reservation{}, cloud.Invalid(r.Cloud, "PutReservation", "InvalidParameterValue", "a reservation needs an ID, an instance type and a count of 0 or more")
	}
	k := reservationKey(r.Cloud, r.ID)
	if old, ok := e.st.Reservations[k]; ok {
		if used := e.reservationUsed(r.Cloud, r.ID); r.Count < used {
			return Reservation{}, cloud.Conflict(r.Cloud, "PutReservation", "InvalidParameterValue",
				"reservation %s has %d instances running; its count cannot go below that (asked %d)", r.ID, used, r.Count)
		}
		r.CreatedAt = old.CreatedAt
	} else {
		r.CreatedAt = e.clock.Now()
	}
	r.Attrs = maps.Clone(r.Attrs)
	stored := r
	stored.Used = 0
	e.st.Reservations[k] = &stored
	r.Used = e.reservationUsed(r.Cloud, r.ID)
	return r, e.save()
}

// GetReservation returns a reservation with its slots in use, or
// KindNotFound.
func (e *Engine) GetReservation(cl, id string) (Reservation, error) {
	defer e.lock()()
	if err := e.begin(cl, "GetReservation", Target{}); err != nil {
		return Reservation{}, err
	}
	r, ok := e.st.Reservations[reservationKey(cl, id)]
	if !ok {
		return Reservation{}, notFound(cl, "GetReservation", "reservation "+id)
	}
	out := *r
	out.Attrs = maps.Clone(r.Attrs)
	out.Used = e.reservationUsed(cl, id)
	return out, nil
}

// Reservations lists a cloud's reservations in ID order, with their slots
// in use.
func (e *Engine) Reservations(cl string) ([]Reservation, error) {
	defer e.lock()()
	if err := e.begin(cl, "ListReservations", Target{}); err != nil {
		return nil, err
	}
	var out []Reservation
	for _, k := range sortedKeys(e.st.Reservations) {
		r := e.st.Reservations[k]
		if r.Cloud != cl {
			continue
		}
		c := *r
		c.Attrs = maps.Clone(r.Attrs)
		c.Used = e.reservationUsed(cl, r.ID)
		out = append(out, c)
	}
	return out, nil
}

// DeleteReservation removes a reservation (AWS CancelCapacityReservation,
// GCP reservations.delete, Azure capacity reservation DELETE). One that
// node pools still use is a KindConflict error: Azure refuses to delete a
// capacity reservation with VMs associated, and gpufleet never cancels
// capacity under running nodes. Gone already is not an error.
func (e *Engine) DeleteReservation(cl, id string) error {
	defer e.lock()()
	if err := e.begin(cl, "DeleteReservation", Target{}); err != nil {
		return err
	}
	k := reservationKey(cl, id)
	if _, ok := e.st.Reservations[k]; !ok {
		return nil
	}
	if used := e.reservationUsed(cl, id); used > 0 {
		return cloud.Conflict(cl, "DeleteReservation", "ReservationInUse", "reservation %s still has %d instances running in node pools", id, used)
	}
	delete(e.st.Reservations, k)
	return e.save()
}

// reservationUsed counts the slots of a reservation that pools hold.
func (e *Engine) reservationUsed(cl, id string) int {
	used := 0
	for _, p := range e.st.Pools {
		if p.Cloud == cl && p.Spec.Reservation != nil && p.Spec.Reservation.ID == id {
			used += p.Reserved
		}
	}
	return used
}

// reserveFrom takes n slots of the reservation p's spec names, or says
// why not. It is part of reserve (the lock is held). A reservation whose
// start is still to come holds its slots and makes the pool wait: its
// nodes launch at the start (createReadyAt).
func (e *Engine) reserveFrom(p *Pool, n int) *PendingIssue {
	ref := p.Spec.Reservation
	if ref == nil || ref.ID == "" {
		return nil
	}
	r, ok := e.st.Reservations[reservationKey(p.Cloud, ref.ID)]
	switch {
	case !ok:
		return &PendingIssue{Kind: cloud.KindFatal, Issue: cloud.Issue{Code: IssueReservationInvalid,
			Message: fmt.Sprintf("reservation %s does not exist", ref.ID)}}
	case r.InstanceType != p.Spec.InstanceType:
		return &PendingIssue{Kind: cloud.KindFatal, Issue: cloud.Issue{Code: IssueReservationInvalid,
			Message: fmt.Sprintf("reservation %s is for %s, not %s", ref.ID, r.InstanceType, p.Spec.InstanceType)}}
	case r.Zone != "" && p.Spec.Zone != "" && r.Zone != p.Spec.Zone:
		return &PendingIssue{Kind: cloud.KindFatal, Issue: cloud.Issue{Code: IssueReservationInvalid,
			Message: fmt.Sprintf("reservation %s is in zone %s, not %s", ref.ID, r.Zone, p.Spec.Zone)}}
	case r.Region != "" && r.Region != p.Spec.Region:
		return &PendingIssue{Kind: cloud.KindFatal, Issue: cloud.Issue{Code: IssueReservationInvalid,
			Message: fmt.Sprintf("reservation %s is in region %s, not %s", ref.ID, r.Region, p.Spec.Region)}}
	case r.State(e.clock.Now()) == "expired":
		return &PendingIssue{Kind: cloud.KindCapacity, Issue: cloud.Issue{Code: IssueReservationExpired,
			Message: fmt.Sprintf("reservation %s ended at %s", ref.ID, r.End.UTC().Format(time.RFC3339))}}
	}
	if used := e.reservationUsed(p.Cloud, ref.ID); used+n > r.Count {
		return &PendingIssue{Kind: cloud.KindCapacity, Issue: cloud.Issue{Code: IssueReservationExhausted,
			Message: fmt.Sprintf("reservation %s has %d of %d instances free, %d requested", ref.ID, max(r.Count-used, 0), r.Count, n)}}
	}
	return nil
}

// createReadyAt is when a new pool's create finishes: after the pool
// create time, and not before its reservation starts (a Capacity Block or
// calendar reservation that starts later launches nothing until then:
// AWS capacity-blocks-using.html, "instances can be launched ... once the
// Capacity Block is active"). Flex-start pools wait in the queue first
// (FlexStartQueue): DWS provisions them when capacity is found
// (cloud.google.com/kubernetes-engine/docs/concepts/dws).
func (e *Engine) createReadyAt(p *Pool, now time.Time) time.Time {
	at := now.Add(e.durations.PoolCreate)
	if p.Spec.CapacityType == "flex_start" {
		at = at.Add(FlexStartQueue)
	}
	ref := p.Spec.Reservation
	if ref == nil || ref.ID == "" {
		return at
	}
	if r, ok := e.st.Reservations[reservationKey(p.Cloud, ref.ID)]; ok && r.Start.After(now) {
		at = r.Start.Add(e.durations.PoolCreate)
	}
	return at
}

// FlexStartQueue is how long a simulated flex-start pool waits for its
// capacity before its nodes launch.
const FlexStartQueue = 3 * time.Second

// expireReservations ends the nodes of pools whose reservation has ended
// (a Capacity Block's instances are terminated at its end — AWS
// capacity-blocks-using.html — and a calendar reservation's capacity goes
// back): the pool is degraded with an issue saying so and its slots are
// freed. Called from reap, pools in key order.
func (e *Engine) expireReservations(p *Pool, now time.Time) bool {
	ref := p.Spec.Reservation
	if ref == nil || ref.ID == "" || p.Reserved == 0 || p.DeleteAt != nil {
		return false
	}
	r, ok := e.st.Reservations[reservationKey(p.Cloud, ref.ID)]
	if !ok || r.End.IsZero() || now.Before(r.End) {
		return false
	}
	p.Issues = append(p.Issues, cloud.Issue{Code: IssueReservationExpired,
		Message: fmt.Sprintf("reservation %s ended at %s; its %d instances were terminated", ref.ID, r.End.UTC().Format(time.RFC3339), p.Reserved)})
	p.Reserved, p.Failed = 0, true
	return true
}
