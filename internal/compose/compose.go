// Package compose runs a scrape, preflight or salvage inside the upstream
// DiscordChatExporter image through `docker compose run` (or docker-compose,
// podman-compose): the container's entrypoint is this same dcehost binary,
// bind-mounted read-only, which runs the archive engine with
// `--runner local --no-lock`.
//
// How values reach the container:
//   - argv (no secrets): the inner command, its selection flags, --config,
//     --summary-file, --parallel, and `-v DIR:DIR` for a summary directory
//     outside the archive root.
//   - the child's environment, interpolated by the compose file
//     (docker-compose.yml): DISCORD_TOKEN (never argv), DCEHOST_BIN,
//     DCE_CONFIG_FILE, DCE_ARCHIVE_ROOT, DCE_CONTAINER_MEMORY (mem_limit;
//     "0" = no limit), DCE_MIN_FREE_MB, DCE_UID, DCE_GID, DCE_USERNS_MODE, TZ,
//     DCE_IMAGE_TAG. Compose has no memory flag on `run`, and both docker
//     compose and podman-compose interpolate ${VAR} from their environment,
//     so the environment is the one channel that works for all of them.
//
// The inner run is told that its parent holds the archive lock with
// --no-lock: the archive root is mounted at the same path, so taking the
// lock again would find it held and exit 3. It is told with --no-retry that
// its parent reloads the token and retries after an authentication failure
// (the inner run only sees the token value it was given, so its own retry
// could never help); it exits 4 at once instead.
package compose

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"al.essio.dev/pkg/shellescape"

	"github.com/dcehost/dcehost/internal/dce"
	"github.com/dcehost/dcehost/internal/failure"
	"github.com/dcehost/dcehost/internal/progress"
	"github.com/dcehost/dcehost/internal/runner"
	"github.com/dcehost/dcehost/internal/settings"
	"github.com/dcehost/dcehost/internal/targets"
	"github.com/dcehost/dcehost/internal/token"
)

// Service is the compose service that runs the inner dcehost.
const Service = "discord-scraper"

// Variables dcehost sets in the compose child's environment for the
// compose file to interpolate (besides the compat.md variables).
const (
	// HostBinVar is the absolute path of this dcehost binary, mounted
	// read-only as the container's entrypoint.
	HostBinVar = "DCEHOST_BIN"
	// ImageTagVar overrides the image tag pinned in docker-compose.yml.
	ImageTagVar = "DCE_IMAGE_TAG"
	// AuthExitCode is the inner dcehost's exit status for a rejected token.
	AuthExitCode = 4
)

// Detect returns the compose command as an argv prefix with an absolute
// executable: DCE_COMPOSE_BIN (split in words) when set, else the first
// that works of `docker compose` (probed with `docker compose version`,
// DCE_DOCKER_BIN as docker), `docker-compose`, `podman-compose`. look finds
// executables (nil: exec.LookPath). When none is found the error is a
// *failure.UsageError saying what to install or set.
func Detect(s *settings.Settings, look func(string) (string, error)) ([]string, error) {
	if look == nil {
		look = exec.LookPath
	}
	if len(s.ComposeBin) > 0 {
		p, err := lookAbs(look, s.ComposeBin[0])
		if err != nil {
			return nil, failure.Usagef("%s=%q: %s was not found; install it or fix the variable", s.Describe(settings.ComposeBinVar), strings.Join(s.ComposeBin, " "), s.ComposeBin[0])
		}
		return append([]string{p}, s.ComposeBin[1:]...), nil
	}
	var tried []string
	if docker, err := lookAbs(look, s.DockerBin); err != nil {
		tried = append(tried, fmt.Sprintf("%s compose (%s not found)", s.DockerBin, s.DockerBin))
	} else if err := probe(docker, "compose", "version"); err != nil {
		tried = append(tried, fmt.Sprintf("%s compose (`%s compose version` failed: the compose plugin is missing?)", docker, docker))
	} else {
		return []string{docker, "compose"}, nil
	}
	for _, name := range []string{"docker-compose", "podman-compose"} {
		if p, err := lookAbs(look, name); err == nil {
			return []string{p}, nil
		}
		tried = append(tried, name+" (not found)")
	}
	return nil, failure.Usagef("no compose command found (tried %s): install Docker with the compose plugin, docker-compose or podman-compose, set %s to your compose command (e.g. %s=podman-compose) or %s to your docker binary, or run with --runner local and the DCE CLI installed",
		strings.Join(tried, ", "), settings.ComposeBinVar, settings.ComposeBinVar, settings.DockerBinVar)
}

func lookAbs(look func(string) (string, error), name string) (string, error) {
	p, err := look(name)
	if err != nil {
		return "", err
	}
	return filepath.Abs(p)
}

func probe(bin string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	return cmd.Run()
}

