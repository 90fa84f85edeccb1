package provider

import (
	"context"
	"fmt"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v3"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	azbackend "github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/azure"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/azurefront"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/simserve"
)

// crgWorld is the test's own Azure front end on w's engine (the state
// file the provider's simulated world uses), with the Compute and
// Resources clients of a capacity reservation group crg-rg/gpus.
type crgWorld struct {
	groups armresources.ResourceGroupsClient
	res    azbackend.ReservationClients
	id     string
}

func newCRGWorld(t *testing.T, w simWorld) crgWorld {
	t.Helper()
	srv := httptest.NewTLSServer(azurefront.New(w.engine(t), azurefront.Options{SubscriptionID: simserve.DefaultAzureSubscription}))
	t.Cleanup(srv.Close)
	opts := azbackend.EndpointOptions(arm.ClientOptions{}, srv.URL, srv.Client())
	opts.Retry = policy.RetryOptions{MaxRetries: -1}
	o := &opts
	cred := azbackend.StaticToken("test")
	rgs, err := armresources.NewResourceGroupsClient(simserve.DefaultAzureSubscription, cred, o)
	if err != nil {
		t.Fatal(err)
	}
	res, err := azbackend.NewReservationClients(simserve.DefaultAzureSubscription, cred, o)
	if err != nil {
		t.Fatal(err)
	}
	return crgWorld{groups: *rgs, res: res,
		id: "/subscriptions/" + simserve.DefaultAzureSubscription + "/resourceGroups/crg-rg/providers/Microsoft.Compute/capacityReservationGroups/gpus"}
}

