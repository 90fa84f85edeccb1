package awsfront

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// Storage of the EC2 networking kinds (model.go) in typed engine tables,
// the world one request sees, and the lookups every kind shares.

// netTables are the tables of the network kinds: cloud "aws", one per
// kind under the kind's name (so the operations that Inject and
// SetRateLimit name are Create<Kind>, Get<Kind>, Delete<Kind>), rows named
// as network.go's doc comment says.
type netTables struct {
	vpcs         *cloudsim.Table[VPC]
	subnets      *cloudsim.Table[Subnet]
	groups       *cloudsim.Table[SecurityGroup]
	rules        *cloudsim.Table[SecurityGroupRule]
	routeTables  *cloudsim.Table[RouteTable]
	routes       *cloudsim.Table[Route]
	propagations *cloudsim.Table[RoutePropagation]
	vgws         *cloudsim.Table[VPNGateway]
	attachments  *cloudsim.Table[VPCAttachment]
	cgws         *cloudsim.Table[CustomerGateway]
	vpns         *cloudsim.Table[VPNConnection]
	tunnelMods   *cloudsim.Table[TunnelModification]
	peerings     *cloudsim.Table[PeeringConnection]
	accepts      *cloudsim.Table[PeeringAcceptance]
	tags         *cloudsim.Table[Tag]
}

// newNetTables opens the tables. A world of the version before them kept
// every row as an engine object of the same kind and name with flat
// string attrs (times RFC 3339, numbers decimal, creation tags as
// "tag:KEY", a VPN connection's tunnels as tunnel<N>_outside_ip, _cidr,
// _psk): legacy.go reads those into the tables.
func newNetTables(e *cloudsim.Engine) *netTables {
	return &netTables{
		vpcs:         openTable(e, kindVpc, legacyVPC),
		subnets:      openTable(e, kindSubnet, legacySubnet),
		groups:       openTable(e, kindGroup, legacyGroup),
		rules:        openTable(e, kindRule, legacyRule),
		routeTables:  openTable(e, kindRouteTable, legacyRouteTable),
		routes:       openTable(e, kindRoute, legacyRoute),
		propagations: openTable(e, kindPropagate, legacyPropagation),
		vgws:         openTable(e, kindVgw, legacyVPNGateway),
		attachments:  openTable(e, kindAttachment, legacyAttachment),
		cgws:         openTable(e, kindCgw, legacyCustomerGateway),
		vpns:         openTable(e, kindVpn, legacyVPNConnection),
		tunnelMods:   openTable(e, kindTunnelMod, legacyTunnelMod),
		peerings:     openTable(e, kindPeering, legacyPeering),
		accepts:      openTable(e, kindAccept, legacyAccept),
		tags:         openTable(e, kindTag, legacyTag),
	}
}

// openTable opens the table of kind, moving into it the engine objects of
// that kind an earlier version kept (read by legacy).
func openTable[M any](e *cloudsim.Engine, kind string, legacy func(*oldAttrs) M) *cloudsim.Table[M] {
	return cloudsim.NewTable[M](e, cloudName, kind, cloudsim.TableOptions{Legacy: func(o cloudsim.Object) (any, bool, error) {
		if o.Kind != kind {
			return nil, false, nil
		}
		a := &oldAttrs{m: o.Attrs}
		m := legacy(a)
		if a.err != nil {
			return nil, true, a.err
		}
		return &m, true, nil
	}})
}

// rows are a table's rows in name order.
type rows[M any] []cloudsim.Row[M]

// get finds the row name.
func (rs rows[M]) get(name string) (M, bool) {
	i := sort.Search(len(rs), func(i int) bool { return rs[i].Name >= name })
	if i < len(rs) && rs[i].Name == name {
		return rs[i].Value, true
	}
	var zero M
	return zero, false
}

// where are the rows whose value passes keep.
func (rs rows[M]) where(keep func(M) bool) rows[M] {
	var out rows[M]
	for _, r := range rs {
		if keep(r.Value) {
			out = append(out, r)
		}
	}
	return out
}

