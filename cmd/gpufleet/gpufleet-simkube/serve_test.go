package main

import (
	"context"
	"os"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/simserve"
)

// The environment sim serve writes sends every CLI to the loopback front
// ends, and its kubeconfig reaches each simulated cluster.
func TestServeFiles(t *testing.T) {
	dir := t.TempDir()
	w, err := simserve.Start(context.Background(), simserve.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	if _, err := w.Engine.CreateCluster("aws", cloud.ClusterSpec{Name: "c1", Region: "eu-north-1", KubernetesVersion: "1.33"}); err != nil {
		t.Fatal(err)
	}
	f, err := writeServeFiles(dir, w, "eu-north-1")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(f.env)
	if err != nil {
		t.Fatal(err)
	}
	env := string(data)
	for _, want := range []string{
		"AWS_ENDPOINT_URL=" + w.Endpoints.AWS, "AWS_EC2_METADATA_DISABLED=true",
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_CONTAINER=" + w.Endpoints.GKEREST + "/",
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE=" + w.Endpoints.Compute + "/compute/v1/",
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_SERVICEUSAGE=" + w.Endpoints.GKEREST + "/",
		"CLOUDSDK_CORE_DISABLE_USAGE_REPORTING=true", "AZURE_CORE_COLLECT_TELEMETRY=no",
		"REQUESTS_CA_BUNDLE=" + f.azureCA, "KUBECONFIG=" + f.kubeconfig,
	} {
		if !strings.Contains(env, want) {
			t.Errorf("env.sh lacks %s:\n%s", want, env)
		}
	}
	for _, line := range strings.Split(env, "\n") {
		if strings.Contains(line, "://") && !strings.Contains(line, "://127.0.0.1:") && !strings.HasPrefix(line, "#") {
			t.Errorf("env.sh line names a non-loopback URL: %s", line)
		}
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", f.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := clientcmd.LoadFromFile(f.kubeconfig)
	if raw.CurrentContext != "aws_eu-north-1_c1" {
		t.Errorf("current context %q, want aws_eu-north-1_c1", raw.CurrentContext)
	}
	cfg.ContentType = "application/json"
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Namespaces().List(context.Background(), metav1.ListOptions{}); err != nil {
		t.Errorf("listing namespaces with the kubeconfig: %v", err)
	}
}
