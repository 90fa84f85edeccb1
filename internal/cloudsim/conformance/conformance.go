// Package conformance judges the traffic between gpufleet's cloud clients
// and cloudsim's front ends by the clouds' own published API models, which
// nobody in this project wrote:
//
//   - AWS: models/apis/<service>/<version>/api-2.json of the
//     github.com/aws/aws-sdk-go (v1) module, read as data from the Go
//     module cache (AWSModelsModule, AWSModelsVersion; `make test`
//     downloads it);
//   - Google: the discovery documents compute/v1/compute-api.json,
//     container/v1/container-api.json and cloudbilling/v1 of
//     google.golang.org/api (a dependency, so always in the module cache);
//   - Azure: the serializer mappers and operation specs of Microsoft's
//     generated JavaScript SDKs (npm @azure/arm-*) at the versions whose
//     api-version is the one the Go SDK sends, extracted into
//     azure-models.json.gz (AzureModelPackages; `make azure-models`).
//     Read-only members in a request are Warnings, not violations (ARM
//     ignores them); the Retail Prices API (prices.azure.com, not ARM) has
//     no published model and is not judged.
//
// Each front end calls Begin at the top of its ServeHTTP (gkefront chains
// UnaryServerInterceptor); while Enable has been called (conformance.Main
// in a TestMain), every exchange is validated as it completes: the
// operation exists in the model's API version, required members are
// present, enum values, string length and pattern, integer and list
// ranges hold and no member is unknown, in the request and in a 2xx
// response (required output members, types, enums). Violations are kept,
// deduplicated, with the test that started the front end, and Main fails
// the test binary listing them. Known, explained deviations are in
// allowlist.go. Disabled, Begin costs one atomic load.
package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Cloud names the model family that judges an exchange.
type Cloud string

const (
	AWS    Cloud = "aws"
	Google Cloud = "gcp"
	Azure  Cloud = "azure"
)

var enabled atomic.Bool

// Enable turns recording and validation on for the rest of the process.
func Enable() { enabled.Store(true) }

// Enabled reports whether exchanges are validated.
func Enabled() bool { return enabled.Load() }

// Caller names the test running in the calling goroutine (the first Test*
// function on its stack), "" outside a test goroutine. Front ends call it
// when they are created, so that violations name the test that started
// them.
func Caller() string {
	if !Enabled() {
		return ""
	}
	pc := make([]uintptr, 64)
	n := runtime.Callers(2, pc)
	frames := runtime.CallersFrames(pc[:n])
	for {
		f, more := frames.Next()
		name := f.Function
		if i := strings.LastIndex(name, "/"); i >= 0 {
			name = name[i+1:]
		}
		// pkg.TestX, pkg.TestX.func1 (a subtest or closure).
		if _, fn, ok := strings.Cut(name, "."); ok {
			fn, _, _ = strings.Cut(fn, ".")
			if strings.HasPrefix(fn, "Test") && fn != "TestMain" {
				return fn
			}
		}
		if !more {
			return ""
		}
	}
}

// Exchange is one HTTP request and its response, seen by a front end.
// It is the front end's http.ResponseWriter while the request is served.
type Exchange struct {
	cloud Cloud
	test  string
	req   *http.Request
	body  []byte

	w      http.ResponseWriter
	status int
	resp   bytes.Buffer
}

// Begin starts recording a request served by a front end of cloud (test:
// what Caller returned when the front end was created). It returns nil
// when validation is off; otherwise serve the request with the returned
// Exchange as the ResponseWriter and defer its End:
//
//	if x := conformance.Begin(conformance.AWS, s.test, w, r); x != nil {
//		defer x.End()
//		w = x
//	}
//
// The request body is read and put back for the handler.
func Begin(cloud Cloud, test string, w http.ResponseWriter, r *http.Request) *Exchange {
	if !Enabled() {
		return nil
	}
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
		r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	if len(body) == 0 && len(r.PostForm) > 0 {
		// A wrapper parsed the form before the front end.
		body = []byte(r.PostForm.Encode())
	}
	return &Exchange{cloud: cloud, test: test, req: r.Clone(r.Context()), body: body, w: w}
}

func (x *Exchange) Header() http.Header { return x.w.Header() }

func (x *Exchange) WriteHeader(status int) {
	if x.status == 0 {
		x.status = status
	}
	x.w.WriteHeader(status)
}

