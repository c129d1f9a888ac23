package dce

import (
	"errors"
	"fmt"
)

// AuthError: Discord rejected the token (DCE printed "Authentication token
// is invalid.", or an inner dcehost run exited 4). The host retries once
// after reloading the token; alone it maps to exit code 4.
type AuthError struct {
	Message string
}

func (e *AuthError) Error() string {
	if e.Message == "" {
		return "discord rejected the token"
	}
	return "discord rejected the token: " + e.Message
}

// Skip reasons: Discord denies or lacks the channel, or it cannot be
// exported directly. A skipped channel is not a failure (exit 0).
const (
	ReasonForbidden = "forbidden"
	ReasonNotFound  = "not_found"
	ReasonForum     = "forum"
)

// SkipError: DCE printed "Request to '<url>' failed: forbidden." or
// "... failed: not found.", or said the channel is a forum that cannot be
// exported directly.
type SkipError struct {
	Reason  string // ReasonForbidden, ReasonNotFound or ReasonForum
	Message string // DCE's message
}

func (e *SkipError) Error() string {
	return "channel skipped (" + e.Reason + "): " + e.Message
}

// KilledError: the DCE CLI was killed by a signal, seen either as a
// signalled wait status or as exit status 128+signal (a wrapper or the
// container runtime reporting it). Code 137 (SIGKILL) is what the OOM
// killer leaves.
type KilledError struct {
	Signal int
	Code   int
}

// OOM reports whether the signal was SIGKILL, the OOM killer's signal.
func (e *KilledError) OOM() bool { return e.Signal == 9 }

func (e *KilledError) Error() string {
	return fmt.Sprintf("DCE CLI was killed by signal %d (exit status %d)", e.Signal, e.Code)
}

// ExitError: the DCE CLI failed for any other reason.
type ExitError struct {
	Code    int
	Message string // DCE's own message lines, without stack traces
}

func (e *ExitError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("DCE CLI exited with status %d", e.Code)
	}
	return fmt.Sprintf("DCE CLI exited with status %d: %s", e.Code, e.Message)
}

// ErrNoMessages: older DCE versions report an export with nothing in the
// requested period as an error ("... does not contain any messages within
// the specified period.") and write no file. It means "nothing new".
var ErrNoMessages = errors.New("DCE reported no messages in the requested period")
