package conformance

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// awsServices maps a SigV4 signing name (or X-Amz-Target prefix) to the
// model directory and API version of models/apis in AWSModelsModule.
var awsServices = map[string][2]string{
	"eks":                    {"eks", "2017-11-01"},
	"ec2":                    {"ec2", "2016-11-15"},
	"iam":                    {"iam", "2010-05-08"},
	"autoscaling":            {"autoscaling", "2011-01-01"},
	"pricing":                {"pricing", "2017-10-15"},
	"AWSPriceListService":    {"pricing", "2017-10-15"},
	"servicequotas":          {"service-quotas", "2019-06-24"},
	"ServiceQuotasV20190624": {"service-quotas", "2019-06-24"},
	"sts":                    {"sts", "2011-06-15"},
}

// queryVersions maps the Version form parameter of unsigned query
// requests to a signing name.
var queryVersions = map[string]string{"2016-11-15": "ec2", "2010-05-08": "iam", "2011-01-01": "autoscaling", "2011-06-15": "sts"}

type awsModel struct {
	Metadata struct {
		APIVersion   string `json:"apiVersion"`
		Protocol     string `json:"protocol"`
		TargetPrefix string `json:"targetPrefix"`
		UID          string `json:"uid"`
	} `json:"metadata"`
	Operations map[string]*awsOp    `json:"operations"`
	Shapes     map[string]*awsShape `json:"shapes"`

	// dir is models/apis/<service>/<version>.
	dir   string
	regex sync.Map // pattern -> *regexp.Regexp (nil: not RE2)
	// names of the shapes; v2Enums: see newerEnum.
	names   map[*awsShape]string
	v2Once  sync.Once
	v2Enums map[string][]string
	v2Code  sync.Map // "serializers.go" -> string
}

// v2Source returns a file of the aws-sdk-go-v2 service module of m ("" if
// it cannot be read).
func (m *awsModel) v2Source(file string) string {
	if src, ok := m.v2Code.Load(file); ok {
		return src.(string)
	}
	service := strings.Split(m.dir, "/")[2]
	module := "github.com/aws/aws-sdk-go-v2/service/" + awsV2Packages[service]
	src := ""
	if p, err := moduleFile(module, depVersion(module, ""), file); err == nil {
		if raw, err := os.ReadFile(p); err == nil {
			src = string(raw)
		}
	}
	m.v2Code.Store(file, src)
	return src
}

// funcIndex is the offset of the definition of a function whose name
// ends with name ("_deserializeDocumentVpc("), -1 if there is none.
func funcIndex(src, name string) int {
	for off := 0; ; {
		i := strings.Index(src[off:], name)
		if i < 0 {
			return -1
		}
		i += off
		line := strings.LastIndexByte(src[:i], '\n') + 1
		if strings.HasPrefix(src[line:i], "func ") {
			return i
		}
		off = i + len(name)
	}
}

// newerMember reports whether the aws-sdk-go-v2 module this binary is
// built with (de)serializes a member wire name of shape (which is the
// input or output of op, for the top level) that the frozen v1 model
// lacks: AWS added it since (EC2 securityGroupArn, 2024). The v2
// serializers and deserializers are generated from AWS's current models,
// one function per shape.
func (m *awsModel) newerMember(shape string, op *awsOp, request bool, wire string) bool {
	file, verb, io := "deserializers.go", "_deserialize", "Output"
	if request {
		file, verb, io = "serializers.go", "_serialize", "Input"
	}
	src := m.v2Source(file)
	if src == "" {
		return false
	}
	names := []string{verb + "Document" + strings.ToUpper(shape[:1]) + shape[1:] + "("}
	if op != nil && ((request && op.Input != nil && op.Input.Shape == shape) || (!request && op.Output != nil && op.Output.Shape == shape)) {
		names = append(names, verb+"OpDocument"+op.Name+io+"(")
	}
	quoted := strings.ToLower(strconv.Quote(wire))
	for _, name := range names {
		i := funcIndex(src, name)
		if i < 0 {
			continue
		}
		body := src[i:]
		if j := strings.Index(body, "\n}\n"); j >= 0 {
			body = body[:j]
		}
		if strings.Contains(strings.ToLower(body), quoted) {
			return true
		}
	}
	return false
}

