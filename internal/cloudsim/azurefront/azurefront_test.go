package azurefront

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	azcloud "github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v3"

	gcloud "github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

const (
	sub      = "00000000-0000-0000-0000-00000000abcd"
	location = "westeurope"
	h100     = "Standard_ND96isr_H100_v5"
)

var ctx = context.Background()

var fast = cloudsim.Durations{
	ClusterCreate: 30 * time.Millisecond, ClusterDelete: 30 * time.Millisecond,
	PoolCreate: 30 * time.Millisecond, PoolUpdate: 30 * time.Millisecond, PoolDelete: 30 * time.Millisecond,
}

var poll = &runtime.PollUntilDoneOptions{Frequency: 10 * time.Millisecond}

type fakeCred struct{}

func (fakeCred) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "cloudsim-token", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

type env struct {
	t   *testing.T
	e   *cloudsim.Engine
	srv *httptest.Server
	h   atomic.Pointer[http.Handler]
	rg  *armresources.ResourceGroupsClient
	mc  *armcontainerservice.ManagedClustersClient
	ap  *armcontainerservice.AgentPoolsClient

	mu       sync.Mutex
	requests map[string]int
}

func newEnv(t *testing.T, stateFile string) *env {
	t.Helper()
	e, err := cloudsim.New(cloudsim.Config{Durations: fast, StateFile: stateFile})
	if err != nil {
		t.Fatal(err)
	}
	ev := &env{t: t, e: e, requests: map[string]int{}}
	ev.setEngine(e)
	ev.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev.mu.Lock()
		ev.requests[r.Method+" "+r.URL.Path]++
		ev.mu.Unlock()
		(*ev.h.Load()).ServeHTTP(w, r)
	}))
	t.Cleanup(ev.srv.Close)
	ev.rg, ev.mc, ev.ap = ev.clients(3)
	return ev
}

// setEngine serves another engine on the same URL (another process).
func (ev *env) setEngine(e *cloudsim.Engine) {
	ev.e = e
	h := New(e, Options{SubscriptionID: sub})
	ev.h.Store(&h)
}

// options are the ARM client options of ev's front end: its URL for ARM
// and sign-in, its TLS client, maxRetries retries (-1: none).
func (ev *env) options(maxRetries int32) *arm.ClientOptions {
	return &arm.ClientOptions{ClientOptions: azcore.ClientOptions{
		Cloud: azcloud.Configuration{ActiveDirectoryAuthorityHost: ev.srv.URL, Services: map[azcloud.ServiceName]azcloud.ServiceConfiguration{
			azcloud.ResourceManager: {Endpoint: ev.srv.URL, Audience: "https://management.azure.com"},
		}},
		Transport: ev.srv.Client(),
		Retry:     policy.RetryOptions{MaxRetries: maxRetries, RetryDelay: time.Millisecond, MaxRetryDelay: 5 * time.Millisecond},
	}}
}

func (ev *env) clients(maxRetries int32) (*armresources.ResourceGroupsClient, *armcontainerservice.ManagedClustersClient, *armcontainerservice.AgentPoolsClient) {
	ev.t.Helper()
	o := ev.options(maxRetries)
	rg, err := armresources.NewResourceGroupsClient(sub, fakeCred{}, o)
	if err != nil {
		ev.t.Fatal(err)
	}
	mc, err := armcontainerservice.NewManagedClustersClient(sub, fakeCred{}, o)
	if err != nil {
		ev.t.Fatal(err)
	}
	ap, err := armcontainerservice.NewAgentPoolsClient(sub, fakeCred{}, o)
	if err != nil {
		ev.t.Fatal(err)
	}
	return rg, mc, ap
}

func (ev *env) count(key string) int {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return ev.requests[key]
}

func (ev *env) createRG(name string) {
	ev.t.Helper()
	if _, err := ev.rg.CreateOrUpdate(ctx, name, armresources.ResourceGroup{Location: to.Ptr("West Europe")}, nil); err != nil {
		ev.t.Fatal(err)
	}
}

func (ev *env) createCluster(rg, name string) armcontainerservice.ManagedCluster {
	ev.t.Helper()
	return ev.createClusterAs(rg, name, nil)
}

