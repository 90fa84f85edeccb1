package azurefront

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

func poolID(sub, rg, cluster, pool string) string {
	return clusterID(sub, rg, cluster) + "/agentPools/" + pool
}

func poolState(st cloud.Status, m poolMeta) string {
	switch st {
	case cloud.StatusCreating:
		return "Creating"
	case cloud.StatusUpdating:
		if m.LastOp != "" {
			return m.LastOp
		}
		return "Updating"
	case cloud.StatusDeleting:
		return "Deleting"
	case cloud.StatusActive:
		return "Succeeded"
	}
	return "Failed"
}

var effects = []string{"NoSchedule", "PreferNoSchedule", "NoExecute"}

// parseTaints reads AKS taints "key=value:Effect" (or "key:Effect").
func parseTaints(in []string) ([]cloud.Taint, error) {
	out := []cloud.Taint{}
	for _, t := range in {
		kv, eff, ok := strings.Cut(t, ":")
		if !ok || !slices.Contains(effects, eff) {
			return nil, newErr(400, "InvalidParameter", "The value of parameter nodeTaints '%s' is invalid: want key=value:Effect with Effect one of %s.", t, strings.Join(effects, ", "))
		}
		k, v, _ := strings.Cut(kv, "=")
		if k == "" {
			return nil, newErr(400, "InvalidParameter", "The value of parameter nodeTaints '%s' is invalid: the key is empty.", t)
		}
		out = append(out, cloud.Taint{Key: k, Value: v, Effect: eff})
	}
	return out, nil
}

func formatTaints(in []cloud.Taint) []string {
	out := []string{}
	for _, t := range in {
		if t.Value != "" {
			out = append(out, t.Key+"="+t.Value+":"+t.Effect)
		} else {
			out = append(out, t.Key+":"+t.Effect)
		}
	}
	return out
}

// azureIssue words an engine issue as AKS reports it.
func azureIssue(p cloudsim.Pool, is cloud.Issue) (code, message string) {
	if code, message, ok := azureReservationIssue(p, is); ok {
		return code, message
	}
	switch is.Code {
	case "InsufficientCapacity":
		if p.Spec.Zone != "" {
			return "ZonalAllocationFailed", fmt.Sprintf("Allocation failed. We do not have sufficient capacity for the requested VM size %s in this zone (%s). Read more about improving likelihood of allocation success at http://aka.ms/allocation-guidance", p.Spec.InstanceType, p.Spec.Zone)
		}
		return "AllocationFailed", fmt.Sprintf("Allocation failed. We do not have sufficient capacity for the requested VM size %s in this region (%s). Read more about improving likelihood of allocation success at http://aka.ms/allocation-guidance", p.Spec.InstanceType, p.Spec.Region)
	case "QuotaExceeded":
		var family, region string
		var limit, used, more int
		if _, err := fmt.Sscanf(is.Message, "quota for %s GPUs in %s is %d; %d in use, %d more requested", &family, &region, &limit, &used, &more); err != nil {
			return "QuotaExceeded", is.Message
		}
		return "QuotaExceeded", fmt.Sprintf("Operation could not be completed as it results in exceeding approved %s Cores quota. Additional details - Deployment Model: Resource Manager, Location: %s, Current Limit: %d, Current Usage: %d, Additional Required: %d, (Minimum) New Limit Required: %d. Submit a request for Quota increase at https://aka.ms/ProdportalCRP/#blade/Microsoft_Azure_Capacity/UsageAndQuota.ReactView by specifying parameters listed in the 'Details' section for deployment to succeed. Please read more about quota limits at https://docs.microsoft.com/en-us/azure/azure-supportability/per-vm-quota-requests",
			family, strings.TrimSuffix(region, ";"), limit, used, more, used+more)
	}
	return is.Code, is.Message
}

