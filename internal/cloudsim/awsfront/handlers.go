package awsfront

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// The Describe and Delete actions of the network kinds share one shape
// each; describeHandler and deleteHandler build them from a kind
// (store.go's kindOf) and what is its own.

// describeSpec is how one kind is described.
type describeSpec[M model, X any] struct {
	action string
	kind   kindOf[M]
	// idParam is the parameter naming IDs (VpcId.N, …).
	idParam string
	// known are the filter names the action accepts; fields the values a
	// resource has for them.
	known  []string
	fields func(*server, cloudsim.Row[M], *world) map[string][]string
	// paged Describes take MaxResults and NextToken (describePage).
	paged bool
	// narrow, when set, narrows the matches further (by GroupName.N, …).
	narrow func(r *http.Request, rs rows[M]) (rows[M], error)
	// xml is a resource's reply item; set the reply's item list.
	xml func(*server, cloudsim.Row[M], *world) X
	set func(*netResponse) **[]X
}

// describeHandler answers a DescribeX: the resources named or all the
// region sees, filtered, paged when the action pages, as items of an
// always present set (an empty <...Set/> when nothing matches, as EC2
// answers).
func describeHandler[M model, X any](d describeSpec[M, X]) worldHandler {
	return func(s *server, r *http.Request, region, reqID string, w *world) (any, error) {
		rs, err := d.selectRows(s, r, region, w)
		if err != nil {
			return nil, err
		}
		if d.narrow != nil {
			if rs, err = d.narrow(r, rs); err != nil {
				return nil, err
			}
		}
		out := reply(d.action, reqID)
		if d.paged {
			if rs, out.NextToken, err = describePage(r, rs); err != nil {
				return nil, err
			}
		}
		items := make([]X, 0, len(rs))
		for _, o := range rs {
			items = append(items, d.xml(s, o, w))
		}
		*d.set(out) = &items
		return out, nil
	}
}

// selectRows are the resources a DescribeX names (IDs in idParam.N, each
// a Get<Kind>), or all the region sees (one Get<Kind>), after the
// filters.
func (d describeSpec[M, X]) selectRows(s *server, r *http.Request, region string, w *world) (rows[M], error) {
	filters, err := parseFilters(r, d.known)
	if err != nil {
		return nil, err
	}
	ids := formList(r, d.idParam)
	if len(ids) == 0 {
		if err := d.kind.gate(s); err != nil {
			return nil, err
		}
	}
	for _, id := range ids {
		if _, err := d.kind.lookup(s, region, id); err != nil {
			return nil, err
		}
	}
	var rs rows[M]
	if len(ids) == 0 {
		rs = d.kind.inRegion(w, region)
	} else {
		seen := map[string]bool{}
		for _, id := range ids {
			name := d.kind.name(region, id)
			if m, ok := d.kind.rows(w).get(name); ok && !seen[id] {
				seen[id] = true
				rs = append(rs, cloudsim.Row[M]{Name: name, Value: m})
			}
		}
	}
	var out rows[M]
	for _, o := range rs {
		if matches(filters, d.fields(s, o, w), w.tagsOf(o.Name, o.Value)) {
			out = append(out, o)
		}
	}
	return out, nil
}

// deleteSpec is how one kind is deleted.
type deleteSpec[M model] struct {
	action string
	kind   kindOf[M]
	// idParam is the parameter naming the resource and param its name in
	// the MissingParameter message.
	idParam, param string
	// find, when set, finds the resource instead of idParam.
	find func(s *server, r *http.Request, region string, w *world) (cloudsim.Row[M], error)
	// check refuses a delete the resource's dependents forbid.
	check func(s *server, w *world, o cloudsim.Row[M]) error
	// children deletes what goes with it besides its tags (each child
	// tried: every one that stays is reported).
	children func(s *server, w *world, o cloudsim.Row[M]) error
	// after runs once it, its children and its tags are gone (to delete
	// what it created with it).
	after func(s *server, w *world, o cloudsim.Row[M]) error
	// answer completes the reply.
	answer func(out *netResponse, o M)
}

// deleteHandler answers a DeleteX: the resource looked up, its
// dependencies checked, then it, its children, its tags and what it made
// with it deleted (InternalError when something stays behind).
func deleteHandler[M model](d deleteSpec[M]) worldHandler {
	return func(s *server, r *http.Request, region, reqID string, w *world) (any, error) {
		var o cloudsim.Row[M]
		var err error
		if d.find != nil {
			o, err = d.find(s, r, region, w)
		} else {
			var v []string
			if v, err = required(r, d.idParam, d.param); err != nil {
				return nil, err
			}
			o, err = d.kind.lookup(s, region, v[0])
		}
		if err != nil {
			return nil, err
		}
		if d.check != nil {
			if err := d.check(s, w, o); err != nil {
				return nil, err
			}
		}
		if err := d.kind.table(s.net).Delete(o.Name); err != nil {
			return nil, engineErr(err, d.kind.resource)
		}
		var errs []error
		if d.children != nil {
			errs = append(errs, d.children(s, w, o))
		}
		errs = append(errs, s.dropTags(w, o.Name))
		if d.after != nil {
			errs = append(errs, d.after(s, w, o))
		}
		if err := errors.Join(errs...); err != nil {
			return nil, internalErr(fmt.Sprintf("%s %s was deleted, but not all it held", d.kind.kind, o.Value.ec2ID()), err)
		}
		out := replyTrue(d.action, reqID)
		if d.answer != nil {
			d.answer(out, o.Value)
		}
		return out, nil
	}
}
