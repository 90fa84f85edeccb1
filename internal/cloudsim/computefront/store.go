package computefront

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// Engine object kinds.
const (
	kindNetwork            = "Network"
	kindSubnetwork         = "Subnetwork"
	kindFirewall           = "Firewall"
	kindVpnGateway         = "VpnGateway"
	kindExternalVpnGateway = "ExternalVpnGateway"
	kindVpnTunnel          = "VpnTunnel"
	kindRouter             = "Router"
	kindOperation          = "ComputeOperation"
)

// kindInfo describes one resource collection and its rules.
type kindInfo struct {
	kind     string // engine object kind
	coll     string // URL collection
	apiKind  string // "compute#network"
	label    string // as GCE names it in messages ("vpn_tunnel")
	regional bool
	mutable  bool // PATCH and PUT
	newMsg   func() proto.Message
	// open opens the kind's table (openTable of its message type).
	open func(e *cloudsim.Engine, kind string) store
	// check validates a new resource (old nil) or an updated one and fills
	// its defaults, normalising references to relative paths.
	check func(s *server, sn *snapshot, q *request, m, old proto.Message) error
	// user names a resource that uses rel (blocking its deletion), or "".
	user func(sn *snapshot, rel string) string
	// render fills computed fields of a copy about to be answered (before
	// references are expanded).
	render func(s *server, sn *snapshot, m proto.Message)
	// expand turns relative references into URLs under base.
	expand func(base string, m proto.Message)
	// changed runs after a successful change (insert, patch, delete); an
	// error is the engine's, the request's answer.
	changed func(s *server, rel string, deleted bool) error
}

// kinds by collection; filled in init to break the initialisation cycle
// between the table and the check functions that read it.
var kinds = map[string]*kindInfo{}

var kindByName = map[string]*kindInfo{}

func register(k *kindInfo) {
	kinds[k.coll] = k
	kindByName[k.kind] = k
}

var nameRE = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)

func checkName(field, name string) error {
	if !nameRE.MatchString(name) {
		return invalidField(field, name, "Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'")
	}
	return nil
}

// objectName is the engine object name of a resource.
func objectName(project, region, name string) string {
	if region == "" {
		return project + "/" + name
	}
	return project + "/" + region + "/" + name
}

// ref is a parsed relative resource path.
type ref struct {
	project, region, coll, name string
}

func (r ref) rel() string {
	if r.region == "" {
		return "projects/" + r.project + "/global/" + r.coll + "/" + r.name
	}
	return "projects/" + r.project + "/regions/" + r.region + "/" + r.coll + "/" + r.name
}

func (r ref) object() string { return objectName(r.project, r.region, r.name) }

// parseRef reads a resource reference: a URL on any host, or a partial
// path ("projects/p/global/networks/n", "global/networks/n",
// "regions/r/vpnGateways/g"), relative to project.
func parseRef(project, s string) (ref, bool) {
	if i := strings.Index(s, "/compute/v1/"); i >= 0 {
		s = s[i+len("/compute/v1/"):]
	}
	s = strings.Trim(s, "/")
	if strings.HasPrefix(s, "global/") || strings.HasPrefix(s, "regions/") {
		s = "projects/" + project + "/" + s
	}
	segs := strings.Split(s, "/")
	switch {
	case len(segs) == 5 && segs[0] == "projects" && segs[2] == "global":
		return ref{project: segs[1], coll: segs[3], name: segs[4]}, segs[1] != "" && segs[4] != ""
	case len(segs) == 6 && segs[0] == "projects" && segs[2] == "regions":
		return ref{project: segs[1], region: segs[3], coll: segs[4], name: segs[5]}, segs[1] != "" && segs[3] != "" && segs[5] != ""
	}
	return ref{}, false
}

// normRef checks that field holds a reference to an existing resource of
// kind (in region when regional) and returns its relative path.
func normRef(sn *snapshot, project, field, value, kind string) (string, ref, error) {
	r, ok := parseRef(project, value)
	k := kindByName[kind]
	if !ok || r.coll != k.coll || (r.region != "") != k.regional {
		return "", ref{}, invalidField(field, value, "The URL is malformed.")
	}
	if _, found := sn.load(kind, r.object()); !found {
		return "", ref{}, notFound(r.rel())
	}
	return r.rel(), r, nil
}

// regionRel is the relative path of a region.
func regionRel(project, region string) string { return "projects/" + project + "/regions/" + region }

