package azurefront

// Capacity reservation groups and capacity reservations (Microsoft.Compute,
// api-version 2026-04-01 as armcompute/v8 sends it, judged by the
// 2025-04-01 model of @azure/arm-compute 23.3.0):
//
//	GET    /subscriptions/{sub}/providers/Microsoft.Compute/capacityReservationGroups
//	GET    /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/capacityReservationGroups
//	PUT GET DELETE .../capacityReservationGroups/{group}            ($expand=instanceView on GET)
//	GET    .../capacityReservationGroups/{group}/capacityReservations
//	PUT GET DELETE .../capacityReservationGroups/{group}/capacityReservations/{name}  ($expand=instanceView on GET)
//
// (https://learn.microsoft.com/rest/api/compute/capacity-reservation-groups,
// https://learn.microsoft.com/rest/api/compute/capacity-reservations).
//
// A group is a row of table CapacityReservationGroup named "rg/group"
// (lower case; its resource group must exist, 404 ResourceGroupNotFound
// otherwise): location, zones, tags. A capacity
// reservation is an entry of the engine's reservation ledger
// (cloudsim.Reservation, Kind "reserved"): ID = its resource ID (the
// group's ID as created + "/capacityReservations/{name}"), Region = the
// group's location, Zone = zones[0] ("" for a regional reservation),
// InstanceType = sku.name, Count = sku.capacity; Attrs hold the group key,
// name, tags and the reservationId GUID. The ledger counts its slots.
//
// Rules, with their sources:
//   - A reservation's location is its group's; a group with zones takes
//     only zonal reservations in those zones, a group without zones only
//     regional ones ("the capacity reservation group ... zones ... a
//     capacity reservation must be in one of the zones of its group":
//     https://learn.microsoft.com/azure/virtual-machines/capacity-reservation-create).
//     400 InvalidParameter otherwise.
//   - Only sku.capacity changes in place
//     (https://learn.microsoft.com/azure/virtual-machines/capacity-reservation-modify);
//     another sku name or zone is 400 PropertyChangeNotAllowed. The
//     capacity cannot drop below the VMs allocated (the engine refuses;
//     409 OperationNotAllowed).
//   - "To delete a capacity reservation group, first delete all of the
//     capacity reservations in it", and a reservation with VMs associated
//     cannot be deleted (capacity-reservation-modify): 409
//     OperationNotAllowed.
//   - $expand=instanceView on a group GET reports, per reservation, its
//     utilizationInfo (currentCapacity, virtualMachinesAllocated: the VMs
//     of the agent pools holding its slots) —
//     https://learn.microsoft.com/azure/virtual-machines/capacity-reservation-overallocate
//     shows this instance view.
//
// Agent pools with properties.capacityReservationGroupID
// (https://learn.microsoft.com/azure/aks/use-capacity-reservation-groups):
// the group must exist (404 ResourceNotFound), the cluster must run as a
// user-assigned identity (400 InvalidParameter otherwise:
// clusteridentity.go), and that identity must hold Contributor (or Owner) over it (403
// LinkedAuthorizationFailed on Microsoft.Compute/capacityReservationGroups/deploy/action;
// AKS asks for Contributor on the group's resource group). A group with
// no capacity reservation at all is not associated: "the node pool is
// added to the cluster with a warning and no capacity reservation group
// gets associated" (the pool is an ordinary on-demand one). Otherwise the
// pool takes the group's reservation of its VM size and zone (none: 400
// InvalidParameter; "a VM's size and zone must match a capacity
// reservation in the group":
// https://learn.microsoft.com/azure/virtual-machines/capacity-reservation-associate-vm),
// and each node holds one slot of it in the engine's ledger until the
// pool goes or shrinks. Unlike Azure, which lets VMs beyond the reserved
// quantity join the group without the capacity SLA (overallocation,
// capacity-reservation-overallocate), the ledger refuses them: the pool
// fails with ZonalAllocationFailed / AllocationFailed naming the group
// (azureReservationIssue) — gpufleet's backend never asks for more than
// the free instances, so it sees that only in a race. The group ID
// cannot change on an existing pool (400 PropertyChangeNotAllowed).
//
// A resource group that still holds capacity reservation groups is not
// deleted (409 ResourceGroupDeletionBlocked, as for managed clusters and
// network resources): Azure would delete them with it, cloudsim wants
// their reservations released in the ledger first.
//
// Engine operations: group PUT -> CreateCapacityReservationGroup (its
// table's row), GET -> GetCapacityReservationGroup, DELETE ->
// DeleteCapacityReservationGroup; reservation PUT -> PutReservation, GET
// -> GetReservation, DELETE -> DeleteReservation; lists ->
// ListReservations.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// contributorRoles are the built-in roles that carry
// Microsoft.Compute/capacityReservationGroups/deploy/action: Contributor
// and Owner (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles).
var contributorRoles = []string{
	"b24988ac-6180-42a0-ab88-20f7382dd24c", // Contributor
	"8e3af657-a8ff-443c-a75c-2fe8c4bcb635", // Owner
}