// create makes the group with a reservation of n H100 VMs in zone 1.
func (c crgWorld) create(t *testing.T, n int64) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.groups.CreateOrUpdate(ctx, "crg-rg", armresources.ResourceGroup{Location: to.Ptr("westeurope")}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.res.Groups.CreateOrUpdate(ctx, "crg-rg", "gpus", armcompute.CapacityReservationGroup{Location: to.Ptr("westeurope"),
		Zones: []*string{to.Ptr("1")}}, nil); err != nil {
		t.Fatal(err)
	}
	p, err := c.res.Reservations.BeginCreateOrUpdate(ctx, "crg-rg", "gpus", "h100-z1", armcompute.CapacityReservation{Location: to.Ptr("westeurope"),
		SKU: &armcompute.SKU{Name: to.Ptr("Standard_ND96isr_H100_v5"), Capacity: to.Ptr(n)}, Zones: []*string{to.Ptr("1")}}, nil)
	if err == nil {
		_, err = p.PollUntilDone(ctx, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// allocated is the VMs in the group's reservation.
func (c crgWorld) allocated() (int, error) {
	rs, err := c.res.ReservationGroup(context.Background(), c.id)
	if err != nil || len(rs) != 1 {
		return 0, fmt.Errorf("reservation group: %v %+v", err, rs)
	}
	return rs[0].Allocated, nil
}

// remove deletes the reservation, the group and its resource group.
func (c crgWorld) remove() error {
	ctx := context.Background()
	p, err := c.res.Reservations.BeginDelete(ctx, "crg-rg", "gpus", "h100-z1", nil)
	if err == nil {
		_, err = p.PollUntilDone(ctx, nil)
	}
	if err != nil {
		return err
	}
	if _, err := c.res.Groups.Delete(ctx, "crg-rg", "gpus", nil); err != nil {
		return err
	}
	gp, err := c.groups.BeginDelete(ctx, "crg-rg", nil)
	if err != nil {
		return err
	}
	_, err = gp.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: 1})
	return err
}

// crgIdentity is the user-assigned identity crgConfig's cluster runs as
// (AKS uses no system-assigned identity for capacity reservation groups).
const crgIdentity = "/subscriptions/" + simserve.DefaultAzureSubscription + "/resourceGroups/ids/providers/Microsoft.ManagedIdentity/userAssignedIdentities/gpufleet"

// crgConfig is a 16-GPU placement on Azure with the catalog declaring
// two H100 VMs reserved in capacity reservation group crg-rg/gpus (zone
// 1), and its pool, on a cluster running as crgIdentity.
func crgConfig(w simWorld) string { return crgConfigAs(w, crgCluster) }

// crgCluster is the cluster setting of crgConfig.
var crgCluster = fmt.Sprintf("azure = { user_assigned_identity_id = %q }", crgIdentity)

// crgConfigAs is crgConfig with cluster settings (the cluster's azure
// attribute).
func crgConfigAs(w simWorld, cluster string) string {
	return fmt.Sprintf(`
provider "gpufleet" {
  simulate     = true
  simulate_dir = %q
  catalog {
    file = %q
    reservation {
      id            = "crg-rg:gpus"
      cloud         = "azure"
      region        = "westeurope"
      zone          = "1"
      instance_type = "Standard_ND96isr_H100_v5"
      count         = 2
    }
  }
}
resource "gpufleet_placement" "p" {
  gpus       = 16
  gpu_models = ["H100"]
  residency  = ["EU"]
  clouds     = ["azure"]
}
resource "gpufleet_cluster" "c" {
  site = "azure/westeurope"
  %s
}
resource "gpufleet_pool" "p" {
  placement   = gpufleet_placement.p.id
  allocations = gpufleet_placement.p.allocations
  fallbacks   = gpufleet_placement.p.fallbacks
  clusters    = { "azure/westeurope" = gpufleet_cluster.c.id }
}
`, w.dir, w.catalog, cluster)
}

// TestAccPool_azureCapacityReservation: a catalog reservation naming an
// Azure capacity reservation group ("resourceGroup:groupName") is planned
// first (already paid for), and the AKS agent pool the apply creates
// really sits in the group: its two VMs are the reservation's allocated
// VMs; the destroy frees them, and nothing is left behind.
func TestAccPool_azureCapacityReservation(t *testing.T) {
	t.Setenv(simTimeScaleEnv, "0.01")
	w := simWorld{dir: simDir(t), catalog: writeCatalog(t, "c.csv", gcpAzureRows)}
	crg := newCRGWorld(t, w)
	config := crgConfig(w)
	key := "azure/westeurope/1/Standard_ND96isr_H100_v5/reserved/crg-rg:gpus"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy: func(s *terraform.State) error {
			if n, err := crg.allocated(); err != nil || n != 0 {
				return fmt.Errorf("after destroy the reservation has %d VMs allocated (%v), want 0", n, err)
			}
			if err := crg.remove(); err != nil {
				return err
			}
			return w.noLeaks(t)(s)
		},
		Steps: []resource.TestStep{{
			PreConfig: func() { crg.create(t, 2) },
			Config:    config,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("gpufleet_pool.p", tfjsonpath.New("pools").AtMapKey(key), knownvalue.ObjectPartial(map[string]knownvalue.Check{
					"cloud": knownvalue.StringExact("azure"), "status": knownvalue.StringExact("active"), "nodes": knownvalue.Int64Exact(2),
				})),
				statecheck.ExpectKnownValue("gpufleet_cluster.c", tfjsonpath.New("azure").AtMapKey("user_assigned_identity_id"), knownvalue.StringExact(crgIdentity)),
			},
			Check: func(*terraform.State) error {
				if n, err := crg.allocated(); err != nil || n != 2 {
					return fmt.Errorf("the reservation has %d VMs allocated (%v), want the pool's 2", n, err)
				}
				return nil
			},
		}},
	})
}

