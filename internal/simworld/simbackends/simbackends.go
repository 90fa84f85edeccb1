// Package simbackends points the SDK backends' configurations at a
// simulated world: the one place that knows which endpoint, credential
// and poll interval each backend (and each live catalog source) takes
// there. The provider's simulate mode and gpufleet sweep --simulate
// (internal/sweep/connect) use it. It
// links the cloud SDKs but no simulator, so the provider binary may.
package simbackends

import (
	"errors"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"google.golang.org/api/option"

	awsbackend "github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/aws"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/awsconfig"
	azbackend "github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/azure"
	gcpbackend "github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/gcp"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/livecatalog"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/simworld"
)

// TimeScaleEnv scales the simulated world's operation times and the
// backends' polling on it (0.01: a 2 s cluster deletion takes 20 ms).
const TimeScaleEnv = "GPUFLEET_SIM_TIME_SCALE"

// TimeScale is TimeScaleEnv's value, 1 when unset or not a positive
// number.
func TimeScale() float64 {
	if v, err := strconv.ParseFloat(os.Getenv(TimeScaleEnv), 64); err == nil && v > 0 {
		return v
	}
	return 1
}

// Scaled is d scaled by TimeScale.
func Scaled(d time.Duration) time.Duration { return time.Duration(float64(d) * TimeScale()) }

// Credentials of the simulated clouds, which check none.
var (
	awsCredentials = credentials.NewStaticCredentialsProvider("SIMULATED", "SIMULATED", "")
	gcpOptions     = []option.ClientOption{option.WithoutAuthentication()}
	azureToken     = azbackend.StaticToken("SIMULATED")
)

// LiveSources points sc at world w's price and availability APIs
// (simworld.Options.Prices): every cloud of clouds, the world's GCP
// project and Azure subscription, credentials the simulator checks none
// of.
func LiveSources(w *simworld.World, clouds []string, sc *livecatalog.SourcesConfig) error {
	p := w.Endpoints.Prices
	if p.AWS == "" {
		return errors.New("simulated clouds: the world serves no price APIs")
	}
	client, err := w.AzureClient()
	if err != nil {
		return err
	}
	sc.Clouds = clouds
	sc.AWSEndpoints = livecatalog.AWSEndpoints{Pricing: p.AWS, EC2: p.AWS, ServiceQuotas: p.AWS}
	sc.AWSCredentials = awsconfig.StaticCredentials{AccessKeyID: "SIMULATED", SecretAccessKey: "SIMULATED"}
	sc.GCPProject, sc.GCPBillingEndpoint, sc.GCPComputeEndpoint = w.GCPProject, p.GCP, p.GCP+"/compute/v1/"
	sc.GCPClientOptions = gcpOptions
	sc.AzureSubscriptionID, sc.AzureRetailURL, sc.AzureEndpoint = w.AzureSubscription, p.AzureRetail, p.AzureARM
	sc.AzureHTTPClient, sc.AzureCredential = client, azureToken
	// Reservations are the clouds' own APIs, served by their front ends.
	sc.CapacityEndpoints = map[string]string{"aws": w.Endpoints.AWS, "gcp": w.Endpoints.Compute, "azure": w.Endpoints.Azure}
	return nil
}

// Configs points a, g and z at world w: its endpoints, credentials that
// the simulator checks none of, its GCP project, its Azure subscription
// where z names none, and poll intervals scaled by TimeScale (Azure's:
// the world's AzurePoll). AWS STS stays the real regional endpoint: it is
// only the host of the presigned URL inside EKS tokens, which nothing
// sends.
func Configs(w *simworld.World, a *awsbackend.Config, g *gcpbackend.Config, z *azbackend.Config) error {
	url := w.Endpoints.AWS
	a.Endpoints = awsbackend.Endpoints{EKS: url, EC2: url, IAM: url, AutoScaling: url}
	a.Credentials = awsCredentials
	a.Poll = Scaled(250 * time.Millisecond)
	g.Endpoint, g.Insecure, g.Poll = w.Endpoints.GKE, true, Scaled(250*time.Millisecond)
	g.Project = w.GCPProject
	g.ComputeEndpoint = w.Endpoints.Compute + "/compute/v1/"
	client, err := w.AzureClient()
	if err != nil {
		return err
	}
	z.Endpoint, z.HTTPClient, z.Credential = w.Endpoints.Azure, client, azureToken
	z.Poll = w.AzurePoll
	if z.SubscriptionID == "" {
		z.SubscriptionID = w.AzureSubscription
	}
	return nil
}
