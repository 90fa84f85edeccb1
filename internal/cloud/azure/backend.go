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
	"net/netip"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	azcloud "github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v3"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/lazyre"
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
	// Poll is the LRO polling frequency; Timeout bounds each wait
	// (cloud.DefaultWaitTimeout when zero).
	Poll, Timeout time.Duration
	// Now tells the time of the gpufleet-created tag; time.Now when nil.
	Now func() time.Time
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
	// authz is the ARM client for role assignments (roles.go).
	authz armOnce
	// res reads capacity reservation groups (reservations.go).
	res ReservationClients
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
	opts := EndpointOptions(cfg.ClientOptions, cfg.Endpoint, cfg.HTTPClient)
	opts.Retry.MaxRetries = -1
	cred := cfg.Credential
	if cred == nil {
		c, err := Credential(os.Getenv, opts.ClientOptions)
		if err != nil {
			return nil, err
		}
		cred = c
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
	if b.res, err = NewReservationClients(cfg.SubscriptionID, cred, &opts); err != nil {
		return nil, err
	}
	return b, nil
}

// EndpointOptions are base with one base URL for Azure Resource Manager
// and sign-in when endpoint is set (a local simulator) and httpClient as
// the transport when set.
func EndpointOptions(base arm.ClientOptions, endpoint string, httpClient *http.Client) arm.ClientOptions {
	opts := base
	if endpoint != "" {
		opts.Cloud = azcloud.Configuration{ActiveDirectoryAuthorityHost: endpoint,
			Services: map[azcloud.ServiceName]azcloud.ServiceConfiguration{
				azcloud.ResourceManager: {Endpoint: endpoint, Audience: "https://management.azure.com"},
			}}
	}
	if httpClient != nil {
		opts.Transport = httpClient
	}
	return opts
}

// Cloud is "azure".
func (b *Backend) Cloud() string { return "azure" }

// resourceGroup is the resource group gpufleet creates for a cluster; it is
// deleted with the cluster.
func resourceGroup(cluster string) string { return cluster + "-rg" }

// agentPoolName maps a gpufleet pool name to an AKS agent pool name (lower
// case letters and digits, at most 12, starting with a letter). A name
// that already is one (from ListNodePools) is kept.
func agentPoolName(name string) string {
	if isAgentPoolName(name) {
		return name
	}
	h := sha256.Sum256([]byte(name))
	return "g" + hex.EncodeToString(h[:])[:11]
}

// isAgentPoolName reports whether name is an agent pool name agentPoolName
// derives ("g" and 11 lower-case hex digits); no gpufleet pool name has
// that form, so such a name stands for itself.
func isAgentPoolName(name string) bool {
	if len(name) != 12 || name[0] != 'g' {
		return false
	}
	for _, c := range name[1:] {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

var _ cloud.NodePoolLister = (*Backend)(nil)

// ListNodePools lists a cluster's agent pools (every page) and returns the
// user pools with names agentPoolName derives. AKS names cannot be mapped
// back to gpufleet names, so these are the agent pool names, which
// DeleteNodePool (and the other methods) take as they are.
func (b *Backend) ListNodePools(ctx context.Context, region, cluster string) ([]string, error) {
	var out []string
	p := b.pools.NewListPager(resourceGroup(cluster), cluster, nil)
	for p.More() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, classify("ListNodePools", err)
		}
		for _, ap := range page.Value {
			if ap == nil || ap.Name == nil || !isAgentPoolName(*ap.Name) {
				continue
			}
			if ap.Properties != nil && ap.Properties.Mode != nil && *ap.Properties.Mode == armcontainerservice.AgentPoolModeSystem {
				continue
			}
			out = append(out, *ap.Name)
		}
	}
	return out, nil
}

// untilDone waits for a long-running operation as PollUntilDone does,
// polling every cfg.Poll, except that a throttled poll (429, Retry-After)
// is not the operation's failure: it waits (cloud.PollBackoff, honouring
// Retry-After) and polls again. The SDK makes one attempt per request (its
// retries are off: cloud.WithRetries is the caller's), so PollUntilDone
// ended at the first throttled poll, and the caller's retries repeated
// the whole call, an attempt spent per throttled poll. Other errors are
// returned as the SDK gives them (azcore leaves a poller as it was after a
// failed poll, and lets Result be asked again after a throttled one).
func untilDone[T any](ctx context.Context, b *Backend, op string, p *runtime.Poller[T]) (T, error) {
	return pollWait(b, op, p).Until(ctx)
}

