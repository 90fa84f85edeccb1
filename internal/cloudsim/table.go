package cloudsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
)

// Tables are the typed stores of the front ends' own resources (an Azure
// virtual network, a GCE router, …): one table per cloud and kind, each row
// a model value of the front end's type under a name. A table lives in the
// engine's state, so it is persisted with the world, read back by every
// process, and its calls go through the engine's locking, rate limits and
// injected faults like every other call: Create<Kind> for Put, Get<Kind>
// for Get, Delete<Kind> for Delete (the operation names of Inject and
// SetRateLimit). Rows come back in name order, so that nothing a front
// end derives from them depends on map order.
//
// Whether a kind is a resource someone pays for or a front end's
// bookkeeping (operation records) is the table's declared option, not its
// name: Inventory.Resources leaves bookkeeping rows out.

// TableOptions configure a table.
type TableOptions struct {
	// Bookkeeping marks rows that are a front end's records rather than
	// cloud resources (left out of Inventory.Resources).
	Bookkeeping bool
	// Legacy reads an engine object of a previous simulator version that
	// held what this table now holds: claim reports whether the object is
	// the table's, row is its record (nil: the object is dropped without
	// a row, e.g. a marker the record made redundant). Claimed objects are
	// moved into the table when it is opened; one that cannot be read is
	// an error (the world's state is unreadable) rather than a silent
	// loss.
	Legacy func(o Object) (row any, claim bool, err error)
}

// tableState is a table's part of the persisted world.
type tableState struct {
	Bookkeeping bool                       `json:"bookkeeping,omitempty"`
	Rows        map[string]json.RawMessage `json:"rows"`
}

// Table is a typed per-kind store (see Tables above). Its zero value is not
// usable; open one with NewTable.
type Table[T any] struct {
	e           *Engine
	cloud, kind string
	bookkeeping bool
	// err is why the table could not be opened (legacy objects that do
	// not read); every call answers it.
	err error
}

// Row is one row of a table.
type Row[T any] struct {
	Name  string
	Value T
}

func tableKey(cl, kind string) string { return cl + "/" + kind }

// NewTable opens the table of kind on cloud cl, creating it when the world
// has none, and moves into it the objects opts.Legacy claims (state files
// of an earlier version).
func NewTable[T any](e *Engine, cl, kind string, opts TableOptions) *Table[T] {
	t := &Table[T]{e: e, cloud: cl, kind: kind, bookkeeping: opts.Bookkeeping}
	defer e.lock()()
	t.err = t.open(opts)
	return t
}

// Kind is the table's kind (its rows' operation names are Get<Kind>,
// Create<Kind> and Delete<Kind>).
func (t *Table[T]) Kind() string { return t.kind }

// open registers the table and migrates legacy objects; called with the
// world locked.
func (t *Table[T]) open(opts TableOptions) error {
	ts := t.e.st.table(t.cloud, t.kind)
	changed := ts.Bookkeeping != opts.Bookkeeping
	ts.Bookkeeping = opts.Bookkeeping
	if opts.Legacy != nil {
		// All or nothing: a legacy object that does not read leaves the
		// world as it was.
		moved := map[string]json.RawMessage{}
		var claimed []string
		for _, k := range sortedKeys(t.e.st.Objects) {
			o := t.e.st.Objects[k]
			if o.Cloud != t.cloud {
				continue
			}
			row, claim, err := opts.Legacy(*o)
			if !claim {
				continue
			}
			if err != nil {
				return t.unreadable(fmt.Errorf("%s object %s of an earlier simulator version: %w", o.Kind, o.Name, err))
			}
			claimed = append(claimed, k)
			if row == nil {
				continue
			}
			v, ok := row.(*T)
			if !ok {
				return t.unreadable(fmt.Errorf("%s object %s: legacy row is %T, want %T", o.Kind, o.Name, row, v))
			}
			data, err := json.Marshal(v)
			if err != nil {
				return t.unreadable(err)
			}
			moved[o.Name] = data
		}
		maps.Copy(ts.Rows, moved)
		for _, k := range claimed {
			delete(t.e.st.Objects, k)
		}
		changed = changed || len(claimed) > 0
	}
	if changed {
		return t.e.save()
	}
	return nil
}

