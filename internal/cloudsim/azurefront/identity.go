package azurefront

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// What azure-cli needs before it calls Resource Manager, served on the
// same TLS listener so that a registered custom cloud
// (az cloud register --endpoint-resource-manager https://127.0.0.1:PORT/)
// finds everything here:
//
//   - GET /metadata/endpoints?api-version=2015-01-01: the cloud's
//     endpoints in the Azure Stack form that az cloud register reads
//     (galleryEndpoint, graphEndpoint, portalEndpoint, authentication
//     {loginEndpoint, audiences}; msrestazure's
//     _populate_from_metadata_endpoint,
//     https://learn.microsoft.com/en-us/azure-stack/user/azure-stack-rest-api-use#get-the-endpoints);
//     api-version 2019-05-01 and later answer the list of clouds that
//     ARM_CLOUD_METADATA_URL reads (name, resourceManager, authentication
//     {loginEndpoint, audiences, tenant, identityProvider}, suffixes).
//     The login endpoint is https://host/adfs: MSAL treats an AD FS
//     authority as known to the developer and does no instance discovery
//     (which would ask login.microsoftonline.com).
//   - Entra ID (AD FS form) for a service principal:
//     GET /adfs/.well-known/openid-configuration and
//     POST /adfs/oauth2/token (client credentials: any client ID and
//     secret), also under /{tenant}/v2.0/.well-known/openid-configuration
//     and /{tenant}/oauth2/v2.0/token, where a federated client assertion
//     (client_assertion_type
//     urn:ietf:params:oauth:client-assertion-type:jwt-bearer: Terraform
//     Cloud's workload identity token) may take the secret's place
//     (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow#third-case-access-token-request-with-a-federated-credential).
//     Errors are Entra's JSON errors: invalid_request (a missing
//     parameter), unsupported_grant_type, invalid_client (no secret or
//     assertion, or an assertion that is no JWT: AADSTS50027),
//     invalid_scope (a v2.0 scope without the /.default suffix the client
//     credentials flow requires). Trust (the application's federated
//     identity credentials) is not modelled: any well-formed assertion
//     gets a token. The access token is an unsigned JWT naming the client
//     (appid, oid) and the tenant, valid one hour
//     (https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow#successful-response);
//     Resource Manager does not check it, like the rest of this front end.
//   - GET /subscriptions and GET /tenants: the one simulated subscription
//     (Options.SubscriptionID, else DefaultSubscription) in tenant
//     DefaultTenant, which az login lists
//     (https://learn.microsoft.com/en-us/rest/api/resources/subscriptions/list,
//     https://learn.microsoft.com/en-us/rest/api/resources/tenants/list).

// DefaultTenant is the simulated Entra ID tenant: the subscription's, the
// one cluster identities and Entra ID kubeconfigs name.
const DefaultTenant = subscriptionTenant

// DefaultSubscription is the subscription listed when Options names none.
const DefaultSubscription = "00000000-0000-0000-0000-000000000000"

// managementAudience is the Resource Manager token audience of the
// public cloud, which azure-cli asks tokens for.
const managementAudience = "https://management.core.windows.net/"

// serveIdentity answers the metadata, Entra ID, subscription and tenant
// paths; ok is false for every other path.
func (s *server) serveIdentity(w http.ResponseWriter, r *http.Request) (ok bool) {
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	base := "https://" + r.Host
	if r.TLS == nil {
		base = "http://" + r.Host
	}
	get := r.Method == http.MethodGet
	switch {
	case get && len(segs) == 2 && strings.EqualFold(segs[0], "metadata") && strings.EqualFold(segs[1], "endpoints"):
		writeIdentityJSON(w, http.StatusOK, s.metadata(base, r.URL.Query().Get("api-version")))
	case get && len(segs) == 3 && segs[0] == "adfs" && segs[1] == ".well-known" && segs[2] == "openid-configuration":
		writeIdentityJSON(w, http.StatusOK, openIDConfig(base+"/adfs", base+"/adfs/oauth2/token", base+"/adfs"))
	case get && len(segs) == 4 && segs[1] == "v2.0" && segs[2] == ".well-known" && segs[3] == "openid-configuration":
		writeIdentityJSON(w, http.StatusOK, openIDConfig(base+"/"+segs[0]+"/oauth2/v2.0/authorize", base+"/"+segs[0]+"/oauth2/v2.0/token",
			base+"/"+segs[0]+"/v2.0"))
	case r.Method == http.MethodPost && len(segs) == 3 && segs[0] == "adfs" && segs[1] == "oauth2" && segs[2] == "token":
		s.token(w, r, DefaultTenant, false)
	case r.Method == http.MethodPost && len(segs) == 4 && segs[1] == "oauth2" && segs[2] == "v2.0" && segs[3] == "token":
		s.token(w, r, segs[0], true)
	case get && len(segs) == 1 && strings.EqualFold(segs[0], "subscriptions"):
		writeIdentityJSON(w, http.StatusOK, map[string]any{"value": []any{s.subscription()}})
	case get && len(segs) == 2 && strings.EqualFold(segs[0], "subscriptions") && strings.EqualFold(segs[1], s.subscriptionID()):
		writeIdentityJSON(w, http.StatusOK, s.subscription())
	case get && len(segs) == 1 && strings.EqualFold(segs[0], "tenants"):
		writeIdentityJSON(w, http.StatusOK, map[string]any{"value": []any{map[string]any{
			"id": "/tenants/" + DefaultTenant, "tenantId": DefaultTenant, "tenantCategory": "Home",
			"displayName": "gpufleet simulated tenant", "defaultDomain": "gpufleet-sim.onmicrosoft.com"}}})
	default:
		return false
	}
	return true
}

