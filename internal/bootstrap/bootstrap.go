// Package bootstrap renders the bootstrap material of gpufleet GPU nodes:
// Amazon Linux 2023 user data for EKS node groups, and a Kubernetes manifest
// that runs the validator as a DaemonSet where user data is not available
// (GKE, AKS).
//
// Nodes join the cluster tainted with [UnvalidatedTaint]. The validator,
// gpufleet-nodecheck, checks the GPUs through NVML and removes that taint
// when they are healthy, recording the outcome in the [HealthLabel] label.
//
// Every value that reaches YAML, a shell script or a systemd unit is
// validated first and quoted where it is written, and the output of every
// function is deterministic: the same input gives byte-identical output.
package bootstrap

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/gpuhealth"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/lazyre"
)

// UnvalidatedTaint is the taint that GPU nodes register with when NVML
// validation is enabled. gpufleet-nodecheck removes it once the GPUs of the
// node pass validation.
const UnvalidatedTaint = gpuhealth.Taint

// HealthLabel is the node label in which gpufleet-nodecheck records the
// health of the GPUs of a node.
const HealthLabel = gpuhealth.HealthLabel

// unvalidatedTaintKey is the key of UnvalidatedTaint.
const unvalidatedTaintKey = gpuhealth.TaintKey

// Defaults of the optional Settings fields.
const (
	// DefaultFailAction is the fail action used when Settings.FailAction is empty.
	DefaultFailAction = "taint"
	// DefaultRecheckInterval is the recheck interval used when
	// Settings.RecheckInterval is empty.
	DefaultRecheckInterval = "5m"
	// MinRecheckInterval is the shortest recheck interval Validate accepts.
	MinRecheckInterval = 30 * time.Second
)

// Settings are the bootstrap options of a node pool.
type Settings struct {
	// NVMLValidation runs gpufleet-nodecheck on the nodes and registers
	// them with UnvalidatedTaint. When false, nodes get neither the taint
	// nor the validator.
	NVMLValidation bool
	// MinDriverVersion is the oldest acceptable NVIDIA driver version,
	// such as "550" or "550.54.15". Empty leaves the validator's default.
	MinDriverVersion string
	// NodecheckURL is the https URL of the gpufleet-nodecheck linux binary.
	// Plain http is accepted only for localhost, 127.0.0.1 and ::1.
	NodecheckURL string
	// NodecheckSHA256 is the hex SHA-256 digest of that binary.
	NodecheckSHA256 string
	// FailAction is what the validator does with a node whose GPUs fail:
	// "taint" (the default) keeps the taint, "cordon" also cordons the node.
	FailAction string
	// RecheckInterval is how often the validator checks the GPUs again, as
	// a Go duration of at least 30s. Empty means DefaultRecheckInterval.
	RecheckInterval string
	// Image is the container image that runs gpufleet-nodecheck in the
	// DaemonSet rendered by DaemonSetManifest.
	Image string
}

// A FieldError reports an invalid value of one input field. Field is the
// snake_case name of the field, such as "nodecheck_sha256", prefixed with
// "cluster." or "node." for the fields of EKSCluster and EKSNode and with
// "daemonset." for those of DaemonSetOptions, so that callers can map it
// to a configuration attribute.
type FieldError struct {
	Field string
	Msg   string
}

// Error returns "field: message".
func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

var (
	hexSHA256Re     = lazyre.New(`^[0-9a-fA-F]{64}$`)
	driverVersionRe = lazyre.New(`^[0-9]{1,6}(\.[0-9]{1,6}){0,3}$`)
	// imageRe admits the characters of an OCI image reference
	// (registry/path:tag@algorithm:digest).
	imageRe = lazyre.New(`^[A-Za-z0-9][A-Za-z0-9._/:@+-]*$`)
	// durationRe admits unsigned ASCII Go durations, so that a valid
	// interval is also safe in YAML, shell and systemd units.
	durationRe = lazyre.New(`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`)
)

