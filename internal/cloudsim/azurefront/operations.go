package azurefront

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
)

// opRecord is a long-running operation: what it acts on and when it
// started. PUT operations are rows of table "AzureOperation" (tables.go);
// delete operations carry their record in their ID.
type opRecord struct {
	Op            string    `json:"op"` // CreateCluster, UpdateCluster, DeleteCluster, CreateNodePool, UpdateNodePool, DeleteNodePool
	RG            string    `json:"rg"` // lower case
	ResourceGroup string    `json:"resourceGroup"`
	Cluster       string    `json:"cluster"`
	Pool          string    `json:"pool,omitempty"`
	Location      string    `json:"location"`
	Start         time.Time `json:"start"`
}

const deletePrefix = "del."

func deleteOpID(r opRecord) string {
	data, _ := json.Marshal(r)
	return deletePrefix + base64.RawURLEncoding.EncodeToString(data)
}

// recordOp stores an operation record and returns its ID.
func (s *server) recordOp(r opRecord) (string, error) {
	id := newID()
	return id, s.t.ops.Put(id, r)
}

func opNotFound(id string) error {
	return newErr(404, "NotFound", "Operation %s was not found.", id)
}

// loadOp reads an operation record.
func (s *server) loadOp(id string) (opRecord, error) {
	if rest, ok := strings.CutPrefix(id, deletePrefix); ok {
		var r opRecord
		data, err := base64.RawURLEncoding.DecodeString(rest)
		if err != nil || json.Unmarshal(data, &r) != nil {
			return opRecord{}, opNotFound(id)
		}
		return r, nil
	}
	r, err := s.t.ops.Get(id)
	if cloud.IsNotFound(err) {
		return opRecord{}, opNotFound(id)
	}
	return r, err
}

// opError is the error of a finished operation.
type opError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// opState computes the status of an operation from the engine now.
func (s *server) opState(r opRecord) (string, *opError, error) {
	switch r.Op {
	case "DeleteCluster":
		if _, err := s.e.GetCluster(cloudName, r.Location, r.Cluster); err != nil {
			if cloud.IsNotFound(err) {
				if err := s.gcCluster(r.RG, r.Cluster); err != nil {
					return "", nil, err
				}
				return "Succeeded", nil, nil
			}
			return "", nil, err
		}
		return "InProgress", nil, nil
	case "DeleteNodePool":
		if _, err := s.e.GetNodePool(cloudName, r.Location, r.Cluster, r.Pool); err != nil {
			if cloud.IsNotFound(err) {
				if err := s.gcPool(r.RG, r.Location, r.Cluster, r.Pool); err != nil {
					return "", nil, err
				}
				return "Succeeded", nil, nil
			}
			return "", nil, err
		}
		return "InProgress", nil, nil
	case "CreateCluster", "UpdateCluster":
		c, err := s.e.GetCluster(cloudName, r.Location, r.Cluster)
		if err != nil {
			if cloud.IsNotFound(err) {
				return "Canceled", &opError{Code: "OperationCanceled", Message: "The managed cluster " + r.Cluster + " was deleted."}, nil
			}
			return "", nil, err
		}
		switch s.e.ClusterStatus(c) {
		case cloud.StatusCreating, cloud.StatusUpdating:
			return "InProgress", nil, nil
		case cloud.StatusDeleting:
			return "Canceled", &opError{Code: "OperationCanceled", Message: "The managed cluster " + r.Cluster + " is being deleted."}, nil
		}
		return "Succeeded", nil, nil
	case "CreateNodePool", "UpdateNodePool":
		p, err := s.e.GetNodePool(cloudName, r.Location, r.Cluster, r.Pool)
		if err != nil {
			if cloud.IsNotFound(err) {
				return "Canceled", &opError{Code: "OperationCanceled", Message: "The agent pool " + r.Pool + " was deleted."}, nil
			}
			return "", nil, err
		}
		switch st, _ := s.e.PoolStatus(p); st {
		case cloud.StatusCreating, cloud.StatusUpdating:
			return "InProgress", nil, nil
		case cloud.StatusDeleting:
			return "Canceled", &opError{Code: "OperationCanceled", Message: "The agent pool " + r.Pool + " is being deleted."}, nil
		case cloud.StatusActive:
			return "Succeeded", nil, nil
		}
		e := &opError{Code: "InternalServerError", Message: "The agent pool " + r.Pool + " failed."}
		if len(p.Issues) > 0 {
			e.Code, e.Message = azureIssue(p, p.Issues[len(p.Issues)-1])
		}
		return "Failed", e, nil
	}
	return "", nil, newErr(500, "InternalServerError", "cloudsim: unknown operation %q", r.Op)
}

// operationStatus answers the Azure-AsyncOperation URL (status document)
// and, with asResult, the Location URL (202 while running, 204 when done,
// the error with 400 when it failed).
func (s *server) operationStatus(q *req, loc, id string, asResult bool) (reply, error) {
	r, err := s.loadOp(id)
	if err != nil {
		return reply{}, err
	}
	status, opErr, err := s.opState(r)
	if err != nil {
		return reply{}, err
	}
	return s.operationReply(q, "Microsoft.ContainerService", loc, id, status, r.Start, opErr, asResult)
}

// operationReply answers an operation URL of a resource provider: with
// asResult the Location URL (202 while running, 204 when done, the
// operation's error otherwise), else the Azure-AsyncOperation status
// document.
func (s *server) operationReply(q *req, provider, loc, id, status string, start time.Time, opErr *opError, asResult bool) (reply, error) {
	if asResult {
		switch status {
		case "InProgress":
			return reply{status: http.StatusAccepted, header: map[string]string{"Location": q.base + q.r.URL.RequestURI()}}, nil
		case "Succeeded":
			return reply{status: http.StatusNoContent}, nil
		}
		return reply{}, newErr(400, opErr.Code, "%s", opErr.Message)
	}
	body := map[string]any{
		"id":        "/subscriptions/" + q.sub + "/providers/" + provider + "/locations/" + loc + "/operations/" + id,
		"name":      id,
		"status":    status,
		"startTime": start.UTC().Format(time.RFC3339Nano),
	}
	if status != "InProgress" {
		body["endTime"] = s.now().Format(time.RFC3339Nano)
	}
	if opErr != nil {
		body["error"] = opErr
	}
	return reply{status: http.StatusOK, body: body}, nil
}