// Memory returns the container memory limit and where it came from:
// DCE_CONTAINER_MEMORY when set, else the container_memory of the one
// selected target, else "0" (no limit).
func Memory(s *settings.Settings, selected []targets.Target) (limit, from string) {
	if s.ContainerMemory != "" {
		return s.ContainerMemory, s.Describe(settings.ContainerMemoryVar)
	}
	if len(selected) == 1 && selected[0].ContainerMemory != "" {
		return selected[0].ContainerMemory, fmt.Sprintf("container_memory of target %q", selected[0].Name)
	}
	if len(selected) > 1 {
		return "0", "no limit (DCE_CONTAINER_MEMORY is unset and several targets are selected)"
	}
	return "0", "no limit (DCE_CONTAINER_MEMORY and container_memory are unset)"
}

// Runner runs requests in the container. The zero value works with the
// real process; tests inject the functions.
type Runner struct {
	// Environ is the base environment of the compose child (os.Environ).
	Environ func() []string
	// Executable is this dcehost binary, mounted into the container
	// (os.Executable).
	Executable func() (string, error)
	// LookPath finds executables (exec.LookPath).
	LookPath func(string) (string, error)
	// Redactor masks secrets in the streamed output.
	Redactor *token.Redactor
	// LogFormat and Verbose are passed on to the inner dcehost so its log
	// lines match the host's.
	LogFormat string
	Verbose   bool

	mu  sync.Mutex
	bin []string // detected compose command
}

// Plan is one container run as it would be started.
type Plan struct {
	// Argv is the complete command line, starting with the compose
	// executable. It never contains the token.
	Argv []string
	// Env holds the KEY=VALUE pairs added to the child's environment,
	// DISCORD_TOKEN included.
	Env []string
	// TTY says whether compose may allocate a terminal (no -T).
	TTY bool
	// Memory is the container memory limit ("0" = none) and MemoryFrom
	// where it came from.
	Memory, MemoryFrom string
	// ComposeFile is the compose file in use.
	ComposeFile string
	// Mounts are extra bind-mounted directories (same path inside).
	Mounts []string
}

// CommandLine renders the plan as one shell-quoted line, environment
// first, with the token's value shown as ***.
func (p *Plan) CommandLine() string {
	parts := make([]string, 0, len(p.Env)+len(p.Argv))
	for _, kv := range p.Env {
		k, v, _ := strings.Cut(kv, "=")
		if k == settings.DiscordToken && v != "" {
			parts = append(parts, k+"="+token.Mask)
			continue
		}
		parts = append(parts, k+"="+shellescape.Quote(v))
	}
	return strings.Join(parts, " ") + " " + shellescape.QuoteCommand(p.Argv)
}

// Command returns the argv and the added environment of req's run.
func (r *Runner) Command(req runner.Request) (argv, env []string, err error) {
	p, err := r.Plan(req)
	if err != nil {
		return nil, nil, err
	}
	return p.Argv, p.Env, nil
}

// Prepare checks everything a run needs (compose file, compose command,
// dcehost binary) without starting anything but the compose probe, so bad
// input is reported before the lock is taken.
func (r *Runner) Prepare(req runner.Request) error {
	_, err := r.Plan(req)
	return err
}

func (r *Runner) compose(s *settings.Settings) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.bin != nil {
		return r.bin, nil
	}
	bin, err := Detect(s, r.LookPath)
	if err != nil {
		return nil, err
	}
	r.bin = bin
	return bin, nil
}

// Plan builds req's run.
func (r *Runner) Plan(req runner.Request) (*Plan, error) {
	s, cfg := req.Settings, req.Config
	if s == nil || cfg == nil {
		return nil, errors.New("compose: request without settings or config")
	}
	file := s.ComposeFile
	if st, err := os.Stat(file); err != nil || st.IsDir() {
		what := "does not exist"
		if err == nil {
			what = "is a directory"
		} else if !errors.Is(err, fs.ErrNotExist) {
			what = err.Error()
		}
		return nil, failure.Usagef("compose file %s (%s): %s; use the docker-compose.yml shipped with dcehost (--compose-file or %s), or --runner local",
			file, s.Describe(settings.ComposeFileVar), what, settings.ComposeFileVar)
	}
	bin, err := r.compose(s)
	if err != nil {
		return nil, err
	}
	executable := r.Executable
	if executable == nil {
		executable = os.Executable
	}
	exe, err := executable()
	if err != nil {
		return nil, fmt.Errorf("compose: locate the dcehost binary to mount: %w", err)
	}
	if resolved, err := filepath.EvalSymlinks(exe); err == nil {
		exe = resolved
	}

	p := &Plan{ComposeFile: file, TTY: req.IO != nil && req.IO.IsStdoutTTY() && !s.ComposeNoTTY}
	p.Memory, p.MemoryFrom = Memory(s, req.Targets)

	argv := slices.Clone(bin)
	argv = append(argv, "-f", file, "run", "--rm")
	if !p.TTY {
		argv = append(argv, "-T")
	}
	if req.SummaryFile != "" {
		dir := filepath.Dir(req.SummaryFile)
		if !within(cfg.ArchiveRoot, dir) {
			p.Mounts = append(p.Mounts, dir)
			argv = append(argv, "-v", dir+":"+dir)
		}
	}
	argv = append(argv, Service)
	argv = append(argv, r.innerArgs(req)...)
	p.Argv = argv

	p.Env = []string{
		settings.DiscordToken + "=" + req.Token,
		HostBinVar + "=" + exe,
		settings.ConfigFileVar + "=" + cfg.Path,
		settings.ArchiveRootVar + "=" + cfg.ArchiveRoot,
		settings.ContainerMemoryVar + "=" + p.Memory,
		settings.MinFreeMBVar + "=" + strconv.FormatInt(s.MinFreeMB, 10),
	}
	for _, kv := range []struct{ key, value string }{
		{settings.UIDVar, s.UID},
		{settings.GIDVar, s.GID},
		{settings.UsernsModeVar, s.UsernsMode},
		{settings.TZVar, s.TZ},
		{ImageTagVar, s.Get(ImageTagVar)},
	} {
		if kv.value != "" {
			p.Env = append(p.Env, kv.key+"="+kv.value)
		}
	}
	return p, nil
}