// pollWait is the wait of untilDone, for a caller that sets its timeout.
func pollWait[T any](b *Backend, op string, p *runtime.Poller[T]) cloud.Wait[T] {
	return wait(b, op, "the long-running operation of "+op, func(ctx context.Context) (T, string, error) {
		var zero T
		if !p.Done() {
			if _, err := p.Poll(ctx); err != nil {
				return zero, "", err
			}
		}
		if !p.Done() {
			return zero, "running", nil
		}
		res, err := p.Result(ctx)
		return res, "done", err
	})
}

// wait is a wait of this backend (cloud.Wait): a read every cfg.Poll up
// to cfg.Timeout, a throttled read (429, Retry-After) ridden out; the
// reads' errors are returned as the SDK gives them.
func wait[T any](b *Backend, op, what string, refresh func(context.Context) (T, string, error)) cloud.Wait[T] {
	return cloud.Wait[T]{Cloud: "azure", Op: op, What: what, Target: []string{"done"}, Refresh: refresh,
		Classify: func(err error) error { return classify("Poll", err) }, Poll: b.cfg.Poll, Timeout: b.cfg.Timeout}
}

// CreateCluster creates the cluster's resource group and the managed
// cluster (with a one-node system pool) and waits until it has succeeded.
//
// With spec.Network the cluster uses Azure CNI in the site's VNet: the
// system pool's vnetSubnetID is the network's first subnet (by zone), the
// service range is the network's ServicesCIDR with the DNS service at its
// tenth address, and agent pools go in the subnet of their zone (see
// CreateNodePool). A cluster of that name in another VNet or service range
// is a KindConflict error.
func (b *Backend) CreateCluster(ctx context.Context, spec cloud.ClusterSpec) (cloud.Cluster, error) {
	system := &armcontainerservice.ManagedClusterAgentPoolProfile{
		Name: to.Ptr("system"), Count: to.Ptr[int32](1), VMSize: to.Ptr(b.cfg.SystemVMSize),
		Mode: to.Ptr(armcontainerservice.AgentPoolModeSystem), OSType: to.Ptr(armcontainerservice.OSTypeLinux),
	}
	var profile *armcontainerservice.NetworkProfile
	if n := spec.Network; n != nil {
		var err error
		if system.VnetSubnetID, profile, err = networkProfile(spec); err != nil {
			return cloud.Cluster{}, err
		}
		if err := b.checkClusterNetwork(ctx, spec, *system.VnetSubnetID); err != nil {
			return cloud.Cluster{}, err
		}
	}
	if spec.Identity != "" {
		if err := CheckIdentityID(spec.Identity); err != nil {
			return cloud.Cluster{}, cloud.Invalid("azure", "CreateCluster", "InvalidIdentity", "cluster %s: %v (gpufleet_cluster azure.user_assigned_identity_id)", spec.Name, err)
		}
	}
	rg := resourceGroup(spec.Name)
	if _, err := b.groups.CreateOrUpdate(ctx, rg, armresources.ResourceGroup{Location: to.Ptr(spec.Region), Tags: armTags(spec.Tags)}, nil); err != nil {
		return cloud.Cluster{}, classify("CreateResourceGroup", err)
	}
	mc := armcontainerservice.ManagedCluster{
		Location: to.Ptr(spec.Region), Tags: armTags(spec.Tags),
		Identity: clusterIdentity(spec.Identity),
		Properties: &armcontainerservice.ManagedClusterProperties{
			DNSPrefix:              to.Ptr(spec.Name),
			AgentPoolProfiles:      []*armcontainerservice.ManagedClusterAgentPoolProfile{system},
			APIServerAccessProfile: &armcontainerservice.ManagedClusterAPIServerAccessProfile{EnablePrivateCluster: to.Ptr(spec.PrivateEndpoint && !spec.PublicEndpoint)},
			NetworkProfile:         profile,
		},
	}
	if spec.KubernetesVersion != "" {
		mc.Properties.KubernetesVersion = to.Ptr(spec.KubernetesVersion)
	}
	poller, err := b.clusters.BeginCreateOrUpdate(ctx, rg, spec.Name, mc, nil)
	if err != nil {
		return cloud.Cluster{}, classify("CreateCluster", err)
	}
	res, err := untilDone(ctx, b, "CreateCluster", poller)
	if err != nil {
		if ctx.Err() != nil {
			return cloud.Cluster{}, ctx.Err()
		}
		return cloud.Cluster{}, classify("CreateCluster", err)
	}
	if spec.Network != nil {
		// The identity needs Network Contributor on the VNet before agent
		// pools go in its subnets (roles.go).
		principal, _ := identityPrincipal(res.Identity)
		if err := b.grantNetworkRole(ctx, vnetOf(*system.VnetSubnetID), principal); err != nil {
			return cloud.Cluster{}, err
		}
	}
	return b.GetCluster(ctx, spec.Region, spec.Name)
}

