package deploy

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Poll calls check every second until it returns nil; after timeout (or when ctx ends) the error
// names what never happened and check's last error. An error marked Final ends it at once.
func Poll(ctx context.Context, what string, timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		last := check()
		var final finalError
		switch {
		case last == nil:
			return nil
		case errors.As(last, &final):
			return fmt.Errorf("%s: %w", what, final.err)
		case !time.Now().Before(deadline):
			return fmt.Errorf("%s: not within %s: %w", what, timeout, last)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (last: %v)", what, ctx.Err(), last)
		case <-time.After(time.Second):
		}
	}
}

// Final marks a check's error as one that waiting cannot cure.
func Final(err error) error { return finalError{err} }

type finalError struct{ err error }

func (f finalError) Error() string { return f.err.Error() }
func (f finalError) Unwrap() error { return f.err }
