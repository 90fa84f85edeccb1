// Package azurefront puts Azure Resource Manager REST in front of a
// cloudsim engine (cloud name "azure"), so that the real azure-sdk-for-go
// clients (armresources/v3 ResourceGroupsClient, armcontainerservice/v8
// ManagedClustersClient and AgentPoolsClient, with their LRO pollers) can
// be pointed at it over loopback TLS: httptest.NewTLSServer(New(...)) and
// arm.ClientOptions with a cloud.Configuration whose ResourceManager
// endpoint is the server URL, Transport srv.Client(), and any
// TokenCredential (tokens are not checked). api-version is accepted
// whatever it is and echoed in polling URLs.
//
// Paths (fixed segments match case-insensitively, names as given):
//
//	/subscriptions/{sub}/resourcegroups/{rg}                                   PUT GET HEAD DELETE
//	/subscriptions/{sub}/operationresults/{token}                              GET (resource group delete, Location)
//	/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters/{name}
//	                                                                           PUT GET DELETE
//	  .../managedClusters/{name}/listClusterUserCredential (and ...AdminCredential) POST
//	  .../managedClusters/{name}/agentPools                                    GET (list)
//	  .../managedClusters/{name}/agentPools/{pool}                             PUT GET DELETE
//	/subscriptions/{sub}/providers/Microsoft.ContainerService/locations/{loc}/operations/{id}        GET (Azure-AsyncOperation)
//	/subscriptions/{sub}/providers/Microsoft.ContainerService/locations/{loc}/operationresults/{id}  GET (Location)
//
// Engine state maps to Azure as follows:
//
//   - Resource groups are rows of the engine's table "ResourceGroup"
//     named by the lower-cased group name (name, location, tags; the
//     tables are in tables.go). PUT answers
//     201 (new) or 200; a PUT naming another location is 409
//     InvalidResourceGroupLocation. DELETE answers 202 with a Location
//     header (/subscriptions/{sub}/operationresults/{token}) that answers
//     202 while the group exists and 200 once it is gone; the group is
//     removed at once, so the first poll succeeds. Unlike Azure, which
//     deletes what the group contains, cloudsim refuses (409
//     ResourceGroupDeletionBlocked) while managed clusters remain in it;
//     what else belongs to the group (metadata, operation records) goes
//     with it. A missing group is 404 ResourceGroupNotFound, also for
//     clusters and pools under it.
//   - Managed clusters are engine clusters: Name = the managed cluster
//     name, Region = its location (normalised: "West Europe" ->
//     "westeurope"). Engine clusters are keyed by region and name, so a
//     name must be unique per location across resource groups (409
//     Conflict otherwise). What the engine does not keep (resource group,
//     dnsPrefix, tags, the agentPoolProfiles given in the PUT, creation
//     time) is a row of table "ClusterMeta" named rg/name (rg lower
//     case). The agentPoolProfiles of the cluster PUT (the system pool)
//     are metadata only: they take no capacity or quota, are reported in
//     agentPoolProfiles and by agentPools GET/list, and cannot be changed
//     or deleted through agentPools (400 OperationNotAllowed). GPU pools
//     are created through agentPools. fqdn is the host of the engine's
//     endpoint; listClusterUserCredential and listClusterAdminCredential
//     return kubeconfigs (server = engine endpoint with :443,
//     certificate-authority-data = engine CA, a client certificate the
//     cluster CA signs; aadProfile and disableLocalAccounts are modelled:
//     see credentials.go).
//     DELETE of a cluster that still has agentPools-created pools is 409
//     OperationNotAllowed (Azure would delete them; the engine wants the
//     pools gone first).
//   - Agent pools created through agentPools are engine node pools:
//     pool name = agent pool name, vmSize = instance type,
//     availabilityZones[0] = zone ("" without zones; the zone string is
//     Azure's zone number, e.g. "1"), scaleSetPriority "Spot" = capacity
//     type "spot" (else "on_demand"), count = nodes, nodeLabels = labels,
//     nodeTaints "key=value:Effect" = taints. A PUT of an existing pool is
//     an update: count, nodeLabels and nodeTaints change in place (engine
//     UpdateNodePool; provisioningState "Scaling" when count changed,
//     "Updating" otherwise); vmSize, availabilityZones and
//     scaleSetPriority cannot change (400 PropertyChangeNotAllowed); an
//     absent count, nodeLabels or nodeTaints leaves it unchanged, an empty
//     one clears it; a PUT that changes nothing answers 200 with the
//     current state (and calls no engine operation). Other
//     properties (mode, eviction policy, spot max price, OS, tags, all
//     zones) are a row of table "AgentPoolMeta" named rg/cluster/pool.
//     provisioningState: Creating, Updating/Scaling, Deleting, Succeeded,
//     Failed (engine create_failed or degraded; properties.status.
//     provisioningError holds the error).
//   - vnetSubnetID (cluster profiles and agent pools) must name a subnet
//     of a Microsoft.Network virtual network served here, and
//     networkProfile.serviceCidr/dnsServiceIP become the cluster's service
//     range: see "Bring-your-own VNet" in aks.go.
//
// Long-running operations: cluster and pool PUTs answer 201 (new) or 200
// with properties.provisioningState and an Azure-AsyncOperation header
// (.../locations/{loc}/operations/{id}?api-version=...); DELETEs answer 202
// with Azure-AsyncOperation and Location (.../operationresults/{id}), or
// 204 when there is nothing to delete. The operation status is
// {"id","name","status":"InProgress"|"Succeeded"|"Failed"|"Canceled",
// "startTime","endTime","error":{"code","message"}}, computed from the
// engine when read. PUT operations are recorded in rows of table
// "AzureOperation" (named by the operation ID: op, rg, cluster, pool,
// location, start), so a poller resumed from a resume
// token in another process (same state file) works; delete operation IDs
// carry their target and need no record. Records go when their cluster or
// pool is observed gone, or with their resource group.
//
// Capacity and quota: the engine decides at create or scale time and the
// operation then ends Failed (status 200 on the status URL; azcore turns
// it into an *azcore.ResponseError with StatusCode 200 and ErrorCode):
// capacity -> "ZonalAllocationFailed" (zoned pool) or "AllocationFailed"
// (no zone) with Azure's allocation-failure wording; quota ->
// "QuotaExceeded" with Azure's "Operation could not be completed as it
// results in exceeding approved {family} Cores quota ..." wording (numbers
// in the engine's unit, GPUs); other issue codes pass through. The quota
// family is PoolOptions.Family (DefaultInstanceOptions: QuotaFamily).
//
// Synchronous errors are {"error":{"code","message"}}: engine KindNotFound
// -> 404 ResourceNotFound (agent pools: NotFound), KindConflict -> 409
// OperationNotAllowed, KindInvalid -> 400 InvalidParameter, KindThrottled
// -> 429 SubscriptionRequestsThrottled with Retry-After: 1, KindTransient
// -> 503 ServiceUnavailable, KindCapacity -> 400 SkuNotAvailable,
// KindQuota -> 400 QuotaExceeded, anything else -> 500
// InternalServerError; a *cloud.Error whose Code is an Azure code listed
// in armStatus keeps it.
//
// Microsoft.Compute: the agent pools' scale set VMs can be redeployed
// (vmss.go); capacity reservation groups and their capacity reservations,
// which agent pools with capacityReservationGroupID consume
// (reservations.go).
//
// Microsoft.Network (virtual networks, subnets, peerings, network security
// groups, public IP addresses, VPN gateways, local network gateways and
// connections for the armnetwork/v9 clients) is described in network.go:
// its paths, how resources map to engine objects and tunnel ends, its
// validation and error codes, and its engine operation names.
//
// Engine operations, for SetRateLimit and Inject: resource group PUT ->
// CreateResourceGroup, GET/HEAD -> GetResourceGroup, DELETE ->
// DeleteResourceGroup; managed cluster PUT -> CreateCluster, GET and
// listClusterUserCredential -> GetCluster, DELETE -> DeleteCluster; agent
// pool PUT -> CreateNodePool (new) or UpdateNodePool (existing, when
// something changes), GET -> GetNodePool, DELETE -> DeleteNodePool;
// operation status of a cluster operation -> GetCluster, of a pool
// operation -> GetNodePool (record reads -> GetAzureOperation). Existence
// checks made on the side read the inventory and are never throttled.
package azurefront

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/conformance"
)

