package azurefront

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// Kinds of the front end's tables besides the networks' (network_store.go).
const (
	kindRG             = "ResourceGroup"
	kindClusterMeta    = "ClusterMeta"
	kindPoolMeta       = "AgentPoolMeta"
	kindOperation      = "AzureOperation"
	kindRoleAssignment = "RoleAssignment"
	kindCRG            = "CapacityReservationGroup"
)

// rgRecord is a resource group (rows named by the lower-case name).
type rgRecord struct {
	Name     string            `json:"name"` // as created
	Location string            `json:"location"`
	Tags     map[string]string `json:"tags"`
}

// tables are the front end's own resources and records (besides the
// networks'): resource groups, role assignments and capacity reservation
// groups, and the records of what the engine models (managed cluster and
// agent pool metadata, PUT operations; bookkeeping). Each row's resource
// group (lower case) is the first part of its name, or of the record.
type tables struct {
	groups   *cloudsim.Table[rgRecord]       // rows rg
	clusters *cloudsim.Table[clusterMeta]    // rows rg/cluster
	pools    *cloudsim.Table[poolMeta]       // rows rg/cluster/pool
	ops      *cloudsim.Table[opRecord]       // rows by operation ID
	roles    *cloudsim.Table[roleAssignment] // rows by lower-case name
	crgs     *cloudsim.Table[crgMeta]        // rows rg/name, lower case
}

// openTables opens the tables. A world of the version before them kept
// each as engine objects of the table's kind with attrs "rg" and "json"
// (the record), except resource groups (attrs name, location, tags as
// JSON) and operations (attrs op, rg, resourceGroup, cluster, pool,
// location, start): those move into the tables.
func openTables(e *cloudsim.Engine) tables {
	return tables{
		groups: cloudsim.NewTable[rgRecord](e, cloudName, kindRG, cloudsim.TableOptions{Legacy: func(o cloudsim.Object) (any, bool, error) {
			if o.Kind != kindRG {
				return nil, false, nil
			}
			g := &rgRecord{Name: o.Attrs["name"], Location: o.Attrs["location"], Tags: map[string]string{}}
			if t := o.Attrs["tags"]; t != "" {
				if err := json.Unmarshal([]byte(t), &g.Tags); err != nil {
					return nil, true, err
				}
			}
			return g, true, nil
		}}),
		clusters: cloudsim.NewRecordTable[clusterMeta](e, cloudName, kindClusterMeta),
		pools:    cloudsim.NewRecordTable[poolMeta](e, cloudName, kindPoolMeta),
		ops: cloudsim.NewTable[opRecord](e, cloudName, kindOperation, cloudsim.TableOptions{Bookkeeping: true, Legacy: func(o cloudsim.Object) (any, bool, error) {
			if o.Kind != kindOperation {
				return nil, false, nil
			}
			a := o.Attrs
			start, err := time.Parse(time.RFC3339Nano, a["start"])
			if err != nil {
				return nil, true, err
			}
			return &opRecord{Op: a["op"], RG: a["rg"], ResourceGroup: a["resourceGroup"], Cluster: a["cluster"], Pool: a["pool"],
				Location: a["location"], Start: start}, true, nil
		}}),
		roles: cloudsim.NewTable[roleAssignment](e, cloudName, kindRoleAssignment, cloudsim.TableOptions{Legacy: cloudsim.LegacyJSON[roleAssignment](kindRoleAssignment)}),
		crgs:  cloudsim.NewTable[crgMeta](e, cloudName, kindCRG, cloudsim.TableOptions{Legacy: cloudsim.LegacyJSON[crgMeta](kindCRG)}),
	}
}

// rgOfRow is the resource group (lower case) of a row named rg/….
func rgOfRow(name string) string {
	rg, _, _ := strings.Cut(name, "/")
	return rg
}
