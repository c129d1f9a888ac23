package cron

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/dcehost/dcehost/internal/cli/factory"
	"github.com/dcehost/dcehost/internal/compose"
	dcron "github.com/dcehost/dcehost/internal/cron"
	"github.com/dcehost/dcehost/internal/dce"
	"github.com/dcehost/dcehost/internal/failure"
	"github.com/dcehost/dcehost/internal/settings"
	"github.com/dcehost/dcehost/internal/targets"
)

// InstallOptions are the parsed command line of `cron install`.
type InstallOptions struct {
	Common
	// Settings loads the settings with flag overrides (factory.Settings).
	Settings   func(flags map[string]string) (*settings.Settings, error)
	Executable func() (string, error)
	// WorkDir resolves a relative --log-file ("" = current directory).
	WorkDir string
	// LookPath finds programs in the installing user's PATH.
	LookPath func(string) (string, error)

	Interval      string
	At            string
	Schedule      string
	Config        string
	LogFile       string
	Targets       []string
	RunnerName    string
	SkipPreflight bool
}

// NewCmdInstall returns `dcehost cron install`.
func NewCmdInstall(f *factory.Factory, runF func(*InstallOptions) error) *cobra.Command {
	opts := &InstallOptions{}
	cmd := &cobra.Command{
		Use:   "install",
		Short: "Install or update the crontab block that runs dcehost scrape",
		Long: `Install (or replace in place) the crontab block that runs this dcehost binary:

  <schedule> [DCE_DOCKER_BIN=/abs/docker] /abs/dcehost scrape --env-file /abs/scrape.env \
      --config /abs/scrape-targets.json --log-file /abs/logs/scrape.log [--target NAME]...

Schedule: --interval monthly|weekly|daily with --at H:MM (default: monthly on
the 1st at 04:00; weekly means Sunday), or --schedule with five cron fields or
an @ macro (@daily, @weekly, @monthly, @yearly, @hourly, @reboot). Characters
that could add a command to the crontab (; # % $ | & and the like) are refused.

Cron runs jobs with a minimal PATH, so the compose command found now (docker,
docker-compose or podman-compose) is pinned by absolute path on the job line
(DCE_DOCKER_BIN=... or DCE_COMPOSE_BIN=..., for that one job only). The token
never goes into the crontab: the scheduled run finds it the way it does now,
through the env file.

Before the crontab is changed, dcehost checks the env file, the config, the
binaries, and runs "dcehost preflight" (skip that with --skip-preflight); if a
check fails, the crontab is left as it is and the check's exit code is
returned. The previous crontab is saved first (see --backup-dir).
Installing the same block again changes nothing.`,
		Example: `  # monthly on the 1st at 04:00
  dcehost cron install --env-file ~/discord/scrape.env

  # weekly (Sunday) at 2:30, one target, see the change first
  dcehost cron install --interval weekly --at 2:30 --target myserver --dry-run

  # any cron schedule
  dcehost cron install --schedule "15 3 * * 1-5" --job-name discord-weekdays`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			opts.fill(f)
			opts.Settings = f.Settings
			opts.Executable = f.Executable
			opts.WorkDir = f.WorkDir
			opts.LookPath = lookPathDefault
			if runF != nil {
				return runF(opts)
			}
			ctx, stop := signal.NotifyContext(c.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runInstall(ctx, opts)
		},
	}
	addCommonFlags(cmd, &opts.Common, true)
	fl := cmd.Flags()
	fl.StringVar(&opts.Interval, "interval", "", "monthly (1st of the month), weekly (Sunday) or daily; default monthly")
	fl.StringVar(&opts.At, "at", "", "time of day for --interval, H:MM or HH:MM (default 04:00)")
	fl.StringVar(&opts.Schedule, "schedule", "", `cron schedule: five fields ("0 4 1 * *") or an @ macro; instead of --interval/--at`)
	fl.StringVar(&opts.Config, "config", "", "targets config file (default $DCE_CONFIG_FILE, else config/scrape-targets.json beside the env file)")
	fl.StringVar(&opts.LogFile, "log-file", "", "log file of the scheduled runs (default logs/scrape.log beside the env file)")
	fl.StringArrayVar(&opts.Targets, "target", nil, "scrape only this target (repeatable)")
	fl.StringVar(&opts.RunnerName, "runner", "compose", "where the scheduled export runs: compose (DCE image) or local (DCE CLI on this host)")
	fl.BoolVar(&opts.SkipPreflight, "skip-preflight", false, "do not run 'dcehost preflight' (which contacts Discord) before installing")
	return cmd
}

