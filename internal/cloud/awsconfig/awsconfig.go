// Package awsconfig is how gpufleet reaches AWS, as plain data: endpoint
// overrides, static credentials, the waiters' pace. It imports no AWS SDK,
// so that the provider process, which serves its schema on every
// Terraform start, can hold the settings and send them to the gpufleet-aws
// helper (internal/cloud/awsremote), which links the SDK and builds the
// EKS backend (internal/cloud/aws) and the AWS live sources
// (internal/livecatalog/awslive) from them.
package awsconfig

import "time"

// Endpoints override the SDK's endpoint per service (tests, proxies,
// cloudsim). The standard AWS_ENDPOINT_URL_<SERVICE> variables work too.
type Endpoints struct {
	EKS, EC2, IAM string
	// STS is the host of the presigned GetCallerIdentity URLs in EKS
	// tokens: the URL is never sent by gpufleet, the cluster's
	// authenticator calls it. AutoScaling serves ReplaceNode.
	STS, AutoScaling string
}

// StaticCredentials are an access key pair; the zero value means the
// credentials of the run: Terraform Cloud dynamic credentials when the
// run has them, else the SDK's default chain (environment, shared config
// and profiles, web identity, instance role).
type StaticCredentials struct {
	AccessKeyID, SecretAccessKey string
}

// Set reports whether c names a key pair.
func (c StaticCredentials) Set() bool { return c.AccessKeyID != "" }

// Settings configure the EKS backend.
type Settings struct {
	// Region is the default region of the SDK configuration; every call
	// names its own region. us-east-1 when empty.
	Region      string
	Endpoints   Endpoints
	Credentials StaticCredentials
	// Poll and Timeout tune the SDK waiters (15 s and 45 min when zero).
	Poll, Timeout time.Duration
}
