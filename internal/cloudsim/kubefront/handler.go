package kubefront

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/applyconfigurations"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

// maxBody bounds request bodies.
const maxBody = 8 << 20

// request is a parsed resource request.
type request struct {
	res             *resource
	ns, name, sub   string
	verb            string
	r               *http.Request
	allNamespaces   bool
	fieldManager    string
	dryRun          bool
	labelSel        labels.Selector
	fieldSel        fields.Selector
	resourceVersion string
}

// ServeHTTP serves the Kubernetes API of the cluster the request's TLS
// server name (or Host header) names.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	if r.TLS != nil && r.TLS.ServerName != "" {
		host = r.TLS.ServerName
	}
	cl, region, name, ok := parseHost(host)
	if !ok {
		writeError(w, apierrors.NewNotFound(schema.GroupResource{Resource: "clusters"}, host))
		return
	}
	st, err := s.storeFor(cl, region, name)
	if err != nil {
		writeError(w, apierrors.NewServiceUnavailable(fmt.Sprintf("cluster %s: %v", host, err)))
		return
	}
	path := strings.TrimSuffix(r.URL.Path, "/")
	switch path {
	case "/healthz", "/readyz", "/livez":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok")
		return
	case "/version":
		minor := st.version
		if i := strings.Index(minor, "."); i >= 0 {
			minor = minor[i+1:]
		}
		if i := strings.Index(minor, "."); i >= 0 {
			minor = minor[:i]
		}
		git := "v" + st.version
		if strings.Count(st.version, ".") == 1 {
			git += ".0"
		}
		writeJSON(w, http.StatusOK, version.Info{Major: "1", Minor: minor, GitVersion: git, Platform: "linux/amd64", GoVersion: "go1.26",
			Compiler: "gc", GitTreeState: "clean", BuildDate: "2026-01-01T00:00:00Z", GitCommit: "cloudsim"})
		return
	}
	id, err := st.authenticate(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if s.discovery(w, r, path) {
		return
	}
	req, err := parseRequest(r, path)
	if err != nil {
		writeError(w, err)
		return
	}
	countRes := req.res.gvr.Resource
	if req.sub != "" {
		countRes += "/" + req.sub
	}
	s.count(st, req.verb, countRes)
	if err := st.authorize(id, req); err != nil {
		writeError(w, err)
		return
	}
	st.reconcile()
	switch req.verb {
	case "get":
		if req.sub == "log" {
			st.serveLog(w, req)
			return
		}
		obj, err := st.doGet(req)
		respond(w, r, st, req.res, obj, err, http.StatusOK)
	case "list":
		obj, err := st.doList(req)
		respond(w, r, st, req.res, obj, err, http.StatusOK)
	case "watch":
		st.serveWatch(w, req)
	case "create":
		obj, err := st.doCreate(req)
		respond(w, r, st, req.res, obj, err, http.StatusCreated)
	case "update":
		obj, err := st.doUpdate(req)
		respond(w, r, st, req.res, obj, err, http.StatusOK)
	case "patch":
		obj, created, err := st.doPatch(req)
		code := http.StatusOK
		if created {
			code = http.StatusCreated
		}
		respond(w, r, st, req.res, obj, err, code)
	case "delete":
		obj, err := st.doDelete(req)
		respond(w, r, st, req.res, obj, err, http.StatusOK)
	case "deletecollection":
		obj, err := st.doDeleteCollection(req)
		respond(w, r, st, req.res, obj, err, http.StatusOK)
	default:
		writeError(w, apierrors.NewMethodNotSupported(req.res.gvr.GroupResource(), r.Method))
	}
}