// TestAccPool_azureCapacityReservationFailover: the reserved allocation
// is refused before anything is created, and the fleet fails over to the
// on-demand offer, leaving the group's slots free, when
//   - the catalog declares two reserved VMs but the group has room for
//     one (a capacity error naming the group), or
//   - the cluster has a system-assigned identity (no
//     azure.user_assigned_identity_id), which AKS does not use for
//     capacity reservation groups (the backend's error says what to set:
//     TestReservedPoolNeedsUserAssignedIdentity; it is shown in the
//     fallback warning).
func TestAccPool_azureCapacityReservationFailover(t *testing.T) {
	for _, tt := range []struct {
		name     string
		reserved int64
		cluster  string
	}{
		{"group has room for one", 1, crgCluster},
		{"system-assigned identity", 2, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(simTimeScaleEnv, "0.01")
			w := simWorld{dir: simDir(t), catalog: writeCatalog(t, "c.csv", gcpAzureRows)}
			crg := newCRGWorld(t, w)
			key := "azure/westeurope/1/Standard_ND96isr_H100_v5/reserved/crg-rg:gpus"
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
				CheckDestroy: func(s *terraform.State) error {
					if err := crg.remove(); err != nil {
						return err
					}
					return w.noLeaks(t)(s)
				},
				Steps: []resource.TestStep{{
					PreConfig: func() { crg.create(t, tt.reserved) },
					Config:    crgConfigAs(w, tt.cluster),
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue("gpufleet_pool.p", tfjsonpath.New("pools").AtMapKey(key), knownvalue.ObjectPartial(map[string]knownvalue.Check{
							"cloud": knownvalue.StringExact("azure"), "status": knownvalue.StringExact("active"), "failed_over": knownvalue.Bool(true),
							"capacity_type": knownvalue.StringExact("on_demand"),
						})),
					},
					Check: func(*terraform.State) error {
						if n, err := crg.allocated(); err != nil || n != 0 {
							return fmt.Errorf("the reservation has %d VMs allocated (%v), want none", n, err)
						}
						return nil
					},
				}},
			})
		})
	}
}

// TestAccCluster_azureIdentityInvalid: a malformed user-assigned identity
// ID, and Azure settings on another cloud's site, are refused at plan
// time on the attribute, saying what is accepted. (Plan only: nothing is
// created.)
func TestAccCluster_azureIdentityInvalid(t *testing.T) {
	w := newSimWorld(t)
	for _, tt := range []struct {
		name, site, id string
		want           *regexp.Regexp
	}{
		{"not a resource ID", "azure/westeurope", "gpufleet",
			regexp.MustCompile(`(?s)Invalid user-assigned identity ID.*azure\.user_assigned_identity_id: "gpufleet" is not.*/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft\.ManagedIdentity/userAssignedIdentities/<name>`)},
		{"another resource type", "azure/westeurope", "/subscriptions/s/resourceGroups/ids/providers/Microsoft.Compute/virtualMachines/gpufleet",
			regexp.MustCompile(`(?s)Invalid user-assigned identity ID.*Microsoft\.ManagedIdentity/userAssignedIdentities/<name>`)},
		{"not Azure", "aws/eu-north-1", crgIdentity, regexp.MustCompile(`(?s)Azure settings on a non-Azure site.*AKS clusters only`)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config: w.provider() + fmt.Sprintf(`
resource "gpufleet_cluster" "c" {
  site  = %q
  azure = { user_assigned_identity_id = %q }
}
`, tt.site, tt.id),
					PlanOnly:    true,
					ExpectError: tt.want,
				}},
			})
		})
	}
}

// TestAccCluster_azureIdentityImport: an AKS cluster running as a
// user-assigned identity reads back with it, so importing it with the
// configuration that names the identity plans nothing (no replacement).
func TestAccCluster_azureIdentityImport(t *testing.T) {
	w := newSimWorld(t)
	config := w.provider() + fmt.Sprintf(`
resource "gpufleet_cluster" "c" {
  site  = "azure/westeurope"
  azure = { user_assigned_identity_id = %q }
}
`, crgIdentity)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_5_0)},
		CheckDestroy:             w.noLeaks(t),
		Steps: []resource.TestStep{
			{Config: config, ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("gpufleet_cluster.c", tfjsonpath.New("azure").AtMapKey("user_assigned_identity_id"), knownvalue.StringExact(crgIdentity)),
			}},
			{
				Config:          config,
				ResourceName:    "gpufleet_cluster.c",
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithID,
				ImportStateId:   "azure/westeurope/gpufleet-azure-westeurope",
			},
		},
	})
}
