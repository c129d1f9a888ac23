package github

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// testNow is the injected clock; rate-limit resets are relative to it.
var testNow = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

const testToken = "ghp_testTokenValue0123456789"

// reply is one canned GitHub response.
type reply struct {
	status int
	header map[string]string
	body   string
}

// Response bodies and headers as GitHub sends them.
var (
	created       = reply{status: 201, body: ""}
	adminRequired = reply{status: 403, body: `{"message":"Must have admin rights to Repository.","documentation_url":"https://docs.github.com/rest/actions/workflow-runs#approve-a-workflow-run-for-a-fork-pull-request","status":"403"}`}
	integration   = reply{status: 403, body: `{"message":"Resource not accessible by integration","documentation_url":"https://docs.github.com/rest/actions/workflow-runs#approve-a-workflow-run-for-a-fork-pull-request","status":"403"}`}
	fineGrained   = reply{status: 403, body: `{"message":"Resource not accessible by personal access token","documentation_url":"https://docs.github.com/rest/actions/workflow-runs#approve-a-workflow-run-for-a-fork-pull-request","status":"403"}`}
	notFromFork   = reply{status: 403, body: `{"message":"This run is not from a fork pull request or queued by the Actions bot","documentation_url":"https://docs.github.com/rest/actions/workflow-runs#approve-a-workflow-run-for-a-fork-pull-request","status":"403"}`}
	badCreds      = reply{status: 401, body: `{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest","status":"401"}`}
	notFound      = reply{status: 404, body: `{"message":"Not Found","documentation_url":"https://docs.github.com/rest/actions/workflow-runs#approve-a-workflow-run-for-a-fork-pull-request","status":"404"}`}
	serverError   = reply{status: 500, body: `{"message":"Server Error"}`}
	badGateway    = reply{status: 502, body: `<html>bad gateway</html>`}
)

// primaryLimit is a 403 with X-RateLimit-Remaining: 0 resetting in d.
func primaryLimit(d time.Duration) reply {
	return reply{status: 403, header: map[string]string{
		"X-RateLimit-Limit":     "5000",
		"X-RateLimit-Remaining": "0",
		"X-RateLimit-Used":      "5000",
		"X-RateLimit-Reset":     strconv.FormatInt(testNow.Add(d).Unix(), 10),
		"X-RateLimit-Resource":  "core",
	}, body: `{"message":"API rate limit exceeded for user ID 1.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}`}
}

// secondaryLimit is a 403 secondary rate limit with Retry-After.
func secondaryLimit(secs int) reply {
	return reply{status: 403, header: map[string]string{"Retry-After": strconv.Itoa(secs)},
		body: `{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}`}
}

// tooMany is a 429 with Retry-After.
func tooMany(secs int) reply {
	return reply{status: 429, header: map[string]string{"Retry-After": strconv.Itoa(secs)},
		body: `{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}`}
}

// fakeGitHub serves canned replies per "METHOD /path" in order (the last
// one repeats) and records every request.
type fakeGitHub struct {
	mu       sync.Mutex
	replies  map[string][]reply
	requests []string
	auth     []string
}

func newFakeGitHub(t *testing.T, replies map[string][]reply) (*fakeGitHub, *httptest.Server) {
	t.Helper()
	f := &fakeGitHub{replies: replies}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeGitHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	key := r.Method + " " + r.URL.Path
	f.requests = append(f.requests, key+queryOf(r))
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	list := f.replies[key]
	var rep reply
	switch {
	case len(list) == 0:
		rep = reply{status: 404, body: `{"message":"Not Found","documentation_url":"https://docs.github.com/rest"}`}
	case len(list) == 1:
		rep = list[0]
	default:
		rep, f.replies[key] = list[0], list[1:]
	}
	f.mu.Unlock()
	for k, v := range rep.header {
		w.Header().Set(k, v)
	}
	if rep.body != "" {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
	}
	w.WriteHeader(rep.status)
	_, _ = w.Write([]byte(rep.body))
}

func queryOf(r *http.Request) string {
	if r.URL.RawQuery == "" {
		return ""
	}
	return "?" + r.URL.RawQuery
}

func (f *fakeGitHub) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.requests)
}

// sleeper records the waits instead of sleeping.
type sleeper struct{ waits []time.Duration }

func (s *sleeper) sleep(_ context.Context, d time.Duration) error {
	s.waits = append(s.waits, d)
	return nil
}

