package kubefront

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
)

// Labels the DaemonSet controller puts on its pods.
const (
	labelTemplateGeneration = "pod-template-generation"
	labelRevisionHash       = "controller-revision-hash"
)

// podRun is a running container.
type podRun struct {
	uid    types.UID
	cancel context.CancelFunc
	done   chan struct{}
}

// reconcile brings the cluster in line with the engine: Nodes, default
// service accounts, DaemonSet pods, pod runs.
func (st *store) reconcile() {
	st.reconciling.Lock()
	defer st.reconciling.Unlock()
	ms := st.machines()
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return
	}
	if err := st.reconcileNodes(ms); err != nil {
		return
	}
	if err := st.defaultServiceAccounts(); err != nil {
		return
	}
	if err := st.reconcileDaemonSets(); err != nil {
		return
	}
	st.reconcilePods(ms)
	_ = st.daemonSetStatuses()
}

// defaultServiceAccounts gives every namespace its "default" service
// account, as the service account controller does. It is called with
// st.mu held.
func (st *store) defaultServiceAccounts() error {
	for _, o := range st.list(resNamespaces, "", nil, nil) {
		ns := o.(*corev1.Namespace).Name
		if st.get(resSAs, ns, "default") != nil {
			continue
		}
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}}
		st.stamp(resSAs, sa, st.srv.e.Now())
		if err := st.commit(resSAs, sa, watch.Added); err != nil {
			return err
		}
	}
	return nil
}

