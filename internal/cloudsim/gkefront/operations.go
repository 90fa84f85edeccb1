package gkefront

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// opRecord is an operation as persisted (a row of table "GKEOperation").
type opRecord struct {
	Name     string    `json:"name"`
	Type     string    `json:"type"` // containerpb.Operation_Type name
	Project  string    `json:"project"`
	Location string    `json:"location"`
	Region   string    `json:"region"`
	Cluster  string    `json:"cluster"`
	Pool     string    `json:"pool,omitempty"`
	Start    time.Time `json:"start"`
	Done     bool      `json:"done,omitempty"`
	End      time.Time `json:"end,omitzero"`
	ErrCode  int32     `json:"errCode,omitempty"`
	ErrMsg   string    `json:"errMsg,omitempty"`
}

func (o *opRecord) typ() containerpb.Operation_Type {
	return containerpb.Operation_Type(containerpb.Operation_Type_value[o.Type])
}

func (o *opRecord) ref() ref {
	return ref{Project: o.Project, Location: o.Location, Cluster: o.Cluster, Pool: o.Pool}
}

func (o *opRecord) poolOp() bool { return o.Pool != "" }

// targetKey names the engine object an operation is about.
func (o *opRecord) targetKey() string {
	if o.poolOp() {
		return o.Region + "/" + o.Cluster + "/" + o.Pool
	}
	return o.Region + "/" + o.Cluster
}

func (o *opRecord) proto() *containerpb.Operation {
	r := o.ref()
	target := r.clusterName()
	if o.poolOp() {
		target = r.poolName()
	}
	op := &containerpb.Operation{
		Name: o.Name, Zone: o.Location, Location: o.Location, OperationType: o.typ(), Status: containerpb.Operation_RUNNING,
		SelfLink: apiBase + r.parent() + "/operations/" + o.Name, TargetLink: apiBase + target, StartTime: stamp(o.Start),
	}
	if o.Done {
		op.Status = containerpb.Operation_DONE
		op.EndTime = stamp(o.End)
		if o.ErrCode != 0 {
			op.Error = &spb.Status{Code: o.ErrCode, Message: o.ErrMsg}
			op.StatusMessage = o.ErrMsg
		}
	}
	return op
}

// startOp records a new operation on r (a node pool operation when
// r.Pool is set); an operation that cannot be recorded is an INTERNAL
// error (the engine's), as GKE answers when it cannot persist one.
func (s *server) startOp(r ref, t containerpb.Operation_Type) (*containerpb.Operation, error) {
	now := s.now()
	rec := &opRecord{
		Name: "operation-" + strconv.FormatInt(now.UnixMilli(), 10) + "-" + randHex(4) + "-" + randHex(4), Type: t.String(),
		Project: r.Project, Location: r.Location, Region: r.region(), Cluster: r.Cluster, Pool: r.Pool, Start: now,
	}
	if err := s.rec.ops.Put(rec.Name, *rec); err != nil {
		return nil, grpcError(err, "")
	}
	return rec.proto(), nil
}

// finish freezes an operation as DONE (with an error status if any).
func (s *server) finish(rec *opRecord, st *spb.Status) {
	rec.Done, rec.End = true, s.now()
	if st != nil {
		rec.ErrCode, rec.ErrMsg = st.Code, st.Message
	}
}

func aborted(msg string) *spb.Status { return &spb.Status{Code: int32(codes.Aborted), Message: msg} }

// evaluate decides whether an operation has finished, from the engine's
// view of its target: found is false when the target is gone. An error is
// the engine's (the failed pool's record could not be read).
func (s *server) evaluate(rec *opRecord, c cloudsim.Cluster, p cloudsim.Pool, found bool) error {
	switch rec.typ() {
	case containerpb.Operation_DELETE_CLUSTER, containerpb.Operation_DELETE_NODE_POOL:
		if !found {
			s.finish(rec, nil)
		}
	case containerpb.Operation_CREATE_CLUSTER:
		switch {
		case !found:
			s.finish(rec, aborted("Cluster "+rec.Cluster+" was deleted while it was being created."))
		case s.e.ClusterStatus(c) != cloud.StatusCreating:
			s.finish(rec, nil)
		}
	default: // node pool creates and updates
		verb, running := "updated", cloud.StatusUpdating
		if rec.typ() == containerpb.Operation_CREATE_NODE_POOL {
			verb, running = "created", cloud.StatusCreating
		}
		if !found {
			s.finish(rec, aborted("Node pool "+rec.Pool+" was deleted while it was being "+verb+"."))
			return nil
		}
		switch st, _ := s.e.PoolStatus(p); st {
		case running:
		case cloud.StatusCreateFailed, cloud.StatusDegraded, cloud.StatusDeleting:
			st, err := s.poolError(p, rec)
			if err != nil {
				return err
			}
			s.finish(rec, st)
		default:
			s.finish(rec, nil)
		}
	}
	return nil
}

