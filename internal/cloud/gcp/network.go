package gcp

// The GCP side of cross-cloud networking: cloud.NetworkBackend on Compute
// Engine through google.golang.org/api/compute/v1, the REST client
// generated from the Compute Engine discovery document (no protobuf
// descriptors to register at start-up, unlike cloud.google.com/go/compute).
//
// A site is a custom-mode VPC network with global routing, one regional
// subnetwork per zone and one ingress firewall rule for the mesh:
//
//   - network: name = spec.Name, description "gpufleet site network
//     cidr=<spec.CIDR>" (GCP networks have no address space; the
//     description is how a second EnsureNetwork tells a network of the
//     same name with another CIDR, KindConflict);
//   - subnetworks: GCP subnetworks are regional, so a zone's subnet is a
//     subnetwork of the site's region named spec.Name + "-" + the zone's
//     suffix ("europe-west4-a" -> "<name>-a"), description "gpufleet
//     zone=<zone>", ipCidrRange = the zone's CIDR. The secondary ranges
//     "pods" (spec.PodsCIDR) and "services" (spec.ServicesCIDR) go on ONE
//     subnetwork only, because secondary ranges may not overlap across the
//     subnetworks of a network: the one that already has them, else the
//     first new one in zone order (the first zone on a fresh network).
//     GKE clusters of the site use that subnetwork's ranges;
//   - firewall: "<name>-mesh-ingress", INGRESS, all protocols, priority
//     1000, sourceRanges = spec.AllowedCIDRs (patched when they differ; an
//     empty list disables the rule, since GCE reads no source as
//     0.0.0.0/0).
//
// A gateway is an HA VPN gateway (spec.Name, two interfaces, IPV4_ONLY)
// and a Cloud Router spec.Name + "-router" with bgp.asn = spec.ASN. A
// connection is an external VPN gateway spec.Name + "-peer" (the peer's
// two addresses, TWO_IPS_REDUNDANCY, or one with
// SINGLE_IP_INTERNALLY_REDUNDANT when both tunnels share it; for four
// tunnels to AWS the four outside addresses of two AWS VPN connections,
// FOUR_IPS_REDUNDANCY, with interfaces 0 and 1 those of the connection on
// HA VPN interface 0 and 2 and 3 those on interface 1, as the API's
// redundancyType documentation and Google's "Create HA VPN connections
// between Google Cloud and AWS" ask:
// https://cloud.google.com/network-connectivity/docs/vpn/how-to/connect-ha-vpn-aws-peer-gateway),
// a VPN tunnel spec.Name + "-<i>" per tunnel on the gateway's interface
// TunnelSpec.Interface (IKEv2, the router), and per tunnel a router interface
// spec.Name + "-if-<i>" (LocalInsideIP with the inside prefix length,
// linked to the tunnel) with a BGP peer spec.Name + "-bgp-<i>"
// (PeerInsideIP, PeerASN). Tunnels cannot be changed in place on GCE: a
// tunnel whose gateway, interfaces, router or key differ is replaced (the
// tunnel's description carries a fingerprint of its key, since GCE never
// returns it). Router edits are serialised per router in this process:
// Cloud Routers have no fingerprint to guard concurrent patches.
//
// A peering is a network peering named spec.Name on both networks
// (exchangeSubnetRoutes), active when both sides are ACTIVE.
//
// Tags become labels (sanitised) where GCE has them: HA VPN gateways,
// external VPN gateways and tunnels; networks, subnetworks, firewall rules
// and routers have none. VPNConnectionSpec.PeerCIDRs are not used: the
// Cloud Router learns the peer's ranges over BGP (advertiseMode DEFAULT
// advertises the site's subnetworks).
//
// Every call that returns an operation is waited for, polling it every
// Config.Poll up to Config.Timeout; an operation that ends with an error
// is classified from its error codes (QUOTA_EXCEEDED, ...).

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"weak"

	gax "github.com/googleapis/gax-go/v2"
	"github.com/googleapis/gax-go/v2/apierror"
	compute "google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/lazyre"
)

var _ cloud.NetworkBackend = (*Backend)(nil)

// computeClients is the Compute Engine REST client of one Backend,
// created on first use so that GKE-only configurations never build it.
type computeClients struct {
	svc *compute.Service

	// routerLocks serialise edits of one router ("region/name").
	routerLocks sync.Map
}

// computeRegistry holds each Backend's client without a field on Backend:
// keyed by a weak pointer, so a Backend that is garbage collected drops
// its client.
var computeRegistry struct {
	mu sync.Mutex
	m  map[weak.Pointer[Backend]]*computeClients
}

// computeEndpoint normalises Config.ComputeEndpoint to the client's base
// path: the URL that "projects/..." paths are appended to, ending in
// "/compute/v1/" (the discovery document's servicePath).
func computeEndpoint(s string) string {
	s = strings.TrimRight(s, "/")
	s = strings.TrimSuffix(s, "/compute/v1")
	return strings.TrimRight(s, "/") + "/compute/v1/"
}

// compute returns the backend's Compute Engine client, creating it on
// first use.
func (b *Backend) compute(ctx context.Context) (*computeClients, error) {
	key := weak.Make(b)
	computeRegistry.mu.Lock()
	defer computeRegistry.mu.Unlock()
	if c, ok := computeRegistry.m[key]; ok {
		return c, nil
	}
	opts := slices.Clone(b.cfg.ClientOptions)
	if b.cfg.ComputeEndpoint != "" {
		opts = append(opts, option.WithEndpoint(computeEndpoint(b.cfg.ComputeEndpoint)))
	}
	if b.cfg.Insecure {
		opts = append(opts, option.WithoutAuthentication())
	}
	// The client outlives the call that creates it.
	svc, err := compute.NewService(context.WithoutCancel(ctx), opts...)
	if err != nil {
		return nil, fmt.Errorf("gcp: connecting to Compute Engine: %w", err)
	}
	c := &computeClients{svc: svc}
	if computeRegistry.m == nil {
		computeRegistry.m = map[weak.Pointer[Backend]]*computeClients{}
	}
	computeRegistry.m[key] = c
	runtime.AddCleanup(b, func(k weak.Pointer[Backend]) {
		computeRegistry.mu.Lock()
		defer computeRegistry.mu.Unlock()
		delete(computeRegistry.m, k)
	}, key)
	return c, nil
}

// readTimeout bounds a read's retries, as the per-call timeout of the
// cloud.google.com/go/compute/apiv1 clients did.
const readTimeout = 10 * time.Minute

// read runs a get or a list call (do is its Do method), retrying 503 and
// 504 answers with exponential backoff (100 ms, times 1.3, at most 60 s)
// for up to readTimeout: the retry policy that
// cloud.google.com/go/compute/apiv1 gave its Get and List methods, which
// the discovery client does not have.
func read[T any](ctx context.Context, do func(...googleapi.CallOption) (T, error)) (T, error) {
	bo := gax.Backoff{Initial: 100 * time.Millisecond, Max: 60 * time.Second, Multiplier: 1.3}
	deadline := time.Now().Add(readTimeout)
	for {
		v, err := do()
		var ge *googleapi.Error
		if err == nil || !errors.As(err, &ge) || (ge.Code != 503 && ge.Code != 504) {
			return v, err
		}
		d := bo.Pause()
		if time.Now().Add(d).After(deadline) {
			return v, err
		}
		if serr := gax.Sleep(ctx, d); serr != nil {
			return v, err
		}
	}
}

// pageAfter sets a list call's page token: none for the first page (an
// empty pageToken parameter is not sent).
func pageAfter[C interface{ PageToken(string) C }](call C, token string) C {
	if token == "" {
		return call
	}
	return call.PageToken(token)
}

// pages pages through a list: page reads the page after token and
// returns its items and the next page's token; each item goes to yield
// until it returns false.
func pages[T any](page func(token string) ([]T, string, error), yield func(T) bool) error {
	token := ""
	for {
		items, next, err := page(token)
		if err != nil {
			return err
		}
		for _, it := range items {
			if !yield(it) {
				return nil
			}
		}
		if next == "" {
			return nil
		}
		token = next
	}
}

