package computefront

// Reservations and calendar-mode future reservations, on the engine's one
// reservation ledger (cloudsim.Reservation, cloud "gcp"): this front end
// keeps no counts of its own. Paths (compute v1 discovery document,
// resources reservations and futureReservations):
//
//	zones/{z}/reservations[/{r}]             GET (list, get) POST (insert) DELETE
//	aggregated/reservations                  GET (aggregatedList)
//	zones/{z}/futureReservations[/{f}]       GET (list, get) POST (insert) DELETE
//	aggregated/futureReservations            GET (aggregatedList)
//
// Mapping:
//
//   - A reservation (reservations.insert) is a ledger entry of kind
//     "reserved": ID = name, Zone = the URL's zone, Region = its region,
//     InstanceType = specificReservation.instanceProperties.machineType,
//     Count = specificReservation.count, End = deleteAtTime ("Absolute
//     time in future when the reservation will be auto-deleted by Compute
//     Engine"); the request (guestAccelerators, specificReservationRequired,
//     description) is kept as protojson in Attrs["json"]. It is answered
//     with specificReservation.inUseCount = the slots node pools hold
//     (Reservation.Used), status READY. Only specificReservation
//     reservations are served (aggregateReservation and
//     sourceInstanceTemplate are 400: cloudsim does not model them).
//   - A calendar-mode future reservation (futureReservations.insert with
//     reservationMode CALENDAR: "The delivered reservations will delivered
//     at specified start time and terminated at specified end time along
//     with terminating the VMs running on it") is a ledger entry of kind
//     "calendar": ID = reservationName (the reservation Compute Engine
//     creates at delivery; the future reservation's name when absent),
//     Start/End = timeWindow.startTime and endTime (or startTime +
//     duration), Count = specificSkuProperties.totalCount, InstanceType =
//     its instanceProperties.machineType; Attrs["futureReservation"] is the
//     future reservation's name. Google approves requests; cloudsim
//     approves them at once: status.procurementStatus is APPROVED before
//     the start, FULFILLED from it (with status.autoCreatedReservations),
//     planningStatus SUBMITTED. Other reservation modes are 400 (not
//     modeled).
//   - The delivered reservation of a calendar-mode request exists from its
//     start until its end: reservations.get/list/aggregatedList show a
//     calendar entry only while it is active (State "active"), with
//     deleteAtTime = its end; before the start it is 404, as the
//     reservation does not exist yet. The engine makes a node pool that
//     names it wait for the start, and ends its nodes at the end.
//   - A ledger entry put by other means (Engine.PutReservation from a test
//     or another front end's caller) is served too, from the ledger alone:
//     instanceProperties.machineType = InstanceType, no accelerators; a
//     calendar one as a future reservation named after its reservation.
//   - Names are unique across zones in the ledger (a pool names a
//     reservation by name only): inserting a name used in another zone is
//     409 alreadyExists (cloudsim's simplification).
//   - delete removes the ledger entry; one that node pools still consume
//     is 400 resourceInUseByAnotherResource (the engine refuses to cancel
//     capacity under running nodes). A future reservation is deleted with
//     its reservation.
//
// insert and delete answer a zonal operation (DONE after
// Options.OperationTime). Engine operations: PutReservation,
// GetReservation, ListReservations, DeleteReservation.

import (
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// Ledger attributes of GCP reservations.
const (
	attrProject = "project"
	attrJSON    = "json"
	attrFR      = "futureReservation"
)

// serveReservations answers the reservation and future reservation calls
// (false: q is another collection).
func (s *server) serveReservations(w http.ResponseWriter, q *request) bool {
	if q.coll != "reservations" && q.coll != "futureReservations" {
		return false
	}
	future := q.coll == "futureReservations"
	m := q.r.Method
	var (
		out any
		err error
	)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case q.aggregated && m == http.MethodGet:
		out, err = s.reservationsAggregated(q, future)
	case q.zone == "" || q.verb != "":
		err = &apiError{Code: http.StatusNotFound, Reason: "notFound", Message: "The requested URL " + q.r.URL.Path + " was not found on this server."}
	case q.name == "" && m == http.MethodGet:
		out, err = s.reservationsList(q, future)
	case q.name == "" && m == http.MethodPost && future:
		out, err = s.futureReservationInsert(q)
	case q.name == "" && m == http.MethodPost:
		out, err = s.reservationInsert(q)
	case q.name != "" && m == http.MethodGet:
		out, err = s.reservationGet(q, future)
	case q.name != "" && m == http.MethodDelete:
		out, err = s.reservationDelete(q, future)
	default:
		err = &apiError{Code: http.StatusMethodNotAllowed, Reason: "methodNotAllowed", Message: m + " " + q.r.URL.Path + " is not supported by cloudsim"}
	}
	if err != nil {
		writeError(w, err)
		return true
	}
	writeJSON(w, http.StatusOK, out)
	return true
}