type crgMeta struct {
	Name          string            `json:"name"`
	ResourceGroup string            `json:"resourceGroup"`
	Location      string            `json:"location"`
	Zones         []string          `json:"zones,omitempty"`
	Tags          map[string]string `json:"tags,omitempty"`
	CreatedAt     time.Time         `json:"createdAt"`
}

func crgKey(rg, name string) string { return strings.ToLower(rg + "/" + name) }

func crgID(sub string, m crgMeta) string {
	return "/subscriptions/" + sub + "/resourceGroups/" + m.ResourceGroup + "/providers/Microsoft.Compute/capacityReservationGroups/" + m.Name
}

func crgNotFound(rg, name string) error {
	return newErr(404, "ResourceNotFound", "The Resource 'Microsoft.Compute/capacityReservationGroups/%s' under resource group '%s' was not found.", name, rg)
}

// isReservationPath matches the paths above.
func isReservationPath(q *req) bool {
	n := len(q.segs)
	switch {
	case n == 5:
		return q.seg(2, "providers") && q.seg(3, "Microsoft.Compute") && q.seg(4, "capacityReservationGroups")
	case n >= 7 && n <= 10:
		return q.seg(2, "resourceGroups") && q.seg(4, "providers") && q.seg(5, "Microsoft.Compute") && q.seg(6, "capacityReservationGroups") &&
			(n < 9 || q.seg(8, "capacityReservations"))
	}
	return false
}

func (s *server) serveReservations(q *req) (reply, error) {
	n, m := len(q.segs), q.r.Method
	switch {
	case n == 5 && m == http.MethodGet:
		return s.listCRGs(q, "")
	case n == 7 && m == http.MethodGet:
		if _, err := s.groupName(q.segs[3]); err != nil {
			return reply{}, err
		}
		return s.listCRGs(q, q.segs[3])
	case n == 8:
		return s.serveCRG(q, q.segs[3], q.segs[7])
	case n == 9 && m == http.MethodGet:
		g, err := s.crg(q.segs[3], q.segs[7])
		if err != nil {
			return reply{}, err
		}
		rs, err := s.groupReservations(g)
		if err != nil {
			return reply{}, err
		}
		value := []map[string]any{}
		for _, r := range rs {
			value = append(value, s.reservationJSON(q, g, r, false))
		}
		return reply{status: http.StatusOK, body: map[string]any{"value": value}}, nil
	case n == 10:
		return s.serveCapacityReservation(q, q.segs[3], q.segs[7], q.segs[9])
	}
	return reply{}, newErr(405, "MethodNotAllowed", "cloudsim: method %s is not supported on %s", m, q.r.URL.Path)
}

// crg reads a group's record on the side.
func (s *server) crg(rg, name string) (crgMeta, error) {
	g, ok, err := s.t.crgs.Lookup(crgKey(rg, name))
	if err != nil || ok {
		return g, err
	}
	if _, err := s.groupName(rg); err != nil {
		return crgMeta{}, err
	}
	return crgMeta{}, crgNotFound(rg, name)
}

// groupReservations are the ledger entries of a group, in name order.
func (s *server) groupReservations(g crgMeta) ([]cloudsim.Reservation, error) {
	all, err := s.e.Reservations(cloudName)
	if err != nil {
		return nil, err
	}
	var out []cloudsim.Reservation
	for _, r := range all {
		if r.Attrs["group"] == crgKey(g.ResourceGroup, g.Name) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b cloudsim.Reservation) int { return strings.Compare(a.Attrs["name"], b.Attrs["name"]) })
	return out, nil
}

func (s *server) listCRGs(q *req, rg string) (reply, error) {
	rows, err := s.t.crgs.All()
	if err != nil {
		return reply{}, err
	}
	value := []map[string]any{}
	for _, r := range rows {
		if rg != "" && rgOfRow(r.Name) != strings.ToLower(rg) {
			continue
		}
		body, err := s.crgJSON(q, r.Value, false)
		if err != nil {
			return reply{}, err
		}
		value = append(value, body)
	}
	return reply{status: http.StatusOK, body: map[string]any{"value": value}}, nil
}

