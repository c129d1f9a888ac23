package recovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dcehost/dcehost/internal/compose"
	"github.com/dcehost/dcehost/internal/dce"
	"github.com/dcehost/dcehost/internal/failure"
	"github.com/dcehost/dcehost/internal/runner"
)

// fakeRunner returns results in order and records the token of each run.
type fakeRunner struct {
	results []error
	tokens  []string
	events  *[]string
}

func (f *fakeRunner) Run(_ context.Context, req runner.Request) error {
	f.tokens = append(f.tokens, req.Token)
	if f.events != nil {
		*f.events = append(*f.events, "run")
	}
	i := min(len(f.tokens)-1, len(f.results)-1)
	return f.results[i]
}

// fakeSource returns the tokens in order (the last repeats).
type fakeSource struct {
	tokens []string
	err    error
	loads  int
	events *[]string
}

func (s *fakeSource) Load(*slog.Logger) (string, error) {
	s.loads++
	if s.events != nil {
		*s.events = append(*s.events, "load")
	}
	if s.err != nil {
		return "", s.err
	}
	return s.tokens[min(s.loads-1, len(s.tokens)-1)], nil
}
func (s *fakeSource) String() string      { return "DISCORD_TOKEN_FILE=/home/me/.discord-token" }
func (s *fakeSource) RefreshHint() string { return "copy a fresh token into /home/me/.discord-token" }

func TestRun(t *testing.T) {
	authErr := &dce.AuthError{Message: "the container run exited with status 4"}
	otherAuthLooking := &compose.ExitError{Code: 1} // output said 401/403: still not auth
	tests := []struct {
		name        string
		mode        runner.Mode
		results     []error
		reloaded    []string
		interactive bool
		reauthCmd   string
		wantRuns    int
		wantTokens  []string
		wantEvents  []string
		check       func(error) bool
	}{
		{"success: one run", runner.Scrape, []error{nil}, []string{"new"}, false, "", 1, []string{"old"},
			[]string{"run"}, func(err error) bool { return err == nil }},
		{"stale token: reload, retry once, succeed", runner.Scrape, []error{authErr, nil}, []string{"new"}, false, "", 2, []string{"old", "new"},
			[]string{"run", "load", "run"}, func(err error) bool { return err == nil }},
		{"persistent rejection: two runs, then AuthFailedError", runner.Scrape, []error{authErr, authErr, authErr}, []string{"new"}, false, "", 2, []string{"old", "new"},
			[]string{"run", "load", "run"}, func(err error) bool {
				var af *AuthFailedError
				var a *dce.AuthError
				return errors.As(err, &af) && errors.As(err, &a) &&
					strings.Contains(err.Error(), "DISCORD_TOKEN_FILE=/home/me/.discord-token") &&
					strings.Contains(err.Error(), "copy a fresh token")
			}},
		{"retry then another failure keeps its code", runner.Scrape, []error{authErr, &compose.ExitError{Code: 7}}, []string{"new"}, false, "", 2, []string{"old", "new"},
			[]string{"run", "load", "run"}, func(err error) bool {
				var e *compose.ExitError
				return errors.As(err, &e) && e.Code == 7
			}},
		{"non-auth failure never retried", runner.Scrape, []error{otherAuthLooking, nil}, []string{"new"}, false, "", 1, []string{"old"},
			[]string{"run"}, func(err error) bool {
				var e *compose.ExitError
				return errors.As(err, &e) && e.Code == 1
			}},
		{"plain error never retried", runner.Preflight, []error{errors.New("boom"), nil}, []string{"new"}, false, "", 1, []string{"old"},
			[]string{"run"}, func(err error) bool { return err != nil && err.Error() == "boom" }},
		{"reauth command runs first when interactive", runner.Scrape, []error{authErr, nil}, []string{"new"}, true, "refresh-token --profile main", 2, []string{"old", "new"},
			[]string{"run", "reauth refresh-token --profile main", "load", "run"}, func(err error) bool { return err == nil }},
		{"no reauth command without a terminal", runner.Scrape, []error{authErr, nil}, []string{"new"}, false, "refresh-token", 2, []string{"old", "new"},
			[]string{"run", "load", "run"}, func(err error) bool { return err == nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var events []string
			r := &fakeRunner{results: tt.results, events: &events}
			src := &fakeSource{tokens: tt.reloaded, events: &events}
			var registered []string
			opts := Options{
				Register:      func(s string) { registered = append(registered, s) },
				ReauthCommand: tt.reauthCmd,
				Interactive:   tt.interactive,
				RunReauth: func(_ context.Context, argv []string, _ Options) error {
					events = append(events, "reauth "+strings.Join(argv, " "))
					return nil
				},
			}
			err := Run(context.Background(), r, runner.Request{Mode: tt.mode, Token: "old"}, src, opts)
			if !tt.check(err) {
				t.Fatalf("Run = %v", err)
			}
			if len(r.tokens) != tt.wantRuns || !slices.Equal(r.tokens, tt.wantTokens) {
				t.Fatalf("runs with tokens %q, want %q", r.tokens, tt.wantTokens)
			}
			if !slices.Equal(events, tt.wantEvents) {
				t.Fatalf("events %q, want %q", events, tt.wantEvents)
			}
			if tt.wantRuns == 2 && !slices.Equal(registered, []string{"new"}) {
				t.Fatalf("registered %q, want the reloaded token", registered)
			}
		})
	}
}

func TestRunReloadFails(t *testing.T) {
	r := &fakeRunner{results: []error{&dce.AuthError{}}}
	src := &fakeSource{err: failure.Usagef("DISCORD_TOKEN_FILE=/x: the file is empty")}
	err := Run(context.Background(), r, runner.Request{Mode: runner.Scrape, Token: "old"}, src, Options{})
	if !failure.IsUsage(err) || len(r.tokens) != 1 {
		t.Fatalf("Run = %v after %d runs; want the reload's usage error after one run", err, len(r.tokens))
	}
}

func TestRunReauthFailureStillRetries(t *testing.T) {
	r := &fakeRunner{results: []error{&dce.AuthError{}, nil}}
	src := &fakeSource{tokens: []string{"new"}}
	opts := Options{ReauthCommand: "refresh", Interactive: true,
		RunReauth: func(context.Context, []string, Options) error { return errors.New("cancelled") }}
	if err := Run(context.Background(), r, runner.Request{Mode: runner.Scrape, Token: "old"}, src, opts); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.tokens, []string{"old", "new"}) {
		t.Fatalf("tokens %q", r.tokens)
	}
}

func TestExecReauthRunsArgvWithoutShell(t *testing.T) {
	dir := t.TempDir()
	// A literal "$(id)" in the argument: a shell would expand it.
	literal := filepath.Join(dir, "$(id)")
	err := execReauth(context.Background(), strings.Fields(fmt.Sprintf("touch %s", literal)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(literal); err != nil {
		t.Fatalf("%s not created: %v", literal, err)
	}
	if err := execReauth(context.Background(), []string{"false"}, Options{}); err == nil || !strings.Contains(err.Error(), "DCE_REAUTH_COMMAND") {
		t.Fatalf("failing command: %v", err)
	}
}