// awsV2Packages maps a model directory to the aws-sdk-go-v2 service
// module that gpufleet is built with.
var awsV2Packages = map[string]string{"eks": "eks", "ec2": "ec2", "iam": "iam", "autoscaling": "autoscaling",
	"pricing": "pricing", "service-quotas": "servicequotas", "sts": "sts"}

var v2EnumFunc = regexp.MustCompile(`(?s)func \((\w+)\) Values\(\) \[\]\w+ \{\s*return \[\]\w+\{(.*?)\n\t\}`)
var v2EnumValue = regexp.MustCompile(`"((?:[^"\\]|\\.)*)"`)

// newerEnum returns the values of an enum shape in the aws-sdk-go-v2
// service module this binary is built with (types/enums.go, generated
// from AWS's current Smithy models): the v1 models stopped in 2025, so
// values AWS added since (EKS AMI type AL2023_x86_64_NVIDIA) are only
// there.
func (m *awsModel) newerEnum(s *awsShape) []string {
	m.v2Once.Do(func() {
		m.v2Enums = map[string][]string{}
		service := strings.Split(m.dir, "/")[2]
		module := "github.com/aws/aws-sdk-go-v2/service/" + awsV2Packages[service]
		version := depVersion(module, "")
		if version == "" {
			return
		}
		p, err := moduleFile(module, version, "types/enums.go")
		if err != nil {
			return
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return
		}
		for _, f := range v2EnumFunc.FindAllSubmatch(src, -1) {
			for _, val := range v2EnumValue.FindAllSubmatch(f[2], -1) {
				m.v2Enums[string(f[1])] = append(m.v2Enums[string(f[1])], string(val[1]))
			}
		}
	})
	name := m.names[s]
	if name == "" {
		return nil
	}
	return m.v2Enums[strings.ToUpper(name[:1])+name[1:]]
}

type awsOp struct {
	Name string `json:"name"`
	HTTP struct {
		Method     string `json:"method"`
		RequestURI string `json:"requestUri"`
	} `json:"http"`
	Input  *awsMember `json:"input"`
	Output *awsMember `json:"output"`
}

type awsMember struct {
	Shape           string `json:"shape"`
	Location        string `json:"location"`
	LocationName    string `json:"locationName"`
	QueryName       string `json:"queryName"`
	Flattened       bool   `json:"flattened"`
	TimestampFormat string `json:"timestampFormat"`
	ResultWrapper   string `json:"resultWrapper"`
	XMLAttribute    bool   `json:"xmlAttribute"`
}

type awsShape struct {
	Type            string                `json:"type"`
	Members         map[string]*awsMember `json:"members"`
	Required        []string              `json:"required"`
	Member          *awsMember            `json:"member"`
	Key             *awsMember            `json:"key"`
	Value           *awsMember            `json:"value"`
	Enum            []string              `json:"enum"`
	Pattern         string                `json:"pattern"`
	Min             *float64              `json:"min"`
	Max             *float64              `json:"max"`
	Flattened       bool                  `json:"flattened"`
	TimestampFormat string                `json:"timestampFormat"`
	Payload         string                `json:"payload"`
	Document        bool                  `json:"document"`
}

var awsModels sync.Map // dir -> *awsModelEntry

type awsModelEntry struct {
	once sync.Once
	m    *awsModel
	err  error
}

func loadAWSModel(service, version string) (*awsModel, error) {
	dir := "models/apis/" + service + "/" + version
	e, _ := awsModels.LoadOrStore(dir, &awsModelEntry{})
	entry := e.(*awsModelEntry)
	entry.once.Do(func() {
		p, err := moduleFile(AWSModelsModule, AWSModelsVersion, dir+"/api-2.json")
		if err != nil {
			entry.err = err
			return
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			entry.err = err
			return
		}
		m := &awsModel{dir: dir}
		if err := json.Unmarshal(raw, m); err != nil {
			entry.err = fmt.Errorf("%s: %w", p, err)
			return
		}
		m.names = map[*awsShape]string{}
		for name, s := range m.Shapes {
			m.names[s] = name
		}
		entry.m = m
	})
	return entry.m, entry.err
}

