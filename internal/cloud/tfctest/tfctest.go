// Package tfctest makes workload identity tokens shaped like the ones
// Terraform Cloud gives a run with dynamic provider credentials, for the
// tests of the credentials each backend and livecatalog build. The tokens
// are unsigned: gpufleet reads only their claims, and the simulated token
// exchanges (cloudsim) do not check signatures.
package tfctest

import "encoding/base64"

// Token is a token issued by app.terraform.io for audience aud (e.g.
// "aws.workload.identity") with subject sub (e.g.
// "organization:acme:project:ml:workspace:fleet:run_phase:apply").
func Token(aud, sub string) string {
	return Claims(`{"iss":"https://app.terraform.io","aud":"` + aud + `","sub":"` + sub + `","exp":4102444800}`)
}

// Claims is a token whose payload is the JSON claims given.
func Claims(claims string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc([]byte(claims)) + ".c2ln"
}
