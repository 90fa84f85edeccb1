package provider

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/simserve"
)

// interruptingServer cancels the context of the first apply of one
// resource type once when() holds, as Terraform does on Ctrl-C (it stops
// the provider, which cancels the requests in flight).
type interruptingServer struct {
	tfprotov6.ProviderServer
	typeName string
	when     func() bool
	fired    *atomic.Bool
}

func (s interruptingServer) ApplyResourceChange(ctx context.Context, req *tfprotov6.ApplyResourceChangeRequest) (*tfprotov6.ApplyResourceChangeResponse, error) {
	if req.TypeName != s.typeName || s.fired.Load() {
		return s.ProviderServer.ApplyResourceChange(ctx, req)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		for !s.when() {
			select {
			case <-ctx.Done():
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
		s.fired.Store(true)
		cancel()
	}()
	return s.ProviderServer.ApplyResourceChange(ctx, req)
}

func interruptingFactories(typeName string, when func() bool) map[string]func() (tfprotov6.ProviderServer, error) {
	fired := &atomic.Bool{}
	return map[string]func() (tfprotov6.ProviderServer, error){
		"gpufleet": func() (tfprotov6.ProviderServer, error) {
			srv, err := providerserver.NewProtocol6WithError(New("test", simserve.InProcess)())()
			if err != nil {
				return nil, err
			}
			return interruptingServer{ProviderServer: srv, typeName: typeName, when: when, fired: fired}, nil
		},
	}
}

// TestAccPool_interrupted: an apply cancelled while its node pools are
// being created records the pool that exists with a warning instead of
// failing (the resource is not tainted; a pool whose create call was
// cancelled is recorded too, as it may exist, and the next refresh drops it
// when it does not); the next apply creates only what is missing and keeps
// the recorded pool.
func TestAccPool_interrupted(t *testing.T) {
	w := newSimWorld(t)
	const az2Key = "aws/eu-north-1/eun1-az2/p5.48xlarge/on_demand"
	var firstID atomic.Value
	poolExists := func() bool {
		for _, p := range w.engine(t).Inventory().Pools {
			if p.Spec.Name == poolName(northKey) {
				firstID.Store(p.ID)
				return true
			}
		}
		return false
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: interruptingFactories("gpufleet_pool", poolExists),
		CheckDestroy:             w.noLeaks(t),
		Steps: []resource.TestStep{
			{
				// The second allocation (eun1-az2) keeps failing with 5xx
				// while the first pool is created: the apply is cancelled
				// before the second allocation gives up.
				PreConfig: func() {
					if err := w.engine(t).Inject(cloudsim.Fault{Cloud: "aws", Op: "CreateNodePool", Target: cloudsim.Target{Zone: "eun1-az2"}, Times: 1000,
						Err: &cloud.Error{Kind: cloud.KindTransient, Cloud: "aws", Op: "CreateNodePool", Code: "ServiceUnavailableException", Message: "try again"}}); err != nil {
						t.Fatal(err)
					}
				},
				Config:             w.config(24, `{}`),
				ExpectNonEmptyPlan: true,

				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("gpufleet_pool.train", tfjsonpath.New("pools").AtMapKey(northKey).AtMapKey("name"),
						knownvalue.StringExact(poolName(northKey))),
				},
			},
			{
				PreConfig: func() {
					if err := w.engine(t).ClearFaults(); err != nil {
						t.Fatal(err)
					}
				},
				Config: w.config(24, `{}`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("gpufleet_pool.train", plancheck.ResourceActionUpdate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("gpufleet_pool.train", tfjsonpath.New("pools"), knownvalue.MapSizeExact(2)),
					statecheck.ExpectKnownValue("gpufleet_pool.train", tfjsonpath.New("pools").AtMapKey(az2Key).AtMapKey("status"), knownvalue.StringExact("active")),
				},
				Check: func(*terraform.State) error {
					for _, p := range w.engine(t).Inventory().Pools {
						if p.Spec.Name == poolName(northKey) && p.ID != firstID.Load() {
							return fmt.Errorf("the interrupted apply's pool was re-created: %s, was %v", p.ID, firstID.Load())
						}
					}
					return nil
				},
			},
		},
	})
}
