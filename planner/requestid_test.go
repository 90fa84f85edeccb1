package planner

import (
	"reflect"
	"strings"
	"testing"
)

func TestRequestIDRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want Request
	}{
		{"gpus=8", Request{GPUs: 8}},
		{"gpus=64;gpu_models=H100,H200;gpus_per_node=8;residency=EU,CH;deny_residency=aws/eu-west-1;clouds=aws,gcp;capacity_types=on_demand,spot;max_price_per_gpu_hour=12.5;spread.min_clouds=2;spread.max_share=0.6",
			Request{GPUs: 64, GPUModels: []string{"H100", "H200"}, GPUsPerNode: 8, Residency: []string{"EU", "CH"}, DenyResidency: []string{"aws/eu-west-1"},
				Clouds: []string{"aws", "gcp"}, CapacityTypes: []CapacityType{OnDemand, Spot}, MaxPricePerGPUHour: 12.5, Spread: Spread{MinClouds: 2, MaxShare: 0.6}}},
		{"gpus=16;min_gpu_memory_gib=80;min_gpus_per_node=4;interconnect=nvswitch;gang=true",
			Request{GPUs: 16, MinGPUMemoryGiB: 80, MinGPUsPerNode: 4, Interconnect: "nvswitch", Gang: true}},
		{"gpus=16;start_after=2026-12-08T09:00:00Z;duration_hours=48;gang=false;fallbacks_in_sites=true", // explicit false stays
			Request{GPUs: 16, StartAfter: "2026-12-08T09:00:00Z", DurationHours: 48, FallbacksInSites: true}},
	} {
		r, set, err := ParseRequestID(tc.id)
		if err != nil {
			t.Fatalf("%s: %v", tc.id, err)
		}
		if !reflect.DeepEqual(r, tc.want) {
			t.Errorf("%s: parsed %+v, want %+v", tc.id, r, tc.want)
		}
		if got := FormatRequestID(r, func(f string) bool { return set[f] }); got != tc.id {
			t.Errorf("round trip %q -> %q", tc.id, got)
		}
	}
	for id, want := range map[string]string{
		"":                             `"" is not attribute=value`,
		"gpus":                         `"gpus" is not attribute=value`,
		"gpu_models=H100":              "gpus is required",
		"gpus=8;gpus=9":                `"gpus" appears twice`,
		"gpus=8;size=9":                `unknown attribute "size" (known: gpus, gpu_models,`,
		"gpus=eight":                   `gpus: "eight" is not a whole number`,
		"gpus=8;spread.max_share=lots": `spread.max_share: "lots" is not a number`,
		"gpus=8;gang=perhaps":          `gang: "perhaps" is not true or false`,
		"gpus=8;clouds=aws,":           "empty list element",
	} {
		if _, _, err := ParseRequestID(id); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", id, err, want)
		}
	}
}
