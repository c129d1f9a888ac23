package recovery

import "fmt"

// AuthFailedError: the Discord token was still rejected after the one
// retry. Exit code 4.
type AuthFailedError struct {
	Source string // where the token came from, e.g. "DISCORD_TOKEN_FILE /home/me/.discord-token"
	Hint   string // how to refresh it
	Err    error
}

func (e *AuthFailedError) Error() string {
	msg := fmt.Sprintf("discord token from %s was rejected, also after reloading it and retrying once", e.Source)
	if e.Hint != "" {
		msg += "; " + e.Hint
	}
	return msg
}

func (e *AuthFailedError) Unwrap() error { return e.Err }