// innerArgs is the inner dcehost's command line (after the service name).
func (r *Runner) innerArgs(req runner.Request) []string {
	var args []string
	if r.LogFormat != "" && r.LogFormat != "text" {
		args = append(args, "--log-format", r.LogFormat)
	}
	if r.Verbose {
		args = append(args, "--verbose")
	}
	args = append(args, string(req.Mode), "--runner", "local")
	if req.Mode.TakesLock() {
		args = append(args, "--no-lock")
	}
	if req.Mode.NeedsToken() {
		args = append(args, "--no-retry")
	}
	args = append(args, "--config", req.Config.Path)
	args = append(args, req.Selection.Args()...)
	if req.Parallel > 0 {
		args = append(args, "--parallel", strconv.Itoa(req.Parallel))
	}
	if req.SummaryFile != "" {
		args = append(args, "--summary-file", req.SummaryFile)
	}
	return args
}

func within(root, path string) bool {
	rel, err := filepath.Rel(root, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// Run starts the container run and waits for it. Its standard output is
// copied line by line to req.IO.Out and its standard error (the inner
// dcehost's log) to req.IO.ErrOut, both redacted, while it runs. Exit
// status 4 is returned as *dce.AuthError, any other non-zero status as
// *ExitError.
func (r *Runner) Run(ctx context.Context, req runner.Request) error {
	p, err := r.Plan(req)
	if err != nil {
		return err
	}
	for _, dir := range p.Mounts {
		// Compose would create a missing bind source owned by root.
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("compose: summary directory: %w", err)
		}
	}
	environ := r.Environ
	if environ == nil {
		environ = os.Environ
	}
	cmd := exec.CommandContext(ctx, p.Argv[0], p.Argv[1:]...)
	cmd.Env = append(environ(), p.Env...)
	if p.TTY && req.IO.IsStdinTTY() {
		cmd.Stdin = req.IO.In
	}
	// Let compose stop the container on cancellation (it forwards SIGTERM).
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("compose: %w", err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return fmt.Errorf("compose: %w", err)
	}
	if req.Log != nil {
		req.Log.Info("starting the container run", "mode", string(req.Mode), "memory", p.Memory, "command", p.CommandLine())
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("compose: start %s: %w", p.Argv[0], err)
	}
	var mu sync.Mutex // one line at a time, whichever stream it comes from
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); r.copyLines(&mu, req.IO.Out, stdout, nil) }()
	go func() { defer wg.Done(); r.copyLines(&mu, req.IO.ErrOut, stderr, req.Progress) }()
	wg.Wait()
	err = cmd.Wait()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("compose: container run stopped: %w", ctx.Err())
	case errors.As(err, &exitErr) && exitErr.ExitCode() == AuthExitCode:
		return &dce.AuthError{Message: "the container run exited with status 4"}
	case errors.As(err, &exitErr) && exitErr.ExitCode() > 0:
		return &ExitError{Code: exitErr.ExitCode()}
	}
	return fmt.Errorf("compose: %s: %w", p.Argv[0], err)
}

// copyLines writes every line of src to dst as one redacted write, and
// shows the inner run's per-channel lines on the status line when there is
// one (rep not nil).
func (r *Runner) copyLines(mu *sync.Mutex, dst io.Writer, src io.Reader, rep *progress.Reporter) {
	w := dst
	if r.Redactor != nil {
		w = r.Redactor.Writer(dst)
	}
	br := bufio.NewReaderSize(src, 64*1024)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			line = strings.TrimRight(line, "\r\n") + "\n"
			mu.Lock()
			_, _ = io.WriteString(w, line)
			rep.Observe(line)
			mu.Unlock()
		}
		if err != nil {
			return
		}
	}
}