// daemonTolerations are the tolerations the DaemonSet controller adds to
// every daemon pod.
var daemonTolerations = []corev1.Toleration{
	{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
	{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
	{Key: corev1.TaintNodeDiskPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodeMemoryPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodePIDPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
}

func tolerates(t corev1.Toleration, taint corev1.Taint) bool {
	if t.Effect != "" && t.Effect != taint.Effect {
		return false
	}
	if t.Key != "" && t.Key != taint.Key {
		return false
	}
	switch t.Operator {
	case corev1.TolerationOpExists:
		return true
	case "", corev1.TolerationOpEqual:
		return t.Key != "" && t.Value == taint.Value
	}
	return false
}

// placement is whether a daemon pod should be started on a node (node
// selector, required node affinity, NoSchedule and NoExecute taints
// tolerated) and whether a running one may stay (NoExecute only).
func placement(spec *corev1.PodSpec, node *corev1.Node) (run, stay bool) {
	if !selects(spec, node) {
		return false, false
	}
	tols := append(append([]corev1.Toleration(nil), spec.Tolerations...), daemonTolerations...)
	run, stay = true, true
	for _, taint := range node.Spec.Taints {
		if taint.Effect == corev1.TaintEffectPreferNoSchedule {
			continue
		}
		ok := false
		for _, t := range tols {
			if tolerates(t, taint) {
				ok = true
				break
			}
		}
		if !ok {
			run = false
			if taint.Effect == corev1.TaintEffectNoExecute {
				stay = false
			}
		}
	}
	return run, stay
}

// selects evaluates the node selector and the required node affinity.
func selects(spec *corev1.PodSpec, node *corev1.Node) bool {
	for k, v := range spec.NodeSelector {
		if node.Labels[k] != v {
			return false
		}
	}
	a := spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return true
	}
	for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		if len(term.MatchExpressions) == 0 && len(term.MatchFields) == 0 {
			continue
		}
		ok := true
		for _, r := range term.MatchExpressions {
			v, has := node.Labels[r.Key]
			ok = ok && requirementHolds(r, v, has)
		}
		for _, r := range term.MatchFields {
			ok = ok && r.Key == "metadata.name" && requirementHolds(r, node.Name, true)
		}
		if ok {
			return true
		}
	}
	return false
}

func requirementHolds(r corev1.NodeSelectorRequirement, v string, has bool) bool {
	in := func() bool {
		for _, x := range r.Values {
			if x == v {
				return true
			}
		}
		return false
	}
	switch r.Operator {
	case corev1.NodeSelectorOpIn:
		return has && in()
	case corev1.NodeSelectorOpNotIn:
		return !has || !in()
	case corev1.NodeSelectorOpExists:
		return has
	case corev1.NodeSelectorOpDoesNotExist:
		return !has
	case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
		if !has || len(r.Values) != 1 {
			return false
		}
		a, err1 := strconv.ParseInt(v, 10, 64)
		b, err2 := strconv.ParseInt(r.Values[0], 10, 64)
		if err1 != nil || err2 != nil {
			return false
		}
		if r.Operator == corev1.NodeSelectorOpGt {
			return a > b
		}
		return a < b
	}
	return false
}

// ownerDaemonSet is the UID of the DaemonSet controlling a pod.
func ownerDaemonSet(p *corev1.Pod) types.UID {
	for _, r := range p.OwnerReferences {
		if r.Kind == "DaemonSet" && r.Controller != nil && *r.Controller {
			return r.UID
		}
	}
	return ""
}

// reconcileDaemonSets creates, replaces and deletes daemon pods: one per
// admitted node and DaemonSet, at the DaemonSet's generation (a changed
// template replaces the pods on every node at once); pods of deleted
// DaemonSets go. It is called with st.mu held.
func (st *store) reconcileDaemonSets() error {
	nodes := st.list(resNodes, "", nil, nil)
	nodeByName := map[string]*corev1.Node{}
	for _, o := range nodes {
		n := o.(*corev1.Node)
		nodeByName[n.Name] = n
	}
	byOwner := map[types.UID][]*corev1.Pod{}
	for _, o := range st.list(resPods, "", nil, nil) {
		p := o.(*corev1.Pod)
		if uid := ownerDaemonSet(p); uid != "" {
			byOwner[uid] = append(byOwner[uid], p)
		}
	}
	live := map[types.UID]bool{}
	for _, o := range st.list(resDaemonSets, "", nil, nil) {
		ds := o.(*appsv1.DaemonSet)
		live[ds.UID] = true
		onNode := map[string][]*corev1.Pod{}
		for _, p := range byOwner[ds.UID] {
			onNode[p.Spec.NodeName] = append(onNode[p.Spec.NodeName], p)
		}
		gen := strconv.FormatInt(ds.Generation, 10)
		for name, ps := range onNode {
			if _, ok := nodeByName[name]; !ok {
				for _, p := range ps {
					if err := st.deletePod(p); err != nil {
						return err
					}
				}
				delete(onNode, name)
			}
		}
		for _, o := range nodes {
			n := o.(*corev1.Node)
			run, stay := placement(&ds.Spec.Template.Spec, n)
			var keep []*corev1.Pod
			for _, p := range onNode[n.Name] {
				if !stay || p.Labels[labelTemplateGeneration] != gen {
					if err := st.deletePod(p); err != nil {
						return err
					}
					continue
				}
				keep = append(keep, p)
			}
			if run && len(keep) == 0 {
				if err := st.createDaemonPod(ds, n.Name); err != nil {
					return err
				}
			}
		}
	}
	for uid, ps := range byOwner {
		if live[uid] {
			continue
		}
		for _, p := range ps {
			if err := st.deletePod(p); err != nil {
				return err
			}
		}
	}
	return nil
}

// deletePod removes a pod and stops its container. It is called with
// st.mu held.
func (st *store) deletePod(p *corev1.Pod) error {
	key := resPods.key(p.Namespace, p.Name)
	if cur := st.objs[key]; cur == nil {
		return nil
	}
	if r := st.runs[key]; r != nil {
		r.cancel()
		delete(st.runs, key)
	}
	return st.remove(resPods, p)
}

// podSuffixAlphabet is the alphabet of generated name suffixes.
const podSuffixAlphabet = "bcdfghjklmnpqrstvwxz2456789"

// randomSuffix is a deterministic 5-character name suffix.
func randomSuffix(seed string) string {
	h := sha256.Sum256([]byte(seed))
	v := binary.BigEndian.Uint64(h[:8])
	b := make([]byte, 5)
	for i := range b {
		b[i] = podSuffixAlphabet[v%uint64(len(podSuffixAlphabet))]
		v /= uint64(len(podSuffixAlphabet))
	}
	return string(b)
}

// createDaemonPod creates the pod of a DaemonSet on a node, or records a
// FailedCreate event when its service account is missing (admission
// rejects such pods). It is called with st.mu held.
func (st *store) createDaemonPod(ds *appsv1.DaemonSet, node string) error {
	spec := *ds.Spec.Template.Spec.DeepCopy()
	if spec.ServiceAccountName == "" {
		spec.ServiceAccountName = "default"
	}
	if st.get(resSAs, ds.Namespace, spec.ServiceAccountName) == nil {
		msg := fmt.Sprintf("Error creating: pods %q is forbidden: error looking up service account %s/%s: serviceaccount %q not found",
			ds.Name+"-", ds.Namespace, spec.ServiceAccountName, spec.ServiceAccountName)
		return st.recordEvent(ds.Namespace, "DaemonSet", "apps/v1", ds.Name, ds.UID, corev1.EventTypeWarning, "FailedCreate", msg)
	}
	spec.NodeName = node
	spec.Tolerations = append(spec.Tolerations, daemonTolerations...)
	if spec.RestartPolicy == "" {
		spec.RestartPolicy = corev1.RestartPolicyAlways
	}
	if spec.SchedulerName == "" {
		spec.SchedulerName = corev1.DefaultSchedulerName
	}
	if spec.DNSPolicy == "" {
		spec.DNSPolicy = corev1.DNSClusterFirst
	}
	if spec.TerminationGracePeriodSeconds == nil {
		g := int64(corev1.DefaultTerminationGracePeriodSeconds)
		spec.TerminationGracePeriodSeconds = &g
	}
	labels := map[string]string{}
	for k, v := range ds.Spec.Template.Labels {
		labels[k] = v
	}
	gen := strconv.FormatInt(ds.Generation, 10)
	labels[labelTemplateGeneration] = gen
	th := sha256.Sum256([]byte(ds.Name + "/" + gen))
	labels[labelRevisionHash] = hex.EncodeToString(th[:5])
	yes := true
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: ds.Name + "-" + randomSuffix(fmt.Sprintf("%s/%s/%s/%d", ds.UID, node, gen, st.rv)), Namespace: ds.Namespace,
			Labels: labels, Annotations: ds.Spec.Template.Annotations,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "DaemonSet", Name: ds.Name, UID: ds.UID, Controller: &yes, BlockOwnerDeletion: &yes}},
		},
		Spec: spec,
		Status: corev1.PodStatus{Phase: corev1.PodPending, QOSClass: corev1.PodQOSBurstable, Conditions: []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(st.srv.e.Now().UTC().Truncate(time.Second))}}},
	}
	st.stamp(resPods, p, st.srv.e.Now())
	return st.commit(resPods, p, watch.Added)
}