func (t *Table[T]) unreadable(err error) error {
	path := t.e.file
	if path == "" {
		path = "(in memory)"
	}
	return unreadable(path, err)
}

// table returns the state of a table, creating it.
func (s *state) table(cl, kind string) *tableState {
	k := tableKey(cl, kind)
	ts := s.Tables[k]
	if ts == nil {
		ts = &tableState{}
		s.Tables[k] = ts
	}
	if ts.Rows == nil {
		ts.Rows = map[string]json.RawMessage{}
	}
	return ts
}

func (t *Table[T]) decode(name string, data json.RawMessage) (T, error) {
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		return v, t.unreadable(fmt.Errorf("%s %s: %w", t.kind, name, err))
	}
	return v, nil
}

// Get returns the row name through the engine's rate limits and faults
// (Get<Kind>); KindNotFound when there is none.
func (t *Table[T]) Get(name string) (T, error) {
	var zero T
	if t.err != nil {
		return zero, t.err
	}
	defer t.e.lock()()
	if err := t.e.begin(t.cloud, "Get"+t.kind, Target{}); err != nil {
		return zero, err
	}
	data, ok := t.e.st.table(t.cloud, t.kind).Rows[name]
	if !ok {
		return zero, notFound(t.cloud, "Get"+t.kind, t.kind+" "+name)
	}
	return t.decode(name, data)
}

// Find is Get for a row that may be absent: false when there is none, any
// other failure the engine's.
func (t *Table[T]) Find(name string) (T, bool, error) {
	v, err := t.Get(name)
	if cloud.IsNotFound(err) {
		return v, false, nil
	}
	return v, err == nil, err
}

// Lookup returns the row name without rate limits or faults (the checks a
// front end makes, which the real APIs do not bill).
func (t *Table[T]) Lookup(name string) (T, bool, error) {
	var zero T
	if t.err != nil {
		return zero, false, t.err
	}
	defer t.e.lock()()
	data, ok := t.e.st.table(t.cloud, t.kind).Rows[name]
	if !ok {
		return zero, false, nil
	}
	v, err := t.decode(name, data)
	return v, err == nil, err
}

// Put creates or replaces the row name (Create<Kind>: a cloud's create or
// update request is one call). A row equal to the one stored changes
// nothing.
func (t *Table[T]) Put(name string, v T) error { return t.write(name, v, false) }

// Insert adds the row name with v like Put, but only when the table has
// none of that name: otherwise it answers a cloud.Conflict (code
// AlreadyExists), checked and written under the engine's lock, so that of
// two concurrent creates of one name exactly one succeeds, as a cloud
// answers them. The call is a Create<Kind> for faults and rate limits.
func (t *Table[T]) Insert(name string, v T) error { return t.write(name, v, true) }

// write is Put, or Insert when only a new row may be written.
func (t *Table[T]) write(name string, v T, onlyNew bool) error {
	if t.err != nil {
		return t.err
	}
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	defer t.e.lock()()
	if err := t.e.begin(t.cloud, "Create"+t.kind, Target{}); err != nil {
		return err
	}
	rows := t.e.st.table(t.cloud, t.kind).Rows
	old, exists := rows[name]
	switch {
	case exists && onlyNew:
		return cloud.Conflict(t.cloud, "Create"+t.kind, "AlreadyExists", "%s %s already exists", t.kind, name)
	case exists && string(old) == string(data):
		return nil
	}
	rows[name] = data
	return t.e.save()
}

