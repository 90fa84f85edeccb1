package provider

import (
	"context"
	"regexp"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
)

// regexMatches is stringvalidator.RegexMatches with its expression
// compiled when a value is first validated rather than when the schema is
// built: Terraform asks a new provider process for its schema first, and
// often for nothing else, so compiling there is paid by every start
// (issue 14). re is a lazyre.New expression.
func regexMatches(re func() *regexp.Regexp, message string) validator.String {
	return lazyRegexValidator{re: re, message: message}
}

// lazyRegexValidator builds its stringvalidator.RegexMatches on each use;
// the expression itself is compiled once, by re.
type lazyRegexValidator struct {
	re      func() *regexp.Regexp
	message string
}

func (v lazyRegexValidator) validator() validator.String {
	return stringvalidator.RegexMatches(v.re(), v.message)
}

// Description is stringvalidator.RegexMatches's.
func (v lazyRegexValidator) Description(ctx context.Context) string {
	return v.validator().Description(ctx)
}

// MarkdownDescription is stringvalidator.RegexMatches's.
func (v lazyRegexValidator) MarkdownDescription(ctx context.Context) string {
	return v.validator().MarkdownDescription(ctx)
}

// ValidateString is stringvalidator.RegexMatches's.
func (v lazyRegexValidator) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	v.validator().ValidateString(ctx, req, resp)
}