// awsScope returns the signing name of a SigV4-signed request.
func awsScope(r *http.Request) string {
	cred := r.URL.Query().Get("X-Amz-Credential")
	if a := r.Header.Get("Authorization"); a != "" {
		if i := strings.Index(a, "Credential="); i >= 0 {
			cred = a[i+len("Credential="):]
			if j := strings.IndexAny(cred, ", "); j >= 0 {
				cred = cred[:j]
			}
		}
	}
	if parts := strings.Split(cred, "/"); len(parts) >= 5 {
		return parts[3]
	}
	return ""
}

func checkAWS(x *Exchange) check {
	r := x.req
	target := r.Header.Get("X-Amz-Target")
	prefix, targetOp, _ := strings.Cut(target, ".")
	var form url.Values
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") || (r.Method == http.MethodGet && r.URL.Query().Get("Action") != "") {
		form, _ = url.ParseQuery(string(x.body))
		for k, vs := range r.URL.Query() {
			form[k] = append(form[k], vs...)
		}
	}
	signing := awsScope(r)
	if _, ok := awsServices[signing]; !ok {
		// Unsigned, or signed with a made-up scope: the protocol says.
		switch {
		case target != "":
			signing = prefix
		case form != nil:
			signing = queryVersions[form.Get("Version")]
		case strings.HasPrefix(r.URL.Path, "/clusters"):
			signing = "eks"
		}
	}
	c := check{service: signing, op: r.Method + " " + r.URL.Path}
	svc, ok := awsServices[signing]
	if !ok {
		c.fail("request", "", "no AWS model for service %q (signing name or X-Amz-Target)", signing)
		return c
	}
	m, err := loadAWSModel(svc[0], svc[1])
	if err != nil {
		c.fail("request", "", "%v", err)
		return c
	}
	c.service = svc[0]
	v := &awsValidator{m: m, c: &c}
	var op *awsOp
	switch m.Metadata.Protocol {
	case "json":
		if prefix != m.Metadata.TargetPrefix {
			c.fail("request", "X-Amz-Target", "target prefix %q, the model's is %q", prefix, m.Metadata.TargetPrefix)
		}
		c.op = targetOp
		if op = m.Operations[targetOp]; op == nil {
			c.fail("request", "", "operation %s does not exist in %s %s", targetOp, svc[0], m.Metadata.APIVersion)
			return c
		}
		c.request = true
		v.op = op
		if op.Input != nil {
			v.where = "request"
			v.jsonBody(op.Input.Shape, x.body, "json")
		}
	case "query", "ec2":
		action := form.Get("Action")
		c.op = action
		if op = m.Operations[action]; op == nil {
			c.fail("request", "Action", "operation %q does not exist in %s %s", action, svc[0], m.Metadata.APIVersion)
			return c
		}
		if got := form.Get("Version"); got != m.Metadata.APIVersion {
			c.fail("request", "Version", "API version %q, the model's is %s", got, m.Metadata.APIVersion)
		}
		c.request = true
		v.op = op
		v.where = "request"
		if op.Input != nil {
			root := formTree(form)
			v.queryStruct(op.Input.Shape, root, "")
		}
	case "rest-json":
		var params map[string]string
		op, params = matchREST(m, r.Method, r.URL.EscapedPath())
		if op == nil {
			c.fail("request", "", "no operation of %s %s serves %s %s", svc[0], m.Metadata.APIVersion, r.Method, r.URL.Path)
			return c
		}
		c.op = op.Name
		c.request = true
		v.op = op
		v.where = "request"
		if op.Input != nil {
			v.restRequest(op.Input.Shape, params, r.URL.Query(), r.Header, x.body)
		}
	default:
		c.fail("request", "", "protocol %q is not validated", m.Metadata.Protocol)
		return c
	}
	if x.status < 200 || x.status > 299 {
		return c
	}
	c.response = true
	v.where = "response"
	if op.Output == nil {
		return c
	}
	switch m.Metadata.Protocol {
	case "json", "rest-json":
		v.jsonBody(op.Output.Shape, x.resp.Bytes(), m.Metadata.Protocol)
	case "query", "ec2":
		v.xmlResponse(op, x.resp.Bytes())
	}
	return c
}

type awsValidator struct {
	m     *awsModel
	op    *awsOp
	c     *check
	where string
}

func (v *awsValidator) fail(member, format string, args ...any) {
	v.c.fail(v.where, member, format, args...)
}

