// Package gh holds `dcehost gh`: approving GitHub Actions runs that wait on
// a fork's pull request (approve-runs) and checking the GitHub token
// (auth-status).
package gh

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"time"

	"github.com/spf13/cobra"

	"github.com/dcehost/dcehost/internal/cli/factory"
	"github.com/dcehost/dcehost/internal/failure"
	"github.com/dcehost/dcehost/internal/github"
	"github.com/dcehost/dcehost/internal/iostreams"
	"github.com/dcehost/dcehost/internal/token"
)

// NewCmdGh returns the `gh` command group.
func NewCmdGh(f *factory.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "gh <command>",
		Short: "GitHub helpers: approve workflow runs from fork pull requests",
		Long: `GitHub helpers that talk to the REST API directly (no gh binary needed).

The token is taken from GH_TOKEN, GITHUB_TOKEN, ` + "`gh auth token`" + ` when gh is
installed, then an "export GITHUB_TOKEN=..." line read as text (never executed)
from ~/.bashrc. GITHUB_API_URL points at another API root (GitHub Enterprise).`,
	}
	cmd.AddCommand(NewCmdApproveRuns(f, nil))
	cmd.AddCommand(NewCmdAuthStatus(f, nil))
	return cmd
}

// Deps is what the gh commands take from the outside world; tests replace
// every field.
type Deps struct {
	IO *iostreams.IOStreams
	// HTTPClient sends the API requests (nil = default client).
	HTTPClient *http.Client
	Getenv     func(string) string
	LookPath   func(string) (string, error)
	// Run runs gh and git (argv, never a shell).
	Run   github.Runner
	Now   func() time.Time
	Sleep func(context.Context, time.Duration) error
	Log   *slog.Logger
	// Redactor masks the token in everything printed; the token is added
	// the moment it is read.
	Redactor *token.Redactor
	Home     string
	WorkDir  string
	Version  string
}

// depsFromFactory wires Deps to the real process. It is called when the
// command runs, after the global flags (-v, --log-format) are parsed.
func depsFromFactory(f *factory.Factory) Deps {
	home := f.Getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	return Deps{
		IO:       f.IO,
		Getenv:   f.Getenv,
		LookPath: exec.LookPath,
		Run:      github.ExecRunner,
		Now:      f.Now,
		Sleep:    github.SleepContext,
		Log:      f.Logger(),
		Redactor: f.Redactor,
		Home:     home,
		WorkDir:  f.WorkDir,
		Version:  f.Version,
	}
}

func (d *Deps) log() *slog.Logger {
	if d.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Log
}

// findToken runs the token lookup, registering the token with the
// redactor as soon as it is read. A bashrc named on the command line or in
// GH_APPROVE_BASHRC that cannot be read is a usage error.
func (d *Deps) findToken(ctx context.Context, bashrc string) (*github.Token, error) {
	tok, err := github.FindToken(ctx, github.TokenOptions{
		Getenv:   d.Getenv,
		LookPath: d.LookPath,
		Run:      d.Run,
		Bashrc:   bashrc,
		Home:     d.Home,
		Register: func(s string) {
			if d.Redactor != nil {
				d.Redactor.Add(s)
			}
		},
		Note: func(msg string) { d.log().Debug("github token lookup", "note", msg) },
	})
	if err != nil {
		var be *github.BashrcError
		if errors.As(err, &be) {
			name := "--bashrc"
			if bashrc == "" {
				name = github.EnvBashrc
			}
			return nil, failure.Usagef("%s %s: %w", name, be.Path, be.Err)
		}
		return nil, err
	}
	d.log().Debug("github token found", "source", tok.Source)
	return tok, nil
}

// client builds the API client for tok.
func (d *Deps) client(tok *github.Token) (*github.Client, error) {
	getenv := d.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	c, err := github.NewClient(github.ClientOptions{
		HTTPClient: d.HTTPClient,
		BaseURL:    getenv(github.EnvAPIURL),
		Token:      *tok,
		UserAgent:  "dcehost/" + d.Version,
		Now:        d.Now,
		Sleep:      d.Sleep,
		Log:        d.log(),
	})
	if err != nil {
		return nil, failure.Usage(err)
	}
	return c, nil
}

// resolveRepo applies --repo, GH_REPO, then the origin remote; failures
// are usage errors.
func (d *Deps) resolveRepo(ctx context.Context, flag string) (github.Repo, error) {
	repo, from, err := github.ResolveRepo(ctx, github.RepoOptions{
		Flag:    flag,
		Getenv:  d.Getenv,
		Run:     d.Run,
		WorkDir: d.WorkDir,
	})
	if err != nil {
		return github.Repo{}, failure.Usage(err)
	}
	d.log().Debug("github repository", "repo", repo.String(), "from", from)
	return repo, nil
}

// out is standard output with every registered secret masked.
func (d *Deps) out() io.Writer {
	if d.Redactor == nil {
		return d.IO.Out
	}
	return d.Redactor.Writer(d.IO.Out)
}
