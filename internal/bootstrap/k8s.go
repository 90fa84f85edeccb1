package bootstrap

import (
	"fmt"
	"strings"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/lazyre"
)

// Kubernetes name rules (k8s.io/apimachinery/pkg/util/validation).
var (
	dns1123LabelRe     = lazyre.New(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dns1123SubdomainRe = lazyre.New(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	qualifiedNameRe    = lazyre.New(`^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`)
	labelValueRe       = lazyre.New(`^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$`)
)

func checkDNS1123Label(s string) error {
	if len(s) > 63 || !dns1123LabelRe().MatchString(s) {
		return fmt.Errorf("must be a DNS-1123 label (lowercase letters, digits and '-', at most 63 characters), got %q", s)
	}
	return nil
}

func checkDNS1123Subdomain(s string) error {
	if len(s) > 253 || !dns1123SubdomainRe().MatchString(s) {
		return fmt.Errorf("must be a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', at most 253 characters), got %q", s)
	}
	return nil
}

// checkQualifiedName checks a label or taint key: an optional DNS subdomain
// prefix and '/', then a name of at most 63 characters.
func checkQualifiedName(key string) error {
	if key == "" {
		return fmt.Errorf("key must not be empty")
	}
	name := key
	if prefix, n, hasPrefix := strings.Cut(key, "/"); hasPrefix {
		if prefix == "" || len(prefix) > 253 || !dns1123SubdomainRe().MatchString(prefix) {
			return fmt.Errorf("key %q: prefix must be a DNS-1123 subdomain", key)
		}
		name = n
	}
	if len(name) > 63 || !qualifiedNameRe().MatchString(name) {
		return fmt.Errorf("key %q: name must be at most 63 characters, start and end with a letter or digit and contain only letters, digits, '-', '_' and '.'", key)
	}
	return nil
}

func checkLabelValue(key, value string) error {
	if len(value) > 63 || !labelValueRe().MatchString(value) {
		return fmt.Errorf("value %q of %q must be empty or at most 63 characters, start and end with a letter or digit and contain only letters, digits, '-', '_' and '.'", value, key)
	}
	return nil
}

// kubeletLabels are the labels in the kubernetes.io and k8s.io namespaces
// that a kubelet may set on its own Node with --node-labels.
var kubeletLabels = map[string]bool{
	"kubernetes.io/hostname":                   true,
	"kubernetes.io/os":                         true,
	"kubernetes.io/arch":                       true,
	"beta.kubernetes.io/os":                    true,
	"beta.kubernetes.io/arch":                  true,
	"beta.kubernetes.io/instance-type":         true,
	"node.kubernetes.io/instance-type":         true,
	"topology.kubernetes.io/zone":              true,
	"topology.kubernetes.io/region":            true,
	"failure-domain.beta.kubernetes.io/zone":   true,
	"failure-domain.beta.kubernetes.io/region": true,
}

// kubeletMaySetLabel mirrors the kubelet's check of --node-labels: labels
// in the kubernetes.io and k8s.io namespaces are refused (and the kubelet
// does not start) unless they are well known or under kubelet.kubernetes.io
// or node.kubernetes.io.
func kubeletMaySetLabel(key string) bool {
	prefix, _, ok := strings.Cut(key, "/")
	if !ok {
		return true
	}
	inNS := func(ns string) bool { return prefix == ns || strings.HasSuffix(prefix, "."+ns) }
	if !inNS("kubernetes.io") && !inNS("k8s.io") {
		return true
	}
	if kubeletLabels[key] {
		return true
	}
	return inNS("kubelet.kubernetes.io") || inNS("node.kubernetes.io")
}

// checkNodeLabel checks one label the kubelet registers its Node with.
func checkNodeLabel(key, value string) error {
	if err := checkQualifiedName(key); err != nil {
		return err
	}
	if err := checkLabelValue(key, value); err != nil {
		return err
	}
	if key == HealthLabel {
		return fmt.Errorf("key %q is set by gpufleet-nodecheck", key)
	}
	if !kubeletMaySetLabel(key) {
		return fmt.Errorf("key %q: the kubelet may not set labels in the kubernetes.io and k8s.io namespaces except under kubelet.kubernetes.io/ and node.kubernetes.io/ and a few well-known labels", key)
	}
	return nil
}

// taint is a parsed "key=value:Effect" or "key:Effect".
type taint struct {
	Key, Value, Effect string
}

func (t taint) String() string {
	if t.Value == "" {
		return t.Key + ":" + t.Effect
	}
	return t.Key + "=" + t.Value + ":" + t.Effect
}

// parseTaint parses and checks a taint as kubelet --register-with-taints
// takes it.
func parseTaint(s string) (taint, error) {
	spec, effect, ok := cutLast(s, ":")
	if !ok {
		return taint{}, fmt.Errorf("taint %q must have the form key=value:Effect", s)
	}
	switch effect {
	case "NoSchedule", "PreferNoSchedule", "NoExecute":
	default:
		return taint{}, fmt.Errorf("taint %q: effect must be NoSchedule, PreferNoSchedule or NoExecute", s)
	}
	key, value, _ := strings.Cut(spec, "=")
	if err := checkQualifiedName(key); err != nil {
		return taint{}, fmt.Errorf("taint %q: %w", s, err)
	}
	if err := checkLabelValue(key, value); err != nil {
		return taint{}, fmt.Errorf("taint %q: %w", s, err)
	}
	return taint{Key: key, Value: value, Effect: effect}, nil
}

func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}
