package pricefront

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// gcpAccelType is a Compute Engine accelerator type, the instance types
// (prefix and catalog GPU model) that carry it, and its quota metric.
type gcpAccelType struct {
	prefixes                 []string
	model, name, description string
	maxCards                 int64
	metric                   string
}

var gcpAccelTypes = []gcpAccelType{
	{[]string{"a3-highgpu-", "a3-edgegpu-"}, "H100", "nvidia-h100-80gb", "NVIDIA H100 80GB", 8, "NVIDIA_H100_GPUS"},
	{[]string{"a3-megagpu-"}, "H100", "nvidia-h100-mega-80gb", "NVIDIA H100 80GB MEGA", 8, "NVIDIA_H100_MEGA_GPUS"},
	{[]string{"a3-ultragpu-"}, "H200", "nvidia-h200-141gb", "NVIDIA H200 141GB", 8, "NVIDIA_H200_GPUS"},
	{[]string{"a4-highgpu-"}, "B200", "nvidia-b200", "NVIDIA B200", 8, "NVIDIA_B200_GPUS"},
	{[]string{"a2-ultragpu-"}, "A100-80GB", "nvidia-a100-80gb", "NVIDIA A100 80GB", 8, "NVIDIA_A100_80GB_GPUS"},
	{[]string{"a2-highgpu-", "a2-megagpu-"}, "A100", "nvidia-tesla-a100", "NVIDIA A100 40GB", 16, "NVIDIA_A100_GPUS"},
	{[]string{"g2-"}, "L4", "nvidia-l4", "NVIDIA L4", 8, "NVIDIA_L4_GPUS"},
	{[]string{"n1-"}, "T4", "nvidia-tesla-t4", "NVIDIA T4", 4, "NVIDIA_T4_GPUS"},
	{[]string{"n1-"}, "V100", "nvidia-tesla-v100", "NVIDIA V100", 8, "NVIDIA_V100_GPUS"},
	{[]string{"n1-"}, "P100", "nvidia-tesla-p100", "NVIDIA Tesla P100", 4, "NVIDIA_P100_GPUS"},
	{[]string{"n1-"}, "P4", "nvidia-tesla-p4", "NVIDIA Tesla P4", 4, "NVIDIA_P4_GPUS"},
}

// gcpAccelTypeOf returns the accelerator type an instance type carries.
func gcpAccelTypeOf(instanceType, model string) (gcpAccelType, bool) {
	for _, a := range gcpAccelTypes {
		if a.model != model {
			continue
		}
		for _, p := range a.prefixes {
			if strings.HasPrefix(instanceType, p) {
				return a, true
			}
		}
	}
	return gcpAccelType{}, false
}

const gcpComputeLink = "https://www.googleapis.com/compute/v1/projects/"

// gcpFakeID is a stable numeric resource id.
func gcpFakeID(s string) string {
	h := sha256.Sum256([]byte(s))
	return strconv.FormatUint(binary.BigEndian.Uint64(h[:8])>>1, 10)
}

// AcceleratorZones returns, for every zone of the catalog's GCP offers,
// the accelerator types listed there (after RemovedZones), sorted. A T4
// zone also lists nvidia-tesla-t4-vws, as the real API does.
func (g *GCP) AcceleratorZones() map[string][]string {
	out := map[string][]string{}
	if g.Catalog == nil {
		return out
	}
	for _, o := range g.Catalog.Offers {
		if o.Cloud != "gcp" || o.Zone == "" {
			continue
		}
		if _, ok := out[o.Zone]; !ok {
			out[o.Zone] = nil
		}
		a, ok := gcpAccelTypeOf(o.InstanceType, o.GPUModel)
		if !ok {
			continue
		}
		names := []string{a.name}
		if a.name == "nvidia-tesla-t4" {
			names = append(names, "nvidia-tesla-t4-vws")
		}
		for _, n := range names {
			if !slices.Contains(out[o.Zone], n) && !slices.Contains(g.RemovedZones, o.Zone) && !slices.Contains(g.RemovedZones, o.Zone+"/"+n) {
				out[o.Zone] = append(out[o.Zone], n)
			}
		}
	}
	for z := range out {
		slices.Sort(out[z])
	}
	return out
}

func gcpAccelDescription(name string) (string, int64) {
	for _, a := range gcpAccelTypes {
		if a.name == name {
			return a.description, a.maxCards
		}
	}
	return "NVIDIA T4 Virtual Workstation", 4
}

