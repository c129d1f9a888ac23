// Package github approves GitHub Actions runs waiting on a fork's pull
// request: token lookup (never executing a shell file), the REST calls via
// go-github, and the classification of GitHub's answers into outcomes that
// tell a repository policy refusal apart from a bad token.
package github

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	gh "github.com/google/go-github/v62/github"
)

// DefaultAPIURL is the REST API of github.com.
const DefaultAPIURL = "https://api.github.com/"

// MaxRateLimitWait: a rate limit that resets sooner than this is waited out
// once; a longer one is reported.
const MaxRateLimitWait = time.Minute

// ClientOptions configure a Client. Everything from the outside world is
// injected so tests replay GitHub's answers with httptest and never sleep.
type ClientOptions struct {
	// HTTPClient sends the requests (nil = a client with a 30s timeout).
	HTTPClient *http.Client
	// BaseURL is the REST API root (GITHUB_API_URL); "" = DefaultAPIURL. A
	// missing trailing slash is added.
	BaseURL string
	// Token authenticates every request (Authorization header only).
	Token Token
	// UserAgent is sent with every request.
	UserAgent string
	// Now is the clock rate-limit resets are measured against.
	Now func() time.Time
	// Sleep waits for d or until ctx is done.
	Sleep func(ctx context.Context, d time.Duration) error
	// Log receives debug records (never the token).
	Log *slog.Logger
}

// Client talks to the GitHub REST API.
type Client struct {
	http      *http.Client
	base      *url.URL
	token     Token
	userAgent string
	now       func() time.Time
	sleep     func(context.Context, time.Duration) error
	log       *slog.Logger
}