// schedule returns the schedule the flags ask for.
func (o *InstallOptions) schedule() (*dcron.Schedule, error) {
	if o.Schedule != "" {
		if o.Interval != "" || o.At != "" {
			return nil, failure.Usagef("--schedule cannot be combined with --interval or --at; use one or the other")
		}
		s, err := dcron.ParseSchedule(o.Schedule)
		if err != nil {
			return nil, failure.Usagef("--schedule: %w", err)
		}
		return s, nil
	}
	s, err := dcron.IntervalSchedule(o.Interval, o.At)
	if err != nil {
		return nil, failure.Usage(err)
	}
	return s, nil
}

// plan is what install would write, after every check that needs neither
// Discord nor a change on disk.
type plan struct {
	settings *settings.Settings
	exe      string
	sched    *dcron.Schedule
	job      dcron.Job
	block    string
}

// prepare validates the flags and the setup (env file present, config
// valid, targets known, binaries found) and renders the block.
func (o *InstallOptions) prepare() (*plan, error) {
	if err := o.checkJobName(); err != nil {
		return nil, err
	}
	sched, err := o.schedule()
	if err != nil {
		return nil, err
	}
	if o.RunnerName != "compose" && o.RunnerName != "local" {
		return nil, failure.Usagef("--runner %q: want compose or local", o.RunnerName)
	}
	s, err := o.Settings(map[string]string{settings.ConfigFileVar: o.Config})
	if err != nil {
		return nil, err
	}
	if !s.EnvFileLoaded {
		return nil, failure.Usagef("env file %s does not exist; the scheduled scrape reads its settings from an env file, so create it (see scrape.env.example) or pass --env-file", s.EnvFile)
	}
	cfg, err := targets.Load(s.ConfigFile)
	if err != nil {
		return nil, failure.Usage(err)
	}
	if _, err := cfg.Select(targets.Selection{Targets: o.Targets}); err != nil {
		return nil, failure.Usage(fmt.Errorf("%s: %w", s.ConfigFile, err))
	}
	exe, err := resolveExecutable(o.Executable)
	if err != nil {
		return nil, failure.Usage(err)
	}
	env, err := o.pinTools(s)
	if err != nil {
		return nil, err
	}
	logFile := filepath.Join(s.EnvFileDir(), "logs", "scrape.log")
	switch {
	case o.LogFile == "":
	case filepath.IsAbs(o.LogFile):
		logFile = filepath.Clean(o.LogFile)
	case o.WorkDir != "":
		logFile = filepath.Join(o.WorkDir, o.LogFile)
	default:
		if logFile, err = filepath.Abs(o.LogFile); err != nil {
			return nil, failure.Usagef("--log-file %s: %w", o.LogFile, err)
		}
	}
	job := dcron.Job{
		Binary:  exe,
		EnvFile: s.EnvFile,
		Config:  s.ConfigFile,
		LogFile: logFile,
		Targets: o.Targets,
		Runner:  o.RunnerName,
		Env:     env,
	}
	command, err := job.Command()
	if err != nil {
		return nil, failure.Usage(err)
	}
	return &plan{settings: s, exe: exe, sched: sched, job: job, block: dcron.RenderBlock(o.JobName, sched, command)}, nil
}

// pinTools finds the programs the scheduled scrape starts and pins them by
// absolute path.
func (o *InstallOptions) pinTools(s *settings.Settings) ([]dcron.EnvVar, error) {
	if o.RunnerName == "local" {
		found := s.CLIBin
		if found == "" {
			found = dce.DefaultBin
		}
		p, err := o.LookPath(found)
		if err != nil {
			if s.CLIBin != "" {
				return nil, failure.Usagef("%s=%s: DCE CLI not found: %v", s.Describe(settings.CLIBinVar), s.CLIBin, err)
			}
			return nil, failure.Usagef("--runner local: DCE CLI %s not found in PATH; set %s to its absolute path", dce.DefaultBin, settings.CLIBinVar)
		}
		if p, err = filepath.Abs(p); err != nil {
			return nil, fmt.Errorf("DCE CLI %s: %w", found, err)
		}
		return dcron.PinCLI(p, s.CLIBin), nil
	}
	detected, err := compose.Detect(s, o.LookPath)
	if err != nil {
		return nil, failure.Usage(err)
	}
	env, err := dcron.PinCompose(detected, dcron.ToolSettings{ComposeBin: s.ComposeBin, DockerBin: s.DockerBin})
	if err != nil {
		return nil, failure.Usage(err)
	}
	return env, nil
}

