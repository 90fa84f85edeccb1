package livecatalog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/awsconfig"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// The names of the AWS live sources, in provenance, warnings and cache
// files.
const (
	AWSPricingSource      = "aws-pricing"
	AWSSpotPricesSource   = "aws-spot-prices"
	AWSAvailabilitySource = "aws-availability"
	AWSReservationsSource = "aws-reservations"
)

// DefaultAWSPricingRegion is where the Price List Query API is called
// when no region is named.
const DefaultAWSPricingRegion = "us-east-1"

// AWSEndpoints override the SDK's endpoint per service (tests, proxies,
// the simulator in internal/cloudsim/pricefront). Empty fields keep the
// SDK's endpoints; the standard AWS_ENDPOINT_URL_<SERVICE> variables work
// too.
type AWSEndpoints struct {
	Pricing, EC2, ServiceQuotas string
	// STS is where Terraform Cloud dynamic credentials are exchanged
	// (AssumeRoleWithWebIdentity); the SDK's regional endpoint when empty.
	STS string
}

// AWSSourcesConfig is how to reach AWS's price, availability and
// reservation APIs, as plain data.
type AWSSourcesConfig struct {
	// Catalog says which AWS regions and instance types to ask about;
	// planner.Embedded() when nil.
	Catalog   *planner.Catalog
	Endpoints AWSEndpoints
	// ReservationsEC2 is the EC2 base URL the reservation source uses
	// when it is not Endpoints.EC2 (SourcesConfig.CapacityEndpoints["aws"]).
	ReservationsEC2 string
	// Credentials are the key pair to sign with; the zero value means
	// Terraform Cloud dynamic credentials when the run has them, else the
	// SDK's default chain.
	Credentials awsconfig.StaticCredentials
}

// AWSSourceSet are the AWS sources of one configuration.
type AWSSourceSet struct {
	Prices       []PriceSource
	Availability []AvailabilitySource
	Reservations []ReservationSource
}

// AWSSources builds them: awslive.Sources in a process that links the AWS
// SDK, the gpufleet-aws helper's proxies (internal/cloud/awsremote) in the
// provider.
type AWSSources func(AWSSourcesConfig) AWSSourceSet

// AWSCacheKey is the cache key of the AWS source named name: the name and
// a digest of what changes its answer (endpoints other than STS, the
// Price List region, "" for DefaultAWSPricingRegion, the regions and the
// instance types asked about), so that a proxy of a source caches under
// the same key as the source.
func AWSCacheKey(name string, e AWSEndpoints, pricingRegion string, regions, instanceTypes []string) string {
	if pricingRegion == "" {
		pricingRegion = DefaultAWSPricingRegion
	}
	h := sha256.Sum256([]byte(strings.Join([]string{e.Pricing, e.EC2, e.ServiceQuotas,
		pricingRegion, strings.Join(regions, ","), strings.Join(instanceTypes, ",")}, "|")))
	return name + "-" + hex.EncodeToString(h[:6])
}

// awsSources are the AWS sources of c, from c.AWS; sources that fail
// with errNoAWS when c.AWS is nil.
func (c SourcesConfig) awsSources() AWSSourceSet {
	if c.AWS == nil {
		return AWSSourceSet{
			Prices:       []PriceSource{noAWS(AWSPricingSource), noAWS(AWSSpotPricesSource)},
			Availability: []AvailabilitySource{noAWS(AWSAvailabilitySource)},
			Reservations: []ReservationSource{noAWS(AWSReservationsSource)},
		}
	}
	return c.AWS(AWSSourcesConfig{Catalog: c.Catalog, Endpoints: c.AWSEndpoints,
		ReservationsEC2: c.CapacityEndpoints["aws"], Credentials: c.AWSCredentials})
}

// errNoAWS is what the AWS sources of a SourcesConfig without AWS
// answer.
var errNoAWS = errors.New("this binary cannot ask AWS: it links no AWS client and was given no gpufleet-aws helper (SourcesConfig.AWS)")

// noAWS is an AWS source that fails with errNoAWS, in place of the source
// of that name.
type noAWS string

var (
	_ PriceSource        = noAWS("")
	_ AvailabilitySource = noAWS("")
	_ ReservationSource  = noAWS("")
)

// Cloud is "aws".
func (noAWS) Cloud() string { return "aws" }

// Name is the name of the source it stands for.
func (s noAWS) Name() string { return string(s) }

// Prices fails with errNoAWS.
func (noAWS) Prices(context.Context) ([]Price, error) { return nil, errNoAWS }

// Availability fails with errNoAWS.
func (noAWS) Availability(context.Context, []string) (Availability, error) {
	return Availability{}, errNoAWS
}

// Capacity fails with errNoAWS.
func (noAWS) Capacity(context.Context) ([]planner.Offer, error) { return nil, errNoAWS }