// values are the rows' values.
func (rs rows[M]) values() []M {
	out := make([]M, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.Value)
	}
	return out
}

// world is a snapshot of the network tables for one request, read without
// going through rate limits and faults (the request has been through
// them already).
type world struct {
	vpcs         rows[VPC]
	subnets      rows[Subnet]
	groups       rows[SecurityGroup]
	rules        rows[SecurityGroupRule]
	routeTables  rows[RouteTable]
	routes       rows[Route]
	propagations rows[RoutePropagation]
	vgws         rows[VPNGateway]
	attachments  rows[VPCAttachment]
	cgws         rows[CustomerGateway]
	vpns         rows[VPNConnection]
	tunnelMods   rows[TunnelModification]
	peerings     rows[PeeringConnection]
	accepts      rows[PeeringAcceptance]
	// tags are the CreateTags tags by resource row name.
	tags map[string]map[string]string
	// ids are the IDs in use.
	ids map[string]bool
}

func (s *server) world() (*world, error) {
	t := s.net
	w := &world{tags: map[string]map[string]string{}, ids: map[string]bool{}}
	errs := []error{
		load(t.vpcs, &w.vpcs), load(t.subnets, &w.subnets), load(t.groups, &w.groups), load(t.rules, &w.rules),
		load(t.routeTables, &w.routeTables), load(t.routes, &w.routes), load(t.propagations, &w.propagations),
		load(t.vgws, &w.vgws), load(t.attachments, &w.attachments), load(t.cgws, &w.cgws), load(t.vpns, &w.vpns),
		load(t.tunnelMods, &w.tunnelMods), load(t.peerings, &w.peerings), load(t.accepts, &w.accepts),
	}
	var tags rows[Tag]
	errs = append(errs, load(t.tags, &tags))
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, tg := range tags.values() {
		if w.tags[tg.Resource] == nil {
			w.tags[tg.Resource] = map[string]string{}
		}
		w.tags[tg.Resource][tg.Key] = tg.Value
	}
	addIDs(w.ids, w.vpcs)
	addIDs(w.ids, w.subnets)
	addIDs(w.ids, w.groups)
	addIDs(w.ids, w.routeTables)
	addIDs(w.ids, w.vgws)
	addIDs(w.ids, w.cgws)
	addIDs(w.ids, w.vpns)
	addIDs(w.ids, w.peerings)
	for _, r := range w.rules.values() {
		w.ids[r.ID] = true
	}
	return w, nil
}

func load[M any](t *cloudsim.Table[M], into *rows[M]) error {
	all, err := t.All()
	*into = all
	return err
}

func addIDs[M model](ids map[string]bool, rs rows[M]) {
	for _, r := range rs {
		ids[r.Value.ec2ID()] = true
	}
}

// tagsOf are a resource's tags: those of its creation, overlaid by
// CreateTags.
func (w *world) tagsOf(name string, m model) map[string]string {
	tags := maps.Clone(m.creationTags())
	if tags == nil {
		tags = map[string]string{}
	}
	maps.Copy(tags, w.tags[name])
	return tags
}

// kindOf is an EC2 kind with an ID: its EC2 names, its table and its rows
// in a world.
type kindOf[M model] struct {
	resource
	table func(*netTables) *cloudsim.Table[M]
	rows  func(*world) rows[M]
	quota quota
}

// quota is a kind's limit per region (none when n is 0) with EC2's code
// and what its message counts.
type quota struct {
	n          int
	code, what string
}

