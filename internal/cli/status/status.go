// Package status implements `dcehost status`: the archive lock, the last
// run, every target's archives, free disk space and the installed
// schedule, on one screen or as JSON. It only reads: nothing under the
// archive root is written, not even an index.
package status

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gofrs/flock"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/dcehost/dcehost/internal/archive"
	"github.com/dcehost/dcehost/internal/cli/factory"
	clisummary "github.com/dcehost/dcehost/internal/cli/summary"
	"github.com/dcehost/dcehost/internal/cron"
	"github.com/dcehost/dcehost/internal/diskspace"
	"github.com/dcehost/dcehost/internal/iostreams"
	"github.com/dcehost/dcehost/internal/lock"
	"github.com/dcehost/dcehost/internal/runlog"
	"github.com/dcehost/dcehost/internal/settings"
	runsummary "github.com/dcehost/dcehost/internal/summary"
	"github.com/dcehost/dcehost/internal/targets"
)

// Directories of an output_dir that hold no archives (engine layout).
const (
	tempDirName = ".dce-temp"
	metaDirName = ".dce-meta"
)

// Options are the parsed command line of `dcehost status`.
type Options struct {
	IO       *iostreams.IOStreams
	Settings func(flags map[string]string) (*settings.Settings, error)
	Getenv   func(string) string
	Now      func() time.Time
	// CrontabRunner runs the crontab command (cron.ExecRunner{}).
	CrontabRunner cron.Runner
	// Statfs reads file system statistics (unix.Statfs).
	Statfs diskspace.StatfsFunc

	Config  string // --config
	LogFile string // --log-file
	JobName string // --job-name
	JSON    bool   // --json
}

// NewCmdStatus returns `dcehost status`.
func NewCmdStatus(f *factory.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Settings: f.Settings, Getenv: f.Getenv, Now: f.Now,
		CrontabRunner: cron.ExecRunner{}, Statfs: unix.Statfs}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the lock, the last run, the archives, free disk and the schedule",
		Long: `Show in one place:

  lock       free, or held by which process, since when, running what
  last run   when it finished, its exit code, totals, failed and skipped channels
  targets    per target: archives, messages, bytes, newest message
  disk       free space under the archive root and the DCE_MIN_FREE_MB floor
  schedule   the crontab block (--job-name), else the systemd user timer of
             that name, and its next run

The last run is read from last-run.json and the summaries beside the run log
(--log-file, default logs/scrape.log beside the env file) and from
DCE_RUN_SUMMARY_FILE. Archives are read, never written.`,
		Example: `  dcehost status --env-file ~/discord/scrape.env
  dcehost status --json | jq .last_run.exit_code`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return runStatus(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Config, "config", "", "targets config file (default $DCE_CONFIG_FILE, else config/scrape-targets.json beside the env file)")
	fl.StringVar(&opts.LogFile, "log-file", "", "the run log given to scrape (default logs/scrape.log beside the env file)")
	fl.StringVar(&opts.JobName, "job-name", cron.DefaultJobName, "name of the crontab block to report")
	fl.BoolVar(&opts.JSON, "json", false, "print JSON")
	return cmd
}

// Report is everything status shows; it is also the --json document.
type Report struct {
	EnvFile  string         `json:"env_file"`
	Config   string         `json:"config_file"`
	Lock     LockState      `json:"lock"`
	LastRun  *LastRun       `json:"last_run"`
	Targets  []TargetStats  `json:"targets"`
	Disk     DiskState      `json:"disk"`
	Schedule ScheduleState  `json:"schedule"`
	Errors   []SectionError `json:"errors"`
}

// SectionError is a part of the report that could not be read.
type SectionError struct {
	Section string `json:"section"`
	Error   string `json:"error"`
}

// LockState is the archive lock.
type LockState struct {
	Path    string     `json:"path"`
	Held    bool       `json:"held"`
	PID     int        `json:"pid,omitempty"`
	Started *time.Time `json:"started,omitempty"`
	Command string     `json:"command,omitempty"`
}

