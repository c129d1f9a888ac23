package gh

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dcehost/dcehost/internal/cli/factory"
	"github.com/dcehost/dcehost/internal/failure"
	"github.com/dcehost/dcehost/internal/github"
)

// AuthStatusOptions are the parsed flags of `gh auth-status`, plus the
// injected outside world.
type AuthStatusOptions struct {
	Deps

	Repo   string
	Bashrc string
	JSON   bool
}

// NewCmdAuthStatus returns `gh auth-status`. runF, when not nil, gets the
// parsed options instead of running (tests).
func NewCmdAuthStatus(f *factory.Factory, runF func(*AuthStatusOptions) error) *cobra.Command {
	opts := &AuthStatusOptions{}
	cmd := &cobra.Command{
		Use:   "auth-status [--repo OWNER/NAME]",
		Short: "Show which GitHub token is used and whether it can approve runs",
		Long: `Show where the GitHub token comes from (never its value), the account it
belongs to, its OAuth scopes, and whether it can approve workflow runs in the
repository (--repo, else $GH_REPO, else the origin remote).

Exit status 4 when no token is found or GitHub rejects it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Deps = depsFromFactory(f)
			if runF != nil {
				return runF(opts)
			}
			return runAuthStatus(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Repo, "repo", "", "repository `OWNER/NAME` (default $GH_REPO, else the origin remote of the current git repository)")
	fl.StringVar(&opts.Bashrc, "bashrc", "", "`FILE` read as text (never executed) for an \"export GITHUB_TOKEN=...\" line (default $GH_APPROVE_BASHRC, else ~/.bashrc)")
	fl.BoolVar(&opts.JSON, "json", false, "print the status as a JSON object")
	return cmd
}

// authStatus is the --json form of the report.
type authStatus struct {
	API            string   `json:"api"`
	TokenSource    string   `json:"token_source"`
	Login          string   `json:"login"`
	Scopes         []string `json:"scopes"`
	ScopesReported bool     `json:"scopes_reported"`
	Repo           string   `json:"repo,omitempty"`
	Admin          bool     `json:"admin"`
	Push           bool     `json:"push"`
	CanApprove     string   `json:"can_approve"` // yes | probably | no | unknown
	Note           string   `json:"note,omitempty"`
}

func runAuthStatus(ctx context.Context, opts *AuthStatusOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	// An explicit bad --repo is bad input: refuse it before any request.
	if opts.Repo != "" {
		if _, err := github.ParseRepo(opts.Repo); err != nil {
			return failure.Usagef("--repo %w", err)
		}
	}
	tok, err := opts.findToken(ctx, opts.Bashrc)
	if err != nil {
		return err
	}
	client, err := opts.client(tok)
	if err != nil {
		return err
	}
	st := authStatus{API: client.BaseURL(), TokenSource: tok.Source, CanApprove: "unknown", Scopes: []string{}}

	user, err := client.CurrentUser(ctx)
	var policy *github.PolicyError
	switch {
	case errors.As(err, &policy):
		// App installation tokens may not read /user; the token works.
		st.Login = ""
		st.Note = "the token may not read /user (GitHub App or Actions token)"
	case err != nil:
		return err
	default:
		st.Login = user.Login
		st.ScopesReported = user.ScopesReported
		if user.Scopes != nil {
			st.Scopes = user.Scopes
		}
	}

	repo, rerr := opts.resolveRepo(ctx, opts.Repo)
	var verdict string
	if rerr != nil {
		verdict = fmt.Sprintf("not checked: %v", rerr)
	} else {
		st.Repo = repo.String()
		var access *github.Access
		st.CanApprove, verdict, access, err = checkRepo(ctx, client, repo, st)
		if err != nil {
			return err
		}
		if access != nil {
			st.Admin, st.Push = access.Admin, access.Push
		}
	}

	w := opts.out()
	if opts.JSON {
		return writeJSON(w, st)
	}
	fmt.Fprintf(w, "API:    %s\n", st.API)
	fmt.Fprintf(w, "token:  from %s\n", st.TokenSource)
	if st.Login != "" {
		fmt.Fprintf(w, "login:  %s\n", st.Login)
	} else {
		fmt.Fprintf(w, "login:  unknown (%s)\n", st.Note)
	}
	switch {
	case st.ScopesReported && len(st.Scopes) > 0:
		fmt.Fprintf(w, "scopes: %s\n", strings.Join(st.Scopes, ", "))
	case st.ScopesReported:
		fmt.Fprintf(w, "scopes: none\n")
	default:
		fmt.Fprintf(w, "scopes: not reported (a fine-grained or app token: approving needs the Actions: write repository permission)\n")
	}
	if st.Repo != "" {
		fmt.Fprintf(w, "approve runs in %s: %s\n", st.Repo, verdict)
	} else {
		fmt.Fprintf(w, "approve runs: %s\n", verdict)
	}
	return nil
}

// checkRepo says whether the token can approve runs in repo: the rights
// (GET /repos/{o}/{r} permissions) and, for a classic token, the repo
// scope. A rejected token is an error (exit 4); a repository the token
// cannot see is a verdict.
func checkRepo(ctx context.Context, client *github.Client, repo github.Repo, st authStatus) (string, string, *github.Access, error) {
	access, err := client.RepoAccess(ctx, repo)
	var auth *github.AuthError
	switch {
	case errors.As(err, &auth):
		return "", "", nil, err
	case err != nil:
		return "unknown", fmt.Sprintf("unknown (%v)", err), nil, nil
	}
	if st.ScopesReported && !slices.Contains(st.Scopes, "repo") {
		return "no", "no: the classic token lacks the repo scope", access, nil
	}
	switch {
	case !access.Reported:
		return "unknown", "unknown: GitHub reported no permissions for this token (it needs actions: write)", access, nil
	case access.Admin:
		return "yes", "yes (admin rights)", access, nil
	case access.Maintain || access.Push:
		return "probably", "probably: write access (repositories that require admin rights answer POLICY_BLOCKER)", access, nil
	}
	return "no", "no: read-only access (approving needs write access, often admin rights)", access, nil
}
