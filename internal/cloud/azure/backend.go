// Package azure is the AKS backend: managed clusters and GPU agent pools
// through armcontainerservice, and a resource group per cluster through
// armresources. It is the only package that imports the Azure SDK.
package azure

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	azcloud "github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v3"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
)

// Config configures the backend.
type Config struct {
	SubscriptionID string
	// Credential replaces azidentity's default chain (environment, workload
	// identity / OIDC, managed identity, Azure CLI) when set.
	Credential azcore.TokenCredential
	// Endpoint overrides Azure Resource Manager (and the token authority)
	// with one base URL, e.g. a local simulator; HTTPClient is its transport.
	Endpoint   string
	HTTPClient *http.Client
	// ClientOptions for anything else; zero for the public cloud.
	ClientOptions arm.ClientOptions
	// Poll is the LRO polling frequency.
	Poll time.Duration
	// SystemVMSize is the VM size of each cluster's system pool.
	SystemVMSize string
}

// Backend implements cloud.Backend on AKS, and cloud.NetworkBackend (see
// network.go).
type Backend struct {
	cfg      Config
	cred     azcore.TokenCredential
	opts     arm.ClientOptions
	groups   *armresources.ResourceGroupsClient
	clusters *armcontainerservice.ManagedClustersClient
	pools    *armcontainerservice.AgentPoolsClient
	// net holds the armnetwork clients, created on first use.
	net netClients
}

var _ cloud.Backend = (*Backend)(nil)

// New creates the clients. Retries are left to cloud.WithRetries.
func New(cfg Config) (*Backend, error) {
	if cfg.SubscriptionID == "" {
		return nil, errors.New("azure: a subscription is required (azure { subscription_id = \"...\" } in the provider)")
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 10 * time.Second
	}
	if cfg.SystemVMSize == "" {
		cfg.SystemVMSize = "Standard_D4s_v5"
	}
	cred := cfg.Credential
	if cred == nil {
		c, err := azidentity.NewDefaultAzureCredential(nil)
		if err != nil {
			return nil, fmt.Errorf("azure: credentials: %w", err)
		}
		cred = c
	}
	opts := cfg.ClientOptions
	opts.Retry.MaxRetries = -1
	if cfg.Endpoint != "" {
		opts.Cloud = azcloud.Configuration{ActiveDirectoryAuthorityHost: cfg.Endpoint,
			Services: map[azcloud.ServiceName]azcloud.ServiceConfiguration{
				azcloud.ResourceManager: {Endpoint: cfg.Endpoint, Audience: "https://management.azure.com"},
			}}
	}
	if cfg.HTTPClient != nil {
		opts.Transport = cfg.HTTPClient
	}
	b := &Backend{cfg: cfg, cred: cred, opts: opts}
	var err error
	if b.groups, err = armresources.NewResourceGroupsClient(cfg.SubscriptionID, cred, &opts); err != nil {
		return nil, err
	}
	if b.clusters, err = armcontainerservice.NewManagedClustersClient(cfg.SubscriptionID, cred, &opts); err != nil {
		return nil, err
	}
	if b.pools, err = armcontainerservice.NewAgentPoolsClient(cfg.SubscriptionID, cred, &opts); err != nil {
		return nil, err
	}
	return b, nil
}

// Cloud is "azure".
func (b *Backend) Cloud() string { return "azure" }

// resourceGroup is the resource group gpufleet creates for a cluster; it is
// deleted with the cluster.
func resourceGroup(cluster string) string { return cluster + "-rg" }

// agentPoolName maps a gpufleet pool name to an AKS agent pool name (lower
// case letters and digits, at most 12, starting with a letter).
func agentPoolName(name string) string {
	h := sha256.Sum256([]byte(name))
	return "g" + hex.EncodeToString(h[:])[:11]
}

func (b *Backend) poll() *runtime.PollUntilDoneOptions {
	return &runtime.PollUntilDoneOptions{Frequency: b.cfg.Poll}
}