// zoneRegion is a zone's region ("europe-west4-a" -> "europe-west4").
func zoneRegion(zone string) string {
	if i := strings.LastIndex(zone, "-"); i > 0 {
		return zone[:i]
	}
	return zone
}

// instanceProps reads the machine type of reserved instance properties.
func instanceProps(field string, p *computepb.AllocationSpecificSKUAllocationReservedInstanceProperties) (string, error) {
	mt := lastSeg(p.GetMachineType())
	if mt == "" {
		return "", invalidField(field+".machineType", "", "A machine type is required.")
	}
	if !machineTypeRE.MatchString(mt) {
		return "", invalidField(field+".machineType", p.GetMachineType(), "Must be a machine type name.")
	}
	for i, a := range p.GetGuestAccelerators() {
		if a.GetAcceleratorCount() <= 0 || lastSeg(a.GetAcceleratorType()) == "" {
			return "", invalidField(field+".guestAccelerators["+itoa(int64(i))+"]", a.GetAcceleratorType(), "An accelerator type and a positive count are required.")
		}
	}
	return mt, nil
}

func lastSeg(s string) string {
	s = strings.TrimRight(s, "/")
	return s[strings.LastIndex(s, "/")+1:]
}

// machineTypeRE is a machine type name (RFC 1035 label).
var machineTypeRE = nameRE

// parseNamed reads an insert's body into m, checks its name and makes it
// q's name; it returns the new resource's relative path.
func parseNamed(q *request, m interface {
	proto.Message
	GetName() string
}) (string, error) {
	if _, err := parseBody(q.r, m); err != nil {
		return "", err
	}
	if err := checkName("resource.name", m.GetName()); err != nil {
		return "", err
	}
	q.name = m.GetName()
	return q.path(), nil
}

func (s *server) reservationInsert(q *request) (any, error) {
	m := &computepb.Reservation{}
	rel, err := parseNamed(q, m)
	if err != nil {
		return nil, err
	}
	if m.AggregateReservation != nil || m.GetSpecificReservation().GetSourceInstanceTemplate() != "" {
		return nil, invalidf("Invalid value for field 'resource': cloudsim serves only specificReservation reservations with instanceProperties.")
	}
	sr := m.GetSpecificReservation()
	if sr == nil {
		return nil, invalidField("resource.specificReservation", "", "A specific reservation is required.")
	}
	mt, err := instanceProps("resource.specificReservation.instanceProperties", sr.GetInstanceProperties())
	if err != nil {
		return nil, err
	}
	if sr.GetCount() <= 0 {
		return nil, invalidField("resource.specificReservation.count", itoa(sr.GetCount()), "Must be greater than 0.")
	}
	var end time.Time
	if v := m.GetDeleteAtTime(); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil || !t.After(s.now()) {
			return nil, invalidField("resource.deleteAtTime", v, "Must be an RFC 3339 time in the future.")
		}
		end = t
	}
	if err := s.checkFreeName(m.GetName(), rel); err != nil {
		return nil, err
	}
	data, err := protojson.Marshal(m)
	if err != nil {
		return nil, err
	}
	r := cloudsim.Reservation{Cloud: cloudName, ID: m.GetName(), Region: zoneRegion(q.zone), Zone: q.zone, InstanceType: mt,
		Kind: "reserved", Count: int(sr.GetCount()), End: end, Attrs: map[string]string{attrProject: q.project, attrJSON: string(data)}}
	if _, err := s.e.PutReservation(r); err != nil {
		return nil, engineError(err, rel, true)
	}
	return s.startOp(q, "insert", rel, reservationID(q.project, q.zone, m.GetName()), nil)
}

// checkFreeName refuses a name the ledger has (in any zone).
func (s *server) checkFreeName(name, rel string) error {
	if _, err := s.e.GetReservation(cloudName, name); err == nil {
		return alreadyExists(rel)
	}
	return nil
}