// lockRouter serialises edits of one router; the returned func unlocks.
func (c *computeClients) lockRouter(region, name string) func() {
	m, _ := c.routerLocks.LoadOrStore(region+"/"+name, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// Names of the objects a spec makes.

func firewallName(network string) string { return network + "-mesh-ingress" }

func routerName(gateway string) string { return gateway + "-router" }

func peerGatewayName(conn string) string { return conn + "-peer" }

func tunnelName(conn string, i int) string { return conn + "-" + strconv.Itoa(i) }

// maxTunnels is the most tunnels a connection has (four, to AWS).
const maxTunnels = 4

func routerInterfaceName(conn string, i int) string { return conn + "-if-" + strconv.Itoa(i) }

func bgpPeerName(conn string, i int) string { return conn + "-bgp-" + strconv.Itoa(i) }

// subnetName is the subnetwork of a zone: the network name and the zone's
// suffix after the region ("europe-west4-a" -> "<network>-a").
func subnetName(network, region, zone string) string {
	suffix := strings.TrimPrefix(strings.ToLower(zone), strings.ToLower(region)+"-")
	return network + "-" + strings.Map(func(r rune) rune {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			return r
		}
		return '-'
	}, suffix)
}

var (
	cidrDescRE = lazyre.New(`\bcidr=(\S+)`)
	zoneDescRE = lazyre.New(`\bzone=(\S+)`)
	pskDescRE  = lazyre.New(`\bpsk=(\S+)`)
)

func descValue(re *regexp.Regexp, desc string) string {
	if m := re.FindStringSubmatch(desc); m != nil {
		return m[1]
	}
	return ""
}

// refPath is a resource reference without scheme, host and API prefix,
// so that URLs and partial paths compare ("projects/p/global/networks/n").
func refPath(s string) string {
	for _, p := range []string{"/compute/v1/", "/compute/beta/", "/compute/alpha/"} {
		if i := strings.Index(s, p); i >= 0 {
			s = s[i+len(p):]
			break
		}
	}
	return strings.Trim(s, "/")
}

func sameRef(a, b string) bool { return refPath(a) == refPath(b) }

// lastSegment is the name at the end of a reference.
func lastSegment(s string) string { return s[strings.LastIndex(s, "/")+1:] }

// pskFingerprint lets a later Ensure tell whether a tunnel has the key the
// spec wants (GCE never returns the key): salted with the tunnel's name.
func pskFingerprint(tunnel, psk string) string {
	sum := sha256.Sum256([]byte(tunnel + "\x00" + psk))
	return hex.EncodeToString(sum[:8])
}

// Waiting and classification.

// waitOp polls an operation every Config.Poll until it is DONE (reading
// it from zoneOperations, regionOperations or globalOperations, by its
// scope) and classifies its error.
func (b *Backend) waitOp(ctx context.Context, op *compute.Operation, what string) error {
	c, err := b.compute(ctx)
	if err != nil {
		return err
	}
	first := true
	op, err = poll(b, what, "operation "+op.Name, []string{"DONE"}, func(ctx context.Context) (*compute.Operation, string, error) {
		if !first && op.Status != "DONE" {
			next, err := c.getOperation(ctx, b.cfg.Project, op)
			if err != nil {
				return op, "", classifyCompute(what, err)
			}
			op = next
		}
		first = false
		return op, op.Status, nil
	}).Until(ctx)
	if err != nil {
		return err
	}
	return operationError(what, op)
}

// operationProjectRE finds an operation's project in its selfLink.
var operationProjectRE = lazyre.New(`(?:^|/)projects/([^/]+)/`)

// getOperation reads an operation again, in its scope: its zone, else its
// region, else global; in the project of its selfLink (ReplaceNode's
// instance groups may be in the nodes' project), else project.
func (c *computeClients) getOperation(ctx context.Context, project string, op *compute.Operation) (*compute.Operation, error) {
	if m := operationProjectRE().FindStringSubmatch(refPath(op.SelfLink)); m != nil {
		project = m[1]
	}
	switch {
	case op.Zone != "":
		return read(ctx, c.svc.ZoneOperations.Get(project, lastSegment(op.Zone), op.Name).Context(ctx).Do)
	case op.Region != "":
		return read(ctx, c.svc.RegionOperations.Get(project, lastSegment(op.Region), op.Name).Context(ctx).Do)
	default:
		return read(ctx, c.svc.GlobalOperations.Get(project, op.Name).Context(ctx).Do)
	}
}

// call runs a call that returns an operation and waits for it.
func (b *Backend) call(ctx context.Context, what string, f func() (*compute.Operation, error)) error {
	op, err := f()
	if err != nil {
		return classifyCompute(what, err)
	}
	return b.waitOp(ctx, op, what)
}

// started is an operation accepted but not yet waited for.
type started struct {
	what string
	op   *compute.Operation
}

// waitAll waits for every operation and joins their errors.
func (b *Backend) waitAll(ctx context.Context, ops []started) error {
	var errs []error
	for _, s := range ops {
		if err := b.waitOp(ctx, s.op, s.what); err != nil {
			errs = append(errs, err)
		}
	}
	return joinClassified(errs)
}

// joinClassified keeps a single error as it is (a *cloud.Error for
// callers' errors.As) and joins several.
func joinClassified(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}

// operationError classifies a DONE operation's error; nil when it has none.
func operationError(what string, op *compute.Operation) error {
	if op.Error == nil {
		return nil
	}
	var codes, msgs []string
	for _, e := range op.Error.Errors {
		codes = append(codes, e.Code)
		msgs = append(msgs, e.Message)
	}
	if len(codes) == 0 {
		return nil
	}
	return classifyHTTP(what, int(op.HttpErrorStatusCode), codes, strings.Join(msgs, "; "))
}

// classifyCompute classifies an error of a Compute Engine REST call: a
// *googleapi.Error (possibly inside an *apierror.APIError) by HTTP status
// and reason; anything else as the GKE errors are.
func classifyCompute(op string, err error) error {
	if err, done := cloud.Settled(err); done {
		return err
	}
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		var reasons []string
		for _, item := range ge.Errors {
			reasons = append(reasons, item.Reason)
		}
		var ae *apierror.APIError
		if errors.As(err, &ae) && ae.Reason() != "" {
			reasons = append(reasons, ae.Reason())
		}
		msg := ge.Message
		if msg == "" {
			msg = ge.Error()
		}
		ce := classifyHTTP(op, ge.Code, reasons, msg)
		ce.Err = err
		return ce
	}
	return classify(op, err)
}

// classifyHTTP maps an HTTP status with Google error reasons (call errors:
// "notFound", "resourceInUseByAnotherResource") or operation error codes
// ("QUOTA_EXCEEDED", "RESOURCE_IN_USE_BY_ANOTHER_RESOURCE") to a kind.
func classifyHTTP(op string, status int, reasons []string, msg string) *cloud.Error {
	e := cloud.Fatal("gcp", op, strconv.Itoa(status), "%s", msg)
	if len(reasons) > 0 && reasons[0] != "" {
		e.Code = reasons[0]
	}
	has := func(names ...string) bool {
		for _, r := range reasons {
			n := strings.ToLower(strings.ReplaceAll(r, "_", ""))
			if slices.Contains(names, n) {
				return true
			}
		}
		return false
	}
	upper := strings.ToUpper(msg)
	switch {
	case has("zoneresourcepoolexhausted", "zoneresourcepoolexhaustedwithdetails", "gcestockout", "stockout") ||
		strings.Contains(upper, "ZONE_RESOURCE_POOL_EXHAUSTED") || strings.Contains(upper, "STOCKOUT"):
		e.Kind = cloud.KindCapacity
	case has("ratelimitexceeded", "userratelimitexceeded", "ratelimitexceededpermin") || status == 429:
		e.Kind = cloud.KindThrottled
	case has("quotaexceeded") || strings.Contains(upper, "QUOTA_EXCEEDED") || (status == 403 && strings.Contains(upper, "QUOTA")):
		e.Kind = cloud.KindQuota
	case status == 404 || has("notfound", "resourcenotfound"):
		e.Kind = cloud.KindNotFound
	case status == 409 || status == 412 || has("alreadyexists", "resourcealreadyexists", "resourceinusebyanotherresource",
		"resourcenotready", "conflict", "conditionnotmet"):
		e.Kind = cloud.KindConflict
	case status == 400 || has("invalid", "badrequest", "required", "invalidparameter"):
		e.Kind = cloud.KindInvalid
	case status >= 500 || has("backenderror", "internalerror", "timeout"):
		e.Kind = cloud.KindTransient
	}
	return e
}

func conflictf(op, format string, args ...any) error {
	return cloud.Conflict("gcp", op, "Conflict", format, args...)
}

func invalidSpec(op, format string, args ...any) error {
	return cloud.Invalid("gcp", op, "InvalidSpec", format, args...)
}