// networkProfile is the system pool's subnet and the network profile of a
// cluster in spec.Network.
func networkProfile(spec cloud.ClusterSpec) (*string, *armcontainerservice.NetworkProfile, error) {
	n := spec.Network
	invalid := func(format string, args ...any) error {
		return cloud.Invalid("azure", "CreateCluster", "InvalidNetwork", format, args...)
	}
	zones := slices.Sorted(maps.Keys(n.SubnetIDs))
	if len(zones) == 0 || n.SubnetIDs[zones[0]] == "" {
		return nil, nil, invalid("network %s of cluster %s has no subnets: give the site a zone in gpufleet_network", n.Name, spec.Name)
	}
	// Azure CNI Overlay: pods take the site's pod range, not addresses of
	// the /20 node subnets (node-subnet Azure CNI reserves maxPods+1 per
	// node: 36 nodes per zone at 110 pods). networkPluginMode overlay with
	// podCidr, https://learn.microsoft.com/azure/aks/azure-cni-overlay.
	profile := &armcontainerservice.NetworkProfile{NetworkPlugin: to.Ptr(armcontainerservice.NetworkPluginAzure),
		NetworkPluginMode: to.Ptr(armcontainerservice.NetworkPluginModeOverlay)}
	if n.PodsCIDR != "" {
		profile.PodCidr = to.Ptr(n.PodsCIDR)
	}
	if n.ServicesCIDR != "" {
		dns, err := tenthAddress(n.ServicesCIDR)
		if err != nil {
			return nil, nil, invalid("network %s: services range %q: %v", n.Name, n.ServicesCIDR, err)
		}
		profile.ServiceCidr, profile.DNSServiceIP = to.Ptr(n.ServicesCIDR), to.Ptr(dns)
	}
	return to.Ptr(n.SubnetIDs[zones[0]]), profile, nil
}

// tenthAddress is the DNS service address of a service range (AKS's
// convention: 10.0.0.0/16 -> 10.0.0.10).
func tenthAddress(cidr string) (string, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil || !p.Addr().Is4() || p.Bits() > 28 {
		return "", fmt.Errorf("want an IPv4 range of /28 or larger")
	}
	a := p.Masked().Addr()
	for range 10 {
		a = a.Next()
	}
	return a.String(), nil
}

// checkClusterNetwork refuses to adopt an existing cluster of the same
// name in another VNet or service range (KindConflict): the PUT would try
// to move it, which AKS refuses anyway.
func (b *Backend) checkClusterNetwork(ctx context.Context, spec cloud.ClusterSpec, subnet string) error {
	resp, err := b.clusters.Get(ctx, resourceGroup(spec.Name), spec.Name, nil)
	if err != nil {
		if cerr := classify("GetCluster", err); !cloud.IsNotFound(cerr) {
			return cerr
		}
		return nil
	}
	have, svc := "", ""
	if p := resp.Properties; p != nil {
		have = systemSubnet(p.AgentPoolProfiles)
		if p.NetworkProfile != nil {
			svc = str(p.NetworkProfile.ServiceCidr)
		}
	}
	conflict := func(format string, args ...any) error {
		return cloud.Conflict("azure", "CreateCluster", "Conflict", format+": delete it or give this cluster another name", args...)
	}
	switch {
	case !strings.EqualFold(vnetOf(have), vnetOf(subnet)):
		return conflict("cluster %s exists in subnet %q, not in network %s", spec.Name, have, spec.Network.Name)
	case spec.Network.ServicesCIDR != "" && svc != spec.Network.ServicesCIDR:
		return conflict("cluster %s exists with service range %s, network %s has %s", spec.Name, svc, spec.Network.Name, spec.Network.ServicesCIDR)
	}
	return nil
}

