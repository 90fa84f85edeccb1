package kubefront

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
)

// column is one server-side printer column: priority 1 columns show with
// kubectl -o wide only.
type column struct {
	name, typ, format string
	priority          int32
	cell              func(runtime.Object) any
}

// table renders objects the way kubectl get prints them (server-side
// printing), for clients that ask for meta.k8s.io/v1 Tables.
func (st *store) table(res *resource, obj runtime.Object, include string) runtime.Object {
	var items []runtime.Object
	if meta.IsListType(obj) {
		items, _ = meta.ExtractList(obj)
	} else {
		items = []runtime.Object{obj}
	}
	now := st.srv.e.Now()
	cols := columnsFor(res, now)
	t := &metav1.Table{TypeMeta: metav1.TypeMeta{Kind: "Table", APIVersion: "meta.k8s.io/v1"}}
	if lm, err := meta.ListAccessor(obj); err == nil {
		t.ResourceVersion = lm.GetResourceVersion()
	}
	for _, c := range cols {
		t.ColumnDefinitions = append(t.ColumnDefinitions, metav1.TableColumnDefinition{Name: c.name, Type: c.typ, Format: c.format, Priority: c.priority})
	}
	for _, it := range items {
		row := metav1.TableRow{}
		for _, c := range cols {
			row.Cells = append(row.Cells, c.cell(it))
		}
		switch include {
		case "None":
		case "Object":
			row.Object.Raw, _ = json.Marshal(it)
		default:
			m, _ := meta.Accessor(it)
			pm := &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{Kind: "PartialObjectMetadata", APIVersion: "meta.k8s.io/v1"}}
			pm.ObjectMeta = metav1.ObjectMeta{Name: m.GetName(), Namespace: m.GetNamespace(), UID: m.GetUID(), ResourceVersion: m.GetResourceVersion(),
				CreationTimestamp: m.GetCreationTimestamp(), Labels: m.GetLabels(), Annotations: m.GetAnnotations(), OwnerReferences: m.GetOwnerReferences()}
			row.Object.Raw, _ = json.Marshal(pm)
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

func age(now time.Time) func(runtime.Object) any {
	return func(o runtime.Object) any {
		m, _ := meta.Accessor(o)
		return since(now, m.GetCreationTimestamp().Time)
	}
}

func since(now, t time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t))
}