func testClient(t *testing.T, srv *httptest.Server, s *sleeper) *Client {
	t.Helper()
	c, err := NewClient(ClientOptions{
		HTTPClient: srv.Client(),
		BaseURL:    srv.URL, // no trailing slash: NewClient adds it
		Token:      Token{Value: testToken, Source: "GITHUB_TOKEN (environment)"},
		UserAgent:  "dcehost/test",
		Now:        func() time.Time { return testNow },
		Sleep:      s.sleep,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const approvePath = "POST /repos/octo/widgets/actions/runs/12345/approve"

func TestApproveRunOutcomes(t *testing.T) {
	tests := []struct {
		name      string
		replies   []reply
		want      Result
		wantMsg   string
		wantWaits []time.Duration
		wantReqs  int
	}{
		{name: "201 approved", replies: []reply{created},
			want: Result{Outcome: Approved, HTTPStatus: 201}, wantReqs: 1},
		{name: "403 admin rights", replies: []reply{adminRequired},
			want: Result{Outcome: PolicyBlocked, HTTPStatus: 403}, wantMsg: "Must have admin rights to Repository.", wantReqs: 1},
		{name: "403 resource not accessible by integration", replies: []reply{integration},
			want: Result{Outcome: PolicyBlocked, HTTPStatus: 403}, wantMsg: "Resource not accessible by integration", wantReqs: 1},
		{name: "403 fine-grained token lacks actions write", replies: []reply{fineGrained},
			want: Result{Outcome: AuthFailed, HTTPStatus: 403}, wantMsg: "personal access token", wantReqs: 1},
		{name: "403 not from a fork pull request", replies: []reply{notFromFork},
			want: Result{Outcome: NotWaiting, HTTPStatus: 403}, wantMsg: "not from a fork pull request", wantReqs: 1},
		{name: "422 not waiting", replies: []reply{{status: 422, body: `{"message":"Workflow run is not waiting for approval"}`}},
			want: Result{Outcome: NotWaiting, HTTPStatus: 422}, wantMsg: "not waiting", wantReqs: 1},
		{name: "422 other validation failure", replies: []reply{{status: 422, body: `{"message":"Validation Failed"}`}},
			want: Result{Outcome: Failed, HTTPStatus: 422}, wantMsg: "Validation Failed", wantReqs: 1},
		{name: "401 bad credentials", replies: []reply{badCreds},
			want: Result{Outcome: AuthFailed, HTTPStatus: 401}, wantMsg: "Bad credentials", wantReqs: 1},
		{name: "404", replies: []reply{notFound},
			want: Result{Outcome: NotFound, HTTPStatus: 404}, wantMsg: "Not Found", wantReqs: 1},
		{name: "403 unknown message is not claimed as policy", replies: []reply{{status: 403, body: `{"message":"Forbidden"}`}},
			want: Result{Outcome: Failed, HTTPStatus: 403}, wantMsg: "Forbidden", wantReqs: 1},
		{name: "500", replies: []reply{serverError},
			want: Result{Outcome: Failed, HTTPStatus: 500}, wantMsg: "Server Error", wantReqs: 1},
		{name: "502 with an HTML body", replies: []reply{badGateway},
			want: Result{Outcome: Failed, HTTPStatus: 502}, wantMsg: "Bad Gateway", wantReqs: 1},
		{name: "403 primary limit resetting in an hour is reported", replies: []reply{primaryLimit(time.Hour), created},
			want: Result{Outcome: RateLimited, HTTPStatus: 403}, wantMsg: "resets in 1h0m0s", wantReqs: 1},
		{name: "403 primary limit resetting in 20s is waited once", replies: []reply{primaryLimit(20 * time.Second), created},
			want: Result{Outcome: Approved, HTTPStatus: 201}, wantWaits: []time.Duration{20 * time.Second}, wantReqs: 2},
		{name: "403 secondary limit with Retry-After 10 is waited once", replies: []reply{secondaryLimit(10), adminRequired},
			want: Result{Outcome: PolicyBlocked, HTTPStatus: 403}, wantWaits: []time.Duration{10 * time.Second}, wantReqs: 2},
		{name: "429 Retry-After 30 is waited once", replies: []reply{tooMany(30), created},
			want: Result{Outcome: Approved, HTTPStatus: 201}, wantWaits: []time.Duration{30 * time.Second}, wantReqs: 2},
		{name: "429 Retry-After 120 is reported", replies: []reply{tooMany(120), created},
			want: Result{Outcome: RateLimited, HTTPStatus: 429}, wantMsg: "resets in 2m0s", wantReqs: 1},
		{name: "429 twice: one wait only", replies: []reply{tooMany(5), tooMany(5), created},
			want: Result{Outcome: RateLimited, HTTPStatus: 429}, wantWaits: []time.Duration{5 * time.Second}, wantReqs: 2},
		{name: "429 without a hint is reported", replies: []reply{{status: 429, body: `{"message":"Too Many Requests"}`}, created},
			want: Result{Outcome: RateLimited, HTTPStatus: 429}, wantMsg: "Too Many Requests", wantReqs: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, srv := newFakeGitHub(t, map[string][]reply{approvePath: tt.replies})
			s := &sleeper{}
			got := testClient(t, srv, s).ApproveRun(context.Background(), Repo{"octo", "widgets"}, 12345)
			if got.RunID != 12345 || got.Outcome != tt.want.Outcome || got.HTTPStatus != tt.want.HTTPStatus {
				t.Fatalf("ApproveRun = %+v, want outcome %s, HTTP %d", got, tt.want.Outcome, tt.want.HTTPStatus)
			}
			if !strings.Contains(got.Message, tt.wantMsg) {
				t.Fatalf("message %q does not contain %q", got.Message, tt.wantMsg)
			}
			if diff := cmp.Diff(tt.wantWaits, s.waits); diff != "" {
				t.Fatalf("waits (-want +got):\n%s", diff)
			}
			if fake.count() != tt.wantReqs {
				t.Fatalf("requests = %q, want %d", fake.requests, tt.wantReqs)
			}
			for _, a := range fake.auth {
				if a != "Bearer "+testToken {
					t.Fatalf("Authorization header = %q, want the token as a bearer token", a)
				}
			}
			if strings.Contains(got.Message, testToken) {
				t.Fatalf("message %q contains the token", got.Message)
			}
		})
	}
}

func TestApproveRunNetworkError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	c := testClient(t, srv, &sleeper{})
	srv.Close() // connection refused from now on
	got := c.ApproveRun(context.Background(), Repo{"octo", "widgets"}, 7)
	if got.Outcome != Failed || got.HTTPStatus != 0 || got.Message == "" {
		t.Fatalf("ApproveRun against a closed server = %+v, want failed with no HTTP status and a message", got)
	}
	if strings.Contains(got.Message, testToken) {
		t.Fatalf("message %q contains the token", got.Message)
	}
}

func TestNewClientBaseURL(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{in: "", want: "https://api.github.com/"},
		{in: "https://ghe.example.com/api/v3", want: "https://ghe.example.com/api/v3/"},
		{in: "http://127.0.0.1:8080/", want: "http://127.0.0.1:8080/"},
		{in: "ftp://example.com/", wantErr: true},
		{in: "not a url", wantErr: true},
	}
	for _, tt := range tests {
		c, err := NewClient(ClientOptions{BaseURL: tt.in})
		if tt.wantErr {
			if err == nil || !strings.Contains(err.Error(), EnvAPIURL) {
				t.Errorf("NewClient(%q) = %v, want an error naming %s", tt.in, err, EnvAPIURL)
			}
			continue
		}
		if err != nil || c.BaseURL() != tt.want {
			t.Errorf("NewClient(%q) base = %v, %v; want %q", tt.in, c, err, tt.want)
		}
	}
}

