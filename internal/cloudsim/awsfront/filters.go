package awsfront

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
)

// EC2 Filter.N.Name / Filter.N.Value.M filters of the network Describes.

type filter struct {
	name   string
	values []*regexp.Regexp
}

// parseFilters reads Filter.N.Name / Filter.N.Value.M; a name outside
// known (and not tag:KEY, tag-key, tag-value) is InvalidParameterValue.
func parseFilters(r *http.Request, known []string) ([]filter, error) {
	var out []filter
	for _, n := range indices(r, "Filter") {
		name := r.Form.Get(fmt.Sprintf("Filter.%d.Name", n))
		if name == "" {
			return nil, missing(fmt.Sprintf("Filter.%d.Name", n))
		}
		if !slices.Contains(known, name) && !strings.HasPrefix(name, "tag:") && name != "tag-key" && name != "tag-value" {
			return nil, invalidValue("The filter '%s' is invalid", name)
		}
		f := filter{name: name}
		for _, v := range formList(r, fmt.Sprintf("Filter.%d.Value", n)) {
			f.values = append(f.values, glob(v))
		}
		out = append(out, f)
	}
	return out, nil
}

// glob compiles an EC2 filter value: * is any string, ? any character.
func glob(v string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for _, c := range v {
		switch c {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

// matches reports whether a resource passes every filter (a filter passes
// when one of its values matches one of the resource's).
func matches(filters []filter, fields map[string][]string, tags map[string]string) bool {
	for _, f := range filters {
		var have []string
		switch {
		case strings.HasPrefix(f.name, "tag:"):
			if v, ok := tags[strings.TrimPrefix(f.name, "tag:")]; ok {
				have = []string{v}
			}
		case f.name == "tag-key":
			have = sortedKeys(tags)
		case f.name == "tag-value":
			for _, k := range sortedKeys(tags) {
				have = append(have, tags[k])
			}
		default:
			have = fields[f.name]
		}
		ok := false
		for _, re := range f.values {
			if slices.ContainsFunc(have, re.MatchString) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}
