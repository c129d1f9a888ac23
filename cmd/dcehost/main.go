// Command dcehost keeps append-only archives of Discord servers and DMs up
// to date with DiscordChatExporter.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/dcehost/dcehost/internal/cli/factory"
	"github.com/dcehost/dcehost/internal/cli/root"
	"github.com/dcehost/dcehost/internal/compose"
	"github.com/dcehost/dcehost/internal/dce"
	"github.com/dcehost/dcehost/internal/diskspace"
	"github.com/dcehost/dcehost/internal/engine"
	"github.com/dcehost/dcehost/internal/failure"
	"github.com/dcehost/dcehost/internal/github"
	"github.com/dcehost/dcehost/internal/lock"
	"github.com/dcehost/dcehost/internal/recovery"
)

// version is stamped by the Makefile (-ldflags -X main.version=...).
var version = "dev"

// Exit codes: the one table (README, design.md).
const (
	exitOK             = 0
	exitFailure        = 1
	exitUsage          = 2
	exitLocked         = 3
	exitAuth           = 4
	exitDiskSpace      = 5
	exitPolicy         = 6
	exitChannelsFailed = 7
)

func main() {
	f := factory.New(version)
	err := root.Execute(f, os.Args[1:])
	code := exitCode(err)
	var silent *failure.SilentError
	if err != nil && !errors.As(err, &silent) {
		fmt.Fprintf(f.Redactor.Writer(f.IO.ErrOut), "dcehost: %v\n", err)
	}
	os.Exit(code)
}

// exitCode maps an error to the exit-code table. It is the only place
// that does.
func exitCode(err error) int {
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
		return exitOK
	case errors.As(err, &silent):
		return silent.Code
	case errors.As(err, &usage):
		return exitUsage
	case errors.As(err, &held):
		return exitLocked
	case errors.As(err, &authFailed), errors.As(err, &dceAuth), errors.As(err, &ghAuth):
		return exitAuth
	case errors.As(err, &low):
		return exitDiskSpace
	case errors.As(err, &policy):
		return exitPolicy
	case errors.As(err, &channels):
		return exitChannelsFailed
	case errors.As(err, &child):
		// The container's dcehost already mapped its error; pass its code
		// through when it is one of ours.
		if child.Code >= exitUsage && child.Code <= exitChannelsFailed {
			return child.Code
		}
		return exitFailure
	}
	return exitFailure
}