// discovery serves /api, /apis and the group version documents.
func (s *Server) discovery(w http.ResponseWriter, r *http.Request, path string) bool {
	if r.Method != http.MethodGet {
		return false
	}
	switch {
	case path == "/api":
		writeJSON(w, http.StatusOK, &metav1.APIVersions{TypeMeta: metav1.TypeMeta{Kind: "APIVersions"}, Versions: []string{"v1"},
			ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{{ClientCIDR: "0.0.0.0/0", ServerAddress: r.Host}}})
	case path == "/api/v1":
		writeJSON(w, http.StatusOK, resourceList(coreV1))
	case path == "/apis":
		l := &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}}
		for _, gv := range groupVersions() {
			l.Groups = append(l.Groups, apiGroup(gv))
		}
		writeJSON(w, http.StatusOK, l)
	case strings.HasPrefix(path, "/apis/"):
		parts := strings.Split(strings.TrimPrefix(path, "/apis/"), "/")
		for _, gv := range groupVersions() {
			switch {
			case len(parts) == 1 && parts[0] == gv.Group:
				g := apiGroup(gv)
				g.TypeMeta = metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"}
				writeJSON(w, http.StatusOK, &g)
				return true
			case len(parts) == 2 && parts[0] == gv.Group && parts[1] == gv.Version:
				writeJSON(w, http.StatusOK, resourceList(gv))
				return true
			}
		}
		if len(parts) <= 2 {
			writeError(w, apierrors.NewNotFound(schema.GroupResource{}, path))
			return true
		}
		return false
	case path == "/openapi/v3" || strings.HasPrefix(path, "/openapi/v3/"):
		serveOpenAPI(w, path)
	case path == "/openapi/v2":
		writeError(w, apierrors.NewNotFound(schema.GroupResource{}, path))
	default:
		return false
	}
	return true
}

func apiGroup(gv schema.GroupVersion) metav1.APIGroup {
	v := metav1.GroupVersionForDiscovery{GroupVersion: gv.String(), Version: gv.Version}
	return metav1.APIGroup{Name: gv.Group, Versions: []metav1.GroupVersionForDiscovery{v}, PreferredVersion: v}
}

// parseRequest resolves the resource, namespace, name and verb of a URL.
func parseRequest(r *http.Request, path string) (*request, error) {
	var gv schema.GroupVersion
	var rest []string
	switch {
	case strings.HasPrefix(path, "/api/v1/"):
		gv, rest = coreV1, strings.Split(strings.TrimPrefix(path, "/api/v1/"), "/")
	case strings.HasPrefix(path, "/apis/"):
		p := strings.Split(strings.TrimPrefix(path, "/apis/"), "/")
		if len(p) < 3 {
			return nil, apierrors.NewNotFound(schema.GroupResource{}, path)
		}
		gv, rest = schema.GroupVersion{Group: p[0], Version: p[1]}, p[2:]
	default:
		return nil, apierrors.NewNotFound(schema.GroupResource{}, path)
	}
	req := &request{r: r}
	if len(rest) >= 3 && rest[0] == "namespaces" && lookup(gv, rest[2]) != nil && lookup(gv, rest[2]).namespaced {
		req.ns, rest = rest[1], rest[2:]
	}
	req.res = lookup(gv, rest[0])
	if req.res == nil || len(rest) > 3 {
		gr, name := schema.GroupResource{Group: gv.Group, Resource: rest[0]}, ""
		if rest[0] == "namespaces" && len(rest) >= 3 {
			gr.Resource = rest[2]
		}
		if len(rest) >= 2 {
			name = rest[len(rest)-1]
		}
		return nil, apierrors.NewNotFound(gr, name)
	}
	if len(rest) > 1 {
		req.name = rest[1]
	}
	if len(rest) > 2 {
		req.sub = rest[2]
		if !req.res.hasSub(req.sub) {
			return nil, apierrors.NewNotFound(req.res.gvr.GroupResource(), req.name+"/"+req.sub)
		}
	}
	if req.res.namespaced && req.ns == "" {
		if req.name != "" || r.Method == http.MethodPost {
			return nil, apierrors.NewNotFound(req.res.gvr.GroupResource(), req.name)
		}
		req.allNamespaces = true
	}
	q := r.URL.Query()
	req.fieldManager = q.Get("fieldManager")
	req.dryRun = len(q["dryRun"]) > 0
	req.resourceVersion = q.Get("resourceVersion")
	var err error
	if req.labelSel, err = labels.Parse(q.Get("labelSelector")); err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	if req.fieldSel, err = fields.ParseSelector(q.Get("fieldSelector")); err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	if err := checkFieldSelector(req.res, req.fieldSel); err != nil {
		return nil, err
	}
	// A field selector on metadata.name narrows a list or watch to one
	// object, as informers for a single object use it.
	watching := q.Get("watch") == "true" || q.Get("watch") == "1"
	switch r.Method {
	case http.MethodGet:
		switch {
		case watching:
			req.verb = "watch"
		case req.name != "":
			req.verb = "get"
		default:
			req.verb = "list"
		}
	case http.MethodPost:
		if req.name != "" {
			return nil, apierrors.NewMethodNotSupported(req.res.gvr.GroupResource(), r.Method)
		}
		req.verb = "create"
	case http.MethodPut:
		req.verb = "update"
	case http.MethodPatch:
		req.verb = "patch"
	case http.MethodDelete:
		req.verb = "delete"
		if req.name == "" {
			req.verb = "deletecollection"
		}
	default:
		return nil, apierrors.NewMethodNotSupported(req.res.gvr.GroupResource(), r.Method)
	}
	if req.name == "" && (req.verb == "update" || req.verb == "patch") {
		return nil, apierrors.NewMethodNotSupported(req.res.gvr.GroupResource(), r.Method)
	}
	return req, nil
}

