package gkefront

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/conformance"
)

// The REST/JSON mapping of the ClusterManager service, which gcloud and
// the Go REST client (NewClusterManagerRESTClient) speak: the paths and
// verbs of the container v1 discovery document
// (google.golang.org/api/container/v1/container-api.json,
// https://cloud.google.com/kubernetes-engine/docs/reference/rest), bodies
// and answers the protojson form of the same messages the gRPC service
// takes (https://google.aip.dev/127: the body is the whole request
// message; path variables fill name or parent, or the deprecated
// projectId/zone/clusterId/nodePoolId/operationId fields; other query
// parameters fill fields of the same JSON name). Errors are Google's JSON
// error body {"error":{"code","message","status"}} with the HTTP status of
// the gRPC code (https://cloud.google.com/apis/design/errors#http_mapping).
// Each call goes through the same conformance check as a gRPC call.

// restRoute is one method of the mapping.
type restRoute struct {
	verb string
	// path are the template's segments after "v1"; "{x}" matches one
	// segment; custom is the ":verb" suffix of the last one.
	path   []string
	custom string
	// field is "name" or "parent" (filled with the path after "v1/" less
	// trim trailing segments), or "" (the zones form: variables fill
	// fields of their name).
	field string
	trim  int
	rpc   string
	newQ  func() proto.Message
	call  func(containerpb.ClusterManagerServer, context.Context, proto.Message) (proto.Message, error)
}

func route[Q any, PQ interface {
	*Q
	proto.Message
}, R proto.Message](verb, tmpl, field string, trim int, rpc string, f func(containerpb.ClusterManagerServer, context.Context, PQ) (R, error)) restRoute {
	r := restRoute{verb: verb, field: field, trim: trim, rpc: rpc,
		newQ: func() proto.Message { return PQ(new(Q)) },
		call: func(s containerpb.ClusterManagerServer, ctx context.Context, q proto.Message) (proto.Message, error) {
			return f(s, ctx, q.(PQ))
		}}
	r.path = strings.Split(tmpl, "/")
	last := r.path[len(r.path)-1]
	if i := strings.IndexByte(last, ':'); i >= 0 {
		r.path[len(r.path)-1], r.custom = last[:i], last[i+1:]
	}
	return r
}

type cms = containerpb.ClusterManagerServer

const (
	locs   = "projects/{projectsId}/locations/{locationsId}"
	zones  = "projects/{projectId}/zones/{zone}"
	locCl  = locs + "/clusters/{clustersId}"
	zoneCl = zones + "/clusters/{clusterId}"
)

