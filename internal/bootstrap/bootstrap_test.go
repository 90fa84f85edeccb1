package bootstrap

import (
	"bytes"
	"encoding/base64"
	"errors"
	"flag"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// checkGolden compares got with testdata/name.golden, or rewrites that file
// with -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run go test -update to accept):\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}

var testCA = base64.StdEncoding.EncodeToString([]byte("-----BEGIN CERTIFICATE-----\nMIIBfakeCertificateForTests\n-----END CERTIFICATE-----\n"))

func testCluster() EKSCluster {
	return EKSCluster{
		Name:                 "gpu-prod",
		APIServerEndpoint:    "https://0123456789ABCDEF0123456789ABCDEF.gr7.us-east-1.eks.amazonaws.com",
		CertificateAuthority: testCA,
		ServiceCIDR:          "10.100.0.0/16",
	}
}

func testNode() EKSNode {
	return EKSNode{
		InstanceType: "p5.48xlarge",
		Labels: map[string]string{
			"team":                    "ml",
			"node.kubernetes.io/pool": "p5",
			"gpufleet.dev/pool":       "training",
			"empty":                   "",
		},
		Taints: []string{"nvidia.com/gpu=present:NoSchedule", "dedicated:PreferNoSchedule"},
	}
}

func testSettings() Settings {
	return Settings{
		NVMLValidation:   true,
		MinDriverVersion: "550.54.15",
		NodecheckURL:     "https://downloads.gpufleet.dev/nodecheck/v1.2.0/gpufleet-nodecheck-linux-amd64",
		NodecheckSHA256:  "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
		FailAction:       "cordon",
		RecheckInterval:  "10m",
		Image:            "ghcr.io/gpufleet/nodecheck:v1.2.0@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	}
}

func eksCases() []struct {
	name string
	c    EKSCluster
	n    EKSNode
	s    Settings
} {
	minimal := Settings{
		NVMLValidation:  true,
		NodecheckURL:    "https://downloads.gpufleet.dev/gpufleet-nodecheck",
		NodecheckSHA256: strings.Repeat("ab", 32),
	}
	local := minimal
	local.NodecheckURL = "http://127.0.0.1:8080/gpufleet-nodecheck"
	return []struct {
		name string
		c    EKSCluster
		n    EKSNode
		s    Settings
	}{
		{"eks_nvml", testCluster(), testNode(), testSettings()},
		{"eks_nvml_defaults", testCluster(), EKSNode{}, minimal},
		{"eks_nvml_local_http", testCluster(), EKSNode{InstanceType: "g6e.xlarge"}, local},
		{"eks_no_nvml", testCluster(), testNode(), Settings{}},
		{"eks_no_nvml_bare", testCluster(), EKSNode{}, Settings{}},
	}
}

func TestEKSUserDataGolden(t *testing.T) {
	for _, tc := range eksCases() {
		t.Run(tc.name, func(t *testing.T) {
			got, err := EKSUserData(tc.c, tc.n, tc.s)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, tc.name, got)
		})
	}
}

func TestEKSUserDataDeterministic(t *testing.T) {
	n := testNode()
	for i := 0; i < 20; i++ {
		n.Labels[string(rune('a'+i))+"-label"] = "v"
	}
	first, err := EKSUserData(testCluster(), n, testSettings())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		again, err := EKSUserData(testCluster(), n, testSettings())
		if err != nil {
			t.Fatal(err)
		}
		if again != first {
			t.Fatal("EKSUserData output differs between runs")
		}
	}
}

func TestEKSUserDataBase64(t *testing.T) {
	want, err := EKSUserData(testCluster(), testNode(), testSettings())
	if err != nil {
		t.Fatal(err)
	}
	enc, err := EKSUserDataBase64(testCluster(), testNode(), testSettings())
	if err != nil {
		t.Fatal(err)
	}
	dec, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		t.Fatal(err)
	}
	if string(dec) != want {
		t.Error("EKSUserDataBase64 does not decode to EKSUserData")
	}
	if _, err := EKSUserDataBase64(EKSCluster{}, EKSNode{}, Settings{}); err == nil {
		t.Error("EKSUserDataBase64 accepted an empty cluster")
	}
}

