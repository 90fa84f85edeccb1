package provider

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/lazyre"
	"github.com/gpufleet/terraform-provider-gpufleet/planner"
)

// stringList reads a list of strings; null and unknown read as empty.
func stringList(ctx context.Context, l types.List, diags *diag.Diagnostics) []string {
	if l.IsNull() || l.IsUnknown() {
		return nil
	}
	var out []string
	diags.Append(l.ElementsAs(ctx, &out, false)...)
	return out
}

// floatMap reads a map of numbers; null and unknown read as empty.
func floatMap(ctx context.Context, m types.Map, diags *diag.Diagnostics) map[string]float64 {
	if m.IsNull() || m.IsUnknown() {
		return nil
	}
	out := map[string]float64{}
	diags.Append(m.ElementsAs(ctx, &out, false)...)
	return out
}

// didYouMean is " Did you mean "x"?" for the nearest candidates, or "".
func didYouMean(s string, candidates []string) string {
	near := planner.Nearest(s, candidates, 3)
	if len(near) == 0 {
		return ""
	}
	return " Did you mean " + quoted(near, " or ") + "?"
}

func quoted(items []string, sep string) string {
	q := make([]string, len(items))
	for i, n := range items {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, sep)
}

// httpURL validates an absolute http or https URL.
func httpURL() validator.String { return httpURLValidator{} }

type httpURLValidator struct{}

func (httpURLValidator) Description(context.Context) string {
	return "must be an absolute http:// or https:// URL"
}

func (v httpURLValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v httpURLValidator) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	s := req.ConfigValue.ValueString()
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid endpoint URL",
			fmt.Sprintf("%q %s, such as https://eks.eu-central-1.amazonaws.com or http://127.0.0.1:8080.", s, v.Description(ctx)))
	}
}

// openUnitInterval validates a number in (0, 1].
func openUnitInterval() validator.Float64 { return openUnitIntervalValidator{} }

type openUnitIntervalValidator struct{}

func (openUnitIntervalValidator) Description(context.Context) string {
	return "must be greater than 0 and at most 1"
}

func (v openUnitIntervalValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (v openUnitIntervalValidator) ValidateFloat64(ctx context.Context, req validator.Float64Request, resp *validator.Float64Response) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if f := req.ConfigValue.ValueFloat64(); !(f > 0 && f <= 1) {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid share",
			fmt.Sprintf("%v is outside (0, 1]: it is the largest fraction of the GPUs allowed on one cloud, e.g. 0.6 for 60%%.", f))
	}
}

// versionPattern is a dotted numeric version such as 550.54.15.
var versionPattern = lazyre.New(`^[0-9]+(\.[0-9]+)*$`)

// providerDataFrom takes the provider's data out of a Configure request; nil
// (without error) before the provider is configured.
func providerDataFrom(v any, diags *diag.Diagnostics) *providerData {
	if v == nil {
		return nil
	}
	data, ok := v.(*providerData)
	if !ok {
		diags.AddError("Unexpected provider data", fmt.Sprintf("expected *providerData, got %T: this is a bug in the provider", v))
	}
	return data
}

// durationValidator validates a positive Go duration ("1h", "15m").
func durationValidator() validator.String { return durationValidatorT{} }

type durationValidatorT struct{}

func (durationValidatorT) Description(context.Context) string {
	return "must be a positive Go duration such as 1h or 15m"
}

func (v durationValidatorT) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (v durationValidatorT) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if d, err := time.ParseDuration(req.ConfigValue.ValueString()); err != nil || d <= 0 {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid duration", fmt.Sprintf("%q %s.", req.ConfigValue.ValueString(), v.Description(ctx)))
	}
}
