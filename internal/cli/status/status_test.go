package status

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dcehost/dcehost/internal/archive"
	"github.com/dcehost/dcehost/internal/archive/archivetest"
	"github.com/dcehost/dcehost/internal/cron"
	"github.com/dcehost/dcehost/internal/iostreams"
	"github.com/dcehost/dcehost/internal/lock"
	"github.com/dcehost/dcehost/internal/runlog"
	"github.com/dcehost/dcehost/internal/settings"
	"github.com/dcehost/dcehost/internal/targets"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var now = time.Date(2026, 6, 10, 9, 30, 0, 0, time.UTC)

// fakeCrontab is the crontab double: `crontab -l` prints its text, or
// fails like cron does for a user without a crontab.
type fakeCrontab struct {
	text  string
	calls [][]string
}

type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }
func (e exitError) ExitCode() int { return e.code }

func (f *fakeCrontab) Run(_ context.Context, argv []string, _ io.Reader, stdout, stderr io.Writer) error {
	f.calls = append(f.calls, argv)
	if argv[len(argv)-1] != "-l" {
		return fmt.Errorf("status must not run %q", argv)
	}
	if f.text == "" {
		io.WriteString(stderr, "no crontab for me\n")
		return exitError{1}
	}
	io.WriteString(stdout, f.text)
	return nil
}

func statfs(freeMB uint64) func(string, *unix.Statfs_t) error {
	return func(_ string, st *unix.Statfs_t) error {
		st.Bsize, st.Frsize, st.Bavail = 4096, 4096, freeMB*256
		return nil
	}
}

type workspace struct {
	dir, root string
	crontab   *fakeCrontab
	opts      *Options
	out       *bytes.Buffer
}

