// Package computefront puts the part of the Compute Engine v1 REST API
// that gpufleet's cross-cloud networking uses in front of a cloudsim
// engine (cloud name "gcp"), so that the real
// cloud.google.com/go/compute/apiv1 REST clients can be pointed at it over
// loopback: httptest.NewServer(New(e, opts)) and
// option.WithEndpoint(srv.URL), option.WithoutAuthentication().
//
// Paths (under /compute/v1/projects/{project}/, as the apiv1 REST clients
// send them):
//
//	global/networks[/{n}]                    GET (list, get) POST (insert) DELETE
//	global/networks/{n}/addPeering           POST
//	global/networks/{n}/removePeering        POST
//	regions/{r}/subnetworks[/{s}]            GET (list, get) POST DELETE
//	global/firewalls[/{f}]                   GET (list, get) POST PATCH PUT DELETE
//	regions/{r}/vpnGateways[/{g}]            GET (list, get) POST DELETE
//	global/externalVpnGateways[/{g}]         GET (list, get) POST DELETE
//	regions/{r}/vpnTunnels[/{t}]             GET (list, get) POST DELETE
//	regions/{r}/routers[/{rt}]               GET (list, get) POST PATCH PUT DELETE
//	regions/{r}/operations/{op}[/wait]       GET (get), POST (wait)
//	global/operations/{op}[/wait]            GET (get), POST (wait)
//	zones/{z}/operations/{op}[/wait]         GET (get), POST (wait)
//	zones/{z}/instanceGroupManagers/{m}/listManagedInstances   POST
//	zones/{z}/instanceGroupManagers/{m}/recreateInstances      POST
//	zones/{z}/reservations[/{r}], zones/{z}/futureReservations[/{f}],
//	aggregated/reservations, aggregated/futureReservations
//
// The managed instance groups are the GKE node pools' (see
// instancegroups.go); reservations are the engine's reservation ledger
// (see reservations.go).
//
// Resources are rows of typed engine tables (cloudsim Table, cloud "gcp")
// of kinds Network, Subnetwork, Firewall, VpnGateway, ExternalVpnGateway,
// VpnTunnel and Router, named "{project}/{name}" (global) or
// "{project}/{region}/{name}" (regional); each row's model is the
// resource's computepb message, stored as protojson (store.go). A PATCH or
// PUT is one Create<Kind>, as an insert is. (Worlds of the version before
// the tables, with an object per resource, move into them when the front
// end starts.) References
// between resources are stored as relative paths ("projects/p/global/
// networks/n") and written out as selfLinks under APIRoot
// (https://www.googleapis.com/compute/v1/projects/...), as Compute Engine
// does, so IDs are the same whatever port serves the state file. References in requests may be full URLs (any host), or partial
// ("projects/p/global/networks/n", "global/networks/n"); a bare name is
// 400 invalid, as on GCE. IDs are numeric strings. Projects are not
// modeled beyond Options.Project: when it is set, other projects are 404.
//
// Mutations take effect when the request is accepted (a deleted resource
// is gone at once); the Operation that the call returns models the wait:
// it is PENDING in the answer to the call, RUNNING on later reads until
// Options.OperationTime has passed on Options.Clock, then DONE. Operations
// are rows of the bookkeeping table "ComputeOperation" (never a leak),
// readable from another process on the same state file. The wait
// method sleeps (real time, at most two minutes) until the operation's end
// on the clock, then answers its state. requestId is ignored.
//
// What is checked, as GCE checks it (errors are Google JSON errors
// {"error":{"code","message","errors":[{"message","domain","reason"}]}}):
//
//   - names are RFC 1035 (400 invalid); an existing name is 409
//     alreadyExists; a missing resource is 404 notFound; references to
//     missing resources are 404 notFound; malformed references 400 invalid.
//   - subnetworks: ipCidrRange is a valid, masked IPv4 prefix of /8 to /29
//     that overlaps no range (primary or secondary) of another subnetwork
//     of the network in any region; secondary ranges have unique names and
//     overlap neither the primary range, each other, nor other
//     subnetworks' ranges (400 invalid).
//   - firewalls: direction INGRESS (default) or EGRESS, priority 0-65535
//     (default 1000), allowed or denied but not both, valid source ranges
//     (an ingress rule with no source is 0.0.0.0/0); PATCH replaces the
//     top-level fields present in the body, PUT the whole rule; network and
//     direction cannot change.
//   - networks: a network used by a subnetwork, firewall, VPN gateway or
//     router, or that has peerings, cannot be deleted (400
//     resourceInUseByAnotherResource). addPeering takes networkPeering
//     {name, network, exchangeSubnetRoutes} (or the legacy name,
//     peerNetwork, autoCreateRoutes); the peer network must exist, a name
//     or peer network can be peered once, and the two networks' subnetwork
//     ranges must not overlap. A peering's state is ACTIVE when the peer
//     network has the mirror peering (pointing back), INACTIVE otherwise,
//     computed when read.
//   - vpnGateways (HA VPN): insert takes two addresses from
//     Engine.AllocatePublicIP for vpnInterfaces 0 and 1; stackType
//     IPV4_ONLY (default) or IPV4_IPV6; a gateway used by a tunnel cannot
//     be deleted (400 resourceInUseByAnotherResource).
//   - externalVpnGateways: redundancyType SINGLE_IP_INTERNALLY_REDUNDANT,
//     TWO_IPS_REDUNDANCY or FOUR_IPS_REDUNDANCY with 1, 2 or 4 interfaces
//     (ids 0..n-1, IPv4 addresses); in use by a tunnel: 400.
//   - vpnTunnels: HA VPN only (vpnGateway, vpnGatewayInterface 0 or 1,
//     peerExternalGateway and peerExternalGatewayInterface; classic
//     targetVpnGateway and peerGcpGateway are 400), sharedSecret required
//     (answered as "*************" with a sharedSecretHash), ikeVersion 1 or
//     2 (default 2), router in the gateway's region and network. A tunnel
//     linked by a router interface cannot be deleted (400). peerIp is the
//     external gateway interface's address.
//   - routers: network required, bgp.asn required; interfaces have unique
//     names, a valid ipRange, and link a tunnel of the region whose router
//     is this router, each tunnel once; bgpPeers have unique names, name an
//     interface (one peer per interface), a non-zero peerAsn and a
//     peerIpAddress inside the interface's ipRange. PATCH replaces the
//     top-level fields present in the body (as GCE, proto3 JSON cannot send
//     an empty list, so clearing interfaces takes PUT); a router used by a
//     tunnel cannot be deleted (400).
//
// VPN tunnels are registered with Engine.RegisterTunnelEnd (ID
// "projects/{p}/regions/{r}/vpnTunnels/{t}"): LocalIP = the HA gateway's
// interface address, PeerIP = the external gateway's interface address,
// PSK = sharedSecret, LocalASN = the router's bgp.asn, and LocalInsideIP,
// PeerInsideIP and PeerASN from the router interface linking the tunnel
// and its BGP peer. Every change to tunnels and routers registers the ends
// again; a deleted tunnel is unregistered. A tunnel's status comes from
// Engine.TunnelStatus when read: ESTABLISHED ("Tunnel is up and running.")
// when a mirroring end exists on another cloud, NEGOTIATION_FAILURE when
// the other end disagrees (pre-shared key, or the BGP addresses or ASNs:
// cloudsim folds the BGP session into the tunnel status, where GCE reports
// it in routers.getRouterStatus), NO_INCOMING_PACKETS when no end answers;
// detailedStatus carries the engine's reason.
//
// Engine errors become Google errors: KindNotFound -> 404 notFound,
// KindConflict -> 409 alreadyExists on insert and 400
// resourceInUseByAnotherResource otherwise, KindInvalid -> 400 invalid,
// KindThrottled -> 429 rateLimitExceeded, KindTransient -> 503
// backendError (the clients retry GETs on 503), KindQuota -> 403
// quotaExceeded and KindCapacity -> 503 ZONE_RESOURCE_POOL_EXHAUSTED,
// anything else 500 internalError. On insert, quota and capacity errors
// are not synchronous: the call is accepted and its operation ends DONE
// with error {code QUOTA_EXCEEDED or ZONE_RESOURCE_POOL_EXHAUSTED} and
// httpErrorStatusCode 403 or 503, and nothing is created, as on GCE.
//
// Engine operations, for SetRateLimit and Inject (faults must have an empty
// Target: object calls carry none): insert -> Create<Kind> (CreateNetwork,
// CreateSubnetwork, CreateFirewall, CreateVpnGateway,
// CreateExternalVpnGateway, CreateVpnTunnel, CreateRouter); get ->
// Get<Kind>; delete -> Delete<Kind>; patch, update, addPeering and
// removePeering store the new version of the row, Create<Kind> (one
// write: a fault leaves the old version); every call that returns an operation also
// records it (CreateComputeOperation), and operation get and wait are
// GetComputeOperation. List calls and the existence and in-use checks made
// on the side read the tables and are never throttled.
package computefront

