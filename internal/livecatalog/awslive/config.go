package awslive

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/pricing"
	"github.com/aws/aws-sdk-go-v2/service/servicequotas"
	"github.com/aws/smithy-go/middleware"

	awsbackend "github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/aws"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/livecatalog"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// Config configures the AWS live sources (Pricing, SpotPrices,
// Availability). The zero value asks about every region and instance
// type of the embedded catalog with the SDK's default credential chain.
type Config struct {
	// Catalog says which instance types exist where, and their vCPUs and
	// GPUs (for quotas); planner.Embedded() when nil. Only its "aws"
	// offers are used.
	Catalog *planner.Catalog
	// Regions narrows the regions asked about; the catalog's AWS regions
	// when empty.
	Regions []string
	// InstanceTypes narrows the instance types asked about; the catalog's
	// AWS instance types when empty.
	InstanceTypes []string
	// Endpoints override service endpoints.
	Endpoints livecatalog.AWSEndpoints
	// PricingRegion is where the Price List Query API is called: it
	// exists only in us-east-1, eu-central-1 and ap-south-1. us-east-1
	// when empty.
	PricingRegion string
	// HomeRegion is the region of the SDK configuration and of the calls
	// that are not regional (GetSpotPlacementScores scores every region
	// from any); us-east-1 when empty.
	HomeRegion string
	// Credentials replace the SDK's default chain (environment, shared
	// config and profiles, web identity, instance role) when set.
	Credentials aws.CredentialsProvider
	// HTTPClient sends the requests; the SDK's default client when nil.
	// With AWS_CA_BUNDLE set the SDK accepts only its own buildable
	// client here.
	HTTPClient aws.HTTPClient
	// Now is the StartTime of the spot price history (the price in
	// effect now); time.Now when nil.
	Now func() time.Time
	// Concurrency bounds the calls in flight at once; 8 when zero.
	Concurrency int
	// MaxAttempts is how many times the SDK's retryer tries a call that
	// is throttled or fails transiently (5 when zero), waiting an
	// exponential, jittered backoff of at most MaxBackoff (2s when zero)
	// between attempts. Client-side retry rate limiting is off, so that a
	// burst of throttling across regions cannot exhaust a retry quota.
	MaxAttempts int
	MaxBackoff  time.Duration
	// SpotTargetNodes is the TargetCapacity (in instances) spot placement
	// scores are asked for; 1 when zero.
	SpotTargetNodes int
}

func (c Config) catalog() *planner.Catalog {
	if c.Catalog != nil {
		return c.Catalog
	}
	return planner.Embedded()
}

func (c Config) pricingRegion() string {
	return cmpOr(c.PricingRegion, livecatalog.DefaultAWSPricingRegion)
}
func (c Config) homeRegion() string { return cmpOr(c.HomeRegion, "us-east-1") }
func (c Config) concurrency() int {
	if c.Concurrency > 0 {
		return c.Concurrency
	}
	return 8
}

func (c Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func cmpOr(v, dflt string) string {
	if v != "" {
		return v
	}
	return dflt
}

// cacheKey names a source's cache entry (livecatalog.AWSCacheKey).
func (c Config) cacheKey(name string) string {
	return livecatalog.AWSCacheKey(name, c.Endpoints, c.PricingRegion, c.Regions, c.InstanceTypes)
}

// awsCountAttempts counts every attempt of every call (retries
// included): a finalize-step middleware runs once per attempt, inside the
// retry loop. Counting in the stack rather than wrapping the HTTP client
// keeps the SDK's own client options (AWS_CA_BUNDLE) working.
func awsCountAttempts(n *atomic.Int64) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("gpufleetCountAttempts",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				n.Add(1)
				return next.HandleFinalize(ctx, in)
			}), middleware.After)
	}
}

