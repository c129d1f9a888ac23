// Package scrape implements `dcehost scrape`, `dcehost preflight` and
// `dcehost salvage`: the host side of a run. In order: settings -> config
// and selection -> token (not for salvage) -> runner checks -> free-space
// check -> archive lock (scrape and salvage; skipped with --no-lock) ->
// the run through the compose or local runner, with one retry after an
// authentication failure -> exit code.
//
// The token is loaded before the lock is taken, although it is re-read
// before the retry: a missing or empty token is bad input, and bad input
// must change nothing, including creating the lock file.
package scrape

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/dcehost/dcehost/internal/cli/factory"
	"github.com/dcehost/dcehost/internal/compose"
	"github.com/dcehost/dcehost/internal/diskspace"
	"github.com/dcehost/dcehost/internal/engine"
	"github.com/dcehost/dcehost/internal/exitcode"
	"github.com/dcehost/dcehost/internal/failure"
	"github.com/dcehost/dcehost/internal/healthcheck"
	"github.com/dcehost/dcehost/internal/iostreams"
	"github.com/dcehost/dcehost/internal/lock"
	"github.com/dcehost/dcehost/internal/logging"
	"github.com/dcehost/dcehost/internal/metrics"
	"github.com/dcehost/dcehost/internal/progress"
	"github.com/dcehost/dcehost/internal/recovery"
	"github.com/dcehost/dcehost/internal/runlog"
	"github.com/dcehost/dcehost/internal/runner"
	"github.com/dcehost/dcehost/internal/settings"
	"github.com/dcehost/dcehost/internal/summary"
	"github.com/dcehost/dcehost/internal/targets"
	"github.com/dcehost/dcehost/internal/token"
)

// Options are the parsed command line of scrape, preflight or salvage and
// everything the run needs from outside.
type Options struct {
	IO       *iostreams.IOStreams
	Redactor *token.Redactor
	// Settings loads the settings with flag overrides (factory.Settings).
	Settings func(flags map[string]string) (*settings.Settings, error)
	// Getenv reads the process environment (HOME for token discovery).
	Getenv    func(string) string
	Now       func() time.Time
	LogFormat logging.Format
	Verbose   bool
	// CommandLine is how this process was started, for the lock's holder
	// file (it holds no secret: tokens never travel in argv).
	CommandLine []string
	PID         int
	// Version is dcehost's version, for the run log's header.
	Version string
	// HTTPClient sends the health-check pings (nil: the default client).
	HTTPClient *http.Client
	// Runners maps --runner values to runners.
	Runners map[string]runner.Runner

	Mode        runner.Mode
	Config      string
	ComposeFile string
	SummaryFile string
	LogFile     string
	RunnerName  string
	Targets     []string
	Guilds      []string
	Channels    []string
	Parallel    int
	DryRun      bool
	NoLock      bool
	NoRetry     bool
}

// NewCmdScrape returns `dcehost scrape`.
func NewCmdScrape(f *factory.Factory, runF func(*Options) error) *cobra.Command {
	return newCmd(f, runner.Scrape, runF, &cobra.Command{
		Use:   "scrape",
		Short: "Export new messages of the selected targets and merge them into their archives",
		Long: `Export every message newer than each archive's last one and merge it in.
Archives only grow: a crash, a full disk or a rejected token leaves them as they were.

By default the export runs in the DiscordChatExporter image through
"docker compose run" (--runner compose, with the docker-compose.yml shipped
with dcehost); --runner local runs it on this host with the DCE CLI
(DCE_CLI_BIN). The token reaches the export through the environment only.

Before the run dcehost checks the free space under archive_root
(DCE_MIN_FREE_MB, exit 5) and takes the archive lock
<archive_root>/.dce-scrape.lock (exit 3 while another run holds it). When
Discord rejects the token, dcehost reloads it from its source (running
DCE_REAUTH_COMMAND first when you are at a terminal) and retries once;
still rejected, it exits 4 and says how to refresh it.

The run inside the container is started with --no-lock (its parent already
holds the archive lock) and --no-retry (its parent reloads the token and
retries); these two hidden flags are for that inner run only.`,
		Example: `  # what cron runs: every enabled target, logged to a file
  dcehost scrape --env-file ~/discord/scrape.env --log-file ~/discord/logs/scrape.log

  # one target, one channel, and a summary file
  dcehost scrape --target myserver --channel 123456789012345678 --summary-file /tmp/summary.json

  # show the plan and the exact compose command without running anything
  dcehost scrape --dry-run

  # with the DCE CLI installed on this host instead of Docker
  DCE_CLI_BIN=~/dce/DiscordChatExporter.Cli dcehost scrape --runner local`,
	})
}

