// Package gkefront puts the GKE API (google.container.v1.ClusterManager,
// gRPC) in front of a cloudsim engine, so that the real
// cloud.google.com/go/container/apiv1 client can be pointed at it over an
// in-process gRPC server (option.WithEndpoint(addr),
// option.WithoutAuthentication(), option.WithGRPCDialOption(
// grpc.WithTransportCredentials(insecure.NewCredentials()))).
//
// Engine state maps to GKE as follows (cloud name "gcp"):
//
//   - Names are "projects/{p}/locations/{l}/clusters/{c}[/nodePools/{np}]"
//     (the deprecated project_id/zone/cluster_id/node_pool_id fields work
//     too). The location is a region ("europe-west4", a regional cluster)
//     or a zone ("europe-west4-a"); the engine region is the region either
//     way, so a cluster is found under its region and under any of its
//     zones. Projects are not modeled: any project matches.
//   - Clusters are engine clusters (version = initial_cluster_version,
//     default DefaultKubernetesVersion). Node pools are engine node pools:
//     zone = NodePool.Locations[0] (else the cluster's first node location,
//     else the cluster's zone, else "{region}-a"), nodes =
//     InitialNodeCount, instance type = Config.MachineType (default
//     "e2-medium"), capacity "spot" when Config.Spot or Config.Preemptible,
//     else "on_demand", labels = Config.Labels, taints = Config.Taints
//     (NO_SCHEDULE/PREFER_NO_SCHEDULE/NO_EXECUTE <-> NoSchedule/
//     PreferNoSchedule/NoExecute). A SPECIFIC_RESERVATION affinity makes
//     the pool consume that reservation of the engine's ledger, flexStart
//     makes it a flex-start pool (see reservations.go).
//   - A cluster's network, subnetwork and secondary ranges are checked
//     against computefront's objects in the same engine and reported back;
//     its service range is then the subnetwork's (see vpc.go).
//   - What the engine does not model (the whole request message:
//     accelerators and their GPU driver config, disk, autoscaling, ...) is
//     kept as protojson in the engine's tables "GKEClusterMeta" (rows
//     region/cluster) and "GKENodePoolMeta" (rows region/cluster/pool) and
//     echoed back under the engine's live fields.
//   - Operations are rows of the engine's table "GKEOperation" named
//     "operation-…", so that GetOperation works from another process on the
//     same state file. An operation is RUNNING until the engine object it
//     targets is ready (or gone, for deletes), then DONE, with Error when
//     it failed; its final state is frozen once observed. The objects of a
//     cluster or node pool (metadata, operations) are removed once the
//     engine reports it gone; a finished operation stays readable from the
//     front end that removed it (in memory) for the rest of its life.
//
// Errors are gRPC statuses, see grpcError and operationError. Engine
// operations, for SetRateLimit and Inject: CreateCluster, GetCluster (also
// GetOperation of cluster operations), DeleteCluster, CreateNodePool,
// GetNodePool (also GetOperation of node pool operations),
// UpdateNodePool (UpdateNodePool and SetNodePoolSize), DeleteNodePool.
// ListClusters and ListNodePools read the inventory and are never
// throttled.
package gkefront

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/grpc"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/conformance"
)

// cloudName is the engine's name for GCP.
const cloudName = "gcp"

// Kinds of the front end's tables in the engine.
const (
	kindClusterMeta = "GKEClusterMeta"
	kindPoolMeta    = "GKENodePoolMeta"
	kindOperation   = "GKEOperation"
)

// DefaultKubernetesVersion is the cluster version when CreateCluster names
// none.
const DefaultKubernetesVersion = "1.33"

// DefaultMachineType is the node machine type when a node pool names none.
const DefaultMachineType = "e2-medium"

