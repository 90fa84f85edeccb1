package conformance

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// The Azure model: Microsoft's generated JavaScript SDKs for Azure
// Resource Manager (npm @azure/arm-*, whose serializer "mappers" and
// operation specs are generated from the same REST API specifications as
// the Go SDK), at the package versions whose api-version is the one the
// Go SDK modules in go.mod send, extracted into azure-models.json.gz by
// tools/azuremodels (`make azure-models` regenerates it; no download at
// test time). AzureModelPackages lists them.
//
//go:embed azure-models.json.gz
var azureModelsGz []byte

// AzureModelPackages are the npm packages azure-models.json.gz was
// extracted from, and why each version: the api-version it serves is the
// one of the Go SDK module gpufleet sends.
var AzureModelPackages = []string{
	"@azure/arm-containerservice@24.1.0", // 2025-10-01: armcontainerservice/v8 v8.2.0
	"@azure/arm-network@36.0.0",          // 2025-05-01: armnetwork/v9 v9.0.0
	"@azure/arm-resources@7.0.0",         // 2025-04-01: armresources/v3 v3.0.1
	"@azure/arm-authorization@9.0.0",     // 2022-04-01: roleAssignments (internal/cloud/azure/roles.go)
	"@azure/arm-compute@23.3.0",          // 2021-07-01 resourceSkus; 2025-04-01 for the 2026-04-01 operations (azureVersionAliases)
}

// azureVersionAliases judges an api-version the npm registry serves no
// mapper package of by the nearest older one: the Go armcompute/v8 v8.4.0
// sends 2026-04-01 for usages and scale set VMs, and the @azure/arm-compute
// packages that carry 2026-03-01 and later (24.x, 25.x) are TypeSpec
// "modular" builds without serializer mappers; 23.3.0 is the newest with
// them (2025-04-01). The exchange is judged by the older model's members;
// its operation still has to exist with the same path and verb.
var azureVersionAliases = map[string]string{"Microsoft.Compute 2026-04-01": "2025-04-01"}

type azureModels struct {
	Source     []string                          `json:"source"`
	Operations []*azureOp                        `json:"operations"`
	Models     map[string]map[string]*azureModel `json:"models"`

	byMethod map[string][]*azureOp
	regex    sync.Map
}

type azureOp struct {
	Package    string                `json:"package"`
	Method     string                `json:"method"`
	Path       string                `json:"path"`
	APIVersion string                `json:"apiVersion"`
	Query      []*azureType          `json:"query"`
	URI        []*azureType          `json:"uri"`
	Body       *azureType            `json:"body"`
	Responses  map[string]*azureType `json:"responses"`

	re      *regexp.Regexp
	literal int
}

// azureType is a mapper: a property, parameter or body.
type azureType struct {
	Type      string     `json:"type"`
	Wire      string     `json:"wire"`
	Name      string     `json:"name"`
	Required  bool       `json:"required"`
	ReadOnly  bool       `json:"readOnly"`
	Nullable  bool       `json:"nullable"`
	Constant  any        `json:"constant"`
	Model     string     `json:"model"`
	Items     *azureType `json:"items"`
	Enum      []any      `json:"enum"`
	Known     []string   `json:"known"`
	MaxLength *float64   `json:"maxLength"`
	MinLength *float64   `json:"minLength"`
	Pattern   string     `json:"pattern"`
	Min       *float64   `json:"min"`
	Max       *float64   `json:"max"`
	XMin      *float64   `json:"xmin"`
	XMax      *float64   `json:"xmax"`
	MaxItems  *float64   `json:"maxItems"`
	MinItems  *float64   `json:"minItems"`
}

type azureModel struct {
	Props         map[string]*azureType `json:"props"`
	Discriminator string                `json:"discriminator"`
	Subtypes      map[string]string     `json:"subtypes"`
	Additional    *azureType            `json:"additional"`
	Missing       bool                  `json:"missing"`

	once sync.Once
	tree *wireNode
}

