package healthcheck

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dcehost/dcehost/internal/failure"
)

type ping struct {
	Method, Path, RunID, Body string
}

type recorder struct {
	mu    sync.Mutex
	pings []ping
	code  int
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.pings = append(r.pings, ping{req.Method, req.URL.Path, req.URL.Query().Get("rid"), string(body)})
	code := r.code
	r.mu.Unlock()
	if code == 0 {
		code = http.StatusOK
	}
	w.WriteHeader(code)
	_, _ = io.WriteString(w, "OK")
}

func newPinger(t *testing.T, raw string, opts Options) (*Pinger, *bytes.Buffer) {
	t.Helper()
	logs := &bytes.Buffer{}
	opts.Log = slog.New(slog.NewTextHandler(logs, nil))
	p, err := New(raw, opts)
	if err != nil {
		t.Fatalf("New(%q): %v", raw, err)
	}
	return p, logs
}

func TestPings(t *testing.T) {
	tests := []struct {
		name  string
		run   func(p *Pinger)
		paths []string
		body  string
	}{
		{"success", func(p *Pinger) { p.Start(context.Background()); p.Finish(context.Background(), 0, "") },
			[]string{"/ping/abc/start", "/ping/abc"}, ""},
		{"exit code", func(p *Pinger) {
			p.Start(context.Background())
			p.Finish(context.Background(), 7, "2 channel(s) failed")
		},
			[]string{"/ping/abc/start", "/ping/abc/7"}, "2 channel(s) failed"},
		{"fail", func(p *Pinger) { p.Fail(context.Background(), "boom") },
			[]string{"/ping/abc/fail"}, "boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			srv := httptest.NewServer(rec)
			defer srv.Close()
			// A trailing slash on the configured URL must not double up.
			p, logs := newPinger(t, srv.URL+"/ping/abc/", Options{RunID: "run-1"})
			tt.run(p)
			if len(rec.pings) != len(tt.paths) {
				t.Fatalf("got %d pings %+v, want paths %q", len(rec.pings), rec.pings, tt.paths)
			}
			for i, got := range rec.pings {
				if got.Path != tt.paths[i] || got.Method != http.MethodPost || got.RunID != "run-1" {
					t.Errorf("ping %d = %+v, want POST %s rid=run-1", i, got, tt.paths[i])
				}
			}
			if last := rec.pings[len(rec.pings)-1]; last.Body != tt.body {
				t.Errorf("last ping body = %q, want %q", last.Body, tt.body)
			}
			if logs.Len() != 0 {
				t.Errorf("unexpected log output: %s", logs)
			}
		})
	}
}

func TestRandomRunIDPairsPings(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	p, _ := newPinger(t, srv.URL, Options{})
	p.Start(context.Background())
	p.Finish(context.Background(), 0, "")
	if len(rec.pings) != 2 || rec.pings[0].RunID == "" || rec.pings[0].RunID != rec.pings[1].RunID || rec.pings[0].RunID != p.RunID() {
		t.Fatalf("pings %+v: want two pings with the same non-empty rid %q", rec.pings, p.RunID())
	}
	if len(p.RunID()) != 36 || p.RunID()[14] != '4' {
		t.Errorf("RunID %q is not a version 4 UUID", p.RunID())
	}
	if rec.pings[0].Path != "/start" || rec.pings[1].Path != "" && rec.pings[1].Path != "/" {
		t.Errorf("paths %q %q", rec.pings[0].Path, rec.pings[1].Path)
	}
}

func TestServerErrorIsLoggedNotReturned(t *testing.T) {
	rec := &recorder{code: http.StatusNotFound}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	p, logs := newPinger(t, srv.URL+"/secret-uuid", Options{})
	p.Finish(context.Background(), 0, "")
	out := logs.String()
	if !strings.Contains(out, "healthcheck ping failed") || !strings.Contains(out, "404") {
		t.Errorf("log %q: want a warning naming HTTP 404", out)
	}
	if strings.Contains(out, "secret-uuid") {
		t.Errorf("log %q reveals the ping URL's path", out)
	}
}

// A ping endpoint that never answers must not hold up the run: the ping
// gives up when its (injected) timeout expires, the request's context is
// cancelled on the server side, and a warning is logged.
func TestHangingEndpointIsBoundedByTimeout(t *testing.T) {
	release := make(chan struct{})
	cancelled := make(chan struct{}, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read the body, so the server watches the connection and cancels
		// r.Context() when the client gives up.
		_, _ = io.ReadAll(r.Body)
		select {
		case <-r.Context().Done():
			cancelled <- struct{}{}
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)

	p, logs := newPinger(t, srv.URL+"/secret-uuid", Options{Timeout: 20 * time.Millisecond})
	p.Start(context.Background())
	p.Finish(context.Background(), 3, "locked")
	// Both calls returned although the server never answered; the server
	// saw each request abandoned.
	for i := 0; i < 2; i++ {
		<-cancelled
	}
	out := logs.String()
	if got := strings.Count(out, "healthcheck ping failed"); got != 2 {
		t.Fatalf("got %d warnings, want 2:\n%s", got, out)
	}
	if !strings.Contains(out, "deadline exceeded") {
		t.Errorf("log %q: want the timeout named", out)
	}
	if strings.Contains(out, "secret-uuid") {
		t.Errorf("log %q reveals the ping URL's path", out)
	}
}

// The caller's context bounds the pings too (a run being shut down does not
// wait for its monitoring).
func TestCancelledContextSkipsWaiting(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		<-r.Context().Done()
	}))
	defer srv.Close()
	p, logs := newPinger(t, srv.URL, Options{Timeout: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p.Start(ctx)
	if !strings.Contains(logs.String(), "context canceled") {
		t.Errorf("log %q: want the cancellation named", logs)
	}
}

func TestNilPingerIsNoop(t *testing.T) {
	p, err := New("  ", Options{})
	if err != nil || p != nil {
		t.Fatalf("New(blank) = %v, %v; want nil, nil", p, err)
	}
	p.Start(context.Background())
	p.Finish(context.Background(), 1, "x")
	p.Fail(context.Background(), "x")
	if p.RunID() != "" {
		t.Errorf("nil RunID = %q", p.RunID())
	}
}

func TestBadURL(t *testing.T) {
	for _, raw := range []string{"hc-ping.com/abc", "ftp://example.com/x", "https://", "https://h/x?token=1", "http://[::1"} {
		_, err := New(raw, Options{})
		if !failure.IsUsage(err) || !strings.Contains(err.Error(), URLVar) {
			t.Errorf("New(%q) = %v, want a usage error naming %s", raw, err, URLVar)
		}
		if err != nil && strings.Contains(err.Error(), "abc") {
			t.Errorf("New(%q) error %q reveals the URL path", raw, err)
		}
	}
}

func TestBodyIsClipped(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	p, _ := newPinger(t, srv.URL, Options{})
	long := strings.Repeat("a", maxBody) + "TAIL"
	p.Fail(context.Background(), long)
	if got := rec.pings[0].Body; len(got) != maxBody || !strings.HasSuffix(got, "TAIL") {
		t.Errorf("body of %d bytes (suffix %q), want the last %d bytes", len(got), got[len(got)-4:], maxBody)
	}
}
