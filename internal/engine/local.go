// Package engine is the archive engine run in-process (--runner local):
// it resolves targets to channels, salvages partial exports left by a dead
// run, exports what is newer than each archive's cursor with the DCE CLI,
// merges it with internal/archive and reports a run summary.
package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dcehost/dcehost/internal/dce"
	"github.com/dcehost/dcehost/internal/failure"
	"github.com/dcehost/dcehost/internal/iostreams"
	"github.com/dcehost/dcehost/internal/progress"
	"github.com/dcehost/dcehost/internal/runner"
	"github.com/dcehost/dcehost/internal/summary"
	"github.com/dcehost/dcehost/internal/targets"
	"github.com/dcehost/dcehost/internal/token"
)

// DCE is what the engine needs of the DCE CLI; *dce.Client implements it.
type DCE interface {
	Guilds(ctx context.Context) ([]dce.Guild, error)
	Channels(ctx context.Context, guildID, threads string, voice bool) ([]dce.Channel, error)
	DMs(ctx context.Context) ([]dce.Channel, error)
	Export(ctx context.Context, channelID, outPath, after string) error
}

// Local runs scrape, preflight and salvage in this process. The zero value
// is ready to use: the DCE CLI is DCE_CLI_BIN (req.Settings) or
// DiscordChatExporter.Cli on PATH, the clock is time.Now.
//
// Local does not take the archive lock: the caller holds it for the modes
// that write (runner.Mode.TakesLock), so a temp file found under
// .dce-temp belongs to a dead run.
type Local struct {
	// NewDCE returns the DCE client of a run (tests inject one). nil: a
	// *dce.Client for dce.FindBin(req.Settings) with req.Token.
	NewDCE func(req runner.Request) (DCE, error)
	// Now is the clock: the summary's finished_at and preflight's --after.
	Now func() time.Time
	// TempDir is where preflight writes its (empty) exports; "" = os.TempDir.
	TempDir string
	// Progress receives channel i/N and messages appended during a scrape.
	// nil: one is made on req.IO's standard error (a status line on a
	// terminal, else a log line per channel). A caller that wants its log
	// lines to share the terminal with the status line passes its own and
	// builds its logger on Progress.Writer.
	Progress *progress.Reporter
}

var _ runner.Runner = (*Local)(nil)

// DefaultParallel is the number of channels exported at once when the
// request says 0.
const DefaultParallel = 1

func (l *Local) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

func (l *Local) client(req runner.Request, log *slog.Logger) (DCE, error) {
	if l.NewDCE != nil {
		return l.NewDCE(req)
	}
	bin, err := dce.FindBin(req.Settings)
	if err != nil {
		return nil, err
	}
	return &dce.Client{Bin: bin, Token: req.Token, Log: log}, nil
}

// Prepare checks, before anything is written, that the DCE CLI can be
// found when the mode needs it.
func (l *Local) Prepare(req runner.Request) error {
	if !req.Mode.NeedsToken() || l.NewDCE != nil {
		return nil
	}
	_, err := dce.FindBin(req.Settings)
	return err
}