func (s *server) crgJSON(q *req, g crgMeta, instanceView bool) (map[string]any, error) {
	rs, err := s.groupReservations(g)
	if err != nil {
		return nil, err
	}
	id := crgID(q.sub, g)
	refs, vms, views := []map[string]string{}, []map[string]string{}, []map[string]any{}
	for _, r := range rs {
		refs = append(refs, map[string]string{"id": r.ID})
		allocated := s.allocatedVMs(r)
		vms = append(vms, allocated...)
		views = append(views, map[string]any{"name": r.Attrs["name"],
			"utilizationInfo": map[string]any{"currentCapacity": r.Count, "virtualMachinesAllocated": allocated}})
	}
	props := map[string]any{"capacityReservations": refs, "virtualMachinesAssociated": vms}
	if instanceView {
		props["instanceView"] = map[string]any{"capacityReservations": views}
	}
	out := map[string]any{"id": id, "name": g.Name, "type": "Microsoft.Compute/capacityReservationGroups",
		"location": g.Location, "properties": props}
	if len(g.Zones) > 0 {
		out["zones"] = g.Zones
	}
	if len(g.Tags) > 0 {
		out["tags"] = g.Tags
	}
	return out, nil
}

// allocatedVMs are the VMs holding slots of r: one per slot an agent pool
// holds (its scale set VMs; a slot whose VM is still being created has
// the ID its VM will have).
func (s *server) allocatedVMs(r cloudsim.Reservation) []map[string]string {
	out := []map[string]string{}
	for _, p := range s.e.Inventory().Pools {
		if p.Cloud != cloudName || p.Spec.Reservation == nil || p.Spec.Reservation.ID != r.ID {
			continue
		}
		for i := range p.Reserved {
			id := ""
			if i < len(p.Nodes) {
				id = strings.TrimPrefix(p.Nodes[i].ProviderID, "azure://")
			} else {
				id = fmt.Sprintf("/subscriptions/%s/resourceGroups/MC_%s_%s/providers/Microsoft.Compute/virtualMachineScaleSets/aks-%s-vmss/virtualMachines/%d",
					s.subscriptionOf(r), p.Spec.Cluster, p.Spec.Region, p.Spec.Name, i)
			}
			out = append(out, map[string]string{"id": id})
		}
	}
	return out
}

// subscriptionOf is the subscription of a ledger entry's resource ID.
func (s *server) subscriptionOf(r cloudsim.Reservation) string {
	if p := strings.Split(strings.Trim(r.ID, "/"), "/"); len(p) > 1 {
		return p[1]
	}
	return ""
}