// LastRun is the last run, from the run record and its summary.
type LastRun struct {
	Finished    *time.Time           `json:"finished"`
	ExitCode    *int                 `json:"exit_code"` // null when unknown (no run log)
	Error       string               `json:"error,omitempty"`
	Log         string               `json:"log,omitempty"`
	SummaryFile string               `json:"summary_file,omitempty"`
	Totals      *runsummary.Totals   `json:"totals"`
	Failed      []runsummary.Failure `json:"failed"`
	Skipped     []runsummary.Channel `json:"skipped"`
}

// TargetStats describes one target's archives.
type TargetStats struct {
	Name          string     `json:"name"`
	Enabled       bool       `json:"enabled"`
	OutputDir     string     `json:"output_dir"`
	Archives      int        `json:"archives"`
	Messages      int64      `json:"messages"`
	Bytes         int64      `json:"bytes"`
	NewestMessage *time.Time `json:"newest_message"`
	// Unreadable lists archives that are not valid documents.
	Unreadable []string `json:"unreadable"`
	Error      string   `json:"error,omitempty"`
}

// DiskState is the free space under the archive root.
type DiskState struct {
	Path      string `json:"path"`
	FreeMB    uint64 `json:"free_mb"`
	MinFreeMB int64  `json:"min_free_mb"`
	Low       bool   `json:"low"`
}

// ScheduleState is the installed schedule: the crontab block, else a
// systemd user timer of the same job name.
type ScheduleState struct {
	JobName   string     `json:"job_name"`
	Installed bool       `json:"installed"`
	Kind      string     `json:"kind,omitempty"` // "crontab" or "systemd"
	Unit      string     `json:"unit,omitempty"` // the timer file (systemd)
	Schedule  string     `json:"schedule,omitempty"`
	Describe  string     `json:"describe,omitempty"`
	Command   string     `json:"command,omitempty"`
	NextRun   *time.Time `json:"next_run,omitempty"`
}

func runStatus(ctx context.Context, opts *Options) error {
	if ctx == nil {
		ctx = context.Background()
	}
	s, err := opts.Settings(map[string]string{settings.ConfigFileVar: opts.Config})
	if err != nil {
		return err
	}
	cfg, err := targets.Load(s.ConfigFile)
	if err != nil {
		return err
	}
	rep := Collect(ctx, opts, s, cfg)
	if opts.JSON {
		enc := json.NewEncoder(opts.IO.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return fmt.Errorf("write status: %w", err)
		}
		return nil
	}
	return rep.Write(opts.IO.Out)
}

