package scrape

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/spf13/cobra"

	"github.com/dcehost/dcehost/internal/cli/factory"
	"github.com/dcehost/dcehost/internal/dce"
	"github.com/dcehost/dcehost/internal/engine"
	"github.com/dcehost/dcehost/internal/exitcode"
	"github.com/dcehost/dcehost/internal/failure"
	"github.com/dcehost/dcehost/internal/iostreams"
	"github.com/dcehost/dcehost/internal/lock"
	"github.com/dcehost/dcehost/internal/runlog"
	"github.com/dcehost/dcehost/internal/runner"
	"github.com/dcehost/dcehost/internal/summary"
	"github.com/dcehost/dcehost/internal/token"
)

func TestFlags(t *testing.T) {
	tests := []struct {
		name string
		cmd  func(*factory.Factory, func(*Options) error) interface {
			SetArgs([]string)
			Execute() error
		}
		args []string
		want Options
	}{
		{"defaults", wrap(NewCmdScrape), nil, Options{Mode: runner.Scrape, RunnerName: "compose"}},
		{"everything", wrap(NewCmdScrape), []string{
			"--config", "c.json", "--target", "a", "--target", "b", "--guild", "1", "--channel", "2", "--channel", "3",
			"--runner", "local", "--compose-file", "dc.yml", "--summary-file", "s.json", "--log-file", "l.log",
			"--parallel", "4", "--dry-run", "--no-lock"},
			Options{Mode: runner.Scrape, Config: "c.json", Targets: []string{"a", "b"}, Guilds: []string{"1"}, Channels: []string{"2", "3"},
				RunnerName: "local", ComposeFile: "dc.yml", SummaryFile: "s.json", LogFile: "l.log", Parallel: 4, DryRun: true, NoLock: true}},
		{"preflight", wrap(NewCmdPreflight), []string{"--target", "a"}, Options{Mode: runner.Preflight, RunnerName: "compose", Targets: []string{"a"}}},
		{"salvage", wrap(NewCmdSalvage), []string{"--runner", "local"}, Options{Mode: runner.Salvage, RunnerName: "local"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := factory.New("test")
			f.IO, _, _, _ = iostreams.Test()
			var got *Options
			cmd := tt.cmd(f, func(o *Options) error { got = o; return nil })
			cmd.SetArgs(tt.args)
			if err := cmd.Execute(); err != nil {
				t.Fatal(err)
			}
			if got == nil {
				t.Fatal("runF not called")
			}
			if got.Runners["compose"] == nil || got.Runners["local"] == nil {
				t.Fatalf("runners: %v", got.Runners)
			}
			opts := cmpopts.IgnoreFields(Options{}, "IO", "Redactor", "Settings", "Getenv", "Now", "LogFormat", "CommandLine", "PID", "Runners", "Version", "HTTPClient")
			if diff := cmp.Diff(tt.want, *got, opts); diff != "" {
				t.Fatalf("options (-want +got):\n%s", diff)
			}
		})
	}
}

func wrap(newCmd func(*factory.Factory, func(*Options) error) *cobra.Command) func(*factory.Factory, func(*Options) error) interface {
	SetArgs([]string)
	Execute() error
} {
	return func(f *factory.Factory, runF func(*Options) error) interface {
		SetArgs([]string)
		Execute() error
	} {
		return newCmd(f, runF)
	}
}

// recorder is a runner that records its requests and returns results in
// order.
type recorder struct {
	reqs    []runner.Request
	results []error
	output  string // printed on req.IO.ErrOut during the run
}

func (r *recorder) Run(_ context.Context, req runner.Request) error {
	r.reqs = append(r.reqs, req)
	if r.output != "" {
		fmt.Fprintln(req.IO.ErrOut, r.output)
	}
	if len(r.reqs) <= len(r.results) {
		return r.results[len(r.reqs)-1]
	}
	return nil
}

type world struct {
	dir, root, envFile string
	opts               *Options
	stdout, stderr     *strings.Builder
}

