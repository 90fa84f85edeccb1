// Command gpufleet-aws serves the provider's AWS backend (EKS clusters and
// node groups, VPC networking and VPN, capacity blocks, EKS tokens) and
// its AWS live sources (Price List, spot prices, availability and quotas,
// reservations) to the provider process, which links no AWS SDK so that
// its start, paid on every Terraform run, stays short (issue 14). The
// provider starts it on its first AWS call, from next to the provider
// binary or from PATH, and it ends with the provider
// (internal/cloud/awsremote).
//
//	gpufleet-aws serve   (the provider's greeting as a JSON line on stdin)
package main

import (
	"os"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/awsremote/awsserve"
)

func main() { os.Exit(awsserve.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
