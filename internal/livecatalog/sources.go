package livecatalog

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"google.golang.org/api/option"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/catalogbuild"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/awsconfig"
	gcpbackend "github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/gcp"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// SourcesConfig says which clouds to ask and how to reach their APIs.
// Empty endpoints mean the clouds' public APIs; credentials, unless set,
// are Terraform Cloud dynamic credentials when the run has them, built as
// the cloud backends build theirs (aws.DynamicCredentials,
// gcp.WithDynamicCredentials, azure.Credential), else each SDK's default
// chain.
type SourcesConfig struct {
	// Catalog says which regions and instance types to ask about.
	Catalog *planner.Catalog
	// Clouds are the clouds to ask; all three when empty.
	Clouds []string

	AWSEndpoints AWSEndpoints
	// AWSCredentials are the key pair the AWS sources sign with; the zero
	// value means the run's credentials (see above).
	AWSCredentials awsconfig.StaticCredentials
	// AWS builds the AWS sources (awslive.Sources where the AWS SDK is
	// linked). When nil, the AWS sources fail, each with a warning that
	// this binary cannot ask AWS.
	AWS AWSSources

	// GCPProject enables GCP availability (quotas are per project); GCP
	// prices need none.
	GCPProject         string
	GCPBillingEndpoint string
	GCPComputeEndpoint string
	GCPClientOptions   []option.ClientOption
	// GCPAuthEndpoints override the token endpoints of Terraform Cloud
	// dynamic credentials (tests, proxies).
	GCPAuthEndpoints gcpbackend.AuthEndpoints

	// AzureSubscriptionID enables Azure availability (quotas are per
	// subscription); Azure prices are public.
	AzureSubscriptionID string
	AzureRetailURL      string
	AzureEndpoint       string
	AzureHTTPClient     *http.Client
	AzureCredential     azcore.TokenCredential

	// CapacityEndpoints, where set, are base URLs of a cloud's reservation
	// APIs (ReservationSources) when they are not where its price and
	// availability APIs are: "aws" EC2, "gcp" Compute (its root; the
	// sources add /compute/v1/), "azure" ARM. On the real clouds they are
	// the same; the simulated world serves reservations from the clouds'
	// front ends and prices from a price front end.
	CapacityEndpoints map[string]string
}

// UseEndpoints points each cloud's sources at one base URL per cloud (a
// proxy or a simulator): "aws" serves the Price List, EC2 and Service
// Quotas, "gcp" Cloud Billing and Compute (under /compute/v1/), "azure"
// the Retail Prices API. Clouds not named keep their settings.
func (c *SourcesConfig) UseEndpoints(endpoints map[string]string) {
	if u := endpoints["aws"]; u != "" {
		c.AWSEndpoints = AWSEndpoints{Pricing: u, EC2: u, ServiceQuotas: u}
	}
	if u := endpoints["gcp"]; u != "" {
		c.GCPBillingEndpoint, c.GCPComputeEndpoint = u, strings.TrimRight(u, "/")+"/compute/v1/"
	}
	if u := endpoints["azure"]; u != "" {
		c.AzureRetailURL = u
	}
}

func (c SourcesConfig) enabled(cloud string) bool {
	return len(c.Clouds) == 0 || slices.Contains(c.Clouds, cloud)
}

// Sources builds the price and availability sources of the enabled
// clouds: AWS Price List, spot price history and availability (offerings,
// Service Quotas, spot placement scores), built by c.AWS once a call; GCP
// Cloud Billing and, with a project, Compute Engine availability; Azure
// Retail Prices and, with a subscription, Resource SKUs and usages.
func Sources(c SourcesConfig) ([]PriceSource, []AvailabilitySource) {
	var prices []PriceSource
	var avail []AvailabilitySource
	if c.enabled("aws") {
		set := c.awsSources()
		prices = append(prices, set.Prices...)
		avail = append(avail, set.Availability...)
	}
	if c.enabled("gcp") {
		prices = append(prices, &GCPBilling{Catalog: c.Catalog, Endpoint: c.GCPBillingEndpoint, ClientOptions: c.GCPClientOptions, AuthEndpoints: c.GCPAuthEndpoints})
		if c.GCPProject != "" {
			avail = append(avail, &GCPAvailability{Project: c.GCPProject, Catalog: c.Catalog, Endpoint: c.GCPComputeEndpoint, ClientOptions: c.GCPClientOptions, AuthEndpoints: c.GCPAuthEndpoints})
		}
	}
	if c.enabled("azure") {
		prices = append(prices, &AzureRetail{BaseURL: c.AzureRetailURL, Client: c.AzureHTTPClient})
		if c.AzureSubscriptionID != "" {
			avail = append(avail, &AzureAvailability{SubscriptionID: c.AzureSubscriptionID, Catalog: c.Catalog,
				Endpoint: c.AzureEndpoint, HTTPClient: c.AzureHTTPClient, Credential: c.AzureCredential})
		}
	}
	return prices, avail
}

// Live is the live step of catalogbuild.Build: the sources that config
// returns for the base catalog (a config error is Live.SourceErr and asks
// nothing), their prices, then their availability and quotas, then their
// reservations and capacity blocks (RefreshReservations), through
// cache.
func Live(config func(base *planner.Catalog) (SourcesConfig, error), cache *Cache) catalogbuild.LiveFunc {
	return func(ctx context.Context, base *planner.Catalog) catalogbuild.Live {
		sc, err := config(base)
		if err != nil {
			return catalogbuild.Live{Catalog: base, SourceErr: err}
		}
		sc.Catalog = base
		prices, avail := Sources(sc)
		res := Refresh(ctx, base, prices, cache, nil)
		av := RefreshAvailability(ctx, res.Catalog, avail, cache, nil)
		rv := RefreshReservations(ctx, av.Catalog, ReservationSources(sc), cache, nil)
		for id, p := range rv.Provenance {
			res.Provenance[id] = p // a reservation's own price replaces a live price of the same ID
		}
		facts := av.Facts
		for name, f := range rv.Facts {
			if facts[name] != "" {
				f = facts[name] + ", " + f
			}
			facts[name] = f
		}
		return catalogbuild.Live{Catalog: rv.Catalog, Provenance: res.Provenance,
			PriceWarnings: res.Warnings, AvailabilityWarnings: av.Warnings, ReservationWarnings: rv.Warnings, Facts: facts}
	}
}