func (s *server) poolProps(p cloudsim.Pool, m poolMeta) map[string]any {
	st, _ := s.e.PoolStatus(p)
	state := poolState(st, m)
	priority := "Regular"
	if p.Spec.CapacityType == "spot" {
		priority = "Spot"
	}
	labels := p.Spec.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	props := map[string]any{
		"count": p.Spec.Nodes, "vmSize": p.Spec.InstanceType, "mode": m.Mode, "osType": m.OSType, "osSKU": m.OSSKU,
		"osDiskSizeGB": m.OSDiskSizeGB, "maxPods": m.MaxPods, "type": "VirtualMachineScaleSets",
		"orchestratorVersion": m.OrchestratorVersion, "currentOrchestratorVersion": m.OrchestratorVersion,
		"provisioningState": state, "powerState": map[string]string{"code": "Running"},
		"nodeLabels": labels, "nodeTaints": formatTaints(p.Spec.Taints), "scaleSetPriority": priority,
		"enableNodePublicIP": false, "enableAutoScaling": false, "nodeImageVersion": "AKSUbuntu-2204gen2gpucontainerd-202611.01.0",
	}
	switch {
	case len(m.Zones) > 0:
		props["availabilityZones"] = m.Zones
	case p.Spec.Zone != "":
		props["availabilityZones"] = []string{p.Spec.Zone}
	}
	if priority == "Spot" {
		props["scaleSetEvictionPolicy"] = m.EvictionPolicy
		props["spotMaxPrice"] = -1.0
		if m.SpotMaxPrice != nil {
			props["spotMaxPrice"] = *m.SpotMaxPrice
		}
	}
	if len(m.Tags) > 0 {
		props["tags"] = m.Tags
	}
	if m.VnetSubnetID != "" {
		props["vnetSubnetID"] = m.VnetSubnetID
	}
	if g := reservationGroupOf(p); g != "" {
		props["capacityReservationGroupID"] = g
	}
	if state == "Failed" && len(p.Issues) > 0 {
		code, msg := azureIssue(p, p.Issues[len(p.Issues)-1])
		props["status"] = map[string]any{"provisioningError": map[string]string{"code": code, "message": msg}}
	}
	return props
}

func (s *server) poolJSON(q *req, m clusterMeta, p cloudsim.Pool) (map[string]any, error) {
	pm, err := s.poolMetaFor(m.ResourceGroup, p.Spec.Cluster, p.Spec.Name)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"id": poolID(q.sub, m.ResourceGroup, p.Spec.Cluster, p.Spec.Name), "name": p.Spec.Name,
		"type":       "Microsoft.ContainerService/managedClusters/agentPools",
		"properties": s.poolProps(p, pm),
	}, nil
}

func (s *server) profileJSON(q *req, m clusterMeta, c cloudsim.Cluster, pr profile) map[string]any {
	return map[string]any{
		"id": poolID(q.sub, m.ResourceGroup, c.Name, pr.Name), "name": pr.Name,
		"type":       "Microsoft.ContainerService/managedClusters/agentPools",
		"properties": profileProps(pr, clusterState(s.e.ClusterStatus(c)), c.Spec.KubernetesVersion),
	}
}

func (m clusterMeta) profile(name string) (profile, bool) {
	for _, pr := range m.Profiles {
		if pr.Name == name {
			return pr, true
		}
	}
	return profile{}, false
}

func (s *server) listPools(q *req, rg, cluster string) (reply, error) {
	m, err := s.clusterMetaFor(rg, cluster)
	if err != nil {
		return reply{}, err
	}
	c, ok := s.findCluster(m.Location, cluster)
	if !ok {
		return reply{}, clusterNotFound(rg, cluster)
	}
	value := []map[string]any{}
	for _, pr := range m.Profiles {
		value = append(value, s.profileJSON(q, m, c, pr))
	}
	for _, p := range s.clusterPools(c) {
		body, err := s.poolJSON(q, m, p)
		if err != nil {
			return reply{}, err
		}
		value = append(value, body)
	}
	return reply{status: http.StatusOK, body: map[string]any{"value": value}}, nil
}

func (s *server) servePool(q *req, rg, cluster, pool string) (reply, error) {
	switch q.r.Method {
	case http.MethodPut:
		return s.putPool(q, rg, cluster, pool)
	case http.MethodGet:
		m, err := s.clusterMetaFor(rg, cluster)
		if err != nil {
			return reply{}, err
		}
		if pr, ok := m.profile(pool); ok {
			c, ok := s.findCluster(m.Location, cluster)
			if !ok {
				return reply{}, clusterNotFound(rg, cluster)
			}
			return reply{status: http.StatusOK, body: s.profileJSON(q, m, c, pr)}, nil
		}
		p, err := s.e.GetNodePool(cloudName, m.Location, cluster, pool)
		if err != nil {
			if cloud.IsNotFound(err) {
				if err := s.gcPool(rg, m.Location, cluster, pool); err != nil {
					return reply{}, err
				}
				if _, ok := s.findCluster(m.Location, cluster); !ok {
					return reply{}, clusterNotFound(rg, cluster)
				}
				return reply{}, poolNotFound(cluster, pool)
			}
			return reply{}, err
		}
		body, err := s.poolJSON(q, m, p)
		if err != nil {
			return reply{}, err
		}
		return reply{status: http.StatusOK, body: body}, nil
	case http.MethodDelete:
		m, err := s.clusterMetaFor(rg, cluster)
		if err != nil {
			return reply{}, err
		}
		if _, ok := m.profile(pool); ok {
			return reply{}, newErr(400, "OperationNotAllowed",
				"Agent pool %s is part of the managed cluster definition (agentPoolProfiles); cloudsim does not delete it through agentPools.", pool)
		}
		if _, err := s.e.DeleteNodePool(cloudName, m.Location, cluster, pool); err != nil {
			if cloud.IsNotFound(err) {
				if err := s.gcPool(rg, m.Location, cluster, pool); err != nil {
					return reply{}, err
				}
				return reply{status: http.StatusNoContent}, nil
			}
			return reply{}, err
		}
		id := deleteOpID(opRecord{Op: "DeleteNodePool", RG: strings.ToLower(rg), ResourceGroup: m.ResourceGroup, Cluster: cluster,
			Pool: pool, Location: m.Location, Start: s.now()})
		return reply{status: http.StatusAccepted, header: asyncHeaders(q, m.Location, id, true)}, nil
	}
	return reply{}, newErr(405, "MethodNotAllowed", "cloudsim: method %s is not supported on agent pools", q.r.Method)
}

