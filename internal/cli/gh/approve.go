package gh

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dcehost/dcehost/internal/cli/factory"
	"github.com/dcehost/dcehost/internal/failure"
	"github.com/dcehost/dcehost/internal/github"
)

// ApproveRunsOptions are the parsed flags and arguments of
// `gh approve-runs`, plus the injected outside world.
type ApproveRunsOptions struct {
	Deps

	Repo    string
	Bashrc  string
	JSON    bool
	RunIDs  []string
	Pending bool
	PR      int
	SHA     string
	Approve bool
}

// NewCmdApproveRuns returns `gh approve-runs`. runF, when not nil, gets the
// parsed options instead of running (tests).
func NewCmdApproveRuns(f *factory.Factory, runF func(*ApproveRunsOptions) error) *cobra.Command {
	opts := &ApproveRunsOptions{}
	cmd := &cobra.Command{
		Use:   "approve-runs [--repo OWNER/NAME] [--json] RUN_ID... | --pending [--pr N | --sha SHA] [--approve]",
		Short: "Approve workflow runs waiting on a fork's pull request",
		Long: `Approve GitHub Actions workflow runs that wait for a maintainer's approval
because they come from a fork's pull request.

Every run id is attempted, even after another one failed, and gets one line:
approved, POLICY_BLOCKER (the repository requires admin rights: not a token
problem), AUTH_FAILED (token missing or rejected), NOT_FOUND, NOT_WAITING (the
run needs no approval), RATE_LIMITED or FAILED.

--pending lists the runs waiting for approval (conclusion action_required),
for the head commit of a pull request (--pr) or a commit (--sha); with
--approve it approves them. Fork runs carry no pull request list, so they are
matched by head commit.

Exit status: 0 when every run was approved; otherwise 4 if the token was
missing or rejected, else 6 if a repository policy refused, else 1.`,
		Example: `  # approve two runs in the repository of the current directory
  dcehost gh approve-runs 9876543210 9876543211

  # approve every run waiting on pull request 42
  dcehost gh approve-runs --repo owner/repo --pending --pr 42 --approve

  # machine-readable outcomes
  dcehost gh approve-runs --repo owner/repo --json 9876543210`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.RunIDs = args
			opts.Deps = depsFromFactory(f)
			if runF != nil {
				return runF(opts)
			}
			return runApproveRuns(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Repo, "repo", "", "repository `OWNER/NAME` (default $GH_REPO, else the origin remote of the current git repository)")
	fl.StringVar(&opts.Bashrc, "bashrc", "", "`FILE` read as text (never executed) for an \"export GITHUB_TOKEN=...\" line (default $GH_APPROVE_BASHRC, else ~/.bashrc)")
	fl.BoolVar(&opts.JSON, "json", false, "print a JSON array of {run_id, outcome, http_status, message}")
	fl.BoolVar(&opts.Pending, "pending", false, "list the runs waiting for approval instead of taking run ids")
	fl.IntVar(&opts.PR, "pr", 0, "with --pending: the runs of pull request `N`'s head commit")
	fl.StringVar(&opts.SHA, "sha", "", "with --pending: the runs of head commit `SHA`")
	fl.BoolVar(&opts.Approve, "approve", false, "with --pending: approve the runs found")
	return cmd
}

var shaPattern = regexp.MustCompile(`^[0-9a-fA-F]{7,64}$`)

// parseRunIDs validates every run id before any request: positive decimal
// integers. Repeated ids are approved once.
func parseRunIDs(args []string) ([]int64, error) {
	var ids []int64
	seen := map[int64]bool{}
	for _, a := range args {
		id, err := strconv.ParseInt(a, 10, 64)
		if err != nil || id <= 0 || strings.TrimLeft(a, "0123456789") != "" {
			return nil, failure.Usagef("run id %q: want a positive integer (the number in .../actions/runs/NUMBER)", a)
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// validate checks the flag combination; nothing has been requested yet.
func (opts *ApproveRunsOptions) validate() ([]int64, error) {
	if opts.Pending {
		if len(opts.RunIDs) > 0 {
			return nil, failure.Usagef("--pending finds the run ids itself: drop the arguments %s", strings.Join(opts.RunIDs, " "))
		}
		if opts.PR != 0 && opts.SHA != "" {
			return nil, failure.Usagef("--pr and --sha: give one, not both")
		}
		if opts.PR < 0 {
			return nil, failure.Usagef("--pr %d: want a pull request number", opts.PR)
		}
		if opts.SHA != "" && !shaPattern.MatchString(opts.SHA) {
			return nil, failure.Usagef("--sha %q: want a commit SHA (hex, 7 to 64 characters)", opts.SHA)
		}
		return nil, nil
	}
	for _, flag := range []struct {
		name string
		set  bool
	}{{"--pr", opts.PR != 0}, {"--sha", opts.SHA != ""}, {"--approve", opts.Approve}} {
		if flag.set {
			return nil, failure.Usagef("%s works with --pending only", flag.name)
		}
	}
	if len(opts.RunIDs) == 0 {
		return nil, failure.Usagef("give at least one RUN_ID, or --pending to find them")
	}
	return parseRunIDs(opts.RunIDs)
}

func runApproveRuns(ctx context.Context, opts *ApproveRunsOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ids, err := opts.validate()
	if err != nil {
		return err
	}
	repo, err := opts.resolveRepo(ctx, opts.Repo)
	if err != nil {
		return err
	}
	tok, err := opts.findToken(ctx, opts.Bashrc)
	var authErr *github.AuthError
	switch {
	case errors.As(err, &authErr) && !opts.Pending:
		// No token: every run is an auth failure, reported like the others.
		results := make([]github.Result, len(ids))
		for i, id := range ids {
			results[i] = github.Result{RunID: id, Outcome: github.AuthFailed, Message: authErr.Message}
		}
		return opts.report(repo, nil, results)
	case err != nil:
		return err
	}
	client, err := opts.client(tok)
	if err != nil {
		return err
	}

	if opts.Pending {
		ids, err = opts.pending(ctx, client, repo)
		if err != nil || ids == nil {
			return err
		}
	}

	results := make([]github.Result, 0, len(ids))
	w := opts.out()
	for _, id := range ids {
		r := client.ApproveRun(ctx, repo, id)
		results = append(results, r)
		if !opts.JSON {
			fmt.Fprintln(w, humanLine(r, repo, tok))
		}
	}
	return opts.summarize(repo, tok, results)
}

// pending finds the runs waiting for approval. It prints them and returns
// nil ids when there is nothing more to do (no --approve, or no runs).
func (opts *ApproveRunsOptions) pending(ctx context.Context, client *github.Client, repo github.Repo) ([]int64, error) {
	sha, what := opts.SHA, "any commit"
	if opts.PR != 0 {
		var err error
		if sha, err = client.PullHeadSHA(ctx, repo, opts.PR); err != nil {
			return nil, fmt.Errorf("--pr %d: %w", opts.PR, err)
		}
		what = fmt.Sprintf("pull request #%d (head %s)", opts.PR, short(sha))
	} else if sha != "" {
		what = "commit " + short(sha)
	}
	runs, err := client.PendingRuns(ctx, repo, sha)
	if err != nil {
		return nil, err
	}
	opts.log().Debug("runs waiting for approval", "repo", repo.String(), "for", what, "count", len(runs))
	w := opts.out()
	if !opts.Approve || len(runs) == 0 {
		if opts.JSON {
			if runs == nil {
				runs = []github.Run{}
			}
			return nil, writeJSON(w, runs)
		}
		if len(runs) == 0 {
			fmt.Fprintf(w, "no runs waiting for approval on %s for %s\n", repo, what)
			return nil, nil
		}
		fmt.Fprintf(w, "%d run(s) waiting for approval on %s for %s:\n", len(runs), repo, what)
		for _, r := range runs {
			head := short(r.HeadSHA)
			if r.HeadRepo != "" {
				head = r.HeadRepo + "@" + head
			}
			fmt.Fprintf(w, "  %d  %s  (%s, %s)  %s\n", r.ID, r.Name, r.Event, head, r.URL)
		}
		return nil, nil
	}
	ids := make([]int64, len(runs))
	for i, r := range runs {
		ids[i] = r.ID
	}
	return ids, nil
}

// report prints results that were decided without asking GitHub, then
// summarises them.
func (opts *ApproveRunsOptions) report(repo github.Repo, tok *github.Token, results []github.Result) error {
	if !opts.JSON {
		w := opts.out()
		for _, r := range results {
			fmt.Fprintln(w, humanLine(r, repo, tok))
		}
	}
	return opts.summarize(repo, tok, results)
}

// summarize prints the JSON report (with --json) and returns the error of
// the most severe outcome: *github.AuthError (exit 4), then
// *github.PolicyError (exit 6), then a plain error (exit 1). The report is
// already on standard output, so the error is one short line.
func (opts *ApproveRunsOptions) summarize(repo github.Repo, tok *github.Token, results []github.Result) error {
	if opts.JSON {
		if err := writeJSON(opts.out(), results); err != nil {
			return err
		}
	}
	worst, failed := github.Approved, 0
	for _, r := range results {
		if r.Outcome != github.Approved {
			failed++
		}
		if r.Outcome.Severity() > worst.Severity() {
			worst = r.Outcome
		}
	}
	if failed == 0 {
		return nil
	}
	where := "see the report above"
	if opts.JSON {
		where = "see the JSON report"
	}
	head := fmt.Sprintf("%d of %d run(s) on %s not approved", failed, len(results), repo)
	switch worst {
	case github.AuthFailed:
		if tok == nil {
			return &github.AuthError{Message: fmt.Sprintf("%s: no GitHub token found (%s)", head, where)}
		}
		return &github.AuthError{Message: fmt.Sprintf("%s: GitHub rejected the token from %s (%s)", head, tok.Source, where)}
	case github.PolicyBlocked:
		return &github.PolicyError{Message: fmt.Sprintf("%s: repository policy requires admin rights (%s)", head, where)}
	}
	return fmt.Errorf("%s (%s)", head, where)
}

// humanLine is the one line printed for a run.
func humanLine(r github.Result, repo github.Repo, tok *github.Token) string {
	answer := r.Message
	if r.HTTPStatus != 0 {
		answer = fmt.Sprintf("GitHub answered %d %q", r.HTTPStatus, r.Message)
	}
	switch r.Outcome {
	case github.Approved:
		return fmt.Sprintf("approved %d on %s", r.RunID, repo)
	case github.PolicyBlocked:
		return fmt.Sprintf("POLICY_BLOCKER: run %d on %s was not approved: %s. "+
			"Approving runs in %s needs repository admin rights (for an app or Actions token, the actions: write permission the repository grants). "+
			"This is a repository policy, not a token problem: ask a repository admin to approve the run or to give you admin rights.",
			r.RunID, repo, answer, repo)
	case github.AuthFailed:
		if tok == nil {
			return fmt.Sprintf("AUTH_FAILED: run %d on %s was not approved: %s", r.RunID, repo, r.Message)
		}
		return fmt.Sprintf("AUTH_FAILED: run %d on %s was not approved: %s. Fix the token from %s (renew it, or give it the repo scope / actions: write).",
			r.RunID, repo, answer, tok.Source)
	case github.NotFound:
		return fmt.Sprintf("NOT_FOUND: run %d on %s: %s. There is no such run, or the token cannot see %s.", r.RunID, repo, answer, repo)
	case github.NotWaiting:
		return fmt.Sprintf("NOT_WAITING: run %d on %s needs no approval: %s.", r.RunID, repo, answer)
	case github.RateLimited:
		return fmt.Sprintf("RATE_LIMITED: run %d on %s was not approved: %s. Try again after the reset.", r.RunID, repo, answer)
	}
	return fmt.Sprintf("FAILED: run %d on %s was not approved: %s", r.RunID, repo, answer)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write JSON report: %w", err)
	}
	return nil
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
