package azurefront

import (
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v9"
)

// vnetIn creates a virtual network with node subnets "nodes-1",
// "nodes-2", … of /20 each, through armnetwork on ev's front end.
func (ev *env) vnetIn(rg, name, cidr string, zones int) string {
	ev.t.Helper()
	vnets, err := armnetwork.NewVirtualNetworksClient(sub, fakeCred{}, ev.options(-1))
	if err != nil {
		ev.t.Fatal(err)
	}
	prefix := strings.TrimSuffix(cidr, ".0.0/16")
	var subnets []*armnetwork.Subnet
	for i := range zones {
		subnets = append(subnets, subnetSpec("nodes-"+string(rune('1'+i)), prefix+"."+[]string{"0", "16", "32"}[i]+".0/20", ""))
	}
	p, err := vnets.BeginCreateOrUpdate(ctx, rg, name, vnetSpec(cidr, subnets...), nil)
	waitOK(ev.t, p, err)
	return "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/Microsoft.Network/virtualNetworks/" + name
}

func systemProfile(name, subnet string) *armcontainerservice.ManagedClusterAgentPoolProfile {
	p := &armcontainerservice.ManagedClusterAgentPoolProfile{Name: to.Ptr(name), Count: to.Ptr[int32](1), VMSize: to.Ptr("Standard_D4ds_v5"),
		Mode: to.Ptr(armcontainerservice.AgentPoolModeSystem)}
	if subnet != "" {
		p.VnetSubnetID = to.Ptr(subnet)
	}
	return p
}

func byoCluster(service, dns string, profiles ...*armcontainerservice.ManagedClusterAgentPoolProfile) armcontainerservice.ManagedCluster {
	np := &armcontainerservice.NetworkProfile{NetworkPlugin: to.Ptr(armcontainerservice.NetworkPluginAzure)}
	if service != "" {
		np.ServiceCidr = to.Ptr(service)
	}
	if dns != "" {
		np.DNSServiceIP = to.Ptr(dns)
	}
	return armcontainerservice.ManagedCluster{Location: to.Ptr(location), Properties: &armcontainerservice.ManagedClusterProperties{
		KubernetesVersion: to.Ptr("1.33"), DNSPrefix: to.Ptr("byo"), AgentPoolProfiles: profiles, NetworkProfile: np}}
}

// tagged is mc with a tag named name.
func tagged(mc armcontainerservice.ManagedCluster, name string) armcontainerservice.ManagedCluster {
	mc.Tags = map[string]*string{name: to.Ptr("terraform")}
	return mc
}

func (ev *env) putCluster(rg, name string, mc armcontainerservice.ManagedCluster) (armcontainerservice.ManagedCluster, error) {
	p, err := ev.mc.BeginCreateOrUpdate(ctx, rg, name, mc, nil)
	if err != nil {
		return armcontainerservice.ManagedCluster{}, err
	}
	res, err := p.PollUntilDone(ctx, poll)
	return res.ManagedCluster, err
}

