package gkefront

// Node pools on reservations and flex-start node pools.
//
//   - NodeConfig.reservationAffinity SPECIFIC_RESERVATION with key
//     "compute.googleapis.com/reservation-name" and one value, the
//     reservation's name (container v1 ReservationAffinity;
//     https://cloud.google.com/kubernetes-engine/docs/how-to/consuming-reservations):
//     the engine pool's spec names the reservation (cloud.Reservation, its
//     start and end from the engine's ledger, where computefront keeps
//     reservations and calendar-mode future reservations), capacity type
//     the ledger entry's kind ("reserved" or "calendar"). The engine takes
//     one slot per node (computefront answers it as
//     specificReservation.inUseCount), frees them when the pool goes, makes
//     the pool wait for a calendar reservation's start and ends its nodes
//     at the end. Another key, or not exactly one value, is 400; so is a
//     specific reservation on Spot VMs or flex-start VMs (neither can
//     consume reservations:
//     https://cloud.google.com/compute/docs/instances/reservations-consume,
//     "Limitations"). The pool's accelerators must be the reservation's
//     guestAccelerators (machine type and zone are the engine's check): a
//     mismatch fails the create at once with GCE's "No available resources
//     in specified reservations" (cloudsim's timing: GCE reports it when
//     the instances are created).
//   - ANY_RESERVATION and ANY_RESERVATION_THEN_FAIL are not modeled (400);
//     NO_RESERVATION and UNSPECIFIED consume none.
//   - NodeConfig.flexStart: capacity type "flex_start"; the engine queues
//     the pool (cloudsim.FlexStartQueue) before its nodes launch, as
//     flex-start provisions when capacity is found
//     (https://cloud.google.com/kubernetes-engine/docs/concepts/dws).
//
// The engine's reservation issues are worded as Compute Engine words them
// in the instance group's errors (GCE error code CONDITION_NOT_MET; the
// messages that cluster-autoscaler matches in kubernetes/autoscaler
// cluster-autoscaler/cloudprovider/gce/autoscaling_gce_client.go):
//
//   - exhausted (and ended, whose capacity is gone): "Specified reservation
//     '<name>' does not have available resources for the request."
//     (RESOURCE_EXHAUSTED; condition GCE_STOCKOUT)
//   - missing: "Specified reservation '<name>' does not exist."
//     (FAILED_PRECONDITION)
//   - another machine type or zone: "No available resources in specified
//     reservations '<name>'" (FAILED_PRECONDITION)

import (
	"fmt"
	"maps"
	"strconv"
	"strings"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/computefront"
)

// reservationNameKey names a reservation in a reservation affinity.
const reservationNameKey = "compute.googleapis.com/reservation-name"

// poolCapacity sets the capacity type and reservation of a new pool's
// engine spec from its node config, or refuses the config.
func (s *server) poolCapacity(cfg *containerpb.NodeConfig, version string, spec *cloud.NodePoolSpec) error {
	ra := cfg.GetReservationAffinity()
	flex := cfg.GetFlexStart()
	if flex && !versionAtLeast(version, flexStartMinVersion) {
		return invalid("Invalid value for field 'config.flexStart': flex-start node pools need GKE version %s or later, the node pool's version is %s.", flexStartMinVersion, version)
	}
	switch t := ra.GetConsumeReservationType(); t {
	case containerpb.ReservationAffinity_UNSPECIFIED, containerpb.ReservationAffinity_NO_RESERVATION:
		if flex {
			spec.CapacityType = "flex_start"
		}
		return nil
	case containerpb.ReservationAffinity_SPECIFIC_RESERVATION:
	default:
		return invalid("Invalid value for field 'config.reservationAffinity.consumeReservationType': %s is not modeled by cloudsim (SPECIFIC_RESERVATION or NO_RESERVATION).", t)
	}
	if ra.GetKey() != reservationNameKey || len(ra.GetValues()) != 1 || ra.GetValues()[0] == "" {
		return invalid("Invalid value for field 'config.reservationAffinity': a SPECIFIC_RESERVATION affinity needs key %q and one value, the reservation's name.", reservationNameKey)
	}
	if flex || cfg.GetSpot() || cfg.GetPreemptible() {
		return invalid("Invalid value for field 'config.reservationAffinity': Spot, preemptible and flex-start VMs cannot consume reservations; use NO_RESERVATION.")
	}
	name := ra.GetValues()[0]
	name = name[strings.LastIndex(name, "/")+1:]
	spec.CapacityType = "reserved"
	spec.Reservation = &cloud.Reservation{ID: name}
	r, err := s.e.GetReservation(cloudName, name)
	if err != nil {
		// The engine fails the pool: no such reservation.
		return nil
	}
	spec.CapacityType = r.Kind
	spec.Reservation.Start, spec.Reservation.End = r.Start, r.End
	want := computefront.ReservedAccelerators(r)
	have := map[string]int{}
	for _, a := range cfg.GetAccelerators() {
		if a.GetAcceleratorCount() > 0 {
			have[a.GetAcceleratorType()] += int(a.GetAcceleratorCount())
		}
	}
	if (len(want) > 0 || strings.HasPrefix(r.InstanceType, "n1-")) && !maps.Equal(want, have) {
		return status.Errorf(codes.FailedPrecondition, "No available resources in specified reservations '%s': the reservation's instances have accelerators %v, the node pool asks for %v.", name, want, have)
	}
	return nil
}