// missing rewords a not-found error about a prerequisite.
func missing(err error, op, what string) error {
	if cloud.IsNotFound(err) {
		return cloud.NotFound("gcp", op, "notFound", "%s", what).Caused(err)
	}
	return err
}

// Networks.

// EnsureNetwork creates or reconciles a site's network, its subnetworks
// and its mesh firewall rule (see the file comment for the mapping).
func (b *Backend) EnsureNetwork(ctx context.Context, spec cloud.NetworkSpec) (cloud.Network, error) {
	const op = "EnsureNetwork"
	if _, err := netip.ParsePrefix(spec.CIDR); err != nil {
		return cloud.Network{}, invalidSpec(op, "network %s: CIDR %q is not a CIDR block", spec.Name, spec.CIDR)
	}
	c, err := b.compute(ctx)
	if err != nil {
		return cloud.Network{}, err
	}
	n, err := b.ensureVPC(ctx, c, spec)
	if err != nil {
		return cloud.Network{}, err
	}
	existing, err := b.listSubnets(ctx, c, spec.Region, n.SelfLink)
	if err != nil {
		return cloud.Network{}, err
	}
	if want := descValue(cidrDescRE(), n.Description); want == "" {
		// Not made by gpufleet: its subnetworks must lie in the block.
		block := netip.MustParsePrefix(spec.CIDR)
		for _, s := range existing {
			if p, err := netip.ParsePrefix(s.IpCidrRange); err != nil || p.Bits() < block.Bits() || !block.Contains(p.Addr()) {
				return cloud.Network{}, conflictf(op, "network %s exists and its subnetwork %s (%s) lies outside %s: use another name or delete the network",
					spec.Name, s.Name, s.IpCidrRange, spec.CIDR)
			}
		}
	}
	if err := b.ensureSubnets(ctx, c, spec, n.SelfLink, existing); err != nil {
		return cloud.Network{}, err
	}
	if err := b.ensureFirewall(ctx, c, spec, n.SelfLink); err != nil {
		return cloud.Network{}, err
	}
	return b.GetNetwork(ctx, spec.Region, spec.Name)
}

// ensureVPC finds or creates the VPC network.
func (b *Backend) ensureVPC(ctx context.Context, c *computeClients, spec cloud.NetworkSpec) (*compute.Network, error) {
	const op = "EnsureNetwork"
	get := func() (*compute.Network, error) {
		n, err := read(ctx, c.svc.Networks.Get(b.cfg.Project, spec.Name).Context(ctx).Do)
		return n, classifyCompute("GetNetwork", err)
	}
	n, err := get()
	if cloud.IsNotFound(err) {
		err = b.call(ctx, "InsertNetwork", func() (*compute.Operation, error) {
			return c.svc.Networks.Insert(b.cfg.Project, &compute.Network{
				// autoCreateSubnetworks: false is sent: a custom-mode network.
				Name: spec.Name, AutoCreateSubnetworks: false, ForceSendFields: []string{"AutoCreateSubnetworks"},
				Description:   "gpufleet site network cidr=" + spec.CIDR,
				RoutingConfig: &compute.NetworkRoutingConfig{RoutingMode: "GLOBAL"},
			}).Context(ctx).Do()
		})
		if err != nil && !cloud.IsConflict(err) {
			return nil, err
		}
		n, err = get()
	}
	if err != nil {
		return nil, err
	}
	if have := descValue(cidrDescRE(), n.Description); have != "" && have != spec.CIDR {
		return nil, conflictf(op, "network %s exists with CIDR %s, the spec asks for %s: use another name or delete the network", spec.Name, have, spec.CIDR)
	}
	if n.AutoCreateSubnetworks {
		return nil, conflictf(op, "network %s exists in auto mode: gpufleet needs a custom-mode network; use another name", spec.Name)
	}
	return n, nil
}

// listSubnets lists a network's subnetworks in a region, by name.
func (b *Backend) listSubnets(ctx context.Context, c *computeClients, region, network string) (map[string]*compute.Subnetwork, error) {
	list := c.svc.Subnetworks.List(b.cfg.Project, region).Filter(`network = "` + network + `"`).Context(ctx)
	out := map[string]*compute.Subnetwork{}
	err := pages(func(token string) ([]*compute.Subnetwork, string, error) {
		l, err := read(ctx, pageAfter(list, token).Do)
		if err != nil {
			return nil, "", err
		}
		return l.Items, l.NextPageToken, nil
	}, func(s *compute.Subnetwork) bool {
		if sameRef(s.Network, network) {
			out[s.Name] = s
		}
		return true
	})
	if err != nil {
		return nil, classifyCompute("ListSubnetworks", err)
	}
	return out, nil
}

func secondaryRange(s *compute.Subnetwork, name string) string {
	for _, r := range s.SecondaryIpRanges {
		if r.RangeName == name {
			return r.IpCidrRange
		}
	}
	return ""
}

// ensureSubnets adds the subnetworks of new zones and checks the others.
func (b *Backend) ensureSubnets(ctx context.Context, c *computeClients, spec cloud.NetworkSpec, network string, existing map[string]*compute.Subnetwork) error {
	const op = "EnsureNetwork"
	wantSecondary := spec.PodsCIDR != "" || spec.ServicesCIDR != ""
	carrier := ""
	if wantSecondary {
		names := make([]string, 0, len(existing))
		for n := range existing {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if secondaryRange(existing[n], "pods") != "" || secondaryRange(existing[n], "services") != "" {
				carrier = n
				break
			}
		}
		if carrier == "" {
			for _, s := range spec.Subnets {
				if _, ok := existing[subnetName(spec.Name, spec.Region, s.Zone)]; !ok {
					carrier = subnetName(spec.Name, spec.Region, s.Zone)
					break
				}
			}
		}
		if carrier == "" {
			return conflictf(op, "network %s: no subnetwork has the secondary ranges pods/services and all zones' subnetworks exist; delete the network to rebuild it", spec.Name)
		}
		if s, ok := existing[carrier]; ok {
			if p, sv := secondaryRange(s, "pods"), secondaryRange(s, "services"); p != spec.PodsCIDR || sv != spec.ServicesCIDR {
				return conflictf(op, "subnetwork %s has secondary ranges pods=%s services=%s, the spec asks for %s and %s: delete the network to change them",
					carrier, p, sv, spec.PodsCIDR, spec.ServicesCIDR)
			}
		}
	}
	var ops []started
	var errs []error
	for _, sub := range spec.Subnets {
		name := subnetName(spec.Name, spec.Region, sub.Zone)
		if s, ok := existing[name]; ok {
			if s.IpCidrRange != sub.CIDR {
				errs = append(errs, conflictf(op, "subnetwork %s (zone %s) exists with range %s, the spec asks for %s: delete the network to change it",
					name, sub.Zone, s.IpCidrRange, sub.CIDR))
			}
			continue
		}
		res := &compute.Subnetwork{Name: name, Network: network, IpCidrRange: sub.CIDR,
			Description:           "gpufleet zone=" + sub.Zone,
			PrivateIpGoogleAccess: true}
		if name == carrier {
			if spec.PodsCIDR != "" {
				res.SecondaryIpRanges = append(res.SecondaryIpRanges, &compute.SubnetworkSecondaryRange{RangeName: "pods", IpCidrRange: spec.PodsCIDR})
			}
			if spec.ServicesCIDR != "" {
				res.SecondaryIpRanges = append(res.SecondaryIpRanges, &compute.SubnetworkSecondaryRange{RangeName: "services", IpCidrRange: spec.ServicesCIDR})
			}
		}
		o, err := c.svc.Subnetworks.Insert(b.cfg.Project, spec.Region, res).Context(ctx).Do()
		if err == nil {
			ops = append(ops, started{"InsertSubnetwork", o})
			continue
		}
		cerr := classifyCompute("InsertSubnetwork", err)
		if !cloud.IsConflict(cerr) {
			errs = append(errs, cerr)
			continue
		}
		// Taken: by a retried insert of ours, or by another network.
		s, gerr := read(ctx, c.svc.Subnetworks.Get(b.cfg.Project, spec.Region, name).Context(ctx).Do)
		switch {
		case gerr != nil:
			errs = append(errs, classifyCompute("GetSubnetwork", gerr))
		case !sameRef(s.Network, network) || s.IpCidrRange != sub.CIDR:
			errs = append(errs, conflictf(op, "subnetwork %s exists in network %s with range %s: the name is taken", name, lastSegment(s.Network), s.IpCidrRange))
		}
	}
	if err := b.waitAll(ctx, ops); err != nil {
		errs = append(errs, err)
	}
	return joinClassified(errs)
}

