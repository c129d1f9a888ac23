package compose

import "fmt"

// ExitError: the container run exited with Code. Codes of the exit-code
// table (2, 3, 5, 7, ...) pass through to dcehost's own exit code; 4 is
// turned into a *dce.AuthError by the runner so the host can retry.
type ExitError struct {
	Code int
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("the container run exited with status %d", e.Code)
}
