package computefront

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// Google workload identity federation, the two calls behind
// external-account credentials (Terraform Cloud dynamic provider
// credentials among them):
//
//   - the Security Token Service's token exchange, POST /v1/token
//     (https://cloud.google.com/iam/docs/reference/sts/rest/v1/TopLevel/token):
//     grant_type urn:ietf:params:oauth:grant-type:token-exchange, audience
//     //iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/P/providers/Q,
//     subject_token_type urn:ietf:params:oauth:token-type:jwt and the
//     subject_token (a JWT) give a federated access token;
//   - IAM Credentials' generateAccessToken,
//     POST /v1/projects/-/serviceAccounts/EMAIL:generateAccessToken
//     (https://cloud.google.com/iam/docs/reference/credentials/rest/v1/projects.serviceAccounts/generateAccessToken),
//     with the federated token as bearer and a scope list, gives the
//     service account's access token {"accessToken","expireTime"}.
//
// Errors are Google's OAuth (STS: invalid_request, invalid_grant,
// unsupported_grant_type) and JSON API errors (IAM: 401 UNAUTHENTICATED,
// 400 INVALID_ARGUMENT). Trust (pool provider conditions,
// roles/iam.workloadIdentityUser) is not modelled.

var (
	audiencePattern = regexp.MustCompile(`^//iam\.googleapis\.com/projects/\d+/locations/global/workloadIdentityPools/[a-z0-9-]{4,32}/providers/[a-z0-9-]{4,32}$`)
	generatePath    = regexp.MustCompile(`^/v1/projects/-/serviceAccounts/([^/:]+@[^/:]+):generateAccessToken$`)
	authTokens      atomic.Int64
)

// serveAuth serves the STS and IAM Credentials paths; false for others.
func (s *server) serveAuth(w http.ResponseWriter, r *http.Request) bool {
	switch {
	case r.URL.Path == "/v1/token" && r.Method == http.MethodPost:
		s.stsToken(w, r)
	case generatePath.MatchString(r.URL.Path) && r.Method == http.MethodPost:
		s.generateAccessToken(w, r, generatePath.FindStringSubmatch(r.URL.Path)[1])
	default:
		return false
	}
	return true
}

func (s *server) stsToken(w http.ResponseWriter, r *http.Request) {
	fail := func(code, desc string) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": code, "error_description": desc})
	}
	if err := r.ParseForm(); err != nil {
		fail("invalid_request", err.Error())
		return
	}
	f := r.PostForm
	switch {
	case f.Get("grant_type") != "urn:ietf:params:oauth:grant-type:token-exchange":
		fail("unsupported_grant_type", fmt.Sprintf("Unsupported grant type %q", f.Get("grant_type")))
	case !audiencePattern.MatchString(f.Get("audience")):
		fail("invalid_request", fmt.Sprintf("Invalid value for \"audience\": %q is not //iam.googleapis.com/projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/<provider>", f.Get("audience")))
	case f.Get("subject_token_type") != "urn:ietf:params:oauth:token-type:jwt" && f.Get("subject_token_type") != "urn:ietf:params:oauth:token-type:id_token":
		fail("invalid_request", fmt.Sprintf("Invalid value for \"subject_token_type\": %q", f.Get("subject_token_type")))
	default:
		if _, err := cloudsim.ParseJWT(f.Get("subject_token")); err != nil {
			fail("invalid_grant", "The subject token is invalid: "+err.Error())
			return
		}
		n := authTokens.Add(1)
		writeJSON(w, http.StatusOK, map[string]any{"access_token": fmt.Sprintf("simulated-federated-%d", n),
			"issued_token_type": "urn:ietf:params:oauth:token-type:access_token", "token_type": "Bearer", "expires_in": 3600})
	}
}

func (s *server) generateAccessToken(w http.ResponseWriter, r *http.Request, email string) {
	fail := func(status int, st, msg string) {
		writeJSON(w, status, map[string]any{"error": map[string]any{"code": status, "status": st, "message": msg}})
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer simulated-federated-") {
		fail(http.StatusUnauthorized, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access token.")
		return
	}
	var body struct {
		Scope    []string `json:"scope"`
		Lifetime string   `json:"lifetime"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || len(body.Scope) == 0 {
		fail(http.StatusBadRequest, "INVALID_ARGUMENT", "Scope is required.")
		return
	}
	n := authTokens.Add(1)
	writeJSON(w, http.StatusOK, map[string]string{"accessToken": fmt.Sprintf("simulated-sa-token-%d-%s", n, email),
		"expireTime": s.opts.Clock.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
}
