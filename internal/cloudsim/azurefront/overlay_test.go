package azurefront

import (
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v8"
)

// TestAzureCNIModes: node-subnet Azure CNI reserves maxPods+1 subnet
// addresses per node, so a /20 takes 36 nodes at 110 pods (400
// InsufficientSubnetSize past that, on create and on scale-up); Azure CNI
// Overlay takes pods from podCidr, which must be IPv4 and clear of the
// subnets and the service range, is reported back and cannot change; a
// node-subnet cluster upgrades to overlay in place.
func TestAzureCNIModes(t *testing.T) {
	ev := newEnv(t, "")
	ev.createRG("c-rg")
	ev.createRG("net-rg")
	site := ev.vnetIn("net-rg", "site", "10.20.0.0/16", 2)
	nodes1, nodes2 := site+"/subnets/nodes-1", site+"/subnets/nodes-2"
	const networkContributor = "4d97b98b-1d4f-4787-a291-c67834d212e7"
	cluster := func(name, mode, pods string) (armcontainerservice.ManagedCluster, error) {
		mc := byoCluster("10.20.64.0/20", "", systemProfile("system", nodes1))
		if mode != "" {
			mc.Properties.NetworkProfile.NetworkPluginMode = to.Ptr(armcontainerservice.NetworkPluginMode(mode))
		}
		if pods != "" {
			mc.Properties.NetworkProfile.PodCidr = to.Ptr(pods)
		}
		return ev.putCluster("c-rg", name, mc)
	}
	pool := func(n int32) armcontainerservice.AgentPool {
		p := gpuPool(n, []string{"2"}, false)
		p.Properties.VnetSubnetID = to.Ptr(nodes2)
		return p
	}
	wantErr := func(err error, status int, code, in string) {
		t.Helper()
		if re := respErr(t, err); re.StatusCode != status || re.ErrorCode != code || !strings.Contains(re.Error(), in) {
			t.Fatalf("error %v, want %d %s %q", err, status, code, in)
		}
	}

	// Node-subnet Azure CNI.
	mc, err := cluster("cni", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if st, code := ev.grant(t, site, "77777777-7777-4777-a777-777777777777", *mc.Identity.PrincipalID, networkContributor); st != 201 {
		t.Fatalf("grant: %d %s", st, code)
	}
	_, err = ev.createPool("c-rg", "cni", "big", pool(37))
	wantErr(err, 400, "InsufficientSubnetSize", "Pre-allocated IPs 4107 exceeds IPs available 4091")
	if _, err := ev.createPool("c-rg", "cni", "gpu", pool(36)); err != nil {
		t.Fatal(err)
	}
	_, err = ev.createPool("c-rg", "cni", "gpu", pool(37))
	wantErr(err, 400, "InsufficientSubnetSize", "overlay")
	_, err = ev.createPool("c-rg", "cni", "more", pool(1))
	wantErr(err, 400, "InsufficientSubnetSize", "")

	// Refused network profiles.
	for _, tt := range []struct{ name, mode, pods, in string }{
		{"pod range without overlay", "", "10.20.128.0/17", "only used with networkPlugin kubenet or networkPluginMode overlay"},
		{"pod range over a subnet", "overlay", "10.20.16.0/20", "overlaps with the subnet CIDR 10.20.16.0/20"},
		{"pod range over the services", "overlay", "10.20.64.0/18", "overlaps with the service CIDR"},
		{"pod range malformed", "overlay", "10.20.128.0", "networkProfile.podCidr"},
		{"unknown mode", "underlay", "", "networkPluginMode"},
	} {
		_, err := cluster("bad", tt.mode, tt.pods)
		if re := respErr(t, err); re.StatusCode != 400 || !strings.Contains(re.Error(), tt.in) {
			t.Fatalf("%s: %v", tt.name, err)
		}
	}

	// Overlay: nodes take one address each; the pod range is reported.
	mc, err = cluster("ovl", "overlay", "10.20.128.0/17")
	if err != nil {
		t.Fatal(err)
	}
	if np := mc.Properties.NetworkProfile; np.NetworkPluginMode == nil || *np.NetworkPluginMode != armcontainerservice.NetworkPluginModeOverlay ||
		np.PodCidr == nil || *np.PodCidr != "10.20.128.0/17" {
		t.Fatalf("network profile %+v", np)
	}
	if st, code := ev.grant(t, site, "88888888-8888-4888-a888-888888888888", *mc.Identity.PrincipalID, networkContributor); st != 201 {
		t.Fatalf("grant: %d %s", st, code)
	}
	if _, err := ev.createPool("c-rg", "ovl", "big", pool(60)); err != nil {
		t.Fatalf("60 overlay nodes in a /20: %v", err)
	}
	_, err = cluster("ovl", "", "")
	wantErr(err, 400, "PropertyChangeNotAllowed", "networkPluginMode")
	_, err = cluster("ovl", "overlay", "10.21.0.0/16")
	wantErr(err, 400, "PropertyChangeNotAllowed", "podCidr")

	// Node-subnet CNI upgrades to overlay in place, and then fits more.
	if mc, err = cluster("cni", "overlay", "10.20.128.0/17"); err != nil || *mc.Properties.NetworkProfile.NetworkPluginMode != armcontainerservice.NetworkPluginModeOverlay {
		t.Fatalf("upgrade to overlay: %v", err)
	}
	if _, err := ev.createPool("c-rg", "cni", "more", pool(1)); err != nil {
		t.Fatalf("after the upgrade: %v", err)
	}
}