// manager is the field manager of a write: the fieldManager parameter or,
// as the API server does, the user agent's program name.
func (req *request) manager() string {
	if req.fieldManager != "" {
		return req.fieldManager
	}
	ua := req.r.UserAgent()
	if i := strings.Index(ua, "/"); i >= 0 {
		ua = ua[:i]
	}
	if len(ua) > 128 {
		ua = ua[:128]
	}
	return ua
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		b, _ = json.Marshal(statusOf(apierrors.NewInternalError(err)))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(b)
	w.Write([]byte("\n"))
}

func statusOf(err error) *metav1.Status {
	var st metav1.Status
	if s, ok := err.(apierrors.APIStatus); ok {
		st = s.Status()
	} else {
		st = apierrors.NewInternalError(err).ErrStatus
	}
	st.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
	st.Status = metav1.StatusFailure
	return &st
}

func writeError(w http.ResponseWriter, err error) {
	st := statusOf(err)
	code := int(st.Code)
	if code == 0 {
		code = http.StatusInternalServerError
	}
	writeJSON(w, code, st)
}

// respond writes an object, as a Table when the client asks for one.
func respond(w http.ResponseWriter, r *http.Request, st *store, res *resource, obj runtime.Object, err error, code int) {
	if err != nil {
		writeError(w, err)
		return
	}
	if wantsTable(r) && r.Method == http.MethodGet {
		obj = st.table(res, obj, r.URL.Query().Get("includeObject"))
	}
	writeJSON(w, code, obj)
}

func wantsTable(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "as=Table")
}

func (st *store) doGet(req *request) (runtime.Object, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	o := st.get(req.res, req.ns, req.name)
	if o == nil {
		return nil, apierrors.NewNotFound(req.res.gvr.GroupResource(), req.name)
	}
	return o.DeepCopyObject(), nil
}

func (st *store) doList(req *request) (runtime.Object, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	items := st.list(req.res, req.ns, req.labelSel, req.fieldSel)
	l := req.res.newList()
	if err := meta.SetList(l, items); err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	lm, _ := meta.ListAccessor(l)
	lm.SetResourceVersion(strconv.FormatInt(st.rv, 10))
	return l, nil
}

