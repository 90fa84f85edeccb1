package kubefront

import (
	"net/http"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The OpenAPI v3 documents served are minimal: per group version, the
// item paths of each resource with their operations, each marked with its
// group-version-kind and the query parameters it takes. That is what
// kubectl reads to learn that the server validates fields itself
// (fieldValidation), so that it sends objects without a client-side
// schema check. Schemas of the types are not served.

// gvPath is the OpenAPI v3 path key of a group version ("api/v1",
// "apis/apps/v1").
func gvPath(gv schema.GroupVersion) string {
	if gv.Group == "" {
		return "api/" + gv.Version
	}
	return "apis/" + gv.Group + "/" + gv.Version
}

func allGroupVersions() []schema.GroupVersion {
	return append([]schema.GroupVersion{coreV1}, groupVersions()...)
}

// serveOpenAPI answers /openapi/v3 and /openapi/v3/<group version>.
func serveOpenAPI(w http.ResponseWriter, path string) {
	rest := strings.TrimPrefix(strings.TrimPrefix(path, "/openapi/v3"), "/")
	if rest == "" {
		paths := map[string]any{}
		for _, gv := range allGroupVersions() {
			p := gvPath(gv)
			paths[p] = map[string]string{"serverRelativeURL": "/openapi/v3/" + p + "?hash=cloudsim"}
		}
		writeJSON(w, http.StatusOK, map[string]any{"paths": paths})
		return
	}
	for _, gv := range allGroupVersions() {
		if gvPath(gv) == rest {
			writeJSON(w, http.StatusOK, openAPIDoc(gv))
			return
		}
	}
	http.NotFound(w, nil)
}

func queryParam(name, typ string) map[string]any {
	return map[string]any{"name": name, "in": "query", "schema": map[string]string{"type": typ}, "uniqueItems": true}
}

func openAPIDoc(gv schema.GroupVersion) map[string]any {
	paths := map[string]any{}
	for _, r := range resources {
		if r.gvr.GroupVersion() != gv {
			continue
		}
		base := "/" + gvPath(gv) + "/"
		if r.namespaced {
			base += "namespaces/{namespace}/"
		}
		gvk := map[string]string{"group": gv.Group, "version": gv.Version, "kind": r.kind}
		op := func(action string, params ...map[string]any) map[string]any {
			return map[string]any{
				"operationId":                     action + "/" + gv.String() + "/" + r.kind,
				"parameters":                      params,
				"responses":                       map[string]any{"200": map[string]string{"description": "OK"}},
				"x-kubernetes-action":             action,
				"x-kubernetes-group-version-kind": gvk,
			}
		}
		write := []map[string]any{queryParam("dryRun", "string"), queryParam("fieldManager", "string"), queryParam("fieldValidation", "string")}
		paths[base+r.gvr.Resource] = map[string]any{
			"get":  op("list", queryParam("labelSelector", "string"), queryParam("fieldSelector", "string"), queryParam("watch", "boolean")),
			"post": op("post", write...),
		}
		paths[base+r.gvr.Resource+"/{name}"] = map[string]any{
			"get":    op("get"),
			"put":    op("put", write...),
			"patch":  op("patch", append(write, queryParam("force", "boolean"))...),
			"delete": op("delete", queryParam("dryRun", "string")),
		}
	}
	return map[string]any{
		"openapi": "3.0.0",
		"info":    map[string]string{"title": "Kubernetes (cloudsim)", "version": "v1"},
		"paths":   paths,
	}
}