// CreateCluster creates the cluster's resource group and the managed
// cluster (with a one-node system pool) and waits until it has succeeded.
func (b *Backend) CreateCluster(ctx context.Context, spec cloud.ClusterSpec) (cloud.Cluster, error) {
	rg := resourceGroup(spec.Name)
	if _, err := b.groups.CreateOrUpdate(ctx, rg, armresources.ResourceGroup{Location: to.Ptr(spec.Region), Tags: ptrMap(spec.Tags)}, nil); err != nil {
		return cloud.Cluster{}, classify("CreateResourceGroup", err)
	}
	mc := armcontainerservice.ManagedCluster{
		Location: to.Ptr(spec.Region), Tags: ptrMap(spec.Tags),
		Identity: &armcontainerservice.ManagedClusterIdentity{Type: to.Ptr(armcontainerservice.ResourceIdentityTypeSystemAssigned)},
		Properties: &armcontainerservice.ManagedClusterProperties{
			DNSPrefix: to.Ptr(spec.Name),
			AgentPoolProfiles: []*armcontainerservice.ManagedClusterAgentPoolProfile{{
				Name: to.Ptr("system"), Count: to.Ptr[int32](1), VMSize: to.Ptr(b.cfg.SystemVMSize),
				Mode: to.Ptr(armcontainerservice.AgentPoolModeSystem), OSType: to.Ptr(armcontainerservice.OSTypeLinux),
			}},
			APIServerAccessProfile: &armcontainerservice.ManagedClusterAPIServerAccessProfile{EnablePrivateCluster: to.Ptr(spec.PrivateEndpoint && !spec.PublicEndpoint)},
		},
	}
	if spec.KubernetesVersion != "" {
		mc.Properties.KubernetesVersion = to.Ptr(spec.KubernetesVersion)
	}
	poller, err := b.clusters.BeginCreateOrUpdate(ctx, rg, spec.Name, mc, nil)
	if err != nil {
		return cloud.Cluster{}, classify("CreateCluster", err)
	}
	if _, err := poller.PollUntilDone(ctx, b.poll()); err != nil {
		if ctx.Err() != nil {
			return cloud.Cluster{}, ctx.Err()
		}
		return cloud.Cluster{}, classify("CreateCluster", err)
	}
	return b.GetCluster(ctx, spec.Region, spec.Name)
}

func ptrMap(m map[string]string) map[string]*string {
	out := map[string]*string{}
	for k, v := range m {
		out[k] = to.Ptr(v)
	}
	return out
}

var caData = regexp.MustCompile(`certificate-authority-data:\s*(\S+)`)

// GetCluster reads a managed cluster and its CA from the user kubeconfig.
func (b *Backend) GetCluster(ctx context.Context, region, name string) (cloud.Cluster, error) {
	resp, err := b.clusters.Get(ctx, resourceGroup(name), name, nil)
	if err != nil {
		return cloud.Cluster{}, classify("GetCluster", err)
	}
	p := resp.Properties
	c := cloud.Cluster{Name: name, Region: region, ID: str(resp.ID), Status: provisioning(p.ProvisioningState)}
	if p != nil {
		c.KubernetesVersion = str(p.KubernetesVersion)
		if p.Fqdn != nil {
			c.Endpoint = "https://" + *p.Fqdn
		}
		if p.NetworkProfile != nil {
			c.ServiceCIDR = str(p.NetworkProfile.ServiceCidr)
		}
	}
	if c.Status == cloud.StatusActive {
		if creds, err := b.clusters.ListClusterUserCredentials(ctx, resourceGroup(name), name, nil); err == nil {
			for _, kc := range creds.Kubeconfigs {
				if m := caData.FindSubmatch(kc.Value); m != nil {
					c.CACertificate = string(m[1])
				}
			}
		}
	}
	return c, nil
}

func provisioning(p *string) cloud.Status {
	switch strings.ToLower(str(p)) {
	case "succeeded":
		return cloud.StatusActive
	case "deleting":
		return cloud.StatusDeleting
	case "failed", "canceled":
		return cloud.StatusCreateFailed
	case "updating", "upgrading", "scaling":
		return cloud.StatusUpdating
	}
	return cloud.StatusCreating
}

// DeleteCluster deletes the managed cluster and then its resource group,
// waiting for both.
func (b *Backend) DeleteCluster(ctx context.Context, region, name string) error {
	rg := resourceGroup(name)
	poller, err := b.clusters.BeginDelete(ctx, rg, name, nil)
	if err != nil {
		if cerr := classify("DeleteCluster", err); !cloud.IsNotFound(cerr) {
			return cerr
		}
	} else if _, err := poller.PollUntilDone(ctx, b.poll()); err != nil {
		if cerr := classify("DeleteCluster", err); !cloud.IsNotFound(cerr) {
			return cerr
		}
	}
	gp, err := b.groups.BeginDelete(ctx, rg, nil)
	if err != nil {
		return cloud.IgnoreNotFound(classify("DeleteResourceGroup", err))
	}
	if _, err := gp.PollUntilDone(ctx, b.poll()); err != nil {
		return cloud.IgnoreNotFound(classify("DeleteResourceGroup", err))
	}
	return nil
}

