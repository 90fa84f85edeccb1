package awsfront

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// The Describe and Delete actions of the network kinds share one shape
// each; describeHandler and deleteHandler build them from a kind's table
// entry.

// describeSpec is how one kind is described.
type describeSpec[X any] struct {
	action string
	res    resource
	// idParam is the parameter naming IDs (VpcId.N, …).
	idParam string
	// known are the filter names the action accepts; fields the values a
	// resource has for them.
	known  []string
	fields func(*server, cloudsim.Object, *world) map[string][]string
	// paged Describes take MaxResults and NextToken (describePage).
	paged bool
	// narrow, when set, narrows the matches further (by GroupName.N, …).
	narrow func(r *http.Request, objs []cloudsim.Object) ([]cloudsim.Object, error)
	// xml is a resource's reply item; set the reply's item list.
	xml func(*server, cloudsim.Object, *world) X
	set func(*netResponse) **[]X
}

// describeHandler answers a DescribeX: the resources named or all the
// region sees, filtered, paged when the action pages, as items of an
// always present set (an empty <...Set/> when nothing matches, as EC2
// answers).
func describeHandler[X any](d describeSpec[X]) networkHandler {
	return func(s *server, r *http.Request, region, reqID string) (any, error) {
		objs, w, err := s.selectResources(r, region, d.res, d.idParam,
			func(o cloudsim.Object, w *world) map[string][]string { return d.fields(s, o, w) }, d.known)
		if err != nil {
			return nil, err
		}
		if d.narrow != nil {
			if objs, err = d.narrow(r, objs); err != nil {
				return nil, err
			}
		}
		out := reply(d.action, reqID)
		if d.paged {
			if objs, out.NextToken, err = describePage(r, objs); err != nil {
				return nil, err
			}
		}
		items := make([]X, 0, len(objs))
		for _, o := range objs {
			items = append(items, d.xml(s, o, w))
		}
		*d.set(out) = &items
		return out, nil
	}
}

// deleteSpec is how one kind is deleted.
type deleteSpec struct {
	action string
	res    resource
	// idParam is the parameter naming the resource and param its name in
	// the MissingParameter message.
	idParam, param string
	// find, when set, finds the resource instead of idParam.
	find func(s *server, r *http.Request, region string) (cloudsim.Object, error)
	// check refuses a delete the resource's dependents forbid.
	check func(s *server, w *world, o cloudsim.Object) error
	// children are the kinds of child that go with it besides its tags,
	// each with the attr naming the parent (deleteChildren).
	children map[string]string
	// after runs once it and its children are gone (to delete what it
	// created with it).
	after func(s *server, w *world, o cloudsim.Object) error
	// answer completes the reply.
	answer func(out *netResponse, o cloudsim.Object)
}

// deleteHandler answers a DeleteX: the resource looked up, its
// dependencies checked, then it and its children deleted (InternalError
// when a child stays behind).
func deleteHandler(d deleteSpec) networkHandler {
	return func(s *server, r *http.Request, region, reqID string) (any, error) {
		var o cloudsim.Object
		var err error
		if d.find != nil {
			o, err = d.find(s, r, region)
		} else {
			var v []string
			if v, err = required(r, d.idParam, d.param); err != nil {
				return nil, err
			}
			o, err = s.lookup(d.res, region, v[0])
		}
		if err != nil {
			return nil, err
		}
		w := s.world()
		if d.check != nil {
			if err := d.check(s, w, o); err != nil {
				return nil, err
			}
		}
		if err := s.e.DeleteObject(cloudName, d.res.kind, o.Name); err != nil {
			return nil, engineErr(err, d.res)
		}
		err = s.deleteChildren(w, o.Name, d.children)
		if d.after != nil {
			err = errors.Join(err, d.after(s, w, o))
		}
		if err != nil {
			return nil, internalErr(fmt.Sprintf("%s %s was deleted, but not all it held", d.res.kind, o.Attrs["id"]), err)
		}
		out := replyTrue(d.action, reqID)
		if d.answer != nil {
			d.answer(out, o)
		}
		return out, nil
	}
}
