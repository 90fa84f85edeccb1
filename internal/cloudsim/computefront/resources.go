package computefront

import (
	"errors"
	"io"
	"net/http"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
)

// maxBody bounds request bodies.
const maxBody = 1 << 20

func readAll(r *http.Request) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r.Body, maxBody))
}

// insert creates a resource and answers its operation.
func (s *server) insert(q *request, k *kindInfo) (any, error) {
	m := k.newMsg()
	if _, err := parseBody(q.r, m); err != nil {
		return nil, err
	}
	name := getString(m, "name")
	if err := checkName("resource.name", name); err != nil {
		return nil, err
	}
	q.name = name
	rel, object := q.path(), objectName(q.project, q.region, name)
	sn, err := s.snapshot()
	if err != nil {
		return nil, err
	}
	if _, exists := sn.load(k.kind, object); exists {
		return nil, alreadyExists(rel)
	}
	now := s.now()
	if k.regional {
		if r := getString(m, "region"); r != "" {
			if pr, ok := parseRegion(q.project, r); !ok || pr != q.region {
				return nil, invalidField("resource.region", r, "The region must be the one in the request URL.")
			}
		}
		setString(m, "region", regionRel(q.project, q.region))
	}
	id := numericID(k.kind, object, strconv.FormatInt(now.UnixNano(), 10))
	m.ProtoReflect().Set(fieldOf(m, "id"), protoValueUint64(id))
	setString(m, "kind", k.apiKind)
	setString(m, "self_link", rel)
	setString(m, "creation_timestamp", stamp(now))
	if err := k.check(s, sn, q, m, nil); err != nil {
		return nil, err
	}
	var failure *opFailure
	if err := s.put(k.kind, object, m); err != nil {
		if failure = deferredFailure(err); failure == nil {
			return nil, engineError(err, rel, true)
		}
	} else if k.changed != nil {
		if err := k.changed(s, rel, false); err != nil {
			return nil, engineError(err, rel, false)
		}
	}
	return s.startOp(q, "insert", rel, id, failure)
}

// get answers one resource (through the engine, so that faults and rate
// limits apply).
func (s *server) get(q *request, k *kindInfo) (any, error) {
	m, err := s.tables[k.kind].get(objectName(q.project, q.region, q.name))
	if err != nil {
		return nil, engineError(err, q.path(), false)
	}
	sn, err := s.snapshot()
	if err != nil {
		return nil, err
	}
	return marshal(s.render(q, k, sn, m))
}

// remove deletes a resource nothing uses and answers its operation.
func (s *server) remove(q *request, k *kindInfo) (any, error) {
	rel, object := q.path(), objectName(q.project, q.region, q.name)
	sn, err := s.snapshot()
	if err != nil {
		return nil, err
	}
	m, exists := sn.load(k.kind, object)
	if exists && k.user != nil {
		if user := k.user(sn, rel); user != "" {
			return nil, inUse(k.label, rel, user)
		}
	}
	if err := s.tables[k.kind].remove(object); err != nil {
		return nil, engineError(err, rel, false)
	}
	if k.changed != nil {
		if err := k.changed(s, rel, true); err != nil {
			return nil, engineError(err, rel, false)
		}
	}
	var id uint64
	if exists {
		id = m.ProtoReflect().Get(fieldOf(m, "id")).Uint()
	}
	return s.startOp(q, "delete", rel, id, nil)
}

// patch changes a resource: PATCH replaces the top-level fields the body
// names, PUT (update) the whole resource but its identity.
func (s *server) patch(q *request, k *kindInfo, put bool) (any, error) {
	rel, object := q.path(), objectName(q.project, q.region, q.name)
	sn, err := s.snapshot()
	if err != nil {
		return nil, err
	}
	old, exists := sn.load(k.kind, object)
	if !exists {
		return nil, notFound(rel)
	}
	body := k.newMsg()
	present, err := parseBody(q.r, body)
	if err != nil {
		return nil, err
	}
	if n := getString(body, "name"); n != "" && n != q.name {
		return nil, invalidField("resource.name", n, "The name cannot be changed.")
	}
	m := proto.Clone(old)
	typ := "patch"
	if put {
		typ = "update"
		m = body
		for _, f := range []string{"name", "kind", "self_link", "creation_timestamp", "region"} {
			if v := getString(old, f); v != "" {
				setString(m, f, v)
			}
		}
		m.ProtoReflect().Set(fieldOf(m, "id"), old.ProtoReflect().Get(fieldOf(old, "id")))
	} else {
		delete(present, "name")
		delete(present, "id")
		delete(present, "selfLink")
		delete(present, "creationTimestamp")
		delete(present, "kind")
		if r, ok := present["region"]; ok && r {
			if pr, ok := parseRegion(q.project, getString(body, "region")); !ok || pr != q.region {
				return nil, invalidField("resource.region", getString(body, "region"), "The region cannot be changed.")
			}
			delete(present, "region")
		}
		mergeTop(m, body, present)
	}
	if err := k.check(s, sn, q, m, old); err != nil {
		return nil, err
	}
	if err := s.replace(k.kind, object, m); err != nil {
		return nil, engineError(err, rel, false)
	}
	if k.changed != nil {
		if err := k.changed(s, rel, false); err != nil {
			return nil, engineError(err, rel, false)
		}
	}
	return s.startOp(q, typ, rel, old.ProtoReflect().Get(fieldOf(old, "id")).Uint(), nil)
}

// deferredFailure turns the engine errors that GCE reports in the
// operation rather than in the call (quota, capacity) into an operation
// failure; nil for the others.
func deferredFailure(err error) *opFailure {
	var ce *cloud.Error
	if !errors.As(err, &ce) {
		return nil
	}
	switch ce.Kind {
	case cloud.KindQuota:
		return &opFailure{Code: "QUOTA_EXCEEDED", Message: ce.Message, HTTPStatus: http.StatusForbidden}
	case cloud.KindCapacity:
		return &opFailure{Code: "ZONE_RESOURCE_POOL_EXHAUSTED", Message: ce.Message, HTTPStatus: http.StatusServiceUnavailable}
	}
	return nil
}

// parseRegion reads a region reference (URL, "projects/p/regions/r",
// "regions/r" or "r").
func parseRegion(project, s string) (string, bool) {
	r, ok := parseRef(project, s+"/x/y")
	if ok && r.region != "" && r.coll == "x" {
		return r.region, true
	}
	if nameRE.MatchString(s) {
		return s, true
	}
	return "", false
}