func (s *server) serveCRG(q *req, rg, name string) (reply, error) {
	key := crgKey(rg, name)
	switch q.r.Method {
	case http.MethodGet:
		if _, err := s.t.crgs.Get(key); err != nil {
			if cloud.IsNotFound(err) {
				_, err = s.crg(rg, name)
			}
			return reply{}, err
		}
		g, err := s.crg(rg, name)
		if err != nil {
			return reply{}, err
		}
		body, err := s.crgJSON(q, g, strings.EqualFold(q.r.URL.Query().Get("$expand"), "instanceView"))
		if err != nil {
			return reply{}, err
		}
		return reply{status: http.StatusOK, body: body}, nil
	case http.MethodPut:
		var body struct {
			Location string            `json:"location"`
			Zones    []string          `json:"zones"`
			Tags     map[string]string `json:"tags"`
		}
		if err := decode(q.r, &body); err != nil {
			return reply{}, err
		}
		if body.Location == "" {
			return reply{}, newErr(400, "LocationRequired", "The location property is required for this definition.")
		}
		rgName, err := s.groupName(rg)
		if err != nil {
			return reply{}, err
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		g := crgMeta{Name: name, ResourceGroup: rgName, Location: normLocation(body.Location), Zones: body.Zones, Tags: body.Tags, CreatedAt: s.now()}
		status := http.StatusCreated
		old, ok, err := s.t.crgs.Lookup(key)
		if err != nil {
			return reply{}, err
		}
		if ok {
			status = http.StatusOK
			switch {
			case old.Location != g.Location:
				return reply{}, newErr(409, "InvalidResourceLocation", "The resource 'capacityReservationGroups/%s' already exists in location '%s'; it cannot move to '%s'.", name, old.Location, g.Location)
			case body.Zones != nil && !slices.Equal(old.Zones, body.Zones):
				return reply{}, newErr(400, "PropertyChangeNotAllowed", "Changing property 'zones' is not allowed.")
			}
			g.Name, g.ResourceGroup, g.Zones, g.CreatedAt = old.Name, old.ResourceGroup, old.Zones, old.CreatedAt
		}
		if err := s.t.crgs.Put(key, g); err != nil {
			return reply{}, err
		}
		out, err := s.crgJSON(q, g, false)
		if err != nil {
			return reply{}, err
		}
		return reply{status: status, body: out}, nil
	case http.MethodDelete:
		s.mu.Lock()
		defer s.mu.Unlock()
		g, ok, err := s.t.crgs.Lookup(key)
		if err != nil {
			return reply{}, err
		}
		if !ok {
			return reply{status: http.StatusNoContent}, nil
		}
		rs, err := s.groupReservations(g)
		if err != nil {
			return reply{}, err
		}
		if len(rs) > 0 {
			return reply{}, newErr(409, "OperationNotAllowed",
				"Capacity reservation group '%s' still has %d capacity reservations; delete them before the group.", g.Name, len(rs))
		}
		if err := s.t.crgs.Remove(key); err != nil {
			return reply{}, err
		}
		return reply{status: http.StatusOK}, nil
	}
	return reply{}, newErr(405, "MethodNotAllowed", "cloudsim: method %s is not supported on capacity reservation groups", q.r.Method)
}

// parseGroupID reads /subscriptions/{sub}/resourceGroups/{rg}/providers/
// Microsoft.Compute/capacityReservationGroups/{name}.
func parseGroupID(id string) (rg, name string, ok bool) {
	p := strings.Split(strings.Trim(id, "/"), "/")
	if len(p) != 8 || !strings.EqualFold(p[0], "subscriptions") || !strings.EqualFold(p[2], "resourceGroups") || !strings.EqualFold(p[4], "providers") ||
		!strings.EqualFold(p[5], "Microsoft.Compute") || !strings.EqualFold(p[6], "capacityReservationGroups") || p[3] == "" || p[7] == "" {
		return "", "", false
	}
	return p[3], p[7], true
}

func (s *server) reservationJSON(q *req, g crgMeta, r cloudsim.Reservation, instanceView bool) map[string]any {
	allocated := s.allocatedVMs(r)
	props := map[string]any{
		"reservationId": r.Attrs["reservationId"], "provisioningState": "Succeeded",
		"provisioningTime": r.CreatedAt.UTC().Format(time.RFC3339), "timeCreated": r.CreatedAt.UTC().Format(time.RFC3339),
		"virtualMachinesAssociated": allocated, "platformFaultDomainCount": 1,
	}
	if instanceView {
		props["instanceView"] = map[string]any{
			"utilizationInfo": map[string]any{"currentCapacity": r.Count, "virtualMachinesAllocated": allocated},
			"statuses": []map[string]string{{"code": "ProvisioningState/succeeded", "level": "Info", "displayStatus": "Provisioning succeeded",
				"time": r.CreatedAt.UTC().Format(time.RFC3339)}},
		}
	}
	out := map[string]any{"id": r.ID, "name": r.Attrs["name"], "type": "Microsoft.Compute/capacityReservationGroups/capacityReservations",
		"location": g.Location, "sku": map[string]any{"name": r.InstanceType, "capacity": r.Count}, "properties": props}
	if r.Zone != "" {
		out["zones"] = []string{r.Zone}
	}
	tags := map[string]string{}
	if json.Unmarshal([]byte(r.Attrs["tags"]), &tags) == nil && len(tags) > 0 {
		out["tags"] = tags
	}
	return out
}

func (s *server) serveCapacityReservation(q *req, rg, group, name string) (reply, error) {
	g, err := s.crg(rg, group)
	if err != nil {
		return reply{}, err
	}
	id := crgID(q.sub, g) + "/capacityReservations/" + name
	rs, err := s.groupReservations(g)
	if err != nil {
		return reply{}, err
	}
	var have *cloudsim.Reservation
	for i := range rs {
		if strings.EqualFold(rs[i].Attrs["name"], name) {
			have = &rs[i]
		}
	}
	notFound := newErr(404, "ResourceNotFound", "The Resource 'Microsoft.Compute/capacityReservationGroups/%s/capacityReservations/%s' under resource group '%s' was not found.", group, name, rg)
	switch q.r.Method {
	case http.MethodGet:
		if have == nil {
			return reply{}, notFound
		}
		r, err := s.e.GetReservation(cloudName, have.ID)
		if err != nil {
			return reply{}, err
		}
		return reply{status: http.StatusOK, body: s.reservationJSON(q, g, r, strings.EqualFold(q.r.URL.Query().Get("$expand"), "instanceView"))}, nil
	case http.MethodDelete:
		if have == nil {
			return reply{status: http.StatusNoContent}, nil
		}
		if err := s.e.DeleteReservation(cloudName, have.ID); err != nil {
			if cloud.IsConflict(err) {
				return reply{}, newErr(409, "OperationNotAllowed",
					"Capacity reservation '%s' has virtual machines associated; remove them (or set its capacity to 0) before deleting it: %s", name, toARM(err).Message)
			}
			return reply{}, err
		}
		return reply{status: http.StatusOK}, nil
	case http.MethodPut:
		var body struct {
			Location string            `json:"location"`
			Zones    []string          `json:"zones"`
			Tags     map[string]string `json:"tags"`
			SKU      *struct {
				Name     string `json:"name"`
				Capacity *int   `json:"capacity"`
			} `json:"sku"`
		}
		if err := decode(q.r, &body); err != nil {
			return reply{}, err
		}
		switch {
		case body.Location == "":
			return reply{}, newErr(400, "LocationRequired", "The location property is required for this definition.")
		case normLocation(body.Location) != g.Location:
			return reply{}, newErr(400, "InvalidParameter", "Capacity reservation '%s' must be in location '%s' of its capacity reservation group '%s'.", name, g.Location, g.Name)
		case body.SKU == nil || body.SKU.Name == "" || body.SKU.Capacity == nil:
			return reply{}, newErr(400, "InvalidParameter", "The value of parameter sku is invalid: sku.name and sku.capacity are required.")
		case *body.SKU.Capacity < 0:
			return reply{}, newErr(400, "InvalidParameter", "The value of parameter sku.capacity %d is invalid: it must be at least 0.", *body.SKU.Capacity)
		case len(body.Zones) > 1:
			return reply{}, newErr(400, "InvalidParameter", "A capacity reservation takes at most one zone; got %s.", strings.Join(body.Zones, ", "))
		}
		zone := ""
		if len(body.Zones) == 1 {
			zone = body.Zones[0]
		}
		switch {
		case len(g.Zones) > 0 && !slices.Contains(g.Zones, zone):
			return reply{}, newErr(400, "InvalidParameter", "Capacity reservation '%s' must be in one of the zones %s of its capacity reservation group '%s'.", name, strings.Join(g.Zones, ", "), g.Name)
		case len(g.Zones) == 0 && zone != "":
			return reply{}, newErr(400, "InvalidParameter", "Capacity reservation group '%s' is regional: its capacity reservations take no zone (got %s).", g.Name, zone)
		}
		r := cloudsim.Reservation{Cloud: cloudName, ID: id, Region: g.Location, Zone: zone, InstanceType: body.SKU.Name, Kind: "reserved",
			Count: *body.SKU.Capacity, Attrs: map[string]string{"group": crgKey(g.ResourceGroup, g.Name), "name": name, "reservationId": newID()}}
		status := http.StatusCreated
		if have != nil {
			status = http.StatusOK
			if !strings.EqualFold(have.InstanceType, r.InstanceType) || have.Zone != r.Zone {
				return reply{}, newErr(400, "PropertyChangeNotAllowed", "Changing property 'sku.name' or 'zones' of capacity reservation '%s' is not allowed.", name)
			}
			r.ID, r.InstanceType, r.Attrs["name"], r.Attrs["reservationId"] = have.ID, have.InstanceType, have.Attrs["name"], have.Attrs["reservationId"]
		}
		if body.Tags != nil {
			data, _ := json.Marshal(body.Tags)
			r.Attrs["tags"] = string(data)
		} else if have != nil {
			r.Attrs["tags"] = have.Attrs["tags"]
		}
		out, err := s.e.PutReservation(r)
		if err != nil {
			if cloud.IsConflict(err) {
				return reply{}, newErr(409, "OperationNotAllowed", "%s", toARM(err).Message)
			}
			return reply{}, err
		}
		return reply{status: status, body: s.reservationJSON(q, g, out, false)}, nil
	}
	return reply{}, newErr(405, "MethodNotAllowed", "cloudsim: method %s is not supported on capacity reservations", q.r.Method)
}

// poolReservation is the ledger reservation a new agent pool with
// capacityReservationGroupID groupID takes (see above): nil when groupID
// is empty or the group has no reservation at all (AKS then associates
// none). Callers hold s.mu.
func (s *server) poolReservation(q *req, m clusterMeta, pool, groupID, vmSize, zone string) (*cloud.Reservation, error) {
	if groupID == "" {
		return nil, nil
	}
	rg, name, ok := parseGroupID(groupID)
	if !ok {
		return nil, newErr(400, "InvalidParameter",
			"The value of parameter agentPoolProfile.capacityReservationGroupID '%s' is invalid: want /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/capacityReservationGroups/{name}.", groupID)
	}
	g, err := s.crg(rg, name)
	if err != nil {
		return nil, err
	}
	if m.Identity == "" {
		return nil, systemIdentityRefused(m, groupID)
	}
	principal := metaPrincipal(q.sub, m)
	granted, err := s.hasRole(principal, groupID, contributorRoles)
	if err != nil {
		return nil, err
	}
	if !granted {
		return nil, newErr(403, "LinkedAuthorizationFailed",
			"The client '%s' with object id '%s' does not have permission to perform action 'Microsoft.Compute/capacityReservationGroups/deploy/action' on the linked scope(s) '%s', or the scope(s) are invalid. "+
				"Give the cluster identity the Contributor role on the resource group of the capacity reservation group (https://learn.microsoft.com/azure/aks/use-capacity-reservation-groups).",
			principal, principal, groupID)
	}
	rs, err := s.groupReservations(g)
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return nil, nil
	}
	var have []string
	for _, r := range rs {
		if strings.EqualFold(r.InstanceType, vmSize) && r.Zone == zone {
			return &cloud.Reservation{ID: r.ID}, nil
		}
		have = append(have, r.InstanceType+" zone "+strconv.Quote(r.Zone))
	}
	return nil, newErr(400, "InvalidParameter",
		"Capacity reservation group '%s' has no capacity reservation of VM size %s in zone %q for agent pool %s (it reserves %s); a VM's size and zone must match a capacity reservation in the group.",
		g.Name, vmSize, zone, pool, strings.Join(have, ", "))
}

