package cron

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dcehost/dcehost/internal/cli/factory"
	dcron "github.com/dcehost/dcehost/internal/cron"
	"github.com/dcehost/dcehost/internal/iostreams"
)

// testNow is a Thursday.
var testNow = time.Date(2026, 12, 3, 18, 41, 30, 0, time.UTC)

const secret = "MTIzNDU2Nzg5MDEyMzQ1Njc4.secret.token-value"

type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }
func (e exitStatus) ExitCode() int { return int(e) }

// fakeRunner is crontab (a table in memory, like Debian's crontab -l and
// crontab -) and dcehost preflight (exit code preflightCode) in one.
type fakeRunner struct {
	exe           string
	crontab       []byte
	hasCrontab    bool
	preflightCode int
	// duringPreflight runs while the fake preflight runs.
	duringPreflight func()
	calls           [][]string
	writes          int
	// systemctlErr is what systemctl calls return.
	systemctlErr error
	// real, when set, runs every non-preflight program for real.
	real dcron.Runner
}

func (r *fakeRunner) Run(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) error {
	r.calls = append(r.calls, argv)
	if argv[0] == r.exe {
		if len(argv) < 2 || argv[1] != "preflight" {
			return fmt.Errorf("unexpected dcehost call %q", argv)
		}
		if r.duringPreflight != nil {
			r.duringPreflight()
		}
		if r.preflightCode != 0 {
			fmt.Fprintln(stderr, "dcehost: authentication failed")
			return exitStatus(r.preflightCode)
		}
		fmt.Fprintln(stdout, "preflight ok")
		return nil
	}
	if argv[0] == "systemctl" {
		if r.systemctlErr != nil {
			fmt.Fprintln(stderr, "Failed to connect to bus: No medium found")
		}
		return r.systemctlErr
	}
	if r.real != nil {
		return r.real.Run(ctx, argv, stdin, stdout, stderr)
	}
	switch argv[len(argv)-1] {
	case "-l":
		if !r.hasCrontab {
			fmt.Fprintln(stderr, "no crontab for tester")
			return exitStatus(1)
		}
		_, err := stdout.Write(r.crontab)
		return err
	case "-":
		data, err := io.ReadAll(stdin)
		if err != nil {
			return err
		}
		if len(data) > 0 && data[len(data)-1] != '\n' {
			fmt.Fprintln(stderr, "new crontab file is missing newline before EOF, can't install.")
			return exitStatus(1)
		}
		r.crontab, r.hasCrontab = data, true
		r.writes++
		return nil
	}
	return fmt.Errorf("unexpected call %q", argv)
}

func (r *fakeRunner) callsOf(prog string) []string {
	var out []string
	for _, c := range r.calls {
		if c[0] == prog {
			out = append(out, strings.Join(c, " "))
		}
	}
	return out
}

func (r *fakeRunner) preflights() [][]string {
	var out [][]string
	for _, c := range r.calls {
		if c[0] == r.exe {
			out = append(out, c)
		}
	}
	return out
}

// env is a scrape setup in a temporary directory: env file, config,
// archive root, a dcehost binary, a docker that passes `docker compose
// version`.
type env struct {
	t       *testing.T
	dir     string
	envFile string
	config  string
	exe     string
	docker  string
	home    string
	environ []string
	runner  *fakeRunner
	out     *bytes.Buffer
	errOut  *bytes.Buffer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dir: dir, home: filepath.Join(dir, "home")}
	e.envFile = filepath.Join(dir, "discord", "scrape.env")
	e.config = filepath.Join(dir, "discord", "config", "scrape-targets.json")
	archive := filepath.Join(dir, "archive")
	e.write(e.envFile, "DCE_MIN_FREE_MB=0\nDISCORD_TOKEN="+secret+"\n")
	e.write(e.config, fmt.Sprintf(`{"archive_root": %q, "targets": [
		{"name": "myserver", "output_dir": %q, "guild_ids": ["123456789012345678"]},
		{"name": "dms", "kind": "dms", "output_dir": %q, "enabled": false}]}`,
		archive, filepath.Join(archive, "myserver"), filepath.Join(archive, "dms")))
	e.exe = filepath.Join(dir, "bin", "dcehost")
	e.write(e.exe, "#!/bin/false\n")
	if err := os.Chmod(e.exe, 0o755); err != nil {
		t.Fatal(err)
	}
	// `true compose version` succeeds, so true passes for docker with the
	// compose plugin.
	truePath, err := exec.LookPath("true")
	if err != nil {
		t.Skip("no true(1) on this machine")
	}
	e.docker, _ = filepath.EvalSymlinks(truePath)
	e.environ = []string{"HOME=" + e.home}
	e.runner = &fakeRunner{exe: e.exe}
	e.out, e.errOut = &bytes.Buffer{}, &bytes.Buffer{}
	return e
}

func (e *env) write(path, data string) {
	e.t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) factory() *factory.Factory {
	f := factory.New("test")
	f.IO = &iostreams.IOStreams{In: &bytes.Buffer{}, Out: e.out, ErrOut: e.errOut}
	f.EnvFile = e.envFile
	f.Environ = func() []string { return e.environ }
	f.Now = func() time.Time { return testNow }
	f.Executable = func() (string, error) { return e.exe, nil }
	f.WorkDir = e.dir
	return f
}

func (e *env) common(f *factory.Factory) Common {
	c := Common{JobName: dcron.DefaultJobName}
	c.fill(f)
	c.Runner = e.runner
	return c
}

func (e *env) lookPath(name string) (string, error) {
	switch name {
	case "docker":
		return e.docker, nil
	case "DiscordChatExporter.Cli":
		return "/opt/dce/DiscordChatExporter.Cli", nil
	}
	if filepath.IsAbs(name) {
		if _, err := os.Stat(name); err == nil {
			return name, nil
		}
	}
	return "", fmt.Errorf("exec: %q: executable file not found in $PATH", name)
}

// install runs cron install with the given option edits.
func (e *env) install(edit func(*InstallOptions)) error {
	f := e.factory()
	o := &InstallOptions{Common: e.common(f), Settings: f.Settings, Executable: f.Executable, WorkDir: f.WorkDir, LookPath: e.lookPath, RunnerName: "compose"}
	if edit != nil {
		edit(o)
	}
	return runInstall(context.Background(), o)
}

func (e *env) remove(edit func(*RemoveOptions)) error {
	f := e.factory()
	o := &RemoveOptions{Common: e.common(f)}
	if edit != nil {
		edit(o)
	}
	return runRemove(context.Background(), o)
}

func (e *env) show(edit func(*ShowOptions)) error {
	f := e.factory()
	o := &ShowOptions{Common: e.common(f)}
	if edit != nil {
		edit(o)
	}
	return runShow(context.Background(), o)
}

// jobLine is the line install writes for the default setup.
func (e *env) jobLine(expr string, extra string) string {
	return expr + " DCE_DOCKER_BIN=" + e.docker + " " + e.exe + " scrape --env-file " + e.envFile +
		" --config " + e.config + " --log-file " + filepath.Join(e.dir, "discord", "logs", "scrape.log") + extra
}

func (e *env) backups() []string {
	e.t.Helper()
	matches, err := filepath.Glob(filepath.Join(e.home, ".local", "state", "dcehost", "crontab-backup-*.txt"))
	if err != nil {
		e.t.Fatal(err)
	}
	return matches
}

func mustContain(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s does not contain %q:\n%s", what, w, got)
		}
	}
}