func runInstall(ctx context.Context, o *InstallOptions) error {
	p, err := o.prepare()
	if err != nil {
		return err
	}
	out, errOut := o.IO.Out, o.IO.ErrOut
	if keys := processOnly(p.settings); len(keys) > 0 {
		fmt.Fprintf(errOut, "warning: %s %s set in your shell's environment only; the scheduled run will not have %s. Put %s in %s if it needs %s.\n",
			strings.Join(keys, ", "), plural(keys, "is", "are"), plural(keys, "it", "them"), plural(keys, "it", "them"), p.settings.EnvFile, plural(keys, "it", "them"))
	}
	if o.Systemd {
		return runInstallSystemd(ctx, o, p)
	}
	ct := o.crontab()
	current, err := ct.Read(ctx)
	if err != nil {
		return fmt.Errorf("read the crontab: %w", err)
	}
	next, changed, err := dcron.Install(current, o.JobName, p.block)
	if err != nil {
		return failure.Usage(err)
	}
	crontabWarnings(errOut, current)
	now := o.Now()
	if !changed {
		fmt.Fprintf(out, "cron job %q is already installed with this schedule and command; nothing changed.\n", o.JobName)
		fmt.Fprintf(out, "schedule: %s (%s)\n", p.sched.Expr, p.sched.Describe())
		printNext(out, p.sched, now, 3)
		return nil
	}
	if o.DryRun {
		fmt.Fprint(out, diff("crontab", current, next, "install"))
		fmt.Fprintf(out, "schedule: %s (%s)\n", p.sched.Expr, p.sched.Describe())
		printNext(out, p.sched, now, 3)
		fmt.Fprintln(out, "dry run: the crontab was not changed, no preflight was run.")
		return nil
	}
	if !o.SkipPreflight {
		if err := o.preflight(ctx, p); err != nil {
			return err
		}
	}
	saved, err := o.change(ctx, ct, current, next)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "installed cron job %q: %s (%s)\n", o.JobName, p.sched.Expr, p.sched.Describe())
	fmt.Fprintf(out, "log file: %s\n", p.job.LogFile)
	fmt.Fprintf(out, "previous crontab saved to %s\n", saved)
	printNext(out, p.sched, now, 3)
	return nil
}

// preflight runs `dcehost preflight` for the same env file, config and
// targets as the job. A failure returns its exit code unchanged (the
// child printed its own report).
func (o *InstallOptions) preflight(ctx context.Context, p *plan) error {
	argv := []string{p.exe, "preflight", "--env-file", p.settings.EnvFile, "--config", p.settings.ConfigFile}
	if o.RunnerName != "compose" {
		argv = append(argv, "--runner", o.RunnerName)
	}
	for _, t := range o.Targets {
		argv = append(argv, "--target", t)
	}
	fmt.Fprintf(o.IO.ErrOut, "running dcehost preflight before installing (skip with --skip-preflight)...\n")
	// The child gets this process's streams, so at a terminal it can ask
	// for a fresh token the way preflight does.
	err := o.Runner.Run(ctx, argv, o.IO.In, o.IO.Out, o.IO.ErrOut)
	if err == nil {
		return nil
	}
	code := dcron.ExitCode(err)
	if code <= 0 {
		return fmt.Errorf("run %s preflight: %w; the crontab was not changed", p.exe, err)
	}
	fmt.Fprintf(o.IO.ErrOut, "dcehost cron install: preflight failed (exit status %d); the crontab was not changed. Fix the problem reported above, or pass --skip-preflight to install anyway.\n", code)
	return &failure.SilentError{Code: code}
}

func plural(items []string, one, many string) string {
	if len(items) == 1 {
		return one
	}
	return many
}