// flexStartMinVersion is the oldest GKE version with flex-start: "To use
// flex-start in GKE, your cluster must use version 1.32.2-gke.1652000 or
// later" (https://cloud.google.com/kubernetes-engine/docs/concepts/dws,
// "Requirements").
const flexStartMinVersion = "1.32.2-gke.1652000"

// versionAtLeast compares GKE versions by their numbers
// ("1.32.2-gke.1652000" is 1, 32, 2, 1652000). A version that stops
// early ("1.33", "1.32") is a release channel alias for its newest patch,
// so it satisfies every minimum it agrees with as far as it goes.
func versionAtLeast(v, min string) bool {
	num := func(s string) []int {
		var out []int
		for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r < '0' || r > '9' }) {
			n, err := strconv.Atoi(f)
			if err != nil {
				break
			}
			out = append(out, n)
		}
		return out
	}
	a, b := num(v), num(min)
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return a[i] > b[i]
		}
	}
	return true
}

// reservationFailure words a pool's last issue when it is one of the
// engine's reservation issues (ok false otherwise).
func reservationFailure(p cloudsim.Pool, prefix, inst string) (codes.Code, string, *containerpb.StatusCondition, bool) {
	if len(p.Issues) == 0 || p.Spec.Reservation == nil {
		return 0, "", nil, false
	}
	is := p.Issues[len(p.Issues)-1]
	name := p.Spec.Reservation.ID
	cond := &containerpb.StatusCondition{Code: containerpb.StatusCondition_UNKNOWN, CanonicalCode: code.Code_FAILED_PRECONDITION}
	var c codes.Code
	var why string
	switch is.Code {
	case cloudsim.IssueReservationExhausted, cloudsim.IssueReservationExpired:
		c, why = codes.ResourceExhausted, fmt.Sprintf("Specified reservation '%s' does not have available resources for the request.", name)
		cond.Code, cond.CanonicalCode = containerpb.StatusCondition_GCE_STOCKOUT, code.Code_RESOURCE_EXHAUSTED
	case cloudsim.IssueReservationInvalid:
		c = codes.FailedPrecondition
		if strings.Contains(is.Message, "does not exist") {
			why = fmt.Sprintf("Specified reservation '%s' does not exist.", name)
		} else {
			why = fmt.Sprintf("No available resources in specified reservations '%s'", name)
		}
	default:
		return 0, "", nil, false
	}
	msg := fmt.Sprintf("%s[CONDITION_NOT_MET]: Instance '%s' creation failed: %s (%s)", prefix, inst, why, is.Message)
	cond.Message = msg
	return c, msg, cond, true
}

// endFlexStart ends the nodes of a cluster's flex-start pools whose
// maximum run duration (NodeConfig.maxRunDuration, "The maximum duration
// for the nodes to exist", container v1) has passed since they launched:
// flex-start nodes run at most that long, seven days at most
// (https://cloud.google.com/kubernetes-engine/docs/concepts/dws). The
// engine pool is
// resized to 0, so its machines, Kubernetes nodes and quota go; the pool
// stays (cloudsim then reports initialNodeCount 0, where GKE keeps the
// count it was created with and reports no instances). Called before a
// cluster's pools are read.
func (s *server) endFlexStart(region, cluster string) error {
	now := s.e.Now()
	for _, p := range s.e.ClusterPools(cloudName, region, cluster) {
		if p.Cloud != cloudName || p.Spec.CapacityType != "flex_start" || p.DeleteAt != nil || p.Spec.Nodes == 0 || p.Updating || p.Pending != nil {
			continue
		}
		_, np, err := s.poolMetaFor(region, cluster, p.Spec.Name)
		if err != nil {
			return err
		}
		d := np.GetConfig().GetMaxRunDuration()
		if d == nil || d.AsDuration() <= 0 || now.Before(p.ReadyAt.Add(d.AsDuration())) {
			continue
		}
		zero := 0
		if _, err := s.e.UpdateNodePool(cloudName, region, cluster, p.Spec.Name, cloud.NodePoolUpdate{Nodes: &zero}); err != nil {
			return err
		}
	}
	return nil
}
