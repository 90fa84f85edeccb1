package awsfront

import (
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestDescribePage follows nextToken through every page of a Describe
// and refuses what the EC2 API model refuses (MaxResults outside 5-1000,
// a token it did not give).
func TestDescribePage(t *testing.T) {
	items := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	get := func(form url.Values) ([]int, string, error) {
		r := httptest.NewRequest("POST", "/", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if err := r.ParseForm(); err != nil {
			t.Fatal(err)
		}
		return describePage(r, items)
	}
	var all []int
	tok, pages := "", 0
	for {
		f := url.Values{"MaxResults": {"5"}}
		if tok != "" {
			f.Set("NextToken", tok)
		}
		page, next, err := get(f)
		if err != nil {
			t.Fatal(err)
		}
		all, pages = append(all, page...), pages+1
		if tok = next; tok == "" {
			break
		}
	}
	if !slices.Equal(all, items) || pages != 3 {
		t.Fatalf("%d pages of %v, want 3 pages of everything", pages, all)
	}
	if page, next, err := get(url.Values{}); err != nil || next != "" || len(page) != len(items) {
		t.Fatalf("without MaxResults: %v %q %v, want one page", page, next, err)
	}
	for _, f := range []url.Values{{"MaxResults": {"4"}}, {"MaxResults": {"1001"}}, {"NextToken": {"x"}}, {"NextToken": {"99"}}} {
		if _, _, err := get(f); err == nil || !strings.HasPrefix(err.Error(), "InvalidParameterValue: ") {
			t.Errorf("%v: %v, want InvalidParameterValue", f, err)
		}
	}
}
