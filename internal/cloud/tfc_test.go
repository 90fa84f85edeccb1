package cloud

import (
	"encoding/base64"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/tfctest"
	"os"
	"path/filepath"
	"testing"
)

func jwt(payload string) string { return tfctest.Claims(payload) }

func TestTFCRunPhase(t *testing.T) {
	for _, tt := range []struct{ name, token, want string }{
		{"claim", jwt(`{"terraform_run_phase":"apply","sub":"organization:acme:project:ml:workspace:fleet:run_phase:plan"}`), "apply"},
		{"subject", jwt(`{"sub":"organization:acme:project:ml:workspace:fleet:run_phase:plan"}`), "plan"},
		{"neither", jwt(`{"sub":"organization:acme"}`), ""},
		{"unknown phase", jwt(`{"terraform_run_phase":"destroy"}`), ""},
		{"no JWT", "not-a-jwt", ""},
		{"payload not base64", "a.%%%.c", ""},
		{"payload not JSON", "a." + base64.RawURLEncoding.EncodeToString([]byte("x")) + ".c", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := TFCRunPhase([]byte(tt.token)); got != tt.want {
				t.Errorf("TFCRunPhase = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestTFCPhaseSetting: the phase-specific variable wins in its phase, the
// RUN one is the fallback (unset phase variable, a token without a phase,
// no token at all), the token file is read as the variable is.
func TestTFCPhaseSetting(t *testing.T) {
	plan, apply := jwt(`{"terraform_run_phase":"plan"}`), jwt(`{"sub":"organization:o:project:p:workspace:w:run_phase:apply"}`)
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte(apply+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	both := map[string]string{"TFC_AWS_RUN_ROLE_ARN": "run", "TFC_AWS_PLAN_ROLE_ARN": "plan", "TFC_AWS_APPLY_ROLE_ARN": "apply"}
	with := func(m map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	for _, tt := range []struct {
		name          string
		env           map[string]string
		want, wantVar string
	}{
		{"plan", with(both, EnvTFCToken, plan), "plan", "TFC_AWS_PLAN_ROLE_ARN"},
		{"apply", with(both, EnvTFCToken, apply), "apply", "TFC_AWS_APPLY_ROLE_ARN"},
		{"apply, token in a file", with(both, EnvTFCTokenPath, file), "apply", "TFC_AWS_APPLY_ROLE_ARN"},
		{"phase variable not set", map[string]string{"TFC_AWS_RUN_ROLE_ARN": "run", "TFC_AWS_APPLY_ROLE_ARN": "apply", EnvTFCToken: plan}, "run", "TFC_AWS_RUN_ROLE_ARN"},
		{"token without a phase", with(both, EnvTFCToken, jwt(`{"sub":"x"}`)), "run", "TFC_AWS_RUN_ROLE_ARN"},
		{"no token", both, "run", "TFC_AWS_RUN_ROLE_ARN"},
		{"nothing set", map[string]string{EnvTFCToken: plan}, "", "TFC_AWS_RUN_ROLE_ARN"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, v := TFCPhaseSetting(func(k string) string { return tt.env[k] }, "AWS", "ROLE_ARN")
			if got != tt.want || v != tt.wantVar {
				t.Errorf("TFCPhaseSetting = %q from %s, want %q from %s", got, v, tt.want, tt.wantVar)
			}
		})
	}
}
