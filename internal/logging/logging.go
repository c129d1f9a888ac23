// Package logging builds the slog logger every command uses: text for
// people, JSON with --log-format json, every byte passed through the token
// redactor before it reaches a terminal or a log file.
package logging

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/dcehost/dcehost/internal/token"
)

// Format is a log output format.
type Format string

const (
	Text Format = "text"
	JSON Format = "json"
)

// ParseFormat validates a --log-format value.
func ParseFormat(s string) (Format, error) {
	switch Format(s) {
	case Text, JSON:
		return Format(s), nil
	}
	return "", fmt.Errorf("--log-format %q: want text or json", s)
}

// New returns a logger writing to w in the given format. verbose enables
// debug records. Every record is redacted by r (which may be nil).
func New(w io.Writer, format Format, verbose bool, r *token.Redactor) *slog.Logger {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	if r != nil {
		w = r.Writer(w)
	}
	opts := &slog.HandlerOptions{Level: level}
	if format == JSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Discard is a logger that drops everything (tests).
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