// agentPool builds the agent pool for a spec: zone, spot priority with
// eviction by deletion, taints, labels, GPU driver installation.
func agentPool(spec cloud.NodePoolSpec) armcontainerservice.AgentPool {
	props := &armcontainerservice.ManagedClusterAgentPoolProfileProperties{
		VMSize: to.Ptr(spec.InstanceType), Count: to.Ptr(int32(spec.Nodes)), Mode: to.Ptr(armcontainerservice.AgentPoolModeUser),
		OSType: to.Ptr(armcontainerservice.OSTypeLinux), NodeLabels: ptrMap(spec.Labels), NodeTaints: taintStrings(spec.Taints),
		GpuProfile: &armcontainerservice.GPUProfile{Driver: to.Ptr(armcontainerservice.GPUDriverInstall)},
	}
	if spec.Zone != "" {
		props.AvailabilityZones = []*string{to.Ptr(spec.Zone)}
	}
	if spec.CapacityType == "spot" {
		props.ScaleSetPriority = to.Ptr(armcontainerservice.ScaleSetPrioritySpot)
		props.ScaleSetEvictionPolicy = to.Ptr(armcontainerservice.ScaleSetEvictionPolicyDelete)
		props.SpotMaxPrice = to.Ptr[float32](-1)
	}
	return armcontainerservice.AgentPool{Properties: props}
}

func taintStrings(ts []cloud.Taint) []*string {
	var out []*string
	for _, t := range ts {
		out = append(out, to.Ptr(t.Key+"="+t.Value+":"+t.Effect))
	}
	return out
}

// CreateNodePool creates an agent pool and waits; a pool that fails to
// allocate is returned with a capacity or quota error.
func (b *Backend) CreateNodePool(ctx context.Context, spec cloud.NodePoolSpec) (cloud.NodePool, error) {
	name := agentPoolName(spec.Name)
	if existing, err := b.GetNodePool(ctx, spec.Region, spec.Cluster, spec.Name); err == nil {
		if !existing.Spec.Equal(spec) || existing.Status == cloud.StatusDeleting {
			return existing, &cloud.Error{Kind: cloud.KindConflict, Cloud: "azure", Op: "CreateNodePool", Code: "Conflict",
				Message: "agent pool " + name + " exists with another configuration"}
		}
		if existing.Status == cloud.StatusActive {
			return existing, nil
		}
	} else if !cloud.IsNotFound(err) {
		return cloud.NodePool{}, err
	}
	poller, err := b.pools.BeginCreateOrUpdate(ctx, resourceGroup(spec.Cluster), spec.Cluster, name, agentPool(spec), nil)
	if err != nil {
		return cloud.NodePool{}, cloud.WithOffer(classify("CreateNodePool", err), spec)
	}
	if _, err := poller.PollUntilDone(ctx, b.poll()); err != nil {
		if ctx.Err() != nil {
			return cloud.NodePool{}, ctx.Err()
		}
		p, _ := b.GetNodePool(ctx, spec.Region, spec.Cluster, spec.Name)
		return p, cloud.WithOffer(classify("CreateNodePool", err), spec)
	}
	return b.GetNodePool(ctx, spec.Region, spec.Cluster, spec.Name)
}

// GetNodePool reads an agent pool.
func (b *Backend) GetNodePool(ctx context.Context, region, cluster, name string) (cloud.NodePool, error) {
	resp, err := b.pools.Get(ctx, resourceGroup(cluster), cluster, agentPoolName(name), nil)
	if err != nil {
		return cloud.NodePool{}, classify("GetNodePool", err)
	}
	p := resp.Properties
	spec := cloud.NodePoolSpec{Cluster: cluster, Region: region, Name: name, CapacityType: "on_demand", Labels: map[string]string{}}
	status := cloud.StatusCreating
	if p != nil {
		spec.InstanceType = str(p.VMSize)
		if p.Count != nil {
			spec.Nodes = int(*p.Count)
		}
		if len(p.AvailabilityZones) > 0 {
			spec.Zone = str(p.AvailabilityZones[0])
		}
		if p.ScaleSetPriority != nil && *p.ScaleSetPriority == armcontainerservice.ScaleSetPrioritySpot {
			spec.CapacityType = "spot"
		}
		for k, v := range p.NodeLabels {
			spec.Labels[k] = str(v)
		}
		spec.Taints = parseTaints(p.NodeTaints)
		status = provisioning(p.ProvisioningState)
	}
	np := cloud.NodePool{Spec: spec, Status: status, ID: str(resp.ID)}
	if status == cloud.StatusActive || status == cloud.StatusUpdating {
		np.ReadyNodes = spec.Nodes
	}
	return np, nil
}

