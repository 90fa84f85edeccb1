package azurefront

import (
	"encoding/json"
	"errors"
	"slices"
	"sort"
	"strings"

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

func (s *server) netWorld(sub string) *netWorld {
	w := &netWorld{sub: sub, recs: map[string]map[string]netRecord{}}
	for _, o := range s.e.Inventory().Objects {
		if o.Cloud != cloudName || !strings.HasSuffix(o.Kind, metaSuffix) {
			continue
		}
		var r netRecord
		if json.Unmarshal([]byte(o.Attrs["json"]), &r) != nil || r.Kind+metaSuffix != o.Kind {
			continue
		}
		if w.recs[r.Kind] == nil {
			w.recs[r.Kind] = map[string]netRecord{}
		}
		w.recs[r.Kind][o.Name] = r
	}
	return w
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

// saveNet stores a record (and keeps the world snapshot current).
func (s *server) saveNet(w *netWorld, r netRecord) error {
	if err := s.putMeta(r.Kind+metaSuffix, r.key(), strings.ToLower(r.RG), r); err != nil {
		return err
	}
	if w.recs[r.Kind] == nil {
		w.recs[r.Kind] = map[string]netRecord{}
	}
	w.recs[r.Kind][r.key()] = r
	return nil
}

// createNet creates (or finds) the engine object of a resource: the call
// that faults and rate limits apply to (Create<Kind>).
func (s *server) createNet(r netRecord) error {
	attrs := map[string]string{"rg": strings.ToLower(r.RG), "location": r.Location}
	_, err := s.e.PutObject(cloudName, r.Kind, r.key(), attrs)
	return err
}

// dropNet removes a resource with its record and operation records; a
// record that stays is reported (every failure, joined).
func (s *server) dropNet(w *netWorld, r netRecord) error {
	if err := s.e.DeleteObject(cloudName, r.Kind, r.key()); err != nil && !cloud.IsNotFound(err) {
		return err
	}
	errs := []error{cloudsim.DeleteMeta(s.e, cloudName, r.Kind+metaSuffix, r.key())}
	delete(w.recs[r.Kind], r.key())
	for _, o := range s.e.Inventory().Objects {
		if o.Cloud == cloudName && o.Kind == kindNetOp && o.Attrs["kind"] == r.Kind && o.Attrs["key"] == r.key() {
			errs = append(errs, cloudsim.DeleteMeta(s.e, cloudName, o.Kind, o.Name))
		}
	}
	return errors.Join(errs...)
}

// networkGroupDeletion is called with s.mu held before a resource group
// is deleted: it refuses while network resources remain in the group
// (409 ResourceGroupDeletionBlocked), and otherwise removes the group's
// network bookkeeping.
func (s *server) networkGroupDeletion(key, name string) error {
	var left []string
	var books []cloudsim.Object
	for _, o := range s.e.Inventory().Objects {
		if o.Cloud != cloudName || o.Attrs["rg"] != key {
			continue
		}
		switch {
		case o.Kind == kindNetOp || (strings.HasSuffix(o.Kind, metaSuffix) && isNetKind(strings.TrimSuffix(o.Kind, metaSuffix))):
			books = append(books, o)
		case isNetKind(o.Kind):
			left = append(left, kindInfo(o.Kind).seg+"/"+o.Name[len(key)+1:])
		}
	}
	if len(left) > 0 {
		slices.Sort(left)
		return newErr(409, "ResourceGroupDeletionBlocked",
			"Deletion of resource group '%s' was refused: it still contains network resources (%s); cloudsim deletes a resource group only once its network resources are deleted.",
			name, strings.Join(left, ", "))
	}
	for _, o := range books {
		if err := cloudsim.DeleteMeta(s.e, cloudName, o.Kind, o.Name); err != nil {
			return err
		}
	}
	return nil
}

func isNetKind(kind string) bool {
	for _, k := range netKinds {
		if k.kind == kind {
			return true
		}
	}
	return false
}