// NewCmdPreflight returns `dcehost preflight`.
func NewCmdPreflight(f *factory.Factory, runF func(*Options) error) *cobra.Command {
	return newCmd(f, runner.Preflight, runF, &cobra.Command{
		Use:   "preflight",
		Short: "Check the token and that every selected target resolves, without writing archives",
		Long: `Check that Discord accepts the token and that every selected target resolves to
channels, the way scrape would, without exporting history or writing any
archive. It takes no lock, so it can run while a scrape is in progress.
An expired token is reloaded and retried once, as for scrape.`,
		Example: `  dcehost preflight --env-file ~/discord/scrape.env
  dcehost preflight --target myserver --dry-run`,
	})
}

// NewCmdSalvage returns `dcehost salvage`.
func NewCmdSalvage(f *factory.Factory, runF func(*Options) error) *cobra.Command {
	return newCmd(f, runner.Salvage, runF, &cobra.Command{
		Use:   "salvage",
		Short: "Merge leftover partial exports of interrupted runs into their archives",
		Long: `Merge the complete messages of partial exports left in <output_dir>/.dce-temp by
an interrupted run into their archives. Needs no token. Takes the archive
lock like scrape.`,
		Example: `  dcehost salvage --env-file ~/discord/scrape.env
  dcehost salvage --target myserver --runner local`,
	})
}