// Collect gathers the report. A section that cannot be read is recorded in
// Errors; the others are still filled in.
func Collect(ctx context.Context, opts *Options, s *settings.Settings, cfg *targets.Config) *Report {
	now := opts.Now()
	rep := &Report{EnvFile: s.EnvFile, Config: cfg.Path, Targets: []TargetStats{}, Errors: []SectionError{}}
	fail := func(section string, err error) {
		rep.Errors = append(rep.Errors, SectionError{section, err.Error()})
	}

	ls, err := ProbeLock(lock.Path(s.LockFile, cfg.ArchiveRoot))
	rep.Lock = ls
	if err != nil {
		fail("lock", err)
	}

	logFile := opts.LogFile
	if logFile == "" {
		logFile = filepath.Join(s.EnvFileDir(), filepath.FromSlash(clisummary.DefaultLogFile))
	}
	if lr, err := lastRun(s, logFile); err != nil {
		fail("last_run", err)
	} else {
		rep.LastRun = lr
	}

	for _, t := range cfg.Targets {
		rep.Targets = append(rep.Targets, Scan(t))
	}

	rep.Disk = DiskState{Path: cfg.ArchiveRoot, MinFreeMB: s.MinFreeMB}
	if free, err := FreeMB(opts.Statfs, cfg.ArchiveRoot); err != nil {
		fail("disk", err)
	} else {
		rep.Disk.FreeMB = free
		rep.Disk.Low = s.MinFreeMB > 0 && free < uint64(s.MinFreeMB)
	}

	jobName := opts.JobName
	if jobName == "" {
		jobName = cron.DefaultJobName
	}
	rep.Schedule = ScheduleState{JobName: jobName}
	ct := &cron.Crontab{Bin: opts.Getenv(cron.CrontabBinVar), Runner: opts.CrontabRunner}
	var sched *cron.Schedule
	in, cronErr := InstalledJob(ctx, ct, jobName)
	switch {
	case in != nil:
		rep.Schedule.Installed, rep.Schedule.Kind = true, "crontab"
		rep.Schedule.Command = in.Command
		sched = in.Schedule
	default:
		timer, err := cron.InstalledTimer(opts.Getenv, jobName)
		switch {
		case err != nil:
			fail("schedule", err)
		case timer != nil:
			rep.Schedule.Installed, rep.Schedule.Kind = true, "systemd"
			rep.Schedule.Unit = timer.TimerPath
			rep.Schedule.Command = timer.ExecStart
			sched = timer.Schedule
			cronErr = nil // a machine without cron may use timers
		}
		if cronErr != nil {
			fail("schedule", cronErr)
		}
	}
	if sched != nil {
		rep.Schedule.Schedule = sched.Expr
		rep.Schedule.Describe = sched.Describe()
		if next := sched.Next(now, 1); len(next) == 1 {
			n := next[0]
			rep.Schedule.NextRun = &n
		}
	}
	return rep
}

// ProbeLock reports whether the lock at path is held, without taking it
// for longer than the probe and without creating the file. The holder
// comes from the sidecar.
func ProbeLock(path string) (LockState, error) {
	st := LockState{Path: path}
	fl := flock.New(path, flock.SetFlag(os.O_RDONLY))
	ok, err := fl.TryRLock()
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil // never locked here
	}
	if err != nil {
		return st, fmt.Errorf("archive lock %s: %w", path, err)
	}
	if ok {
		_ = fl.Unlock()
		return st, nil
	}
	st.Held = true
	h, err := lock.ReadHolder(lock.MetaPath(path))
	if err != nil {
		return st, nil // held, holder unknown
	}
	st.PID, st.Command = h.PID, h.Cmd
	if !h.Started.IsZero() {
		t := h.Started
		st.Started = &t
	}
	return st, nil
}

// InstalledJob reads the crontab and returns the block named jobName (nil
// when there is none).
func InstalledJob(ctx context.Context, ct *cron.Crontab, jobName string) (*cron.Installed, error) {
	current, err := ct.Read(ctx)
	if err != nil {
		return nil, err
	}
	return cron.Find(current, jobName)
}

// FreeMB is the space available to unprivileged users under path (its
// nearest existing ancestor), in MiB.
func FreeMB(statfs diskspace.StatfsFunc, path string) (uint64, error) {
	dir := path
	for {
		if _, err := os.Stat(dir); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	var st unix.Statfs_t
	if err := statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("free space under %s: %w", path, err)
	}
	bsize := uint64(st.Bsize)
	if st.Frsize > 0 {
		bsize = uint64(st.Frsize)
	}
	return st.Bavail * bsize / (1 << 20), nil
}

