package azurefront

import (
	"net/netip"
	"strings"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// Azure CNI modes. networkPlugin azure without networkPluginMode is
// "node subnet" Azure CNI: every node takes maxPods+1 addresses of its
// subnet up front, so a /20 (4091 usable addresses: Azure keeps five of
// every subnet) holds 36 nodes at 110 pods
// (https://learn.microsoft.com/azure/aks/concepts-network-ip-address-planning,
// https://learn.microsoft.com/azure/virtual-network/virtual-networks-faq);
// a pool that would need more is refused with 400 InsufficientSubnetSize
// (https://learn.microsoft.com/troubleshoot/azure/azure-kubernetes/create-upgrade-delete/insufficientsubnetsize-error).
// networkPluginMode overlay takes pod addresses from networkProfile.podCidr
// instead, a /24 per node, and nodes take one subnet address each
// (https://learn.microsoft.com/azure/aks/azure-cni-overlay): the pod range
// must be IPv4, must not overlap the cluster's subnets or service range
// (400 InvalidParameter), and is only taken with overlay (or kubenet). A
// node-subnet cluster may be upgraded to overlay by a later PUT
// (https://learn.microsoft.com/azure/aks/upgrade-azure-cni); overlay cannot
// be turned off nor the pod range changed (400 PropertyChangeNotAllowed).

// checkOverlay validates networkProfile's plugin, mode and pod range
// against the pools' subnets and the service range.
func (s *server) checkOverlay(sub, plugin, mode, podCIDR, serviceCIDR string, subnets []string) error {
	switch {
	case mode != "" && !strings.EqualFold(mode, "overlay"):
		return newErr(400, "InvalidParameter", "The value of parameter networkProfile.networkPluginMode '%s' is invalid: want overlay.", mode)
	case mode != "" && !strings.EqualFold(plugin, "azure"):
		return newErr(400, "InvalidParameter", "networkProfile.networkPluginMode overlay can only be used with networkPlugin azure.")
	case podCIDR != "" && mode == "" && !strings.EqualFold(plugin, "kubenet"):
		return newErr(400, "InvalidParameter",
			"The value of parameter networkProfile.podCidr is invalid: a pod CIDR is only used with networkPlugin kubenet or networkPluginMode overlay; Azure CNI takes pod addresses from the node subnet.")
	case podCIDR == "":
		return nil
	}
	p, err := netip.ParsePrefix(podCIDR)
	if err != nil || !p.Addr().Is4() || p.Masked() != p || p.Bits() > 24 {
		return newErr(400, "InvalidParameter", "The value of parameter networkProfile.podCidr '%s' is invalid: want an IPv4 CIDR block of /24 or larger.", podCIDR)
	}
	if sp, err := netip.ParsePrefix(serviceCIDR); err == nil && sp.Overlaps(p) {
		return newErr(400, "InvalidParameter", "The specified pod CIDR %s overlaps with the service CIDR %s.", podCIDR, serviceCIDR)
	}
	if len(subnets) == 0 {
		return nil
	}
	w, err := s.netWorld(sub)
	if err != nil {
		return err
	}
	key, _, _ := refTo(subnets[0], kindSubnet)
	rec, _ := w.get(kindSubnet, key)
	vnet, _ := w.get(kindVNet, netKey(rec.RG, rec.VNet))
	for _, sn := range w.children(kindSubnet, vnet) {
		if q, err := netip.ParsePrefix(sn.Subnet.AddressPrefix); err == nil && q.Overlaps(p) {
			return newErr(400, "InvalidParameter", "The specified pod CIDR %s overlaps with the subnet CIDR %s of subnet %s.", podCIDR, sn.Subnet.AddressPrefix, sn.Name)
		}
	}
	return nil
}

// subnetAddresses is how many addresses of a subnet Azure lets NICs use.
func (s *server) subnetAddresses(sub, subnet string) (int, bool, error) {
	w, err := s.netWorld(sub)
	if err != nil {
		return 0, false, err
	}
	rec, ok := w.ref(subnet, kindSubnet)
	if !ok {
		return 0, false, nil
	}
	p, err := netip.ParsePrefix(rec.Subnet.AddressPrefix)
	if err != nil || !p.Addr().Is4() {
		return 0, false, nil
	}
	return 1<<(32-p.Bits()) - 5, true, nil
}

// checkSubnetSize refuses, for node-subnet Azure CNI, an agent pool whose
// nodes with those of the cluster's other pools in the same subnet need
// more addresses than it has (each node maxPods+1). want is the pool's
// node count; others are the node counts of the other pools there.
func (s *server) checkSubnetSize(sub string, m clusterMeta, subnet string, want, maxPods int, others int) error {
	if subnet == "" || !strings.EqualFold(m.NetworkPlugin, "azure") || m.NetworkPluginMode != "" {
		return nil
	}
	have, ok, err := s.subnetAddresses(sub, subnet)
	if err != nil || !ok {
		return err
	}
	if maxPods <= 0 {
		maxPods = 110
	}
	if need := (want + others) * (maxPods + 1); need > have {
		return newErr(400, "InsufficientSubnetSize",
			"Pre-allocated IPs %d exceeds IPs available %d in Subnet Cidr of subnet %s: Azure CNI takes maxPods+1 = %d addresses per node from the node subnet; use networkPluginMode overlay with a podCidr, a larger subnet, or fewer nodes.",
			need, have, vnetName(subnet)+"/"+subnet[strings.LastIndex(subnet, "/")+1:], maxPods+1)
	}
	return nil
}

// nodesInSubnet counts the nodes of cluster c's pools in subnet other than
// pool (its agent pools and agentPoolProfiles). Callers hold s.mu.
func (s *server) nodesInSubnet(m clusterMeta, c cloudsim.Cluster, pool, subnet string) (int, error) {
	n := 0
	for _, pr := range m.Profiles {
		if pr.Name != pool && strings.EqualFold(pr.VnetSubnetID, subnet) {
			n += pr.Count
		}
	}
	for _, p := range s.clusterPools(c) {
		if p.Spec.Name == pool {
			continue
		}
		if _, isProfile := m.profile(p.Spec.Name); isProfile {
			continue
		}
		pm, err := s.poolMetaFor(m.ResourceGroup, c.Name, p.Spec.Name)
		if err != nil {
			return 0, err
		}
		if strings.EqualFold(pm.VnetSubnetID, subnet) {
			n += p.Spec.Nodes
		}
	}
	return n, nil
}
