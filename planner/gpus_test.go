package planner

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// modelsCatalog sells H100 and a model the GPU table does not know.
func modelsCatalog(t *testing.T) *Catalog {
	t.Helper()
	custom := testOffer("gcp", "europe-west4", "europe-west4-a", "custom-8g", 8, 40)
	custom.GPUModel = "MI300X"
	c, err := NewCatalog([]Offer{testOffer("aws", "eu-central-1", "euc1-az1", "p5.48xlarge", 8, 80), custom}, EmbeddedRegions(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNormalizeGPUModels(t *testing.T) {
	c := modelsCatalog(t)
	tests := []struct {
		name    string
		models  []string
		want    []string // normalized, when no error
		absent  []string
		errLike string
		suggest []string
	}{
		{"catalog model", []string{"h100"}, []string{"H100"}, nil, "", nil},
		{"catalog-only model", []string{"mi300x"}, []string{"MI300X"}, nil, "", nil},
		{"known model absent from the catalog", []string{"H100", "l40s"}, []string{"H100", "L40S"}, []string{"L40S"}, "", nil},
		{"only absent models", []string{"B300", "H200"}, []string{"B300", "H200"}, []string{"B300", "H200"}, "", nil},
		{"unknown name", []string{"H100", "L40X"}, nil, nil, `gpu_models[1]: unknown GPU model "L40X"`, []string{"L40S", "L4"}},
		{"unknown name near a catalog-only model", []string{"MI300"}, nil, nil, `unknown GPU model "MI300"`, []string{"MI300X"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := Request{GPUs: 8, GPUModels: tt.models}.Normalize(c)
			if tt.errLike != "" {
				var re *RequestError
				if !errors.As(err, &re) || !strings.Contains(err.Error(), tt.errLike) {
					t.Fatalf("error = %v, want a RequestError containing %q", err, tt.errLike)
				}
				if !slices.Equal(re.Suggestions[:min(len(re.Suggestions), len(tt.suggest))], tt.suggest) {
					t.Errorf("suggestions = %q, want %q first", re.Suggestions, tt.suggest)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(n.GPUModels, tt.want) {
				t.Errorf("GPUModels = %q, want %q", n.GPUModels, tt.want)
			}
			if got := c.AbsentGPUModels(n); !slices.Equal(got, tt.absent) {
				t.Errorf("AbsentGPUModels = %q, want %q", got, tt.absent)
			}
		})
	}
}

// TestPlanAbsentGPUModels: absent models change nothing but the explanation;
// with only absent models the request is infeasible on gpu_models and says
// why.
func TestPlanAbsentGPUModels(t *testing.T) {
	c := modelsCatalog(t)
	with, err := Plan(c, Request{GPUs: 16, GPUModels: []string{"H100", "L40S"}})
	if err != nil {
		t.Fatal(err)
	}
	without, err := Plan(c, Request{GPUs: 16, GPUModels: []string{"H100"}})
	if err != nil {
		t.Fatal(err)
	}
	if with.TotalHourlyUSD != without.TotalHourlyUSD || len(with.Allocations) != len(without.Allocations) {
		t.Errorf("absent L40S changed the placement: %v vs %v", with.Allocations, without.Allocations)
	}
	if !slices.Equal(with.AbsentGPUModels, []string{"L40S"}) || len(without.AbsentGPUModels) != 0 {
		t.Errorf("AbsentGPUModels = %q and %q", with.AbsentGPUModels, without.AbsentGPUModels)
	}
	if note := with.AbsentGPUModelsNote(); note != "L40S is a known GPU model with no offers in this catalog, so not offered" {
		t.Errorf("note = %q", note)
	}
	_, err = Plan(c, Request{GPUs: 16, GPUModels: []string{"L40S", "B200"}})
	var ie *InfeasibleError
	if !errors.As(err, &ie) {
		t.Fatalf("err = %v, want *InfeasibleError", err)
	}
	if ie.Constraint != "gpu_models" || !slices.Equal(ie.AbsentGPUModels, []string{"B200", "L40S"}) ||
		!strings.Contains(ie.Message, "B200, L40S are known GPU models with no offers in this catalog") {
		t.Errorf("infeasible = %+v", ie)
	}
}

// TestKnownGPUsSorted: the GPU table is sorted, unique, and holds every
// model of the embedded catalog.
func TestKnownGPUsSorted(t *testing.T) {
	if !slices.IsSorted(knownGPUModels) || len(slices.Compact(slices.Clone(knownGPUModels))) != len(knownGPUModels) {
		t.Errorf("GPU table not sorted and unique: %q", knownGPUModels)
	}
	for _, m := range Embedded().GPUModels() {
		if !slices.Contains(knownGPUModels, m) {
			t.Errorf("embedded model %s is not in the GPU table", m)
		}
	}
}
