// Package exitcode holds the one table that maps errors to dcehost's exit
// codes (README, design.md).
package exitcode

import (
	"errors"

	"github.com/dcehost/dcehost/internal/compose"
	"github.com/dcehost/dcehost/internal/dce"
	"github.com/dcehost/dcehost/internal/diskspace"
	"github.com/dcehost/dcehost/internal/engine"
	"github.com/dcehost/dcehost/internal/failure"
	"github.com/dcehost/dcehost/internal/github"
	"github.com/dcehost/dcehost/internal/lock"
	"github.com/dcehost/dcehost/internal/recovery"
)

// Exit codes: the one table (README, design.md).
const (
	OK             = 0
	Failure        = 1
	Usage          = 2
	Locked         = 3
	Auth           = 4
	DiskSpace      = 5
	Policy         = 6
	ChannelsFailed = 7
)

// Of maps an error to the exit-code table. It is the only place that
// does: main uses it for the process exit status, and a scrape uses it for
// its log record, health-check ping and metrics.
func Of(err error) int {
	var (
		silent     *failure.SilentError
		usage      *failure.UsageError
		held       *lock.HeldError
		authFailed *recovery.AuthFailedError
		dceAuth    *dce.AuthError
		ghAuth     *github.AuthError
		low        *diskspace.LowError
		policy     *github.PolicyError
		channels   *engine.ChannelsFailedError
		child      *compose.ExitError
	)
	switch {
	case err == nil:
		return OK
	case errors.As(err, &silent):
		return silent.Code
	case errors.As(err, &usage):
		return Usage
	case errors.As(err, &held):
		return Locked
	case errors.As(err, &authFailed), errors.As(err, &dceAuth), errors.As(err, &ghAuth):
		return Auth
	case errors.As(err, &low):
		return DiskSpace
	case errors.As(err, &policy):
		return Policy
	case errors.As(err, &channels):
		return ChannelsFailed
	case errors.As(err, &child):
		// The container's dcehost already mapped its error; pass its code
		// through when it is one of ours.
		if child.Code >= Usage && child.Code <= ChannelsFailed {
			return child.Code
		}
		return Failure
	}
	return Failure
}
