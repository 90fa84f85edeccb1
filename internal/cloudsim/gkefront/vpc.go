package gkefront

import (
	"encoding/json"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// The VPC network of a cluster.
//
// A cluster that names a network (Cluster.network, or
// networkConfig.network) or a subnetwork is checked against the Compute
// Engine resources that computefront keeps in the same engine (rows of its
// tables "Network", named "{project}/{name}", and "Subnetwork", named
// "{project}/{region}/{name}", each the resource as protojson), read
// without rate limits and faults:
//
//   - the network must exist (INVALID_ARGUMENT "Network "n" not found in
//     project p."); a subnetwork without a network is in "default", as on
//     GKE;
//   - the subnetwork must exist in the cluster's region (INVALID_ARGUMENT
//     "Subnetwork "s" not found …") and belong to the network;
//   - ipAllocationPolicy.clusterSecondaryRangeName and
//     servicesSecondaryRangeName need useIpAliases and a subnetwork that
//     has secondary ranges of these names.
//
// GetCluster then reports network and subnetwork (names),
// networkConfig.network/subnetwork (relative paths, as GKE does), and
// the ranges: clusterIpv4Cidr and ipAllocationPolicy.clusterIpv4CidrBlock
// from the pods range, servicesIpv4Cidr and
// ipAllocationPolicy.servicesIpv4CidrBlock from the services range (the
// named one, else the subnetwork's range named "services"), which is the
// cluster's service range. A cluster without a network keeps the engine's
// service range and reports no network, as before.

// clusterNet is the network of a cluster as checked at creation.
type clusterNet struct {
	Network    string `json:"network"`
	Subnetwork string `json:"subnetwork,omitempty"`
	// NetworkPath and SubnetworkPath are relative resource paths
	// ("projects/p/global/networks/n").
	NetworkPath    string `json:"networkPath"`
	SubnetworkPath string `json:"subnetworkPath,omitempty"`
	PodsCIDR       string `json:"podsCidr,omitempty"`
	ServicesCIDR   string `json:"servicesCidr,omitempty"`
}

// lastSegment is the name at the end of a reference (a name stays as it
// is).
func lastSegment(s string) string { return s[strings.LastIndex(s, "/")+1:] }

// computeTables are computefront's tables of networks and subnetworks,
// read as the protojson they hold.
type computeTables struct {
	networks, subnetworks *cloudsim.Table[json.RawMessage]
}

func openComputeTables(e *cloudsim.Engine) computeTables {
	return computeTables{
		networks:    cloudsim.NewTable[json.RawMessage](e, cloudName, "Network", cloudsim.TableOptions{}),
		subnetworks: cloudsim.NewTable[json.RawMessage](e, cloudName, "Subnetwork", cloudsim.TableOptions{}),
	}
}

// clusterNetwork checks the network, subnetwork and secondary ranges a
// cluster asks for; nil when it names none.
func (s *server) clusterNetwork(r ref, c *containerpb.Cluster) (*clusterNet, error) {
	network, subnetwork := c.GetNetwork(), c.GetSubnetwork()
	if network == "" {
		network = c.GetNetworkConfig().GetNetwork()
	}
	if subnetwork == "" {
		subnetwork = c.GetNetworkConfig().GetSubnetwork()
	}
	ip := c.GetIpAllocationPolicy()
	if network == "" && subnetwork == "" {
		if ip.GetClusterSecondaryRangeName() != "" || ip.GetServicesSecondaryRangeName() != "" {
			return nil, invalid("Secondary range names need a subnetwork: set Cluster.subnetwork.")
		}
		return nil, nil
	}
	n := &clusterNet{Network: lastSegment(network)}
	if n.Network == "" {
		n.Network = "default"
	}
	if _, ok, err := s.compute.networks.Lookup(r.Project + "/" + n.Network); err != nil {
		return nil, err
	} else if !ok {
		return nil, invalid("Network %q not found in project %q.", n.Network, r.Project)
	}
	n.NetworkPath = "projects/" + r.Project + "/global/networks/" + n.Network
	if subnetwork == "" {
		if ip.GetClusterSecondaryRangeName() != "" || ip.GetServicesSecondaryRangeName() != "" {
			return nil, invalid("Secondary range names need a subnetwork: set Cluster.subnetwork.")
		}
		return n, nil
	}
	n.Subnetwork = lastSegment(subnetwork)
	data, ok, err := s.compute.subnetworks.Lookup(r.Project + "/" + r.region() + "/" + n.Subnetwork)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, invalid("Subnetwork %q not found in region %q of project %q.", n.Subnetwork, r.region(), r.Project)
	}
	sub := &computepb.Subnetwork{}
	if err := protojson.Unmarshal([]byte(data), sub); err != nil {
		return nil, invalid("Subnetwork %q cannot be read: %v.", n.Subnetwork, err)
	}
	path := sub.GetNetwork() // relative as computefront stores it; a URL works too
	if i := strings.Index(path, "projects/"); i >= 0 {
		path = path[i:]
	}
	if path != n.NetworkPath {
		return nil, invalid("Subnetwork %q is in network %q, not in network %q.", n.Subnetwork, lastSegment(sub.GetNetwork()), n.Network)
	}
	n.SubnetworkPath = "projects/" + r.Project + "/regions/" + r.region() + "/subnetworks/" + n.Subnetwork
	ranges := map[string]string{}
	for _, sr := range sub.GetSecondaryIpRanges() {
		ranges[sr.GetRangeName()] = sr.GetIpCidrRange()
	}
	for _, want := range []struct{ field, name string }{
		{"clusterSecondaryRangeName", ip.GetClusterSecondaryRangeName()},
		{"servicesSecondaryRangeName", ip.GetServicesSecondaryRangeName()},
	} {
		if want.name == "" {
			continue
		}
		if !ip.GetUseIpAliases() {
			return nil, invalid("ipAllocationPolicy.%s needs ipAllocationPolicy.useIpAliases.", want.field)
		}
		if _, ok := ranges[want.name]; !ok {
			return nil, invalid("Secondary range %q (ipAllocationPolicy.%s) does not exist in subnetwork %q.", want.name, want.field, n.Subnetwork)
		}
	}
	n.PodsCIDR = ranges[ip.GetClusterSecondaryRangeName()]
	svc := ip.GetServicesSecondaryRangeName()
	if svc == "" {
		svc = "services"
	}
	n.ServicesCIDR = ranges[svc]
	return n, nil
}