func name(o runtime.Object) any {
	m, _ := meta.Accessor(o)
	return m.GetName()
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

func columnsFor(res *resource, now time.Time) []column {
	nameCol := column{name: "Name", typ: "string", format: "name", cell: name}
	ageCol := column{name: "Age", typ: "string", cell: age(now)}
	switch res {
	case resNodes:
		n := func(o runtime.Object) *corev1.Node { return o.(*corev1.Node) }
		return []column{nameCol,
			{name: "Status", typ: "string", cell: func(o runtime.Object) any { return nodeStatus(n(o)) }},
			{name: "Roles", typ: "string", cell: func(o runtime.Object) any { return nodeRoles(n(o)) }},
			ageCol,
			{name: "Version", typ: "string", cell: func(o runtime.Object) any { return n(o).Status.NodeInfo.KubeletVersion }},
			{name: "Internal-IP", typ: "string", priority: 1, cell: func(o runtime.Object) any { return nodeAddress(n(o), corev1.NodeInternalIP) }},
			{name: "External-IP", typ: "string", priority: 1, cell: func(o runtime.Object) any { return nodeAddress(n(o), corev1.NodeExternalIP) }},
			{name: "OS-Image", typ: "string", priority: 1, cell: func(o runtime.Object) any { return n(o).Status.NodeInfo.OSImage }},
			{name: "Kernel-Version", typ: "string", priority: 1, cell: func(o runtime.Object) any { return n(o).Status.NodeInfo.KernelVersion }},
			{name: "Container-Runtime", typ: "string", priority: 1, cell: func(o runtime.Object) any { return n(o).Status.NodeInfo.ContainerRuntimeVersion }},
		}
	case resPods:
		p := func(o runtime.Object) *corev1.Pod { return o.(*corev1.Pod) }
		return []column{nameCol,
			{name: "Ready", typ: "string", cell: func(o runtime.Object) any { return podReady(p(o)) }},
			{name: "Status", typ: "string", cell: func(o runtime.Object) any { return podStatus(p(o)) }},
			{name: "Restarts", typ: "string", cell: func(o runtime.Object) any { return podRestarts(p(o)) }},
			ageCol,
			{name: "IP", typ: "string", priority: 1, cell: func(o runtime.Object) any { return orNone(p(o).Status.PodIP) }},
			{name: "Node", typ: "string", priority: 1, cell: func(o runtime.Object) any { return orNone(p(o).Spec.NodeName) }},
			{name: "Nominated Node", typ: "string", priority: 1, cell: func(o runtime.Object) any { return orNone(p(o).Status.NominatedNodeName) }},
			{name: "Readiness Gates", typ: "string", priority: 1, cell: func(o runtime.Object) any { return "<none>" }},
		}
	case resDaemonSets:
		d := func(o runtime.Object) *appsv1.DaemonSet { return o.(*appsv1.DaemonSet) }
		return []column{nameCol,
			{name: "Desired", typ: "integer", cell: func(o runtime.Object) any { return d(o).Status.DesiredNumberScheduled }},
			{name: "Current", typ: "integer", cell: func(o runtime.Object) any { return d(o).Status.CurrentNumberScheduled }},
			{name: "Ready", typ: "integer", cell: func(o runtime.Object) any { return d(o).Status.NumberReady }},
			{name: "Up-to-date", typ: "integer", cell: func(o runtime.Object) any { return d(o).Status.UpdatedNumberScheduled }},
			{name: "Available", typ: "integer", cell: func(o runtime.Object) any { return d(o).Status.NumberAvailable }},
			{name: "Node Selector", typ: "string", cell: func(o runtime.Object) any { return orNone(selectorString(d(o).Spec.Template.Spec.NodeSelector)) }},
			ageCol,
			{name: "Containers", typ: "string", priority: 1, cell: func(o runtime.Object) any { return containerNames(d(o).Spec.Template.Spec.Containers) }},
			{name: "Images", typ: "string", priority: 1, cell: func(o runtime.Object) any { return containerImages(d(o).Spec.Template.Spec.Containers) }},
			{name: "Selector", typ: "string", priority: 1, cell: func(o runtime.Object) any {
				if s := d(o).Spec.Selector; s != nil {
					return selectorString(s.MatchLabels)
				}
				return "<none>"
			}},
		}
	case resEvents:
		e := func(o runtime.Object) *corev1.Event { return o.(*corev1.Event) }
		return []column{
			{name: "Last Seen", typ: "string", cell: func(o runtime.Object) any { return since(now, e(o).LastTimestamp.Time) }},
			{name: "Type", typ: "string", cell: func(o runtime.Object) any { return e(o).Type }},
			{name: "Reason", typ: "string", cell: func(o runtime.Object) any { return e(o).Reason }},
			{name: "Object", typ: "string", cell: func(o runtime.Object) any {
				return strings.ToLower(e(o).InvolvedObject.Kind) + "/" + e(o).InvolvedObject.Name
			}},
			{name: "Message", typ: "string", cell: func(o runtime.Object) any { return e(o).Message }},
			{name: "Name", typ: "string", format: "name", priority: 1, cell: name},
		}
	case resNamespaces:
		return []column{nameCol,
			{name: "Status", typ: "string", cell: func(o runtime.Object) any { return string(o.(*corev1.Namespace).Status.Phase) }},
			ageCol}
	}
	return []column{nameCol, ageCol}
}

func nodeStatus(n *corev1.Node) string {
	status := "Unknown"
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			if c.Status == corev1.ConditionTrue {
				status = "Ready"
			} else {
				status = "NotReady"
			}
		}
	}
	if n.Spec.Unschedulable {
		status += ",SchedulingDisabled"
	}
	return status
}

func nodeRoles(n *corev1.Node) string {
	var roles []string
	for k := range n.Labels {
		if r, ok := strings.CutPrefix(k, "node-role.kubernetes.io/"); ok && r != "" {
			roles = append(roles, r)
		}
	}
	sort.Strings(roles)
	if len(roles) == 0 {
		return "<none>"
	}
	return strings.Join(roles, ",")
}

func nodeAddress(n *corev1.Node, t corev1.NodeAddressType) string {
	for _, a := range n.Status.Addresses {
		if a.Type == t {
			return a.Address
		}
	}
	return "<none>"
}

func podReady(p *corev1.Pod) string {
	ready := 0
	for _, c := range p.Status.ContainerStatuses {
		if c.Ready {
			ready++
		}
	}
	return fmt.Sprintf("%d/%d", ready, len(p.Spec.Containers))
}

// podStatus is kubectl's STATUS column: the reason of a waiting or
// terminated container, else the phase.
func podStatus(p *corev1.Pod) string {
	if p.DeletionTimestamp != nil {
		return "Terminating"
	}
	reason := string(p.Status.Phase)
	if p.Status.Reason != "" {
		reason = p.Status.Reason
	}
	for _, c := range p.Status.ContainerStatuses {
		switch {
		case c.State.Waiting != nil && c.State.Waiting.Reason != "":
			reason = c.State.Waiting.Reason
		case c.State.Terminated != nil && c.State.Terminated.Reason != "":
			reason = c.State.Terminated.Reason
		case c.State.Terminated != nil:
			reason = fmt.Sprintf("ExitCode:%d", c.State.Terminated.ExitCode)
		}
	}
	return reason
}

func podRestarts(p *corev1.Pod) string {
	n := int32(0)
	for _, c := range p.Status.ContainerStatuses {
		n += c.RestartCount
	}
	return fmt.Sprint(n)
}

func selectorString(m map[string]string) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func containerNames(cs []corev1.Container) string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return strings.Join(out, ",")
}

func containerImages(cs []corev1.Container) string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Image)
	}
	return strings.Join(out, ",")
}
