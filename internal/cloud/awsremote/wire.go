// Package awsremote serves the AWS backend and the AWS live sources from
// a helper process, gpufleet-aws, so that the provider process links no
// AWS SDK: the SDK's package set-up (about 7 ms of a 21 ms start, issue
// 14) would otherwise be paid on every Terraform start of the provider,
// also by the many that only read the schema.
//
// The provider holds a Backend and the sources of Sources (this package,
// SDK-free); each call is one gRPC call over a unix socket in a private
// directory to the helper, which runs it on the real EKS backend
// (internal/cloud/aws) or live source (internal/livecatalog/awslive)
// and answers. The helper starts on the first call, serves every backend
// and source of the provider process, and ends with the provider (its
// stdin, helperbin.Process). Contexts carry over: a cancelled or expired
// call is cancelled in the helper too. Errors keep their classification
// (cloud.Error with its kind, code and offer), so retries and failover
// work as with the backend in process. A helper that has died is started
// again by the next call; until then calls fail as transient errors,
// which the retry decorator retries.
package awsremote

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
)

// HelperName is the helper binary, found next to the provider binary or
// on PATH (helperbin.Find).
const HelperName = "gpufleet-aws"

// ProtocolVersion is the shape of the calls. A helper of another version
// is refused with what to install, instead of misreading arguments.
const ProtocolVersion = 1

// grpc names of the one method: requests and answers are JSON in
// wrapperspb.BytesValue messages, so no generated code is needed.
const (
	serviceName = "gpufleet.awsremote.v1.AWS"
	callMethod  = "/" + serviceName + "/Call"
)

// maxMessage bounds a request or an answer (a catalog's AWS offers, a
// long List).
const maxMessage = 256 << 20

// hello is the request line the helper reads on its stdin.
type hello struct {
	Protocol int `json:"protocol"`
}

// helloReply is the helper's answer line: where it serves, or why not.
type helloReply struct {
	Protocol int    `json:"protocol"`
	Socket   string `json:"socket,omitempty"`
	Error    string `json:"error,omitempty"`
}

// request is one call: the method, the settings of the backend or the
// configuration of the source it is for, and the arguments.
type request struct {
	Method string          `json:"method"`
	Target json.RawMessage `json:"target"`
	Args   json.RawMessage `json:"args,omitempty"`
}

// response is a call's result or error.
type response struct {
	Result json.RawMessage `json:"result,omitempty"`
	Error  *wireError      `json:"error,omitempty"`
}

// wireError is an error as it crosses: its text, and what the parent
// needs to act on it (a classified cloud error's fields, a context
// error).
type wireError struct {
	Text string `json:"text"`
	// Classified carries a *cloud.Error found in the chain.
	Classified *classified `json:"classified,omitempty"`
	// Context is "canceled" or "deadline" when the chain holds that
	// context error.
	Context string `json:"context,omitempty"`
}

type classified struct {
	Kind         cloud.Kind    `json:"kind"`
	Cloud        string        `json:"cloud"`
	Op           string        `json:"op"`
	Code         string        `json:"code"`
	Message      string        `json:"message"`
	Zone         string        `json:"zone,omitempty"`
	InstanceType string        `json:"instance_type,omitempty"`
	CapacityType string        `json:"capacity_type,omitempty"`
	RetryAfter   time.Duration `json:"retry_after,omitempty"`
	// Cause is the text of the error it classifies, CauseContext the
	// context error in that.
	Cause        string `json:"cause,omitempty"`
	CauseContext string `json:"cause_context,omitempty"`
}

func contextName(err error) string {
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline"
	}
	return ""
}

func contextErr(name string) error {
	switch name {
	case "canceled":
		return context.Canceled
	case "deadline":
		return context.DeadlineExceeded
	}
	return nil
}

// encodeError is err as it crosses to the parent.
func encodeError(err error) *wireError {
	w := &wireError{Text: err.Error(), Context: contextName(err)}
	var ce *cloud.Error
	if errors.As(err, &ce) {
		c := &classified{Kind: ce.Kind, Cloud: ce.Cloud, Op: ce.Op, Code: ce.Code, Message: ce.Message,
			Zone: ce.Zone, InstanceType: ce.InstanceType, CapacityType: ce.CapacityType, RetryAfter: ce.RetryAfter}
		if ce.Err != nil {
			c.Cause, c.CauseContext = ce.Err.Error(), contextName(ce.Err)
		}
		w.Classified = c
	}
	return w
}

// remoteError is an error from the helper whose text is not that of the
// classified error (or context error) it wraps.
type remoteError struct {
	text string
	err  error
}

func (e *remoteError) Error() string { return e.text }
func (e *remoteError) Unwrap() error { return e.err }

// decode is the error the helper sent: a *cloud.Error where it sent one
// (errors.As finds it, with its kind, code and offer), the context error
// it holds, and its text unchanged.
func (w *wireError) decode() error {
	var inner error
	if c := w.Classified; c != nil {
		ce := &cloud.Error{Kind: c.Kind, Cloud: c.Cloud, Op: c.Op, Code: c.Code, Message: c.Message,
			Zone: c.Zone, InstanceType: c.InstanceType, CapacityType: c.CapacityType, RetryAfter: c.RetryAfter}
		if c.Cause != "" {
			cause := contextErr(c.CauseContext)
			if cause == nil || cause.Error() != c.Cause {
				cause = &remoteError{text: c.Cause, err: cause}
			}
			ce.Err = cause
		}
		inner = ce
	} else if ctxErr := contextErr(w.Context); ctxErr != nil {
		inner = ctxErr
	}
	if inner != nil && inner.Error() == w.Text {
		return inner
	}
	return &remoteError{text: w.Text, err: inner}
}