// reportNetwork fills what GetCluster says about a cluster's network.
func reportNetwork(out *containerpb.Cluster, n *clusterNet) {
	if n == nil {
		return
	}
	out.Network, out.Subnetwork = n.Network, n.Subnetwork
	out.NetworkConfig = &containerpb.NetworkConfig{Network: n.NetworkPath, Subnetwork: n.SubnetworkPath}
	if n.PodsCIDR != "" {
		out.ClusterIpv4Cidr = n.PodsCIDR
		if out.IpAllocationPolicy == nil {
			out.IpAllocationPolicy = &containerpb.IPAllocationPolicy{}
		}
		out.IpAllocationPolicy.ClusterIpv4CidrBlock = n.PodsCIDR
		out.IpAllocationPolicy.ClusterIpv4Cidr = n.PodsCIDR
	}
	if n.ServicesCIDR != "" {
		out.ServicesIpv4Cidr = n.ServicesCIDR
		if out.IpAllocationPolicy == nil {
			out.IpAllocationPolicy = &containerpb.IPAllocationPolicy{}
		}
		out.IpAllocationPolicy.ServicesIpv4CidrBlock = n.ServicesCIDR
		out.IpAllocationPolicy.ServicesIpv4Cidr = n.ServicesCIDR
	}
}