// recordEvent creates a core/v1 event once (the same message is not
// recorded again). It is called with st.mu held.
func (st *store) recordEvent(ns, kind, apiVersion, name string, uid types.UID, typ, reason, msg string) error {
	h := sha256.Sum256([]byte(kind + "/" + name + "/" + reason + "/" + msg))
	evName := name + "." + hex.EncodeToString(h[:8])
	if st.get(resEvents, ns, evName) != nil {
		return nil
	}
	t := metav1.NewTime(st.srv.e.Now().UTC().Truncate(time.Second))
	ev := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: evName, Namespace: ns},
		InvolvedObject: corev1.ObjectReference{Kind: kind, APIVersion: apiVersion, Name: name, Namespace: ns, UID: uid},
		Reason:         reason, Message: msg, Type: typ, Count: 1, FirstTimestamp: t, LastTimestamp: t,
		Source: corev1.EventSource{Component: "daemonset-controller"}, ReportingController: "daemonset-controller"}
	st.stamp(resEvents, ev, st.srv.e.Now())
	return st.commit(resEvents, ev, watch.Added)
}

// daemonSetStatuses keeps each DaemonSet's status current. A pod counts
// as ready while its container runs, and also once it has succeeded
// (gpufleet-nodecheck may check once and exit 0). It is called with st.mu
// held.
func (st *store) daemonSetStatuses() error {
	nodes := st.list(resNodes, "", nil, nil)
	pods := st.list(resPods, "", nil, nil)
	for _, o := range st.list(resDaemonSets, "", nil, nil) {
		ds := o.(*appsv1.DaemonSet)
		gen := strconv.FormatInt(ds.Generation, 10)
		var s appsv1.DaemonSetStatus
		should := map[string]bool{}
		for _, no := range nodes {
			n := no.(*corev1.Node)
			if run, _ := placement(&ds.Spec.Template.Spec, n); run {
				should[n.Name] = true
				s.DesiredNumberScheduled++
			}
		}
		for _, po := range pods {
			p := po.(*corev1.Pod)
			if ownerDaemonSet(p) != ds.UID {
				continue
			}
			if should[p.Spec.NodeName] {
				s.CurrentNumberScheduled++
			} else {
				s.NumberMisscheduled++
			}
			if p.Labels[labelTemplateGeneration] == gen {
				s.UpdatedNumberScheduled++
			}
			if podIsReady(p) || p.Status.Phase == corev1.PodSucceeded {
				s.NumberReady++
				s.NumberAvailable++
			}
		}
		s.NumberUnavailable = max(0, s.DesiredNumberScheduled-s.NumberAvailable)
		s.ObservedGeneration = ds.Generation
		if reflect.DeepEqual(s, ds.Status) {
			continue
		}
		ds.Status = s
		if err := st.commit(resDaemonSets, ds, watch.Modified); err != nil {
			return err
		}
	}
	return nil
}

func podIsReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// reconcilePods garbage-collects pods bound to nodes that are gone and
// starts the containers of pods bound to nodes that have none running. It
// is called with st.mu held.
func (st *store) reconcilePods(ms map[string]machine) {
	for key, r := range st.runs {
		o := st.objs[key]
		if o == nil || o.(*corev1.Pod).UID != r.uid {
			r.cancel()
			delete(st.runs, key)
		}
	}
	for key := range st.logs {
		if st.objs[key] == nil {
			delete(st.logs, key)
		}
	}
	for _, o := range st.list(resPods, "", nil, nil) {
		p := o.(*corev1.Pod)
		if p.Spec.NodeName == "" {
			continue
		}
		if st.get(resNodes, "", p.Spec.NodeName) == nil {
			_ = st.deletePod(p)
			continue
		}
		key := resPods.key(p.Namespace, p.Name)
		if st.runs[key] != nil || (p.Status.Phase != corev1.PodPending && p.Status.Phase != corev1.PodRunning) {
			continue
		}
		st.startRun(p, ms[p.Spec.NodeName])
	}
}

// startRun starts a pod's first container through the Runner. It is
// called with st.mu held.
func (st *store) startRun(p *corev1.Pod, m machine) {
	s := st.srv
	if s.opts.Runner == nil || len(p.Spec.Containers) == 0 {
		return
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return
	}
	s.runs.Add(1)
	workDir := s.workDir
	s.mu.Unlock()
	key := resPods.key(p.Namespace, p.Name)
	ctx, cancel := context.WithCancel(s.ctx)
	run := &podRun{uid: p.UID, cancel: cancel, done: make(chan struct{})}
	st.runs[key] = run
	log := &logBuffer{}
	st.logs[key] = log
	c := p.Spec.Containers[0]
	env := st.containerEnv(p, c, m)
	hw := st.hardware(m.pool)
	pr := PodRun{Cloud: st.cloud, Region: st.region, Cluster: st.name, Namespace: p.Namespace, Pod: p.Name, Container: c.Name,
		NodeName: p.Spec.NodeName, Node: m.node, InstanceType: m.pool.Spec.InstanceType, GPUModel: hw.GPUModel, GPUs: hw.GPUs,
		Image: c.Image, Command: expandAll(c.Command, env), Args: expandAll(c.Args, env), Env: env, Log: log}
	if m.node.Name == "" {
		pr.GPUs = 0
	}
	dir := filepath.Join(workDir, st.id, p.Namespace, p.Name)
	token := st.saToken(p.Namespace, p.Spec.ServiceAccountName)
	go func() {
		defer s.runs.Done()
		defer close(run.done)
		defer os.RemoveAll(dir)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			st.finishPod(key, run.uid, 0, PodResult{ExitCode: 128, Err: err})
			return
		}
		pr.Kubeconfig = filepath.Join(dir, "kubeconfig")
		cfg, err := s.kubeconfig(st.cluster, st.caPEM, "system:serviceaccount:"+p.Namespace+":"+p.Spec.ServiceAccountName, token)
		if err == nil {
			err = os.WriteFile(pr.Kubeconfig, cfg, 0o600)
		}
		if err != nil {
			st.finishPod(key, run.uid, 0, PodResult{ExitCode: 128, Err: err})
			return
		}
		for restarts := 0; ; restarts++ {
			pr.Restart = restarts
			st.podRunning(key, run.uid, restarts, pr)
			res := s.opts.Runner.Run(ctx, pr)
			if ctx.Err() != nil {
				return
			}
			if res.Err != nil && res.ExitCode == 0 {
				res.ExitCode = 128
			}
			if res.Err != nil {
				fmt.Fprintf(log, "kubefront: container %s: %v\n", c.Name, res.Err)
			}
			if res.ExitCode == 0 || restarts >= s.opts.MaxRestarts {
				st.finishPod(key, run.uid, restarts, res)
				return
			}
			st.podTerminated(key, run.uid, restarts, res, false)
			select {
			case <-ctx.Done():
				return
			case <-time.After(s.opts.RestartDelay):
			}
		}
	}()
}

