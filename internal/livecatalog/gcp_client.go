package livecatalog

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"time"

	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	gcpbackend "github.com/gpufleet/terraform-provider-gpufleet/internal/cloud/gcp"
)

// GCPRetry bounds the retries of one Google API request: the generated
// REST clients do not retry, so throttling (429 rateLimitExceeded) and
// transient server errors (500, 502, 503, 504) are retried here with
// exponential backoff.
type GCPRetry struct {
	// MaxRetries after the first try (4 when zero; negative: none).
	MaxRetries int
	// Delay before the first retry, doubled each time (1s when zero), at
	// most MaxDelay (30s when zero).
	Delay, MaxDelay time.Duration
}

func (r GCPRetry) withDefaults() GCPRetry {
	if r.MaxRetries == 0 {
		r.MaxRetries = 4
	}
	if r.MaxRetries < 0 {
		r.MaxRetries = 0
	}
	if r.Delay <= 0 {
		r.Delay = time.Second
	}
	if r.MaxDelay <= 0 {
		r.MaxDelay = 30 * time.Second
	}
	return r
}

// retryableGoogle reports whether a Google API error is worth retrying.
func retryableGoogle(err error) bool {
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		return false
	}
	switch ge.Code {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// gcpDo calls do until it succeeds, fails for good or runs out of retries;
// the error names the API call.
func gcpDo[T any](ctx context.Context, r GCPRetry, api string, do func() (T, error)) (T, error) {
	r = r.withDefaults()
	delay := r.Delay
	for try := 0; ; try++ {
		v, err := do()
		if err == nil {
			return v, nil
		}
		if !retryableGoogle(err) || try >= r.MaxRetries || ctx.Err() != nil {
			if try > 0 {
				return v, fmt.Errorf("%s (after %d tries): %w", api, try+1, err)
			}
			return v, fmt.Errorf("%s: %w", api, err)
		}
		select {
		case <-ctx.Done():
			return v, fmt.Errorf("%s: %w", api, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(2*delay, r.MaxDelay)
	}
}

// gcpOptions adds the endpoint override to the caller's options, and
// Terraform Cloud dynamic credentials as the backend gets them when the
// caller gives none (gcp.WithDynamicCredentials; auth overrides its token
// endpoints); without either the clients use Application Default
// Credentials.
func gcpOptions(ctx context.Context, endpoint string, auth gcpbackend.AuthEndpoints, opts []option.ClientOption) ([]option.ClientOption, error) {
	if len(opts) == 0 {
		var err error
		if opts, _, err = gcpbackend.WithDynamicCredentials(ctx, os.Getenv, auth, nil); err != nil {
			return nil, err
		}
	}
	out := slices.Clone(opts)
	if endpoint != "" {
		out = append(out, option.WithEndpoint(endpoint))
	}
	return out, nil
}
