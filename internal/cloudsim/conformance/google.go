package conformance

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Discovery documents of google.golang.org/api, by the REST path prefix
// they serve (servicePath).
var googleDocs = []struct{ prefix, file string }{
	{"/compute/v1/", "compute/v1/compute-api.json"},
	{"/v1/services", "cloudbilling/v1/cloudbilling-api.json"},
}

const containerDoc = "container/v1/container-api.json"

type discovery struct {
	ID          string                `json:"id"`
	Version     string                `json:"version"`
	ServicePath string                `json:"servicePath"`
	Parameters  map[string]*dSchema   `json:"parameters"`
	Resources   map[string]*dResource `json:"resources"`
	Schemas     map[string]*dSchema   `json:"schemas"`

	methods []*dMethod
	byID    map[string]*dMethod
	regex   sync.Map
}

type dResource struct {
	Methods   map[string]*dMethod   `json:"methods"`
	Resources map[string]*dResource `json:"resources"`
}

type dMethod struct {
	ID         string              `json:"id"`
	Path       string              `json:"path"`
	FlatPath   string              `json:"flatPath"`
	HTTPMethod string              `json:"httpMethod"`
	Parameters map[string]*dSchema `json:"parameters"`
	Request    *dSchema            `json:"request"`
	Response   *dSchema            `json:"response"`

	flat, full *regexp.Regexp
	literal    int
}

type dSchema struct {
	ID                   string              `json:"id"`
	Type                 string              `json:"type"`
	Format               string              `json:"format"`
	Ref                  string              `json:"$ref"`
	Pattern              string              `json:"pattern"`
	Enum                 []string            `json:"enum"`
	Properties           map[string]*dSchema `json:"properties"`
	Items                *dSchema            `json:"items"`
	AdditionalProperties *dSchema            `json:"additionalProperties"`
	Description          string              `json:"description"`
	Location             string              `json:"location"`
	Required             bool                `json:"required"`
	Repeated             bool                `json:"repeated"`
	Minimum              string              `json:"minimum"`
	Maximum              string              `json:"maximum"`
	Annotations          struct {
		Required []string `json:"required"`
	} `json:"annotations"`
}

var googleModels sync.Map // file -> *googleEntry

type googleEntry struct {
	once sync.Once
	d    *discovery
	err  error
}

func loadDiscovery(file string) (*discovery, error) {
	e, _ := googleModels.LoadOrStore(file, &googleEntry{})
	entry := e.(*googleEntry)
	entry.once.Do(func() {
		p, err := moduleFile(googleAPIModule, depVersion(googleAPIModule, googleAPIVersion), file)
		if err != nil {
			entry.err = err
			return
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			entry.err = err
			return
		}
		d := &discovery{byID: map[string]*dMethod{}}
		if err := json.Unmarshal(raw, d); err != nil {
			entry.err = fmt.Errorf("%s: %w", p, err)
			return
		}
		var walk func(map[string]*dResource)
		walk = func(rs map[string]*dResource) {
			for _, r := range rs {
				for _, m := range r.Methods {
					m.flat = templateRegexp(d.ServicePath, m.FlatPath, m.Path)
					m.full = templateRegexp(d.ServicePath, m.Path, "")
					m.literal = strings.Count(m.FlatPath+m.Path, "/") - strings.Count(m.FlatPath+m.Path, "{")
					d.methods = append(d.methods, m)
					d.byID[m.ID] = m
				}
				walk(r.Resources)
			}
		}
		walk(d.Resources)
		entry.d = d
	})
	return entry.d, entry.err
}

var templateVar = regexp.MustCompile(`\{(\+?)([^}]+)\}`)

// templateRegexp turns a discovery path ("v1/{+name}",
// "projects/{project}/zones/{zone}") into an anchored expression with one
// named group per variable ({+x} spans slashes).
func templateRegexp(servicePath, path, fallback string) *regexp.Regexp {
	if path == "" {
		path = fallback
	}
	var b strings.Builder
	b.WriteString("^/" + regexp.QuoteMeta(servicePath))
	last := 0
	for _, m := range templateVar.FindAllStringSubmatchIndex(path, -1) {
		b.WriteString(regexp.QuoteMeta(path[last:m[0]]))
		name := regexp.MustCompile(`[^A-Za-z0-9_]`).ReplaceAllString(path[m[4]:m[5]], "_")
		if m[3] > m[2] {
			b.WriteString("(?P<" + name + ">.+)")
		} else {
			b.WriteString("(?P<" + name + ">[^/]+)")
		}
		last = m[1]
	}
	b.WriteString(regexp.QuoteMeta(path[last:]) + "$")
	return regexp.MustCompile(b.String())
}