func (s *server) futureReservationInsert(q *request) (any, error) {
	m := &computepb.FutureReservation{}
	rel, err := parseNamed(q, m)
	if err != nil {
		return nil, err
	}
	if m.GetReservationMode() != "CALENDAR" {
		return nil, invalidField("resource.reservationMode", m.GetReservationMode(), "cloudsim serves only calendar-mode future reservations (CALENDAR).")
	}
	resName := m.GetReservationName()
	if resName == "" {
		resName = m.GetName()
	}
	if err := checkName("resource.reservationName", resName); err != nil {
		return nil, err
	}
	sku := m.GetSpecificSkuProperties()
	mt, err := instanceProps("resource.specificSkuProperties.instanceProperties", sku.GetInstanceProperties())
	if err != nil {
		return nil, err
	}
	if sku.GetTotalCount() <= 0 {
		return nil, invalidField("resource.specificSkuProperties.totalCount", itoa(sku.GetTotalCount()), "Must be greater than 0.")
	}
	tw := m.GetTimeWindow()
	start, err := time.Parse(time.RFC3339, tw.GetStartTime())
	if err != nil {
		return nil, invalidField("resource.timeWindow.startTime", tw.GetStartTime(), "Must be an RFC 3339 time.")
	}
	var end time.Time
	switch {
	case tw.GetEndTime() != "":
		if end, err = time.Parse(time.RFC3339, tw.GetEndTime()); err != nil {
			return nil, invalidField("resource.timeWindow.endTime", tw.GetEndTime(), "Must be an RFC 3339 time.")
		}
	case tw.GetDuration() != nil:
		end = start.Add(time.Duration(tw.GetDuration().GetSeconds()) * time.Second)
	default:
		return nil, invalidField("resource.timeWindow", "", "An end time or a duration is required.")
	}
	if !end.After(start) || !start.After(s.now()) {
		return nil, invalidField("resource.timeWindow", tw.GetStartTime(), "The start must be in the future and before the end.")
	}
	if err := s.checkFreeName(resName, rel); err != nil {
		return nil, err
	}
	data, err := protojson.Marshal(m)
	if err != nil {
		return nil, err
	}
	r := cloudsim.Reservation{Cloud: cloudName, ID: resName, Region: zoneRegion(q.zone), Zone: q.zone, InstanceType: mt, Kind: "calendar",
		Count: int(sku.GetTotalCount()), Start: start, End: end,
		Attrs: map[string]string{attrProject: q.project, attrJSON: string(data), attrFR: m.GetName()}}
	if _, err := s.e.PutReservation(r); err != nil {
		return nil, engineError(err, rel, true)
	}
	return s.startOp(q, "insert", rel, reservationID(q.project, q.zone, "fr/"+m.GetName()), nil)
}

// frName is the name of the future reservation a calendar entry answers
// as: the one it was inserted as, else its reservation's.
func frName(r cloudsim.Reservation) string {
	if n := r.Attrs[attrFR]; n != "" {
		return n
	}
	return r.ID
}

func reservationID(project, zone, name string) uint64 {
	return numericID("reservation", project, zone, name)
}

// visible tells whether r is served in q's project (and zone, when q has
// one) as a reservation (future false: delivered ones only) or as a
// future reservation.
func (s *server) visible(q *request, r cloudsim.Reservation, future bool) bool {
	if p := r.Attrs[attrProject]; p != "" && p != q.project {
		return false
	}
	if q.zone != "" && r.Zone != q.zone {
		return false
	}
	if future {
		return r.Kind == "calendar"
	}
	return r.Kind != "calendar" || r.State(s.e.Now()) == "active"
}

// findReservation is the ledger entry q names.
func (s *server) findReservation(q *request, future bool) (cloudsim.Reservation, error) {
	if future {
		all, err := s.e.Reservations(cloudName)
		if err != nil {
			return cloudsim.Reservation{}, engineError(err, q.path(), false)
		}
		for _, r := range all {
			if frName(r) == q.name && s.visible(q, r, true) {
				return r, nil
			}
		}
		return cloudsim.Reservation{}, notFound(q.path())
	}
	r, err := s.e.GetReservation(cloudName, q.name)
	if err != nil {
		return r, engineError(err, q.path(), false)
	}
	if !s.visible(q, r, false) {
		return r, notFound(q.path())
	}
	return r, nil
}

