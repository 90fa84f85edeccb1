package azurefront

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v8"
)

const contributorRole = "b24988ac-6180-42a0-ab88-20f7382dd24c"

func (ev *env) crgClients() (*armcompute.CapacityReservationGroupsClient, *armcompute.CapacityReservationsClient) {
	ev.t.Helper()
	o := ev.options(-1)
	g, err := armcompute.NewCapacityReservationGroupsClient(sub, fakeCred{}, o)
	if err != nil {
		ev.t.Fatal(err)
	}
	r, err := armcompute.NewCapacityReservationsClient(sub, fakeCred{}, o)
	if err != nil {
		ev.t.Fatal(err)
	}
	return g, r
}

// putReservation creates or resizes a capacity reservation and waits.
func putReservation(rc *armcompute.CapacityReservationsClient, rg, group, name, size, zone string, capacity int64) (armcompute.CapacityReservation, error) {
	r := armcompute.CapacityReservation{Location: to.Ptr(location), SKU: &armcompute.SKU{Name: to.Ptr(size), Capacity: to.Ptr(capacity)}}
	if zone != "" {
		r.Zones = []*string{to.Ptr(zone)}
	}
	p, err := rc.BeginCreateOrUpdate(ctx, rg, group, name, r, nil)
	if err != nil {
		return armcompute.CapacityReservation{}, err
	}
	res, err := p.PollUntilDone(ctx, poll)
	return res.CapacityReservation, err
}

// allocated reads the group's instance view: VMs allocated per
// reservation name.
func allocated(t *testing.T, gc *armcompute.CapacityReservationGroupsClient, rg, group string) map[string]int {
	t.Helper()
	g, err := gc.Get(ctx, rg, group, &armcompute.CapacityReservationGroupsClientGetOptions{Expand: to.Ptr(armcompute.CapacityReservationGroupInstanceViewTypesInstanceView)})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, iv := range g.Properties.InstanceView.CapacityReservations {
		out[*iv.Name] = len(iv.UtilizationInfo.VirtualMachinesAllocated)
	}
	return out
}

