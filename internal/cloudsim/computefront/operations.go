package computefront

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// opFailure is how an operation ends when it fails.
type opFailure struct {
	Code       string `json:"code"`
	Message    string `json:"message"`
	HTTPStatus int    `json:"httpStatus"`
}

// opRecord is an operation as persisted (a row of the table
// "ComputeOperation", named "{project}/{operation}").
type opRecord struct {
	Name     string     `json:"name"`
	Project  string     `json:"project"`
	Region   string     `json:"region,omitempty"`
	Zone     string     `json:"zone,omitempty"`
	Type     string     `json:"type"`
	Target   string     `json:"target"` // relative path
	TargetID uint64     `json:"targetId,omitempty"`
	Start    time.Time  `json:"start"`
	End      time.Time  `json:"end"`
	Failure  *opFailure `json:"failure,omitempty"`
}

func (o *opRecord) scopePath() string {
	if o.Zone != "" {
		return zoneRel(o.Project, o.Zone)
	}
	if o.Region == "" {
		return "projects/" + o.Project + "/global"
	}
	return regionRel(o.Project, o.Region)
}

// proto answers the operation as it stands at now.
func (o *opRecord) proto(base string, now time.Time) *computepb.Operation {
	op := &computepb.Operation{
		Kind: proto.String("compute#operation"), Id: proto.Uint64(numericID("op", o.Name)), Name: proto.String(o.Name),
		OperationType: proto.String(o.Type), TargetLink: proto.String(base + o.Target),
		SelfLink: proto.String(base + o.scopePath() + "/operations/" + o.Name), User: proto.String("cloudsim@gpufleet.invalid"),
		InsertTime: proto.String(stamp(o.Start)), StartTime: proto.String(stamp(o.Start)),
	}
	if o.TargetID != 0 {
		op.TargetId = proto.Uint64(o.TargetID)
	}
	if o.Region != "" {
		op.Region = proto.String(base + regionRel(o.Project, o.Region))
	}
	if o.Zone != "" {
		op.Zone = proto.String(base + zoneRel(o.Project, o.Zone))
	}
	switch {
	case !now.Before(o.End):
		op.Status = computepb.Operation_DONE.Enum()
		op.Progress = proto.Int32(100)
		op.EndTime = proto.String(stamp(o.End))
		if f := o.Failure; f != nil {
			op.Error = &computepb.Error{Errors: []*computepb.Errors{{Code: proto.String(f.Code), Message: proto.String(f.Message)}}}
			op.HttpErrorStatusCode = proto.Int32(int32(f.HTTPStatus))
			op.HttpErrorMessage = proto.String(httpErrorMessage(f.HTTPStatus))
		}
	case !now.After(o.Start):
		op.Status = computepb.Operation_PENDING.Enum()
		op.Progress = proto.Int32(0)
	default:
		op.Status = computepb.Operation_RUNNING.Enum()
		op.Progress = proto.Int32(int32(50))
	}
	return op
}

// httpErrorMessage is GCE's upper-case status text ("FORBIDDEN").
func httpErrorMessage(code int) string {
	b := []byte(http.StatusText(code))
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z':
			b[i] = c - 'a' + 'A'
		case c == ' ':
			b[i] = '_'
		}
	}
	return string(b)
}

// startOp records an operation on target and answers it.
func (s *server) startOp(q *request, typ, target string, targetID uint64, failure *opFailure) (any, error) {
	now := s.now()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	rec := &opRecord{
		Name:    "operation-" + strconv.FormatInt(now.UnixMilli(), 10) + "-" + hex.EncodeToString(b),
		Project: q.project, Region: q.region, Zone: q.zone, Type: typ, Target: target, TargetID: targetID,
		Start: now, End: now.Add(s.opts.OperationTime), Failure: failure,
	}
	if err := s.ops.Put(q.project+"/"+rec.Name, *rec); err != nil {
		return nil, engineError(err, rec.scopePath()+"/operations/"+rec.Name, false)
	}
	return marshal(rec.proto(q.base, now))
}

// maxWait bounds the wait method, as on GCE.
const maxWait = 2 * time.Minute

// serveOperation answers operations get and wait.
func (s *server) serveOperation(w http.ResponseWriter, q *request) {
	var err error
	switch {
	case q.name != "" && q.verb == "" && q.r.Method == http.MethodGet:
	case q.name != "" && q.verb == "wait" && q.r.Method == http.MethodPost:
	default:
		writeError(w, &apiError{Code: http.StatusMethodNotAllowed, Reason: "methodNotAllowed", Message: q.r.Method + " " + q.r.URL.Path + " is not supported by cloudsim"})
		return
	}
	rec, err := s.loadOp(q)
	if err != nil {
		writeError(w, err)
		return
	}
	if q.verb == "wait" {
		if left := rec.End.Sub(s.now()); left > 0 {
			t := time.NewTimer(min(left, maxWait))
			select {
			case <-t.C:
			case <-q.r.Context().Done():
				t.Stop()
			}
		}
	}
	data, err := marshal(rec.proto(q.base, s.now()))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, data)
}

// loadOp reads an operation in the request's scope.
func (s *server) loadOp(q *request) (*opRecord, error) {
	path := q.scopePath() + "/operations/" + q.name
	rec, err := s.ops.Get(q.project + "/" + q.name)
	if err != nil {
		return nil, engineError(err, path, false)
	}
	if rec.Region != q.region || rec.Zone != q.zone {
		return nil, notFound(path)
	}
	return &rec, nil
}

// openOps opens the operations' table (bookkeeping). A world of the
// version before the tables kept each as an engine object of kind
// "ComputeOperation", its JSON in attrs "json": those move into it.
func openOps(e *cloudsim.Engine) *cloudsim.Table[opRecord] {
	return cloudsim.NewTable[opRecord](e, cloudName, kindOperation, cloudsim.TableOptions{Bookkeeping: true,
		Legacy: func(o cloudsim.Object) (any, bool, error) {
			if o.Kind != kindOperation {
				return nil, false, nil
			}
			var rec opRecord
			return &rec, true, json.Unmarshal([]byte(o.Attrs["json"]), &rec)
		}})
}