func (d *discovery) pattern(p string) *regexp.Regexp {
	if re, ok := d.regex.Load(p); ok {
		return re.(*regexp.Regexp)
	}
	re, err := regexp.Compile("^(?:" + p + ")$")
	if err != nil {
		re = nil
	}
	d.regex.Store(p, re)
	return re
}

func checkGoogleREST(x *Exchange) check {
	r := x.req
	path := r.URL.EscapedPath()
	c := check{service: "google", op: r.Method + " " + r.URL.Path}
	file := ""
	for _, g := range googleDocs {
		if strings.HasPrefix(path, g.prefix) {
			file = g.file
			break
		}
	}
	if file == "" {
		c.fail("request", "", "no discovery document serves the path %s", r.URL.Path)
		return c
	}
	d, err := loadDiscovery(file)
	if err != nil {
		c.fail("request", "", "%v", err)
		return c
	}
	c.service = d.ID
	var method *dMethod
	for _, m := range d.methods {
		if m.HTTPMethod == r.Method && m.flat.MatchString(path) && (method == nil || m.literal > method.literal) {
			method = m
		}
	}
	if method == nil {
		c.fail("request", "", "no method of %s serves %s %s", d.ID, r.Method, r.URL.Path)
		return c
	}
	c.op = method.ID
	c.request = true
	v := &googleValidator{d: d, c: &c, where: "request", method: method.ID}
	params := map[string]string{}
	if sub := method.full.FindStringSubmatch(path); sub != nil {
		for i, name := range method.full.SubexpNames() {
			if name != "" {
				params[name], _ = urlUnescape(sub[i])
			}
		}
	} else {
		v.fail("", "path %s does not match the method's path %s", r.URL.Path, method.Path)
	}
	query := r.URL.Query()
	for _, name := range sortedKeys(method.Parameters) {
		p := method.Parameters[name]
		switch p.Location {
		case "path":
			if val, ok := params[name]; ok {
				v.param(p, val, name)
			} else if p.Required {
				v.fail(name, "required path parameter is missing")
			}
		case "query":
			vals, ok := query[name]
			if !ok {
				if p.Required {
					v.fail(name, "required query parameter is missing")
				}
				continue
			}
			if len(vals) > 1 && !p.Repeated {
				v.fail(name, "query parameter repeated %d times, the method takes one", len(vals))
			}
			for _, val := range vals {
				v.param(p, val, name)
			}
		}
	}
	for _, name := range sortedKeys(query) {
		if p := method.Parameters[name]; p != nil && p.Location == "query" {
			continue
		}
		if p := d.Parameters[name]; p != nil {
			for _, val := range query[name] {
				v.param(p, val, name)
			}
			continue
		}
		v.fail(name, "unknown query parameter")
	}
	if method.Request != nil {
		v.body(method.Request.Ref, x.body, true)
	} else if len(bytes.TrimSpace(x.body)) > 0 {
		v.fail("", "a body sent to a method that takes none")
	}
	if x.status < 200 || x.status > 299 {
		return c
	}
	c.response = true
	v.where = "response"
	if method.Response != nil {
		v.body(method.Response.Ref, x.resp.Bytes(), false)
	}
	return c
}

func urlUnescape(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			n, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return s, err
			}
			b.WriteByte(byte(n))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String(), nil
}

type googleValidator struct {
	d      *discovery
	c      *check
	where  string
	method string
}

func (v *googleValidator) fail(member, format string, args ...any) {
	v.c.fail(v.where, member, format, args...)
}

func (v *googleValidator) resolve(s *dSchema) *dSchema {
	for s != nil && s.Ref != "" {
		t := v.d.Schemas[s.Ref]
		if t == nil {
			v.fail("", "discovery document has no schema %q", s.Ref)
			return nil
		}
		s = t
	}
	return s
}

// param checks a path or query parameter given as text.
func (v *googleValidator) param(p *dSchema, text, path string) {
	switch p.Type {
	case "string":
		v.text(p, text, path)
	case "integer", "number":
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			v.fail(path, "%q is not a %s", text, p.Type)
			return
		}
		v.number(p, f, path)
	case "boolean":
		if text != "true" && text != "false" {
			v.fail(path, "%q is not a boolean", text)
		}
	}
}