// decode reads a request body as an object of the request's resource
// (JSON, YAML or protobuf).
func decode(req *request) (runtime.Object, error) {
	body, err := io.ReadAll(io.LimitReader(req.r.Body, maxBody))
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	gvk := req.res.gvk()
	obj, got, err := scheme.Codecs.UniversalDeserializer().Decode(body, &gvk, req.res.new())
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("cannot decode %s: %v", gvk.Kind, err))
	}
	if got.GroupVersion() != gvk.GroupVersion() || got.Kind != gvk.Kind {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the body is a %s, not a %s", got, gvk))
	}
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	return obj, nil
}

// fieldManagerFor tracks managed fields for a kind (and subresource).
func fieldManagerFor(res *resource, sub string) (*managedfields.FieldManager, error) {
	return managedfields.NewDefaultFieldManager(typeConverter(), scheme.Scheme, noDefaults{}, scheme.Scheme,
		res.gvk(), res.gvk().GroupVersion(), sub, nil)
}

// typeConverter is built on first use: building it costs ~140 ms and
// ~22 MB, which every process linking kubefront (the provider, the CLI)
// would otherwise pay at start, simulating or not.
var typeConverter = sync.OnceValue(func() managedfields.TypeConverter {
	return applyconfigurations.NewTypeConverter(scheme.Scheme)
})

type noDefaults struct{}

func (noDefaults) Default(runtime.Object) {}

func (st *store) doCreate(req *request) (runtime.Object, error) {
	obj, err := decode(req)
	if err != nil {
		return nil, err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.create(req.res, req.ns, obj, req.manager(), req.dryRun)
}

// create stores a new object. It is called with st.mu held.
func (st *store) create(res *resource, ns string, obj runtime.Object, manager string, dryRun bool) (runtime.Object, error) {
	m, _ := meta.Accessor(obj)
	if res.namespaced {
		if m.GetNamespace() != "" && m.GetNamespace() != ns {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("the namespace of the provided object (%s) does not match the namespace sent on the request (%s)", m.GetNamespace(), ns))
		}
		m.SetNamespace(ns)
		if st.get(resNamespaces, "", ns) == nil {
			return nil, apierrors.NewNotFound(resNamespaces.gvr.GroupResource(), ns)
		}
	} else {
		m.SetNamespace("")
	}
	if m.GetName() == "" && m.GetGenerateName() != "" {
		m.SetName(m.GetGenerateName() + randomSuffix(fmt.Sprintf("%s/%d", m.GetGenerateName(), st.rv)))
	}
	if m.GetName() == "" {
		return nil, apierrors.NewInvalid(res.gvk().GroupKind(), "", nil)
	}
	if st.get(res, ns, m.GetName()) != nil {
		return nil, apierrors.NewAlreadyExists(res.gvr.GroupResource(), m.GetName())
	}
	if p, ok := obj.(*corev1.Pod); ok && p.Status.Phase == "" {
		p.Status.Phase = corev1.PodPending
	}
	if n, ok := obj.(*corev1.Namespace); ok && n.Status.Phase == "" {
		n.Status.Phase = corev1.NamespaceActive
	}
	st.stamp(res, obj, st.srv.e.Now())
	fm, err := fieldManagerFor(res, "")
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	out, err := fm.Update(res.new(), obj, manager)
	if err != nil {
		return nil, err
	}
	if out, err = typed(res, out); err != nil {
		return nil, err
	}
	if dryRun {
		return out, nil
	}
	if err := st.commit(res, out, watch.Added); err != nil {
		return nil, err
	}
	return out.DeepCopyObject(), nil
}

// typed converts what the field manager returns to the resource's Go type.
func typed(res *resource, obj runtime.Object) (runtime.Object, error) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		t := res.new()
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, t); err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		obj = t
	}
	obj.GetObjectKind().SetGroupVersionKind(res.gvk())
	return obj, nil
}