// sdkConfig loads the SDK configuration for one fetch: the home region,
// the credentials, the HTTP client, the retryer and the attempt counter.
func (c Config) sdkConfig(ctx context.Context, calls *atomic.Int64) (aws.Config, error) {
	attempts, backoff := c.MaxAttempts, c.MaxBackoff
	if attempts <= 0 {
		attempts = 5
	}
	if backoff <= 0 {
		backoff = 2 * time.Second
	}
	opts := []func(*config.LoadOptions) error{
		config.WithRegion(c.homeRegion()),
		config.WithAPIOptions([]func(*middleware.Stack) error{awsCountAttempts(calls)}),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts, o.MaxBackoff, o.RateLimiter = attempts, backoff, ratelimit.None
			})
		}),
	}
	creds := c.Credentials
	if creds == nil {
		// Terraform Cloud dynamic credentials as the backend gets them,
		// else the SDK's default chain.
		dyn, err := awsbackend.DynamicCredentials(os.Getenv, c.Endpoints.STS, c.homeRegion())
		if err != nil {
			return aws.Config{}, err
		}
		creds = dyn
	}
	if creds != nil {
		opts = append(opts, config.WithCredentialsProvider(creds))
	}
	if c.HTTPClient != nil {
		opts = append(opts, config.WithHTTPClient(c.HTTPClient))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("loading the AWS SDK configuration: %w", err)
	}
	return cfg, nil
}

func (c Config) pricingClient(sdk aws.Config) *pricing.Client {
	return pricing.NewFromConfig(sdk, func(o *pricing.Options) {
		o.Region = c.pricingRegion()
		if c.Endpoints.Pricing != "" {
			o.BaseEndpoint = aws.String(c.Endpoints.Pricing)
		}
	})
}

func (c Config) ec2Client(sdk aws.Config, region string) *ec2.Client {
	return ec2.NewFromConfig(sdk, func(o *ec2.Options) {
		o.Region = region
		if c.Endpoints.EC2 != "" {
			o.BaseEndpoint = aws.String(c.Endpoints.EC2)
		}
	})
}

func (c Config) quotasClient(sdk aws.Config, region string) *servicequotas.Client {
	return servicequotas.NewFromConfig(sdk, func(o *servicequotas.Options) {
		o.Region = region
		if c.Endpoints.ServiceQuotas != "" {
			o.BaseEndpoint = aws.String(c.Endpoints.ServiceQuotas)
		}
	})
}

// awsView is what the catalog says about the AWS offers a config asks
// about.
type awsView struct {
	regions []string // sorted
	types   []string // sorted
	// byRegion[region][capacity type] → sorted instance types.
	byRegion map[string]map[planner.CapacityType][]string
	// zones["region/type/capacity"] → sorted zone IDs.
	zones map[string][]string
	// shapes[type] → an offer of the type (vCPUs, GPUs).
	shapes map[string]planner.Offer
}

// view indexes the catalog's AWS offers in the configured regions and of
// the configured instance types (narrowed further to only when set).
func (c Config) view(only []string) awsView {
	v := awsView{byRegion: map[string]map[planner.CapacityType][]string{}, zones: map[string][]string{}, shapes: map[string]planner.Offer{}}
	wantRegion := func(r string) bool { return len(c.Regions) == 0 || slices.Contains(c.Regions, r) }
	wantType := func(t string) bool {
		return (len(c.InstanceTypes) == 0 || slices.Contains(c.InstanceTypes, t)) && (len(only) == 0 || slices.Contains(only, t))
	}
	for _, o := range c.catalog().Offers {
		if o.Cloud != "aws" || !wantRegion(o.Region) || !wantType(o.InstanceType) {
			continue
		}
		if _, ok := v.shapes[o.InstanceType]; !ok {
			v.shapes[o.InstanceType] = o
		}
		m := v.byRegion[o.Region]
		if m == nil {
			m = map[planner.CapacityType][]string{}
			v.byRegion[o.Region] = m
		}
		m[o.CapacityType] = appendUnique(m[o.CapacityType], o.InstanceType)
		if o.Zone != "" {
			k := o.Region + "/" + o.InstanceType + "/" + string(o.CapacityType)
			v.zones[k] = appendUnique(v.zones[k], o.Zone)
		}
	}
	for r, m := range v.byRegion {
		v.regions = append(v.regions, r)
		for ct := range m {
			slices.Sort(m[ct])
		}
	}
	for k := range v.zones {
		slices.Sort(v.zones[k])
	}
	for t := range v.shapes {
		v.types = append(v.types, t)
	}
	slices.Sort(v.regions)
	slices.Sort(v.types)
	return v
}

// regionTypes are the region's instance types with an offer of capacity
// type ct ("" for either), sorted.
func (v awsView) regionTypes(region string, ct planner.CapacityType) []string {
	if ct != "" {
		return v.byRegion[region][ct]
	}
	var out []string
	for _, ts := range v.byRegion[region] {
		for _, t := range ts {
			out = appendUnique(out, t)
		}
	}
	slices.Sort(out)
	return out
}

func appendUnique(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}
