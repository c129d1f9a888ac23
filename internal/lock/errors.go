package lock

import (
	"fmt"
	"time"
)

// Holder describes the process that holds the lock, as written in the
// sidecar `<lockfile>.meta` (pid=, started=, cmd=).
type Holder struct {
	PID     int
	Started time.Time
	Cmd     string
}

// HeldError: another dcehost run holds the archive lock. Exit code 3.
type HeldError struct {
	Path   string
	Holder Holder // zero when the sidecar could not be read
}

func (e *HeldError) Error() string {
	if e.Holder.PID == 0 {
		return fmt.Sprintf("another dcehost run holds the archive lock %s (holder unknown); nothing was written", e.Path)
	}
	started := "at an unknown time"
	if !e.Holder.Started.IsZero() {
		started = e.Holder.Started.Format(time.RFC3339)
	}
	return fmt.Sprintf("another dcehost run holds the archive lock %s: pid %d, started %s, command %q; nothing was written (wait for it to finish, or stop pid %d)",
		e.Path, e.Holder.PID, started, e.Holder.Cmd, e.Holder.PID)
}
