package kubefront

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
)

// resource is one kind the simulated API server stores.
type resource struct {
	gvr        schema.GroupVersionResource
	kind       string
	singular   string
	namespaced bool
	shortNames []string
	// subresources the server serves ("status", "log").
	subresources []string
	// fields returns the field-selector fields of an object beyond
	// metadata.name and metadata.namespace.
	fields func(runtime.Object) fields.Set
}

func (r *resource) gvk() schema.GroupVersionKind { return r.gvr.GroupVersion().WithKind(r.kind) }

func (r *resource) hasSub(s string) bool {
	for _, x := range r.subresources {
		if x == s {
			return true
		}
	}
	return false
}

// groupName is the group as the store keys name it ("core" for "").
func (r *resource) groupName() string {
	if r.gvr.Group == "" {
		return "core"
	}
	return r.gvr.Group
}

// key is the store key of an object of this resource.
func (r *resource) key(ns, name string) string {
	return r.groupName() + "/" + r.gvr.Resource + "/" + ns + "/" + name
}

// prefix is the store key prefix of every object of this resource.
func (r *resource) prefix() string { return r.groupName() + "/" + r.gvr.Resource + "/" }

func (r *resource) new() runtime.Object {
	o, err := scheme.Scheme.New(r.gvk())
	if err != nil {
		panic(fmt.Sprintf("kubefront: %v is not in the client-go scheme: %v", r.gvk(), err))
	}
	o.GetObjectKind().SetGroupVersionKind(r.gvk())
	return o
}

func (r *resource) newList() runtime.Object {
	gvk := r.gvk()
	gvk.Kind += "List"
	o, err := scheme.Scheme.New(gvk)
	if err != nil {
		panic(fmt.Sprintf("kubefront: %v is not in the client-go scheme: %v", gvk, err))
	}
	o.GetObjectKind().SetGroupVersionKind(gvk)
	return o
}

var (
	coreV1   = schema.GroupVersion{Version: "v1"}
	appsV1   = schema.GroupVersion{Group: "apps", Version: "v1"}
	rbacV1   = schema.GroupVersion{Group: "rbac.authorization.k8s.io", Version: "v1"}
	eventsV1 = schema.GroupVersion{Group: "events.k8s.io", Version: "v1"}
)

// resources are the kinds served, in discovery order.
var resources = []*resource{
	{gvr: coreV1.WithResource("namespaces"), kind: "Namespace", singular: "namespace", shortNames: []string{"ns"}, subresources: []string{"status"},
		fields: func(o runtime.Object) fields.Set {
			return fields.Set{"status.phase": string(o.(*corev1.Namespace).Status.Phase)}
		}},
	{gvr: coreV1.WithResource("nodes"), kind: "Node", singular: "node", shortNames: []string{"no"}, subresources: []string{"status"},
		fields: func(o runtime.Object) fields.Set {
			return fields.Set{"spec.unschedulable": fmt.Sprint(o.(*corev1.Node).Spec.Unschedulable)}
		}},
	{gvr: coreV1.WithResource("pods"), kind: "Pod", singular: "pod", namespaced: true, shortNames: []string{"po"}, subresources: []string{"status", "log"},
		fields: func(o runtime.Object) fields.Set {
			p := o.(*corev1.Pod)
			return fields.Set{"spec.nodeName": p.Spec.NodeName, "spec.restartPolicy": string(p.Spec.RestartPolicy),
				"spec.schedulerName": p.Spec.SchedulerName, "spec.serviceAccountName": p.Spec.ServiceAccountName,
				"spec.hostNetwork": fmt.Sprint(p.Spec.HostNetwork), "status.phase": string(p.Status.Phase),
				"status.podIP": p.Status.PodIP, "status.nominatedNodeName": p.Status.NominatedNodeName}
		}},
	{gvr: coreV1.WithResource("serviceaccounts"), kind: "ServiceAccount", singular: "serviceaccount", namespaced: true, shortNames: []string{"sa"}},
	{gvr: coreV1.WithResource("resourcequotas"), kind: "ResourceQuota", singular: "resourcequota", namespaced: true, shortNames: []string{"quota"}, subresources: []string{"status"}},
	{gvr: coreV1.WithResource("configmaps"), kind: "ConfigMap", singular: "configmap", namespaced: true, shortNames: []string{"cm"}},
	{gvr: coreV1.WithResource("events"), kind: "Event", singular: "event", namespaced: true, shortNames: []string{"ev"},
		fields: func(o runtime.Object) fields.Set {
			e := o.(*corev1.Event)
			return fields.Set{"involvedObject.kind": e.InvolvedObject.Kind, "involvedObject.namespace": e.InvolvedObject.Namespace,
				"involvedObject.name": e.InvolvedObject.Name, "involvedObject.uid": string(e.InvolvedObject.UID),
				"involvedObject.apiVersion": e.InvolvedObject.APIVersion, "involvedObject.resourceVersion": e.InvolvedObject.ResourceVersion,
				"involvedObject.fieldPath": e.InvolvedObject.FieldPath, "reason": e.Reason, "reportingComponent": e.ReportingController,
				"source": e.Source.Component, "type": e.Type}
		}},
	{gvr: eventsV1.WithResource("events"), kind: "Event", singular: "event", namespaced: true, shortNames: []string{"ev"},
		fields: func(o runtime.Object) fields.Set {
			e := o.(*eventsv1.Event)
			return fields.Set{"regarding.kind": e.Regarding.Kind, "regarding.namespace": e.Regarding.Namespace,
				"regarding.name": e.Regarding.Name, "regarding.uid": string(e.Regarding.UID), "reason": e.Reason,
				"reportingController": e.ReportingController, "type": e.Type}
		}},
	{gvr: rbacV1.WithResource("clusterroles"), kind: "ClusterRole", singular: "clusterrole"},
	{gvr: rbacV1.WithResource("clusterrolebindings"), kind: "ClusterRoleBinding", singular: "clusterrolebinding"},
	{gvr: rbacV1.WithResource("roles"), kind: "Role", singular: "role", namespaced: true},
	{gvr: rbacV1.WithResource("rolebindings"), kind: "RoleBinding", singular: "rolebinding", namespaced: true},
	{gvr: appsV1.WithResource("daemonsets"), kind: "DaemonSet", singular: "daemonset", namespaced: true, shortNames: []string{"ds"}, subresources: []string{"status"}},
}