// Validate checks the fields of s that are set. It returns nil or an error
// that joins one *FieldError per invalid field (see errors.Join).
//
// Fields required only by one renderer, such as NodecheckURL for
// EKSUserData or Image for DaemonSetManifest, are checked by that renderer.
func (s Settings) Validate() error {
	var errs []error
	if s.MinDriverVersion != "" && !driverVersionRe().MatchString(s.MinDriverVersion) {
		errs = append(errs, fieldErr("min_driver_version", "must be a driver version such as 550 or 550.54.15 (digits and dots), got %q", s.MinDriverVersion))
	}
	if s.NodecheckURL != "" {
		if err := checkNodecheckURL(s.NodecheckURL); err != nil {
			errs = append(errs, fieldErr("nodecheck_url", "%s", err))
		}
	}
	if s.NodecheckSHA256 != "" && !hexSHA256Re().MatchString(s.NodecheckSHA256) {
		errs = append(errs, fieldErr("nodecheck_sha256", "must be 64 hex characters"))
	}
	switch s.FailAction {
	case "", "taint", "cordon":
	default:
		errs = append(errs, fieldErr("fail_action", "must be %q or %q, got %q", "taint", "cordon", s.FailAction))
	}
	if s.RecheckInterval != "" {
		d, err := time.ParseDuration(s.RecheckInterval)
		switch {
		case err != nil || !durationRe().MatchString(s.RecheckInterval):
			errs = append(errs, fieldErr("recheck_interval", "must be a duration such as 5m or 1h30m, got %q", s.RecheckInterval))
		case d < MinRecheckInterval:
			errs = append(errs, fieldErr("recheck_interval", "must be at least %s, got %s", MinRecheckInterval, s.RecheckInterval))
		}
	}
	if s.Image != "" && (len(s.Image) > 512 || !imageRe().MatchString(s.Image)) {
		errs = append(errs, fieldErr("image", "must be a container image reference such as ghcr.io/gpufleet/nodecheck:v1.0.0, got %q", s.Image))
	}
	return errors.Join(errs...)
}

// checkNodecheckURL accepts absolute https URLs, and http URLs whose host
// is the local machine.
func checkNodecheckURL(raw string) error {
	if !isPrintableASCII(raw) || strings.ContainsAny(raw, " '\"\\`") {
		return errors.New("must be a URL without spaces, quotes or control characters")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("must be a valid URL")
	}
	if u.Host == "" || u.Opaque != "" {
		return errors.New("must be an absolute URL such as https://example.com/gpufleet-nodecheck")
	}
	if u.User != nil {
		return errors.New("must not contain credentials (user data is readable on the instance)")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopbackHost(u.Hostname()) {
			return errors.New("must use https (http is allowed only for localhost and 127.0.0.1)")
		}
	default:
		return errors.New("must use https")
	}
	return nil
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && (ip.Equal(net.IPv4(127, 0, 0, 1)) || ip.Equal(net.IPv6loopback))
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// failAction returns s.FailAction or its default.
func (s Settings) failAction() string {
	if s.FailAction == "" {
		return DefaultFailAction
	}
	return s.FailAction
}

// recheckInterval returns s.RecheckInterval or its default.
func (s Settings) recheckInterval() string {
	if s.RecheckInterval == "" {
		return DefaultRecheckInterval
	}
	return s.RecheckInterval
}

// checkArgs returns the gpufleet-nodecheck flags that both the systemd unit
// and the DaemonSet pass after --kubernetes and --node-name.
// bootArgs are the flags of the one-shot boot-time check in EKS user data.
func (s Settings) bootArgs() []string {
	var args []string
	if s.MinDriverVersion != "" {
		args = append(args, "--min-driver-version", s.MinDriverVersion)
	}
	return append(args, "--format", "json")
}

func (s Settings) checkArgs() []string {
	var args []string
	if s.MinDriverVersion != "" {
		args = append(args, "--min-driver-version", s.MinDriverVersion)
	}
	return append(args,
		"--fail-action", s.failAction(),
		"--interval", s.recheckInterval(),
		"--format", "json",
	)
}

//go:embed templates/*.tmpl
var templateFS embed.FS

// templates are parsed on first use, not at package set-up: every start
// of the provider would pay for them (issue 14), and only creating a pool
// renders one.
var templates = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("bootstrap").
		Option("missingkey=error").
		Funcs(template.FuncMap{
			"yq":      yamlQuote,
			"shq":     shellQuote,
			"unitarg": unitArg,
		}).
		ParseFS(templateFS, "templates/*.tmpl"))
})

func render(name string, data any) (string, error) {
	var b bytes.Buffer
	if err := templates().ExecuteTemplate(&b, name, data); err != nil {
		return "", fmt.Errorf("bootstrap: rendering %s: %w", name, err)
	}
	return b.String(), nil
}

// yamlQuote returns s as a single-quoted YAML scalar. It fails on control
// characters, which a single-quoted scalar cannot hold verbatim.
func yamlQuote(s string) (string, error) {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0xfeff || r == 0x2028 || r == 0x2029 {
			return "", fmt.Errorf("control character %q in YAML value %q", r, s)
		}
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'", nil
}

// shellQuote returns s as a single-quoted POSIX shell word.
func shellQuote(s string) (string, error) {
	if strings.ContainsRune(s, 0) {
		return "", fmt.Errorf("NUL in shell value %q", s)
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'", nil
}

var unitArgRe = lazyre.New(`^[A-Za-z0-9._:/=@+-]+$`)

// unitArg returns s for a systemd ExecStart= line, which has its own
// quoting and specifier (%) and variable ($) expansion rules. Values are
// validated before rendering, so it only accepts plain words.
func unitArg(s string) (string, error) {
	if !unitArgRe().MatchString(s) {
		return "", fmt.Errorf("unsafe systemd argument %q", s)
	}
	return s, nil
}
