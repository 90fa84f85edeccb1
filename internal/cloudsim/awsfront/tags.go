package awsfront

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Form helpers and tags: TagSpecification.N at creation, CreateTags after.

// indices are the N of the parameters prefix.N[.…], sorted.
func indices(r *http.Request, prefix string) []int {
	seen := map[int]bool{}
	for k := range r.Form {
		rest, ok := strings.CutPrefix(k, prefix+".")
		if !ok {
			continue
		}
		if i := strings.IndexByte(rest, '.'); i >= 0 {
			rest = rest[:i]
		}
		if n, err := strconv.Atoi(rest); err == nil {
			seen[n] = true
		}
	}
	out := make([]int, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// parseTags reads TagSpecification.N (ResourceType must be resourceType)
// with its Tag.M.Key / Value.
func parseTags(r *http.Request, resourceType string) (map[string]string, error) {
	tags := map[string]string{}
	for _, n := range indices(r, "TagSpecification") {
		p := fmt.Sprintf("TagSpecification.%d.", n)
		if rt := r.Form.Get(p + "ResourceType"); rt != resourceType {
			return nil, invalidValue("'%s' is not a valid taggable resource type for this operation.", rt)
		}
		for _, m := range indices(r, p+"Tag") {
			tags[r.Form.Get(fmt.Sprintf("%sTag.%d.Key", p, m))] = r.Form.Get(fmt.Sprintf("%sTag.%d.Value", p, m))
		}
	}
	return tags, checkTags(tags)
}

func checkTags(tags map[string]string) error {
	if len(tags) > 50 {
		return &ec2Err{400, "TagLimitExceeded", "The maximum number of Tags for a resource has been reached."}
	}
	for k, v := range tags {
		switch {
		case k == "" || len(k) > 128:
			return invalidValue("Tag keys must be 1 to 128 characters: '%s'", k)
		case strings.HasPrefix(strings.ToLower(k), "aws:"):
			return invalidValue("Tag keys starting with 'aws:' are reserved for internal use")
		case len(v) > 256:
			return invalidValue("Tag values may be at most 256 characters (tag '%s')", k)
		}
	}
	return nil
}

// createTags sets Tag.N.Key/Value on the resources ResourceId.N (any of
// the kinds above).
func (s *server) createTags(r *http.Request, region, reqID string, w *world) (any, error) {
	ids := formList(r, "ResourceId")
	if len(ids) == 0 {
		return nil, missing("resourceIdSet")
	}
	tags := map[string]string{}
	for _, n := range indices(r, "Tag") {
		tags[r.Form.Get(fmt.Sprintf("Tag.%d.Key", n))] = r.Form.Get(fmt.Sprintf("Tag.%d.Value", n))
	}
	if len(tags) == 0 {
		return nil, missing("tagSet")
	}
	if err := checkTags(tags); err != nil {
		return nil, err
	}
	type target struct {
		id, name string
		tags     map[string]string
	}
	var targets []target
	for _, id := range ids {
		prefix, _, _ := strings.Cut(id, "-")
		k, ok := taggables[prefix]
		if !ok {
			return nil, &ec2Err{400, "InvalidID", fmt.Sprintf("The ID '%s' is not valid", id)}
		}
		name, created, err := k.find(s, region, id)
		if err != nil {
			return nil, err
		}
		targets = append(targets, target{id, name, created})
	}
	for _, o := range targets {
		have := w.tagsOf(o.name, Identity{Tags: o.tags})
		if n := len(have); n+len(tags) > 50 {
			merged := maps.Clone(have)
			maps.Copy(merged, tags)
			if len(merged) > 50 {
				return nil, &ec2Err{400, "TagLimitExceeded", fmt.Sprintf("The maximum number of Tags for %s has been reached.", o.id)}
			}
		}
		for _, k := range sortedKeys(tags) {
			v, had := have[k]
			if had && v == tags[k] {
				continue
			}
			name := o.name + "/" + k
			if _, ok := w.tags[o.name][k]; ok {
				if err := drop(s.net.tags, name); err != nil {
					return nil, ec2Error(err, "InvalidID", "IncorrectState")
				}
			}
			if err := s.net.tags.Put(name, Tag{Resource: o.name, Key: k, Value: tags[k]}); err != nil {
				return nil, ec2Error(err, "InvalidID", "IncorrectState")
			}
		}
	}
	return replyTrue("CreateTags", reqID), nil
}
