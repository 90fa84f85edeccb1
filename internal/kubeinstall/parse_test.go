package kubeinstall

import (
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		want    []Object
		wantErr string
	}{
		{"two documents and an empty one", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ops\n---\n---\napiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: ds\n  namespace: ops\n",
			[]Object{{APIVersion: "v1", Kind: "Namespace", Name: "ops"}, {APIVersion: "apps/v1", Kind: "DaemonSet", Namespace: "ops", Name: "ds"}}, ""},
		{"no name", "apiVersion: v1\nkind: Namespace\n", nil, "document 1: apiVersion, kind and metadata.name are required"},
		{"not yaml", "apiVersion: [", nil, "document 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Parse(tc.text)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Refs(); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Refs = %+v, want %+v", got, tc.want)
			}
			if m2, _ := Parse(tc.text + "\n"); m2.Digest == m.Digest {
				t.Fatal("digest ignores the text")
			}
		})
	}
}
