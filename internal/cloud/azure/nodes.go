package azure

import (
	"context"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/lazyre"
)

var _ cloud.NodeReplacer = (*Backend)(nil)

// vmssProviderIDRE is an AKS node's spec.providerID: azure:// and the
// scale set VM's resource ID (fixed segments case-insensitive, as ARM).
var vmssProviderIDRE = lazyre.New(`(?i)^azure:///subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/Microsoft\.Compute/virtualMachineScaleSets/([^/]+)/virtualMachines/(\d+)$`)

// ReplaceNode redeploys the node's scale set VM: Azure shuts it down,
// moves it to another host and powers it back on, with its name, disks
// and place in the agent pool, so the pool keeps its size
// (https://learn.microsoft.com/en-us/rest/api/compute/virtual-machine-scale-set-vms/redeploy).
// It is the repair for bad hardware: AKS node auto-repair escalates to it
// after reboot and reimage
// (https://learn.microsoft.com/en-us/azure/aks/node-auto-repair).
// Deleting the VM (virtualMachineScaleSetVMs.delete, agentPools.deleteMachines)
// would shrink the pool instead.
//
// The VM must be in the subscription and in the pool's scale set (AKS
// names it aks-<agent pool>-<digits>-vmss): KindInvalid otherwise; a pool
// that is gone, or a VM the scale set does not have, is KindNotFound.
// ReplaceNode waits for the redeploy operation.
func (b *Backend) ReplaceNode(ctx context.Context, region, cluster, pool string, node cloud.NodeRef) error {
	const op = "ReplaceNode"
	m := vmssProviderIDRE().FindStringSubmatch(node.ProviderID)
	if m == nil {
		return cloud.Invalid("azure", op, "InvalidProviderID", "node %s: provider ID %q is not a scale set VM (azure:///subscriptions/…/virtualMachineScaleSets/…/virtualMachines/<id>)", node.Name, node.ProviderID)
	}
	sub, rg, vmss, instance := m[1], m[2], m[3], m[4]
	if !strings.EqualFold(sub, b.cfg.SubscriptionID) {
		return cloud.Invalid("azure", op, "OtherSubscription", "node %s is in subscription %s, not in %s", node.Name, sub, b.cfg.SubscriptionID)
	}
	ap := agentPoolName(pool)
	if _, err := b.pools.Get(ctx, resourceGroup(cluster), cluster, ap, nil); err != nil {
		return classify("GetNodePool", err)
	}
	if !strings.HasPrefix(strings.ToLower(vmss), "aks-"+ap+"-") {
		return cloud.Invalid("azure", op, "VMOfAnotherPool", "node %s is in scale set %s, not in agent pool %s (pool %s) of cluster %s", node.Name, vmss, ap, pool, cluster)
	}
	vms, err := armcompute.NewVirtualMachineScaleSetVMsClient(b.cfg.SubscriptionID, b.cred, &b.opts)
	if err != nil {
		return cloud.Fatal("azure", op, "Client", "%s", err.Error()).Caused(err)
	}
	poller, err := vms.BeginRedeploy(ctx, rg, vmss, instance, nil)
	if err != nil {
		return classify("RedeployVM", err)
	}
	if _, err := untilDone(ctx, b, "RedeployVM", poller); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return classify("RedeployVM", err)
	}
	return nil
}