func newCmd(f *factory.Factory, mode runner.Mode, runF func(*Options) error, cmd *cobra.Command) *cobra.Command {
	opts := &Options{Mode: mode}
	cmd.Args = cobra.NoArgs
	cmd.RunE = func(c *cobra.Command, args []string) error {
		opts.IO = f.IO
		opts.Redactor = f.Redactor
		opts.Settings = f.Settings
		opts.Getenv = f.Getenv
		opts.Now = f.Now
		opts.LogFormat = f.LogFormat
		opts.Verbose = f.Verbose
		opts.CommandLine = os.Args
		opts.PID = os.Getpid()
		opts.Version = f.Version
		opts.Runners = Runners(f)
		if runF != nil {
			return runF(opts)
		}
		ctx, stop := signal.NotifyContext(c.Context(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return run(ctx, opts)
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Config, "config", "", "targets config file (default $DCE_CONFIG_FILE, else config/scrape-targets.json beside the env file)")
	fl.StringArrayVar(&opts.Targets, "target", nil, "run only this target (repeatable; also runs a disabled target)")
	fl.StringArrayVar(&opts.Guilds, "guild", nil, "narrow the one selected target to this guild id (repeatable)")
	fl.StringArrayVar(&opts.Channels, "channel", nil, "narrow the one selected target to this channel id (repeatable)")
	fl.StringVar(&opts.RunnerName, "runner", "compose", "where the export runs: compose (DCE image) or local (DCE CLI on this host)")
	fl.StringVar(&opts.ComposeFile, "compose-file", "", "compose file (default $DCE_COMPOSE_FILE, else docker-compose.yml beside the env file)")
	fl.StringVar(&opts.SummaryFile, "summary-file", "", "write the run summary JSON here (default $DCE_RUN_SUMMARY_FILE)")
	fl.StringVar(&opts.LogFile, "log-file", "", "append every log line of the run to this file as well as standard error")
	fl.IntVar(&opts.Parallel, "parallel", 0, "channels exported at once (0: the engine's default)")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "print the plan and the compose command, run nothing, write nothing")
	fl.BoolVar(&opts.NoLock, "no-lock", false, "the parent process holds the archive lock (set by dcehost for the run inside the container)")
	fl.BoolVar(&opts.NoRetry, "no-retry", false, "exit 4 at once when the token is rejected: the parent process retries (set by dcehost for the run inside the container)")
	_ = fl.MarkHidden("no-lock")
	_ = fl.MarkHidden("no-retry")
	return cmd
}

// Runners returns the runners --runner chooses from.
func Runners(f *factory.Factory) map[string]runner.Runner {
	return map[string]runner.Runner{
		"compose": &compose.Runner{
			Environ:    f.Environ,
			Executable: f.Executable,
			Redactor:   f.Redactor,
			LogFormat:  string(f.LogFormat),
			Verbose:    f.Verbose,
		},
		"local": &engine.Local{Now: f.Now},
	}
}

// preparer is a runner that can check its inputs before anything is
// written (compose: the compose file and command).
type preparer interface {
	Prepare(req runner.Request) error
}

// planner is a runner that can show the command it would start.
type planner interface {
	Plan(req runner.Request) (*compose.Plan, error)
}

func run(ctx context.Context, opts *Options) (err error) {
	if opts.Parallel < 0 {
		return failure.Usagef("--parallel %d: want 0 (the default) or a positive number", opts.Parallel)
	}
	name, err := runner.ParseName(opts.RunnerName)
	if err != nil {
		return failure.Usage(err)
	}
	r := opts.Runners[name]
	if r == nil {
		return failure.Usagef("--runner %s: not available in this binary", name)
	}

	s, err := opts.Settings(map[string]string{
		settings.ConfigFileVar:  opts.Config,
		settings.ComposeFileVar: opts.ComposeFile,
		settings.SummaryFileVar: opts.SummaryFile,
	})
	if err != nil {
		return err
	}
	cfg, err := targets.Load(s.ConfigFile)
	if err != nil {
		return failure.Usage(err)
	}
	sel := targets.Selection{Targets: opts.Targets, Guilds: opts.Guilds, Channels: opts.Channels}
	selected, err := cfg.Select(sel)
	if err != nil {
		return failure.Usage(err)
	}
	if s.ArchiveRoot != "" && s.ArchiveRoot != cfg.ArchiveRoot {
		return failure.Usagef("%s=%s: must equal archive_root %s of %s (it is mounted into the container at the same path)",
			s.Describe(settings.ArchiveRootVar), s.ArchiveRoot, cfg.ArchiveRoot, cfg.Path)
	}

	// Until the log file is open, log to standard error only.
	log := logging.New(opts.IO.ErrOut, opts.LogFormat, opts.Verbose, opts.Redactor)
	var src *token.Source
	tok := ""
	if opts.Mode.NeedsToken() {
		src, err = token.Find(s, opts.Getenv("HOME"))
		if err != nil {
			return err
		}
		tok, err = src.Load(log)
		if err != nil {
			return err
		}
		opts.Redactor.Add(tok)
	}
	req := runner.Request{
		Mode: opts.Mode, Settings: s, Config: cfg, Targets: selected, Selection: sel,
		Token: tok, Parallel: opts.Parallel, SummaryFile: s.SummaryFile, Log: log, IO: opts.IO,
	}
	if p, ok := r.(preparer); ok {
		if err := p.Prepare(req); err != nil {
			return err
		}
	}
	if opts.DryRun {
		return printPlan(opts, name, r, req, src)
	}

	// The runner writes to redacting streams (defense in depth: the compose
	// runner redacts too), teed into --log-file when given. The reauth
	// command still gets the original streams, so it sees the terminal.
	out, errOut := opts.IO.Out, opts.IO.ErrOut
	var status *progress.Reporter
	if opts.IO.IsStderrTTY() && !opts.NoLock {
		// A status line on the terminal only; log lines clear and redraw it,
		// and the log file never sees it.
		status = progress.New(opts.IO.ErrOut, true, nil)
		errOut = status.Writer(opts.IO.ErrOut)
		defer status.End()
	}
	if opts.LogFile != "" {
		started := opts.Now()
		lf, ferr := runlog.Open(opts.LogFile, runlog.Header{
			Time: started, Version: opts.Version, Args: opts.CommandLine, Redactor: opts.Redactor,
		})
		if ferr != nil {
			return failure.Usagef("--log-file: %w", ferr)
		}
		if req.SummaryFile == "" {
			// Every logged run keeps its summary beside the log.
			req.SummaryFile = filepath.Join(filepath.Dir(lf.Path()), "last-run-summary.json")
		}
		defer func() { // the named result err is how this run ended
			finished := opts.Now()
			if fresh(req.SummaryFile, started) {
				if _, serr := lf.StoreSummary(req.SummaryFile, finished); serr != nil {
					fmt.Fprintf(opts.IO.ErrOut, "dcehost: %v\n", opts.Redactor.Redact(serr.Error()))
				}
			}
			if ferr := lf.Finish(runlog.Result{Finished: finished, ExitCode: exitcode.Of(err), Err: err}); ferr != nil {
				fmt.Fprintf(opts.IO.ErrOut, "dcehost: %v\n", opts.Redactor.Redact(ferr.Error()))
			}
		}()
		var mu sync.Mutex
		out = &tee{mu: &mu, primary: out, file: lf}
		errOut = &tee{mu: &mu, primary: errOut, file: lf}
	}
	streams := *opts.IO
	streams.Out, streams.ErrOut = opts.Redactor.Writer(out), opts.Redactor.Writer(errOut)
	req.IO = &streams
	req.Progress = status
	log = logging.New(errOut, opts.LogFormat, opts.Verbose, opts.Redactor)
	req.Log = log

	if opts.Mode == runner.Scrape && !opts.NoLock {
		// Monitoring sees every scheduled run of the host: started, and how
		// it ended. Neither the pings nor the metrics file can fail the run.
		finish, merr := monitor(ctx, opts, s, &req, log)
		if merr != nil {
			return merr
		}
		defer func() { finish(err) }()
	}

	if err := diskspace.Check(cfg.ArchiveRoot, s.MinFreeMB); err != nil {
		return err
	}
	if opts.Mode.TakesLock() && !opts.NoLock {
		path := lock.Path(s.LockFile, cfg.ArchiveRoot)
		l, err := lock.Acquire(path, lock.Holder{
			PID:     opts.PID,
			Started: opts.Now(),
			Cmd:     opts.Redactor.Redact(strings.Join(opts.CommandLine, " ")),
		})
		if errors.Is(err, fs.ErrNotExist) {
			return failure.Usagef("archive lock %s: its directory does not exist; create archive_root %s (%s) or fix %s", path, cfg.ArchiveRoot, cfg.Path, settings.LockFileVar)
		}
		if err != nil {
			return err
		}
		defer func() {
			if rerr := l.Release(); rerr != nil {
				log.Warn("releasing the archive lock", "error", rerr.Error())
			}
		}()
		log.Debug("archive lock taken", "path", path)
	}

	log.Info("starting "+string(opts.Mode), "runner", name, "targets", targetNames(selected))
	if opts.NoRetry {
		err = r.Run(ctx, req)
	} else {
		err = recovery.Run(ctx, r, req, tokenSource(src), recovery.Options{
			Register:      opts.Redactor.Add,
			ReauthCommand: s.ReauthCommand,
			Interactive:   opts.IO.IsStdinTTY() && opts.IO.IsStdoutTTY(),
			Stdin:         opts.IO.In,
			Stdout:        opts.IO.Out,
			Stderr:        opts.IO.ErrOut,
			Log:           log,
		})
	}
	if err != nil {
		return fmt.Errorf("%s: %w", opts.Mode, err)
	}
	log.Info(string(opts.Mode) + " finished")
	return nil
}

// tokenSource keeps a nil *token.Source a nil interface.
func tokenSource(src *token.Source) recovery.TokenSource {
	if src == nil {
		return nil
	}
	return src
}

func targetNames(ts []targets.Target) string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.Name
	}
	return strings.Join(names, ",")
}

