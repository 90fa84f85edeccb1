package azurefront

import (
	"encoding/json"
	"errors"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// Storage of Microsoft.Network resources in engine objects, and references
// between them (see network.go).

// armRef is a parsed Microsoft.Network resource ID.
type armRef struct {
	RG    string
	Types []string // e.g. virtualNetworks, subnets
	Names []string
}

// parseRef parses /subscriptions/{s}/resourceGroups/{rg}/providers/
// Microsoft.Network/{type}/{name}[/{type}/{name}...].
func parseRef(id string) (armRef, bool) {
	p := strings.Split(strings.Trim(id, "/"), "/")
	if len(p) < 8 || len(p)%2 != 0 || !strings.EqualFold(p[0], "subscriptions") || !strings.EqualFold(p[2], "resourceGroups") ||
		!strings.EqualFold(p[4], "providers") || !strings.EqualFold(p[5], "Microsoft.Network") {
		return armRef{}, false
	}
	r := armRef{RG: p[3]}
	for i := 6; i < len(p); i += 2 {
		if p[i+1] == "" {
			return armRef{}, false
		}
		r.Types = append(r.Types, strings.ToLower(p[i]))
		r.Names = append(r.Names, p[i+1])
	}
	return r, true
}

// refTo returns the key of a reference to a resource of the given kind
// (and, for gateway IP configurations, the configuration name).
func refTo(id, kind string) (key, sub string, ok bool) {
	r, ok := parseRef(id)
	if !ok {
		return "", "", false
	}
	k := kindInfo(kind)
	switch {
	case k.child && len(r.Types) == 2 && r.Types[0] == "virtualnetworks" && r.Types[1] == strings.ToLower(k.seg):
		return netKey(r.RG, r.Names...), "", true
	case !k.child && len(r.Types) == 1 && r.Types[0] == strings.ToLower(k.seg):
		return netKey(r.RG, r.Names[0]), "", true
	case kind == kindGateway && len(r.Types) == 2 && r.Types[0] == "virtualnetworkgateways" && r.Types[1] == "ipconfigurations":
		return netKey(r.RG, r.Names[0]), r.Names[1], true
	}
	return "", "", false
}

// netWorld is every network record, read once per request.
type netWorld struct {
	sub  string                          // the request's subscription, for IDs
	recs map[string]map[string]netRecord // kind -> key -> record
}

// netTables are the typed tables of the Microsoft.Network resources (one
// per kind, rows named by key) and of their PUT operations.
type netTables struct {
	recs map[string]*cloudsim.Table[netRecord]
	ops  *cloudsim.Table[netOp]
}

// netOp is the record of a PUT's long-running operation.
type netOp struct {
	RG       string    `json:"rg"` // lower case
	Kind     string    `json:"kind"`
	Key      string    `json:"key"`
	Location string    `json:"location"`
	Start    time.Time `json:"start"`
}

// newNetTables opens the tables. A world of the version before them kept
// each resource as an object of its kind (attrs rg, location) and its
// record as a "<Kind>Meta" object (JSON in attrs "json"), and each
// operation as a "NetworkOperation" object (attrs rg, kind, key, location,
// start): those move into the tables.
func newNetTables(e *cloudsim.Engine) *netTables {
	t := &netTables{recs: map[string]*cloudsim.Table[netRecord]{}}
	for _, k := range netKinds {
		t.recs[k.kind] = cloudsim.NewTable[netRecord](e, cloudName, k.kind, cloudsim.TableOptions{Legacy: func(o cloudsim.Object) (any, bool, error) {
			switch o.Kind {
			case k.kind:
				return nil, true, nil
			case k.kind + "Meta":
				var r netRecord
				if err := json.Unmarshal([]byte(o.Attrs["json"]), &r); err != nil {
					return nil, true, err
				}
				return &r, true, nil
			}
			return nil, false, nil
		}})
	}
	t.ops = cloudsim.NewTable[netOp](e, cloudName, kindNetOp, cloudsim.TableOptions{Bookkeeping: true, Legacy: func(o cloudsim.Object) (any, bool, error) {
		if o.Kind != kindNetOp {
			return nil, false, nil
		}
		start, err := time.Parse(time.RFC3339Nano, o.Attrs["start"])
		if err != nil {
			return nil, true, err
		}
		return &netOp{RG: o.Attrs["rg"], Kind: o.Attrs["kind"], Key: o.Attrs["key"], Location: o.Attrs["location"], Start: start}, true, nil
	}})
	return t
}

func (s *server) netWorld(sub string) (*netWorld, error) {
	w := &netWorld{sub: sub, recs: map[string]map[string]netRecord{}}
	for _, k := range netKinds {
		rows, err := s.net.recs[k.kind].All()
		if err != nil {
			return nil, err
		}
		m := map[string]netRecord{}
		for _, r := range rows {
			m[r.Name] = r.Value
		}
		w.recs[k.kind] = m
	}
	return w, nil
}

func (w *netWorld) get(kind, key string) (netRecord, bool) {
	r, ok := w.recs[kind][key]
	return r, ok
}

// ref resolves a resource ID to a record of the given kind.
func (w *netWorld) ref(id, kind string) (netRecord, bool) {
	key, _, ok := refTo(id, kind)
	if !ok {
		return netRecord{}, false
	}
	return w.get(kind, key)
}

// all returns the records of a kind, sorted by key.
func (w *netWorld) all(kind string) []netRecord {
	keys := make([]string, 0, len(w.recs[kind]))
	for k := range w.recs[kind] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]netRecord, 0, len(keys))
	for _, k := range keys {
		out = append(out, w.recs[kind][k])
	}
	return out
}