// parseUserData parses a user data document as nodeadm and cloud-init do.
func parseUserData(t *testing.T, ud string) (contentTypes, bodies []string) {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(ud))
	if err != nil {
		t.Fatal(err)
	}
	if v := msg.Header.Get("MIME-Version"); v != "1.0" {
		t.Errorf("MIME-Version = %q", v)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	if mt != "multipart/mixed" || params["boundary"] != MIMEBoundary {
		t.Fatalf("Content-Type = %s %v", mt, params)
	}
	r := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		contentTypes = append(contentTypes, p.Header.Get("Content-Type"))
		bodies = append(bodies, string(body))
	}
	return contentTypes, bodies
}

func TestEKSUserDataMIME(t *testing.T) {
	tests := []struct {
		name      string
		s         Settings
		wantTypes []string
	}{
		{"nvml", testSettings(), []string{"application/node.eks.aws", "text/x-shellscript"}},
		{"no_nvml", Settings{}, []string{"application/node.eks.aws"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ud, err := EKSUserData(testCluster(), testNode(), tt.s)
			if err != nil {
				t.Fatal(err)
			}
			types, bodies := parseUserData(t, ud)
			if len(types) != len(tt.wantTypes) {
				t.Fatalf("parts = %q, want %q", types, tt.wantTypes)
			}
			for i, ct := range types {
				mt, _, err := mime.ParseMediaType(ct)
				if err != nil || mt != tt.wantTypes[i] {
					t.Errorf("part %d Content-Type = %q, want %s", i, ct, tt.wantTypes[i])
				}
			}
			nc := bodies[0]
			for _, want := range []string{
				"apiVersion: node.eks.aws/v1alpha1\n",
				"kind: NodeConfig\n",
				"    cidr: '10.100.0.0/16'\n",
				"      - '--node-labels=empty=,gpufleet.dev/pool=training,node.kubernetes.io/pool=p5,team=ml'\n",
			} {
				if !strings.Contains(nc, want) {
					t.Errorf("NodeConfig lacks %q:\n%s", want, nc)
				}
			}
			hasTaint := strings.Contains(nc, "--register-with-taints="+UnvalidatedTaint+",")
			if hasTaint != tt.s.NVMLValidation {
				t.Errorf("NodeConfig has the unvalidated taint = %v, want %v:\n%s", hasTaint, tt.s.NVMLValidation, nc)
			}
			if tt.s.NVMLValidation {
				sh := bodies[1]
				for _, want := range []string{
					"#!/bin/bash\n",
					"set -euo pipefail\n",
					"sha256sum --check",
					"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", // lowercased
					"--proto '=https'",
					"install -m 0755 -o root -g root \"$tmp/gpufleet-nodecheck\" '/usr/local/bin/gpufleet-nodecheck'\n",
					"http://169.254.169.254/latest/api/token",
					"latest/meta-data/$1",
					"imds_get local-hostname",
					"ExecStart=/usr/local/bin/gpufleet-nodecheck --node-name ${NODE_NAME} --instance-type ${INSTANCE_TYPE} --min-driver-version 550.54.15 --format json\n",
					"Type=oneshot\n",
					"StandardOutput=truncate:/var/lib/gpufleet/nodecheck-boot.json\n",
					"systemctl enable gpufleet-nodecheck.service\n",
				} {
					if !strings.Contains(sh, want) {
						t.Errorf("script lacks %q", want)
					}
				}
			}
		})
	}
}

func TestEKSScriptSyntax(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not installed")
	}
	for _, tc := range eksCases() {
		if !tc.s.NVMLValidation {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			ud, err := EKSUserData(tc.c, tc.n, tc.s)
			if err != nil {
				t.Fatal(err)
			}
			_, bodies := parseUserData(t, ud)
			cmd := exec.Command(bash, "-n")
			cmd.Stdin = strings.NewReader(bodies[1])
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("bash -n: %v\n%s", err, out)
			}
		})
	}
}