// systemSubnet is the vnetSubnetID of a cluster's system pool (its first
// pool when none says System).
func systemSubnet(ps []*armcontainerservice.ManagedClusterAgentPoolProfile) string {
	for _, p := range ps {
		if p != nil && p.Mode != nil && *p.Mode == armcontainerservice.AgentPoolModeSystem {
			return str(p.VnetSubnetID)
		}
	}
	if len(ps) > 0 && ps[0] != nil {
		return str(ps[0].VnetSubnetID)
	}
	return ""
}

// vnetOf is the VNet part of a subnet ID (".../virtualNetworks/v"), "" for
// anything else.
func vnetOf(subnet string) string {
	i := strings.LastIndex(strings.ToLower(subnet), "/subnets/")
	if i < 0 {
		return ""
	}
	return subnet[:i]
}

// armTags turns tags into ARM tags: tag names cannot contain <, >, %, &,
// \, ? or / (https://learn.microsoft.com/azure/azure-resource-manager/management/tag-resources#limitations),
// so each of those becomes "_" (gpufleet.dev/managed-by is
// gpufleet.dev_managed-by on Azure).
func armTags(m map[string]string) map[string]*string {
	out := make(map[string]*string, len(m))
	for k, v := range m {
		out[armTagName(k)] = to.Ptr(v)
	}
	return out
}

// armTagName is the ARM tag name of a tag (see armTags).
func armTagName(k string) string { return armTagReserved.Replace(k) }