func (s *server) reservationGet(q *request, future bool) (any, error) {
	r, err := s.findReservation(q, future)
	if err != nil {
		return nil, err
	}
	return s.renderReservation(q.base, r, future)
}

func (s *server) reservationDelete(q *request, future bool) (any, error) {
	r, err := s.findReservation(q, future)
	if err != nil {
		return nil, err
	}
	if r.Used > 0 {
		return nil, inUse("reservation", q.path(), "node pools consuming "+strconv.Itoa(r.Used)+" of its instances")
	}
	if err := s.e.DeleteReservation(cloudName, r.ID); err != nil {
		return nil, engineError(err, q.path(), false)
	}
	id := reservationID(q.project, q.zone, q.name)
	if future {
		id = reservationID(q.project, q.zone, "fr/"+q.name)
	}
	return s.startOp(q, "delete", q.path(), id, nil)
}

// visibleReservations are the ledger entries served by q, by name.
func (s *server) visibleReservations(q *request, future bool) ([]cloudsim.Reservation, error) {
	all, err := s.e.Reservations(cloudName)
	if err != nil {
		return nil, engineError(err, q.scopePath()+"/"+q.coll, false)
	}
	var out []cloudsim.Reservation
	for _, r := range all {
		if s.visible(q, r, future) {
			out = append(out, r)
		}
	}
	name := func(r cloudsim.Reservation) string {
		if future {
			return frName(r)
		}
		return r.ID
	}
	sort.SliceStable(out, func(i, j int) bool { return name(out[i]) < name(out[j]) })
	return out, nil
}

func apiKindOf(future bool) string {
	if future {
		return "compute#futureReservation"
	}
	return "compute#reservation"
}

// reservationsList answers one zone's list, filtered as other lists
// (one page: a project has few reservations).
func (s *server) reservationsList(q *request, future bool) (any, error) {
	f, err := parseFilter(q.r.URL.Query().Get("filter"))
	if err != nil {
		return nil, err
	}
	rs, err := s.visibleReservations(q, future)
	if err != nil {
		return nil, err
	}
	coll := q.scopePath() + "/" + q.coll
	kind := apiKindOf(future) + "List"
	if future {
		kind = "compute#futureReservationsListResponse"
	}
	page := listPage{Kind: kind, ID: coll, SelfLink: q.base + coll}
	for _, r := range rs {
		data, err := s.renderReservation(q.base, r, future)
		if err != nil {
			return nil, err
		}
		if f.matches(data) {
			page.Items = append(page.Items, data)
		}
	}
	return page, nil
}

// reservationsAggregated answers aggregated/{reservations,
// futureReservations}: {"items": {"zones/z": {"<coll>": [...]}}}.
func (s *server) reservationsAggregated(q *request, future bool) (any, error) {
	f, err := parseFilter(q.r.URL.Query().Get("filter"))
	if err != nil {
		return nil, err
	}
	rs, err := s.visibleReservations(q, future)
	if err != nil {
		return nil, err
	}
	items := map[string]map[string][]json.RawMessage{}
	for _, r := range rs {
		data, err := s.renderReservation(q.base, r, future)
		if err != nil {
			return nil, err
		}
		if !f.matches(data) {
			continue
		}
		scope := "zones/" + r.Zone
		if items[scope] == nil {
			items[scope] = map[string][]json.RawMessage{}
		}
		items[scope][q.coll] = append(items[scope][q.coll], data)
	}
	kind := "compute#reservationAggregatedList"
	if future {
		kind = "compute#futureReservationsAggregatedListResponse"
	}
	return map[string]any{"kind": kind, "id": "projects/" + q.project + "/aggregated/" + q.coll,
		"items": items, "selfLink": q.base + "projects/" + q.project + "/aggregated/" + q.coll}, nil
}

