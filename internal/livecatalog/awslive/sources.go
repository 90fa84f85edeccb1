// Package awslive asks AWS's own APIs for the live catalog: Price List
// on-demand prices (Pricing), spot prices per zone (SpotPrices), where
// instance types are offered, the GPU quotas and spot placement scores
// (Availability), and the capacity reservations and Capacity Blocks an
// account holds or can buy (Reservations). It links the AWS SDK, so the
// provider process does not import it: the gpufleet-aws helper
// (internal/cloud/awsremote) builds these sources from the plain data of
// livecatalog.AWSSourcesConfig.
package awslive

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/livecatalog"
)

var _ livecatalog.AWSSources = Sources

// Sources builds the AWS sources of c: Pricing and SpotPrices, Availability,
// and Reservations (on c.ReservationsEC2 when set), all of c.Catalog,
// signing with c.Credentials when set, else with the run's credentials.
func Sources(c livecatalog.AWSSourcesConfig) livecatalog.AWSSourceSet {
	var creds aws.CredentialsProvider
	if c.Credentials.Set() {
		creds = credentials.NewStaticCredentialsProvider(c.Credentials.AccessKeyID, c.Credentials.SecretAccessKey, "")
	}
	cfg := Config{Catalog: c.Catalog, Endpoints: c.Endpoints, Credentials: creds}
	reservations := cfg
	if c.ReservationsEC2 != "" {
		reservations.Endpoints.EC2 = c.ReservationsEC2
	}
	return livecatalog.AWSSourceSet{
		Prices:       []livecatalog.PriceSource{&Pricing{Config: cfg}, &SpotPrices{Config: cfg}},
		Availability: []livecatalog.AvailabilitySource{&Availability{Config: cfg}},
		Reservations: []livecatalog.ReservationSource{&Reservations{Config: reservations}},
	}
}
