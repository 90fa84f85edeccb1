package computefront

// Managed instance groups of GKE node pools.
//
// A GKE node pool's nodes are a zonal managed instance group per zone,
// named gke-<cluster, 14 characters>-<pool, 14>-<8 hex>-grp
// (InstanceGroupManagerName; gkefront reports it in the node pool's
// instanceGroupUrls), whose instances are the engine pool's machines
// (cloudsim.Node: name = instance name, which starts with the group's
// name less "-grp"; id = InstanceID). The groups are read from the
// engine, not stored: they exist while their pool does.
//
//   - listManagedInstances (POST, no body): managedInstances with
//     instance (URL), id, name, instanceStatus and currentAction
//     (PROVISIONING/CREATING until the machine has booted, then
//     RUNNING/NONE) and targetStatus RUNNING
//     (https://cloud.google.com/compute/docs/reference/rest/v1/instanceGroupManagers/listManagedInstances).
//   - recreateInstances (POST {"instances": [URL or
//     "zones/{z}/instances/{name}", ...]}, at most 1000): each instance of
//     the group is replaced by the engine (Engine.ReplaceNode: a fresh
//     machine boots, the group keeps its target size); the answer is a
//     zonal operation of type "recreateInstances" on the group, DONE after
//     Options.OperationTime, as GCE marks it DONE once the instances are
//     flagged
//     (https://cloud.google.com/compute/docs/reference/rest/v1/instanceGroupManagers/recreateInstances).
//     An empty list, or an instance reference that is not an instance
//     URL, is 400 invalid; an instance that is not in the group is 404
//     notFound on the instance (GCE's wording for a missing resource;
//     cloudsim's choice, GCE's answer for a non-member is not
//     documented), and nothing is recreated.
//
// A group that does not exist (no pool in the zone has its name) is 404
// notFound. Engine operations: recreateInstances -> ReplaceNode per
// instance (and CreateComputeOperation); listManagedInstances reads the
// inventory and is never throttled.

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// InstanceGroupManagerName is the managed instance group of a GKE node
// pool, as GKE names it: gke-<cluster>-<pool>-<8 hex>-grp, cluster and
// pool cut to 14 characters, the hex derived from the engine pool's ID
// (the machines' names share the prefix, see cloudsim.Node).
func InstanceGroupManagerName(p cloudsim.Pool) string {
	return fmt.Sprintf("gke-%s-%s-%s-grp", trunc(p.Spec.Cluster, 14), trunc(p.Spec.Name, 14), poolHash(p))
}

// poolHash is the 8 hex digits of a pool's names: those of the SHA-1 of
// the engine pool's ID, as the engine names the pool's GKE machines.
func poolHash(p cloudsim.Pool) string {
	h := sha1.Sum([]byte(p.ID))
	return hex.EncodeToString(h[:4])
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// serveZonal answers the zonal calls other than operations.
func (s *server) serveZonal(w http.ResponseWriter, q *request) {
	if q.coll != "instanceGroupManagers" || q.name == "" || q.r.Method != http.MethodPost ||
		(q.verb != "listManagedInstances" && q.verb != "recreateInstances") {
		writeError(w, &apiError{Code: http.StatusNotFound, Reason: "notFound", Message: "The requested URL " + q.r.URL.Path + " was not found on this server."})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	pool, ok := s.instanceGroup(q.zone, q.name)
	if !ok {
		writeError(w, notFound(q.path()))
		return
	}
	var (
		out any
		err error
	)
	if q.verb == "listManagedInstances" {
		out, err = s.listManagedInstances(q, pool)
	} else {
		out, err = s.recreateInstances(q, pool)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// instanceGroup finds the GKE node pool whose group in zone is name.
func (s *server) instanceGroup(zone, name string) (cloudsim.Pool, bool) {
	for _, p := range s.e.Inventory().Pools {
		if p.Cloud == cloudName && p.Spec.Zone == zone && p.DeleteAt == nil && InstanceGroupManagerName(p) == name {
			return p, true
		}
	}
	return cloudsim.Pool{}, false
}

func (s *server) listManagedInstances(q *request, p cloudsim.Pool) (any, error) {
	now := s.e.Now()
	resp := &computepb.InstanceGroupManagersListManagedInstancesResponse{}
	for _, n := range p.Nodes {
		status, action := "RUNNING", "NONE"
		if !n.Ready(now) {
			status, action = "PROVISIONING", "CREATING"
		}
		resp.ManagedInstances = append(resp.ManagedInstances, &computepb.ManagedInstance{
			Instance: proto.String(q.base + zoneRel(q.project, q.zone) + "/instances/" + n.Name),
			Id:       proto.Uint64(numericID("instance", n.InstanceID)), Name: proto.String(n.Name),
			InstanceStatus: proto.String(status), CurrentAction: proto.String(action), TargetStatus: proto.String("RUNNING"),
		})
	}
	return marshal(resp)
}

func (s *server) recreateInstances(q *request, p cloudsim.Pool) (any, error) {
	var body struct {
		Instances []string `json:"instances"`
	}
	if q.r.Body != nil {
		if err := json.NewDecoder(q.r.Body).Decode(&body); err != nil {
			return nil, invalidf("Invalid JSON payload received. %v", err)
		}
	}
	if len(body.Instances) == 0 || len(body.Instances) > 1000 {
		return nil, invalidField("resource.instances", "", "Between 1 and 1000 instances must be specified.")
	}
	var names []string
	for _, ref := range body.Instances {
		name, zone, ok := instanceRef(ref)
		if !ok {
			return nil, invalidField("resource.instances", ref, "Must be an instance URL or 'zones/[ZONE]/instances/[INSTANCE_NAME]'.")
		}
		rel := zoneRel(q.project, zone) + "/instances/" + name
		member := zone == q.zone
		if member {
			member = false
			for _, n := range p.Nodes {
				member = member || n.Name == name
			}
		}
		if !member {
			return nil, notFound(rel)
		}
		names = append(names, name)
	}
	for _, name := range names {
		if err := s.e.ReplaceNode(cloudName, p.Spec.Region, p.Spec.Cluster, p.Spec.Name, name); err != nil {
			return nil, engineError(err, zoneRel(q.project, q.zone)+"/instances/"+name, false)
		}
	}
	return s.startOp(q, "recreateInstances", q.path(), numericID("igm", q.project, q.zone, q.name), nil)
}

// instanceRef reads an instance reference: a URL (any host) or a partial
// path ending in zones/{zone}/instances/{name}.
func instanceRef(ref string) (name, zone string, ok bool) {
	segs := strings.Split(strings.Trim(ref, "/"), "/")
	n := len(segs)
	if n < 4 || segs[n-2] != "instances" || segs[n-4] != "zones" || segs[n-1] == "" || segs[n-3] == "" {
		return "", "", false
	}
	return segs[n-1], segs[n-3], true
}
