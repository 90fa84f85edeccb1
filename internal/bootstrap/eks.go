package bootstrap

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"sort"
	"strings"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/lazyre"
)

// EKS user data layout.
const (
	// MIMEBoundary is the fixed boundary of the multi-part user data, so
	// that the same input always renders the same document.
	MIMEBoundary = "//gpufleet//"
	// NodecheckPath is where the EKS user data installs gpufleet-nodecheck.
	NodecheckPath = "/usr/local/bin/gpufleet-nodecheck"
	// NodecheckUnit is the systemd unit that runs gpufleet-nodecheck on EKS nodes.
	NodecheckUnit = "gpufleet-nodecheck.service"
	// BootReportPath is where the boot-time check writes its JSON report.
	BootReportPath = "/var/lib/gpufleet/nodecheck-boot.json"
)

// EKSCluster is what an AL2023 node needs to join.
type EKSCluster struct {
	// Name is the EKS cluster name.
	Name string
	// APIServerEndpoint is the https URL of the cluster's API server.
	APIServerEndpoint string
	// CertificateAuthority is the cluster CA bundle: base64-encoded PEM,
	// as EKS returns it.
	CertificateAuthority string
	// ServiceCIDR is the Kubernetes service CIDR, such as 10.100.0.0/16.
	ServiceCIDR string
}

// EKSNode describes the nodes of one pool.
type EKSNode struct {
	// InstanceType is the EC2 instance type, such as p5.48xlarge, passed
	// to gpufleet-nodecheck. Empty: the script reads it from the instance
	// metadata service.
	InstanceType string
	// Labels are the node labels the kubelet registers, rendered sorted by key.
	Labels map[string]string
	// Taints are extra taints "key=value:Effect" (or "key:Effect") the
	// kubelet registers, besides UnvalidatedTaint. They are rendered in the
	// given order.
	Taints []string
}

var (
	eksClusterNameRe   = lazyre.New(`^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$`)
	ec2InstanceTypeRe  = lazyre.New(`^[a-z0-9][a-z0-9-]*\.[a-z0-9][a-z0-9-]*$`)
	base64CharactersRe = lazyre.New(`^[A-Za-z0-9+/]+={0,2}$`)
)

func (c EKSCluster) validate() []error {
	var errs []error
	if !eksClusterNameRe().MatchString(c.Name) {
		errs = append(errs, fieldErr("cluster.name", "must be 1 to 100 letters, digits, '-' and '_', starting with a letter or digit, got %q", c.Name))
	}
	if err := checkAPIServerEndpoint(c.APIServerEndpoint); err != nil {
		errs = append(errs, fieldErr("cluster.api_server_endpoint", "%s", err))
	}
	if err := checkCertificateAuthority(c.CertificateAuthority); err != nil {
		errs = append(errs, fieldErr("cluster.certificate_authority", "%s", err))
	}
	if p, err := netip.ParsePrefix(c.ServiceCIDR); err != nil || p != p.Masked() {
		errs = append(errs, fieldErr("cluster.service_cidr", "must be a network address in CIDR notation such as 10.100.0.0/16, got %q", c.ServiceCIDR))
	}
	return errs
}

func checkAPIServerEndpoint(raw string) error {
	if raw == "" {
		return errors.New("required")
	}
	if !isPrintableASCII(raw) || strings.ContainsAny(raw, " '\"\\`") {
		return errors.New("must be a URL without spaces, quotes or control characters")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("must be an https URL such as https://ABCDEF.gr7.us-east-1.eks.amazonaws.com, got %q", raw)
	}
	return nil
}

func checkCertificateAuthority(s string) error {
	if s == "" {
		return errors.New("required")
	}
	if !base64CharactersRe().MatchString(s) {
		return errors.New("must be base64-encoded PEM on one line, as EKS returns it")
	}
	pem, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return errors.New("must be base64-encoded PEM on one line, as EKS returns it")
	}
	if !bytes.Contains(pem, []byte("-----BEGIN CERTIFICATE-----")) {
		return errors.New("must decode to a PEM certificate")
	}
	return nil
}

