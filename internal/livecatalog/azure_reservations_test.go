package livecatalog

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v3"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	azbackend "github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/azure"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/azurefront"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// TestAzureReservations lists two groups over loopback (a zonal one with
// an H100 and an A100 reservation, one of whose VMs run in a pool, and a
// regional one): one reserved offer per reservation with its free
// instances and the group's short name, and ReservationSources has the
// source once a subscription is set.
func TestAzureReservations(t *testing.T) {
	ctx := context.Background()
	e, err := cloudsim.New(cloudsim.Config{AzureSubscription: azureTestSub})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(azurefront.New(e, azurefront.Options{SubscriptionID: azureTestSub}))
	t.Cleanup(srv.Close)
	opts, cred, err := azureClientOptions(arm.ClientOptions{}, srv.URL, srv.Client(), azbackend.StaticToken("cloudsim"))
	if err != nil {
		t.Fatal(err)
	}
	rgs, err := armresources.NewResourceGroupsClient(azureTestSub, cred, &opts)
	if err != nil {
		t.Fatal(err)
	}
	c, err := azbackend.NewReservationClients(azureTestSub, cred, &opts)
	if err != nil {
		t.Fatal(err)
	}
	put := func(rg, group, name, size, zone string, n int64) {
		t.Helper()
		r := armcompute.CapacityReservation{Location: to.Ptr("westeurope"), SKU: &armcompute.SKU{Name: to.Ptr(size), Capacity: to.Ptr(n)}}
		if zone != "" {
			r.Zones = []*string{to.Ptr(zone)}
		}
		p, err := c.Reservations.BeginCreateOrUpdate(ctx, rg, group, name, r, nil)
		if err == nil {
			_, err = p.PollUntilDone(ctx, nil)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, g := range []struct {
		rg, name string
		zones    []*string
	}{{"ml.prod", "h100s", []*string{to.Ptr("1"), to.Ptr("2")}}, {"ml.prod", "regional", nil}} {
		if _, err := rgs.CreateOrUpdate(ctx, g.rg, armresources.ResourceGroup{Location: to.Ptr("westeurope")}, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Groups.CreateOrUpdate(ctx, g.rg, g.name, armcompute.CapacityReservationGroup{Location: to.Ptr("West Europe"), Zones: g.zones}, nil); err != nil {
			t.Fatal(err)
		}
	}
	put("ml.prod", "h100s", "h100-z1", "Standard_ND96isr_H100_v5", "1", 4)
	put("ml.prod", "h100s", "a100-z2", "Standard_NC24ads_A100_v4", "2", 2)
	put("ml.prod", "regional", "h100", "Standard_ND96isr_H100_v5", "", 1)
	// One VM of a pool in h100-z1.
	if _, err := e.CreateCluster("azure", cloud.ClusterSpec{Name: "c1", Region: "westeurope"}); err != nil {
		t.Fatal(err)
	}
	group := "/subscriptions/" + azureTestSub + "/resourceGroups/ml.prod/providers/Microsoft.Compute/capacityReservationGroups/h100s"
	if _, err := e.CreateNodePool("azure", cloud.NodePoolSpec{Cluster: "c1", Region: "westeurope", Name: "p", InstanceType: "Standard_ND96isr_H100_v5",
		Zone: "1", CapacityType: "reserved", Nodes: 1, Reservation: &cloud.Reservation{ID: group + "/capacityReservations/h100-z1"}},
		cloudsim.PoolOptions{GPUsPerNode: 8}); err != nil {
		t.Fatal(err)
	}

	sources := ReservationSources(SourcesConfig{Clouds: []string{"azure"}, AzureSubscriptionID: azureTestSub, AzureEndpoint: srv.URL,
		AzureHTTPClient: srv.Client(), AzureCredential: cred})
	if len(sources) != 1 || sources[0].Cloud() != "azure" {
		t.Fatalf("ReservationSources: %v", sources)
	}
	if len(ReservationSources(SourcesConfig{Clouds: []string{"azure"}})) != 0 {
		t.Fatal("a source without a subscription")
	}
	offers, err := sources[0].Capacity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range offers {
		if strings.Contains(o.ReservationID, "/") {
			t.Errorf("offer %s: reservation ID with '/'", o.ID())
		}
		if o.CapacityType != planner.Reserved || o.PriceUSDHour != 0 {
			t.Errorf("offer %+v", o)
		}
		got = append(got, o.ID()+" free "+string(rune('0'+o.MaxNodes)))
		id, err := azbackend.ReservationGroupID(azureTestSub, o.ReservationID)
		if err != nil || !strings.HasPrefix(id, "/subscriptions/"+azureTestSub+"/resourceGroups/ml.prod/providers/Microsoft.Compute/capacityReservationGroups/") {
			t.Errorf("reservation %s maps to %q, %v", o.ReservationID, id, err)
		}
	}
	want := []string{
		"azure/westeurope//Standard_ND96isr_H100_v5/reserved/ml.prod:regional free 1",
		"azure/westeurope/1/Standard_ND96isr_H100_v5/reserved/ml.prod:h100s free 3",
		"azure/westeurope/2/Standard_NC24ads_A100_v4/reserved/ml.prod:h100s free 2",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("offers:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, err := (&AzureReservations{}).Capacity(ctx); err == nil || !strings.Contains(err.Error(), "subscription is required") {
		t.Fatalf("no subscription: %v", err)
	}
}