var (
	vpcs = kindOf[VPC]{resVpc, func(t *netTables) *cloudsim.Table[VPC] { return t.vpcs }, func(w *world) rows[VPC] { return w.vpcs },
		quota{maxVpcs, "VpcLimitExceeded", "VPCs"}}
	subnets = kindOf[Subnet]{resSubnet, func(t *netTables) *cloudsim.Table[Subnet] { return t.subnets },
		func(w *world) rows[Subnet] { return w.subnets }, quota{}}
	groups = kindOf[SecurityGroup]{resGroup, func(t *netTables) *cloudsim.Table[SecurityGroup] { return t.groups },
		func(w *world) rows[SecurityGroup] { return w.groups }, quota{}}
	routeTables = kindOf[RouteTable]{resRouteTable, func(t *netTables) *cloudsim.Table[RouteTable] { return t.routeTables },
		func(w *world) rows[RouteTable] { return w.routeTables }, quota{}}
	vgws = kindOf[VPNGateway]{resVgw, func(t *netTables) *cloudsim.Table[VPNGateway] { return t.vgws },
		func(w *world) rows[VPNGateway] { return w.vgws }, quota{maxVpnGateways, "VpnGatewayLimitExceeded", "virtual private gateways"}}
	cgws = kindOf[CustomerGateway]{resCgw, func(t *netTables) *cloudsim.Table[CustomerGateway] { return t.cgws },
		func(w *world) rows[CustomerGateway] { return w.cgws }, quota{maxCustomerGateways, "CustomerGatewayLimitExceeded", "customer gateways"}}
	vpns = kindOf[VPNConnection]{resVpn, func(t *netTables) *cloudsim.Table[VPNConnection] { return t.vpns },
		func(w *world) rows[VPNConnection] { return w.vpns }, quota{maxVpnConnections, "VpnConnectionLimitExceeded", "VPN connections"}}
	peerings = kindOf[PeeringConnection]{resPeering, func(t *netTables) *cloudsim.Table[PeeringConnection] { return t.peerings },
		func(w *world) rows[PeeringConnection] { return w.peerings }, quota{}}
)

// taggable is a kind CreateTags can tag: find resolves an ID to the row
// name and creation tags.
type taggable interface {
	find(s *server, region, id string) (string, map[string]string, error)
}

// taggables are the kinds by ID prefix.
var taggables = map[string]taggable{}

func init() {
	for _, k := range []struct {
		prefix string
		t      taggable
	}{{"vpc", vpcs}, {"subnet", subnets}, {"sg", groups}, {"rtb", routeTables}, {"vgw", vgws}, {"cgw", cgws}, {"vpn", vpns}, {"pcx", peerings}} {
		taggables[k.prefix] = k.t
	}
}

var idPattern = regexp.MustCompile(`^[a-z]+-([0-9a-f]{8}|[0-9a-f]{17})$`)

// name is the row name of a resource.
func (k kindOf[M]) name(region, id string) string { return objectName(k.resource, region, id) }

// lookup finds a resource by ID through the engine (Get<Kind>).
func (k kindOf[M]) lookup(s *server, region, id string) (cloudsim.Row[M], error) {
	if !strings.HasPrefix(id, k.prefix+"-") || !idPattern.MatchString(id) {
		return cloudsim.Row[M]{}, &ec2Err{400, k.malformed, fmt.Sprintf("Invalid id: \"%s\"", id)}
	}
	name := k.name(region, id)
	m, err := k.table(s.net).Get(name)
	if err != nil {
		if cloud.IsNotFound(err) {
			return cloudsim.Row[M]{}, k.missingID(id)
		}
		return cloudsim.Row[M]{}, engineErr(err, k.resource)
	}
	if !m.seenFrom(region) {
		return cloudsim.Row[M]{}, k.missingID(id)
	}
	return cloudsim.Row[M]{Name: name, Value: m}, nil
}

func (k kindOf[M]) find(s *server, region, id string) (string, map[string]string, error) {
	r, err := k.lookup(s, region, id)
	return r.Name, r.Value.creationTags(), err
}

// gate puts a listing through the engine's rate limits and faults
// (Get<Kind> of nothing).
func (k kindOf[M]) gate(s *server) error {
	if _, err := k.table(s.net).Get("\x00list"); err != nil && !cloud.IsNotFound(err) {
		return engineErr(err, k.resource)
	}
	return nil
}

// inRegion are the resources of the kind a region sees.
func (k kindOf[M]) inRegion(w *world, region string) rows[M] {
	return k.rows(w).where(func(m M) bool { return m.seenFrom(region) })
}

