package gh

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dcehost/dcehost/internal/github"
)

func TestApproveRunsOneRun(t *testing.T) {
	tests := []struct {
		name     string
		replies  []reply
		wantLine string
		wantExit int
		wantErr  string
	}{
		{name: "201", replies: []reply{created}, wantLine: "approved 777 on octo/widgets", wantExit: 0},
		{name: "403 admin rights", replies: []reply{adminRequired},
			wantLine: `POLICY_BLOCKER: run 777 on octo/widgets was not approved: GitHub answered 403 "Must have admin rights to Repository."`,
			wantExit: 6, wantErr: "repository policy requires admin rights"},
		{name: "403 integration", replies: []reply{integration},
			wantLine: `POLICY_BLOCKER: run 777 on octo/widgets was not approved: GitHub answered 403 "Resource not accessible by integration"`, wantExit: 6},
		{name: "401", replies: []reply{badCreds},
			wantLine: `AUTH_FAILED: run 777 on octo/widgets was not approved: GitHub answered 401 "Bad credentials". Fix the token from GITHUB_TOKEN (environment)`,
			wantExit: 4, wantErr: "GitHub rejected the token from GITHUB_TOKEN (environment)"},
		{name: "404", replies: []reply{notFound}, wantLine: `NOT_FOUND: run 777 on octo/widgets: GitHub answered 404 "Not Found"`, wantExit: 1},
		{name: "not from a fork", replies: []reply{notFromFork},
			wantLine: `NOT_WAITING: run 777 on octo/widgets needs no approval: GitHub answered 403 "This run is not from a fork pull request`, wantExit: 1},
		{name: "403 rate limit for an hour", replies: []reply{primaryLimit(time.Hour)},
			wantLine: `RATE_LIMITED: run 777 on octo/widgets was not approved: GitHub answered 403 "API rate limit exceeded for user ID 1. (resets in 1h0m0s)"`, wantExit: 1},
		{name: "429 Retry-After 30 then 201", replies: []reply{tooMany(30), created}, wantLine: "approved 777 on octo/widgets", wantExit: 0},
		{name: "500", replies: []reply{serverError}, wantLine: `FAILED: run 777 on octo/widgets was not approved: GitHub answered 500 "Server Error"`, wantExit: 1,
			wantErr: "1 of 1 run(s) on octo/widgets not approved"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, map[string][]reply{approveKey("octo/widgets", 777): tt.replies})
			opts := &ApproveRunsOptions{Deps: h.deps(), Repo: "octo/widgets", RunIDs: []string{"777"}}
			err := runApproveRuns(context.Background(), opts)
			if got := exitClass(err); got != tt.wantExit {
				t.Fatalf("exit class = %d (err %v), want %d", got, err, tt.wantExit)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want it to say %q", err, tt.wantErr)
			}
			lines := strings.Split(strings.TrimSuffix(h.out.String(), "\n"), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], tt.wantLine) {
				t.Fatalf("stdout = %q, want one line starting %q", h.out.String(), tt.wantLine)
			}
			if tt.wantExit == 6 && !strings.Contains(lines[0], "not a token problem") {
				t.Fatalf("policy line %q does not say it is not a token problem", lines[0])
			}
			h.assertNoSecret(err)
		})
	}
}