// Delete removes the row name (Delete<Kind>); KindNotFound when absent.
func (t *Table[T]) Delete(name string) error {
	if t.err != nil {
		return t.err
	}
	defer t.e.lock()()
	if err := t.e.begin(t.cloud, "Delete"+t.kind, Target{}); err != nil {
		return err
	}
	rows := t.e.st.table(t.cloud, t.kind).Rows
	if _, ok := rows[name]; !ok {
		return notFound(t.cloud, "Delete"+t.kind, t.kind+" "+name)
	}
	delete(rows, name)
	return t.e.save()
}

// Remove is Delete for a row that may be absent: one that is not there is
// no error, any other failure is the engine's.
func (t *Table[T]) Remove(name string) error {
	if err := t.Delete(name); err != nil && !cloud.IsNotFound(err) {
		return err
	}
	return nil
}

// RemoveWhere removes the rows that gone picks (Delete<Kind> each, in
// name order); what it cannot remove it reports, every failure joined.
func (t *Table[T]) RemoveWhere(gone func(Row[T]) bool) error {
	rows, err := t.All()
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range rows {
		if gone(r) {
			errs = append(errs, t.Remove(r.Name))
		}
	}
	return errors.Join(errs...)
}

// All returns every row in name order, without rate limits or faults (a
// front end's view of its world for one request, which has been through
// them already).
func (t *Table[T]) All() ([]Row[T], error) {
	if t.err != nil {
		return nil, t.err
	}
	defer t.e.lock()()
	rows := t.e.st.table(t.cloud, t.kind).Rows
	out := make([]Row[T], 0, len(rows))
	for _, name := range sortedKeys(rows) {
		v, err := t.decode(name, rows[name])
		if err != nil {
			return nil, err
		}
		out = append(out, Row[T]{Name: name, Value: v})
	}
	return out, nil
}

// tableObjects are the tables' rows as the inventory lists them: objects
// of the table's cloud and kind, named as the rows, with their values and
// the table's bookkeeping option. Called with the world locked.
func (s *state) tableObjects() []Object {
	var out []Object
	for _, k := range sortedKeys(s.Tables) {
		ts := s.Tables[k]
		cl, kind, _ := strings.Cut(k, "/")
		for _, name := range sortedKeys(ts.Rows) {
			out = append(out, Object{Cloud: cl, Kind: kind, Name: name, ID: name, Row: true, Value: slices.Clone(ts.Rows[name]),
				bookkeeping: ts.Bookkeeping})
		}
	}
	return out
}

// LegacyJSON is the TableOptions.Legacy of a table whose rows a previous
// simulator version kept as engine objects of kind, the row's JSON in
// attrs "json" (the front ends' metadata objects).
func LegacyJSON[T any](kind string) func(o Object) (row any, claim bool, err error) {
	return func(o Object) (any, bool, error) {
		if o.Kind != kind {
			return nil, false, nil
		}
		v := new(T)
		return v, true, json.Unmarshal([]byte(o.Attrs["json"]), v)
	}
}

// NewRecordTable opens the table of a front end's own records of kind on
// cloud cl (bookkeeping) which a previous simulator version kept as
// metadata objects of the same kind (LegacyJSON).
func NewRecordTable[T any](e *Engine, cl, kind string) *Table[T] {
	return NewTable[T](e, cl, kind, TableOptions{Bookkeeping: true, Legacy: LegacyJSON[T](kind)})
}

// WriteVersion1State writes the state file of a world of the version
// before the tables (state version 1) holding objs and nothing else, as
// that version kept them (keyed cloud/kind/name, IDs from the counter):
// for the tests of the tables' Legacy readers.
func WriteVersion1State(path string, objs ...Object) error {
	st := struct {
		Objects map[string]Object `json:"objects"`
		Seq     int64             `json:"seq"`
	}{Objects: map[string]Object{}}
	for _, o := range objs {
		st.Seq++
		if o.ID == "" {
			o.ID = fmt.Sprintf("%s-%s-%06d", o.Cloud, o.Kind, st.Seq)
		}
		st.Objects[objectKey(o.Cloud, o.Kind, o.Name)] = o
	}
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}
