package awsfront

import (
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// legacyWorld writes a state file of the version before the tables (every
// network row an engine object with flat attrs) holding objs, and opens
// the front end over it.
func legacyWorld(t *testing.T, objs ...cloudsim.Object) (*cloudsim.Engine, *server) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "world.json")
	if err := cloudsim.WriteVersion1State(file, objs...); err != nil {
		t.Fatal(err)
	}
	e, err := cloudsim.New(cloudsim.Config{StateFile: file})
	if err != nil {
		t.Fatal(err)
	}
	return e, New(e, Options{}).(*server)
}

func old(kind, name string, kv ...string) cloudsim.Object {
	o := cloudsim.Object{Cloud: "aws", Kind: kind, Name: name, Attrs: map[string]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		o.Attrs[kv[i]] = kv[i+1]
	}
	return o
}

// A world written before the typed tables loads: every kind's objects move
// into its table and read back typed, the inventory lists the same kinds
// and names, and the API serves them.
func TestNetworkLegacyStateLoads(t *testing.T) {
	created := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	stamp := created.Format(time.RFC3339Nano)
	const vpc, conn = region + "/vpc-0123456789abcdef0", region + "/vpn-0123456789abcdef0"
	objs := []cloudsim.Object{
		old(kindVpc, vpc, "id", "vpc-0123456789abcdef0", "region", region, "cidr", "10.20.0.0/16", "main_rtb", "rtb-0123456789abcdef0",
			"cidr_association", "vpc-cidr-assoc-0123456789abcdef0", "created", stamp, "tag:Name", "a"),
		old(kindSubnet, region+"/subnet-0123456789abcdef0", "id", "subnet-0123456789abcdef0", "region", region, "vpc", "vpc-0123456789abcdef0",
			"cidr", "10.20.1.0/24", "zone", region+"a", "zone_id", "euc1-az1", "created", stamp),
		old(kindGroup, region+"/sg-0123456789abcdef0", "id", "sg-0123456789abcdef0", "region", region, "vpc", "vpc-0123456789abcdef0",
			"name", "g", "description", "d", "created", stamp),
		old(kindRule, region+"/sg-0123456789abcdef0/ingress/udp|500|500|10.0.0.0/8", "id", "sgr-0123456789abcdef0",
			"group", region+"/sg-0123456789abcdef0", "protocol", "udp", "from", "500", "to", "500", "cidr", "10.0.0.0/8", "description", ""),
		old(kindRouteTable, region+"/rtb-0123456789abcdef0", "id", "rtb-0123456789abcdef0", "region", region, "vpc", "vpc-0123456789abcdef0",
			"main", "true", "association", "rtbassoc-0123456789abcdef0", "created", stamp),
		old(kindRoute, region+"/rtb-0123456789abcdef0/10.30.0.0/16", "table", region+"/rtb-0123456789abcdef0", "dest", "10.30.0.0/16",
			"gateway", "vgw-0123456789abcdef0", "peering", ""),
		old(kindPropagate, region+"/rtb-0123456789abcdef0/vgw-0123456789abcdef0", "table", region+"/rtb-0123456789abcdef0", "gateway", "vgw-0123456789abcdef0"),
		old(kindVgw, region+"/vgw-0123456789abcdef0", "id", "vgw-0123456789abcdef0", "region", region, "type", "ipsec.1", "asn", "64512",
			"zone", "", "created", stamp),
		old(kindAttachment, region+"/vgw-0123456789abcdef0", "gateway", region+"/vgw-0123456789abcdef0", "gateway_id", "vgw-0123456789abcdef0",
			"vpc", "vpc-0123456789abcdef0", "created", stamp),
		old(kindCgw, region+"/cgw-0123456789abcdef0", "id", "cgw-0123456789abcdef0", "region", region, "type", "ipsec.1", "ip", "203.0.113.7",
			"asn", "4200000001", "device", "", "created", stamp),
		old(kindVpn, conn, "id", "vpn-0123456789abcdef0", "region", region, "type", "ipsec.1", "cgw", "cgw-0123456789abcdef0",
			"vgw", "vgw-0123456789abcdef0", "static_routes_only", "true", "created", stamp,
			"tunnel1_outside_ip", "198.18.0.1", "tunnel1_cidr", "169.254.10.0/30", "tunnel1_psk", "key1_abcdefgh",
			"tunnel2_outside_ip", "198.18.0.2", "tunnel2_cidr", "169.254.10.4/30", "tunnel2_psk", "key2_abcdefgh"),
		old(kindTunnelMod, conn+"/2", "connection", conn, "cidr", "169.254.11.0/30", "psk", "key3_abcdefgh", "modified", stamp),
		old(kindPeering, "global/pcx-0123456789abcdef0", "id", "pcx-0123456789abcdef0", "requester_region", region, "requester_vpc", "vpc-0123456789abcdef0",
			"requester_cidr", "10.20.0.0/16", "accepter_region", "eu-north-1", "accepter_vpc", "vpc-0123456789abcdef1", "accepter_cidr", "10.40.0.0/16",
			"failed", "", "created", stamp),
		old(kindAccept, "global/pcx-0123456789abcdef0", "peering", "global/pcx-0123456789abcdef0", "accepted", stamp),
		old(kindTag, vpc+"/team", "resource", vpc, "key", "team", "value", "ml"),
	}
	e, s := legacyWorld(t, objs...)
	w, err := s.world()
	if err != nil {
		t.Fatal(err)
	}
	id := func(id string) Identity { return Identity{ID: id, Region: region} }
	want := []struct {
		kind string
		got  any
		want any
	}{
		{kindVpc, w.vpcs.values(), []VPC{{Identity: Identity{ID: "vpc-0123456789abcdef0", Region: region, Tags: map[string]string{"Name": "a"}},
			CIDR: "10.20.0.0/16", MainRouteTable: "rtb-0123456789abcdef0", CIDRAssociation: "vpc-cidr-assoc-0123456789abcdef0", Created: created}}},
		{kindSubnet, w.subnets.values(), []Subnet{{Identity: id("subnet-0123456789abcdef0"), VPC: "vpc-0123456789abcdef0", CIDR: "10.20.1.0/24",
			Zone: region + "a", ZoneID: "euc1-az1"}}},
		{kindGroup, w.groups.values(), []SecurityGroup{{Identity: id("sg-0123456789abcdef0"), VPC: "vpc-0123456789abcdef0", Name: "g", Description: "d"}}},
		{kindRule, w.rules.values(), []SecurityGroupRule{{ID: "sgr-0123456789abcdef0", Group: region + "/sg-0123456789abcdef0", Protocol: "udp",
			From: "500", To: "500", CIDR: "10.0.0.0/8"}}},
		{kindRouteTable, w.routeTables.values(), []RouteTable{{Identity: id("rtb-0123456789abcdef0"), VPC: "vpc-0123456789abcdef0", Main: true,
			Association: "rtbassoc-0123456789abcdef0"}}},
		{kindRoute, w.routes.values(), []Route{{Table: region + "/rtb-0123456789abcdef0", Destination: "10.30.0.0/16", Gateway: "vgw-0123456789abcdef0"}}},
		{kindPropagate, w.propagations.values(), []RoutePropagation{{Table: region + "/rtb-0123456789abcdef0", Gateway: "vgw-0123456789abcdef0"}}},
		{kindVgw, w.vgws.values(), []VPNGateway{{Identity: id("vgw-0123456789abcdef0"), Type: "ipsec.1", AmazonSideASN: 64512, Created: created}}},
		{kindAttachment, w.attachments.values(), []VPCAttachment{{Gateway: region + "/vgw-0123456789abcdef0", GatewayID: "vgw-0123456789abcdef0",
			VPC: "vpc-0123456789abcdef0", Created: created}}},
		{kindCgw, w.cgws.values(), []CustomerGateway{{Identity: id("cgw-0123456789abcdef0"), Type: "ipsec.1", IP: "203.0.113.7", ASN: 4200000001}}},
		{kindVpn, w.vpns.values(), []VPNConnection{{Identity: id("vpn-0123456789abcdef0"), Type: "ipsec.1", CustomerGateway: "cgw-0123456789abcdef0",
			VPNGateway: "vgw-0123456789abcdef0", StaticRoutesOnly: true, Created: created, Tunnels: [2]VPNTunnel{
				{OutsideIP: "198.18.0.1", InsideCIDR: "169.254.10.0/30", PSK: "key1_abcdefgh"},
				{OutsideIP: "198.18.0.2", InsideCIDR: "169.254.10.4/30", PSK: "key2_abcdefgh"}}}}},
		{kindTunnelMod, w.tunnelMods.values(), []TunnelModification{{Connection: conn, InsideCIDR: "169.254.11.0/30", PSK: "key3_abcdefgh", Modified: created}}},
		{kindPeering, w.peerings.values(), []PeeringConnection{{Identity: Identity{ID: "pcx-0123456789abcdef0"},
			Requester: PeeringSide{region, "vpc-0123456789abcdef0", "10.20.0.0/16"}, Accepter: PeeringSide{"eu-north-1", "vpc-0123456789abcdef1", "10.40.0.0/16"},
			Created: created}}},
		{kindAccept, w.accepts.values(), []PeeringAcceptance{{Peering: "global/pcx-0123456789abcdef0", Accepted: created}}},
		{kindTag, w.tags, map[string]map[string]string{vpc: {"team": "ml"}}},
	}
	for _, k := range want {
		if !reflect.DeepEqual(k.got, k.want) {
			t.Errorf("%s rows:\n got %+v\nwant %+v", k.kind, k.got, k.want)
		}
	}
	// The inventory lists what the objects were: every kind and name, now
	// rows of the tables, and no object is left besides.
	var names, wantNames []string
	for _, o := range e.Inventory().Objects {
		if !o.Row {
			t.Errorf("%s %s is still an engine object", o.Kind, o.Name)
		}
		names = append(names, o.Kind+" "+o.Name)
	}
	for _, o := range objs {
		wantNames = append(wantNames, o.Kind+" "+o.Name)
	}
	slices.Sort(wantNames)
	if !slices.Equal(names, wantNames) {
		t.Errorf("inventory %v, want %v", names, wantNames)
	}
	// The typed accessor reports the connection with its tunnels as they
	// stand (the second modified).
	conns, err := VPNConnections(e)
	if err != nil || len(conns) != 1 || conns[0].Tunnels[1].PSK != "key3_abcdefgh" || conns[0].Tunnels[0].PSK != "key1_abcdefgh" ||
		!conns[0].Tunnels[1].Modified.Equal(created) || conns[0].TunnelEnd(2) != "vpn-0123456789abcdef0/2" {
		t.Errorf("VPNConnections: %+v, %v", conns, err)
	}
	if keys, err := TunnelKeys(e); err != nil || !slices.Equal(keys, []string{"key1_abcdefgh", "key2_abcdefgh", "key3_abcdefgh"}) {
		t.Errorf("TunnelKeys: %v, %v", keys, err)
	}
}

