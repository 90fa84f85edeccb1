package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/azurefront"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/simserve"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// AzureCloudName is the custom cloud that the printed az commands
// register.
const AzureCloudName = "GpufleetSim"

// simToken is the bearer token of gcloud (any token is accepted).
const simToken = "SIMULATED"

// runSimServe serves a simulated world's clouds on fixed loopback ports
// until SIGINT or SIGTERM, for aws, az, gcloud and kubectl: it writes the
// environment they need to <dir>/serve/env.sh and prints it.
func runSimServe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gpufleet sim serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", ".gpufleet-sim", "the provider's simulate_dir")
	p := simserve.DefaultPorts
	fs.IntVar(&p.AWS, "aws-port", p.AWS, "EKS, EC2, IAM and Auto Scaling (http)")
	fs.IntVar(&p.GKE, "gke-port", p.GKE, "GKE ClusterManager (gRPC, plaintext)")
	fs.IntVar(&p.GKEREST, "gke-rest-port", p.GKEREST, "GKE REST/JSON, what gcloud speaks (http)")
	fs.IntVar(&p.Compute, "compute-port", p.Compute, "Compute Engine (http)")
	fs.IntVar(&p.Azure, "azure-port", p.Azure, "Azure Resource Manager and Entra ID tokens (https)")
	fs.IntVar(&p.Kube, "kube-port", p.Kube, "the clusters' Kubernetes APIs (https)")
	project := fs.String("project", simserve.DefaultGCPProject, "the simulated Google Cloud project")
	region := fs.String("aws-region", "eu-north-1", "AWS_DEFAULT_REGION in the printed environment")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "gpufleet: sim serve takes no arguments, got %q\n", fs.Args())
		return exitUsage
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		fmt.Fprintf(stderr, "gpufleet: %v\n", err)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	runner, err := simserve.ValidatorRunner()
	if err != nil {
		fmt.Fprintf(stderr, "gpufleet: warning: %v\n", err)
	}
	w, err := simserve.Start(ctx, simserve.Options{Dir: abs, Ports: p, Catalog: planner.Embedded(), GCPProject: *project, Runner: runner})
	if err != nil {
		fmt.Fprintf(stderr, "gpufleet: %v (another gpufleet sim serve running? choose other ports with --aws-port ... --kube-port)\n", err)
		return exitUsage
	}
	defer w.Close()
	files, err := writeServeFiles(abs, w, *region)
	if err != nil {
		fmt.Fprintf(stderr, "gpufleet: %v\n", err)
		return exitUsage
	}
	printServe(stdout, abs, w, files, *region)
	// New clusters get a kubeconfig context while the world is served.
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			w.Close()
			fmt.Fprintf(stdout, "\nstopped; the simulated world stays in %s\n", simserve.StateFile(abs))
			return exitOK
		case <-tick.C:
			if err := writeKubeconfig(files.kubeconfig, w); err != nil {
				fmt.Fprintf(stderr, "gpufleet: kubeconfig: %v\n", err)
			}
		}
	}
}

// serveFiles are what runSimServe writes under <dir>/serve.
type serveFiles struct {
	dir, env, azureCA, gcloudToken, kubeconfig, gcloudConfig, azureConfig string
}

func writeServeFiles(dir string, w *simserve.World, region string) (serveFiles, error) {
	d := filepath.Join(dir, "serve")
	f := serveFiles{dir: d, env: filepath.Join(d, "env.sh"), azureCA: filepath.Join(d, "azure-ca.pem"),
		gcloudToken: filepath.Join(d, "gcloud-token"), kubeconfig: filepath.Join(d, "kubeconfig"),
		gcloudConfig: filepath.Join(d, "gcloud"), azureConfig: filepath.Join(d, "azure")}
	for _, sub := range []string{f.gcloudConfig, f.azureConfig} {
		if err := os.MkdirAll(sub, 0o700); err != nil {
			return f, err
		}
	}
	if err := os.WriteFile(f.azureCA, w.AzureCA, 0o644); err != nil {
		return f, err
	}
	if err := os.WriteFile(f.gcloudToken, []byte(simToken+"\n"), 0o600); err != nil {
		return f, err
	}
	if err := writeKubeconfig(f.kubeconfig, w); err != nil {
		return f, err
	}
	return f, os.WriteFile(f.env, []byte(serveEnv(w, f, region)), 0o644)
}