func (v *awsValidator) shape(name string) *awsShape {
	s := v.m.Shapes[name]
	if s == nil {
		v.fail("", "model has no shape %q", name)
	}
	return s
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// ---- scalars (shared by all protocols) ----

// scalar checks a textual scalar value (query string, header, URI, XML
// text, or a JSON string) of shape s.
func (v *awsValidator) scalar(s *awsShape, text, path string, tsFormat string) {
	switch s.Type {
	case "string":
		v.str(s, text, path)
	case "integer", "long":
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			v.fail(path, "%q is not an %s", text, s.Type)
			return
		}
		v.number(s, float64(n), path)
	case "double", "float":
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			v.fail(path, "%q is not a %s", text, s.Type)
			return
		}
		v.number(s, f, path)
	case "boolean":
		if text != "true" && text != "false" {
			v.fail(path, "%q is not a boolean", text)
		}
	case "timestamp":
		v.timestamp(s, text, path, tsFormat)
	case "blob":
		if _, err := base64.StdEncoding.DecodeString(text); err != nil {
			v.fail(path, "blob is not base64: %v", err)
		}
	default:
		v.fail(path, "a %s given as the text %q", s.Type, text)
	}
}

func (v *awsValidator) str(s *awsShape, text, path string) {
	if len(s.Enum) > 0 && !contains(s.Enum, text) && !contains(v.m.newerEnum(s), text) {
		v.fail(path, "%q is not one of the enum values %s", text, short(s.Enum))
	}
	n := float64(utf8.RuneCountInString(text))
	if s.Min != nil && n < *s.Min {
		v.fail(path, "length %d is under the minimum %g", int(n), *s.Min)
	}
	if s.Max != nil && n > *s.Max {
		v.fail(path, "length %d is over the maximum %g", int(n), *s.Max)
	}
	if s.Pattern != "" {
		if re := v.m.pattern(s.Pattern); re != nil && !re.MatchString(text) {
			v.fail(path, "%q does not match the pattern %s", text, s.Pattern)
		}
	}
}

func (m *awsModel) pattern(p string) *regexp.Regexp {
	if re, ok := m.regex.Load(p); ok {
		return re.(*regexp.Regexp)
	}
	re, err := regexp.Compile(p)
	if err != nil {
		re = nil // a Java-only construct (lookaround): not checked
	}
	m.regex.Store(p, re)
	return re
}

func (v *awsValidator) number(s *awsShape, f float64, path string) {
	if s.Min != nil && f < *s.Min {
		v.fail(path, "%g is under the minimum %g", f, *s.Min)
	}
	if s.Max != nil && f > *s.Max {
		v.fail(path, "%g is over the maximum %g", f, *s.Max)
	}
}

func (v *awsValidator) timestamp(s *awsShape, text, path, format string) {
	if s.TimestampFormat != "" {
		format = s.TimestampFormat
	}
	var err error
	switch format {
	case "unixTimestamp":
		_, err = strconv.ParseFloat(text, 64)
	case "rfc822":
		_, err = time.Parse(http.TimeFormat, text)
	default:
		if _, err = time.Parse(time.RFC3339Nano, text); err != nil {
			_, err = time.Parse("2006-01-02T15:04:05Z0700", text)
		}
	}
	if err != nil {
		v.fail(path, "timestamp %q is not %s", text, format)
	}
}

