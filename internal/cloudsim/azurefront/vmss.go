package azurefront

// Virtual machine scale set VMs of AKS agent pools (Microsoft.Compute).
//
// An agent pool's nodes are the VMs of a scale set in the cluster's node
// resource group; the simulated VMs are the engine pool's machines, and a
// VM's resource ID is its node's provider ID without the "azure://"
// scheme (cloudsim.Node.ProviderID, compared case-insensitively, as ARM
// compares resource IDs).
//
//	POST /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachineScaleSets/{vmss}/virtualMachines/{instanceId}/redeploy
//	GET  /subscriptions/{sub}/providers/Microsoft.Compute/locations/{loc}/operations/{id}
//
// redeploy "shuts down the virtual machine in the virtual machine scale
// set, moves it to a new node, and powers it back on"
// (https://learn.microsoft.com/en-us/rest/api/compute/virtual-machine-scale-set-vms/redeploy):
// the engine replaces the machine (Engine.ReplaceNode: the pool keeps its
// size, the new machine boots for the engine's pool create time; unlike
// Azure, the engine gives it a new name and instance ID). The answer is
// 202 with Azure-AsyncOperation (.../locations/{loc}/operations/{id}) and
// Location (the same with monitor=true); the operation reads Succeeded
// (the engine models the reboot on the machine instead), its Location 200
// with no body. A VM that no pool has is 404 ResourceNotFound ("The
// Resource 'Microsoft.Compute/virtualMachineScaleSets/{vmss}/virtualMachines/{id}'
// under resource group '{rg}' was not found."). Engine operations:
// redeploy -> ReplaceNode.

import (
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// isComputePath reports the Microsoft.Compute calls above.
func isComputePath(q *req) bool {
	n := len(q.segs)
	return (n == 11 && q.seg(2, "resourceGroups") && q.seg(4, "providers") && q.seg(5, "Microsoft.Compute") &&
		q.seg(6, "virtualMachineScaleSets") && q.seg(8, "virtualMachines")) ||
		(n == 8 && q.seg(2, "providers") && q.seg(3, "Microsoft.Compute") && q.seg(4, "locations") && q.seg(6, "operations"))
}

func (s *server) serveCompute(q *req) (reply, error) {
	if len(q.segs) == 8 {
		if q.r.Method != http.MethodGet {
			return reply{}, newErr(405, "MethodNotAllowed", "cloudsim: method %s is not supported on operations", q.r.Method)
		}
		return s.computeOperation(q, q.segs[5], q.segs[7])
	}
	if !q.seg(10, "redeploy") || q.r.Method != http.MethodPost {
		return reply{}, newErr(404, "NotFound", "cloudsim: no route for %s %s", q.r.Method, q.r.URL.Path)
	}
	return s.redeploy(q)
}

// vmssNode finds the engine machine whose provider ID is the VM's ID.
func (s *server) vmssNode(id string) (cloudsim.Pool, cloudsim.Node, bool) {
	for _, p := range s.e.Inventory().Pools {
		if p.Cloud != cloudName {
			continue
		}
		for _, n := range p.Nodes {
			if strings.EqualFold(strings.TrimPrefix(n.ProviderID, "azure://"), id) {
				return p, n, true
			}
		}
	}
	return cloudsim.Pool{}, cloudsim.Node{}, false
}

func (s *server) redeploy(q *req) (reply, error) {
	rg, vmss, instance := q.segs[3], q.segs[7], q.segs[9]
	id := "/subscriptions/" + q.sub + "/resourceGroups/" + rg + "/providers/Microsoft.Compute/virtualMachineScaleSets/" + vmss + "/virtualMachines/" + instance
	p, n, ok := s.vmssNode(id)
	if !ok {
		return reply{}, newErr(404, "ResourceNotFound", "The Resource 'Microsoft.Compute/virtualMachineScaleSets/%s/virtualMachines/%s' under resource group '%s' was not found.",
			vmss, instance, rg)
	}
	if err := s.e.ReplaceNode(cloudName, p.Spec.Region, p.Spec.Cluster, p.Spec.Name, n.Name); err != nil {
		return reply{}, err
	}
	op := strconv.FormatInt(s.now().UnixNano(), 16) + "-" + strings.ReplaceAll(newID(), "-", "")[:12]
	base := q.base + "/subscriptions/" + q.sub + "/providers/Microsoft.Compute/locations/" + p.Spec.Region + "/operations/" + op
	return reply{status: http.StatusAccepted, header: map[string]string{
		"Azure-AsyncOperation": base + "?api-version=" + q.apiVersion,
		"Location":             base + "?monitor=true&api-version=" + q.apiVersion,
	}}, nil
}

// computeOperation answers a redeploy's operation: Succeeded since its
// start (the hex nanoseconds before the dash).
func (s *server) computeOperation(q *req, loc, id string) (reply, error) {
	start, rest, ok := strings.Cut(id, "-")
	ns, err := strconv.ParseInt(start, 16, 64)
	if _, herr := hex.DecodeString(rest); !ok || err != nil || herr != nil || len(rest) != 12 {
		return reply{}, newErr(404, "NotFound", "The operation '%s' in location '%s' was not found.", id, loc)
	}
	if q.r.URL.Query().Get("monitor") == "true" {
		return reply{status: http.StatusOK}, nil
	}
	t := time.Unix(0, ns).UTC().Format(time.RFC3339Nano)
	return reply{status: http.StatusOK, body: map[string]any{"name": id, "status": "Succeeded", "startTime": t, "endTime": t}}, nil
}