var (
	resNamespaces  = lookup(coreV1, "namespaces")
	resNodes       = lookup(coreV1, "nodes")
	resPods        = lookup(coreV1, "pods")
	resSAs         = lookup(coreV1, "serviceaccounts")
	resEvents      = lookup(coreV1, "events")
	resCRBs        = lookup(rbacV1, "clusterrolebindings")
	resClusterRole = lookup(rbacV1, "clusterroles")
	resRoles       = lookup(rbacV1, "roles")
	resRoleBinding = lookup(rbacV1, "rolebindings")
	resDaemonSets  = lookup(appsV1, "daemonsets")
)

func lookup(gv schema.GroupVersion, name string) *resource {
	for _, r := range resources {
		if r.gvr.GroupVersion() == gv && r.gvr.Resource == name {
			return r
		}
	}
	return nil
}

// byPrefix finds the resource of a store key.
func byPrefix(key string) *resource {
	for _, r := range resources {
		p := r.prefix()
		if len(key) > len(p) && key[:len(p)] == p {
			return r
		}
	}
	return nil
}

// verbs every stored resource supports.
var allVerbs = metav1.Verbs{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}

// groupVersions are the served API groups and versions.
func groupVersions() []schema.GroupVersion {
	seen := map[schema.GroupVersion]bool{}
	var out []schema.GroupVersion
	for _, r := range resources {
		gv := r.gvr.GroupVersion()
		if gv.Group != "" && !seen[gv] {
			seen[gv] = true
			out = append(out, gv)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Group < out[j].Group })
	return out
}

// resourceList is the discovery document of one group version.
func resourceList(gv schema.GroupVersion) *metav1.APIResourceList {
	l := &metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: gv.String()}
	for _, r := range resources {
		if r.gvr.GroupVersion() != gv {
			continue
		}
		l.APIResources = append(l.APIResources, metav1.APIResource{Name: r.gvr.Resource, SingularName: r.singular,
			Namespaced: r.namespaced, Kind: r.kind, Verbs: allVerbs, ShortNames: r.shortNames})
		for _, s := range r.subresources {
			verbs := metav1.Verbs{"get", "patch", "update"}
			kind := r.kind
			if s == "log" {
				verbs, kind = metav1.Verbs{"get"}, "Pod"
			}
			l.APIResources = append(l.APIResources, metav1.APIResource{Name: r.gvr.Resource + "/" + s, Namespaced: r.namespaced, Kind: kind, Verbs: verbs})
		}
	}
	return l
}
