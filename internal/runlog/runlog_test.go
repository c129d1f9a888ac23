package runlog

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dcehost/dcehost/internal/token"
)

const secret = "mfa.SECRET-token-value"

var t0 = time.Date(2026, 6, 4, 4, 0, 0, 0, time.UTC)

func header() Header {
	r := &token.Redactor{}
	r.Add(secret)
	return Header{
		Time:     t0,
		Version:  "1.2.3",
		Args:     []string{"/usr/local/bin/dcehost", "scrape", "--env-file", "/home/me/discord/scrape.env", "--target", "my server", "--oops", secret},
		Redactor: r,
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestOpenWritesHeaderLinesAndFooter(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "logs", "scrape.log") // logs/ does not exist yet
	var w io.WriteCloser
	l, err := Open(path, header())
	if err != nil {
		t.Fatal(err)
	}
	w = l // drop-in for the io.WriteCloser scrape uses
	fmt.Fprintf(w, "time=... level=INFO msg=\"token %s loaded\"\n", secret)
	if err := l.Finish(Result{Finished: t0.Add(90 * time.Second), ExitCode: 7, Err: fmt.Errorf("scrape: 1 channel(s) failed: token %s", secret)}); err != nil {
		t.Fatal(err)
	}
	got := read(t, path)
	want := `==== dcehost 1.2.3 run started 2026-06-04T04:00:00Z ====
command: /usr/local/bin/dcehost scrape --env-file /home/me/discord/scrape.env --target 'my server' --oops ***
time=... level=INFO msg="token *** loaded"
==== dcehost run finished 2026-06-04T04:01:30Z: exit 7 after 1m30s (failed: scrape: 1 channel(s) failed: token ***) ====
`
	if got != want {
		t.Errorf("log:\n%s\nwant:\n%s", got, want)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("log mode %v, want 0600", st.Mode().Perm())
	}
	if _, err := l.Write([]byte("late\n")); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("write after Finish = %v, want fs.ErrClosed", err)
	}
}

func TestAppendsRuns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scrape.log")
	for i := 0; i < 2; i++ {
		l, err := Open(path, header())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(l, "run %d\n", i)
		if err := l.Finish(Result{Finished: t0}); err != nil {
			t.Fatal(err)
		}
	}
	got := read(t, path)
	if strings.Count(got, "run started") != 2 || !strings.Contains(got, "run 0\n") || !strings.Contains(got, "run 1\n") {
		t.Errorf("two runs not both kept:\n%s", got)
	}
	if !strings.Contains(got, "exit 0 after 0s (ok)") {
		t.Errorf("footer of a successful run missing:\n%s", got)
	}
}

func TestRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "scrape.log")
	opts := Options{MaxBytes: 100, Keep: 2}
	// Run 1 writes more than MaxBytes; each later Open rotates first.
	for run := 1; run <= 4; run++ {
		l, err := OpenWith(path, header(), opts)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(l, "RUN%d %s\n", run, strings.Repeat("x", 120))
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]string{"scrape.log": "RUN4", "scrape.log.1": "RUN3", "scrape.log.2": "RUN2"}
	for name, marker := range want {
		if got := read(t, filepath.Join(dir, name)); !strings.Contains(got, marker) || strings.Count(got, "run started") != 1 {
			t.Errorf("%s = %q, want only %s", name, got, marker)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "scrape.log.3")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("scrape.log.3 exists; Keep is 2")
	}

	// A small log is not rotated.
	small := filepath.Join(dir, "small.log")
	for i := 0; i < 3; i++ {
		l, err := OpenWith(small, header(), Options{MaxBytes: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		l.Close()
	}
	if strings.Count(read(t, small), "run started") != 3 {
		t.Error("a log under the limit was rotated")
	}
}

func TestStoreSummaryAndRecord(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "scrape.log")
	runSummary := filepath.Join(dir, "run-summary.json")
	for i, body := range []string{`{"version":1,"n":1}`, `{"version":1,"n":2}`, `{"version":1,"n":3}`} {
		if err := os.WriteFile(runSummary, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		l, err := OpenWith(path, header(), Options{KeepSummaries: 2})
		if err != nil {
			t.Fatal(err)
		}
		// Runs 2 and 3 finish in the same second.
		at := t0
		if i > 0 {
			at = t0.Add(time.Hour)
		}
		stored, err := l.StoreSummary(runSummary, at)
		if err != nil {
			t.Fatal(err)
		}
		if got := read(t, stored); got != body {
			t.Errorf("stored %s = %q, want %q", stored, got, body)
		}
		if err := l.Finish(Result{Finished: at, ExitCode: i}); err != nil {
			t.Fatal(err)
		}
	}
	sdir := filepath.Join(dir, SummariesDir)
	entries, _ := os.ReadDir(sdir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "20260604T050000Z-1.json 20260604T050000Z.json" {
		t.Errorf("summaries kept = %q, want the two newest", names)
	}
	latest, err := LatestSummary(path)
	if err != nil || latest != filepath.Join(sdir, "20260604T050000Z-1.json") {
		t.Errorf("LatestSummary = %q, %v", latest, err)
	}
	log := read(t, path)
	if !strings.Contains(log, "summary: "+filepath.Join(sdir, "20260604T050000Z-1.json")+"\n") {
		t.Errorf("log has no pointer to the last summary:\n%s", log)
	}

	rec, err := ReadRecord(path)
	if err != nil {
		t.Fatal(err)
	}
	if rec.ExitCode != 2 || rec.Summary != latest || rec.Log != path || rec.Version != "1.2.3" ||
		!rec.Started.Equal(t0) || !rec.Finished.Equal(t0.Add(time.Hour)) || strings.Contains(rec.Command, secret) {
		t.Errorf("record = %+v", rec)
	}
	raw := read(t, filepath.Join(dir, RecordFile))
	var generic map[string]any
	if err := json.Unmarshal([]byte(raw), &generic); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"version", "command", "started", "finished", "exit_code", "log", "summary"} {
		if _, ok := generic[key]; !ok {
			t.Errorf("record lacks %q: %s", key, raw)
		}
	}
}

func TestStoreSummaryMissingSource(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(filepath.Join(dir, "scrape.log"), header())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got, err := l.StoreSummary(filepath.Join(dir, "none.json"), t0)
	if got != "" || err != nil {
		t.Errorf("StoreSummary(missing) = %q, %v; want nothing stored, no error", got, err)
	}
	if _, err := os.Stat(filepath.Join(dir, SummariesDir)); !errors.Is(err, fs.ErrNotExist) {
		t.Error("summaries/ created for a run without a summary")
	}
}

func TestLatestSummaryNone(t *testing.T) {
	got, err := LatestSummary(filepath.Join(t.TempDir(), "scrape.log"))
	if got != "" || err != nil {
		t.Errorf("LatestSummary with no summaries = %q, %v", got, err)
	}
	if _, err := ReadRecord(filepath.Join(t.TempDir(), "scrape.log")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadRecord with no record = %v, want fs.ErrNotExist", err)
	}
}

func TestSummaryOrderAcrossSuffixes(t *testing.T) {
	names := []string{"20260604T050000Z-10.json", "20260604T050000Z-2.json", "20260604T050000Z.json", "20260101T000000Z-3.json"}
	dir := t.TempDir()
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	got, err := summaryNames(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := "20260101T000000Z-3.json 20260604T050000Z.json 20260604T050000Z-2.json 20260604T050000Z-10.json"
	if strings.Join(got, " ") != want {
		t.Errorf("order %q, want %q", got, want)
	}
}

func TestOpenErrorsNamePath(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(blocker, "scrape.log") // a file where a directory is needed
	_, err := Open(path, header())
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("Open(%s) = %v, want an error naming it", path, err)
	}
	if _, err := Open("", header()); err == nil {
		t.Error("Open(\"\") succeeded")
	}
}
