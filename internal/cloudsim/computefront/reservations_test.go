package computefront

import (
	"context"
	"testing"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/protobuf/proto"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

const resZone = region + "-a"

func reservationClients(t *testing.T, w *world) (*compute.ReservationsClient, *compute.FutureReservationsClient) {
	t.Helper()
	ctx := context.Background()
	opts := []option.ClientOption{option.WithEndpoint(w.url), option.WithoutAuthentication()}
	rc, err := compute.NewReservationsRESTClient(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	fc, err := compute.NewFutureReservationsRESTClient(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return rc, fc
}

// all reads an iterator to its end.
func all[T any](t *testing.T, next func() (T, error)) []T {
	t.Helper()
	var out []T
	for {
		v, err := next()
		if err == iterator.Done {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
}

func h100Props() *computepb.AllocationSpecificSKUAllocationReservedInstanceProperties {
	return &computepb.AllocationSpecificSKUAllocationReservedInstanceProperties{MachineType: proto.String("a3-highgpu-8g"),
		GuestAccelerators: []*computepb.AcceleratorConfig{{AcceleratorType: proto.String("nvidia-h100-80gb"), AcceleratorCount: proto.Int32(8)}}}
}

// TestReservationsOnTheLedger: reservations.insert puts a reservation in
// the engine's ledger, get and aggregatedList answer it with inUseCount
// from the ledger, a second insert of the name is 409, invalid bodies are
// 400, delete removes it.
func TestReservationsOnTheLedger(t *testing.T) {
	w := newWorld(t)
	rc, _ := reservationClients(t, w)
	ctx := context.Background()
	op, err := rc.Insert(ctx, &computepb.InsertReservationRequest{Project: project, Zone: resZone, ReservationResource: &computepb.Reservation{
		Name: proto.String("res-a"), SpecificReservationRequired: proto.Bool(true),
		SpecificReservation: &computepb.AllocationSpecificSKUReservation{Count: proto.Int64(2), InstanceProperties: h100Props()}}})
	w.done(t, op, err)
	led, err := w.e.GetReservation("gcp", "res-a")
	if err != nil {
		t.Fatal(err)
	}
	if led.Zone != resZone || led.Region != region || led.InstanceType != "a3-highgpu-8g" || led.Count != 2 || led.Kind != "reserved" {
		t.Fatalf("ledger entry %+v", led)
	}
	got, err := rc.Get(ctx, &computepb.GetReservationRequest{Project: project, Zone: resZone, Reservation: "res-a"})
	if err != nil {
		t.Fatal(err)
	}
	sr := got.GetSpecificReservation()
	if sr.GetCount() != 2 || sr.GetInUseCount() != 0 || got.GetStatus() != "READY" || !got.GetSpecificReservationRequired() ||
		sr.GetInstanceProperties().GetGuestAccelerators()[0].GetAcceleratorCount() != 8 || got.GetZone() != APIRoot+"projects/"+project+"/zones/"+resZone {
		t.Fatalf("get answered %v", got)
	}
	if _, err := rc.Get(ctx, &computepb.GetReservationRequest{Project: project, Zone: region + "-b", Reservation: "res-a"}); err == nil {
		t.Fatal("a reservation is found in another zone")
	} else {
		apiErr(t, err, 404, "notFound")
	}
	cases := []struct {
		name string
		res  *computepb.Reservation
		code int
		why  string
	}{
		{"taken name", &computepb.Reservation{Name: proto.String("res-a"),
			SpecificReservation: &computepb.AllocationSpecificSKUReservation{Count: proto.Int64(1), InstanceProperties: h100Props()}}, 409, "alreadyExists"},
		{"no count", &computepb.Reservation{Name: proto.String("res-b"),
			SpecificReservation: &computepb.AllocationSpecificSKUReservation{InstanceProperties: h100Props()}}, 400, "invalid"},
		{"no machine type", &computepb.Reservation{Name: proto.String("res-c"),
			SpecificReservation: &computepb.AllocationSpecificSKUReservation{Count: proto.Int64(1),
				InstanceProperties: &computepb.AllocationSpecificSKUAllocationReservedInstanceProperties{}}}, 400, "invalid"},
		{"bad name", &computepb.Reservation{Name: proto.String("Res_D"),
			SpecificReservation: &computepb.AllocationSpecificSKUReservation{Count: proto.Int64(1), InstanceProperties: h100Props()}}, 400, "invalid"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := rc.Insert(ctx, &computepb.InsertReservationRequest{Project: project, Zone: resZone, ReservationResource: c.res})
			apiErr(t, err, c.code, c.why)
		})
	}
	var names []string
	for _, pair := range all(t, rc.AggregatedList(ctx, &computepb.AggregatedListReservationsRequest{Project: project}).Next) {
		for _, r := range pair.Value.GetReservations() {
			names = append(names, pair.Key+"/"+r.GetName())
		}
	}
	if len(names) != 1 || names[0] != "zones/"+resZone+"/res-a" {
		t.Fatalf("aggregatedList: %v", names)
	}
	for _, tt := range []struct {
		zone, filter string
		want         int
	}{{resZone, "", 1}, {resZone, `name = "res-a"`, 1}, {resZone, `name = "res-b"`, 0}, {region + "-b", "", 0}} {
		n := len(all(t, rc.List(ctx, &computepb.ListReservationsRequest{Project: project, Zone: tt.zone, Filter: proto.String(tt.filter)}).Next))
		if n != tt.want {
			t.Fatalf("list %s %q: %d reservations, want %d", tt.zone, tt.filter, n, tt.want)
		}
	}
	op, err = rc.Delete(ctx, &computepb.DeleteReservationRequest{Project: project, Zone: resZone, Reservation: "res-a"})
	w.done(t, op, err)
	if _, err := w.e.GetReservation("gcp", "res-a"); err == nil {
		t.Fatal("the ledger still has the deleted reservation")
	}
}

// TestCalendarFutureReservation: a calendar-mode future reservation is in
// the ledger at once (kind calendar, its time window), APPROVED; its
// reservation does not exist before the start and is delivered then
// (FULFILLED, deleteAtTime = the end), and is gone at the end.
func TestCalendarFutureReservation(t *testing.T) {
	w := newWorld(t)
	rc, fc := reservationClients(t, w)
	ctx := context.Background()
	start := w.clock.Now().Add(2 * time.Hour).UTC()
	end := start.Add(24 * time.Hour)
	op, err := fc.Insert(ctx, &computepb.InsertFutureReservationRequest{Project: project, Zone: resZone, FutureReservationResource: &computepb.FutureReservation{
		Name: proto.String("fr-a"), ReservationName: proto.String("cal-a"), ReservationMode: proto.String("CALENDAR"),
		SpecificSkuProperties: &computepb.FutureReservationSpecificSKUProperties{TotalCount: proto.Int64(4), InstanceProperties: h100Props()},
		TimeWindow:            &computepb.FutureReservationTimeWindow{StartTime: proto.String(start.Format(time.RFC3339)), EndTime: proto.String(end.Format(time.RFC3339))}}})
	w.done(t, op, err)
	led, err := w.e.GetReservation("gcp", "cal-a")
	if err != nil {
		t.Fatal(err)
	}
	if led.Kind != "calendar" || !led.Start.Equal(start) || !led.End.Equal(end) || led.Count != 4 {
		t.Fatalf("ledger entry %+v", led)
	}
	fr, err := fc.Get(ctx, &computepb.GetFutureReservationRequest{Project: project, Zone: resZone, FutureReservation: "fr-a"})
	if err != nil {
		t.Fatal(err)
	}
	if fr.GetStatus().GetProcurementStatus() != "APPROVED" || fr.GetReservationName() != "cal-a" || fr.GetTimeWindow().GetStartTime() != start.Format(time.RFC3339) {
		t.Fatalf("future reservation %v", fr)
	}
	var frs []string
	for _, pair := range all(t, fc.AggregatedList(ctx, &computepb.AggregatedListFutureReservationsRequest{Project: project}).Next) {
		for _, f := range pair.Value.GetFutureReservations() {
			frs = append(frs, pair.Key+"/"+f.GetName())
		}
	}
	if len(frs) != 1 || frs[0] != "zones/"+resZone+"/fr-a" {
		t.Fatalf("futureReservations.aggregatedList: %v", frs)
	}
	lit := fc.List(ctx, &computepb.ListFutureReservationsRequest{Project: project, Zone: resZone})
	if f, err := lit.Next(); err != nil || f.GetName() != "fr-a" {
		t.Fatalf("futureReservations.list: %v %v", f, err)
	}
	_, err = rc.Get(ctx, &computepb.GetReservationRequest{Project: project, Zone: resZone, Reservation: "cal-a"})
	apiErr(t, err, 404, "notFound")

	w.clock.Advance(2*time.Hour + time.Minute)
	got, err := rc.Get(ctx, &computepb.GetReservationRequest{Project: project, Zone: resZone, Reservation: "cal-a"})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetDeleteAtTime() != end.Format(time.RFC3339) || got.GetSpecificReservation().GetCount() != 4 {
		t.Fatalf("delivered reservation %v", got)
	}
	fr, err = fc.Get(ctx, &computepb.GetFutureReservationRequest{Project: project, Zone: resZone, FutureReservation: "fr-a"})
	if err != nil {
		t.Fatal(err)
	}
	if fr.GetStatus().GetProcurementStatus() != "FULFILLED" || len(fr.GetStatus().GetAutoCreatedReservations()) != 1 {
		t.Fatalf("future reservation after the start %v", fr)
	}
	w.clock.Advance(24 * time.Hour)
	_, err = rc.Get(ctx, &computepb.GetReservationRequest{Project: project, Zone: resZone, Reservation: "cal-a"})
	apiErr(t, err, 404, "notFound")

	cases := []struct {
		name string
		fr   *computepb.FutureReservation
	}{
		{"default mode", &computepb.FutureReservation{Name: proto.String("fr-b"), ReservationMode: proto.String("DEFAULT"),
			SpecificSkuProperties: &computepb.FutureReservationSpecificSKUProperties{TotalCount: proto.Int64(1), InstanceProperties: h100Props()},
			TimeWindow:            &computepb.FutureReservationTimeWindow{StartTime: proto.String(w.clock.Now().Add(time.Hour).UTC().Format(time.RFC3339)), EndTime: proto.String(w.clock.Now().Add(3 * time.Hour).UTC().Format(time.RFC3339))}}},
		{"start passed", &computepb.FutureReservation{Name: proto.String("fr-c"), ReservationMode: proto.String("CALENDAR"),
			SpecificSkuProperties: &computepb.FutureReservationSpecificSKUProperties{TotalCount: proto.Int64(1), InstanceProperties: h100Props()},
			TimeWindow:            &computepb.FutureReservationTimeWindow{StartTime: proto.String(w.clock.Now().Add(-time.Hour).UTC().Format(time.RFC3339)), EndTime: proto.String(w.clock.Now().Add(3 * time.Hour).UTC().Format(time.RFC3339))}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := fc.Insert(ctx, &computepb.InsertFutureReservationRequest{Project: project, Zone: resZone, FutureReservationResource: c.fr})
			apiErr(t, err, 400, "invalid")
		})
	}
	op, err = fc.Delete(ctx, &computepb.DeleteFutureReservationRequest{Project: project, Zone: resZone, FutureReservation: "fr-a"})
	w.done(t, op, err)
	if rs, _ := w.e.Reservations("gcp"); len(rs) != 0 {
		t.Fatalf("ledger after delete: %+v", rs)
	}
}

// TestLedgerOnlyReservations: reservations put in the ledger without this
// front end are served from the ledger: a reserved one as a reservation, a
// calendar one as a future reservation and, from its start, a
// reservation.
func TestLedgerOnlyReservations(t *testing.T) {
	w := newWorld(t)
	rc, fc := reservationClients(t, w)
	ctx := context.Background()
	start := w.clock.Now().Add(time.Hour)
	for _, r := range []cloudsim.Reservation{
		{Cloud: "gcp", ID: "led-res", Region: region, Zone: resZone, InstanceType: "a3-highgpu-8g", Kind: "reserved", Count: 2},
		{Cloud: "gcp", ID: "led-cal", Region: region, Zone: resZone, InstanceType: "a3-highgpu-8g", Kind: "calendar", Count: 3, Start: start, End: start.Add(time.Hour)},
	} {
		if _, err := w.e.PutReservation(r); err != nil {
			t.Fatal(err)
		}
	}
	got, err := rc.Get(ctx, &computepb.GetReservationRequest{Project: project, Zone: resZone, Reservation: "led-res"})
	if err != nil || got.GetSpecificReservation().GetCount() != 2 || got.GetSpecificReservation().GetInstanceProperties().GetMachineType() != "a3-highgpu-8g" {
		t.Fatalf("ledger reservation: %v %v", got, err)
	}
	fr, err := fc.Get(ctx, &computepb.GetFutureReservationRequest{Project: project, Zone: resZone, FutureReservation: "led-cal"})
	if err != nil || fr.GetReservationName() != "led-cal" || fr.GetSpecificSkuProperties().GetTotalCount() != 3 || fr.GetReservationMode() != "CALENDAR" {
		t.Fatalf("ledger calendar reservation: %v %v", fr, err)
	}
	_, err = rc.Get(ctx, &computepb.GetReservationRequest{Project: project, Zone: resZone, Reservation: "led-cal"})
	apiErr(t, err, 404, "notFound")
	w.clock.Advance(time.Hour)
	if _, err := rc.Get(ctx, &computepb.GetReservationRequest{Project: project, Zone: resZone, Reservation: "led-cal"}); err != nil {
		t.Fatal(err)
	}
}
