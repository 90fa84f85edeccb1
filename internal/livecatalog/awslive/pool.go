package awslive

import (
	"context"
	"errors"
	"sync"
)

// awsForEach runs fn(ctx, i) for every i in [0, n) with at most limit
// running at once (a semaphore channel; golang.org/x/sync is not a
// direct dependency). The first failure cancels the jobs not yet done;
// the error returned is that of the lowest index that failed for a
// reason of its own (not the cancellation), so that the same failure
// gives the same error whatever the scheduling.
func awsForEach(ctx context.Context, n, limit int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, max(limit, 1))
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			errs[i] = ctx.Err()
			continue
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := fn(ctx, i); err != nil {
				errs[i] = err
				cancel()
			}
		}()
	}
	wg.Wait()
	var canceled error
	for _, err := range errs {
		switch {
		case err == nil:
		case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
			if canceled == nil {
				canceled = err
			}
		default:
			return err
		}
	}
	return canceled
}
