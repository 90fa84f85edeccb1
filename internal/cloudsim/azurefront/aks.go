package azurefront

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// profile is an agent pool given in the managed cluster PUT (metadata
// only).
type profile struct {
	Name   string   `json:"name"`
	VMSize string   `json:"vmSize"`
	Count  int      `json:"count"`
	Mode   string   `json:"mode"`
	OSType string   `json:"osType"`
	Zones  []string `json:"zones,omitempty"`
	// VnetSubnetID is the subnet of the pool's nodes (BYO VNet).
	VnetSubnetID string `json:"vnetSubnetID,omitempty"`
}

// clusterMeta is what AKS reports about a managed cluster that the engine
// does not keep (a row of table "ClusterMeta", named rg/cluster).
type clusterMeta struct {
	Name          string            `json:"name"`
	ResourceGroup string            `json:"resourceGroup"`
	Location      string            `json:"location"`
	DNSPrefix     string            `json:"dnsPrefix"`
	Tags          map[string]string `json:"tags,omitempty"`
	Profiles      []profile         `json:"profiles"`
	NetworkPlugin string            `json:"networkPlugin"`
	// NetworkPluginMode ("overlay" or "") and PodCIDR are networkProfile's
	// as created (overlay.go).
	NetworkPluginMode string `json:"networkPluginMode,omitempty"`
	PodCIDR           string `json:"podCidr,omitempty"`
	// ServiceCIDR and DNSServiceIP are networkProfile's as created (empty:
	// the engine's range and its tenth address).
	ServiceCIDR  string    `json:"serviceCidr,omitempty"`
	DNSServiceIP string    `json:"dnsServiceIP,omitempty"`
	CreatedAt    time.Time `json:"createdAt"`
	// AAD is properties.aadProfile (managed Microsoft Entra ID
	// integration); nil without.
	AAD *aadProfile `json:"aad,omitempty"`
	// DisableLocalAccounts is properties.disableLocalAccounts.
	DisableLocalAccounts bool `json:"disableLocalAccounts,omitempty"`
	// Identity is the user-assigned identity the cluster runs as; "" for
	// a system-assigned one (clusteridentity.go).
	Identity string `json:"identity,omitempty"`
}

