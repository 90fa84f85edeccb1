package conformance

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"cloud.google.com/go/container/apiv1/containerpb"
)

// serve runs one exchange through Begin/End with a handler answering
// status and body, and returns the violations it produced.
func serve(t *testing.T, cloud Cloud, r *http.Request, status int, body string) []Violation {
	t.Helper()
	Enable()
	Reset()
	t.Cleanup(Reset)
	rec := httptest.NewRecorder()
	x := Begin(cloud, t.Name(), rec, r)
	if x == nil {
		t.Fatal("Begin returned nil while enabled")
	}
	x.WriteHeader(status)
	x.Write([]byte(body))
	x.End()
	if rec.Code != status || rec.Body.String() != body {
		t.Fatalf("the exchange changed the response: %d %q", rec.Code, rec.Body.String())
	}
	return Violations()
}

func has(vs []Violation, member, problem string) bool {
	for _, v := range vs {
		if v.Member == member && strings.Contains(v.Problem, problem) {
			return true
		}
	}
	return false
}

func signed(r *http.Request, service string) *http.Request {
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20261125/eu-central-1/"+service+"/aws4_request, SignedHeaders=host, Signature=x")
	return r
}

func TestAWSRestJSON(t *testing.T) {
	req := signed(httptest.NewRequest("POST", "/clusters/c1/node-groups",
		strings.NewReader(`{"nodegroupName":"ng","subnets":["s"],"nodeRole":"arn","capacityType":"CHEAP","colour":"red"}`)), "eks")
	vs := serve(t, AWS, req, 200, `{"nodegroup":{"nodegroupName":"ng","status":"CREATING","scalingConfig":{"desiredSize":"2"}}}`)
	for _, want := range [][2]string{
		{"capacityType", `"CHEAP" is not one of the enum values`},
		{"colour", "unknown member"},
		{"nodegroup.scalingConfig.desiredSize", "a string where the model has a integer"},
	} {
		if !has(vs, want[0], want[1]) {
			t.Errorf("no violation %q at %s in %v", want[1], want[0], vs)
		}
	}
	if len(vs) != 3 || vs[0].Operation != "CreateNodegroup" || vs[0].Tests[0] != t.Name() {
		t.Errorf("violations %+v", vs)
	}

	ok := signed(httptest.NewRequest("GET", "/clusters/c1/node-groups/ng", nil), "eks")
	if vs := serve(t, AWS, ok, 200, `{"nodegroup":{"nodegroupName":"ng","amiType":"AL2023_x86_64_NVIDIA","createdAt":1.7e9}}`); len(vs) != 0 {
		t.Errorf("a valid DescribeNodegroup (an AMI type of the v2 SDK's enum): %v", vs)
	}
	missing := signed(httptest.NewRequest("POST", "/clusters/c1/node-groups", strings.NewReader(`{"nodegroupName":"ng"}`)), "eks")
	if vs := serve(t, AWS, missing, 200, `{}`); !has(vs, "subnets", "required member is missing") || !has(vs, "nodeRole", "required") {
		t.Errorf("missing required members: %v", vs)
	}
	if vs := serve(t, AWS, missing, 400, `{}`); len(vs) != 0 {
		t.Errorf("an invalid request the front end refused counts as refused, not as a violation: %v", vs)
	}
}

func form(service, body string) *http.Request {
	r := signed(httptest.NewRequest("POST", "/", strings.NewReader(body)), service)
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	return r
}