// poolError is the error of a pool that ended with an issue, or nil.
func (s *server) poolError(p cloudsim.Pool, rec *opRecord) (*spb.Status, error) {
	if !p.Failed || len(p.Issues) == 0 {
		return nil, nil
	}
	_, meta, err := s.poolMetaFor(p.Spec.Region, p.Spec.Cluster, p.Spec.Name)
	if err != nil {
		return nil, err
	}
	st, _ := operationError(p, meta, rec.Project, s.now().Sub(rec.Start))
	return st, nil
}

func (s *server) GetOperation(ctx context.Context, req *containerpb.GetOperationRequest) (*containerpb.Operation, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	var r ref
	name := req.GetName()
	opName := req.GetOperationId()
	if name != "" {
		segs := strings.Split(strings.Trim(name, "/"), "/")
		if len(segs) != 6 || segs[0] != "projects" || (segs[2] != "locations" && segs[2] != "zones") || segs[4] != "operations" {
			return nil, invalid("Invalid operation name %q.", name)
		}
		r = ref{Project: segs[1], Location: segs[3]}
		opName = segs[5]
	} else {
		r = ref{Project: req.GetProjectId(), Location: req.GetZone()}
	}
	if opName == "" {
		return nil, invalid("Operation name must be specified.")
	}
	full := r.parent() + "/operations/" + opName
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, err := s.rec.ops.Get(opName)
	if cloud.IsNotFound(err) {
		if f, ok := s.finished[opName]; ok {
			return f.proto(), nil
		}
		return nil, notFoundStatus(full)
	}
	if err != nil {
		return nil, grpcError(err, full)
	}
	if rec.Done {
		return rec.proto(), nil
	}
	var (
		c     cloudsim.Cluster
		p     cloudsim.Pool
		found = true
	)
	if rec.poolOp() {
		p, err = s.e.GetNodePool(cloudName, rec.Region, rec.Cluster, rec.Pool)
	} else {
		c, err = s.e.GetCluster(cloudName, rec.Region, rec.Cluster)
	}
	if cloud.IsNotFound(err) {
		found, err = false, nil
	}
	if err != nil {
		return nil, grpcError(err, full)
	}
	if err := s.evaluate(&rec, c, p, found); err != nil {
		return nil, grpcError(err, full)
	}
	if rec.Done {
		if err := s.rec.ops.Put(rec.Name, rec); err != nil {
			return nil, grpcError(err, "")
		}
	}
	if !found {
		if err := s.sweepLocked(); err != nil {
			return nil, grpcError(err, "")
		}
	}
	return rec.proto(), nil
}

func (s *server) ListOperations(ctx context.Context, req *containerpb.ListOperationsRequest) (*containerpb.ListOperationsResponse, error) {
	r, err := parseName(req.GetParent(), req.GetProjectId(), req.GetZone(), "", "", 0)
	if err != nil {
		return nil, err
	}
	ops, err := s.rec.ops.All()
	if err != nil {
		return nil, grpcError(err, "")
	}
	out := &containerpb.ListOperationsResponse{}
	for _, o := range ops {
		rec := o.Value
		if r.Location == "-" || rec.Location == r.Location || rec.Region == r.Location {
			out.Operations = append(out.Operations, rec.proto())
		}
	}
	return out, nil
}

// sweep removes the metadata and operations of clusters and node pools
// that are gone, keeping their operations (finished) in memory. What it
// cannot delete it reports (every failure, joined) and leaves for the next
// sweep.
func (s *server) sweep() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sweepLocked()
}

func (s *server) sweepLocked() error {
	inv := s.e.Inventory()
	clusters, pools := map[string]bool{}, map[string]bool{}
	for _, c := range inv.Clusters {
		if c.Cloud == cloudName {
			clusters[c.Region+"/"+c.Name] = true
		}
	}
	for _, p := range inv.Pools {
		if p.Cloud == cloudName {
			pools[p.Spec.Region+"/"+p.Spec.Cluster+"/"+p.Spec.Name] = true
		}
	}
	// evalErrs are evaluate's, for the operations whose target is gone.
	var evalErrs []error
	err := errors.Join(s.rec.clusters.RemoveWhere(func(r cloudsim.Row[clusterMeta]) bool { return !clusters[r.Name] }),
		s.rec.pools.RemoveWhere(func(r cloudsim.Row[poolMeta]) bool { return !pools[r.Name] }),
		s.rec.ops.RemoveWhere(func(r cloudsim.Row[opRecord]) bool {
			rec := r.Value
			gone := !clusters[rec.Region+"/"+rec.Cluster]
			if rec.poolOp() {
				gone = !pools[rec.targetKey()]
			}
			if !gone {
				return false
			}
			if !rec.Done {
				evalErrs = append(evalErrs, s.evaluate(&rec, cloudsim.Cluster{}, cloudsim.Pool{}, false))
			}
			s.finished[rec.Name] = &rec
			return true
		}))
	return errors.Join(append(evalErrs, err)...)
}