func (v *awsValidator) count(s *awsShape, n int, path string) {
	if s.Min != nil && float64(n) < *s.Min {
		v.fail(path, "fewer elements than the minimum %g", *s.Min)
	}
	if s.Max != nil && float64(n) > *s.Max {
		v.fail(path, "more elements than the maximum %g", *s.Max)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func short(list []string) string {
	if len(list) > 8 {
		return "[" + strings.Join(list[:8], " ") + " …]"
	}
	return "[" + strings.Join(list, " ") + "]"
}

// ---- JSON (json, rest-json) ----

func (v *awsValidator) jsonBody(shape string, body []byte, protocol string) {
	doc, err := decodeJSON(body)
	if err != nil {
		v.fail("", "body is not JSON: %v", err)
		return
	}
	s := v.shape(shape)
	if s == nil {
		return
	}
	v.jsonValue(s, doc, "", true)
}

func (v *awsValidator) jsonValue(s *awsShape, val any, path string, top bool) {
	if val == nil {
		return // null: absent
	}
	if s.Document {
		return
	}
	switch s.Type {
	case "structure":
		obj, ok := val.(map[string]any)
		if !ok {
			v.fail(path, "a %T where the model has a structure", val)
			return
		}
		byWire := map[string]string{}
		for name, m := range s.Members {
			if top && m.Location != "" {
				continue // uri, querystring, header, statusCode
			}
			wire := name
			if m.LocationName != "" {
				wire = m.LocationName
			}
			byWire[wire] = name
		}
		keys := sortedKeys(obj)
		for _, k := range keys {
			name, ok := byWire[k]
			if !ok {
				if top && v.where == "response" && k == "__type" {
					continue
				}
				if v.m.newerMember(shapeName(v.m, s), v.op, v.where == "request", k) {
					continue
				}
				v.fail(join(path, k), "unknown member (not in shape %s)", shapeName(v.m, s))
				continue
			}
			if ms := v.shape(s.Members[name].Shape); ms != nil {
				v.jsonValue(ms, obj[k], join(path, k), false)
			}
		}
		for _, req := range s.Required {
			m := s.Members[req]
			if m == nil || (top && m.Location != "") {
				continue
			}
			wire := req
			if m.LocationName != "" {
				wire = m.LocationName
			}
			if obj[wire] == nil {
				v.fail(join(path, wire), "required member is missing")
			}
		}
	case "list":
		arr, ok := val.([]any)
		if !ok {
			v.fail(path, "a %T where the model has a list", val)
			return
		}
		v.count(s, len(arr), path)
		if ms := v.shape(s.Member.Shape); ms != nil {
			for i, e := range arr {
				v.jsonValue(ms, e, path+"["+strconv.Itoa(i)+"]", false)
			}
		}
	case "map":
		obj, ok := val.(map[string]any)
		if !ok {
			v.fail(path, "a %T where the model has a map", val)
			return
		}
		v.count(s, len(obj), path)
		ks, vs := v.shape(s.Key.Shape), v.shape(s.Value.Shape)
		for _, k := range sortedKeys(obj) {
			if ks != nil {
				v.str(ks, k, path+"{key}")
			}
			if vs != nil {
				v.jsonValue(vs, obj[k], path+"["+k+"]", false)
			}
		}
	case "string":
		str, ok := val.(string)
		if !ok {
			v.fail(path, "a %T where the model has a string", val)
			return
		}
		v.str(s, str, path)
	case "integer", "long", "double", "float":
		n, ok := val.(json.Number)
		if !ok {
			v.fail(path, "a %T where the model has a %s", val, s.Type)
			return
		}
		if s.Type == "integer" || s.Type == "long" {
			if _, err := n.Int64(); err != nil {
				v.fail(path, "%s is not an %s", n, s.Type)
				return
			}
		}
		f, _ := n.Float64()
		v.number(s, f, path)
	case "boolean":
		if _, ok := val.(bool); !ok {
			v.fail(path, "a %T where the model has a boolean", val)
		}
	case "timestamp":
		switch t := val.(type) {
		case json.Number:
			if s.TimestampFormat != "" && s.TimestampFormat != "unixTimestamp" {
				v.fail(path, "a number where the model has a %s timestamp", s.TimestampFormat)
			}
		case string:
			v.timestamp(s, t, path, "iso8601")
		default:
			v.fail(path, "a %T where the model has a timestamp", val)
		}
	case "blob":
		str, ok := val.(string)
		if !ok {
			v.fail(path, "a %T where the model has a blob", val)
			return
		}
		v.scalar(s, str, path, "")
	default:
		v.fail(path, "shape type %q is not validated", s.Type)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func shapeName(m *awsModel, s *awsShape) string { return m.names[s] }

// ---- rest-json requests ----

// matchREST finds the operation whose method and requestUri match a
// request path, preferring the one with the most literal segments.
func matchREST(m *awsModel, method, path string) (*awsOp, map[string]string) {
	var best *awsOp
	var bestParams map[string]string
	bestLiteral := -1
	for _, op := range m.Operations {
		if op.HTTP.Method != method {
			continue
		}
		uri, _, _ := strings.Cut(op.HTTP.RequestURI, "?")
		params, literal, ok := matchURI(uri, path)
		if ok && literal > bestLiteral {
			best, bestParams, bestLiteral = op, params, literal
		}
	}
	return best, bestParams
}

func matchURI(template, path string) (map[string]string, int, bool) {
	ts := strings.Split(strings.Trim(template, "/"), "/")
	ps := strings.Split(strings.Trim(path, "/"), "/")
	params := map[string]string{}
	literal := 0
	for i, t := range ts {
		if strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}") {
			name := t[1 : len(t)-1]
			if strings.HasSuffix(name, "+") {
				if i >= len(ps) {
					return nil, 0, false
				}
				rest := strings.Join(ps[i:], "/")
				params[strings.TrimSuffix(name, "+")], _ = url.PathUnescape(rest)
				return params, literal, true
			}
			if i >= len(ps) || ps[i] == "" {
				return nil, 0, false
			}
			params[name], _ = url.PathUnescape(ps[i])
			continue
		}
		if i >= len(ps) || ps[i] != t {
			return nil, 0, false
		}
		literal++
	}
	if len(ps) != len(ts) {
		return nil, 0, false
	}
	return params, literal, true
}

func (v *awsValidator) restRequest(shape string, params map[string]string, query url.Values, header http.Header, body []byte) {
	s := v.shape(shape)
	if s == nil {
		return
	}
	knownQuery := map[string]bool{}
	for name, m := range s.Members {
		ms := v.shape(m.Shape)
		if ms == nil {
			continue
		}
		wire := name
		if m.LocationName != "" {
			wire = m.LocationName
		}
		required := contains(s.Required, name)
		switch m.Location {
		case "uri":
			if val, ok := params[wire]; ok {
				v.scalar(ms, val, wire, "iso8601")
			} else if required {
				v.fail(wire, "required URI member is missing")
			}
		case "querystring":
			knownQuery[wire] = true
			vals, ok := query[wire]
			if !ok {
				if required {
					v.fail(wire, "required query member is missing")
				}
				continue
			}
			if ms.Type == "list" {
				v.count(ms, len(vals), wire)
				if es := v.shape(ms.Member.Shape); es != nil {
					for _, e := range vals {
						v.scalar(es, e, wire, "iso8601")
					}
				}
				continue
			}
			for _, e := range vals {
				v.scalar(ms, e, wire, "iso8601")
			}
		case "header":
			if val := header.Get(wire); val != "" {
				v.scalar(ms, val, wire, "rfc822")
			} else if required {
				v.fail(wire, "required header member is missing")
			}
		}
	}
	for _, k := range sortedKeys(query) {
		if !knownQuery[k] {
			v.fail(k, "unknown query parameter")
		}
	}
	if s.Payload != "" {
		return
	}
	v.jsonBody(shape, body, "rest-json")
}

// ---- query and ec2 requests: form parameters as a tree ----

type elem struct {
	name     string
	text     string
	children []*elem
}

func (e *elem) child(name string) *elem {
	for _, c := range e.children {
		if c.name == name {
			return c
		}
	}
	c := &elem{name: name}
	e.children = append(e.children, c)
	return c
}

// groups returns the children by name, in first-seen order.
func (e *elem) groups() ([]string, map[string][]*elem) {
	var names []string
	by := map[string][]*elem{}
	for _, c := range e.children {
		if _, ok := by[c.name]; !ok {
			names = append(names, c.name)
		}
		by[c.name] = append(by[c.name], c)
	}
	return names, by
}

func formTree(form url.Values) *elem {
	root := &elem{}
	for _, k := range sortedKeys(form) {
		if k == "Action" || k == "Version" {
			continue
		}
		n := root
		for _, part := range strings.Split(k, ".") {
			n = n.child(part)
		}
		n.text = form.Get(k)
	}
	return root
}

// queryName is a member's name in a query/ec2 request.
func (v *awsValidator) queryName(name string, m *awsMember) string {
	if v.m.Metadata.Protocol == "ec2" {
		switch {
		case m.QueryName != "":
			return m.QueryName
		case m.LocationName != "":
			return strings.ToUpper(m.LocationName[:1]) + m.LocationName[1:]
		}
		return strings.ToUpper(name[:1]) + name[1:]
	}
	if m.LocationName != "" {
		return m.LocationName
	}
	return name
}

func (v *awsValidator) queryStruct(shape string, e *elem, path string) {
	s := v.shape(shape)
	if s == nil {
		return
	}
	byWire := map[string]string{}
	for name, m := range s.Members {
		byWire[v.queryName(name, m)] = name
	}
	for _, c := range e.children {
		name, ok := byWire[c.name]
		if !ok {
			if !v.m.newerMember(shape, v.op, true, c.name) {
				v.fail(join(path, c.name), "unknown member (not in shape %s)", shape)
			}
			continue
		}
		m := s.Members[name]
		v.queryValue(m, c, join(path, c.name))
	}
	for _, req := range s.Required {
		if m := s.Members[req]; m != nil && !hasChild(e, v.queryName(req, m)) {
			v.fail(join(path, v.queryName(req, m)), "required member is missing")
		}
	}
}

func hasChild(e *elem, name string) bool {
	for _, c := range e.children {
		if c.name == name {
			return true
		}
	}
	return false
}

func (v *awsValidator) queryValue(m *awsMember, e *elem, path string) {
	s := v.shape(m.Shape)
	if s == nil {
		return
	}
	switch s.Type {
	case "structure":
		v.queryStruct(m.Shape, e, path)
	case "list":
		items := e
		if v.m.Metadata.Protocol == "query" && !(m.Flattened || s.Flattened) {
			if len(e.children) == 0 && e.text == "" {
				return // an empty list is sent as "Name="
			}
			item := "member"
			if s.Member.LocationName != "" {
				item = s.Member.LocationName
			}
			if len(e.children) != 1 || e.children[0].name != item {
				v.fail(path, "a list is sent as %s.%s.N", e.name, item)
				return
			}
			items = e.children[0]
		}
		v.count(s, len(items.children), path)
		for _, c := range items.children {
			n, err := strconv.Atoi(c.name)
			if err != nil || n < 1 || n > len(items.children) {
				v.fail(path+"."+c.name, "list index %q is not one of 1..%d", c.name, len(items.children))
			}
			v.queryValue(s.Member, c, path+"."+c.name)
		}
	case "map":
		entries := e.children
		if !(m.Flattened || s.Flattened) {
			if len(e.children) != 1 || e.children[0].name != "entry" {
				v.fail(path, "a map is sent as %s.entry.N.key/value", e.name)
				return
			}
			entries = e.children[0].children
		}
		v.count(s, len(entries), path)
		kn, vn := "key", "value"
		if s.Key.LocationName != "" {
			kn = s.Key.LocationName
		}
		if s.Value.LocationName != "" {
			vn = s.Value.LocationName
		}
		for _, en := range entries {
			for _, c := range en.children {
				switch c.name {
				case kn:
					v.queryValue(s.Key, c, path+"."+en.name+"."+kn)
				case vn:
					v.queryValue(s.Value, c, path+"."+en.name+"."+vn)
				default:
					v.fail(path+"."+en.name+"."+c.name, "unknown map entry part")
				}
			}
		}
	default:
		if len(e.children) > 0 {
			v.fail(path, "a scalar %s sent with sub-members", s.Type)
			return
		}
		v.scalar(s, e.text, path, "iso8601")
	}
}

// ---- query and ec2 responses: XML ----

func parseXML(body []byte) (*elem, error) {
	dec := xml.NewDecoder(bytes.NewReader(body))
	var stack []*elem
	var root *elem
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			e := &elem{name: t.Name.Local}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.children = append(p.children, e)
			} else if root == nil {
				root = e
			}
			stack = append(stack, e)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text += string(t)
			}
		}
	}
	if root == nil {
		return nil, fmt.Errorf("no XML element")
	}
	return root, nil
}

