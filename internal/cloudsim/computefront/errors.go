package computefront

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
)

// apiError is a Google API error as Compute Engine answers it.
type apiError struct {
	Code    int
	Reason  string
	Message string
	Domain  string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Code, e.Reason, e.Message) }

func invalidf(format string, args ...any) error {
	return &apiError{Code: http.StatusBadRequest, Reason: "invalid", Message: fmt.Sprintf(format, args...)}
}

// invalidField is GCE's wording for a bad field value.
func invalidField(field, value, why string) error {
	return invalidf("Invalid value for field '%s': '%s'. %s", field, value, why)
}

func notFoundf(_ string, format string, args ...any) error {
	return &apiError{Code: http.StatusNotFound, Reason: "notFound", Message: fmt.Sprintf(format, args...)}
}

// notFound is GCE's answer for a missing resource (relative path).
func notFound(path string) error {
	return notFoundf(path, "The resource '%s' was not found", path)
}

func alreadyExists(path string) error {
	return &apiError{Code: http.StatusConflict, Reason: "alreadyExists", Message: fmt.Sprintf("The resource '%s' already exists", path)}
}

// inUse is GCE's answer to deleting a resource another one uses.
func inUse(kindLabel, path, user string) error {
	return &apiError{Code: http.StatusBadRequest, Reason: "resourceInUseByAnotherResource",
		Message: fmt.Sprintf("The %s resource '%s' is already being used by '%s'", kindLabel, path, user)}
}

// engineError maps an engine error to the API error GCE would answer
// (see the package documentation). insert tells a create, where a
// conflict means the name is taken.
func engineError(err error, path string, insert bool) error {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var ce *cloud.Error
	if !errors.As(err, &ce) {
		return &apiError{Code: http.StatusInternalServerError, Reason: "internalError", Message: "Internal error: " + err.Error()}
	}
	switch ce.Kind {
	case cloud.KindNotFound:
		return notFound(path)
	case cloud.KindConflict:
		if insert {
			return alreadyExists(path)
		}
		return &apiError{Code: http.StatusBadRequest, Reason: "resourceInUseByAnotherResource",
			Message: fmt.Sprintf("The resource '%s' is in use or not ready: %s", path, ce.Message)}
	case cloud.KindInvalid:
		return invalidf("%s", ce.Message)
	case cloud.KindThrottled:
		return &apiError{Code: http.StatusTooManyRequests, Reason: "rateLimitExceeded", Domain: "usageLimits",
			Message: "Rate Limit Exceeded: " + ce.Message}
	case cloud.KindTransient:
		return &apiError{Code: http.StatusServiceUnavailable, Reason: "backendError",
			Message: "Internal error. Please try again or contact Google Support. " + ce.Message}
	case cloud.KindQuota:
		return &apiError{Code: http.StatusForbidden, Reason: "quotaExceeded", Domain: "usageLimits",
			Message: "QUOTA_EXCEEDED: " + ce.Message}
	case cloud.KindCapacity:
		return &apiError{Code: http.StatusServiceUnavailable, Reason: "ZONE_RESOURCE_POOL_EXHAUSTED",
			Message: "ZONE_RESOURCE_POOL_EXHAUSTED: " + ce.Message}
	}
	return &apiError{Code: http.StatusInternalServerError, Reason: "internalError", Message: "Internal error: " + ce.Message}
}

type errorItem struct {
	Message string `json:"message"`
	Domain  string `json:"domain"`
	Reason  string `json:"reason"`
}

type errorBody struct {
	Error struct {
		Code    int         `json:"code"`
		Message string      `json:"message"`
		Errors  []errorItem `json:"errors"`
	} `json:"error"`
}

// writeError answers err as a Google JSON error.
func writeError(w http.ResponseWriter, err error) {
	ae, ok := err.(*apiError)
	if !ok {
		ae = engineError(err, "", false).(*apiError)
	}
	var b errorBody
	b.Error.Code, b.Error.Message = ae.Code, ae.Message
	domain := ae.Domain
	if domain == "" {
		domain = "global"
	}
	b.Error.Errors = []errorItem{{Message: ae.Message, Domain: domain, Reason: ae.Reason}}
	if ae.Code == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, ae.Code, b)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	var data []byte
	switch v := v.(type) {
	case []byte:
		data = v
	default:
		var err error
		if data, err = json.Marshal(v); err != nil {
			code, data = http.StatusInternalServerError, []byte(`{"error":{"code":500,"message":"encoding the answer failed","errors":[{"reason":"internalError"}]}}`)
		}
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	_, _ = w.Write(data)
}