// TestCapacityReservationGroups: groups and their reservations through
// armcompute, the zone and location rules, what cannot change, deletion
// order, and an agent pool that takes (and on delete frees) slots of the
// reservation of its size and zone once its cluster identity holds
// Contributor over the group.
func TestCapacityReservationGroups(t *testing.T) {
	ev := newEnv(t, "")
	ev.createRG("crg-rg")
	ev.createRG("c-rg")
	gc, rc := ev.crgClients()
	if _, err := gc.CreateOrUpdate(ctx, "crg-rg", "gpus", armcompute.CapacityReservationGroup{Location: to.Ptr(location),
		Zones: []*string{to.Ptr("1"), to.Ptr("2")}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := gc.CreateOrUpdate(ctx, "nope", "gpus", armcompute.CapacityReservationGroup{Location: to.Ptr(location)}, nil); respErr(t, err).ErrorCode != "ResourceGroupNotFound" {
		t.Fatalf("group in a missing resource group: %v", err)
	}
	if _, err := putReservation(rc, "crg-rg", "gpus", "h100-z1", h100, "1", 2); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, size, zone string
		capacity         int64
		code             string
	}{
		{"zone outside the group", h100, "3", 1, "InvalidParameter"},
		{"regional in a zonal group", h100, "", 1, "InvalidParameter"},
		{"size cannot change", "Standard_NC24ads_A100_v4", "1", 2, "PropertyChangeNotAllowed"},
		{"negative capacity", h100, "2", -1, "InvalidParameter"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			name := "other"
			if tt.code == "PropertyChangeNotAllowed" {
				name = "h100-z1"
			}
			if _, err := putReservation(rc, "crg-rg", "gpus", name, tt.size, tt.zone, tt.capacity); respErr(t, err).ErrorCode != tt.code {
				t.Fatalf("got %v, want %s", err, tt.code)
			}
		})
	}
	pager := gc.NewListBySubscriptionPager(nil)
	var names []string
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range page.Value {
			names = append(names, *g.Name)
			if len(g.Properties.CapacityReservations) != 1 {
				t.Fatalf("group %s lists %d reservations, want 1", *g.Name, len(g.Properties.CapacityReservations))
			}
		}
	}
	if strings.Join(names, ",") != "gpus" {
		t.Fatalf("groups %v", names)
	}

	// An agent pool on the group: not on a cluster with a system-assigned
	// identity, even one with the role.
	groupID := "/subscriptions/" + sub + "/resourceGroups/crg-rg/providers/Microsoft.Compute/capacityReservationGroups/gpus"
	pool := func(n int32, zone string) armcontainerservice.AgentPool {
		p := gpuPool(n, []string{zone}, false)
		p.Properties.CapacityReservationGroupID = to.Ptr(groupID)
		return p
	}
	sys := ev.createCluster("c-rg", "aks0")
	if st, code := ev.grant(t, "/subscriptions/"+sub+"/resourceGroups/crg-rg", "22222222-2222-4222-a222-222222222222", *sys.Identity.PrincipalID, contributorRole); st != http.StatusCreated {
		t.Fatalf("grant: %d %s", st, code)
	}
	_, err := ev.createPool("c-rg", "aks0", "gpu1", pool(1, "1"))
	if re := respErr(t, err); re.ErrorCode != "InvalidParameter" || !strings.Contains(re.Error(), "system-assigned") || !strings.Contains(re.Error(), "user-assigned managed identity") {
		t.Fatalf("pool on a system-assigned cluster: %v", err)
	}
	mc := ev.createClusterAs("c-rg", "aks1", userAssigned(testIdentity))
	if _, err := ev.createPool("c-rg", "aks1", "gpu1", pool(1, "1")); respErr(t, err).ErrorCode != "LinkedAuthorizationFailed" {
		t.Fatalf("pool without the role: %v", err)
	}
	principal := *mc.Identity.UserAssignedIdentities[testIdentity].PrincipalID
	if st, code := ev.grant(t, "/subscriptions/"+sub+"/resourceGroups/crg-rg", "11111111-1111-4111-a111-111111111111", principal, contributorRole); st != http.StatusCreated {
		t.Fatalf("grant: %d %s", st, code)
	}
	if _, err := ev.createPool("c-rg", "aks1", "gpu2", pool(1, "2")); respErr(t, err).ErrorCode != "InvalidParameter" {
		t.Fatalf("pool in a zone the group reserves nothing in: %v", err)
	}
	ap, err := ev.createPool("c-rg", "aks1", "gpu1", pool(2, "1"))
	if err != nil {
		t.Fatal(err)
	}
	if got := *ap.Properties.CapacityReservationGroupID; got != groupID {
		t.Fatalf("capacityReservationGroupID %s, want %s", got, groupID)
	}
	if got := allocated(t, gc, "crg-rg", "gpus"); got["h100-z1"] != 2 {
		t.Fatalf("allocated %v, want h100-z1: 2", got)
	}
	r, err := rc.Get(ctx, "crg-rg", "gpus", "h100-z1", &armcompute.CapacityReservationsClientGetOptions{Expand: to.Ptr(armcompute.CapacityReservationInstanceViewTypesInstanceView)})
	if err != nil || len(r.Properties.InstanceView.UtilizationInfo.VirtualMachinesAllocated) != 2 || *r.Properties.InstanceView.UtilizationInfo.CurrentCapacity != 2 {
		t.Fatalf("reservation instance view: %v %+v", err, r)
	}
	// A full reservation: the next pool fails to allocate, naming the group.
	_, err = ev.createPool("c-rg", "aks1", "gpu3", pool(1, "1"))
	if re := respErr(t, err); re.ErrorCode != "ZonalAllocationFailed" || !strings.Contains(re.Error(), groupID) {
		t.Fatalf("pool on a full reservation: %v", err)
	}
	if _, err := putReservation(rc, "crg-rg", "gpus", "h100-z1", h100, "1", 1); respErr(t, err).ErrorCode != "OperationNotAllowed" {
		t.Fatalf("capacity below the VMs allocated: %v", err)
	}
	p, err := rc.BeginDelete(ctx, "crg-rg", "gpus", "h100-z1", nil)
	if err == nil {
		_, err = p.PollUntilDone(ctx, poll)
	}
	if respErr(t, err).ErrorCode != "OperationNotAllowed" {
		t.Fatalf("delete of a reservation in use: %v", err)
	}
	if _, err := gc.Delete(ctx, "crg-rg", "gpus", nil); respErr(t, err).ErrorCode != "OperationNotAllowed" {
		t.Fatalf("delete of a group with reservations: %v", err)
	}
	if _, err := ev.rg.BeginDelete(ctx, "crg-rg", nil); respErr(t, err).ErrorCode != "ResourceGroupDeletionBlocked" {
		t.Fatalf("delete of a resource group with a capacity reservation group: %v", err)
	}
	for _, name := range []string{"gpu3", "gpu1"} {
		dp, err := ev.ap.BeginDelete(ctx, "c-rg", "aks1", name, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dp.PollUntilDone(ctx, poll); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for allocated(t, gc, "crg-rg", "gpus")["h100-z1"] != 0 {
		if time.Now().After(deadline) {
			t.Fatal("slots not freed after the pools went")
		}
		time.Sleep(10 * time.Millisecond)
	}
	p, err = rc.BeginDelete(ctx, "crg-rg", "gpus", "h100-z1", nil)
	if err == nil {
		_, err = p.PollUntilDone(ctx, poll)
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gc.Delete(ctx, "crg-rg", "gpus", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := gc.Get(ctx, "crg-rg", "gpus", nil); respErr(t, err).ErrorCode != "ResourceNotFound" {
		t.Fatalf("deleted group: %v", err)
	}
}