func daemonSetCases() []struct {
	name string
	s    Settings
	o    DaemonSetOptions
} {
	minimal := Settings{NVMLValidation: true, Image: "ghcr.io/gpufleet/nodecheck:v1"}
	return []struct {
		name string
		s    Settings
		o    DaemonSetOptions
	}{
		{"daemonset_gke", testSettings(), DaemonSetOptions{GPUNodeLabel: "cloud.google.com/gke-accelerator", DriverHostPath: GKEDriverHostPath}},
		{"daemonset_aks", minimal, DaemonSetOptions{Namespace: "gpu-ops", GPUNodeLabel: "kubernetes.azure.com/accelerator", RuntimeClassName: "nvidia"}},
	}
}

func TestDaemonSetManifestGolden(t *testing.T) {
	for _, tc := range daemonSetCases() {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DaemonSetManifest(tc.s, tc.o)
			if err != nil {
				t.Fatal(err)
			}
			again, err := DaemonSetManifest(tc.s, tc.o)
			if err != nil || again != got {
				t.Fatal("DaemonSetManifest output differs between runs")
			}
			checkGolden(t, tc.name, got)
		})
	}
}

func TestDaemonSetManifestDocuments(t *testing.T) {
	for _, tc := range daemonSetCases() {
		t.Run(tc.name, func(t *testing.T) {
			m, err := DaemonSetManifest(tc.s, tc.o)
			if err != nil {
				t.Fatal(err)
			}
			var kinds []string
			for i, doc := range strings.Split(m, "\n---\n") {
				apiVersion := topLevel(doc, "apiVersion")
				kind := topLevel(doc, "kind")
				if apiVersion == "" || kind == "" {
					t.Errorf("document %d lacks apiVersion or kind:\n%s", i, doc)
				}
				kinds = append(kinds, kind)
				if kind == "ClusterRole" {
					if strings.Contains(doc, "*") {
						t.Errorf("ClusterRole has a wildcard:\n%s", doc)
					}
					for _, want := range []string{"      - nodes\n", "      - get\n", "      - patch\n", "      - events\n", "      - create\n"} {
						if !strings.Contains(doc, want) {
							t.Errorf("ClusterRole lacks %q", want)
						}
					}
					for _, verb := range []string{"list", "watch", "update", "delete", "escalate", "bind"} {
						if strings.Contains(doc, "- "+verb+"\n") {
							t.Errorf("ClusterRole grants %s", verb)
						}
					}
				}
				if kind == "DaemonSet" {
					for _, want := range []string{
						"      priorityClassName: system-node-critical\n",
						"                  - key: '" + tc.o.GPUNodeLabel + "'\n                    operator: Exists\n",
						"        - key: 'gpufleet.dev/unvalidated'\n          operator: Exists\n",
						"        - key: nvidia.com/gpu\n          operator: Exists\n",
						"            - $(NODE_NAME)\n",
						"                  fieldPath: spec.nodeName\n",
						"            path: /dev/kmsg\n",
						"              mountPath: /dev/kmsg\n              readOnly: true\n",
					} {
						if !strings.Contains(doc, want) {
							t.Errorf("DaemonSet lacks %q", want)
						}
					}
					driver := []string{
						"            privileged: true\n",
						"            - name: LD_LIBRARY_PATH\n              value: '/usr/local/nvidia/lib64'\n",
						"            - name: nvidia-driver\n              mountPath: '/usr/local/nvidia'\n              readOnly: true\n",
						"            path: '" + tc.o.DriverHostPath + "'\n            type: Directory\n",
					}
					if tc.o.DriverHostPath == "" {
						driver = []string{"            privileged: false\n", "            allowPrivilegeEscalation: false\n"}
					}
					for _, want := range driver {
						if !strings.Contains(doc, want) {
							t.Errorf("DaemonSet lacks %q", want)
						}
					}
					hasRC := strings.Contains(doc, "runtimeClassName:")
					if hasRC != (tc.o.RuntimeClassName != "") {
						t.Errorf("runtimeClassName present = %v, want %v", hasRC, tc.o.RuntimeClassName != "")
					}
				}
			}
			want := "Namespace ResourceQuota ServiceAccount ClusterRole ClusterRoleBinding DaemonSet"
			if got := strings.Join(kinds, " "); got != want {
				t.Errorf("kinds = %s, want %s", got, want)
			}
		})
	}
}