func parseTaints(ts []*string) []cloud.Taint {
	var out []cloud.Taint
	for _, s := range ts {
		kv, effect, _ := strings.Cut(str(s), ":")
		k, v, _ := strings.Cut(kv, "=")
		out = append(out, cloud.Taint{Key: k, Value: v, Effect: effect})
	}
	return out
}

// UpdateNodePool changes count, labels and taints with one PUT and waits.
func (b *Backend) UpdateNodePool(ctx context.Context, region, cluster, name string, u cloud.NodePoolUpdate) (cloud.NodePool, error) {
	cur, err := b.GetNodePool(ctx, region, cluster, name)
	if err != nil {
		return cur, err
	}
	spec := cur.Spec
	if u.Nodes != nil {
		spec.Nodes = *u.Nodes
	}
	if u.Labels != nil {
		spec.Labels = maps.Clone(u.Labels)
	}
	if u.Taints != nil {
		spec.Taints = slices.Clone(*u.Taints)
	}
	if spec.Equal(cur.Spec) {
		return cur, nil
	}
	poller, err := b.pools.BeginCreateOrUpdate(ctx, resourceGroup(cluster), cluster, agentPoolName(name), agentPool(spec), nil)
	if err != nil {
		return cur, classify("UpdateNodePool", err)
	}
	if _, err := poller.PollUntilDone(ctx, b.poll()); err != nil {
		p, _ := b.GetNodePool(ctx, region, cluster, name)
		return p, cloud.WithOffer(classify("UpdateNodePool", err), spec)
	}
	return b.GetNodePool(ctx, region, cluster, name)
}

// DeleteNodePool deletes an agent pool and waits until it is gone.
func (b *Backend) DeleteNodePool(ctx context.Context, region, cluster, name string) error {
	poller, err := b.pools.BeginDelete(ctx, resourceGroup(cluster), cluster, agentPoolName(name), nil)
	if err != nil {
		return cloud.IgnoreNotFound(classify("DeleteNodePool", err))
	}
	if _, err := poller.PollUntilDone(ctx, b.poll()); err != nil {
		return cloud.IgnoreNotFound(classify("DeleteNodePool", err))
	}
	return nil
}

// classify maps ARM errors to cloud errors by error code, then status.
func classify(op string, err error) error {
	if err, done := cloud.Settled(err); done {
		return err
	}
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return &cloud.Error{Kind: cloud.KindFatal, Cloud: "azure", Op: op, Code: "Error", Message: err.Error(), Err: err}
	}
	e := &cloud.Error{Kind: cloud.KindFatal, Cloud: "azure", Op: op, Code: re.ErrorCode, Message: responseMessage(re)}
	code := strings.ToLower(re.ErrorCode)
	if k, ok := networkKind(code); ok {
		e.Kind = k
		return e
	}
	switch {
	case slices.Contains([]string{"allocationfailed", "zonalallocationfailed", "overconstrainedallocationrequest",
		"overconstrainedzonalallocationrequest", "skunotavailable"}, code):
		e.Kind = cloud.KindCapacity
	case code == "quotaexceeded" || strings.Contains(code, "quota") ||
		(code == "operationnotallowed" && strings.Contains(strings.ToLower(e.Message), "quota")):
		e.Kind = cloud.KindQuota
	case code == "subscriptionrequeststhrottled" || re.StatusCode == http.StatusTooManyRequests:
		e.Kind = cloud.KindThrottled
	case re.StatusCode == http.StatusNotFound || code == "resourcenotfound" || code == "notfound" || code == "resourcegroupnotfound":
		e.Kind = cloud.KindNotFound
	case re.StatusCode == http.StatusConflict:
		e.Kind = cloud.KindConflict
	case re.StatusCode == http.StatusBadRequest:
		e.Kind = cloud.KindInvalid
	case re.StatusCode >= 500:
		e.Kind = cloud.KindTransient
	}
	return e
}

// responseMessage is the ARM error message without the SDK's request dump.
func responseMessage(re *azcore.ResponseError) string {
	lines := strings.Split(re.Error(), "\n")
	var keep []string
	for _, l := range lines {
		if strings.Contains(l, "Message:") || strings.Contains(l, `"message"`) {
			keep = append(keep, strings.TrimSpace(l))
		}
	}
	if len(keep) == 0 {
		return re.ErrorCode
	}
	sort.Strings(keep)
	return strings.Join(slices.Compact(keep), " ")
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// StaticToken is a credential with a fixed token, for a local simulator.
type StaticToken string

// GetToken returns the token, valid for an hour.
func (t StaticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(t), ExpiresOn: time.Now().Add(time.Hour)}, nil
}
