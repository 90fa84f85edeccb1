package awsfront

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// The network objects as one request sees them, and ID lookups.

// world is a snapshot of the network objects, read without going through
// rate limits and faults (the request has already been through them).
type world struct {
	byKey  map[string]cloudsim.Object // kind "|" name
	byKind map[string][]cloudsim.Object
	tags   map[string]map[string]string // parent object name -> CreateTags tags
	ids    map[string]bool
}

func (s *server) world() *world {
	w := &world{byKey: map[string]cloudsim.Object{}, byKind: map[string][]cloudsim.Object{}, tags: map[string]map[string]string{}, ids: map[string]bool{}}
	for _, o := range s.e.Inventory().Objects {
		if o.Cloud != cloudName {
			continue
		}
		w.byKey[o.Kind+"|"+o.Name] = o
		w.byKind[o.Kind] = append(w.byKind[o.Kind], o)
		if id := o.Attrs["id"]; id != "" {
			w.ids[id] = true
		}
		if o.Kind == kindTag {
			p := o.Attrs["resource"]
			if w.tags[p] == nil {
				w.tags[p] = map[string]string{}
			}
			w.tags[p][o.Attrs["key"]] = o.Attrs["value"]
		}
	}
	return w
}

func (w *world) get(kind, name string) (cloudsim.Object, bool) {
	o, ok := w.byKey[kind+"|"+name]
	return o, ok
}

// children are the objects of kind whose attr names parent.
func (w *world) children(kind, attr, parent string) []cloudsim.Object {
	var out []cloudsim.Object
	for _, o := range w.byKind[kind] {
		if o.Attrs[attr] == parent {
			out = append(out, o)
		}
	}
	return out
}

// inRegion are the resources of kind a region sees.
func (w *world) inRegion(kind, region string) []cloudsim.Object {
	var out []cloudsim.Object
	for _, o := range w.byKind[kind] {
		if visibleIn(o, region) {
			out = append(out, o)
		}
	}
	return out
}

func visibleIn(o cloudsim.Object, region string) bool {
	if o.Kind == kindPeering {
		return o.Attrs["requester_region"] == region || o.Attrs["accepter_region"] == region
	}
	return o.Attrs["region"] == region
}

// tagsOf are a resource's tags: those of its creation, overlaid by
// CreateTags.
func (w *world) tagsOf(o cloudsim.Object) map[string]string {
	tags := map[string]string{}
	for k, v := range o.Attrs {
		if key, ok := strings.CutPrefix(k, "tag:"); ok {
			tags[key] = v
		}
	}
	for k, v := range w.tags[o.Name] {
		tags[k] = v
	}
	return tags
}

func xTags(tags map[string]string) []xTag {
	var out []xTag
	for _, k := range sortedKeys(tags) {
		out = append(out, xTag{k, tags[k]})
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// objectName is the engine name of a resource.
func objectName(k resource, region, id string) string {
	if k.kind == kindPeering {
		return "global/" + id
	}
	return region + "/" + id
}

var idPattern = regexp.MustCompile(`^[a-z]+-([0-9a-f]{8}|[0-9a-f]{17})$`)

// newID makes an unused ID: the prefix and 17 random hex digits.
func newID(prefix string, w *world) string {
	for {
		var b [9]byte
		_, _ = rand.Read(b[:])
		id := prefix + "-" + hex.EncodeToString(b[:])[:17]
		if !w.ids[id] {
			w.ids[id] = true
			return id
		}
	}
}

// lookup finds a resource by ID through the engine (Get<Kind>).
func (s *server) lookup(k resource, region, id string) (cloudsim.Object, error) {
	if !strings.HasPrefix(id, k.prefix+"-") || !idPattern.MatchString(id) {
		return cloudsim.Object{}, &ec2Err{400, k.malformed, fmt.Sprintf("Invalid id: \"%s\"", id)}
	}
	o, err := s.e.GetObject(cloudName, k.kind, objectName(k, region, id))
	if err != nil {
		if cloud.IsNotFound(err) {
			return o, k.missingID(id)
		}
		return o, engineErr(err, k)
	}
	if !visibleIn(o, region) {
		return o, k.missingID(id)
	}
	return o, nil
}

// gate puts a listing through the engine's rate limits and faults
// (Get<Kind> of nothing).
func (s *server) gate(k resource) error {
	if _, err := s.e.GetObject(cloudName, k.kind, "\x00list"); err != nil && !cloud.IsNotFound(err) {
		return engineErr(err, k)
	}
	return nil
}

// selectResources are the resources a DescribeX names (IDs in the
// parameter idParam.N), or all the region sees, after the filters.
func (s *server) selectResources(r *http.Request, region string, k resource, idParam string, fields func(cloudsim.Object, *world) map[string][]string, known []string) ([]cloudsim.Object, *world, error) {
	filters, err := parseFilters(r, known)
	if err != nil {
		return nil, nil, err
	}
	ids := formList(r, idParam)
	var objs []cloudsim.Object
	if len(ids) == 0 {
		if err := s.gate(k); err != nil {
			return nil, nil, err
		}
	}
	for _, id := range ids {
		if _, err := s.lookup(k, region, id); err != nil {
			return nil, nil, err
		}
	}
	w := s.world()
	if len(ids) == 0 {
		objs = w.inRegion(k.kind, region)
	} else {
		seen := map[string]bool{}
		for _, id := range ids {
			if o, ok := w.get(k.kind, objectName(k, region, id)); ok && !seen[id] {
				seen[id] = true
				objs = append(objs, o)
			}
		}
	}
	var out []cloudsim.Object
	for _, o := range objs {
		if matches(filters, fields(o, w), w.tagsOf(o)) {
			out = append(out, o)
		}
	}
	return out, w, nil
}