func (st *store) doUpdate(req *request) (runtime.Object, error) {
	obj, err := decode(req)
	if err != nil {
		return nil, err
	}
	m, _ := meta.Accessor(obj)
	if m.GetName() != req.name {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", m.GetName(), req.name))
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	cur := st.get(req.res, req.ns, req.name)
	if cur == nil {
		return nil, apierrors.NewNotFound(req.res.gvr.GroupResource(), req.name)
	}
	return st.update(req.res, cur, obj, req.sub, req.manager(), req.dryRun)
}

// update replaces cur by obj: the resource version must match when given;
// identity and creation time are kept; the status comes from obj only
// through the status subresource (and only the status does). It is
// called with st.mu held.
func (st *store) update(res *resource, cur, obj runtime.Object, sub, manager string, dryRun bool) (runtime.Object, error) {
	cm, _ := meta.Accessor(cur)
	m, _ := meta.Accessor(obj)
	if rv := m.GetResourceVersion(); rv != "" && rv != cm.GetResourceVersion() {
		return nil, apierrors.NewConflict(res.gvr.GroupResource(), cm.GetName(),
			fmt.Errorf("the object has been modified; please apply your changes to the latest version and try again"))
	}
	obj, err := mergeSubresource(res, cur, obj, sub)
	if err != nil {
		return nil, err
	}
	m, _ = meta.Accessor(obj)
	m.SetNamespace(cm.GetNamespace())
	m.SetName(cm.GetName())
	m.SetUID(cm.GetUID())
	m.SetCreationTimestamp(cm.GetCreationTimestamp())
	m.SetResourceVersion(cm.GetResourceVersion())
	m.SetGeneration(cm.GetGeneration())
	if hasSpec(obj) && !sameField(cur, obj, "spec") {
		m.SetGeneration(cm.GetGeneration() + 1)
	}
	fm, err := fieldManagerFor(res, sub)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	out, err := fm.Update(cur.DeepCopyObject(), obj, manager)
	if err != nil {
		return nil, err
	}
	if out, err = typed(res, out); err != nil {
		return nil, err
	}
	if dryRun || reflect.DeepEqual(out, cur) {
		return out, nil
	}
	if err := st.commit(res, out, watch.Modified); err != nil {
		return nil, err
	}
	return out.DeepCopyObject(), nil
}

// mergeSubresource keeps what a write may not change: the status on the
// main resource of kinds with a status subresource, everything but the
// status on the status subresource.
func mergeSubresource(res *resource, cur, obj runtime.Object, sub string) (runtime.Object, error) {
	if sub != "status" && !res.hasSub("status") {
		return obj, nil
	}
	cu, err := runtime.DefaultUnstructuredConverter.ToUnstructured(cur)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	nu, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	var out map[string]any
	if sub == "status" {
		out = cu
		out["status"] = nu["status"]
		// The resource version precondition travels in the metadata.
		if md, ok := out["metadata"].(map[string]any); ok {
			md = copyMap(md)
			if nm, ok := nu["metadata"].(map[string]any); ok {
				md["managedFields"] = nm["managedFields"]
			}
			out["metadata"] = md
		}
	} else {
		out = nu
		if s, ok := cu["status"]; ok {
			out["status"] = s
		} else {
			delete(out, "status")
		}
	}
	t := res.new()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(out, t); err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	return t, nil
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func sameField(a, b runtime.Object, field string) bool {
	au, err1 := runtime.DefaultUnstructuredConverter.ToUnstructured(a)
	bu, err2 := runtime.DefaultUnstructuredConverter.ToUnstructured(b)
	return err1 == nil && err2 == nil && reflect.DeepEqual(au[field], bu[field])
}

func (st *store) doPatch(req *request) (runtime.Object, bool, error) {
	body, err := io.ReadAll(io.LimitReader(req.r.Body, maxBody))
	if err != nil {
		return nil, false, apierrors.NewBadRequest(err.Error())
	}
	pt := types.PatchType(strings.TrimSpace(strings.Split(req.r.Header.Get("Content-Type"), ";")[0]))
	st.mu.Lock()
	defer st.mu.Unlock()
	cur := st.get(req.res, req.ns, req.name)
	if pt == types.ApplyPatchType || pt == types.ApplyCBORPatchType {
		return st.apply(req, cur, body)
	}
	if cur == nil {
		return nil, false, apierrors.NewNotFound(req.res.gvr.GroupResource(), req.name)
	}
	curJSON, err := json.Marshal(cur)
	if err != nil {
		return nil, false, apierrors.NewInternalError(err)
	}
	var out []byte
	switch pt {
	case types.JSONPatchType:
		p, err := jsonpatch.DecodePatch(body)
		if err != nil {
			return nil, false, apierrors.NewBadRequest(err.Error())
		}
		if out, err = p.Apply(curJSON); err != nil {
			return nil, false, apierrors.NewInvalid(req.res.gvk().GroupKind(), req.name, nil)
		}
	case types.MergePatchType:
		if out, err = jsonpatch.MergePatch(curJSON, body); err != nil {
			return nil, false, apierrors.NewBadRequest(err.Error())
		}
	case types.StrategicMergePatchType:
		if out, err = strategicpatch.StrategicMergePatch(curJSON, body, req.res.new()); err != nil {
			return nil, false, apierrors.NewBadRequest(err.Error())
		}
	default:
		return nil, false, &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: http.StatusUnsupportedMediaType,
			Reason: metav1.StatusReasonUnsupportedMediaType, Message: fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: %s, %s, %s, %s",
				types.JSONPatchType, types.MergePatchType, types.StrategicMergePatchType, types.ApplyPatchType)}}
	}
	obj := req.res.new()
	if err := json.Unmarshal(out, obj); err != nil {
		return nil, false, apierrors.NewBadRequest(err.Error())
	}
	res, err := st.update(req.res, cur, obj, req.sub, req.manager(), req.dryRun)
	return res, false, err
}

