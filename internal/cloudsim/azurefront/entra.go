package azurefront

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// Microsoft Entra ID token endpoint (the v2.0 client credentials flow with
// a federated client assertion), at the authority host, which is this
// server when a client points azcore's ActiveDirectoryAuthorityHost here:
//
//   - GET /{tenant}/v2.0/.well-known/openid-configuration answers the
//     tenant's discovery document (issuer, authorization and token
//     endpoints), which MSAL reads before asking for tokens;
//   - POST /{tenant}/oauth2/v2.0/token with grant_type=client_credentials,
//     client_id, scope and client_assertion_type
//     urn:ietf:params:oauth:client-assertion-type:jwt-bearer answers
//     {"token_type":"Bearer","expires_in":3599,"access_token":...}
//     (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow#third-case-access-token-request-with-a-federated-credential).
//     Errors are Entra's JSON errors: invalid_request (a missing
//     parameter), unsupported_grant_type, invalid_client (an assertion
//     that is no JWT: AADSTS50027), invalid_scope (a scope without the
//     /.default suffix the client credentials flow requires).
//
// Trust (the application's federated identity credentials) is not
// modelled: any well-formed assertion gets a token.

var entraPath = regexp.MustCompile(`^/([^/]+)/(v2\.0/\.well-known/openid-configuration|oauth2/v2\.0/token)$`)

var entraTokens atomic.Int64

// serveEntra serves the Entra ID paths; false for any other path.
func (s *server) serveEntra(w http.ResponseWriter, r *http.Request) bool {
	m := entraPath.FindStringSubmatch(r.URL.Path)
	if m == nil {
		return false
	}
	tenant := m[1]
	base := "https://" + r.Host + "/" + tenant
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if strings.HasPrefix(m[2], "v2.0/") {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": "https://login.microsoftonline.com/" + tenant + "/v2.0", "token_endpoint": base + "/oauth2/v2.0/token",
			"authorization_endpoint": base + "/oauth2/v2.0/authorize", "jwks_uri": base + "/discovery/v2.0/keys",
			"response_types_supported": []string{"code", "id_token", "code id_token", "id_token token"},
			"subject_types_supported":  []string{"pairwise"}, "id_token_signing_alg_values_supported": []string{"RS256"},
			"tenant_region_scope": "EU",
		})
		return true
	}
	fail := func(code, desc string) {
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]any{"error": code, "error_description": desc, "error_codes": []int{}})
	}
	if r.Method != http.MethodPost {
		fail("invalid_request", "AADSTS900561: The endpoint only accepts POST requests.")
		return true
	}
	if err := r.ParseForm(); err != nil {
		fail("invalid_request", err.Error())
		return true
	}
	f := r.PostForm
	switch {
	case f.Get("grant_type") != "client_credentials":
		fail("unsupported_grant_type", fmt.Sprintf("AADSTS70003: The app requested an unsupported grant type %q.", f.Get("grant_type")))
	case f.Get("client_id") == "":
		fail("invalid_request", "AADSTS900144: The request body must contain the following parameter: 'client_id'.")
	case !slices.ContainsFunc(strings.Fields(f.Get("scope")), func(sc string) bool { return strings.HasSuffix(sc, "/.default") }):
		// MSAL adds openid, offline_access and profile, which Entra accepts.
		fail("invalid_scope", fmt.Sprintf("AADSTS1002012: The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.", f.Get("scope")))
	case f.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" || f.Get("client_assertion") == "":
		fail("invalid_request", "AADSTS7000216: 'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.")
	default:
		if _, err := cloudsim.ParseJWT(f.Get("client_assertion")); err != nil {
			fail("invalid_client", "AADSTS50027: JWT token is invalid or malformed: "+err.Error())
			return true
		}
		n := entraTokens.Add(1)
		_ = json.NewEncoder(w).Encode(map[string]any{"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
			"access_token": fmt.Sprintf("simulated-entra-token-%d-%s-%s", n, tenant, f.Get("client_id"))})
	}
	return true
}