// TestBringYourOwnVNet: agent pools in subnets of a VNet are checked as
// AKS checks them (subnet IDs that exist, in one VNet, for all pools or
// none, never moved), the service range must not overlap the VNet's
// subnets, and both are reported back.
func TestBringYourOwnVNet(t *testing.T) {
	ev := newEnv(t, "")
	ev.createRG("net-rg")
	ev.createRG("c-rg")
	site := ev.vnetIn("net-rg", "site", "10.20.0.0/16", 2)
	other := ev.vnetIn("net-rg", "other", "10.30.0.0/16", 1)
	nodes1, nodes2 := site+"/subnets/nodes-1", site+"/subnets/nodes-2"

	for _, tt := range []struct {
		name     string
		mc       armcontainerservice.ManagedCluster
		code, in string
	}{
		{"subnet name for an ID", byoCluster("", "", systemProfile("system", "nodes-1")), "LinkedInvalidPropertyId",
			"Property id 'nodes-1' at path 'properties.agentPoolProfiles[0].vnetSubnetID' is invalid"},
		{"unknown subnet", byoCluster("", "", systemProfile("system", site+"/subnets/nodes-9")), "SubnetNotFound",
			"Could not find subnet nodes-9 in vnet site from resource group net-rg of subscription " + sub + "."},
		{"some pools without a subnet", byoCluster("", "", systemProfile("system", nodes1), systemProfile("system2", "")), "InvalidParameter",
			"on every agent pool"},
		{"pools in two VNets", byoCluster("", "", systemProfile("system", nodes1), systemProfile("system2", other+"/subnets/nodes-1")), "InvalidParameter",
			"one virtual network"},
		{"service range over a subnet", byoCluster("10.20.0.0/16", "", systemProfile("system", nodes1)), "ServiceCidrOverlapExistingSubnetsCidr",
			"conflicted with an existing subnet CIDR 10.20.0.0/20"},
		{"DNS outside the service range", byoCluster("10.20.64.0/20", "10.20.0.10", systemProfile("system", nodes1)), "DnsServiceIpOutOfServiceCidr", ""},
		{"service range malformed", byoCluster("10.20.64.0", "", systemProfile("system", nodes1)), "InvalidParameter", "networkProfile.serviceCidr"},
		// Tag names cannot contain <, >, %, &, \, ? or /
		// (learn.microsoft.com tag-resources#limitations).
		{"tag name with a slash", tagged(byoCluster("", "", systemProfile("system", nodes1)), "gpufleet.dev/managed-by"), "InvalidTagNameCharacters",
			"The tag names 'gpufleet.dev/managed-by' have reserved characters"},
	} {
		t.Run("cluster "+tt.name, func(t *testing.T) {
			_, err := ev.putCluster("c-rg", "bad", tt.mc)
			if re := respErr(t, err); re.StatusCode != 400 || re.ErrorCode != tt.code || !strings.Contains(re.Error(), tt.in) {
				t.Fatalf("error %d %s, want 400 %s %q: %v", re.StatusCode, re.ErrorCode, tt.code, tt.in, err)
			}
			if _, ok := ev.e.LookupCluster("azure", location, "bad"); ok {
				t.Fatal("the refused cluster exists")
			}
		})
	}

	mc, err := ev.putCluster("c-rg", "byo", byoCluster("10.20.64.0/20", "", systemProfile("system", nodes1)))
	if err != nil {
		t.Fatal(err)
	}
	np := mc.Properties.NetworkProfile
	if *np.ServiceCidr != "10.20.64.0/20" || *np.DNSServiceIP != "10.20.64.10" || *np.NetworkPlugin != armcontainerservice.NetworkPluginAzure ||
		*mc.Properties.AgentPoolProfiles[0].VnetSubnetID != nodes1 {
		t.Fatalf("network profile %s %s %s, system subnet %v", *np.ServiceCidr, *np.DNSServiceIP, *np.NetworkPlugin, mc.Properties.AgentPoolProfiles[0].VnetSubnetID)
	}
	// The same PUT again is fine; moving the system pool is not.
	if _, err := ev.putCluster("c-rg", "byo", byoCluster("10.20.64.0/20", "", systemProfile("system", nodes1))); err != nil {
		t.Fatal(err)
	}
	_, err = ev.putCluster("c-rg", "byo", byoCluster("10.20.64.0/20", "", systemProfile("system", nodes2)))
	if re := respErr(t, err); re.ErrorCode != "PropertyChangeNotAllowed" {
		t.Fatalf("moving the system pool: %v", err)
	}
	_, err = ev.putCluster("c-rg", "byo", byoCluster("10.20.80.0/20", "", systemProfile("system", nodes1)))
	if re := respErr(t, err); re.ErrorCode != "PropertyChangeNotAllowed" {
		t.Fatalf("changing the service range: %v", err)
	}

	// The cluster identity needs a network role on the subnets (roles.go).
	if st, code := ev.grant(t, site, "66666666-6666-4666-a666-666666666666", *mc.Identity.PrincipalID, "4d97b98b-1d4f-4787-a291-c67834d212e7"); st != 201 {
		t.Fatalf("grant: %d %s", st, code)
	}
	inSubnet := func(subnet string, zones ...string) armcontainerservice.AgentPool {
		p := gpuPool(1, zones, false)
		if subnet != "" {
			p.Properties.VnetSubnetID = to.Ptr(subnet)
		}
		return p
	}
	for _, tt := range []struct {
		name     string
		pool     armcontainerservice.AgentPool
		code, in string // "" for success
	}{
		{"zone 2 in nodes-2", inSubnet(nodes2, "2"), "", ""},
		{"no subnet", inSubnet("", "1"), "InvalidParameter", "needs one too"},
		{"another VNet", inSubnet(other+"/subnets/nodes-1", "1"), "InvalidParameter", "virtual network site"},
		{"unknown subnet", inSubnet(site+"/subnets/nodes-3", "3"), "SubnetNotFound", "Could not find subnet nodes-3 in vnet site"},
	} {
		t.Run("pool "+tt.name, func(t *testing.T) {
			name := "p" + strings.ReplaceAll(tt.name, " ", "")[:6]
			p, err := ev.createPool("c-rg", "byo", name, tt.pool)
			if tt.code != "" {
				if re := respErr(t, err); re.StatusCode != 400 || re.ErrorCode != tt.code || !strings.Contains(re.Error(), tt.in) {
					t.Fatalf("error %d %s, want 400 %s %q: %v", re.StatusCode, re.ErrorCode, tt.code, tt.in, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if *p.Properties.VnetSubnetID != nodes2 {
				t.Fatalf("pool subnet %v", p.Properties.VnetSubnetID)
			}
			if ep, ok := ev.e.LookupPool("azure", location, "byo", name); !ok || ep.Spec.Zone != "2" {
				t.Fatalf("engine pool %+v", ep.Spec)
			}
			got, err := ev.ap.Get(ctx, "c-rg", "byo", name, nil)
			if err != nil || *got.Properties.VnetSubnetID != nodes2 {
				t.Fatalf("get: %v %v", err, got.Properties)
			}
			// An update repeats the subnet; leaving it out or changing it
			// would move the pool.
			scaled := inSubnet(nodes2, "2")
			scaled.Properties.Count = to.Ptr[int32](2)
			if _, err := ev.createPool("c-rg", "byo", name, scaled); err != nil {
				t.Fatal(err)
			}
			for _, subnet := range []string{"", nodes1} {
				_, err := ev.createPool("c-rg", "byo", name, inSubnet(subnet, "2"))
				if re := respErr(t, err); re.ErrorCode != "PropertyChangeNotAllowed" {
					t.Fatalf("update to subnet %q: %v", subnet, err)
				}
			}
		})
	}

	// A cluster whose pools have no subnet takes no pool in one.
	if _, err := ev.putCluster("c-rg", "plain", byoCluster("", "", systemProfile("system", ""))); err != nil {
		t.Fatal(err)
	}
	_, err = ev.createPool("c-rg", "plain", "gpu", inSubnet(nodes1, "1"))
	if re := respErr(t, err); re.ErrorCode != "InvalidParameter" || !strings.Contains(re.Error(), "The Agentpool system does not have subnet defined.") {
		t.Fatalf("pool in a subnet of a cluster without: %v", err)
	}
}