// topLevel returns the value of a top-level "key: value" line of a YAML document.
func topLevel(doc, key string) string {
	for _, line := range strings.Split(doc, "\n") {
		if v, ok := strings.CutPrefix(line, key+": "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func TestSettingsValidateOK(t *testing.T) {
	for _, s := range []Settings{
		{},
		testSettings(),
		{MinDriverVersion: "550", RecheckInterval: "30s", FailAction: "taint"},
		{NodecheckURL: "http://localhost/x", RecheckInterval: "1h30m"},
		{NodecheckURL: "http://[::1]:8080/x"},
	} {
		if err := s.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v", s, err)
		}
	}
}

// fieldErrors flattens the *FieldError values of a joined error.
func fieldErrors(err error) []*FieldError {
	var out []*FieldError
	var fe *FieldError
	switch {
	case err == nil:
	case errors.As(err, &fe) && fe == err:
		out = append(out, fe)
	default:
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				out = append(out, fieldErrors(e)...)
			}
		}
	}
	return out
}

// wantFieldError fails unless err has a *FieldError for field whose
// message contains msg.
func wantFieldError(t *testing.T, err error, field, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s: %s", field, msg)
	}
	for _, fe := range fieldErrors(err) {
		if fe.Field == field && strings.Contains(fe.Msg, msg) {
			if !strings.Contains(err.Error(), field+": ") {
				t.Errorf("error text %q does not name %s", err, field)
			}
			return
		}
	}
	t.Fatalf("error %q has no %s error containing %q", err, field, msg)
}

func TestSettingsValidateErrors(t *testing.T) {
	tests := []struct {
		name  string
		s     Settings
		field string
		msg   string
	}{
		{"driver letters", Settings{MinDriverVersion: "550a"}, "min_driver_version", "digits and dots"},
		{"driver trailing dot", Settings{MinDriverVersion: "550."}, "min_driver_version", "digits and dots"},
		{"driver injection", Settings{MinDriverVersion: "550 $(reboot)"}, "min_driver_version", "digits and dots"},
		{"url http remote", Settings{NodecheckURL: "http://example.com/x"}, "nodecheck_url", "must use https"},
		{"url ftp", Settings{NodecheckURL: "ftp://example.com/x"}, "nodecheck_url", "must use https"},
		{"url relative", Settings{NodecheckURL: "/bin/gpufleet-nodecheck"}, "nodecheck_url", "absolute URL"},
		{"url credentials", Settings{NodecheckURL: "https://u:p@example.com/x"}, "nodecheck_url", "credentials"},
		{"url quote", Settings{NodecheckURL: "https://example.com/x'$(reboot)'"}, "nodecheck_url", "quotes"},
		{"url newline", Settings{NodecheckURL: "https://example.com/x\nreboot"}, "nodecheck_url", "control characters"},
		{"sha short", Settings{NodecheckSHA256: "abc"}, "nodecheck_sha256", "must be 64 hex characters"},
		{"sha not hex", Settings{NodecheckSHA256: strings.Repeat("g", 64)}, "nodecheck_sha256", "must be 64 hex characters"},
		{"fail action", Settings{FailAction: "drain"}, "fail_action", `must be "taint" or "cordon"`},
		{"interval unparsable", Settings{RecheckInterval: "5 minutes"}, "recheck_interval", "must be a duration"},
		{"interval unitless", Settings{RecheckInterval: "300"}, "recheck_interval", "must be a duration"},
		{"interval negative", Settings{RecheckInterval: "-5m"}, "recheck_interval", "must be a duration"},
		{"interval short", Settings{RecheckInterval: "10s"}, "recheck_interval", "at least 30s"},
		{"image space", Settings{Image: "ghcr.io/x y"}, "image", "container image reference"},
		{"image newline", Settings{Image: "ghcr.io/x\nkind: Pod"}, "image", "container image reference"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.s.Validate()
			wantFieldError(t, err, tt.field, tt.msg)
			if n := len(fieldErrors(err)); n != 1 {
				t.Errorf("got %d errors, want 1: %v", n, err)
			}
		})
	}
}