// tee writes to primary and to the log file; a failing log file never
// stops the run.
type tee struct {
	mu      *sync.Mutex
	primary io.Writer
	file    io.Writer
}

func (t *tee) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n, err := t.primary.Write(p)
	_, _ = t.file.Write(p)
	return n, err
}

func printPlan(opts *Options, name string, r runner.Runner, req runner.Request, src *token.Source) error {
	s, cfg := req.Settings, req.Config
	w := opts.Redactor.Writer(opts.IO.Out)
	var b strings.Builder
	fmt.Fprintf(&b, "dry run: %s of %d target(s); nothing is started, locked or written\n", opts.Mode, len(req.Targets))
	fmt.Fprintf(&b, "config:        %s\n", cfg.Path)
	fmt.Fprintf(&b, "archive root:  %s\n", cfg.ArchiveRoot)
	switch {
	case !opts.Mode.TakesLock():
		fmt.Fprintf(&b, "archive lock:  none (%s takes no lock)\n", opts.Mode)
	case opts.NoLock:
		fmt.Fprintf(&b, "archive lock:  held by the parent process (--no-lock)\n")
	default:
		fmt.Fprintf(&b, "archive lock:  %s\n", lock.Path(s.LockFile, cfg.ArchiveRoot))
	}
	if s.MinFreeMB > 0 {
		fmt.Fprintf(&b, "free space:    at least %d MB under the archive root (%s)\n", s.MinFreeMB, s.Describe(settings.MinFreeMBVar))
	} else {
		fmt.Fprintf(&b, "free space:    not checked (%s=0)\n", settings.MinFreeMBVar)
	}
	if src != nil {
		fmt.Fprintf(&b, "token:         %s from %s\n", token.Mask, src)
	} else {
		fmt.Fprintf(&b, "token:         none (%s needs no token)\n", opts.Mode)
	}
	if req.SummaryFile != "" {
		fmt.Fprintf(&b, "summary file:  %s\n", req.SummaryFile)
	}
	fmt.Fprintf(&b, "targets:\n")
	for _, t := range req.Targets {
		fmt.Fprintf(&b, "  %s (%s) -> %s%s\n", t.Name, t.Kind, t.OutputDir, scope(t))
	}
	fmt.Fprintf(&b, "runner:        %s\n", name)
	if p, ok := r.(planner); ok {
		plan, err := p.Plan(req)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "memory limit:  %s (%s)\n", plan.Memory, plan.MemoryFrom)
		fmt.Fprintf(&b, "command:\n  %s\n", plan.CommandLine())
	} else {
		fmt.Fprintf(&b, "command:       the archive engine in this process, with the DCE CLI %s\n", orDefault(s.CLIBin, "(DCE_CLI_BIN unset)"))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func scope(t targets.Target) string {
	var parts []string
	if len(t.OnlyGuilds) > 0 {
		parts = append(parts, "guilds "+strings.Join(t.OnlyGuilds, ","))
	}
	if len(t.OnlyChannels) > 0 {
		parts = append(parts, "channels "+strings.Join(t.OnlyChannels, ","))
	}
	if len(parts) == 0 {
		return ""
	}
	return " [only " + strings.Join(parts, "; ") + "]"
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// monitor pings DCE_HEALTHCHECK_URL at the start of a scrape and returns
// the function that reports its end: the ping with the exit code and the
// DCE_METRICS_FILE textfile.
func monitor(ctx context.Context, opts *Options, s *settings.Settings, req *runner.Request, log *slog.Logger) (func(error), error) {
	started := opts.Now()
	pinger, err := healthcheck.New(s.Get(healthcheck.URLVar), healthcheck.Options{Client: opts.HTTPClient, Log: log})
	if err != nil {
		return nil, err
	}
	metricsFile := s.Path(metrics.FileVar, "")
	if metricsFile != "" && req.SummaryFile == "" {
		// The figures come from the run summary.
		req.SummaryFile = metricsFile + ".summary.json"
	}
	pinger.Start(ctx)
	return func(err error) {
		code := exitcode.Of(err)
		msg := ""
		if err != nil {
			msg = opts.Redactor.Redact(err.Error())
		}
		pinger.Finish(context.WithoutCancel(ctx), code, msg)
		if metricsFile == "" {
			return
		}
		run := metrics.Run{Command: string(req.Mode), Started: started, Finished: opts.Now(), ExitCode: code}
		if fresh(req.SummaryFile, started) {
			sum, serr := summary.Read(req.SummaryFile)
			if serr != nil {
				log.Warn("metrics: reading the run summary", "error", serr.Error())
			}
			run = metrics.FromSummary(run, sum)
		}
		if werr := metrics.Write(metricsFile, run); werr != nil {
			log.Warn("metrics file not written", "error", werr.Error())
		}
	}, nil
}

// fresh reports whether path exists and was written at or after t, so a
// summary left by an earlier run is never reported as this run's.
func fresh(path string, t time.Time) bool {
	if path == "" {
		return false
	}
	fi, err := os.Stat(path)
	return err == nil && !fi.ModTime().Before(t.Truncate(time.Second))
}
