package azurefront

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestRedeployRoutes checks the Microsoft.Compute answers on the wire:
// an unknown scale set VM is 404 ResourceNotFound, an operation ID that
// was never handed out 404 NotFound, and a wrong method 405; a redeploy
// through the SDK is tested with the AKS backend.
func TestRedeployRoutes(t *testing.T) {
	ev := newEnv(t, "")
	vm := "/subscriptions/" + sub + "/resourceGroups/MC_rg_c_westeurope/providers/Microsoft.Compute/virtualMachineScaleSets/aks-gpu-12345678-vmss/virtualMachines/0"
	ops := "/subscriptions/" + sub + "/providers/Microsoft.Compute/locations/westeurope/operations/"
	tests := []struct {
		name, method, path string
		status             int
		code               string
	}{
		{"unknown VM", http.MethodPost, vm + "/redeploy", 404, "ResourceNotFound"},
		{"unknown operation", http.MethodGet, ops + "not-an-operation", 404, "NotFound"},
		{"redeploy is a POST", http.MethodGet, vm + "/redeploy", 404, "NotFound"},
		{"operations are read", http.MethodDelete, ops + "18c0000000000000-0123456789ab", 405, "MethodNotAllowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, ev.srv.URL+tt.path+"?api-version=2025-04-01", strings.NewReader("{}"))
			resp, err := ev.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != tt.status || body.Error.Code != tt.code {
				t.Fatalf("%d %+v, want %d %s", resp.StatusCode, body.Error, tt.status, tt.code)
			}
		})
	}
}
