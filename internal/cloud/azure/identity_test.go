package azure

import (
	"strings"
	"testing"
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
