// Package runner defines how a scrape, preflight or salvage is carried
// out once the host side (settings, config, disk check, lock) is done:
// in the DCE container through docker compose (compose.Runner), or
// in-process with the DCE CLI on this host (engine.Local).
package runner

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/dcehost/dcehost/internal/iostreams"
	"github.com/dcehost/dcehost/internal/progress"
	"github.com/dcehost/dcehost/internal/settings"
	"github.com/dcehost/dcehost/internal/targets"
)

// Mode is the kind of run.
type Mode string

const (
	Scrape    Mode = "scrape"
	Preflight Mode = "preflight"
	Salvage   Mode = "salvage"
)

// NeedsToken reports whether the mode talks to Discord.
func (m Mode) NeedsToken() bool { return m != Salvage }

// TakesLock reports whether the mode writes archives and so must hold the
// archive lock.
func (m Mode) TakesLock() bool { return m != Preflight }

// Request is one run.
type Request struct {
	Mode      Mode
	Settings  *settings.Settings
	Config    *targets.Config
	Targets   []targets.Target  // the selected targets
	Selection targets.Selection // as given on the command line
	Token     string            // "" for salvage
	Parallel  int
	// SummaryFile is where the run summary JSON goes ("" = not written).
	SummaryFile string
	Log         *slog.Logger
	IO          *iostreams.IOStreams
	// Progress, when not nil, is the terminal's status line (channel i/N,
	// messages appended): the local runner reports to it, the compose
	// runner feeds it the inner run's per-channel log lines.
	Progress *progress.Reporter
}

// Runner carries out a Request. An authentication failure is returned as
// a *dce.AuthError so the host can reload the token and retry once.
type Runner interface {
	Run(ctx context.Context, req Request) error
}

// Func adapts a function to Runner.
type Func func(ctx context.Context, req Request) error

// Run calls f.
func (f Func) Run(ctx context.Context, req Request) error { return f(ctx, req) }

// ParseName validates a --runner value.
func ParseName(s string) (string, error) {
	switch s {
	case "compose", "local":
		return s, nil
	}
	return "", fmt.Errorf("--runner %q: want compose or local", s)
}