var armTagReserved = strings.NewReplacer("<", "_", ">", "_", "%", "_", "&", "_", `\`, "_", "?", "_", "/", "_")

func ptrMap(m map[string]string) map[string]*string {
	out := map[string]*string{}
	for k, v := range m {
		out[k] = to.Ptr(v)
	}
	return out
}

var caData = lazyre.New(`certificate-authority-data:\s*(\S+)`)

// GetCluster reads a managed cluster and its CA from the user kubeconfig.
func (b *Backend) GetCluster(ctx context.Context, region, name string) (cloud.Cluster, error) {
	resp, err := b.clusters.Get(ctx, resourceGroup(name), name, nil)
	if err != nil {
		return cloud.Cluster{}, classify("GetCluster", err)
	}
	p := resp.Properties
	c := cloud.Cluster{Name: name, Region: region, ID: str(resp.ID), Status: provisioning(p.ProvisioningState)}
	c.Identity, _ = userIdentity(resp.Identity)
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
				if m := caData().FindSubmatch(kc.Value); m != nil {
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
	if err := b.revokeNetworkRole(ctx, name); err != nil {
		return err
	}
	rg := resourceGroup(name)
	poller, err := b.clusters.BeginDelete(ctx, rg, name, nil)
	if err != nil {
		if cerr := classify("DeleteCluster", err); !cloud.IsNotFound(cerr) {
			return cerr
		}
	} else if _, err := untilDone(ctx, b, "DeleteCluster", poller); err != nil {
		if cerr := classify("DeleteCluster", err); !cloud.IsNotFound(cerr) {
			return cerr
		}
	}
	gp, err := b.groups.BeginDelete(ctx, rg, nil)
	if err != nil {
		return cloud.IgnoreNotFound(classify("DeleteResourceGroup", err))
	}
	if _, err := untilDone(ctx, b, "DeleteResourceGroup", gp); err != nil {
		return cloud.IgnoreNotFound(classify("DeleteResourceGroup", err))
	}
	return nil
}

// agentPool builds the agent pool for a spec: zone, spot priority with
// eviction by deletion, the capacity reservation group of a reserved pool
// (spec.Reservation.ID, a resource ID: reservationGroup resolves it),
// taints, labels, GPU driver installation.
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
	if spec.CapacityType == "reserved" && spec.Reservation != nil {
		props.CapacityReservationGroupID = to.Ptr(spec.Reservation.ID)
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
//
// In a cluster in a site network (its system pool has a vnetSubnetID) the
// pool goes in the VNet's subnet of its zone, "nodes-<zone>" ("nodes-
// regional" for a pool without a zone), read from the VNet: a zone without
// a subnet is a KindInvalid error.
//
// A reserved pool goes on the capacity reservation group its spec names
// (reservations.go): the group must have a reservation of the pool's VM
// size and zone with enough free instances, and the cluster identity is
// granted Contributor on the group's resource group first. AKS uses only a
// user-assigned cluster identity for that, so a reserved pool on a cluster
// with a system-assigned one is refused before anything is created.
func (b *Backend) CreateNodePool(ctx context.Context, spec cloud.NodePoolSpec) (cloud.NodePool, error) {
	name := agentPoolName(spec.Name)
	group, err := b.reservationGroup("CreateNodePool", spec)
	if err != nil {
		return cloud.NodePool{}, err
	}
	if group != "" {
		r := *spec.Reservation
		r.ID = group
		spec.Reservation = &r
	}
	if existing, err := b.GetNodePool(ctx, spec.Region, spec.Cluster, spec.Name); err == nil {
		if !existing.Spec.Equal(spec) || existing.Status == cloud.StatusDeleting {
			return existing, cloud.Conflict("azure", "CreateNodePool", "Conflict", "agent pool %s exists with another configuration", name)
		}
		if existing.Status == cloud.StatusActive {
			return existing, nil
		}
	} else if !cloud.IsNotFound(err) {
		return cloud.NodePool{}, err
	} else if group != "" {
		principal, err := b.reservationPrincipal(ctx, spec)
		if err != nil {
			return cloud.NodePool{}, err
		}
		if err := b.checkReservation(ctx, "CreateNodePool", group, spec, spec.Nodes); err != nil {
			return cloud.NodePool{}, err
		}
		if err := b.grantRole(ctx, "GrantReservationRole", rgScope(group), principal, contributor); err != nil {
			return cloud.NodePool{}, err
		}
	}
	subnet, err := b.poolSubnet(ctx, spec)
	if err != nil {
		return cloud.NodePool{}, err
	}
	pool := agentPool(spec)
	pool.Properties.Tags = map[string]*string{tagCreated: to.Ptr(b.createdNow())}
	if subnet != "" {
		pool.Properties.VnetSubnetID = to.Ptr(subnet)
	}
	poller, err := b.pools.BeginCreateOrUpdate(ctx, resourceGroup(spec.Cluster), spec.Cluster, name, pool, nil)
	if err != nil {
		return cloud.NodePool{}, cloud.WithOffer(classify("CreateNodePool", err), spec)
	}
	w := pollWait(b, "CreateNodePool", poller)
	w.Timeout = spec.CreateTimeout(b.cfg.Timeout, cloud.NowOf(b.cfg.Now))
	if _, err := w.Until(ctx); err != nil {
		if ctx.Err() != nil {
			return cloud.NodePool{}, ctx.Err()
		}
		p, _ := b.GetNodePool(ctx, spec.Region, spec.Cluster, spec.Name)
		return p, cloud.WithOffer(classify("CreateNodePool", err), spec)
	}
	return b.GetNodePool(ctx, spec.Region, spec.Cluster, spec.Name)
}

// poolSubnet is the subnet of an agent pool: "" for a cluster without a
// site network, else the subnet of the pool's zone in the VNet of the
// cluster's system pool.
func (b *Backend) poolSubnet(ctx context.Context, spec cloud.NodePoolSpec) (string, error) {
	const op = "CreateNodePool"
	resp, err := b.clusters.Get(ctx, resourceGroup(spec.Cluster), spec.Cluster, nil)
	if err != nil {
		return "", classify("GetCluster", err)
	}
	system := ""
	if resp.Properties != nil {
		system = systemSubnet(resp.Properties.AgentPoolProfiles)
	}
	vnetID := vnetOf(system)
	if vnetID == "" {
		return "", nil
	}
	zone := spec.Zone
	if zone == "" {
		zone = "regional"
	}
	want := nodeSubnet(zone)
	ref, err := arm.ParseResourceID(vnetID)
	if err != nil {
		return "", cloud.Fatal("azure", op, "InvalidSubnetID", "cluster %s has the system pool subnet %q, which is not a subnet ID: %v", spec.Cluster, system, err)
	}
	n, err := b.network(op)
	if err != nil {
		return "", err
	}
	v, err := n.vnets.Get(ctx, ref.ResourceGroupName, ref.Name, nil)
	if err != nil {
		return "", classify("GetVirtualNetwork", err)
	}
	var zones []string
	if v.Properties != nil {
		for _, sn := range v.Properties.Subnets {
			name := str(sn.Name)
			if strings.EqualFold(name, want) {
				if id := str(sn.ID); id != "" {
					return id, nil
				}
				return vnetID + "/subnets/" + name, nil
			}
			if z, ok := strings.CutPrefix(name, "nodes-"); ok {
				zones = append(zones, z)
			}
		}
	}
	slices.Sort(zones)
	return "", cloud.Invalid("azure", op, "SubnetNotFound", "virtual network %s of cluster %s has no subnet %s for zone %q (its zones: %s): add %s to the site's zones in gpufleet_network, or place the pool in one of its zones", ref.Name, spec.Cluster, want, zone, strings.Join(zones, ", "), zone).ForOffer(spec)
}

// GetNodePool reads an agent pool.
func (b *Backend) GetNodePool(ctx context.Context, region, cluster, name string) (cloud.NodePool, error) {
	np, _, _, err := b.getPool(ctx, region, cluster, name)
	return np, err
}

// getPool reads an agent pool, its subnet ("" when it has none) and its
// tags (an update's PUT repeats them).
func (b *Backend) getPool(ctx context.Context, region, cluster, name string) (cloud.NodePool, string, map[string]*string, error) {
	resp, err := b.pools.Get(ctx, resourceGroup(cluster), cluster, agentPoolName(name), nil)
	if err != nil {
		return cloud.NodePool{}, "", nil, classify("GetNodePool", err)
	}
	p := resp.Properties
	subnet := ""
	if p != nil {
		subnet = str(p.VnetSubnetID)
	}
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
		if g := str(p.CapacityReservationGroupID); g != "" {
			spec.CapacityType, spec.Reservation = "reserved", &cloud.Reservation{ID: g}
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
	var tags map[string]*string
	if p != nil {
		tags = p.Tags
	}
	return np, subnet, tags, nil
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

// UpdateNodePool changes count, labels and taints with one PUT (which
// repeats the pool's subnet: AKS does not move a pool) and waits.
func (b *Backend) UpdateNodePool(ctx context.Context, region, cluster, name string, u cloud.NodePoolUpdate) (cloud.NodePool, error) {
	cur, subnet, tags, err := b.getPool(ctx, region, cluster, name)
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
	if spec.Reservation != nil && spec.Nodes > cur.Spec.Nodes {
		if err := b.checkReservation(ctx, "UpdateNodePool", spec.Reservation.ID, spec, spec.Nodes-cur.Spec.Nodes); err != nil {
			return cur, err
		}
	}
	pool := agentPool(spec)
	pool.Properties.Tags = tags
	if subnet != "" {
		pool.Properties.VnetSubnetID = to.Ptr(subnet)
	}
	poller, err := b.pools.BeginCreateOrUpdate(ctx, resourceGroup(cluster), cluster, agentPoolName(name), pool, nil)
	if err != nil {
		return cur, classify("UpdateNodePool", err)
	}
	if _, err := untilDone(ctx, b, "UpdateNodePool", poller); err != nil {
		p, _ := b.GetNodePool(ctx, region, cluster, name)
		return p, cloud.WithOffer(classify("UpdateNodePool", err), spec)
	}
	return b.GetNodePool(ctx, region, cluster, name)
}

// DeleteNodePool deletes an agent pool and waits until it is gone (its
// VMs leave their capacity reservation group with it). The cluster
// identity's role on a reservation group's resource group goes with the
// cluster's last pool there.
func (b *Backend) DeleteNodePool(ctx context.Context, region, cluster, name string) error {
	group := ""
	if cur, err := b.GetNodePool(ctx, region, cluster, name); err == nil && cur.Spec.Reservation != nil {
		group = cur.Spec.Reservation.ID
	}
	poller, err := b.pools.BeginDelete(ctx, resourceGroup(cluster), cluster, agentPoolName(name), nil)
	if err != nil {
		if err := cloud.IgnoreNotFound(classify("DeleteNodePool", err)); err != nil {
			return err
		}
	} else if _, err := untilDone(ctx, b, "DeleteNodePool", poller); err != nil {
		if err := cloud.IgnoreNotFound(classify("DeleteNodePool", err)); err != nil {
			return err
		}
	}
	if group != "" {
		return b.releaseReservationRole(ctx, cluster, group)
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
		return cloud.Fatal("azure", op, "Error", "%s", err.Error()).Caused(err)
	}
	e := cloud.Fatal("azure", op, re.ErrorCode, "%s", responseMessage(re))
	if re.RawResponse != nil {
		e.RetryAfter = retryAfter(re.RawResponse.Header)
	}
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

// retryAfter reads ARM's x-ms-retry-after-ms, or Retry-After in seconds.
func retryAfter(h http.Header) time.Duration {
	if ms, err := strconv.ParseInt(h.Get("x-ms-retry-after-ms"), 10, 64); err == nil && ms > 0 {
		return time.Duration(ms) * time.Millisecond
	}
	if s, err := strconv.ParseInt(h.Get("Retry-After"), 10, 64); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return 0
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
