package exitcode

import (
	"errors"
	"fmt"
	"testing"

	"github.com/dcehost/dcehost/internal/compose"
	"github.com/dcehost/dcehost/internal/dce"
	"github.com/dcehost/dcehost/internal/diskspace"
	"github.com/dcehost/dcehost/internal/engine"
	"github.com/dcehost/dcehost/internal/failure"
	"github.com/dcehost/dcehost/internal/github"
	"github.com/dcehost/dcehost/internal/lock"
	"github.com/dcehost/dcehost/internal/recovery"
)

func TestOf(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("context: %w", err) }
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, 0},
		{"plain", errors.New("boom"), 1},
		{"usage", wrap(failure.Usagef("bad flag")), 2},
		{"locked", wrap(&lock.HeldError{Path: "/a/.dce-scrape.lock"}), 3},
		{"auth after retry", wrap(&recovery.AuthFailedError{Source: "DISCORD_TOKEN"}), 4},
		{"dce auth", wrap(&dce.AuthError{}), 4},
		{"github auth", wrap(&github.AuthError{Message: "no token"}), 4},
		{"disk", wrap(&diskspace.LowError{Path: "/a", FreeMB: 1, NeedMB: 2}), 5},
		{"policy", wrap(&github.PolicyError{Message: "admin"}), 6},
		{"channels failed", wrap(&engine.ChannelsFailedError{Channels: []string{"x"}}), 7},
		{"container passes 7", wrap(&compose.ExitError{Code: 7}), 7},
		{"container passes 5", wrap(&compose.ExitError{Code: 5}), 5},
		{"container 137 is a failure", wrap(&compose.ExitError{Code: 137}), 1},
		{"silent", &failure.SilentError{Code: 6}, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Of(tt.err); got != tt.want {
				t.Fatalf("Of(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}
