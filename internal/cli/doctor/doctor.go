// Package doctor implements `dcehost doctor`: ordered checks of everything
// a scheduled scrape needs, each failure with a one-line fix. It exits 0
// only when every check passes. Nothing is written but a probe file in the
// archive root (removed at once).
package doctor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"al.essio.dev/pkg/shellescape"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/dcehost/dcehost/internal/cli/factory"
	"github.com/dcehost/dcehost/internal/cli/status"
	"github.com/dcehost/dcehost/internal/compose"
	"github.com/dcehost/dcehost/internal/cron"
	"github.com/dcehost/dcehost/internal/diskspace"
	"github.com/dcehost/dcehost/internal/failure"
	"github.com/dcehost/dcehost/internal/healthcheck"
	"github.com/dcehost/dcehost/internal/iostreams"
	"github.com/dcehost/dcehost/internal/lock"
	"github.com/dcehost/dcehost/internal/metrics"
	"github.com/dcehost/dcehost/internal/runner"
	"github.com/dcehost/dcehost/internal/settings"
	"github.com/dcehost/dcehost/internal/targets"
	"github.com/dcehost/dcehost/internal/token"
)

// ExitFailed is doctor's exit code when a check failed (the report is
// already printed).
const ExitFailed = 1

// probeTimeout bounds each external program doctor runs.
const probeTimeout = 20 * time.Second

// Options are the parsed command line of `dcehost doctor`.
type Options struct {
	IO       *iostreams.IOStreams
	Redactor *token.Redactor
	Settings func(flags map[string]string) (*settings.Settings, error)
	Getenv   func(string) string
	Environ  func() []string
	// Executable is the running dcehost binary.
	Executable func() (string, error)
	// LookPath finds programs (exec.LookPath).
	LookPath func(string) (string, error)
	// Exec runs a program and returns its standard output (engine probe).
	Exec func(ctx context.Context, argv []string) (string, error)
	// CrontabRunner runs the crontab command.
	CrontabRunner cron.Runner
	Statfs        diskspace.StatfsFunc

	Config      string // --config
	ComposeFile string // --compose-file
	RunnerName  string // --runner
	JobName     string // --job-name
	NoSchedule  bool   // --no-schedule
}

// NewCmdDoctor returns `dcehost doctor`.
func NewCmdDoctor(f *factory.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{
		IO: f.IO, Redactor: f.Redactor, Settings: f.Settings, Getenv: f.Getenv, Environ: f.Environ,
		Executable: f.Executable, LookPath: exec.LookPath, Exec: execOutput,
		CrontabRunner: cron.ExecRunner{}, Statfs: unix.Statfs,
	}
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check that everything a scheduled scrape needs is in place",
		Long: `Run these checks in order and print one line each; every failure comes with a
one-line fix:

  env file       the env file parses and every variable is valid
  compose        the compose command and a reachable container engine
                 (--runner local: the DCE CLI, DCE_CLI_BIN)
  compose file   the compose file is valid and defines the discord-scraper
                 service (--runner compose only)
  token          a Discord token is found, and its file is private (0600)
  config         the targets config is valid and enables at least one target
  archive root   exists and is writable
  disk           free space under the archive root is above DCE_MIN_FREE_MB
  lock           no other run holds the archive lock
  schedule       the crontab block (or the systemd user timer of the same
                 job name, enabled) exists and runs this dcehost binary
                 (--no-schedule skips it)
  monitoring     when set: DCE_HEALTHCHECK_URL is a ping URL, and the
                 directory of DCE_METRICS_FILE exists and is writable
                 (nothing is pinged or written)

The token is only looked for and read, never sent anywhere (use
'dcehost preflight' to have Discord accept it). Exit status 0 when every
check passes, 1 otherwise.`,
		Example: `  dcehost doctor --env-file ~/discord/scrape.env
  dcehost doctor --runner local --no-schedule`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return runDoctor(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Config, "config", "", "targets config file (default $DCE_CONFIG_FILE, else config/scrape-targets.json beside the env file)")
	fl.StringVar(&opts.ComposeFile, "compose-file", "", "compose file (default $DCE_COMPOSE_FILE, else docker-compose.yml beside the env file)")
	fl.StringVar(&opts.RunnerName, "runner", "compose", "the runner scrape uses: compose or local")
	fl.StringVar(&opts.JobName, "job-name", cron.DefaultJobName, "name of the crontab block to check")
	fl.BoolVar(&opts.NoSchedule, "no-schedule", false, "skip the crontab check (runs started by hand or by another scheduler)")
	return cmd
}