func (s *server) putPool(q *req, rg, cluster, pool string) (reply, error) {
	var body struct {
		Properties struct {
			Count                  *int               `json:"count"`
			VMSize                 string             `json:"vmSize"`
			AvailabilityZones      []string           `json:"availabilityZones"`
			ScaleSetPriority       string             `json:"scaleSetPriority"`
			ScaleSetEvictionPolicy string             `json:"scaleSetEvictionPolicy"`
			SpotMaxPrice           *float64           `json:"spotMaxPrice"`
			NodeTaints             []string           `json:"nodeTaints"`
			NodeLabels             map[string]*string `json:"nodeLabels"`
			Mode                   string             `json:"mode"`
			OSType                 string             `json:"osType"`
			OSSKU                  string             `json:"osSKU"`
			OSDiskSizeGB           int                `json:"osDiskSizeGB"`
			MaxPods                int                `json:"maxPods"`
			OrchestratorVersion    string             `json:"orchestratorVersion"`
			Tags                   map[string]string  `json:"tags"`
			VnetSubnetID           string             `json:"vnetSubnetID"`
			// CapacityReservationGroupID: reservations.go.
			CapacityReservationGroupID string `json:"capacityReservationGroupID"`
		} `json:"properties"`
	}
	if err := decode(q.r, &body); err != nil {
		return reply{}, err
	}
	pp := body.Properties
	m, err := s.clusterMetaFor(rg, cluster)
	if err != nil {
		return reply{}, err
	}
	if _, ok := m.profile(pool); ok {
		return reply{}, newErr(400, "OperationNotAllowed",
			"Agent pool %s is part of the managed cluster definition (agentPoolProfiles); cloudsim does not change it through agentPools.", pool)
	}
	c, ok := s.findCluster(m.Location, cluster)
	if !ok {
		return reply{}, clusterNotFound(rg, cluster)
	}
	switch st := s.e.ClusterStatus(c); st {
	case cloud.StatusCreating, cloud.StatusDeleting:
		verb := "create"
		if st == cloud.StatusDeleting {
			verb = "delete"
		}
		return reply{}, newErr(409, "OperationNotAllowed",
			"Operation is not allowed because there's an in progress %s managed cluster operation on the managed cluster %s. Please wait until it completes.", verb, cluster)
	}
	capacityType := "on_demand"
	switch {
	case strings.EqualFold(pp.ScaleSetPriority, "Spot"):
		capacityType = "spot"
	case pp.ScaleSetPriority == "", strings.EqualFold(pp.ScaleSetPriority, "Regular"):
	default:
		return reply{}, newErr(400, "InvalidParameter", "The value of parameter scaleSetPriority '%s' is invalid: want Regular or Spot.", pp.ScaleSetPriority)
	}
	zone := ""
	if len(pp.AvailabilityZones) > 0 {
		zone = pp.AvailabilityZones[0]
	}
	var taints []cloud.Taint
	if pp.NodeTaints != nil {
		if taints, err = parseTaints(pp.NodeTaints); err != nil {
			return reply{}, err
		}
	}
	var labels map[string]string
	if pp.NodeLabels != nil {
		labels = map[string]string{}
		for k, v := range pp.NodeLabels {
			if v != nil {
				labels[k] = *v
			}
		}
	}
	if pp.Count != nil && *pp.Count < 0 {
		return reply{}, newErr(400, "InvalidParameter", "The value of parameter agentPoolProfile.count %d is invalid: it must be at least 0.", *pp.Count)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	meta, err := s.poolMetaFor(m.ResourceGroup, cluster, pool)
	if err != nil {
		return reply{}, err
	}
	if err := s.checkPoolSubnet(q, m, pool, pp.VnetSubnetID); err != nil {
		return reply{}, err
	}
	if pp.Tags != nil {
		meta.Tags = pp.Tags
	}
	existing, exists := s.findPool(m.Location, cluster, pool)
	if !exists {
		if pp.VMSize == "" {
			return reply{}, newErr(400, "InvalidParameter", "The value of parameter agentPoolProfile.vmSize is invalid: it is required.")
		}
		nodes := 1
		if pp.Count != nil {
			nodes = *pp.Count
		}
		others, err := s.nodesInSubnet(m, c, pool, pp.VnetSubnetID)
		if err != nil {
			return reply{}, err
		}
		if err := s.checkSubnetSize(q.sub, m, pp.VnetSubnetID, nodes, pp.MaxPods, others); err != nil {
			return reply{}, err
		}
		spec := cloud.NodePoolSpec{Cluster: cluster, Region: m.Location, Name: pool, InstanceType: pp.VMSize, Zone: zone,
			CapacityType: capacityType, Nodes: nodes, Labels: labels, Taints: taints}
		if spec.Reservation, err = s.poolReservation(q, m, pool, pp.CapacityReservationGroupID, pp.VMSize, zone); err != nil {
			return reply{}, err
		}
		if spec.Reservation != nil {
			spec.CapacityType = "reserved"
		}
		p, err := s.e.CreateNodePool(cloudName, spec, s.opts.InstanceOptions(pp.VMSize))
		if err != nil {
			return reply{}, err
		}
		meta = poolMeta{Mode: pp.Mode, EvictionPolicy: pp.ScaleSetEvictionPolicy, SpotMaxPrice: pp.SpotMaxPrice, OSType: pp.OSType,
			OSSKU: pp.OSSKU, OSDiskSizeGB: pp.OSDiskSizeGB, MaxPods: pp.MaxPods, OrchestratorVersion: pp.OrchestratorVersion,
			Zones: pp.AvailabilityZones, Tags: pp.Tags, VnetSubnetID: pp.VnetSubnetID, CreatedAt: s.now()}
		if meta.Mode == "" {
			meta.Mode = "User"
		}
		if meta.OSType == "" {
			meta.OSType = "Linux"
		}
		if meta.OSSKU == "" {
			meta.OSSKU = "Ubuntu"
		}
		if meta.OSDiskSizeGB == 0 {
			meta.OSDiskSizeGB = 128
		}
		if meta.MaxPods == 0 {
			meta.MaxPods = 110
		}
		if meta.OrchestratorVersion == "" {
			meta.OrchestratorVersion = c.Spec.KubernetesVersion
		}
		if capacityType == "spot" && meta.EvictionPolicy == "" {
			meta.EvictionPolicy = "Delete"
		}
		if err := s.t.pools.Put(poolMetaName(rg, cluster, pool), meta); err != nil {
			return reply{}, err
		}
		id, err := s.recordOp(opRecord{Op: "CreateNodePool", RG: strings.ToLower(rg), ResourceGroup: m.ResourceGroup, Cluster: cluster,
			Pool: pool, Location: m.Location, Start: s.now()})
		if err != nil {
			return reply{}, err
		}
		return reply{status: http.StatusCreated, body: s.poolJSONMeta(q, m, p, meta), header: asyncHeaders(q, m.Location, id, false)}, nil
	}
	// An update: only count, labels and taints may change.
	if existing.DeleteAt != nil {
		return reply{}, newErr(409, "OperationNotAllowed",
			"Operation is not allowed because there's an in progress delete agent pool operation on agent pool %s. Please wait until it completes.", pool)
	}
	switch {
	case pp.VMSize != "" && !strings.EqualFold(pp.VMSize, existing.Spec.InstanceType):
		return reply{}, newErr(400, "PropertyChangeNotAllowed", "Changing property 'vmSize' is not allowed.")
	case pp.AvailabilityZones != nil && zone != existing.Spec.Zone:
		return reply{}, newErr(400, "PropertyChangeNotAllowed", "Changing property 'availabilityZones' is not allowed.")
	case pp.ScaleSetPriority != "" && capacityType != existing.Spec.CapacityType:
		return reply{}, newErr(400, "PropertyChangeNotAllowed", "Changing property 'scaleSetPriority' is not allowed.")
	case !strings.EqualFold(pp.VnetSubnetID, meta.VnetSubnetID):
		return reply{}, newErr(400, "PropertyChangeNotAllowed", "Changing property 'vnetSubnetID' is not allowed.")
	case !strings.EqualFold(pp.CapacityReservationGroupID, reservationGroupOf(existing)):
		return reply{}, newErr(400, "PropertyChangeNotAllowed", "Changing property 'capacityReservationGroupID' is not allowed.")
	}
	var u cloud.NodePoolUpdate
	changed := false
	if pp.Count != nil && *pp.Count != existing.Spec.Nodes {
		n := *pp.Count
		if n > existing.Spec.Nodes {
			others, err := s.nodesInSubnet(m, c, pool, meta.VnetSubnetID)
			if err != nil {
				return reply{}, err
			}
			if err := s.checkSubnetSize(q.sub, m, meta.VnetSubnetID, n, meta.MaxPods, others); err != nil {
				return reply{}, err
			}
		}
		u.Nodes, changed = &n, true
	}
	if labels != nil && !maps.Equal(labels, existing.Spec.Labels) {
		u.Labels, changed = labels, true
	}
	if taints != nil && !slices.Equal(taints, existing.Spec.Taints) && !(len(taints) == 0 && len(existing.Spec.Taints) == 0) {
		u.Taints, changed = &taints, true
	}
	p := existing
	if changed {
		p, err = s.e.UpdateNodePool(cloudName, m.Location, cluster, pool, u)
		if err != nil {
			if cloud.IsConflict(err) {
				return reply{}, newErr(409, "OperationNotAllowed", "Operation is not allowed on agent pool %s: %s", pool, toARM(err).Message)
			}
			return reply{}, err
		}
		meta.LastOp = "Updating"
		if u.Nodes != nil {
			meta.LastOp = "Scaling"
		}
	}
	if err := s.t.pools.Put(poolMetaName(rg, cluster, pool), meta); err != nil {
		return reply{}, err
	}
	id, err := s.recordOp(opRecord{Op: "UpdateNodePool", RG: strings.ToLower(rg), ResourceGroup: m.ResourceGroup, Cluster: cluster,
		Pool: pool, Location: m.Location, Start: s.now()})
	if err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusOK, body: s.poolJSONMeta(q, m, p, meta), header: asyncHeaders(q, m.Location, id, false)}, nil
}