func TestApproveRunsMix(t *testing.T) {
	tests := []struct {
		name     string
		replies  map[int]reply
		wantExit int
	}{
		{name: "all approved", replies: map[int]reply{1: created, 2: created}, wantExit: 0},
		{name: "auth outranks policy and others", replies: map[int]reply{1: created, 2: adminRequired, 3: serverError, 4: badCreds, 5: notFound}, wantExit: 4},
		{name: "policy outranks others", replies: map[int]reply{1: adminRequired, 2: created, 3: notFound, 4: notFromFork}, wantExit: 6},
		{name: "others only", replies: map[int]reply{1: created, 2: notFound, 3: serverError}, wantExit: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			replies := map[string][]reply{}
			var ids []string
			for id := 1; id <= len(tt.replies); id++ {
				replies[approveKey("octo/widgets", id)] = []reply{tt.replies[id]}
				ids = append(ids, strconv.Itoa(id))
			}
			h := newHarness(t, replies)
			opts := &ApproveRunsOptions{Deps: h.deps(), Repo: "octo/widgets", RunIDs: ids, JSON: true}
			err := runApproveRuns(context.Background(), opts)
			if got := exitClass(err); got != tt.wantExit {
				t.Fatalf("exit class = %d (err %v), want %d", got, err, tt.wantExit)
			}
			// Every run was attempted, in order, even after failures.
			if len(h.requests) != len(ids) {
				t.Fatalf("requests = %q, want one per run id", h.requests)
			}
			var got []github.Result
			if err := json.Unmarshal(h.out.Bytes(), &got); err != nil {
				t.Fatalf("--json output is not a JSON array: %v\n%s", err, h.out)
			}
			if len(got) != len(ids) {
				t.Fatalf("JSON has %d results, want %d", len(got), len(ids))
			}
			for i, r := range got {
				want := tt.replies[i+1]
				if r.RunID != int64(i+1) || r.HTTPStatus != want.status || r.Message == "" {
					t.Fatalf("result %d = %+v, want run %d with HTTP %d and a message", i, r, i+1, want.status)
				}
				if (r.Outcome == github.Approved) != (want.status == 201) {
					t.Fatalf("result %d outcome %s for HTTP %d", i, r.Outcome, want.status)
				}
			}
			h.assertNoSecret(err)
		})
	}
}

func TestApproveRunsJSONShape(t *testing.T) {
	h := newHarness(t, map[string][]reply{
		approveKey("octo/widgets", 10): {created},
		approveKey("octo/widgets", 11): {adminRequired},
	})
	err := runApproveRuns(context.Background(), &ApproveRunsOptions{Deps: h.deps(), Repo: "octo/widgets", RunIDs: []string{"10", "11"}, JSON: true})
	if exitClass(err) != 6 {
		t.Fatalf("err = %v, want policy class", err)
	}
	var got []map[string]any
	if err := json.Unmarshal(h.out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := []map[string]any{
		{"run_id": float64(10), "outcome": "approved", "http_status": float64(201), "message": "approved"},
		{"run_id": float64(11), "outcome": "policy_blocked", "http_status": float64(403), "message": "Must have admin rights to Repository."},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("JSON (-want +got):\n%s", diff)
	}
}

func TestApproveRunsBadInput(t *testing.T) {
	tests := []struct {
		name    string
		opts    ApproveRunsOptions
		wantErr string
	}{
		{name: "letters", opts: ApproveRunsOptions{RunIDs: []string{"123", "abc"}}, wantErr: `run id "abc"`},
		{name: "zero", opts: ApproveRunsOptions{RunIDs: []string{"0"}}, wantErr: `run id "0"`},
		{name: "negative", opts: ApproveRunsOptions{RunIDs: []string{"-5"}}, wantErr: `run id "-5"`},
		{name: "plus sign", opts: ApproveRunsOptions{RunIDs: []string{"+5"}}, wantErr: `run id "+5"`},
		{name: "decimal", opts: ApproveRunsOptions{RunIDs: []string{"1.5"}}, wantErr: `run id "1.5"`},
		{name: "URL", opts: ApproveRunsOptions{RunIDs: []string{"https://github.com/o/r/actions/runs/5"}}, wantErr: "run id"},
		{name: "overflow", opts: ApproveRunsOptions{RunIDs: []string{"99999999999999999999"}}, wantErr: "run id"},
		{name: "empty", opts: ApproveRunsOptions{RunIDs: []string{""}}, wantErr: `run id ""`},
		{name: "no run ids", opts: ApproveRunsOptions{}, wantErr: "at least one RUN_ID"},
		{name: "--pr without --pending", opts: ApproveRunsOptions{RunIDs: []string{"1"}, PR: 4}, wantErr: "--pr works with --pending"},
		{name: "--approve without --pending", opts: ApproveRunsOptions{RunIDs: []string{"1"}, Approve: true}, wantErr: "--approve works with --pending"},
		{name: "--pending with run ids", opts: ApproveRunsOptions{Pending: true, RunIDs: []string{"1"}}, wantErr: "--pending finds the run ids"},
		{name: "--pr and --sha", opts: ApproveRunsOptions{Pending: true, PR: 3, SHA: "abcdef1"}, wantErr: "--pr and --sha"},
		{name: "bad --sha", opts: ApproveRunsOptions{Pending: true, SHA: "main"}, wantErr: `--sha "main"`},
		{name: "bad --repo", opts: ApproveRunsOptions{Repo: "widgets", RunIDs: []string{"1"}}, wantErr: "--repo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.ghOut = "tok_from_gh_cli_1"
			opts := tt.opts
			opts.Deps = h.deps()
			if opts.Repo == "" {
				opts.Repo = "octo/widgets"
			}
			err := runApproveRuns(context.Background(), &opts)
			if exitClass(err) != 2 || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want a usage error naming %q", err, tt.wantErr)
			}
			if len(h.requests) != 0 || len(h.runs) != 0 {
				t.Fatalf("bad input reached GitHub (%q) or ran programs (%q)", h.requests, h.runs)
			}
			if h.out.Len() != 0 {
				t.Fatalf("bad input printed a report: %q", h.out)
			}
		})
	}
}

