package kubeinstall

import (
	"context"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"
)

// discoveryTimeout bounds one discovery request, as client-go's discovery
// client does by default.
const discoveryTimeout = 32 * time.Second

// discoveryCodecs decode discovery documents and the API's Status errors
// (metav1's unversioned types) and nothing else. Made on first use: a
// start of the provider that installs nothing does not pay for them.
var discoveryCodecs = sync.OnceValue(func() serializer.CodecFactory {
	s := runtime.NewScheme()
	metav1.AddToGroupVersion(s, schema.GroupVersion{Version: "v1"})
	return serializer.NewCodecFactory(s)
})

// mapper finds the resource that serves a kind, and whether it is
// namespaced, from the cluster's discovery document of the kind's group
// version (GET /api/v1 or /apis/GROUP/VERSION, the APIResourceList that
// client-go's discovery client reads too), fetched once per group version
// a manifest names. It does the work of client-go's discovery client and
// restmapper for manifests, whose objects always name their apiVersion,
// without linking them: the discovery client links
// k8s.io/client-go/kubernetes/scheme, which registers every built-in API
// group when the provider starts (about a tenth of the instructions to
// its schema, docs/benchmarks/provider-startup-2026-12-03.txt).
type mapper struct {
	rc *rest.RESTClient

	mu    sync.Mutex
	lists map[schema.GroupVersion]*metav1.APIResourceList
}

// newMapper makes a mapper for the cluster cfg points at, with cfg's
// credentials, transport and rate limits.
func newMapper(cfg *rest.Config) (*mapper, error) {
	c := rest.CopyConfig(cfg)
	c.APIPath, c.GroupVersion = "", nil
	c.NegotiatedSerializer = discoveryCodecs().WithoutConversion()
	c.ContentType, c.AcceptContentTypes = "application/json", "application/json"
	if c.Timeout == 0 {
		c.Timeout = discoveryTimeout
	}
	if c.UserAgent == "" {
		c.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	rc, err := rest.UnversionedRESTClientFor(c)
	if err != nil {
		return nil, err
	}
	return &mapper{rc: rc}, nil
}

// resourceFor is the resource serving gvk and whether it is namespaced. A
// group version or kind the cluster does not serve is a
// *meta.NoKindMatchError (meta.IsNoMatchError), as from client-go's
// restmapper.
func (m *mapper) resourceFor(ctx context.Context, gvk schema.GroupVersionKind) (schema.GroupVersionResource, bool, error) {
	gv := gvk.GroupVersion()
	list, err := m.resources(ctx, gv)
	if apierrors.IsNotFound(err) {
		list, err = &metav1.APIResourceList{}, nil
	}
	if err != nil {
		return schema.GroupVersionResource{}, false, err
	}
	for _, r := range list.APIResources {
		if r.Kind == gvk.Kind && !strings.Contains(r.Name, "/") { // not a subresource (pods/log)
			return gv.WithResource(r.Name), r.Namespaced, nil
		}
	}
	return schema.GroupVersionResource{}, false, &meta.NoKindMatchError{GroupKind: gvk.GroupKind(), SearchedVersions: []string{gv.Version}}
}

// resources is the discovery document of gv, read on first use. Errors
// (a group version not served yet, say) are not kept: the next call asks
// again.
func (m *mapper) resources(ctx context.Context, gv schema.GroupVersion) (*metav1.APIResourceList, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.lists[gv]; ok {
		return l, nil
	}
	path := "/apis/" + gv.String()
	if gv.Group == "" {
		path = "/api/" + gv.Version
	}
	l := &metav1.APIResourceList{}
	if err := m.rc.Get().AbsPath(path).Do(ctx).Into(l); err != nil {
		return nil, err
	}
	if m.lists == nil {
		m.lists = map[schema.GroupVersion]*metav1.APIResourceList{}
	}
	m.lists[gv] = l
	return l, nil
}