func (s *server) poolJSONMeta(q *req, m clusterMeta, p cloudsim.Pool, meta poolMeta) map[string]any {
	return map[string]any{
		"id": poolID(q.sub, m.ResourceGroup, p.Spec.Cluster, p.Spec.Name), "name": p.Spec.Name,
		"type":       "Microsoft.ContainerService/managedClusters/agentPools",
		"properties": s.poolProps(p, meta),
	}
}

// checkPoolSubnet checks the vnetSubnetID of a new agent pool against the
// cluster's system pool (see "Bring-your-own VNet" in aks.go); an update
// is checked by putPool (the subnet cannot change).
func (s *server) checkPoolSubnet(q *req, m clusterMeta, pool, subnet string) error {
	if _, exists := s.findPool(m.Location, m.Name, pool); exists {
		return nil
	}
	var withSubnet, without string
	for _, pr := range m.Profiles {
		if pr.VnetSubnetID != "" && withSubnet == "" {
			withSubnet = pr.VnetSubnetID
		}
		if pr.VnetSubnetID == "" && without == "" {
			without = pr.Name
		}
	}
	switch {
	case subnet == "" && withSubnet != "":
		return newErr(400, "InvalidParameter",
			"The value of parameter agentPoolProfile.vnetSubnetID is invalid: the agent pools of managed cluster %s have subnets, so agent pool %s needs one too.", m.Name, pool)
	case subnet == "":
		return nil
	case without != "":
		return newErr(400, "InvalidParameter", "The Agentpool %s does not have subnet defined.", without)
	}
	if _, err := s.vnetSubnet(q.sub, "properties.vnetSubnetID", subnet, m.Location); err != nil {
		return err
	}
	if withSubnet != "" && !sameVNet(withSubnet, subnet) {
		return newErr(400, "InvalidParameter",
			"The value of parameter agentPoolProfile.vnetSubnetID is invalid: the agent pools of managed cluster %s use virtual network %s; agent pool %s must too.",
			m.Name, vnetName(withSubnet), pool)
	}
	return s.checkNetworkRole(q.sub, m, subnet)
}

// vnetName is the virtual network of a subnet ID.
func vnetName(subnet string) string {
	if r, ok := parseRef(subnet); ok && len(r.Names) > 0 {
		return r.Names[0]
	}
	return subnet
}