// text checks a string value: enum, pattern and format.
func (v *googleValidator) text(s *dSchema, text, path string) {
	if len(s.Enum) > 0 && !contains(s.Enum, text) {
		v.fail(path, "%q is not one of the enum values %s", text, short(s.Enum))
	}
	if s.Pattern != "" {
		if re := v.d.pattern(s.Pattern); re != nil && !re.MatchString(text) {
			v.fail(path, "%q does not match the pattern %s", text, s.Pattern)
		}
	}
	var err error
	switch s.Format {
	case "int64":
		_, err = strconv.ParseInt(text, 10, 64)
	case "uint64":
		_, err = strconv.ParseUint(text, 10, 64)
	case "byte":
		if _, err = base64.StdEncoding.DecodeString(text); err != nil {
			_, err = base64.URLEncoding.DecodeString(text)
		}
	case "google-datetime", "date-time":
		_, err = time.Parse(time.RFC3339Nano, text)
	case "google-duration":
		if !strings.HasSuffix(text, "s") {
			err = fmt.Errorf("no unit s")
		} else {
			_, err = strconv.ParseFloat(strings.TrimSuffix(text, "s"), 64)
		}
	}
	if err != nil {
		v.fail(path, "%q is not a %s", text, s.Format)
	}
}

func (v *googleValidator) number(s *dSchema, f float64, path string) {
	if s.Minimum != "" {
		if m, err := strconv.ParseFloat(s.Minimum, 64); err == nil && f < m {
			v.fail(path, "%g is under the minimum %s", f, s.Minimum)
		}
	}
	if s.Maximum != "" {
		if m, err := strconv.ParseFloat(s.Maximum, 64); err == nil && f > m {
			v.fail(path, "%g is over the maximum %s", f, s.Maximum)
		}
	}
	switch s.Format {
	case "int32", "uint32":
		if f != float64(int64(f)) || f < -(1<<31) || f > (1<<32)-1 || (s.Format == "int32" && f > (1<<31)-1) || (s.Format == "uint32" && f < 0) {
			v.fail(path, "%g is not a %s", f, s.Format)
		}
	}
}

func (v *googleValidator) body(ref string, body []byte, request bool) {
	doc, err := decodeJSON(body)
	if err != nil {
		v.fail("", "body is not JSON: %v", err)
		return
	}
	v.value(&dSchema{Ref: ref}, doc, "", request)
}

// required: the property is required in a request to v.method (compute's
// annotations, container's "Required." descriptions).
func (v *googleValidator) required(p *dSchema) bool {
	return contains(p.Annotations.Required, v.method) || strings.HasPrefix(p.Description, "Required.")
}

func (v *googleValidator) value(s *dSchema, val any, path string, request bool) {
	s = v.resolve(s)
	if s == nil || val == nil {
		return
	}
	switch s.Type {
	case "object":
		obj, ok := val.(map[string]any)
		if !ok {
			v.fail(path, "a %T where the document has an object", val)
			return
		}
		for _, k := range sortedKeys(obj) {
			p := s.Properties[k]
			if p == nil {
				p = s.AdditionalProperties
				if p == nil {
					if s.ID == "Empty" || s.ID == "" && len(s.Properties) == 0 {
						v.fail(join(path, k), "unknown member (the schema has none)")
					} else {
						v.fail(join(path, k), "unknown member (not in schema %s)", s.ID)
					}
					continue
				}
				v.value(p, obj[k], path+"["+k+"]", request)
				continue
			}
			v.value(p, obj[k], join(path, k), request)
		}
		if request {
			for _, k := range sortedKeys(s.Properties) {
				if obj[k] == nil && v.required(s.Properties[k]) {
					v.fail(join(path, k), "required member is missing")
				}
			}
		}
	case "array":
		arr, ok := val.([]any)
		if !ok {
			v.fail(path, "a %T where the document has an array", val)
			return
		}
		for i, e := range arr {
			v.value(s.Items, e, path+"["+strconv.Itoa(i)+"]", request)
		}
	case "string":
		str, ok := val.(string)
		if !ok {
			v.fail(path, "a %T where the document has a string", val)
			return
		}
		v.text(s, str, path)
	case "integer", "number":
		n, ok := val.(json.Number)
		if !ok {
			v.fail(path, "a %T where the document has a %s", val, s.Type)
			return
		}
		f, _ := n.Float64()
		v.number(s, f, path)
	case "boolean":
		if _, ok := val.(bool); !ok {
			v.fail(path, "a %T where the document has a boolean", val)
		}
	case "any", "":
	default:
		v.fail(path, "schema type %q is not validated", s.Type)
	}
}