func newWorld(t *testing.T, mode runner.Mode, r runner.Runner, envLines ...string) *world {
	t.Helper()
	dir := t.TempDir()
	w := &world{dir: dir, root: filepath.Join(dir, "archive"), envFile: filepath.Join(dir, "scrape.env")}
	if err := os.MkdirAll(filepath.Join(w.root, "a"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config", "scrape-targets.json")
	if err := os.MkdirAll(filepath.Dir(cfg), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`{"archive_root": %q, "targets": [{"name": "a", "output_dir": %q, "channel_ids": ["42"]}]}`,
		w.root, filepath.Join(w.root, "a"))), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(w.envFile, []byte(strings.Join(append([]string{"DCE_MIN_FREE_MB=0"}, envLines...), "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := factory.New("test")
	io, _, _, _ := iostreams.Test()
	w.stdout, w.stderr = &strings.Builder{}, &strings.Builder{}
	io.Out, io.ErrOut = w.stdout, w.stderr
	f.IO = io
	f.EnvFile = w.envFile
	f.Environ = func() []string { return []string{"HOME=" + dir} }
	f.WorkDir = dir
	f.Now = func() time.Time { return time.Date(2026, 6, 4, 12, 0, 0, 0, time.UTC) }
	w.opts = &Options{
		IO: f.IO, Redactor: &token.Redactor{}, Settings: f.Settings, Getenv: f.Getenv, Now: f.Now,
		LogFormat: "text", CommandLine: []string{"dcehost", string(mode)}, PID: 4242,
		Runners: map[string]runner.Runner{"local": r}, Mode: mode, RunnerName: "local",
	}
	return w
}

func TestRunLocalWithLogFile(t *testing.T) {
	const tok = "tok-unit.SECRET.1"
	rec := &recorder{output: "inner line with " + tok}
	w := newWorld(t, runner.Scrape, rec, "DISCORD_TOKEN="+tok)
	w.opts.LogFile = filepath.Join(w.dir, "scrape.log")
	w.opts.Parallel = 3
	if err := run(context.Background(), w.opts); err != nil {
		t.Fatal(err)
	}
	if len(rec.reqs) != 1 {
		t.Fatalf("%d runs", len(rec.reqs))
	}
	req := rec.reqs[0]
	if req.Token != tok || req.Parallel != 3 || req.Mode != runner.Scrape || len(req.Targets) != 1 || req.Targets[0].Name != "a" {
		t.Fatalf("request = %+v", req)
	}
	// The lock was held during the run and released after it.
	if _, err := os.Stat(lock.MetaPath(lock.DefaultPath(w.root))); !os.IsNotExist(err) {
		t.Fatalf("holder file left behind: %v", err)
	}
	data, err := os.ReadFile(w.opts.LogFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{string(data), w.stderr.String()} {
		if !strings.Contains(text, "inner line with ***") || !strings.Contains(text, "scrape finished") {
			t.Errorf("missing lines in:\n%s", text)
		}
		if strings.Contains(text, tok) {
			t.Errorf("token leaked:\n%s", text)
		}
	}
}

func TestRunLockTakenDuringRun(t *testing.T) {
	var during lock.Holder
	var w *world
	r := runner.Func(func(context.Context, runner.Request) error {
		var err error
		during, err = lock.ReadHolder(lock.MetaPath(lock.DefaultPath(w.root)))
		return err
	})
	w = newWorld(t, runner.Salvage, r)
	if err := run(context.Background(), w.opts); err != nil {
		t.Fatal(err)
	}
	want := lock.Holder{PID: 4242, Started: w.opts.Now(), Cmd: "dcehost salvage"}
	if during != want {
		t.Fatalf("holder during the run = %+v, want %+v", during, want)
	}
}

func TestRunNoLock(t *testing.T) {
	var w *world
	r := runner.Func(func(context.Context, runner.Request) error {
		if _, err := os.Stat(lock.DefaultPath(w.root)); !os.IsNotExist(err) {
			return fmt.Errorf("lock file exists with --no-lock: %v", err)
		}
		return nil
	})
	w = newWorld(t, runner.Salvage, r)
	w.opts.NoLock = true
	if err := run(context.Background(), w.opts); err != nil {
		t.Fatal(err)
	}
}

func TestRunErrorsKeepTheirClass(t *testing.T) {
	tests := []struct {
		name    string
		results []error
		runs    int
		check   func(error) bool
	}{
		{"auth twice", []error{&dce.AuthError{}, &dce.AuthError{}}, 2, func(err error) bool {
			return strings.Contains(err.Error(), "DISCORD_TOKEN (") && errors.As(err, new(*dce.AuthError))
		}},
		{"usage from the engine", []error{failure.Usagef("pattern matches two guilds")}, 1, failure.IsUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{results: tt.results}
			w := newWorld(t, runner.Scrape, rec, "DISCORD_TOKEN=tok-unit.SECRET.2")
			w.opts.LogFile = filepath.Join(w.dir, "scrape.log")
			err := run(context.Background(), w.opts)
			if err == nil || !tt.check(err) || len(rec.reqs) != tt.runs {
				t.Fatalf("run = %v after %d runs", err, len(rec.reqs))
			}
			// The log file ends with how the run ended.
			data, rerr := os.ReadFile(w.opts.LogFile)
			if rerr != nil {
				t.Fatal(rerr)
			}
			want := fmt.Sprintf("==== dcehost run finished 2026-06-04T12:00:00Z: exit %d after 0s (failed: %s) ====\n", exitcode.Of(err), err)
			if !strings.HasSuffix(string(data), want) {
				t.Fatalf("log file does not end with %q:\n%s", want, data)
			}
		})
	}
}

func TestDryRunLocal(t *testing.T) {
	rec := &recorder{}
	w := newWorld(t, runner.Scrape, rec, "DISCORD_TOKEN=tok-unit.SECRET.3", "DCE_CLI_BIN=/opt/dce/DiscordChatExporter.Cli")
	w.opts.DryRun = true
	w.opts.Channels = []string{"42"}
	if err := run(context.Background(), w.opts); err != nil {
		t.Fatal(err)
	}
	if len(rec.reqs) != 0 {
		t.Fatal("dry run ran the runner")
	}
	out := w.stdout.String()
	for _, want := range []string{"a (guild) -> " + filepath.Join(w.root, "a") + " [only channels 42]", "/opt/dce/DiscordChatExporter.Cli", "*** from DISCORD_TOKEN ("} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run lacks %q:\n%s", want, out)
		}
	}
	entries, err := os.ReadDir(w.root)
	if err != nil || !slices.Equal(names(entries), []string{"a"}) {
		t.Fatalf("archive root after dry run: %v %v", names(entries), err)
	}
}

func names(entries []os.DirEntry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// summaryWriter is a runner that writes a run summary like the engine
// does, then returns err.
func summaryWriter(err error) runner.Func {
	return func(_ context.Context, req runner.Request) error {
		sum := summary.New()
		sum.Add(summary.Channel{Target: "a", ChannelID: "42", FilePath: "n/a", Action: summary.Merged,
			BeforeCount: 1, FetchedCount: 2, AfterCount: 3, Delta: 2})
		if req.SummaryFile == "" {
			return errors.New("no summary file in the request")
		}
		if werr := sum.Write(req.SummaryFile); werr != nil {
			return werr
		}
		return err
	}
}

func TestRunMonitoring(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		wantPing string
		wantCode int
	}{
		{"success", nil, "/ping/abc", 0},
		{"channels failed", &engine.ChannelsFailedError{Channels: []string{"a/42: boom"}}, "/ping/abc/7", 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var pings []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				pings = append(pings, r.URL.Path)
				mu.Unlock()
			}))
			defer srv.Close()
			dir := t.TempDir()
			metricsFile := filepath.Join(dir, "metrics", "dcehost.prom")
			if err := os.MkdirAll(filepath.Dir(metricsFile), 0o755); err != nil {
				t.Fatal(err)
			}
			w := newWorld(t, runner.Scrape, summaryWriter(tt.err), "DISCORD_TOKEN=tok-unit.SECRET.4",
				"DCE_HEALTHCHECK_URL="+srv.URL+"/ping/abc", "DCE_METRICS_FILE="+metricsFile)
			w.opts.HTTPClient = srv.Client()
			w.opts.LogFile = filepath.Join(w.dir, "logs", "scrape.log")
			// The run is later than the clock of newWorld's summary writer.
			w.opts.Now = time.Now
			err := run(context.Background(), w.opts)
			if exitcode.Of(err) != tt.wantCode {
				t.Fatalf("run = %v, want exit %d", err, tt.wantCode)
			}
			mu.Lock()
			got := slices.Clone(pings)
			mu.Unlock()
			if want := []string{"/ping/abc/start", tt.wantPing}; !slices.Equal(got, want) {
				t.Fatalf("pings = %q, want %q", got, want)
			}
			prom, rerr := os.ReadFile(metricsFile)
			if rerr != nil {
				t.Fatal(rerr)
			}
			for _, want := range []string{fmt.Sprintf("dcehost_last_run_exit_code{command=\"scrape\"} %d\n", tt.wantCode), "dcehost_last_run_messages_appended{command=\"scrape\"} 2\n"} {
				if !strings.Contains(string(prom), want) {
					t.Errorf("metrics file lacks %q:\n%s", want, prom)
				}
			}
			// The run log: header, footer, the summary stored beside it, the record.
			rec, rerr := runlog.ReadRecord(w.opts.LogFile)
			if rerr != nil {
				t.Fatal(rerr)
			}
			if rec.ExitCode != tt.wantCode || rec.Summary == "" {
				t.Fatalf("record = %+v", rec)
			}
			stored, rerr := os.ReadFile(rec.Summary)
			if rerr != nil {
				t.Fatal(rerr)
			}
			var sum map[string]any
			if jerr := json.Unmarshal(stored, &sum); jerr != nil || sum["version"] != float64(1) {
				t.Fatalf("stored summary %s: %v %v", rec.Summary, sum, jerr)
			}
		})
	}
}

