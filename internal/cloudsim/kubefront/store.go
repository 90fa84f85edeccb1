package kubefront

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// historySize is how many changes a store remembers for watches that
// resume from a resource version; older ones get 410 Gone and re-list.
const historySize = 4096

// store is one cluster's objects: typed, with a cluster-wide resource
// version, persisted to the engine on every change.
type store struct {
	srv                       *Server
	cloud, region, name, id   string
	host                      string
	version                   string // Kubernetes version, "1.31"
	cluster                   cloudsim.Cluster
	saSecret                  []byte
	adminToken                string
	caPEM                     []byte
	mu                        sync.Mutex
	rv                        int64
	objs                      map[string]runtime.Object
	hist                      []event
	watchers                  map[*watcher]struct{}
	runs                      map[string]*podRun
	logs                      map[string]*logBuffer
	closed                    bool
	reconciling               sync.Mutex
	lastNodes, lastPodsSignal string
}

type event struct {
	rv  int64
	typ watch.EventType
	res *resource
	obj runtime.Object
}

type watcher struct {
	res    *resource
	ns     string
	label  labels.Selector
	field  fields.Selector
	ch     chan event
	closed chan struct{}
	once   sync.Once
}

func (w *watcher) stop() { w.once.Do(func() { close(w.closed) }) }

func (w *watcher) wants(ev event) bool {
	if ev.res != w.res {
		return false
	}
	m, _ := meta.Accessor(ev.obj)
	if w.ns != "" && m.GetNamespace() != w.ns {
		return false
	}
	return matches(ev.res, ev.obj, w.label, w.field)
}

func matches(res *resource, obj runtime.Object, ls labels.Selector, fs fields.Selector) bool {
	m, err := meta.Accessor(obj)
	if err != nil {
		return false
	}
	if ls != nil && !ls.Matches(labels.Set(m.GetLabels())) {
		return false
	}
	if fs != nil && !fs.Empty() {
		return fs.Matches(objectFields(res, obj))
	}
	return true
}

func objectFields(res *resource, obj runtime.Object) fields.Set {
	m, _ := meta.Accessor(obj)
	set := fields.Set{"metadata.name": m.GetName()}
	if res.namespaced {
		set["metadata.namespace"] = m.GetNamespace()
	}
	if res.fields != nil {
		for k, v := range res.fields(obj) {
			set[k] = v
		}
	}
	return set
}

// checkFieldSelector rejects fields a resource cannot be selected by, as
// the real API server does.
func checkFieldSelector(res *resource, fs fields.Selector) error {
	if fs == nil {
		return nil
	}
	known := objectFields(res, res.new())
	for _, r := range fs.Requirements() {
		if _, ok := known[r.Field]; !ok {
			return apierrors.NewBadRequest(fmt.Sprintf("field label not supported: %s", r.Field))
		}
	}
	return nil
}

// newStore loads a cluster's objects from the engine.
func newStore(s *Server, c cloudsim.Cluster) (*store, error) {
	id, rv, docs, err := s.e.KubeObjects(c.Cloud, c.Region, c.Name)
	if err != nil {
		return nil, err
	}
	_, caKey, err := s.e.KubeCA(c.Cloud, c.Region, c.Name)
	if err != nil {
		return nil, err
	}
	token, caPEM, err := s.e.KubeAdmin(c.Cloud, c.Region, c.Name)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(caKey)
	if err != nil {
		return nil, err
	}
	secret := sha256.Sum256(append([]byte("kubefront service account tokens/"), der...))
	version := c.Spec.KubernetesVersion
	if version == "" {
		version = "1.31"
	}
	st := &store{srv: s, cloud: c.Cloud, region: c.Region, name: c.Name, id: id, cluster: c,
		host: strings.TrimPrefix(c.Endpoint, "https://"), version: version, saSecret: secret[:], adminToken: token, caPEM: caPEM, rv: rv,
		objs: map[string]runtime.Object{}, watchers: map[*watcher]struct{}{}, runs: map[string]*podRun{}, logs: map[string]*logBuffer{}}
	for k, doc := range docs {
		res := byPrefix(k)
		if res == nil {
			continue
		}
		obj := res.new()
		if err := json.Unmarshal(doc, obj); err != nil {
			return nil, fmt.Errorf("kubefront: stored object %s: %w", k, err)
		}
		obj.GetObjectKind().SetGroupVersionKind(res.gvk())
		st.objs[k] = obj
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, ns := range []string{metav1.NamespaceDefault, metav1.NamespaceSystem, metav1.NamespacePublic, corev1.NamespaceNodeLease} {
		if _, ok := st.objs[resNamespaces.key("", ns)]; ok {
			continue
		}
		n := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"kubernetes.io/metadata.name": ns}},
			Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{corev1.FinalizerKubernetes}}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}}
		st.stamp(resNamespaces, n, s.e.Now())
		if err := st.commit(resNamespaces, n, watch.Added); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// shutdown ends the store's watches and running pods.