func TestApproveRunsDuplicateIDsOnce(t *testing.T) {
	h := newHarness(t, map[string][]reply{approveKey("octo/widgets", 5): {created}})
	err := runApproveRuns(context.Background(), &ApproveRunsOptions{Deps: h.deps(), Repo: "octo/widgets", RunIDs: []string{"5", "05", "5"}})
	if err != nil || len(h.requests) != 1 {
		t.Fatalf("err %v, requests %q; want one approval", err, h.requests)
	}
}

func TestApproveRunsNoToken(t *testing.T) {
	h := newHarness(t, nil)
	delete(h.env, "GITHUB_TOKEN")
	err := runApproveRuns(context.Background(), &ApproveRunsOptions{Deps: h.deps(), Repo: "octo/widgets", RunIDs: []string{"1", "2"}})
	if exitClass(err) != 4 || !strings.Contains(err.Error(), "no GitHub token") {
		t.Fatalf("err = %v, want an auth error saying no token was found", err)
	}
	if len(h.requests) != 0 {
		t.Fatalf("requests without a token: %q", h.requests)
	}
	lines := strings.Split(strings.TrimSpace(h.out.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "AUTH_FAILED: run 1 ") || !strings.HasPrefix(lines[1], "AUTH_FAILED: run 2 ") {
		t.Fatalf("stdout = %q, want one AUTH_FAILED line per run", h.out)
	}
}

// The token never shows, whichever source gave it, with verbose logging,
// on success and on every failure class.
func TestApproveRunsTokenNeverShown(t *testing.T) {
	sources := []struct {
		name       string
		setup      func(t *testing.T, h *harness, opts *ApproveRunsOptions)
		wantSource string
	}{
		{name: "GH_TOKEN", setup: func(_ *testing.T, h *harness, _ *ApproveRunsOptions) {
			delete(h.env, "GITHUB_TOKEN")
			h.env["GH_TOKEN"] = secret
		}, wantSource: "GH_TOKEN (environment)"},
		{name: "gh auth token", setup: func(_ *testing.T, h *harness, _ *ApproveRunsOptions) {
			delete(h.env, "GITHUB_TOKEN")
			h.ghOut = secret
		}, wantSource: "gh auth token"},
		{name: "bashrc", setup: func(t *testing.T, h *harness, opts *ApproveRunsOptions) {
			delete(h.env, "GITHUB_TOKEN")
			rc := filepath.Join(t.TempDir(), "bashrc")
			if err := os.WriteFile(rc, []byte("export GITHUB_TOKEN=\""+secret+"\"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			opts.Bashrc = rc
		}, wantSource: "GITHUB_TOKEN line, read as text"},
	}
	for _, src := range sources {
		for _, rep := range []reply{created, badCreds, adminRequired, serverError, {status: 401, body: `{"message":"Bad credentials: ` + secret + `"}`}} {
			t.Run(src.name+"/HTTP"+strconv.Itoa(rep.status), func(t *testing.T) {
				h := newHarness(t, map[string][]reply{approveKey("octo/widgets", 9): {rep}})
				opts := &ApproveRunsOptions{Repo: "octo/widgets", RunIDs: []string{"9"}}
				src.setup(t, h, opts)
				opts.Deps = h.deps()
				err := runApproveRuns(context.Background(), opts)
				h.assertNoSecret(err)
				if !strings.Contains(h.errOut.String(), src.wantSource) {
					t.Fatalf("verbose log does not name the token source %q:\n%s", src.wantSource, h.errOut)
				}
			})
		}
	}
}

func TestApproveRunsRepoFromOrigin(t *testing.T) {
	tests := []struct {
		origin string
		ghRepo string
		want   string
	}{
		{origin: "git@github.com:forkee/tool.git", want: "forkee/tool"},
		{origin: "https://github.com/forkee/tool.git", want: "forkee/tool"},
		{origin: "https://github.com/forkee/tool.git", ghRepo: "other/place", want: "other/place"},
	}
	for _, tt := range tests {
		h := newHarness(t, map[string][]reply{approveKey(tt.want, 3): {created}})
		h.origin = tt.origin
		if tt.ghRepo != "" {
			h.env["GH_REPO"] = tt.ghRepo
		}
		err := runApproveRuns(context.Background(), &ApproveRunsOptions{Deps: h.deps(), RunIDs: []string{"3"}})
		if err != nil || strings.TrimSpace(h.out.String()) != "approved 3 on "+tt.want {
			t.Fatalf("origin %q GH_REPO %q: err %v, stdout %q; want approved on %s", tt.origin, tt.ghRepo, err, h.out, tt.want)
		}
	}

	h := newHarness(t, nil) // no --repo, no GH_REPO, no origin
	err := runApproveRuns(context.Background(), &ApproveRunsOptions{Deps: h.deps(), RunIDs: []string{"3"}})
	if exitClass(err) != 2 || !strings.Contains(err.Error(), "--repo") {
		t.Fatalf("err = %v, want a usage error pointing at --repo", err)
	}
}

func TestApproveRunsPending(t *testing.T) {
	const sha = "aaaabbbbccccddddeeeeffff0000111122223333"
	runsBody := `{"total_count":2,"workflow_runs":[
	 {"id":501,"name":"CI","event":"pull_request","status":"completed","conclusion":"action_required","head_sha":"` + sha + `","pull_requests":[],"head_repository":{"full_name":"forker/widgets"},"html_url":"https://github.com/octo/widgets/actions/runs/501"},
	 {"id":502,"name":"Lint","event":"pull_request","status":"completed","conclusion":"action_required","head_sha":"` + sha + `","pull_requests":[],"head_repository":{"full_name":"forker/widgets"},"html_url":"https://github.com/octo/widgets/actions/runs/502"}]}`
	base := func() map[string][]reply {
		return map[string][]reply{
			"GET /repos/octo/widgets/pulls/42":     {{status: 200, body: `{"number":42,"head":{"sha":"` + sha + `"}}`}},
			"GET /repos/octo/widgets/actions/runs": {{status: 200, body: runsBody}},
			approveKey("octo/widgets", 501):        {created},
			approveKey("octo/widgets", 502):        {adminRequired},
		}
	}

	t.Run("list for a pull request", func(t *testing.T) {
		h := newHarness(t, base())
		err := runApproveRuns(context.Background(), &ApproveRunsOptions{Deps: h.deps(), Repo: "octo/widgets", Pending: true, PR: 42})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"GET /repos/octo/widgets/pulls/42", "GET /repos/octo/widgets/actions/runs?head_sha=" + sha + "&per_page=100&status=action_required"}
		if diff := cmp.Diff(want, h.requests); diff != "" {
			t.Fatalf("requests (-want +got):\n%s", diff)
		}
		out := h.out.String()
		if !strings.Contains(out, "2 run(s) waiting for approval on octo/widgets for pull request #42") ||
			!strings.Contains(out, "501  CI") || !strings.Contains(out, "502  Lint") {
			t.Fatalf("stdout = %q", out)
		}
	})

	t.Run("approve for a commit", func(t *testing.T) {
		h := newHarness(t, base())
		err := runApproveRuns(context.Background(), &ApproveRunsOptions{Deps: h.deps(), Repo: "octo/widgets", Pending: true, SHA: sha, Approve: true})
		if exitClass(err) != 6 {
			t.Fatalf("err = %v, want the policy class for run 502", err)
		}
		lines := strings.Split(strings.TrimSpace(h.out.String()), "\n")
		if len(lines) != 2 || lines[0] != "approved 501 on octo/widgets" || !strings.HasPrefix(lines[1], "POLICY_BLOCKER: run 502") {
			t.Fatalf("stdout = %q", h.out)
		}
		h.assertNoSecret(err)
	})

	t.Run("json list", func(t *testing.T) {
		h := newHarness(t, base())
		err := runApproveRuns(context.Background(), &ApproveRunsOptions{Deps: h.deps(), Repo: "octo/widgets", Pending: true, PR: 42, JSON: true})
		if err != nil {
			t.Fatal(err)
		}
		var runs []github.Run
		if err := json.Unmarshal(h.out.Bytes(), &runs); err != nil || len(runs) != 2 || runs[0].ID != 501 || runs[0].HeadRepo != "forker/widgets" {
			t.Fatalf("JSON runs = %+v, %v", runs, err)
		}
	})

	t.Run("nothing waiting", func(t *testing.T) {
		replies := base()
		replies["GET /repos/octo/widgets/actions/runs"] = []reply{{status: 200, body: `{"total_count":0,"workflow_runs":[]}`}}
		h := newHarness(t, replies)
		err := runApproveRuns(context.Background(), &ApproveRunsOptions{Deps: h.deps(), Repo: "octo/widgets", Pending: true, PR: 42, Approve: true})
		if err != nil || !strings.Contains(h.out.String(), "no runs waiting for approval") {
			t.Fatalf("err %v, stdout %q", err, h.out)
		}
	})

	t.Run("missing pull request", func(t *testing.T) {
		h := newHarness(t, base())
		err := runApproveRuns(context.Background(), &ApproveRunsOptions{Deps: h.deps(), Repo: "octo/widgets", Pending: true, PR: 43})
		if exitClass(err) != 1 || !strings.Contains(err.Error(), "--pr 43") {
			t.Fatalf("err = %v, want a failure naming --pr 43", err)
		}
	})

	t.Run("rejected token", func(t *testing.T) {
		replies := base()
		replies["GET /repos/octo/widgets/pulls/42"] = []reply{badCreds}
		h := newHarness(t, replies)
		err := runApproveRuns(context.Background(), &ApproveRunsOptions{Deps: h.deps(), Repo: "octo/widgets", Pending: true, PR: 42})
		if exitClass(err) != 4 {
			t.Fatalf("err = %v, want the auth class", err)
		}
		h.assertNoSecret(err)
	})
}