func zoneRel(project, zone string) string { return "projects/" + project + "/zones/" + zone }

// pbRow is a resource as its kind's table keeps it: the GCE model, its
// computepb message, stored as protojson (the wire form the API answers,
// with relative references).
type pbRow[M any, PM interface {
	*M
	proto.Message
}] struct{ m PM }

// MarshalJSON stores the message as protojson.
func (r pbRow[M, PM]) MarshalJSON() ([]byte, error) { return protojson.Marshal(r.m) }

// UnmarshalJSON reads a stored message.
func (r *pbRow[M, PM]) UnmarshalJSON(data []byte) error {
	r.m = PM(new(M))
	return storeIn.Unmarshal(data, r.m)
}

// store is one kind's table, as the kind-generic handlers use it.
type store interface {
	all() (map[string]proto.Message, error)
	put(object string, m proto.Message) error
	get(object string) (proto.Message, error)
	remove(object string) error
}

// pbTable is the store of one message type.
type pbTable[M any, PM interface {
	*M
	proto.Message
}] struct {
	t *cloudsim.Table[pbRow[M, PM]]
}

// openTable opens the table of a kind whose model is M. A world of the
// version before the tables kept each resource as an engine object of the
// kind, the protojson in attrs "json": those move into the table.
func openTable[M any, PM interface {
	*M
	proto.Message
}](e *cloudsim.Engine, kind string) store {
	return pbTable[M, PM]{t: cloudsim.NewTable[pbRow[M, PM]](e, cloudName, kind, cloudsim.TableOptions{
		Legacy: func(o cloudsim.Object) (any, bool, error) {
			if o.Kind != kind {
				return nil, false, nil
			}
			r := &pbRow[M, PM]{m: PM(new(M))}
			return r, true, storeIn.Unmarshal([]byte(o.Attrs["json"]), r.m)
		}})}
}

func (p pbTable[M, PM]) all() (map[string]proto.Message, error) {
	rows, err := p.t.All()
	if err != nil {
		return nil, err
	}
	out := make(map[string]proto.Message, len(rows))
	for _, r := range rows {
		out[r.Name] = r.Value.m
	}
	return out, nil
}

func (p pbTable[M, PM]) put(object string, m proto.Message) error {
	pm, ok := m.(PM)
	if !ok {
		return fmt.Errorf("cloudsim: %T stored in the table of %T", m, pm)
	}
	return p.t.Put(object, pbRow[M, PM]{m: pm})
}

func (p pbTable[M, PM]) get(object string) (proto.Message, error) {
	r, err := p.t.Get(object)
	if err != nil {
		return nil, err
	}
	return r.m, nil
}

func (p pbTable[M, PM]) remove(object string) error { return p.t.Delete(object) }

// snapshot is the front end's resources as its tables hold them now.
type snapshot struct {
	objs map[string]map[string]proto.Message // kind -> object name -> resource
}

func (s *server) snapshot() (*snapshot, error) {
	sn := &snapshot{objs: map[string]map[string]proto.Message{}}
	for _, kind := range slices.Sorted(maps.Keys(s.tables)) {
		m, err := s.tables[kind].all()
		if err != nil {
			return nil, err
		}
		sn.objs[kind] = m
	}
	return sn, nil
}

var storeIn = protojson.UnmarshalOptions{DiscardUnknown: true}

// load returns a copy of one resource.
func (sn *snapshot) load(kind, object string) (proto.Message, bool) {
	m, ok := sn.objs[kind][object]
	if !ok {
		return nil, false
	}
	return proto.Clone(m), true
}

// loadRel decodes the resource at a relative path.
func (sn *snapshot) loadRel(rel string) (proto.Message, bool) {
	r, ok := parseRef("", rel)
	if !ok {
		return nil, false
	}
	for _, k := range kinds {
		if k.coll == r.coll {
			return sn.load(k.kind, r.object())
		}
	}
	return nil, false
}

// each calls fn for every resource of kind, by object name.
func (sn *snapshot) each(kind string, fn func(object string, m proto.Message)) {
	names := make([]string, 0, len(sn.objs[kind]))
	for n := range sn.objs[kind] {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if m, ok := sn.load(kind, n); ok {
			fn(n, m)
		}
	}
}

