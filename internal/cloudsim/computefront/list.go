package computefront

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// maxPage is the largest page GCE answers (and the default).
const maxPage = 500

func protoValueUint64(v uint64) protoreflect.Value { return protoreflect.ValueOfUint64(v) }

func marshal(m proto.Message) ([]byte, error) { return protojson.Marshal(m) }

// listPage is a list answer.
type listPage struct {
	Kind          string            `json:"kind"`
	ID            string            `json:"id"`
	Items         []json.RawMessage `json:"items,omitempty"`
	NextPageToken string            `json:"nextPageToken,omitempty"`
	SelfLink      string            `json:"selfLink"`
}

// list answers one page of a collection in the request's scope, sorted by
// name, filtered by the filter parameter (see parseFilter); maxResults
// (at most 500) and pageToken page through it.
func (s *server) list(q *request, k *kindInfo) (any, error) {
	params := q.r.URL.Query()
	size := maxPage
	if v := params.Get("maxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, invalidField("maxResults", v, "Must be a number from 0 to 500.")
		}
		if n > 0 && n < maxPage {
			size = n
		}
	}
	after := ""
	if tok := params.Get("pageToken"); tok != "" {
		data, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil || !strings.HasPrefix(string(data), "after:") {
			return nil, invalidField("pageToken", tok, "The page token is invalid.")
		}
		after = strings.TrimPrefix(string(data), "after:")
	}
	filter, err := parseFilter(params.Get("filter"))
	if err != nil {
		return nil, err
	}
	scope := objectName(q.project, q.region, "")
	sn, err := s.snapshot()
	if err != nil {
		return nil, err
	}
	page := listPage{Kind: k.apiKind + "List", ID: q.scopePath() + "/" + k.coll,
		SelfLink: q.base + q.scopePath() + "/" + k.coll}
	var last string
	more := false
	sn.each(k.kind, func(object string, m proto.Message) {
		name := strings.TrimPrefix(object, scope)
		if !strings.HasPrefix(object, scope) || strings.Contains(name, "/") || name <= after || more {
			return
		}
		data, err := marshal(s.render(q, k, sn, m))
		if err != nil || !filter.matches(data) {
			return
		}
		if len(page.Items) == size {
			more = true
			return
		}
		page.Items = append(page.Items, data)
		last = name
	})
	if more {
		page.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte("after:" + last))
	}
	return page, nil
}

// filter is a conjunction of field comparisons.
type filter []cmp

type cmp struct {
	field string
	neg   bool
	value string
	re    *regexp.Regexp // eq / ne (RE2, whole value)
}

var cmpRE = regexp.MustCompile(`^\s*\(?\s*([A-Za-z][A-Za-z0-9_]*)\s*(=|!=|\beq\b|\bne\b)\s*("(?:[^"\\]|\\.)*"|[^\s()]+)\s*\)?\s*$`)

// parseFilter reads the subset of GCE's filter language cloudsim serves:
// comparisons of top-level fields, `field = "value"`, `field != value`,
// `field eq regex`, `field ne regex`, joined by AND (or juxtaposed in
// parentheses). A reference field matches its full URL, or its value
// without the host ("projects/p/global/networks/n").
func parseFilter(s string) (filter, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var parts []string
	for _, p := range regexp.MustCompile(`\s+AND\s+|\)\s*\(`).Split(s, -1) {
		if strings.TrimSpace(p) != "" {
			parts = append(parts, p)
		}
	}
	var f filter
	for _, p := range parts {
		m := cmpRE.FindStringSubmatch(p)
		if m == nil {
			return nil, invalidField("filter", s, "Invalid list filter expression.")
		}
		c := cmp{field: m[1], value: m[3]}
		if strings.HasPrefix(c.value, `"`) {
			v, err := strconv.Unquote(c.value)
			if err != nil {
				return nil, invalidField("filter", s, "Invalid list filter expression.")
			}
			c.value = v
		}
		switch m[2] {
		case "!=":
			c.neg = true
		case "eq", "ne":
			re, err := regexp.Compile("^(?:" + c.value + ")$")
			if err != nil {
				return nil, invalidField("filter", s, fmt.Sprintf("Invalid regular expression: %v.", err))
			}
			c.re, c.neg = re, m[2] == "ne"
		}
		f = append(f, c)
	}
	return f, nil
}

func (f filter) matches(data []byte) bool {
	if len(f) == 0 {
		return true
	}
	var obj map[string]any
	if json.Unmarshal(data, &obj) != nil {
		return false
	}
	for _, c := range f {
		v := ""
		switch x := obj[c.field].(type) {
		case string:
			v = x
		case nil:
		default:
			v = fmt.Sprint(x)
		}
		var hit bool
		if c.re != nil {
			hit = c.re.MatchString(v)
		} else {
			hit = v == c.value || (strings.Contains(v, "/compute/v1/") && strings.HasSuffix(v, "/compute/v1/"+strings.TrimPrefix(stripHost(c.value), "/")))
		}
		if hit == c.neg {
			return false
		}
	}
	return true
}

// stripHost drops scheme, host and API prefix from a URL.
func stripHost(v string) string {
	if i := strings.Index(v, "/compute/v1/"); i >= 0 {
		return v[i+len("/compute/v1/"):]
	}
	return v
}

// aggregatedList answers projects/{p}/aggregated/{coll}: the collection's
// resources in every scope, as {"items": {"regions/r" or "global":
// {"<coll>": [...]}}} with kind compute#<kind>AggregatedList, sorted by
// name within each scope and filtered as list filters; scopes without
// resources are left out (GCE lists them with a NO_RESULTS_ON_PAGE
// warning), and the answer is one page
// (https://cloud.google.com/compute/docs/reference/rest/v1/routers/aggregatedList).
// gcloud's list commands (gcloud compute routers list) call it.
func (s *server) aggregatedList(q *request, k *kindInfo) (any, error) {
	filter, err := parseFilter(q.r.URL.Query().Get("filter"))
	if err != nil {
		return nil, err
	}
	sn, err := s.snapshot()
	if err != nil {
		return nil, err
	}
	items := map[string]map[string][]json.RawMessage{}
	sn.each(k.kind, func(object string, m proto.Message) {
		parts := strings.Split(object, "/")
		if parts[0] != q.project || len(parts) != map[bool]int{false: 2, true: 3}[k.regional] {
			return
		}
		rq := *q
		rq.aggregated, rq.region = false, ""
		scope := "global"
		if k.regional {
			rq.region, scope = parts[1], "regions/"+parts[1]
		}
		data, err := marshal(s.render(&rq, k, sn, m))
		if err != nil || !filter.matches(data) {
			return
		}
		if items[scope] == nil {
			items[scope] = map[string][]json.RawMessage{}
		}
		items[scope][k.coll] = append(items[scope][k.coll], data)
	})
	return map[string]any{"kind": k.apiKind + "AggregatedList", "id": "projects/" + q.project + "/aggregated/" + k.coll,
		"items": items, "selfLink": q.base + "projects/" + q.project + "/aggregated/" + k.coll}, nil
}