// lastRun combines the run record beside the log (exit code) with the
// newest summary (totals, failures). A summary belongs to the recorded run
// when the record points at it or it finished during that run; a summary
// newer than the record is a run without a log, its exit code unknown.
func lastRun(s *settings.Settings, logFile string) (*LastRun, error) {
	rec, err := runlog.ReadRecord(logFile)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	var sum *runsummary.Summary
	path, err := clisummary.Latest(s, logFile)
	var nf *clisummary.NotFoundError
	switch {
	case errors.As(err, &nf):
		path = ""
	case err != nil:
		return nil, err
	default:
		if sum, err = runsummary.Read(path); err != nil {
			return nil, err
		}
	}
	if rec == nil && sum == nil {
		return nil, nil
	}
	lr := &LastRun{Failed: []runsummary.Failure{}, Skipped: []runsummary.Channel{}}
	useSummary := sum != nil
	if rec != nil {
		belongs := sum != nil && (rec.Summary == path ||
			(!sum.FinishedAt.Before(rec.Started.Add(-time.Second)) && !sum.FinishedAt.After(rec.Finished.Add(time.Minute))))
		newer := sum != nil && !belongs && sum.FinishedAt.After(rec.Finished)
		if !newer {
			f, code := rec.Finished, rec.ExitCode
			lr.Finished, lr.ExitCode, lr.Error, lr.Log = &f, &code, rec.Error, rec.Log
			useSummary = belongs
		}
	}
	if !useSummary {
		return lr, nil
	}
	if lr.Finished == nil {
		f := sum.FinishedAt
		lr.Finished = &f
	}
	lr.SummaryFile = path
	t := sum.Totals
	lr.Totals = &t
	if sum.Failed != nil {
		lr.Failed = sum.Failed
	}
	for _, c := range sum.Channels {
		if c.Action == runsummary.Skipped || c.Action == runsummary.SkippedOOM {
			lr.Skipped = append(lr.Skipped, c)
		}
	}
	return lr, nil
}

// Scan reads a target's archives: every "[<id>].json" file below its
// output_dir outside .dce-temp and .dce-meta.
func Scan(t targets.Target) TargetStats {
	ts := TargetStats{Name: t.Name, Enabled: t.Enabled, OutputDir: t.OutputDir, Unreadable: []string{}}
	var newest uint64
	err := filepath.WalkDir(t.OutputDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != t.OutputDir && (d.Name() == tempDirName || d.Name() == metaDirName) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || archive.ChannelIDFromName(p) == "" {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		ts.Archives++
		ts.Bytes += info.Size()
		n, max, err := countMessages(p, filepath.Join(t.OutputDir, metaDirName))
		if err != nil {
			ts.Unreadable = append(ts.Unreadable, p)
			return nil
		}
		ts.Messages += n
		if max > newest {
			newest = max
		}
		return nil
	})
	switch {
	case errors.Is(err, fs.ErrNotExist):
		ts.Error = "output_dir does not exist yet (created by the first scrape)"
	case err != nil:
		ts.Error = err.Error()
	}
	if newest > 0 {
		tm := SnowflakeTime(newest)
		ts.NewestMessage = &tm
	}
	return ts
}