func (v *awsValidator) xmlResponse(op *awsOp, body []byte) {
	root, err := parseXML(body)
	if err != nil {
		v.fail("", "response is not XML: %v", err)
		return
	}
	if want := op.Name + "Response"; root.name != want {
		v.fail(root.name, "root element is %s, not %s", root.name, want)
	}
	result := root
	if v.m.Metadata.Protocol == "query" {
		wrapper := op.Output.ResultWrapper
		var found *elem
		for _, c := range root.children {
			switch c.name {
			case wrapper:
				found = c
			case "ResponseMetadata":
			default:
				v.fail(c.name, "unknown element in %s", root.name)
			}
		}
		if found == nil {
			found = &elem{name: wrapper}
			if s := v.m.Shapes[op.Output.Shape]; s != nil && len(s.Members) > 0 {
				v.fail(wrapper, "result wrapper element is missing")
			}
		}
		result = found
	} else {
		// EC2 puts requestId next to the output members.
		kept := result.children[:0:0]
		for _, c := range result.children {
			if c.name != "requestId" {
				kept = append(kept, c)
			}
		}
		result = &elem{name: root.name, children: kept}
	}
	v.xmlStruct(op.Output.Shape, result, "")
}

// xmlName is a member's element name in a response.
func xmlName(name string, m *awsMember) string {
	if m.LocationName != "" {
		return m.LocationName
	}
	return name
}