func TestSettingsValidateJoinsErrors(t *testing.T) {
	err := Settings{FailAction: "x", RecheckInterval: "1s", NodecheckSHA256: "x"}.Validate()
	if n := len(fieldErrors(err)); n != 3 {
		t.Errorf("got %d errors, want 3: %v", n, err)
	}
}

func TestEKSUserDataErrors(t *testing.T) {
	tests := []struct {
		name   string
		modify func(c *EKSCluster, n *EKSNode, s *Settings)
		field  string
		msg    string
	}{
		{"invalid settings", func(c *EKSCluster, n *EKSNode, s *Settings) { s.FailAction = "drain" }, "fail_action", "must be"},
		{"url required", func(c *EKSCluster, n *EKSNode, s *Settings) { s.NodecheckURL = "" }, "nodecheck_url", "required when nvml_validation is true"},
		{"sha required", func(c *EKSCluster, n *EKSNode, s *Settings) { s.NodecheckSHA256 = "" }, "nodecheck_sha256", "required when nvml_validation is true"},
		{"cluster name empty", func(c *EKSCluster, n *EKSNode, s *Settings) { c.Name = "" }, "cluster.name", "must be 1 to 100"},
		{"cluster name quote", func(c *EKSCluster, n *EKSNode, s *Settings) { c.Name = "a'b" }, "cluster.name", "must be 1 to 100"},
		{"endpoint empty", func(c *EKSCluster, n *EKSNode, s *Settings) { c.APIServerEndpoint = "" }, "cluster.api_server_endpoint", "required"},
		{"endpoint http", func(c *EKSCluster, n *EKSNode, s *Settings) { c.APIServerEndpoint = "http://example.com" }, "cluster.api_server_endpoint", "must be an https URL"},
		{"endpoint newline", func(c *EKSCluster, n *EKSNode, s *Settings) { c.APIServerEndpoint = "https://a\n  b: c" }, "cluster.api_server_endpoint", "control characters"},
		{"ca empty", func(c *EKSCluster, n *EKSNode, s *Settings) { c.CertificateAuthority = "" }, "cluster.certificate_authority", "required"},
		{"ca not base64", func(c *EKSCluster, n *EKSNode, s *Settings) { c.CertificateAuthority = "not base64!" }, "cluster.certificate_authority", "base64"},
		{"ca with newline", func(c *EKSCluster, n *EKSNode, s *Settings) { c.CertificateAuthority = testCA[:8] + "\n" + testCA[8:] }, "cluster.certificate_authority", "base64"},
		{"ca not pem", func(c *EKSCluster, n *EKSNode, s *Settings) {
			c.CertificateAuthority = base64.StdEncoding.EncodeToString([]byte("hello"))
		}, "cluster.certificate_authority", "PEM certificate"},
		{"cidr invalid", func(c *EKSCluster, n *EKSNode, s *Settings) { c.ServiceCIDR = "10.100.0.0" }, "cluster.service_cidr", "CIDR"},
		{"cidr host bits", func(c *EKSCluster, n *EKSNode, s *Settings) { c.ServiceCIDR = "10.100.0.1/16" }, "cluster.service_cidr", "CIDR"},
		{"instance type", func(c *EKSCluster, n *EKSNode, s *Settings) { n.InstanceType = "p5.48xlarge;reboot" }, "node.instance_type", "EC2 instance type"},
		{"label reserved", func(c *EKSCluster, n *EKSNode, s *Settings) { n.Labels = map[string]string{HealthLabel: "ok"} }, "node.labels", "set by gpufleet-nodecheck"},
		{"label kubernetes.io", func(c *EKSCluster, n *EKSNode, s *Settings) {
			n.Labels = map[string]string{"node-role.kubernetes.io/gpu": ""}
		}, "node.labels", "may not set labels"},
		{"label k8s.io", func(c *EKSCluster, n *EKSNode, s *Settings) { n.Labels = map[string]string{"example.k8s.io/x": "y"} }, "node.labels", "may not set labels"},
		{"label key too long", func(c *EKSCluster, n *EKSNode, s *Settings) {
			n.Labels = map[string]string{strings.Repeat("a", 64): "y"}
		}, "node.labels", "at most 63"},
		{"label value too long", func(c *EKSCluster, n *EKSNode, s *Settings) {
			n.Labels = map[string]string{"a": strings.Repeat("b", 64)}
		}, "node.labels", "at most 63"},
		{"label empty key", func(c *EKSCluster, n *EKSNode, s *Settings) { n.Labels = map[string]string{"": "b"} }, "node.labels", "must not be empty"},
		{"taint no effect", func(c *EKSCluster, n *EKSNode, s *Settings) { n.Taints = []string{"a=b"} }, "node.taints", "key=value:Effect"},
		{"taint bad effect", func(c *EKSCluster, n *EKSNode, s *Settings) { n.Taints = []string{"a=b:Evict"} }, "node.taints", "effect must be"},
		{"taint reserved", func(c *EKSCluster, n *EKSNode, s *Settings) { n.Taints = []string{UnvalidatedTaint} }, "node.taints", "reserved"},
		{"taint reserved without nvml", func(c *EKSCluster, n *EKSNode, s *Settings) {
			s.NVMLValidation = false
			n.Taints = []string{"gpufleet.dev/unvalidated:NoExecute"}
		}, "node.taints", "reserved"},
		{"taint duplicate", func(c *EKSCluster, n *EKSNode, s *Settings) { n.Taints = []string{"a=b:NoSchedule", "a=c:NoSchedule"} }, "node.taints", "duplicate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, n, s := testCluster(), testNode(), testSettings()
			tt.modify(&c, &n, &s)
			out, err := EKSUserData(c, n, s)
			if out != "" {
				t.Error("output returned with an error")
			}
			wantFieldError(t, err, tt.field, tt.msg)
		})
	}
}