// children returns the subnets or peerings of a virtual network.
func (w *netWorld) children(kind string, vnet netRecord) []netRecord {
	var out []netRecord
	for _, r := range w.all(kind) {
		if netKey(r.RG, r.VNet) == vnet.key() {
			out = append(out, r)
		}
	}
	return out
}

// saveNet stores a record (Create<Kind>: a PUT creates or updates) and
// keeps the world snapshot current.
func (s *server) saveNet(w *netWorld, r netRecord) error {
	if err := s.net.recs[r.Kind].Put(r.key(), r); err != nil {
		return err
	}
	if w.recs[r.Kind] == nil {
		w.recs[r.Kind] = map[string]netRecord{}
	}
	w.recs[r.Kind][r.key()] = r
	return nil
}

// dropNet removes a resource with its operation records; a record that
// stays is reported (every failure, joined).
func (s *server) dropNet(w *netWorld, r netRecord) error {
	if err := s.net.recs[r.Kind].Delete(r.key()); err != nil && !cloud.IsNotFound(err) {
		return err
	}
	delete(w.recs[r.Kind], r.key())
	ops, err := s.net.ops.All()
	if err != nil {
		return err
	}
	var errs []error
	for _, o := range ops {
		if o.Value.Kind == r.Kind && o.Value.Key == r.key() {
			errs = append(errs, s.dropNetOp(o.Name))
		}
	}
	return errors.Join(errs...)
}

func (s *server) dropNetOp(id string) error {
	if err := s.net.ops.Delete(id); err != nil && !cloud.IsNotFound(err) {
		return err
	}
	return nil
}

// networkGroupDeletion is called with s.mu held before a resource group
// is deleted: it refuses while network resources remain in the group
// (409 ResourceGroupDeletionBlocked), and otherwise removes the group's
// operation records.
func (s *server) networkGroupDeletion(key, name string) error {
	w, err := s.netWorld("")
	if err != nil {
		return err
	}
	var left []string
	for _, k := range netKinds {
		for _, r := range w.all(k.kind) {
			if strings.ToLower(r.RG) == key {
				left = append(left, k.seg+"/"+r.key()[len(key)+1:])
			}
		}
	}
	if len(left) > 0 {
		slices.Sort(left)
		return newErr(409, "ResourceGroupDeletionBlocked",
			"Deletion of resource group '%s' was refused: it still contains network resources (%s); cloudsim deletes a resource group only once its network resources are deleted.",
			name, strings.Join(left, ", "))
	}
	ops, err := s.net.ops.All()
	if err != nil {
		return err
	}
	for _, o := range ops {
		if o.Value.RG == key {
			if err := s.dropNetOp(o.Name); err != nil {
				return err
			}
		}
	}
	return nil
}
