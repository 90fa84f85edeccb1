package azure

import (
	"strings"
	"testing"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/contract"
)

func TestCheckIdentityID(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/ids/providers/Microsoft.ManagedIdentity/userAssignedIdentities/aks", true},
		{"/subscriptions/s/resourcegroups/ids/providers/microsoft.managedidentity/userassignedidentities/aks", true},
		{"", false},
		{"aks", false},
		{"/subscriptions/s/resourceGroups/ids/providers/Microsoft.Compute/capacityReservationGroups/crg", false},
		{"/subscriptions/s/providers/Microsoft.ManagedIdentity/userAssignedIdentities/aks", false},
		{"/subscriptions/s/resourceGroups/ids/providers/Microsoft.ManagedIdentity/userAssignedIdentities/aks/federatedIdentityCredentials/x", false},
	} {
		err := CheckIdentityID(tc.id)
		if (err == nil) != tc.ok {
			t.Errorf("CheckIdentityID(%q) = %v, want ok %v", tc.id, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), IdentityIDForm) {
			t.Errorf("CheckIdentityID(%q) = %v, want the accepted form", tc.id, err)
		}
	}
}

// TestUserAssignedClusterInNetwork: a cluster in a site network with a
// user-assigned identity gives that identity's principal Network
// Contributor on the VNet (so its pools join the subnets), and deleting
// the cluster revokes it.
func TestUserAssignedClusterInNetwork(t *testing.T) {
	s := newNetSim(t)
	n, err := s.b.EnsureNetwork(ctx, siteSpec("gf-a", "10.20.0.0/16", "1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.b.CreateCluster(ctx, cloud.ClusterSpec{Name: "c1", Region: testRegion, Identity: testIdentity,
		Network: contract.ClusterNetwork(n, "", "10.20.64.0/20")}); err != nil {
		t.Fatal(err)
	}
	principal := userPrincipal(t, s, "c1", testIdentity)
	if c, err := s.b.GetCluster(ctx, testRegion, "c1"); err != nil || !strings.EqualFold(c.Identity, testIdentity) {
		t.Fatalf("GetCluster identity %q (%v), want %s", c.Identity, err, testIdentity)
	}
	grants := func() (all, to int) {
		for _, o := range s.e.Inventory().Objects {
			if o.Kind == "RoleAssignment" && strings.Contains(string(o.Value), networkContributor) {
				all++
				if strings.Contains(string(o.Value), `"`+principal+`"`) {
					to++
				}
			}
		}
		return all, to
	}
	if all, to := grants(); all != 1 || to != 1 {
		t.Fatalf("%d Network Contributor assignments, %d to the user-assigned identity; want 1, 1", all, to)
	}
	if _, err := s.b.CreateNodePool(ctx, gpuPool("c1", "train", "1")); err != nil {
		t.Fatal(err)
	}
	if err := s.b.DeleteNodePool(ctx, testRegion, "c1", "train"); err != nil {
		t.Fatal(err)
	}
	if err := s.b.DeleteCluster(ctx, testRegion, "c1"); err != nil {
		t.Fatal(err)
	}
	if all, _ := grants(); all != 0 {
		t.Fatalf("%d Network Contributor assignments left", all)
	}
}