// serveEnv is the shell environment for the CLIs: every endpoint they use
// points at the simulated clouds, with credentials they accept and
// telemetry off, so that nothing leaves the machine.
func serveEnv(w *simserve.World, f serveFiles, region string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# gpufleet sim serve: the simulated clouds of %s\n", filepath.Dir(f.dir))
	fmt.Fprintf(&b, "# AWS (aws CLI v1 >= 1.29 and v2 >= 2.13 read AWS_ENDPOINT_URL; older: --endpoint-url %s)\n", w.Endpoints.AWS)
	fmt.Fprintf(&b, "export AWS_ENDPOINT_URL=%s\n", w.Endpoints.AWS)
	fmt.Fprintf(&b, "export AWS_ACCESS_KEY_ID=SIMULATED AWS_SECRET_ACCESS_KEY=SIMULATED AWS_DEFAULT_REGION=%s AWS_EC2_METADATA_DISABLED=true\n", region)
	fmt.Fprintf(&b, "# Google Cloud (gcloud)\n")
	fmt.Fprintf(&b, "export CLOUDSDK_CONFIG=%s\n", f.gcloudConfig)
	fmt.Fprintf(&b, "export CLOUDSDK_API_ENDPOINT_OVERRIDES_CONTAINER=%s/\n", w.Endpoints.GKEREST)
	fmt.Fprintf(&b, "export CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE=%s/compute/v1/\n", w.Endpoints.Compute)
	fmt.Fprintf(&b, "export CLOUDSDK_API_ENDPOINT_OVERRIDES_SERVICEUSAGE=%s/\n", w.Endpoints.GKEREST)
	fmt.Fprintf(&b, "export CLOUDSDK_AUTH_ACCESS_TOKEN_FILE=%s CLOUDSDK_CORE_PROJECT=%s\n", f.gcloudToken, w.GCPProject)
	fmt.Fprintf(&b, "export CLOUDSDK_CORE_DISABLE_USAGE_REPORTING=true CLOUDSDK_CORE_DISABLE_PROMPTS=1 CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK=true CLOUDSDK_CORE_SHOULD_PROMPT_TO_ENABLE_API=false\n")
	fmt.Fprintf(&b, "# Azure (az; once: az cloud register/set and az login, printed by gpufleet sim serve)\n")
	fmt.Fprintf(&b, "export AZURE_CONFIG_DIR=%s AZURE_CORE_COLLECT_TELEMETRY=no AZURE_CORE_NO_COLOR=true REQUESTS_CA_BUNDLE=%s\n", f.azureConfig, f.azureCA)
	fmt.Fprintf(&b, "export GPUFLEET_SIM_AZURE_ENDPOINT=%s/\n", w.Endpoints.Azure)
	fmt.Fprintf(&b, "# Kubernetes (kubectl; a context per simulated cluster, cloud_region_name)\n")
	fmt.Fprintf(&b, "export KUBECONFIG=%s\n", f.kubeconfig)
	return b.String()
}

// AzureSetup are the az commands that make the simulated Azure the active
// cloud and log in (run once per AZURE_CONFIG_DIR). The API profile
// 2020-09-01-hybrid is one whose Microsoft.Network models Debian's
// azure-cli 2.45 ships (its az network fails to load with the latest
// profile, which wants network 2022-01-01).
func AzureSetup(w *simserve.World) []string {
	return []string{
		"az cloud register -n " + AzureCloudName + " --endpoint-resource-manager " + w.Endpoints.Azure + "/ --profile 2020-09-01-hybrid --suffix-storage-endpoint core.cloudsim.invalid --suffix-keyvault-dns .vault.cloudsim.invalid",
		"az cloud set -n " + AzureCloudName,
		"az login --service-principal -u gpufleet-sim -p " + simToken + " --tenant " + azurefront.DefaultTenant,
	}
}

func printServe(out io.Writer, dir string, w *simserve.World, f serveFiles, region string) {
	fmt.Fprintf(out, "Serving the simulated clouds of %s (Ctrl-C stops; the world is saved after every change)\n\n", dir)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tENDPOINT")
	fmt.Fprintf(tw, "AWS EKS, EC2, IAM, Auto Scaling\t%s\n", w.Endpoints.AWS)
	fmt.Fprintf(tw, "GKE (gRPC)\t%s\n", w.Endpoints.GKE)
	fmt.Fprintf(tw, "GKE (REST)\t%s/v1/\n", w.Endpoints.GKEREST)
	fmt.Fprintf(tw, "Compute Engine\t%s/compute/v1/\n", w.Endpoints.Compute)
	fmt.Fprintf(tw, "Azure Resource Manager, Entra ID\t%s/ (certificate %s)\n", w.Endpoints.Azure, f.azureCA)
	fmt.Fprintf(tw, "Kubernetes APIs\thttps://%s (kubeconfig %s)\n", w.Endpoints.Kube, f.kubeconfig)
	tw.Flush()
	fmt.Fprintf(out, "\nThe environment for aws, gcloud, az and kubectl (source %s):\n\n", f.env)
	env, _ := os.ReadFile(f.env)
	out.Write(env) //nolint:errcheck // stdout
	fmt.Fprintf(out, "\nOnce, for az (after sourcing):\n\n")
	for _, c := range AzureSetup(w) {
		fmt.Fprintf(out, "  %s\n", c)
	}
	fmt.Fprintf(out, "\nFor example: aws eks list-clusters; gcloud container clusters list; az aks list; kubectl config get-contexts\n")
}

// writeKubeconfig writes a kubeconfig with a cluster-admin context for
// every simulated cluster (cloud_region_name), the first the current one;
// unchanged content is not rewritten.
func writeKubeconfig(path string, w *simserve.World) error {
	merged := clientcmdapi.NewConfig()
	clusters := w.Engine.Inventory().Clusters
	sort.Slice(clusters, func(i, j int) bool {
		return clusters[i].Cloud+"/"+clusters[i].Region+"/"+clusters[i].Name < clusters[j].Cloud+"/"+clusters[j].Region+"/"+clusters[j].Name
	})
	for _, c := range clusters {
		b, err := w.Kube.Kubeconfig(c.Cloud, c.Region, c.Name)
		if err != nil {
			continue // not served yet (still creating)
		}
		one, err := clientcmd.Load(b)
		if err != nil {
			return err
		}
		name := c.Cloud + "_" + c.Region + "_" + c.Name
		ctx := one.Contexts[one.CurrentContext]
		merged.Clusters[name] = one.Clusters[ctx.Cluster]
		merged.AuthInfos[name] = one.AuthInfos[ctx.AuthInfo]
		merged.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
		if merged.CurrentContext == "" {
			merged.CurrentContext = name
		}
	}
	out, err := clientcmd.Write(*merged)
	if err != nil {
		return err
	}
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, out) {
		return nil
	}
	return os.WriteFile(path, out, 0o600)
}