// createClusterAs creates a managed cluster with identity (nil: none
// given, a system-assigned one).
func (ev *env) createClusterAs(rg, name string, identity *armcontainerservice.ManagedClusterIdentity) armcontainerservice.ManagedCluster {
	ev.t.Helper()
	p, err := ev.mc.BeginCreateOrUpdate(ctx, rg, name, armcontainerservice.ManagedCluster{
		Location: to.Ptr(location), Identity: identity,
		Properties: &armcontainerservice.ManagedClusterProperties{
			KubernetesVersion: to.Ptr("1.33"),
			DNSPrefix:         to.Ptr(name),
			AgentPoolProfiles: []*armcontainerservice.ManagedClusterAgentPoolProfile{{
				Name: to.Ptr("system"), Count: to.Ptr[int32](1), VMSize: to.Ptr("Standard_D4ds_v5"),
				Mode: to.Ptr(armcontainerservice.AgentPoolModeSystem),
			}},
		},
	}, nil)
	if err != nil {
		ev.t.Fatal(err)
	}
	res, err := p.PollUntilDone(ctx, poll)
	if err != nil {
		ev.t.Fatal(err)
	}
	return res.ManagedCluster
}

func gpuPool(count int32, zones []string, spot bool) armcontainerservice.AgentPool {
	props := &armcontainerservice.ManagedClusterAgentPoolProfileProperties{
		VMSize: to.Ptr(h100), Count: to.Ptr(count), Mode: to.Ptr(armcontainerservice.AgentPoolModeUser),
		NodeLabels: map[string]*string{"gpufleet.io/pool": to.Ptr("gpu")},
		NodeTaints: []*string{to.Ptr("nvidia.com/gpu=present:NoSchedule")},
	}
	for _, z := range zones {
		props.AvailabilityZones = append(props.AvailabilityZones, to.Ptr(z))
	}
	if spot {
		props.ScaleSetPriority = to.Ptr(armcontainerservice.ScaleSetPrioritySpot)
		props.ScaleSetEvictionPolicy = to.Ptr(armcontainerservice.ScaleSetEvictionPolicyDelete)
		props.SpotMaxPrice = to.Ptr[float32](-1)
	}
	return armcontainerservice.AgentPool{Properties: props}
}

func (ev *env) createPool(rg, cluster, name string, pool armcontainerservice.AgentPool) (armcontainerservice.AgentPool, error) {
	ev.t.Helper()
	p, err := ev.ap.BeginCreateOrUpdate(ctx, rg, cluster, name, pool, nil)
	if err != nil {
		return armcontainerservice.AgentPool{}, err
	}
	res, err := p.PollUntilDone(ctx, poll)
	return res.AgentPool, err
}

func respErr(t *testing.T, err error) *azcore.ResponseError {
	t.Helper()
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("error %v (%T) is not an *azcore.ResponseError", err, err)
	}
	return re
}

