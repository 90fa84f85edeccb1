package gkefront

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	container "cloud.google.com/go/container/apiv1"
	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/api/option"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// The Go REST client (NewClusterManagerRESTClient), generated from the
// same HTTP mapping gcloud uses, judges the REST front end: a cluster and
// a node pool created over REST are read back, listed and found by
// operation, in both the locations and the deprecated zones forms.
func TestRESTMapping(t *testing.T) {
	clock := cloudsim.NewFakeClock(epoch0)
	e, err := cloudsim.New(cloudsim.Config{Clock: clock, Durations: testDurations})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewREST(e, Options{Clock: clock}))
	t.Cleanup(srv.Close)
	ctx := context.Background()
	c, err := container.NewClusterManagerRESTClient(ctx, option.WithEndpoint(srv.URL), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })

	op, err := c.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: "projects/p/locations/" + zone,
		Cluster: &containerpb.Cluster{Name: "c1", InitialClusterVersion: "1.33"}})
	if err != nil {
		t.Fatalf("CreateCluster: %v", err)
	}
	if op.GetOperationType() != containerpb.Operation_CREATE_CLUSTER || op.GetStatus() != containerpb.Operation_RUNNING {
		t.Fatalf("CreateCluster operation = %v %v, want CREATE_CLUSTER RUNNING", op.GetOperationType(), op.GetStatus())
	}
	clock.Advance(testDurations.ClusterCreate)
	got, err := c.GetOperation(ctx, &containerpb.GetOperationRequest{Name: "projects/p/locations/" + zone + "/operations/" + op.GetName()})
	if err != nil || got.GetStatus() != containerpb.Operation_DONE {
		t.Fatalf("GetOperation = %v, %v; want DONE", got.GetStatus(), err)
	}
	pop, err := c.CreateNodePool(ctx, &containerpb.CreateNodePoolRequest{Parent: "projects/p/locations/" + zone + "/clusters/c1",
		NodePool: &containerpb.NodePool{Name: "gpu", InitialNodeCount: 2, Config: &containerpb.NodeConfig{MachineType: "n1-standard-4"}}})
	if err != nil || pop.GetOperationType() != containerpb.Operation_CREATE_NODE_POOL {
		t.Fatalf("CreateNodePool = %v, %v", pop, err)
	}
	clock.Advance(testDurations.PoolCreate)

	tests := []struct {
		name  string
		check func() error
	}{
		{"get cluster (locations)", func() error {
			cl, err := c.GetCluster(ctx, &containerpb.GetClusterRequest{Name: "projects/p/locations/" + zone + "/clusters/c1"})
			if err == nil && (cl.GetStatus() != containerpb.Cluster_RUNNING || cl.GetCurrentMasterVersion() != "1.33") {
				t.Errorf("cluster = %v %q, want RUNNING 1.33", cl.GetStatus(), cl.GetCurrentMasterVersion())
			}
			return err
		}},
		{"get cluster (the deprecated zones path)", func() error {
			resp, err := http.Get(srv.URL + "/v1/projects/p/zones/" + zone + "/clusters/c1")
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			var cl struct{ Name, Status string }
			if err := json.NewDecoder(resp.Body).Decode(&cl); err != nil || resp.StatusCode != 200 || cl.Name != "c1" || cl.Status != "RUNNING" {
				t.Errorf("zones GET = %d %+v (%v), want 200 c1 RUNNING", resp.StatusCode, cl, err)
			}
			return nil
		}},
		{"list clusters in every location", func() error {
			l, err := c.ListClusters(ctx, &containerpb.ListClustersRequest{Parent: "projects/p/locations/-"})
			if err == nil && (len(l.GetClusters()) != 1 || l.GetClusters()[0].GetName() != "c1") {
				t.Errorf("clusters = %v, want c1", l.GetClusters())
			}
			return err
		}},
		{"list node pools", func() error {
			l, err := c.ListNodePools(ctx, &containerpb.ListNodePoolsRequest{Parent: "projects/p/locations/" + zone + "/clusters/c1"})
			if err == nil && (len(l.GetNodePools()) != 1 || l.GetNodePools()[0].GetInitialNodeCount() != 2 ||
				l.GetNodePools()[0].GetStatus() != containerpb.NodePool_RUNNING) {
				t.Errorf("node pools = %v, want gpu RUNNING with 2 nodes", l.GetNodePools())
			}
			return err
		}},
		{"set node pool size (custom verb)", func() error {
			op, err := c.SetNodePoolSize(ctx, &containerpb.SetNodePoolSizeRequest{Name: "projects/p/locations/" + zone + "/clusters/c1/nodePools/gpu", NodeCount: 3})
			if err == nil && op.GetOperationType() != containerpb.Operation_SET_NODE_POOL_SIZE {
				t.Errorf("operation = %v, want SET_NODE_POOL_SIZE", op.GetOperationType())
			}
			return err
		}},
	}
	for _, tt := range tests {
		if err := tt.check(); err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
}

// Errors are Google's JSON error body with the HTTP status of the gRPC
// code, which gcloud prints ("ResponseError: code=404, message=...").
func TestRESTErrors(t *testing.T) {
	e, err := cloudsim.New(cloudsim.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewREST(e, Options{}))
	t.Cleanup(srv.Close)
	tests := []struct {
		name, method, path, body string
		code                     int
		status, message          string
	}{
		{"missing cluster", "GET", "/v1/projects/p/locations/europe-west4/clusters/nope", "", 404, "NOT_FOUND", "nope"},
		{"unknown path", "GET", "/v1/projects/p/locations/europe-west4/widgets", "", 404, "NOT_FOUND", "not found"},
		{"bad JSON body", "POST", "/v1/projects/p/locations/europe-west4/clusters", "{", 400, "INVALID_ARGUMENT", "Invalid JSON payload"},
		{"unknown query parameter", "GET", "/v1/projects/p/locations/europe-west4/clusters?colour=red", "", 400, "INVALID_ARGUMENT", "colour"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			data, _ := io.ReadAll(resp.Body)
			var body struct {
				Error struct {
					Code            int
					Message, Status string
				}
			}
			if err := json.Unmarshal(data, &body); err != nil {
				t.Fatalf("not a JSON error body: %s", data)
			}
			if resp.StatusCode != tt.code || body.Error.Code != tt.code || body.Error.Status != tt.status ||
				!strings.Contains(body.Error.Message, tt.message) {
				t.Errorf("answer %d %s, want %d %s with %q in the message", resp.StatusCode, data, tt.code, tt.status, tt.message)
			}
		})
	}
}