// wireNode is a model's members by wire name: flattened members
// ("properties.count") nest under their first segment.
type wireNode struct {
	leaf     *azureType
	children map[string]*wireNode
}

var loadAzure = sync.OnceValues(func() (*azureModels, error) {
	zr, err := gzip.NewReader(bytes.NewReader(azureModelsGz))
	if err != nil {
		return nil, fmt.Errorf("azure-models.json.gz: %w", err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("azure-models.json.gz: %w", err)
	}
	m := &azureModels{byMethod: map[string][]*azureOp{}}
	if err := json.Unmarshal(raw, m); err != nil {
		return nil, fmt.Errorf("azure-models.json.gz: %w", err)
	}
	for _, op := range m.Operations {
		op.re, op.literal = azurePathRegexp(op.Path)
		m.byMethod[op.Method] = append(m.byMethod[op.Method], op)
	}
	return m, nil
})

var azureVar = regexp.MustCompile(`\{([^}]+)\}`)

// azurePathRegexp matches an ARM path template; fixed segments match
// case-insensitively (ARM paths are case-insensitive:
// https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules),
// {scope} spans segments (it is a resource ID).
func azurePathRegexp(tmpl string) (*regexp.Regexp, int) {
	var b strings.Builder
	b.WriteString("(?i)^")
	last, literal := 0, 0
	for _, m := range azureVar.FindAllStringSubmatchIndex(tmpl, -1) {
		lit := tmpl[last:m[0]]
		literal += len(lit)
		b.WriteString(regexp.QuoteMeta(lit))
		name := tmpl[m[2]:m[3]]
		group := regexp.MustCompile(`[^A-Za-z0-9_]`).ReplaceAllString(name, "_")
		if name == "scope" || name == "resourceId" {
			b.WriteString("(?P<" + group + ">.+)")
		} else {
			b.WriteString("(?P<" + group + ">[^/]+)")
		}
		last = m[1]
	}
	literal += len(tmpl[last:])
	b.WriteString(regexp.QuoteMeta(tmpl[last:]) + "$")
	return regexp.MustCompile(b.String()), literal
}

// azurePoll matches the status monitors of ARM long-running operations:
// the Azure-AsyncOperation and Location URLs a service hands out. They are
// the service's own URLs, not operations of its REST specification; the
// Azure-AsyncOperation body is defined by the ARM RPC
// (https://github.com/Azure/azure-resource-manager-rpc/blob/master/v1.0/async-api-reference.md).
var azurePoll = regexp.MustCompile(`(?i)/(operations|operationresults|operationstatuses)/[^/]+$`)

// azureAsyncStatus is the Azure-AsyncOperation status body of the ARM RPC:
// status is required, terminal values Succeeded, Failed, Canceled (a
// non-terminal value is the service's own, e.g. InProgress).
var azureAsyncStatus = &azureModel{Props: map[string]*azureType{
	"id": {Type: "String", Wire: "id"}, "name": {Type: "String", Wire: "name"},
	"status":          {Type: "String", Wire: "status", Required: true},
	"startTime":       {Type: "DateTime", Wire: "startTime"},
	"endTime":         {Type: "DateTime", Wire: "endTime"},
	"percentComplete": {Type: "Number", Wire: "percentComplete", Min: ptr(0), Max: ptr(100)},
	"properties":      {Type: "Object", Wire: "properties"},
	"error":           {Type: "Object", Wire: "error"},
}}

func ptr(f float64) *float64 { return &f }

// azurePaging are the query parameters of a nextLink: the link is the
// service's and opaque, so its $skiptoken is not a parameter of the
// operation (https://github.com/Azure/azure-resource-manager-rpc/blob/master/v1.0/resource-api-reference.md#get-resource).
var azurePaging = map[string]bool{"$skiptoken": true}

func checkAzure(x *Exchange) check {
	r := x.req
	c := check{service: "azure", op: r.Method + " " + r.URL.Path}
	m, err := loadAzure()
	if err != nil {
		c.fail("request", "", "%v", err)
		return c
	}
	path := r.URL.EscapedPath()
	query := r.URL.Query()
	version := query.Get("api-version")
	if azurePoll.MatchString(path) && r.Method == http.MethodGet {
		return checkAzurePoll(m, x, c)
	}
	var found, best *azureOp
	var alias string
	for _, op := range m.byMethod[r.Method] {
		// The generic resource operations (/{resourceId}, with api-version
		// a parameter) match any path: they judge nothing.
		if op.Path == "/{resourceId}" || !op.re.MatchString(path) {
			continue
		}
		if found == nil || op.literal > found.literal {
			found = op
		}
		want := version
		if a, ok := azureVersionAliases[azureProvider(op.Path)+" "+version]; ok {
			want = a
		}
		if op.APIVersion == want && (best == nil || op.literal > best.literal) {
			best, alias = op, ""
			if want != version {
				alias = want
			}
		}
	}
	if found == nil {
		c.fail("request", "", "no operation of %s serves %s %s", strings.Join(m.Source, ", "), r.Method, r.URL.Path)
		return c
	}
	c.service = found.Package
	c.op = r.Method + " " + found.Path
	if version == "" {
		c.fail("request", "api-version", "required query parameter is missing")
		return c
	}
	if best == nil || (best.literal < found.literal) {
		c.fail("request", "api-version", "api-version %s: the model serves %s %s at %s", version, r.Method, found.Path, found.APIVersion)
		return c
	}
	op := best
	c.service, c.op = op.Package, r.Method+" "+op.Path
	if alias != "" {
		c.service += " (as " + alias + ")"
	}
	c.request = true
	v := &azureValidator{m: m, pkg: op.Package, c: &c, where: "request"}
	sub := op.re.FindStringSubmatch(path)
	names := op.re.SubexpNames()
	for _, p := range op.URI {
		group := regexp.MustCompile(`[^A-Za-z0-9_]`).ReplaceAllString(p.Name, "_")
		for i, n := range names {
			if n == group && i < len(sub) {
				val, err := url.PathUnescape(sub[i])
				if err != nil {
					val = sub[i]
				}
				v.scalar(p, val, p.Name)
			}
		}
	}
	known := map[string]bool{"api-version": true}
	for _, p := range op.Query {
		known[p.Name] = true
		vals, ok := query[p.Name]
		if !ok {
			if p.Required {
				v.fail(p.Name, "required query parameter is missing")
			}
			continue
		}
		for _, val := range vals {
			v.scalar(p, val, p.Name)
		}
	}
	for _, k := range sortedKeys(query) {
		if !known[k] && !azurePaging[strings.ToLower(k)] {
			v.fail(k, "unknown query parameter")
		}
	}
	body := bytes.TrimSpace(x.body)
	switch {
	case op.Body != nil && len(body) == 0:
		if op.Body.Required {
			v.fail("", "required request body is missing")
		}
	case op.Body == nil && len(body) > 0:
		v.fail("", "a request body where the operation takes none")
	case op.Body != nil:
		v.json(op.Body, body, "")
	}
	if x.status < 200 || x.status > 299 {
		return c
	}
	c.response = true
	v.where = "response"
	resp, ok := op.Responses[fmt.Sprint(x.status)]
	if !ok {
		codes := []string{}
		for k := range op.Responses {
			if k != "default" {
				codes = append(codes, k)
			}
		}
		sort.Strings(codes)
		v.fail("", "status %d is not a response of the operation (%s)", x.status, strings.Join(codes, ", "))
		return c
	}
	rb := bytes.TrimSpace(x.resp.Bytes())
	switch {
	case r.Method == http.MethodHead:
	case resp == nil && len(rb) > 0:
		v.fail("", "a body in a %d response, which has none in the model", x.status)
	case resp != nil && len(rb) == 0:
		v.fail("", "no body in a %d response, the model's is %s", x.status, resp.Model)
	case resp != nil:
		v.json(resp, rb, "")
	}
	return c
}

// azureProvider is the resource provider namespace of a path template.
func azureProvider(path string) string {
	if i := strings.LastIndex(path, "/providers/"); i >= 0 {
		rest := path[i+len("/providers/"):]
		p, _, _ := strings.Cut(rest, "/")
		return p
	}
	return "Microsoft.Resources"
}

// checkAzurePoll judges a long-running operation's status monitor by the
// ARM RPC: an Azure-AsyncOperation URL (…/operations/{id}) answers the
// status body, a Location URL (…/operationresults/{id}) 202 while running
// and 200 or 204 when done (with the final resource, if any).
func checkAzurePoll(m *azureModels, x *Exchange, c check) check {
	c.service, c.op = "azure-resource-manager-rpc", "GET (long-running operation status)"
	c.request, c.response = true, x.status >= 200 && x.status <= 299
	if !c.response {
		return c
	}
	v := &azureValidator{m: m, c: &c, where: "response"}
	if strings.Contains(strings.ToLower(x.req.URL.Path), "/operationresults/") || x.req.URL.Query().Get("monitor") == "true" {
		c.op = "GET (Location monitor)"
		if x.status != 200 && x.status != 202 && x.status != 204 {
			v.fail("", "status %d: a Location monitor answers 202, 200 or 204", x.status)
		}
		return c
	}
	c.op = "GET (Azure-AsyncOperation)"
	if x.status != 200 {
		v.fail("", "status %d: an Azure-AsyncOperation monitor answers 200", x.status)
	}
	doc, err := decodeJSON(x.resp.Bytes())
	if err != nil {
		v.fail("", "body is not JSON: %v", err)
		return c
	}
	v.model(azureAsyncStatus, doc, "")
	return c
}

type azureValidator struct {
	m     *azureModels
	pkg   string
	c     *check
	where string
}

func (v *azureValidator) fail(member, format string, args ...any) {
	v.c.fail(v.where, member, format, args...)
}

func (v *azureValidator) json(t *azureType, body []byte, path string) {
	doc, err := decodeJSON(body)
	if err != nil {
		v.fail(path, "body is not JSON: %v", err)
		return
	}
	v.value(t, doc, path)
}

func (v *azureValidator) pattern(p string) *regexp.Regexp {
	if re, ok := v.m.regex.Load(p); ok {
		return re.(*regexp.Regexp)
	}
	re, err := regexp.Compile(p)
	if err != nil {
		re = nil // an ECMAScript-only construct: not checked
	}
	v.m.regex.Store(p, re)
	return re
}

// scalar checks a URI or query value.
func (v *azureValidator) scalar(t *azureType, text, path string) {
	switch t.Type {
	case "Number":
		n := json.Number(text)
		if _, err := n.Float64(); err != nil {
			v.fail(path, "%q is not a number", text)
			return
		}
		v.value(t, n, path)
	case "Boolean":
		if text != "true" && text != "false" {
			v.fail(path, "%q is not a boolean", text)
		}
	default:
		v.value(t, text, path)
	}
}

func (v *azureValidator) str(t *azureType, s, path string) {
	if enum := enumStrings(t.Enum); len(enum) > 0 && !contains(enum, s) {
		v.fail(path, "%q is not one of the enum values %s", s, short(enum))
	}
	if len(t.Known) > 0 && !contains(t.Known, s) {
		v.fail(path, "%q is not one of the known values %s", s, short(t.Known))
	}
	if t.Constant != nil {
		if c, ok := t.Constant.(string); ok && c != s {
			v.fail(path, "%q is not the constant %q", s, c)
		}
	}
	n := float64(utf8.RuneCountInString(s))
	if t.MinLength != nil && n < *t.MinLength {
		v.fail(path, "length %d is under the minimum %g", int(n), *t.MinLength)
	}
	if t.MaxLength != nil && n > *t.MaxLength {
		v.fail(path, "length %d is over the maximum %g", int(n), *t.MaxLength)
	}
	if t.Pattern != "" {
		if re := v.pattern(t.Pattern); re != nil && !re.MatchString(s) {
			v.fail(path, "%q does not match the pattern %s", s, t.Pattern)
		}
	}
}

// enumStrings is an enum's values as text (a few mapper enums are numbers).
func enumStrings(enum []any) []string {
	out := make([]string, len(enum))
	for i, e := range enum {
		out[i] = fmt.Sprint(e)
	}
	return out
}

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func (v *azureValidator) value(t *azureType, val any, path string) {
	if val == nil {
		return // JSON null: absent (required members are checked by the parent)
	}
	switch t.Type {
	case "String", "TimeSpan":
		s, ok := val.(string)
		if !ok {
			v.fail(path, "a %s where the model has a string", jsonKind(val))
			return
		}
		v.str(t, s, path)
	case "Enum":
		switch e := val.(type) {
		case string:
			v.str(t, e, path)
		case json.Number:
			v.str(t, e.String(), path)
		default:
			v.fail(path, "a %s where the model has an enum", jsonKind(val))
		}
	case "Uuid":
		s, ok := val.(string)
		if !ok || !uuidRE.MatchString(s) {
			v.fail(path, "%v is not a UUID", val)
			return
		}
		v.str(t, s, path)
	case "Number", "UnixTime":
		n, ok := val.(json.Number)
		if !ok {
			v.fail(path, "a %s where the model has a number", jsonKind(val))
			return
		}
		f, _ := n.Float64()
		if t.Min != nil && f < *t.Min {
			v.fail(path, "%s is under the minimum %g", n, *t.Min)
		}
		if t.Max != nil && f > *t.Max {
			v.fail(path, "%s is over the maximum %g", n, *t.Max)
		}
		if t.XMin != nil && f <= *t.XMin {
			v.fail(path, "%s is not over the exclusive minimum %g", n, *t.XMin)
		}
		if t.XMax != nil && f >= *t.XMax {
			v.fail(path, "%s is not under the exclusive maximum %g", n, *t.XMax)
		}
	case "Boolean":
		if _, ok := val.(bool); !ok {
			v.fail(path, "a %s where the model has a boolean", jsonKind(val))
		}
	case "DateTime", "Date", "DateTimeRfc1123":
		s, ok := val.(string)
		if !ok {
			v.fail(path, "a %s where the model has a %s", jsonKind(val), t.Type)
			return
		}
		layouts := map[string][]string{"DateTime": {time.RFC3339Nano, "2006-01-02T15:04:05.999999999"},
			"Date": {time.DateOnly}, "DateTimeRfc1123": {time.RFC1123}}[t.Type]
		okTime := false
		for _, l := range layouts {
			if _, err := time.Parse(l, s); err == nil {
				okTime = true
			}
		}
		if !okTime {
			v.fail(path, "%q is not a %s", s, t.Type)
		}
	case "ByteArray", "Base64Url":
		s, ok := val.(string)
		if !ok {
			v.fail(path, "a %s where the model has base64 bytes", jsonKind(val))
			return
		}
		enc := base64.StdEncoding
		if t.Type == "Base64Url" {
			enc = base64.RawURLEncoding
		}
		if _, err := enc.DecodeString(s); err != nil {
			v.fail(path, "not base64: %v", err)
		}
	case "Sequence":
		arr, ok := val.([]any)
		if !ok {
			v.fail(path, "a %s where the model has a list", jsonKind(val))
			return
		}
		if t.MinItems != nil && float64(len(arr)) < *t.MinItems {
			v.fail(path, "fewer elements than the minimum %g", *t.MinItems)
		}
		if t.MaxItems != nil && float64(len(arr)) > *t.MaxItems {
			v.fail(path, "more elements than the maximum %g", *t.MaxItems)
		}
		if t.Items != nil {
			for i, e := range arr {
				v.value(t.Items, e, fmt.Sprintf("%s[%d]", path, i))
			}
		}
	case "Dictionary":
		obj, ok := val.(map[string]any)
		if !ok {
			v.fail(path, "a %s where the model has a map", jsonKind(val))
			return
		}
		if t.Items != nil {
			for _, k := range sortedKeys(obj) {
				v.value(t.Items, obj[k], path+"["+k+"]")
			}
		}
	case "Composite":
		md := v.m.Models[v.pkg][t.Model]
		if md == nil || md.Missing {
			v.fail(path, "the model has no definition of %s", t.Model)
			return
		}
		v.model(md, val, path)
	case "Object", "":
		// any JSON value
	default:
		v.fail(path, "mapper type %q is not validated", t.Type)
	}
}

func jsonKind(val any) string {
	switch val.(type) {
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "list"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", val)
}

// wire returns the model's members as a tree of wire names.
func (md *azureModel) wire() *wireNode {
	md.once.Do(func() {
		md.tree = &wireNode{children: map[string]*wireNode{}}
		for _, name := range sortedKeys(md.Props) {
			p := md.Props[name]
			n := md.tree
			parts := splitWire(p.Wire)
			for i, part := range parts {
				c := n.children[part]
				if c == nil {
					c = &wireNode{children: map[string]*wireNode{}}
					n.children[part] = c
				}
				if i == len(parts)-1 {
					c.leaf = p
				}
				n = c
			}
		}
	})
	return md.tree
}

// splitWire splits a mapper's serializedName at its unescaped dots
// ("properties.count"; "@odata\\.type" is one name).
func splitWire(s string) []string {
	var parts []string
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && s[i+1] == '.':
			b.WriteByte('.')
			i++
		case s[i] == '.':
			parts = append(parts, b.String())
			b.Reset()
		default:
			b.WriteByte(s[i])
		}
	}
	return append(parts, b.String())
}