func (s *server) subscriptionID() string {
	if s.opts.SubscriptionID != "" {
		return s.opts.SubscriptionID
	}
	return DefaultSubscription
}

func (s *server) subscription() map[string]any {
	id := s.subscriptionID()
	return map[string]any{"id": "/subscriptions/" + id, "subscriptionId": id, "tenantId": DefaultTenant,
		"displayName": "gpufleet simulated subscription", "state": "Enabled", "authorizationSource": "RoleBased",
		"subscriptionPolicies": map[string]any{"locationPlacementId": "Public_2014-09-01", "quotaId": "PayAsYouGo_2014-09-01", "spendingLimit": "Off"}}
}

// metadata is the cloud's endpoint document for api-version v.
func (s *server) metadata(base, v string) any {
	login := base + "/adfs"
	if v == "" || v < "2019-05-01" {
		return map[string]any{"galleryEndpoint": base + "/", "graphEndpoint": base + "/", "portalEndpoint": base + "/",
			"authentication": map[string]any{"loginEndpoint": login, "audiences": []string{managementAudience}}}
	}
	return []any{map[string]any{"name": "GpufleetSim", "resourceManager": base + "/", "portal": base + "/", "gallery": base + "/",
		"graph": base + "/", "graphAudience": base + "/", "microsoftGraphResourceId": base + "/",
		"authentication": map[string]any{"loginEndpoint": login, "audiences": []string{managementAudience},
			"tenant": "adfs", "identityProvider": "ADFS"},
		"suffixes": map[string]any{"storage": "core.cloudsim.invalid", "keyVaultDns": "vault.cloudsim.invalid",
			"acrLoginServer": "azurecr.cloudsim.invalid", "sqlServerHostname": "database.cloudsim.invalid"}}}
}

func openIDConfig(authorize, token, issuer string) map[string]any {
	return map[string]any{"authorization_endpoint": authorize, "token_endpoint": token, "issuer": issuer,
		"response_types_supported": []string{"code", "id_token", "token"}, "subject_types_supported": []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"}, "scopes_supported": []string{"openid"},
		"grant_types_supported": []string{"client_credentials", "authorization_code", "refresh_token"}}
}

// token answers a client-credentials grant for tenant (v2: the v2.0
// endpoint, which requires a /.default scope); other grants are refused as
// Entra ID refuses an unsupported grant (400 unsupported_grant_type).
func (s *server) token(w http.ResponseWriter, r *http.Request, tenant string, v2 bool) {
	fail := func(code, desc string) {
		writeIdentityJSON(w, http.StatusBadRequest, map[string]any{"error": code, "error_description": desc, "error_codes": []int{}})
	}
	if err := r.ParseForm(); err != nil {
		fail("invalid_request", err.Error())
		return
	}
	f := r.PostForm
	client, assertion := f.Get("client_id"), f.Get("client_assertion")
	switch g := f.Get("grant_type"); {
	case g != "client_credentials":
		fail("unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type '"+g+
			"'. cloudsim issues client-credentials tokens only (az login --service-principal, federated credentials).")
		return
	case client == "":
		fail("invalid_request", "AADSTS900144: The request body must contain the following parameter: 'client_id'.")
		return
	case v2 && !slices.ContainsFunc(strings.Fields(f.Get("scope")), func(sc string) bool { return strings.HasSuffix(sc, "/.default") }):
		// MSAL adds openid, offline_access and profile, which Entra accepts.
		fail("invalid_scope", fmt.Sprintf("AADSTS1002012: The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.", f.Get("scope")))
		return
	case f.Get("client_secret") == "" && (assertion == "" || f.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"):
		fail("invalid_client", "AADSTS7000216: 'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.")
		return
	}
	if assertion != "" {
		if _, err := cloudsim.ParseJWT(assertion); err != nil {
			fail("invalid_client", "AADSTS50027: JWT token is invalid or malformed: "+err.Error())
			return
		}
	}
	now := s.now()
	claims, _ := json.Marshal(map[string]any{"aud": managementAudience, "iss": "https://sts.windows.net/" + tenant + "/",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(), "appid": client, "oid": client, "sub": client,
		"tid": tenant, "idtyp": "app"})
	enc := base64.RawURLEncoding
	tok := enc.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc.EncodeToString(claims) + "."
	writeIdentityJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
		"access_token": tok})
}

func writeIdentityJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
