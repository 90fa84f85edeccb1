package provider

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// TestRegexMatches: the lazily compiled validator answers as
// stringvalidator.RegexMatches does: an error on the attribute's path
// with the message for a value that does not match, nothing for a match,
// null or unknown.
func TestRegexMatches(t *testing.T) {
	v := regexMatches(siteRe, "must be cloud/region, e.g. aws/eu-central-1")
	for _, tc := range []struct {
		name    string
		value   types.String
		wantErr bool
	}{
		{"match", types.StringValue("aws/eu-central-1"), false},
		{"no cloud", types.StringValue("eu-central-1"), true},
		{"unknown cloud", types.StringValue("oci/eu-frankfurt-1"), true},
		{"null", types.StringNull(), false},
		{"unknown", types.StringUnknown(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var resp validator.StringResponse
			v.ValidateString(context.Background(), validator.StringRequest{Path: path.Root("site"), ConfigValue: tc.value}, &resp)
			if got := resp.Diagnostics.HasError(); got != tc.wantErr {
				t.Fatalf("error = %v, want %v: %v", got, tc.wantErr, resp.Diagnostics)
			}
			if tc.wantErr {
				d := resp.Diagnostics.Errors()[0]
				if !strings.Contains(d.Detail(), "must be cloud/region") || !strings.Contains(d.Detail(), "site") {
					t.Errorf("diagnostic %q: want the attribute and what is accepted", d.Detail())
				}
			}
		})
	}
	if d := v.Description(context.Background()); !strings.Contains(d, "must be cloud/region") {
		t.Errorf("Description() = %q", d)
	}
}