// apply is server-side apply: create or update through the field manager,
// with conflicts between managers unless forced. It is called with st.mu
// held.
func (st *store) apply(req *request, cur runtime.Object, body []byte) (runtime.Object, bool, error) {
	if req.fieldManager == "" {
		return nil, false, apierrors.NewBadRequest("PATCH requests of type apply must set the fieldManager parameter")
	}
	patch := &unstructured.Unstructured{Object: map[string]any{}}
	if err := yaml.Unmarshal(body, &patch.Object); err != nil {
		return nil, false, apierrors.NewBadRequest(fmt.Sprintf("error decoding YAML: %v", err))
	}
	gvk := req.res.gvk()
	if patch.GroupVersionKind() != gvk {
		return nil, false, apierrors.NewBadRequest(fmt.Sprintf("the apply configuration is a %s, not a %s", patch.GroupVersionKind(), gvk))
	}
	if patch.GetName() != req.name {
		return nil, false, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", patch.GetName(), req.name))
	}
	if req.res.namespaced {
		if patch.GetNamespace() != "" && patch.GetNamespace() != req.ns {
			return nil, false, apierrors.NewBadRequest(fmt.Sprintf("the namespace of the object (%s) does not match the namespace on the URL (%s)", patch.GetNamespace(), req.ns))
		}
		patch.SetNamespace(req.ns)
	}
	force := false
	if v := req.r.URL.Query().Get("force"); v != "" {
		force, _ = strconv.ParseBool(v)
	}
	fm, err := fieldManagerFor(req.res, req.sub)
	if err != nil {
		return nil, false, apierrors.NewInternalError(err)
	}
	creating := cur == nil
	live := req.res.new()
	if !creating {
		if rv := patch.GetResourceVersion(); rv != "" {
			if m, _ := meta.Accessor(cur); m.GetResourceVersion() != rv {
				return nil, false, apierrors.NewConflict(req.res.gvr.GroupResource(), req.name,
					fmt.Errorf("the object has been modified; please apply your changes to the latest version and try again"))
			}
		}
		live = cur.DeepCopyObject()
	} else if req.sub != "" {
		return nil, false, apierrors.NewNotFound(req.res.gvr.GroupResource(), req.name)
	}
	out, err := fm.Apply(live, patch, req.fieldManager, force)
	if err != nil {
		return nil, false, err
	}
	if out, err = typed(req.res, out); err != nil {
		return nil, false, err
	}
	if creating {
		m, _ := meta.Accessor(out)
		if req.res.namespaced && st.get(resNamespaces, "", req.ns) == nil {
			return nil, false, apierrors.NewNotFound(resNamespaces.gvr.GroupResource(), req.ns)
		}
		if p, ok := out.(*corev1.Pod); ok && p.Status.Phase == "" {
			p.Status.Phase = corev1.PodPending
		}
		if n, ok := out.(*corev1.Namespace); ok && n.Status.Phase == "" {
			n.Status.Phase = corev1.NamespaceActive
		}
		mf := m.GetManagedFields()
		st.stamp(req.res, out, st.srv.e.Now())
		m.SetManagedFields(mf)
		if req.dryRun {
			return out, true, nil
		}
		if err := st.commit(req.res, out, watch.Added); err != nil {
			return nil, false, err
		}
		return out.DeepCopyObject(), true, nil
	}
	out, err = mergeSubresource(req.res, cur, out, req.sub)
	if err != nil {
		return nil, false, err
	}
	cm, _ := meta.Accessor(cur)
	m, _ := meta.Accessor(out)
	m.SetUID(cm.GetUID())
	m.SetCreationTimestamp(cm.GetCreationTimestamp())
	m.SetResourceVersion(cm.GetResourceVersion())
	m.SetGeneration(cm.GetGeneration())
	if hasSpec(out) && !sameField(cur, out, "spec") {
		m.SetGeneration(cm.GetGeneration() + 1)
	}
	if req.dryRun || reflect.DeepEqual(out, cur) {
		return out, false, nil
	}
	if err := st.commit(req.res, out, watch.Modified); err != nil {
		return nil, false, err
	}
	return out.DeepCopyObject(), false, nil
}