func TestRunMonitoringBadURL(t *testing.T) {
	rec := &recorder{}
	w := newWorld(t, runner.Scrape, rec, "DISCORD_TOKEN=tok-unit.SECRET.5", "DCE_HEALTHCHECK_URL=ftp://example.invalid/x")
	err := run(context.Background(), w.opts)
	if !failure.IsUsage(err) || !strings.Contains(err.Error(), "DCE_HEALTHCHECK_URL") || len(rec.reqs) != 0 {
		t.Fatalf("run = %v after %d runs", err, len(rec.reqs))
	}
}

func TestRunStatusLineOnTerminalOnly(t *testing.T) {
	r := runner.Func(func(_ context.Context, req runner.Request) error {
		if req.Progress == nil {
			return errors.New("no status line on a terminal")
		}
		req.Progress.AddTotal(2)
		req.Progress.Start("general")
		req.Log.Info("a log line while the status line is shown")
		req.Progress.Done("general", 5)
		return nil
	})
	w := newWorld(t, runner.Scrape, r, "DISCORD_TOKEN=tok-unit.SECRET.6")
	w.opts.IO.SetStderrTTY(true)
	w.opts.LogFile = filepath.Join(w.dir, "logs", "scrape.log")
	if err := run(context.Background(), w.opts); err != nil {
		t.Fatal(err)
	}
	if term := w.stderr.String(); !strings.Contains(term, "[1/2] 5 new messages") || !strings.Contains(term, "a log line while") {
		t.Fatalf("terminal lacks the status line or the log line:\n%q", term)
	}
	data, err := os.ReadFile(w.opts.LogFile)
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(string(data), "\r\x1b") || !strings.Contains(string(data), "a log line while") {
		t.Fatalf("log file has terminal control characters or lacks the log line:\n%q", data)
	}
}

func TestRunNoStatusLineOffTerminal(t *testing.T) {
	var got *runner.Request
	r := runner.Func(func(_ context.Context, req runner.Request) error { got = &req; return nil })
	w := newWorld(t, runner.Scrape, r, "DISCORD_TOKEN=tok-unit.SECRET.7")
	if err := run(context.Background(), w.opts); err != nil {
		t.Fatal(err)
	}
	if got == nil || got.Progress != nil {
		t.Fatalf("off a terminal the request carries a status line: %+v", got)
	}
}