// Result is one check's outcome.
type Result struct {
	Name   string
	OK     bool
	Detail string // what was found (ok) or what is wrong
	Fix    string // one line, failures only
}

// Check names, in order.
const (
	CheckEnvFile     = "env file"
	CheckCompose     = "compose"
	CheckCLI         = "dce cli"
	CheckComposeFile = "compose file"
	CheckToken       = "token"
	CheckConfig      = "config"
	CheckArchiveRoot = "archive root"
	CheckDisk        = "disk"
	CheckLock        = "lock"
	CheckSchedule    = "schedule"
	CheckMonitoring  = "monitoring"
)

func runDoctor(ctx context.Context, opts *Options) error {
	if ctx == nil {
		ctx = context.Background()
	}
	name, err := runner.ParseName(opts.RunnerName)
	if err != nil {
		return failure.Usage(err)
	}
	opts.RunnerName = name
	results := Run(ctx, opts)
	failed := 0
	out := opts.IO.Out
	for _, r := range results {
		mark := "ok  "
		if !r.OK {
			mark = "FAIL"
			failed++
		}
		line := fmt.Sprintf("%s  %-13s %s", mark, r.Name, iostreams.OneLine(r.Detail))
		fmt.Fprintln(out, strings.TrimRight(opts.Redactor.Redact(line), " "))
		if !r.OK && r.Fix != "" {
			fmt.Fprintf(out, "      %-13s fix: %s\n", "", opts.Redactor.Redact(iostreams.OneLine(r.Fix)))
		}
	}
	if failed > 0 {
		fmt.Fprintf(out, "\n%d of %d checks failed\n", failed, len(results))
		return &failure.SilentError{Code: ExitFailed}
	}
	fmt.Fprintf(out, "\nall %d checks passed\n", len(results))
	return nil
}

// Run performs the checks in order. A check whose input another check
// could not provide is reported as failed with the fix "fix <that check>
// first".
func Run(ctx context.Context, opts *Options) []Result {
	var results []Result
	add := func(r Result) { results = append(results, r) }
	blocked := func(name, by string) Result {
		return Result{Name: name, Detail: "not checked: needs a valid " + by, Fix: "fix the " + by + " check first"}
	}

	s, err := opts.Settings(map[string]string{
		settings.ConfigFileVar:  opts.Config,
		settings.ComposeFileVar: opts.ComposeFile,
	})
	if err != nil {
		add(Result{Name: CheckEnvFile, Detail: err.Error(), Fix: "correct the line named above (see scrape.env.example), or run 'dcehost init --force DIR' to add missing keys"})
		for _, n := range []string{CheckCompose, CheckComposeFile, CheckToken, CheckConfig, CheckArchiveRoot, CheckDisk, CheckLock, CheckSchedule} {
			add(blocked(n, CheckEnvFile))
		}
		return results
	}
	envDetail := s.EnvFile
	if !s.EnvFileLoaded {
		envDetail += " (not present: environment and defaults only)"
	}
	add(Result{Name: CheckEnvFile, OK: true, Detail: envDetail})

	// The config is needed by the compose file check (its interpolation)
	// and by every archive check; it is reported in its place below.
	cfg, cfgErr := targets.Load(s.ConfigFile)

	if opts.RunnerName == "local" {
		add(checkCLI(opts, s))
	} else {
		add(checkCompose(ctx, opts, s))
		switch {
		case cfgErr != nil:
			add(blocked(CheckComposeFile, CheckConfig))
		default:
			add(checkComposeFile(ctx, opts, s, cfg))
		}
	}

	add(checkToken(opts, s))

	switch {
	case cfgErr != nil:
		add(Result{Name: CheckConfig, Detail: cfgErr.Error(), Fix: "correct the field named above; 'dcehost targets' re-checks it (example: config/scrape-targets.example.json)"})
		for _, n := range []string{CheckArchiveRoot, CheckDisk, CheckLock} {
			add(blocked(n, CheckConfig))
		}
	default:
		add(checkConfig(s, cfg))
		root := checkArchiveRoot(cfg)
		add(root)
		if root.OK {
			add(checkDisk(opts, s, cfg))
		} else {
			add(blocked(CheckDisk, CheckArchiveRoot))
		}
		add(checkLock(s, cfg))
	}

	if !opts.NoSchedule {
		add(checkSchedule(ctx, opts, s))
	}
	if s.Get(healthcheck.URLVar) != "" || s.Get(metrics.FileVar) != "" {
		add(checkMonitoring(s))
	}
	return results
}

