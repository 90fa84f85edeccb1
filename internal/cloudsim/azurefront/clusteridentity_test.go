package azurefront

import (
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v8"
)

// testIdentity is a user-assigned managed identity's resource ID.
const testIdentity = "/subscriptions/" + sub + "/resourceGroups/ids/providers/Microsoft.ManagedIdentity/userAssignedIdentities/aks"

// userAssigned is a cluster identity of the user-assigned identities ids.
func userAssigned(ids ...string) *armcontainerservice.ManagedClusterIdentity {
	mi := &armcontainerservice.ManagedClusterIdentity{Type: to.Ptr(armcontainerservice.ResourceIdentityTypeUserAssigned),
		UserAssignedIdentities: map[string]*armcontainerservice.ManagedServiceIdentityUserAssignedIdentitiesValue{}}
	for _, id := range ids {
		mi.UserAssignedIdentities[id] = &armcontainerservice.ManagedServiceIdentityUserAssignedIdentitiesValue{}
	}
	return mi
}

// TestClusterIdentity: a user-assigned identity is reported as ARM does
// (principalId and clientId under userAssignedIdentities, stable per
// identity, distinct between identities, no system principal); malformed
// identities are refused; an update switches a system-assigned cluster
// to a user-assigned identity.
func TestClusterIdentity(t *testing.T) {
	ev := newEnv(t, "")
	ev.createRG("c-rg")
	for _, tt := range []struct {
		name     string
		identity *armcontainerservice.ManagedClusterIdentity
	}{
		{"no identity", userAssigned()},
		{"two identities", userAssigned(testIdentity, testIdentity+"2")},
		{"not an identity ID", userAssigned("/subscriptions/" + sub + "/resourceGroups/ids/providers/Microsoft.Compute/virtualMachines/aks")},
		{"identities with SystemAssigned", func() *armcontainerservice.ManagedClusterIdentity {
			mi := userAssigned(testIdentity)
			mi.Type = to.Ptr(armcontainerservice.ResourceIdentityTypeSystemAssigned)
			return mi
		}()},
		{"type None", &armcontainerservice.ManagedClusterIdentity{Type: to.Ptr(armcontainerservice.ResourceIdentityTypeNone)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ev.mc.BeginCreateOrUpdate(ctx, "c-rg", "bad", armcontainerservice.ManagedCluster{Location: to.Ptr(location), Identity: tt.identity}, nil)
			if re := respErr(t, err); re.ErrorCode != "InvalidParameter" {
				t.Fatalf("got %v, want InvalidParameter", err)
			}
		})
	}

	a := ev.createClusterAs("c-rg", "a", userAssigned(testIdentity))
	b := ev.createClusterAs("c-rg", "b", userAssigned(testIdentity+"2"))
	sys := ev.createCluster("c-rg", "sys")
	ua := a.Identity.UserAssignedIdentities[testIdentity]
	if *a.Identity.Type != armcontainerservice.ResourceIdentityTypeUserAssigned || a.Identity.PrincipalID != nil || ua == nil ||
		ua.PrincipalID == nil || ua.ClientID == nil || *ua.PrincipalID == *ua.ClientID {
		t.Fatalf("user-assigned identity %+v (%+v)", a.Identity, ua)
	}
	if *ua.PrincipalID == *b.Identity.UserAssignedIdentities[testIdentity+"2"].PrincipalID || *ua.PrincipalID == *sys.Identity.PrincipalID {
		t.Fatal("principals of different identities are equal")
	}
	got, err := ev.mc.Get(ctx, "c-rg", "a", nil)
	if err != nil {
		t.Fatal(err)
	}
	if g := got.Identity.UserAssignedIdentities[testIdentity]; g == nil || *g.PrincipalID != *ua.PrincipalID || *g.ClientID != *ua.ClientID {
		t.Fatalf("GET identity %+v, want %+v", got.Identity, ua)
	}
	// The same identity on another cluster is the same principal.
	c := ev.createClusterAs("c-rg", "c", userAssigned(testIdentity))
	if *c.Identity.UserAssignedIdentities[testIdentity].PrincipalID != *ua.PrincipalID {
		t.Fatal("one identity, two principals")
	}
	if *sys.Identity.Type != armcontainerservice.ResourceIdentityTypeSystemAssigned || sys.Identity.PrincipalID == nil {
		t.Fatalf("system-assigned identity %+v", sys.Identity)
	}
	up := ev.createClusterAs("c-rg", "sys", userAssigned(testIdentity))
	if *up.Identity.Type != armcontainerservice.ResourceIdentityTypeUserAssigned || *up.Identity.UserAssignedIdentities[testIdentity].PrincipalID != *ua.PrincipalID {
		t.Fatalf("updated identity %+v", up.Identity)
	}
}
