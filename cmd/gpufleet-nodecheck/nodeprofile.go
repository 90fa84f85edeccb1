package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/nodecheck"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// Node labels the profile is read from.
const (
	// instanceTypeLabel is set by the cloud controller manager (EKS, GKE,
	// AKS) shortly after the node registers.
	instanceTypeLabel     = "node.kubernetes.io/instance-type"
	betaInstanceTypeLabel = "beta.kubernetes.io/instance-type"
	// gkeAcceleratorLabel names the GPU attached to a GKE N1 node
	// ("nvidia-tesla-t4"); the machine type label lacks it.
	gkeAcceleratorLabel = "cloud.google.com/gke-accelerator"
	gpuResource         = corev1.ResourceName("nvidia.com/gpu")
)

// defaultLabelWait is how long a validator started with its node waits
// for the cloud controller manager to label the node.
const defaultLabelWait = 2 * time.Minute

// labelPoll is how often the node is read while waiting for its labels.
var labelPoll = 2 * time.Second

// errNotSignalled marks errors of the command line (not of the node),
// which are not recorded on the node.
var errNotSignalled = errors.New("bad flags")

// resolveProfile returns the profile of the node: from the flags, or from
// the node's instance-type label.
func (v *validator) resolveProfile(ctx context.Context) (nodecheck.Profile, error) {
	var p nodecheck.Profile
	var err error
	if v.f.profileFromNode() {
		var fromLabels *nodecheck.Profile
		var instanceType string
		if instanceType, fromLabels, err = v.nodeInstanceType(ctx); err != nil {
			return nodecheck.Profile{}, err
		}
		if fromLabels != nil {
			p, err = v.f.withOverrides(*fromLabels)
		} else {
			p, err = v.f.profileOf(instanceType)
		}
	} else {
		p, err = v.f.profileOf(v.f.instanceType)
	}
	if err != nil {
		return p, err
	}
	if v.f.sim != nil {
		if err := v.f.sim.Observable(p); err != nil {
			return p, fmt.Errorf("%w: --simulate-fault: %v", errNotSignalled, err)
		}
	}
	return p, nil
}

// nodeInstanceType reads the node until it has the hardware labels of its
// gpufleet pool (returned as a profile: what the plan bought, whatever
// catalog it came from) or an instance type the embedded catalog knows,
// or until the label wait is over: the labels are set when the node
// registers, the instance type by the cloud controller manager after that,
// and a GKE N1 node's GPU count only once the device plugin has reported
// it.
func (v *validator) nodeInstanceType(ctx context.Context) (string, *nodecheck.Profile, error) {
	deadline := time.Now().Add(v.d.labelWait)
	for {
		node, err := v.client.CoreV1().Nodes().Get(ctx, v.f.nodeName, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return "", nil, fmt.Errorf("%w: node %q does not exist; pass the node's name with --node-name (the downward API's spec.nodeName)", errNotSignalled, v.f.nodeName)
		case apierrors.IsForbidden(err):
			return "", nil, fmt.Errorf("%w: cannot read node %q to find its instance type: forbidden by RBAC; the service account needs get on nodes, or pass --instance-type: %v", errNotSignalled, v.f.nodeName, err)
		case err == nil:
			if p, ok, err := nodecheck.ProfileFromLabels(node.Labels); ok {
				if err != nil {
					return "", nil, fmt.Errorf("node %q: %v", node.Name, err)
				}
				return p.InstanceType, &p, nil
			}
			it, final, err := instanceTypeOf(node)
			if final || time.Now().After(deadline) {
				return it, nil, err
			}
		case time.Now().After(deadline):
			return "", nil, fmt.Errorf("cannot read node %q to find its instance type: %v", v.f.nodeName, err)
		}
		select {
		case <-ctx.Done():
			return "", nil, ctx.Err()
		case <-time.After(labelPoll):
		}
	}
}

// instanceTypeOf returns the catalog instance type of a node. final is
// false while waiting may still help: no instance-type label yet, or a GKE
// N1 node whose GPU count is not reported yet.
func instanceTypeOf(node *corev1.Node) (it string, final bool, err error) {
	label := node.Labels[instanceTypeLabel]
	if label == "" {
		label = node.Labels[betaInstanceTypeLabel]
	}
	if label == "" {
		return "", false, fmt.Errorf("node %q has no %s label (the cloud controller manager sets it): pass --instance-type", node.Name, instanceTypeLabel)
	}
	_, err = nodecheck.ProfileFor(planner.Embedded(), label)
	if err == nil {
		return label, true, nil
	}
	// GKE N1 machines carry their GPUs as accelerators: the catalog names
	// them "n1-highmem-8+1xT4", from the machine type, the accelerator
	// label and the GPU count.
	acc := node.Labels[gkeAcceleratorLabel]
	if acc == "" {
		return label, true, fmt.Errorf("node %q: %v", node.Name, err)
	}
	n, ok := node.Status.Capacity[gpuResource]
	if !ok || n.Value() == 0 {
		return label, false, fmt.Errorf("node %q: machine type %s with accelerator %s: the GPU count (capacity %s) is not reported yet: pass --instance-type", node.Name, label, acc, gpuResource)
	}
	model := strings.ToUpper(strings.TrimPrefix(strings.TrimPrefix(acc, "nvidia-"), "tesla-"))
	name := fmt.Sprintf("%s+%dx%s", label, n.Value(), model)
	if _, err2 := nodecheck.ProfileFor(planner.Embedded(), name); err2 != nil {
		return label, true, fmt.Errorf("node %q: neither %s nor %s (accelerator %s) is in the catalog: %v", node.Name, label, name, acc, err)
	}
	return name, true, nil
}
