package gh

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dcehost/dcehost/internal/failure"
	"github.com/dcehost/dcehost/internal/github"
	"github.com/dcehost/dcehost/internal/iostreams"
	"github.com/dcehost/dcehost/internal/logging"
	"github.com/dcehost/dcehost/internal/token"
)

const secret = "ghp_cliSecretToken0123456789abcdef"

var testNow = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// reply is one canned GitHub response, shaped like the real ones.
type reply struct {
	status int
	header map[string]string
	body   string
}

var (
	created       = reply{status: 201}
	adminRequired = reply{status: 403, body: `{"message":"Must have admin rights to Repository.","documentation_url":"https://docs.github.com/rest/actions/workflow-runs#approve-a-workflow-run-for-a-fork-pull-request","status":"403"}`}
	integration   = reply{status: 403, body: `{"message":"Resource not accessible by integration","documentation_url":"https://docs.github.com/rest/actions/workflow-runs#approve-a-workflow-run-for-a-fork-pull-request","status":"403"}`}
	notFromFork   = reply{status: 403, body: `{"message":"This run is not from a fork pull request or queued by the Actions bot","documentation_url":"https://docs.github.com/rest/actions/workflow-runs#approve-a-workflow-run-for-a-fork-pull-request","status":"403"}`}
	badCreds      = reply{status: 401, body: `{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest","status":"401"}`}
	notFound      = reply{status: 404, body: `{"message":"Not Found","documentation_url":"https://docs.github.com/rest/actions/workflow-runs#approve-a-workflow-run-for-a-fork-pull-request","status":"404"}`}
	serverError   = reply{status: 500, body: `{"message":"Server Error"}`}
)

func primaryLimit(d time.Duration) reply {
	return reply{status: 403, header: map[string]string{
		"X-RateLimit-Limit":     "5000",
		"X-RateLimit-Remaining": "0",
		"X-RateLimit-Reset":     strconv.FormatInt(testNow.Add(d).Unix(), 10),
		"X-RateLimit-Resource":  "core",
	}, body: `{"message":"API rate limit exceeded for user ID 1.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}`}
}

func tooMany(secs int) reply {
	return reply{status: 429, header: map[string]string{"Retry-After": strconv.Itoa(secs)},
		body: `{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}`}
}

func approveKey(repo string, id int) string {
	return "POST /repos/" + repo + "/actions/runs/" + strconv.Itoa(id) + "/approve"
}

// harness runs a gh command against a fake GitHub with every outside
// dependency injected.
type harness struct {
	t        *testing.T
	mu       sync.Mutex
	replies  map[string][]reply
	requests []string
	auth     []string
	srv      *httptest.Server

	env      map[string]string
	ghOut    string // what `gh auth token` prints; "" = gh not installed
	origin   string // what `git remote get-url origin` prints; "" = fails
	runs     [][]string
	sleeps   []time.Duration
	out      *bytes.Buffer
	errOut   *bytes.Buffer
	redactor *token.Redactor
}

func newHarness(t *testing.T, replies map[string][]reply) *harness {
	t.Helper()
	h := &harness{t: t, replies: replies, redactor: &token.Redactor{}}
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	h.env = map[string]string{"GITHUB_TOKEN": secret, "GITHUB_API_URL": h.srv.URL}
	return h
}

func (h *harness) serve(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	key := r.Method + " " + r.URL.Path
	q := ""
	if r.URL.RawQuery != "" {
		q = "?" + r.URL.RawQuery
	}
	h.requests = append(h.requests, key+q)
	h.auth = append(h.auth, r.Header.Get("Authorization"))
	list := h.replies[key]
	rep := reply{status: 404, body: `{"message":"Not Found","documentation_url":"https://docs.github.com/rest"}`}
	switch {
	case len(list) == 1:
		rep = list[0]
	case len(list) > 1:
		rep, h.replies[key] = list[0], list[1:]
	}
	h.mu.Unlock()
	for k, v := range rep.header {
		w.Header().Set(k, v)
	}
	if rep.body != "" {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
	}
	w.WriteHeader(rep.status)
	_, _ = w.Write([]byte(rep.body))
}

func (h *harness) run(_ context.Context, name string, args ...string) ([]byte, error) {
	h.runs = append(h.runs, append([]string{name}, args...))
	switch {
	case name == "/usr/bin/gh" && strings.Join(args, " ") == "auth token":
		return []byte(h.ghOut + "\n"), nil
	case name == "git" && strings.Join(args, " ") == "-C /work/checkout remote get-url origin" && h.origin != "":
		return []byte(h.origin + "\n"), nil
	}
	return nil, errors.New("exit status 1")
}

func (h *harness) deps() Deps {
	io, _, out, errOut := iostreams.Test()
	h.out, h.errOut = out, errOut
	return Deps{
		IO:         io,
		HTTPClient: h.srv.Client(),
		Getenv:     func(k string) string { return h.env[k] },
		LookPath: func(name string) (string, error) {
			if name == "gh" && h.ghOut != "" {
				return "/usr/bin/gh", nil
			}
			return "", exec.ErrNotFound
		},
		Run:      h.run,
		Now:      func() time.Time { return testNow },
		Sleep:    func(_ context.Context, d time.Duration) error { h.sleeps = append(h.sleeps, d); return nil },
		Log:      logging.New(errOut, logging.Text, true, h.redactor),
		Redactor: h.redactor,
		Home:     h.t.TempDir(),
		WorkDir:  "/work/checkout",
		Version:  "test",
	}
}

// assertNoSecret fails when the token shows anywhere the user can see.
func (h *harness) assertNoSecret(err error) {
	h.t.Helper()
	for name, s := range map[string]string{"stdout": h.out.String(), "stderr and log": h.errOut.String()} {
		if strings.Contains(s, secret) {
			h.t.Fatalf("%s shows the token:\n%s", name, s)
		}
	}
	if err != nil && strings.Contains(err.Error(), secret) {
		h.t.Fatalf("error shows the token: %v", err)
	}
	for _, argv := range h.runs {
		if strings.Contains(strings.Join(argv, " "), secret) {
			h.t.Fatalf("argv %q carries the token", argv)
		}
	}
	for _, a := range h.auth {
		if a != "Bearer "+secret {
			h.t.Fatalf("Authorization header %q, want the token as a bearer token", a)
		}
	}
}

// exitClass maps an error the way cmd/dcehost does for the gh classes.
func exitClass(err error) int {
	var (
		usage  *failure.UsageError
		auth   *github.AuthError
		policy *github.PolicyError
		silent *failure.SilentError
	)
	switch {
	case err == nil:
		return 0
	case errors.As(err, &silent):
		return silent.Code
	case errors.As(err, &usage):
		return 2
	case errors.As(err, &auth):
		return 4
	case errors.As(err, &policy):
		return 6
	}
	return 1
}
