package sweep

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Held is what Terraform states hold: every string in the attributes of
// their gpufleet_* resources, and the parts of those that are paths or
// IDs ("aws/eu-central-1/gf-1a2b" also holds "gf-1a2b"). A listed
// resource whose name is among them is left alone. Matching every string
// errs on the side of keeping: a name that merely appears in a state is
// never swept.
type Held struct {
	names map[string]bool
	// States counts the states read.
	States int
}

// NewHeld is an empty set (nothing held).
func NewHeld() *Held { return &Held{names: map[string]bool{}} }

// Has reports whether a state holds name.
func (h *Held) Has(name string) bool { return name != "" && h.names[name] }

// Add holds name (and, for alias functions, what it maps to).
func (h *Held) Add(name string) {
	if name == "" {
		return
	}
	h.names[name] = true
	for _, part := range strings.FieldsFunc(name, func(r rune) bool { return r == '/' || r == ':' || r == ',' }) {
		h.names[part] = true
	}
}

// Alias holds f(name) for every name held: a cloud that renames what
// gpufleet names (AKS agent pools) gives the mapping.
func (h *Held) Alias(f func(string) string) {
	var more []string
	for n := range h.names {
		if a := f(n); a != "" && a != n {
			more = append(more, a)
		}
	}
	for _, a := range more {
		h.names[a] = true
	}
}

// rawState is a .tfstate file (format version 4) or the JSON of
// terraform show -json, whichever the file is.
type rawState struct {
	// .tfstate
	Resources []struct {
		Type      string `json:"type"`
		Instances []struct {
			Attributes any `json:"attributes"`
		} `json:"instances"`
	} `json:"resources"`
	// terraform show -json
	Values *struct {
		RootModule showModule `json:"root_module"`
	} `json:"values"`
	FormatVersion string `json:"format_version"`
	Version       *int   `json:"version"`
}

type showModule struct {
	Resources []struct {
		Type   string `json:"type"`
		Values any    `json:"values"`
	} `json:"resources"`
	ChildModules []showModule `json:"child_modules"`
}

// AddState holds the gpufleet resources of a Terraform state: a raw
// .tfstate (version 4) or terraform show -json's output. A file that is
// neither is an error naming what was expected.
func (h *Held) AddState(name string, data []byte) error {
	var s rawState
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("%s: not a Terraform state (JSON expected: a .tfstate file or the output of terraform show -json): %v", name, err)
	}
	switch {
	case s.Values != nil:
		var walk func(m showModule)
		walk = func(m showModule) {
			for _, r := range m.Resources {
				if strings.HasPrefix(r.Type, "gpufleet_") {
					h.addValues(r.Values)
				}
			}
			for _, c := range m.ChildModules {
				walk(c)
			}
		}
		walk(s.Values.RootModule)
	case s.Version != nil:
		if *s.Version != 4 {
			return fmt.Errorf("%s: state format version %d; gpufleet reads version 4 (Terraform 0.12 and later, OpenTofu)", name, *s.Version)
		}
		for _, r := range s.Resources {
			if !strings.HasPrefix(r.Type, "gpufleet_") {
				continue
			}
			for _, in := range r.Instances {
				h.addValues(in.Attributes)
			}
		}
	case s.FormatVersion != "":
		// terraform show -json of an empty state has no values.
	default:
		return fmt.Errorf("%s: not a Terraform state: neither a .tfstate file (\"version\": 4) nor terraform show -json output (\"format_version\")", name)
	}
	h.States++
	return nil
}

func (h *Held) addValues(v any) {
	switch v := v.(type) {
	case string:
		h.Add(v)
	case []any:
		for _, e := range v {
			h.addValues(e)
		}
	case map[string]any:
		for k, e := range v {
			h.Add(k) // map keys: pool and site keys
			h.addValues(e)
		}
	}
}