func (st *store) shutdown() {
	st.mu.Lock()
	st.closed = true
	ws := st.watchers
	st.watchers = map[*watcher]struct{}{}
	runs := st.runs
	st.runs = map[string]*podRun{}
	st.mu.Unlock()
	for w := range ws {
		w.stop()
	}
	for _, r := range runs {
		r.cancel()
	}
}

// uid derives a stable UID from the cluster, the key and the version.
func (st *store) uid(key string, rv int64) types.UID {
	h := sha1.Sum([]byte(fmt.Sprintf("%s/%s/%d", st.id, key, rv)))
	x := hex.EncodeToString(h[:16])
	return types.UID(x[:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32])
}

// stamp fills what the server sets on create: UID, creation time,
// generation (objects with a spec).
func (st *store) stamp(res *resource, obj runtime.Object, now time.Time) {
	m, _ := meta.Accessor(obj)
	key := res.key(m.GetNamespace(), m.GetName())
	m.SetUID(st.uid(key, st.rv+1))
	m.SetCreationTimestamp(metav1.NewTime(now.UTC().Truncate(time.Second)))
	m.SetResourceVersion("")
	m.SetDeletionTimestamp(nil)
	if hasSpec(obj) {
		m.SetGeneration(1)
	}
}

// get returns the stored object (not a copy: callers copy before
// changing it). It is called with st.mu held.
func (st *store) get(res *resource, ns, name string) runtime.Object {
	return st.objs[res.key(ns, name)]
}

// list returns copies of the matching objects, sorted by key. It is
// called with st.mu held.
func (st *store) list(res *resource, ns string, ls labels.Selector, fs fields.Selector) []runtime.Object {
	prefix := res.prefix()
	if ns != "" {
		prefix += ns + "/"
	}
	var keys []string
	for k := range st.objs {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var out []runtime.Object
	for _, k := range keys {
		if o := st.objs[k]; matches(res, o, ls, fs) {
			out = append(out, o.DeepCopyObject())
		}
	}
	return out
}

// commit stores (or, for watch.Deleted, removes) an object under a new
// resource version, persists it and tells the watchers. It is called with
// st.mu held; obj is owned by the store afterwards.
func (st *store) commit(res *resource, obj runtime.Object, typ watch.EventType) error {
	if st.closed {
		return apierrors.NewServiceUnavailable("the cluster is going away")
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	obj.GetObjectKind().SetGroupVersionKind(res.gvk())
	key := res.key(m.GetNamespace(), m.GetName())
	rv := st.rv + 1
	m.SetResourceVersion(strconv.FormatInt(rv, 10))
	var doc []byte
	if typ != watch.Deleted {
		if doc, err = json.Marshal(obj); err != nil {
			return apierrors.NewInternalError(err)
		}
	}
	if err := st.srv.e.PutKubeObjects(st.cloud, st.region, st.name, rv, map[string][]byte{key: doc}); err != nil {
		return apierrors.NewInternalError(err)
	}
	st.rv = rv
	if typ == watch.Deleted {
		delete(st.objs, key)
	} else {
		st.objs[key] = obj
	}
	ev := event{rv: rv, typ: typ, res: res, obj: obj}
	st.hist = append(st.hist, ev)
	if len(st.hist) > historySize {
		st.hist = append(st.hist[:0:0], st.hist[len(st.hist)-historySize/2:]...)
	}
	for w := range st.watchers {
		if !w.wants(ev) {
			continue
		}
		select {
		case w.ch <- ev:
		default:
			// A watcher that does not keep up is dropped; its client
			// re-lists, as after an API server restart.
			delete(st.watchers, w)
			w.stop()
		}
	}
	return nil
}

// since returns the remembered changes after rv, or false when rv is
// older than the history. It is called with st.mu held.
func (st *store) since(rv int64) ([]event, bool) {
	if rv >= st.rv {
		return nil, true
	}
	if len(st.hist) == 0 || st.hist[0].rv > rv+1 {
		return nil, false
	}
	i := sort.Search(len(st.hist), func(i int) bool { return st.hist[i].rv > rv })
	return st.hist[i:], true
}

// saToken mints the bearer token of a service account.
func (st *store) saToken(ns, name string) string {
	id := ns + "/" + name
	mac := hmac.New(sha256.New, st.saSecret)
	mac.Write([]byte(id))
	return "kfsa." + base64.RawURLEncoding.EncodeToString([]byte(id)) + "." + hex.EncodeToString(mac.Sum(nil))[:40]
}

// parseSAToken returns the service account a token was minted for.
func (st *store) parseSAToken(tok string) (ns, name string, ok bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || parts[0] != "kfsa" {
		return "", "", false
	}
	id, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", "", false
	}
	ns, name, found := strings.Cut(string(id), "/")
	if !found || !hmac.Equal([]byte(st.saToken(ns, name)), []byte(tok)) {
		return "", "", false
	}
	return ns, name, true
}

func hasSpec(obj runtime.Object) bool {
	switch obj.(type) {
	case *corev1.ServiceAccount, *corev1.ConfigMap, *corev1.Event:
		return false
	}
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return false
	}
	_, ok := u["spec"]
	return ok
}