func (x *Exchange) Write(p []byte) (int, error) {
	if x.status == 0 {
		x.status = http.StatusOK
	}
	x.resp.Write(p)
	return x.w.Write(p)
}

// Flush passes flushes on to the front end's writer.
func (x *Exchange) Flush() {
	if f, ok := x.w.(http.Flusher); ok {
		f.Flush()
	}
}

// End validates the exchange by its cloud's model.
func (x *Exchange) End() {
	if x.status == 0 {
		x.status = http.StatusOK
	}
	var c check
	switch x.cloud {
	case AWS:
		c = checkAWS(x)
	case Google:
		c = checkGoogleREST(x)
	case Azure:
		c = checkAzure(x)
	default:
		c = check{service: string(x.cloud), op: x.req.Method + " " + x.req.URL.Path}
		c.fail("request", "", "no model for cloud %q", x.cloud)
	}
	switch x.status {
	case http.StatusBadRequest:
		c.rejected()
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		c.unserved()
	}
	record(x.cloud, x.test, c)
}

// unserved drops the "no such operation" violation of a request the
// front end answered 404, as the cloud answers an unknown path.
func (c *check) unserved() {
	kept := c.vs[:0]
	for _, v := range c.vs {
		if v.Where == "request" && v.Member == "" {
			c.refused++
			continue
		}
		kept = append(kept, v)
	}
	c.vs = kept
}

// rejected drops the request's violations of an exchange the front end
// answered 400: the simulator refused the invalid request as the cloud
// would (a test sending it on purpose, or a client that fails on it
// anyway). They are counted, not reported.
func (c *check) rejected() {
	kept := c.vs[:0]
	for _, v := range c.vs {
		if v.Where == "request" {
			c.refused++
			continue
		}
		kept = append(kept, v)
	}
	c.vs = kept
}

// check is the result of validating one exchange.
type check struct {
	service, op string
	// validated: the request (and response) were judged by a model.
	request, response bool
	vs                []Violation
	// refused: request violations answered 400 (see rejected).
	refused int
	// warnings: deviations that do not fail the suite (Azure read-only
	// members in a request, which ARM ignores).
	warnings []Violation
}

func (c *check) fail(where, member, format string, args ...any) {
	c.vs = append(c.vs, Violation{Service: c.service, Operation: c.op, Where: where, Member: member,
		Problem: fmt.Sprintf(format, args...)})
}

// Violation is one way an exchange breaks its cloud's model.
type Violation struct {
	Cloud, Service, Operation string
	// Where: "request" or "response".
	Where string
	// Member is the path of the offending member ("" for the operation).
	Member  string
	Problem string
	// Tests that saw it (at most a few) and how often it happened.
	Tests []string
	Count int
}

func (v Violation) key() string {
	return strings.Join([]string{v.Cloud, v.Service, v.Operation, v.Where, v.Member, v.Problem}, "\x00")
}

func (v Violation) String() string {
	m := v.Member
	if m == "" {
		m = "(operation)"
	}
	tests := "a front end started outside a test goroutine"
	if len(v.Tests) > 0 {
		tests = strings.Join(v.Tests, ", ")
	}
	return fmt.Sprintf("%s %s %s %s member %s: %s (%d times; %s)", v.Cloud, v.Service, v.Operation, v.Where, m, v.Problem, v.Count, tests)
}

// Stats counts what was validated.
type Stats struct {
	Requests, Responses int
	// Refused counts request violations the front end answered 400.
	Refused int
	// Operations: "service Operation" -> exchanges.
	Operations map[string]int
}

var (
	mu         sync.Mutex
	violations = map[string]*Violation{}
	warnings   = map[string]*Violation{}
	stats      = map[Cloud]*Stats{}
	allowed    = map[string]int{}
)

func record(cloud Cloud, test string, c check) {
	mu.Lock()
	defer mu.Unlock()
	s := stats[cloud]
	if s == nil {
		s = &Stats{Operations: map[string]int{}}
		stats[cloud] = s
	}
	if c.request {
		s.Requests++
	}
	if c.response {
		s.Responses++
	}
	s.Refused += c.refused
	s.Operations[c.service+" "+c.op]++
	for _, v := range c.vs {
		v.Cloud = string(cloud)
		if reason := allowedBy(v); reason != "" {
			allowed[v.Cloud+" "+v.Service+" "+v.Operation+": "+reason]++
			continue
		}
		keep(violations, v, test)
	}
	for _, v := range c.warnings {
		v.Cloud = string(cloud)
		keep(warnings, v, test)
	}
}

