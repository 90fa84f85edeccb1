package awsfront

import (
	"net/http"
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
	limit, err := maxResults(r, 5, 1000)
	if err != nil {
		return nil, "", err
	}
	return pageOf(r, items, limit)
}