// ensureFirewall creates the mesh ingress rule or patches it to the spec.
func (b *Backend) ensureFirewall(ctx context.Context, c *computeClients, spec cloud.NetworkSpec, network string) error {
	ranges := slices.Clone(spec.AllowedCIDRs)
	sort.Strings(ranges)
	ranges = slices.Compact(ranges)
	disabled := len(ranges) == 0
	name := firewallName(spec.Name)
	fw, err := read(ctx, c.svc.Firewalls.Get(b.cfg.Project, name).Context(ctx).Do)
	if err != nil {
		if cerr := classifyCompute("GetFirewall", err); !cloud.IsNotFound(cerr) {
			return cerr
		}
		err := b.call(ctx, "InsertFirewall", func() (*compute.Operation, error) {
			return c.svc.Firewalls.Insert(b.cfg.Project, &compute.Firewall{
				Name: name, Network: network, Direction: "INGRESS", Priority: 1000,
				Allowed: []*compute.FirewallAllowed{{IPProtocol: "all"}}, SourceRanges: ranges, Disabled: disabled,
				ForceSendFields: []string{"Disabled"},
				Description:     "gpufleet: the mesh's ranges in, all protocols",
			}).Context(ctx).Do()
		})
		if !cloud.IsConflict(err) {
			return err
		}
		if fw, err = read(ctx, c.svc.Firewalls.Get(b.cfg.Project, name).Context(ctx).Do); err != nil {
			return classifyCompute("GetFirewall", err)
		}
	}
	if !sameRef(fw.Network, network) {
		return conflictf("EnsureNetwork", "firewall rule %s exists in network %s: the name is taken", name, lastSegment(fw.Network))
	}
	have := slices.Clone(fw.SourceRanges)
	sort.Strings(have)
	allowsAll := len(fw.Allowed) == 1 && fw.Allowed[0].IPProtocol == "all" && len(fw.Allowed[0].Ports) == 0
	if fw.Disabled == disabled && (disabled || slices.Equal(have, ranges)) && allowsAll && fw.Priority == 1000 && len(fw.Denied) == 0 {
		return nil
	}
	return b.call(ctx, "PatchFirewall", func() (*compute.Operation, error) {
		// compute v1 discovery: Firewall.name is required in firewalls.patch.
		return c.svc.Firewalls.Patch(b.cfg.Project, name, &compute.Firewall{
			// disabled: false is sent: a patch re-enables the rule.
			Name: name, SourceRanges: ranges, Disabled: disabled, Priority: 1000, ForceSendFields: []string{"Disabled"},
			Allowed: []*compute.FirewallAllowed{{IPProtocol: "all"}},
		}).Context(ctx).Do()
	})
}

// GetNetwork reads a site's network with its subnetworks in the region
// and its mesh firewall rule.
func (b *Backend) GetNetwork(ctx context.Context, region, name string) (cloud.Network, error) {
	c, err := b.compute(ctx)
	if err != nil {
		return cloud.Network{}, err
	}
	n, err := read(ctx, c.svc.Networks.Get(b.cfg.Project, name).Context(ctx).Do)
	if err != nil {
		return cloud.Network{}, classifyCompute("GetNetwork", err)
	}
	subs, err := b.listSubnets(ctx, c, region, n.SelfLink)
	if err != nil {
		return cloud.Network{}, err
	}
	out := cloud.Network{Name: name, Region: region, ID: n.SelfLink, CIDR: descValue(cidrDescRE(), n.Description)}
	for _, s := range subs {
		zone := descValue(zoneDescRE(), s.Description)
		if zone == "" {
			zone = region + "-" + strings.TrimPrefix(s.Name, name+"-")
		}
		out.Subnets = append(out.Subnets, cloud.Subnet{Zone: zone, CIDR: s.IpCidrRange, ID: s.SelfLink})
	}
	sort.Slice(out.Subnets, func(i, j int) bool { return out.Subnets[i].Zone < out.Subnets[j].Zone })
	fw, err := read(ctx, c.svc.Firewalls.Get(b.cfg.Project, firewallName(name)).Context(ctx).Do)
	switch cerr := classifyCompute("GetFirewall", err); {
	case err == nil:
		out.FirewallID = fw.SelfLink
		if !fw.Disabled {
			out.AllowedCIDRs = slices.Clone(fw.SourceRanges)
			sort.Strings(out.AllowedCIDRs)
		}
	case !cloud.IsNotFound(cerr):
		return out, cerr
	}
	return out, nil
}

// DeleteNetwork deletes a site's firewall rule, its subnetworks in the
// region and the network. A network with peerings, VPN gateways or routers
// is a KindConflict error, found before anything is deleted.
func (b *Backend) DeleteNetwork(ctx context.Context, region, name string) error {
	const op = "DeleteNetwork"
	c, err := b.compute(ctx)
	if err != nil {
		return err
	}
	n, err := read(ctx, c.svc.Networks.Get(b.cfg.Project, name).Context(ctx).Do)
	if err != nil {
		return cloud.IgnoreNotFound(classifyCompute("GetNetwork", err))
	}
	if ps := n.Peerings; len(ps) > 0 {
		return conflictf(op, "network %s has peering %s: delete the peering first", name, ps[0].Name)
	}
	filter := `network = "` + n.SelfLink + `"`
	gws := c.svc.VpnGateways.List(b.cfg.Project, region).Filter(filter).Context(ctx)
	if g, err := firstOf(func(token string) ([]*compute.VpnGateway, string, error) {
		l, err := read(ctx, pageAfter(gws, token).Do)
		if err != nil {
			return nil, "", err
		}
		return l.Items, l.NextPageToken, nil
	}, func(g *compute.VpnGateway) bool { return sameRef(g.Network, n.SelfLink) }); err != nil {
		return classifyCompute("ListVpnGateways", err)
	} else if g != nil {
		return conflictf(op, "network %s has VPN gateway %s: delete the gateway first", name, g.Name)
	}
	if r, err := firstOf(c.routerPages(ctx, b.cfg.Project, region, filter), func(r *compute.Router) bool { return sameRef(r.Network, n.SelfLink) }); err != nil {
		return classifyCompute("ListRouters", err)
	} else if r != nil {
		return conflictf(op, "network %s has Cloud Router %s: delete the VPN gateway first", name, r.Name)
	}
	if err := b.deleteIgnoringMissing(ctx, "DeleteFirewall", func() (*compute.Operation, error) {
		return c.svc.Firewalls.Delete(b.cfg.Project, firewallName(name)).Context(ctx).Do()
	}); err != nil {
		return err
	}
	subs, err := b.listSubnets(ctx, c, region, n.SelfLink)
	if err != nil {
		return err
	}
	var ops []started
	var errs []error
	for _, s := range sortedKeys(subs) {
		o, err := c.svc.Subnetworks.Delete(b.cfg.Project, region, s).Context(ctx).Do()
		if err != nil {
			if cerr := classifyCompute("DeleteSubnetwork", err); !cloud.IsNotFound(cerr) {
				errs = append(errs, cerr)
			}
			continue
		}
		ops = append(ops, started{"DeleteSubnetwork", o})
	}
	if err := b.waitAll(ctx, ops); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return joinClassified(errs)
	}
	return b.deleteIgnoringMissing(ctx, op, func() (*compute.Operation, error) {
		return c.svc.Networks.Delete(b.cfg.Project, name).Context(ctx).Do()
	})
}

// deleteIgnoringMissing runs a delete and waits; what is gone is fine.
func (b *Backend) deleteIgnoringMissing(ctx context.Context, what string, f func() (*compute.Operation, error)) error {
	return cloud.IgnoreNotFound(b.call(ctx, what, f))
}

// firstOf returns the first item of a list (see pages) that keep
// accepts, reading no further pages.
func firstOf[T any](page func(token string) ([]T, string, error), keep func(T) bool) (T, error) {
	var found T
	err := pages(page, func(v T) bool {
		if keep(v) {
			found = v
			return false
		}
		return true
	})
	return found, err
}

