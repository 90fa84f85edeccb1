// Package kubeinstall puts a manifest (the validator's Namespace,
// ServiceAccount, RBAC and DaemonSet) into a cluster by server-side apply
// with gpufleet's field manager, tells whether what it applied is still
// there (drift), and removes it. It speaks to the Kubernetes API through
// client-go's dynamic client and the API's discovery documents, so the
// same code serves EKS, GKE, AKS and the simulated clusters.
package kubeinstall

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// FieldManager is the server-side apply field manager of everything
// gpufleet applies.
const FieldManager = "gpufleet"

// DigestAnnotation carries the digest of the manifest an object was
// applied from, so that an edit out of band shows as drift.
const DigestAnnotation = "gpufleet.dev/manifest-sha256"

// Object names one object of a manifest.
type Object struct {
	APIVersion, Kind, Namespace, Name string
}

func (o Object) String() string {
	if o.Namespace != "" {
		return o.Kind + " " + o.Namespace + "/" + o.Name
	}
	return o.Kind + " " + o.Name
}

// Manifest is a parsed multi-document YAML manifest.
type Manifest struct {
	Objects []*unstructured.Unstructured
	// Digest is the SHA-256 of the manifest's text.
	Digest string
}

// Parse reads a multi-document YAML manifest. Every document must be one
// object with apiVersion, kind and metadata.name.
func Parse(text string) (*Manifest, error) {
	h := sha256.Sum256([]byte(text))
	m := &Manifest{Digest: hex.EncodeToString(h[:])}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader([]byte(text)), 4096)
	for i := 0; ; i++ {
		var raw map[string]any
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("manifest document %d: %w", i+1, err)
		}
		if len(raw) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: raw}
		if u.GetAPIVersion() == "" || u.GetKind() == "" || u.GetName() == "" {
			return nil, fmt.Errorf("manifest document %d: apiVersion, kind and metadata.name are required", i+1)
		}
		m.Objects = append(m.Objects, u)
	}
	return m, nil
}

// Refs names the manifest's objects, in manifest order.
func (m *Manifest) Refs() []Object {
	out := make([]Object, len(m.Objects))
	for i, u := range m.Objects {
		out[i] = Object{APIVersion: u.GetAPIVersion(), Kind: u.GetKind(), Namespace: u.GetNamespace(), Name: u.GetName()}
	}
	return out
}

// Client applies manifests to one cluster.
type Client struct {
	dyn    dynamic.Interface
	mapper *mapper
}

// New makes a client for the cluster cfg points at.
func New(cfg *rest.Config) (*Client, error) {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	m, err := newMapper(cfg)
	if err != nil {
		return nil, err
	}
	return &Client{dyn: dyn, mapper: m}, nil
}

func (c *Client) resource(ctx context.Context, u *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	gvk := schema.FromAPIVersionAndKind(u.GetAPIVersion(), u.GetKind())
	gvr, namespaced, err := c.mapper.resourceFor(ctx, gvk)
	switch {
	case meta.IsNoMatchError(err):
		return nil, fmt.Errorf("the cluster does not serve %s %s: %w", u.GetAPIVersion(), u.GetKind(), err)
	case err != nil:
		return nil, fmt.Errorf("reading the cluster's API discovery for %s %s: %w", u.GetAPIVersion(), u.GetKind(), explain(err))
	}
	if namespaced {
		return c.dyn.Resource(gvr).Namespace(u.GetNamespace()), nil
	}
	return c.dyn.Resource(gvr), nil
}

// Apply server-side applies every object in manifest order (namespaces
// and RBAC before the DaemonSet that uses them), taking ownership of the
// fields gpufleet sets (force: gpufleet is the owner of these objects).
// Fields gpufleet stops setting are removed by the next apply.
func (c *Client) Apply(ctx context.Context, m *Manifest) error {
	for _, u := range m.Objects {
		obj := u.DeepCopy()
		ann := obj.GetAnnotations()
		if ann == nil {
			ann = map[string]string{}
		}
		ann[DigestAnnotation] = m.Digest
		obj.SetAnnotations(ann)
		ri, err := c.resource(ctx, obj)
		if err != nil {
			return err
		}
		ref := Object{Kind: obj.GetKind(), Namespace: obj.GetNamespace(), Name: obj.GetName()}
		if _, err := ri.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: FieldManager, Force: true}); err != nil {
			return fmt.Errorf("applying %s: %w", ref, explain(err))
		}
	}
	return nil
}

// Status is what exists of a manifest in the cluster.
type Status struct {
	// Missing are the objects that do not exist.
	Missing []Object
	// Changed are the objects applied from another manifest (or edited so
	// that the digest annotation is gone).
	Changed []Object
}

// Current reports whether everything the manifest has exists as applied.
func (s Status) Current() bool { return len(s.Missing) == 0 && len(s.Changed) == 0 }

func (s Status) String() string {
	var parts []string
	for _, o := range s.Missing {
		parts = append(parts, o.String()+" is missing")
	}
	for _, o := range s.Changed {
		parts = append(parts, o.String()+" differs from what gpufleet applied")
	}
	return strings.Join(parts, "; ")
}

// Observe reads every object of the manifest.
func (c *Client) Observe(ctx context.Context, m *Manifest) (Status, error) {
	var st Status
	for _, u := range m.Objects {
		ri, err := c.resource(ctx, u)
		if err != nil {
			return st, err
		}
		ref := Object{APIVersion: u.GetAPIVersion(), Kind: u.GetKind(), Namespace: u.GetNamespace(), Name: u.GetName()}
		got, err := ri.Get(ctx, u.GetName(), metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			st.Missing = append(st.Missing, ref)
		case err != nil:
			return st, fmt.Errorf("reading %s: %w", ref, explain(err))
		case got.GetAnnotations()[DigestAnnotation] != m.Digest:
			st.Changed = append(st.Changed, ref)
		}
	}
	return st, nil
}

// Delete removes the objects in reverse order (the DaemonSet first, the
// namespace last); objects already gone are fine.
func (c *Client) Delete(ctx context.Context, m *Manifest) error {
	policy := metav1.DeletePropagationForeground
	for i := len(m.Objects) - 1; i >= 0; i-- {
		u := m.Objects[i]
		ri, err := c.resource(ctx, u)
		if err != nil {
			return err
		}
		if err := ri.Delete(ctx, u.GetName(), metav1.DeleteOptions{PropagationPolicy: &policy}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting %s %s: %w", u.GetKind(), u.GetName(), explain(err))
		}
	}
	return nil
}

// explain says what a person must change for the API errors an install
// meets.
func explain(err error) error {
	switch {
	case apierrors.IsUnauthorized(err):
		return fmt.Errorf("the cluster rejected gpufleet's credentials (on EKS the provider's identity needs an access entry with AmazonEKSClusterAdminPolicy; on GKE roles/container.admin; on AKS the Azure Kubernetes Service RBAC Cluster Admin role or local accounts): %w", err)
	case apierrors.IsForbidden(err):
		return fmt.Errorf("forbidden: gpufleet's identity needs cluster-admin rights to install the validator: %w", err)
	}
	return err
}