// kubeletFlags validates n and returns the --node-labels and
// --register-with-taints flags of the NodeConfig.
func (n EKSNode) kubeletFlags(s Settings) ([]string, []error) {
	var errs []error
	if n.InstanceType != "" && (len(n.InstanceType) > 64 || !ec2InstanceTypeRe().MatchString(n.InstanceType)) {
		errs = append(errs, fieldErr("node.instance_type", "must be an EC2 instance type such as p5.48xlarge, got %q", n.InstanceType))
	}

	keys := make([]string, 0, len(n.Labels))
	for k := range n.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	labels := make([]string, 0, len(keys))
	for _, k := range keys {
		if err := checkNodeLabel(k, n.Labels[k]); err != nil {
			errs = append(errs, fieldErr("node.labels", "%s", err))
			continue
		}
		labels = append(labels, k+"="+n.Labels[k])
	}

	var taints []string
	if s.NVMLValidation {
		taints = append(taints, UnvalidatedTaint)
	}
	seen := map[string]bool{}
	for _, raw := range n.Taints {
		t, err := parseTaint(raw)
		if err != nil {
			errs = append(errs, fieldErr("node.taints", "%s", err))
			continue
		}
		if t.Key == unvalidatedTaintKey {
			errs = append(errs, fieldErr("node.taints", "taint key %q is reserved: set nvml_validation instead", t.Key))
			continue
		}
		if id := t.Key + ":" + t.Effect; seen[id] {
			errs = append(errs, fieldErr("node.taints", "duplicate taint %q (key and effect)", raw))
			continue
		} else {
			seen[id] = true
		}
		taints = append(taints, t.String())
	}

	var flags []string
	if len(labels) > 0 {
		flags = append(flags, "--node-labels="+strings.Join(labels, ","))
	}
	if len(taints) > 0 {
		flags = append(flags, "--register-with-taints="+strings.Join(taints, ","))
	}
	return flags, errs
}

type nodeConfigData struct {
	Cluster      EKSCluster
	KubeletFlags []string
}

type nodecheckScriptData struct {
	URL          string
	SHA256       string
	CurlProto    string
	InstanceType string
	Args         []string
	Path         string
	Unit         string
	Report       string
}

type userDataPart struct {
	ContentType string
	Body        string
}

type userDataData struct {
	Boundary string
	Parts    []userDataPart
}

// EKSUserData renders Amazon Linux 2023 user data for the nodes of one pool:
// a MIME multi-part document with the fixed boundary MIMEBoundary.
//
// The first part, of type application/node.eks.aws, is the nodeadm
// NodeConfig that joins the node to cluster c, with kubelet flags
// --node-labels (labels sorted by key) and --register-with-taints
// (UnvalidatedTaint first when s.NVMLValidation, then n.Taints).
//
// When s.NVMLValidation is true, a second part of type text/x-shellscript
// downloads gpufleet-nodecheck from s.NodecheckURL, checks it against
// s.NodecheckSHA256, installs it as NodecheckPath and runs it once at boot
// as the systemd unit NodecheckUnit, writing its JSON report to
// BootReportPath (and the journal). It does not talk to Kubernetes: the
// NodeRestriction admission plugin, on in EKS, forbids the kubelet's
// credentials from changing the node's taints, so removing the
// unvalidated taint is left to the DaemonSet (DaemonSetManifest), whose
// service account may. s.NodecheckURL and s.NodecheckSHA256 are then
// required.
//
// All inputs are validated; the error joins one *FieldError per problem.
func EKSUserData(c EKSCluster, n EKSNode, s Settings) (string, error) {
	var errs []error
	if err := s.Validate(); err != nil {
		errs = append(errs, err)
	}
	if s.NVMLValidation {
		if s.NodecheckURL == "" {
			errs = append(errs, fieldErr("nodecheck_url", "required when nvml_validation is true"))
		}
		if s.NodecheckSHA256 == "" {
			errs = append(errs, fieldErr("nodecheck_sha256", "required when nvml_validation is true"))
		}
	}
	errs = append(errs, c.validate()...)
	flags, ferrs := n.kubeletFlags(s)
	errs = append(errs, ferrs...)
	if err := errors.Join(errs...); err != nil {
		return "", err
	}

	nodeConfig, err := render("eks-nodeconfig.yaml.tmpl", nodeConfigData{Cluster: c, KubeletFlags: flags})
	if err != nil {
		return "", err
	}
	parts := []userDataPart{{ContentType: "application/node.eks.aws", Body: nodeConfig}}

	if s.NVMLValidation {
		proto := "=https"
		if strings.HasPrefix(s.NodecheckURL, "http:") {
			proto = "=http,https"
		}
		script, err := render("eks-nodecheck.sh.tmpl", nodecheckScriptData{
			URL:          s.NodecheckURL,
			SHA256:       strings.ToLower(s.NodecheckSHA256),
			CurlProto:    proto,
			InstanceType: n.InstanceType,
			Args:         s.bootArgs(),
			Path:         NodecheckPath,
			Unit:         NodecheckUnit,
			Report:       BootReportPath,
		})
		if err != nil {
			return "", err
		}
		parts = append(parts, userDataPart{ContentType: `text/x-shellscript; charset="us-ascii"`, Body: script})
	}

	for _, p := range parts {
		if strings.Contains(p.Body, "--"+MIMEBoundary) {
			return "", fmt.Errorf("bootstrap: part %s contains the MIME boundary", p.ContentType)
		}
	}
	return render("eks-userdata.mime.tmpl", userDataData{Boundary: MIMEBoundary, Parts: parts})
}

// EKSUserDataBase64 is EKSUserData base64-encoded (standard encoding), as
// EC2 launch templates take it.
func EKSUserDataBase64(c EKSCluster, n EKSNode, s Settings) (string, error) {
	ud, err := EKSUserData(c, n, s)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString([]byte(ud)), nil
}
