// Package healthcheck pings a Healthchecks-style monitoring URL
// (DCE_HEALTHCHECK_URL) when a run starts, succeeds or fails, so a missed or
// failed cron run is noticed without anyone reading mail.
//
// The protocol is the one of healthchecks.io and compatible services:
//
//	<url>/start      the run started
//	<url>            the run succeeded
//	<url>/<code>     the run ended with exit code <code> (non-zero: failure)
//	<url>/fail       the run failed and no exit code is known
//
// Every ping carries the same ?rid= run id so the service can pair start and
// end. A ping never fails the run: it has a short timeout, and an error is
// logged and otherwise ignored.
package healthcheck

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dcehost/dcehost/internal/failure"
)

// URLVar is the variable that enables the pings.
const URLVar = "DCE_HEALTHCHECK_URL"

// DefaultTimeout bounds one ping, connection and response included.
const DefaultTimeout = 10 * time.Second

// maxBody is the most bytes of text sent with a ping (the services keep
// about 100 kB; a short excerpt is all that is useful in an alert).
const maxBody = 10_000

// Pinger sends the pings of one run. A nil *Pinger is valid and does
// nothing, so callers need not check whether monitoring is configured.
type Pinger struct {
	base    *url.URL
	client  *http.Client
	timeout time.Duration
	log     *slog.Logger
	runID   string
}

// Options tune a Pinger; the zero value is the production setting.
type Options struct {
	// Client sends the requests (default: a client without its own timeout;
	// the per-ping Timeout applies).
	Client *http.Client
	// Timeout bounds each ping (default DefaultTimeout).
	Timeout time.Duration
	// Log receives a warning for each ping that fails (default: discard).
	Log *slog.Logger
	// RunID pairs the pings of one run (default: random).
	RunID string
}

// New returns a Pinger for raw, or nil when raw is empty (monitoring off).
// A malformed URL is a *failure.UsageError naming the variable.
func New(raw string, opts Options) (*Pinger, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, failure.Usagef("%s: %q is not an http(s) URL (want e.g. https://hc-ping.com/<uuid>)", URLVar, Describe(raw))
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, failure.Usagef("%s: %q must not have a query or fragment", URLVar, Describe(raw))
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	p := &Pinger{base: u, client: opts.Client, timeout: opts.Timeout, log: opts.Log, runID: opts.RunID}
	if p.client == nil {
		p.client = &http.Client{}
	}
	if p.timeout <= 0 {
		p.timeout = DefaultTimeout
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.runID == "" {
		p.runID = newRunID()
	}
	return p, nil
}

// Describe returns a form of a ping URL that is safe to print: scheme and
// host only. The path of a ping URL is its secret (anyone who knows it can
// report on the check's behalf).
func Describe(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "<unparsable URL>"
	}
	return u.Scheme + "://" + u.Host + "/..."
}

// Start reports that the run started.
func (p *Pinger) Start(ctx context.Context) {
	p.ping(ctx, "start", "")
}

// Finish reports the end of the run with its exit code: 0 pings the URL
// itself (success), any other code pings <url>/<code>. body (redacted by
// the caller, may be empty) is sent as the ping's log excerpt.
func (p *Pinger) Finish(ctx context.Context, code int, body string) {
	if code == 0 {
		p.ping(ctx, "", body)
		return
	}
	p.ping(ctx, strconv.Itoa(code), body)
}

// Fail reports a failure whose exit code is not known.
func (p *Pinger) Fail(ctx context.Context, body string) {
	p.ping(ctx, "fail", body)
}

// ping sends one request and waits at most p.timeout for it; it reports
// problems only through the log.
func (p *Pinger) ping(ctx context.Context, suffix, body string) {
	if p == nil {
		return
	}
	if err := p.send(ctx, suffix, body); err != nil {
		what := suffix
		if what == "" {
			what = "success"
		}
		p.log.Warn("healthcheck ping failed; the run goes on", "ping", what, "url", Describe(p.base.String()), "err", err)
	}
}

func (p *Pinger) send(ctx context.Context, suffix, body string) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	u := *p.base
	if suffix != "" {
		u.Path += "/" + suffix
	}
	u.RawQuery = url.Values{"rid": {p.runID}}.Encode()
	if len(body) > maxBody {
		body = body[len(body)-maxBody:]
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewBufferString(body))
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	req.Header.Set("User-Agent", "dcehost")
	resp, err := p.client.Do(req)
	if err != nil {
		// The URL (with its secret path) is in *url.Error; report only
		// the cause.
		if ue, ok := err.(*url.Error); ok {
			return ue.Err
		}
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("HTTP %s", resp.Status)
	}
	return nil
}

// RunID returns the id that pairs this run's pings ("" for a nil Pinger).
func (p *Pinger) RunID() string {
	if p == nil {
		return ""
	}
	return p.runID
}

// newRunID returns a random UUID (version 4), the form the services accept
// as rid.
func newRunID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