// countMessages returns an archive's message count and largest id: from
// its cursor index when that is current (no archive byte is read), else by
// one streaming pass.
func countMessages(path, metaDir string) (int64, uint64, error) {
	if n, max, ok := archive.Indexed(path, metaDir); ok {
		return int64(n), max, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := archive.NewScanner(f)
	var n int64
	var max uint64
	for sc.Next() {
		n++
		if id := sc.Message().ID; id > max {
			max = id
		}
	}
	if err := sc.Err(); err != nil {
		return 0, 0, err
	}
	return n, max, nil
}

// discordEpochMs is the Discord epoch (2015-01-01T00:00:00Z) in Unix ms.
const discordEpochMs = 1420070400000

// SnowflakeTime is the creation time encoded in a Discord id.
func SnowflakeTime(id uint64) time.Time {
	return time.UnixMilli(int64(id>>22) + discordEpochMs).UTC()
}

const timeFormat = "2006-01-02 15:04 UTC"

// Write prints the report for people.
func (r *Report) Write(w io.Writer) error {
	var b strings.Builder
	row := func(label, format string, args ...any) {
		fmt.Fprintf(&b, "%-10s %s\n", label, fmt.Sprintf(format, args...))
	}
	if r.Lock.Held {
		holder := "holder unknown"
		if r.Lock.PID != 0 {
			holder = fmt.Sprintf("pid %d", r.Lock.PID)
			if r.Lock.Started != nil {
				holder += " since " + r.Lock.Started.UTC().Format(timeFormat)
			}
			if r.Lock.Command != "" {
				holder += ": " + r.Lock.Command
			}
		}
		row("lock", "held by %s (%s)", holder, r.Lock.Path)
	} else {
		row("lock", "free (%s)", r.Lock.Path)
	}

	switch lr := r.LastRun; {
	case lr == nil:
		row("last run", "none recorded")
	default:
		outcome := "exit code unknown (no run log)"
		if lr.ExitCode != nil {
			outcome = fmt.Sprintf("exit %d", *lr.ExitCode)
			if *lr.ExitCode == 0 {
				outcome += " (ok)"
			} else if lr.Error != "" {
				outcome += ": " + lr.Error
			}
		}
		finished := "unknown time"
		if lr.Finished != nil {
			finished = lr.Finished.UTC().Format(timeFormat)
		}
		row("last run", "%s, %s", finished, outcome)
		if lr.Log != "" {
			row("", "log %s", lr.Log)
		}
		if lr.Totals != nil {
			t := lr.Totals
			row("", "created %d, merged %d, unchanged %d, skipped %d, failed %d; %d messages appended",
				t.Created, t.Merged, t.Unchanged, t.Skipped, t.Failed, t.MessagesAppended)
			row("", "summary %s", lr.SummaryFile)
		}
		for _, f := range lr.Failed {
			who := f.Target
			if f.ChannelID != "" {
				who += "/" + f.ChannelID
			}
			row("  failed", "%s: %s", who, iostreams.OneLine(f.Error))
		}
		for _, c := range lr.Skipped {
			reason := string(c.Action)
			if c.Reason != "" {
				reason = c.Reason
			}
			row("  skipped", "%s/%s (%s)", c.Target, c.ChannelID, reason)
		}
	}

	if r.Disk.Path != "" {
		floor := fmt.Sprintf("floor %d MB", r.Disk.MinFreeMB)
		if r.Disk.MinFreeMB == 0 {
			floor = "no floor"
		}
		low := ""
		if r.Disk.Low {
			low = "  LOW: a scrape would stop with exit 5"
		}
		row("disk", "%d MB free under %s (%s)%s", r.Disk.FreeMB, r.Disk.Path, floor, low)
	}

	sc := r.Schedule
	switch {
	case !sc.Installed:
		row("schedule", "no crontab block or systemd timer %q (dcehost cron install)", sc.JobName)
	default:
		next := ""
		if sc.NextRun != nil {
			next = ", next " + sc.NextRun.Format("2006-01-02 15:04 MST")
		}
		where := fmt.Sprintf("crontab block %q", sc.JobName)
		if sc.Kind == "systemd" {
			where = "systemd timer " + sc.Unit
		}
		row("schedule", "%s (%s)%s [%s]", sc.Schedule, sc.Describe, next, where)
		row("", "%s", sc.Command)
	}
	for _, e := range r.Errors {
		row("error", "%s: %s", e.Section, iostreams.OneLine(e.Error))
	}
	b.WriteString("\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write status: %w", err)
	}

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tENABLED\tARCHIVES\tMESSAGES\tSIZE\tNEWEST MESSAGE\tNOTE")
	for _, t := range r.Targets {
		enabled := "yes"
		if !t.Enabled {
			enabled = "no"
		}
		newest := "-"
		if t.NewestMessage != nil {
			newest = t.NewestMessage.UTC().Format(timeFormat)
		}
		note := t.Error
		if len(t.Unreadable) > 0 {
			note = fmt.Sprintf("%d unreadable archive(s) (dcehost archive verify)", len(t.Unreadable))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\n", t.Name, enabled, t.Archives, t.Messages, humanBytes(t.Bytes), newest, note)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write status: %w", err)
	}
	return nil
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n), -1
	for v >= unit && i < 4 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTP"[i])
}