// TestEKSUserDataRejectsInjection checks that values that could break out
// of YAML, the shell or the kubelet flag lists are rejected, not rendered.
func TestEKSUserDataRejectsInjection(t *testing.T) {
	bad := []string{
		"a\nb",
		"a\rb",
		"a'b",
		`a"b`,
		"$(reboot)",
		"a$(reboot)",
		"`reboot`",
		"a;reboot",
		"a b",
		"a,b=c",
		"a=b",
		"a:b",
		"--" + MIMEBoundary,
		"é",
	}
	for _, v := range bad {
		for _, tc := range []struct {
			field string
			node  EKSNode
		}{
			{"node.labels", EKSNode{Labels: map[string]string{v: "ok"}}},
			{"node.labels", EKSNode{Labels: map[string]string{"ok": v}}},
			{"node.labels", EKSNode{Labels: map[string]string{"example.com/" + v: "ok"}}},
			{"node.taints", EKSNode{Taints: []string{v + "=x:NoSchedule"}}},
			{"node.taints", EKSNode{Taints: []string{"k=" + v + ":NoSchedule"}}},
			{"node.taints", EKSNode{Taints: []string{"k=x:" + v}}},
			{"node.instance_type", EKSNode{InstanceType: "p5." + v}},
		} {
			out, err := EKSUserData(testCluster(), tc.node, testSettings())
			if err == nil {
				t.Errorf("%s %+v: accepted:\n%s", tc.field, tc.node, out)
				continue
			}
			found := false
			for _, fe := range fieldErrors(err) {
				found = found || fe.Field == tc.field
			}
			if !found {
				t.Errorf("%s %+v: error %q does not name %s", tc.field, tc.node, err, tc.field)
			}
		}
	}
}

