package gcp

import (
	"context"
	"strings"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
)

// Node pools on reserved and schedulable capacity.
//
//   - "reserved" and "calendar": the pool consumes the named Compute
//     Engine reservation, reservationAffinity {consumeReservationType:
//     SPECIFIC_RESERVATION, key: "compute.googleapis.com/reservation-name",
//     values: [name]}
//     (https://cloud.google.com/kubernetes-engine/docs/how-to/consuming-reservations,
//     "Consuming a specific reservation"; container v1 ReservationAffinity.key).
//     A calendar-mode future reservation delivers a reservation that is
//     consumed the same way, --reservation-affinity=specific
//     --reservation=RESERVATION
//     (https://cloud.google.com/kubernetes-engine/docs/how-to/tpu-calendar-mode,
//     "Create a node pool"). Reservations are zonal: the pool needs a zone
//     and the reservation must be in it (checkReservation).
//   - "flex_start": a flex-start node pool, NodeConfig.flex_start (container
//     v1 NodeConfig.flexStart "Flex Start flag for enabling Flex Start
//     VM"), with what the flex-start VMs page asks of the pool:
//     autoscaling with a total minimum of 0, location policy ANY,
//     reservation affinity NO_RESERVATION (flex-start VMs cannot consume
//     reservations: https://cloud.google.com/compute/docs/instances/reservations-consume,
//     "Limitations") and auto-repair off
//     (https://cloud.google.com/kubernetes-engine/docs/how-to/dws-flex-start-training,
//     gcloud container node-pools create --flex-start --enable-autoscaling
//     --total-min-nodes 0 --location-policy=ANY --reservation-affinity=none
//     --no-enable-autorepair). gpufleet asks for its nodes up front
//     (initial_node_count), the autoscaler's maximum is that count.
//
// Where spec.Reservation.End is set, nodes run at most until then:
// NodeConfig.max_run_duration ("The maximum duration for the nodes to
// exist"), counted from when they start (the reservation's start when it
// is later).

// reservationKey is the reservation affinity key that names a
// reservation (container v1 ReservationAffinity.key).
const reservationKey = "compute.googleapis.com/reservation-name"

// labelCapacity is the resource label that tells a calendar pool from a
// reserved one: both consume a specific reservation, which GKE reports
// alike.
const labelCapacity = "gpufleet-capacity"

// reservationKinds are the capacity types whose pools consume a named
// reservation.
var reservationKinds = map[string]bool{"reserved": true, "calendar": true}

// withCapacity sets the capacity of a new pool: spot, a specific
// reservation or flex-start, with the maximum run duration. now is when
// the create is sent. A spec without what its kind needs is KindInvalid.
func withCapacity(spec cloud.NodePoolSpec, pool *containerpb.NodePool, now time.Time) error {
	const op = "CreateNodePool"
	cfg := pool.Config
	switch ct := spec.CapacityType; {
	case ct == "" || ct == "on_demand":
	case ct == "spot":
		cfg.Spot = true
	case reservationKinds[ct]:
		if spec.Reservation == nil || spec.Reservation.ID == "" {
			return cloud.Invalid("gcp", op, "INVALID_ARGUMENT", "capacity_type %q needs a reservation (the reservation's name): none was given for node pool %s", ct, spec.Name).ForOffer(spec)
		}
		if spec.Zone == "" {
			return cloud.Invalid("gcp", op, "INVALID_ARGUMENT", "node pool %s consumes reservation %s, so it needs a zone: Compute Engine reservations are zonal", spec.Name, spec.Reservation.ID).ForOffer(spec)
		}
		cfg.ReservationAffinity = &containerpb.ReservationAffinity{ConsumeReservationType: containerpb.ReservationAffinity_SPECIFIC_RESERVATION,
			Key: reservationKey, Values: []string{spec.Reservation.ID}}
		cfg.ResourceLabels[labelCapacity] = ct
	case ct == "flex_start":
		flex := true
		cfg.FlexStart = &flex
		cfg.ReservationAffinity = &containerpb.ReservationAffinity{ConsumeReservationType: containerpb.ReservationAffinity_NO_RESERVATION}
		pool.Autoscaling = &containerpb.NodePoolAutoscaling{Enabled: true, TotalMinNodeCount: 0, TotalMaxNodeCount: int32(max(spec.Nodes, 1)),
			LocationPolicy: containerpb.NodePoolAutoscaling_ANY}
		pool.Management = &containerpb.NodeManagement{AutoRepair: false, AutoUpgrade: true}
	default:
		return cloud.Invalid("gcp", op, "INVALID_ARGUMENT", "capacity_type %q is not one GKE offers; accepted: on_demand, spot, reserved, calendar, flex_start", ct).ForOffer(spec)
	}
	if r := spec.Reservation; r != nil && !r.End.IsZero() {
		from := now
		if r.Start.After(from) {
			from = r.Start
		}
		d := r.End.Sub(from).Round(time.Second)
		if d <= 0 {
			return cloud.NewError(cloud.KindCapacity, "gcp", op, "RESERVATION_EXPIRED", "node pool %s would run on %s capacity that ends at %s, which has passed",
				spec.Name, spec.CapacityType, r.End.UTC().Format(time.RFC3339)).ForOffer(spec)
		}
		cfg.MaxRunDuration = durationpb.New(d)
	}
	return nil
}