// Run carries out req. Errors: *dce.AuthError (token rejected; nothing
// more was exported), *ChannelsFailedError (the run finished, every other
// channel was committed, the summary was written), *failure.UsageError
// (bad request or configuration, such as a guild name pattern matching
// two guilds; nothing was written), the context's error, or another error.
func (l *Local) Run(ctx context.Context, req runner.Request) error {
	switch req.Mode {
	case runner.Scrape, runner.Preflight, runner.Salvage:
	default:
		return failure.Usagef("engine: unknown mode %q", req.Mode)
	}
	if req.Parallel < 0 {
		return failure.Usagef("--parallel %d: want a positive number", req.Parallel)
	}
	r := &run{
		l:        l,
		req:      req,
		log:      req.Log,
		io:       req.IO,
		redactor: &token.Redactor{},
	}
	if r.log == nil {
		r.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if r.io == nil {
		r.io = iostreams.System()
	}
	r.redactor.Add(req.Token)
	r.progress = l.Progress
	if r.progress == nil {
		r.progress = req.Progress
	}
	if r.progress == nil {
		r.progress = progress.New(r.io.ErrOut, r.io.IsStderrTTY(), r.log)
	}
	if req.Mode.NeedsToken() {
		if req.Token == "" {
			return failure.Usagef("%s needs a Discord token (DISCORD_TOKEN or DISCORD_TOKEN_FILE)", req.Mode)
		}
		c, err := l.client(req, r.log)
		if err != nil {
			return err
		}
		r.dce = c
	}
	switch req.Mode {
	case runner.Preflight:
		return r.preflight(ctx)
	case runner.Salvage:
		return r.salvageOnly(ctx)
	}
	return r.scrape(ctx)
}

// run is the state of one Run.
type run struct {
	l        *Local
	req      runner.Request
	log      *slog.Logger
	io       *iostreams.IOStreams
	dce      DCE
	redactor *token.Redactor

	// killed lists exports killed by a signal: reported as SKIPPED or
	// SKIPPED_OOM in the summary, and as a failure in the run's error.
	killed []string

	progress *progress.Reporter

	guildsOnce sync.Once
	guilds     []dce.Guild
	guildsErr  error
}

// targetRun is one target during a run.
type targetRun struct {
	t   targets.Target
	lay *layout

	mu       sync.Mutex
	archives map[string]string // channel id -> archive path, as known now
	// salvaged are merges of leftover partial exports done before the
	// cursor was computed, folded into the channel's summary entry.
	salvaged map[string]salvageResult
	// blocked channels are not exported this run (their salvage failed and
	// the partial is kept for the operator).
	blocked map[string]bool
	labels  map[string]string // guild id -> label
}

func (tr *targetRun) setArchive(id, path string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.archives[id] = path
}

// otherOutputDirs are the output_dirs of every other configured target,
// never scanned as part of this one.
func (r *run) otherOutputDirs(t targets.Target) []string {
	var dirs []string
	seen := map[string]bool{t.OutputDir: true}
	add := func(d string) {
		if !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	if r.req.Config != nil {
		for _, o := range r.req.Config.Targets {
			add(o.OutputDir)
		}
	}
	for _, o := range r.req.Targets {
		add(o.OutputDir)
	}
	return dirs
}

// openTarget scans a target's output_dir (which may not exist yet).
func (r *run) openTarget(t targets.Target) (*targetRun, error) {
	if t.OutputDir == "" {
		return nil, failure.Usagef("target %q: no output_dir", t.Name)
	}
	lay, warnings, err := scanLayout(t.OutputDir, r.otherOutputDirs(t))
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", t.Name, err)
	}
	for _, w := range warnings {
		r.log.Warn(w, "target", t.Name)
	}
	tr := &targetRun{
		t: t, lay: lay,
		archives: map[string]string{},
		salvaged: map[string]salvageResult{},
		blocked:  map[string]bool{},
		labels:   map[string]string{},
	}
	for _, id := range lay.knownIDs() {
		if p, err := lay.archiveFor(id); err == nil && p != "" {
			tr.archives[id] = p
		}
	}
	return tr, nil
}

// createOutputDir makes sure output_dir exists before anything is written.
func (r *run) createOutputDir(tr *targetRun) error {
	if tr.lay.realDir != "" {
		return nil
	}
	if err := os.MkdirAll(tr.lay.dir, 0o755); err != nil {
		return fmt.Errorf("target %s: create output_dir: %w", tr.t.Name, err)
	}
	real, err := filepath.EvalSymlinks(tr.lay.dir)
	if err != nil {
		return fmt.Errorf("target %s: output_dir: %w", tr.t.Name, err)
	}
	tr.lay.realDir = real
	return nil
}

// cleanStaleTemps removes temp files crashed merges left beside archives
// (the caller holds the lock, so they belong to a dead run).
func (r *run) cleanStaleTemps(tr *targetRun) {
	seen := map[string]bool{}
	for _, p := range tr.lay.staleTemps {
		if seen[p] {
			continue
		}
		seen[p] = true
		removed, err := archiveCleanTemps(p)
		if err != nil {
			r.log.Warn("removing temp files of a dead run", "target", tr.t.Name, "error", err.Error())
		}
		for _, x := range removed {
			r.log.Info("removed temp file of a dead run", "target", tr.t.Name, "path", x)
		}
	}
}

// redact masks the token in text that came from DCE.
func (r *run) redact(s string) string { return r.redactor.Redact(s) }

// finish writes channel maps, the summary (file, line, table) and turns
// failures into the run's error.
func (r *run) finish(trs []*targetRun, sum *summary.Summary) error {
	for _, tr := range trs {
		if tr.lay.realDir == "" {
			continue // output_dir does not exist: nothing to map
		}
		if err := tr.lay.writeChannelMap(tr.archives); err != nil {
			sum.Fail(summary.Failure{Target: tr.t.Name, Error: err.Error()})
		}
	}
	r.progress.End()
	sum.FinishedAt = r.l.now()
	var errs []error
	if r.req.SummaryFile != "" {
		if err := sum.Write(r.req.SummaryFile); err != nil {
			errs = append(errs, err)
		}
	}
	fmt.Fprintln(r.io.ErrOut, sum.Line())
	if err := sum.Table(r.io.Out); err != nil {
		errs = append(errs, err)
	}
	if len(sum.Failed) > 0 || len(r.killed) > 0 {
		cf := &ChannelsFailedError{}
		for _, f := range sum.Failed {
			who := f.Target
			if f.ChannelID != "" {
				who += "/" + f.ChannelID
			}
			cf.Channels = append(cf.Channels, who+": "+f.Error)
		}
		cf.Channels = append(cf.Channels, r.killed...)
		errs = append(errs, cf)
	}
	return errors.Join(errs...)
}

// sortIDs orders snowflakes as unsigned integers.
func sortIDs(ids []string) {
	slices.SortFunc(ids, func(a, b string) int {
		x, _ := strconv.ParseUint(a, 10, 64)
		y, _ := strconv.ParseUint(b, 10, 64)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return strings.Compare(a, b)
	})
}

func validID(s string) bool { return dce.ValidID(s) }

// snowflakeAt is the smallest snowflake of time t (ids greater than it are
// messages after t).
func snowflakeAt(t time.Time) uint64 {
	ms := t.UnixMilli() - 1420070400000
	if ms < 0 {
		return 0
	}
	return uint64(ms) << 22
}