// containerEnv resolves a container's environment: values, downward API
// fields, config map keys; $(VAR) references to earlier variables.
func (st *store) containerEnv(p *corev1.Pod, c corev1.Container, m machine) map[string]string {
	env := map[string]string{}
	for _, e := range c.Env {
		v := expand(e.Value, env)
		if f := e.ValueFrom; f != nil {
			switch {
			case f.FieldRef != nil:
				v = podField(p, f.FieldRef.FieldPath, m)
			case f.ConfigMapKeyRef != nil:
				if o := st.get(lookup(coreV1, "configmaps"), p.Namespace, f.ConfigMapKeyRef.Name); o != nil {
					v = o.(*corev1.ConfigMap).Data[f.ConfigMapKeyRef.Key]
				}
			}
		}
		env[e.Name] = v
	}
	return env
}

func podField(p *corev1.Pod, path string, m machine) string {
	switch path {
	case "spec.nodeName":
		return p.Spec.NodeName
	case "metadata.name":
		return p.Name
	case "metadata.namespace":
		return p.Namespace
	case "metadata.uid":
		return string(p.UID)
	case "spec.serviceAccountName":
		return p.Spec.ServiceAccountName
	case "status.hostIP":
		return m.node.InternalIP
	case "status.podIP":
		return podIP(p, m)
	}
	if k, ok := strings.CutPrefix(path, "metadata.labels['"); ok {
		return p.Labels[strings.TrimSuffix(k, "']")]
	}
	if k, ok := strings.CutPrefix(path, "metadata.annotations['"); ok {
		return p.Annotations[strings.TrimSuffix(k, "']")]
	}
	return ""
}

func podIP(p *corev1.Pod, m machine) string {
	if p.Spec.HostNetwork {
		return m.node.InternalIP
	}
	h := sha256.Sum256([]byte(p.UID))
	return fmt.Sprintf("10.244.%d.%d", h[0], max(2, h[1]))
}

// expand replaces $(VAR) by the variable's value ($$ escapes a $), as the
// kubelet expands commands, arguments and environment values; unknown
// references stay as they are.
func expand(s string, env map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
			continue
		case '(':
			if j := strings.IndexByte(s[i+2:], ')'); j >= 0 {
				name := s[i+2 : i+2+j]
				if v, ok := env[name]; ok {
					b.WriteString(v)
				} else {
					b.WriteString(s[i : i+3+j])
				}
				i += 2 + j
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func expandAll(in []string, env map[string]string) []string {
	if in == nil {
		return nil
	}
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = expand(s, env)
	}
	return out
}

// updatePod changes a pod's status if it is still the same pod.
func (st *store) updatePod(key string, uid types.UID, f func(p *corev1.Pod)) {
	st.mu.Lock()
	defer st.mu.Unlock()
	o := st.objs[key]
	if o == nil || st.closed {
		return
	}
	p := o.DeepCopyObject().(*corev1.Pod)
	if p.UID != uid {
		return
	}
	f(p)
	if err := st.commit(resPods, p, watch.Modified); err != nil {
		return
	}
	_ = st.daemonSetStatuses()
}

func (st *store) containerID(key string, restarts int) string {
	h := sha256.Sum256([]byte(fmt.Sprintf("%s/%s/%d", st.id, key, restarts)))
	return "containerd://" + hex.EncodeToString(h[:])
}

// podRunning marks the container started.
func (st *store) podRunning(key string, uid types.UID, restarts int, pr PodRun) {
	now := metav1.NewTime(st.srv.e.Now().UTC().Truncate(time.Second))
	st.updatePod(key, uid, func(p *corev1.Pod) {
		m := machine{node: pr.Node}
		p.Status.Phase = corev1.PodRunning
		p.Status.HostIP = pr.Node.InternalIP
		p.Status.PodIP = podIP(p, m)
		if p.Status.HostIP != "" {
			p.Status.HostIPs = []corev1.HostIP{{IP: p.Status.HostIP}}
		}
		p.Status.PodIPs = []corev1.PodIP{{IP: p.Status.PodIP}}
		if p.Status.StartTime == nil {
			p.Status.StartTime = &now
		}
		setPodConditions(p, true, now)
		c := p.Spec.Containers[0]
		cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image, ImageID: "sha256:" + strings.TrimPrefix(st.containerID(c.Image, 0), "containerd://"),
			ContainerID: st.containerID(key, restarts), Ready: true, RestartCount: int32(restarts), State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}}
		cs.Started = &cs.Ready
		if len(p.Status.ContainerStatuses) > 0 {
			cs.LastTerminationState = p.Status.ContainerStatuses[0].LastTerminationState
		}
		p.Status.ContainerStatuses = []corev1.ContainerStatus{cs}
	})
}