// underQuota refuses a new resource in a region that holds the kind's
// quota (EC2's …LimitExceeded).
func (k kindOf[M]) underQuota(w *world, region string) error {
	if k.quota.n > 0 && len(k.inRegion(w, region)) >= k.quota.n {
		return &ec2Err{400, k.quota.code, fmt.Sprintf("The maximum number of %s has been reached.", k.quota.what)}
	}
	return nil
}

// insert stores a new resource of kind k (Create<Kind>) under a fresh ID
// of the kind's prefix, once the region is under the kind's quota.
func insert[M model, P interface {
	*M
	setID(string)
}](s *server, k kindOf[M], w *world, region string, m M) (cloudsim.Row[M], error) {
	if err := k.underQuota(w, region); err != nil {
		return cloudsim.Row[M]{}, err
	}
	P(&m).setID(newID(k.prefix, w))
	name := k.name(region, m.ec2ID())
	if err := k.table(s.net).Put(name, m); err != nil {
		return cloudsim.Row[M]{}, engineErr(err, k.resource)
	}
	return cloudsim.Row[M]{Name: name, Value: m}, nil
}

// drop deletes a row (Delete<Kind>); one already gone is no error.
func drop[M any](t *cloudsim.Table[M], name string) error {
	if err := t.Delete(name); err != nil && !cloud.IsNotFound(err) {
		return err
	}
	return nil
}

// dropAll deletes rows, each tried; one that fails to go is left behind
// and reported (every failure, joined).
func dropAll[M any](t *cloudsim.Table[M], rs rows[M]) error {
	var errs []error
	for _, r := range rs {
		errs = append(errs, drop(t, r.Name))
	}
	return errors.Join(errs...)
}

// dropTags deletes the CreateTags tags of a deleted resource.
func (s *server) dropTags(w *world, name string) error {
	var errs []error
	for _, k := range sortedKeys(w.tags[name]) {
		errs = append(errs, drop(s.net.tags, name+"/"+k))
	}
	return errors.Join(errs...)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// objectName is the row name of a resource.
func objectName(k resource, region, id string) string {
	if k.kind == kindPeering {
		return "global/" + id
	}
	return region + "/" + id
}

// newID makes an unused ID: the prefix and 17 random hex digits.
func newID(prefix string, w *world) string {
	for {
		id := randomID(prefix)
		if !w.ids[id] {
			w.ids[id] = true
			return id
		}
	}
}

// randomID is the prefix and 17 random hex digits.
func randomID(prefix string) string {
	var b [9]byte
	// crypto/rand.Read never fails (it panics on a broken system).
	rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])[:17]
}

// oldAttrs reads the flat attrs of an engine object of the version before
// the tables; the first value that does not read is err.
type oldAttrs struct {
	m   map[string]string
	err error
}

func (a *oldAttrs) str(k string) string { return a.m[k] }

func (a *oldAttrs) time(k string) time.Time {
	if a.m[k] == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, a.m[k])
	if err != nil && a.err == nil {
		a.err = fmt.Errorf("attr %s: %w", k, err)
	}
	return t
}

func (a *oldAttrs) int(k string) int64 {
	n, err := strconv.ParseInt(a.m[k], 10, 64)
	if err != nil && a.err == nil {
		a.err = fmt.Errorf("attr %s: %w", k, err)
	}
	return n
}

func (a *oldAttrs) bool(k string) bool { return a.m[k] == "true" }

// identity is a resource's ID, region and creation tags.
func (a *oldAttrs) identity() Identity {
	return Identity{ID: a.str("id"), Region: a.str("region"), Tags: a.tags()}
}

// tags are the creation tags ("tag:KEY" attrs); nil when none.
func (a *oldAttrs) tags() map[string]string {
	var out map[string]string
	for k, v := range a.m {
		if key, ok := strings.CutPrefix(k, "tag:"); ok {
			if out == nil {
				out = map[string]string{}
			}
			out[key] = v
		}
	}
	return out
}
