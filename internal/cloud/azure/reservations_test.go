package azure

import (
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v3"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
)

func TestReservationGroupID(t *testing.T) {
	full := "/subscriptions/" + testSub + "/resourceGroups/crg.rg/providers/Microsoft.Compute/capacityReservationGroups/gpus"
	for _, tt := range []struct {
		in, want string
		ok       bool
	}{
		{"crg.rg:gpus", full, true},
		{full, full, true},
		{"gpus", "", false},
		{":gpus", "", false},
		{"rg:", "", false},
		{"/subscriptions/" + testSub + "/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v", "", false},
	} {
		got, err := ReservationGroupID(testSub, tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ReservationGroupID(%q) = %q, %v; want %q (ok %v)", tt.in, got, err, tt.want, tt.ok)
		}
	}
	if k := ReservationKey(full); k != "crg.rg:gpus" {
		t.Fatalf("ReservationKey = %q", k)
	}
	if id, _ := ReservationGroupID(testSub, ReservationKey(full)); id != full {
		t.Fatalf("round trip %q", id)
	}
}

// reservationSim is a simulated subscription with a capacity reservation
// group crg-rg/gpus (zone 1) holding 3 H100 VMs in zone 1, and a cluster.
func reservationSim(t *testing.T) *netSim {
	s := newNetSim(t)
	if _, err := s.b.groups.CreateOrUpdate(ctx, "crg-rg", armresources.ResourceGroup{Location: to.Ptr(testRegion)}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.b.res.Groups.CreateOrUpdate(ctx, "crg-rg", "gpus", armcompute.CapacityReservationGroup{Location: to.Ptr(testRegion),
		Zones: []*string{to.Ptr("1"), to.Ptr("2")}}, nil); err != nil {
		t.Fatal(err)
	}
	p, err := s.b.res.Reservations.BeginCreateOrUpdate(ctx, "crg-rg", "gpus", "h100-z1", armcompute.CapacityReservation{Location: to.Ptr(testRegion),
		SKU: &armcompute.SKU{Name: to.Ptr("Standard_ND96isr_H100_v5"), Capacity: to.Ptr[int64](3)}, Zones: []*string{to.Ptr("1")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.PollUntilDone(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.b.CreateCluster(ctx, cloud.ClusterSpec{Name: "c1", Region: testRegion, KubernetesVersion: "1.33", PublicEndpoint: true,
		Identity: testIdentity}); err != nil {
		t.Fatal(err)
	}
	return s
}

// testIdentity is the user-assigned identity of reservationSim's cluster.
const testIdentity = "/subscriptions/" + testSub + "/resourceGroups/ids/providers/Microsoft.ManagedIdentity/userAssignedIdentities/aks"

func reservedPool(name, zone string, nodes int) cloud.NodePoolSpec {
	spec := gpuPool("c1", name, zone)
	spec.CapacityType, spec.Nodes, spec.Reservation = "reserved", nodes, &cloud.Reservation{ID: "crg-rg:gpus"}
	return spec
}

// allocatedIn is the VMs allocated in reservation h100-z1.
func allocatedIn(t *testing.T, s *netSim) int {
	t.Helper()
	rs, err := s.b.res.ReservationGroup(ctx, "/subscriptions/"+testSub+"/resourceGroups/crg-rg/providers/Microsoft.Compute/capacityReservationGroups/gpus")
	if err != nil || len(rs) != 1 {
		t.Fatalf("reservation group: %v %+v", err, rs)
	}
	return rs[0].Allocated
}

// contributorGrants counts the Contributor assignments on crg-rg, and
// those of them to principal.
func contributorGrants(s *netSim, principal string) (all, to int) {
	for _, o := range s.e.Inventory().Objects {
		if o.Kind == "RoleAssignment" && strings.Contains(string(o.Value), "/resourceGroups/crg-rg\"") && strings.Contains(string(o.Value), contributor) {
			all++
			if strings.Contains(string(o.Value), `"`+principal+`"`) {
				to++
			}
		}
	}
	return all, to
}

// userPrincipal is the principal ID of cluster's user-assigned identity
// id, as the managed cluster GET reports it.
func userPrincipal(t *testing.T, s *netSim, cluster, id string) string {
	t.Helper()
	mc, err := s.b.clusters.Get(ctx, resourceGroup(cluster), cluster, nil)
	if err != nil {
		t.Fatal(err)
	}
	if mc.Identity == nil || mc.Identity.UserAssignedIdentities[id] == nil || mc.Identity.UserAssignedIdentities[id].PrincipalID == nil {
		t.Fatalf("cluster %s reports no user-assigned identity %s: %+v", cluster, id, mc.Identity)
	}
	return *mc.Identity.UserAssignedIdentities[id].PrincipalID
}

// TestReservedPoolRefused: pools the group cannot serve, and kinds Azure
// does not have, are refused before anything is created.
func TestReservedPoolRefused(t *testing.T) {
	s := reservationSim(t)
	wrongSize := reservedPool("a100", "1", 1)
	wrongSize.InstanceType = "Standard_NC24ads_A100_v4"
	if _, err := s.b.res.Groups.CreateOrUpdate(ctx, "crg-rg", "empty", armcompute.CapacityReservationGroup{Location: to.Ptr(testRegion)}, nil); err != nil {
		t.Fatal(err)
	}
	empty := reservedPool("empty", "", 1)
	empty.Reservation.ID = "crg-rg:empty"
	noID := reservedPool("noid", "1", 1)
	noID.Reservation = nil
	for _, tt := range []struct {
		name string
		spec cloud.NodePoolSpec
		kind cloud.Kind
		says []string
	}{
		{"capacity block", func() cloud.NodePoolSpec {
			s := reservedPool("cb", "1", 1)
			s.CapacityType = "capacity_block"
			return s
		}(), cloud.KindInvalid, []string{"capacity_block"}},
		{"flex start", func() cloud.NodePoolSpec { s := gpuPool("c1", "fs", "1"); s.CapacityType = "flex_start"; return s }(), cloud.KindInvalid, []string{"flex_start"}},
		{"calendar", func() cloud.NodePoolSpec { s := reservedPool("cal", "1", 1); s.CapacityType = "calendar"; return s }(), cloud.KindInvalid, []string{"calendar"}},
		{"no group", noID, cloud.KindInvalid, []string{"names no capacity reservation group"}},
		{"bad group", func() cloud.NodePoolSpec { s := reservedPool("bad", "1", 1); s.Reservation.ID = "gpus"; return s }(), cloud.KindInvalid, []string{"resourceGroup:groupName"}},
		{"wrong VM size", wrongSize, cloud.KindInvalid, []string{"crg-rg:gpus", "Standard_NC24ads_A100_v4", "h100-z1"}},
		{"wrong zone", reservedPool("z2", "2", 1), cloud.KindInvalid, []string{"crg-rg:gpus", `zone "2"`}},
		{"group without reservations", empty, cloud.KindInvalid, []string{"crg-rg:empty", "it has none"}},
		{"more than reserved", reservedPool("big", "1", 4), cloud.KindCapacity, []string{"crg-rg:gpus", "3 of 3"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.b.CreateNodePool(ctx, tt.spec)
			if cloud.KindOf(err) != tt.kind {
				t.Fatalf("error %v (kind %v), want kind %v", err, cloud.KindOf(err), tt.kind)
			}
			for _, w := range tt.says {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if _, ok := s.e.LookupPool("azure", testRegion, "c1", agentPoolName(tt.spec.Name)); ok {
				t.Fatal("a pool was created")
			}
		})
	}
	if n, _ := contributorGrants(s, ""); n != 0 {
		t.Fatalf("%d role assignments for refused pools", n)
	}
}

// TestReservedPoolConsumesGroup: a reserved pool takes slots of the
// group's reservation (one per node), reads back as reserved on it, is
// idempotent, scales within the free slots; a pool or scale-up beyond
// them is a capacity error naming the group; deleting the pool frees its
// slots and the cluster identity's role on the group's resource group.
func TestReservedPoolConsumesGroup(t *testing.T) {
	s := reservationSim(t)
	spec := reservedPool("train", "1", 2)
	p, err := s.b.CreateNodePool(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	want := "/subscriptions/" + testSub + "/resourceGroups/crg-rg/providers/Microsoft.Compute/capacityReservationGroups/gpus"
	if p.Status != cloud.StatusActive || p.Spec.CapacityType != "reserved" || p.Spec.Reservation == nil || p.Spec.Reservation.ID != want {
		t.Fatalf("pool %+v reservation %+v, want active, reserved on %s", p, p.Spec.Reservation, want)
	}
	if got := allocatedIn(t, s); got != 2 {
		t.Fatalf("allocated %d, want 2", got)
	}
	if n, to := contributorGrants(s, userPrincipal(t, s, "c1", testIdentity)); n != 1 || to != 1 {
		t.Fatalf("%d Contributor assignments on crg-rg, %d to the user-assigned identity; want 1, 1", n, to)
	}
	if _, err := s.b.CreateNodePool(ctx, spec); err != nil {
		t.Fatalf("retried create: %v", err)
	}
	// The fleet's next offer on the same group: one slot is left.
	if _, err := s.b.CreateNodePool(ctx, reservedPool("more", "1", 2)); !cloud.IsCapacity(err) || !strings.Contains(err.Error(), "crg-rg:gpus") {
		t.Fatalf("second pool: %v, want a capacity error naming crg-rg:gpus", err)
	}
	for _, tt := range []struct {
		nodes     int
		capacity  bool
		allocated int
	}{{3, false, 3}, {4, true, 3}, {1, false, 1}} {
		n := tt.nodes
		_, err := s.b.UpdateNodePool(ctx, testRegion, "c1", "train", cloud.NodePoolUpdate{Nodes: &n})
		if cloud.IsCapacity(err) != tt.capacity || (err != nil && !tt.capacity) {
			t.Fatalf("scale to %d: %v", n, err)
		}
		if got := allocatedIn(t, s); got != tt.allocated {
			t.Fatalf("after scaling to %d: allocated %d, want %d", n, got, tt.allocated)
		}
	}
	if err := s.b.DeleteNodePool(ctx, testRegion, "c1", "train"); err != nil {
		t.Fatal(err)
	}
	if got := allocatedIn(t, s); got != 0 {
		t.Fatalf("allocated %d after delete, want 0", got)
	}
	if n, _ := contributorGrants(s, ""); n != 0 {
		t.Fatalf("%d Contributor assignments left on crg-rg", n)
	}
}

// TestReservedPoolNeedsUserAssignedIdentity: on a cluster with a
// system-assigned identity a reserved pool is refused before anything is
// created (no pool, no role assignment), saying what to set; a cluster
// with a malformed identity ID is refused before its resource group.
func TestReservedPoolNeedsUserAssignedIdentity(t *testing.T) {
	s := reservationSim(t)
	if _, err := s.b.CreateCluster(ctx, cloud.ClusterSpec{Name: "sys", Region: testRegion, KubernetesVersion: "1.33", PublicEndpoint: true}); err != nil {
		t.Fatal(err)
	}
	if c, err := s.b.GetCluster(ctx, testRegion, "sys"); err != nil || c.Identity != "" {
		t.Fatalf("GetCluster identity %q (%v), want none", c.Identity, err)
	}
	spec := reservedPool("train", "1", 1)
	spec.Cluster = "sys"
	_, err := s.b.CreateNodePool(ctx, spec)
	if cloud.KindOf(err) != cloud.KindInvalid {
		t.Fatalf("error %v (kind %v), want KindInvalid", err, cloud.KindOf(err))
	}
	for _, w := range []string{"system-assigned", "azure.user_assigned_identity_id", "gpufleet_cluster", IdentityIDForm,
		"https://learn.microsoft.com/azure/aks/use-capacity-reservation-groups"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
	if _, ok := s.e.LookupPool("azure", testRegion, "sys", agentPoolName(spec.Name)); ok {
		t.Fatal("a pool was created")
	}
	if n, _ := contributorGrants(s, ""); n != 0 {
		t.Fatalf("%d role assignments for a refused pool", n)
	}
	if got := allocatedIn(t, s); got != 0 {
		t.Fatalf("allocated %d, want 0", got)
	}

	_, err = s.b.CreateCluster(ctx, cloud.ClusterSpec{Name: "bad", Region: testRegion, Identity: "aks"})
	if cloud.KindOf(err) != cloud.KindInvalid || !strings.Contains(err.Error(), IdentityIDForm) {
		t.Fatalf("cluster with identity %q: %v, want KindInvalid naming the form", "aks", err)
	}
	if _, err := s.b.groups.Get(ctx, resourceGroup("bad"), nil); err == nil {
		t.Fatal("the refused cluster's resource group was created")
	}
}
