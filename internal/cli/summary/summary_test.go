package summary

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dcehost/dcehost/internal/failure"
	"github.com/dcehost/dcehost/internal/iostreams"
	"github.com/dcehost/dcehost/internal/settings"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func newOpts(t *testing.T, envDir string, environ ...string) (*Options, *bytes.Buffer, *bytes.Buffer) {
	io, in, out, _ := iostreams.Test()
	return &Options{
		IO: io,
		Settings: func(flags map[string]string) (*settings.Settings, error) {
			return settings.Load(settings.LoadOptions{EnvFileFlag: filepath.Join(envDir, "scrape.env"), Environ: environ, WorkDir: envDir, Flags: flags})
		},
	}, in, out
}

func TestTableGolden(t *testing.T) {
	tests := []struct {
		name, file, golden string
		failed             bool
	}{
		{"full", "testdata/run-summary.json", "run-summary.golden", false},
		{"failed only", "testdata/run-summary.json", "run-summary-failed.golden", true},
		{"old tooling file", "testdata/old-tooling-summary.json", "old-tooling.golden", false},
		{"none failed", "testdata/old-tooling-summary.json", "none-failed.golden", true},
		{"last line of a log", "testdata/cron-mail.txt", "cron-mail.golden", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts, _, out := newOpts(t, t.TempDir())
			opts.File, opts.Failed = tt.file, tt.failed
			if err := runSummary(opts); err != nil {
				t.Fatal(err)
			}
			golden(t, tt.golden, out.String())
		})
	}
}

func TestJSON(t *testing.T) {
	opts, _, out := newOpts(t, t.TempDir())
	opts.File, opts.JSON = "testdata/run-summary.json", true
	if err := runSummary(opts); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, out)
	}
	// Schema version 1: these keys and types.
	if doc["version"] != float64(1) || doc["finished_at"] != "2026-06-04T12:00:00Z" {
		t.Errorf("version/finished_at: %v %v", doc["version"], doc["finished_at"])
	}
	totals, _ := doc["totals"].(map[string]any)
	for _, k := range []string{"created", "merged", "unchanged", "skipped", "skipped_oom", "messages_appended", "failed"} {
		if _, ok := totals[k].(float64); !ok {
			t.Errorf("totals.%s missing or not a number", k)
		}
	}
	channels, _ := doc["channels"].([]any)
	if len(channels) != 5 {
		t.Fatalf("%d channels, want 5", len(channels))
	}
	for i, c := range channels {
		m := c.(map[string]any)
		for _, k := range []string{"target", "channel_id", "guild_label", "file_path", "action"} {
			if _, ok := m[k].(string); !ok {
				t.Errorf("channels[%d].%s missing or not a string", i, k)
			}
		}
		for _, k := range []string{"before_count", "fetched_count", "after_count", "delta"} {
			if _, ok := m[k].(float64); !ok {
				t.Errorf("channels[%d].%s missing or not a number", i, k)
			}
		}
	}

	opts, _, out = newOpts(t, t.TempDir())
	opts.File, opts.JSON, opts.Failed = "testdata/old-tooling-summary.json", true, true
	if err := runSummary(opts); err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out.String()) != "[]" {
		t.Errorf("--failed --json with no failure = %q, want []", out)
	}
}

func TestStdin(t *testing.T) {
	opts, in, out := newOpts(t, t.TempDir())
	data, _ := os.ReadFile("testdata/cron-mail.txt")
	in.Write(data)
	opts.File = "-"
	if err := runSummary(opts); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "(standard input)") || !strings.Contains(out.String(), "777777777777777777") {
		t.Errorf("output:\n%s", out)
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := map[string]struct{ file, want string }{
		"missing":       {filepath.Join(dir, "nope.json"), "nope.json"},
		"not a summary": {write("log.txt", "hello\n"), "neither a summary file"},
		"bad json":      {write("bad.json", "{\"version\": 1,"), "bad.json"},
		"version 2":     {write("v2.json", `{"version":2,"finished_at":"2026-01-01T00:00:00Z"}`), "version 2"},
		"bad action":    {write("act.json", `{"version":1,"finished_at":"2026-01-01T00:00:00Z","channels":[{"channel_id":"1","action":"EXPLODED"}]}`), "EXPLODED"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			opts, _, _ := newOpts(t, dir)
			opts.File = tt.file
			err := runSummary(opts)
			if !failure.IsUsage(err) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want a usage error containing %q", err, tt.want)
			}
		})
	}
}

// Without FILE: the newer of DCE_RUN_SUMMARY_FILE and the newest summary
// stored beside the log.
func TestLastRun(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "scrape.env"), []byte("DCE_RUN_SUMMARY_FILE=logs/last-run-summary.json\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	stored := filepath.Join(dir, "logs", "summaries", "20260604T120000Z.json")
	if err := os.MkdirAll(filepath.Dir(stored), 0o700); err != nil {
		t.Fatal(err)
	}
	full, _ := os.ReadFile("testdata/run-summary.json")
	old, _ := os.ReadFile("testdata/old-tooling-summary.json")
	direct := filepath.Join(dir, "logs", "last-run-summary.json")
	if err := os.WriteFile(stored, full, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(direct, old, 0o600); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 6, 4, 12, 0, 0, 0, time.UTC)
	setTimes := func(storedAt, directAt time.Time) {
		if err := os.Chtimes(stored, storedAt, storedAt); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(direct, directAt, directAt); err != nil {
			t.Fatal(err)
		}
	}

	setTimes(t0, t0.Add(-time.Hour))
	opts, _, out := newOpts(t, dir)
	if err := runSummary(opts); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "("+stored+")") {
		t.Errorf("want the stored summary (newer):\n%s", out)
	}

	setTimes(t0.Add(-time.Hour), t0)
	opts, _, out = newOpts(t, dir)
	if err := runSummary(opts); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "("+direct+")") {
		t.Errorf("want DCE_RUN_SUMMARY_FILE (newer):\n%s", out)
	}

	// --log-file elsewhere, no DCE_RUN_SUMMARY_FILE in the environment's
	// env file: nothing found.
	empty := t.TempDir()
	if err := os.WriteFile(filepath.Join(empty, "scrape.env"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	opts, _, _ = newOpts(t, empty)
	opts.LogFile = filepath.Join(empty, "x", "scrape.log")
	err := runSummary(opts)
	var nf *NotFoundError
	if !errors.As(err, &nf) || !strings.Contains(err.Error(), filepath.Join(empty, "x", "summaries")) {
		t.Errorf("err = %v, want a NotFoundError naming where it looked", err)
	}
}
