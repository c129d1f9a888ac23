// Package failure holds the error classes shared by every command: bad
// input (usage) errors. Domain packages define their own typed errors
// (lock.HeldError, dce.AuthError, ...); cmd/dcehost maps all of them to exit
// codes in one place.
package failure

import (
	"errors"
	"fmt"
)

// UsageError reports bad input: a flag, an env file line, a config file, a
// schedule, a run id. Nothing was written when it is returned. Exit code 2.
type UsageError struct {
	Err error
}

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef returns a *UsageError with a formatted message. %w is honoured.
func Usagef(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// Usage wraps err as a *UsageError (nil stays nil).
func Usage(err error) error {
	if err == nil {
		return nil
	}
	var u *UsageError
	if errors.As(err, &u) {
		return err
	}
	return &UsageError{Err: err}
}

// IsUsage reports whether err is (or wraps) a *UsageError.
func IsUsage(err error) bool {
	var u *UsageError
	return errors.As(err, &u)
}

// SilentError carries an exit code for a failure that was already reported
// to the user in full (for example a table of per-run outcomes); main prints
// nothing more for it.
type SilentError struct {
	Code int
}

func (e *SilentError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }
