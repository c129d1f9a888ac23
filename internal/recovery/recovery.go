// Package recovery is the one bounded retry after Discord rejects the
// token: reload the token from its source (after running
// DCE_REAUTH_COMMAND when a person is at the terminal), run once more, and
// give up with a message that says where the token came from and how to
// refresh it. No other failure is ever retried.
package recovery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"strings"

	"github.com/dcehost/dcehost/internal/dce"
	"github.com/dcehost/dcehost/internal/runner"
)

// TokenSource is where the Discord token comes from (*token.Source).
type TokenSource interface {
	// Load reads the token again (a token file is re-read every time).
	Load(log *slog.Logger) (string, error)
	// String names the source, e.g. "DISCORD_TOKEN_FILE=/x/token".
	String() string
	// RefreshHint says how to refresh the token.
	RefreshHint() string
}

// Options are the outside world of Run.
type Options struct {
	// Register is called with every token read, before it is used
	// (token.Redactor.Add), so it is masked in all output.
	Register func(secret string)
	// ReauthCommand (DCE_REAUTH_COMMAND) runs before the retry when
	// Interactive; its argv is the command split at white space.
	ReauthCommand string
	// Interactive: standard input and output are terminals (a person is
	// present).
	Interactive bool
	// Stdin, Stdout, Stderr are given to the reauth command.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// RunReauth starts the reauth command (nil: exec, waits for it).
	RunReauth func(ctx context.Context, argv []string, o Options) error
	// Log receives progress (nil: discard).
	Log *slog.Logger
}

// Run runs req with r. When the run reports a *dce.AuthError, it reloads
// the token from src, runs the reauth command when a person is present,
// and retries exactly once with the reloaded token. A second rejection is
// a *AuthFailedError. Every other result is returned unchanged.
func Run(ctx context.Context, r runner.Runner, req runner.Request, src TokenSource, opts Options) error {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	err := r.Run(ctx, req)
	var auth *dce.AuthError
	if !errors.As(err, &auth) || src == nil || !req.Mode.NeedsToken() {
		return err
	}
	log.Warn("discord rejected the token; reloading it and retrying once", "source", src.String(), "error", err.Error())

	if opts.ReauthCommand != "" {
		if opts.Interactive {
			if rerr := reauth(ctx, opts); rerr != nil {
				log.Warn("the reauth command failed; retrying with the token as it is now", "command", opts.ReauthCommand, "error", rerr.Error())
			}
		} else {
			log.Info("not running the reauth command: standard input and output are not both terminals", "command", opts.ReauthCommand)
		}
	}

	tok, lerr := src.Load(log)
	if lerr != nil {
		return fmt.Errorf("reload the discord token after it was rejected: %w", lerr)
	}
	if opts.Register != nil {
		opts.Register(tok)
	}
	if tok == req.Token {
		log.Info("the reloaded token is the same as before; retrying anyway", "source", src.String())
	}
	req.Token = tok

	err = r.Run(ctx, req)
	if errors.As(err, &auth) {
		return &AuthFailedError{Source: src.String(), Hint: src.RefreshHint(), Err: err}
	}
	return err
}

func reauth(ctx context.Context, opts Options) error {
	argv := strings.Fields(opts.ReauthCommand)
	if len(argv) == 0 {
		return nil
	}
	run := opts.RunReauth
	if run == nil {
		run = execReauth
	}
	return run(ctx, argv, opts)
}

func execReauth(ctx context.Context, argv []string, o Options) error {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	// The terminal's own files when interactive, so the command can prompt.
	cmd.Stdin, cmd.Stdout, cmd.Stderr = o.Stdin, o.Stdout, o.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("DCE_REAUTH_COMMAND %s: %w", argv[0], err)
	}
	return nil
}