// containerRPCs maps the ClusterManager RPCs to discovery methods: the
// projects.locations form (name/parent set) and the deprecated
// projects.zones form (projectId/zone/clusterId).
var containerRPCs = map[string][2]string{
	"CreateCluster":   {"clusters.create", "clusters.create"},
	"GetCluster":      {"clusters.get", "clusters.get"},
	"ListClusters":    {"clusters.list", "clusters.list"},
	"DeleteCluster":   {"clusters.delete", "clusters.delete"},
	"UpdateCluster":   {"clusters.update", "clusters.update"},
	"CreateNodePool":  {"clusters.nodePools.create", "clusters.nodePools.create"},
	"GetNodePool":     {"clusters.nodePools.get", "clusters.nodePools.get"},
	"ListNodePools":   {"clusters.nodePools.list", "clusters.nodePools.list"},
	"DeleteNodePool":  {"clusters.nodePools.delete", "clusters.nodePools.delete"},
	"UpdateNodePool":  {"clusters.nodePools.update", "clusters.nodePools.update"},
	"SetNodePoolSize": {"clusters.nodePools.setSize", "clusters.nodePools.setSize"},
	"SetNodePoolAutoscaling": {"clusters.nodePools.setAutoscaling",
		"clusters.nodePools.autoscaling"},
	"GetOperation":    {"operations.get", "operations.get"},
	"ListOperations":  {"operations.list", "operations.list"},
	"CancelOperation": {"operations.cancel", "operations.cancel"},
	"GetServerConfig": {"getServerConfig", "getServerconfig"},
}

// UnaryServerInterceptor validates each ClusterManager call (request and,
// when it succeeds, response, as protojson) by the container/v1 discovery
// document; test is what Caller returned when the server was created.
func UnaryServerInterceptor(test string) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if !Enabled() {
			return handler(ctx, req)
		}
		resp, err := handler(ctx, req)
		reqMsg, _ := req.(proto.Message)
		respMsg, _ := resp.(proto.Message)
		if err != nil {
			respMsg = nil
		}
		c := checkContainerRPC(info.FullMethod, reqMsg, respMsg)
		if status.Code(err) == codes.InvalidArgument {
			c.rejected() // refused as GKE would
		}
		record(Google, test, c)
		return resp, err
	}
}

func checkContainerRPC(fullMethod string, req, resp proto.Message) check {
	rpc := fullMethod[strings.LastIndex(fullMethod, "/")+1:]
	c := check{service: "container:v1", op: rpc}
	d, err := loadDiscovery(containerDoc)
	if err != nil {
		c.fail("request", "", "%v", err)
		return c
	}
	ids, ok := containerRPCs[rpc]
	if !ok || req == nil {
		c.fail("request", "", "RPC %s has no method in the container v1 discovery document", fullMethod)
		return c
	}
	reqJSON, err := protojson.Marshal(req)
	if err != nil {
		c.fail("request", "", "protojson: %v", err)
		return c
	}
	doc, err := decodeJSON(reqJSON)
	obj, _ := doc.(map[string]any)
	if err != nil || obj == nil {
		c.fail("request", "", "protojson: not a JSON object: %v", err)
		return c
	}
	id := "container.projects.locations." + ids[0]
	if obj["name"] == nil && obj["parent"] == nil {
		id = "container.projects.zones." + ids[1]
	}
	method := d.byID[id]
	if method == nil {
		c.fail("request", "", "container v1 has no method %s", id)
		return c
	}
	c.op = rpc + " (" + id + ")"
	c.request = true
	v := &googleValidator{d: d, c: &c, where: "request", method: id}
	// Path and query parameters travel in the message as fields; the
	// rest is the request body's schema.
	var bodySchema *dSchema
	if method.Request != nil {
		bodySchema = v.resolve(method.Request)
	}
	for _, k := range sortedKeys(obj) {
		if bodySchema != nil && bodySchema.Properties[k] != nil {
			v.value(bodySchema.Properties[k], obj[k], k, true)
			continue
		}
		if p := method.Parameters[k]; p != nil {
			str, ok := obj[k].(string)
			if !ok {
				str = fmt.Sprint(obj[k])
			}
			v.param(p, str, k)
			continue
		}
		v.fail(k, "unknown member (neither a parameter of %s nor in its request schema)", id)
	}
	for _, k := range sortedKeys(method.Parameters) {
		if p := method.Parameters[k]; p.Required && obj[k] == nil {
			v.fail(k, "required parameter is missing")
		}
	}
	if bodySchema != nil {
		for _, k := range sortedKeys(bodySchema.Properties) {
			if obj[k] == nil && v.required(bodySchema.Properties[k]) {
				v.fail(k, "required member is missing")
			}
		}
	}
	if resp == nil || method.Response == nil {
		return c
	}
	c.response = true
	v.where = "response"
	respJSON, err := protojson.Marshal(resp)
	if err != nil {
		v.fail("", "protojson: %v", err)
		return c
	}
	v.body(method.Response.Ref, respJSON, false)
	return c
}