func (v *awsValidator) xmlStruct(shape string, e *elem, path string) {
	s := v.shape(shape)
	if s == nil {
		return
	}
	byWire := map[string]string{}
	for name, m := range s.Members {
		if m.XMLAttribute {
			continue
		}
		ms := v.m.Shapes[m.Shape]
		if ms != nil && ms.Type == "list" && (m.Flattened || ms.Flattened) {
			wire := xmlName(name, m)
			if m.LocationName == "" && ms.Member.LocationName != "" {
				wire = ms.Member.LocationName
			}
			byWire[wire] = name
			continue
		}
		byWire[xmlName(name, m)] = name
	}
	names, groups := e.groups()
	present := map[string]bool{}
	for _, wire := range names {
		name, ok := byWire[wire]
		if !ok {
			if !v.m.newerMember(shape, v.op, false, wire) {
				v.fail(join(path, wire), "unknown member (not in shape %s)", shape)
			}
			continue
		}
		present[name] = true
		m := s.Members[name]
		ms := v.shape(m.Shape)
		if ms == nil {
			continue
		}
		if ms.Type == "list" && (m.Flattened || ms.Flattened) {
			v.count(ms, len(groups[wire]), join(path, wire))
			for i, c := range groups[wire] {
				v.xmlValue(ms.Member.Shape, c, fmt.Sprintf("%s[%d]", join(path, wire), i))
			}
			continue
		}
		if len(groups[wire]) > 1 {
			v.fail(join(path, wire), "element repeated %d times", len(groups[wire]))
		}
		v.xmlValue(m.Shape, groups[wire][0], join(path, wire))
	}
	for _, req := range s.Required {
		if m := s.Members[req]; m != nil && !present[req] && !m.XMLAttribute {
			v.fail(join(path, xmlName(req, m)), "required member is missing")
		}
	}
}