// keep adds v to a deduplicated set, counting it and naming a few tests.
func keep(set map[string]*Violation, v Violation, test string) {
	k := v.key()
	have := set[k]
	if have == nil {
		have = &v
		set[k] = have
	}
	have.Count++
	if test == "" {
		return
	}
	seen := false
	for _, t := range have.Tests {
		seen = seen || t == test
	}
	if !seen && len(have.Tests) < 4 {
		have.Tests = append(have.Tests, test)
	}
}

// Violations returns what was found so far, sorted.
func Violations() []Violation { return sorted(violations) }

// Warnings returns the deviations that do not fail the suite, sorted:
// read-only members of an Azure request body. ARM ignores them (the Go
// SDK marshals every field it holds, so a GET-modify-PUT sends them back,
// as the Azure CLI does), so they are noted, not violations
// (https://github.com/Azure/azure-resource-manager-rpc/blob/master/v1.0/resource-api-reference.md#put-resource:
// "read-only properties ... should be ignored").
func Warnings() []Violation { return sorted(warnings) }

func sorted(set map[string]*Violation) []Violation {
	mu.Lock()
	defer mu.Unlock()
	out := make([]Violation, 0, len(set))
	for _, v := range set {
		out = append(out, *v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key() < out[j].key() })
	return out
}

// Counts returns a copy of the statistics per cloud.
func Counts() map[Cloud]Stats {
	mu.Lock()
	defer mu.Unlock()
	out := map[Cloud]Stats{}
	for c, s := range stats {
		ops := map[string]int{}
		for k, v := range s.Operations {
			ops[k] = v
		}
		out[c] = Stats{Requests: s.Requests, Responses: s.Responses, Refused: s.Refused, Operations: ops}
	}
	return out
}

// Reset forgets violations and statistics (for the package's own tests).
func Reset() {
	mu.Lock()
	defer mu.Unlock()
	violations = map[string]*Violation{}
	warnings = map[string]*Violation{}
	stats = map[Cloud]*Stats{}
	allowed = map[string]int{}
}

// NotesEnv, when set, makes Main print the Warnings too.
const NotesEnv = "GPUFLEET_CONFORMANCE_NOTES"

// ReportEnv names a file that Main appends one JSON line per test binary
// to (counts, allowlisted deviations and violations), for totals over a
// suite.
const ReportEnv = "GPUFLEET_CONFORMANCE_REPORT"

// Main enables validation, runs the tests (m.Run of a TestMain) and
// returns their exit code, 1 if any exchange broke its model; the
// violations are printed, each with its operation, member and tests.
//
//	func TestMain(m *testing.M) { os.Exit(conformance.Main(m.Run)) }
func Main(run func() int) int {
	Enable()
	code := run()
	vs := Violations()
	if ws := Warnings(); len(ws) > 0 && os.Getenv(NotesEnv) != "" {
		fmt.Fprintf(os.Stderr, "conformance: %d notes (do not fail):\n", len(ws))
		for _, w := range ws {
			fmt.Fprintln(os.Stderr, "  "+w.String())
		}
	}
	if len(vs) > 0 {
		fmt.Fprintf(os.Stderr, "conformance: %d requests or responses break the clouds' API models (internal/cloudsim/conformance):\n", len(vs))
		for _, v := range vs {
			fmt.Fprintln(os.Stderr, "  "+v.String())
		}
		if code == 0 {
			code = 1
		}
	}
	if path := os.Getenv(ReportEnv); path != "" {
		mu.Lock()
		line, _ := json.Marshal(map[string]any{"binary": filepath.Base(os.Args[0]), "stats": stats, "allowed": allowed, "violations": len(vs), "warnings": len(warnings)})
		mu.Unlock()
		if f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err == nil {
			f.Write(append(line, '\n'))
			f.Close()
		}
	}
	return code
}

// decodeJSON reads a JSON body (empty: an empty object) with numbers kept
// as json.Number, so that integer ranges are checked on the exact value.
func decodeJSON(body []byte) (any, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		body = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	err := dec.Decode(&doc)
	return doc, err
}