// firstUser returns the self link of the first resource of kind whose
// field (read by get) is rel, or "".
func firstUser[T proto.Message](sn *snapshot, kind, rel string, get func(T) []string) string {
	user := ""
	sn.each(kind, func(_ string, m proto.Message) {
		if user != "" {
			return
		}
		for _, v := range get(m.(T)) {
			if v == rel {
				user = selfLink(m)
				return
			}
		}
	})
	return user
}

// put stores a new resource (Create<Kind>).
func (s *server) put(kind, object string, m proto.Message) error {
	return s.tables[kind].put(object, m)
}

// replace stores the new version of a resource (Create<Kind>, as a create
// is: the engine's one write of a resource).
func (s *server) replace(kind, object string, m proto.Message) error {
	return s.tables[kind].put(object, m)
}

// numericID derives a stable 63-bit ID.
func numericID(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		_, _ = h.Write([]byte(p))
		_, _ = h.Write([]byte{0})
	}
	id := h.Sum64() & (1<<63 - 1)
	if id == 0 {
		id = 1
	}
	return id
}

const stampLayout = "2006-01-02T15:04:05.000-07:00"

func stamp(t time.Time) string { return t.Format(stampLayout) }

// Reflection helpers for the fields every resource shares.

func fieldOf(m proto.Message, name string) protoreflect.FieldDescriptor {
	return m.ProtoReflect().Descriptor().Fields().ByName(protoreflect.Name(name))
}

func setString(m proto.Message, name, v string) {
	if fd := fieldOf(m, name); fd != nil {
		m.ProtoReflect().Set(fd, protoreflect.ValueOfString(v))
	}
}

func getString(m proto.Message, name string) string {
	if fd := fieldOf(m, name); fd != nil && m.ProtoReflect().Has(fd) {
		return m.ProtoReflect().Get(fd).String()
	}
	return ""
}

func selfLink(m proto.Message) string { return getString(m, "self_link") }

// prefix turns a relative path into a URL under base ("" stays "").
func prefix(base, rel string) string {
	if rel == "" || strings.Contains(rel, "://") {
		return rel
	}
	return base + rel
}

func prefixPtr(base string, p *string) *string {
	if p == nil {
		return nil
	}
	return proto.String(prefix(base, *p))
}

// expandCommon expands self_link and region.
func expandCommon(base string, m proto.Message) {
	for _, f := range []string{"self_link", "region"} {
		if v := getString(m, f); v != "" {
			setString(m, f, prefix(base, v))
		}
	}
}

// render answers a stored resource: computed fields, then URLs.
func (s *server) render(q *request, k *kindInfo, sn *snapshot, m proto.Message) proto.Message {
	out := proto.Clone(m)
	if k.render != nil {
		k.render(s, sn, out)
	}
	expandCommon(q.base, out)
	if k.expand != nil {
		k.expand(q.base, out)
	}
	return out
}

// parseBody decodes a request body strictly, as GCE rejects unknown
// fields, and reports the top-level keys present.
func parseBody(r *http.Request, m proto.Message) (map[string]bool, error) {
	var raw map[string]json.RawMessage
	data, err := readAll(r)
	if err != nil {
		return nil, invalidf("Reading the request body failed: %v", err)
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		data = []byte("{}")
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, invalidf("Invalid JSON payload received. %v", err)
	}
	if err := protojson.Unmarshal(data, m); err != nil {
		return nil, invalidf("Invalid JSON payload received. %v", err)
	}
	present := map[string]bool{}
	for key := range raw {
		present[key] = true
	}
	return present, nil
}

// mergeTop sets in dst the top-level fields of src that the request named
// (clearing those it named empty), as a PATCH does.
func mergeTop(dst, src proto.Message, present map[string]bool) {
	fields := src.ProtoReflect().Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if !present[fd.JSONName()] && !present[string(fd.Name())] {
			continue
		}
		if src.ProtoReflect().Has(fd) {
			dst.ProtoReflect().Set(fd, src.ProtoReflect().Get(fd))
		} else {
			dst.ProtoReflect().Clear(fd)
		}
	}
}

// Compile-time checks that the kinds' messages have the shared fields.
var _ = []interface {
	GetSelfLink() string
	GetName() string
	GetId() uint64
}{&computepb.Network{}, &computepb.Subnetwork{}, &computepb.Firewall{}, &computepb.VpnGateway{},
	&computepb.ExternalVpnGateway{}, &computepb.VpnTunnel{}, &computepb.Router{}}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
