package conformance

import "strings"

// allowlist holds the known deviations from the models that are not fixed
// yet, each with its reason and the model it cites. A violation matches an
// entry when its cloud, service and operation are equal ("" matches any)
// and its member and problem contain the entry's. Keep it short: fix the
// simulator or the backend instead where you can.
var allowlist = []struct {
	cloud, service, operation, member, problem string
	reason                                     string
}{}

func allowedBy(v Violation) string {
	for _, a := range allowlist {
		if (a.cloud == "" || a.cloud == v.Cloud) && (a.service == "" || a.service == v.Service) &&
			(a.operation == "" || a.operation == v.Operation) && strings.Contains(v.Member, a.member) &&
			strings.Contains(v.Problem, a.problem) {
			return a.reason
		}
	}
	return ""
}