func (v *azureValidator) model(md *azureModel, val any, path string) {
	obj, ok := val.(map[string]any)
	if !ok {
		v.fail(path, "a %s where the model has an object", jsonKind(val))
		return
	}
	if md.Discriminator != "" {
		if d, ok := obj[md.Discriminator].(string); ok {
			if sub := md.Subtypes[d]; sub != "" {
				if smd := v.m.Models[v.pkg][sub]; smd != nil && smd != md && !smd.Missing {
					md = smd
				}
			}
		}
	}
	v.node(md, md.wire(), obj, path)
}

func (v *azureValidator) node(md *azureModel, n *wireNode, obj map[string]any, path string) {
	for _, k := range sortedKeys(obj) {
		c := n.children[k]
		p := join(path, k)
		switch {
		case c == nil && md.Additional != nil && n == md.tree:
			v.value(md.Additional, obj[k], p)
		case c == nil:
			v.fail(p, "unknown member")
		case c.leaf != nil:
			if c.leaf.ReadOnly && v.where == "request" {
				v.warn(p, "read-only member sent (ARM ignores it)")
			}
			v.value(c.leaf, obj[k], p)
		default:
			sub, ok := obj[k].(map[string]any)
			if obj[k] == nil {
				continue
			}
			if !ok {
				v.fail(p, "a %s where the model has an object", jsonKind(obj[k]))
				continue
			}
			v.node(md, c, sub, p)
		}
	}
	for _, k := range sortedKeys(n.children) {
		c := n.children[k]
		if c.leaf != nil && c.leaf.Required && obj[k] == nil && !(c.leaf.ReadOnly && v.where == "request") {
			v.fail(join(path, k), "required member is missing")
		}
		if c.leaf == nil && obj[k] == nil && v.requiredBelow(c) {
			v.fail(join(path, k), "required member is missing")
		}
	}
}

// requiredBelow reports whether a flattening group holds a required
// member (so the group itself is required).
func (v *azureValidator) requiredBelow(n *wireNode) bool {
	for _, c := range n.children {
		if c.leaf != nil && c.leaf.Required && !(c.leaf.ReadOnly && v.where == "request") {
			return true
		}
		if c.leaf == nil && v.requiredBelow(c) {
			return true
		}
	}
	return false
}

// warn records a deviation that does not fail the suite (see Warnings).
func (v *azureValidator) warn(member, format string, args ...any) {
	v.c.warnings = append(v.c.warnings, Violation{Service: v.c.service, Operation: v.c.op, Where: v.where, Member: member,
		Problem: fmt.Sprintf(format, args...)})
}
