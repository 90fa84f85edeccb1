package azurefront

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	gcloud "github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// grant PUTs a role assignment at scope and returns the status and error
// code.
func (ev *env) grant(t *testing.T, scope, name, principal, role string) (int, string) {
	t.Helper()
	body := `{"properties":{"roleDefinitionId":"/subscriptions/` + sub + `/providers/Microsoft.Authorization/roleDefinitions/` + role +
		`","principalId":"` + principal + `","principalType":"ServicePrincipal"}}`
	req, err := http.NewRequest(http.MethodPut, ev.srv.URL+scope+"/providers/Microsoft.Authorization/roleAssignments/"+name+"?api-version=2022-04-01",
		strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer token")
	resp, err := ev.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out.Error.Code
}

// TestNetworkRole: a cluster in a bring-your-own VNet takes no agent pool
// in a subnet until its identity holds Network Contributor (or Contributor
// / Owner) over the subnet (403 LinkedAuthorizationFailed); a Reader
// assignment or one on another VNet does not count, and assignments are
// idempotent by name and unique by (scope, principal, role).
func TestNetworkRole(t *testing.T) {
	ev := newEnv(t, "")
	ev.createRG("c-rg")
	ev.createRG("net-rg")
	site := ev.vnetIn("net-rg", "site", "10.20.0.0/16", 2)
	other := ev.vnetIn("net-rg", "other", "10.30.0.0/16", 1)
	nodes1, nodes2 := site+"/subnets/nodes-1", site+"/subnets/nodes-2"
	mc, err := ev.putCluster("c-rg", "byo", byoCluster("10.20.64.0/20", "", systemProfile("system", nodes1)))
	if err != nil {
		t.Fatal(err)
	}
	principal := *mc.Identity.PrincipalID
	pool := gpuPool(1, []string{"2"}, false)
	pool.Properties.VnetSubnetID = &nodes2
	refused := func(why string) {
		t.Helper()
		_, err := ev.createPool("c-rg", "byo", "gpu", pool)
		if re := respErr(t, err); re.StatusCode != 403 || re.ErrorCode != "LinkedAuthorizationFailed" || !strings.Contains(re.Error(), "subnets/join/action") {
			t.Fatalf("%s: %v", why, err)
		}
	}
	refused("no role")
	const reader, networkContributor = "acdd72a7-3385-48ef-bd42-f606fba81ae7", "4d97b98b-1d4f-4787-a291-c67834d212e7"
	if st, code := ev.grant(t, site, "11111111-1111-4111-a111-111111111111", principal, reader); st != 201 {
		t.Fatalf("reader: %d %s", st, code)
	}
	refused("reader on the VNet")
	if st, code := ev.grant(t, other, "22222222-2222-4222-a222-222222222222", principal, networkContributor); st != 201 {
		t.Fatalf("other VNet: %d %s", st, code)
	}
	refused("role on another VNet")
	other2, err := ev.putCluster("c-rg", "byo2", byoCluster("10.20.80.0/20", "", systemProfile("system", nodes1)))
	if err != nil {
		t.Fatal(err)
	}
	if st, code := ev.grant(t, site, "33333333-3333-4333-a333-333333333333", *other2.Identity.PrincipalID, networkContributor); st != 201 {
		t.Fatalf("another cluster: %d %s", st, code)
	}
	refused("another cluster's identity")
	for i, want := range []struct {
		name string
		st   int
		code string
	}{{"44444444-4444-4444-a444-444444444444", 201, ""}, {"44444444-4444-4444-a444-444444444444", 201, ""}, {"55555555-5555-4555-a555-555555555555", 409, "RoleAssignmentExists"}} {
		if st, code := ev.grant(t, site, want.name, principal, networkContributor); st != want.st || code != want.code {
			t.Fatalf("grant %d: %d %s, want %d %s", i, st, code, want.st, want.code)
		}
	}
	if _, err := ev.createPool("c-rg", "byo", "gpu", pool); err != nil {
		t.Fatalf("with Network Contributor on the VNet: %v", err)
	}
}

// TestRoleAssignmentNotPersisted: a role assignment the engine cannot
// keep, or cannot delete, fails the request (500 InternalServerError)
// instead of answering success.
func TestRoleAssignmentNotPersisted(t *testing.T) {
	ev := newEnv(t, "")
	ev.createRG("rg")
	scope := "/subscriptions/" + sub + "/resourceGroups/rg"
	const name, principal, role = "66666666-6666-4666-a666-666666666666", "77777777-7777-4777-a777-777777777777", "4d97b98b-1d4f-4787-a291-c67834d212e7"
	fatal := func(op string) cloudsim.Fault {
		return cloudsim.Fault{Cloud: "azure", Op: op, Err: &gcloud.Error{Kind: gcloud.KindFatal, Message: "disk full"}}
	}
	if err := ev.e.Inject(fatal("CreateRoleAssignment")); err != nil {
		t.Fatal(err)
	}
	if st, code := ev.grant(t, scope, name, principal, role); st != 500 || code != "InternalServerError" {
		t.Fatalf("grant with the record failing: %d %s, want 500 InternalServerError", st, code)
	}
	if st, code := ev.grant(t, scope, name, principal, role); st != 201 {
		t.Fatalf("grant: %d %s", st, code)
	}
	if err := ev.e.Inject(fatal("DeleteRoleAssignment")); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodDelete, ev.srv.URL+scope+"/providers/Microsoft.Authorization/roleAssignments/"+name+"?api-version=2022-04-01", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer token")
	resp, err := ev.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 500 {
		t.Fatalf("delete with the record failing: %d, want 500", resp.StatusCode)
	}
}
