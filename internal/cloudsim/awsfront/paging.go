package awsfront

import (
	"net/http"
	"strconv"
)

// describePage cuts one page out of what a paginated Describe matched:
// DescribeVpcs and DescribeVpcPeeringConnections take MaxResults (5 to
// 1000, per the EC2 API model's DescribeVpcsMaxResults and
// DescribeVpcPeeringConnectionsMaxResults) and NextToken, and answer
// nextToken while results remain ("This value is null when there are no
// more results to return",
// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeVpcs.html).
// Without MaxResults everything is one page. The token is the offset into
// the sorted matches, opaque to clients.
func describePage[T any](r *http.Request, items []T) ([]T, string, error) {
	start := 0
	if t := r.Form.Get("NextToken"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 || n > len(items) {
			return nil, "", invalidValue("The token '%s' is invalid.", t)
		}
		start = n
	}
	limit := len(items) - start
	if m := r.Form.Get("MaxResults"); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil || n < 5 || n > 1000 {
			return nil, "", invalidValue("Value ( %s ) for parameter maxResults is invalid. Expecting a value greater than 5 and less than 1000.", m)
		}
		limit = min(limit, n)
	}
	end := start + limit
	if end < len(items) {
		return items[start:end], strconv.Itoa(end), nil
	}
	return items[start:], "", nil
}