// protectedNamespaces cannot be deleted.
var protectedNamespaces = map[string]bool{metav1.NamespaceDefault: true, metav1.NamespaceSystem: true, metav1.NamespacePublic: true}

func (st *store) doDelete(req *request) (runtime.Object, error) {
	var opts metav1.DeleteOptions
	if body, _ := io.ReadAll(io.LimitReader(req.r.Body, maxBody)); len(body) > 0 {
		// Typed clients send DeleteOptions as protobuf, others as JSON.
		if _, _, err := scheme.Codecs.UniversalDeserializer().Decode(body, nil, &opts); err != nil {
			if err := json.Unmarshal(body, &opts); err != nil {
				return nil, apierrors.NewBadRequest(err.Error())
			}
		}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	cur := st.get(req.res, req.ns, req.name)
	if cur == nil {
		return nil, apierrors.NewNotFound(req.res.gvr.GroupResource(), req.name)
	}
	m, _ := meta.Accessor(cur)
	if p := opts.Preconditions; p != nil {
		if (p.ResourceVersion != nil && *p.ResourceVersion != m.GetResourceVersion()) || (p.UID != nil && *p.UID != m.GetUID()) {
			return nil, apierrors.NewConflict(req.res.gvr.GroupResource(), req.name, fmt.Errorf("the precondition does not match the object"))
		}
	}
	if req.res == resNamespaces && protectedNamespaces[req.name] {
		return nil, apierrors.NewForbidden(req.res.gvr.GroupResource(), req.name, fmt.Errorf("this namespace may not be deleted"))
	}
	if req.dryRun {
		return cur.DeepCopyObject(), nil
	}
	if err := st.remove(req.res, cur); err != nil {
		return nil, err
	}
	return cur.DeepCopyObject(), nil
}

// remove deletes an object; a namespace takes its objects along. It is
// called with st.mu held.
func (st *store) remove(res *resource, obj runtime.Object) error {
	m, _ := meta.Accessor(obj)
	if res == resNamespaces {
		for _, r := range resources {
			if !r.namespaced {
				continue
			}
			for _, o := range st.list(r, m.GetName(), nil, nil) {
				if err := st.remove(r, o); err != nil {
					return err
				}
			}
		}
	}
	d := obj.DeepCopyObject()
	dm, _ := meta.Accessor(d)
	now := metav1.NewTime(st.srv.e.Now().UTC().Truncate(time.Second))
	dm.SetDeletionTimestamp(&now)
	return st.commit(res, d, watch.Deleted)
}

func (st *store) doDeleteCollection(req *request) (runtime.Object, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, o := range st.list(req.res, req.ns, req.labelSel, req.fieldSel) {
		m, _ := meta.Accessor(o)
		if req.res == resNamespaces && protectedNamespaces[m.GetName()] {
			continue
		}
		if req.dryRun {
			continue
		}
		if err := st.remove(req.res, st.get(req.res, m.GetNamespace(), m.GetName())); err != nil {
			return nil, err
		}
	}
	return &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusSuccess}, nil
}