// poolMeta is what AKS reports about an agent pool that the engine does
// not keep (a row of table "AgentPoolMeta", named rg/cluster/pool).
type poolMeta struct {
	Mode                string            `json:"mode"`
	EvictionPolicy      string            `json:"evictionPolicy,omitempty"`
	SpotMaxPrice        *float64          `json:"spotMaxPrice,omitempty"`
	OSType              string            `json:"osType"`
	OSSKU               string            `json:"osSKU"`
	OSDiskSizeGB        int               `json:"osDiskSizeGB"`
	MaxPods             int               `json:"maxPods"`
	OrchestratorVersion string            `json:"orchestratorVersion"`
	Zones               []string          `json:"zones,omitempty"`
	Tags                map[string]string `json:"tags,omitempty"`
	VnetSubnetID        string            `json:"vnetSubnetID,omitempty"`
	// LastOp is the provisioningState of an update: Scaling or Updating.
	LastOp    string    `json:"lastOp,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
}

func clusterMetaName(rg, name string) string { return strings.ToLower(rg) + "/" + name }

func poolMetaName(rg, cluster, pool string) string {
	return strings.ToLower(rg) + "/" + cluster + "/" + pool
}

func clusterID(sub, rg, name string) string {
	return fmt.Sprintf("/subscriptions/%s/resourcegroups/%s/providers/Microsoft.ContainerService/managedClusters/%s", sub, rg, name)
}

func clusterNotFound(rg, name string) error {
	return newErr(404, "ResourceNotFound",
		"The Resource 'Microsoft.ContainerService/managedClusters/%s' under resource group '%s' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix", name, rg)
}

func poolNotFound(cluster, pool string) error {
	return newErr(404, "NotFound", "Could not find agent pool %s in managed cluster %s.", pool, cluster)
}

// clusterMetaFor finds the metadata of a managed cluster (on the side):
// 404 ResourceGroupNotFound or ResourceNotFound when missing.
func (s *server) clusterMetaFor(rg, name string) (clusterMeta, error) {
	if _, err := s.groupName(rg); err != nil {
		return clusterMeta{}, err
	}
	m, ok, err := s.t.clusters.Lookup(clusterMetaName(rg, name))
	if err == nil && !ok {
		err = clusterNotFound(rg, name)
	}
	return m, err
}

func clusterState(st cloud.Status) string {
	switch st {
	case cloud.StatusCreating:
		return "Creating"
	case cloud.StatusDeleting:
		return "Deleting"
	case cloud.StatusActive:
		return "Succeeded"
	}
	return "Failed"
}

func (s *server) clusterPools(c cloudsim.Cluster) []cloudsim.Pool {
	var out []cloudsim.Pool
	for _, p := range s.e.Inventory().Pools {
		if p.Cloud == cloudName && p.Spec.Region == c.Region && p.Spec.Cluster == c.Name {
			out = append(out, p)
		}
	}
	return out
}

func profileProps(pr profile, state, version string) map[string]any {
	props := map[string]any{
		"count": pr.Count, "vmSize": pr.VMSize, "mode": pr.Mode, "osType": pr.OSType, "osSKU": "Ubuntu",
		"type": "VirtualMachineScaleSets", "provisioningState": state, "powerState": map[string]string{"code": "Running"},
		"orchestratorVersion": version, "currentOrchestratorVersion": version, "maxPods": 110, "osDiskSizeGB": 128,
		"nodeImageVersion": "AKSUbuntu-2204gen2containerd-202611.01.0",
	}
	if len(pr.Zones) > 0 {
		props["availabilityZones"] = pr.Zones
	}
	if pr.VnetSubnetID != "" {
		props["vnetSubnetID"] = pr.VnetSubnetID
	}
	return props
}

func (s *server) clusterJSON(q *req, c cloudsim.Cluster, m clusterMeta) (map[string]any, error) {
	state := clusterState(s.e.ClusterStatus(c))
	version := c.Spec.KubernetesVersion
	var profiles []map[string]any
	for _, pr := range m.Profiles {
		props := profileProps(pr, state, version)
		props["name"] = pr.Name
		profiles = append(profiles, props)
	}
	for _, p := range s.clusterPools(c) {
		pm, err := s.poolMetaFor(m.ResourceGroup, c.Name, p.Spec.Name)
		if err != nil {
			return nil, err
		}
		props := s.poolProps(p, pm)
		props["name"] = p.Spec.Name
		profiles = append(profiles, props)
	}
	fqdn := strings.TrimPrefix(c.Endpoint, "https://")
	serviceCIDR, dnsIP := c.ServiceCIDR, dnsServiceIP(c.ServiceCIDR)
	if m.ServiceCIDR != "" {
		serviceCIDR, dnsIP = m.ServiceCIDR, m.DNSServiceIP
	}
	props := map[string]any{
		"provisioningState": state, "powerState": map[string]string{"code": "Running"},
		"kubernetesVersion": version, "currentKubernetesVersion": version,
		"dnsPrefix": m.DNSPrefix, "fqdn": fqdn, "azurePortalFQDN": fqdn,
		"agentPoolProfiles": profiles,
		"nodeResourceGroup": fmt.Sprintf("MC_%s_%s_%s", m.ResourceGroup, c.Name, c.Region),
		"enableRBAC":        true,
		"maxAgentPools":     100,
		"networkProfile": map[string]any{
			"networkPlugin": m.NetworkPlugin, "serviceCidr": serviceCIDR, "serviceCidrs": []string{serviceCIDR},
			"dnsServiceIP": dnsIP, "outboundType": "loadBalancer", "loadBalancerSku": "standard",
		},
		"apiServerAccessProfile": map[string]any{"enablePrivateCluster": c.Spec.PrivateEndpoint && !c.Spec.PublicEndpoint},
		// A cluster with a managed identity reports the service principal
		// "msi" (https://learn.microsoft.com/en-us/azure/aks/use-managed-identity);
		// az aks show strips its secret and fails without it.
		"servicePrincipalProfile": map[string]string{"clientId": "msi"},
	}
	if m.NetworkPluginMode != "" {
		np := props["networkProfile"].(map[string]any)
		np["networkPluginMode"] = m.NetworkPluginMode
		if m.PodCIDR != "" {
			np["podCidr"], np["podCidrs"] = m.PodCIDR, []string{m.PodCIDR}
		}
	}
	if c.Spec.PrivateEndpoint {
		props["privateFQDN"] = "private." + fqdn
	}
	if m.AAD != nil {
		props["aadProfile"] = m.AAD
	}
	props["disableLocalAccounts"] = m.DisableLocalAccounts
	out := map[string]any{
		"id": clusterID(q.sub, m.ResourceGroup, c.Name), "location": c.Region, "name": c.Name,
		"type": "Microsoft.ContainerService/ManagedClusters", "properties": props,
		"sku":      map[string]string{"name": "Base", "tier": "Free"},
		"identity": identityJSON(q.sub, m),
	}
	if len(m.Tags) > 0 {
		out["tags"] = m.Tags
	}
	if !m.CreatedAt.IsZero() {
		// systemData (ARM common types, readOnly; ManagedCluster carries it
		// in the AKS API model): when the cluster was created.
		out["systemData"] = map[string]any{"createdAt": m.CreatedAt.UTC().Format(time.RFC3339Nano), "createdByType": "User"}
	}
	return out, nil
}

// dnsServiceIP is the tenth address of a /n IPv4 range (10.100.0.0/16 ->
// 10.100.0.10).
func dnsServiceIP(cidr string) string {
	ip, _, _ := strings.Cut(cidr, "/")
	parts := strings.Split(ip, ".")
	if len(parts) != 4 {
		return ""
	}
	return parts[0] + "." + parts[1] + "." + parts[2] + ".10"
}

// asyncHeaders are the polling headers of an operation.
func asyncHeaders(q *req, loc, id string, withLocation bool) map[string]string {
	base := q.base + "/subscriptions/" + q.sub + "/providers/Microsoft.ContainerService/locations/" + loc
	h := map[string]string{"Azure-AsyncOperation": base + "/operations/" + id + "?api-version=" + q.apiVersion}
	if withLocation {
		h["Location"] = base + "/operationresults/" + id + "?api-version=" + q.apiVersion
	}
	return h
}

func (s *server) serveCluster(q *req, rg, name string) (reply, error) {
	switch q.r.Method {
	case http.MethodPut:
		return s.putCluster(q, rg, name)
	case http.MethodGet:
		m, err := s.clusterMetaFor(rg, name)
		if err != nil {
			return reply{}, err
		}
		c, err := s.e.GetCluster(cloudName, m.Location, name)
		if err != nil {
			if cloud.IsNotFound(err) {
				if err := s.gcCluster(rg, name); err != nil {
					return reply{}, err
				}
				return reply{}, clusterNotFound(rg, name)
			}
			return reply{}, err
		}
		body, err := s.clusterJSON(q, c, m)
		if err != nil {
			return reply{}, err
		}
		return reply{status: http.StatusOK, body: body}, nil
	case http.MethodDelete:
		m, err := s.clusterMetaFor(rg, name)
		if err != nil {
			if ae := toARM(err); ae.Code == "ResourceNotFound" {
				return reply{status: http.StatusNoContent}, nil
			}
			return reply{}, err
		}
		if _, err := s.e.DeleteCluster(cloudName, m.Location, name); err != nil {
			var pools []string
			if c, ok := s.findCluster(m.Location, name); ok {
				for _, p := range s.clusterPools(c) {
					pools = append(pools, p.Spec.Name)
				}
			}
			switch {
			case cloud.IsNotFound(err):
				if err := s.gcCluster(rg, name); err != nil {
					return reply{}, err
				}
				return reply{status: http.StatusNoContent}, nil
			case cloud.IsConflict(err) && len(pools) > 0:
				return reply{}, newErr(409, "OperationNotAllowed",
					"Managed cluster %s still has agent pools (%s); cloudsim deletes a managed cluster only once its agentPools-created pools are deleted.",
					name, strings.Join(pools, ", "))
			}
			return reply{}, err
		}
		id := deleteOpID(opRecord{Op: "DeleteCluster", RG: strings.ToLower(rg), ResourceGroup: m.ResourceGroup, Cluster: name,
			Location: m.Location, Start: s.now()})
		return reply{status: http.StatusAccepted, header: asyncHeaders(q, m.Location, id, true)}, nil
	}
	return reply{}, newErr(405, "MethodNotAllowed", "cloudsim: method %s is not supported on managed clusters", q.r.Method)
}

// listClusters answers the managed clusters of the subscription (rg
// empty) or of a resource group (404 ResourceGroupNotFound when it does
// not exist) as {"value": [...]}, in the shape of GET on each, sorted by
// resource group and name; pages of Options.ListPageSize behind nextLink
// (a $skipToken offset), as Azure pages
// (https://learn.microsoft.com/en-us/rest/api/aks/managed-clusters/list,
// .../list-by-resource-group). az aks list calls these.
func (s *server) listClusters(q *req, rg string) (reply, error) {
	if rg != "" {
		if _, err := s.groupName(rg); err != nil {
			return reply{}, err
		}
	}
	rows, err := s.t.clusters.All()
	if err != nil {
		return reply{}, err
	}
	var metas []clusterMeta
	for _, r := range rows {
		if rg == "" || rgOfRow(r.Name) == strings.ToLower(rg) {
			metas = append(metas, r.Value)
		}
	}
	sort.Slice(metas, func(i, j int) bool {
		a, b := strings.ToLower(metas[i].ResourceGroup), strings.ToLower(metas[j].ResourceGroup)
		return a < b || a == b && metas[i].Name < metas[j].Name
	})
	value := []any{}
	for _, m := range metas {
		if c, ok := s.findCluster(m.Location, m.Name); ok {
			body, err := s.clusterJSON(q, c, m)
			if err != nil {
				return reply{}, err
			}
			value = append(value, body)
		}
	}
	start := 0
	if tok := q.r.URL.Query().Get("$skipToken"); tok != "" {
		n, err := strconv.Atoi(tok)
		if err != nil || n < 0 || n > len(value) {
			return reply{}, newErr(400, "InvalidSkipToken", "The skip token '%s' is invalid.", tok)
		}
		start = n
	}
	body := map[string]any{}
	end := len(value)
	if size := s.opts.ListPageSize; size > 0 && start+size < end {
		end = start + size
		next := *q.r.URL
		qs := next.Query()
		qs.Set("$skipToken", strconv.Itoa(end))
		next.RawQuery = qs.Encode()
		body["nextLink"] = q.base + next.RequestURI()
	}
	body["value"] = value[start:end]
	return reply{status: http.StatusOK, body: body}, nil
}

func (s *server) putCluster(q *req, rg, name string) (reply, error) {
	var body struct {
		Location   string            `json:"location"`
		Tags       map[string]string `json:"tags"`
		Identity   *identityBody     `json:"identity"`
		Properties struct {
			KubernetesVersion string `json:"kubernetesVersion"`
			DNSPrefix         string `json:"dnsPrefix"`
			AgentPoolProfiles []struct {
				Name              string   `json:"name"`
				Count             *int     `json:"count"`
				VMSize            string   `json:"vmSize"`
				Mode              string   `json:"mode"`
				OSType            string   `json:"osType"`
				AvailabilityZones []string `json:"availabilityZones"`
				VnetSubnetID      string   `json:"vnetSubnetID"`
			} `json:"agentPoolProfiles"`
			NetworkProfile *struct {
				NetworkPlugin     string `json:"networkPlugin"`
				NetworkPluginMode string `json:"networkPluginMode"`
				PodCidr           string `json:"podCidr"`
				ServiceCidr       string `json:"serviceCidr"`
				DNSServiceIP      string `json:"dnsServiceIP"`
			} `json:"networkProfile"`
			APIServerAccessProfile *struct {
				EnablePrivateCluster *bool `json:"enablePrivateCluster"`
			} `json:"apiServerAccessProfile"`
			AADProfile           *aadProfile `json:"aadProfile"`
			DisableLocalAccounts *bool       `json:"disableLocalAccounts"`
		} `json:"properties"`
	}
	if err := decode(q.r, &body); err != nil {
		return reply{}, err
	}
	rgName, err := s.groupName(rg)
	if err != nil {
		return reply{}, err
	}
	if body.Location == "" {
		return reply{}, newErr(400, "LocationRequired", "The location property is required for this definition.")
	}
	loc := normLocation(body.Location)
	identity, err := userIdentity(body.Identity)
	if err != nil {
		return reply{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, existed, err := s.t.clusters.Lookup(clusterMetaName(rg, name))
	if err != nil {
		return reply{}, err
	}
	if existed {
		if _, ok := s.findCluster(m.Location, name); !ok {
			if err := s.gcCluster(rg, name); err != nil {
				return reply{}, err
			}
			existed = false
		}
	}
	if existed && m.Location != loc {
		return reply{}, newErr(400, "PropertyChangeNotAllowed", "Changing property 'location' is not allowed.")
	}
	if !existed {
		if c, ok := s.findCluster(loc, name); ok {
			return reply{}, newErr(409, "Conflict",
				"A managed cluster named %s already exists in %s in another resource group; cloudsim needs managed cluster names unique per location (%s).", name, loc, c.ID)
		}
	}
	version := body.Properties.KubernetesVersion
	if version == "" {
		version = DefaultKubernetesVersion
		if c, ok := s.findCluster(loc, name); ok && existed {
			version = c.Spec.KubernetesVersion
		}
	}
	private := false
	if a := body.Properties.APIServerAccessProfile; a != nil && a.EnablePrivateCluster != nil {
		private = *a.EnablePrivateCluster
	}
	var subnets []string
	for i, p := range body.Properties.AgentPoolProfiles {
		if existed {
			if pr, ok := m.profile(p.Name); ok && !strings.EqualFold(pr.VnetSubnetID, p.VnetSubnetID) {
				return reply{}, newErr(400, "PropertyChangeNotAllowed", "Changing property 'agentPoolProfile.vnetSubnetID' is not allowed.")
			}
		}
		if p.VnetSubnetID == "" {
			continue
		}
		field := fmt.Sprintf("properties.agentPoolProfiles[%d].vnetSubnetID", i)
		if _, err := s.vnetSubnet(q.sub, field, p.VnetSubnetID, loc); err != nil {
			return reply{}, err
		}
		if len(subnets) > 0 && !sameVNet(subnets[0], p.VnetSubnetID) {
			return reply{}, newErr(400, "InvalidParameter",
				"The value of parameter %s is invalid: the agent pools of a managed cluster must use subnets of one virtual network.", field)
		}
		subnets = append(subnets, p.VnetSubnetID)
	}
	if len(subnets) > 0 && len(subnets) < len(body.Properties.AgentPoolProfiles) {
		return reply{}, newErr(400, "InvalidParameter",
			"The value of parameter agentPoolProfile.vnetSubnetID is invalid: set it on every agent pool of the managed cluster or on none.")
	}
	var serviceCIDR, dnsIP string
	if np := body.Properties.NetworkProfile; np != nil && (np.ServiceCidr != "" || np.DNSServiceIP != "") {
		if serviceCIDR, dnsIP, err = s.checkServiceRange(q.sub, np.ServiceCidr, np.DNSServiceIP, subnets); err != nil {
			return reply{}, err
		}
		if existed && m.ServiceCIDR != serviceCIDR {
			return reply{}, newErr(400, "PropertyChangeNotAllowed", "Changing property 'networkProfile.serviceCidr' is not allowed.")
		}
	}
	plugin, mode, podCIDR := "azure", "", ""
	if np := body.Properties.NetworkProfile; np != nil {
		if np.NetworkPlugin != "" {
			plugin = np.NetworkPlugin
		}
		mode, podCIDR = np.NetworkPluginMode, np.PodCidr
		if err := s.checkOverlay(q.sub, plugin, mode, podCIDR, serviceCIDR, subnets); err != nil {
			return reply{}, err
		}
		// Node-subnet Azure CNI can be upgraded to overlay in place
		// (https://learn.microsoft.com/azure/aks/upgrade-azure-cni); going
		// back, or changing the pod range, is refused.
		upgrade := m.NetworkPluginMode == "" && strings.EqualFold(mode, "overlay")
		if existed && !upgrade && (!strings.EqualFold(m.NetworkPluginMode, mode) || m.PodCIDR != podCIDR) {
			return reply{}, newErr(400, "PropertyChangeNotAllowed", "Changing property 'networkProfile.networkPluginMode' or 'networkProfile.podCidr' is not allowed.")
		}
		if existed && upgrade {
			m.NetworkPluginMode, m.PodCIDR = mode, podCIDR
		}
	}
	aad, disableLocal := m.AAD, m.DisableLocalAccounts
	if body.Properties.AADProfile != nil {
		if aad, err = checkAAD(*body.Properties.AADProfile); err != nil {
			return reply{}, err
		}
	}
	if d := body.Properties.DisableLocalAccounts; d != nil {
		disableLocal = *d
	}
	if disableLocal && aad == nil {
		return reply{}, newErr(400, "BadRequest",
			"Local accounts can only be disabled on a managed cluster with Microsoft Entra ID integration (properties.aadProfile.managed).")
	}
	spec := cloud.ClusterSpec{Name: name, Region: loc, KubernetesVersion: version, PublicEndpoint: !private, PrivateEndpoint: private, Tags: body.Tags}
	c, err := s.e.CreateCluster(cloudName, spec)
	if err != nil {
		return reply{}, err
	}
	if !existed {
		m = clusterMeta{Name: name, ResourceGroup: rgName, Location: loc, CreatedAt: s.now(), NetworkPlugin: "azure",
			ServiceCIDR: serviceCIDR, DNSServiceIP: dnsIP, NetworkPluginMode: mode, PodCIDR: podCIDR}
	}
	m.Tags = body.Tags
	m.AAD, m.DisableLocalAccounts = aad, disableLocal
	if body.Identity != nil || !existed {
		m.Identity = identity
	}
	if body.Properties.DNSPrefix != "" || m.DNSPrefix == "" {
		m.DNSPrefix = body.Properties.DNSPrefix
		if m.DNSPrefix == "" {
			m.DNSPrefix = name + "-dns"
		}
	}
	if np := body.Properties.NetworkProfile; np != nil && np.NetworkPlugin != "" {
		m.NetworkPlugin = np.NetworkPlugin
	}
	if ps := body.Properties.AgentPoolProfiles; len(ps) > 0 || len(m.Profiles) == 0 {
		m.Profiles = nil
		for _, p := range ps {
			pr := profile{Name: p.Name, VMSize: p.VMSize, Count: 1, Mode: p.Mode, OSType: p.OSType, Zones: p.AvailabilityZones,
				VnetSubnetID: p.VnetSubnetID}
			if p.Count != nil {
				pr.Count = *p.Count
			}
			if pr.Mode == "" {
				pr.Mode = "System"
			}
			if pr.OSType == "" {
				pr.OSType = "Linux"
			}
			if pr.VMSize == "" {
				pr.VMSize = "Standard_D4ds_v5"
			}
			m.Profiles = append(m.Profiles, pr)
		}
		if len(m.Profiles) == 0 {
			m.Profiles = []profile{{Name: "nodepool1", VMSize: "Standard_D4ds_v5", Count: 1, Mode: "System", OSType: "Linux"}}
		}
	}
	if err := s.t.clusters.Put(clusterMetaName(rg, name), m); err != nil {
		return reply{}, err
	}
	op := "CreateCluster"
	status := http.StatusCreated
	if existed {
		op, status = "UpdateCluster", http.StatusOK
	}
	id, err := s.recordOp(opRecord{Op: op, RG: strings.ToLower(rg), ResourceGroup: rgName, Cluster: name, Location: loc, Start: s.now()})
	if err != nil {
		return reply{}, err
	}
	out, err := s.clusterJSON(q, c, m)
	if err != nil {
		return reply{}, err
	}
	return reply{status: status, body: out, header: asyncHeaders(q, loc, id, false)}, nil
}

// gcCluster removes the metadata and operation records of a managed
// cluster that is gone; a record that stays is reported (every failure,
// joined).
func (s *server) gcCluster(rg, name string) error {
	var errs []error
	m, ok, err := s.t.clusters.Lookup(clusterMetaName(rg, name))
	if err != nil {
		return err
	}
	if ok {
		if _, ok := s.findCluster(m.Location, name); ok {
			return nil
		}
		errs = append(errs, s.t.clusters.Remove(clusterMetaName(rg, name)))
	}
	prefix := clusterMetaName(rg, name) + "/"
	return errors.Join(append(errs,
		s.t.pools.RemoveWhere(func(r cloudsim.Row[poolMeta]) bool { return strings.HasPrefix(r.Name, prefix) }),
		s.t.ops.RemoveWhere(func(r cloudsim.Row[opRecord]) bool {
			return r.Value.RG == strings.ToLower(rg) && r.Value.Cluster == name
		}))...)
}

// gcPool removes the metadata and operation records of an agent pool that
// is gone; a record that stays is reported (every failure, joined).
func (s *server) gcPool(rg, location, cluster, pool string) error {
	if _, ok := s.findPool(location, cluster, pool); ok {
		return nil
	}
	return errors.Join(s.t.pools.Remove(poolMetaName(rg, cluster, pool)),
		s.t.ops.RemoveWhere(func(r cloudsim.Row[opRecord]) bool {
			return r.Value.RG == strings.ToLower(rg) && r.Value.Cluster == cluster && r.Value.Pool == pool
		}))
}

// poolMetaFor returns the metadata of an agent pool, or a default; an
// error is the engine's.
func (s *server) poolMetaFor(rg, cluster, pool string) (poolMeta, error) {
	m, ok, err := s.t.pools.Lookup(poolMetaName(rg, cluster, pool))
	if err == nil && !ok {
		m = poolMeta{Mode: "User", OSType: "Linux", OSSKU: "Ubuntu", OSDiskSizeGB: 128, MaxPods: 110}
	}
	return m, err
}

// Bring-your-own VNet.
//
// An agent pool's vnetSubnetID (in the managed cluster's
// agentPoolProfiles or an agentPools PUT) must be a subnet ID (400
// LinkedInvalidPropertyId otherwise) of a subnet that exists (400
// SubnetNotFound "Could not find subnet … in vnet … from resource group …
// of subscription …", as AKS words it) in the cluster's location (400
// InvalidParameter). The pools of a cluster all have a subnet, in one
// VNet, or none has (400 InvalidParameter; "The Agentpool … does not have
// subnet defined." for a subnet added to a cluster whose pools have none),
// and a pool's subnet cannot change (400 PropertyChangeNotAllowed; an
// update that leaves it out counts as a change). networkProfile's
// serviceCidr must be an IPv4 range that overlaps no subnet of the pools'
// VNet (400 ServiceCidrOverlapExistingSubnetsCidr) and dnsServiceIP must
// lie in it (400 DnsServiceIpOutOfServiceCidr; its tenth address when
// left out); it is reported as the cluster's service range and cannot
// change either. A new agent pool in a subnet needs the cluster identity
// to hold a network role over it (403 LinkedAuthorizationFailed; see
// roles.go). Not modeled: subnets in use by pools refusing deletion, pod
// subnets.

// vnetSubnet resolves a vnetSubnetID to its subnet record.
func (s *server) vnetSubnet(sub, field, id, location string) (netRecord, error) {
	key, _, ok := refTo(id, kindSubnet)
	if !ok || !strings.HasPrefix(strings.ToLower(id), "/subscriptions/") {
		return netRecord{}, newErr(400, "LinkedInvalidPropertyId",
			"Property id '%s' at path '%s' is invalid. Expect fully qualified resource Id that start with '/subscriptions/{subscriptionId}' or '/providers/{resourceProviderNamespace}/'.", id, field)
	}
	w, err := s.netWorld(sub)
	if err != nil {
		return netRecord{}, err
	}
	rec, found := w.get(kindSubnet, key)
	if !found {
		r, _ := parseRef(id)
		return netRecord{}, newErr(400, "SubnetNotFound", "Could not find subnet %s in vnet %s from resource group %s of subscription %s.",
			r.Names[len(r.Names)-1], r.Names[0], r.RG, sub)
	}
	if normLocation(rec.Location) != location {
		return netRecord{}, newErr(400, "InvalidParameter",
			"The value of parameter %s is invalid: subnet %s is in virtual network %s in %s, not in the managed cluster's location %s.",
			field, rec.Name, rec.VNet, rec.Location, location)
	}
	return rec, nil
}

// sameVNet tells whether two subnet IDs are in one virtual network.
func sameVNet(a, b string) bool {
	ka, _, okA := refTo(a, kindSubnet)
	kb, _, okB := refTo(b, kindSubnet)
	return okA && okB && ka[:strings.LastIndex(ka, "/")] == kb[:strings.LastIndex(kb, "/")]
}

// checkServiceRange checks networkProfile's serviceCidr and dnsServiceIP
// against the pools' subnets and returns them (dnsServiceIP defaulted).
func (s *server) checkServiceRange(sub, serviceCIDR, dnsIP string, subnets []string) (string, string, error) {
	p, err := netip.ParsePrefix(serviceCIDR)
	if err != nil || !p.Addr().Is4() || p.Masked() != p {
		return "", "", newErr(400, "InvalidParameter", "The value of parameter networkProfile.serviceCidr '%s' is invalid: want an IPv4 CIDR block.", serviceCIDR)
	}
	if dnsIP == "" {
		dnsIP = dnsServiceIP(serviceCIDR)
	}
	if a, err := netip.ParseAddr(dnsIP); err != nil || !p.Contains(a) {
		return "", "", newErr(400, "DnsServiceIpOutOfServiceCidr", "DNSServiceIP %s is not within ServiceCidr %s.", dnsIP, serviceCIDR)
	}
	if len(subnets) == 0 {
		return serviceCIDR, dnsIP, nil
	}
	w, err := s.netWorld(sub)
	if err != nil {
		return "", "", err
	}
	key, _, _ := refTo(subnets[0], kindSubnet)
	rec, _ := w.get(kindSubnet, key)
	vnet, _ := w.get(kindVNet, netKey(rec.RG, rec.VNet))
	for _, sn := range w.children(kindSubnet, vnet) {
		if q, err := netip.ParsePrefix(sn.Subnet.AddressPrefix); err == nil && q.Overlaps(p) {
			return "", "", newErr(400, "ServiceCidrOverlapExistingSubnetsCidr",
				"The specified service CIDR %s is conflicted with an existing subnet CIDR %s", serviceCIDR, sn.Subnet.AddressPrefix)
		}
	}
	return serviceCIDR, dnsIP, nil
}