func TestDaemonSetManifestErrors(t *testing.T) {
	gke := DaemonSetOptions{GPUNodeLabel: "cloud.google.com/gke-accelerator"}
	tests := []struct {
		name  string
		s     Settings
		o     DaemonSetOptions
		field string
		msg   string
	}{
		{"invalid settings", Settings{NVMLValidation: true, Image: "x", RecheckInterval: "1s"}, gke, "recheck_interval", "at least 30s"},
		{"nvml disabled", Settings{Image: "x"}, gke, "nvml_validation", "must be true"},
		{"image required", Settings{NVMLValidation: true}, gke, "image", "required"},
		{"gpu label required", testSettings(), DaemonSetOptions{}, "daemonset.gpu_node_label", "required"},
		{"gpu label invalid", testSettings(), DaemonSetOptions{GPUNodeLabel: "a b"}, "daemonset.gpu_node_label", "name must be"},
		{"gpu label injection", testSettings(), DaemonSetOptions{GPUNodeLabel: "x'\n  y: z"}, "daemonset.gpu_node_label", "name must be"},
		{"namespace invalid", testSettings(), DaemonSetOptions{Namespace: "Kube_System", GPUNodeLabel: "x"}, "daemonset.namespace", "DNS-1123 label"},
		{"runtime class invalid", testSettings(), DaemonSetOptions{GPUNodeLabel: "x", RuntimeClassName: "NVIDIA"}, "daemonset.runtime_class_name", "DNS-1123 subdomain"},
		{"driver path relative", testSettings(), DaemonSetOptions{GPUNodeLabel: "x", DriverHostPath: "home/kubernetes/bin/nvidia"}, "daemonset.driver_host_path", "clean absolute path"},
		{"driver path unclean", testSettings(), DaemonSetOptions{GPUNodeLabel: "x", DriverHostPath: "/home/../etc"}, "daemonset.driver_host_path", "clean absolute path"},
		{"driver path injection", testSettings(), DaemonSetOptions{GPUNodeLabel: "x", DriverHostPath: "/x'\n  y: z"}, "daemonset.driver_host_path", "clean absolute path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := DaemonSetManifest(tt.s, tt.o)
			if out != "" {
				t.Error("output returned with an error")
			}
			wantFieldError(t, err, tt.field, tt.msg)
		})
	}
}

func TestQuoting(t *testing.T) {
	if got, err := yamlQuote("it's"); err != nil || got != "'it''s'" {
		t.Errorf("yamlQuote = %q, %v", got, err)
	}
	if _, err := yamlQuote("a\nb"); err == nil {
		t.Error("yamlQuote accepted a newline")
	}
	if got, err := shellQuote("it's $(x)"); err != nil || got != `'it'\''s $(x)'` {
		t.Errorf("shellQuote = %q, %v", got, err)
	}
	for _, s := range []string{"a b", "100%", "${X}", ""} {
		if _, err := unitArg(s); err == nil {
			t.Errorf("unitArg(%q) accepted", s)
		}
	}
}

func TestTemplatesParse(t *testing.T) {
	var names []string
	for _, tmpl := range templates().Templates() {
		if tmpl.Name() != "bootstrap" {
			names = append(names, tmpl.Name())
		}
	}
	if len(names) != 4 {
		t.Errorf("templates = %q, want 4", names)
	}
	if bytes.Contains([]byte(strings.Join(names, "")), []byte(" ")) {
		t.Error("template name with a space")
	}
}

// TestRegexpsCompile: the validators' expressions, compiled on first use
// (lazyre), are all valid, so that none panics in a user's apply.
func TestRegexpsCompile(t *testing.T) {
	for name, re := range map[string]func() *regexp.Regexp{
		"hexSHA256Re": hexSHA256Re, "driverVersionRe": driverVersionRe, "imageRe": imageRe, "durationRe": durationRe,
		"unitArgRe": unitArgRe, "hostPathRe": hostPathRe, "eksClusterNameRe": eksClusterNameRe,
		"ec2InstanceTypeRe": ec2InstanceTypeRe, "base64CharactersRe": base64CharactersRe,
		"dns1123LabelRe": dns1123LabelRe, "dns1123SubdomainRe": dns1123SubdomainRe,
		"qualifiedNameRe": qualifiedNameRe, "labelValueRe": labelValueRe,
	} {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s: %v", name, r)
				}
			}()
			re()
		}()
	}
}