// capacityOf reads a pool's capacity type and reservation back.
func capacityOf(cfg *containerpb.NodeConfig) (string, *cloud.Reservation) {
	switch {
	case cfg.GetFlexStart():
		return "flex_start", nil
	case cfg.GetSpot() || cfg.GetPreemptible():
		return "spot", nil
	}
	if ra := cfg.GetReservationAffinity(); ra.GetConsumeReservationType() == containerpb.ReservationAffinity_SPECIFIC_RESERVATION &&
		ra.GetKey() == reservationKey && len(ra.GetValues()) > 0 {
		ct := "reserved"
		if cfg.GetResourceLabels()[labelCapacity] == "calendar" {
			ct = "calendar"
		}
		return ct, &cloud.Reservation{ID: lastSegment(ra.GetValues()[0])}
	}
	return "on_demand", nil
}

// checkReservation makes sure the reservation a reserved or calendar pool
// names is in the pool's zone, and returns the spec with the
// reservation's start and end filled in from Compute Engine where the
// spec has none (so that the create waits for a calendar reservation's
// start: cloud.NodePoolSpec.CreateTimeout). A reservation is found by
// reservations.get in the zone; a calendar-mode one that is not delivered
// yet is a future reservation of the zone whose reservationName is it
// (futureReservations.list; Compute Engine creates the reservation at
// timeWindow.startTime:
// https://cloud.google.com/compute/docs/instances/future-reservations-calendar-mode-overview).
// Neither: KindInvalid, naming the reservation and the zone.
func (b *Backend) checkReservation(ctx context.Context, spec cloud.NodePoolSpec) (cloud.NodePoolSpec, error) {
	const op = "CreateNodePool"
	if !reservationKinds[spec.CapacityType] || spec.Reservation == nil || spec.Reservation.ID == "" || spec.Zone == "" {
		return spec, nil
	}
	c, err := b.compute(ctx)
	if err != nil {
		return spec, err
	}
	id := spec.Reservation.ID
	res, err := read(ctx, c.svc.Reservations.Get(b.cfg.Project, spec.Zone, id).Context(ctx).Do)
	if err == nil {
		out := spec
		r := *spec.Reservation
		if r.End.IsZero() && res.DeleteAtTime != "" {
			if t, perr := time.Parse(time.RFC3339, res.DeleteAtTime); perr == nil {
				r.End = t
			}
		}
		out.Reservation = &r
		return out, nil
	}
	if cerr := classifyCompute("GetReservation", err); !cloud.IsNotFound(cerr) {
		return spec, cerr
	}
	frs, err := read(ctx, c.svc.FutureReservations.List(b.cfg.Project, spec.Zone).Context(ctx).Do)
	if err != nil {
		return spec, classifyCompute("ListFutureReservations", err)
	}
	for _, fr := range frs.Items {
		if fr.ReservationName != id && fr.Name != id {
			continue
		}
		out := spec
		r := *spec.Reservation
		if tw := fr.TimeWindow; tw != nil {
			if t, perr := time.Parse(time.RFC3339, tw.StartTime); perr == nil && r.Start.IsZero() {
				r.Start = t
			}
			if t, perr := time.Parse(time.RFC3339, tw.EndTime); perr == nil && r.End.IsZero() {
				r.End = t
			}
		}
		out.Reservation = &r
		return out, nil
	}
	return spec, cloud.Invalid("gcp", op, "RESERVATION_NOT_FOUND",
		"reservation %s was not found in zone %s of project %s: a GKE node pool consumes only a reservation in its own zone (check the reservation's name and zone with gcloud compute reservations list)",
		id, spec.Zone, b.cfg.Project).ForOffer(spec)
}

// Reservation errors as Compute Engine words them, in a node pool's
// status message or its create operation's error (GCE error code
// CONDITION_NOT_MET; the messages cluster-autoscaler matches in
// kubernetes/autoscaler cluster-autoscaler/cloudprovider/gce/autoscaling_gce_client.go,
// with its error codes).
var reservationErrors = []struct {
	text string
	kind cloud.Kind
	code string
}{
	{"does not have available resources for the request", cloud.KindCapacity, "RESERVATION_CAPACITY_EXCEEDED"},
	{"no available resources in specified reservations", cloud.KindInvalid, "RESERVATION_INCOMPATIBLE"},
	{"it requires reservation to be in ready state", cloud.KindCapacity, "RESERVATION_NOT_READY"},
}

// classifyReservation classifies a reservation error message, if it is
// one (ok false otherwise).
func classifyReservation(op, msg string) (*cloud.Error, bool) {
	lower := strings.ToLower(msg)
	for _, r := range reservationErrors {
		if strings.Contains(lower, r.text) {
			return cloud.NewError(r.kind, "gcp", op, r.code, "%s", msg), true
		}
	}
	if strings.Contains(lower, "specified reservation") && (strings.Contains(lower, "do not exist") || strings.Contains(lower, "does not exist")) {
		return cloud.NewError(cloud.KindInvalid, "gcp", op, "RESERVATION_NOT_FOUND", "%s", msg), true
	}
	return nil, false
}