// podTerminated records a container's exit; final leaves the pod
// Succeeded or Failed, otherwise the container restarts (CrashLoopBackOff
// meanwhile).
func (st *store) podTerminated(key string, uid types.UID, restarts int, res PodResult, final bool) {
	now := metav1.NewTime(st.srv.e.Now().UTC().Truncate(time.Second))
	st.updatePod(key, uid, func(p *corev1.Pod) {
		reason, msg := "Completed", ""
		if res.ExitCode != 0 {
			reason = "Error"
		}
		if res.Err != nil {
			reason, msg = "StartError", res.Err.Error()
		}
		term := &corev1.ContainerStateTerminated{ExitCode: int32(res.ExitCode), Reason: reason, Message: msg, FinishedAt: now,
			ContainerID: st.containerID(key, restarts)}
		var cs corev1.ContainerStatus
		if len(p.Status.ContainerStatuses) > 0 {
			cs = p.Status.ContainerStatuses[0]
		} else {
			c := p.Spec.Containers[0]
			cs = corev1.ContainerStatus{Name: c.Name, Image: c.Image}
		}
		if cs.State.Running != nil {
			term.StartedAt = cs.State.Running.StartedAt
		}
		cs.Ready = false
		f := false
		cs.Started = &f
		cs.RestartCount = int32(restarts)
		if final {
			cs.State = corev1.ContainerState{Terminated: term}
			p.Status.Phase = corev1.PodSucceeded
			if res.ExitCode != 0 {
				p.Status.Phase = corev1.PodFailed
			}
		} else {
			cs.LastTerminationState = corev1.ContainerState{Terminated: term}
			cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff",
				Message: fmt.Sprintf("back-off restarting failed container %s in pod %s", cs.Name, p.Name)}}
		}
		p.Status.ContainerStatuses = []corev1.ContainerStatus{cs}
		setPodConditions(p, false, now)
	})
}

func (st *store) finishPod(key string, uid types.UID, restarts int, res PodResult) {
	st.podTerminated(key, uid, restarts, res, true)
}

func setPodConditions(p *corev1.Pod, ready bool, now metav1.Time) {
	s := corev1.ConditionFalse
	if ready {
		s = corev1.ConditionTrue
	}
	want := []corev1.PodCondition{
		{Type: corev1.PodReadyToStartContainers, Status: corev1.ConditionTrue},
		{Type: corev1.PodInitialized, Status: corev1.ConditionTrue},
		{Type: corev1.PodReady, Status: s},
		{Type: corev1.ContainersReady, Status: s},
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
	}
	for i := range want {
		want[i].LastTransitionTime = now
		for _, c := range p.Status.Conditions {
			if c.Type == want[i].Type && c.Status == want[i].Status {
				want[i].LastTransitionTime = c.LastTransitionTime
			}
		}
	}
	p.Status.Conditions = want
}

// serveLog serves a pod's container log as text.
func (st *store) serveLog(w http.ResponseWriter, req *request) {
	key := resPods.key(req.ns, req.name)
	st.mu.Lock()
	exists := st.objs[key] != nil
	l := st.logs[key]
	st.mu.Unlock()
	if !exists {
		writeError(w, apierrors.NewNotFound(resPods.gvr.GroupResource(), req.name))
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	if l != nil {
		io.WriteString(w, l.String())
	}
}