func TestAWSQueryProtocols(t *testing.T) {
	// EC2: flattened lists (Filter.1.Value.1), an unknown parameter, a
	// list over its maximum, and an XML reply with an unknown element.
	body := "Action=DescribeVpcs&Version=2016-11-15&Filter.1.Name=vpc-id&Filter.1.Value.1=vpc-1&Colour=red"
	reply := `<DescribeVpcsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId>` +
		`<vpcSet><item><vpcId>vpc-1</vpcId><state>pending</state><colour/></item></vpcSet><subnetSet/></DescribeVpcsResponse>`
	vs := serve(t, AWS, form("ec2", body), 200, reply)
	for _, want := range [][2]string{
		{"Colour", "unknown member"},
		{"vpcSet[0].colour", "unknown member"},
		{"subnetSet", "unknown member"},
	} {
		if !has(vs, want[0], want[1]) {
			t.Errorf("no violation %q at %s in %v", want[1], want[0], vs)
		}
	}
	if len(vs) != 3 {
		t.Errorf("violations %v", vs)
	}
	var regions strings.Builder
	for i := 1; i <= 11; i++ {
		regions.WriteString("&RegionName." + strconv.Itoa(i) + "=r")
	}
	scores := "Action=GetSpotPlacementScores&Version=2016-11-15&TargetCapacity=1&InstanceType.1=g5.xlarge" + regions.String()
	if vs := serve(t, AWS, form("ec2", scores), 200, `<GetSpotPlacementScoresResponse/>`); !has(vs, "RegionName", "more elements than the maximum 10") {
		t.Errorf("11 regions: %v", vs)
	}

	// IAM (awsQuery): result wrapper, required members.
	vs = serve(t, AWS, form("iam", "Action=GetRole&Version=2010-05-08"), 200,
		`<GetRoleResponse><GetRoleResult><Role><RoleName>r</RoleName></Role></GetRoleResult><ResponseMetadata><RequestId>x</RequestId></ResponseMetadata></GetRoleResponse>`)
	for _, want := range [][2]string{{"RoleName", "required member is missing"}, {"Role.Arn", "required member is missing"}} {
		if !has(vs, want[0], want[1]) {
			t.Errorf("no violation %q at %s in %v", want[1], want[0], vs)
		}
	}
	if vs := serve(t, AWS, form("iam", "Action=NoSuchThing&Version=2010-05-08"), 200, ``); !has(vs, "Action", "does not exist") {
		t.Errorf("unknown action: %v", vs)
	}
}

func TestGoogleREST(t *testing.T) {
	r := httptest.NewRequest("POST", "/compute/v1/projects/p/regions/europe-west4/subnetworks?alt=json&colour=red",
		strings.NewReader(`{"name":"Bad_Name","network":"n","ipCidrRange":"10.0.0.0/20","stackType":"IPV5"}`))
	vs := serve(t, Google, r, 200, `{"kind":"compute#operation","name":"op","status":"SLEEPING","id":"12x"}`)
	for _, want := range [][2]string{
		{"colour", "unknown query parameter"},
		{"stackType", `"IPV5" is not one of the enum values`},
		{"status", `"SLEEPING" is not one of the enum values`},
		{"id", `"12x" is not a uint64`},
	} {
		if !has(vs, want[0], want[1]) {
			t.Errorf("no violation %q at %s in %v", want[1], want[0], vs)
		}
	}
	if len(vs) == 0 || vs[0].Operation != "compute.subnetworks.insert" {
		t.Errorf("violations %+v", vs)
	}
	get := httptest.NewRequest("GET", "/compute/v1/projects/p/regions/europe-west4/subnetworks/s1", nil)
	if vs := serve(t, Google, get, 200, `{"name":"s1","ipCidrRange":"10.0.0.0/20","stackType":"IPV4_ONLY"}`); len(vs) != 0 {
		t.Errorf("a valid subnetworks.get: %v", vs)
	}
}

func TestContainerRPC(t *testing.T) {
	c := checkContainerRPC("/google.container.v1.ClusterManager/CreateCluster",
		&containerpb.CreateClusterRequest{Parent: "projects/p/locations/europe-west4"},
		&containerpb.Operation{Name: "op", Status: containerpb.Operation_RUNNING})
	if !has(c.vs, "cluster", "required member is missing") || len(c.vs) != 1 || !c.request || !c.response {
		t.Errorf("CreateCluster without a cluster: %+v", c)
	}
	c = checkContainerRPC("/google.container.v1.ClusterManager/GetCluster", &containerpb.GetClusterRequest{Name: "clusters/c1"}, nil)
	if !has(c.vs, "name", "does not match the pattern") {
		t.Errorf("GetCluster with a bad name: %+v", c.vs)
	}
	c = checkContainerRPC("/google.container.v1.ClusterManager/GetNodePool",
		&containerpb.GetNodePoolRequest{Name: "projects/p/locations/l/clusters/c/nodePools/np"},
		&containerpb.NodePool{Name: "np", Config: &containerpb.NodeConfig{MachineType: "a3-highgpu-8g"}, InitialNodeCount: 2})
	if len(c.vs) != 0 || c.op != "GetNodePool (container.projects.locations.clusters.nodePools.get)" {
		t.Errorf("a valid GetNodePool: %+v", c)
	}
	c = checkContainerRPC("/google.container.v1.ClusterManager/GetCluster", &containerpb.GetClusterRequest{ProjectId: "p", Zone: "z"}, nil)
	if !has(c.vs, "clusterId", "required parameter is missing") || c.op != "GetCluster (container.projects.zones.clusters.get)" {
		t.Errorf("the deprecated zones form without clusterId: %+v", c)
	}
}