func (v *awsValidator) xmlValue(shape string, e *elem, path string) {
	s := v.shape(shape)
	if s == nil {
		return
	}
	switch s.Type {
	case "structure":
		v.xmlStruct(shape, e, path)
	case "list":
		item := "member"
		if s.Member.LocationName != "" {
			item = s.Member.LocationName
		}
		v.count(s, len(e.children), path)
		for i, c := range e.children {
			if c.name != item {
				v.fail(path+"."+c.name, "list element is <%s>, the model's is <%s>", c.name, item)
				continue
			}
			v.xmlValue(s.Member.Shape, c, fmt.Sprintf("%s[%d]", path, i))
		}
	case "map":
		kn, vn := "key", "value"
		if s.Key.LocationName != "" {
			kn = s.Key.LocationName
		}
		if s.Value.LocationName != "" {
			vn = s.Value.LocationName
		}
		for _, en := range e.children {
			if en.name != "entry" {
				v.fail(path+"."+en.name, "map element is not <entry>")
				continue
			}
			for _, c := range en.children {
				switch c.name {
				case kn:
					v.xmlValue(s.Key.Shape, c, path+".entry."+kn)
				case vn:
					v.xmlValue(s.Value.Shape, c, path+".entry."+vn)
				default:
					v.fail(path+".entry."+c.name, "unknown map entry part")
				}
			}
		}
	default:
		if len(e.children) > 0 {
			v.fail(path, "a scalar %s with child elements", s.Type)
			return
		}
		v.scalar(s, strings.TrimSpace(e.text), path, "iso8601")
	}
}
