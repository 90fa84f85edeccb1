package planner

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// requestField is one attribute of a request ID: its name, and how its
// value is written and read.
type requestField struct {
	name   string
	format func(*Request) string
	parse  func(*Request, string) error
}

func formatInt(v int) string       { return strconv.Itoa(v) }
func formatFloat(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
func formatList[T ~string](v []T) string {
	parts := make([]string, len(v))
	for i, s := range v {
		parts[i] = string(s)
	}
	return strings.Join(parts, ",")
}

func parseInt(dst *int, v string) error {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return fmt.Errorf("%q is not a whole number", v)
	}
	*dst = int(n)
	return nil
}

func parseFloat(dst *float64, v string) error {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return fmt.Errorf("%q is not a number", v)
	}
	*dst = f
	return nil
}

func parseBool(dst *bool, v string) error {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return fmt.Errorf("%q is not true or false", v)
	}
	*dst = b
	return nil
}

func parseList[T ~string](dst *[]T, v string) error {
	var out []T
	for _, s := range strings.Split(v, ",") {
		if s == "" {
			return fmt.Errorf("empty list element in %q", v)
		}
		out = append(out, T(s))
	}
	*dst = out
	return nil
}

// requestFields are the attributes of a request ID in the order they are
// written; the names are the request's JSON names (spread's prefixed).
var requestFields = []requestField{
	{"gpus", func(r *Request) string { return formatInt(r.GPUs) }, func(r *Request, v string) error { return parseInt(&r.GPUs, v) }},
	{"gpu_models", func(r *Request) string { return formatList(r.GPUModels) }, func(r *Request, v string) error { return parseList(&r.GPUModels, v) }},
	{"min_gpu_memory_gib", func(r *Request) string { return formatFloat(r.MinGPUMemoryGiB) }, func(r *Request, v string) error { return parseFloat(&r.MinGPUMemoryGiB, v) }},
	{"gpus_per_node", func(r *Request) string { return formatInt(r.GPUsPerNode) }, func(r *Request, v string) error { return parseInt(&r.GPUsPerNode, v) }},
	{"min_gpus_per_node", func(r *Request) string { return formatInt(r.MinGPUsPerNode) }, func(r *Request, v string) error { return parseInt(&r.MinGPUsPerNode, v) }},
	{"interconnect", func(r *Request) string { return string(r.Interconnect) }, func(r *Request, v string) error { r.Interconnect = Interconnect(v); return nil }},
	{"residency", func(r *Request) string { return formatList(r.Residency) }, func(r *Request, v string) error { return parseList(&r.Residency, v) }},
	{"deny_residency", func(r *Request) string { return formatList(r.DenyResidency) }, func(r *Request, v string) error { return parseList(&r.DenyResidency, v) }},
	{"clouds", func(r *Request) string { return formatList(r.Clouds) }, func(r *Request, v string) error { return parseList(&r.Clouds, v) }},
	{"capacity_types", func(r *Request) string { return formatList(r.CapacityTypes) }, func(r *Request, v string) error { return parseList(&r.CapacityTypes, v) }},
	{"max_price_per_gpu_hour", func(r *Request) string { return formatFloat(r.MaxPricePerGPUHour) }, func(r *Request, v string) error { return parseFloat(&r.MaxPricePerGPUHour, v) }},
	{"min_spot_score", func(r *Request) string { return formatInt(r.MinSpotScore) }, func(r *Request, v string) error { return parseInt(&r.MinSpotScore, v) }},
	{"spread.min_clouds", func(r *Request) string { return formatInt(r.Spread.MinClouds) }, func(r *Request, v string) error { return parseInt(&r.Spread.MinClouds, v) }},
	{"spread.max_share", func(r *Request) string { return formatFloat(r.Spread.MaxShare) }, func(r *Request, v string) error { return parseFloat(&r.Spread.MaxShare, v) }},
	{"start_after", func(r *Request) string { return r.StartAfter }, func(r *Request, v string) error { r.StartAfter = v; return nil }},
	{"duration_hours", func(r *Request) string { return formatInt(r.DurationHours) }, func(r *Request, v string) error { return parseInt(&r.DurationHours, v) }},
	{"gang", func(r *Request) string { return strconv.FormatBool(r.Gang) }, func(r *Request, v string) error { return parseBool(&r.Gang, v) }},
	{"fallbacks_in_sites", func(r *Request) string { return strconv.FormatBool(r.FallbacksInSites) },
		func(r *Request, v string) error { return parseBool(&r.FallbacksInSites, v) }},
}

// RequestIDFields names the attributes a request ID may hold, in the
// order FormatRequestID writes them.
func RequestIDFields() []string {
	names := make([]string, len(requestFields))
	for i, f := range requestFields {
		names[i] = f.name
	}
	return names
}

// FormatRequestID writes r as a request ID: attribute=value pairs in
// RequestIDFields' order, joined by ';' (lists comma-separated). Only the
// attributes written reports as written appear (a configuration's
// explicit gang = false stays in its ID), and never one whose value is
// empty.
func FormatRequestID(r Request, written func(field string) bool) string {
	var parts []string
	for _, f := range requestFields {
		if !written(f.name) {
			continue
		}
		if v := f.format(&r); v != "" {
			parts = append(parts, f.name+"="+v)
		}
	}
	return strings.Join(parts, ";")
}

// ParseRequestID reads a request ID that FormatRequestID wrote, or one
// written by hand: the request and the attributes the ID names. gpus is
// required; an attribute may appear once.
func ParseRequestID(id string) (Request, map[string]bool, error) {
	var r Request
	seen := map[string]bool{}
	for _, part := range strings.Split(id, ";") {
		name, value, ok := strings.Cut(part, "=")
		if !ok || value == "" {
			return r, seen, fmt.Errorf("%q is not attribute=value", part)
		}
		i := slices.IndexFunc(requestFields, func(f requestField) bool { return f.name == name })
		if i < 0 {
			return r, seen, fmt.Errorf("unknown attribute %q (known: %s)", name, strings.Join(RequestIDFields(), ", "))
		}
		if seen[name] {
			return r, seen, fmt.Errorf("attribute %q appears twice", name)
		}
		seen[name] = true
		if err := requestFields[i].parse(&r, value); err != nil {
			return r, seen, fmt.Errorf("%s: %v", name, err)
		}
	}
	if !seen["gpus"] {
		return r, seen, fmt.Errorf("gpus is required")
	}
	return r, seen, nil
}