var restRoutes = []restRoute{
	route("GET", locs+"/clusters", "parent", 1, "ListClusters", cms.ListClusters),
	route("POST", locs+"/clusters", "parent", 1, "CreateCluster", cms.CreateCluster),
	route("GET", locCl, "name", 0, "GetCluster", cms.GetCluster),
	route("PUT", locCl, "name", 0, "UpdateCluster", cms.UpdateCluster),
	route("DELETE", locCl, "name", 0, "DeleteCluster", cms.DeleteCluster),
	route("GET", locCl+"/nodePools", "parent", 1, "ListNodePools", cms.ListNodePools),
	route("POST", locCl+"/nodePools", "parent", 1, "CreateNodePool", cms.CreateNodePool),
	route("GET", locCl+"/nodePools/{nodePoolsId}", "name", 0, "GetNodePool", cms.GetNodePool),
	route("PUT", locCl+"/nodePools/{nodePoolsId}", "name", 0, "UpdateNodePool", cms.UpdateNodePool),
	route("DELETE", locCl+"/nodePools/{nodePoolsId}", "name", 0, "DeleteNodePool", cms.DeleteNodePool),
	route("POST", locCl+"/nodePools/{nodePoolsId}:setSize", "name", 0, "SetNodePoolSize", cms.SetNodePoolSize),
	route("POST", locCl+"/nodePools/{nodePoolsId}:setAutoscaling", "name", 0, "SetNodePoolAutoscaling", cms.SetNodePoolAutoscaling),
	route("GET", locs+"/operations", "parent", 1, "ListOperations", cms.ListOperations),
	route("GET", locs+"/operations/{operationsId}", "name", 0, "GetOperation", cms.GetOperation),
	route("POST", locs+"/operations/{operationsId}:cancel", "name", 0, "CancelOperation", cms.CancelOperation),
	route("GET", locs+"/serverConfig", "name", 1, "GetServerConfig", cms.GetServerConfig),

	route("GET", zones+"/clusters", "", 0, "ListClusters", cms.ListClusters),
	route("POST", zones+"/clusters", "", 0, "CreateCluster", cms.CreateCluster),
	route("GET", zoneCl, "", 0, "GetCluster", cms.GetCluster),
	route("PUT", zoneCl, "", 0, "UpdateCluster", cms.UpdateCluster),
	route("DELETE", zoneCl, "", 0, "DeleteCluster", cms.DeleteCluster),
	route("GET", zoneCl+"/nodePools", "", 0, "ListNodePools", cms.ListNodePools),
	route("POST", zoneCl+"/nodePools", "", 0, "CreateNodePool", cms.CreateNodePool),
	route("GET", zoneCl+"/nodePools/{nodePoolId}", "", 0, "GetNodePool", cms.GetNodePool),
	route("POST", zoneCl+"/nodePools/{nodePoolId}/update", "", 0, "UpdateNodePool", cms.UpdateNodePool),
	route("DELETE", zoneCl+"/nodePools/{nodePoolId}", "", 0, "DeleteNodePool", cms.DeleteNodePool),
	route("POST", zoneCl+"/nodePools/{nodePoolId}/setSize", "", 0, "SetNodePoolSize", cms.SetNodePoolSize),
	route("POST", zoneCl+"/nodePools/{nodePoolId}/autoscaling", "", 0, "SetNodePoolAutoscaling", cms.SetNodePoolAutoscaling),
	route("GET", zones+"/operations", "", 0, "ListOperations", cms.ListOperations),
	route("GET", zones+"/operations/{operationId}", "", 0, "GetOperation", cms.GetOperation),
	route("POST", zones+"/operations/{operationId}:cancel", "", 0, "CancelOperation", cms.CancelOperation),
	route("GET", zones+"/serverconfig", "", 0, "GetServerConfig", cms.GetServerConfig),
}

// match returns the route's path variables when it serves verb and segs
// (the path after "v1/", custom the ":verb" suffix).
func (rt *restRoute) match(verb string, segs []string, custom string) (map[string]string, bool) {
	if verb != rt.verb || custom != rt.custom || len(segs) != len(rt.path) {
		return nil, false
	}
	vars := map[string]string{}
	for i, t := range rt.path {
		if strings.HasPrefix(t, "{") {
			if segs[i] == "" {
				return nil, false
			}
			vars[strings.Trim(t, "{}")] = segs[i]
		} else if t != segs[i] {
			return nil, false
		}
	}
	return vars, true
}

// restServer serves the REST mapping of a ClusterManager server.
type restServer struct {
	s    containerpb.ClusterManagerServer
	test string
}

// NewREST returns a handler for the REST/JSON mapping of the GKE API
// (paths /v1/projects/...), backed by the same service as New.
func NewREST(e *cloudsim.Engine, opts Options) http.Handler {
	return &restServer{s: New(e, opts), test: conformance.Caller()}
}

// queryIgnored are the system parameters of Google APIs, not fields
// (https://cloud.google.com/apis/docs/system-parameters).
var queryIgnored = map[string]bool{"alt": true, "$alt": true, "prettyPrint": true, "$prettyPrint": true, "fields": true, "$fields": true,
	"key": true, "quotaUser": true, "$.xgafv": true, "callback": true, "upload_protocol": true, "uploadType": true}