// serveWatch streams changes as JSON watch events from the requested
// resource version (or the current objects first, as ADDED).
func (st *store) serveWatch(w http.ResponseWriter, req *request) {
	q := req.r.URL.Query()
	wt := &watcher{res: req.res, ns: req.ns, label: req.labelSel, field: req.fieldSel, ch: make(chan event, 1024), closed: make(chan struct{})}
	var initial []event
	var expired bool
	st.mu.Lock()
	sendInitial := q.Get("sendInitialEvents") == "true"
	rv := int64(-1)
	if req.resourceVersion != "" && req.resourceVersion != "0" {
		v, err := strconv.ParseInt(req.resourceVersion, 10, 64)
		if err != nil {
			st.mu.Unlock()
			writeError(w, apierrors.NewBadRequest("invalid resourceVersion "+req.resourceVersion))
			return
		}
		rv = v
	}
	if rv < 0 || sendInitial {
		for _, o := range st.list(req.res, req.ns, req.labelSel, req.fieldSel) {
			initial = append(initial, event{typ: watch.Added, res: req.res, obj: o})
		}
	} else {
		evs, ok := st.since(rv)
		expired = !ok
		for _, ev := range evs {
			if wt.wants(ev) {
				initial = append(initial, ev)
			}
		}
	}
	current := st.rv
	closed := st.closed
	if !expired && !closed {
		st.watchers[wt] = struct{}{}
	}
	st.mu.Unlock()
	defer func() {
		st.mu.Lock()
		delete(st.watchers, wt)
		st.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Transfer-Encoding", "chunked")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	if flusher != nil {
		flusher.Flush()
	}
	enc := json.NewEncoder(w)
	send := func(typ watch.EventType, obj any) bool {
		if err := enc.Encode(map[string]any{"type": typ, "object": obj}); err != nil {
			return false
		}
		if flusher != nil {
			flusher.Flush()
		}
		return true
	}
	if expired {
		send(watch.Error, statusOf(apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %d (%d)", rv, current))))
		return
	}
	for _, ev := range initial {
		if !send(ev.typ, ev.obj) {
			return
		}
	}
	if sendInitial {
		bm := req.res.new()
		m, _ := meta.Accessor(bm)
		m.SetResourceVersion(strconv.FormatInt(current, 10))
		m.SetAnnotations(map[string]string{metav1.InitialEventsAnnotationKey: "true"})
		if !send(watch.Bookmark, bm) {
			return
		}
	}
	if closed {
		return
	}
	var timeout <-chan time.Time
	if ts, err := strconv.Atoi(q.Get("timeoutSeconds")); err == nil && ts > 0 {
		t := time.NewTimer(time.Duration(ts) * time.Second)
		defer t.Stop()
		timeout = t.C
	}
	for {
		select {
		case ev := <-wt.ch:
			if !send(ev.typ, ev.obj) {
				return
			}
		case <-wt.closed:
			return
		case <-timeout:
			return
		case <-req.r.Context().Done():
			return
		case <-st.srv.ctx.Done():
			return
		}
	}
}