// routerPages reads a region's routers (those filter accepts; all when it
// is empty) page by page, for pages.
func (c *computeClients) routerPages(ctx context.Context, project, region, filter string) func(token string) ([]*compute.Router, string, error) {
	list := c.svc.Routers.List(project, region).Context(ctx)
	if filter != "" {
		list = list.Filter(filter)
	}
	return func(token string) ([]*compute.Router, string, error) {
		l, err := read(ctx, pageAfter(list, token).Do)
		if err != nil {
			return nil, "", err
		}
		return l.Items, l.NextPageToken, nil
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// VPN gateways.

// EnsureVPNGateway creates or finds an HA VPN gateway on the site's
// network and its Cloud Router with the spec's ASN.
func (b *Backend) EnsureVPNGateway(ctx context.Context, spec cloud.GatewaySpec) (cloud.Gateway, error) {
	const op = "EnsureVPNGateway"
	if spec.ASN <= 0 || spec.ASN > math.MaxUint32 {
		return cloud.Gateway{}, invalidSpec(op, "gateway %s: ASN %d is not a 32-bit AS number", spec.Name, spec.ASN)
	}
	c, err := b.compute(ctx)
	if err != nil {
		return cloud.Gateway{}, err
	}
	n, err := read(ctx, c.svc.Networks.Get(b.cfg.Project, spec.Network).Context(ctx).Do)
	if err != nil {
		return cloud.Gateway{}, missing(classifyCompute("GetNetwork", err), op, "network "+spec.Network+" does not exist: ensure the site's network first")
	}
	gw, err := read(ctx, c.svc.VpnGateways.Get(b.cfg.Project, spec.Region, spec.Name).Context(ctx).Do)
	cerr := classifyCompute("GetVpnGateway", err)
	if cloud.IsNotFound(cerr) {
		err = b.call(ctx, "InsertVpnGateway", func() (*compute.Operation, error) {
			return c.svc.VpnGateways.Insert(b.cfg.Project, spec.Region, &compute.VpnGateway{
				Name: spec.Name, Network: n.SelfLink, StackType: "IPV4_ONLY",
				Labels: sanitizeLabels(spec.Tags), Description: "gpufleet VPN gateway of network " + spec.Network,
			}).Context(ctx).Do()
		})
		if err != nil && !cloud.IsConflict(err) {
			return cloud.Gateway{}, err
		}
		gw, err = read(ctx, c.svc.VpnGateways.Get(b.cfg.Project, spec.Region, spec.Name).Context(ctx).Do)
		cerr = classifyCompute("GetVpnGateway", err)
	}
	if err != nil {
		return cloud.Gateway{}, cerr
	}
	if !sameRef(gw.Network, n.SelfLink) {
		return cloud.Gateway{}, conflictf(op, "VPN gateway %s exists in network %s, not %s: use another name or delete it", spec.Name, lastSegment(gw.Network), spec.Network)
	}
	rname := routerName(spec.Name)
	rt, err := read(ctx, c.svc.Routers.Get(b.cfg.Project, spec.Region, rname).Context(ctx).Do)
	cerr = classifyCompute("GetRouter", err)
	if cloud.IsNotFound(cerr) {
		err = b.call(ctx, "InsertRouter", func() (*compute.Operation, error) {
			return c.svc.Routers.Insert(b.cfg.Project, spec.Region, &compute.Router{
				Name: rname, Network: n.SelfLink,
				Bgp:         &compute.RouterBgp{Asn: spec.ASN, AdvertiseMode: "DEFAULT"},
				Description: "gpufleet Cloud Router of VPN gateway " + spec.Name,
			}).Context(ctx).Do()
		})
		if err != nil && !cloud.IsConflict(err) {
			return cloud.Gateway{}, err
		}
		rt, err = read(ctx, c.svc.Routers.Get(b.cfg.Project, spec.Region, rname).Context(ctx).Do)
		cerr = classifyCompute("GetRouter", err)
	}
	if err != nil {
		return cloud.Gateway{}, cerr
	}
	if !sameRef(rt.Network, n.SelfLink) || routerASN(rt) != spec.ASN {
		return cloud.Gateway{}, conflictf(op, "Cloud Router %s exists in network %s with ASN %d, the spec asks for %s and %d: delete the gateway to change it",
			rname, lastSegment(rt.Network), routerASN(rt), spec.Network, spec.ASN)
	}
	return gateway(spec.Region, gw, rt), nil
}

// routerASN is a router's BGP ASN; 0 when it has no BGP settings.
func routerASN(rt *compute.Router) int64 {
	if rt.Bgp == nil {
		return 0
	}
	return rt.Bgp.Asn
}

// gateway reports an HA VPN gateway with its router (nil when missing).
func gateway(region string, gw *compute.VpnGateway, rt *compute.Router) cloud.Gateway {
	out := cloud.Gateway{Name: gw.Name, Region: region, ID: gw.SelfLink, Status: cloud.StatusActive}
	ifs := slices.Clone(gw.VpnInterfaces)
	sort.Slice(ifs, func(i, j int) bool { return ifs[i].Id < ifs[j].Id })
	for _, i := range ifs {
		out.PublicIPs = append(out.PublicIPs, i.IpAddress)
	}
	if rt == nil {
		out.Status = cloud.StatusDegraded
	} else {
		out.ASN = routerASN(rt)
	}
	return out
}

// GetVPNGateway reads an HA VPN gateway and its router; a gateway whose
// router is gone is reported degraded.
func (b *Backend) GetVPNGateway(ctx context.Context, region, name string) (cloud.Gateway, error) {
	c, err := b.compute(ctx)
	if err != nil {
		return cloud.Gateway{}, err
	}
	gw, err := read(ctx, c.svc.VpnGateways.Get(b.cfg.Project, region, name).Context(ctx).Do)
	if err != nil {
		return cloud.Gateway{}, classifyCompute("GetVpnGateway", err)
	}
	rt, err := read(ctx, c.svc.Routers.Get(b.cfg.Project, region, routerName(name)).Context(ctx).Do)
	if err != nil {
		if cerr := classifyCompute("GetRouter", err); !cloud.IsNotFound(cerr) {
			return cloud.Gateway{}, cerr
		}
		rt = nil
	}
	return gateway(region, gw, rt), nil
}

// DeleteVPNGateway deletes the Cloud Router and the HA VPN gateway. Tunnels
// still using either are a KindConflict error (the API's
// resourceInUseByAnotherResource).
func (b *Backend) DeleteVPNGateway(ctx context.Context, region, name string) error {
	c, err := b.compute(ctx)
	if err != nil {
		return err
	}
	unlock := c.lockRouter(region, routerName(name))
	err = b.deleteIgnoringMissing(ctx, "DeleteRouter", func() (*compute.Operation, error) {
		return c.svc.Routers.Delete(b.cfg.Project, region, routerName(name)).Context(ctx).Do()
	})
	unlock()
	if err != nil {
		return err
	}
	return b.deleteIgnoringMissing(ctx, "DeleteVpnGateway", func() (*compute.Operation, error) {
		return c.svc.VpnGateways.Delete(b.cfg.Project, region, name).Context(ctx).Do()
	})
}

// VPN connections.

// checkConnection validates a connection spec.
func checkConnection(spec cloud.VPNConnectionSpec) error {
	const op = "EnsureVPNConnection"
	if len(spec.Tunnels) != 2 && len(spec.Tunnels) != 4 {
		return invalidSpec(op, "connection %s has %d tunnels; HA VPN takes 2 (one per interface) or 4 (two per interface, to AWS)", spec.Name, len(spec.Tunnels))
	}
	perInterface := [2]int{}
	peers := map[string]bool{}
	for i, t := range spec.Tunnels {
		if t.Interface != 0 && t.Interface != 1 {
			return invalidSpec(op, "connection %s tunnel %d: HA VPN gateway interface %d is not 0 or 1", spec.Name, i, t.Interface)
		}
		perInterface[t.Interface]++
		peers[t.PeerIP] = true
	}
	if perInterface[0] != perInterface[1] {
		return invalidSpec(op, "connection %s puts %d tunnels on HA VPN interface 0 and %d on interface 1; HA VPN needs as many on each", spec.Name, perInterface[0], perInterface[1])
	}
	if len(spec.Tunnels) == 4 && len(peers) != 4 {
		return invalidSpec(op, "connection %s: four tunnels need four peer addresses (FOUR_IPS_REDUNDANCY: two AWS VPN connections' tunnels), not %d", spec.Name, len(peers))
	}
	if spec.PeerASN <= 0 || spec.PeerASN > math.MaxUint32 {
		return invalidSpec(op, "connection %s: peer ASN %d is not a 32-bit AS number", spec.Name, spec.PeerASN)
	}
	for i, t := range spec.Tunnels {
		p, err := netip.ParsePrefix(t.InsideCIDR)
		if err != nil {
			return invalidSpec(op, "connection %s tunnel %d: inside CIDR %q is not a CIDR", spec.Name, i, t.InsideCIDR)
		}
		for _, a := range []string{t.LocalInsideIP, t.PeerInsideIP} {
			ip, err := netip.ParseAddr(a)
			if err != nil || !p.Contains(ip) {
				return invalidSpec(op, "connection %s tunnel %d: inside address %q is not in %s", spec.Name, i, a, t.InsideCIDR)
			}
		}
		if _, err := netip.ParseAddr(t.PeerIP); err != nil {
			return invalidSpec(op, "connection %s tunnel %d: the peer's outside address %q is not an address (is the peer's gateway up?)", spec.Name, i, t.PeerIP)
		}
	}
	return nil
}

// EnsureVPNConnection creates or reconciles the external VPN gateway, the
// two tunnels and the router interfaces and BGP peers of a connection.
func (b *Backend) EnsureVPNConnection(ctx context.Context, spec cloud.VPNConnectionSpec) (cloud.VPNConnection, error) {
	const op = "EnsureVPNConnection"
	if err := checkConnection(spec); err != nil {
		return cloud.VPNConnection{}, err
	}
	c, err := b.compute(ctx)
	if err != nil {
		return cloud.VPNConnection{}, err
	}
	gw, err := read(ctx, c.svc.VpnGateways.Get(b.cfg.Project, spec.Region, spec.Gateway).Context(ctx).Do)
	if err != nil {
		return cloud.VPNConnection{}, missing(classifyCompute("GetVpnGateway", err), op, "VPN gateway "+spec.Gateway+" does not exist: ensure the gateway first")
	}
	rname := routerName(spec.Gateway)
	rt, err := read(ctx, c.svc.Routers.Get(b.cfg.Project, spec.Region, rname).Context(ctx).Do)
	if err != nil {
		return cloud.VPNConnection{}, missing(classifyCompute("GetRouter", err), op, "Cloud Router "+rname+" does not exist: ensure the gateway first")
	}
	unlock := c.lockRouter(spec.Region, rname)
	defer unlock()

	ext, err := b.ensurePeerGateway(ctx, c, spec)
	if err != nil {
		return cloud.VPNConnection{}, err
	}
	var ops []started
	for i, t := range spec.Tunnels {
		o, err := b.ensureTunnel(ctx, c, spec, i, t, gw, rt, ext)
		if err != nil {
			return cloud.VPNConnection{}, joinClassified(append(waitErrs(ctx, b, ops), err))
		}
		if o != nil {
			ops = append(ops, *o)
		}
	}
	if err := b.waitAll(ctx, ops); err != nil {
		return cloud.VPNConnection{}, err
	}
	var tunnels []string
	for i := range spec.Tunnels {
		tunnels = append(tunnels, b.regionRef(spec.Region, "vpnTunnels", tunnelName(spec.Name, i)))
	}
	if err := b.editRouter(ctx, c, spec.Region, rname, func(rt *compute.Router) {
		removeConnection(rt, spec.Name, nil)
		for i, t := range spec.Tunnels {
			p := netip.MustParsePrefix(t.InsideCIDR)
			rt.Interfaces = append(rt.Interfaces, &compute.RouterInterface{Name: routerInterfaceName(spec.Name, i),
				IpRange: t.LocalInsideIP + "/" + strconv.Itoa(p.Bits()), LinkedVpnTunnel: tunnels[i]})
			rt.BgpPeers = append(rt.BgpPeers, &compute.RouterBgpPeer{Name: bgpPeerName(spec.Name, i),
				InterfaceName: routerInterfaceName(spec.Name, i), IpAddress: t.LocalInsideIP,
				PeerIpAddress: t.PeerInsideIP, PeerAsn: spec.PeerASN, AdvertiseMode: "DEFAULT"})
		}
	}); err != nil {
		return cloud.VPNConnection{}, err
	}
	return b.GetVPNConnection(ctx, spec.Region, spec.Name)
}

// waitErrs waits for operations already started and returns their errors.
func waitErrs(ctx context.Context, b *Backend, ops []started) []error {
	if err := b.waitAll(ctx, ops); err != nil {
		return []error{err}
	}
	return nil
}

func (b *Backend) regionRef(region, coll, name string) string {
	return "projects/" + b.cfg.Project + "/regions/" + region + "/" + coll + "/" + name
}

// ensurePeerGateway creates the external VPN gateway, or replaces it
// (tunnels first) when the peer's addresses changed.
func (b *Backend) ensurePeerGateway(ctx context.Context, c *computeClients, spec cloud.VPNConnectionSpec) (*compute.ExternalVpnGateway, error) {
	name := peerGatewayName(spec.Name)
	want := &compute.ExternalVpnGateway{Name: name, Labels: sanitizeLabels(spec.Tags),
		Description: "gpufleet: the VPN gateway of " + spec.Peer}
	ids := peerInterfaces(spec)
	want.RedundancyType = map[int]string{1: "SINGLE_IP_INTERNALLY_REDUNDANT", 2: "TWO_IPS_REDUNDANCY", 4: "FOUR_IPS_REDUNDANCY"}[distinct(ids)]
	want.Interfaces = make([]*compute.ExternalVpnGatewayInterface, distinct(ids))
	for i, t := range spec.Tunnels {
		// id 0 is sent, as for the other interfaces.
		want.Interfaces[ids[i]] = &compute.ExternalVpnGatewayInterface{Id: int64(ids[i]), IpAddress: t.PeerIP, ForceSendFields: []string{"Id"}}
	}
	get := func() (*compute.ExternalVpnGateway, error) {
		g, err := read(ctx, c.svc.ExternalVpnGateways.Get(b.cfg.Project, name).Context(ctx).Do)
		return g, classifyCompute("GetExternalVpnGateway", err)
	}
	have, err := get()
	if err == nil && sameInterfaces(have, want) {
		return have, nil
	}
	if err != nil && !cloud.IsNotFound(err) {
		return nil, err
	}
	if err == nil { // the peer's addresses changed: replace it, tunnels first
		if err := b.deleteTunnels(ctx, c, spec.Region, spec.Name, routerName(spec.Gateway)); err != nil {
			return nil, err
		}
		if err := b.deleteIgnoringMissing(ctx, "DeleteExternalVpnGateway", func() (*compute.Operation, error) {
			return c.svc.ExternalVpnGateways.Delete(b.cfg.Project, name).Context(ctx).Do()
		}); err != nil {
			return nil, err
		}
	}
	err = b.call(ctx, "InsertExternalVpnGateway", func() (*compute.Operation, error) {
		return c.svc.ExternalVpnGateways.Insert(b.cfg.Project, want).Context(ctx).Do()
	})
	if err != nil && !cloud.IsConflict(err) {
		return nil, err
	}
	have, err = get()
	if err != nil {
		return nil, err
	}
	if !sameInterfaces(have, want) {
		return nil, conflictf("EnsureVPNConnection", "external VPN gateway %s exists with other addresses (another writer?): retry", name)
	}
	return have, nil
}

// peerInterfaces are the external VPN gateway interface of each tunnel:
// one interface when both tunnels of two share the peer's address, one per
// tunnel otherwise, numbered so that those of HA VPN interface 0 come
// first (FOUR_IPS_REDUNDANCY: 0 and 1 on one HA VPN interface, 2 and 3 on
// the other).
func peerInterfaces(spec cloud.VPNConnectionSpec) []int {
	out := make([]int, len(spec.Tunnels))
	if len(spec.Tunnels) == 2 && spec.Tunnels[0].PeerIP == spec.Tunnels[1].PeerIP {
		return out
	}
	next := 0
	for iface := range 2 {
		for i, t := range spec.Tunnels {
			if t.Interface == iface {
				out[i] = next
				next++
			}
		}
	}
	return out
}

// distinct counts the distinct values of ids.
func distinct(ids []int) int {
	seen := map[int]bool{}
	for _, id := range ids {
		seen[id] = true
	}
	return len(seen)
}

func sameInterfaces(a, b *compute.ExternalVpnGateway) bool {
	if a.RedundancyType != b.RedundancyType || len(a.Interfaces) != len(b.Interfaces) {
		return false
	}
	for i := range a.Interfaces {
		if a.Interfaces[i].Id != b.Interfaces[i].Id || a.Interfaces[i].IpAddress != b.Interfaces[i].IpAddress {
			return false
		}
	}
	return true
}

// ensureTunnel starts creating tunnel i (replacing one that differs); nil
// when the tunnel is as wanted.
func (b *Backend) ensureTunnel(ctx context.Context, c *computeClients, spec cloud.VPNConnectionSpec, i int, t cloud.TunnelSpec,
	gw *compute.VpnGateway, rt *compute.Router, ext *compute.ExternalVpnGateway) (*started, error) {
	name := tunnelName(spec.Name, i)
	peerIface := int64(peerInterfaces(spec)[i])
	iface := int64(t.Interface)
	fp := pskFingerprint(name, t.PSK)
	have, err := read(ctx, c.svc.VpnTunnels.Get(b.cfg.Project, spec.Region, name).Context(ctx).Do)
	if err == nil {
		same := sameRef(have.VpnGateway, gw.SelfLink) && have.VpnGatewayInterface == iface &&
			sameRef(have.PeerExternalGateway, ext.SelfLink) && have.PeerExternalGatewayInterface == peerIface &&
			sameRef(have.Router, rt.SelfLink) && (t.PSK == "" || descValue(pskDescRE(), have.Description) == fp)
		if same {
			return nil, nil
		}
		if t.PSK == "" {
			// GCE returns only a hash of a tunnel's secret
			// (https://cloud.google.com/compute/docs/reference/rest/v1/vpnTunnels:
			// sharedSecret is input-only): a replacement needs a new key.
			return nil, cloud.KeyRequiredError("gcp", "InsertVpnTunnel", spec.Name, i)
		}
		if err := b.editRouter(ctx, c, spec.Region, rt.Name, func(r *compute.Router) {
			removeConnection(r, "", []string{have.SelfLink})
		}); err != nil {
			return nil, err
		}
		if err := b.deleteIgnoringMissing(ctx, "DeleteVpnTunnel", func() (*compute.Operation, error) {
			return c.svc.VpnTunnels.Delete(b.cfg.Project, spec.Region, name).Context(ctx).Do()
		}); err != nil {
			return nil, err
		}
	} else if cerr := classifyCompute("GetVpnTunnel", err); !cloud.IsNotFound(cerr) {
		return nil, cerr
	} else if t.PSK == "" {
		return nil, cloud.KeyRequiredError("gcp", "InsertVpnTunnel", spec.Name, i)
	}
	o, err := c.svc.VpnTunnels.Insert(b.cfg.Project, spec.Region, &compute.VpnTunnel{
		Name: name, VpnGateway: gw.SelfLink, VpnGatewayInterface: iface,
		PeerExternalGateway: ext.SelfLink, PeerExternalGatewayInterface: peerIface,
		SharedSecret: t.PSK, IkeVersion: 2, Router: rt.SelfLink,
		// interface 0 is sent, not left out as a zero value.
		ForceSendFields: []string{"VpnGatewayInterface", "PeerExternalGatewayInterface"},
		Labels:          sanitizeLabels(spec.Tags),
		Description:     "gpufleet peer=" + spec.Peer + " psk=" + fp,
	}).Context(ctx).Do()
	if err != nil {
		return nil, classifyCompute("InsertVpnTunnel", err)
	}
	return &started{"InsertVpnTunnel", o}, nil
}

// removeConnection drops from a router the interfaces of a connection
// (by name) or linking any of tunnels, and their BGP peers.
func removeConnection(rt *compute.Router, conn string, tunnels []string) {
	gone := map[string]bool{}
	ifs := rt.Interfaces[:0]
	for _, i := range rt.Interfaces {
		linked := slices.ContainsFunc(tunnels, func(t string) bool { return sameRef(t, i.LinkedVpnTunnel) })
		if linked || (conn != "" && strings.HasPrefix(i.Name, conn+"-if-")) {
			gone[i.Name] = true
			continue
		}
		ifs = append(ifs, i)
	}
	rt.Interfaces = ifs
	peers := rt.BgpPeers[:0]
	for _, p := range rt.BgpPeers {
		if gone[p.InterfaceName] || (conn != "" && strings.HasPrefix(p.Name, conn+"-bgp-")) {
			continue
		}
		peers = append(peers, p)
	}
	rt.BgpPeers = peers
}

// editRouter reads a router, applies edit, and writes the interfaces and
// BGP peers back when they changed: with PATCH, or with PUT (update) when a
// list becomes empty, since proto3 JSON cannot send an empty list. The
// caller holds the router's lock.
func (b *Backend) editRouter(ctx context.Context, c *computeClients, region, name string, edit func(*compute.Router)) error {
	rt, err := read(ctx, c.svc.Routers.Get(b.cfg.Project, region, name).Context(ctx).Do)
	if err != nil {
		return classifyCompute("GetRouter", err)
	}
	before := links(rt)
	edit(rt)
	if equalLinks(before, rt) {
		return nil
	}
	if len(rt.Interfaces) > 0 && len(rt.BgpPeers) > 0 {
		return b.call(ctx, "PatchRouter", func() (*compute.Operation, error) {
			return c.svc.Routers.Patch(b.cfg.Project, region, name, &compute.Router{Interfaces: rt.Interfaces, BgpPeers: rt.BgpPeers}).Context(ctx).Do()
		})
	}
	return b.call(ctx, "UpdateRouter", func() (*compute.Operation, error) {
		return c.svc.Routers.Update(b.cfg.Project, region, name, rt).Context(ctx).Do()
	})
}

// links copies a router's interfaces and BGP peers (the lists, which
// removeConnection filters in place; not their elements, which it leaves
// alone).
func links(rt *compute.Router) *compute.Router {
	return &compute.Router{Interfaces: slices.Clone(rt.Interfaces), BgpPeers: slices.Clone(rt.BgpPeers)}
}

// equalLinks compares the interfaces and BGP peers gpufleet sets.
func equalLinks(a, b *compute.Router) bool {
	key := func(r *compute.Router) []string {
		var out []string
		for _, i := range r.Interfaces {
			out = append(out, "if "+i.Name+" "+i.IpRange+" "+refPath(i.LinkedVpnTunnel))
		}
		for _, p := range r.BgpPeers {
			out = append(out, fmt.Sprintf("peer %s %s %s %d", p.Name, p.InterfaceName, p.PeerIpAddress, p.PeerAsn))
		}
		sort.Strings(out)
		return out
	}
	return slices.Equal(key(a), key(b))
}

// GetVPNConnection reads a connection's tunnels (in order, those that
// exist) and external gateway; KindNotFound when none of them exists.
// GetTunnelKeys returns nil: GCE never returns a tunnel's secret
// (sharedSecret is input-only; the description holds a fingerprint).
func (b *Backend) GetTunnelKeys(ctx context.Context, region, name string) ([]string, error) {
	return nil, nil
}

func (b *Backend) GetVPNConnection(ctx context.Context, region, name string) (cloud.VPNConnection, error) {
	c, err := b.compute(ctx)
	if err != nil {
		return cloud.VPNConnection{}, err
	}
	ext, err := read(ctx, c.svc.ExternalVpnGateways.Get(b.cfg.Project, peerGatewayName(name)).Context(ctx).Do)
	if cerr := classifyCompute("GetExternalVpnGateway", err); err != nil && !cloud.IsNotFound(cerr) {
		return cloud.VPNConnection{}, cerr
	}
	out := cloud.VPNConnection{Name: name, Region: region, Status: cloud.StatusActive}
	gateways := map[string]*compute.VpnGateway{}
	routers := map[string]*compute.Router{}
	// Four tunnels to a FOUR_IPS_REDUNDANCY gateway, else two; up to four
	// when the external gateway is gone (to report what is left).
	want := 2
	if ext == nil || len(ext.Interfaces) == 4 {
		want = maxTunnels
	}
	for i := range want {
		t, err := read(ctx, c.svc.VpnTunnels.Get(b.cfg.Project, region, tunnelName(name, i)).Context(ctx).Do)
		if err != nil {
			if cerr := classifyCompute("GetVpnTunnel", err); !cloud.IsNotFound(cerr) {
				return cloud.VPNConnection{}, cerr
			}
			continue
		}
		gname := lastSegment(t.VpnGateway)
		gw, ok := gateways[gname]
		if !ok {
			if gw, err = read(ctx, c.svc.VpnGateways.Get(b.cfg.Project, region, gname).Context(ctx).Do); err != nil {
				return cloud.VPNConnection{}, classifyCompute("GetVpnGateway", err)
			}
			gateways[gname] = gw
		}
		local := ""
		for _, iface := range gw.VpnInterfaces {
			if iface.Id == t.VpnGatewayInterface {
				local = iface.IpAddress
			}
		}
		inside, err := b.tunnelInsideCIDR(ctx, c, region, routerName(gname), routerInterfaceName(name, i), routers)
		if err != nil {
			return cloud.VPNConnection{}, err
		}
		out.LocalIPs = append(out.LocalIPs, local)
		out.Tunnels = append(out.Tunnels, cloud.TunnelStatus{ID: t.SelfLink, PeerIP: t.PeerIp, InsideCIDR: inside, Up: t.Status == "ESTABLISHED"})
	}
	switch {
	case ext == nil && len(out.Tunnels) == 0:
		return cloud.VPNConnection{}, cloud.NotFound("gcp", "GetVPNConnection", "notFound", "VPN connection %s (tunnels %s, %s and external gateway %s) not found", name, tunnelName(name, 0), tunnelName(name, 1), peerGatewayName(name))
	case ext != nil:
		out.ID = ext.SelfLink
	default:
		out.ID = out.Tunnels[0].ID
	}
	if ext == nil || len(out.Tunnels) < want {
		out.Status = cloud.StatusDegraded
	}
	return out, nil
}

// tunnelInsideCIDR is the link-local /30 of a tunnel's Cloud Router
// interface (its ipRange is the GCP side's BGP address with the prefix
// length, https://cloud.google.com/compute/docs/reference/rest/v1/routers),
// "" when the router or the interface is gone. routers caches the routers
// read.
func (b *Backend) tunnelInsideCIDR(ctx context.Context, c *computeClients, region, router, iface string, routers map[string]*compute.Router) (string, error) {
	rt, ok := routers[router]
	if !ok {
		var err error
		rt, err = read(ctx, c.svc.Routers.Get(b.cfg.Project, region, router).Context(ctx).Do)
		if cerr := classifyCompute("GetRouter", err); err != nil && !cloud.IsNotFound(cerr) {
			return "", cerr
		}
		routers[router] = rt
	}
	if rt == nil {
		return "", nil
	}
	for _, i := range rt.Interfaces {
		if i.Name != iface {
			continue
		}
		if p, err := netip.ParsePrefix(i.IpRange); err == nil {
			return p.Masked().String(), nil
		}
	}
	return "", nil
}

// DeleteVPNConnection removes the connection's router interfaces and BGP
// peers (from any router of the region that has them), its tunnels and its
// external VPN gateway.
func (b *Backend) DeleteVPNConnection(ctx context.Context, region, name string) error {
	c, err := b.compute(ctx)
	if err != nil {
		return err
	}
	if err := b.deleteTunnels(ctx, c, region, name, ""); err != nil {
		return err
	}
	return b.deleteIgnoringMissing(ctx, "DeleteExternalVpnGateway", func() (*compute.Operation, error) {
		return c.svc.ExternalVpnGateways.Delete(b.cfg.Project, peerGatewayName(name)).Context(ctx).Do()
	})
}

// deleteTunnels unlinks a connection's tunnels from the region's routers
// and deletes them; held names a router whose lock the caller holds.
func (b *Backend) deleteTunnels(ctx context.Context, c *computeClients, region, conn, held string) error {
	var tunnels []string
	for i := range maxTunnels {
		tunnels = append(tunnels, b.regionRef(region, "vpnTunnels", tunnelName(conn, i)))
	}
	var editErr error
	err := pages(c.routerPages(ctx, b.cfg.Project, region, ""), func(rt *compute.Router) bool {
		probe := links(rt)
		removeConnection(probe, conn, tunnels)
		if equalLinks(probe, rt) {
			return true
		}
		unlock := func() {}
		if rt.Name != held {
			unlock = c.lockRouter(region, rt.Name)
		}
		editErr = b.editRouter(ctx, c, region, rt.Name, func(r *compute.Router) { removeConnection(r, conn, tunnels) })
		unlock()
		return editErr == nil
	})
	if err != nil {
		return classifyCompute("ListRouters", err)
	}
	if editErr != nil {
		return editErr
	}
	var ops []started
	var errs []error
	for i := range maxTunnels {
		o, err := c.svc.VpnTunnels.Delete(b.cfg.Project, region, tunnelName(conn, i)).Context(ctx).Do()
		if err != nil {
			if cerr := classifyCompute("DeleteVpnTunnel", err); !cloud.IsNotFound(cerr) {
				errs = append(errs, cerr)
			}
			continue
		}
		ops = append(ops, started{"DeleteVpnTunnel", o})
	}
	if err := b.waitAll(ctx, ops); err != nil && !cloud.IsNotFound(err) {
		errs = append(errs, err)
	}
	return joinClassified(errs)
}

// Peerings.

// EnsurePeering adds the peering spec.Name on both networks, each towards
// the other.
func (b *Backend) EnsurePeering(ctx context.Context, spec cloud.PeeringSpec) (cloud.Peering, error) {
	const op = "EnsurePeering"
	c, err := b.compute(ctx)
	if err != nil {
		return cloud.Peering{}, err
	}
	var nets [2]*compute.Network
	for i, side := range []cloud.PeeringSide{spec.A, spec.B} {
		n, err := read(ctx, c.svc.Networks.Get(b.cfg.Project, side.Network).Context(ctx).Do)
		if err != nil {
			return cloud.Peering{}, missing(classifyCompute("GetNetwork", err), op, "network "+side.Network+" does not exist: ensure both networks first")
		}
		nets[i] = n
	}
	for i, n := range nets {
		peer := nets[1-i]
		if p := findPeering(n, spec.Name); p != nil {
			if !sameRef(p.Network, peer.SelfLink) {
				return cloud.Peering{}, conflictf(op, "network %s has a peering %s with %s, not %s: use another name or delete it",
					n.Name, spec.Name, lastSegment(p.Network), peer.Name)
			}
			continue
		}
		err := b.call(ctx, "AddPeering", func() (*compute.Operation, error) {
			// compute v1 discovery: NetworksAddPeeringRequest.name is
			// required in networks.addPeering, next to networkPeering.
			return c.svc.Networks.AddPeering(b.cfg.Project, n.Name, &compute.NetworksAddPeeringRequest{Name: spec.Name, NetworkPeering: &compute.NetworkPeering{
				Name: spec.Name, Network: peer.SelfLink, ExchangeSubnetRoutes: true}}).Context(ctx).Do()
		})
		if err != nil {
			return cloud.Peering{}, err
		}
	}
	return b.GetPeering(ctx, spec)
}

func findPeering(n *compute.Network, name string) *compute.NetworkPeering {
	for _, p := range n.Peerings {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// GetPeering reads both sides; KindNotFound when neither network has the
// peering, inactive unless both sides are ACTIVE.
func (b *Backend) GetPeering(ctx context.Context, spec cloud.PeeringSpec) (cloud.Peering, error) {
	c, err := b.compute(ctx)
	if err != nil {
		return cloud.Peering{}, err
	}
	out := cloud.Peering{Name: spec.Name, Active: true}
	found := 0
	for _, side := range []cloud.PeeringSide{spec.A, spec.B} {
		n, err := read(ctx, c.svc.Networks.Get(b.cfg.Project, side.Network).Context(ctx).Do)
		if err != nil {
			if cerr := classifyCompute("GetNetwork", err); !cloud.IsNotFound(cerr) {
				return cloud.Peering{}, cerr
			}
			out.Active = false
			continue
		}
		p := findPeering(n, spec.Name)
		if p == nil {
			out.Active = false
			continue
		}
		found++
		if out.ID == "" {
			out.ID = n.SelfLink + "/peerings/" + spec.Name
		}
		if p.State != "ACTIVE" {
			out.Active = false
		}
	}
	if found == 0 {
		return cloud.Peering{}, cloud.NotFound("gcp", "GetPeering", "notFound", "peering %s is on neither %s nor %s", spec.Name, spec.A.Network, spec.B.Network)
	}
	return out, nil
}

// DeletePeering removes the peering from both networks.
func (b *Backend) DeletePeering(ctx context.Context, spec cloud.PeeringSpec) error {
	c, err := b.compute(ctx)
	if err != nil {
		return err
	}
	for _, side := range []cloud.PeeringSide{spec.A, spec.B} {
		n, err := read(ctx, c.svc.Networks.Get(b.cfg.Project, side.Network).Context(ctx).Do)
		if err != nil {
			if cerr := classifyCompute("GetNetwork", err); !cloud.IsNotFound(cerr) {
				return cerr
			}
			continue
		}
		if findPeering(n, spec.Name) == nil {
			continue
		}
		if err := b.deleteIgnoringMissing(ctx, "RemovePeering", func() (*compute.Operation, error) {
			return c.svc.Networks.RemovePeering(b.cfg.Project, side.Network, &compute.NetworksRemovePeeringRequest{Name: spec.Name}).Context(ctx).Do()
		}); err != nil {
			return err
		}
	}
	return nil
}