// A legacy object that does not read (a creation time that is not one)
// leaves the world as it was, and every request answers the unreadable
// state rather than a world without it.
func TestNetworkLegacyStateUnreadable(t *testing.T) {
	ev := newEnv(t, envConfig{stateFile: func() string {
		file := filepath.Join(t.TempDir(), "world.json")
		if err := cloudsim.WriteVersion1State(file, old(kindVgw, region+"/vgw-0123456789abcdef0", "id", "vgw-0123456789abcdef0",
			"region", region, "type", "ipsec.1", "asn", "64512", "created", "yesterday")); err != nil {
			t.Fatal(err)
		}
		return file
	}()})
	_, err := ev.ec2.DescribeVpnGateways(ctx, &ec2.DescribeVpnGatewaysInput{}, noRetryEC2)
	if err == nil || !strings.Contains(err.Error(), "yesterday") {
		t.Fatalf("describe over an unreadable world: %v", err)
	}
	if _, err := ev.ec2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.20.0.0/16")}, noRetryEC2); err == nil {
		t.Fatal("created a VPC in an unreadable world")
	}
	if o, ok := ev.e.LookupObject("aws", kindVgw, region+"/vgw-0123456789abcdef0"); !ok || o.Attrs["created"] != "yesterday" {
		t.Fatalf("the legacy object: %+v %v", o, ok)
	}
}