func checkCompose(ctx context.Context, opts *Options, s *settings.Settings) Result {
	r := Result{Name: CheckCompose}
	bin, err := compose.Detect(s, opts.LookPath)
	if err != nil {
		r.Detail = err.Error()
		r.Fix = "install Docker with the compose plugin (or podman-compose), set DCE_COMPOSE_BIN, or use --runner local with the DCE CLI"
		return r
	}
	probe, fix := engineProbe(bin, s, opts.LookPath)
	if probe == nil {
		r.OK = true
		r.Detail = strings.Join(bin, " ") + " (engine not probed: unknown compose command)"
		return r
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	out, err := opts.Exec(ctx, probe)
	if err != nil {
		r.Detail = fmt.Sprintf("%s found, but the container engine did not answer `%s`: %v", strings.Join(bin, " "), strings.Join(probe, " "), err)
		r.Fix = fix
		return r
	}
	r.OK = true
	r.Detail = fmt.Sprintf("%s (engine %s)", strings.Join(bin, " "), strings.TrimSpace(firstLine(out)))
	return r
}

// engineProbe returns the command that asks the container engine for its
// version, and the fix when it does not answer.
func engineProbe(bin []string, s *settings.Settings, look func(string) (string, error)) ([]string, string) {
	base := filepath.Base(bin[0])
	switch {
	case strings.Contains(base, "podman"):
		podman := "podman"
		if p, err := look("podman"); err == nil {
			podman = p
		}
		return []string{podman, "info", "--format", "{{.Version.Version}}"},
			"start podman's service or socket (rootless: systemctl --user start podman.socket) and check 'podman info'"
	case base == "docker-compose" || (len(bin) > 1 && bin[1] == "compose"):
		docker := s.DockerBin
		if len(bin) > 1 && bin[1] == "compose" {
			docker = bin[0]
		}
		return []string{docker, "info", "--format", "{{.ServerVersion}}"},
			"start the Docker daemon (sudo systemctl start docker) and make sure you may use it (sudo usermod -aG docker $USER, then log in again)"
	}
	return nil, ""
}

func checkCLI(opts *Options, s *settings.Settings) Result {
	r := Result{Name: CheckCLI}
	if s.CLIBin == "" {
		r.Detail = settings.CLIBinVar + " is not set (the local runner runs the DCE CLI on this host)"
		r.Fix = "install DiscordChatExporter.Cli and set " + settings.CLIBinVar + "=/path/to/DiscordChatExporter.Cli in the env file, or use --runner compose"
		return r
	}
	p, err := opts.LookPath(s.CLIBin)
	if err != nil {
		r.Detail = fmt.Sprintf("%s=%s: %v", s.Describe(settings.CLIBinVar), s.CLIBin, err)
		r.Fix = "point " + settings.CLIBinVar + " at the DiscordChatExporter.Cli executable (chmod +x it)"
		return r
	}
	r.OK = true
	r.Detail = p
	return r
}

func checkComposeFile(ctx context.Context, opts *Options, s *settings.Settings, cfg *targets.Config) Result {
	r := Result{Name: CheckComposeFile}
	fix := "restore the compose file shipped with dcehost: dcehost init --force " + s.EnvFileDir() + " (your scrape.env values and targets are kept)"
	// The environment compose sees in a real run: the process environment
	// plus the variables dcehost adds (a placeholder token: only its
	// presence matters here).
	// The compose command is the compose check's business: the plan is made
	// with a stand-in, so the file is checked even when none is installed
	// (compose-go needs no engine).
	planSettings := *s
	planSettings.ComposeBin = []string{"/doctor/compose"}
	cr := &compose.Runner{Environ: opts.Environ, Executable: opts.Executable,
		LookPath: func(name string) (string, error) { return name, nil }}
	plan, err := cr.Plan(runner.Request{Mode: runner.Scrape, Settings: &planSettings, Config: cfg, Targets: cfg.Targets, Token: "doctor-placeholder"})
	if err != nil {
		r.Detail = err.Error()
		r.Fix = fix
		return r
	}
	env := map[string]string{}
	for _, kv := range append(opts.Environ(), plan.Env...) {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	if err := ValidateComposeFile(ctx, s.ComposeFile, env, compose.Service); err != nil {
		r.Detail = err.Error()
		r.Fix = fix
		return r
	}
	r.OK = true
	r.Detail = fmt.Sprintf("%s (service %s)", s.ComposeFile, compose.Service)
	return r
}

func checkToken(opts *Options, s *settings.Settings) Result {
	r := Result{Name: CheckToken}
	src, err := token.Find(s, opts.Getenv("HOME"))
	if err != nil {
		r.Detail = err.Error()
		r.Fix = "dcehost init --force " + s.EnvFileDir() + " --token-file FILE (or write the token to " + filepath.Join(s.EnvFileDir(), ".discord-token") + ", chmod 600)"
		return r
	}
	tok, err := src.Load(nil)
	if err != nil {
		r.Detail = err.Error()
		r.Fix = src.RefreshHint()
		return r
	}
	opts.Redactor.Add(tok)
	// The file the token is read from must not be readable by others.
	// (This follows token.Find's order.)
	file := ""
	_, _, fromFileVar := s.Lookup(settings.DiscordTokenFile)
	_, where, fromValue := s.Lookup(settings.DiscordToken)
	switch {
	case fromFileVar:
		file = s.Path(settings.DiscordTokenFile, "")
	case fromValue && where == settings.FromEnvFile:
		file = s.EnvFile
	case !fromValue:
		for _, p := range token.DiscoveryPaths(s.EnvFileDir(), opts.Getenv("HOME")) {
			if _, err := os.Stat(p); err == nil {
				file = p
				break
			}
		}
	}
	if file != "" {
		st, err := os.Stat(file)
		if err != nil {
			r.Detail = fmt.Sprintf("%s: %v", src, err)
			r.Fix = src.RefreshHint()
			return r
		}
		if perm := st.Mode().Perm(); perm&0o077 != 0 {
			r.Detail = fmt.Sprintf("%s: %s is readable by others (mode %04o)", src, file, perm)
			r.Fix = "chmod 600 " + shellescape.Quote(file)
			return r
		}
	}
	r.OK = true
	r.Detail = src.String() + " (not sent to Discord: 'dcehost preflight' checks it is accepted)"
	return r
}

func checkConfig(s *settings.Settings, cfg *targets.Config) Result {
	r := Result{Name: CheckConfig}
	if s.ArchiveRoot != "" && s.ArchiveRoot != cfg.ArchiveRoot {
		r.Detail = fmt.Sprintf("%s=%s differs from archive_root %s of %s", s.Describe(settings.ArchiveRootVar), s.ArchiveRoot, cfg.ArchiveRoot, cfg.Path)
		r.Fix = "remove " + settings.ArchiveRootVar + " from the env file, or make it equal archive_root"
		return r
	}
	var enabled []string
	for _, t := range cfg.Targets {
		if t.Enabled {
			enabled = append(enabled, t.Name)
		}
	}
	if len(enabled) == 0 {
		r.Detail = fmt.Sprintf("%s: no target is enabled, so a scheduled scrape does nothing", cfg.Path)
		r.Fix = `set "enabled": true on the targets to scrape in ` + cfg.Path
		return r
	}
	r.OK = true
	r.Detail = fmt.Sprintf("%s (%d of %d targets enabled: %s)", cfg.Path, len(enabled), len(cfg.Targets), strings.Join(enabled, ", "))
	return r
}

func checkArchiveRoot(cfg *targets.Config) Result {
	r := Result{Name: CheckArchiveRoot}
	root := cfg.ArchiveRoot
	st, err := os.Stat(root)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		r.Detail = root + " does not exist"
		r.Fix = "mkdir -p " + shellescape.Quote(root) + " (or mount the archive disk)"
		return r
	case err != nil:
		r.Detail = err.Error()
		r.Fix = "make " + root + " reachable by this user"
		return r
	case !st.IsDir():
		r.Detail = root + " is not a directory"
		r.Fix = "fix archive_root in " + cfg.Path
		return r
	}
	f, err := os.CreateTemp(root, ".dcehost-doctor-*")
	if err != nil {
		r.Detail = fmt.Sprintf("%s is not writable: %v", root, err)
		r.Fix = "chown -R $USER " + shellescape.Quote(root) + " (the container runs as DCE_UID:DCE_GID, default 1000:1000)"
		return r
	}
	name := f.Name()
	f.Close()
	os.Remove(name)
	r.OK = true
	r.Detail = root + " (writable)"
	return r
}

func checkDisk(opts *Options, s *settings.Settings, cfg *targets.Config) Result {
	r := Result{Name: CheckDisk}
	free, err := status.FreeMB(opts.Statfs, cfg.ArchiveRoot)
	if err != nil {
		r.Detail = err.Error()
		r.Fix = "make " + cfg.ArchiveRoot + " reachable"
		return r
	}
	if err := diskspace.CheckWith(opts.Statfs, cfg.ArchiveRoot, s.MinFreeMB); err != nil {
		r.Detail = err.Error()
		r.Fix = "free space under " + cfg.ArchiveRoot + ", or lower " + settings.MinFreeMBVar + " in the env file"
		return r
	}
	r.OK = true
	floor := fmt.Sprintf("floor %d MB", s.MinFreeMB)
	if s.MinFreeMB == 0 {
		floor = "check disabled"
	}
	r.Detail = fmt.Sprintf("%d MB free (%s)", free, floor)
	return r
}

func checkLock(s *settings.Settings, cfg *targets.Config) Result {
	r := Result{Name: CheckLock}
	path := lock.Path(s.LockFile, cfg.ArchiveRoot)
	st, err := status.ProbeLock(path)
	if err != nil {
		r.Detail = err.Error()
		r.Fix = "make " + path + " readable, or set " + settings.LockFileVar
		return r
	}
	if st.Held {
		who := "an unknown process"
		if st.PID != 0 {
			who = fmt.Sprintf("pid %d", st.PID)
			if st.Started != nil {
				who += " since " + st.Started.UTC().Format(time.RFC3339)
			}
			if st.Command != "" {
				who += " (" + st.Command + ")"
			}
		}
		r.Detail = path + " is held by " + who
		r.Fix = "wait for that run to finish ('dcehost status' shows it); the lock is freed when its process exits, however it exits"
		if st.PID != 0 {
			r.Fix = fmt.Sprintf("wait for pid %d to finish ('dcehost status'), or stop it: kill %d", st.PID, st.PID)
		}
		return r
	}
	r.OK = true
	r.Detail = "free (" + path + ")"
	return r
}

func checkSchedule(ctx context.Context, opts *Options, s *settings.Settings) Result {
	r := Result{Name: CheckSchedule}
	jobName := opts.JobName
	if jobName == "" {
		jobName = cron.DefaultJobName
	}
	exe, err := opts.Executable()
	if err != nil {
		r.Detail = "cannot locate this dcehost binary: " + err.Error()
		r.Fix = "run doctor from the installed binary"
		return r
	}
	install := shellescape.QuoteCommand([]string{exe, "cron", "install", "--env-file", s.EnvFile,
		"--log-file", filepath.Join(s.EnvFileDir(), "logs", "scrape.log")})
	if jobName != cron.DefaultJobName {
		install += " --job-name " + shellescape.Quote(jobName)
	}
	fix := install + " (or --no-schedule when another scheduler runs scrape)"
	candidates := []string{exe}
	if resolved, err := filepath.EvalSymlinks(exe); err == nil && resolved != exe {
		candidates = append(candidates, resolved)
	}
	runsThis := func(command string) bool {
		for _, word := range shellWords(command) {
			for _, c := range candidates {
				if word == c {
					return true
				}
			}
		}
		return false
	}

	ct := &cron.Crontab{Bin: opts.Getenv(cron.CrontabBinVar), Runner: opts.CrontabRunner}
	in, cronErr := status.InstalledJob(ctx, ct, jobName)
	if in == nil {
		// No crontab block: a systemd user timer of the same job name
		// (cron install --systemd) does the same job.
		timer, err := cron.InstalledTimer(opts.Getenv, jobName)
		if err != nil {
			r.Detail = err.Error()
			r.Fix = fix
			return r
		}
		if timer != nil {
			return checkTimer(ctx, opts, r, timer, jobName, runsThis, exe, install+" --systemd")
		}
	}
	switch {
	case cronErr != nil:
		r.Detail = cronErr.Error()
		r.Fix = "install cron (the crontab command), use '" + install + " --systemd', or pass --no-schedule"
		return r
	case in == nil:
		r.Detail = fmt.Sprintf("no crontab block or systemd timer %q", jobName)
		r.Fix = fix
		return r
	case in.Schedule == nil:
		r.Detail = fmt.Sprintf("crontab block %q (line %d): %v", jobName, in.FirstLine, in.ScheduleErr)
		r.Fix = fix
		return r
	case !runsThis(in.Command):
		r.Detail = fmt.Sprintf("crontab block %q does not run this binary %s: %s", jobName, exe, in.Command)
		r.Fix = install + " (so cron runs the binary you checked)"
		return r
	}
	r.OK = true
	r.Detail = fmt.Sprintf("crontab block %q: %s (%s)", jobName, in.Schedule.Expr, in.Schedule.Describe())
	return r
}

// checkTimer checks a systemd user timer written by dcehost: a readable
// schedule, a service running this binary, and the timer enabled.
func checkTimer(ctx context.Context, opts *Options, r Result, timer *cron.TimerJob, jobName string,
	runsThis func(string) bool, exe, install string) Result {
	switch {
	case timer.Schedule == nil:
		r.Detail = fmt.Sprintf("systemd timer %s: no schedule recorded (%v)", timer.TimerPath, timer.ScheduleErr)
		r.Fix = install
		return r
	case !runsThis(timer.ExecStart):
		r.Detail = fmt.Sprintf("systemd service %s does not run this binary %s: %s", timer.ServicePath, exe, timer.ExecStart)
		r.Fix = install + " (so the timer runs the binary you checked)"
		return r
	}
	unit := jobName + ".timer"
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	out, err := opts.Exec(pctx, []string{"systemctl", "--user", "is-enabled", unit})
	if state := strings.TrimSpace(firstLine(out)); err != nil || state != "enabled" {
		if state == "" && err != nil {
			state = err.Error()
		}
		r.Detail = fmt.Sprintf("systemd timer %s is not enabled (%s)", unit, state)
		r.Fix = "systemctl --user enable --now " + unit
		return r
	}
	r.OK = true
	r.Detail = fmt.Sprintf("systemd timer %s: %s (%s)", unit, timer.Schedule.Expr, timer.Schedule.Describe())
	return r
}

// checkMonitoring checks DCE_HEALTHCHECK_URL and DCE_METRICS_FILE without
// pinging (a ping would be recorded as a run) or writing the metrics file.
func checkMonitoring(s *settings.Settings) Result {
	r := Result{Name: CheckMonitoring}
	var parts []string
	if raw := s.Get(healthcheck.URLVar); raw != "" {
		if _, err := healthcheck.New(raw, healthcheck.Options{}); err != nil {
			r.Detail = fmt.Sprintf("%s: %v", s.Describe(healthcheck.URLVar), err)
			r.Fix = "set " + healthcheck.URLVar + " to the check's ping URL, e.g. https://hc-ping.com/<uuid>"
			return r
		}
		parts = append(parts, "pings "+healthcheck.Describe(raw))
	}
	if path := s.Path(metrics.FileVar, ""); path != "" {
		dir := filepath.Dir(path)
		st, err := os.Stat(dir)
		if err != nil || !st.IsDir() {
			r.Detail = fmt.Sprintf("%s=%s: directory %s does not exist", s.Describe(metrics.FileVar), path, dir)
			r.Fix = "point " + metrics.FileVar + " into node_exporter's --collector.textfile.directory"
			return r
		}
		if unix.Access(dir, unix.W_OK) != nil {
			r.Detail = fmt.Sprintf("%s=%s: directory %s is not writable", s.Describe(metrics.FileVar), path, dir)
			r.Fix = "make " + dir + " writable for this user, or choose another " + metrics.FileVar
			return r
		}
		parts = append(parts, "metrics "+path)
	}
	r.OK = true
	r.Detail = strings.Join(parts, "; ")
	return r
}

// shellWords splits a crontab command into words, undoing the single
// quoting cron.Job.Command writes (and double quotes and backslashes,
// enough for a hand-edited line).
func shellWords(s string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				j = len(s) - i - 1
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				cur.WriteByte(s[i])
			}
			inWord = true
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

func execOutput(ctx context.Context, argv []string) (string, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return "", fmt.Errorf("%w: %s", err, firstLine(msg))
		}
		return "", err
	}
	return string(out), nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