// NewClient checks the options and returns a Client. A bad base URL is an
// error naming GITHUB_API_URL.
func NewClient(opts ClientOptions) (*Client, error) {
	raw := opts.BaseURL
	if raw == "" {
		raw = DefaultAPIURL
	}
	if !strings.HasSuffix(raw, "/") {
		raw += "/"
	}
	base, err := url.Parse(raw)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("%s %q: want an http(s) URL such as %s", EnvAPIURL, opts.BaseURL, DefaultAPIURL)
	}
	c := &Client{
		http:      opts.HTTPClient,
		base:      base,
		token:     opts.Token,
		userAgent: opts.UserAgent,
		now:       opts.Now,
		sleep:     opts.Sleep,
		log:       opts.Log,
	}
	if c.http == nil {
		c.http = &http.Client{Timeout: 30 * time.Second}
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.sleep == nil {
		c.sleep = SleepContext
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// SleepContext waits for d or until ctx is done.
func SleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// BaseURL is the API root requests go to.
func (c *Client) BaseURL() string { return c.base.String() }

// api returns a fresh go-github client for one request. go-github remembers
// rate limits per client and refuses further requests against the wall
// clock; dcehost applies its own policy (wait once if under a minute,
// against the injected clock), so each request starts without that memory.
func (c *Client) api() *gh.Client {
	client := gh.NewClient(c.http).WithAuthToken(c.token.Value)
	base := *c.base
	client.BaseURL = &base
	if c.userAgent != "" {
		client.UserAgent = c.userAgent
	}
	return client
}

// call runs one API request, waits once for a rate limit that resets in
// under a minute and tries again, and classifies the final answer.
func (c *Client) call(ctx context.Context, what string, do func(*gh.Client) (*gh.Response, error)) (*gh.Response, Classification) {
	waited := false
	for {
		resp, err := do(c.api())
		cl := Classify(resp, err, c.now())
		c.log.Debug("github request", "request", what, "outcome", string(cl.Outcome), "http_status", cl.HTTPStatus)
		if cl.Outcome != RateLimited || waited || !cl.WaitKnown || cl.Wait >= MaxRateLimitWait {
			return resp, cl
		}
		waited = true
		c.log.Info("GitHub rate limit: waiting once before retrying", "request", what, "wait", cl.Wait.String())
		if err := c.sleep(ctx, cl.Wait); err != nil {
			cl.Message = fmt.Sprintf("%s (stopped waiting for the reset: %v)", cl.Message, err)
			return resp, cl
		}
	}
}

// ApproveRun approves one workflow run waiting on a fork's pull request:
// POST /repos/{owner}/{repo}/actions/runs/{id}/approve, 201 on success.
func (c *Client) ApproveRun(ctx context.Context, repo Repo, runID int64) Result {
	path := fmt.Sprintf("repos/%s/%s/actions/runs/%d/approve", url.PathEscape(repo.Owner), url.PathEscape(repo.Name), runID)
	_, cl := c.call(ctx, "approve run "+strconv.FormatInt(runID, 10), func(api *gh.Client) (*gh.Response, error) {
		req, err := api.NewRequest(http.MethodPost, path, nil)
		if err != nil {
			return nil, err
		}
		return api.Do(ctx, req, nil)
	})
	msg := cl.Message
	if cl.Outcome == RateLimited && cl.WaitKnown {
		msg = fmt.Sprintf("%s (resets in %s)", msg, cl.Wait.Round(time.Second))
	}
	return Result{RunID: runID, Outcome: cl.Outcome, HTTPStatus: cl.HTTPStatus, Message: msg}
}

// User is the account a token belongs to.
type User struct {
	Login string
	// Scopes are the classic OAuth scopes (X-OAuth-Scopes); ScopesReported
	// is false for fine-grained and app tokens, which send no such header.
	Scopes         []string
	ScopesReported bool
}

// CurrentUser asks GET /user who the token belongs to.
func (c *Client) CurrentUser(ctx context.Context) (*User, error) {
	var u *gh.User
	resp, cl := c.call(ctx, "get user", func(api *gh.Client) (*gh.Response, error) {
		var (
			resp *gh.Response
			err  error
		)
		u, resp, err = api.Users.Get(ctx, "")
		return resp, err
	})
	if cl.Outcome != Approved {
		return nil, c.apiError("GET /user", cl)
	}
	out := &User{Login: u.GetLogin()}
	if resp != nil && resp.Response != nil {
		if vals, ok := resp.Header[http.CanonicalHeaderKey("X-OAuth-Scopes")]; ok {
			out.ScopesReported = true
			for _, v := range vals {
				for _, s := range strings.Split(v, ",") {
					if s = strings.TrimSpace(s); s != "" {
						out.Scopes = append(out.Scopes, s)
					}
				}
			}
		}
	}
	return out, nil
}

// Access is what the token may do in a repository (GET /repos/{o}/{r},
// "permissions").
type Access struct {
	Admin, Maintain, Push, Pull bool
	Private                     bool
	// Reported is false when GitHub returned no permissions object (app
	// installation tokens).
	Reported bool
}

// RepoAccess asks GET /repos/{owner}/{repo} for the token's permissions.
func (c *Client) RepoAccess(ctx context.Context, repo Repo) (*Access, error) {
	var r *gh.Repository
	_, cl := c.call(ctx, "get repository", func(api *gh.Client) (*gh.Response, error) {
		var (
			resp *gh.Response
			err  error
		)
		r, resp, err = api.Repositories.Get(ctx, repo.Owner, repo.Name)
		return resp, err
	})
	if cl.Outcome != Approved {
		return nil, c.apiError("GET /repos/"+repo.String(), cl)
	}
	p := r.GetPermissions()
	return &Access{
		Admin:    p["admin"],
		Maintain: p["maintain"],
		Push:     p["push"],
		Pull:     p["pull"],
		Private:  r.GetPrivate(),
		Reported: r.Permissions != nil,
	}, nil
}

// PullHeadSHA returns the head commit of pull request n.
func (c *Client) PullHeadSHA(ctx context.Context, repo Repo, n int) (string, error) {
	var pr *gh.PullRequest
	_, cl := c.call(ctx, "get pull request", func(api *gh.Client) (*gh.Response, error) {
		var (
			resp *gh.Response
			err  error
		)
		pr, resp, err = api.PullRequests.Get(ctx, repo.Owner, repo.Name, n)
		return resp, err
	})
	if cl.Outcome != Approved {
		return "", c.apiError(fmt.Sprintf("GET /repos/%s/pulls/%d", repo, n), cl)
	}
	sha := pr.GetHead().GetSHA()
	if sha == "" {
		return "", fmt.Errorf("pull request %d in %s: GitHub returned no head commit", n, repo)
	}
	return sha, nil
}

// Run is a workflow run waiting for approval.
type Run struct {
	ID         int64  `json:"run_id"`
	Name       string `json:"name"`
	Event      string `json:"event"`
	Status     string `json:"status"`
	Conclusion string `json:"conclusion"`
	HeadSHA    string `json:"head_sha"`
	HeadBranch string `json:"head_branch"`
	HeadRepo   string `json:"head_repository"`
	URL        string `json:"html_url"`
}

// maxRunPages bounds the listing (100 runs a page).
const maxRunPages = 20

// PendingRuns lists the runs that wait for approval (status or conclusion
// action_required), for one head commit when sha is not empty. Fork runs
// carry no pull request list, so the head commit is how they are matched.
func (c *Client) PendingRuns(ctx context.Context, repo Repo, sha string) ([]Run, error) {
	var out []Run
	opts := &gh.ListWorkflowRunsOptions{
		Status:      "action_required",
		HeadSHA:     sha,
		ListOptions: gh.ListOptions{PerPage: 100},
	}
	for page := 0; page < maxRunPages; page++ {
		var runs *gh.WorkflowRuns
		resp, cl := c.call(ctx, "list workflow runs", func(api *gh.Client) (*gh.Response, error) {
			var (
				resp *gh.Response
				err  error
			)
			runs, resp, err = api.Actions.ListRepositoryWorkflowRuns(ctx, repo.Owner, repo.Name, opts)
			return resp, err
		})
		if cl.Outcome != Approved {
			return nil, c.apiError("GET /repos/"+repo.String()+"/actions/runs", cl)
		}
		for _, r := range runs.WorkflowRuns {
			if r.GetConclusion() != "action_required" && r.GetStatus() != "action_required" {
				continue
			}
			if sha != "" && !strings.EqualFold(r.GetHeadSHA(), sha) {
				continue
			}
			out = append(out, Run{
				ID:         r.GetID(),
				Name:       r.GetName(),
				Event:      r.GetEvent(),
				Status:     r.GetStatus(),
				Conclusion: r.GetConclusion(),
				HeadSHA:    r.GetHeadSHA(),
				HeadBranch: r.GetHeadBranch(),
				HeadRepo:   r.GetHeadRepository().GetFullName(),
				URL:        r.GetHTMLURL(),
			})
		}
		if resp == nil || resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	return out, nil
}

// apiError turns a failed classification into an error of the right class:
// *AuthError for a missing or rejected token, *PolicyError for a policy
// refusal, a plain error otherwise.
func (c *Client) apiError(what string, cl Classification) error {
	detail := cl.Message
	if cl.HTTPStatus != 0 {
		detail = fmt.Sprintf("%d %s", cl.HTTPStatus, cl.Message)
	}
	switch cl.Outcome {
	case AuthFailed:
		return &AuthError{Message: fmt.Sprintf("%s: GitHub rejected the token from %s: %s", what, c.token.Source, detail)}
	case PolicyBlocked:
		return &PolicyError{Message: fmt.Sprintf("%s: refused by repository policy: %s", what, detail)}
	case RateLimited:
		if cl.WaitKnown {
			return fmt.Errorf("%s: rate limited: %s (resets in %s)", what, detail, cl.Wait.Round(time.Second))
		}
		return fmt.Errorf("%s: rate limited: %s", what, detail)
	case NotFound:
		return fmt.Errorf("%s: not found (or not visible to the token from %s): %s", what, c.token.Source, detail)
	}
	return fmt.Errorf("%s: %s", what, detail)
}