func (g *GCP) serveAcceleratorTypes(w http.ResponseWriter, r *http.Request, project string) {
	zones := g.AcceleratorZones()
	type entry struct{ zone, name string }
	var all []entry
	var empty []string
	for _, z := range gcpSortedKeys(zones) {
		if len(zones[z]) == 0 {
			empty = append(empty, z)
		}
		for _, n := range zones[z] {
			all = append(all, entry{z, n})
		}
	}
	q := r.URL.Query()
	start, end, next, ok := g.pageBounds(q.Get("pageToken"), q.Get("maxResults"), 500, len(all))
	if !ok {
		gcpError(w, http.StatusBadRequest, "Invalid value for field 'pageToken'.", "global", "invalid", "INVALID_ARGUMENT")
		return
	}
	items := map[string]any{}
	for _, e := range all[start:end] {
		desc, maxCards := gcpAccelDescription(e.name)
		scope := "zones/" + e.zone
		l, _ := items[scope].(map[string][]map[string]any)
		if l == nil {
			l = map[string][]map[string]any{}
			items[scope] = l
		}
		l["acceleratorTypes"] = append(l["acceleratorTypes"], map[string]any{
			"kind": "compute#acceleratorType", "id": gcpFakeID(e.zone + "/" + e.name), "creationTimestamp": "1969-12-31T16:00:00.000-08:00",
			"name": e.name, "description": desc, "zone": gcpComputeLink + project + "/zones/" + e.zone,
			"selfLink":                gcpComputeLink + project + "/zones/" + e.zone + "/acceleratorTypes/" + e.name,
			"maximumCardsPerInstance": maxCards,
		})
	}
	if start == 0 {
		for _, z := range empty {
			items["zones/"+z] = map[string]any{"warning": map[string]any{
				"code": "NO_RESULTS_ON_PAGE", "message": "There are no results for scope 'zones/" + z + "' on this page.",
				"data": []map[string]string{{"key": "scope", "value": "zones/" + z}},
			}}
		}
	}
	body := map[string]any{"kind": "compute#acceleratorTypeAggregatedList", "id": "projects/" + project + "/aggregated/acceleratorTypes",
		"items": items, "selfLink": gcpComputeLink + project + "/aggregated/acceleratorTypes"}
	if next != "" {
		body["nextPageToken"] = next
	}
	gcpWriteJSON(w, body)
}

// quota returns a quota's configured value or its default.
func (g *GCP) quota(key string, def GCPQuota) GCPQuota {
	if q, ok := g.Quotas[key]; ok {
		return q
	}
	return def
}

func (g *GCP) serveRegion(w http.ResponseWriter, _ *http.Request, project, region string) {
	if g.Catalog == nil {
		gcpError(w, http.StatusNotFound, "The resource 'projects/"+project+"/regions/"+region+"' was not found", "global", "notFound", "NOT_FOUND")
		return
	}
	if _, ok := g.Catalog.Region("gcp", region); !ok {
		gcpError(w, http.StatusNotFound, "The resource 'projects/"+project+"/regions/"+region+"' was not found", "global", "notFound", "NOT_FOUND")
		return
	}
	var zones []string
	for z := range g.AcceleratorZones() {
		if strings.HasPrefix(z, region+"-") && !strings.Contains(z[len(region)+1:], "-") {
			zones = append(zones, gcpComputeLink+project+"/zones/"+z)
		}
	}
	slices.Sort(zones)
	gpuDefault := GCPQuota{Limit: cmp.Or(g.DefaultGPULimit, 16)}
	quotas := []map[string]any{}
	add := func(metric string, def GCPQuota) {
		q := g.quota(region+"/"+metric, def)
		quotas = append(quotas, map[string]any{"metric": metric, "limit": q.Limit, "usage": q.Usage})
	}
	add("CPUS", GCPQuota{Limit: 2400})
	add("DISKS_TOTAL_GB", GCPQuota{Limit: 102400})
	add("INSTANCES", GCPQuota{Limit: 6000})
	add("A2_CPUS", GCPQuota{Limit: 1200})
	for _, a := range gcpAccelTypes {
		add(a.metric, gpuDefault)
		add("PREEMPTIBLE_"+a.metric, gpuDefault)
		add("COMMITTED_"+a.metric, GCPQuota{})
	}
	gcpWriteJSON(w, map[string]any{
		"kind": "compute#region", "id": gcpFakeID(region), "creationTimestamp": "1969-12-31T16:00:00.000-08:00",
		"name": region, "description": region, "status": "UP", "zones": zones, "quotas": quotas,
		"selfLink": gcpComputeLink + project + "/regions/" + region, "supportsPzs": false,
	})
}

func (g *GCP) serveProject(w http.ResponseWriter, _ *http.Request, project string) {
	quotas := []map[string]any{}
	for _, m := range []struct {
		metric string
		def    GCPQuota
	}{
		{"SNAPSHOTS", GCPQuota{Limit: 5000}}, {"NETWORKS", GCPQuota{Limit: 15}}, {"CPUS_ALL_REGIONS", GCPQuota{Limit: 5000}},
		{"GPUS_ALL_REGIONS", GCPQuota{Limit: 64}},
	} {
		q := g.quota(m.metric, m.def)
		quotas = append(quotas, map[string]any{"metric": m.metric, "limit": q.Limit, "usage": q.Usage})
	}
	gcpWriteJSON(w, map[string]any{
		"kind": "compute#project", "id": gcpFakeID(project), "creationTimestamp": "2024-03-01T09:00:00.000-08:00",
		"name": project, "quotas": quotas, "selfLink": gcpComputeLink + project,
		"defaultServiceAccount": "123456789012-compute@developer.gserviceaccount.com",
		"xpnProjectStatus":      "UNSPECIFIED_XPN_PROJECT_STATUS", "defaultNetworkTier": "PREMIUM",
	})
}

func gcpSortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