import (
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/conformance"
)

// cloudName is the engine's name for GCP.
const cloudName = "gcp"

// DefaultOperationTime is how long an operation runs when Options names
// no time: the engine's default node pool update time.
var DefaultOperationTime = cloudsim.DefaultDurations.PoolUpdate

// Options configure the front end.
type Options struct {
	// Project is the only project served (others are 404); any when empty.
	Project string
	// Clock times operations and stamps creation times; real time when
	// nil. Pass the engine's clock.
	Clock cloudsim.Clock
	// OperationTime is how long operations stay RUNNING on Clock: zero
	// means DefaultOperationTime, negative means operations are DONE at
	// once.
	OperationTime time.Duration
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

type server struct {
	e    *cloudsim.Engine
	opts Options
	// mu serialises requests: every mutation is a read-modify-write of
	// engine objects.
	mu sync.Mutex
	// test started this front end (conformance.Caller).
	test string
	// tables are the resources' tables, by kind; ops the operations'.
	tables map[string]store
	ops    *cloudsim.Table[opRecord]
}

// New returns a handler for the Compute Engine v1 REST API calls listed in
// the package documentation, backed by e.
func New(e *cloudsim.Engine, opts Options) http.Handler {
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	switch {
	case opts.OperationTime == 0:
		opts.OperationTime = DefaultOperationTime
	case opts.OperationTime < 0:
		opts.OperationTime = 0
	}
	s := &server{e: e, opts: opts, test: conformance.Caller(), tables: map[string]store{}, ops: openOps(e)}
	for _, kind := range slices.Sorted(maps.Keys(kindByName)) {
		s.tables[kind] = kindByName[kind].open(e, kind)
	}
	return s
}

func (s *server) now() time.Time { return s.opts.Clock.Now().UTC() }

// request is one parsed call.
type request struct {
	r       *http.Request
	base    string // "http://host/compute/v1/"
	project string
	region  string // empty for global and zonal collections
	zone    string // zonal collections (instanceGroupManagers, operations)
	coll    string // "networks", "operations", ...
	name    string // resource name, empty for collection calls
	verb    string // "addPeering", "wait", ... after the name
	// aggregated is a GET of projects/{p}/aggregated/{coll}.
	aggregated bool
}

// scopePath is "projects/p/global" or "projects/p/regions/r".
func (q *request) scopePath() string {
	if q.zone != "" {
		return zoneRel(q.project, q.zone)
	}
	if q.region == "" {
		return "projects/" + q.project + "/global"
	}
	return "projects/" + q.project + "/regions/" + q.region
}

// path is the relative path of the named resource.
func (q *request) path() string { return q.scopePath() + "/" + q.coll + "/" + q.name }

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.serveAuth(w, r) { // STS and IAM Credentials, not compute
		return
	}
	// Requests and responses are judged by the compute v1 discovery
	// document in tests.
	if x := conformance.Begin(conformance.Google, s.test, w, r); x != nil {
		defer x.End()
		w = x
	}
	q, err := parseRequest(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if s.opts.Project != "" && q.project != s.opts.Project {
		writeError(w, notFoundf("projects/"+q.project, "The resource 'projects/%s' was not found", q.project))
		return
	}
	if q.coll == "operations" {
		s.serveOperation(w, q)
		return
	}
	if s.serveReservations(w, q) { // reservations.go
		return
	}
	if q.zone != "" {
		s.serveZonal(w, q)
		return
	}
	if q.aggregated {
		k, ok := kinds[q.coll]
		if !ok || r.Method != http.MethodGet {
			writeError(w, &apiError{Code: http.StatusNotFound, Reason: "notFound", Message: "The requested URL " + r.URL.Path + " was not found on this server."})
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		out, err := s.aggregatedList(q, k)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	k, ok := kinds[q.coll]
	if !ok || k.regional != (q.region != "") {
		writeError(w, &apiError{Code: http.StatusNotFound, Reason: "notFound", Message: "The requested URL " + r.URL.Path + " was not found on this server."})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out any
	switch {
	case q.name == "" && r.Method == http.MethodGet:
		out, err = s.list(q, k)
	case q.name == "" && r.Method == http.MethodPost:
		out, err = s.insert(q, k)
	case q.name != "" && q.verb == "" && r.Method == http.MethodGet:
		out, err = s.get(q, k)
	case q.name != "" && q.verb == "" && r.Method == http.MethodDelete:
		out, err = s.remove(q, k)
	case q.name != "" && q.verb == "" && (r.Method == http.MethodPatch || r.Method == http.MethodPut) && k.mutable:
		out, err = s.patch(q, k, r.Method == http.MethodPut)
	case q.name != "" && q.verb != "" && r.Method == http.MethodPost && k.kind == kindNetwork:
		out, err = s.peeringVerb(q)
	default:
		err = &apiError{Code: http.StatusMethodNotAllowed, Reason: "methodNotAllowed", Message: r.Method + " " + r.URL.Path + " is not supported by cloudsim"}
	}
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// parseRequest splits /compute/v1/projects/{p}/(global|regions/{r}|zones/{z})/{coll}[/{name}[/{verb}]].
func parseRequest(r *http.Request) (*request, error) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/compute/v1/projects/")
	bad := &apiError{Code: http.StatusNotFound, Reason: "notFound", Message: "The requested URL " + r.URL.Path + " was not found on this server."}
	if !ok {
		return nil, bad
	}
	segs := strings.Split(strings.Trim(rest, "/"), "/")
	q := &request{r: r, base: baseURL(r)}
	if len(segs) < 3 {
		return nil, bad
	}
	q.project = segs[0]
	switch {
	case segs[1] == "global":
		segs = segs[2:]
	case segs[1] == "regions" && len(segs) >= 4:
		q.region = segs[2]
		segs = segs[3:]
	case segs[1] == "zones" && len(segs) >= 4:
		q.zone = segs[2]
		segs = segs[3:]
	case segs[1] == "aggregated" && len(segs) == 3:
		q.aggregated = true
		segs = segs[2:]
	default:
		return nil, bad
	}
	switch len(segs) {
	case 1:
		q.coll = segs[0]
	case 2:
		q.coll, q.name = segs[0], segs[1]
	case 3:
		q.coll, q.name, q.verb = segs[0], segs[1], segs[2]
	default:
		return nil, bad
	}
	if q.project == "" || q.coll == "" {
		return nil, bad
	}
	return q, nil
}

// APIRoot is the root of every selfLink, as on Compute Engine: links are
// identifiers, the same whichever port the simulator listens on (the
// clients address requests by name, and references on any host are
// accepted).
const APIRoot = "https://www.googleapis.com/compute/v1/"

// baseURL is the root of selfLinks.
func baseURL(*http.Request) string { return APIRoot }
