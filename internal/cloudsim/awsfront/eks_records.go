package awsfront

import "github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"

// Kinds of the front end's tables of its own records.
const (
	kindClusterMeta   = "ClusterMeta"
	kindNodegroupMeta = "NodegroupMeta"
)

// eksRecords are the front end's own records of EKS clusters and node groups
// (what EKS reports that the engine does not keep), one table each:
// bookkeeping about what the engine models.
type eksRecords struct {
	clusters   *cloudsim.Table[clusterMeta]   // rows region/cluster
	nodegroups *cloudsim.Table[nodegroupMeta] // rows region/cluster/nodegroup
}

// openEKSRecords opens the tables; a world of the version before them kept
// each record as an engine object of the table's kind (JSON in attrs
// "json"), which moves into the table.
func openEKSRecords(e *cloudsim.Engine) eksRecords {
	return eksRecords{
		clusters:   cloudsim.NewRecordTable[clusterMeta](e, cloudName, kindClusterMeta),
		nodegroups: cloudsim.NewRecordTable[nodegroupMeta](e, cloudName, kindNodegroupMeta),
	}
}