func (h *restServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimPrefix(r.URL.Path, "/")
	rest, ok := strings.CutPrefix(p, "v1/")
	if !ok {
		writeRESTError(w, status.Errorf(codes.NotFound, "The requested URL /%s was not found on this server.", p))
		return
	}
	rest = strings.TrimSuffix(rest, "/")
	segs := strings.Split(rest, "/")
	custom := ""
	if i := strings.IndexByte(segs[len(segs)-1], ':'); i >= 0 {
		custom = segs[len(segs)-1][i+1:]
		segs[len(segs)-1] = segs[len(segs)-1][:i]
		rest = strings.Join(segs, "/")
	}
	for i := range restRoutes {
		rt := &restRoutes[i]
		vars, ok := rt.match(r.Method, segs, custom)
		if !ok {
			continue
		}
		req := rt.newQ()
		if err := h.fill(req, rt, r, rest, vars); err != nil {
			writeRESTError(w, err)
			return
		}
		handler := func(ctx context.Context, q any) (any, error) { return rt.call(h.s, ctx, q.(proto.Message)) }
		resp, err := conformance.UnaryServerInterceptor(h.test)(r.Context(), req,
			&grpc.UnaryServerInfo{FullMethod: "/google.container.v1.ClusterManager/" + rt.rpc}, handler)
		if err != nil {
			writeRESTError(w, err)
			return
		}
		b, err := protojson.Marshal(resp.(proto.Message))
		if err != nil {
			writeRESTError(w, status.Errorf(codes.Internal, "protojson: %v", err))
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.Write(b) //nolint:errcheck // the client went away
		return
	}
	writeRESTError(w, status.Errorf(codes.NotFound, "The requested URL /%s was not found on this server (no %s method of the container v1 API serves it here).", p, r.Method))
}

// fill builds the request message: the body, then the query parameters,
// then the path (which wins, as in Google's HTTP mapping).
func (h *restServer) fill(req proto.Message, rt *restRoute, r *http.Request, rest string, vars map[string]string) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "reading the request body: %v", err)
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		if err := protojson.Unmarshal(body, req); err != nil {
			return status.Errorf(codes.InvalidArgument, "Invalid JSON payload received. %v", err)
		}
	}
	m := req.ProtoReflect()
	for k, v := range r.URL.Query() {
		if queryIgnored[k] || len(v) == 0 {
			continue
		}
		if err := setString(m, k, v[0]); err != nil {
			return err
		}
	}
	if rt.field != "" {
		segs := strings.Split(rest, "/")
		return setString(m, rt.field, strings.Join(segs[:len(segs)-rt.trim], "/"))
	}
	for k, v := range vars {
		if err := setString(m, k, v); err != nil {
			return err
		}
	}
	return nil
}

// setString sets the string field of JSON name (or proto name) k.
func setString(m protoreflect.Message, k, v string) error {
	fields := m.Descriptor().Fields()
	f := fields.ByJSONName(k)
	if f == nil {
		f = fields.ByName(protoreflect.Name(k))
	}
	if f == nil || f.Kind() != protoreflect.StringKind || f.IsList() {
		return status.Errorf(codes.InvalidArgument, "Invalid JSON payload received. Unknown name %q: Cannot bind query parameter. Field '%s' could not be found in request message.", k, k)
	}
	m.Set(f, protoreflect.ValueOfString(v))
	return nil
}

// httpStatus is the HTTP status of each gRPC code
// (https://cloud.google.com/apis/design/errors#handling_errors).
var httpStatus = map[codes.Code]int{
	codes.OK: 200, codes.Canceled: 499, codes.Unknown: 500, codes.InvalidArgument: 400, codes.DeadlineExceeded: 504,
	codes.NotFound: 404, codes.AlreadyExists: 409, codes.PermissionDenied: 403, codes.ResourceExhausted: 429,
	codes.FailedPrecondition: 400, codes.Aborted: 409, codes.OutOfRange: 400, codes.Unimplemented: 501,
	codes.Internal: 500, codes.Unavailable: 503, codes.DataLoss: 500, codes.Unauthenticated: 401,
}

// writeRESTError writes Google's JSON error body for a gRPC status.
func writeRESTError(w http.ResponseWriter, err error) {
	st := status.Convert(err)
	hs := httpStatus[st.Code()]
	if hs == 0 {
		hs = 500
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(hs)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{ //nolint:errcheck // the client went away
		"code": hs, "message": st.Message(), "status": code.Code(st.Code()).String()}})
}