// renderReservation answers a ledger entry as a Reservation or a
// FutureReservation.
func (s *server) renderReservation(base string, r cloudsim.Reservation, future bool) ([]byte, error) {
	project := r.Attrs[attrProject]
	zoneLink := base + zoneRel(project, r.Zone)
	if future {
		fr := &computepb.FutureReservation{ReservationMode: proto.String("CALENDAR"),
			SpecificSkuProperties: &computepb.FutureReservationSpecificSKUProperties{TotalCount: proto.Int64(int64(r.Count)),
				InstanceProperties: &computepb.AllocationSpecificSKUAllocationReservedInstanceProperties{MachineType: proto.String(r.InstanceType)}}}
		if data := r.Attrs[attrJSON]; data != "" {
			if err := storeIn.Unmarshal([]byte(data), fr); err != nil {
				return nil, err
			}
		}
		name := frName(r)
		fr.Name = proto.String(name)
		fr.Kind = proto.String(apiKindOf(true))
		fr.Id = proto.Uint64(reservationID(project, r.Zone, "fr/"+name))
		fr.Zone = proto.String(zoneLink)
		fr.SelfLink = proto.String(zoneLink + "/futureReservations/" + name)
		fr.CreationTimestamp = proto.String(stamp(r.CreatedAt))
		fr.ReservationName = proto.String(r.ID)
		fr.PlanningStatus = proto.String("SUBMITTED")
		fr.TimeWindow = &computepb.FutureReservationTimeWindow{StartTime: proto.String(r.Start.UTC().Format(time.RFC3339)),
			EndTime: proto.String(r.End.UTC().Format(time.RFC3339))}
		st := &computepb.FutureReservationStatus{ProcurementStatus: proto.String("APPROVED")}
		if r.State(s.e.Now()) != "scheduled" {
			st.ProcurementStatus = proto.String("FULFILLED")
			st.AutoCreatedReservations = []string{zoneLink + "/reservations/" + r.ID}
		}
		fr.Status = st
		return protojson.Marshal(fr)
	}
	// A ledger entry put by other means than this front end (a test, the
	// direct backend) has no request: it is answered from the ledger.
	m := &computepb.Reservation{}
	props := &computepb.AllocationSpecificSKUAllocationReservedInstanceProperties{MachineType: proto.String(r.InstanceType)}
	required := false
	switch data := []byte(r.Attrs[attrJSON]); {
	case len(data) == 0:
	case r.Attrs[attrFR] != "":
		fr := &computepb.FutureReservation{}
		if err := storeIn.Unmarshal(data, fr); err != nil {
			return nil, err
		}
		if p := fr.GetSpecificSkuProperties().GetInstanceProperties(); p != nil {
			props = p
		}
		required = fr.GetSpecificReservationRequired()
	default:
		if err := storeIn.Unmarshal(data, m); err != nil {
			return nil, err
		}
		if p := m.GetSpecificReservation().GetInstanceProperties(); p != nil {
			props = p
		}
		required = m.GetSpecificReservationRequired()
	}
	m.Kind = proto.String(apiKindOf(false))
	m.Id = proto.Uint64(reservationID(project, r.Zone, r.ID))
	m.Name = proto.String(r.ID)
	m.Zone = proto.String(zoneLink)
	m.SelfLink = proto.String(zoneLink + "/reservations/" + r.ID)
	m.CreationTimestamp = proto.String(stamp(r.CreatedAt))
	m.Status = proto.String("READY")
	m.SpecificReservationRequired = proto.Bool(required)
	m.SpecificReservation = &computepb.AllocationSpecificSKUReservation{Count: proto.Int64(int64(r.Count)),
		InUseCount: proto.Int64(int64(r.Used)), InstanceProperties: props}
	if !r.End.IsZero() {
		m.DeleteAtTime = proto.String(r.End.UTC().Format(time.RFC3339))
	}
	return protojson.Marshal(m)
}

// ReservedAccelerators are the GPUs a ledger reservation of this front end
// reserves per instance, accelerator type -> count
// (instanceProperties.guestAccelerators of the reservation or of the
// calendar-mode future reservation); empty when it names none. gkefront
// matches a node pool's accelerators against them.
func ReservedAccelerators(r cloudsim.Reservation) map[string]int {
	var props *computepb.AllocationSpecificSKUAllocationReservedInstanceProperties
	if r.Attrs[attrFR] != "" {
		fr := &computepb.FutureReservation{}
		if storeIn.Unmarshal([]byte(r.Attrs[attrJSON]), fr) == nil {
			props = fr.GetSpecificSkuProperties().GetInstanceProperties()
		}
	} else {
		m := &computepb.Reservation{}
		if storeIn.Unmarshal([]byte(r.Attrs[attrJSON]), m) == nil {
			props = m.GetSpecificReservation().GetInstanceProperties()
		}
	}
	out := map[string]int{}
	for _, a := range props.GetGuestAccelerators() {
		out[lastSeg(a.GetAcceleratorType())] += int(a.GetAcceleratorCount())
	}
	return out
}