func TestCurrentUser(t *testing.T) {
	tests := []struct {
		name       string
		reply      reply
		want       *User
		wantAuth   bool
		wantPolicy bool
	}{
		{name: "classic token", reply: reply{status: 200, header: map[string]string{"X-OAuth-Scopes": "repo, workflow, read:org"}, body: `{"login":"octocat","id":1}`},
			want: &User{Login: "octocat", Scopes: []string{"repo", "workflow", "read:org"}, ScopesReported: true}},
		{name: "classic token without scopes", reply: reply{status: 200, header: map[string]string{"X-OAuth-Scopes": ""}, body: `{"login":"octocat"}`},
			want: &User{Login: "octocat", ScopesReported: true}},
		{name: "fine-grained token", reply: reply{status: 200, body: `{"login":"octocat"}`},
			want: &User{Login: "octocat"}},
		{name: "rejected", reply: badCreds, wantAuth: true},
		{name: "app token", reply: integration, wantPolicy: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, srv := newFakeGitHub(t, map[string][]reply{"GET /user": {tt.reply}})
			got, err := testClient(t, srv, &sleeper{}).CurrentUser(context.Background())
			var auth *AuthError
			var policy *PolicyError
			switch {
			case tt.wantAuth:
				if !errors.As(err, &auth) || !strings.Contains(err.Error(), "GITHUB_TOKEN (environment)") {
					t.Fatalf("err = %v, want *AuthError naming the token source", err)
				}
			case tt.wantPolicy:
				if !errors.As(err, &policy) {
					t.Fatalf("err = %v, want *PolicyError", err)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Fatalf("user (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestRepoAccess(t *testing.T) {
	_, srv := newFakeGitHub(t, map[string][]reply{
		"GET /repos/octo/widgets": {{status: 200, body: `{"full_name":"octo/widgets","private":true,"permissions":{"admin":false,"maintain":false,"push":true,"triage":true,"pull":true}}`}},
		"GET /repos/octo/app":     {{status: 200, body: `{"full_name":"octo/app","private":false}`}},
	})
	c := testClient(t, srv, &sleeper{})
	got, err := c.RepoAccess(context.Background(), Repo{"octo", "widgets"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&Access{Push: true, Pull: true, Private: true, Reported: true}, got); diff != "" {
		t.Fatalf("access (-want +got):\n%s", diff)
	}
	got, err = c.RepoAccess(context.Background(), Repo{"octo", "app"})
	if err != nil || got.Reported {
		t.Fatalf("access without permissions = %+v, %v; want Reported false", got, err)
	}
	if _, err := c.RepoAccess(context.Background(), Repo{"octo", "missing"}); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("RepoAccess(missing) = %v, want a not-found error", err)
	}
}

func TestPendingRuns(t *testing.T) {
	const sha = "0123456789abcdef0123456789abcdef01234567"
	page1 := `{"total_count":3,"workflow_runs":[
	 {"id":101,"name":"CI","event":"pull_request","status":"completed","conclusion":"action_required","head_sha":"` + sha + `","head_branch":"patch-1","html_url":"https://github.com/octo/widgets/actions/runs/101","pull_requests":[],"head_repository":{"full_name":"forker/widgets"}},
	 {"id":102,"name":"Lint","event":"pull_request","status":"completed","conclusion":"success","head_sha":"` + sha + `","pull_requests":[]}]}`
	page2 := `{"total_count":3,"workflow_runs":[
	 {"id":103,"name":"Docs","event":"pull_request","status":"action_required","conclusion":null,"head_sha":"` + sha + `","pull_requests":[]}]}`
	fake, srv := newFakeGitHub(t, nil)
	fake.replies = map[string][]reply{
		"GET /repos/octo/widgets/actions/runs": {
			{status: 200, header: map[string]string{"Link": `<` + srv.URL + `/repos/octo/widgets/actions/runs?page=2>; rel="next"`}, body: page1},
			{status: 200, body: page2},
		},
	}
	got, err := testClient(t, srv, &sleeper{}).PendingRuns(context.Background(), Repo{"octo", "widgets"}, sha)
	if err != nil {
		t.Fatal(err)
	}
	want := []Run{
		{ID: 101, Name: "CI", Event: "pull_request", Status: "completed", Conclusion: "action_required", HeadSHA: sha, HeadBranch: "patch-1", HeadRepo: "forker/widgets", URL: "https://github.com/octo/widgets/actions/runs/101"},
		{ID: 103, Name: "Docs", Event: "pull_request", Status: "action_required", HeadSHA: sha},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("runs (-want +got):\n%s", diff)
	}
	if len(fake.requests) != 2 ||
		!strings.Contains(fake.requests[0], "status=action_required") || !strings.Contains(fake.requests[0], "head_sha="+sha) ||
		!strings.Contains(fake.requests[1], "page=2") {
		t.Fatalf("requests = %q, want two pages filtered by status and head_sha", fake.requests)
	}
}

func TestPullHeadSHA(t *testing.T) {
	_, srv := newFakeGitHub(t, map[string][]reply{
		"GET /repos/octo/widgets/pulls/42": {{status: 200, body: `{"number":42,"head":{"sha":"feedface1234","repo":{"full_name":"forker/widgets"}}}`}},
	})
	c := testClient(t, srv, &sleeper{})
	sha, err := c.PullHeadSHA(context.Background(), Repo{"octo", "widgets"}, 42)
	if err != nil || sha != "feedface1234" {
		t.Fatalf("PullHeadSHA = %q, %v", sha, err)
	}
	if _, err := c.PullHeadSHA(context.Background(), Repo{"octo", "widgets"}, 43); err == nil {
		t.Fatal("PullHeadSHA(43) on a missing pull request: want an error")
	}
}

func TestSeverity(t *testing.T) {
	order := []Outcome{Approved, NotWaiting, PolicyBlocked, AuthFailed}
	for i := 1; i < len(order); i++ {
		if order[i].Severity() <= order[i-1].Severity() {
			t.Fatalf("%s should outrank %s", order[i], order[i-1])
		}
	}
	for _, o := range []Outcome{NotFound, NotWaiting, RateLimited, Failed} {
		if o.Severity() != 1 {
			t.Fatalf("%s severity = %d, want 1 (exit 1 class)", o, o.Severity())
		}
	}
}
