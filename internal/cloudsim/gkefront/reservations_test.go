package gkefront

import (
	"strings"
	"testing"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

func TestVersionAtLeast(t *testing.T) {
	for _, tt := range []struct {
		v    string
		want bool
	}{
		{"1.32.2-gke.1652000", true}, {"1.32.2-gke.1651999", false}, {"1.32.3-gke.1", true}, {"1.32.1-gke.9999999", false},
		{"1.33", true}, {"1.32", true}, {"1.31", false}, {"1.31.9-gke.1", false}, {"2.0", true},
	} {
		if got := versionAtLeast(tt.v, flexStartMinVersion); got != tt.want {
			t.Errorf("versionAtLeast(%q) = %v, want %v", tt.v, got, tt.want)
		}
	}
}

// TestPoolCapacityRefused: node configs GKE refuses for reservations and
// flex-start are 400 (accelerators other than the reservation's: 9), and
// nothing is created.
func TestPoolCapacityRefused(t *testing.T) {
	ev := newEnv(t, "", nil)
	ev.activeCluster(t, "c1")
	const zone = "europe-west4-a"
	if _, err := ev.e.PutReservation(cloudsim.Reservation{Cloud: "gcp", ID: "res-a", Region: "europe-west4", Zone: zone, InstanceType: h100Type, Kind: "reserved", Count: 4,
		Attrs: map[string]string{"json": `{"specificReservation":{"instanceProperties":{"machineType":"` + h100Type + `","guestAccelerators":[{"acceleratorType":"nvidia-h100-80gb","acceleratorCount":4}]}}}`}}); err != nil {
		t.Fatal(err)
	}
	specific := func(key string, values ...string) *containerpb.ReservationAffinity {
		return &containerpb.ReservationAffinity{ConsumeReservationType: containerpb.ReservationAffinity_SPECIFIC_RESERVATION, Key: key, Values: values}
	}
	for _, tt := range []struct {
		name  string
		edit  func(np *containerpb.NodePool)
		code  codes.Code
		field string
	}{
		{"flex-start on an old version", func(np *containerpb.NodePool) { np.Version, np.Config.FlexStart = "1.31.5-gke.100", proto.Bool(true) }, codes.InvalidArgument, "flexStart"},
		{"flex-start on a reservation", func(np *containerpb.NodePool) {
			np.Config.FlexStart, np.Config.ReservationAffinity = proto.Bool(true), specific(reservationNameKey, "res-a")
		}, codes.InvalidArgument, "reservationAffinity"},
		{"spot on a reservation", func(np *containerpb.NodePool) {
			np.Config.Spot, np.Config.ReservationAffinity = true, specific(reservationNameKey, "res-a")
		}, codes.InvalidArgument, "reservationAffinity"},
		{"other key", func(np *containerpb.NodePool) { np.Config.ReservationAffinity = specific("name", "res-a") }, codes.InvalidArgument, "reservationAffinity"},
		{"two values", func(np *containerpb.NodePool) {
			np.Config.ReservationAffinity = specific(reservationNameKey, "res-a", "res-b")
		}, codes.InvalidArgument, "reservationAffinity"},
		{"any reservation", func(np *containerpb.NodePool) {
			np.Config.ReservationAffinity = &containerpb.ReservationAffinity{ConsumeReservationType: containerpb.ReservationAffinity_ANY_RESERVATION}
		}, codes.InvalidArgument, "consumeReservationType"},
		{"other accelerators", func(np *containerpb.NodePool) { np.Config.ReservationAffinity = specific(reservationNameKey, "res-a") }, codes.FailedPrecondition, "No available resources in specified reservations 'res-a'"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := poolRequest("c1", "p1", zone, 1)
			tt.edit(req.NodePool)
			_, err := ev.c.CreateNodePool(tctx(t), req)
			st := wantCode(t, err, tt.code)
			if !strings.Contains(st.Message(), tt.field) {
				t.Fatalf("message %q does not name %q", st.Message(), tt.field)
			}
			if _, ok := ev.e.LookupPool("gcp", "europe-west4", "c1", "p1"); ok {
				t.Fatal("a refused pool exists")
			}
		})
	}
}
