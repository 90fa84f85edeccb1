package livecatalog

import (
	"context"
	"slices"
	"strings"
	"testing"

	"google.golang.org/api/compute/v1"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim/pricefront"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

func TestGCPAcceleratorOf(t *testing.T) {
	for _, tc := range []struct {
		instanceType, model, want string
	}{
		{"a3-highgpu-8g", "H100", "nvidia-h100-80gb"},
		{"a3-edgegpu-8g-nolssd", "H100", "nvidia-h100-80gb"},
		{"a3-megagpu-8g", "H100", "nvidia-h100-mega-80gb"},
		{"a3-ultragpu-8g", "H200", "nvidia-h200-141gb"},
		{"a4-highgpu-8g", "B200", "nvidia-b200"},
		{"a2-ultragpu-4g", "A100-80GB", "nvidia-a100-80gb"},
		{"a2-highgpu-1g", "A100", "nvidia-tesla-a100"},
		{"a2-megagpu-16g", "A100", "nvidia-tesla-a100"},
		{"g2-standard-96", "L4", "nvidia-l4"},
		{"n1-highmem-8+1xT4", "T4", "nvidia-tesla-t4"},
		{"n1-highmem-64+8xV100", "V100", "nvidia-tesla-v100"},
		{"n1-highmem-8+1xP100", "P100", "nvidia-tesla-p100"},
		{"n1-highmem-8+1xP4", "P4", "nvidia-tesla-p4"},
		{"a3-highgpu-8g", "A100", ""}, // the model must match too
		{"ct5lp-hightpu-4t", "TPU-v5e", ""},
	} {
		t.Run(tc.instanceType+"/"+tc.model, func(t *testing.T) {
			a, ok := gcpAcceleratorOf(tc.instanceType, tc.model)
			if ok != (tc.want != "") || a.Type != tc.want {
				t.Fatalf("got %q %v, want %q", a.Type, ok, tc.want)
			}
		})
	}
	// Every GCP instance type of the embedded catalog is covered.
	for _, o := range planner.Embedded().Offers {
		if _, ok := gcpAcceleratorOf(o.InstanceType, o.GPUModel); o.Cloud == "gcp" && !ok {
			t.Errorf("%s (%s) has no accelerator", o.InstanceType, o.GPUModel)
		}
	}
}

func TestGCPQuotaMetric(t *testing.T) {
	for _, tc := range []struct {
		metric, accel string
		spot          bool
	}{
		{"NVIDIA_H100_GPUS", "nvidia-h100-80gb", false},
		{"PREEMPTIBLE_NVIDIA_H100_GPUS", "nvidia-h100-80gb", true},
		{"NVIDIA_H100_MEGA_GPUS", "nvidia-h100-mega-80gb", false},
		{"NVIDIA_A100_80GB_GPUS", "nvidia-a100-80gb", false},
		{"PREEMPTIBLE_NVIDIA_A100_GPUS", "nvidia-tesla-a100", true},
		{"NVIDIA_L4_GPUS", "nvidia-l4", false},
		{"COMMITTED_NVIDIA_H100_GPUS", "", false},
		{"CPUS", "", false},
		{"GPUS_ALL_REGIONS", "", false},
	} {
		t.Run(tc.metric, func(t *testing.T) {
			a, spot, ok := gcpQuotaMetric(tc.metric)
			if ok != (tc.accel != "") || a.Type != tc.accel || spot != tc.spot {
				t.Fatalf("got %q %v %v", a.Type, spot, ok)
			}
		})
	}
}

// TestGCPRegionQuotas converts regional quota metrics: limit − usage,
// floored and never negative; instance types by accelerator; spot for
// PREEMPTIBLE_; other metrics and accelerators no type carries dropped.
func TestGCPRegionQuotas(t *testing.T) {
	types := []*gcpType{
		{name: "a3-highgpu-8g", accel: gcpAccelerators[0], known: true},
		{name: "a3-edgegpu-8g", accel: gcpAccelerators[0], known: true},
		{name: "a3-megagpu-8g", accel: gcpAccelerators[1], known: true},
		{name: "odd-type"},
	}
	got := gcpRegionQuotas("us-east5", []*compute.Quota{
		{Metric: "NVIDIA_H100_GPUS", Limit: 16, Usage: 4},
		{Metric: "PREEMPTIBLE_NVIDIA_H100_GPUS", Limit: 8, Usage: 10},
		{Metric: "NVIDIA_H100_MEGA_GPUS", Limit: 8.5, Usage: 0},
		{Metric: "NVIDIA_L4_GPUS", Limit: 8},
		{Metric: "COMMITTED_NVIDIA_H100_GPUS", Limit: 64},
		{Metric: "CPUS", Limit: 2400},
		nil,
	}, types)
	want := []Quota{
		{Name: "NVIDIA_H100_GPUS", Cloud: "gcp", Region: "us-east5", InstanceTypes: []string{"a3-highgpu-8g", "a3-edgegpu-8g"}, CapacityType: "on_demand", MaxGPUs: 12},
		{Name: "PREEMPTIBLE_NVIDIA_H100_GPUS", Cloud: "gcp", Region: "us-east5", InstanceTypes: []string{"a3-highgpu-8g", "a3-edgegpu-8g"}, CapacityType: "spot", MaxGPUs: 0},
		{Name: "NVIDIA_H100_MEGA_GPUS", Cloud: "gcp", Region: "us-east5", InstanceTypes: []string{"a3-megagpu-8g"}, CapacityType: "on_demand", MaxGPUs: 8},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if !quotaEqual(got[i], want[i]) {
			t.Errorf("quota %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

func quotaEqual(a, b Quota) bool {
	return a.Name == b.Name && a.Cloud == b.Cloud && a.Region == b.Region && slices.Equal(a.InstanceTypes, b.InstanceTypes) &&
		a.CapacityType == b.CapacityType && a.MaxGPUs == b.MaxGPUs
}

func newGCPAvailability(t *testing.T, sim *pricefront.GCP) *GCPAvailability {
	t.Helper()
	_, endpoint, opts := newGCPSim(t, sim)
	return &GCPAvailability{Project: "fleet-prod", Catalog: sim.Catalog, Endpoint: endpoint, ClientOptions: opts, Retry: fastRetry,
		Regions: []string{"us-central1", "europe-west4"}}
}

func offered(av Availability, region, zone, instanceType string) bool {
	return slices.Contains(av.Offered, ZoneOffering{Cloud: "gcp", Region: region, Zone: zone, InstanceType: instanceType})
}

func findQuota(av Availability, region, name string) (Quota, bool) {
	for _, q := range av.Quotas {
		if q.Region == region && q.Name == name {
			return q, true
		}
	}
	return Quota{}, false
}

func TestGCPAvailability(t *testing.T) {
	sim := &pricefront.GCP{Catalog: planner.Embedded(), Project: "fleet-prod", PageSize: 10,
		RemovedZones: []string{"us-central1-c", "europe-west4-b/nvidia-h100-mega-80gb"},
		Quotas: map[string]pricefront.GCPQuota{
			"us-central1/NVIDIA_H100_GPUS":             {Limit: 16, Usage: 4},
			"us-central1/PREEMPTIBLE_NVIDIA_H100_GPUS": {Limit: 32, Usage: 40},
			"europe-west4/NVIDIA_L4_GPUS":              {Limit: 8},
			"GPUS_ALL_REGIONS":                         {Limit: 48, Usage: 16},
		}}
	src := newGCPAvailability(t, sim)
	av, err := src.Availability(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(av.Regions, []string{"europe-west4", "us-central1"}) {
		t.Fatalf("regions %v", av.Regions)
	}
	for _, tc := range []struct {
		region, zone, instanceType string
		want                       bool
	}{
		{"us-central1", "us-central1-a", "a3-highgpu-8g", true},
		{"us-central1", "us-central1-a", "a3-edgegpu-8g", true},
		{"us-central1", "us-central1-a", "a3-megagpu-8g", true},
		{"us-central1", "us-central1-b", "a3-ultragpu-8g", true},
		{"us-central1", "us-central1-a", "a3-ultragpu-8g", false}, // no H200 there
		{"us-central1", "us-central1-c", "a3-highgpu-8g", false},  // removed zone
		{"europe-west4", "europe-west4-b", "a3-highgpu-8g", true},
		{"europe-west4", "europe-west4-b", "a3-megagpu-8g", false}, // removed type
		{"europe-west4", "europe-west4-c", "a3-megagpu-8g", true},
		{"us-east4", "us-east4-a", "g2-standard-4", false}, // region not covered
	} {
		if got := offered(av, tc.region, tc.zone, tc.instanceType); got != tc.want {
			t.Errorf("offered(%s, %s) = %v, want %v", tc.zone, tc.instanceType, got, tc.want)
		}
	}
	for _, o := range av.Offered {
		if o.Region != "us-central1" && o.Region != "europe-west4" {
			t.Fatalf("offering outside the regions: %+v", o)
		}
	}
	h100 := []string{"a3-edgegpu-8g", "a3-edgegpu-8g-nolssd", "a3-highgpu-1g", "a3-highgpu-2g", "a3-highgpu-4g", "a3-highgpu-8g"}
	for _, want := range []Quota{
		{Name: "NVIDIA_H100_GPUS", Cloud: "gcp", Region: "us-central1", InstanceTypes: h100, CapacityType: "on_demand", MaxGPUs: 12},
		{Name: "PREEMPTIBLE_NVIDIA_H100_GPUS", Cloud: "gcp", Region: "us-central1", InstanceTypes: h100, CapacityType: "spot", MaxGPUs: 0},
		{Name: "NVIDIA_H100_MEGA_GPUS", Cloud: "gcp", Region: "europe-west4", InstanceTypes: []string{"a3-megagpu-8g"}, CapacityType: "on_demand", MaxGPUs: 16},
		{Name: "NVIDIA_L4_GPUS", Cloud: "gcp", Region: "europe-west4", InstanceTypes: []string{"g2-standard-12", "g2-standard-16", "g2-standard-24",
			"g2-standard-32", "g2-standard-4", "g2-standard-48", "g2-standard-8", "g2-standard-96"}, CapacityType: "on_demand", MaxGPUs: 8},
		{Name: "GPUS_ALL_REGIONS", Cloud: "gcp", MaxGPUs: 32},
	} {
		if got, ok := findQuota(av, want.Region, want.Name); !ok || !quotaEqual(got, want) {
			t.Errorf("quota %s/%s: %+v, want %+v", want.Region, want.Name, got, want)
		}
	}
	for _, q := range av.Quotas {
		if strings.HasPrefix(q.Name, "COMMITTED_") || q.Name == "CPUS" || (q.Name != "GPUS_ALL_REGIONS" && len(q.InstanceTypes) == 0) {
			t.Errorf("unexpected quota %+v", q)
		}
	}
	// A cold fetch: the aggregated list's pages, one regions.get per
	// region, one projects.get.
	types := 0
	for z, ts := range sim.AcceleratorZones() {
		_ = z
		types += len(ts)
	}
	wantPages := int64((types + 9) / 10)
	for api, want := range map[string]int64{pricefront.GCPAcceleratorTypes: wantPages, pricefront.GCPRegions: 2, pricefront.GCPProjects: 1, pricefront.GCPSkus: 0} {
		if got := sim.Requests(api); got != want {
			t.Errorf("%s: %d requests, want %d", api, got, want)
		}
	}
	// Same answer twice: sorted, deterministic.
	again, err := src.Availability(context.Background(), nil)
	if err != nil || !slices.Equal(again.Offered, av.Offered) || len(again.Quotas) != len(av.Quotas) {
		t.Fatalf("second fetch differs: %v", err)
	}
}

func TestGCPAvailabilityInstanceTypesNarrow(t *testing.T) {
	sim := &pricefront.GCP{Catalog: planner.Embedded()}
	src := newGCPAvailability(t, sim)
	av, err := src.Availability(context.Background(), []string{"g2-standard-4"})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range av.Offered {
		if o.InstanceType != "g2-standard-4" {
			t.Fatalf("offering of another type: %+v", o)
		}
	}
	for _, q := range av.Quotas {
		if q.Name != "GPUS_ALL_REGIONS" && !strings.HasSuffix(q.Name, "NVIDIA_L4_GPUS") {
			t.Fatalf("quota for a type not asked about: %+v", q)
		}
	}
	if !offered(av, "europe-west4", "europe-west4-a", "g2-standard-4") {
		t.Fatal("g2-standard-4 not offered in europe-west4-a")
	}
}

func TestGCPAvailabilityFaults(t *testing.T) {
	for _, tc := range []struct {
		name     string
		throttle int64
		fail     string
		wantErr  string
	}{
		{name: "throttled then served", throttle: 2},
		{name: "aggregated list failing", fail: pricefront.GCPAcceleratorTypes, wantErr: "compute acceleratorTypes.aggregatedList page 1 (after 4 tries): googleapi: Error 500"},
		{name: "regions failing", fail: pricefront.GCPRegions, wantErr: "compute regions.get europe-west4 (after 4 tries): googleapi: Error 500"},
		{name: "project failing", fail: pricefront.GCPProjects, wantErr: "compute projects.get fleet-prod (after 4 tries): googleapi: Error 500"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim := &pricefront.GCP{Catalog: planner.Embedded(), ThrottleFirst: tc.throttle, Fail: map[string]bool{tc.fail: true}}
			src := newGCPAvailability(t, sim)
			av, err := src.Availability(context.Background(), nil)
			if tc.wantErr == "" {
				if err != nil || len(av.Offered) == 0 || len(av.Quotas) == 0 {
					t.Fatalf("%d offerings, %d quotas, %v", len(av.Offered), len(av.Quotas), err)
				}
				// Each API was throttled twice before answering.
				if sim.Requests(pricefront.GCPAcceleratorTypes) != 3 || sim.Requests(pricefront.GCPProjects) != 3 {
					t.Fatalf("requests %d %d", sim.Requests(pricefront.GCPAcceleratorTypes), sim.Requests(pricefront.GCPProjects))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
		})
	}
	if _, err := (&GCPAvailability{}).Availability(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "project is required") {
		t.Fatalf("no project: %v", err)
	}
}