// cloudName is the engine's name for Azure.
const cloudName = "azure"

// DefaultKubernetesVersion is the version of a managed cluster whose PUT
// names none.
const DefaultKubernetesVersion = "1.33"

// defaultAPIVersion is echoed in polling URLs when a request has none.
const defaultAPIVersion = "2025-10-01"

// Options configure the front end.
type Options struct {
	// InstanceOptions describes a VM size for quota and capacity; nil:
	// DefaultInstanceOptions.
	InstanceOptions func(vmSize string) cloudsim.PoolOptions
	// Clock stamps creation and operation times; real time when nil. Pass
	// the engine's clock.
	Clock cloudsim.Clock
	// SubscriptionID is the accepted subscription (others are 404
	// SubscriptionNotFound); any when empty.
	SubscriptionID string
	// Network are how long Microsoft.Network operations take; when zero,
	// NetworkDurationsFor the engine's durations.
	Network NetworkDurations
	// ListPageSize is how many managed clusters a list answers per page,
	// the rest behind nextLink (ARM chooses its page size; clients follow
	// nextLink until it is absent); 0: one page.
	ListPageSize int
}

type server struct {
	e    *cloudsim.Engine
	opts Options
	// mu serialises read-modify-write of the tables' rows.
	mu sync.Mutex
	// test started this front end (conformance.Caller).
	test string
	// net are the Microsoft.Network tables.
	net *netTables
	// t are the other tables (tables.go).
	t tables
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// New returns a handler for Azure Resource Manager (resource groups, AKS
// managed clusters and agent pools, operation status).
func New(e *cloudsim.Engine, opts Options) http.Handler {
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	if opts.InstanceOptions == nil {
		opts.InstanceOptions = DefaultInstanceOptions
	}
	return &server{e: e, opts: opts, test: conformance.Caller(), net: newNetTables(e), t: openTables(e)}
}

// DefaultInstanceOptions is QuotaFamily(vmSize) and one GPU per node.
func DefaultInstanceOptions(vmSize string) cloudsim.PoolOptions {
	return cloudsim.PoolOptions{Family: QuotaFamily(vmSize), GPUsPerNode: 1}
}

// QuotaFamily derives a quota family name shaped like Azure's from a VM
// size: "standard" + the series letters + the accelerator + the version +
// "Family", dropping the size digits and feature letters:
// "Standard_ND96isr_H100_v5" -> "standardNDH100v5Family",
// "Standard_NC24ads_A100_v4" -> "standardNCA100v4Family",
// "Standard_NC6s_v3" -> "standardNCv3Family". (Azure's own names are less
// regular, e.g. standardNDSH100v5Family; cloudsim only needs one name per
// family.)
func QuotaFamily(vmSize string) string {
	s := vmSize
	if i := strings.IndexByte(s, '_'); i >= 0 && strings.EqualFold(s[:i], "standard") {
		s = s[i+1:]
	}
	parts := strings.Split(s, "_")
	head := parts[0]
	i := strings.IndexFunc(head, func(r rune) bool { return !unicode.IsLetter(r) })
	if i < 0 {
		i = len(head)
	}
	series := strings.ToUpper(head[:i])
	accel, version := "", ""
	for _, p := range parts[1:] {
		if len(p) > 1 && (p[0] == 'v' || p[0] == 'V') && strings.Trim(p[1:], "0123456789") == "" {
			version = "v" + p[1:]
		} else {
			accel += p
		}
	}
	return "standard" + series + accel + version + "Family"
}

func (s *server) now() time.Time { return s.opts.Clock.Now().UTC() }

// armErr is an ARM error reply.
type armErr struct {
	Status  int
	Code    string
	Message string
}

func (e *armErr) Error() string { return e.Code + ": " + e.Message }

func newErr(status int, code, format string, args ...any) *armErr {
	return &armErr{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// armStatus is the HTTP status of the Azure error codes this front end
// knows; a *cloud.Error carrying one of them keeps it.
var armStatus = map[string]int{
	"ResourceNotFound": 404, "NotFound": 404, "ResourceGroupNotFound": 404, "SubscriptionNotFound": 404,
	"Conflict": 409, "OperationNotAllowed": 409, "ResourceGroupDeletionBlocked": 409, "InvalidResourceGroupLocation": 409,
	"InvalidParameter": 400, "BadRequest": 400, "PropertyChangeNotAllowed": 400, "LocationRequired": 400, "InvalidRequestContent": 400,
	"SkuNotAvailable": 400, "QuotaExceeded": 400, "ZonalAllocationFailed": 400, "AllocationFailed": 400,
	"SubscriptionRequestsThrottled": 429, "TooManyRequests": 429,
	"ServiceUnavailable": 503, "InternalServerError": 500, "GatewayTimeout": 504,
}

// toARM maps an error to an ARM error (see the package documentation).
func toARM(err error) *armErr {
	var ae *armErr
	if errors.As(err, &ae) {
		return ae
	}
	var ce *cloud.Error
	if !errors.As(err, &ce) {
		return newErr(500, "InternalServerError", "%v", err)
	}
	if st, ok := armStatus[ce.Code]; ok {
		return &armErr{Status: st, Code: ce.Code, Message: ce.Message}
	}
	switch ce.Kind {
	case cloud.KindNotFound:
		return &armErr{Status: 404, Code: "ResourceNotFound", Message: ce.Message}
	case cloud.KindConflict:
		return &armErr{Status: 409, Code: "OperationNotAllowed", Message: ce.Message}
	case cloud.KindInvalid:
		return &armErr{Status: 400, Code: "InvalidParameter", Message: ce.Message}
	case cloud.KindThrottled:
		return &armErr{Status: 429, Code: "SubscriptionRequestsThrottled",
			Message: fmt.Sprintf("Number of requests for operation '%s' exceeded the limit (%s). Please try again after '1' seconds.", ce.Op, ce.Message)}
	case cloud.KindTransient:
		return &armErr{Status: 503, Code: "ServiceUnavailable", Message: ce.Message}
	case cloud.KindCapacity:
		return &armErr{Status: 400, Code: "SkuNotAvailable", Message: ce.Message}
	case cloud.KindQuota:
		return &armErr{Status: 400, Code: "QuotaExceeded", Message: ce.Message}
	}
	return &armErr{Status: 500, Code: "InternalServerError", Message: ce.Message}
}

// reply is a successful answer.
type reply struct {
	status int
	body   any
	header map[string]string
}

// req is a parsed request.
type req struct {
	r          *http.Request
	segs       []string
	sub        string
	base       string // scheme://host
	apiVersion string
}

func (q *req) seg(i int, want string) bool {
	return len(q.segs) > i && strings.EqualFold(q.segs[i], want)
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The sign-in and cloud metadata endpoints are not ARM operations:
	// no model judges them.
	if s.serveIdentity(w, r) {
		return
	}
	if x := conformance.Begin(conformance.Azure, s.test, w, r); x != nil {
		defer x.End()
		w = x
	}
	rep, err := s.serve(r)
	if err != nil {
		ae := toARM(err)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		if ae.Status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		w.WriteHeader(ae.Status)
		if r.Method != http.MethodHead {
			_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": ae.Code, "message": ae.Message}})
		}
		return
	}
	for k, v := range rep.header {
		w.Header().Set(k, v)
	}
	if rep.body == nil {
		w.WriteHeader(rep.status)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(rep.status)
	_ = json.NewEncoder(w).Encode(rep.body)
}

func (s *server) serve(r *http.Request) (reply, error) {
	var segs []string
	for _, p := range strings.Split(strings.Trim(r.URL.EscapedPath(), "/"), "/") {
		u, err := url.PathUnescape(p)
		if err != nil {
			u = p
		}
		segs = append(segs, u)
	}
	q := &req{r: r, segs: segs, apiVersion: r.URL.Query().Get("api-version")}
	if q.apiVersion == "" {
		q.apiVersion = defaultAPIVersion
	}
	scheme := "https"
	if r.TLS == nil {
		scheme = "http"
	}
	q.base = scheme + "://" + r.Host
	if len(segs) < 3 || !q.seg(0, "subscriptions") {
		return reply{}, newErr(404, "NotFound", "cloudsim: no route for %s %s", r.Method, r.URL.Path)
	}
	q.sub = segs[1]
	if s.opts.SubscriptionID != "" && !strings.EqualFold(q.sub, s.opts.SubscriptionID) {
		return reply{}, newErr(404, "SubscriptionNotFound", "The subscription '%s' could not be found.", q.sub)
	}
	n, m := len(segs), r.Method
	switch {
	case n == 4 && q.seg(2, "resourcegroups"):
		return s.serveResourceGroup(q, segs[3])
	case n == 4 && q.seg(2, "operationresults") && m == http.MethodGet:
		return s.rgDeleteResult(q, segs[3])
	case n == 8 && q.seg(2, "providers") && q.seg(3, "Microsoft.ContainerService") && q.seg(4, "locations") && m == http.MethodGet &&
		(q.seg(6, "operations") || q.seg(6, "operationresults")):
		return s.operationStatus(q, segs[5], segs[7], q.seg(6, "operationresults"))
	case isRoleAssignmentPath(q):
		return s.serveRoleAssignment(q)
	case isNetworkPath(q):
		return s.serveNetwork(q)
	case isReservationPath(q):
		return s.serveReservations(q)
	case isComputePath(q):
		return s.serveCompute(q)
	case n == 5 && q.seg(2, "providers") && q.seg(3, "Microsoft.ContainerService") && q.seg(4, "managedClusters") && m == http.MethodGet:
		return s.listClusters(q, "")
	case n == 7 && q.seg(2, "resourcegroups") && q.seg(4, "providers") && q.seg(5, "Microsoft.ContainerService") && q.seg(6, "managedClusters") &&
		m == http.MethodGet:
		return s.listClusters(q, segs[3])
	case n >= 8 && q.seg(2, "resourcegroups") && q.seg(4, "providers") && q.seg(5, "Microsoft.ContainerService") && q.seg(6, "managedClusters"):
		rg, cluster := segs[3], segs[7]
		switch {
		case n == 8:
			return s.serveCluster(q, rg, cluster)
		case n == 9 && m == http.MethodPost && (q.seg(8, "listClusterUserCredential") || q.seg(8, "listClusterAdminCredential")):
			return s.credentials(q, rg, cluster, q.seg(8, "listClusterAdminCredential"))
		case n == 9 && m == http.MethodGet && q.seg(8, "agentPools"):
			return s.listPools(q, rg, cluster)
		case n == 10 && q.seg(8, "agentPools"):
			return s.servePool(q, rg, cluster, segs[9])
		}
	}
	return reply{}, newErr(404, "NotFound", "cloudsim: no route for %s %s", r.Method, r.URL.Path)
}

// decode reads a JSON request body.
func decode(r *http.Request, v any) error {
	if r.Body == nil {
		return nil
	}
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return newErr(400, "InvalidRequestContent", "The request content could not be read: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return newErr(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized: %v", err)
	}
	var tagged struct {
		Tags       map[string]string `json:"tags"`
		Properties struct {
			Tags map[string]string `json:"tags"`
		} `json:"properties"`
	}
	if json.Unmarshal(raw, &tagged) == nil {
		if err := checkTagNames(tagged.Tags, tagged.Properties.Tags); err != nil {
			return err
		}
	}
	return nil
}

// checkTagNames refuses tag names ARM does not take: tag names cannot
// contain <, >, %, &, \, ? or /, and are at most 512 characters; values at
// most 256 (https://learn.microsoft.com/azure/azure-resource-manager/management/tag-resources#limitations).
// The sets are a resource's tags and, for agent pools, its properties.tags.
func checkTagNames(sets ...map[string]string) error {
	var bad []string
	for _, tags := range sets {
		for k, v := range tags {
			switch {
			case strings.ContainsAny(k, `<>%&\?/`):
				bad = append(bad, k)
			case len(k) > 512 || len(v) > 256:
				return newErr(400, "InvalidTagNameOrValue", "The tag name '%s' exceeds 512 characters or its value exceeds 256 characters.", k)
			}
		}
	}
	if len(bad) == 0 {
		return nil
	}
	sort.Strings(bad)
	return newErr(400, "InvalidTagNameCharacters", "The tag names '%s' have reserved characters '<,>,%%,&,\\,?,/' or control characters.", strings.Join(bad, ","))
}

// normLocation normalises a location ("West Europe" -> "westeurope").
func normLocation(l string) string { return strings.ToLower(strings.ReplaceAll(l, " ", "")) }

// newID returns a fresh GUID-shaped identifier.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	x := hex.EncodeToString(b[:])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

func (s *server) findCluster(region, name string) (cloudsim.Cluster, bool) {
	return s.e.LookupCluster(cloudName, region, name)
}

func (s *server) findPool(region, cluster, name string) (cloudsim.Pool, bool) {
	return s.e.LookupPool(cloudName, region, cluster, name)
}
