package github

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	gh "github.com/google/go-github/v62/github"
)

// Outcome is what became of one approval request.
type Outcome string

// The outcomes of approving a run (issue 5; .docs/github.md explains each).
const (
	Approved      Outcome = "approved"
	PolicyBlocked Outcome = "policy_blocked"
	AuthFailed    Outcome = "auth_failed"
	NotFound      Outcome = "not_found"
	NotWaiting    Outcome = "not_waiting"
	RateLimited   Outcome = "rate_limited"
	Failed        Outcome = "failed"
)

// Result is the outcome of approving one run, as printed with --json.
// HTTPStatus is 0 when no HTTP response was received (no token, network
// error).
type Result struct {
	RunID      int64   `json:"run_id"`
	Outcome    Outcome `json:"outcome"`
	HTTPStatus int     `json:"http_status"`
	Message    string  `json:"message"`
}

// Classification is what Classify makes of a response or error.
type Classification struct {
	Outcome    Outcome
	HTTPStatus int
	// Message is GitHub's own message (or the transport error).
	Message string
	// Wait is how long GitHub asked to wait before retrying, for
	// rate_limited; WaitKnown is false when it gave no hint.
	Wait      time.Duration
	WaitKnown bool
}

// Messages GitHub answers a refused approval with. Matched
// case-insensitively as substrings of the "message" field.
var (
	// Repository policy: the caller lacks the rights the repository asks
	// for, or the app/Actions token is not allowed this action. Not fixed
	// by a new token.
	policyMessages = []string{
		"must have admin rights",
		"resource not accessible by integration",
	}
	// The token itself lacks what is needed: a fine-grained PAT without
	// Actions: write, or a token not authorised for the organisation's SAML
	// single sign-on. Fixed by the token's owner.
	tokenMessages = []string{
		"resource not accessible by personal access token",
		"saml enforcement",
		"bad credentials",
		"requires authentication",
	}
	// The run exists but is not (or no longer) waiting for a fork approval.
	// GitHub answers 403 "This run is not from a fork pull request or
	// queued by the Actions bot" for runs the endpoint cannot approve; the
	// other phrases cover a run already approved or finished.
	notWaitingMessages = []string{
		"not from a fork pull request",
		"not waiting",
		"not awaiting",
		"already approved",
		"does not require approval",
		"doesn't require approval",
	}
)

func containsAny(s string, subs []string) bool {
	s = strings.ToLower(s)
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// Classify maps a go-github result to an outcome. resp and err are what
// Client.Do returned; now is the injected clock, used to turn a rate-limit
// reset time into a wait.
func Classify(resp *gh.Response, err error, now time.Time) Classification {
	status := 0
	if resp != nil && resp.Response != nil {
		status = resp.StatusCode
	}
	if err == nil {
		return Classification{Outcome: Approved, HTTPStatus: status, Message: "approved"}
	}

	var (
		accepted *gh.AcceptedError
		rate     *gh.RateLimitError
		abuse    *gh.AbuseRateLimitError
		er       *gh.ErrorResponse
	)
	switch {
	case errors.As(err, &accepted):
		// 202: GitHub took the approval and will process it.
		return Classification{Outcome: Approved, HTTPStatus: http.StatusAccepted, Message: "approval accepted"}
	case errors.As(err, &rate):
		c := Classification{Outcome: RateLimited, HTTPStatus: statusOf(rate.Response, status), Message: orDefault(rate.Message, "API rate limit exceeded")}
		c.Wait, c.WaitKnown = waitFromHeaders(rate.Response, now)
		if !c.WaitKnown && !rate.Rate.Reset.IsZero() {
			c.Wait, c.WaitKnown = nonNegative(rate.Rate.Reset.Sub(now)), true
		}
		return c
	case errors.As(err, &abuse):
		c := Classification{Outcome: RateLimited, HTTPStatus: statusOf(abuse.Response, status), Message: orDefault(abuse.Message, "secondary rate limit exceeded")}
		c.Wait, c.WaitKnown = waitFromHeaders(abuse.Response, now)
		if !c.WaitKnown && abuse.RetryAfter != nil {
			c.Wait, c.WaitKnown = nonNegative(*abuse.RetryAfter), true
		}
		return c
	case errors.As(err, &er):
		return classifyErrorResponse(er, statusOf(er.Response, status), now)
	}
	return Classification{Outcome: Failed, HTTPStatus: status, Message: err.Error()}
}

func classifyErrorResponse(er *gh.ErrorResponse, status int, now time.Time) Classification {
	msg := er.Message
	if msg == "" {
		msg = http.StatusText(status)
	}
	c := Classification{HTTPStatus: status, Message: msg}
	switch {
	case status == http.StatusUnauthorized:
		c.Outcome = AuthFailed
	case status == http.StatusTooManyRequests:
		c.Outcome = RateLimited
		c.Wait, c.WaitKnown = waitFromHeaders(er.Response, now)
	case status == http.StatusForbidden && strings.Contains(strings.ToLower(msg), "rate limit"):
		// A rate-limit 403 go-github did not recognise (no
		// X-RateLimit-Remaining: 0, no secondary-limit documentation URL).
		c.Outcome = RateLimited
		c.Wait, c.WaitKnown = waitFromHeaders(er.Response, now)
	case (status == http.StatusForbidden || status == http.StatusConflict || status == http.StatusUnprocessableEntity) &&
		containsAny(msg, notWaitingMessages):
		c.Outcome = NotWaiting
	case status == http.StatusForbidden && containsAny(msg, policyMessages):
		c.Outcome = PolicyBlocked
	case status == http.StatusForbidden && containsAny(msg, tokenMessages):
		c.Outcome = AuthFailed
	case status == http.StatusNotFound:
		c.Outcome = NotFound
	default:
		c.Outcome = Failed
	}
	return c
}

// waitFromHeaders reads Retry-After (seconds or an HTTP date), then
// X-RateLimit-Reset (Unix seconds) against the injected clock.
func waitFromHeaders(r *http.Response, now time.Time) (time.Duration, bool) {
	if r == nil {
		return 0, false
	}
	if v := strings.TrimSpace(r.Header.Get("Retry-After")); v != "" {
		if secs, err := strconv.ParseInt(v, 10, 64); err == nil && secs >= 0 {
			return time.Duration(secs) * time.Second, true
		}
		if t, err := http.ParseTime(v); err == nil {
			return nonNegative(t.Sub(now)), true
		}
	}
	if v := strings.TrimSpace(r.Header.Get("X-RateLimit-Reset")); v != "" {
		if secs, err := strconv.ParseInt(v, 10, 64); err == nil && secs > 0 {
			return nonNegative(time.Unix(secs, 0).Sub(now)), true
		}
	}
	return 0, false
}

func nonNegative(d time.Duration) time.Duration {
	if d < 0 {
		return 0
	}
	return d
}

func statusOf(r *http.Response, fallback int) int {
	if r != nil {
		return r.StatusCode
	}
	return fallback
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Severity orders outcomes for the exit code: an auth failure outranks a
// policy blocker, which outranks everything else.
func (o Outcome) Severity() int {
	switch o {
	case Approved:
		return 0
	case AuthFailed:
		return 3
	case PolicyBlocked:
		return 2
	}
	return 1
}