// reservationGroupOf is the capacityReservationGroupID of a pool on a
// ledger reservation (its resource ID less "/capacityReservations/...").
func reservationGroupOf(p cloudsim.Pool) string {
	if p.Spec.Reservation == nil {
		return ""
	}
	id := p.Spec.Reservation.ID
	if i := strings.LastIndex(strings.ToLower(id), "/capacityreservations/"); i >= 0 {
		return id[:i]
	}
	return ""
}

// azureReservationIssue words the engine's reservation issues of a pool
// on a capacity reservation group: a reservation without free slots is
// an allocation failure (what Azure answers when the VMs cannot be
// placed; cloudsim does not overallocate, see above), naming the group;
// the others keep the engine's code.
func azureReservationIssue(p cloudsim.Pool, is cloud.Issue) (code, message string, ok bool) {
	if is.Code != cloudsim.IssueReservationExhausted {
		return "", "", false
	}
	code, where := "AllocationFailed", "region ("+p.Spec.Region+")"
	if p.Spec.Zone != "" {
		code, where = "ZonalAllocationFailed", "zone ("+p.Spec.Zone+")"
	}
	return code, fmt.Sprintf("Allocation failed. The capacity reservation group %s has no free capacity for the requested VM size %s in this %s: %s.",
		reservationGroupOf(p), p.Spec.InstanceType, where, is.Message), true
}

// reservationGroupDeletion is called with s.mu held before resource group
// key (name as created) is deleted: it refuses while capacity reservation
// groups remain in it.
func (s *server) reservationGroupDeletion(key, name string) error {
	rows, err := s.t.crgs.All()
	if err != nil {
		return err
	}
	var left []string
	for _, r := range rows {
		if rgOfRow(r.Name) == key {
			left = append(left, r.Value.Name)
		}
	}
	if len(left) == 0 {
		return nil
	}
	slices.Sort(left)
	return newErr(409, "ResourceGroupDeletionBlocked",
		"Deletion of resource group '%s' was refused: it still contains capacity reservation groups (%s); cloudsim deletes a resource group only once they are deleted.",
		name, strings.Join(left, ", "))
}
