package simserve

import (
	"encoding/json"
	"net/http"
	"strings"
)

// serviceUsage answers what gcloud asks Service Usage before it creates a
// GKE cluster, GET /v1/projects/{p}/services/{service}: every service is
// ENABLED in the simulated project
// (https://cloud.google.com/service-usage/docs/reference/rest/v1/services/get).
// It shares the GKE REST port (gcloud's api_endpoint_overrides/serviceusage
// points there); its paths do not overlap the container API's.
func serviceUsage(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
		if r.Method != http.MethodGet || len(segs) != 5 || segs[0] != "v1" || segs[1] != "projects" || segs[3] != "services" {
			next.ServeHTTP(w, r)
			return
		}
		project, service := segs[2], segs[4]
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		_ = json.NewEncoder(w).Encode(map[string]any{"name": "projects/" + project + "/services/" + service,
			"parent": "projects/" + project, "state": "ENABLED",
			"config": map[string]any{"name": service, "title": service}})
	})
}