// newWorkspace lays out an env file, a config with two targets and an
// archive root; target "myserver" gets archives.
func newWorkspace(t *testing.T) *workspace {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join(dir, "archive")
	w := &workspace{dir: dir, root: root, crontab: &fakeCrontab{}}
	mkdir := func(p string) {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mkdir(filepath.Join(dir, "config"))
	mkdir(root)
	cfg := fmt.Sprintf(`{"archive_root": %q, "targets": [
  {"name": "myserver", "output_dir": %q, "guild_ids": ["123456789012345678"]},
  {"name": "dms", "kind": "dms", "output_dir": %q, "enabled": false}]}`,
		root, filepath.Join(root, "myserver"), filepath.Join(root, "dms"))
	write(t, filepath.Join(dir, "config", "scrape-targets.json"), cfg)
	write(t, filepath.Join(dir, "scrape.env"), "DCE_RUN_SUMMARY_FILE=logs/last-run-summary.json\nDCE_MIN_FREE_MB=2048\n")
	io, _, out, _ := iostreams.Test()
	w.out = out
	w.opts = &Options{
		IO: io,
		Settings: func(flags map[string]string) (*settings.Settings, error) {
			return settings.Load(settings.LoadOptions{EnvFileFlag: filepath.Join(dir, "scrape.env"), WorkDir: dir, Flags: flags})
		},
		Getenv:        func(string) string { return "" },
		Now:           func() time.Time { return now },
		CrontabRunner: w.crontab,
		Statfs:        statfs(50000),
		JobName:       "discord-scrape",
	}
	return w
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// populate adds archives, a held lock, a recorded run with its summary and
// a crontab block.
func (w *workspace) populate(t *testing.T) func() {
	t.Helper()
	out := filepath.Join(w.root, "myserver")
	t1 := time.Date(2026, 6, 4, 11, 59, 0, 0, time.UTC)
	ids := func(t0 time.Time, n int) []uint64 {
		var l []uint64
		for i := 0; i < n; i++ {
			l = append(l, archivetest.Snowflake(t0.Add(time.Duration(i)*time.Minute), 0))
		}
		return l
	}
	for _, a := range []struct {
		name string
		ch   uint64
		ids  []uint64
	}{
		{"My Server - Text - general [111111111111111111].json", 111111111111111111, ids(t1.Add(-10*time.Minute), 11)},
		{"sub/My Server - Text - quiet [333333333333333333].json", 333333333333333333, ids(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), 3)},
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(out, a.name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if _, err := archivetest.WriteFile(filepath.Join(out, a.name), archivetest.Options{ChannelID: a.ch, IDs: a.ids}); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(out, "My Server - Text - broken [444444444444444444].json"), `{"guild": {`)
	// Working files and metadata are not archives.
	write(t, filepath.Join(out, ".dce-temp", "x [555555555555555555].json"), "partial")
	write(t, filepath.Join(out, ".dce-meta", "channel-map.json"), "{}")
	write(t, filepath.Join(out, "notes.txt"), "not an archive")

	l, err := lock.Acquire(lock.DefaultPath(w.root), lock.Holder{PID: 4242, Started: time.Date(2026, 6, 10, 9, 0, 0, 0, time.UTC), Cmd: "dcehost scrape --target myserver"})
	if err != nil {
		t.Fatal(err)
	}

	summaryData, err := os.ReadFile("../summary/testdata/run-summary.json")
	if err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(w.dir, "logs", "scrape.log")
	stored := filepath.Join(w.dir, "logs", "summaries", "20260604T120000Z.json")
	write(t, stored, string(summaryData))
	rec := runlog.Record{Version: "1.2.3", Command: "dcehost scrape", Started: time.Date(2026, 6, 4, 11, 58, 0, 0, time.UTC),
		Finished: time.Date(2026, 6, 4, 12, 0, 5, 0, time.UTC), ExitCode: 7, Error: "scrape: 1 channel(s) failed", Log: logFile, Summary: stored}
	if err := runlog.WriteRecord(filepath.Join(w.dir, "logs", runlog.RecordFile), rec); err != nil {
		t.Fatal(err)
	}
	w.crontab.text = "MAILTO=me\n# BEGIN discord-scrape\n0 4 1 * * /usr/local/bin/dcehost scrape --env-file " + w.dir + "/scrape.env\n# END discord-scrape\n"
	return func() { _ = l.Release() }
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
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

func TestStatusGolden(t *testing.T) {
	w := newWorkspace(t)
	release := w.populate(t)
	defer release()
	if err := runStatus(context.Background(), w.opts); err != nil {
		t.Fatal(err)
	}
	golden(t, "full.golden", strings.ReplaceAll(w.out.String(), w.dir, "$DIR"))
}

func TestStatusEmptyWorkspace(t *testing.T) {
	w := newWorkspace(t)
	w.opts.Statfs = statfs(100) // below DCE_MIN_FREE_MB=2048
	if err := runStatus(context.Background(), w.opts); err != nil {
		t.Fatal(err)
	}
	golden(t, "empty.golden", strings.ReplaceAll(w.out.String(), w.dir, "$DIR"))
}

func TestStatusJSON(t *testing.T) {
	w := newWorkspace(t)
	release := w.populate(t)
	defer release()
	w.opts.JSON = true
	if err := runStatus(context.Background(), w.opts); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Lock struct {
			Path    string     `json:"path"`
			Held    bool       `json:"held"`
			PID     int        `json:"pid"`
			Started *time.Time `json:"started"`
			Command string     `json:"command"`
		} `json:"lock"`
		LastRun *struct {
			Finished    time.Time        `json:"finished"`
			ExitCode    *int             `json:"exit_code"`
			Error       string           `json:"error"`
			SummaryFile string           `json:"summary_file"`
			Totals      map[string]int   `json:"totals"`
			Failed      []map[string]any `json:"failed"`
			Skipped     []map[string]any `json:"skipped"`
		} `json:"last_run"`
		Targets []struct {
			Name          string     `json:"name"`
			Enabled       bool       `json:"enabled"`
			Archives      int        `json:"archives"`
			Messages      int64      `json:"messages"`
			Bytes         int64      `json:"bytes"`
			NewestMessage *time.Time `json:"newest_message"`
			Unreadable    []string   `json:"unreadable"`
			Error         string     `json:"error"`
		} `json:"targets"`
		Disk struct {
			FreeMB    uint64 `json:"free_mb"`
			MinFreeMB int64  `json:"min_free_mb"`
			Low       bool   `json:"low"`
		} `json:"disk"`
		Schedule struct {
			Installed bool       `json:"installed"`
			Schedule  string     `json:"schedule"`
			NextRun   *time.Time `json:"next_run"`
			Command   string     `json:"command"`
		} `json:"schedule"`
		Errors []any `json:"errors"`
	}
	dec := json.NewDecoder(bytes.NewReader(w.out.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&struct {
		EnvFile  string          `json:"env_file"`
		Config   string          `json:"config_file"`
		Lock     json.RawMessage `json:"lock"`
		LastRun  json.RawMessage `json:"last_run"`
		Targets  json.RawMessage `json:"targets"`
		Disk     json.RawMessage `json:"disk"`
		Schedule json.RawMessage `json:"schedule"`
		Errors   json.RawMessage `json:"errors"`
	}{}); err != nil {
		t.Fatalf("top-level keys: %v\n%s", err, w.out)
	}
	if err := json.Unmarshal(w.out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if !doc.Lock.Held || doc.Lock.PID != 4242 || doc.Lock.Started == nil || doc.Lock.Command != "dcehost scrape --target myserver" {
		t.Errorf("lock %+v", doc.Lock)
	}
	lr := doc.LastRun
	if lr == nil || lr.ExitCode == nil || *lr.ExitCode != 7 || lr.Totals["messages_appended"] != 52 || len(lr.Failed) != 1 || len(lr.Skipped) != 2 {
		t.Fatalf("last run %+v", lr)
	}
	if len(doc.Targets) != 2 {
		t.Fatalf("targets %+v", doc.Targets)
	}
	my := doc.Targets[0]
	wantNewest := time.Date(2026, 6, 4, 11, 59, 0, 0, time.UTC)
	if my.Name != "myserver" || my.Archives != 3 || my.Messages != 14 || my.NewestMessage == nil || !my.NewestMessage.Equal(wantNewest) || len(my.Unreadable) != 1 || my.Bytes == 0 {
		t.Errorf("myserver %+v (newest %v)", my, my.NewestMessage)
	}
	if dm := doc.Targets[1]; dm.Enabled || dm.Archives != 0 || dm.NewestMessage != nil || dm.Error == "" || dm.Unreadable == nil {
		t.Errorf("dms %+v", dm)
	}
	if doc.Disk.FreeMB != 50000 || doc.Disk.MinFreeMB != 2048 || doc.Disk.Low {
		t.Errorf("disk %+v", doc.Disk)
	}
	if !doc.Schedule.Installed || doc.Schedule.Schedule != "0 4 1 * *" || doc.Schedule.NextRun == nil ||
		!doc.Schedule.NextRun.Equal(time.Date(2026, 7, 1, 4, 0, 0, 0, time.UTC)) {
		t.Errorf("schedule %+v", doc.Schedule)
	}
	if len(doc.Errors) != 0 {
		t.Errorf("errors %v", doc.Errors)
	}
}

func TestProbeLock(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ".dce-scrape.lock")
	st, err := ProbeLock(path)
	if err != nil || st.Held {
		t.Fatalf("no lock file: %+v, %v", st, err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Error("probing created the lock file")
	}
	l, err := lock.Acquire(path, lock.Holder{PID: 7, Started: now, Cmd: "x"})
	if err != nil {
		t.Fatal(err)
	}
	st, err = ProbeLock(path)
	if err != nil || !st.Held || st.PID != 7 {
		t.Fatalf("held lock: %+v, %v", st, err)
	}
	// The probe did not disturb the holder, and a second run is still refused.
	if _, err := lock.Acquire(path, lock.Holder{PID: 8}); err == nil {
		t.Fatal("lock taken twice")
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	st, err = ProbeLock(path)
	if err != nil || st.Held {
		t.Fatalf("released lock: %+v, %v", st, err)
	}
	// A free lock can be taken after probing.
	l2, err := lock.Acquire(path, lock.Holder{PID: 9})
	if err != nil {
		t.Fatal(err)
	}
	l2.Release()
}

// A summary newer than the run record is a run without a log: shown, with
// its exit code unknown.
func TestSummaryNewerThanRecord(t *testing.T) {
	w := newWorkspace(t)
	release := w.populate(t)
	release()
	data, _ := os.ReadFile("../summary/testdata/old-tooling-summary.json")
	newer := strings.Replace(string(data), "2026-05-01T04:10:00Z", "2026-06-09T04:10:00Z", 1)
	direct := filepath.Join(w.dir, "logs", "last-run-summary.json")
	write(t, direct, newer)
	stored := filepath.Join(w.dir, "logs", "summaries", "20260604T120000Z.json")
	for path, at := range map[string]time.Time{direct: now, stored: now.Add(-time.Hour)} {
		if err := os.Chtimes(path, at, at); err != nil {
			t.Fatal(err)
		}
	}
	w.opts.JSON = true
	if err := runStatus(context.Background(), w.opts); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		LastRun struct {
			ExitCode    *int      `json:"exit_code"`
			Finished    time.Time `json:"finished"`
			SummaryFile string    `json:"summary_file"`
		} `json:"last_run"`
	}
	if err := json.Unmarshal(w.out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.LastRun.ExitCode != nil || doc.LastRun.SummaryFile != direct || !doc.LastRun.Finished.Equal(time.Date(2026, 6, 9, 4, 10, 0, 0, time.UTC)) {
		t.Errorf("last run %+v", doc.LastRun)
	}
}

func TestSnowflakeTime(t *testing.T) {
	// Discord's documented example: 175928847299117063 -> 2016-04-30T11:18:25.796Z.
	got := SnowflakeTime(175928847299117063)
	if want := time.Date(2016, 4, 30, 11, 18, 25, 796_000_000, time.UTC); !got.Equal(want) {
		t.Errorf("SnowflakeTime = %v, want %v", got, want)
	}
}

// A schedule installed as a systemd user timer (cron install --systemd) is
// reported when there is no crontab block, even on a machine without cron.
func TestSystemdTimer(t *testing.T) {
	w := newWorkspace(t)
	home := filepath.Join(w.dir, "home")
	w.opts.Getenv = func(k string) string {
		if k == "HOME" {
			return home
		}
		return ""
	}
	sched, err := cron.ParseSchedule("30 2 * * 0")
	if err != nil {
		t.Fatal(err)
	}
	job := cron.Job{Binary: "/opt/dcehost/dcehost", EnvFile: filepath.Join(w.dir, "scrape.env"),
		Config: filepath.Join(w.dir, "config", "scrape-targets.json"), LogFile: filepath.Join(w.dir, "logs", "scrape.log")}
	units, err := cron.RenderUnits("discord-scrape", sched, job)
	if err != nil {
		t.Fatal(err)
	}
	unitDir := filepath.Join(home, ".config", "systemd", "user")
	write(t, filepath.Join(unitDir, "discord-scrape.timer"), units.Timer)
	write(t, filepath.Join(unitDir, "discord-scrape.service"), units.Service)
	w.crontab.text = "" // no crontab block
	w.opts.JSON = true
	if err := runStatus(context.Background(), w.opts); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Schedule ScheduleState  `json:"schedule"`
		Errors   []SectionError `json:"errors"`
	}
	if err := json.Unmarshal(w.out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	sc := doc.Schedule
	if !sc.Installed || sc.Kind != "systemd" || sc.Schedule != "30 2 * * 0" || sc.Unit != filepath.Join(unitDir, "discord-scrape.timer") ||
		!strings.HasPrefix(sc.Command, "/opt/dcehost/dcehost scrape") || sc.NextRun == nil || !sc.NextRun.Equal(time.Date(2026, 6, 14, 2, 30, 0, 0, time.UTC)) {
		t.Errorf("schedule %+v", sc)
	}
	if len(doc.Errors) != 0 {
		t.Errorf("errors %+v", doc.Errors)
	}

	// A unit file dcehost did not write is not taken for its timer.
	write(t, filepath.Join(unitDir, "discord-scrape.timer"), "[Timer]\nOnCalendar=daily\n")
	w.out.Reset()
	if err := runStatus(context.Background(), w.opts); err != nil {
		t.Fatal(err)
	}
	doc.Schedule = ScheduleState{}
	if err := json.Unmarshal(w.out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Schedule.Installed {
		t.Errorf("foreign timer reported as installed: %+v", doc.Schedule)
	}
}

// Scan takes an archive's figures from its cursor index when the index is
// current (a tampered count shows it was used), and scans it otherwise.
func TestScanUsesTheCursorIndex(t *testing.T) {
	out := t.TempDir()
	p := filepath.Join(out, "G - general [111111111111111111].json")
	st, err := archivetest.WriteFile(p, archivetest.Options{ChannelID: 111111111111111111, Messages: 5})
	if err != nil {
		t.Fatal(err)
	}
	target := targets.Target{Name: "t", OutputDir: out}
	if ts := Scan(target); ts.Messages != 5 || ts.Archives != 1 {
		t.Fatalf("scan without an index: %+v", ts)
	}
	meta := filepath.Join(out, ".dce-meta")
	if _, err := archive.Cursor(p, meta); err != nil {
		t.Fatal(err)
	}
	ixPath := filepath.Join(meta, "index", "111111111111111111.json")
	var ix map[string]any
	dec := json.NewDecoder(strings.NewReader(read(t, ixPath)))
	dec.UseNumber() // times and inodes exceed a float64's precision
	if err := dec.Decode(&ix); err != nil {
		t.Fatal(err)
	}
	ix["count"] = 1234
	data, _ := json.Marshal(ix)
	write(t, ixPath, string(data))
	if ts := Scan(target); ts.Messages != 1234 || ts.NewestMessage == nil || !ts.NewestMessage.Equal(SnowflakeTime(st.MaxID)) {
		t.Fatalf("scan with a current index: %+v", ts)
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