// Options configure the front end.
type Options struct {
	// InstanceOptions describes a machine type for quota and capacity
	// (family, GPUs per node); nil: DefaultInstanceOptions.
	InstanceOptions func(machineType string) cloudsim.PoolOptions
	// Clock stamps operation and creation times; real time when nil. Pass
	// the engine's clock.
	Clock cloudsim.Clock
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// DefaultInstanceOptions is the family (the machine type up to its first
// dash: "a3-highgpu-8g" -> "a3") and the GPUs per node from a "-<N>g"
// suffix ("a3-highgpu-8g" -> 8), else 1.
func DefaultInstanceOptions(machineType string) cloudsim.PoolOptions {
	family, _, _ := strings.Cut(machineType, "-")
	o := cloudsim.PoolOptions{Family: family, GPUsPerNode: 1}
	if i := strings.LastIndex(machineType, "-"); i >= 0 && strings.HasSuffix(machineType, "g") {
		if n, err := strconv.Atoi(machineType[i+1 : len(machineType)-1]); err == nil && n > 0 {
			o.GPUsPerNode = n
		}
	}
	return o
}

type server struct {
	containerpb.UnimplementedClusterManagerServer
	e    *cloudsim.Engine
	opts Options

	// defaultOptions: InstanceOptions was nil, so a machine type without
	// a GPU suffix takes its GPUs per node from the accelerators.
	defaultOptions bool

	// compute are computefront's network tables (vpc.go).
	compute computeTables
	// rec are the front end's own records.
	rec records

	mu sync.Mutex
	// finished keeps operations whose row was removed with their
	// target.
	finished map[string]*opRecord
}

// New returns the ClusterManager service backed by e.
func New(e *cloudsim.Engine, opts Options) containerpb.ClusterManagerServer {
	return newServer(e, opts)
}

func newServer(e *cloudsim.Engine, opts Options) *server {
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	def := opts.InstanceOptions == nil
	if def {
		opts.InstanceOptions = DefaultInstanceOptions
	}
	return &server{e: e, opts: opts, defaultOptions: def, finished: map[string]*opRecord{},
		compute: openComputeTables(e), rec: openRecords(e)}
}

// records are the front end's own records, one table each, rows named as
// their kind's doc says: bookkeeping about what the engine models.
type records struct {
	clusters *cloudsim.Table[clusterMeta]
	pools    *cloudsim.Table[poolMeta]
	ops      *cloudsim.Table[opRecord]
}

// openRecords opens the tables; a world of the version before them kept
// each record as an engine object of the table's kind (JSON in attrs
// "json"), which moves into the table.
func openRecords(e *cloudsim.Engine) records {
	return records{
		clusters: cloudsim.NewRecordTable[clusterMeta](e, cloudName, kindClusterMeta),
		pools:    cloudsim.NewRecordTable[poolMeta](e, cloudName, kindPoolMeta),
		ops:      cloudsim.NewRecordTable[opRecord](e, cloudName, kindOperation),
	}
}

// Serve starts a gRPC server with the ClusterManager service on
// 127.0.0.1:0 and returns its address and a func that stops it.
func Serve(e *cloudsim.Engine, opts Options) (addr string, stop func(), err error) {
	return ServeOn("127.0.0.1:0", e, opts)
}

// ServeOn is Serve on the address listen ("127.0.0.1:PORT").
func ServeOn(listen string, e *cloudsim.Engine, opts Options) (addr string, stop func(), err error) {
	lis, err := net.Listen("tcp", listen)
	if err != nil {
		return "", nil, err
	}
	// Calls are judged by the container v1 discovery document in tests.
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(conformance.UnaryServerInterceptor(conformance.Caller())))
	containerpb.RegisterClusterManagerServer(srv, New(e, opts))
	go func() { _ = srv.Serve(lis) }()
	return lis.Addr().String(), srv.Stop, nil
}

func (s *server) now() time.Time { return s.opts.Clock.Now().UTC() }

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// RegionOf returns the region of a location: a zone ("europe-west4-a")
// loses its last part, a region is returned as it is.
func RegionOf(location string) string {
	i := strings.LastIndex(location, "-")
	if i < 0 {
		return location
	}
	suffix := location[i+1:]
	if len(suffix) == 1 && unicode.IsLetter(rune(suffix[0])) && strings.Count(location, "-") >= 2 {
		return location[:i]
	}
	return location
}

func isZone(location string) bool { return RegionOf(location) != location }

// ref is a parsed resource name.
type ref struct {
	Project, Location, Cluster, Pool string
}

func (r ref) region() string { return RegionOf(r.Location) }

func (r ref) parent() string { return "projects/" + r.Project + "/locations/" + r.Location }

func (r ref) clusterName() string { return r.parent() + "/clusters/" + r.Cluster }

func (r ref) poolName() string { return r.clusterName() + "/nodePools/" + r.Pool }

const apiBase = "https://container.googleapis.com/v1/"

// parseName splits "projects/p/locations/l[/clusters/c[/nodePools/np]]"
// (also "zones" for "locations"), falling back to the deprecated fields.
func parseName(name, project, zone, cluster, pool string, want int) (ref, error) {
	r := ref{Project: project, Location: zone, Cluster: cluster, Pool: pool}
	if name != "" {
		segs := strings.Split(strings.Trim(name, "/"), "/")
		ok := len(segs) >= 4 && segs[0] == "projects" && (segs[2] == "locations" || segs[2] == "zones")
		if ok {
			r = ref{Project: segs[1], Location: segs[3]}
			switch {
			case len(segs) == 4:
			case len(segs) == 6 && segs[4] == "clusters":
				r.Cluster = segs[5]
			case len(segs) == 8 && segs[4] == "clusters" && (segs[6] == "nodePools" || segs[6] == "node-pools"):
				r.Cluster, r.Pool = segs[5], segs[7]
			default:
				ok = false
			}
		}
		if !ok {
			return ref{}, invalid("Invalid resource name %q.", name)
		}
	}
	if r.Project == "" || r.Location == "" {
		return ref{}, invalid("Location and project must be specified (parent/name %q).", name)
	}
	if want >= 1 && r.Cluster == "" {
		return ref{}, invalid("Cluster name must be specified.")
	}
	if want >= 2 && r.Pool == "" {
		return ref{}, invalid("Node pool name must be specified.")
	}
	return r, nil
}

// findCluster looks a cluster up without rate limits and faults.
func (s *server) findCluster(region, name string) (cloudsim.Cluster, bool) {
	return s.e.LookupCluster(cloudName, region, name)
}

// findPool looks a node pool up without rate limits and faults.
func (s *server) findPool(region, cluster, name string) (cloudsim.Pool, bool) {
	return s.e.LookupPool(cloudName, region, cluster, name)
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// compile-time check.
var _ containerpb.ClusterManagerServer = (*server)(nil)

// ctxErr reports a cancelled request.
func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return grpcError(err, "")
	}
	return nil
}