func TestLifecycle(t *testing.T) {
	ev := newEnv(t, "")
	ev.createRG("rg1")
	rg, err := ev.rg.Get(ctx, "RG1", nil)
	if err != nil || *rg.Name != "rg1" || *rg.Location != "westeurope" {
		t.Fatalf("get resource group: %v %+v", err, rg)
	}
	if ex, err := ev.rg.CheckExistence(ctx, "rg1", nil); err != nil || !ex.Success {
		t.Fatalf("check existence: %v %v", err, ex.Success)
	}

	mc := ev.createCluster("rg1", "aks1")
	props := mc.Properties
	if *props.ProvisioningState != "Succeeded" || *props.KubernetesVersion != "1.33" || *props.Fqdn == "" ||
		*props.NetworkProfile.ServiceCidr != "10.100.0.0/16" || len(props.AgentPoolProfiles) != 1 || *props.AgentPoolProfiles[0].Name != "system" {
		t.Fatalf("cluster: %+v", props)
	}
	if *mc.ID != "/subscriptions/"+sub+"/resourcegroups/rg1/providers/Microsoft.ContainerService/managedClusters/aks1" {
		t.Errorf("cluster id %s", *mc.ID)
	}
	creds, err := ev.mc.ListClusterUserCredentials(ctx, "rg1", "aks1", nil)
	if err != nil {
		t.Fatal(err)
	}
	inv := ev.e.Inventory()
	kc := string(creds.Kubeconfigs[0].Value)
	if !strings.Contains(kc, "server: "+inv.Clusters[0].Endpoint+":443") || !strings.Contains(kc, "certificate-authority-data: "+inv.Clusters[0].CACertificate) {
		t.Fatalf("kubeconfig:\n%s", kc)
	}

	pool, err := ev.createPool("rg1", "aks1", "gpu", gpuPool(2, []string{"1"}, true))
	if err != nil {
		t.Fatal(err)
	}
	pp := pool.Properties
	if *pp.ProvisioningState != "Succeeded" || *pp.Count != 2 || *pp.VMSize != h100 || *pp.AvailabilityZones[0] != "1" ||
		*pp.ScaleSetPriority != armcontainerservice.ScaleSetPrioritySpot || *pp.NodeTaints[0] != "nvidia.com/gpu=present:NoSchedule" ||
		*pp.NodeLabels["gpufleet.io/pool"] != "gpu" || *pp.Mode != armcontainerservice.AgentPoolModeUser {
		t.Fatalf("pool: %+v", pp)
	}
	ep := ev.e.Inventory().Pools[0]
	if ep.Spec.Zone != "1" || ep.Spec.CapacityType != "spot" || ep.Spec.InstanceType != h100 || ep.Spec.Region != location ||
		ep.Spec.Cluster != "aks1" || ep.Spec.Nodes != 2 || ep.Family != "standardNDH100v5Family" {
		t.Fatalf("engine pool: %+v", ep)
	}
	got, err := ev.mc.Get(ctx, "rg1", "aks1", nil)
	if err != nil || len(got.Properties.AgentPoolProfiles) != 2 {
		t.Fatalf("cluster after pool: %v %+v", err, got.Properties)
	}

	// A second PUT updates count, labels and taints in place.
	upd := gpuPool(3, []string{"1"}, true)
	upd.Properties.NodeLabels = map[string]*string{"gpufleet.io/pool": to.Ptr("gpu2"), "team": to.Ptr("ml")}
	upd.Properties.NodeTaints = []*string{to.Ptr("dedicated:NoExecute")}
	poller, err := ev.ap.BeginCreateOrUpdate(ctx, "rg1", "aks1", "gpu", upd, nil)
	if err != nil {
		t.Fatal(err)
	}
	mid, err := ev.ap.Get(ctx, "rg1", "aks1", "gpu", nil)
	if err != nil || *mid.Properties.ProvisioningState != "Scaling" {
		t.Fatalf("pool during update: %v %v", err, mid.Properties.ProvisioningState)
	}
	res, err := poller.PollUntilDone(ctx, poll)
	if err != nil {
		t.Fatal(err)
	}
	if *res.Properties.Count != 3 || *res.Properties.NodeLabels["team"] != "ml" || *res.Properties.NodeTaints[0] != "dedicated:NoExecute" ||
		*res.Properties.ProvisioningState != "Succeeded" {
		t.Fatalf("updated pool: %+v", res.Properties)
	}
	ep = ev.e.Inventory().Pools[0]
	if ep.Spec.Nodes != 3 || ep.Spec.Labels["gpufleet.io/pool"] != "gpu2" || len(ep.Spec.Taints) != 1 || ep.Spec.Taints[0].Key != "dedicated" || ep.Spec.Taints[0].Effect != "NoExecute" {
		t.Fatalf("engine pool after update: %+v", ep.Spec)
	}
	// Changing the VM size is refused.
	bad := gpuPool(3, []string{"1"}, true)
	bad.Properties.VMSize = to.Ptr("Standard_NC40ads_H100_v5")
	if _, err := ev.ap.BeginCreateOrUpdate(ctx, "rg1", "aks1", "gpu", bad, nil); err == nil || respErr(t, err).ErrorCode != "PropertyChangeNotAllowed" {
		t.Fatalf("vmSize change: %v", err)
	}

	// The cluster and the resource group refuse deletion while they hold things.
	if _, err := ev.mc.BeginDelete(ctx, "rg1", "aks1", nil); err == nil || respErr(t, err).StatusCode != 409 || respErr(t, err).ErrorCode != "OperationNotAllowed" {
		t.Fatalf("delete cluster with pools: %v", err)
	}
	if _, err := ev.rg.BeginDelete(ctx, "rg1", nil); err == nil || respErr(t, err).ErrorCode != "ResourceGroupDeletionBlocked" {
		t.Fatalf("delete resource group with clusters: %v", err)
	}

	dp, err := ev.ap.BeginDelete(ctx, "rg1", "aks1", "gpu", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dp.PollUntilDone(ctx, poll); err != nil {
		t.Fatal(err)
	}
	if _, err := ev.ap.Get(ctx, "rg1", "aks1", "gpu", nil); err == nil || respErr(t, err).StatusCode != 404 || respErr(t, err).ErrorCode != "NotFound" {
		t.Fatalf("get deleted pool: %v", err)
	}
	// Deleting what is gone is 204.
	if dp, err = ev.ap.BeginDelete(ctx, "rg1", "aks1", "gpu", nil); err != nil {
		t.Fatal(err)
	} else if _, err := dp.PollUntilDone(ctx, poll); err != nil {
		t.Fatal(err)
	}

	dc, err := ev.mc.BeginDelete(ctx, "rg1", "aks1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dc.PollUntilDone(ctx, poll); err != nil {
		t.Fatal(err)
	}
	if _, err := ev.mc.Get(ctx, "rg1", "aks1", nil); err == nil || respErr(t, err).StatusCode != 404 || respErr(t, err).ErrorCode != "ResourceNotFound" {
		t.Fatalf("get deleted cluster: %v", err)
	}
	dr, err := ev.rg.BeginDelete(ctx, "rg1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dr.PollUntilDone(ctx, poll); err != nil {
		t.Fatal(err)
	}
	if _, err := ev.rg.Get(ctx, "rg1", nil); err == nil || respErr(t, err).ErrorCode != "ResourceGroupNotFound" {
		t.Fatalf("get deleted resource group: %v", err)
	}
	if inv := ev.e.Inventory(); !inv.Empty() {
		t.Fatalf("leftovers: %+v", inv)
	}
}

func TestCapacityExhausted(t *testing.T) {
	ev := newEnv(t, "")
	ev.createRG("rg")
	ev.createCluster("rg", "aks")
	if err := ev.e.SetCapacity("azure", "1", h100, "on_demand", 0); err != nil {
		t.Fatal(err)
	}
	_, err := ev.createPool("rg", "aks", "zonal", gpuPool(1, []string{"1"}, false))
	if re := respErr(t, err); re.ErrorCode != "ZonalAllocationFailed" {
		t.Fatalf("zonal: %v", err)
	}
	got, err := ev.ap.Get(ctx, "rg", "aks", "zonal", nil)
	if err != nil {
		t.Fatal(err)
	}
	if *got.Properties.ProvisioningState != "Failed" || *got.Properties.Status.ProvisioningError.Code != "ZonalAllocationFailed" ||
		!strings.Contains(*got.Properties.Status.ProvisioningError.Message, "sufficient capacity") {
		t.Fatalf("failed pool: %+v", got.Properties)
	}
	// Spot in the same zone is another offer.
	if _, err := ev.createPool("rg", "aks", "spot", gpuPool(1, []string{"1"}, true)); err != nil {
		t.Fatal(err)
	}
	if err := ev.e.SetCapacity("azure", "", h100, "on_demand", 1); err != nil {
		t.Fatal(err)
	}
	_, err = ev.createPool("rg", "aks", "regional", gpuPool(2, nil, false))
	if re := respErr(t, err); re.ErrorCode != "AllocationFailed" {
		t.Fatalf("regional: %v", err)
	}
}

func TestQuotaExceeded(t *testing.T) {
	ev := newEnv(t, "")
	ev.createRG("rg")
	ev.createCluster("rg", "aks")
	if err := ev.e.SetQuota("azure", location, QuotaFamily(h100), 2); err != nil {
		t.Fatal(err)
	}
	if _, err := ev.createPool("rg", "aks", "a", gpuPool(2, []string{"2"}, false)); err != nil {
		t.Fatal(err)
	}
	_, err := ev.createPool("rg", "aks", "b", gpuPool(1, []string{"3"}, false))
	re := respErr(t, err)
	msg := ""
	if re.RawResponse != nil {
		got, _ := ev.ap.Get(ctx, "rg", "aks", "b", nil)
		msg = *got.Properties.Status.ProvisioningError.Message
	}
	if re.ErrorCode != "QuotaExceeded" || !strings.Contains(msg, "exceeding approved standardNDH100v5Family Cores quota") ||
		!strings.Contains(msg, "Current Limit: 2, Current Usage: 2, Additional Required: 1") {
		t.Fatalf("quota: %v / %s", err, msg)
	}
	// Scaling past the quota fails the update the same way.
	p, err := ev.ap.BeginCreateOrUpdate(ctx, "rg", "aks", "a", gpuPool(4, []string{"2"}, false), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.PollUntilDone(ctx, poll); respErr(t, err).ErrorCode != "QuotaExceeded" {
		t.Fatalf("scale past quota: %v", err)
	}
}

func TestNotFound(t *testing.T) {
	ev := newEnv(t, "")
	if _, err := ev.rg.Get(ctx, "nope", nil); respErr(t, err).StatusCode != 404 || respErr(t, err).ErrorCode != "ResourceGroupNotFound" {
		t.Fatalf("rg: %v", err)
	}
	ev.createRG("rg")
	if _, err := ev.mc.Get(ctx, "rg", "nope", nil); respErr(t, err).StatusCode != 404 || respErr(t, err).ErrorCode != "ResourceNotFound" {
		t.Fatalf("cluster: %v", err)
	}
	if _, err := ev.mc.BeginCreateOrUpdate(ctx, "other", "aks", armcontainerservice.ManagedCluster{Location: to.Ptr(location)}, nil); respErr(t, err).ErrorCode != "ResourceGroupNotFound" {
		t.Fatalf("cluster in missing rg: %v", err)
	}
	ev.createCluster("rg", "aks")
	if _, err := ev.ap.Get(ctx, "rg", "aks", "nope", nil); respErr(t, err).StatusCode != 404 || respErr(t, err).ErrorCode != "NotFound" {
		t.Fatalf("pool: %v", err)
	}
	if _, err := ev.ap.Get(ctx, "rg", "aks", "system", nil); err != nil {
		t.Fatalf("system pool: %v", err)
	}
	// Another subscription does not exist.
	other, err := armresources.NewResourceGroupsClient("11111111-0000-0000-0000-000000000000", fakeCred{}, &arm.ClientOptions{ClientOptions: azcore.ClientOptions{
		Cloud: azcloud.Configuration{ActiveDirectoryAuthorityHost: ev.srv.URL, Services: map[azcloud.ServiceName]azcloud.ServiceConfiguration{
			azcloud.ResourceManager: {Endpoint: ev.srv.URL, Audience: "https://management.azure.com"},
		}},
		Transport: ev.srv.Client(),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Get(ctx, "rg", nil); respErr(t, err).ErrorCode != "SubscriptionNotFound" {
		t.Fatalf("other subscription: %v", err)
	}
}

func TestThrottled(t *testing.T) {
	ev := newEnv(t, "")
	ev.createRG("rg")
	ev.createCluster("rg", "aks")
	_, mc, _ := ev.clients(-1)
	if err := ev.e.SetRateLimit("azure", "GetCluster", 0.001, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := mc.Get(ctx, "rg", "aks", nil); err != nil {
		t.Fatal(err)
	}
	before := ev.count("GET /subscriptions/" + sub + "/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks")
	_, err := mc.Get(ctx, "rg", "aks", nil)
	re := respErr(t, err)
	if re.StatusCode != 429 || re.ErrorCode != "SubscriptionRequestsThrottled" || re.RawResponse.Header.Get("Retry-After") != "1" {
		t.Fatalf("throttled: %v", err)
	}
	if n := ev.count("GET /subscriptions/"+sub+"/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks") - before; n != 1 {
		t.Fatalf("%d requests with retries off", n)
	}
	// Injected transient faults are 503.
	if err := ev.e.SetRateLimit("azure", "GetCluster", 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := ev.e.Inject(cloudsim.Fault{Cloud: "azure", Op: "GetCluster", Err: transientErr()}); err != nil {
		t.Fatal(err)
	}
	if _, err := mc.Get(ctx, "rg", "aks", nil); respErr(t, err).StatusCode != 503 {
		t.Fatalf("transient: %v", err)
	}
}

func TestResumeTokenAcrossProcesses(t *testing.T) {
	state := filepath.Join(t.TempDir(), "world.json")
	ev := newEnv(t, state)
	// Operations long enough to be still running when the token is taken
	// on a loaded machine (30 ms ones could end before the PUT's answer).
	d := 500 * time.Millisecond
	slow := cloudsim.Durations{ClusterCreate: d, ClusterDelete: d, PoolCreate: d, PoolUpdate: d, PoolDelete: d}
	e1, err := cloudsim.New(cloudsim.Config{Durations: slow, StateFile: state})
	if err != nil {
		t.Fatal(err)
	}
	ev.setEngine(e1)
	ev.createRG("rg")
	p, err := ev.mc.BeginCreateOrUpdate(ctx, "rg", "aks", armcontainerservice.ManagedCluster{Location: to.Ptr(location)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	token, err := p.ResumeToken()
	if err != nil {
		t.Fatal(err)
	}
	// Another process: a new engine on the same state file behind the same
	// URL, and new clients.
	e2, err := cloudsim.New(cloudsim.Config{Durations: slow, StateFile: state})
	if err != nil {
		t.Fatal(err)
	}
	ev.setEngine(e2)
	_, mc2, ap2 := ev.clients(3)
	p2, err := mc2.BeginCreateOrUpdate(ctx, "", "", armcontainerservice.ManagedCluster{}, &armcontainerservice.ManagedClustersClientBeginCreateOrUpdateOptions{ResumeToken: token})
	if err != nil {
		t.Fatal(err)
	}
	res, err := p2.PollUntilDone(ctx, poll)
	if err != nil {
		t.Fatal(err)
	}
	if *res.Properties.ProvisioningState != "Succeeded" || len(res.Properties.AgentPoolProfiles) != 1 {
		t.Fatalf("resumed cluster: %+v", res.Properties)
	}
	// A pool delete resumed elsewhere too.
	if _, err := ev.createPool("rg", "aks", "gpu", gpuPool(1, nil, false)); err != nil {
		t.Fatal(err)
	}
	dp, err := ap2.BeginDelete(ctx, "rg", "aks", "gpu", nil)
	if err != nil {
		t.Fatal(err)
	}
	token, _ = dp.ResumeToken()
	dp2, err := ap2.BeginDelete(ctx, "", "", "", &armcontainerservice.AgentPoolsClientBeginDeleteOptions{ResumeToken: token})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dp2.PollUntilDone(ctx, poll); err != nil {
		t.Fatal(err)
	}
	if len(e2.Inventory().Pools) != 0 {
		t.Fatal("pool not deleted")
	}
}

func TestQuotaFamily(t *testing.T) {
	for in, want := range map[string]string{
		"Standard_ND96isr_H100_v5": "standardNDH100v5Family",
		"Standard_NC24ads_A100_v4": "standardNCA100v4Family",
		"Standard_NC6s_v3":         "standardNCv3Family",
		"Standard_D4ds_v5":         "standardDv5Family",
	} {
		if got := QuotaFamily(in); got != want {
			t.Errorf("QuotaFamily(%s) = %s, want %s", in, got, want)
		}
	}
}

func transientErr() *gcloud.Error {
	return &gcloud.Error{Kind: gcloud.KindTransient, Cloud: "azure", Op: "GetCluster", Code: "Boom", Message: "backend unavailable"}
}
