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

func TestAzureARM(t *testing.T) {
	const pool = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks/agentPools/"
	tests := []struct {
		name, method, path, body string
		status                   int
		reply                    string
		want                     [][2]string // member, problem; none: valid
		warn                     [][2]string
	}{
		{name: "valid pool PUT", method: "PUT", path: pool + "gpu?api-version=2025-10-01",
			body:   `{"properties":{"count":2,"vmSize":"Standard_NC4as_T4_v3","osSKU":"Ubuntu","mode":"User","nodeTaints":["gpufleet.dev/unvalidated=true:NoSchedule"]}}`,
			status: 201, reply: `{"id":"x","name":"gpu","properties":{"provisioningState":"Creating","count":2}}`},
		{name: "invalid pool PUT", method: "PUT", path: pool + "GPU_1?api-version=2025-10-01",
			body:   `{"properties":{"count":"2","osSKU":"Debian","osDiskSizeGB":4096,"colour":"red"},"id":"x"}`,
			status: 200, reply: `{"name":"gpu","properties":{"count":true}}`,
			want: [][2]string{
				{"agentPoolName", `"GPU_1" does not match the pattern ^[a-z][a-z0-9]{0,11}$`},
				{"properties.count", "a string where the model has a number"},
				{"properties.osSKU", `"Debian" is not one of the known values`},
				{"properties.osDiskSizeGB", "4096 is over the maximum 2048"},
				{"properties.colour", "unknown member"},
				{"properties.count", "a boolean where the model has a number"},
			},
			warn: [][2]string{{"id", "read-only member sent"}}},
		{name: "an api-version the model does not serve", method: "GET", path: pool + "gpu?api-version=2019-01-01",
			status: 200, reply: `{}`, want: [][2]string{{"api-version", "api-version 2019-01-01: the model serves"}}},
		{name: "a status the operation does not answer", method: "GET", path: pool + "gpu?api-version=2025-10-01",
			status: 201, reply: `{}`, want: [][2]string{{"", "status 201 is not a response of the operation (200)"}}},
		{name: "no such operation", method: "PATCH", path: pool + "gpu?api-version=2025-10-01", body: `{}`,
			status: 200, reply: `{}`, want: [][2]string{{"", "no operation of"}}},
		{name: "unknown query parameter", method: "GET", path: pool + "gpu?api-version=2025-10-01&colour=red",
			status: 200, reply: `{}`, want: [][2]string{{"colour", "unknown query parameter"}}},
		{name: "role assignment: required members", method: "PUT",
			path:   "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/providers/Microsoft.Authorization/roleAssignments/11111111-1111-4111-a111-111111111111?api-version=2022-04-01",
			body:   `{"properties":{"roleDefinitionId":"/x"}}`,
			status: 201, reply: `{"id":"x","properties":{"roleDefinitionId":"/x","principalId":"p"}}`,
			want: [][2]string{{"properties.principalId", "required member is missing"}}},
		{name: "flattened network members, subnet without resourceGuid", method: "GET",
			path:   "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/a?api-version=2025-05-01",
			status: 200, reply: `{"id":"x","name":"a","properties":{"addressPrefix":"10.0.0.0/24","resourceGuid":"g","provisioningState":"Succeeded"}}`,
			want: [][2]string{{"properties.resourceGuid", "unknown member"}}},
		{name: "compute 2026-04-01 judged as 2025-04-01", method: "GET",
			path:   "/subscriptions/s/providers/Microsoft.Compute/locations/westeurope/usages?api-version=2026-04-01",
			status: 200, reply: `{"value":[{"unit":"Count","currentValue":1,"limit":10,"name":{"value":"standardNCASv3_T4Family"}}]}`},
		{name: "Azure-AsyncOperation status", method: "GET",
			path:   "/subscriptions/s/providers/Microsoft.ContainerService/locations/westeurope/operations/abc?api-version=2025-10-01",
			status: 200, reply: `{"name":"abc","startTime":"yesterday"}`,
			want: [][2]string{{"status", "required member is missing"}, {"startTime", `"yesterday" is not a DateTime`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			vs := serve(t, Azure, r, tt.status, tt.reply)
			for _, want := range tt.want {
				if !has(vs, want[0], want[1]) {
					t.Errorf("no violation %q at %q in %v", want[1], want[0], vs)
				}
			}
			if len(vs) != len(tt.want) {
				t.Errorf("%d violations, want %d: %v", len(vs), len(tt.want), vs)
			}
			ws := Warnings()
			for _, want := range tt.warn {
				if !has(ws, want[0], want[1]) {
					t.Errorf("no warning %q at %q in %v", want[1], want[0], ws)
				}
			}
			if len(ws) != len(tt.warn) {
				t.Errorf("warnings %v, want %v", ws, tt.warn)
			}
		})
	}
}

// TestAzureModelSources: the embedded model is the one AzureModelPackages
// names (make azure-models regenerates it from them).
func TestAzureModelSources(t *testing.T) {
	m, err := loadAzure()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(m.Source, " ") != strings.Join(AzureModelPackages, " ") {
		t.Errorf("azure-models.json.gz is extracted from %v, AzureModelPackages names %v", m.Source, AzureModelPackages)
	}
}
