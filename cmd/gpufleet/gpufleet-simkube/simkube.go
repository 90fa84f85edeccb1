package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/kubefront"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/gpuhealth"
)

// simKube serves a simulated world's Kubernetes APIs for one command: read
// only in effect (no kubelet runs, nothing is reconciled in the background).
func simKube(dir string) (*cloudsim.Engine, *kubefront.Server, error) {
	e, err := cloudsim.New(cloudsim.Config{StateFile: filepath.Join(dir, "state.json")})
	if err != nil {
		return nil, nil, err
	}
	k := kubefront.New(e, kubefront.Options{ReconcileInterval: -1})
	if _, err := k.Start(context.Background()); err != nil {
		return nil, nil, err
	}
	return e, k, nil
}

func splitCluster(id string) (cl, region, name string, err error) {
	parts := strings.Split(id, "/")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return "", "", "", fmt.Errorf("--cluster %q is not cloud/region/name (a gpufleet_cluster ID), e.g. aws/eu-north-1/gpufleet-aws-eu-north-1", id)
	}
	return parts[0], parts[1], parts[2], nil
}

// runSimNodes lists the GPU nodes of the simulated clusters through their
// Kubernetes APIs (client-go): readiness, the validator's verdict, the
// unvalidated taint, and why a node failed.
func runSimNodes(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gpufleet sim nodes", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", ".gpufleet-sim", "the provider's simulate_dir")
	only := fs.String("cluster", "", "one cluster, cloud/region/name (default: every cluster)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	e, k, err := simKube(*dir)
	if err != nil {
		fmt.Fprintf(stderr, "gpufleet: %v\n", err)
		return exitUsage
	}
	defer k.Close()
	var clusters []cloudsim.Cluster
	for _, c := range e.Inventory().Clusters {
		if *only == "" || *only == c.Cloud+"/"+c.Region+"/"+c.Name {
			clusters = append(clusters, c)
		}
	}
	if *only != "" && len(clusters) == 0 {
		fmt.Fprintf(stderr, "gpufleet: no simulated cluster %s in %s\n", *only, *dir)
		return exitUsage
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CLUSTER\tNODE\tREADY\tPOOL\tINSTANCE TYPE\tGPUS\tGPU HEALTH\tTAINTED\tREASONS")
	for _, c := range clusters {
		cfg, err := k.RESTConfig(c.Cloud, c.Region, c.Name)
		if err != nil {
			fmt.Fprintf(stderr, "gpufleet: %v\n", err)
			return exitUsage
		}
		cfg.ContentType = "application/json"
		client, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			fmt.Fprintf(stderr, "gpufleet: %v\n", err)
			return exitUsage
		}
		nodes, err := client.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{LabelSelector: gpuhealth.PoolLabel})
		if err != nil {
			fmt.Fprintf(stderr, "gpufleet: cluster %s: %v\n", c.Name, err)
			return exitUsage
		}
		sort.Slice(nodes.Items, func(i, j int) bool { return nodes.Items[i].Name < nodes.Items[j].Name })
		for _, n := range nodes.Items {
			ready, tainted := "NotReady", "no"
			for _, cond := range n.Status.Conditions {
				if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
					ready = "Ready"
				}
			}
			for _, t := range n.Spec.Taints {
				if t.Key == gpuhealth.TaintKey {
					tainted = "yes"
				}
			}
			health := n.Labels[gpuhealth.HealthLabel]
			if health == "" {
				health = "(not checked)"
			}
			gpus := n.Status.Capacity["nvidia.com/gpu"]
			fmt.Fprintf(tw, "%s/%s/%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Cloud, c.Region, c.Name, n.Name, ready, n.Labels[gpuhealth.PoolLabel],
				n.Labels["node.kubernetes.io/instance-type"], gpus.String(), health, tainted, n.Annotations[gpuhealth.ReasonsAnnotation])
		}
	}
	tw.Flush()
	return exitOK
}

// runSimKubectl runs kubectl against one simulated cluster's Kubernetes
// API, with a cluster-admin kubeconfig for the time of the command.
func runSimKubectl(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gpufleet sim kubectl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", ".gpufleet-sim", "the provider's simulate_dir")
	id := fs.String("cluster", "", "the cluster, cloud/region/name (a gpufleet_cluster ID); default: the world's first cluster")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		fmt.Fprintln(stderr, "gpufleet: kubectl is not on PATH (Debian: apt-get install kubernetes-client); gpufleet sim nodes lists the nodes without it")
		return exitUsage
	}
	e, k, err := simKube(*dir)
	if err != nil {
		fmt.Fprintf(stderr, "gpufleet: %v\n", err)
		return exitUsage
	}
	defer k.Close()
	if *id == "" {
		cs := e.Inventory().Clusters
		if len(cs) == 0 {
			fmt.Fprintf(stderr, "gpufleet: no simulated cluster in %s\n", *dir)
			return exitUsage
		}
		*id = cs[0].Cloud + "/" + cs[0].Region + "/" + cs[0].Name
		fmt.Fprintf(stderr, "(cluster %s)\n", *id)
	}
	cl, region, name, err := splitCluster(*id)
	if err != nil {
		fmt.Fprintf(stderr, "gpufleet: %v\n", err)
		return exitUsage
	}
	kc, err := k.Kubeconfig(cl, region, name)
	if err != nil {
		fmt.Fprintf(stderr, "gpufleet: %v\n", err)
		return exitUsage
	}
	tmp, err := os.MkdirTemp("", "gpufleet-kubeconfig-")
	if err != nil {
		fmt.Fprintf(stderr, "gpufleet: %v\n", err)
		return exitUsage
	}
	defer os.RemoveAll(tmp)
	path := filepath.Join(tmp, "kubeconfig")
	if err := os.WriteFile(path, kc, 0o600); err != nil {
		fmt.Fprintf(stderr, "gpufleet: %v\n", err)
		return exitUsage
	}
	cmd := exec.Command(kubectl, append([]string{"--kubeconfig", path}, fs.Args()...)...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.Env = append(os.Environ(), "KUBECONFIG="+path)
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		fmt.Fprintf(stderr, "gpufleet: kubectl: %v\n", err)
		return exitUsage
	}
	return exitOK
}
