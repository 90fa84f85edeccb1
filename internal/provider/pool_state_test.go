package provider

import (
	"context"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/simserve"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/fleet"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// poolStateBeforeReservations is a gpufleet_pool instance's attributes as
// the provider wrote them before pools recorded reservation_id and before
// purchase_capacity_blocks existed.
const poolStateBeforeReservations = `{
  "allocations": [{"capacity_type": "reserved", "cloud": "aws", "fabric": "efa", "gpu_memory_gib": 80, "gpu_model": "H100", "gpus": 16,
    "gpus_per_node": 8, "hourly_usd": 0, "instance_type": "p5.48xlarge", "interconnect": "nvswitch",
    "key": "aws/eu-central-1/euc1-az1/p5.48xlarge/reserved/cr-0123456789abcdef0", "nodes": 2, "price_usd_hour": 0,
    "region": "eu-central-1", "site": "aws/eu-central-1", "zone": "euc1-az1"}],
  "bootstrap": null,
  "clusters": {"aws/eu-central-1": "aws/eu-central-1/gpufleet-aws-eu-central-1"},
  "failover": true,
  "fallbacks": null,
  "hourly_cost_usd": 0,
  "id": "gpus=16",
  "labels": null,
  "max_node_replacements": 2,
  "placement": "gpus=16",
  "pools": {"aws/eu-central-1/euc1-az1/p5.48xlarge/reserved/cr-0123456789abcdef0": {"capacity_type": "reserved", "cloud": "aws",
    "cluster": "gpufleet-aws-eu-central-1", "failed_over": false, "gpus_per_node": 8, "hourly_usd": 0, "instance_type": "p5.48xlarge",
    "name": "gpufleet-0f1e2d3c4b5a", "nodes": 2, "offer": "aws/eu-central-1/euc1-az1/p5.48xlarge/reserved/cr-0123456789abcdef0",
    "ready_nodes": 2, "region": "eu-central-1", "status": "ACTIVE", "validated_nodes": 2, "zone": "euc1-az1"}},
  "taints": null,
  "total_gpus": 16,
  "total_nodes": 2,
  "validated_gpus": 16,
  "validation_failures": [],
  "validation_timeout": "20m",
  "wait_for_validation": true
}`

// TestPoolStateBeforeReservations: state written by the previous provider
// version reads through the provider's own UpgradeResourceState (the
// path Terraform takes for every stored state): the new reservation_id of
// each pool is null and the pool still targets the reservation its key
// names; purchase_capacity_blocks is null (false).
func TestPoolStateBeforeReservations(t *testing.T) {
	ctx := context.Background()
	srv, err := providerserver.NewProtocol6WithError(New("test", simserve.InProcess)())()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{}); err != nil {
		t.Fatal(err)
	}
	resp, err := srv.UpgradeResourceState(ctx, &tfprotov6.UpgradeResourceStateRequest{TypeName: "gpufleet_pool", Version: 0,
		RawState: &tfprotov6.RawState{JSON: []byte(poolStateBeforeReservations)}})
	if err != nil || len(resp.Diagnostics) > 0 {
		t.Fatalf("upgrade: %v %+v", err, resp.Diagnostics)
	}
	var sr resource.SchemaResponse
	(&PoolResource{}).Schema(ctx, resource.SchemaRequest{}, &sr)
	v, err := resp.UpgradedState.Unmarshal(sr.Schema.Type().TerraformType(ctx))
	if err != nil {
		t.Fatal(err)
	}
	var m poolModel
	if d := (tfsdk.State{Raw: v, Schema: sr.Schema}).Get(ctx, &m); d.HasError() {
		t.Fatalf("old state does not read: %v", d)
	}
	if !m.PurchaseCapacityBlocks.IsNull() {
		t.Errorf("purchase_capacity_blocks = %v, want null in old state", m.PurchaseCapacityBlocks)
	}
	var diags diag.Diagnostics
	pools := m.statePools(ctx, nil, &diags)
	if diags.HasError() || len(pools) != 1 {
		t.Fatalf("pools %+v: %v", pools, diags)
	}
	if p := pools[0]; p.Offer.ReservationID != "cr-0123456789abcdef0" || p.Offer.Nodes != 2 || p.Name != "gpufleet-0f1e2d3c4b5a" {
		t.Errorf("pool %+v, want it on cr-0123456789abcdef0 (from its key)", p)
	}
	// Written back, the pool records its reservation.
	m.setPools(ctx, pools, &diags)
	recorded := map[string]poolStateModel{}
	diags.Append(m.Pools.ElementsAs(ctx, &recorded, false)...)
	if diags.HasError() {
		t.Fatal(diags)
	}
	for _, p := range recorded {
		if p.ReservationID.ValueString() != "cr-0123456789abcdef0" {
			t.Errorf("reservation_id %v, want cr-0123456789abcdef0", p.ReservationID)
		}
	}
}

// TestAdoptReservedPool: an imported pool that the cloud says runs on a
// reservation is adopted on the reservation's offer, whose ID ends in it.
func TestAdoptReservedPool(t *testing.T) {
	p := fleet.Pool{Cluster: "c", Name: "gpufleet-0f1e2d3c4b5a", Offer: fleet.Offer{Cloud: "aws", Region: "eu-central-1", Nodes: 2}}
	np := cloud.NodePool{Spec: cloud.NodePoolSpec{Zone: "euc1-az1", InstanceType: "p5.48xlarge", CapacityType: "reserved",
		Reservation: &cloud.Reservation{ID: "cr-0123456789abcdef0"}}}
	adopt(&p, np, planner.Embedded())
	const key = "aws/eu-central-1/euc1-az1/p5.48xlarge/reserved/cr-0123456789abcdef0"
	if p.Allocation != key || p.Offer.Key != key || p.Offer.ReservationID != "cr-0123456789abcdef0" || p.Offer.GPUModel != "H100" {
		t.Fatalf("adopted %+v", p)
	}
}
