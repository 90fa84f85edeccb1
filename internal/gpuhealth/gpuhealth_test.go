package gpuhealth

import (
	"reflect"
	"strings"
	"testing"
)

func TestFailuresRoundTrip(t *testing.T) {
	long := strings.Repeat("x", 3000)
	tests := []struct {
		name        string
		annotations map[string]string
		want        []Failure
	}{
		{"none", map[string]string{}, nil},
		{"json", map[string]string{FailuresAnnotation: EncodeFailures([]Failure{{GPU: 3, Check: "xid", Reason: "XID 79"}, {GPU: -1, Check: "gpu_count", Reason: "7 of 8"}})},
			[]Failure{{GPU: 3, Check: "xid", Reason: "XID 79"}, {GPU: -1, Check: "gpu_count", Reason: "7 of 8"}}},
		{"json truncated to fit", map[string]string{FailuresAnnotation: EncodeFailures([]Failure{{GPU: 0, Check: "a", Reason: long}, {GPU: 1, Check: "b", Reason: long}})},
			[]Failure{{GPU: 0, Check: "a", Reason: long}}},
		{"reasons only (older validator)", map[string]string{ReasonsAnnotation: "gpu 1 ecc: volatile uncorrectable"},
			[]Failure{{GPU: -1, Check: "validation", Reason: "gpu 1 ecc: volatile uncorrectable"}}},
		{"corrupt json falls back to reasons", map[string]string{FailuresAnnotation: "{", ReasonsAnnotation: "r"},
			[]Failure{{GPU: -1, Check: "validation", Reason: "r"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := DecodeFailures(tc.annotations); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("DecodeFailures = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestReasons(t *testing.T) {
	got := Reasons([]Failure{{GPU: 2, Check: "nvlink", Reason: "link 3 inactive"}, {GPU: -1, Check: "fabric_manager", Reason: "not started"}})
	if want := "gpu 2 nvlink: link 3 inactive; node fabric_manager: not started"; got != want {
		t.Errorf("Reasons = %q, want %q", got, want)
	}
	if got := Reasons([]Failure{{GPU: 0, Check: "c", Reason: strings.Repeat("y", 5000)}}); len(got) != MaxAnnotationLength || !strings.HasSuffix(got, "...") {
		t.Errorf("Reasons not truncated: %d", len(got))
	}
	if Taint != "gpufleet.dev/unvalidated=true:NoSchedule" {
		t.Errorf("Taint = %q", Taint)
	}
}
